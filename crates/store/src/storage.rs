//! Storage figures: where a registry's bytes are, kept up to date as the where-used index
//! records and forgets manifests — never recounted per page view.
//!
//! A registry stores each blob once (a config, a layer, a manifest's own bytes) however many
//! manifests and repositories name it. Three tables follow the index:
//! - `storage_blobs`: each blob of a registry with its size, how many repositories and
//!   manifests name it, and how many of those manifests a tag reaches (`live`);
//! - `storage_blob_repos`: the same per repository;
//! - `storage_repositories`: each repository's bytes only it names (`unique`), bytes other
//!   repositories name too (`shared`), bytes only untagged manifests name anywhere in the
//!   registry (`untagged`: what garbage collection with untagged deletion would free), its
//!   manifests and untagged manifests;
//! - `storage_registries`: each registry's total (each blob once) and untagged bytes.
//!
//! Every change of the index goes through one transaction that first updates the registry's
//! row in `storage_registries` (so one writer per registry at a time, on both engines), then
//! works out which manifests a tag reaches in the repository it changed, then applies the
//! changes of blob counts ([`apply`]): the blob and repository rows touched are rewritten, and
//! the repositories whose figures depend on a blob that changed class (unique ↔ shared, live ↔
//! untagged) are adjusted by that blob's size. Sums are made here, saturating, not in SQL: a
//! registry's sizes are untrusted.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use time::OffsetDateTime;

use crate::search::RefRole;
use crate::{Result, Store, from_millis, millis, placeholders};

/// Rows per statement.
const CHUNK: usize = 100;
/// Values per `IN` list of a lookup by key (well under both engines' parameter limits).
const BIG_CHUNK: usize = 1000;

/// A change of how many manifests of a repository name a blob (`refs`), and of how many of
/// those a tag reaches (`live`).
#[derive(Clone, Debug)]
pub(crate) struct BlobChange {
    pub repository: String,
    pub digest: String,
    pub size: u64,
    pub refs: i64,
    pub live: i64,
}

