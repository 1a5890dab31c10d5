//! The registry client: one verb per operation, each going through the transport (auth,
//! retries, limits) and the caches (content by digest; tags for a short time).

use std::collections::HashSet;
use std::marker::PhantomData;
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
use crate::name::{Reference, RepoName, Tag, parse_digest};
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

impl CatalogPage {
    /// The `last` to ask for the next page with, or `None` where paging must stop: no next
    /// page, an empty page, or a cursor given before (`seen` holds those used so far) — a
    /// registry going round in circles stops after one round.
    pub fn next_cursor(&self, seen: &mut std::collections::HashSet<String>) -> Option<String> {
        let next = self.next.as_ref()?;
        (!self.repositories.is_empty() && seen.insert(next.clone())).then(|| next.clone())
    }
}

#[derive(Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Names<TagRule>>,
}

#[derive(Deserialize)]
struct Catalog {
    #[serde(default)]
    repositories: Option<Names<RepoRule>>,
}

/// Tags listed for one repository at most: past it, [`Client::tags`] fails with
/// [`ErrorKind::TooLarge`] ("… has more than 200000 tags …").
pub const MAX_TAGS: usize = 200_000;
/// Bytes read for one repository's tag list at most, all pages together; past it,
/// [`Client::tags`] fails with [`ErrorKind::TooLarge`].
pub const MAX_TAG_LIST_BYTES: u64 = 64 * 1024 * 1024;
/// Pages followed for one tag list at most (registries that page for ever); past it,
/// [`Client::tags`] fails with [`ErrorKind::TooLarge`].
pub const MAX_LIST_PAGES: usize = 5_000;
/// Repositories in one catalog page at most (a registry ignoring `n`); past it,
/// [`Client::catalog_page`] fails with [`ErrorKind::TooLarge`].
pub const MAX_CATALOG_PAGE: usize = 200_000;
/// Children of an index worth fetching for one page: fetch at most this many (see
/// [`crate::verbs::index_children`], which also bounds the concurrency).
pub const MAX_INDEX_CHILDREN: usize = 256;
/// Manifests fetched concurrently by [`crate::verbs::index_children`].
pub const INDEX_FAN_OUT: usize = 8;
/// Largest tag list or catalog page read.
const LIST_PAGE_CAP: u64 = 32 * 1024 * 1024;

/// The caps on listings, as constants say; lowered in tests.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub max_tags: usize,
    pub tag_list_bytes: u64,
    pub list_pages: usize,
    pub max_referrers: usize,
    pub referrers_bytes: u64,
    pub referrer_pages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_tags: MAX_TAGS,
            tag_list_bytes: MAX_TAG_LIST_BYTES,
            list_pages: MAX_LIST_PAGES,
            max_referrers: crate::referrers::MAX_REFERRERS,
            referrers_bytes: crate::referrers::MAX_REFERRERS_BYTES,
            referrer_pages: crate::referrers::MAX_REFERRER_PAGES,
        }
    }
}

/// Which names a listing keeps.
trait NameRule {
    /// At most this many kept from one page; the rest is only counted.
    const MAX: usize;
    fn valid(name: &str) -> bool;
}

struct TagRule;

impl NameRule for TagRule {
    const MAX: usize = MAX_TAGS;
    fn valid(name: &str) -> bool {
        Tag::parse(name).is_ok()
    }
}

struct RepoRule;

impl NameRule for RepoRule {
    const MAX: usize = MAX_CATALOG_PAGE;
    fn valid(name: &str) -> bool {
        RepoName::parse(name).is_ok()
    }
}

/// A JSON array of names as a registry lists them, read without keeping what a hostile
/// registry could grow: names failing the rule are dropped (and counted), and past
/// `R::MAX` names only counted.
struct Names<R> {
    kept: Vec<String>,
    /// The array's last element, whatever it is (paging goes on from there), if short.
    last: Option<String>,
    total: usize,
    dropped: usize,
    overflow: bool,
    rule: PhantomData<R>,
}

