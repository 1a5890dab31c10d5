//! Tag lists as the repository page shows them: referrer tags set aside, filtered (a pattern
//! compiled once), sorted (semantic version, name, creation date) and paged ([`list`]); and
//! each tag's details, read through the inventory reader — the same one the retention planner
//! uses — with bounded, de-duplicated background work.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use portolan_inventory::read::{TagRead, read_tag};
use portolan_model::{DateSource, TagDetail, TagPage, TagQuery, TagRow, TagSort, VerifiedFilter};
use portolan_oci::RepoName;
use tokio::sync::Semaphore;

use crate::{Registry, Result, Services};

/// Tag details read at once, at most (the registry's own concurrency limit applies too).
pub const DETAIL_CONCURRENCY: usize = 16;
/// How long sorting by date waits for dates before answering with those it has.
const CREATED_SORT_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);
/// Sorting by date reads every matching tag's config: past this many, it is refused with a
/// word on filtering first (each visitor could otherwise make Portolan read thousands of
/// manifests).
pub const DATE_SORT_LIMIT: usize = 2_000;

/// What a tag page was built from: while the same things are what the registry client's
/// caches hold ([`BuiltFrom::still_current`]), rendering the page again would give the same
/// page, so the server may send the one it kept.
#[derive(Clone, Debug)]
pub struct BuiltFrom {
    pub registry: String,
    pub repository: RepoName,
    /// The tag list, as the client cached it (compared by identity).
    pub tags: Arc<Vec<String>>,
    /// (tag, digest) of each row shown.
    pub resolved: Vec<(String, String)>,
}

impl BuiltFrom {
    /// Whether rendering the page now would read the same things from the caches.
    pub async fn still_current(&self, services: &Services) -> bool {
        match services.registry(&self.registry) {
            Ok(registry) => registry.client.still_cached(&self.repository, &self.tags, &self.resolved).await,
            Err(_) => false,
        }
    }
}