fn stored(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

fn read(v: i64) -> u64 {
    v.max(0) as u64
}

/// `from + delta`, saturating at 0 and `i64::MAX`.
fn moved(from: i64, delta: i128) -> i64 {
    (i128::from(from) + delta).clamp(0, i128::from(i64::MAX)) as i64
}

/// Makes the transaction the registry's only storage writer until it ends (its row is updated
/// first: Postgres locks it, SQLite takes its write lock).
pub(crate) async fn lock(conn: &mut AnyConnection, registry: &str, at: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO storage_registries (registry, stored_bytes, blobs, untagged_bytes, updated_at) VALUES ($1, 0, 0, 0, $2) \
         ON CONFLICT (registry) DO UPDATE SET updated_at = excluded.updated_at",
    )
    .bind(registry)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The blobs each of `digests` (manifests of a repository in the index) takes, each once.
pub(crate) async fn manifest_blobs(
    conn: &mut AnyConnection,
    registry: &str,
    repository: &str,
    digests: &[String],
) -> Result<HashMap<String, Vec<(String, u64)>>> {
    let mut out: HashMap<String, Vec<(String, u64)>> = HashMap::new();
    for chunk in digests.chunks(CHUNK) {
        let sql = format!(
            "SELECT digest, bytes FROM index_manifests WHERE registry = $1 AND repository = $2 AND digest IN ({})",
            placeholders(3, chunk.len())
        );
        let mut q = sqlx::query_as::<_, (String, i64)>(&sql).bind(registry).bind(repository);
        for d in chunk {
            q = q.bind(d.as_str());
        }
        for (d, bytes) in q.fetch_all(&mut *conn).await? {
            out.entry(d.clone()).or_default().push((d, read(bytes)));
        }
        let sql = format!(
            "SELECT parent, child, size FROM index_refs WHERE registry = $1 AND repository = $2 AND parent IN ({}) ORDER BY parent, position",
            placeholders(3, chunk.len())
        );
        let mut q = sqlx::query_as::<_, (String, String, Option<i64>)>(&sql).bind(registry).bind(repository);
        for d in chunk {
            q = q.bind(d.as_str());
        }
        for (parent, child, size) in q.fetch_all(&mut *conn).await? {
            let blobs = out.entry(parent).or_default();
            if !blobs.iter().any(|(d, _)| *d == child) {
                blobs.push((child, size.map(read).unwrap_or(0)));
            }
        }
    }
    Ok(out)
}

/// Works out which manifests of a repository a tag reaches (directly, as an index's entry, or
/// as a referrer of something reached), records those that changed, and returns the changes of
/// their blobs' live counts.
pub(crate) async fn reach(conn: &mut AnyConnection, registry: &str, repository: &str) -> Result<Vec<BlobChange>> {
    let tagged: Vec<String> = sqlx::query_scalar("SELECT DISTINCT digest FROM index_tags WHERE registry = $1 AND repository = $2")
        .bind(registry)
        .bind(repository)
        .fetch_all(&mut *conn)
        .await?;
    let manifests: Vec<(String, Option<String>, i64)> =
        sqlx::query_as("SELECT digest, subject, reached FROM index_manifests WHERE registry = $1 AND repository = $2")
            .bind(registry)
            .bind(repository)
            .fetch_all(&mut *conn)
            .await?;
    let edges: Vec<(String, String)> =
        sqlx::query_as("SELECT parent, child FROM index_refs WHERE registry = $1 AND repository = $2 AND role = $3")
            .bind(registry)
            .bind(repository)
            .bind(RefRole::Manifest.as_str())
            .fetch_all(&mut *conn)
            .await?;
    let reached = reachable(&tagged, manifests.iter().map(|(d, s, _)| (d.as_str(), s.as_deref())), &edges);
    let mut on = Vec::new();
    let mut off = Vec::new();
    for (d, _, was) in &manifests {
        match (reached.contains(d.as_str()), *was != 0) {
            (true, false) => on.push(d.clone()),
            (false, true) => off.push(d.clone()),
            _ => {}
        }
    }
    if on.is_empty() && off.is_empty() {
        return Ok(Vec::new());
    }
    for (list, value) in [(&on, 1i64), (&off, 0i64)] {
        for chunk in list.chunks(CHUNK) {
            let sql = format!(
                "UPDATE index_manifests SET reached = $3 WHERE registry = $1 AND repository = $2 AND digest IN ({})",
                placeholders(4, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(registry).bind(repository).bind(value);
            for d in chunk {
                q = q.bind(d.as_str());
            }
            q.execute(&mut *conn).await?;
        }
    }
    let flipped: Vec<String> = on.iter().chain(&off).cloned().collect();
    let blobs = manifest_blobs(conn, registry, repository, &flipped).await?;
    let on: HashSet<&String> = on.iter().collect();
    let mut changes = Vec::new();
    for (m, list) in blobs {
        let live = if on.contains(&m) { 1 } else { -1 };
        changes.extend(list.into_iter().map(|(digest, size)| BlobChange {
            repository: repository.to_owned(),
            digest,
            size,
            refs: 0,
            live,
        }));
    }
    Ok(changes)
}

/// The manifests a tag reaches: from the tagged digests, down index entries and over to the
/// referrers of what is reached.
pub(crate) fn reachable<'a>(
    tagged: &'a [String],
    manifests: impl Iterator<Item = (&'a str, Option<&'a str>)>,
    edges: &'a [(String, String)],
) -> HashSet<&'a str> {
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for (p, c) in edges {
        children.entry(p.as_str()).or_default().push(c.as_str());
    }
    let mut referrers: HashMap<&str, Vec<&str>> = HashMap::new();
    for (d, s) in manifests {
        if let Some(s) = s {
            referrers.entry(s).or_default().push(d);
        }
    }
    let mut reached: HashSet<&str> = HashSet::new();
    let mut queue: VecDeque<&str> = tagged.iter().map(String::as_str).collect();
    while let Some(d) = queue.pop_front() {
        if !reached.insert(d) {
            continue;
        }
        for next in children.get(d).into_iter().flatten().chain(referrers.get(d).into_iter().flatten()) {
            queue.push_back(next);
        }
    }
    reached
}

/// Removes manifests of a repository from the index (their rows and what they name), and
/// returns the changes of their blobs' counts.
pub(crate) async fn remove(conn: &mut AnyConnection, registry: &str, repository: &str, digests: &[String]) -> Result<Vec<BlobChange>> {
    let mut reached: HashMap<String, i64> = HashMap::new();
    for chunk in digests.chunks(CHUNK) {
        let sql = format!(
            "SELECT digest, reached FROM index_manifests WHERE registry = $1 AND repository = $2 AND digest IN ({})",
            placeholders(3, chunk.len())
        );
        let mut q = sqlx::query_as::<_, (String, i64)>(&sql).bind(registry).bind(repository);
        for d in chunk {
            q = q.bind(d.as_str());
        }
        reached.extend(q.fetch_all(&mut *conn).await?);
    }
    let present: Vec<String> = reached.keys().cloned().collect();
    let blobs = manifest_blobs(conn, registry, repository, &present).await?;
    for chunk in present.chunks(CHUNK) {
        for (table, column) in [("index_manifests", "digest"), ("index_refs", "parent")] {
            let sql =
                format!("DELETE FROM {table} WHERE registry = $1 AND repository = $2 AND {column} IN ({})", placeholders(3, chunk.len()));
            let mut q = sqlx::query(&sql).bind(registry).bind(repository);
            for d in chunk {
                q = q.bind(d.as_str());
            }
            q.execute(&mut *conn).await?;
        }
    }
    let mut changes = Vec::new();
    for (m, list) in blobs {
        let live = if reached.get(&m).copied().unwrap_or(0) != 0 { -1 } else { 0 };
        changes.extend(list.into_iter().map(|(digest, size)| BlobChange {
            repository: repository.to_owned(),
            digest,
            size,
            refs: -1,
            live,
        }));
    }
    Ok(changes)
}

/// A blob's counts in a registry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct BlobRow {
    size: i64,
    repositories: i64,
    refs: i64,
    live: i64,
}

