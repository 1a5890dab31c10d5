//! Server-side state shared by the server functions: the configured registries with their
//! clients. The server binary builds it from its configuration and provides it as the router
//! state (leptos_axum passes it to every server function as context).

pub mod artifact;
pub mod badges;
pub mod diff;
pub mod graph;
pub mod json;
pub mod panels;
pub mod seen;
pub mod tags;

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use leptos::prelude::*;
use portolan_oci::Client;

use crate::error::AppError;
use crate::model::RegistryInfo;

/// One configured registry.
#[derive(Clone, Debug)]
pub struct Registry {
    pub info: RegistryInfo,
    pub client: Client,
}

/// The state every request sees.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub registries: Arc<Vec<Registry>>,
    /// The URL Portolan is reached at (for absolute links: badges' Markdown). None: from the
    /// request's Host header.
    pub public_url: Option<String>,
    /// The store (first-seen dates, sessions, audit, trash…): always there, so nothing that
    /// must be recorded can be skipped.
    pub store: portolan_store::Store,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    pub fn registry(&self, name: &str) -> Result<&Registry, AppError> {
        self.registries
            .iter()
            .find(|r| r.info.name == name)
            .ok_or_else(|| AppError::NotFound(format!("no registry named {name:?} is configured")))
    }
}

/// The state, from the context leptos_axum provides to server functions and rendering.
pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| AppError::Internal("the application state is missing".into()))
}

/// Logs an error with its context and passes it on; internal details stay in the log.
pub fn logged(context: &str, e: AppError) -> AppError {
    match &e {
        AppError::Internal(_) | AppError::BadGateway(_) | AppError::Unavailable(_) | AppError::Timeout(_) => {
            tracing::warn!(error = %e, "{context}");
        }
        _ => tracing::debug!(error = %e, "{context}"),
    }
    e
}

/// The absolute URL Portolan is reached at: the configured public URL, else the request's
/// `X-Forwarded-Proto`/`Host` headers.
pub fn public_url(state: &AppState) -> String {
    if let Some(url) = &state.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let parts = use_context::<http::request::Parts>();
    let header = |name: &str| parts.as_ref().and_then(|p| p.headers.get(name)).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let host = header("x-forwarded-host").or_else(|| header("host")).unwrap_or_else(|| state.leptos_options.site_addr.to_string());
    let scheme = header("x-forwarded-proto").unwrap_or_else(|| "http".into());
    format!("{scheme}://{host}")
}