/// One page of a repository's tags, filtered and sorted as `query` says, with the details read
/// within [`portolan_model::DETAILS_BUDGET_MS`] (the others come back pending), and — when every
/// row was read whole and the order needs no dates — what the page was built from. The page's
/// `delete` and `public_url` are the caller's to fill.
pub async fn list(services: &Services, registry: &Registry, repo: &RepoName, query: TagQuery) -> Result<(TagPage, Option<BuiltFrom>)> {
    let name = &registry.info.name;
    let query = TagQuery { page: query.page.max(1), per_page: query.per_page.clamp(1, portolan_model::MAX_PER_PAGE), ..query };
    let filter = TagFilter::new(&query.filter)?;
    let all = registry.client.tags(repo).await?;
    if services.tag_lists.should_record(name, repo.as_str(), &all) {
        crate::search::record_opened(&services.store, name, repo.as_str(), &all);
    }
    // Version order (the default) is kept per tag list; filtering keeps the order.
    let presorted = query.sort == TagSort::Version;
    let source = if presorted { services.tag_lists.by_version(name, repo.as_str(), &all) } else { all.clone() };
    let (mut matching, total, hidden) = visible(&source, &query, &filter);
    let mut created = HashMap::new();
    let mut notice = all.is_empty().then(|| {
        "This repository has no tags: the registry still lists it, but every tag is gone. Artifacts deleted through Portolan can be restored from the trash until the registry's garbage collection removes their blobs.".to_owned()
    });
    let mut query = query;
    let verifying = services.verifier.covers(name, repo.as_str());
    if !verifying {
        query.verified = VerifiedFilter::All;
    }
    if query.sort == TagSort::Created && matching.len() > DATE_SORT_LIMIT {
        notice = Some(format!(
            "Sorting by date reads every tag's config, and {} tags match: more than the {DATE_SORT_LIMIT} Portolan sorts by date. Filter the list first (e.g. a version prefix); shown by version meanwhile.",
            matching.len()
        ));
        query.sort = TagSort::Version;
    }
    if query.verified != VerifiedFilter::All && matching.len() > DATE_SORT_LIMIT {
        notice = Some(format!(
            "Filtering by signature verifies every tag's signatures, and {} tags match: more than the {DATE_SORT_LIMIT} Portolan filters this way. Filter by name first (e.g. a version prefix); shown unfiltered meanwhile.",
            matching.len()
        ));
        query.verified = VerifiedFilter::All;
    }
    if query.sort == TagSort::Created || query.verified != VerifiedFilter::All {
        // Dates come from each tag's config, verification from its signatures: read them all,
        // through the caches, for a while.
        let tags = matching.iter().map(|t| (*t).to_owned()).collect();
        let rows = rows_within(services, registry, repo, tags, Some(CREATED_SORT_BUDGET), DETAIL_CONCURRENCY).await?;
        let pending = rows.iter().filter(|r| matches!(r, TagRow::Pending { .. })).count();
        if pending > 0 && query.sort == TagSort::Created {
            notice = Some(format!(
                "Dates of {pending} tags are still being read; they are listed last for now. Reload in a moment for the full order."
            ));
        } else if pending > 0 {
            notice =
                Some(format!("The signatures of {pending} tags are still being verified; they are left out for now. Reload in a moment."));
        }
        let mut kept = HashSet::new();
        for row in rows {
            if let TagRow::Ok(d) = row {
                if d.verification.as_ref().is_some_and(|v| query.verified.keeps(v.outcome)) {
                    kept.insert(d.tag.clone());
                }
                if let Some(c) = d.created {
                    created.insert(d.tag, c);
                }
            }
        }
        if query.verified != VerifiedFilter::All {
            matching.retain(|t| kept.contains(*t));
        }
    }
    if !presorted {
        sort_tags(&mut matching, query.sort, query.reverse, &created);
    } else if query.reverse {
        matching.reverse();
    }
    let shown = page(&matching, &query);
    let budget = std::time::Duration::from_millis(portolan_model::DETAILS_BUDGET_MS.into());
    let rows = rows_within(services, registry, repo, shown, Some(budget), DETAIL_CONCURRENCY).await?;
    // A page of rows read whole, in an order that needs no dates, can be sent again while
    // what it was read from is still cached.
    let resolved: Option<Vec<(String, String)>> = rows
        .iter()
        .map(|r| match r {
            TagRow::Ok(d) => Some((d.tag.clone(), d.digest.clone())),
            _ => None,
        })
        .collect();
    let built_from = resolved
        .filter(|_| query.sort != TagSort::Created && query.verified == VerifiedFilter::All)
        .map(|resolved| BuiltFrom { registry: name.clone(), repository: repo.clone(), tags: all, resolved });
    let page = TagPage {
        registry: registry.info.clone(),
        repository: repo.to_string(),
        total,
        matching: matching.len(),
        hidden_referrer_tags: hidden,
        query,
        rows,
        public_url: String::new(),
        notice,
        now: time::OffsetDateTime::now_utc().unix_timestamp(),
        delete: Default::default(),
        verifying,
    };
    Ok((page, built_from))
}

pub use portolan_inventory::semver_of;

/// Longest tag filter accepted (a tag is at most 128 characters).
pub use portolan_search::MAX_FILTER;

/// Whether `tag` is a referrer tag: the fallback schema's `sha256-<hex>` or cosign's legacy
/// `sha256-<hex>.sig/.att/.sbom`.
pub fn is_referrer_tag(tag: &str) -> bool {
    portolan_oci::name::subject_of_tag(tag).is_some()
}

/// A tag filter, checked and compiled once per request: case-insensitive; with `*` or `?` a
/// glob over the whole tag, else a substring (the same filter as the repository list's).
pub type TagFilter = portolan_search::NameFilter;

