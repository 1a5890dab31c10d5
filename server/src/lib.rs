//! Portolan's server.
//!
//! # Layout
//! - [`config`]: the configuration (file, environment, flags), validated at start.
//! - [`security`]: request ids, the `Host` check, trusted proxies, security headers.
//! - [`auth`]: sign-in routes, sessions, who is asking.
//! - [`scheduler`]: scheduled retention runs, agreed on through the store by every replica.
//! - [`limit`]: rate limits per client address (the sign-in routes).
//! - [`crawler`]: the opt-in crawl of each registry into the where-used index, one replica at
//!   a time per registry.
//! - [`files`]: static files — the site built into the binary or read from its root, with
//!   their compressed copies and `ETag`s.
//! - [`page_cache`]: pages sent again without rendering them while what they were built from
//!   still holds, keyed by the whole identity asking.
//! - [`rest`]: the REST API (`/api/v1/…`): handlers running the server functions as the
//!   caller, and its OpenAPI document.
//! - this file: the state and the router — pages and server functions (leptos_axum), the
//!   stylesheet, badges, health — with their layers.
//! - [`testing`] (feature `testing`): Portolan built in process, for tests and benchmarks.
//! - `main.rs`: reads the configuration, opens the store, serves until interrupted.

pub mod auth;
pub mod config;
pub mod crawler;
pub mod files;
pub mod limit;
pub mod page_cache;
pub mod rest;
pub mod scheduler;
pub mod security;
#[cfg(feature = "testing")]
pub mod testing;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use leptos::config::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};
use portolan_app::model::{ProviderInfo, RegistryInfo, SignInOptions};
use portolan_app::ssr::AppState;
use portolan_app::ssr::auth::{CurrentUser, needed};
use portolan_app::{App, shell};
use portolan_service::{Registry, Services, Settings};
use tower_http::compression::CompressionLayer;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::config::Config;

/// A start-up failure, said in words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

/// The stylesheet's URL, versioned by its content hash so browsers may cache it forever.
pub static STYLESHEET: LazyLock<String> = LazyLock::new(|| format!("/style/portolan.css?v={}", portolan_style::HASH));

/// Leptos.toml as built in: the site settings of a binary started from any directory.
pub const LEPTOS_TOML: &str = include_str!("../../Leptos.toml");

/// The site settings: `--leptos-config`'s file, else the Leptos.toml built in (either
/// overridden by `LEPTOS_<KEY>` environment variables), then `--listen` and `--site-root`.
pub fn leptos_options(config: &Config) -> Result<LeptosOptions, StartError> {
    let mut options = match &config.leptos_config {
        Some(path) => {
            leptos_config::get_config_from_file(path).map_err(|e| StartError(format!("reading {}: {e}", path.display())))?.leptos_options
        }
        None => leptos_config::get_config_from_str(LEPTOS_TOML).map_err(|e| StartError(format!("the built-in Leptos.toml: {e}")))?,
    };
    if let Some(listen) = config.listen {
        options.site_addr = listen;
    }
    if let Some(root) = &config.site_root {
        options.site_root = root.display().to_string().into();
    }
    Ok(options)
}

/// Builds the registries' clients from the configuration.
pub fn registries(config: &Config) -> Result<Vec<Registry>, StartError> {
    config
        .registries
        .iter()
        .map(|r| {
            let client = portolan_oci::Client::new(r.client.clone()).map_err(|e| StartError(format!("registry {:?}: {e}", r.name)))?;
            Ok(Registry {
                info: RegistryInfo { name: r.name.clone(), title: r.title.clone(), host: r.pull_host.clone() },
                client: Arc::new(client),
            })
        })
        .collect()
}

/// Background tag reads in flight at most, for all visitors together.
pub const BACKGROUND_READS: usize = 16;

/// The state every request sees.
pub fn state(leptos_options: LeptosOptions, registries: Vec<Registry>, config: &Config, store: portolan_store::Store) -> AppState {
    let sign_in = SignInOptions {
        providers: config
            .auth
            .providers
            .iter()
            .map(|p| ProviderInfo { id: p.id.clone(), title: p.title.clone(), kind: p.kind.label().to_owned() })
            .collect(),
        proxy: config.auth.proxy.is_some(),
        note: config.auth.sign_in_note.clone(),
    };
    AppState {
        leptos_options,
        public_url: config.public_url.as_ref().map(|u| u.as_str().trim_end_matches('/').to_owned()),
        sign_in: Arc::new(sign_in),
        services: services(registries, config, store),
    }
}

