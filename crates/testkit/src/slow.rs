//! Registries that misbehave on purpose: a proxy in front of a real one that delays every
//! manifest and blob request (a distant registry), rate-limits tag lists (a registry past its
//! quota), has no catalog (as Docker Hub), or refuses everything with 403 (credentials without
//! access) — for testing what pages do then.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// What the proxy does besides forwarding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    /// Tag lists answer 429 with this `Retry-After` (seconds).
    RateLimited(u64),
    /// `/v2/_catalog` answers 404 (Docker Hub and GHCR have no catalog).
    NoCatalog,
    /// Everything under `/v2/` but the version check answers 403 DENIED.
    Denied,
}

struct Inner {
    upstream: String,
    delay: Duration,
    fault: Fault,
    http: reqwest::Client,
}

/// A running proxy; stops when dropped.
pub struct SlowProxy {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SlowProxy {
    /// Forwards to `upstream`, delaying manifest and blob requests by `delay`.
    pub async fn start(upstream: &str, delay: Duration) -> Result<Self> {
        Self::start_with(upstream, delay, Fault::None).await
    }

    /// Forwards to `upstream`, but answers every tag list with 429 Too Many Requests.
    pub async fn rate_limited(upstream: &str, retry_after_secs: u64) -> Result<Self> {
        Self::start_with(upstream, Duration::ZERO, Fault::RateLimited(retry_after_secs)).await
    }

    /// Forwards to `upstream`, but answers the catalog with 404 NOT FOUND, as registries
    /// without one do.
    pub async fn without_catalog(upstream: &str) -> Result<Self> {
        Self::start_with(upstream, Duration::ZERO, Fault::NoCatalog).await
    }

    /// Answers every request but `GET /v2/` with 403 DENIED, as registries do for credentials
    /// that are valid but have no access.
    pub async fn denied(upstream: &str) -> Result<Self> {
        Self::start_with(upstream, Duration::ZERO, Fault::Denied).await
    }

    async fn start_with(upstream: &str, delay: Duration, fault: Fault) -> Result<Self> {
        // Bodies pass through untouched (no decompression), so their headers stay true. A
        // registry that stops answering gives a 502 rather than a hang.
        let http = reqwest::Client::builder()
            .no_gzip()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        let inner = Arc::new(Inner { upstream: upstream.trim_end_matches('/').to_owned(), delay, fault, http });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let app = axum::Router::new().fallback(forward).with_state(inner);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, task })
    }
}

/// A registry error answer: `{"errors":[{"code":…,"message":…,"detail":…}]}`.
fn registry_error(status: StatusCode, code: &str, message: &str, extra: &[(&str, String)]) -> Response {
    let body = serde_json::json!({"errors": [{"code": code, "message": message, "detail": null}]}).to_string();
    let mut response = Response::builder().status(status).header("content-type", "application/json; charset=utf-8");
    for (name, value) in extra {
        response = response.header(*name, value);
    }
    response.body(Body::from(body)).unwrap_or_else(|_| status.into_response())
}

async fn forward(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let path = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    match inner.fault {
        Fault::RateLimited(after) if path.contains("/tags/list") => {
            return registry_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TOOMANYREQUESTS",
                "You have reached your pull rate limit.",
                &[("retry-after", after.to_string())],
            );
        }
        Fault::NoCatalog if request.uri().path() == "/v2/_catalog" => {
            return registry_error(StatusCode::NOT_FOUND, "NOT_FOUND", "404 page not found", &[]);
        }
        Fault::Denied if request.uri().path() != "/v2/" => {
            return registry_error(StatusCode::FORBIDDEN, "DENIED", "requested access to the resource is denied", &[]);
        }
        _ => {}
    }
    if path.contains("/manifests/") || path.contains("/blobs/") {
        tokio::time::sleep(inner.delay).await;
    }
    let method = request.method().clone();
    let mut upstream = inner.http.request(method, format!("{}{path}", inner.upstream));
    for (name, value) in request.headers() {
        if !matches!(name.as_str(), "host" | "content-length" | "transfer-encoding" | "connection") {
            upstream = upstream.header(name, value);
        }
    }
    let body = axum::body::to_bytes(request.into_body(), 64 * 1024 * 1024).await.unwrap_or_default();
    match upstream.body(body).send().await {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status().as_u16());
            for (name, value) in answer.headers() {
                if !matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
                    response = response.header(name, value);
                }
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            response.body(Body::from(bytes)).unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
