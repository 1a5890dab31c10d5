//! Repository lists ([`list`]): each registry's catalog kept whole in memory for a minute (read
//! page by page, one read at a time per registry, served stale while it is read again), filtered
//! and paged per request, showing only what the caller may see; and each repository's columns — tag count, newest version, last push —
//! read lazily like the tag page's rows: within a time budget, the rest by the browser, kept in
//! the store, refreshed in the background once old.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::borrow::Cow;

use portolan_access::Identity;
use portolan_inventory::read::{TagRead, read_artifact, tag_info};
use portolan_model::{DateSource, Listing, RepoPage, RepoQuery, RepoRow, RepoSort, RepoSummary};
use portolan_oci::{ErrorKind, Reference, RepoName, Tag};
use portolan_search::catalog::{Order, select};
use portolan_store::{RepoSummaryRecord, Store};
use time::OffsetDateTime;
use tokio::sync::Semaphore;

use crate::{Registry, Result, Services};

/// How long a catalog read is served before it is read again (in the background: the old one
/// is served meanwhile).
pub const CATALOG_TTL: Duration = Duration::from_secs(60);
/// Repositories read from one catalog at most.
pub const MAX_CATALOG: usize = portolan_search::crawl::MAX_REPOSITORIES;
/// Repositories per catalog request.
const CATALOG_PAGE: usize = 1000;
/// How long a repository's columns are trusted before they are read again (in the background).
pub const SUMMARY_TTL: Duration = Duration::from_secs(15 * 60);
/// Repositories whose columns are read at once by one request.
const SUMMARY_CONCURRENCY: usize = 8;
/// Unknown last-push dates read in the background per request sorting by it, at most.
pub const PUSHED_WARM_LIMIT: usize = 200;

/// A catalog as read.
#[derive(Debug)]
pub struct Snapshot {
    /// Sorted, unique.
    pub names: Vec<String>,
    /// False when cut at [`MAX_CATALOG`].
    pub complete: bool,
    /// Why there is no catalog (None: there is one).
    pub unsupported: Option<String>,
    pub at: Instant,
}

/// Every registry's catalog, kept.
#[derive(Default)]
pub struct Catalogs {
    entries: Mutex<HashMap<String, Arc<Snapshot>>>,
    /// One read per registry at a time; others wait for it.
    reads: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Catalogs {
    fn cached(&self, registry: &str) -> Option<Arc<Snapshot>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).get(registry).cloned()
    }

    /// What is kept for `registry`, however old (for the search box, which never waits).
    pub fn peek(&self, registry: &str) -> Option<Arc<Snapshot>> {
        self.cached(registry)
    }

    /// The catalog of `registry`: kept, or read now (stale ones are served and read again in
    /// the background).
    pub async fn get(self: &Arc<Self>, registry: &Registry) -> Result<Arc<Snapshot>, portolan_oci::Error> {
        let name = registry.info.name.clone();
        if let Some(s) = self.cached(&name) {
            if s.at.elapsed() >= CATALOG_TTL {
                let (me, registry) = (self.clone(), registry.clone());
                tokio::spawn(async move {
                    if let Err(e) = me.refresh(&registry, true).await {
                        tracing::debug!(registry = %registry.info.name, error = %e, "reading the catalog again");
                    }
                });
            }
            return Ok(s);
        }
        self.refresh(registry, false).await
    }

    /// Reads the catalog (unless another caller just did, or is: then waits for that read).
    async fn refresh(&self, registry: &Registry, stale_ok: bool) -> Result<Arc<Snapshot>, portolan_oci::Error> {
        let name = &registry.info.name;
        let lock = self.reads.lock().unwrap_or_else(|e| e.into_inner()).entry(name.clone()).or_default().clone();
        let _one = if stale_ok {
            // A background refresh: skip when one is running.
            match lock.try_lock() {
                Ok(g) => g,
                Err(_) => return self.cached(name).ok_or_else(|| portolan_oci::Error::new(ErrorKind::Unavailable, "busy")),
            }
        } else {
            lock.lock().await
        };
        if let Some(s) = self.cached(name)
            && s.at.elapsed() < CATALOG_TTL
        {
            return Ok(s);
        }
        let snapshot = Arc::new(read_catalog(registry).await?);
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).insert(name.clone(), snapshot.clone());
        Ok(snapshot)
    }
}

