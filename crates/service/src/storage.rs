//! Where the bytes are: a registry's storage and each repository's, from the figures the store
//! keeps as the where-used index changes (never by asking the registry again); what a deletion
//! or a retention policy would give back after garbage collection ([`freed_after_gc`]); and how
//! complete and fresh the index behind each figure is ([`Coverage`]).
//!
//! Only what the caller may see is shown, and only that is added up: a registry's total for
//! someone who sees part of it is the total of the repositories they see (each blob once), and
//! says so.

use std::collections::{BTreeMap, HashMap, HashSet};

use portolan_access::Identity;
use portolan_inventory::Inventory;
use portolan_model::{
    ArtifactBytes, ArtifactKind, FreedAfterGc, Freshness, HistoryBar, LayerBytes, RegistryStorage, RepositoryStorage, STORAGE_CHART_BARS,
    StorageQuery, StorageRow, StorageSort, relative_seconds,
};
use portolan_store::{LastPass, RefRole, RepoStorage, TrashBlob};
use time::OffsetDateTime;

use crate::catalog::Snapshot;
use crate::{Registry, Result, Services};

/// Unread repositories named at most.
const UNREAD_SHOWN: usize = 20;
/// Artifacts and layers listed on a repository's page.
const LARGEST: usize = 10;
/// Shared layers listed on a repository's page.
const SHARED_LAYERS: usize = 20;
/// Other repositories named per shared layer.
const SHARED_WITH: usize = 8;
/// Bars of a repository's history at most.
const MAX_BARS: usize = 120;

/// How much of a registry the index covers, and how fresh it is.
pub struct Coverage {
    pub crawl: bool,
    pub state: Option<String>,
    pub last: Option<LastPass>,
    /// The registry's catalog as last listed by this replica, if it has one.
    pub catalog: Option<std::sync::Arc<Snapshot>>,
}

impl Coverage {
    pub async fn of(state: &Services, registry: &str) -> Result<Self> {
        let crawl = state.search.settings(registry).crawl;
        let crawl_state = state.store.crawl_state(registry).await?;
        let last = state.store.crawl_last_pass(registry).await?;
        let catalog = state.search.catalogs.peek(registry).filter(|c| c.unsupported.is_none());
        Ok(Self { crawl, state: crawl_state.map(|s| s.state), last, catalog })
    }

    /// The crawl's last pass went through the whole catalog and read every repository.
    pub fn complete(&self) -> bool {
        self.crawl && self.last.is_some_and(|l| l.catalog && l.failed == 0)
    }

    /// Why the index may not cover the registry (empty: it does).
    pub fn gaps(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.crawl {
            out.push("the crawl is off for this registry (`crawl = true` turns it on): only what people opened is counted".to_owned());
            return out;
        }
        match self.last {
            None => out.push("the crawl has not finished a pass over the registry yet".to_owned()),
            Some(l) => {
                if !l.catalog {
                    out.push(
                        "the registry lists no catalog (or a partial one): only configured, opened and known repositories are read"
                            .to_owned(),
                    );
                }
                if l.failed > 0 {
                    out.push(format!(
                        "{} repositor{} could not be read in the crawl's last pass",
                        l.failed,
                        if l.failed == 1 { "y" } else { "ies" }
                    ));
                }
            }
        }
        out
    }

    /// How a repository's figures were read: `crawl`, `failed` (not in the last pass: older),
    /// `browsing` (only what people opened).
    fn read_by(&self, crawled_at: Option<OffsetDateTime>) -> &'static str {
        match (crawled_at, self.last) {
            (Some(at), Some(last)) if at < last.started => "failed",
            (Some(_), _) => "crawl",
            (None, _) => "browsing",
        }
    }
}

fn seconds(t: Option<OffsetDateTime>) -> Option<i64> {
    t.map(OffsetDateTime::unix_timestamp)
}

fn visible(state: &Services, who: Option<&Identity>, registry: &str, repository: &str) -> bool {
    state.access.role_for(who, registry, Some(repository)).is_some()
}