/// Orders tags for `sort` (natural direction: newest or A→Z first; `reverse` flips it).
/// `created` gives Unix times for [`TagSort::Created`]; tags without one go last.
pub fn sort_tags<T: AsRef<str> + Ord + Clone>(tags: &mut [T], sort: TagSort, reverse: bool, created: &HashMap<String, i64>) {
    match sort {
        TagSort::Name => tags.sort(),
        TagSort::Version => {
            // Each version parsed once, not once per comparison.
            let mut keyed: Vec<(Option<semver::Version>, T)> = tags.iter().map(|t| (semver_of(t.as_ref()), t.clone())).collect();
            keyed.sort_by(|(va, a), (vb, b)| match (va, vb) {
                (Some(x), Some(y)) => y.cmp(x).then_with(|| a.cmp(b)),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => a.cmp(b),
            });
            for (slot, (_, t)) in tags.iter_mut().zip(keyed) {
                *slot = t;
            }
        }
        TagSort::Created => tags.sort_by(|a, b| match (created.get(a.as_ref()), created.get(b.as_ref())) {
            (Some(x), Some(y)) => y.cmp(x).then_with(|| a.cmp(b)),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => a.cmp(b),
        }),
    }
    if reverse {
        tags.reverse();
    }
}

/// The visible tags (referrer tags set aside unless asked for), filtered, in the order of
/// `tags`; and how many there are in all, and how many were set aside.
pub fn visible<'a>(tags: &'a [String], query: &TagQuery, filter: &TagFilter) -> (Vec<&'a str>, usize, usize) {
    let mut hidden = 0;
    let mut total = 0;
    let mut out = Vec::new();
    for tag in tags {
        if !query.show_referrer_tags && is_referrer_tag(tag) {
            hidden += 1;
            continue;
        }
        total += 1;
        if filter.matches(tag) {
            out.push(tag.as_str());
        }
    }
    (out, total, hidden)
}

/// One page of `sorted`.
pub fn page<T: AsRef<str>>(sorted: &[T], query: &TagQuery) -> Vec<String> {
    let start = (query.page - 1).saturating_mul(query.per_page);
    sorted.iter().skip(start).take(query.per_page).map(|t| t.as_ref().to_owned()).collect()
}

/// Tag lists in version order, kept per repository for as long as the client's cached list is
/// the same one (so a cached page sorts nothing), and when each repository's opening was last
/// recorded in the store (once per tag list, at most once a minute: not a write per view).
#[derive(Default)]
pub struct SortedTags {
    entries: Mutex<HashMap<(String, String), SortedEntry>>,
}

struct SortedEntry {
    /// The list as the client cached it (held, so its address cannot be reused meanwhile).
    source: Arc<Vec<String>>,
    by_version: Arc<Vec<String>>,
    recorded: Option<std::time::Instant>,
}

