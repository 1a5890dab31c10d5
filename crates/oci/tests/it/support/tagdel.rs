//! A small registry in this process whose tag DELETE behaves as chosen, for what the registries
//! that run here lack (distribution answers 400 to a tag DELETE, ferro-oci-server 405):
//! - [`TagDelete::Alone`]: the tag alone goes (the OCI spec's tag DELETE);
//! - [`TagDelete::WholeManifest`]: the tag is resolved and its whole manifest deleted, sibling
//!   tags with it, as some registries do.
//!
//! Both answer 404 for a tag that does not exist, so a probe with a made-up tag cannot tell
//! them apart. Manifests (any bytes), blobs (monolithic uploads), tag lists and digest DELETEs
//! work as in distribution; there is no referrers API (plain-text 404), no auth.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use portolan_oci::manifest::sha256_digest;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagDelete {
    Alone,
    WholeManifest,
}

#[derive(Default)]
struct Repo {
    tags: BTreeMap<String, String>,
    manifests: HashMap<String, (String, Vec<u8>)>,
    blobs: HashMap<String, Vec<u8>>,
}

struct Inner {
    mode: TagDelete,
    repos: Mutex<HashMap<String, Repo>>,
    seen: Mutex<Vec<(String, String)>>,
}

pub struct FakeRegistry {
    pub url: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeRegistry {
    pub async fn start(mode: TagDelete) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Inner { mode, repos: Mutex::default(), seen: Mutex::default() });
        let app = axum::Router::new().fallback(answer).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, inner, task }
    }

    /// Stores a small image manifest (unique by `name`) under `tags`; returns its digest.
    pub fn seed(&self, repo: &str, name: &str, tags: &[&str]) -> String {
        let bytes = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256_digest(b"{}"), "size": 2},
            "layers": [],
            "annotations": {"name": name},
        }))
        .unwrap();
        let digest = sha256_digest(&bytes);
        let mut repos = self.inner.repos.lock().unwrap();
        let r = repos.entry(repo.to_owned()).or_default();
        r.blobs.insert(sha256_digest(b"{}"), b"{}".to_vec());
        r.manifests.insert(digest.clone(), ("application/vnd.oci.image.manifest.v1+json".into(), bytes));
        for t in tags {
            r.tags.insert((*t).to_owned(), digest.clone());
        }
        digest
    }

    /// Where a tag points now.
    pub fn tag(&self, repo: &str, tag: &str) -> Option<String> {
        self.inner.repos.lock().unwrap().get(repo).and_then(|r| r.tags.get(tag).cloned())
    }

    /// Every tag of a repository.
    pub fn tags(&self, repo: &str) -> Vec<String> {
        self.inner.repos.lock().unwrap().get(repo).map(|r| r.tags.keys().cloned().collect()).unwrap_or_default()
    }

    /// How many manifests a repository holds.
    pub fn manifests(&self, repo: &str) -> usize {
        self.inner.repos.lock().unwrap().get(repo).map_or(0, |r| r.manifests.len())
    }

    /// Requests received: (method, path).
    pub fn seen(&self) -> Vec<(String, String)> {
        self.inner.seen.lock().unwrap().clone()
    }
}

fn status(code: StatusCode, text: &str) -> Response {
    (code, text.to_owned()).into_response()
}

fn unknown(code: &str) -> Response {
    let body = serde_json::json!({"errors": [{"code": code, "message": code.to_lowercase().replace('_', " ")}]});
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

async fn answer(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    inner.seen.lock().unwrap().push((method.to_string(), path.clone()));
    let content_type = request.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let body = axum::body::to_bytes(request.into_body(), 16 * 1024 * 1024).await.unwrap().to_vec();
    if path == "/v2/" {
        return axum::Json(serde_json::json!({})).into_response();
    }
    let Some(rest) = path.strip_prefix("/v2/") else { return status(StatusCode::NOT_FOUND, "404 page not found") };
    let mut repos = inner.repos.lock().unwrap();
    if let Some((name, reference)) = rest.rsplit_once("/manifests/") {
        let repo = repos.entry(name.to_owned()).or_default();
        let digest = if reference.contains(':') { Some(reference.to_owned()) } else { repo.tags.get(reference).cloned() };
        match method {
            Method::GET | Method::HEAD => {
                let Some((media_type, bytes)) = digest.and_then(|d| repo.manifests.get(&d).cloned()) else {
                    return unknown("MANIFEST_UNKNOWN");
                };
                let mut response = Response::new(if method == Method::GET { Body::from(bytes.clone()) } else { Body::empty() });
                let headers = response.headers_mut();
                headers.insert("content-type", media_type.parse().unwrap());
                headers.insert("docker-content-digest", sha256_digest(&bytes).parse().unwrap());
                headers.insert("content-length", bytes.len().to_string().parse().unwrap());
                response
            }
            Method::PUT => {
                let digest = sha256_digest(&body);
                if reference.contains(':') && reference != digest {
                    return status(StatusCode::BAD_REQUEST, "digest mismatch");
                }
                repo.manifests.insert(digest.clone(), (content_type, body));
                if !reference.contains(':') {
                    repo.tags.insert(reference.to_owned(), digest.clone());
                }
                let mut response = status(StatusCode::CREATED, "");
                response.headers_mut().insert("docker-content-digest", digest.parse().unwrap());
                response
            }
            Method::DELETE => {
                let Some(digest) = digest.filter(|d| repo.manifests.contains_key(d)) else {
                    return unknown("MANIFEST_UNKNOWN");
                };
                if reference.contains(':') || inner.mode == TagDelete::WholeManifest {
                    repo.manifests.remove(&digest);
                    repo.tags.retain(|_, d| *d != digest);
                } else {
                    repo.tags.remove(reference);
                }
                status(StatusCode::ACCEPTED, "")
            }
            _ => status(StatusCode::METHOD_NOT_ALLOWED, ""),
        }
    } else if let Some(name) = rest.strip_suffix("/blobs/uploads/") {
        let mut response = status(StatusCode::ACCEPTED, "");
        response.headers_mut().insert("location", format!("/v2/{name}/blobs/uploads/1").parse().unwrap());
        response
    } else if let Some((name, _)) = rest.rsplit_once("/blobs/uploads/") {
        let Some(digest) = query.split('&').find_map(|p| p.strip_prefix("digest=")).map(|d| d.replace("%3A", ":")) else {
            return status(StatusCode::BAD_REQUEST, "no digest");
        };
        if sha256_digest(&body) != digest {
            return status(StatusCode::BAD_REQUEST, "digest mismatch");
        }
        repos.entry(name.to_owned()).or_default().blobs.insert(digest, body);
        status(StatusCode::CREATED, "")
    } else if let Some((name, digest)) = rest.rsplit_once("/blobs/") {
        match repos.get(name).and_then(|r| r.blobs.get(digest)) {
            Some(bytes) => {
                let mut response = Response::new(if method == Method::GET { Body::from(bytes.clone()) } else { Body::empty() });
                response.headers_mut().insert("content-length", bytes.len().to_string().parse().unwrap());
                response
            }
            None => unknown("BLOB_UNKNOWN"),
        }
    } else if let Some(name) = rest.strip_suffix("/tags/list") {
        match repos.get(name) {
            Some(r) => axum::Json(serde_json::json!({"name": name, "tags": r.tags.keys().collect::<Vec<_>>()})).into_response(),
            None => unknown("NAME_UNKNOWN"),
        }
    } else {
        status(StatusCode::NOT_FOUND, "404 page not found")
    }
}