/// The freshness of figures over `rows` (the repositories shown), naming the repositories of
/// the catalog the caller may see that are not in them.
fn freshness(
    state: &Services,
    who: Option<&Identity>,
    registry: &str,
    coverage: &Coverage,
    rows: &[&RepoStorage],
    crawled: &HashMap<String, OffsetDateTime>,
    now: OffsetDateTime,
) -> Freshness {
    let mut out = Freshness {
        crawl: coverage.crawl,
        state: coverage.state.clone(),
        last_pass: coverage.last.map(|l| l.finished.unix_timestamp()),
        indexed: rows.len() as u64,
        now: now.unix_timestamp(),
        notes: coverage.gaps(),
        ..Default::default()
    };
    out.oldest_read = rows.iter().filter_map(|r| seconds(r.crawled_at.or(r.updated_at))).min();
    let mut unread: Vec<(String, String)> = Vec::new();
    for r in rows {
        if coverage.read_by(r.crawled_at) == "failed" {
            let when = r.crawled_at.map(|t| relative_seconds(t.unix_timestamp(), out.now)).unwrap_or_default();
            unread.push((r.repository.clone(), format!("not read in the crawl's last pass: its figures are from {when}")));
        }
    }
    if let Some(catalog) = &coverage.catalog {
        // Read: in the figures, or read whole by the crawl's last pass (empty ones have no
        // figures).
        let fresh = |name: &str| crawled.get(name).is_some_and(|at| coverage.last.is_none_or(|l| *at >= l.started));
        let held: HashSet<&str> =
            rows.iter().map(|r| r.repository.as_str()).chain(crawled.keys().map(String::as_str).filter(|n| fresh(n))).collect();
        let shown: Vec<&String> = catalog.names.iter().filter(|n| visible(state, who, registry, n)).collect();
        out.catalog = Some(shown.len() as u64);
        let why = if !coverage.crawl {
            "nobody opened it, and the crawl is off"
        } else if coverage.last.is_none() {
            "the crawl has not reached it yet"
        } else {
            "not read yet (new since the crawl's last pass, empty, or unreadable)"
        };
        unread.extend(shown.into_iter().filter(|n| !held.contains(n.as_str())).map(|n| (n.clone(), why.to_owned())));
    }
    out.unread_total = unread.len() as u64;
    unread.truncate(UNREAD_SHOWN);
    out.unread = unread;
    out.complete = coverage.complete() && out.unread_total == 0;
    if out.unread_total > 0 && coverage.complete() {
        out.notes.push(format!(
            "{} repositor{} of the catalog {} not in these figures",
            out.unread_total,
            if out.unread_total == 1 { "y" } else { "ies" },
            if out.unread_total == 1 { "is" } else { "are" }
        ));
    }
    out
}

/// The blobs of deleted artifacts no manifest names any more, per repository (each once).
fn deleted_by_repository(held: &[TrashBlob]) -> HashMap<&str, HashMap<&str, u64>> {
    let mut out: HashMap<&str, HashMap<&str, u64>> = HashMap::new();
    for b in held {
        out.entry(b.repository.as_str()).or_default().insert(b.digest.as_str(), b.size);
    }
    out
}

fn row(r: &RepoStorage, coverage: &Coverage, deleted: Option<&HashMap<&str, u64>>) -> StorageRow {
    StorageRow {
        repository: r.repository.clone(),
        unique_bytes: r.unique_bytes,
        shared_bytes: r.shared_bytes,
        tags: r.tags,
        manifests: r.manifests,
        untagged: r.untagged,
        reclaimable_untagged: r.untagged_bytes,
        reclaimable_deleted: deleted.map(|d| d.values().fold(0u64, |a, b| a.saturating_add(*b))).unwrap_or(0),
        read_at: seconds(r.crawled_at.or(r.updated_at)),
        read_by: coverage.read_by(r.crawled_at).to_owned(),
    }
}

fn sort_rows(rows: &mut [StorageRow], sort: StorageSort, reverse: bool) {
    rows.sort_by(|a, b| {
        let by_size = |f: fn(&StorageRow) -> u64| f(b).cmp(&f(a));
        let order = match sort {
            StorageSort::Stored => by_size(StorageRow::stored),
            StorageSort::Unique => by_size(|r| r.unique_bytes),
            StorageSort::Shared => by_size(|r| r.shared_bytes),
            StorageSort::Reclaimable => by_size(StorageRow::reclaimable),
            StorageSort::Manifests => by_size(|r| r.manifests),
            StorageSort::Untagged => by_size(|r| r.untagged),
            StorageSort::Tags => by_size(|r| r.tags.unwrap_or(0)),
            StorageSort::Name => std::cmp::Ordering::Equal,
        };
        order.then_with(|| a.repository.cmp(&b.repository))
    });
    if reverse {
        rows.reverse();
    }
}