/// The services (what Portolan does, for pages, the scheduler and the crawl alike).
pub fn services(registries: Vec<Registry>, config: &Config, store: portolan_store::Store) -> Services {
    let settings = Settings {
        trash_days: config.trash_days,
        audit_days: config.audit_days,
        token_max_days: config.token_max_days,
        retention_lease: config.retention_lease,
    };
    Services::new(registries, store, Arc::new(config.access.clone()), settings, &replica_name(), search_state(config), BACKGROUND_READS)
        .with_trust_policies(config.trust.clone())
}

/// Each registry's search settings (configured repositories, the crawl), from the configuration.
pub fn search_state(config: &Config) -> portolan_service::search::SearchState {
    use portolan_service::search::{RegistrySearch, SearchState};
    let settings = config
        .registries
        .iter()
        .map(|r| {
            let s = RegistrySearch {
                repositories: r.repositories.clone(),
                crawl: r.crawl,
                crawl_requests_per_minute: r.crawl_requests_per_minute,
                crawl_interval: r.crawl_interval,
            };
            (r.name.clone(), s)
        })
        .collect();
    SearchState::new(settings, BACKGROUND_READS / 2)
}

/// This replica's name in leases and runs: host, process and a random part (two processes on
/// one host, or a restarted one, are never confused).
pub fn replica_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "portolan".into());
    format!("{host}/{}/{:04x}", std::process::id(), rand::random::<u16>())
}

/// What the router needs besides the state.
pub struct Parts {
    pub auth: Arc<auth::Auth>,
    pub guard: Arc<security::Guard>,
    /// The session cookie is `Secure` (Portolan is reached over https).
    pub secure_cookies: bool,
    /// A session ends after this long unused.
    pub idle_timeout: std::time::Duration,
    /// Where the site's static files come from (built in, or the site root).
    pub site: files::Site,
}

impl Parts {
    /// From the configuration (the listener's address decides the `Host` check's defaults).
    pub fn new(config: &Config, listen: std::net::SocketAddr, store: portolan_store::Store) -> Result<Self, StartError> {
        let public_url = config.public_url.as_ref().map(|u| u.as_str().trim_end_matches('/').to_owned());
        let auth = auth::Auth::new(&config.auth, public_url, store, STYLESHEET.clone(), config.secure_cookies()).map_err(StartError)?;
        Ok(Self {
            auth: Arc::new(auth),
            guard: Arc::new(
                security::Guard::new(listen, config.public_url.as_ref(), &config.allowed_hosts, config.trusted_proxies.clone())
                    .metrics_from(config.metrics_from.clone()),
            ),
            secure_cookies: config.secure_cookies(),
            idle_timeout: config.auth.idle_timeout,
            site: files::Site::Directory,
        })
    }
}

/// The session cookie's name: with the `__Host-` prefix over https, so browsers take it only
/// from Portolan's own origin, Secure, for the whole site, never set by a sibling subdomain.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-portolan_session" } else { "portolan_session" }
}

/// The whole router: pages, server functions, sign-in, stylesheet, static files, badges, the
/// JSON API, health.
pub fn app(state: AppState, parts: Parts) -> Router {
    _install_metrics();
    let state = parts.site.prepare(state);
    // A tag, a digest and a repository are different pages of the same server route.
    let mut routes = generate_route_list(App);
    routes.sort_by(|a, b| a.path().cmp(b.path()));
    routes.dedup_by(|a, b| a.path() == b.path());
    let options = state.leptos_options.clone();
    let idle = time::Duration::try_from(parts.idle_timeout).unwrap_or(time::Duration::hours(12));
    let session_layer = SessionManagerLayer::new(state.store.sessions())
        .with_name(session_cookie_name(parts.secure_cookies))
        .with_secure(parts.secure_cookies)
        .with_http_only(true)
        .with_same_site(tower_sessions::cookie::SameSite::Lax)
        .with_expiry(Expiry::OnInactivity(idle));
    let mut router = Router::new();
    for (path, method) in routes_of_the_server() {
        router = router.route(path, method);
    }
    for (path, _, method) in rest::routes() {
        router = router.route(path, method);
    }
    router
        .merge(auth::routes(parts.auth.clone()))
        .leptos_routes(&state, routes, move || shell(options.clone(), &STYLESHEET))
        .fallback_service(files::site(&state, &parts.site))
        .layer(axum::middleware::from_fn(server_fn_status))
        .layer(axum::middleware::from_fn(auth::same_origin_changes))
        .layer(axum::middleware::from_fn_with_state((state.clone(), page_cache::PageCache::default()), page_cache::serve))
        .layer(axum::middleware::from_fn_with_state(parts.auth.clone(), auth::identify))
        .layer(session_layer)
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(parts.guard.clone(), security::guard))
        .with_state(state)
}

