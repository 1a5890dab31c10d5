//! Server-side state of the pages: the services (registries, store, caches: the
//! `portolan-service` crate) plus what only pages need — Leptos' options, the public URL, how
//! people sign in — and the view builders that turn service answers into pages (SVG graphs,
//! badges, the policy form, audit rows, storage charts). The server binary builds the state from its
//! configuration and provides it as the router state (leptos_axum passes it to every server
//! function as context).

pub mod audit;
pub mod auth;
pub mod badges;
pub mod graph;
pub mod policy_form;
pub mod reuse;
pub mod storage;
pub mod verify;

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use leptos::prelude::*;
pub use portolan_service::{Registry, Services, Settings};

use crate::error::AppError;
use crate::model::SignInOptions;

/// The state every request sees: the services, and what pages add to them.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    /// The URL Portolan is reached at (for absolute links: badges' Markdown). None: from the
    /// request (see [`RequestOrigin`]).
    pub public_url: Option<String>,
    /// How people sign in (for the sign-in page and the header).
    pub sign_in: Arc<SignInOptions>,
    pub services: Services,
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    pub fn registry(&self, name: &str) -> Result<&Registry, AppError> {
        Ok(self.services.registry(name)?)
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

/// The origin a request reached Portolan at (`https://host[:port]`), worked out by the server
/// from `Host` — and from `X-Forwarded-Proto`/`-Host` only when the peer is a trusted proxy —
/// and put in the request's extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestOrigin(pub String);

/// The request's id (from a trusted proxy's `X-Request-Id`, else made by the server), for the
/// audit log and log lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Sends a plain form post (a browser asking for HTML) on to the page showing what the
/// request did; scripts calling a server function get its answer instead. `path` must be built
/// from checked names only: it becomes a header.
pub fn redirect_to(path: &str) {
    let wants_html = request_parts()
        .and_then(|p| p.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).map(|a| a.contains("text/html")))
        .unwrap_or(false);
    if wants_html {
        leptos_axum::redirect(path);
    }
}

/// The request being served, during rendering and in server functions.
pub fn request_parts() -> Option<http::request::Parts> {
    use_context::<http::request::Parts>()
}

/// The current request's id, if the server gave it one.
pub fn request_id() -> Option<String> {
    request_parts().and_then(|p| p.extensions.get::<RequestId>().map(|r| r.0.clone()))
}

/// The absolute URL Portolan is reached at: the configured public URL, else the request's
/// origin as the server worked it out.
pub fn public_url(state: &AppState) -> String {
    if let Some(url) = &state.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    request_parts()
        .and_then(|p| p.extensions.get::<RequestOrigin>().map(|o| o.0.clone()))
        .unwrap_or_else(|| format!("http://{}", state.leptos_options.site_addr))
}