/// Adds up without overflow.
fn sum(values: impl Iterator<Item = u64>) -> u64 {
    values.fold(0, u64::saturating_add)
}

/// A registry's storage as `who` may see it: each repository they may see, and totals over
/// those (each blob once). Asks the registry nothing.
pub async fn registry_storage(
    state: &Services,
    who: Option<&Identity>,
    registry: &Registry,
    query: StorageQuery,
) -> Result<RegistryStorage> {
    let name = registry.info.name.as_str();
    let now = OffsetDateTime::now_utc();
    let all = state.store.storage_repositories(name).await?;
    let (shown, hidden): (Vec<&RepoStorage>, Vec<&RepoStorage>) = all.iter().partition(|r| visible(state, who, name, &r.repository));
    let coverage = Coverage::of(state, name).await?;
    let held = state.store.storage_trash_held(name).await?;
    let deleted = deleted_by_repository(&held);
    let partial = !hidden.is_empty();
    let (stored_bytes, reclaimable_untagged) = if !partial {
        let totals = state.store.storage_totals(name).await?.unwrap_or_default();
        (totals.stored_bytes, totals.untagged_bytes)
    } else {
        totals_of(state, name, &shown, &hidden).await?
    };
    let deleted_shown: HashMap<&str, u64> =
        held.iter().filter(|b| visible(state, who, name, &b.repository)).map(|b| (b.digest.as_str(), b.size)).collect();
    let mut rows: Vec<StorageRow> = shown.iter().map(|r| row(r, &coverage, deleted.get(r.repository.as_str()))).collect();
    // Repositories whose every manifest was deleted: only what they left for garbage collection.
    let named: HashSet<&str> = all.iter().map(|r| r.repository.as_str()).collect();
    for (repository, blobs) in &deleted {
        if !named.contains(repository) && visible(state, who, name, repository) {
            rows.push(StorageRow {
                repository: (*repository).to_owned(),
                reclaimable_deleted: sum(blobs.values().copied()),
                read_by: "trash".into(),
                ..Default::default()
            });
        }
    }
    let mut out = RegistryStorage {
        registry: registry.info.clone(),
        partial,
        stored_bytes,
        reclaimable_untagged,
        reclaimable_deleted: sum(deleted_shown.values().copied()),
        repositories: rows.len() as u64,
        tags: sum(rows.iter().map(|r| r.tags.unwrap_or(0))),
        manifests: sum(rows.iter().map(|r| r.manifests)),
        untagged: sum(rows.iter().map(|r| r.untagged)),
        freshness: freshness(state, who, name, &coverage, &shown, &state.store.crawl_repositories(name).await?, now),
        ..Default::default()
    };
    sort_rows(&mut rows, StorageSort::Stored, false);
    out.largest = rows.iter().take(STORAGE_CHART_BARS).cloned().collect();
    sort_rows(&mut rows, query.sort, query.reverse);
    let start = (query.page - 1).saturating_mul(query.per_page);
    out.rows = rows.into_iter().skip(start).take(query.per_page).collect();
    out.query = query;
    if partial {
        out.freshness.notes.insert(0, "These figures are of the repositories you may see; the totals count only those.".into());
    }
    Ok(out)
}