/// Installs the metrics recorder (idempotent); `app` calls it.
fn _install_metrics() {
    metrics_handle();
}

/// Server functions answer every error with 500 and the error as JSON; this gives the answer
/// the error's own status (401, 403, 404, 503…), so scripts see what a page would.
async fn server_fn_status(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = request.uri().path();
    let server_fn = path.starts_with("/api/") && !path.starts_with("/api/v1/");
    let response = next.run(request).await;
    if !server_fn || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1024 * 1024).await.unwrap_or_default();
    if let Ok(e) = serde_json::from_slice::<portolan_app::error::AppError>(&bytes) {
        parts.status = e.status_code();
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Every route of the server besides the pages, the server functions and sign-in (listed in
/// [`auth::ROUTES`]) — one list, so a test can call each of them at every role.
pub fn routes_of_the_server() -> Vec<(&'static str, axum::routing::MethodRouter<AppState>)> {
    vec![
        ("/healthz", get(|| async { "ok" })),
        ("/metrics", get(metrics_text)),
        ("/readyz", get(readyz)),
        ("/style/portolan.css", get(stylesheet)),
        ("/badge/{registry}/{*path}", get(badge)),
        ("/api/v1/referrers/{registry}/{*path}", get(referrers_json)),
        ("/admin/audit.csv", get(audit_csv)),
        ("/admin/audit.json", get(audit_json)),
    ]
}

/// The process's metrics recorder (one per process; every router shares it).
pub fn metrics_handle() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets(&[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
            .expect("bucket boundaries are valid");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // A second router in one process (tests) finds the recorder installed: keep the first.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// `/metrics`: Prometheus text (the guard lets only `metrics_from` networks in).
async fn metrics_text(State(state): State<AppState>) -> Response {
    let (open, idle) = state.store.pool_use();
    metrics::gauge!("portolan_store_connections", "state" => "open").set(f64::from(open));
    metrics::gauge!("portolan_store_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("portolan_store_up").set(if state.store.ready().await.is_ok() { 1.0 } else { 0.0 });
    for r in state.registries.iter() {
        let (entries, bytes) = r.client.cache_usage();
        metrics::gauge!("portolan_cache_entries", "registry" => r.info.name.clone()).set(entries as f64);
        metrics::gauge!("portolan_cache_bytes", "registry" => r.info.name.clone()).set(bytes as f64);
    }
    match portolan_service::storage::gauges(&state).await {
        Ok(gauges) => {
            for g in gauges {
                let registry = g.registry;
                metrics::gauge!("portolan_storage_stored_bytes", "registry" => registry.clone()).set(g.stored_bytes as f64);
                metrics::gauge!("portolan_storage_reclaimable_bytes", "registry" => registry.clone(), "kind" => "untagged")
                    .set(g.reclaimable_untagged as f64);
                metrics::gauge!("portolan_storage_reclaimable_bytes", "registry" => registry.clone(), "kind" => "deleted")
                    .set(g.reclaimable_deleted as f64);
                metrics::gauge!("portolan_storage_index_complete", "registry" => registry.clone()).set(if g.complete { 1.0 } else { 0.0 });
                if let Some(t) = g.last_full_pass {
                    metrics::gauge!("portolan_storage_last_full_pass_timestamp_seconds", "registry" => registry).set(t as f64);
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "reading the storage figures for metrics"),
    }
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], metrics_handle().render())
        .into_response()
}

/// `/readyz`: the store answers and is migrated (503 otherwise).
async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ready().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "not ready: the store is unavailable").into_response()
        }
    }
}

/// `/badge/{registry}/{repository}[:{tag}]/{name}.svg`: an SVG badge (always an image, even for
/// errors, so READMEs never show a broken one). Private repositories' badges are refused.
async fn badge(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Path((registry, path)): Path<(String, String)>,
) -> impl IntoResponse {
    let (status, badge) = portolan_app::ssr::badges::badge(&state, user.0, &registry, &path).await;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    // Public badges may be cached anywhere; refused ones nowhere.
    let cache = if status.is_success() && state.access.anonymous_read(&registry) {
        "public, max-age=300"
    } else if status.is_success() {
        "private, max-age=300"
    } else {
        "no-store"
    };
    (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
            ),
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
    Extension(user): Extension<CurrentUser>,
    Path((registry, path)): Path<(String, String)>,
    Query(q): Query<GraphQuery>,
) -> Response {
    use portolan_app::error::AppError;
    let result: Result<serde_json::Value, AppError> = async {
        let path = path.trim_matches('/');
        let (repo, reference) = match path.split_once('@') {
            Some((r, d)) => (r, d),
            None => {
                path.rsplit_once(':').ok_or_else(|| AppError::BadRequest("name a tag (repo:tag) or a digest (repo@sha256:…)".into()))?
            }
        };
        let repo = portolan_oci::RepoName::parse(repo).map_err(|e| AppError::BadRequest(e.message().to_owned()))?;
        portolan_app::ssr::auth::require_for(
            &state,
            user.0,
            needed("/api/v1/referrers/{registry}/{*path}"),
            &registry,
            Some(repo.as_str()),
        )?;
        let reg = state.registry(&registry)?;
        if let Some(t) = &q.artifact_type
            && (t.len() > 255 || t.chars().any(|c| c.is_control()))
        {
            return Err(AppError::BadRequest("artifactType is not a media type".into()));
        }
        Ok(portolan_app::ssr::graph::referrers_json(reg, &repo, reference, q.artifact_type.as_deref()).await?)
    }
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => (e.status_code(), Json(serde_json::json!({"error": e.to_string(), "title": e.title()}))).into_response(),
    }
}