/// Reads a whole catalog, page after page.
async fn read_catalog(registry: &Registry) -> Result<Snapshot, portolan_oci::Error> {
    let mut names: Vec<String> = Vec::new();
    let mut last: Option<String> = None;
    let mut cursors = std::collections::HashSet::new();
    let mut complete = true;
    loop {
        let page = match registry.client.catalog_page(CATALOG_PAGE, last.as_deref()).await {
            Ok(p) => p,
            // No catalog (the client says why: Docker Hub's refusal of anonymous clients included).
            Err(e) if e.kind() == ErrorKind::Unsupported && last.is_none() => {
                return Ok(Snapshot { names: Vec::new(), complete: true, unsupported: Some(e.message().to_owned()), at: Instant::now() });
            }
            Err(e) => return Err(e),
        };
        let next = page.next_cursor(&mut cursors);
        names.extend(page.repositories);
        if names.len() >= MAX_CATALOG {
            names.truncate(MAX_CATALOG);
            complete = false;
            break;
        }
        match next {
            Some(next) => last = Some(next),
            None => break,
        }
    }
    names.sort();
    names.dedup();
    Ok(Snapshot { names, complete, unsupported: None, at: Instant::now() })
}

/// A catalog's names with the configured repositories it does not list, sorted and unique
/// (borrowed when the catalog lists them all: the usual case, and a 10,000-name copy saved).
pub fn with_configured<'a>(catalog: &'a [String], configured: &[String]) -> Cow<'a, [String]> {
    if configured.iter().all(|c| catalog.binary_search(c).is_ok()) {
        return Cow::Borrowed(catalog);
    }
    let mut names = catalog.to_vec();
    names.extend(configured.iter().cloned());
    names.sort();
    names.dedup();
    Cow::Owned(names)
}

/// The repositories a registry lists: its whole catalog with the configured ones, or — where
/// there is none — the configured ones, those people opened and those the index knows; and why
/// there is no catalog.
pub async fn names(services: &Services, registry: &Registry) -> Result<(Vec<String>, Option<String>)> {
    let configured = services.search.settings(&registry.info.name).repositories;
    let snapshot = services.search.catalogs.get(registry).await?;
    Ok(match &snapshot.unsupported {
        None => (with_configured(&snapshot.names, &configured).into_owned(), None),
        Some(reason) => (listed_without_catalog(&services.store, &registry.info.name, &configured).await.0, Some(reason.clone())),
    })
}

/// The list of a registry without a catalog: the configured repositories, those people opened
/// recently, and those the index knows; sorted, unique. Also says which were opened.
pub async fn listed_without_catalog(store: &Store, registry: &str, configured: &[String]) -> (Vec<String>, Vec<String>) {
    let recent = match store.recent_repositories(registry, 500).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "reading recently opened repositories");
            Vec::new()
        }
    };
    let indexed = store.index_repositories(registry).await.unwrap_or_default();
    let mut names: Vec<String> = configured.iter().chain(&recent).chain(&indexed).cloned().collect();
    names.sort();
    names.dedup();
    (names, recent)
}

