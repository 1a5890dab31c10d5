//! The registry client: one verb per operation, each going through the transport (auth,
//! retries, limits) and the caches (content by digest; tags for a short time).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use moka::future::Cache;
use reqwest::Method;
use serde::Deserialize;
use url::Url;

use crate::auth::Scope;
use crate::config::ClientConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::flight::Flights;
use crate::manifest::{self, ManifestDoc};
use crate::media;
use crate::name::{Reference, RepoName};
use crate::paging::next_link;
use crate::transport::{Request, Stats, Transport};

/// Where a tag points (from a manifest HEAD or GET).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
}

/// One page of the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogPage {
    pub repositories: Vec<String>,
    /// The `last` to ask for the next page with, when there is one.
    pub next: Option<String>,
}

#[derive(Deserialize)]
struct TagList {
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Catalog {
    repositories: Option<Vec<String>>,
}

/// Upper bound of pages followed in one listing, against registries that loop.
const MAX_PAGES: usize = 10_000;
/// Largest tag list or catalog page read.
const LIST_PAGE_CAP: u64 = 32 * 1024 * 1024;

pub(crate) struct Inner {
    pub transport: Transport,
    /// Manifests and blobs by repository and digest: immutable, kept until evicted by size or
    /// deleted through this client.
    pub content: Cache<String, Bytes>,
    /// Tag → digest, for `tag_ttl`.
    pub tags: Cache<(String, String), Resolved>,
    /// Whole tag lists, for `tag_ttl`.
    pub tag_lists: Cache<String, Arc<Vec<String>>>,
    /// Probed capabilities, per repository.
    pub capabilities: Cache<String, crate::capabilities::Capabilities>,
    /// Whether each repository has the referrers API (probes merged, cached apart so browsing
    /// does not wait for the delete probes).
    pub referrers_api: Cache<String, bool>,
    pub manifest_flights: Flights<(String, String), Result<ManifestDoc>>,
}

/// A client for one registry. Cheap to clone; clones share caches and limits.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("url", &self.inner.transport.base.as_str()).finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self> {
        let transport = Transport::new(&config)?;
        let content = Cache::builder()
            .max_capacity(config.cache_bytes)
            .weigher(|k: &String, v: &Bytes| u32::try_from(k.len() + v.len()).unwrap_or(u32::MAX))
            .build();
        let tags = Cache::builder().max_capacity(200_000).time_to_live(config.tag_ttl).build();
        let tag_lists = Cache::builder()
            .max_capacity(64 * 1024 * 1024)
            .weigher(|k: &String, v: &Arc<Vec<String>>| {
                u32::try_from(k.len() + v.iter().map(|t| t.len() + 24).sum::<usize>()).unwrap_or(u32::MAX)
            })
            .time_to_live(config.tag_ttl)
            .build();
        let capabilities = Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(600)).build();
        let referrers_api = Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(600)).build();
        Ok(Self {
            inner: Arc::new(Inner {
                transport,
                content,
                tags,
                tag_lists,
                capabilities,
                referrers_api,
                manifest_flights: Flights::default(),
            }),
        })
    }

    /// Request counters (for tests and benchmarks).
    pub fn stats(&self) -> &Stats {
        &self.inner.transport.stats
    }

    pub fn config(&self) -> &ClientConfig {
        self.inner.transport.config()
    }

    /// The registry's base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.transport.base
    }

    fn url(&self, path: &str) -> Url {
        self.inner.transport.url(path)
    }

    /// `GET /v2/`: is this an OCI registry, and do our credentials work?
    pub async fn ping(&self) -> Result<()> {
        // No scope: a token server answers `/v2/` with a token for no resource in particular.
        let request = Request { scopes: Vec::new(), ..Request::new(Method::GET, self.url(""), Scope::catalog(), "ping") };
        self.inner.transport.fetch(&request, 64 * 1024).await.map(|_| ())
    }

    /// One page of the catalog: at most `n` (≤ 1000, distribution refuses more) repositories
    /// after `last`.
    pub async fn catalog_page(&self, n: usize, last: Option<&str>) -> Result<CatalogPage> {
        let n = n.clamp(1, 1000);
        let mut url = self.url("_catalog");
        url.query_pairs_mut().append_pair("n", &n.to_string());
        if let Some(last) = last {
            url.query_pairs_mut().append_pair("last", last);
        }
        let request = Request::new(Method::GET, url.clone(), Scope::catalog(), "the repository catalog").accept("application/json");
        // Docker Hub and GHCR have no catalog: 404, 405, or a 401 even with a valid token.
        let body = self.inner.transport.fetch(&request, LIST_PAGE_CAP).await.map_err(|e| match e.kind() {
            ErrorKind::NotFound | ErrorKind::Unsupported | ErrorKind::Denied => Error::new(
                ErrorKind::Unsupported,
                "this registry does not list its repositories (no catalog, or none for these credentials); open a repository by name instead",
            )
            .with_status(e.status().unwrap_or(404)),
            _ => e,
        })?;
        let catalog: Catalog =
            serde_json::from_slice(&body.bytes).map_err(|e| Error::bad_response(format!("the catalog is not valid JSON ({e})")))?;
        let repositories = catalog.repositories.unwrap_or_default();
        let has_link = body.header("link").and_then(|l| next_link(l, &url)).is_some();
        let next = if has_link || repositories.len() == n { repositories.last().cloned() } else { None };
        Ok(CatalogPage { repositories, next })
    }

    /// Every tag of `repo`, in the registry's order (deduplicated). Follows `Link` paging; copes
    /// with registries that ignore `n`/`last` or answer `tags: null`. Cached for `tag_ttl`.
    pub async fn tags(&self, repo: &RepoName) -> Result<Arc<Vec<String>>> {
        let key = repo.as_str().to_owned();
        let this = self.clone();
        let repo = repo.clone();
        self.inner.tag_lists.try_get_with(key, async move { this.fetch_tags(&repo).await.map(Arc::new) }).await.map_err(|e| (*e).clone())
    }

    async fn fetch_tags(&self, repo: &RepoName) -> Result<Vec<String>> {
        const N: usize = 1000;
        let mut url = self.url(&format!("{repo}/tags/list"));
        url.query_pairs_mut().append_pair("n", &N.to_string());
        let mut all = Vec::new();
        let mut seen = HashSet::new();
        let mut visited = HashSet::new();
        for _ in 0..MAX_PAGES {
            visited.insert(url.to_string());
            let request =
                Request::new(Method::GET, url.clone(), Scope::repository(repo.as_str(), &["pull"]), format!("the tags of {repo}"))
                    .accept("application/json");
            let body = self.inner.transport.fetch(&request, LIST_PAGE_CAP).await?;
            let list: TagList = serde_json::from_slice(&body.bytes)
                .map_err(|e| Error::bad_response(format!("the tag list of {repo} is not valid JSON ({e})")))?;
            let page = list.tags.unwrap_or_default();
            let page_len = page.len();
            let mut new = 0;
            for tag in page {
                if seen.insert(tag.clone()) {
                    all.push(tag);
                    new += 1;
                }
            }
            let next = match body.header("link").and_then(|l| next_link(l, &url)) {
                Some(next) => Some(next),
                // No Link but a full page: ask with `last`, for registries that page without Link.
                None if page_len >= N && new > 0 => all.last().map(|last| {
                    let mut u = self.url(&format!("{repo}/tags/list"));
                    u.query_pairs_mut().append_pair("n", &N.to_string()).append_pair("last", last);
                    u
                }),
                None => None,
            };
            match next {
                Some(next) if new > 0 && !visited.contains(next.as_str()) => url = next,
                _ => break,
            }
        }
        Ok(all)
    }

    /// Forgets cached tags and tag lists of `repo` (after a push or a delete).
    pub async fn invalidate_repo(&self, repo: &RepoName) {
        self.inner.tag_lists.invalidate(repo.as_str()).await;
        let name = repo.as_str().to_owned();
        let _ = self.inner.tags.invalidate_entries_if(move |(r, _), _| *r == name);
        self.inner.capabilities.invalidate(repo.as_str()).await;
        self.inner.referrers_api.invalidate(repo.as_str()).await;
    }

    fn manifest_request(&self, method: Method, repo: &RepoName, reference: &str) -> Request {
        Request::new(
            method,
            self.url(&format!("{repo}/manifests/{reference}")),
            Scope::repository(repo.as_str(), &["pull"]),
            format!("manifest {repo}{}{reference}", sep(reference)),
        )
        .accept(media::MANIFEST_ACCEPT)
    }

    /// Where a tag or digest points, by a manifest HEAD (tags cached for `tag_ttl`).
    pub async fn resolve(&self, repo: &RepoName, reference: &Reference) -> Result<Resolved> {
        if let Reference::Digest(d) = reference
            && let Some(bytes) = self.inner.content.get(&content_key(repo, d.as_ref())).await
        {
            let (media_type, _) = manifest::parse(&bytes, None);
            return Ok(Resolved { digest: d.to_string(), media_type, size: bytes.len() as u64 });
        }
        let key = (repo.as_str().to_owned(), reference.to_string());
        let this = self.clone();
        let repo = repo.clone();
        let reference = reference.clone();
        let resolve = async move { this.head(&repo, &reference).await };
        if key.1.contains(':') {
            return resolve.await;
        }
        self.inner.tags.try_get_with(key, resolve).await.map_err(|e| (*e).clone())
    }

    async fn head(&self, repo: &RepoName, reference: &Reference) -> Result<Resolved> {
        let request = self.manifest_request(Method::HEAD, repo, &reference.to_string());
        let response = self.inner.transport.send(&request).await?;
        let media_type = response.header("content-type").map(|t| media::base(t).to_owned()).unwrap_or_default();
        let size = response.header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
        let digest = response.header("docker-content-digest").map(str::to_owned);
        drop(response);
        match (digest, reference) {
            (Some(digest), _) if crate::name::parse_digest(&digest).is_ok() => Ok(Resolved { digest, media_type, size }),
            (_, Reference::Digest(d)) => Ok(Resolved { digest: d.to_string(), media_type, size }),
            // No usable digest header: fetch the manifest and compute it.
            _ => {
                let doc = self.manifest(repo, reference).await?;
                Ok(Resolved { digest: doc.digest.clone(), media_type: doc.media_type.clone(), size: doc.size() })
            }
        }
    }

    /// A manifest by tag or digest. By digest it comes from the content cache when it can and
    /// is verified; by tag, the tag is resolved through the short-lived tag cache first.
    /// Identical concurrent requests share one registry request.
    pub async fn manifest(&self, repo: &RepoName, reference: &Reference) -> Result<ManifestDoc> {
        let digest = match reference {
            Reference::Digest(d) => Some(d.to_string()),
            Reference::Tag(t) => self.inner.tags.get(&(repo.as_str().to_owned(), t.to_string())).await.map(|r| r.digest),
        };
        if let Some(digest) = &digest
            && let Some(bytes) = self.inner.content.get(&content_key(repo, digest)).await
        {
            return Ok(doc_from(digest.clone(), bytes, None));
        }
        let reference_text = digest.clone().unwrap_or_else(|| reference.to_string());
        let key = (repo.as_str().to_owned(), reference_text.clone());
        let this = self.clone();
        let repo_owned = repo.clone();
        let doc =
            self.inner.manifest_flights.run(key, move || async move { this.fetch_manifest(&repo_owned, &reference_text).await }).await?;
        if let Reference::Tag(t) = reference {
            self.inner
                .tags
                .insert(
                    (repo.as_str().to_owned(), t.to_string()),
                    Resolved { digest: doc.digest.clone(), media_type: doc.media_type.clone(), size: doc.size() },
                )
                .await;
        }
        Ok(doc)
    }

    async fn fetch_manifest(&self, repo: &RepoName, reference: &str) -> Result<ManifestDoc> {
        let request = self.manifest_request(Method::GET, repo, reference);
        let cap = self.config().max_manifest_bytes;
        let body = self.inner.transport.fetch(&request, cap).await?;
        let computed = manifest::sha256_digest(&body.bytes);
        let digest = if reference.contains(':') {
            manifest::verify_digest(reference, &body.bytes).map_err(|e| e.with_context(&request.what))?;
            reference.to_owned()
        } else {
            match body.header("docker-content-digest") {
                Some(header) if header.starts_with("sha512:") => {
                    manifest::verify_digest(header, &body.bytes).map_err(|e| e.with_context(&request.what))?;
                    header.to_owned()
                }
                Some(header) if header != computed => {
                    tracing::warn!(%header, %computed, what = %request.what, "the registry's digest header does not match the manifest");
                    computed
                }
                _ => computed,
            }
        };
        self.inner.content.insert(content_key(repo, &digest), body.bytes.clone()).await;
        let content_type = body.header("content-type").map(str::to_owned);
        Ok(doc_from(digest, body.bytes, content_type.as_deref()))
    }

    /// A blob (config, SBOM, signature, chart…) read whole, at most `cap` bytes (default: the
    /// configured blob cap), verified against its digest and cached.
    pub async fn blob(&self, repo: &RepoName, digest: &str, cap: Option<u64>) -> Result<Bytes> {
        crate::name::parse_digest(digest)?;
        if let Some(bytes) = self.inner.content.get(&content_key(repo, digest)).await {
            return Ok(bytes);
        }
        let cap = cap.unwrap_or(self.config().max_blob_bytes);
        let request = Request::new(
            Method::GET,
            self.url(&format!("{repo}/blobs/{digest}")),
            Scope::repository(repo.as_str(), &["pull"]),
            format!("blob {repo}@{digest}"),
        );
        let body = self.inner.transport.fetch(&request, cap).await?;
        manifest::verify_digest(digest, &body.bytes).map_err(|e| e.with_context(&request.what))?;
        self.inner.content.insert(content_key(repo, digest), body.bytes.clone()).await;
        Ok(body.bytes)
    }

    /// A blob's size, from a HEAD (None when the registry does not say).
    pub async fn blob_size(&self, repo: &RepoName, digest: &str) -> Result<Option<u64>> {
        crate::name::parse_digest(digest)?;
        if let Some(bytes) = self.inner.content.get(&content_key(repo, digest)).await {
            return Ok(Some(bytes.len() as u64));
        }
        let request = Request::new(
            Method::HEAD,
            self.url(&format!("{repo}/blobs/{digest}")),
            Scope::repository(repo.as_str(), &["pull"]),
            format!("blob {repo}@{digest}"),
        );
        let response = self.inner.transport.send(&request).await?;
        Ok(response.header("content-length").and_then(|l| l.parse().ok()))
    }

    /// Stores a manifest under a tag or its digest; returns its digest.
    pub async fn put_manifest(&self, repo: &RepoName, reference: &Reference, media_type: &str, bytes: Bytes) -> Result<String> {
        let digest = manifest::sha256_digest(&bytes);
        if let Reference::Digest(d) = reference {
            manifest::verify_digest(d.as_ref(), &bytes)?;
        }
        let request = Request::new(
            Method::PUT,
            self.url(&format!("{repo}/manifests/{reference}")),
            Scope::repository(repo.as_str(), &["pull", "push"]),
            format!("putting manifest {repo}{}{reference}", sep(&reference.to_string())),
        )
        .body(media_type, bytes.clone());
        self.inner.transport.send(&request).await?;
        self.inner.content.insert(content_key(repo, &digest), bytes).await;
        if let Reference::Tag(t) = reference {
            self.inner.tags.invalidate(&(repo.as_str().to_owned(), t.to_string())).await;
        }
        self.inner.tag_lists.invalidate(repo.as_str()).await;
        Ok(digest)
    }

    /// Uploads a blob (monolithic POST + PUT) unless the repository has it; returns its digest.
    pub async fn put_blob(&self, repo: &RepoName, bytes: Bytes) -> Result<String> {
        let digest = manifest::sha256_digest(&bytes);
        let scope = Scope::repository(repo.as_str(), &["pull", "push"]);
        let head = Request::new(Method::HEAD, self.url(&format!("{repo}/blobs/{digest}")), scope.clone(), format!("blob {repo}@{digest}"));
        match self.inner.transport.send(&head).await {
            Ok(_) => return Ok(digest),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let start =
            Request::new(Method::POST, self.url(&format!("{repo}/blobs/uploads/")), scope.clone(), format!("starting an upload to {repo}"));
        let response = self.inner.transport.send(&start).await?;
        let location =
            response.header("location").ok_or_else(|| Error::bad_response("the registry started an upload without a Location"))?.to_owned();
        let mut url = response.url.join(&location).map_err(|e| Error::bad_response(format!("upload location {location:?}: {e}")))?;
        drop(response);
        url.query_pairs_mut().append_pair("digest", &digest);
        let put = Request::new(Method::PUT, url, scope, format!("uploading blob {repo}@{digest}")).body("application/octet-stream", bytes);
        self.inner.transport.send(&put).await?;
        Ok(digest)
    }

    /// Raw DELETE of a manifest by digest or tag (see [`crate::delete`] for the safe verbs).
    pub(crate) async fn delete_reference(&self, repo: &RepoName, reference: &str) -> Result<()> {
        let request = Request::new(
            Method::DELETE,
            self.url(&format!("{repo}/manifests/{reference}")),
            Scope::repository(repo.as_str(), &["delete"]),
            format!("deleting {repo}{}{reference}", sep(reference)),
        );
        self.inner.transport.send(&request).await.map(|_| ())
    }

    /// Sends a prepared request (for the referrers module).
    pub(crate) async fn fetch_raw(&self, request: &Request, cap: u64) -> Result<crate::transport::Body> {
        self.inner.transport.fetch(request, cap).await
    }

    pub(crate) fn v2_url(&self, path: &str) -> Url {
        self.url(path)
    }
}

/// Content is cached per repository: a digest present in one repository may be absent from
/// another, and must then be reported missing there.
pub(crate) fn content_key(repo: &RepoName, digest: &str) -> String {
    format!("{repo}@{digest}")
}

fn sep(reference: &str) -> &'static str {
    if reference.contains(':') { "@" } else { ":" }
}

fn doc_from(digest: String, bytes: Bytes, content_type: Option<&str>) -> ManifestDoc {
    let (media_type, parsed) = manifest::parse(&bytes, content_type);
    ManifestDoc { digest, media_type, bytes, parsed }
}
