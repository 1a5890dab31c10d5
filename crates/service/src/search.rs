//! The search box and "where is this digest used": what each registry's search settings are,
//! how a query is read (names, `repository:tag`, digests), and the where-used answer shaped for
//! pages — only ever with places the caller may see.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portolan_access::Identity;
use portolan_inventory::read::TagRead;
use portolan_search::NameFilter;
use portolan_store::{IndexCoverage, RefRole, Store};

use crate::Error;
use crate::catalog::{Catalogs, Summaries, listed_without_catalog};
use crate::{Registry, Services};
use portolan_model::{
    AlsoUsed, CoverageRow, RegistryInfo, SearchGroup, SearchHit, SearchKind, SearchResults, UseRow, UseStep, UsedReferrer, UsedRegistry,
    UsedRepository, WhereUsedView, encode_component, is_digest,
};

/// Places of a digest read from the index at most.
pub const MAX_PLACES: usize = 2000;
/// How long the search box waits for a registry's catalog it does not hold yet.
const CATALOG_WAIT: Duration = Duration::from_millis(1500);
/// How long `repository:tag` waits for tag lists.
const TAGS_WAIT: Duration = Duration::from_millis(1500);
/// Repositories whose tags `repository:tag` looks at, per registry, at most.
const TAG_REPOSITORIES: usize = 10;
/// How long the index's coverage figures are reused.
const COVERAGE_TTL: Duration = Duration::from_secs(10);

/// One registry's search settings, from its configuration.
#[derive(Clone, Debug)]
pub struct RegistrySearch {
    /// Repositories listed for a registry without a catalog (and added to a catalog's list).
    pub repositories: Vec<String>,
    /// The crawl fills the where-used index for it.
    pub crawl: bool,
    /// Registry requests a minute the crawl may make.
    pub crawl_requests_per_minute: u32,
    /// Time between the end of a pass and the start of the next.
    pub crawl_interval: Duration,
}

impl Default for RegistrySearch {
    fn default() -> Self {
        Self { repositories: Vec::new(), crawl: false, crawl_requests_per_minute: 600, crawl_interval: Duration::from_secs(600) }
    }
}

/// Search's share of the state.
pub struct SearchState {
    settings: HashMap<String, RegistrySearch>,
    pub catalogs: Arc<Catalogs>,
    pub summaries: Arc<Summaries>,
    coverage: Mutex<Option<(Instant, Vec<IndexCoverage>)>>,
}

impl SearchState {
    /// With each registry's settings (registries not named get the defaults); `permits`
    /// bounds the background reads of repository columns.
    pub fn new(settings: HashMap<String, RegistrySearch>, permits: usize) -> Self {
        Self { settings, catalogs: Arc::default(), summaries: Arc::new(Summaries::new(permits)), coverage: Mutex::default() }
    }

    pub fn settings(&self, registry: &str) -> RegistrySearch {
        self.settings.get(registry).cloned().unwrap_or_default()
    }

    /// What the index holds per registry (reused for a few seconds: counting is not free).
    pub async fn coverage(&self, store: &Store) -> Vec<IndexCoverage> {
        if let Some((at, c)) = &*self.coverage.lock().unwrap_or_else(|e| e.into_inner())
            && at.elapsed() < COVERAGE_TTL
        {
            return c.clone();
        }
        match store.index_coverage().await {
            Ok(c) => {
                *self.coverage.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), c.clone()));
                c
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the index's coverage");
                Vec::new()
            }
        }
    }
}

impl Default for SearchState {
    fn default() -> Self {
        Self::new(HashMap::new(), 8)
    }
}

/// Writes what was read into the where-used index: the manifests, and where the tags point.
/// Failures are logged (the index is a help, not a record).
pub async fn record_reads(store: &Store, registry: &str, repository: &str, reads: &[TagRead]) {
    if reads.is_empty() {
        return;
    }
    let now = time::OffsetDateTime::now_utc();
    let mut manifests = Vec::new();
    let mut tags = Vec::new();
    for read in reads {
        let (tag, digest, m) = portolan_search::index::from_tag_read(read);
        tags.push((tag, digest));
        manifests.extend(m);
    }
    if let Err(e) = store.index_put(registry, repository, &manifests, now).await {
        tracing::warn!(error = %e, "adding manifests to the index");
        return;
    }
    if let Err(e) = store.index_set_tags(registry, repository, &tags, now).await {
        tracing::warn!(error = %e, "adding tags to the index");
    }
}