impl BlobRow {
    fn exists(&self) -> bool {
        self.refs > 0
    }
    fn shared(&self) -> bool {
        self.repositories > 1
    }
    /// Named only by manifests no tag reaches.
    fn untagged(&self) -> bool {
        self.exists() && self.live <= 0
    }
}

/// Applies changes of blob counts: blob and repository rows, the registry's totals, and the
/// figures of every repository naming a blob that changed class.
pub(crate) async fn apply(conn: &mut AnyConnection, registry: &str, changes: Vec<BlobChange>, at: i64) -> Result<()> {
    let mut merged: BTreeMap<(String, String), (u64, i64, i64)> = BTreeMap::new();
    for c in changes {
        let e = merged.entry((c.repository, c.digest)).or_insert((c.size, 0, 0));
        e.1 += c.refs;
        e.2 += c.live;
        if e.0 == 0 {
            e.0 = c.size;
        }
    }
    merged.retain(|_, v| v.1 != 0 || v.2 != 0);
    if merged.is_empty() {
        return Ok(());
    }
    let repositories: BTreeSet<String> = merged.keys().map(|(r, _)| r.clone()).collect();
    let digests: Vec<String> = merged.keys().map(|(_, d)| d.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    // As they are.
    let mut before: HashMap<String, BlobRow> = HashMap::new();
    for chunk in digests.chunks(CHUNK) {
        let sql = format!(
            "SELECT digest, size, repositories, refs, live FROM storage_blobs WHERE registry = $1 AND digest IN ({})",
            placeholders(2, chunk.len())
        );
        let mut q = sqlx::query_as::<_, (String, i64, i64, i64, i64)>(&sql).bind(registry);
        for d in chunk {
            q = q.bind(d.as_str());
        }
        for (d, size, repositories, refs, live) in q.fetch_all(&mut *conn).await? {
            before.insert(d, BlobRow { size, repositories, refs, live });
        }
    }
    let mut pairs: HashMap<(String, String), (i64, i64)> = HashMap::new();
    for repository in &repositories {
        let mine: Vec<&String> = merged.keys().filter(|(r, _)| r == repository).map(|(_, d)| d).collect();
        for chunk in mine.chunks(CHUNK) {
            let sql = format!(
                "SELECT digest, refs, live FROM storage_blob_repos WHERE registry = $1 AND repository = $2 AND digest IN ({})",
                placeholders(3, chunk.len())
            );
            let mut q = sqlx::query_as::<_, (String, i64, i64)>(&sql).bind(registry).bind(repository);
            for d in chunk {
                q = q.bind(d.as_str());
            }
            for (d, refs, live) in q.fetch_all(&mut *conn).await? {
                pairs.insert((repository.clone(), d), (refs, live));
            }
        }
    }
    // As they become.
    let mut after: HashMap<String, BlobRow> = before.clone();
    let mut pair_rows: Vec<(String, String, i64, i64)> = Vec::new();
    let mut pair_gone: Vec<(String, String)> = Vec::new();
    for ((repository, digest), (size, refs, live)) in &merged {
        let (r0, l0) = pairs.get(&(repository.clone(), digest.clone())).copied().unwrap_or((0, 0));
        let (r1, l1) = ((r0 + refs).max(0), (l0 + live).max(0));
        let b = after.entry(digest.clone()).or_insert(BlobRow { size: stored(*size), ..Default::default() });
        if b.size == 0 {
            b.size = stored(*size);
        }
        match (r0 > 0, r1 > 0) {
            (false, true) => b.repositories += 1,
            (true, false) => b.repositories -= 1,
            _ => {}
        }
        b.refs = (b.refs + refs).max(0);
        b.live = (b.live + live).max(0);
        if r1 > 0 {
            pair_rows.push((repository.clone(), digest.clone(), r1, l1));
        } else {
            pair_gone.push((repository.clone(), digest.clone()));
        }
    }
    // The registry's totals, and the blobs whose class changed for the repositories that keep
    // naming them.
    let (mut stored_delta, mut blobs_delta, mut untagged_delta) = (0i128, 0i128, 0i128);
    let mut flipped: Vec<(String, i128, i128, i128)> = Vec::new();
    for d in &digests {
        let old = before.get(d).copied().unwrap_or_default();
        let new = after.get(d).copied().unwrap_or_default();
        let size = i128::from(new.size.max(old.size));
        let flag = |b: bool| i128::from(b as u8);
        stored_delta += size * (flag(new.exists()) - flag(old.exists()));
        blobs_delta += flag(new.exists()) - flag(old.exists());
        untagged_delta += size * (flag(new.untagged()) - flag(old.untagged()));
        if old.exists() && new.exists() && (old.shared() != new.shared() || old.untagged() != new.untagged()) {
            flipped.push((
                d.clone(),
                size * (flag(!new.shared()) - flag(!old.shared())),
                size * (flag(new.shared()) - flag(old.shared())),
                size * (flag(new.untagged()) - flag(old.untagged())),
            ));
        }
    }
    // Blob rows.
    let (keep, gone): (Vec<&String>, Vec<&String>) = digests.iter().partition(|d| after.get(*d).is_some_and(BlobRow::exists));
    for chunk in keep.chunks(CHUNK) {
        let values = (0..chunk.len())
            .map(|i| {
                let b = 2 + i * 5;
                format!("($1, ${}, ${}, ${}, ${}, ${})", b, b + 1, b + 2, b + 3, b + 4)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO storage_blobs (registry, digest, size, repositories, refs, live) VALUES {values} \
             ON CONFLICT (registry, digest) DO UPDATE SET size = excluded.size, repositories = excluded.repositories, refs = excluded.refs, live = excluded.live"
        );
        let mut q = sqlx::query(&sql).bind(registry);
        for d in chunk {
            let b = after[*d];
            q = q.bind(d.as_str()).bind(b.size).bind(b.repositories).bind(b.refs).bind(b.live);
        }
        q.execute(&mut *conn).await?;
    }
    for chunk in gone.chunks(CHUNK) {
        let sql = format!("DELETE FROM storage_blobs WHERE registry = $1 AND digest IN ({})", placeholders(2, chunk.len()));
        let mut q = sqlx::query(&sql).bind(registry);
        for d in chunk {
            q = q.bind(d.as_str());
        }
        q.execute(&mut *conn).await?;
    }
    // Pair rows.
    for chunk in pair_rows.chunks(CHUNK) {
        let values = (0..chunk.len())
            .map(|i| {
                let b = 2 + i * 4;
                format!("($1, ${}, ${}, ${}, ${})", b, b + 1, b + 2, b + 3)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO storage_blob_repos (registry, repository, digest, refs, live) VALUES {values} \
             ON CONFLICT (registry, repository, digest) DO UPDATE SET refs = excluded.refs, live = excluded.live"
        );
        let mut q = sqlx::query(&sql).bind(registry);
        for (repository, digest, refs, live) in chunk {
            q = q.bind(repository.as_str()).bind(digest.as_str()).bind(*refs).bind(*live);
        }
        q.execute(&mut *conn).await?;
    }
    for (repository, digest) in &pair_gone {
        sqlx::query("DELETE FROM storage_blob_repos WHERE registry = $1 AND repository = $2 AND digest = $3")
            .bind(registry)
            .bind(repository.as_str())
            .bind(digest.as_str())
            .execute(&mut *conn)
            .await?;
    }
    // The registry's row (locked by this transaction).
    let (s, b, u): (i64, i64, i64) =
        sqlx::query_as("SELECT stored_bytes, blobs, untagged_bytes FROM storage_registries WHERE registry = $1")
            .bind(registry)
            .fetch_one(&mut *conn)
            .await?;
    sqlx::query("UPDATE storage_registries SET stored_bytes = $2, blobs = $3, untagged_bytes = $4, updated_at = $5 WHERE registry = $1")
        .bind(registry)
        .bind(moved(s, stored_delta))
        .bind(moved(b, blobs_delta))
        .bind(moved(u, untagged_delta))
        .bind(at)
        .execute(&mut *conn)
        .await?;
    // Repositories naming a blob that changed class (those changed here are counted again below).
    let mut deltas: BTreeMap<String, (i128, i128, i128)> = BTreeMap::new();
    for (d, unique, shared, untagged) in &flipped {
        let holders: Vec<String> = sqlx::query_scalar("SELECT repository FROM storage_blob_repos WHERE registry = $1 AND digest = $2")
            .bind(registry)
            .bind(d.as_str())
            .fetch_all(&mut *conn)
            .await?;
        for h in holders.into_iter().filter(|h| !repositories.contains(h)) {
            let e = deltas.entry(h).or_default();
            e.0 += unique;
            e.1 += shared;
            e.2 += untagged;
        }
    }
    for (repository, (unique, shared, untagged)) in deltas {
        let row: Option<(i64, i64, i64)> = sqlx::query_as(
            "SELECT unique_bytes, shared_bytes, untagged_bytes FROM storage_repositories WHERE registry = $1 AND repository = $2",
        )
        .bind(registry)
        .bind(repository.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            Some((u0, s0, t0)) => {
                sqlx::query(
                    "UPDATE storage_repositories SET unique_bytes = $3, shared_bytes = $4, untagged_bytes = $5, updated_at = $6 \
                     WHERE registry = $1 AND repository = $2",
                )
                .bind(registry)
                .bind(repository.as_str())
                .bind(moved(u0, unique))
                .bind(moved(s0, shared))
                .bind(moved(t0, untagged))
                .bind(at)
                .execute(&mut *conn)
                .await?;
            }
            None => recount(conn, registry, &repository, at).await?,
        }
    }
    for repository in &repositories {
        recount(conn, registry, repository, at).await?;
    }
    Ok(())
}

/// Counts one repository's figures again from its blob rows and manifests.
async fn recount(conn: &mut AnyConnection, registry: &str, repository: &str, at: i64) -> Result<()> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT b.size, b.repositories, b.live FROM storage_blob_repos r \
         JOIN storage_blobs b ON b.registry = r.registry AND b.digest = r.digest \
         WHERE r.registry = $1 AND r.repository = $2",
    )
    .bind(registry)
    .bind(repository)
    .fetch_all(&mut *conn)
    .await?;
    let (mut unique, mut shared, mut untagged) = (0u64, 0u64, 0u64);
    for (size, repositories, live) in &rows {
        let size = read(*size);
        if *repositories > 1 {
            shared = shared.saturating_add(size);
        } else {
            unique = unique.saturating_add(size);
        }
        if *live <= 0 {
            untagged = untagged.saturating_add(size);
        }
    }
    let manifests: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM index_manifests WHERE registry = $1 AND repository = $2")
        .bind(registry)
        .bind(repository)
        .fetch_one(&mut *conn)
        .await?;
    if manifests == 0 && rows.is_empty() {
        sqlx::query("DELETE FROM storage_repositories WHERE registry = $1 AND repository = $2")
            .bind(registry)
            .bind(repository)
            .execute(&mut *conn)
            .await?;
        return Ok(());
    }
    let untagged_manifests: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM index_manifests WHERE registry = $1 AND repository = $2 AND reached = 0")
            .bind(registry)
            .bind(repository)
            .fetch_one(&mut *conn)
            .await?;
    sqlx::query(
        "INSERT INTO storage_repositories (registry, repository, unique_bytes, shared_bytes, untagged_bytes, manifests, untagged, blobs, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (registry, repository) DO UPDATE SET unique_bytes = excluded.unique_bytes, shared_bytes = excluded.shared_bytes, \
         untagged_bytes = excluded.untagged_bytes, manifests = excluded.manifests, untagged = excluded.untagged, blobs = excluded.blobs, \
         updated_at = excluded.updated_at",
    )
    .bind(registry)
    .bind(repository)
    .bind(stored(unique))
    .bind(stored(shared))
    .bind(stored(untagged))
    .bind(manifests)
    .bind(untagged_manifests)
    .bind(rows.len() as i64)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A registry's storage: each blob once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageTotals {
    pub registry: String,
    pub stored_bytes: u64,
    pub blobs: u64,
    /// Bytes only manifests no tag reaches name.
    pub untagged_bytes: u64,
    pub updated_at: Option<OffsetDateTime>,
}

/// A repository's storage figures, with what is known of how it was read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoStorage {
    pub repository: String,
    /// Bytes only this repository names.
    pub unique_bytes: u64,
    /// Bytes this and other repositories name.
    pub shared_bytes: u64,
    /// Bytes it names that only manifests no tag reaches name, anywhere in the registry.
    pub untagged_bytes: u64,
    pub manifests: u64,
    /// Manifests no tag reaches.
    pub untagged: u64,
    pub blobs: u64,
    pub updated_at: Option<OffsetDateTime>,
    /// Tags (referrer tags left out), as its tag list was last read.
    pub tags: Option<u64>,
    /// When the crawl last read it whole.
    pub crawled_at: Option<OffsetDateTime>,
}