/// One page of a registry's repositories — filtered, ordered, with their columns read within
/// [`portolan_model::SUMMARY_BUDGET_MS`] (the others come back pending) — among those `who` may
/// see. Every list in the answer (the page, the repositories listed because someone opened them
/// or the configuration names them) holds only names `who` may see.
pub async fn list(services: &Services, registry: &Registry, who: Option<&Identity>, query: RepoQuery) -> Result<RepoPage> {
    let name = &registry.info.name;
    let query = RepoQuery { page: query.page.max(1), per_page: query.per_page.clamp(1, portolan_model::MAX_REPO_PER_PAGE), ..query };
    let filter = portolan_search::NameFilter::new(&query.filter)?;
    let visible = |n: &str| services.access.role_for(who, name, Some(n)).is_some();
    let configured = services.search.settings(name).repositories;
    let snapshot = services.search.catalogs.get(registry).await?;
    let mut recent = Vec::new();
    let mut listed_configured = Vec::new();
    let (names, listing): (Cow<'_, [String]>, Listing) = match &snapshot.unsupported {
        None => {
            let listing = if snapshot.complete { Listing::Catalog } else { Listing::CatalogCapped { limit: MAX_CATALOG } };
            (with_configured(&snapshot.names, &configured), listing)
        }
        Some(reason) => {
            let (names, opened) = listed_without_catalog(&services.store, name, &configured).await;
            recent = opened.into_iter().filter(|n| visible(n)).collect();
            listed_configured = configured.iter().filter(|n| visible(n)).cloned().collect();
            (Cow::Owned(names), Listing::NoCatalog { reason: reason.clone() })
        }
    };
    let mut notice = None;
    let selection = match query.sort {
        RepoSort::Name => select(&names, &filter, visible, Order::Name, query.reverse, query.page, query.per_page),
        RepoSort::Pushed => {
            let kept = services.store.repo_summaries(name, None).await?;
            let pushed: HashMap<String, i64> =
                kept.values().filter_map(|r| Some((r.repository.clone(), r.pushed?.unix_timestamp()))).collect();
            let all = select(&names, &filter, visible, Order::Pushed(&pushed), query.reverse, 1, usize::MAX);
            let unread: Vec<String> =
                all.page.iter().filter(|n| kept.get(*n).and_then(row_of).is_none()).take(PUSHED_WARM_LIMIT).cloned().collect();
            let unknown = all.page.iter().filter(|n| !pushed.contains_key(*n)).count();
            if !unread.is_empty() {
                notice = Some(format!(
                    "The last push is known for {} of {} repositories; the others are listed after them, by name, while Portolan reads them a few at a time. Reload in a moment for more.",
                    all.matching - unknown,
                    all.matching
                ));
                services.search.summaries.warm(registry, &services.store, unread);
            }
            let start = (query.page - 1).saturating_mul(query.per_page);
            portolan_search::catalog::Selection {
                page: all.page.iter().skip(start).take(query.per_page).cloned().collect(),
                matching: all.matching,
                total: all.total,
            }
        }
    };
    let budget = Duration::from_millis(portolan_model::SUMMARY_BUDGET_MS.into());
    let rows = rows_within(registry, &services.store, &services.search.summaries, selection.page, Some(budget)).await?;
    if let Listing::CatalogCapped { limit } = &listing {
        notice.get_or_insert_with(|| {
            format!("This registry lists more than {limit} repositories: only the first {limit} are shown and searched.")
        });
    }
    Ok(RepoPage {
        registry: registry.info.clone(),
        query,
        total: selection.total,
        matching: selection.matching,
        rows,
        listing,
        recent,
        configured: listed_configured,
        notice,
        now: OffsetDateTime::now_utc().unix_timestamp(),
    })
}

/// Background reads of repositories' columns, bounded: at most `permits` at once in all, and
/// each repository once at a time.
pub struct Summaries {
    permits: Arc<Semaphore>,
    reading: Mutex<HashSet<(String, String)>>,
    /// Registries with a warm-up of last-push dates running.
    warming: Mutex<HashSet<String>>,
}