/// Stored and untagged bytes over the repositories `shown`, each blob once: their own figures,
/// less each blob several of them name counted more than once — worked out from whichever of
/// `shown` and `hidden` is smaller.
async fn totals_of(state: &Services, registry: &str, shown: &[&RepoStorage], hidden: &[&RepoStorage]) -> Result<(u64, u64)> {
    let clamp = |v: i128| v.clamp(0, i128::from(u64::MAX)) as u64;
    let names = |rows: &[&RepoStorage]| rows.iter().map(|r| r.repository.clone()).collect::<Vec<_>>();
    if shown.len() <= hidden.len() {
        let mut stored: i128 = shown.iter().map(|r| i128::from(r.unique_bytes) + i128::from(r.shared_bytes)).sum();
        let mut untagged: i128 = shown.iter().map(|r| i128::from(r.untagged_bytes)).sum();
        for b in state.store.storage_shared_held(registry, &names(shown)).await?.values() {
            let extra = i128::from(b.size) * (i128::from(b.held_by) - 1);
            stored -= extra;
            if b.untagged {
                untagged -= extra;
            }
        }
        Ok((clamp(stored), clamp(untagged)))
    } else {
        let totals = state.store.storage_totals(registry).await?.unwrap_or_default();
        // Bytes only hidden repositories name.
        let mut stored: i128 = hidden.iter().map(|r| i128::from(r.unique_bytes)).sum();
        let mut untagged: i128 = hidden.iter().map(|r| i128::from(r.untagged_bytes)).sum();
        for b in state.store.storage_shared_held(registry, &names(hidden)).await?.values() {
            let size = i128::from(b.size);
            let all_hidden = b.held_by == b.repositories;
            if all_hidden {
                stored += size;
            }
            if b.untagged {
                untagged -= size * i128::from(b.held_by);
                if all_hidden {
                    untagged += size;
                }
            }
        }
        Ok((clamp(i128::from(totals.stored_bytes) - stored), clamp(i128::from(totals.untagged_bytes) - untagged)))
    }
}

/// The kind the index records (`helm-chart`…) back as a kind.
fn kind_of(key: &str) -> ArtifactKind {
    [
        ArtifactKind::Index,
        ArtifactKind::Image,
        ArtifactKind::HelmChart,
        ArtifactKind::Sbom,
        ArtifactKind::Signature,
        ArtifactKind::Attestation,
        ArtifactKind::BuildAttestation,
    ]
    .into_iter()
    .find(|k| k.key() == key)
    .unwrap_or(ArtifactKind::Other)
}

/// A manifest's date for its history: its created date, else (an index) its children's earliest,
/// else when Portolan first saw it (the flag says so).
fn dated(contents: &portolan_store::RepoContents) -> HashMap<&str, (i64, bool)> {
    let mut created: HashMap<&str, Option<i64>> =
        contents.manifests.iter().map(|m| (m.digest.as_str(), m.created.map(OffsetDateTime::unix_timestamp))).collect();
    let undated: HashSet<&str> = contents.manifests.iter().filter(|m| m.created.is_none()).map(|m| m.digest.as_str()).collect();
    for (parent, child, role, _) in &contents.refs {
        if *role != RefRole::Manifest || !undated.contains(parent.as_str()) {
            continue;
        }
        let child_date = created.get(child.as_str()).copied().flatten();
        if let (Some(slot), Some(c)) = (created.get_mut(parent.as_str()), child_date)
            && slot.is_none_or(|p| c < p)
        {
            *slot = Some(c);
        }
    }
    contents
        .manifests
        .iter()
        .map(|m| {
            let d = m.digest.as_str();
            match created.get(d).copied().flatten() {
                Some(t) => (d, (t, false)),
                None => (d, (m.indexed_at.unix_timestamp(), true)),
            }
        })
        .collect()
}

/// The blobs each manifest of `contents` takes (itself and what it names), each once.
fn blobs_of(contents: &portolan_store::RepoContents) -> BTreeMap<&str, Vec<(&str, u64)>> {
    let mut out: BTreeMap<&str, Vec<(&str, u64)>> = BTreeMap::new();
    for m in &contents.manifests {
        out.entry(m.digest.as_str()).or_default().push((m.digest.as_str(), m.bytes));
    }
    for (parent, child, _, size) in &contents.refs {
        let list = out.entry(parent.as_str()).or_default();
        if !list.iter().any(|(d, _)| d == child) {
            list.push((child.as_str(), size.unwrap_or(0)));
        }
    }
    out
}

/// The first second of the period holding `t`, and its label.
fn period(t: i64, granularity: &str) -> (i64, String) {
    let at = OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let date = at.date();
    match granularity {
        "week" => {
            let monday = date - time::Duration::days(i64::from(date.weekday().number_days_from_monday()));
            let (year, week, _) = monday.to_iso_week_date();
            (monday.midnight().assume_utc().unix_timestamp(), format!("{year}-W{week:02}"))
        }
        "year" => {
            let first = time::Date::from_calendar_date(date.year(), time::Month::January, 1).unwrap_or(date);
            (first.midnight().assume_utc().unix_timestamp(), format!("{}", date.year()))
        }
        _ => {
            let first = date.replace_day(1).unwrap_or(date);
            (first.midnight().assume_utc().unix_timestamp(), format!("{}-{:02}", date.year(), u8::from(date.month())))
        }
    }
}

