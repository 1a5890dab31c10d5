//! The crawl: reads a registry's repositories into the where-used index, within a request
//! budget, incrementally — each pass lists a repository's tags and resolves each (a HEAD), and
//! reads manifests only for tags whose digest changed since the index last saw them (and the
//! index entries and referrers those reach that it does not hold yet). A registry answering 429
//! pauses the pass for as long as it asks (`Retry-After`, else a minute); the pass then resumes
//! where it stopped, at the budget's steady rate.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use portolan_oci::{ErrorKind, Reference, ReferrersMode, RegistryVerbs, RepoName, Tag};
use portolan_store::{CrawlState, IndexedManifest, RefRole, Store};
use time::OffsetDateTime;

use crate::budget::Budget;
use crate::index::from_doc;

/// Repositories listed from a catalog at most.
pub const MAX_REPOSITORIES: usize = 100_000;
/// Manifests read for one repository in one pass at most (the next pass goes on).
pub const MAX_MANIFESTS_PER_REPOSITORY: usize = 10_000;
/// A manifest as read, with its image's created date from its config.
type ReadManifest = (portolan_oci::ManifestDoc, Option<OffsetDateTime>);

/// Image configs read for their created date at most this large.
const CONFIG_CAP: u64 = 1 << 20;
/// Untagged manifests checked for one repository in one pass at most.
pub const MAX_UNTAGGED_CHECKS: usize = 1000;
/// Deleted artifacts checked for garbage collection in one pass at most.
pub const MAX_TRASH_CHECKS: usize = 100;
/// Catalog page size asked for.
const CATALOG_PAGE: usize = 1000;
/// How long a pass pauses when the registry answers 429 without saying how long.
pub const DEFAULT_PAUSE: Duration = Duration::from_secs(60);
/// The longest pause honoured.
pub const MAX_PAUSE: Duration = Duration::from_secs(3600);

/// A request not made because the registry said 429 meanwhile (carries no status: the pause
/// follows the registry's own answer).
fn rate_limited() -> portolan_oci::Error {
    portolan_oci::Error::new(ErrorKind::RateLimited, "not asked: the registry asked to slow down")
}

/// One registry's crawl: what it reads with, and where it writes.
pub struct Crawl<'a> {
    pub registry: &'a str,
    pub verbs: &'a dyn RegistryVerbs,
    pub store: &'a Store,
    pub budget: &'a Budget,
    /// Registry requests in flight at once (the client's own limit applies too).
    pub concurrency: usize,
    /// How long to pause on a 429 that does not say (`Retry-After`): [`DEFAULT_PAUSE`].
    pub default_pause: Duration,
}

/// What crawling one repository did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepoCrawl {
    pub tags: usize,
    /// Tags new or pointing elsewhere since the last pass.
    pub changed: usize,
    pub removed: usize,
    /// Manifests read (and added to the index).
    pub read: usize,
    /// Manifests dropped from the index (no tag reaches them any more).
    pub pruned: usize,
    /// Tags that could not be resolved (kept as the index knew them).
    pub failed: usize,
}

/// Why a repository or a pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    #[error("{0}")]
    Registry(#[from] portolan_oci::Error),
    #[error("{0}")]
    Store(#[from] portolan_store::StoreError),
}

impl CrawlError {
    /// How long to pause, when the registry asked to slow down (`unsaid`: when it did not say
    /// how long).
    pub fn pause(&self, unsaid: Duration) -> Option<Duration> {
        match self {
            CrawlError::Registry(e) if e.kind() == ErrorKind::RateLimited => {
                Some(e.retry_after().map(|a| a.max(Duration::from_secs(1))).unwrap_or(unsaid).min(MAX_PAUSE))
            }
            _ => None,
        }
    }
}

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    pub repositories: usize,
    pub done: usize,
    pub failed: usize,
    pub changed: usize,
    pub read: usize,
    /// Times the registry said 429 and the pass paused.
    pub pauses: usize,
    /// Stopped before the end (shutdown).
    pub stopped: bool,
}