impl Summaries {
    pub fn new(permits: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(permits.max(1))), reading: Mutex::default(), warming: Mutex::default() }
    }

    /// Reads the columns of `names` in the background (those being read already are skipped).
    pub fn read_later(self: &Arc<Self>, registry: &Registry, store: &Store, names: Vec<String>) {
        for name in names {
            let key = (registry.info.name.clone(), name.clone());
            if !self.reading.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone()) {
                continue;
            }
            let (me, registry, store) = (self.clone(), registry.clone(), store.clone());
            tokio::spawn(async move {
                if let Ok(_permit) = me.permits.clone().acquire_owned().await {
                    read_summary(&registry, &store, &name).await;
                }
                me.reading.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
            });
        }
    }

    /// Reads the last-push dates of `names` in the background, unless a warm-up of this
    /// registry is running (sorting by last push asks for many at once).
    pub fn warm(self: &Arc<Self>, registry: &Registry, store: &Store, names: Vec<String>) {
        let name = registry.info.name.clone();
        if names.is_empty() || !self.warming.lock().unwrap_or_else(|e| e.into_inner()).insert(name.clone()) {
            return;
        }
        let (me, registry, store) = (self.clone(), registry.clone(), store.clone());
        tokio::spawn(async move {
            use futures::StreamExt;
            let reads = names.into_iter().map(|n| {
                let (me, registry, store) = (me.clone(), registry.clone(), store.clone());
                async move {
                    if let Ok(_permit) = me.permits.clone().acquire_owned().await {
                        read_summary(&registry, &store, &n).await;
                    }
                }
            });
            futures::stream::iter(reads).for_each_concurrent(SUMMARY_CONCURRENCY, |r| r).await;
            me.warming.lock().unwrap_or_else(|e| e.into_inner()).remove(&name);
        });
    }
}

/// A kept summary as a row; None when its dates were never read (only its tag list was).
pub fn row_of(r: &RepoSummaryRecord) -> Option<RepoRow> {
    r.pushed_source.as_ref()?;
    Some(RepoRow::Ok(RepoSummary {
        name: r.repository.clone(),
        tags: r.tags,
        newest: r.newest.clone(),
        pushed: r.pushed.map(|t| t.unix_timestamp()),
        pushed_source: r.pushed_source.as_deref().and_then(DateSource::from_key),
    }))
}

/// The newest semantic version among `tags` (referrer tags left out), and how many there are.
pub fn count_and_newest(tags: &[String]) -> (u64, Option<String>) {
    let visible: Vec<&String> = tags.iter().filter(|t| portolan_oci::name::subject_of_tag(t).is_none()).collect();
    let newest = visible.iter().filter_map(|t| Some((portolan_inventory::semver_of(t)?, *t))).max().map(|(_, t)| t.clone());
    (visible.len() as u64, newest)
}