/// Writes a manifest opened on its page (and the tag it was opened by) to the index, in the
/// background.
pub fn record_doc(store: &Store, registry: &str, repository: &str, tag: Option<&str>, doc: &portolan_oci::ManifestDoc) {
    let Some(m) = portolan_search::index::from_doc(doc) else { return };
    let (store, registry, repository, tag) = (store.clone(), registry.to_owned(), repository.to_owned(), tag.map(str::to_owned));
    tokio::spawn(async move {
        let now = time::OffsetDateTime::now_utc();
        let digest = m.digest.clone();
        if let Err(e) = store.index_put(&registry, &repository, &[m], now).await {
            tracing::warn!(error = %e, "adding a manifest to the index");
            return;
        }
        if let Some(tag) = tag
            && let Err(e) = store.index_set_tags(&registry, &repository, &[(tag, digest)], now).await
        {
            tracing::warn!(error = %e, "adding a tag to the index");
        }
    });
}

/// Remembers that a repository was opened (the list of a registry without a catalog shows it)
/// and what its tag list says (the repository list's tag count and newest version), in the
/// background.
pub fn record_opened(store: &Store, registry: &str, repository: &str, tags: &[String]) {
    let (count, newest) = crate::catalog::count_and_newest(tags);
    let (store, registry, repository) = (store.clone(), registry.to_owned(), repository.to_owned());
    tokio::spawn(async move {
        let now = time::OffsetDateTime::now_utc();
        if let Err(e) = store.recent_open(&registry, &repository, now).await {
            tracing::warn!(error = %e, "recording an opened repository");
        }
        if let Err(e) = store.repo_summary_tags(&registry, &repository, count, newest.as_deref(), now).await {
            tracing::warn!(error = %e, "recording a repository's tag count");
        }
    });
}

fn visible(state: &Services, who: Option<&Identity>, registry: &str, repository: &str) -> bool {
    state.access.role_for(who, registry, Some(repository)).is_some()
}

/// Places looked at to tell whether a digest shows anywhere for the caller.
const CANDIDATE_PLACES: usize = 50;

/// Whether `digest` is used, or has referrers, somewhere the caller may see (a search candidate:
/// a bounded look, not the whole where-used answer).
async fn seen_anywhere(state: &Services, who: Option<&Identity>, digest: &str) -> Result<bool, Error> {
    let used = state.store.where_used(digest, CANDIDATE_PLACES).await?;
    let shown = |registry: &str, repository: &str| state.registry(registry).is_ok() && visible(state, who, registry, repository);
    Ok(used.uses.iter().any(|u| shown(&u.registry, &u.repository)) || used.referrers.iter().any(|r| shown(&r.registry, &r.repository)))
}

/// The registries the caller may see; none at all for someone not signed in: sign in.
fn visible_registries(state: &Services, who: Option<&Identity>) -> Result<Vec<Registry>, Error> {
    let list: Vec<Registry> =
        state.registries.iter().filter(|r| state.access.role_for(who, &r.info.name, None).is_some()).cloned().collect();
    if list.is_empty() && who.is_none() && !state.registries.is_empty() {
        return Err(Error::SignInRequired("Sign in to search the registries.".into()));
    }
    Ok(list)
}

/// What a query is: a digest (whole, or its start: at least 12 hex digits, `sha256:` optional),
/// `repository:tag`, or a name filter.
pub fn classify(query: &str) -> SearchKind {
    let q = query.trim();
    if q.is_empty() {
        return SearchKind::Empty;
    }
    if digest_prefix(q).is_some() {
        return SearchKind::Digest;
    }
    match q.rsplit_once(':') {
        Some((repo, tag)) if !repo.is_empty() && !tag.is_empty() && !tag.contains('/') => SearchKind::Tag,
        _ => SearchKind::Names,
    }
}

/// The digest (or its start) a query names, normalised to `algorithm:hex`.
fn digest_prefix(q: &str) -> Option<String> {
    let hex_ok = |h: &str| h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let lower = q.to_ascii_lowercase();
    match lower.split_once(':') {
        Some((alg @ ("sha256" | "sha512"), hex)) if hex_ok(hex) && hex.len() >= 4 => Some(format!("{alg}:{hex}")),
        None if lower.len() >= 12 && lower.len() <= 64 && hex_ok(&lower) => Some(format!("sha256:{lower}")),
        _ => None,
    }
}

