//! Portolan's server.
//!
//! # Layout
//! - [`config`]: the configuration (file, environment, flags), validated at start.
//! - [`store`]: the embedded SQLite store and the session table.
//! - [`app`]: the router — pages and server functions (leptos_axum), the stylesheet, static
//!   files, `/healthz` — with the session, tracing and compression layers.
//! - `main.rs`: reads the configuration, builds the state, serves until interrupted.

pub mod config;
pub mod store;

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use leptos::config::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};
use portolan_app::model::RegistryInfo;
use portolan_app::ssr::{AppState, Registry};
use portolan_app::{App, shell};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::trace::TraceLayer;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::SqliteStore;

use crate::config::Config;

/// A start-up failure, said in words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

/// The stylesheet's URL, versioned by its content hash so browsers may cache it forever.
pub static STYLESHEET: LazyLock<String> =
    LazyLock::new(|| format!("/style/portolan.css?v={}", portolan_style::HASH));

/// Builds the registries' clients from the configuration.
pub fn registries(config: &Config) -> Result<Vec<Registry>, StartError> {
    config
        .registries
        .iter()
        .map(|r| {
            let client = portolan_oci::Client::new(r.client.clone())
                .map_err(|e| StartError(format!("registry {:?}: {e}", r.name)))?;
            Ok(Registry {
                info: RegistryInfo {
                    name: r.name.clone(),
                    title: r.title.clone(),
                    host: r.pull_host.clone(),
                },
                client,
            })
        })
        .collect()
}

/// The state every request sees.
pub fn state(leptos_options: LeptosOptions, registries: Vec<Registry>) -> AppState {
    AppState {
        leptos_options,
        registries: Arc::new(registries),
    }
}

/// The whole router: pages, server functions, stylesheet, static files, health.
pub fn app(state: AppState, sessions: SqliteStore) -> Router {
    // A tag, a digest and a repository are different pages of the same server route.
    let mut routes = generate_route_list(App);
    routes.sort_by(|a, b| a.path().cmp(b.path()));
    routes.dedup_by(|a, b| a.path() == b.path());
    let options = state.leptos_options.clone();
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name("portolan_session")
        .with_secure(false)
        .with_same_site(tower_sessions::cookie::SameSite::Lax)
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(12)));
    // Streamed HTML must reach the browser as it is rendered: compress everything else.
    let compress = DefaultPredicate::new().and(NotForContentType::const_new("text/html"));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/style/portolan.css", get(stylesheet))
        .leptos_routes(&state, routes, move || shell(options.clone(), &STYLESHEET))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            |options| shell(options, &STYLESHEET),
        ))
        .layer(session_layer)
        .layer(CompressionLayer::new().compress_when(compress))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn stylesheet() -> impl IntoResponse {
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        portolan_style::CSS,
    )
}