/// The period after the one starting at `start`.
fn next_period(start: i64, granularity: &str) -> i64 {
    let at = OffsetDateTime::from_unix_timestamp(start).unwrap_or(OffsetDateTime::UNIX_EPOCH).date();
    let next = match granularity {
        "week" => at + time::Duration::days(7),
        "year" => time::Date::from_calendar_date(at.year() + 1, time::Month::January, 1).unwrap_or(at),
        _ => {
            let (y, m) =
                if at.month() == time::Month::December { (at.year() + 1, time::Month::January) } else { (at.year(), at.month().next()) };
            time::Date::from_calendar_date(y, m, 1).unwrap_or(at)
        }
    };
    next.midnight().assume_utc().unix_timestamp()
}

/// Bytes added per period: each blob counted in the period of the earliest date of the
/// manifests naming it (see [`dated`]). Returns the bars (every period from the first to the
/// last, empty ones too), their granularity, and how many of the bytes were dated by when
/// Portolan first saw them.
pub fn history(contents: &portolan_store::RepoContents) -> (Vec<HistoryBar>, String, u64) {
    let dates = dated(contents);
    let blobs = blobs_of(contents);
    let mut first: HashMap<&str, ((i64, bool), u64)> = HashMap::new();
    for (m, list) in &blobs {
        let Some(date) = dates.get(m).copied() else { continue };
        for (d, size) in list {
            let e = first.entry(*d).or_insert((date, *size));
            if date.0 < e.0.0 {
                e.0 = date;
            }
        }
    }
    let first_seen = sum(first.values().filter(|((_, seen), _)| *seen).map(|(_, s)| *s));
    let (Some(min), Some(max)) = (first.values().map(|((t, _), _)| *t).min(), first.values().map(|((t, _), _)| *t).max()) else {
        return (Vec::new(), "month".into(), 0);
    };
    let span_days = (max - min) / 86_400;
    let granularity = if span_days <= 26 * 7 {
        "week"
    } else if span_days <= 31 * MAX_BARS as i64 - 31 {
        "month"
    } else {
        "year"
    };
    let mut bars: Vec<HistoryBar> = Vec::new();
    let mut start = period(min, granularity).0;
    let end = period(max, granularity).0;
    while start <= end && bars.len() < MAX_BARS * 2 {
        let (s, label) = period(start, granularity);
        bars.push(HistoryBar { label, start: s, bytes: 0, manifests: 0 });
        start = next_period(s, granularity);
    }
    let index: HashMap<i64, usize> = bars.iter().enumerate().map(|(i, b)| (b.start, i)).collect();
    for ((t, _), size) in first.values() {
        if let Some(&i) = index.get(&period(*t, granularity).0) {
            bars[i].bytes = bars[i].bytes.saturating_add(*size);
        }
    }
    for (t, _) in dates.values() {
        if let Some(&i) = index.get(&period(*t, granularity).0) {
            bars[i].manifests += 1;
        }
    }
    (bars, granularity.into(), first_seen)
}

