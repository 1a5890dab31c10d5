//! The site's static files (the WebAssembly and its JavaScript, the favicon…); every other
//! unknown address gets Leptos' "no page here" (404).
//!
//! Two sources ([`Site`]):
//! - **built in** ([`Embedded`]): the files `cargo leptos build` wrote, carried by the binary
//!   (`main.rs` embeds them), so Portolan runs from any directory. The pkg files are linked
//!   under `/pkg/<hash>/…`, the hash of the site's content, and only there are they kept for
//!   good (`immutable`): a page of another version asks for another hash, which is answered
//!   with this version's file but revalidated each time (`no-cache`), as the stylesheet is. A
//!   file's `.br` and `.gz` copies are sent as they are to browsers that accept them, with
//!   `Vary: Accept-Encoding` whichever copy goes out; each copy has its own `ETag`.
//! - **a directory** (development: `cargo leptos watch`, `--site-root`, `LEPTOS_SITE_ROOT`):
//!   the state's site root, read at each request.
//!
//! Not with `leptos_axum::file_and_error_handler` alone: for a file it finds, it answers inside
//! `Owner::new()`, a child of whatever reactive owner the worker thread has current, and applies
//! the `ResponseOptions` it finds there — which can be those of a page being rendered at the same
//! moment for someone else. The file's response then took that page's headers (its
//! Content-Security-Policy with the nonce of its scripts), and the page was sent with the default
//! `default-src 'none'`: its scripts blocked, nothing hydrated. Found by the end-to-end tests
//! (pages and files loaded at the same time); `server/tests/it/registries.rs` holds it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use portolan_app::shell;
use portolan_app::ssr::AppState;
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;
use tower_http::services::ServeDir;

use crate::STYLESHEET;

/// Where the site's files come from.
#[derive(Clone, Default)]
pub enum Site {
    /// The state's site root (`LeptosOptions::site_root`), read at each request.
    #[default]
    Directory,
    /// Built into the binary.
    Embedded(Arc<Embedded>),
}

impl Site {
    /// The state pages are rendered with: built-in pkg files are linked under their hash.
    pub fn prepare(&self, mut state: AppState) -> AppState {
        if let Site::Embedded(site) = self {
            state.leptos_options.site_pkg_dir = site.pkg_route().into();
        }
        state
    }
}

/// How long a file under the current hash may be kept: for good.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Anywhere else: kept, but asked about again before each use.
const REVALIDATE: &str = "public, no-cache";

/// The site's files, built in.
pub struct Embedded {
    files: HashMap<String, File>,
    /// The pkg directory (`pkg`): its files are also served under `pkg/<hash>/`.
    pkg_dir: String,
    /// The first 16 hex digits of the SHA-256 of the site's files (paths and contents).
    hash: String,
}

struct File {
    content_type: HeaderValue,
    plain: Variant,
    br: Option<Variant>,
    gzip: Option<Variant>,
}

/// One form of a file (as built, or its brotli or gzip copy) and its `ETag`.
struct Variant {
    bytes: Bytes,
    etag: HeaderValue,
}