/// Repositories whose sorted lists are kept at most, and tags in them together (about 100
/// bytes each, counting the client's list they hold).
const SORTED_REPOSITORIES: usize = 64;
const SORTED_TAGS: usize = 400_000;
/// An unchanged tag list is recorded as opened at most this often.
const RECORD_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl SortedTags {
    /// `all` (the client's list of `registry`/`repository`) in version order.
    pub fn by_version(&self, registry: &str, repository: &str, all: &Arc<Vec<String>>) -> Arc<Vec<String>> {
        let key = (registry.to_owned(), repository.to_owned());
        if let Some(e) = self.lock().get(&key)
            && Arc::ptr_eq(&e.source, all)
        {
            return e.by_version.clone();
        }
        let mut sorted = all.to_vec();
        sort_tags(&mut sorted, TagSort::Version, false, &HashMap::new());
        let sorted = Arc::new(sorted);
        let mut entries = self.lock();
        let recorded = entries.remove(&key).and_then(|e| e.recorded);
        // Bounded in repositories and in tags held (each kept list holds the client's list too,
        // which may have left its cache): the least recently recorded go first.
        let mut held: usize = entries.values().map(|e| e.by_version.len()).sum();
        if entries.len() >= SORTED_REPOSITORIES || held + sorted.len() > SORTED_TAGS {
            let mut ages: Vec<(Option<std::time::Instant>, (String, String))> =
                entries.iter().map(|(k, e)| (e.recorded, k.clone())).collect();
            ages.sort();
            for (_, k) in ages {
                if entries.len() < SORTED_REPOSITORIES && held + sorted.len() <= SORTED_TAGS {
                    break;
                }
                if let Some(gone) = entries.remove(&k) {
                    held -= gone.by_version.len();
                }
            }
        }
        if sorted.len() <= SORTED_TAGS {
            entries.insert(key, SortedEntry { source: all.clone(), by_version: sorted.clone(), recorded });
        }
        sorted
    }

    /// Whether opening `registry`/`repository` with the list `all` should be recorded now.
    pub fn should_record(&self, registry: &str, repository: &str, all: &Arc<Vec<String>>) -> bool {
        let key = (registry.to_owned(), repository.to_owned());
        let mut entries = self.lock();
        let now = std::time::Instant::now();
        match entries.get_mut(&key) {
            Some(e) if Arc::ptr_eq(&e.source, all) && e.recorded.is_some_and(|t| now.duration_since(t) < RECORD_EVERY) => false,
            Some(e) if Arc::ptr_eq(&e.source, all) => {
                e.recorded = Some(now);
                true
            }
            // Not kept (yet): by_version keeps it; recorded then.
            _ => true,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), SortedEntry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A tag page row from what the inventory reader read.
pub fn detail_of(read: &TagRead) -> TagDetail {
    let m = &read.artifact.manifest;
    TagDetail {
        tag: read.tag.tag.clone(),
        digest: m.digest.clone(),
        media_type: m.media_type.clone(),
        kind: m.kind,
        platforms: m.platforms.clone(),
        size: read.artifact.size(),
        created: m.created.map(|d| d.at.unix_timestamp()),
        created_source: m.created.map(|d| d.source),
        referrers: read.referrers.len(),
        missing_children: read.artifact.children.iter().filter(|c| c.missing).count(),
        verification: None,
    }
}

/// Background work on behalf of visitors, bounded: at most `permits` tag reads at once in all,
/// and one warm-up per repository at a time. What a visitor asked for and stopped waiting for
/// is finished here (so a reload is fast), never more.
///
/// What visitors' reads show goes to the where-used index, once per tag and digest (see
/// [`Background::record`]).
pub struct Background {
    permits: Arc<Semaphore>,
    warming: Mutex<HashSet<(String, String)>>,
    /// (registry, repository, tag, digest) written to the index lately.
    recorded: Mutex<HashSet<(String, String, String, String)>>,
}

/// Tags remembered as written to the index at most (then forgotten all at once).
const RECORDED: usize = 100_000;

impl Background {
    pub fn new(permits: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(permits.max(1))), warming: Mutex::default(), recorded: Mutex::default() }
    }

    /// Writes tags read for a page to the where-used index in the background, skipping those
    /// written lately with the same digest.
    pub fn record(&self, store: &portolan_store::Store, registry: &str, repository: &str, reads: Vec<TagRead>) {
        let fresh: Vec<TagRead> = {
            let mut recorded = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
            if recorded.len() > RECORDED {
                recorded.clear();
            }
            reads
                .into_iter()
                .filter(|r| recorded.insert((registry.to_owned(), repository.to_owned(), r.tag.tag.clone(), r.tag.digest.clone())))
                .collect()
        };
        if fresh.is_empty() {
            return;
        }
        let (store, registry, repository) = (store.clone(), registry.to_owned(), repository.to_owned());
        tokio::spawn(async move {
            crate::search::record_reads(&store, &registry, &repository, &fresh).await;
        });
    }

    /// Reads `tags` into the caches in the background, unless a warm-up of this repository is
    /// already running (then this one is dropped: the caches are being filled anyway).
    pub fn warm(self: &Arc<Self>, registry: &Registry, repo: &RepoName, tags: Vec<String>) {
        let key = (registry.info.name.clone(), repo.to_string());
        {
            let mut warming = self.warming.lock().unwrap_or_else(|e| e.into_inner());
            if !warming.insert(key.clone()) {
                return;
            }
        }
        // Removes the key however the task ends.
        struct Done(Arc<Background>, (String, String));
        impl Drop for Done {
            fn drop(&mut self) {
                self.0.warming.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.1);
            }
        }
        let done = Done(self.clone(), key);
        let reads: Vec<_> = tags
            .into_iter()
            .map(|tag| {
                let (permits, client, repo) = (self.permits.clone(), registry.client.clone(), repo.clone());
                async move {
                    let Ok(_permit) = permits.acquire_owned().await else { return };
                    let _ = read_tag(client.as_ref(), &repo, &tag).await;
                }
            })
            .collect();
        tokio::spawn(async move {
            let _done = done;
            futures::future::join_all(reads).await;
        });
    }
}

