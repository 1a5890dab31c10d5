//! Registries that misbehave on purpose: a proxy in front of a real one that delays every
//! manifest and blob request (a distant registry), or that rate-limits tag lists (a registry
//! past its quota) — for testing what pages do then.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

struct Inner {
    upstream: String,
    delay: Duration,
    /// Answer tag lists with 429 and this `Retry-After` (seconds).
    rate_limit: Option<u64>,
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
        Self::start_with(upstream, delay, None).await
    }

    /// Forwards to `upstream`, but answers every tag list with 429 Too Many Requests.
    pub async fn rate_limited(upstream: &str, retry_after_secs: u64) -> Result<Self> {
        Self::start_with(upstream, Duration::ZERO, Some(retry_after_secs)).await
    }

    async fn start_with(upstream: &str, delay: Duration, rate_limit: Option<u64>) -> Result<Self> {
        // Bodies pass through untouched (no decompression), so their headers stay true.
        let http = reqwest::Client::builder().no_gzip().redirect(reqwest::redirect::Policy::none()).build()?;
        let inner = Arc::new(Inner { upstream: upstream.trim_end_matches('/').to_owned(), delay, rate_limit, http });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let app = axum::Router::new().fallback(forward).with_state(inner);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, task })
    }
}

async fn forward(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let path = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    if let Some(after) = inner.rate_limit
        && path.contains("/tags/list")
    {
        let body = r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}"#;
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", after.to_string()), ("content-type", "application/json".to_owned())],
            body,
        )
            .into_response();
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