impl Variant {
    /// `weak`: the file as built, which the compression layer may still gzip on the way out
    /// (the same tag then names two byte sequences: only a weak one may).
    fn new(bytes: Cow<'static, [u8]>, sha256: [u8; 32], weak: bool) -> Self {
        let bytes = match bytes {
            Cow::Borrowed(b) => Bytes::from_static(b),
            Cow::Owned(v) => Bytes::from(v),
        };
        let etag = format!("{}\"{}\"", if weak { "W/" } else { "" }, hex(&sha256[..16]));
        Self { bytes, etag: HeaderValue::from_str(&etag).expect("hex digits are a valid header value") }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Embedded {
    /// From the site's files: each its path under the site root (`pkg/portolan.wasm`), its bytes
    /// and their SHA-256 (worked out when they were embedded). A `.br` or `.gz` file beside
    /// another is that file's compressed copy.
    pub fn new(pkg_dir: &str, files: impl IntoIterator<Item = (String, Cow<'static, [u8]>, [u8; 32])>) -> Self {
        let mut plain = Vec::new();
        let mut br = HashMap::new();
        let mut gzip = HashMap::new();
        for (path, bytes, sha256) in files {
            let path = path.trim_start_matches('/').to_owned();
            if let Some(original) = path.strip_suffix(".br") {
                br.insert(original.to_owned(), Variant::new(bytes, sha256, false));
            } else if let Some(original) = path.strip_suffix(".gz") {
                gzip.insert(original.to_owned(), Variant::new(bytes, sha256, false));
            } else {
                plain.push((path, Variant::new(bytes, sha256, true), sha256));
            }
        }
        plain.sort_by(|a, b| a.0.cmp(&b.0));
        let mut site = Sha256::new();
        for (path, _, sha256) in &plain {
            site.update(path.as_bytes());
            site.update([0]);
            site.update(sha256);
        }
        let hash = hex(&site.finalize()[..8]);
        let files = plain
            .into_iter()
            .map(|(path, copy, _)| {
                let content_type = mime_guess::from_path(&path).first_or_octet_stream();
                let file = File {
                    content_type: HeaderValue::from_str(content_type.as_ref())
                        .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                    plain: copy,
                    br: br.remove(&path),
                    gzip: gzip.remove(&path),
                };
                (path, file)
            })
            .collect();
        Self { files, pkg_dir: pkg_dir.trim_matches('/').to_owned(), hash }
    }

    /// Whether the site has the WebAssembly and JavaScript named `output_name` in its pkg
    /// directory (a binary built before `cargo leptos build` wrote them has not).
    pub fn is_complete(&self, output_name: &str) -> bool {
        ["js", "wasm"].iter().all(|ext| self.files.contains_key(&format!("{}/{output_name}.{ext}", self.pkg_dir)))
    }

    /// The hash of this site's content.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Where pages link the pkg files: `pkg/<hash>`.
    pub fn pkg_route(&self) -> String {
        format!("{}/{}", self.pkg_dir, self.hash)
    }

    /// The file at `path` (no leading `/`), and how long it may be kept. `pkg/<hash>/x` is
    /// `pkg/x`: kept for good under this site's hash, revalidated under any other.
    fn find(&self, path: &str) -> Option<(&File, &'static str)> {
        if let Some(file) = self.files.get(path) {
            return Some((file, REVALIDATE));
        }
        let rest = path.strip_prefix(&self.pkg_dir)?.strip_prefix('/')?;
        let (hash, name) = rest.split_once('/')?;
        if hash.len() != self.hash.len() || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let file = self.files.get(&format!("{}/{name}", self.pkg_dir))?;
        Some((file, if hash == self.hash { IMMUTABLE } else { REVALIDATE }))
    }

    /// The answer to a GET (or, without its body, a HEAD) of `path`, if it is one of the site's
    /// files.
    fn answer(&self, path: &str, headers: &HeaderMap, head: bool) -> Option<Response> {
        let (file, cache) = self.find(path.trim_start_matches('/'))?;
        let accepted = accepted_encodings(headers);
        let (copy, encoding) = match (&file.br, &file.gzip) {
            (Some(br), _) if accepted.br => (br, Some("br")),
            (_, Some(gzip)) if accepted.gzip => (gzip, Some("gzip")),
            _ => (&file.plain, None),
        };
        let mut response = if none_match(headers, &copy.etag) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let mut r = if head {
                let mut r = Response::new(Body::empty());
                r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(copy.bytes.len()));
                r
            } else {
                Response::new(Body::from(copy.bytes.clone()))
            };
            r.headers_mut().insert(header::CONTENT_TYPE, file.content_type.clone());
            if let Some(encoding) = encoding {
                r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
            }
            r
        };
        let h = response.headers_mut();
        h.insert(header::ETAG, copy.etag.clone());
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        if file.br.is_some() || file.gzip.is_some() {
            h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        Some(response)
    }
}

/// Which of the copies a request's `Accept-Encoding` takes (a `q=0` refuses one).
#[derive(Debug, Default, PartialEq, Eq)]
struct Accepted {
    br: bool,
    gzip: bool,
}

fn accepted_encodings(headers: &HeaderMap) -> Accepted {
    let mut accepted = Accepted::default();
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")).and_then(|q| q.trim().parse::<f32>().ok()) == Some(0.0)
            });
            match coding.as_str() {
                "br" => accepted.br = !refused,
                "gzip" | "x-gzip" => accepted.gzip = !refused,
                "*" if !refused => {
                    accepted.br = true;
                    accepted.gzip = true;
                }
                _ => {}
            }
        }
    }
    accepted
}