/// Reads the details of `tags`, `concurrency` at a time, waiting at most `budget` (None: to the
/// end); rows not read in time are [`TagRow::Pending`] and are finished by a background
/// warm-up (see [`Background`]). Rows come back in the order of `tags`. Undated artifacts get
/// the date Portolan first saw them, said as such. Where a trust policy covers the repository,
/// each row carries its artifact's verification (read with the row, within the same budget).
pub async fn rows_within(
    services: &Services,
    registry: &Registry,
    repo: &RepoName,
    tags: Vec<String>,
    budget: Option<std::time::Duration>,
    concurrency: usize,
) -> portolan_oci::Result<Vec<TagRow>> {
    use futures::StreamExt;
    // The tag list first: it also tells the client which referrer tags exist.
    registry.client.tags(repo).await?;
    let done: Arc<Mutex<HashMap<String, TagRow>>> = Arc::default();
    let read: Arc<Mutex<Vec<TagRead>>> = Arc::default();
    let (store, background, verifier) = (&services.store, &services.background, &*services.verifier);
    let verifying = verifier.covers(&registry.info.name, repo.as_str());
    let work = {
        let reads: Vec<_> = tags
            .iter()
            .cloned()
            .map(|tag| {
                let (done, read, registry, repo) = (done.clone(), read.clone(), registry.clone(), repo.clone());
                async move {
                    let row = match read_tag(registry.client.as_ref(), &repo, &tag).await {
                        Ok(r) => {
                            let mut detail = detail_of(&r);
                            if verifying {
                                detail.verification = Some(match verifier.verify(&registry, &repo, &detail.digest).await {
                                    Ok(v) => v.brief(),
                                    Err(e) => portolan_model::VerifyBrief {
                                        outcome: portolan_model::Outcome::NotVerified,
                                        reason: Some(portolan_model::ReasonKind::Unreadable),
                                        summary: format!("not verified: the signatures cannot be read ({e})"),
                                    },
                                });
                            }
                            let row = TagRow::Ok(detail);
                            read.lock().unwrap_or_else(|e| e.into_inner()).push(r);
                            row
                        }
                        Err(e) => TagRow::Failed { tag: tag.clone(), message: e.message().to_owned() },
                    };
                    done.lock().unwrap_or_else(|e| e.into_inner()).insert(tag, row);
                }
            })
            .collect();
        futures::stream::iter(reads).for_each_concurrent(concurrency.max(1), |read| read)
    };
    let finished = match budget {
        Some(budget) => tokio::time::timeout(budget, work).await.is_ok(),
        None => {
            work.await;
            true
        }
    };
    let mut rows: Vec<TagRow> = {
        let done = done.lock().unwrap_or_else(|e| e.into_inner());
        tags.into_iter().map(|tag| done.get(&tag).cloned().unwrap_or(TagRow::Pending { tag })).collect()
    };
    if !finished {
        let pending: Vec<String> = rows.iter().filter(|r| matches!(r, TagRow::Pending { .. })).map(|r| r.tag().to_owned()).collect();
        background.warm(registry, repo, pending);
    }
    let read = std::mem::take(&mut *read.lock().unwrap_or_else(|e| e.into_inner()));
    background.record(store, &registry.info.name, repo.as_str(), read);
    let undated: Vec<String> = rows
        .iter()
        .filter_map(|r| match r {
            TagRow::Ok(d) if d.created.is_none() => Some(d.digest.clone()),
            _ => None,
        })
        .collect();
    if !undated.is_empty() {
        match store.first_seen(&registry.info.name, repo.as_str(), &undated, time::OffsetDateTime::now_utc()).await {
            Ok(seen) => {
                for row in &mut rows {
                    if let TagRow::Ok(d) = row
                        && d.created.is_none()
                        && let Some(when) = seen.get(&d.digest)
                    {
                        d.created = Some(when.unix_timestamp());
                        d.created_source = Some(DateSource::FirstSeen);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading first-seen dates"),
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn referrer_tags_are_recognised() {
        let hex = "ab".repeat(32);
        assert!(is_referrer_tag(&format!("sha256-{hex}")));
        assert!(is_referrer_tag(&format!("sha256-{hex}.sig")));
        assert!(!is_referrer_tag("sha256-short"));
        assert!(!is_referrer_tag("latest"));
    }

    #[test]
    fn version_sort_puts_newest_semver_first_then_names() {
        let mut tags = strings(&["latest", "1.0.0", "v2.0.0", "1.10.0", "1.2", "2.0.0-rc.1", "nightly", "1.9.9"]);
        sort_tags(&mut tags, TagSort::Version, false, &HashMap::new());
        assert_eq!(tags, strings(&["v2.0.0", "2.0.0-rc.1", "1.10.0", "1.9.9", "1.2", "1.0.0", "latest", "nightly"]));
        sort_tags(&mut tags, TagSort::Version, true, &HashMap::new());
        assert_eq!(tags.first().unwrap(), "nightly");
    }

    #[test]
    fn a_sorted_list_is_kept_while_the_list_is_the_same() {
        let sorted = SortedTags::default();
        let list = Arc::new(strings(&["1.0.0", "2.0.0", "latest"]));
        let first = sorted.by_version("r", "a/b", &list);
        assert_eq!(*first, strings(&["2.0.0", "1.0.0", "latest"]));
        assert!(Arc::ptr_eq(&first, &sorted.by_version("r", "a/b", &list)), "the same list: sorted once");
        let newer = Arc::new(strings(&["1.0.0", "3.0.0"]));
        assert_eq!(*sorted.by_version("r", "a/b", &newer), strings(&["3.0.0", "1.0.0"]), "a new list: sorted again");
        // Recorded once per list, not per view.
        assert!(sorted.should_record("r", "a/b", &newer));
        assert!(!sorted.should_record("r", "a/b", &newer));
        // Bounded.
        for i in 0..200 {
            sorted.by_version("r", &format!("repo/{i}"), &list);
        }
        assert!(sorted.lock().len() <= SORTED_REPOSITORIES);
    }

    #[test]
    fn created_sort_puts_undated_last() {
        let mut tags = strings(&["a", "b", "c"]);
        let created: HashMap<String, i64> = [("a".to_owned(), 1_704_067_200), ("c".to_owned(), 1_735_689_600)].into();
        sort_tags(&mut tags, TagSort::Created, false, &created);
        assert_eq!(tags, strings(&["c", "a", "b"]));
    }

    #[test]
    fn visible_and_paged() {
        let hex = "cd".repeat(32);
        let tags = strings(&["a1", "a2", "b1", &format!("sha256-{hex}"), &format!("sha256-{hex}.sig")]);
        let q = TagQuery { filter: "a".into(), per_page: 1, page: 2, ..Default::default() };
        let (matching, total, hidden) = visible(&tags, &q, &TagFilter::new(&q.filter).unwrap());
        assert_eq!((matching.len(), total, hidden), (2, 3, 2));
        assert_eq!(matching, vec!["a1", "a2"]);
        assert_eq!(page(&matching, &q), strings(&["a2"]));
        let all = TagQuery { show_referrer_tags: true, ..Default::default() };
        assert_eq!(visible(&tags, &all, &TagFilter::All).1, 5);
    }
}