/// How well a repository name matches what was typed: whole name, last part, start, anywhere.
fn rank(name: &str, q: &str) -> u8 {
    let last = name.rsplit('/').next().unwrap_or(name);
    if name == q || last == q {
        0
    } else if name.starts_with(q) || last.starts_with(q) {
        1
    } else {
        2
    }
}

/// The repositories of a registry as search sees them (its catalog if held or read in time,
/// else its configured and recently opened ones), and a note when that is not everything.
async fn names_of(state: &Services, registry: &Registry) -> (Vec<String>, Option<String>) {
    let search = &state.search;
    let snapshot = match search.catalogs.peek(&registry.info.name) {
        Some(s) => {
            // Refreshes it in the background when old.
            let _ = tokio::time::timeout(Duration::from_millis(1), search.catalogs.get(registry)).await;
            Some(s)
        }
        None => match tokio::time::timeout(CATALOG_WAIT, search.catalogs.get(registry)).await {
            Ok(Ok(s)) => Some(s),
            Ok(Err(e)) => return (Vec::new(), Some(format!("its repositories could not be listed: {}", e.message()))),
            Err(_) => {
                // Carries on in the background: the next search has it.
                let (catalogs, registry) = (search.catalogs.clone(), registry.clone());
                tokio::spawn(async move {
                    let _ = catalogs.get(&registry).await;
                });
                return (Vec::new(), Some("its repository list is still being read; search again in a moment".into()));
            }
        },
    };
    let configured = search.settings(&registry.info.name).repositories;
    match snapshot {
        Some(s) if s.unsupported.is_none() => {
            let names = crate::catalog::with_configured(&s.names, &configured).into_owned();
            let note = (!s.complete).then(|| format!("only its first {} repositories are searched", s.names.len()));
            (names, note)
        }
        _ => {
            let (names, _) = listed_without_catalog(&state.store, &registry.info.name, &configured).await;
            (names, Some("it has no catalog: only its configured and recently opened repositories are searched".into()))
        }
    }
}

/// Answers the search box: `per_registry` hits at most in each registry.
pub async fn search(state: &Services, who: Option<&Identity>, query: &str, per_registry: usize) -> Result<SearchResults, Error> {
    let q = query.trim().to_owned();
    let kind = classify(&q);
    let mut out = SearchResults { query: q.clone(), kind, ..Default::default() };
    let registries = visible_registries(state, who)?;
    match kind {
        SearchKind::Empty => {}
        SearchKind::Digest => {
            let prefix = digest_prefix(&q).unwrap_or_default();
            if is_digest(&prefix) {
                out.used = Some(where_used(state, who, &prefix).await?);
            } else {
                let candidates = state.store.index_digests_with_prefix(&prefix, 50).await?;
                for d in candidates {
                    if seen_anywhere(state, who, &d).await? {
                        out.digests.push(d);
                    }
                    if out.digests.len() >= per_registry.max(10) {
                        break;
                    }
                }
                if out.digests.len() == 1 {
                    out.used = Some(where_used(state, who, &out.digests[0]).await?);
                }
                if out.digests.is_empty() {
                    out.notice = Some(format!("No digest starting with {prefix} is in Portolan's index."));
                }
            }
        }
        SearchKind::Names | SearchKind::Tag => {
            let (repo_part, tag_part) = match kind {
                SearchKind::Tag => q.rsplit_once(':').map(|(r, t)| (r.to_owned(), Some(t.to_owned()))).unwrap_or((q.clone(), None)),
                _ => (q.clone(), None),
            };
            let filter = NameFilter::new(&repo_part)?;
            let tag_filter = tag_part.as_deref().map(NameFilter::new).transpose()?;
            let groups = futures::future::join_all(registries.iter().map(|r| {
                let (filter, tag_filter, repo_part, tag_part) = (&filter, &tag_filter, &repo_part, &tag_part);
                async move {
                    let (names, note) = names_of(state, r).await;
                    let mut matches: Vec<&String> =
                        names.iter().filter(|n| filter.matches_repository(n) && visible(state, who, &r.info.name, n)).collect();
                    let lower = repo_part.to_ascii_lowercase();
                    matches.sort_by_key(|n| (rank(n, &lower), n.len(), (*n).clone()));
                    let group = match (tag_filter, tag_part) {
                        (Some(tf), Some(tp)) => tag_hits(r, &matches, tf, tp, per_registry).await,
                        _ => {
                            let hits: Vec<SearchHit> = matches
                                .iter()
                                .take(per_registry)
                                .map(|n| SearchHit { label: (*n).clone(), href: format!("/r/{}/{n}", r.info.name), detail: None })
                                .collect();
                            let more = matches.len().saturating_sub(hits.len());
                            SearchGroup {
                                registry: r.info.clone(),
                                hits,
                                more,
                                more_href: (more > 0).then(|| format!("/r/{}?q={}", r.info.name, encode_component(repo_part))),
                                note: None,
                            }
                        }
                    };
                    SearchGroup { note: group.note.or(note), ..group }
                }
            }))
            .await;
            out.groups = groups.into_iter().filter(|g| !g.hits.is_empty() || g.note.is_some()).collect();
        }
    }
    Ok(out)
}

