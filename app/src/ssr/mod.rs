//! Server-side state shared by the server functions: the configured registries with their
//! clients, the store, who may do what. The server binary builds it from its configuration and
//! provides it as the router state (leptos_axum passes it to every server function as context).

pub mod artifact;
pub mod audit;
pub mod auth;
pub mod badges;
pub mod catalog;
pub mod deletion;
pub mod diff;
pub mod graph;
pub mod json;
pub mod panels;
pub mod policy_form;
pub mod retention;
pub mod reuse;
pub mod search;
pub mod seen;
pub mod tags;

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use leptos::prelude::*;
use portolan_access::Access;
use portolan_oci::RegistryVerbs;

use crate::error::AppError;
use crate::model::{RegistryInfo, SignInOptions};

/// One configured registry.
#[derive(Clone)]
pub struct Registry {
    pub info: RegistryInfo,
    /// The registry verbs: a real client, or a registry in memory in tests.
    pub client: Arc<dyn RegistryVerbs>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("name", &self.info.name).finish_non_exhaustive()
    }
}

/// Settings server functions need besides the registries.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Days a trash entry stays restorable.
    pub trash_days: u32,
    /// Days audit entries are kept.
    pub audit_days: u32,
    /// How long a retention run's lease lasts without renewal (renewed every quarter of it): a
    /// replica that dies mid-run loses its claim after this, and its run is marked interrupted
    /// once its heartbeat is older than this plus one renewal.
    pub retention_lease: std::time::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self { trash_days: 30, audit_days: 365, retention_lease: retention::LEASE_TTL }
    }
}

/// The state every request sees.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub registries: Arc<Vec<Registry>>,
    /// The URL Portolan is reached at (for absolute links: badges' Markdown). None: from the
    /// request (see [`RequestOrigin`]).
    pub public_url: Option<String>,
    /// The store (first-seen dates, sessions, audit, trash…): always there, so nothing that
    /// must be recorded can be skipped.
    pub store: portolan_store::Store,
    /// Who may do what.
    pub access: Arc<Access>,
    /// How people sign in (for the sign-in page and the header).
    pub sign_in: Arc<SignInOptions>,
    pub settings: Arc<Settings>,
    /// Bounded background reads on behalf of visitors.
    pub background: Arc<tags::Background>,
    /// Repositories read for retention previews, kept a few minutes.
    pub inventories: Arc<retention::Inventories>,
    /// Tag lists in version order, per repository, while the cached list is unchanged.
    pub tag_lists: Arc<tags::SortedTags>,
    /// The retention runs this replica is working on (shutdown stops them and hands back
    /// their leases).
    pub runs: Arc<retention::LocalRuns>,
    /// This replica's name (leases, runs).
    pub replica: Arc<str>,
    /// Repository lists, the search box, the where-used index.
    pub search: Arc<search::SearchState>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    pub fn registry(&self, name: &str) -> Result<&Registry, AppError> {
        self.registries.iter().find(|r| r.info.name == name).ok_or_else(|| {
            // The name is whatever the request said: echoed back only in part.
            let shown: String = name.chars().take(64).collect();
            let more = if shown.len() < name.len() { "…" } else { "" };
            AppError::NotFound(format!("no registry named {shown:?}{more} is configured"))
        })
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