type RepoStorageRow = (String, i64, i64, i64, i64, i64, i64, i64, Option<i64>, Option<i64>);

fn repo_storage(r: RepoStorageRow) -> RepoStorage {
    RepoStorage {
        repository: r.0,
        unique_bytes: read(r.1),
        shared_bytes: read(r.2),
        untagged_bytes: read(r.3),
        manifests: read(r.4),
        untagged: read(r.5),
        blobs: read(r.6),
        updated_at: Some(from_millis(r.7)),
        tags: r.8.map(read),
        crawled_at: r.9.map(from_millis),
    }
}

const REPO_STORAGE: &str = "SELECT s.repository, s.unique_bytes, s.shared_bytes, s.untagged_bytes, s.manifests, s.untagged, s.blobs, s.updated_at, \
     rs.tags, c.crawled_at FROM storage_repositories s \
     LEFT JOIN repository_summaries rs ON rs.registry = s.registry AND rs.repository = s.repository \
     LEFT JOIN crawl_repositories c ON c.registry = s.registry AND c.repository = s.repository";

/// A blob several repositories name, as [`Store::storage_shared_held`] finds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SharedBlob {
    pub size: u64,
    /// Repositories naming it in the whole registry.
    pub repositories: u64,
    /// Of those, how many were asked about.
    pub held_by: u64,
    /// Only manifests no tag reaches name it.
    pub untagged: bool,
}