/// The audit log entries an admin may see, filtered as the audit page is (at most 10,000).
async fn audit_rows(
    state: &AppState,
    user: CurrentUser,
    q: &portolan_app::model::AuditQuery,
) -> Result<Vec<portolan_app::model::AuditRow>, Response> {
    let caller = portolan_app::ssr::auth::require_anywhere_for(state, user.0, needed("/admin/audit.csv"))
        .map_err(|e| (e.status_code(), e.to_string()).into_response())?;
    portolan_app::ssr::audit::rows(state, &caller, q, 10_000).await.map_err(|e| (e.status_code(), e.to_string()).into_response())
}

/// `/admin/audit.csv?…`: the audit log as CSV (admins).
async fn audit_csv(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Query(q): Query<portolan_app::model::AuditQuery>,
) -> Response {
    match audit_rows(&state, user, &q).await {
        Ok(rows) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
                (header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"portolan-audit.csv\"")),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            portolan_app::ssr::audit::csv(&rows),
        )
            .into_response(),
        Err(r) => r,
    }
}

/// `/admin/audit.json?…`: the audit log as JSON (admins).
async fn audit_json(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Query(q): Query<portolan_app::model::AuditQuery>,
) -> Response {
    match audit_rows(&state, user, &q).await {
        Ok(rows) => ([(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], Json(rows)).into_response(),
        Err(r) => r,
    }
}

/// The stylesheet: kept for good under the address of this version (`?v=` its hash), checked
/// each time under any other (a replica of another version answering during a rolling
/// deploy must not have its sheet kept under the new address).
async fn stylesheet(Query(q): Query<HashMap<String, String>>) -> impl IntoResponse {
    let cache = if q.get("v").map(String::as_str) == Some(portolan_style::HASH) {
        "public, max-age=31536000, immutable"
    } else {
        "public, no-cache"
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        portolan_style::CSS,
    )
}