/// `repository:tag` in one registry: the tags matching in the repositories matching.
async fn tag_hits(registry: &Registry, repos: &[&String], tags: &NameFilter, typed: &str, limit: usize) -> SearchGroup {
    let mut group = SearchGroup { registry: registry.info.clone(), hits: Vec::new(), more: 0, more_href: None, note: None };
    let looked: Vec<&String> = repos.iter().take(TAG_REPOSITORIES).copied().collect();
    let lists = futures::future::join_all(looked.iter().map(|name| async move {
        let repo = portolan_oci::RepoName::parse(name).ok()?;
        tokio::time::timeout(TAGS_WAIT, registry.client.tags(&repo)).await.ok()?.ok()
    }))
    .await;
    let mut unanswered = 0;
    for (name, list) in looked.iter().zip(lists) {
        let Some(list) = list else {
            unanswered += 1;
            continue;
        };
        let mut found: Vec<&String> = list.iter().filter(|t| tags.matches(t) && portolan_oci::name::subject_of_tag(t).is_none()).collect();
        found.sort_by_key(|t| (t.as_str() != typed, (*t).clone()));
        for t in found {
            if group.hits.len() >= limit {
                group.more += 1;
                continue;
            }
            group.hits.push(SearchHit {
                label: format!("{name}:{t}"),
                href: format!("/r/{}/{name}:{t}", registry.info.name),
                detail: None,
            });
        }
    }
    if repos.len() > TAG_REPOSITORIES {
        group.note = Some(format!("tags were looked for in the first {TAG_REPOSITORIES} of {} matching repositories", repos.len()));
    } else if unanswered > 0 {
        group.note = Some(format!("{unanswered} repositories did not list their tags in time"));
    }
    group
}

fn role_label(role: RefRole) -> &'static str {
    match role {
        RefRole::Manifest => "platform manifest",
        RefRole::Config => "config",
        RefRole::Layer => "layer",
    }
}

/// Where `digest` is used, as far as the index knows, in the places the caller may see; with
/// what the index covers and how fresh it is.
pub async fn where_used(state: &Services, who: Option<&Identity>, digest: &str) -> Result<WhereUsedView, Error> {
    let registries = visible_registries(state, who)?;
    let info: HashMap<&str, &RegistryInfo> = registries.iter().map(|r| (r.info.name.as_str(), &r.info)).collect();
    let used = state.store.where_used(digest, MAX_PLACES).await?;
    let mut grouped: BTreeMap<usize, BTreeMap<String, Vec<UseRow>>> = BTreeMap::new();
    let order: HashMap<&str, usize> = registries.iter().enumerate().map(|(i, r)| (r.info.name.as_str(), i)).collect();
    for u in &used.uses {
        let Some(&i) = order.get(u.registry.as_str()) else { continue };
        if !visible(state, who, &u.registry, &u.repository) {
            continue;
        }
        let base = format!("/r/{}/{}", u.registry, u.repository);
        let path = u
            .path
            .iter()
            .map(|s| UseStep {
                role: role_label(s.role).to_owned(),
                platform: s.platform.clone(),
                digest: s.child.clone(),
                href: match s.role {
                    RefRole::Manifest => format!("{base}@{}", s.child),
                    RefRole::Config | RefRole::Layer => format!("{base}/-/blob/{}", s.child),
                },
            })
            .collect();
        grouped.entry(i).or_default().entry(u.repository.clone()).or_default().push(UseRow {
            tags: u.tags.iter().map(|t| (t.clone(), format!("{base}:{t}"))).collect(),
            manifest: u.manifest.clone(),
            manifest_href: format!("{base}@{}", u.manifest),
            kind: u.kind.clone(),
            path,
        });
    }
    let registries_out: Vec<UsedRegistry> = grouped
        .into_iter()
        .map(|(i, repos)| UsedRegistry {
            registry: registries[i].info.clone(),
            repositories: repos
                .into_iter()
                .map(|(name, mut uses)| {
                    // Tagged first, then by how directly they use it.
                    uses.sort_by_key(|u| (u.tags.is_empty(), u.path.len(), u.manifest.clone()));
                    UsedRepository { href: format!("/r/{}/{name}", registries[i].info.name), name, uses }
                })
                .collect(),
        })
        .collect();
    let referrers = used
        .referrers
        .iter()
        .filter(|r| visible(state, who, &r.registry, &r.repository))
        .filter_map(|r| {
            Some(UsedReferrer {
                registry: (*info.get(r.registry.as_str())?).clone(),
                repository: r.repository.clone(),
                digest: r.digest.clone(),
                kind: r.kind.clone(),
                tags: r.tags.clone(),
                href: format!("/r/{}/{}@{}", r.registry, r.repository, r.digest),
            })
        })
        .collect();
    Ok(WhereUsedView {
        digest: digest.to_owned(),
        registries: registries_out,
        referrers,
        truncated: used.truncated,
        coverage: coverage(state, &registries).await,
        now: time::OffsetDateTime::now_utc().unix_timestamp(),
    })
}