/// A repository's storage page for `who` (who may see it: the caller checked).
pub async fn repository_storage(
    state: &Services,
    who: Option<&Identity>,
    registry: &Registry,
    repository: &str,
) -> Result<RepositoryStorage> {
    let name = registry.info.name.as_str();
    let now = OffsetDateTime::now_utc();
    let coverage = Coverage::of(state, name).await?;
    let figures = state.store.storage_repository(name, repository).await?;
    let held = state.store.storage_trash_held(name).await?;
    let deleted = deleted_by_repository(&held);
    let contents = state.store.storage_contents(name, repository).await?;
    let (history, granularity, first_seen_bytes) = history(&contents);
    let shown: Vec<&RepoStorage> = figures.iter().collect();
    let mut freshness = freshness(state, who, name, &coverage, &shown, &HashMap::new(), now);
    // The page is about one repository: the registry's other unread ones are not its concern.
    freshness.unread.retain(|(r, _)| r == repository);
    freshness.unread_total = freshness.unread.len() as u64;
    freshness.catalog = None;
    freshness.complete = coverage.complete() && figures.as_ref().is_some_and(|f| coverage.read_by(f.crawled_at) == "crawl");
    if figures.is_none() {
        freshness.notes.push("Portolan's index holds nothing of this repository yet.".into());
    }
    // Largest artifacts: the manifests nothing else in the repository lists or refers to.
    let blobs = blobs_of(&contents);
    let listed: HashSet<&str> =
        contents.refs.iter().filter(|(_, _, role, _)| *role == RefRole::Manifest).map(|(_, c, _, _)| c.as_str()).collect();
    let manifests: HashSet<&str> = contents.manifests.iter().map(|m| m.digest.as_str()).collect();
    let mut tags: HashMap<&str, Vec<String>> = HashMap::new();
    for (t, d) in &contents.tags {
        tags.entry(d.as_str()).or_default().push(t.clone());
    }
    let mut artifacts: Vec<ArtifactBytes> = contents
        .manifests
        .iter()
        .filter(|m| !listed.contains(m.digest.as_str()) && m.subject.as_deref().is_none_or(|s| !manifests.contains(s)))
        .map(|m| {
            // Itself and what it names, down its index entries, each blob once.
            let mut seen: HashSet<&str> = HashSet::new();
            let mut bytes = 0u64;
            let mut stack = vec![m.digest.as_str()];
            while let Some(d) = stack.pop() {
                for (b, size) in blobs.get(d).into_iter().flatten() {
                    if seen.insert(b) {
                        bytes = bytes.saturating_add(*size);
                        if *b != d && manifests.contains(b) {
                            stack.push(b);
                        }
                    }
                }
            }
            ArtifactBytes {
                digest: m.digest.clone(),
                kind: kind_of(&m.kind),
                tags: tags.get(m.digest.as_str()).cloned().unwrap_or_default(),
                bytes,
                created: seconds(m.created),
                untagged: !m.reached,
            }
        })
        .collect();
    artifacts.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.digest.cmp(&b.digest)));
    artifacts.truncate(LARGEST);
    // Layers and configs (not manifests), largest first, with who else names them.
    let roles: HashMap<&str, RefRole> = contents.refs.iter().map(|(_, c, role, _)| (c.as_str(), *role)).collect();
    let is_blob = |d: &str| !manifests.contains(d) && roles.get(d).is_some_and(|r| *r != RefRole::Manifest);
    let largest: Vec<(String, portolan_store::BlobCount)> = state
        .store
        .storage_repo_blobs(name, repository, false, 4 * LARGEST + manifests.len().min(200))
        .await?
        .into_iter()
        .filter(|(d, _)| is_blob(d))
        .take(LARGEST)
        .collect();
    let shared: Vec<(String, portolan_store::BlobCount)> = state
        .store
        .storage_repo_blobs(name, repository, true, 4 * SHARED_LAYERS + manifests.len().min(200))
        .await?
        .into_iter()
        .filter(|(d, _)| is_blob(d))
        .take(SHARED_LAYERS)
        .collect();
    let wanted: Vec<String> = largest
        .iter()
        .chain(&shared)
        .filter(|(_, c)| c.repositories > 1)
        .map(|(d, _)| d.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let holders = state.store.storage_holders(name, &wanted, 200).await?;
    let layer = |(d, c): &(String, portolan_store::BlobCount)| LayerBytes {
        digest: d.clone(),
        role: if roles.get(d.as_str()) == Some(&RefRole::Config) { "config" } else { "layer" }.into(),
        size: c.size,
        shared: c.repositories > 1,
        shared_with: holders
            .get(d)
            .into_iter()
            .flatten()
            .filter(|r| r.as_str() != repository && visible(state, who, name, r))
            .take(SHARED_WITH)
            .cloned()
            .collect(),
    };
    Ok(RepositoryStorage {
        registry: registry.info.clone(),
        repository: repository.to_owned(),
        indexed: figures.is_some(),
        figures: figures.as_ref().map(|f| row(f, &coverage, deleted.get(repository))).unwrap_or_else(|| StorageRow {
            repository: repository.to_owned(),
            read_by: "browsing".into(),
            ..Default::default()
        }),
        history,
        granularity,
        first_seen_bytes,
        largest_artifacts: artifacts,
        largest_layers: largest.iter().map(layer).collect(),
        shared_layers: shared.iter().map(layer).collect(),
        freshness,
        chart: String::new(),
    })
}

