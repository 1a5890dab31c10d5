//! Search: the where-used index (the manifests Portolan read, what each names, the tags on
//! them), the crawl's progress, the repository list's lazily read columns, and the repositories
//! people opened.
//!
//! "Where is this digest used" walks the index upwards: the manifests that are the digest, the
//! manifests naming it (as a layer, a config or an index entry), the indexes naming those, and
//! so on — then the tags on each. Every step is an indexed lookup by digest, so the answer
//! takes a few queries whatever the index's size.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Result, Store, from_millis, millis, placeholders, storage};

/// Rows per statement (well under both engines' parameter limits).
const CHUNK: usize = 100;
/// Digests per lookup of known manifests (well under both engines' parameter limits too).
const KNOWN_CHUNK: usize = 1000;
/// Index levels walked upwards from a digest at most (an index of indexes of images is 2).
const MAX_DEPTH: usize = 4;

/// How a manifest names another piece of content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefRole {
    /// An index's entry (a platform image, an attestation manifest…).
    Manifest,
    /// An image's (or artifact's) config blob.
    Config,
    /// A layer blob.
    Layer,
}

impl RefRole {
    pub fn as_str(self) -> &'static str {
        match self {
            RefRole::Manifest => "manifest",
            RefRole::Config => "config",
            RefRole::Layer => "layer",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "manifest" => RefRole::Manifest,
            "config" => RefRole::Config,
            _ => RefRole::Layer,
        }
    }
}

/// One thing a manifest names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexRef {
    pub digest: String,
    pub role: RefRole,
    /// An index entry's platform (`linux/amd64`).
    pub platform: Option<String>,
    /// Its size in bytes, as the manifest's descriptor says (None: not said).
    #[serde(default)]
    pub size: Option<u64>,
}

/// A manifest as the index keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedManifest {
    pub digest: String,
    pub media_type: String,
    /// `image`, `index`, `signature`, `sbom`… (the OCI client's kinds).
    pub kind: String,
    /// What it refers to, when it is a referrer.
    pub subject: Option<String>,
    /// The manifest and the blobs it names, in bytes.
    pub size: u64,
    /// The manifest's own bytes.
    #[serde(default)]
    pub bytes: u64,
    pub created: Option<OffsetDateTime>,
    /// What it names, in order.
    pub refs: Vec<IndexRef>,
}

impl IndexedManifest {
    /// What it takes in a registry's storage: itself (a manifest is stored as a blob too) and
    /// what it names (config, layers, an index's entries), each once, with its size (0 when not
    /// said).
    pub fn blobs(&self) -> Vec<(String, u64)> {
        let mut seen = HashSet::new();
        std::iter::once((self.digest.clone(), self.bytes))
            .chain(self.refs.iter().map(|r| (r.digest.clone(), r.size.unwrap_or(0))))
            .filter(|(d, _)| seen.insert(d.clone()))
            .collect()
    }
}

/// One step down from a manifest to what it names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UseStep {
    pub parent: String,
    pub child: String,
    pub role: RefRole,
    pub platform: Option<String>,
}

/// One place a digest is used: a manifest in a repository that is it (`path` empty) or that
/// leads to it (`path`: from `manifest` down to the digest), with the tags on that manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub registry: String,
    pub repository: String,
    pub manifest: String,
    pub kind: Option<String>,
    pub path: Vec<UseStep>,
    /// Tags on `manifest` (empty: untagged, and nothing in the index names it).
    pub tags: Vec<String>,
}

/// A manifest that refers to a digest (`subject`): a signature, an SBOM, an attestation…
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedReferrer {
    pub registry: String,
    pub repository: String,
    pub digest: String,
    pub kind: String,
    pub tags: Vec<String>,
}

/// Everything the index knows about where a digest is used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhereUsed {
    pub uses: Vec<Usage>,
    pub referrers: Vec<IndexedReferrer>,
    /// The walk stopped at its limit: there are more.
    pub truncated: bool,
}

/// What the index holds for one registry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexCoverage {
    pub registry: String,
    /// Repositories with at least one tag indexed.
    pub repositories: u64,
    pub tags: u64,
    pub manifests: u64,
    /// Repositories the crawl read whole, and the oldest such read.
    pub crawled: u64,
    pub oldest_crawl: Option<OffsetDateTime>,
}

