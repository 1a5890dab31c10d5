//! A proxy in front of a real registry that injects what real registries cannot be made to do
//! on demand, deterministically: a request the registry applied but whose answer was lost (the
//! client sees an error), an answer for a request that never reached the registry, and another writer
//! acting between two requests of the client (the proxy runs it after forwarding a request and
//! before answering it, so the client's next request sees the change).
//!
//! Rules match a method and a path predicate, at most `times` times (None: always); the first
//! matching rule acts, everything else is forwarded unchanged. `Location` headers are rewritten
//! so uploads go through the proxy too. Every request is recorded.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;

/// Another writer's work, run by the proxy.
pub type Writer = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// What a rule does with a matching request.
#[derive(Clone)]
pub enum Action {
    /// Forward, run the writer, then answer what the registry answered.
    ForwardThen(Writer),
    /// Forward (the registry applies it), then answer this status instead: a lost answer.
    ForwardThenFail(u16),
    /// Answer this status without forwarding: the registry never sees the request (an error, or
    /// a success the registry never applied).
    Answer(u16),
}

struct Rule {
    method: String,
    path: Box<dyn Fn(&str) -> bool + Send + Sync>,
    times: Option<usize>,
    used: usize,
    action: Action,
}

struct Inner {
    upstream: String,
    base: String,
    http: reqwest::Client,
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<Vec<(String, String)>>,
}

pub struct Proxy {
    pub url: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    pub async fn start(upstream: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let http = portolan_testkit::runner::http_builder().redirect(reqwest::redirect::Policy::none()).no_gzip().build().unwrap();
        let inner = Arc::new(Inner {
            upstream: upstream.trim_end_matches('/').to_owned(),
            base: base.clone(),
            http,
            rules: Mutex::default(),
            seen: Mutex::default(),
        });
        let app = axum::Router::new().fallback(forward).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url: base, inner, task }
    }

    /// Adds a rule: `action` for requests of `method` whose path satisfies `path`.
    pub fn on(&self, method: &str, path: impl Fn(&str) -> bool + Send + Sync + 'static, times: Option<usize>, action: Action) {
        self.inner.rules.lock().unwrap().push(Rule { method: method.to_owned(), path: Box::new(path), times, used: 0, action });
    }

    /// Requests received: (method, path).
    pub fn seen(&self) -> Vec<(String, String)> {
        self.inner.seen.lock().unwrap().clone()
    }

    /// How many requests of `method` had a path satisfying `path`.
    pub fn count(&self, method: &str, path: impl Fn(&str) -> bool) -> usize {
        self.seen().iter().filter(|(m, p)| m == method && path(p)).count()
    }
}

async fn forward(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let path_and_query = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| path.clone());
    inner.seen.lock().unwrap().push((method.clone(), path.clone()));
    let action = {
        let mut rules = inner.rules.lock().unwrap();
        rules.iter_mut().find(|r| r.method.eq_ignore_ascii_case(&method) && (r.path)(&path) && r.times.is_none_or(|t| r.used < t)).map(
            |r| {
                r.used += 1;
                r.action.clone()
            },
        )
    };
    if let Some(Action::Answer(status)) = action {
        return (StatusCode::from_u16(status).unwrap(), "answered by the test proxy").into_response();
    }
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024).await.unwrap();
    let mut upstream = inner.http.request(parts.method.clone(), format!("{}{path_and_query}", inner.upstream));
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            upstream = upstream.header(name, value);
        }
    }
    let answer = upstream.body(body).send().await.unwrap();
    let status = answer.status().as_u16();
    let mut headers = Vec::new();
    for (name, value) in answer.headers() {
        let value = value.to_str().unwrap_or("").replace(&inner.upstream, &inner.base);
        headers.push((name.clone(), value));
    }
    let bytes = answer.bytes().await.unwrap();
    let status = match action {
        Some(Action::ForwardThen(writer)) => {
            writer().await;
            status
        }
        Some(Action::ForwardThenFail(failed)) => return (StatusCode::from_u16(failed).unwrap(), "the answer was lost").into_response(),
        _ => status,
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    for (name, value) in headers {
        // A HEAD answer keeps the registry's length; otherwise the body sets it.
        if (name == "content-length" && method != "HEAD") || name == "transfer-encoding" {
            continue;
        }
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_str().as_bytes()), HeaderValue::from_str(&value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