impl<'de, R: NameRule> Deserialize<'de> for Names<R> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Visit<R>(PhantomData<R>);
        impl<'de, R: NameRule> serde::de::Visitor<'de> for Visit<R> {
            type Value = Names<R>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of strings")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Names<R>, A::Error> {
                let mut names = Names { kept: Vec::new(), last: None, total: 0, dropped: 0, overflow: false, rule: PhantomData };
                // The last element, when it was not kept (when it was, it is `kept.last()`).
                let mut last_left_out: Option<Option<String>> = None;
                while let Some(name) = seq.next_element::<String>()? {
                    names.total += 1;
                    let valid = R::valid(&name);
                    if valid && names.kept.len() < R::MAX {
                        names.kept.push(name);
                        last_left_out = None;
                        continue;
                    }
                    if valid {
                        names.overflow = true;
                    } else {
                        names.dropped += 1;
                    }
                    last_left_out = Some((name.len() <= 255).then_some(name));
                }
                names.last = match last_left_out {
                    Some(left_out) => left_out,
                    None => names.kept.last().cloned(),
                };
                Ok(names)
            }
        }
        deserializer.deserialize_seq(Visit(PhantomData))
    }
}

/// (repository, subject digest, artifact type filter).
pub(crate) type ReferrerKey = (String, String, Option<String>);
/// A cached referrer listing.
pub(crate) type ReferrerList = (Arc<Vec<crate::referrers::Referrer>>, crate::referrers::ReferrersMode);

pub(crate) struct Inner {
    pub transport: Transport,
    /// Manifests and blobs by repository and digest: immutable, kept until evicted by size or
    /// deleted through this client.
    pub content: Cache<String, Bytes>,
    /// Tag → digest, for `tag_ttl`.
    pub tags: Cache<(String, String), Resolved>,
    /// Whole tag lists, for `tag_ttl`.
    pub tag_lists: Cache<String, Arc<Vec<String>>>,
    /// The cached tag lists as sets, for asking whether a tag exists (see [`TagSet`]).
    pub tag_sets: Cache<String, Arc<TagSet>>,
    /// Probed capabilities, per repository.
    pub capabilities: Cache<String, crate::capabilities::Capabilities>,
    /// Whether each repository has the referrers API (probes merged, cached apart so browsing
    /// does not wait for the delete probes).
    pub referrers_api: Cache<String, bool>,
    /// Referrer lists by (repository, subject, artifact type), for `tag_ttl`: a page of tags asks
    /// for each tag's referrers, and reloads must not ask again.
    pub referrer_lists: Cache<ReferrerKey, ReferrerList>,
    pub manifest_flights: Flights<(String, String), Result<ManifestDoc>>,
    pub limits: Limits,
    /// `tag_delete_scratch`, parsed.
    pub tag_delete_scratch: Option<RepoName>,
    /// The outcome of verifying the registry's tag DELETE, and when (see
    /// [`Client::verify_tag_delete`]); the lock also makes concurrent callers share one run.
    pub tag_delete_verified: tokio::sync::Mutex<Option<crate::capabilities::Verified>>,
}

/// A cached tag list as a set of hashes: whether a tag may exist, without a pass over the list.
/// A collision only makes a tag look present, and the registry is then asked.
pub(crate) struct TagSet {
    /// The list this was made from (the set is remade when the cached list is another).
    pub list: Arc<Vec<String>>,
    hashes: HashSet<u64>,
}

impl TagSet {
    pub fn new(list: Arc<Vec<String>>) -> Self {
        let hashes = list.iter().map(|t| Self::hash(t)).collect();
        Self { list, hashes }
    }

    pub fn may_contain(&self, tag: &str) -> bool {
        self.hashes.contains(&Self::hash(tag))
    }