/// What the index holds for each of `registries`, and where their crawls stand.
pub async fn coverage(state: &Services, registries: &[Registry]) -> Vec<CoverageRow> {
    let held = state.search.coverage(&state.store).await;
    let crawls = state.store.crawl_states().await.unwrap_or_default();
    registries
        .iter()
        .map(|r| {
            let c = held.iter().find(|c| c.registry == r.info.name).cloned().unwrap_or_default();
            let s = crawls.iter().find(|s| s.registry == r.info.name);
            CoverageRow {
                registry: r.info.clone(),
                crawl: state.search.settings(&r.info.name).crawl,
                state: s.map(|s| s.state.clone()),
                repositories: c.repositories,
                tags: c.tags,
                manifests: c.manifests,
                crawled: c.crawled,
                oldest_crawl: c.oldest_crawl.map(|t| t.unix_timestamp()),
                last_pass: s.and_then(|s| s.pass_finished).map(|t| t.unix_timestamp()),
                pass_done: s.map(|s| s.done).unwrap_or(0),
                pass_total: s.map(|s| s.repositories).unwrap_or(0),
                paused_until: s.and_then(|s| s.paused_until).map(|t| t.unix_timestamp()),
                message: s.and_then(|s| s.message.clone()),
            }
        })
        .collect()
}

/// The other places `digest` is used (the repository it was opened in left out).
pub async fn also_used(
    state: &Services,
    who: Option<&Identity>,
    registry: &str,
    repository: &str,
    digest: &str,
) -> Result<AlsoUsed, Error> {
    let mut view = where_used(state, who, digest).await?;
    let everywhere = view.places();
    for r in &mut view.registries {
        if r.registry.name == registry {
            r.repositories.retain(|x| x.name != repository);
        }
    }
    view.registries.retain(|r| !r.repositories.is_empty());
    Ok(AlsoUsed { digest: digest.to_owned(), registries: view.registries, everywhere, truncated: view.truncated })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_classified() {
        let hex = "0123456789abcdef".repeat(4);
        assert_eq!(classify(""), SearchKind::Empty);
        assert_eq!(classify("hello"), SearchKind::Names);
        assert_eq!(classify("team/*"), SearchKind::Names);
        assert_eq!(classify("library/hello:1.0"), SearchKind::Tag);
        assert_eq!(classify("localhost:5000/x"), SearchKind::Names);
        assert_eq!(classify(&format!("sha256:{hex}")), SearchKind::Digest);
        assert_eq!(classify("sha256:0123"), SearchKind::Digest);
        assert_eq!(classify(&hex[..12]), SearchKind::Digest);
        assert_eq!(classify("deadbeef"), SearchKind::Names, "short bare hex is a name");
        assert_eq!(digest_prefix(&format!("SHA256:{}", hex.to_uppercase())), Some(format!("sha256:{hex}")));
    }

    #[test]
    fn exact_names_rank_first() {
        assert_eq!(rank("library/hello", "hello"), 0);
        assert_eq!(rank("library/hello-world", "hello"), 1);
        assert_eq!(rank("x/say-hello", "hello"), 2);
    }
}