impl Crawl<'_> {
    /// Every repository of the catalog, page by page, at most [`MAX_REPOSITORIES`]; the flag
    /// says whether the list is complete. Fails with `Unsupported` where there is no catalog.
    pub async fn catalog(&self) -> Result<(Vec<String>, bool), CrawlError> {
        let mut names = Vec::new();
        let mut last: Option<String> = None;
        let mut cursors = std::collections::HashSet::new();
        loop {
            self.budget.take().await;
            let page = self.verbs.catalog_page(CATALOG_PAGE, last.as_deref()).await?;
            let next = page.next_cursor(&mut cursors);
            names.extend(page.repositories);
            if names.len() >= MAX_REPOSITORIES {
                names.truncate(MAX_REPOSITORIES);
                return Ok((names, false));
            }
            match next {
                Some(next) => last = Some(next),
                None => break,
            }
        }
        names.sort();
        names.dedup();
        Ok((names, true))
    }

    /// Reads one repository into the index (see the module's documentation).
    pub async fn repository(&self, repo: &RepoName) -> Result<RepoCrawl, CrawlError> {
        let (registry, name) = (self.registry, repo.as_str());
        let now = OffsetDateTime::now_utc();
        self.budget.take().await;
        let tags = match self.verbs.tags(repo).await {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                // Gone from the registry.
                self.store.index_forget(registry, name).await?;
                return Ok(RepoCrawl::default());
            }
            Err(e) => return Err(e.into()),
        };
        let known = self.store.index_tags(registry, name).await?;
        // Once the registry said 429, no new request starts (those in flight finish).
        let limited = AtomicBool::new(false);
        let limited = &limited;
        let resolved: Vec<(String, portolan_oci::Result<String>)> = futures::stream::iter(tags.iter().cloned())
            .map(|tag| async move {
                let digest = match Tag::parse(&tag) {
                    Ok(_) if limited.load(Ordering::Relaxed) => Err(rate_limited()),
                    Ok(t) => {
                        self.budget.take().await;
                        let r = self.verbs.resolve(repo, &Reference::Tag(t)).await.map(|r| r.digest);
                        if r.as_ref().is_err_and(|e| e.kind() == ErrorKind::RateLimited) {
                            limited.store(true, Ordering::Relaxed);
                        }
                        r
                    }
                    Err(e) => Err(e),
                };
                (tag, digest)
            })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        let mut out = RepoCrawl { tags: tags.len(), ..Default::default() };
        let mut current: HashMap<String, String> = HashMap::new();
        let mut unresolved: HashSet<String> = HashSet::new();
        // The registry's own 429 (with its Retry-After), not a skipped request's.
        if let Some(e) =
            resolved.iter().find_map(|(_, r)| r.as_ref().err().filter(|e| e.kind() == ErrorKind::RateLimited && e.status().is_some()))
        {
            return Err(e.clone().into());
        }
        for (tag, digest) in resolved {
            match digest {
                Ok(d) => {
                    current.insert(tag, d);
                }
                Err(e) if e.kind() == ErrorKind::RateLimited => return Err(e.into()),
                // Deleted between the listing and the HEAD.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::debug!(error = %e, registry, repository = name, tag, "crawl: resolving a tag");
                    out.failed += 1;
                    unresolved.insert(tag);
                }
            }
        }
        let changed: Vec<(String, String)> =
            current.iter().filter(|(t, d)| known.get(*t) != Some(*d)).map(|(t, d)| (t.clone(), d.clone())).collect();
        let removed: Vec<String> = known.keys().filter(|t| !current.contains_key(*t) && !unresolved.contains(*t)).cloned().collect();
        out.changed = changed.len();
        out.removed = removed.len();
        let mut tops: Vec<String> = changed.iter().map(|(_, d)| d.clone()).collect();
        tops.sort();
        tops.dedup();
        let have = self.store.index_known(registry, name, &tops).await?;
        let wanted: Vec<String> = tops.into_iter().filter(|d| !have.contains(d)).collect();
        let (manifests, unreadable) = self.read_manifests(repo, wanted).await?;
        out.read = manifests.len();
        self.store.index_put(registry, name, &manifests, now).await?;
        // A tag whose manifest could not be read is left as the index knew it (tried again next
        // pass).
        let settled: Vec<(String, String)> = changed.into_iter().filter(|(_, d)| !unreadable.contains(d)).collect();
        self.store.index_set_tags(registry, name, &settled, now).await?;
        self.store.index_remove_tags(registry, name, &removed).await?;
        out.pruned = self.untagged(repo).await?;
        self.store.crawl_repository_done(registry, name, tags.len() as u64, now).await?;
        let visible: Vec<&String> = tags.iter().filter(|t| portolan_oci::name::subject_of_tag(t).is_none()).collect();
        let newest = visible.iter().filter_map(|t| Some((portolan_inventory::semver_of(t)?, *t))).max().map(|(_, t)| t.as_str());
        self.store.repo_summary_tags(registry, name, visible.len() as u64, newest, now).await?;
        Ok(out)
    }

    /// Checks the manifests no tag reaches any more (at most [`MAX_UNTAGGED_CHECKS`]): those
    /// the registry still has stay in the index as untagged — they hold their blobs until the
    /// registry's garbage collection deletes untagged manifests — and those it no longer has
    /// are dropped. Returns how many were dropped.
    async fn untagged(&self, repo: &RepoName) -> Result<usize, CrawlError> {
        let (registry, name) = (self.registry, repo.as_str());
        let mut unreached = self.store.index_unreached(registry, name).await?;
        unreached.truncate(MAX_UNTAGGED_CHECKS);
        if unreached.is_empty() {
            return Ok(0);
        }
        let limited = AtomicBool::new(false);
        let limited = &limited;
        let checked: Vec<(String, portolan_oci::Result<bool>)> = futures::stream::iter(unreached)
            .map(|digest| async move {
                let there = match portolan_oci::name::parse_digest(&digest) {
                    Ok(_) if limited.load(Ordering::Relaxed) => Err(rate_limited()),
                    Ok(d) => {
                        self.budget.take().await;
                        let r = self.verbs.resolve_now(repo, &Reference::Digest(d)).await.map(|r| r.is_some());
                        if r.as_ref().is_err_and(|e| e.kind() == ErrorKind::RateLimited) {
                            limited.store(true, Ordering::Relaxed);
                        }
                        r
                    }
                    Err(_) => Ok(false),
                };
                (digest, there)
            })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        if let Some(e) =
            checked.iter().find_map(|(_, r)| r.as_ref().err().filter(|e| e.kind() == ErrorKind::RateLimited && e.status().is_some()))
        {
            return Err(e.clone().into());
        }
        let gone: Vec<String> = checked.into_iter().filter(|(_, r)| matches!(r, Ok(false))).map(|(d, _)| d).collect();
        Ok(self.store.index_drop(registry, name, &gone).await?)
    }

    /// Looks whether the registry's garbage collection removed what artifacts deleted through
    /// Portolan left behind: for each deleted trash entry of the registry not yet found
    /// collected, the largest of its blobs (a config or layer) no manifest in the index names is
    /// asked for; gone means collected (collection removes every unreferenced blob at once).
    /// At most [`MAX_TRASH_CHECKS`] entries per pass; failures are left for the next pass.
    pub async fn trash_collected(&self) -> Result<usize, CrawlError> {
        let held = self.store.storage_trash_held(self.registry).await?;
        let mut largest: std::collections::BTreeMap<i64, (String, String, u64)> = std::collections::BTreeMap::new();
        for b in held.into_iter().filter(|b| !b.manifest) {
            let e = largest.entry(b.trash_id).or_insert((b.repository.clone(), b.digest.clone(), b.size));
            if b.size > e.2 {
                *e = (b.repository, b.digest, b.size);
            }
        }
        let mut collected = Vec::new();
        for (id, (repository, digest, _)) in largest.into_iter().take(MAX_TRASH_CHECKS) {
            let Ok(repo) = RepoName::parse(&repository) else { continue };
            self.budget.take().await;
            match self.verbs.blob_size(&repo, &digest).await {
                Err(e) if e.kind() == ErrorKind::NotFound => collected.push(id),
                Err(e) if e.kind() == ErrorKind::RateLimited => return Err(e.into()),
                _ => {}
            }
        }
        self.store.trash_collected(&collected, OffsetDateTime::now_utc()).await?;
        Ok(collected.len())
    }

    /// An image's created date from its config (`created`), when its manifest has no
    /// `org.opencontainers.image.created` annotation: one small read per new image, so the
    /// storage history dates what the crawl found as the tag page would. None for anything
    /// else, or when the config cannot be read (the index then dates it by when it was seen).
    /// The registry's 429 is an error (the crawl pauses), and once one came (`limited`) nothing
    /// is asked.
    async fn config_created(
        &self,
        repo: &RepoName,
        doc: &portolan_oci::ManifestDoc,
        limited: &AtomicBool,
    ) -> portolan_oci::Result<Option<OffsetDateTime>> {
        let Ok(portolan_oci::Manifest::Image(m)) = doc.manifest() else { return Ok(None) };
        if m.annotations().as_ref().is_some_and(|a| a.contains_key("org.opencontainers.image.created")) {
            return Ok(None);
        }
        let config = m.config();
        if config.size() > CONFIG_CAP || !config.media_type().to_string().contains("config") {
            return Ok(None);
        }
        if limited.load(Ordering::Relaxed) {
            return Err(rate_limited());
        }
        self.budget.take().await;
        let bytes = match self.verbs.blob(repo, config.digest().as_ref(), Some(CONFIG_CAP)).await {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::RateLimited => {
                limited.store(true, Ordering::Relaxed);
                return Err(e);
            }
            Err(_) => return Ok(None),
        };
        let created = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("created")?.as_str().and_then(portolan_inventory::read::parse_date));
        Ok(created)
    }

    /// Reads `tops` and what they reach that the index does not hold: index entries, and
    /// referrers where the registry has the referrers API (elsewhere referrers hang from
    /// fallback tags, which are crawled as tags). Returns what was read, and the digests that
    /// could not be.
    async fn read_manifests(&self, repo: &RepoName, tops: Vec<String>) -> Result<(Vec<IndexedManifest>, HashSet<String>), CrawlError> {
        let (registry, name) = (self.registry, repo.as_str());
        let mut read: Vec<IndexedManifest> = Vec::new();
        let mut unreadable: HashSet<String> = HashSet::new();
        let mut queued: HashSet<String> = tops.iter().cloned().collect();
        let mut pending = tops;
        let mut referrers_api = true;
        let mut first_level = true;
        let limited = AtomicBool::new(false);
        let limited = &limited;
        while !pending.is_empty() && read.len() < MAX_MANIFESTS_PER_REPOSITORY {
            let batch: Vec<String> = std::mem::take(&mut pending);
            let docs: Vec<(String, portolan_oci::Result<ReadManifest>)> = futures::stream::iter(batch)
                .map(|digest| async move {
                    let doc = match portolan_oci::name::parse_digest(&digest) {
                        Ok(_) if limited.load(Ordering::Relaxed) => Err(rate_limited()),
                        Ok(d) => {
                            self.budget.take().await;
                            let doc = self.verbs.manifest(repo, &Reference::Digest(d)).await;
                            if doc.as_ref().is_err_and(|e| e.kind() == ErrorKind::RateLimited) {
                                limited.store(true, Ordering::Relaxed);
                            }
                            match doc {
                                Ok(doc) => self.config_created(repo, &doc, limited).await.map(|created| (doc, created)),
                                Err(e) => Err(e),
                            }
                        }
                        Err(e) => Err(e),
                    };
                    (digest, doc)
                })
                .buffer_unordered(self.concurrency.max(1))
                .collect()
                .await;
            if let Some(e) =
                docs.iter().find_map(|(_, r)| r.as_ref().err().filter(|e| e.kind() == ErrorKind::RateLimited && e.status().is_some()))
            {
                return Err(e.clone().into());
            }
            let mut next: Vec<String> = Vec::new();
            for (digest, doc) in docs {
                match doc {
                    Ok((doc, created)) => {
                        let Some(mut m) = from_doc(&doc) else {
                            unreadable.insert(digest);
                            continue;
                        };
                        m.created = m.created.or(created);
                        next.extend(m.refs.iter().filter(|r| r.role == RefRole::Manifest).map(|r| r.digest.clone()));
                        read.push(m);
                    }
                    Err(e) if e.kind() == ErrorKind::RateLimited => return Err(e.into()),
                    Err(e) => {
                        tracing::debug!(error = %e, registry, repository = name, %digest, "crawl: reading a manifest");
                        unreadable.insert(digest);
                    }
                }
            }
            // Referrers of what was just read at the top (signatures, SBOMs…), by the API.
            if first_level && referrers_api {
                let subjects: Vec<String> = read.iter().map(|m| m.digest.clone()).collect();
                for subject in subjects {
                    self.budget.take().await;
                    match self.verbs.referrers(repo, &subject, None).await {
                        Ok((list, ReferrersMode::Api)) => next.extend(list.iter().map(|r| r.digest())),
                        Ok((_, _)) => {
                            referrers_api = false;
                            break;
                        }
                        Err(e) if e.kind() == ErrorKind::RateLimited => return Err(e.into()),
                        Err(e) => tracing::debug!(error = %e, registry, repository = name, %subject, "crawl: listing referrers"),
                    }
                }
            }
            first_level = false;
            next.retain(|d| queued.insert(d.clone()));
            let have = self.store.index_known(registry, name, &next).await?;
            pending = next.into_iter().filter(|d| !have.contains(d)).collect();
        }
        Ok((read, unreadable))
    }

    /// One pass over `repositories`: each read into the index, progress written to the store
    /// as it goes. Pauses when the registry answers 429 (then retries the same repository);
    /// stops early when `stop` turns true.
    pub async fn pass(&self, repositories: &[String], stop: &mut tokio::sync::watch::Receiver<bool>) -> PassReport {
        let started = OffsetDateTime::now_utc();
        let taken_before = self.budget.taken();
        let previous = self.store.crawl_state(self.registry).await.ok().flatten();
        let mut state = CrawlState {
            registry: self.registry.to_owned(),
            state: "crawling".into(),
            pass_started: Some(started),
            pass_finished: previous.and_then(|p| p.pass_finished),
            repositories: repositories.len() as u64,
            done: 0,
            requests: 0,
            paused_until: None,
            message: None,
            updated_at: started,
        };
        let mut report = PassReport { repositories: repositories.len(), ..Default::default() };
        self.save(&mut state).await;
        let mut i = 0;
        let mut last_save = std::time::Instant::now();
        while i < repositories.len() {
            if *stop.borrow() {
                report.stopped = true;
                break;
            }
            let name = &repositories[i];
            let Ok(repo) = RepoName::parse(name) else {
                i += 1;
                continue;
            };
            match self.repository(&repo).await {
                Ok(r) => {
                    report.done += 1;
                    report.changed += r.changed;
                    report.read += r.read;
                }
                Err(e) => {
                    if let Some(pause) = e.pause(self.default_pause) {
                        report.pauses += 1;
                        let until = OffsetDateTime::now_utc() + pause;
                        tracing::info!(
                            registry = self.registry,
                            repository = name.as_str(),
                            seconds = pause.as_secs(),
                            "crawl: the registry answered 429; pausing"
                        );
                        state.state = "paused".into();
                        state.paused_until = Some(until);
                        state.message = Some(format!(
                            "The registry asked to slow down (429) while reading {name}; resuming after {} s.",
                            pause.as_secs()
                        ));
                        state.requests = self.budget.taken() - taken_before;
                        self.save(&mut state).await;
                        tokio::select! {
                            _ = tokio::time::sleep(pause) => {}
                            _ = stop.changed() => {}
                        }
                        self.budget.drain();
                        state.state = "crawling".into();
                        state.paused_until = None;
                        // The same repository again.
                        continue;
                    }
                    tracing::warn!(registry = self.registry, repository = name.as_str(), error = %e, "crawl: reading a repository");
                    report.failed += 1;
                    state.message = Some(format!("{name}: {e}"));
                }
            }
            i += 1;
            state.done = i as u64;
            if last_save.elapsed() >= Duration::from_secs(1) || i == repositories.len() {
                state.requests = self.budget.taken() - taken_before;
                self.save(&mut state).await;
                last_save = std::time::Instant::now();
            }
        }
        if !report.stopped
            && let Err(e) = self.trash_collected().await
        {
            tracing::debug!(registry = self.registry, error = %e, "crawl: looking for collected garbage");
        }
        state.requests = self.budget.taken() - taken_before;
        if report.stopped {
            state.state = "stopped".into();
        } else {
            state.state = "waiting".into();
            state.pass_finished = Some(OffsetDateTime::now_utc());
            if report.failed == 0 {
                state.message = None;
            }
        }
        self.save(&mut state).await;
        report
    }

    /// Writes the crawl's state (a failure to is logged: the crawl goes on).
    pub async fn save(&self, state: &mut CrawlState) {
        state.updated_at = OffsetDateTime::now_utc();
        if let Err(e) = self.store.crawl_state_put(state).await {
            tracing::warn!(registry = self.registry, error = %e, "crawl: recording progress");
        }
    }
}