    fn hash(tag: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        tag.hash(&mut h);
        h.finish()
    }
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
        Self::with_limits(config, Limits::default())
    }

    pub(crate) fn with_limits(config: ClientConfig, limits: Limits) -> Result<Self> {
        let tag_delete_scratch = match &config.tag_delete_scratch {
            Some(name) => {
                Some(RepoName::parse(name).map_err(|e| e.with_context("the scratch repository for tag deletes (tag_delete_scratch)"))?)
            }
            None => None,
        };
        let transport = Transport::new(&config)?;
        let content = Cache::builder()
            .max_capacity(config.cache_bytes)
            .weigher(|k: &String, v: &Bytes| u32::try_from(k.len() + v.len()).unwrap_or(u32::MAX))
            .build();
        // Invalidation closures: a repository's resolutions are forgotten together after a delete
        // (without them `invalidate_entries_if` fails, and forgets nothing).
        let tags = Cache::builder().max_capacity(200_000).time_to_live(config.tag_ttl).support_invalidation_closures().build();
        let tag_lists = Cache::builder()
            .max_capacity(64 * 1024 * 1024)
            .weigher(|k: &String, v: &Arc<Vec<String>>| {
                u32::try_from(k.len() + v.iter().map(|t| t.len() + 24).sum::<usize>()).unwrap_or(u32::MAX)
            })
            .time_to_live(config.tag_ttl)
            .build();
        let tag_sets = Cache::builder()
            .max_capacity(4_000_000)
            .weigher(|_: &String, v: &Arc<TagSet>| u32::try_from(1 + v.list.len()).unwrap_or(u32::MAX))
            .time_to_live(config.tag_ttl)
            .build();
        let capabilities = Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(600)).build();
        let referrers_api = Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(600)).build();
        let referrer_lists = Cache::builder()
            .max_capacity(20_000)
            .weigher(|_: &ReferrerKey, v: &ReferrerList| u32::try_from(1 + v.0.len()).unwrap_or(u32::MAX))
            .time_to_live(config.tag_ttl)
            .support_invalidation_closures()
            .build();
        Ok(Self {
            inner: Arc::new(Inner {
                transport,
                content,
                tags,
                tag_lists,
                capabilities,
                referrers_api,
                referrer_lists,
                tag_sets,
                manifest_flights: Flights::default(),
                limits,
                tag_delete_scratch,
                tag_delete_verified: tokio::sync::Mutex::new(None),
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
        // Docker Hub also asks anonymous clients to authenticate for it, then refuses the token
        // it gave them: no catalog for anyone. (With credentials configured, a refusal of the
        // first page is about them, and reported as such.)
        let anonymous = self.config().credentials == crate::auth::Credentials::Anonymous;
        let body = self.inner.transport.fetch(&request, LIST_PAGE_CAP).await.map_err(|e| match e.kind() {
            ErrorKind::NotFound | ErrorKind::Unsupported | ErrorKind::Denied => Error::new(
                ErrorKind::Unsupported,
                "this registry does not list its repositories (no catalog, or none for these credentials); open a repository by name instead",
            )
            .with_status(e.status().unwrap_or(404)),
            ErrorKind::Unauthorized if anonymous && last.is_none() => Error::new(
                ErrorKind::Unsupported,
                "it asks for credentials to list its repositories, and Portolan has none for it — Docker Hub does this for everyone",
            )
            .with_status(e.status().unwrap_or(401)),
            _ => e,
        })?;
        let catalog: Catalog =
            serde_json::from_slice(&body.bytes).map_err(|e| Error::bad_response(format!("the catalog is not valid JSON ({e})")))?;
        let Some(names) = catalog.repositories else {
            return Ok(CatalogPage { repositories: Vec::new(), next: None });
        };
        if names.overflow {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!(
                    "the repository catalog: one page lists more than {MAX_CATALOG_PAGE} repositories; Portolan reads at most that many"
                ),
            ));
        }
        if names.dropped > 0 {
            tracing::debug!(dropped = names.dropped, "catalog entries that are not valid repository names were left out");
        }
        let has_link = match body.header("link").and_then(|l| next_link(l, &url)) {
            Some(next) => self.inner.transport.check_next_page(next, "the repository catalog").map(|_| true)?,
            None => false,
        };
        // Paging goes on from the page's last entry, valid or not (the registry's own order).
        let next = if has_link || names.total >= n { names.last } else { None };
        Ok(CatalogPage { repositories: names.kept, next })
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
        let limits = self.inner.limits;
        let what = format!("the tags of {repo}");
        let mut url = self.url(&format!("{repo}/tags/list"));
        url.query_pairs_mut().append_pair("n", &N.to_string());
        let mut all = Vec::new();
        let mut seen = HashSet::new();
        let mut visited = HashSet::new();
        let (mut bytes_read, mut dropped) = (0u64, 0usize);
        for page_number in 0.. {
            if page_number == limits.list_pages {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    format!("{what}: the registry pages on past {} pages; Portolan stops there", limits.list_pages),
                ));
            }
            visited.insert(url.to_string());
            let request = Request::new(Method::GET, url.clone(), Scope::repository(repo.as_str(), &["pull"]), what.clone())
                .accept("application/json");
            let budget = limits.tag_list_bytes.saturating_sub(bytes_read);
            let body = match self.inner.transport.fetch(&request, budget.min(LIST_PAGE_CAP)).await {
                Err(e) if e.kind() == ErrorKind::TooLarge && budget < LIST_PAGE_CAP => {
                    return Err(Error::new(
                        ErrorKind::TooLarge,
                        format!(
                            "{what}: the tag list is larger than {} in all; Portolan reads at most that much",
                            crate::transport::human_bytes(limits.tag_list_bytes)
                        ),
                    ));
                }
                body => body?,
            };
            bytes_read += body.bytes.len() as u64;
            let list: TagList = serde_json::from_slice(&body.bytes)
                .map_err(|e| Error::bad_response(format!("the tag list of {repo} is not valid JSON ({e})")))?;
            let Some(page) = list.tags else {
                break;
            };
            dropped += page.dropped;
            let mut new = 0;
            for tag in page.kept {
                if seen.contains(&tag) {
                    continue;
                }
                if all.len() >= limits.max_tags {
                    return Err(too_many_tags(&what, limits.max_tags));
                }
                seen.insert(tag.clone());
                all.push(tag);
                new += 1;
            }
            if page.overflow {
                return Err(too_many_tags(&what, limits.max_tags));
            }
            let next = match body.header("link").and_then(|l| next_link(l, &url)) {
                Some(next) => Some(self.inner.transport.check_next_page(next, &what)?),
                // No Link but a full page: ask with `last`, for registries that page without Link.
                None if page.total >= N && new > 0 => page.last.map(|last| {
                    let mut u = self.url(&format!("{repo}/tags/list"));
                    u.query_pairs_mut().append_pair("n", &N.to_string()).append_pair("last", &last);
                    u
                }),
                None => None,
            };
            match next {
                Some(next) if new > 0 && !visited.contains(next.as_str()) => url = next,
                _ => break,
            }
        }
        if dropped > 0 {
            tracing::debug!(%repo, dropped, "tag list entries that are not valid OCI tags were left out");
        }
        Ok(all)
    }

    /// Forgets cached tags and tag lists of `repo` (after a push or a delete).
    pub async fn invalidate_repo(&self, repo: &RepoName) {
        self.forget_tags(repo).await;
        self.inner.capabilities.invalidate(repo.as_str()).await;
        self.inner.referrers_api.invalidate(repo.as_str()).await;
    }

    /// Forgets the cached tag list and tag → digest resolutions of `repo` (after a delete,
    /// whether it succeeded or not: the registry's state may have changed either way).
    pub(crate) async fn forget_tags(&self, repo: &RepoName) {
        self.inner.tag_lists.invalidate(repo.as_str()).await;
        let name = repo.as_str().to_owned();
        let listed = name.clone();
        if let Err(e) = self.inner.referrer_lists.invalidate_entries_if(move |(r, _, _), _| *r == listed) {
            tracing::error!(%repo, "forgetting cached referrer lists failed: {e}");
        }
        if let Err(e) = self.inner.tags.invalidate_entries_if(move |(r, _), _| *r == name) {
            tracing::error!(%repo, "forgetting cached tag resolutions failed: {e}");
        }
    }

    /// Where `tag` points right now, asked of the registry (a manifest HEAD, no cache); None when
    /// the tag does not exist.
    pub(crate) async fn resolve_fresh(&self, repo: &RepoName, tag: &Tag) -> Result<Option<Resolved>> {
        let key = (repo.as_str().to_owned(), tag.to_string());
        self.inner.tags.invalidate(&key).await;
        match self.head(repo, &Reference::Tag(tag.clone())).await {
            Ok(resolved) => Ok(Some(resolved)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Where a tag or digest points right now, asked of the registry (a manifest HEAD; the
    /// cached tag or content is forgotten first); None when it does not exist.
    pub async fn resolve_now(&self, repo: &RepoName, reference: &Reference) -> Result<Option<Resolved>> {
        match reference {
            Reference::Tag(tag) => return self.resolve_fresh(repo, tag).await,
            Reference::Digest(d) => self.inner.content.invalidate(&content_key(repo, d.as_ref())).await,
        }
        match self.head(repo, reference).await {
            Ok(resolved) => Ok(Some(resolved)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
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

    /// Whether `list` is still the cached tag list of `repo`, each (tag, digest) of `resolved`
    /// still the cached resolution of that tag, and each digest's referrer list still cached —
    /// that is, whether a page built from them would be built the same from the caches now.
    /// Asks the registry nothing.
    pub async fn still_cached(&self, repo: &RepoName, list: &Arc<Vec<String>>, resolved: &[(String, String)]) -> bool {
        match self.inner.tag_lists.get(repo.as_str()).await {
            Some(current) if Arc::ptr_eq(&current, list) => {}
            _ => return false,
        }
        for (tag, digest) in resolved {
            match self.inner.tags.get(&(repo.as_str().to_owned(), tag.clone())).await {
                Some(r) if r.digest == *digest => {}
                _ => return false,
            }
            if !self.inner.referrer_lists.contains_key(&(repo.as_str().to_owned(), digest.clone(), None)) {
                return false;
            }
        }
        true
    }

    /// Where a tag or digest points, by a manifest HEAD (tags cached for `tag_ttl`).
    pub async fn resolve(&self, repo: &RepoName, reference: &Reference) -> Result<Resolved> {
        if let Reference::Digest(d) = reference {
            parse_digest(d.as_ref())?;
        }
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
            // Only digests Portolan can verify (a `Digest` built from a descriptor may be another).
            Reference::Digest(d) => Some(parse_digest(d.as_ref())?.to_string()),
            Reference::Tag(t) => self.inner.tags.get(&(repo.as_str().to_owned(), t.to_string())).await.map(|r| r.digest),
        };
        if let Some(digest) = &digest
            && let Some(bytes) = self.inner.content.get(&content_key(repo, digest)).await
        {
            cache_lookup("manifests", true);
            return Ok(doc_from(digest.clone(), bytes, None));
        }
        cache_lookup("manifests", false);
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
            reference.to_owned()
        } else {
            match body.header("docker-content-digest") {
                Some(header) if header.starts_with("sha512:") => header.to_owned(),
                Some(header) if header != computed => {
                    tracing::warn!(%header, %computed, what = %request.what, "the registry's digest header does not match the manifest");
                    computed
                }
                _ => computed,
            }
        };
        self.verify_and_cache(repo, &digest, &body.bytes).await.map_err(|e| e.with_context(&request.what))?;
        let content_type = body.header("content-type").map(str::to_owned);
        Ok(doc_from(digest, body.bytes, content_type.as_deref()))
    }

    /// A blob (config, SBOM, signature, chart…) read whole, at most `cap` bytes (default: the
    /// configured blob cap), verified against its digest and cached.
    pub async fn blob(&self, repo: &RepoName, digest: &str, cap: Option<u64>) -> Result<Bytes> {
        crate::name::parse_digest(digest)?;
        let cap = cap.unwrap_or(self.config().max_blob_bytes);
        if let Some(bytes) = self.inner.content.get(&content_key(repo, digest)).await {
            cache_lookup("blobs", true);
            // Kept for a caller that allowed more: this caller's cap still holds.
            if bytes.len() as u64 > cap {
                return Err(crate::transport::too_large(&format!("blob {repo}@{digest}"), bytes.len() as u64, cap));
            }
            return Ok(bytes);
        }
        cache_lookup("blobs", false);
        let request = Request::new(
            Method::GET,
            self.url(&format!("{repo}/blobs/{digest}")),
            Scope::repository(repo.as_str(), &["pull"]),
            format!("blob {repo}@{digest}"),
        );
        let body = self.inner.transport.fetch(&request, cap).await?;
        self.verify_and_cache(repo, digest, &body.bytes).await.map_err(|e| e.with_context(&request.what))?;
        Ok(body.bytes)
    }

    /// A blob's size, from a HEAD (None when the registry does not say). Always asked of the
    /// registry, never of the content cache: a restore checks with it that the blobs it needs
    /// are still there, and a blob read before the registry's garbage collection stays in the
    /// cache after the registry removed it.
    pub async fn blob_size(&self, repo: &RepoName, digest: &str) -> Result<Option<u64>> {
        crate::name::parse_digest(digest)?;
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
        self.verify_and_cache(repo, &digest, &bytes).await?;
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

    /// The one way into the content cache: `bytes` are checked against `digest` (sha256 or
    /// sha512) first, so nothing unverified is ever served as content-addressed.
    async fn verify_and_cache(&self, repo: &RepoName, digest: &str, bytes: &Bytes) -> Result<()> {
        manifest::verify_digest(digest, bytes)?;
        self.inner.content.insert(content_key(repo, digest), bytes.clone()).await;
        Ok(())
    }

    /// Sends a prepared request (for the referrers module).
    pub(crate) async fn fetch_raw(&self, request: &Request, cap: u64) -> Result<crate::transport::Body> {
        self.inner.transport.fetch(request, cap).await
    }

    pub(crate) fn v2_url(&self, path: &str) -> Url {
        self.url(path)
    }
}

fn too_many_tags(what: &str, max: usize) -> Error {
    Error::new(ErrorKind::TooLarge, format!("{what}: the repository has more than {max} tags; Portolan lists at most {max}"))
}

/// Counts a cache lookup in the metrics (`portolan_cache_lookups_total{cache, result}`).
fn cache_lookup(cache: &'static str, hit: bool) {
    metrics::counter!("portolan_cache_lookups_total", "cache" => cache, "result" => if hit { "hit" } else { "miss" }).increment(1);
}

impl Client {
    /// What the content cache holds now: (entries, bytes).
    pub fn cache_usage(&self) -> (u64, u64) {
        (self.inner.content.entry_count(), self.inner.content.weighted_size())
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::extract::{Path, Query};
    use axum::response::IntoResponse;

    use portolan_testkit::runner::run;

    use super::*;

    /// A registry whose listings never end, one way or another (see each test).
    async fn endless(requests: Arc<AtomicUsize>) -> String {
        let tags = move |Path(name): Path<String>, Query(query): Query<HashMap<String, String>>| {
            let requests = requests.clone();
            async move {
                requests.fetch_add(1, Ordering::SeqCst);
                let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
                let tags: Vec<String> = match name.as_str() {
                    // One new tag a page.
                    "tiny" => vec![format!("t{page}")],
                    // 100 new tags of 100 characters a page: about 10 KB.
                    _ => (0..100).map(|i| format!("{page:050}-{i:049}")).collect(),
                };
                let link = format!("</v2/{name}/tags/list?n=1000&page={}>; rel=\"next\"", page + 1);
                ([("link", link)], axum::Json(serde_json::json!({ "name": name, "tags": tags }))).into_response()
            }
        };
        let referrers = |Path((name, _digest)): Path<(String, String)>, Query(query): Query<HashMap<String, String>>| async move {
            let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
            let (count, padding) = match name.as_str() {
                "count" => (3, 0),
                "bytes" => (3, 2000),
                _ => (0, 0),
            };
            let manifests: Vec<serde_json::Value> = (0..count)
                .map(|i| {
                    serde_json::json!({
                        "mediaType": media::OCI_MANIFEST,
                        "digest": format!("sha256:{:064x}", page * 10 + i + 1),
                        "size": 1,
                        "annotations": { "padding": "p".repeat(padding) },
                    })
                })
                .collect();
            let link = format!("</v2/{name}/referrers/sha256:{}?page={}>; rel=\"next\"", "c".repeat(64), page + 1);
            (
                [("link", link), ("content-type", media::OCI_INDEX.to_owned())],
                serde_json::json!({ "schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": manifests }).to_string(),
            )
                .into_response()
        };
        let app = axum::Router::new()
            .route("/v2/{name}/tags/list", axum::routing::get(tags))
            .route("/v2/{name}/referrers/{digest}", axum::routing::get(referrers));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        url
    }

    fn client(url: &str, limits: Limits) -> Client {
        Client::with_limits(ClientConfig::new(url), limits).unwrap()
    }

    #[test]
    fn catalog_paging_stops_on_a_cursor_seen_before_or_an_empty_page() {
        let page = |names: &[&str], next: Option<&str>| CatalogPage {
            repositories: names.iter().map(|n| (*n).to_owned()).collect(),
            next: next.map(str::to_owned),
        };
        let mut seen = std::collections::HashSet::new();
        assert_eq!(page(&["a"], Some("a")).next_cursor(&mut seen).as_deref(), Some("a"));
        assert_eq!(page(&["b"], Some("b")).next_cursor(&mut seen).as_deref(), Some("b"));
        // Round in circles: A, B, A…
        assert_eq!(page(&["a"], Some("a")).next_cursor(&mut seen), None);
        assert_eq!(page(&[], Some("c")).next_cursor(&mut seen), None, "an empty page ends it");
        assert_eq!(page(&["c"], None).next_cursor(&mut seen), None);
    }

    #[test]
    fn endless_tiny_pages_stop_at_the_page_cap() {
        run(async {
            let requests = Arc::new(AtomicUsize::new(0));
            let url = endless(requests.clone()).await;
            let c = client(&url, Limits { list_pages: 50, ..Limits::default() });
            let e = c.tags(&RepoName::parse("tiny").unwrap()).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");
            assert!(e.message().contains("past 50 pages"), "{e}");
            assert_eq!(requests.load(Ordering::SeqCst), 50);
        })
    }

    #[test]
    fn tag_lists_are_capped_in_bytes_across_pages() {
        run(async {
            let requests = Arc::new(AtomicUsize::new(0));
            let url = endless(requests.clone()).await;
            let c = client(&url, Limits { tag_list_bytes: 25_000, ..Limits::default() });
            let e = c.tags(&RepoName::parse("wide").unwrap()).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");
            assert!(e.message().contains("larger than 24.4 KiB in all"), "{e}");
            assert_eq!(requests.load(Ordering::SeqCst), 3);
            // The same with a tag cap: an error, not a truncated list.
            let c = client(&url, Limits { max_tags: 250, ..Limits::default() });
            let e = c.tags(&RepoName::parse("wide").unwrap()).await.unwrap_err();
            assert!(e.message().contains("more than 250 tags"), "{e}");
        })
    }

    #[test]
    fn referrers_are_capped_in_number_bytes_and_pages() {
        run(async {
            let url = endless(Arc::default()).await;
            let subject = format!("sha256:{}", "c".repeat(64));
            let c = client(&url, Limits { max_referrers: 7, referrers_bytes: 15_000, referrer_pages: 5, ..Limits::default() });
            let e = c.referrers(&RepoName::parse("count").unwrap(), &subject, None).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");
            assert!(e.message().contains("more than 7 referrers"), "{e}");
            let e = c.referrers(&RepoName::parse("bytes").unwrap(), &subject, None).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");
            assert!(e.message().contains("in all"), "{e}");
            let e = c.referrers(&RepoName::parse("pages").unwrap(), &subject, None).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");
            assert!(e.message().contains("past 5 pages"), "{e}");
        })
    }

    #[test]
    fn name_lists_keep_valid_names_and_count_the_rest() {
        let names: Names<TagRule> = serde_json::from_str(r#"["v1", ".x", "a/b", "v1", "ok"]"#).unwrap();
        assert_eq!(names.kept, ["v1", "v1", "ok"]);
        assert_eq!((names.total, names.dropped, names.overflow, names.last.as_deref()), (5, 2, false, Some("ok")));
        let names: Names<RepoRule> = serde_json::from_str(&format!(r#"["a/b", "{}"]"#, "x".repeat(300))).unwrap();
        assert_eq!(names.kept, ["a/b"]);
        assert_eq!(names.last, None, "a huge last entry is not sent back as `last`");
        assert!(serde_json::from_str::<Names<TagRule>>("[1, 2]").is_err());
    }
}
