//! Portolan's server.
//!
//! # Layout
//! - [`config`]: the configuration (file, environment, flags), validated at start.
//! - [`app`]: the router — pages and server functions (leptos_axum), the stylesheet, static
//!   files, `/healthz` — with the session, tracing and compression layers.
//! - `main.rs`: reads the configuration, builds the state, serves until interrupted.

pub mod config;

use std::sync::{Arc, LazyLock};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use leptos::config::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};
use portolan_app::model::RegistryInfo;
use portolan_app::ssr::{AppState, Registry};
use portolan_app::{App, shell};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::trace::TraceLayer;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::config::Config;

/// A start-up failure, said in words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

/// The stylesheet's URL, versioned by its content hash so browsers may cache it forever.
pub static STYLESHEET: LazyLock<String> = LazyLock::new(|| format!("/style/portolan.css?v={}", portolan_style::HASH));

/// Builds the registries' clients from the configuration.
pub fn registries(config: &Config) -> Result<Vec<Registry>, StartError> {
    config
        .registries
        .iter()
        .map(|r| {
            let client = portolan_oci::Client::new(r.client.clone()).map_err(|e| StartError(format!("registry {:?}: {e}", r.name)))?;
            Ok(Registry { info: RegistryInfo { name: r.name.clone(), title: r.title.clone(), host: r.pull_host.clone() }, client })
        })
        .collect()
}

/// The state every request sees.
pub fn state(
    leptos_options: LeptosOptions,
    registries: Vec<Registry>,
    public_url: Option<String>,
    store: portolan_store::Store,
) -> AppState {
    AppState { leptos_options, registries: Arc::new(registries), public_url, store }
}

/// The whole router: pages, server functions, stylesheet, static files, health.
pub fn app(state: AppState) -> Router {
    // A tag, a digest and a repository are different pages of the same server route.
    let mut routes = generate_route_list(App);
    routes.sort_by(|a, b| a.path().cmp(b.path()));
    routes.dedup_by(|a, b| a.path() == b.path());
    let options = state.leptos_options.clone();
    let session_layer = SessionManagerLayer::new(state.store.sessions())
        .with_name("portolan_session")
        .with_secure(false)
        .with_same_site(tower_sessions::cookie::SameSite::Lax)
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(12)));
    // Streamed HTML must reach the browser as it is rendered: compress everything else.
    let compress = DefaultPredicate::new().and(NotForContentType::const_new("text/html"));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/style/portolan.css", get(stylesheet))
        .route("/badge/{registry}/{*path}", get(badge))
        .route("/api/v1/referrers/{registry}/{*path}", get(referrers_json))
        .leptos_routes(&state, routes, move || shell(options.clone(), &STYLESHEET))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(|options| shell(options, &STYLESHEET)))
        .layer(session_layer)
        .layer(CompressionLayer::new().compress_when(compress))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `/badge/{registry}/{repository}[:{tag}]/{name}.svg`: an SVG badge (always an image, even for
/// errors, so READMEs never show a broken one).
async fn badge(State(state): State<AppState>, Path((registry, path)): Path<(String, String)>) -> impl IntoResponse {
    let badge = portolan_app::ssr::badges::badge(&state, &registry, &path).await;
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
        ],
        portolan_app::ssr::badges::svg(&badge),
    )
}

#[derive(serde::Deserialize)]
struct GraphQuery {
    #[serde(rename = "artifactType")]
    artifact_type: Option<String>,
}

/// `/api/v1/referrers/{registry}/{repository}@{digest}` (or `:{tag}`), `?artifactType=`: the
/// whole referrer graph as JSON, for scripts.
async fn referrers_json(
    State(state): State<AppState>,
    Path((registry, path)): Path<(String, String)>,
    Query(q): Query<GraphQuery>,
) -> Response {
    use portolan_app::error::AppError;
    let result: Result<serde_json::Value, AppError> = async {
        let reg = state.registry(&registry)?;
        let path = path.trim_matches('/');
        let (repo, reference) = match path.split_once('@') {
            Some((r, d)) => (r, d),
            None => {
                path.rsplit_once(':').ok_or_else(|| AppError::BadRequest("name a tag (repo:tag) or a digest (repo@sha256:…)".into()))?
            }
        };
        let repo = portolan_oci::RepoName::parse(repo).map_err(|e| AppError::BadRequest(e.message().to_owned()))?;
        Ok(portolan_app::ssr::graph::referrers_json(reg, &repo, reference, q.artifact_type.as_deref()).await?)
    }
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => (e.status_code(), Json(serde_json::json!({"error": e.to_string(), "title": e.title()}))).into_response(),
    }
}

async fn stylesheet() -> impl IntoResponse {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
        ],
        portolan_style::CSS,
    )
}