#[cfg(test)]
mod tests {
    use portolan_testkit::runner::run;

    use super::*;
    use portolan_oci::memory::MemoryRegistry;
    use portolan_store::{Location, StoreConfig};

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreConfig::new(Location::Sqlite(dir.path().to_path_buf()))).await.unwrap();
        (store, dir)
    }

    #[test]
    fn reads_only_what_changed() {
        run(async {
            let (store, _dir) = store().await;
            let reg = MemoryRegistry::new();
            let config = serde_json::json!({"os": "linux", "architecture": "amd64"});
            let amd = reg.put_image("app", &[], &config, b"amd", None);
            let arm = reg.put_image("app", &[], &serde_json::json!({"os": "linux", "architecture": "arm64"}), b"arm", None);
            let _index = reg.put_index("app", &["1.0", "latest"], &[(&amd, "linux/amd64"), (&arm, "linux/arm64")]);
            reg.put_image("app", &["0.9"], &config, b"old", None);
            let budget = Budget::unlimited();
            let crawl =
                Crawl { registry: "mem", verbs: &reg, store: &store, budget: &budget, concurrency: 4, default_pause: DEFAULT_PAUSE };
            let repo = RepoName::parse("app").unwrap();
            let first = crawl.repository(&repo).await.unwrap();
            assert_eq!((first.tags, first.changed, first.read), (3, 3, 4), "{first:?}");
            let layer = portolan_oci::manifest::sha256_digest(b"arm");
            let used = store.where_used(&layer, 100).await.unwrap();
            assert_eq!(used.uses.len(), 1);
            assert_eq!(used.uses[0].tags, vec!["1.0".to_owned(), "latest".into()]);

            // Nothing changed: the tag list and a HEAD per tag, no manifest read.
            let taken = budget.taken();
            let again = crawl.repository(&repo).await.unwrap();
            assert_eq!((again.changed, again.read), (0, 0));
            assert_eq!(budget.taken() - taken, 1 + 3);

            // latest moves to a new image: only it is read; 0.9 goes away and is pruned.
            let new = reg.put_image("app", &["latest"], &config, b"new", None);
            reg.delete_manifest(&repo, &reg.tag_digest("app", "0.9").unwrap()).await.unwrap();
            let moved = crawl.repository(&repo).await.unwrap();
            assert_eq!((moved.changed, moved.removed, moved.read, moved.pruned), (1, 1, 1, 1), "{moved:?}");
            assert_eq!(store.index_tags("mem", "app").await.unwrap()["latest"], new);
            let summary = &store.repo_summaries("mem", None).await.unwrap()["app"];
            assert_eq!((summary.tags, summary.newest.as_deref()), (2, Some("1.0")));
        })
    }

    #[test]
    fn a_pass_pauses_when_the_registry_says_429() {
        run(async {
            let (store, _dir) = store().await;
            let reg = MemoryRegistry::new();
            reg.put_image("a", &["1"], &serde_json::json!({}), b"a", None);
            reg.put_image("b", &["1"], &serde_json::json!({}), b"b", None);
            let budget = Budget::unlimited();
            let pause = Duration::from_millis(300);
            let crawl = Crawl { registry: "mem", verbs: &reg, store: &store, budget: &budget, concurrency: 2, default_pause: pause };
            let (_tx, mut stop) = tokio::sync::watch::channel(false);
            let (catalog, complete) = crawl.catalog().await.unwrap();
            assert!(complete);
            reg.refuse_with(Some(portolan_oci::Error::new(ErrorKind::RateLimited, "slow down")));
            // The refusal is lifted while the pass is paused.
            let lift = {
                let reg = reg.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    reg.refuse_with(None);
                }
            };
            let started = std::time::Instant::now();
            let (report, _) = tokio::join!(crawl.pass(&catalog, &mut stop), lift);
            assert!(started.elapsed() >= pause, "it waited");
            assert_eq!((report.done, report.failed, report.pauses), (2, 0, 1), "{report:?}");
            let state = store.crawl_state("mem").await.unwrap().unwrap();
            assert_eq!(state.state, "waiting");
            assert!(state.pass_finished.is_some());
            assert_eq!(store.index_coverage().await.unwrap()[0].repositories, 2);
        })
    }
}