/// A blob of a deleted artifact that no manifest in the index names any more: garbage
/// collection frees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrashBlob {
    pub trash_id: i64,
    pub repository: String,
    pub digest: String,
    pub size: u64,
    /// A manifest's own bytes (else a config or layer).
    pub manifest: bool,
}

/// A blob's counts in a registry, for working out what a deletion frees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlobCount {
    pub size: u64,
    /// Manifests in the index naming it (or being it), in every repository.
    pub refs: u64,
    pub repositories: u64,
}

/// What the index holds of one repository, for its storage page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoContents {
    pub manifests: Vec<ContentManifest>,
    /// (parent, child, role, size)
    pub refs: Vec<(String, String, RefRole, Option<u64>)>,
    /// (tag, digest)
    pub tags: Vec<(String, String)>,
}

/// A manifest of [`RepoContents`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentManifest {
    pub digest: String,
    pub kind: String,
    pub subject: Option<String>,
    pub bytes: u64,
    pub created: Option<OffsetDateTime>,
    pub indexed_at: OffsetDateTime,
    pub reached: bool,
}

/// The last complete pass of a registry's crawl.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastPass {
    pub started: OffsetDateTime,
    pub finished: OffsetDateTime,
    /// Repositories it could not read.
    pub failed: u64,
    /// It read the registry's whole catalog (false: no catalog — configured and opened
    /// repositories only — or a catalog cut short).
    pub catalog: bool,
}