/// Where a registry's crawl stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrawlState {
    pub registry: String,
    /// `listing`, `crawling`, `paused`, `waiting` (between passes), `failed`.
    pub state: String,
    pub pass_started: Option<OffsetDateTime>,
    /// When the last complete pass ended.
    pub pass_finished: Option<OffsetDateTime>,
    /// Repositories in the current pass, and how many are done.
    pub repositories: u64,
    pub done: u64,
    /// Registry requests in the current pass.
    pub requests: u64,
    pub paused_until: Option<OffsetDateTime>,
    pub message: Option<String>,
    pub updated_at: OffsetDateTime,
}

/// A repository's list columns, as last read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoSummaryRecord {
    pub registry: String,
    pub repository: String,
    /// Tags, referrer tags left out.
    pub tags: u64,
    /// The newest tag by semantic version.
    pub newest: Option<String>,
    /// The newest date known of its artifacts, and where it came from (`config`, `annotation`,
    /// `first-seen`).
    pub pushed: Option<OffsetDateTime>,
    pub pushed_source: Option<String>,
    pub checked_at: OffsetDateTime,
}

type SummaryRow = (String, String, i64, Option<String>, Option<i64>, Option<String>, i64);

fn summary(r: SummaryRow) -> RepoSummaryRecord {
    RepoSummaryRecord {
        registry: r.0,
        repository: r.1,
        tags: r.2.max(0) as u64,
        newest: r.3,
        pushed: r.4.map(from_millis),
        pushed_source: r.5,
        checked_at: from_millis(r.6),
    }
}

type CrawlRow = (String, String, Option<i64>, Option<i64>, i64, i64, i64, Option<i64>, Option<String>, i64);

fn crawl_state(r: CrawlRow) -> CrawlState {
    CrawlState {
        registry: r.0,
        state: r.1,
        pass_started: r.2.map(from_millis),
        pass_finished: r.3.map(from_millis),
        repositories: r.4.max(0) as u64,
        done: r.5.max(0) as u64,
        requests: r.6.max(0) as u64,
        paused_until: r.7.map(from_millis),
        message: r.8,
        updated_at: from_millis(r.9),
    }
}

/// The upper bound of a prefix range: `sha256:ab` → `sha256:ac` (None when it cannot be
/// raised: everything after the prefix).
fn prefix_end(prefix: &str) -> Option<String> {
    let mut bytes = prefix.as_bytes().to_vec();
    while let Some(last) = bytes.pop() {
        if last < 0x7f {
            bytes.push(last + 1);
            return String::from_utf8(bytes).ok();
        }
    }
    None
}