/// Whether the request's `If-None-Match` names this copy (`*` or one of a list; compared weakly,
/// as RFC 9110 says for `If-None-Match`).
fn none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Ok(etag) = etag.to_str() else { return false };
    let etag = etag.trim_start_matches("W/");
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == "*" || t == etag))
}

/// The service answering the addresses no route took: the site's files, else Leptos' 404 page
/// (the router's fallback service).
pub fn site(state: &AppState, site: &Site) -> BoxCloneSyncService<Request, Response, Infallible> {
    let not_found = leptos_axum::file_and_error_handler::<AppState, _>(|options| shell(options, &STYLESHEET));
    match site {
        Site::Directory => {
            let files = ServeDir::new(&*state.leptos_options.site_root)
                .precompressed_gzip()
                .precompressed_br()
                .append_index_html_on_directories(false)
                .call_fallback_on_method_not_allowed(true)
                .fallback(not_found.with_state(state.clone()));
            BoxCloneSyncService::new(ServiceExt::<Request>::map_response(files, |r| {
                let mut r = r.into_response();
                // A precompressed copy is one answer among several for the same address.
                if r.headers().contains_key(header::CONTENT_ENCODING) && !r.headers().contains_key(header::VARY) {
                    r.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-encoding"));
                }
                r
            }))
        }
        Site::Embedded(site) => {
            let site = site.clone();
            let handler = move |State(state): State<AppState>, request: Request| {
                let site = site.clone();
                let not_found = not_found.clone();
                async move {
                    if matches!(*request.method(), Method::GET | Method::HEAD)
                        && let Some(response) = site.answer(request.uri().path(), request.headers(), request.method() == Method::HEAD)
                    {
                        return response;
                    }
                    let uri = request.uri().clone();
                    not_found(uri, State(state), request).await
                }
            };
            BoxCloneSyncService::new(handler.with_state(state.clone()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(accept).unwrap());
        h
    }

    #[test]
    fn accept_encoding_with_weights() {
        assert_eq!(accepted_encodings(&headers("gzip, deflate, br, zstd")), Accepted { br: true, gzip: true });
        assert_eq!(accepted_encodings(&headers("gzip;q=0.5, br;q=0")), Accepted { br: false, gzip: true });
        assert_eq!(accepted_encodings(&headers("identity")), Accepted::default());
        assert_eq!(accepted_encodings(&headers("*")), Accepted { br: true, gzip: true });
        assert_eq!(accepted_encodings(&HeaderMap::new()), Accepted::default());
    }

    #[test]
    fn the_hash_follows_the_content() {
        let site = |wasm: &'static [u8]| {
            Embedded::new(
                "pkg",
                [
                    ("pkg/portolan.wasm".to_owned(), Cow::Borrowed(wasm), Sha256::digest(wasm).into()),
                    ("pkg/portolan.wasm.br".to_owned(), Cow::Borrowed(&b"x"[..]), Sha256::digest(b"x").into()),
                ],
            )
        };
        let (a, b) = (site(b"one"), site(b"two"));
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.hash(), site(b"one").hash());
        assert_eq!(a.hash().len(), 16);
        assert_eq!(a.pkg_route(), format!("pkg/{}", a.hash()));
        assert_eq!(a.files.len(), 1, "the .br file is a copy, not a file of its own");
        assert!(!a.is_complete("portolan"), "no JavaScript");
        assert!(a.find(&format!("pkg/{}/portolan.wasm", a.hash())).is_some_and(|(_, c)| c == IMMUTABLE));
        assert!(a.find(&format!("pkg/{}/portolan.wasm", b.hash())).is_some_and(|(_, c)| c == REVALIDATE));
        assert!(a.find("pkg/portolan.wasm").is_some_and(|(_, c)| c == REVALIDATE));
        assert!(a.find("pkg/not-a-hash/portolan.wasm").is_none());
        assert!(a.find("pkg/portolan.wasm.br").is_none());
    }
}
