//! A proxy in front of a real registry that fails on purpose, for deletions under faults: manifest
//! and blob reads answer late (so a run lasts), DELETEs fail with HTTP 500 once N of them went
//! through, or the answer to a DELETE the registry already applied is held back (a process
//! killed then has deleted without knowing it). The faults can be changed while it runs, and
//! every DELETE the registry applied is recorded, so a test can compare what was deleted with
//! what Portolan says it deleted.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// The faults, changeable at any time.
struct Faults {
    upstream: String,
    http: reqwest::Client,
    /// Manifest and blob GETs and HEADs wait this long (milliseconds).
    read_delay_ms: AtomicU64,
    /// Manifest DELETEs allowed through; the next ones answer 500 without reaching the registry.
    deletes_allowed: AtomicUsize,
    /// A DELETE the registry applied is answered this late (milliseconds).
    hold_delete_ms: AtomicU64,
    /// DELETEs that reached the registry (counted before they are sent).
    deletes_sent: AtomicUsize,
    /// DELETEs answered 500 by the proxy.
    deletes_refused: AtomicUsize,
    /// `(repository, reference)` of each DELETE the registry applied (202), in order.
    applied: Mutex<Vec<(String, String)>>,
}

/// A running proxy; stops when dropped.
pub struct FaultyProxy {
    pub url: String,
    faults: Arc<Faults>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultyProxy {
    /// Forwards everything to `upstream`, with no fault until one is set.
    pub async fn start(upstream: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .no_gzip()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        let faults = Arc::new(Faults {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http,
            read_delay_ms: AtomicU64::new(0),
            deletes_allowed: AtomicUsize::new(usize::MAX),
            hold_delete_ms: AtomicU64::new(0),
            deletes_sent: AtomicUsize::new(0),
            deletes_refused: AtomicUsize::new(0),
            applied: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let app = axum::Router::new().fallback(forward).with_state(faults.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, faults, task })
    }

    /// Manifest and blob reads (GET, HEAD) answer `delay` late.
    pub fn delay_reads(&self, delay: Duration) {
        self.faults.read_delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// From now on, `n` more manifest DELETEs go through; every later one answers 500.
    pub fn fail_deletes_after(&self, n: usize) {
        let sent = self.faults.deletes_sent.load(Ordering::SeqCst);
        self.faults.deletes_allowed.store(sent.saturating_add(n), Ordering::SeqCst);
    }

    /// A DELETE the registry applied is answered `delay` late.
    pub fn hold_deletes(&self, delay: Duration) {
        self.faults.hold_delete_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// `(repository, reference)` of each manifest DELETE the registry applied, in order.
    pub fn applied_deletes(&self) -> Vec<(String, String)> {
        self.faults.applied.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Manifest DELETEs the proxy answered with 500 (none reached the registry).
    pub fn refused_deletes(&self) -> usize {
        self.faults.deletes_refused.load(Ordering::SeqCst)
    }
}

/// `(repository, reference)` of a `/v2/<repository>/manifests/<reference>` path.
fn manifest_path(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix("/v2/")?;
    let (repo, reference) = rest.rsplit_once("/manifests/")?;
    Some((repo.to_owned(), reference.to_owned()))
}

async fn forward(State(faults): State<Arc<Faults>>, request: Request) -> Response {
    let path = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let method = request.method().clone();
    let deleting = if method == Method::DELETE { manifest_path(request.uri().path()) } else { None };
    if deleting.is_some() {
        let allowed = faults.deletes_allowed.load(Ordering::SeqCst);
        // Counted first, so concurrent DELETEs cannot both take the last allowance.
        let n = faults.deletes_sent.fetch_add(1, Ordering::SeqCst);
        if n >= allowed {
            faults.deletes_sent.fetch_sub(1, Ordering::SeqCst);
            faults.deletes_refused.fetch_add(1, Ordering::SeqCst);
            let body = serde_json::json!({"errors": [{"code": "UNKNOWN", "message": "injected failure: the storage backend is unavailable", "detail": null}]});
            return (StatusCode::INTERNAL_SERVER_ERROR, [("content-type", "application/json; charset=utf-8")], body.to_string())
                .into_response();
        }
    } else if matches!(method, Method::GET | Method::HEAD) && (path.contains("/manifests/") || path.contains("/blobs/")) {
        let delay = faults.read_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
    }
    let mut upstream = faults.http.request(method, format!("{}{path}", faults.upstream));
    for (name, value) in request.headers() {
        if !matches!(name.as_str(), "host" | "content-length" | "transfer-encoding" | "connection") {
            upstream = upstream.header(name, value);
        }
    }
    let body = axum::body::to_bytes(request.into_body(), 64 * 1024 * 1024).await.unwrap_or_default();
    let answer = match upstream.body(body).send().await {
        Ok(answer) => answer,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = answer.status().as_u16();
    let mut response = Response::builder().status(status);
    for (name, value) in answer.headers() {
        if !matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    if let Some(deleted) = deleting
        && status == 202
    {
        faults.applied.lock().unwrap_or_else(|e| e.into_inner()).push(deleted);
        let hold = faults.hold_delete_ms.load(Ordering::SeqCst);
        if hold > 0 {
            tokio::time::sleep(Duration::from_millis(hold)).await;
        }
    }
    response.body(Body::from(bytes)).unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}