impl Store {
    /// Adds manifests read in `registry`/`repository` to the index (those it holds already are
    /// left as they are: a digest's content never changes), and their bytes to the storage
    /// figures. Returns how many were new.
    pub async fn index_put(&self, registry: &str, repository: &str, manifests: &[IndexedManifest], now: OffsetDateTime) -> Result<usize> {
        let mut seen = HashSet::new();
        let unique: Vec<&IndexedManifest> = manifests.iter().filter(|m| seen.insert(m.digest.as_str())).collect();
        if unique.is_empty() {
            return Ok(0);
        }
        let digests: Vec<String> = unique.iter().map(|m| m.digest.clone()).collect();
        if self.index_known(registry, repository, &digests).await?.len() == digests.len() {
            return Ok(0);
        }
        let at = millis(now);
        let mut tx = self.pool().begin().await?;
        storage::lock(&mut tx, registry, at).await?;
        // Known again, now that this is the registry's only writer.
        let mut known = HashSet::new();
        for chunk in digests.chunks(CHUNK) {
            let sql = format!(
                "SELECT digest FROM index_manifests WHERE registry = $1 AND repository = $2 AND digest IN ({})",
                placeholders(3, chunk.len())
            );
            let mut q = sqlx::query_scalar::<_, String>(&sql).bind(registry).bind(repository);
            for d in chunk {
                q = q.bind(d.as_str());
            }
            known.extend(q.fetch_all(&mut *tx).await?);
        }
        let new: Vec<&IndexedManifest> = unique.into_iter().filter(|m| !known.contains(&m.digest)).collect();
        if new.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        for chunk in new.chunks(CHUNK) {
            let values = (0..chunk.len())
                .map(|i| {
                    let b = 3 + i * 8;
                    format!("($1, $2, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, 0)", b, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7)
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO index_manifests (registry, repository, digest, media_type, kind, subject, size, bytes, created, indexed_at, reached) VALUES {values} ON CONFLICT (registry, repository, digest) DO NOTHING"
            );
            let mut q = sqlx::query(&sql).bind(registry).bind(repository);
            for m in chunk {
                q = q
                    .bind(m.digest.as_str())
                    .bind(m.media_type.as_str())
                    .bind(m.kind.as_str())
                    .bind(m.subject.as_deref())
                    .bind(i64::try_from(m.size).unwrap_or(i64::MAX))
                    .bind(i64::try_from(m.bytes).unwrap_or(i64::MAX))
                    .bind(m.created.map(millis))
                    .bind(at);
            }
            q.execute(&mut *tx).await?;
        }
        let refs: Vec<(&str, usize, &IndexRef)> =
            new.iter().flat_map(|m| m.refs.iter().enumerate().map(move |(i, r)| (m.digest.as_str(), i, r))).collect();
        for chunk in refs.chunks(CHUNK) {
            let values = (0..chunk.len())
                .map(|i| {
                    let b = 3 + i * 6;
                    format!("($1, $2, ${}, ${}, ${}, ${}, ${}, ${})", b, b + 1, b + 2, b + 3, b + 4, b + 5)
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO index_refs (registry, repository, parent, position, child, role, platform, size) VALUES {values} ON CONFLICT (registry, repository, parent, position) DO NOTHING"
            );
            let mut q = sqlx::query(&sql).bind(registry).bind(repository);
            for (parent, position, r) in chunk {
                q = q
                    .bind(*parent)
                    .bind(*position as i64)
                    .bind(r.digest.as_str())
                    .bind(r.role.as_str())
                    .bind(r.platform.as_deref())
                    .bind(r.size.map(|s| i64::try_from(s).unwrap_or(i64::MAX)));
            }
            q.execute(&mut *tx).await?;
        }
        let mut changes: Vec<storage::BlobChange> = new
            .iter()
            .flat_map(|m| {
                m.blobs().into_iter().map(|(digest, size)| storage::BlobChange {
                    repository: repository.to_owned(),
                    digest,
                    size,
                    refs: 1,
                    live: 0,
                })
            })
            .collect();
        changes.extend(storage::reach(&mut tx, registry, repository).await?);
        storage::apply(&mut tx, registry, changes, at).await?;
        tx.commit().await?;
        Ok(new.len())
    }

    /// Which of `digests` the index holds for `registry`/`repository`.
    pub async fn index_known(&self, registry: &str, repository: &str, digests: &[String]) -> Result<HashSet<String>> {
        let mut out = HashSet::new();
        // Large chunks: what a retention what-if deletes is looked up at each edit.
        for chunk in digests.chunks(KNOWN_CHUNK) {
            let sql = format!(
                "SELECT digest FROM index_manifests WHERE registry = $1 AND repository = $2 AND digest IN ({})",
                placeholders(3, chunk.len())
            );
            let mut q = sqlx::query_scalar::<_, String>(&sql).bind(registry).bind(repository);
            for d in chunk {
                q = q.bind(d.as_str());
            }
            out.extend(q.fetch_all(self.pool()).await?);
        }
        Ok(out)
    }

    /// The tags the index holds for a repository: tag → digest.
    pub async fn index_tags(&self, registry: &str, repository: &str) -> Result<HashMap<String, String>> {
        Ok(sqlx::query_as::<_, (String, String)>("SELECT tag, digest FROM index_tags WHERE registry = $1 AND repository = $2")
            .bind(registry)
            .bind(repository)
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .collect())
    }

    /// Records where tags point; a tag that moved gets `now` as its new "since".
    pub async fn index_set_tags(&self, registry: &str, repository: &str, tags: &[(String, String)], now: OffsetDateTime) -> Result<()> {
        if tags.is_empty() {
            return Ok(());
        }
        let at = millis(now);
        let mut tx = self.pool().begin().await?;
        storage::lock(&mut tx, registry, at).await?;
        let mut changed = 0;
        for chunk in tags.chunks(CHUNK) {
            let values = (0..chunk.len()).map(|i| format!("($1, $2, ${}, ${}, $3)", 4 + i * 2, 5 + i * 2)).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "INSERT INTO index_tags (registry, repository, tag, digest, since) VALUES {values} \
                 ON CONFLICT (registry, repository, tag) DO UPDATE SET digest = excluded.digest, since = excluded.since \
                 WHERE index_tags.digest <> excluded.digest"
            );
            let mut q = sqlx::query(&sql).bind(registry).bind(repository).bind(at);
            for (tag, digest) in chunk {
                q = q.bind(tag.as_str()).bind(digest.as_str());
            }
            changed += q.execute(&mut *tx).await?.rows_affected();
        }
        if changed == 0 {
            // Every tag was where the index had it: nothing to work out again.
            tx.commit().await?;
            return Ok(());
        }
        let changes = storage::reach(&mut tx, registry, repository).await?;
        storage::apply(&mut tx, registry, changes, at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets tags (gone from the repository).
    pub async fn index_remove_tags(&self, registry: &str, repository: &str, tags: &[String]) -> Result<()> {
        if tags.is_empty() {
            return Ok(());
        }
        let at = millis(OffsetDateTime::now_utc());
        let mut tx = self.pool().begin().await?;
        storage::lock(&mut tx, registry, at).await?;
        let mut changed = 0;
        for chunk in tags.chunks(CHUNK) {
            let sql =
                format!("DELETE FROM index_tags WHERE registry = $1 AND repository = $2 AND tag IN ({})", placeholders(3, chunk.len()));
            let mut q = sqlx::query(&sql).bind(registry).bind(repository);
            for t in chunk {
                q = q.bind(t.as_str());
            }
            changed += q.execute(&mut *tx).await?.rows_affected();
        }
        if changed == 0 {
            tx.commit().await?;
            return Ok(());
        }
        let changes = storage::reach(&mut tx, registry, repository).await?;
        storage::apply(&mut tx, registry, changes, at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The manifests of a repository no tag reaches (untagged), as the index knows them.
    pub async fn index_unreached(&self, registry: &str, repository: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT digest FROM index_manifests WHERE registry = $1 AND repository = $2 AND reached = 0 ORDER BY digest")
            .bind(registry)
            .bind(repository)
            .fetch_all(self.pool())
            .await?)
    }

    /// Forgets manifests of a repository (deleted from the registry), with what they name and
    /// the tags on them. Returns how many the index held.
    pub async fn index_drop(&self, registry: &str, repository: &str, digests: &[String]) -> Result<usize> {
        if digests.is_empty() {
            return Ok(0);
        }
        let at = millis(OffsetDateTime::now_utc());
        let mut tx = self.pool().begin().await?;
        storage::lock(&mut tx, registry, at).await?;
        for chunk in digests.chunks(CHUNK) {
            let sql =
                format!("DELETE FROM index_tags WHERE registry = $1 AND repository = $2 AND digest IN ({})", placeholders(3, chunk.len()));
            let mut q = sqlx::query(&sql).bind(registry).bind(repository);
            for d in chunk {
                q = q.bind(d.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        let mut changes = storage::remove(&mut tx, registry, repository, digests).await?;
        let dropped: HashSet<&str> = changes.iter().filter(|c| c.refs < 0).map(|c| c.digest.as_str()).collect();
        let count = digests.iter().filter(|d| dropped.contains(d.as_str())).count();
        changes.extend(storage::reach(&mut tx, registry, repository).await?);
        storage::apply(&mut tx, registry, changes, at).await?;
        tx.commit().await?;
        Ok(count)
    }

    /// Drops the manifests of a repository that no tag reaches any more (through index entries,
    /// or as a referrer of something reached). Returns how many went.
    pub async fn index_prune(&self, registry: &str, repository: &str) -> Result<usize> {
        let at = millis(OffsetDateTime::now_utc());
        let mut tx = self.pool().begin().await?;
        storage::lock(&mut tx, registry, at).await?;
        let mut changes = storage::reach(&mut tx, registry, repository).await?;
        let gone: Vec<String> =
            sqlx::query_scalar("SELECT digest FROM index_manifests WHERE registry = $1 AND repository = $2 AND reached = 0")
                .bind(registry)
                .bind(repository)
                .fetch_all(&mut *tx)
                .await?;
        changes.extend(storage::remove(&mut tx, registry, repository, &gone).await?);
        storage::apply(&mut tx, registry, changes, at).await?;
        tx.commit().await?;
        Ok(gone.len())
    }

    /// Forgets everything indexed about a repository (it left the registry's catalog).
    pub async fn index_forget(&self, registry: &str, repository: &str) -> Result<()> {
        let at = millis(OffsetDateTime::now_utc());
        let mut tx = self.pool().begin().await?;
        storage::lock(&mut tx, registry, at).await?;
        let all: Vec<String> = sqlx::query_scalar("SELECT digest FROM index_manifests WHERE registry = $1 AND repository = $2")
            .bind(registry)
            .bind(repository)
            .fetch_all(&mut *tx)
            .await?;
        let changes = storage::remove(&mut tx, registry, repository, &all).await?;
        storage::apply(&mut tx, registry, changes, at).await?;
        for table in ["index_manifests", "index_refs", "index_tags", "crawl_repositories", "repository_summaries"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE registry = $1 AND repository = $2"))
                .bind(registry)
                .bind(repository)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The repositories of `registry` the index knows (tags indexed, or read by the crawl).
    pub async fn index_repositories(&self, registry: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT repository FROM index_tags WHERE registry = $1 UNION SELECT repository FROM crawl_repositories WHERE registry = $1 ORDER BY 1",
        )
        .bind(registry)
        .fetch_all(self.pool())
        .await?)
    }

    /// Where `digest` is used, in every registry: the manifests that are it or lead to it, with
    /// their tags, and the manifests that refer to it. Stops after `max_places` places (then
    /// `truncated`).
    pub async fn where_used(&self, digest: &str, max_places: usize) -> Result<WhereUsed> {
        // A node: a manifest in a repository, and the path from it down to `digest`.
        type Place = (String, String, String);
        let mut out = WhereUsed::default();
        let mut paths: BTreeMap<Place, Vec<UseStep>> = BTreeMap::new();
        let direct: Vec<(String, String)> = sqlx::query_as("SELECT registry, repository FROM index_manifests WHERE digest = $1")
            .bind(digest)
            .fetch_all(self.pool())
            .await?;
        for (reg, repo) in direct {
            paths.insert((reg, repo, digest.to_owned()), Vec::new());
        }
        let mut frontier: Vec<Place> = Vec::new();
        let first: Vec<(String, String, String, String, Option<String>)> =
            sqlx::query_as("SELECT registry, repository, parent, role, platform FROM index_refs WHERE child = $1")
                .bind(digest)
                .fetch_all(self.pool())
                .await?;
        // Manifests some index in the index lists: shown through that index unless tagged.
        let mut listed: HashSet<Place> = HashSet::new();
        for (reg, repo, parent, role, platform) in first {
            if role == RefRole::Manifest.as_str() {
                listed.insert((reg.clone(), repo.clone(), digest.to_owned()));
            }
            let place = (reg, repo, parent.clone());
            if paths.contains_key(&place) {
                continue;
            }
            if paths.len() >= max_places {
                out.truncated = true;
                break;
            }
            paths.insert(place.clone(), vec![UseStep { parent, child: digest.to_owned(), role: RefRole::parse(&role), platform }]);
            frontier.push(place);
        }
        // Upwards: the indexes that list the manifests found, level by level.
        for _ in 0..MAX_DEPTH {
            if frontier.is_empty() || out.truncated {
                break;
            }
            let wanted: HashSet<&Place> = frontier.iter().collect();
            let digests: Vec<String> = frontier.iter().map(|p| p.2.clone()).collect::<HashSet<_>>().into_iter().collect();
            let mut next = Vec::new();
            for chunk in digests.chunks(CHUNK) {
                let sql = format!(
                    "SELECT registry, repository, parent, child, platform FROM index_refs WHERE role = $1 AND child IN ({})",
                    placeholders(2, chunk.len())
                );
                let mut q = sqlx::query_as::<_, (String, String, String, String, Option<String>)>(&sql).bind(RefRole::Manifest.as_str());
                for d in chunk {
                    q = q.bind(d.as_str());
                }
                for (reg, repo, parent, child, platform) in q.fetch_all(self.pool()).await? {
                    let below = (reg.clone(), repo.clone(), child.clone());
                    if !wanted.contains(&below) {
                        continue;
                    }
                    listed.insert(below.clone());
                    let place = (reg, repo, parent.clone());
                    if paths.contains_key(&place) {
                        continue;
                    }
                    if paths.len() >= max_places {
                        out.truncated = true;
                        break;
                    }
                    let mut path = vec![UseStep { parent, child, role: RefRole::Manifest, platform }];
                    path.extend(paths[&below].iter().cloned());
                    paths.insert(place.clone(), path);
                    next.push(place);
                }
            }
            frontier = next;
        }
        // Tags and kinds of every manifest found; a manifest with a parent found and no tag of
        // its own is shown through its parent only.
        let all: Vec<String> = paths.keys().map(|p| p.2.clone()).collect::<HashSet<_>>().into_iter().collect();
        let mut tags: HashMap<Place, Vec<String>> = HashMap::new();
        let mut kinds: HashMap<Place, String> = HashMap::new();
        for chunk in all.chunks(CHUNK) {
            let sql =
                format!("SELECT registry, repository, digest, tag FROM index_tags WHERE digest IN ({})", placeholders(1, chunk.len()));
            let mut q = sqlx::query_as::<_, (String, String, String, String)>(&sql);
            for d in chunk {
                q = q.bind(d.as_str());
            }
            for (reg, repo, d, tag) in q.fetch_all(self.pool()).await? {
                tags.entry((reg, repo, d)).or_default().push(tag);
            }
            let sql = format!(
                "SELECT registry, repository, digest, kind FROM index_manifests WHERE digest IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query_as::<_, (String, String, String, String)>(&sql);
            for d in chunk {
                q = q.bind(d.as_str());
            }
            for (reg, repo, d, kind) in q.fetch_all(self.pool()).await? {
                kinds.insert((reg, repo, d), kind);
            }
        }
        for (place, path) in &paths {
            let mut t = tags.remove(place).unwrap_or_default();
            if t.is_empty() && listed.contains(place) {
                continue;
            }
            t.sort();
            out.uses.push(Usage {
                registry: place.0.clone(),
                repository: place.1.clone(),
                manifest: place.2.clone(),
                kind: kinds.get(place).cloned(),
                path: path.clone(),
                tags: t,
            });
        }
        // Referrers of the digest (at most `max_places`), with their tags read in chunks.
        let refs: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT registry, repository, digest, kind FROM index_manifests WHERE subject = $1 ORDER BY registry, repository, digest LIMIT $2",
        )
        .bind(digest)
        .bind(i64::try_from(max_places).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        let digests: Vec<&str> = refs.iter().map(|r| r.2.as_str()).collect::<HashSet<_>>().into_iter().collect();
        let mut referrer_tags: HashMap<Place, Vec<String>> = HashMap::new();
        for chunk in digests.chunks(CHUNK) {
            let sql =
                format!("SELECT registry, repository, digest, tag FROM index_tags WHERE digest IN ({})", placeholders(1, chunk.len()));
            let mut q = sqlx::query_as::<_, (String, String, String, String)>(&sql);
            for d in chunk {
                q = q.bind(*d);
            }
            for (reg, repo, d, tag) in q.fetch_all(self.pool()).await? {
                referrer_tags.entry((reg, repo, d)).or_default().push(tag);
            }
        }
        for (registry, repository, d, kind) in refs {
            let mut tags = referrer_tags.remove(&(registry.clone(), repository.clone(), d.clone())).unwrap_or_default();
            tags.sort();
            out.referrers.push(IndexedReferrer { registry, repository, digest: d, kind, tags });
        }
        Ok(out)
    }

    /// Digests the index knows (manifests, and blobs manifests name) starting with `prefix`, at
    /// most `limit`, sorted.
    pub async fn index_digests_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<String>> {
        let end = prefix_end(prefix).unwrap_or_else(|| format!("{prefix}\u{7f}"));
        let n = limit as i64;
        let mut out: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT digest FROM index_manifests WHERE digest >= $1 AND digest < $2 ORDER BY digest LIMIT $3")
                .bind(prefix)
                .bind(&end)
                .bind(n)
                .fetch_all(self.pool())
                .await?;
        out.extend(
            sqlx::query_scalar::<_, String>(
                "SELECT DISTINCT child FROM index_refs WHERE child >= $1 AND child < $2 ORDER BY child LIMIT $3",
            )
            .bind(prefix)
            .bind(&end)
            .bind(n)
            .fetch_all(self.pool())
            .await?,
        );
        out.retain(|d| d.starts_with(prefix));
        out.sort();
        out.dedup();
        out.truncate(limit);
        Ok(out)
    }

    /// What the index holds, per registry.
    pub async fn index_coverage(&self) -> Result<Vec<IndexCoverage>> {
        let mut by: BTreeMap<String, IndexCoverage> = BTreeMap::new();
        let tags: Vec<(String, i64, i64)> =
            sqlx::query_as("SELECT registry, COUNT(DISTINCT repository), COUNT(*) FROM index_tags GROUP BY registry")
                .fetch_all(self.pool())
                .await?;
        for (r, repos, n) in tags {
            let c = by.entry(r.clone()).or_insert_with(|| IndexCoverage { registry: r, ..Default::default() });
            c.repositories = repos.max(0) as u64;
            c.tags = n.max(0) as u64;
        }
        let manifests: Vec<(String, i64)> =
            sqlx::query_as("SELECT registry, COUNT(*) FROM index_manifests GROUP BY registry").fetch_all(self.pool()).await?;
        for (r, n) in manifests {
            by.entry(r.clone()).or_insert_with(|| IndexCoverage { registry: r, ..Default::default() }).manifests = n.max(0) as u64;
        }
        let crawled: Vec<(String, i64, Option<i64>)> =
            sqlx::query_as("SELECT registry, COUNT(*), MIN(crawled_at) FROM crawl_repositories GROUP BY registry")
                .fetch_all(self.pool())
                .await?;
        for (r, n, oldest) in crawled {
            let c = by.entry(r.clone()).or_insert_with(|| IndexCoverage { registry: r, ..Default::default() });
            c.crawled = n.max(0) as u64;
            c.oldest_crawl = oldest.map(from_millis);
        }
        Ok(by.into_values().collect())
    }

    /// Where each registry's crawl stands.
    pub async fn crawl_states(&self) -> Result<Vec<CrawlState>> {
        Ok(sqlx::query_as::<_, CrawlRow>(
            "SELECT registry, state, pass_started, pass_finished, repositories, done, requests, paused_until, message, updated_at FROM crawl_registries ORDER BY registry",
        )
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(crawl_state)
        .collect())
    }

    /// Where one registry's crawl stands.
    pub async fn crawl_state(&self, registry: &str) -> Result<Option<CrawlState>> {
        Ok(sqlx::query_as::<_, CrawlRow>(
            "SELECT registry, state, pass_started, pass_finished, repositories, done, requests, paused_until, message, updated_at FROM crawl_registries WHERE registry = $1",
        )
        .bind(registry)
        .fetch_optional(self.pool())
        .await?
        .map(crawl_state))
    }

    /// Records where a registry's crawl stands.
    pub async fn crawl_state_put(&self, s: &CrawlState) -> Result<()> {
        sqlx::query(
            "INSERT INTO crawl_registries (registry, state, pass_started, pass_finished, repositories, done, requests, paused_until, message, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (registry) DO UPDATE SET state = excluded.state, pass_started = excluded.pass_started, pass_finished = excluded.pass_finished, \
             repositories = excluded.repositories, done = excluded.done, requests = excluded.requests, paused_until = excluded.paused_until, \
             message = excluded.message, updated_at = excluded.updated_at",
        )
        .bind(&s.registry)
        .bind(&s.state)
        .bind(s.pass_started.map(millis))
        .bind(s.pass_finished.map(millis))
        .bind(s.repositories as i64)
        .bind(s.done as i64)
        .bind(s.requests as i64)
        .bind(s.paused_until.map(millis))
        .bind(s.message.as_deref())
        .bind(millis(s.updated_at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records that the crawl read a repository whole.
    pub async fn crawl_repository_done(&self, registry: &str, repository: &str, tags: u64, at: OffsetDateTime) -> Result<()> {
        sqlx::query(
            "INSERT INTO crawl_repositories (registry, repository, crawled_at, tags) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (registry, repository) DO UPDATE SET crawled_at = excluded.crawled_at, tags = excluded.tags",
        )
        .bind(registry)
        .bind(repository)
        .bind(millis(at))
        .bind(tags as i64)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// When the crawl last read each repository of `registry`.
    pub async fn crawl_repositories(&self, registry: &str) -> Result<HashMap<String, OffsetDateTime>> {
        Ok(sqlx::query_as::<_, (String, i64)>("SELECT repository, crawled_at FROM crawl_repositories WHERE registry = $1")
            .bind(registry)
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(|(r, t)| (r, from_millis(t)))
            .collect())
    }

    /// The summaries kept for `repositories` of `registry` (all of them when None).
    pub async fn repo_summaries(&self, registry: &str, repositories: Option<&[String]>) -> Result<HashMap<String, RepoSummaryRecord>> {
        const COLUMNS: &str = "registry, repository, tags, newest, pushed, pushed_source, checked_at";
        let rows: Vec<SummaryRow> = match repositories {
            None => {
                sqlx::query_as(&format!("SELECT {COLUMNS} FROM repository_summaries WHERE registry = $1"))
                    .bind(registry)
                    .fetch_all(self.pool())
                    .await?
            }
            Some(names) => {
                let mut rows = Vec::new();
                for chunk in names.chunks(CHUNK) {
                    let sql = format!(
                        "SELECT {COLUMNS} FROM repository_summaries WHERE registry = $1 AND repository IN ({})",
                        placeholders(2, chunk.len())
                    );
                    let mut q = sqlx::query_as::<_, SummaryRow>(&sql).bind(registry);
                    for n in chunk {
                        q = q.bind(n.as_str());
                    }
                    rows.extend(q.fetch_all(self.pool()).await?);
                }
                rows
            }
        };
        Ok(rows.into_iter().map(summary).map(|s| (s.repository.clone(), s)).collect())
    }

    /// Keeps a repository's summary (replacing the one kept).
    pub async fn repo_summary_put(&self, s: &RepoSummaryRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO repository_summaries (registry, repository, tags, newest, pushed, pushed_source, checked_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (registry, repository) DO UPDATE SET tags = excluded.tags, newest = excluded.newest, pushed = excluded.pushed, \
             pushed_source = excluded.pushed_source, checked_at = excluded.checked_at",
        )
        .bind(&s.registry)
        .bind(&s.repository)
        .bind(s.tags as i64)
        .bind(s.newest.as_deref())
        .bind(s.pushed.map(millis))
        .bind(s.pushed_source.as_deref())
        .bind(millis(s.checked_at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Updates a repository's tag count and newest version, keeping its last push as known
    /// (the tag list alone says nothing about dates).
    pub async fn repo_summary_tags(
        &self,
        registry: &str,
        repository: &str,
        tags: u64,
        newest: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO repository_summaries (registry, repository, tags, newest, pushed, pushed_source, checked_at) VALUES ($1, $2, $3, $4, NULL, NULL, $5) \
             ON CONFLICT (registry, repository) DO UPDATE SET tags = excluded.tags, newest = excluded.newest",
        )
        .bind(registry)
        .bind(repository)
        .bind(tags as i64)
        .bind(newest)
        .bind(millis(at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records that someone opened a repository.
    pub async fn recent_open(&self, registry: &str, repository: &str, at: OffsetDateTime) -> Result<()> {
        sqlx::query(
            "INSERT INTO recent_repositories (registry, repository, opened_at) VALUES ($1, $2, $3) \
             ON CONFLICT (registry, repository) DO UPDATE SET opened_at = excluded.opened_at",
        )
        .bind(registry)
        .bind(repository)
        .bind(millis(at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The repositories of `registry` opened most recently, newest first, at most `limit`.
    pub async fn recent_repositories(&self, registry: &str, limit: usize) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT repository FROM recent_repositories WHERE registry = $1 ORDER BY opened_at DESC, repository LIMIT $2",
        )
        .bind(registry)
        .bind(limit as i64)
        .fetch_all(self.pool())
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ranges() {
        assert_eq!(prefix_end("sha256:ab").as_deref(), Some("sha256:ac"));
        assert_eq!(prefix_end("sha256:").as_deref(), Some("sha256;"));
        assert_eq!(prefix_end("").as_deref(), None);
    }
}
