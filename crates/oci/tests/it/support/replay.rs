//! A registry that replays recorded exchanges (tests/fixtures/*.json): for registries that
//! cannot run here (Docker Hub, GHCR) and for faults (429, hangs, garbage, huge bodies).
//!
//! Each exchange matches a method, a path (exact, or a prefix ending in `*`), optionally a
//! query substring and the kind of Authorization sent (`none`, `basic`, `bearer`, `any`); it
//! answers a status, headers and a body (JSON, text, `body_size` zero bytes, or never: `hang`).
//! `times` limits how often an exchange answers before later ones take over. `{{base}}` in
//! headers and bodies is this server's URL. Every request is recorded for assertions.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

#[derive(Clone, Debug, Deserialize)]
pub struct Fixture {
    /// Where the behaviour comes from.
    #[allow(dead_code)]
    pub source: String,
    pub exchanges: Vec<Exchange>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default = "any")]
    pub auth: String,
    #[serde(default)]
    pub times: Option<usize>,
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub body_size: Option<usize>,
    #[serde(default)]
    pub hang: bool,
}

fn any() -> String {
    "any".into()
}

/// A request as received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path_and_query: String,
    pub authorization: Option<String>,
}

struct Inner {
    fixture: Fixture,
    used: Mutex<Vec<usize>>,
    seen: Mutex<Vec<Seen>>,
    base: String,
}

pub struct Replay {
    pub url: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Replay {
    /// Serves the named fixture file, with `{{other}}` replaced by `other` (another server's URL).
    pub async fn start(name: &str, other: Option<&str>) -> Self {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let text = text.replace("{{other}}", other.unwrap_or(""));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let fixture: Fixture = serde_json::from_str(&text.replace("{{base}}", &base)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let used = vec![0; fixture.exchanges.len()];
        let inner = Arc::new(Inner { fixture, used: Mutex::new(used), seen: Mutex::default(), base: base.clone() });
        let app = axum::Router::new().fallback(answer).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url: base, inner, task }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.inner.seen.lock().unwrap().clone()
    }

    /// Requests whose path starts with `prefix`.
    pub fn seen_at(&self, prefix: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path_and_query.starts_with(prefix)).collect()
    }
}

fn auth_kind(headers: &HeaderMap) -> &'static str {
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        None => "none",
        Some(v) if v.starts_with("Basic ") => "basic",
        Some(v) if v.starts_with("Bearer ") => "bearer",
        Some(_) => "other",
    }
}

async fn answer(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let auth = auth_kind(request.headers());
    inner.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path_and_query: if query.is_empty() { path.clone() } else { format!("{path}?{query}") },
        authorization: request.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned),
    });
    let chosen = {
        let mut used = inner.used.lock().unwrap();
        let found = inner.fixture.exchanges.iter().enumerate().find(|(i, e)| {
            e.method.eq_ignore_ascii_case(&method)
                && match e.path.strip_suffix('*') {
                    Some(prefix) => path.starts_with(prefix),
                    None => e.path == path,
                }
                && e.query.as_ref().is_none_or(|q| query.contains(q.as_str()))
                && (e.auth == "any" || e.auth == auth)
                && e.times.is_none_or(|t| used[*i] < t)
        });
        match found {
            Some((i, e)) => {
                used[i] += 1;
                e.clone()
            }
            None => {
                return (StatusCode::NOT_FOUND, format!("no recorded exchange for {method} {path}?{query} ({auth})")).into_response();
            }
        }
    };
    if chosen.hang {
        std::future::pending::<()>().await;
    }
    let mut response = match (&chosen.body, chosen.body_size) {
        (_, Some(size)) => Response::new(Body::from(vec![b'0'; size])),
        (Some(Value::String(text)), _) => Response::new(Body::from(text.clone())),
        (Some(json), _) => {
            let mut r = Response::new(Body::from(serde_json::to_vec(json).unwrap()));
            r.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
            r
        }
        (None, _) => Response::new(Body::empty()),
    };
    *response.status_mut() = StatusCode::from_u16(chosen.status).unwrap();
    for (k, v) in &chosen.headers {
        let v = v.replace("{{base}}", &inner.base);
        response.headers_mut().insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(&v).unwrap());
    }
    response
}