/// A manifest a deletion removes, with the blobs it takes (itself and what it names).
#[derive(Clone, Debug)]
pub struct Removed {
    pub repository: String,
    pub digest: String,
    pub blobs: Vec<(String, u64)>,
}

/// The blobs a manifest of `inventory` takes: itself, its config and layers, an index's entries
/// (sized as read) — each once, as the index records them.
pub fn inventory_blobs(inventory: &Inventory, digest: &str) -> Vec<(String, u64)> {
    let Some(m) = inventory.manifests.get(digest) else { return Vec::new() };
    let mut seen = HashSet::new();
    std::iter::once((m.digest.clone(), m.manifest_size))
        .chain(m.blobs.iter().map(|b| (b.digest.clone(), b.size)))
        .chain(m.children.iter().map(|c| (c.clone(), inventory.manifests.get(c).map(|x| x.manifest_size).unwrap_or(0))))
        .filter(|(d, _)| seen.insert(d.clone()))
        .collect()
}

/// The blobs the manifests of `inventory` that stay (all but `removed`) take.
pub fn kept_blobs(inventory: &Inventory, removed: &HashSet<&str>) -> HashSet<String> {
    inventory
        .manifests
        .values()
        .filter(|m| !m.missing && !removed.contains(m.digest.as_str()))
        .flat_map(|m| inventory_blobs(inventory, &m.digest).into_iter().map(|(d, _)| d))
        .collect()
}

/// What garbage collection frees after `removed` go: the blobs they take that no manifest
/// staying in the registry names — not `kept` (named by manifests that stay, as just read), and
/// not named in the index by any manifest outside `removed`, in any repository. Each blob once.
pub struct Freed {
    /// The blobs freed, with their sizes.
    pub blobs: HashMap<String, u64>,
    pub figure: FreedAfterGc,
}

pub async fn freed_after_gc(state: &Services, registry: &str, removed: &[Removed], kept: &HashSet<String>) -> Result<Freed> {
    let mut candidates: HashMap<String, u64> = HashMap::new();
    for r in removed {
        for (d, size) in &r.blobs {
            if !kept.contains(d) {
                candidates.entry(d.clone()).or_insert(*size);
            }
        }
    }
    // The removed manifests the index holds: their names of each blob are not "elsewhere".
    let mut by_repository: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in removed {
        by_repository.entry(r.repository.as_str()).or_default().push(r.digest.clone());
    }
    let mut indexed: HashSet<(&str, &str)> = HashSet::new();
    for (repository, digests) in &by_repository {
        let known = state.store.index_known(registry, repository, digests).await?;
        for r in removed.iter().filter(|r| r.repository == *repository && known.contains(&r.digest)) {
            indexed.insert((r.repository.as_str(), r.digest.as_str()));
        }
    }
    let mut named_by_removed: HashMap<&str, u64> = HashMap::new();
    for r in removed.iter().filter(|r| indexed.contains(&(r.repository.as_str(), r.digest.as_str()))) {
        for (d, _) in &r.blobs {
            *named_by_removed.entry(d.as_str()).or_default() += 1;
        }
    }
    let digests: Vec<String> = candidates.keys().cloned().collect();
    let counts = state.store.storage_blob_counts(registry, &digests).await?;
    let blobs: HashMap<String, u64> = candidates
        .into_iter()
        .filter(|(d, _)| counts.get(d).is_none_or(|c| c.refs <= named_by_removed.get(d.as_str()).copied().unwrap_or(0)))
        .collect();
    let coverage = Coverage::of(state, registry).await?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let as_of = coverage.last.map(|l| l.finished.unix_timestamp());
    let complete = coverage.complete();
    let note = if complete {
        format!(
            "Worked out against Portolan's index of the whole registry (its last full pass ended {}): the blobs these manifests take that no other manifest, tagged or not, in any repository names. Anything pushed since that uses them keeps them.",
            as_of.map(|t| relative_seconds(t, now)).unwrap_or_default()
        )
    } else {
        format!(
            "At most this: worked out against Portolan's index, which does not cover the whole registry ({}); repositories it has not read may use some of these blobs.",
            coverage.gaps().join("; ")
        )
    };
    Ok(Freed { figure: FreedAfterGc { bytes: sum(blobs.values().copied()), complete, note, as_of }, blobs })
}