/// Reads a repository's columns and keeps them: its tag list (count, newest version), then the
/// artifacts of at most two tags — the newest version and `latest` (or the last tag listed) —
/// for the newest date (config `created`, else the annotation, else when Portolan first saw
/// them). The artifacts read go to the where-used index too.
pub async fn read_summary(registry: &Registry, store: &Store, name: &str) -> RepoRow {
    let failed = |message: String| RepoRow::Failed { name: name.to_owned(), message };
    let repo = match RepoName::parse(name) {
        Ok(r) => r,
        Err(e) => return failed(e.message().to_owned()),
    };
    let tags = match registry.client.tags(&repo).await {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return failed("the registry has no such repository".into()),
        Err(e) => return failed(e.message().to_owned()),
    };
    let (count, newest) = count_and_newest(&tags);
    let mut candidates: Vec<String> = newest.iter().cloned().collect();
    if tags.iter().any(|t| t == "latest") {
        candidates.push("latest".into());
    }
    if candidates.is_empty()
        && let Some(last) = tags.iter().rev().find(|t| portolan_oci::name::subject_of_tag(t).is_none())
    {
        candidates.push(last.clone());
    }
    candidates.dedup();
    let mut best: Option<(OffsetDateTime, &'static str)> = None;
    let mut digests = Vec::new();
    let mut reads = Vec::new();
    for tag in &candidates {
        let Ok(t) = Tag::parse(tag) else { continue };
        let Ok(resolved) = registry.client.resolve(&repo, &Reference::Tag(t)).await else { continue };
        if digests.contains(&resolved.digest) {
            continue;
        }
        digests.push(resolved.digest.clone());
        if let Ok(artifact) = read_artifact(registry.client.as_ref(), &repo, &resolved.digest).await {
            if let Some(d) = artifact.manifest.created {
                let source = d.source.key();
                if best.is_none_or(|(b, _)| d.at > b) {
                    best = Some((d.at, source));
                }
            }
            reads.push(TagRead { tag: tag_info(tag, &resolved.digest), artifact, referrers: Vec::new() });
        }
    }
    let now = OffsetDateTime::now_utc();
    if best.is_none() && !digests.is_empty() {
        match store.first_seen(&registry.info.name, name, &digests, now).await {
            Ok(seen) => best = seen.values().max().map(|t| (*t, DateSource::FirstSeen.key())),
            Err(e) => tracing::warn!(error = %e, "reading first-seen dates"),
        }
    }
    crate::search::record_reads(store, &registry.info.name, name, &reads).await;
    let record = RepoSummaryRecord {
        registry: registry.info.name.clone(),
        repository: name.to_owned(),
        tags: count,
        newest,
        pushed: best.map(|(t, _)| t),
        pushed_source: Some(best.map(|(_, s)| s).unwrap_or("none").to_owned()),
        checked_at: now,
    };
    if let Err(e) = store.repo_summary_put(&record).await {
        tracing::warn!(error = %e, "keeping a repository's columns");
    }
    row_of(&record).unwrap_or_else(|| failed("unreadable".into()))
}

/// The rows of `names`, in order: kept ones at once (those older than [`SUMMARY_TTL`] are read
/// again in the background), the others read within `budget` (None: to the end) — those not
/// read by then are pending and finished in the background.
pub async fn rows_within(
    registry: &Registry,
    store: &Store,
    summaries: &Arc<Summaries>,
    names: Vec<String>,
    budget: Option<Duration>,
) -> Result<Vec<RepoRow>> {
    use futures::StreamExt;
    let kept = store.repo_summaries(&registry.info.name, Some(&names)).await?;
    let now = OffsetDateTime::now_utc();
    let mut rows: HashMap<String, RepoRow> = HashMap::new();
    let mut stale = Vec::new();
    let mut missing = Vec::new();
    for name in &names {
        match kept.get(name).and_then(|r| Some((r, row_of(r)?))) {
            Some((record, row)) => {
                if now - record.checked_at > SUMMARY_TTL {
                    stale.push(name.clone());
                }
                rows.insert(name.clone(), row);
            }
            None => missing.push(name.clone()),
        }
    }
    if !stale.is_empty() {
        summaries.read_later(registry, store, stale);
    }
    let done: Arc<Mutex<HashMap<String, RepoRow>>> = Arc::default();
    let work = futures::stream::iter(missing.clone().into_iter().map(|name| {
        let (done, registry, store) = (done.clone(), registry.clone(), store.clone());
        async move {
            let row = read_summary(&registry, &store, &name).await;
            done.lock().unwrap_or_else(|e| e.into_inner()).insert(name, row);
        }
    }))
    .for_each_concurrent(SUMMARY_CONCURRENCY, |r| r);
    let finished = match budget {
        Some(b) => tokio::time::timeout(b, work).await.is_ok(),
        None => {
            work.await;
            true
        }
    };
    rows.extend(done.lock().unwrap_or_else(|e| e.into_inner()).drain());
    if !finished {
        let pending: Vec<String> = missing.into_iter().filter(|n| !rows.contains_key(n)).collect();
        summaries.read_later(registry, store, pending);
    }
    Ok(names.into_iter().map(|n| rows.remove(&n).unwrap_or(RepoRow::Pending { name: n })).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_version_leaves_referrer_tags_out() {
        let hex = "ab".repeat(32);
        let tags: Vec<String> =
            ["1.2.0", "v1.10.0", "latest", &format!("sha256-{hex}"), "nightly"].iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(count_and_newest(&tags), (4, Some("v1.10.0".to_owned())));
        assert_eq!(count_and_newest(&[]), (0, None));
    }
}