impl Store {
    /// A registry's totals (None: nothing recorded).
    pub async fn storage_totals(&self, registry: &str) -> Result<Option<StorageTotals>> {
        Ok(self.storage_totals_all().await?.into_iter().find(|t| t.registry == registry))
    }

    /// Every registry's totals.
    pub async fn storage_totals_all(&self) -> Result<Vec<StorageTotals>> {
        let rows: Vec<(String, i64, i64, i64, i64)> =
            sqlx::query_as("SELECT registry, stored_bytes, blobs, untagged_bytes, updated_at FROM storage_registries ORDER BY registry")
                .fetch_all(self.pool())
                .await?;
        Ok(rows
            .into_iter()
            .map(|(registry, s, b, u, at)| StorageTotals {
                registry,
                stored_bytes: read(s),
                blobs: read(b),
                untagged_bytes: read(u),
                updated_at: Some(from_millis(at)),
            })
            .collect())
    }

    /// Every repository's figures in a registry, by name.
    pub async fn storage_repositories(&self, registry: &str) -> Result<Vec<RepoStorage>> {
        Ok(sqlx::query_as::<_, RepoStorageRow>(&format!("{REPO_STORAGE} WHERE s.registry = $1 ORDER BY s.repository"))
            .bind(registry)
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(repo_storage)
            .collect())
    }

    /// One repository's figures.
    pub async fn storage_repository(&self, registry: &str, repository: &str) -> Result<Option<RepoStorage>> {
        Ok(sqlx::query_as::<_, RepoStorageRow>(&format!("{REPO_STORAGE} WHERE s.registry = $1 AND s.repository = $2"))
            .bind(registry)
            .bind(repository)
            .fetch_optional(self.pool())
            .await?
            .map(repo_storage))
    }