/// Each registry's figures for `/metrics`: stored bytes, reclaimable bytes (untagged, deleted)
/// and the end of the crawl's last complete pass — of the whole registry.
pub struct RegistryGauges {
    pub registry: String,
    pub stored_bytes: u64,
    pub reclaimable_untagged: u64,
    pub reclaimable_deleted: u64,
    pub last_full_pass: Option<i64>,
    pub complete: bool,
}

pub async fn gauges(state: &Services) -> Result<Vec<RegistryGauges>> {
    let totals = state.store.storage_totals_all().await?;
    let mut out = Vec::new();
    for r in state.registries.iter() {
        let name = r.info.name.as_str();
        let t = totals.iter().find(|t| t.registry == name).cloned().unwrap_or_default();
        let held = state.store.storage_trash_held(name).await?;
        let deleted: HashMap<&str, u64> = held.iter().map(|b| (b.digest.as_str(), b.size)).collect();
        let coverage = Coverage::of(state, name).await?;
        out.push(RegistryGauges {
            registry: name.to_owned(),
            stored_bytes: t.stored_bytes,
            reclaimable_untagged: t.untagged_bytes,
            reclaimable_deleted: sum(deleted.values().copied()),
            last_full_pass: coverage.last.map(|l| l.finished.unix_timestamp()),
            complete: coverage.complete(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portolan_store::{ContentManifest, RepoContents};
    use time::macros::datetime;

    fn manifest(d: &str, bytes: u64, created: Option<OffsetDateTime>) -> ContentManifest {
        ContentManifest {
            digest: d.into(),
            kind: "image".into(),
            subject: None,
            bytes,
            created,
            indexed_at: OffsetDateTime::UNIX_EPOCH,
            reached: true,
        }
    }

    #[test]
    fn history_counts_each_blob_in_its_first_period() {
        let jan = datetime!(2025-01-10 00:00 UTC);
        let mar = datetime!(2025-03-05 00:00 UTC);
        let mut seen_late = manifest("late", 7, None);
        seen_late.indexed_at = datetime!(2025-02-12 00:00 UTC);
        let contents = RepoContents {
            manifests: vec![manifest("a", 10, Some(jan)), manifest("b", 20, Some(mar)), manifest("i", 5, None), seen_late],
            refs: vec![
                ("a".into(), "base".into(), RefRole::Layer, Some(1000)),
                ("b".into(), "base".into(), RefRole::Layer, Some(1000)),
                ("b".into(), "new".into(), RefRole::Layer, Some(300)),
                ("i".into(), "b".into(), RefRole::Manifest, Some(20)),
                ("late".into(), "base".into(), RefRole::Layer, Some(1000)),
            ],
            tags: Vec::new(),
        };
        let (bars, granularity, first_seen) = history(&contents);
        // Short of 26 weeks: weeks, every one from the first to the last.
        assert_eq!(granularity, "week");
        assert_eq!(bars.first().map(|b| b.bytes), Some(10 + 1000), "a and the base layer, in a's week");
        assert_eq!(bars.last().map(|b| b.bytes), Some(20 + 300 + 5), "b, its new layer and the index dated by b");
        assert_eq!(bars.iter().map(|b| b.bytes).sum::<u64>(), 10 + 1000 + 20 + 300 + 5 + 7);
        assert_eq!(bars.len(), 9, "{bars:?}");
        assert_eq!(first_seen, 7, "only the undated manifest's own bytes are dated by when it was seen");
        assert_eq!(bars.iter().map(|b| b.manifests).sum::<u64>(), 4);
        assert_eq!(bars[0].label, "2025-W02");
    }

    #[test]
    fn periods_are_calendar_months_weeks_and_years() {
        let t = datetime!(2024-12-31 13:00 UTC).unix_timestamp();
        assert_eq!(period(t, "month").1, "2024-12");
        assert_eq!(period(t, "week").1, "2025-W01", "ISO weeks: 31 December 2024 is in week 1 of 2025");
        assert_eq!(period(t, "year").1, "2024");
        assert_eq!(next_period(period(t, "month").0, "month"), datetime!(2025-01-01 00:00 UTC).unix_timestamp());
    }
}