    /// The blobs that `repositories` name and that other repositories name too, each once, with
    /// how many of `repositories` name it: what makes a total over some repositories differ from
    /// the sum of theirs. Read from the registry's shared blobs (few, and indexed as such) rather
    /// than from every blob of every repository asked about.
    pub async fn storage_shared_held(&self, registry: &str, repositories: &[String]) -> Result<HashMap<String, SharedBlob>> {
        let asked: std::collections::HashSet<&str> = repositories.iter().map(String::as_str).collect();
        // Two steps, so that both engines take the same path whatever their statistics: the
        // shared blobs (a partial index), then who names each of them (an index by digest).
        let shared: Vec<(String, i64, i64, i64)> =
            sqlx::query_as("SELECT digest, size, repositories, live FROM storage_blobs WHERE registry = $1 AND repositories > 1")
                .bind(registry)
                .fetch_all(self.pool())
                .await?;
        let mut out: HashMap<String, SharedBlob> = HashMap::new();
        for chunk in shared.chunks(BIG_CHUNK) {
            let sql = format!(
                "SELECT repository, digest FROM storage_blob_repos WHERE registry = $1 AND digest IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query_as::<_, (String, String)>(&sql).bind(registry);
            for (digest, ..) in chunk {
                q = q.bind(digest.as_str());
            }
            let holders = q.fetch_all(self.pool()).await?;
            let blobs: HashMap<&str, &(String, i64, i64, i64)> = chunk.iter().map(|b| (b.0.as_str(), b)).collect();
            for (repository, digest) in holders {
                if !asked.contains(repository.as_str()) {
                    continue;
                }
                let Some((_, size, repositories, live)) = blobs.get(digest.as_str()) else { continue };
                let e = out.entry(digest).or_insert(SharedBlob {
                    size: read(*size),
                    repositories: read(*repositories),
                    held_by: 0,
                    untagged: *live <= 0,
                });
                e.held_by += 1;
            }
        }
        Ok(out)
    }

    /// The blobs of deleted artifacts in `registry` (trash entries deleted, not restored, not
    /// found collected) that no manifest in the index names any more.
    pub async fn storage_trash_held(&self, registry: &str) -> Result<Vec<TrashBlob>> {
        let rows: Vec<(i64, String, String, i64, i64)> = sqlx::query_as(
            "SELECT tb.trash_id, tb.repository, tb.digest, tb.size, tb.manifest FROM storage_trash_blobs tb \
             JOIN trash t ON t.id = tb.trash_id \
             WHERE tb.registry = $1 AND t.kind = 'artifact' AND t.state = 'deleted' AND t.collected_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM storage_blobs b WHERE b.registry = tb.registry AND b.digest = tb.digest) \
             ORDER BY tb.trash_id, tb.digest",
        )
        .bind(registry)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(trash_id, repository, digest, size, manifest)| TrashBlob {
                trash_id,
                repository,
                digest,
                size: read(size),
                manifest: manifest != 0,
            })
            .collect())
    }

    /// Records the blobs a deleted artifact's manifests took: (digest, size, a manifest's own
    /// bytes).
    pub async fn storage_trash_blobs_put(
        &self,
        trash_id: i64,
        registry: &str,
        repository: &str,
        blobs: &[(String, u64, bool)],
    ) -> Result<()> {
        let mut seen = HashSet::new();
        let unique: Vec<&(String, u64, bool)> = blobs.iter().filter(|b| seen.insert(b.0.as_str())).collect();
        let mut tx = self.pool().begin().await?;
        for chunk in unique.chunks(CHUNK) {
            let values = (0..chunk.len())
                .map(|i| {
                    let b = 4 + i * 3;
                    format!("($1, $2, $3, ${}, ${}, ${})", b, b + 1, b + 2)
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO storage_trash_blobs (trash_id, registry, repository, digest, size, manifest) VALUES {values} \
                 ON CONFLICT (trash_id, digest) DO NOTHING"
            );
            let mut q = sqlx::query(&sql).bind(trash_id).bind(registry).bind(repository);
            for (d, size, manifest) in chunk {
                q = q.bind(d.as_str()).bind(stored(*size)).bind(i64::from(*manifest));
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records that the registry's garbage collection removed these trash entries' blobs.
    pub async fn trash_collected(&self, ids: &[i64], at: OffsetDateTime) -> Result<()> {
        for chunk in ids.chunks(CHUNK) {
            let sql = format!("UPDATE trash SET collected_at = $1 WHERE collected_at IS NULL AND id IN ({})", placeholders(2, chunk.len()));
            let mut q = sqlx::query(&sql).bind(millis(at));
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(self.pool()).await?;
        }
        Ok(())
    }

    /// The counts of `digests` in a registry (those no manifest in the index names are absent).
    pub async fn storage_blob_counts(&self, registry: &str, digests: &[String]) -> Result<HashMap<String, BlobCount>> {
        let mut out = HashMap::new();
        // Large chunks: a retention what-if asks about tens of thousands at each edit.
        for chunk in digests.chunks(BIG_CHUNK) {
            let sql = format!(
                "SELECT digest, size, refs, repositories FROM storage_blobs WHERE registry = $1 AND digest IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query_as::<_, (String, i64, i64, i64)>(&sql).bind(registry);
            for d in chunk {
                q = q.bind(d.as_str());
            }
            for (d, size, refs, repositories) in q.fetch_all(self.pool()).await? {
                out.insert(d, BlobCount { size: read(size), refs: read(refs), repositories: read(repositories) });
            }
        }
        Ok(out)
    }

    /// A repository's blobs with their counts in the registry, largest first (only those other
    /// repositories name too, when `shared`), at most `limit`.
    pub async fn storage_repo_blobs(
        &self,
        registry: &str,
        repository: &str,
        shared: bool,
        limit: usize,
    ) -> Result<Vec<(String, BlobCount)>> {
        let filter = if shared { " AND b.repositories > 1" } else { "" };
        let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(&format!(
            "SELECT r.digest, b.size, b.refs, b.repositories FROM storage_blob_repos r \
             JOIN storage_blobs b ON b.registry = r.registry AND b.digest = r.digest \
             WHERE r.registry = $1 AND r.repository = $2{filter} ORDER BY b.size DESC, r.digest LIMIT $3"
        ))
        .bind(registry)
        .bind(repository)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(d, size, refs, repositories)| (d, BlobCount { size: read(size), refs: read(refs), repositories: read(repositories) }))
            .collect())
    }

    /// The repositories naming each of `digests` in a registry (at most `limit` each, by name).
    pub async fn storage_holders(&self, registry: &str, digests: &[String], limit: usize) -> Result<HashMap<String, Vec<String>>> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for d in digests {
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT repository FROM storage_blob_repos WHERE registry = $1 AND digest = $2 ORDER BY repository LIMIT $3",
            )
            .bind(registry)
            .bind(d.as_str())
            .bind(limit as i64)
            .fetch_all(self.pool())
            .await?;
            out.insert(d.clone(), names);
        }
        Ok(out)
    }

    /// What the index holds of a repository: its manifests, what they name, its tags.
    pub async fn storage_contents(&self, registry: &str, repository: &str) -> Result<RepoContents> {
        type Row = (String, String, Option<String>, i64, Option<i64>, i64, i64);
        let manifests: Vec<Row> = sqlx::query_as(
            "SELECT digest, kind, subject, bytes, created, indexed_at, reached FROM index_manifests WHERE registry = $1 AND repository = $2 ORDER BY digest",
        )
        .bind(registry)
        .bind(repository)
        .fetch_all(self.pool())
        .await?;
        let refs: Vec<(String, String, String, Option<i64>)> = sqlx::query_as(
            "SELECT parent, child, role, size FROM index_refs WHERE registry = $1 AND repository = $2 ORDER BY parent, position",
        )
        .bind(registry)
        .bind(repository)
        .fetch_all(self.pool())
        .await?;
        let tags: Vec<(String, String)> =
            sqlx::query_as("SELECT tag, digest FROM index_tags WHERE registry = $1 AND repository = $2 ORDER BY tag")
                .bind(registry)
                .bind(repository)
                .fetch_all(self.pool())
                .await?;
        Ok(RepoContents {
            manifests: manifests
                .into_iter()
                .map(|(digest, kind, subject, bytes, created, indexed_at, reached)| ContentManifest {
                    digest,
                    kind,
                    subject,
                    bytes: read(bytes),
                    created: created.map(from_millis),
                    indexed_at: from_millis(indexed_at),
                    reached: reached != 0,
                })
                .collect(),
            refs: refs.into_iter().map(|(p, c, role, size)| (p, c, RefRole::parse(&role), size.map(read))).collect(),
            tags,
        })
    }

    /// A registry's stored bytes and each repository's (only its own, shared) counted from the
    /// index's rows by plain SQL aggregates, as a page would without the kept figures: for
    /// benchmarks and checks (its sums are made by the engine, so untrusted sizes could
    /// overflow them).
    pub async fn storage_count_from_scratch(&self, registry: &str) -> Result<(u64, Vec<(String, u64, u64)>)> {
        const PAIRS: &str = "WITH pairs AS (\
             SELECT DISTINCT repository, child AS digest, COALESCE(size, 0) AS size FROM index_refs WHERE registry = $1 \
             UNION SELECT repository, digest, bytes AS size FROM index_manifests WHERE registry = $1), \
             holders AS (SELECT digest, COUNT(DISTINCT repository) AS n, MAX(size) AS size FROM pairs GROUP BY digest)";
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(&format!(
            "{PAIRS} SELECT p.repository, CAST(SUM(CASE WHEN h.n = 1 THEN p.size ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN h.n > 1 THEN p.size ELSE 0 END) AS BIGINT) \
             FROM pairs p JOIN holders h ON h.digest = p.digest GROUP BY p.repository ORDER BY p.repository"
        ))
        .bind(registry)
        .fetch_all(self.pool())
        .await?;
        let total: Option<i64> = sqlx::query_scalar(&format!("{PAIRS} SELECT CAST(SUM(size) AS BIGINT) FROM holders"))
            .bind(registry)
            .fetch_one(self.pool())
            .await?;
        Ok((total.map(read).unwrap_or(0), rows.into_iter().map(|(r, u, s)| (r, read(u), read(s))).collect()))
    }

    /// Records that a pass of a registry's crawl started at `started` went through every
    /// repository it listed, with `failed` it could not read; `catalog`: it listed the whole
    /// catalog. (Its end is the crawl state's `pass_finished`.)
    pub async fn crawl_pass_complete(&self, registry: &str, started: OffsetDateTime, failed: u64, catalog: bool) -> Result<()> {
        sqlx::query(
            "UPDATE crawl_registries SET last_pass_started = $2, last_pass_failed = $3, last_pass_catalog = $4 WHERE registry = $1",
        )
        .bind(registry)
        .bind(millis(started))
        .bind(i64::try_from(failed).unwrap_or(i64::MAX))
        .bind(i64::from(catalog))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The last complete pass of a registry's crawl.
    pub async fn crawl_last_pass(&self, registry: &str) -> Result<Option<LastPass>> {
        let row: Option<(Option<i64>, Option<i64>, i64, i64)> = sqlx::query_as(
            "SELECT last_pass_started, pass_finished, last_pass_failed, last_pass_catalog FROM crawl_registries WHERE registry = $1",
        )
        .bind(registry)
        .fetch_optional(self.pool())
        .await?;
        Ok(match row {
            Some((Some(started), Some(finished), failed, catalog)) => Some(LastPass {
                started: from_millis(started),
                finished: from_millis(finished),
                failed: read(failed),
                catalog: catalog != 0,
            }),
            _ => None,
        })
    }
}
