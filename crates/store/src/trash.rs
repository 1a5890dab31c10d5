//! The trash: before anything is deleted, the manifests that go (the artifact, its index
//! children, its referrers) are saved here byte for byte with their tags — one entry per
//! delete — so they can be put back until the registry's garbage collection removes the blobs.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Actor, ActorKind, Result, Store, StoreError, from_millis, millis, new_id};

/// What a delete removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrashKind {
    /// A tag alone (its manifest stays for its other tags).
    Tag,
    /// An artifact by digest, with every tag on it, its unique index children and referrers.
    Artifact,
}

impl TrashKind {
    fn as_str(self) -> &'static str {
        match self {
            TrashKind::Tag => "tag",
            TrashKind::Artifact => "artifact",
        }
    }
}

/// Where an entry stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrashState {
    /// Saved; the delete is under way (or was interrupted: the audit log tells what happened).
    Saved,
    /// Deleted from the registry; restorable.
    Deleted,
    /// The delete failed before removing anything.
    Failed,
    /// Put back.
    Restored,
    /// Its content was purged (by hand or after the retention window): no longer restorable.
    Purged,
}

impl TrashState {
    pub fn as_str(self) -> &'static str {
        match self {
            TrashState::Saved => "saved",
            TrashState::Deleted => "deleted",
            TrashState::Failed => "failed",
            TrashState::Restored => "restored",
            TrashState::Purged => "purged",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "saved" => TrashState::Saved,
            "deleted" => TrashState::Deleted,
            "failed" => TrashState::Failed,
            "restored" => TrashState::Restored,
            _ => TrashState::Purged,
        }
    }

    /// Whether the entry can be restored now.
    pub fn restorable(self) -> bool {
        matches!(self, TrashState::Deleted | TrashState::Saved)
    }
}

/// The part a saved manifest played.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ManifestRole {
    /// The artifact deleted (or the one the deleted tag named).
    Root,
    /// A platform manifest of an index.
    Child,
    /// A signature, SBOM, attestation… of something deleted.
    Referrer,
}

impl ManifestRole {
    fn as_str(self) -> &'static str {
        match self {
            ManifestRole::Root => "root",
            ManifestRole::Child => "child",
            ManifestRole::Referrer => "referrer",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "child" => ManifestRole::Child,
            "referrer" => ManifestRole::Referrer,
            _ => ManifestRole::Root,
        }
    }
}

/// A manifest as saved: its exact bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrashManifest {
    pub digest: String,
    pub media_type: String,
    pub role: ManifestRole,
    /// The manifest it refers to, for a referrer.
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub content: Vec<u8>,
}

/// An entry to save before deleting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTrash {
    pub actor: Actor,
    pub registry: String,
    pub repository: String,
    pub kind: TrashKind,
    /// One line for people ("library/hello:1.0 (sha256:…)").
    pub summary: String,
    /// In restore order: children, then the root, then referrers.
    pub manifests: Vec<TrashManifest>,
    /// Tags to put back, and the digest each named.
    pub tags: Vec<(String, String)>,
    pub request_id: Option<String>,
    /// The retention run that deleted it, if any.
    pub run_id: Option<i64>,
}

/// An entry of the trash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrashEntry {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: Actor,
    pub registry: String,
    pub repository: String,
    pub kind: TrashKind,
    pub summary: String,
    pub state: TrashState,
    #[serde(with = "time::serde::rfc3339")]
    pub state_at: OffsetDateTime,
    pub state_by: Option<String>,
    pub state_reason: Option<String>,
    pub request_id: Option<String>,
    pub run_id: Option<i64>,
    /// Filled by [`Store::trash_entry`] (content included); empty in lists.
    pub manifests: Vec<TrashManifest>,
    pub tags: Vec<(String, String)>,
}

/// Which entries to list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrashFilter {
    pub registry: Option<String>,
    pub repository: Option<String>,
    /// Entries older than this id (paging, newest first).
    pub before: Option<i64>,
    /// Restorable ones only.
    pub restorable: bool,
}

const COLUMNS: &str = "id, at, actor_kind, actor_provider, actor_subject, actor_name, registry, repository, kind, summary, state, state_at, state_by, state_reason, request_id, run_id";

impl Store {
    /// Saves what a delete is about to remove, in one transaction; returns the entry's id.
    pub async fn trash_put(&self, t: &NewTrash) -> Result<i64> {
        let id = new_id();
        let now = millis(OffsetDateTime::now_utc());
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO trash (id, at, actor_kind, actor_provider, actor_subject, actor_name, registry, repository, kind, summary, state, state_at, request_id, run_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $2, $12, $13)",
        )
        .bind(id)
        .bind(now)
        .bind(t.actor.kind.as_str())
        .bind(t.actor.provider.as_deref())
        .bind(t.actor.subject.as_deref())
        .bind(t.actor.name.as_deref())
        .bind(&t.registry)
        .bind(&t.repository)
        .bind(t.kind.as_str())
        .bind(&t.summary)
        .bind(TrashState::Saved.as_str())
        .bind(t.request_id.as_deref())
        .bind(t.run_id)
        .execute(&mut *tx)
        .await?;
        for (position, m) in t.manifests.iter().enumerate() {
            sqlx::query(
                "INSERT INTO trash_manifests (trash_id, position, digest, media_type, role, subject, content) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(position as i64)
            .bind(&m.digest)
            .bind(&m.media_type)
            .bind(m.role.as_str())
            .bind(m.subject.as_deref())
            .bind(m.content.clone())
            .execute(&mut *tx)
            .await?;
        }
        for (tag, digest) in &t.tags {
            sqlx::query("INSERT INTO trash_tags (trash_id, tag, digest) VALUES ($1, $2, $3) ON CONFLICT (trash_id, tag) DO NOTHING")
                .bind(id)
                .bind(tag)
                .bind(digest)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Moves an entry to `state` (by whom, why).
    pub async fn trash_set_state(&self, id: i64, state: TrashState, by: Option<&str>, reason: Option<&str>) -> Result<()> {
        let done = sqlx::query("UPDATE trash SET state = $1, state_at = $2, state_by = $3, state_reason = $4 WHERE id = $5")
            .bind(state.as_str())
            .bind(millis(OffsetDateTime::now_utc()))
            .bind(by)
            .bind(reason)
            .bind(id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no trash entry {id}")));
        }
        Ok(())
    }

    /// Entries, newest first, without their content.
    pub async fn trash_entries(&self, filter: &TrashFilter, limit: i64) -> Result<Vec<TrashEntry>> {
        let mut clauses = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        if let Some(r) = &filter.registry {
            texts.push(r.clone());
            clauses.push(format!("registry = ${}", texts.len()));
        }
        if let Some(r) = &filter.repository {
            texts.push(r.clone());
            clauses.push(format!("repository = ${}", texts.len()));
        }
        if filter.restorable {
            texts.push(TrashState::Deleted.as_str().into());
            clauses.push(format!("state = ${}", texts.len()));
        }
        let before_at = texts.len() + 1;
        let limit_at = texts.len() + 2;
        clauses.push(format!("id < ${before_at}"));
        let sql = format!("SELECT {COLUMNS} FROM trash WHERE {} ORDER BY id DESC LIMIT ${limit_at}", clauses.join(" AND "));
        let mut q = sqlx::query(&sql);
        for t in &texts {
            q = q.bind(t.as_str());
        }
        let rows = q.bind(filter.before.unwrap_or(i64::MAX)).bind(limit.clamp(1, 1000)).fetch_all(self.pool()).await?;
        rows.iter().map(row_to_entry).collect()
    }

    /// One entry with its manifests (content included) and tags.
    pub async fn trash_entry(&self, id: i64) -> Result<TrashEntry> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM trash WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no trash entry {id}")))?;
        let mut entry = row_to_entry(&row)?;
        let manifests = sqlx::query_as::<_, (String, String, String, Option<String>, Vec<u8>)>(
            "SELECT digest, media_type, role, subject, content FROM trash_manifests WHERE trash_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        entry.manifests = manifests
            .into_iter()
            .map(|(digest, media_type, role, subject, content)| TrashManifest {
                digest,
                media_type,
                role: ManifestRole::parse(&role),
                subject,
                content,
            })
            .collect();
        entry.tags = sqlx::query_as::<_, (String, String)>("SELECT tag, digest FROM trash_tags WHERE trash_id = $1 ORDER BY tag")
            .bind(id)
            .fetch_all(self.pool())
            .await?;
        Ok(entry)
    }

    /// Removes an entry's content for good (it stays listed as purged).
    pub async fn trash_purge(&self, id: i64, by: Option<&str>, reason: &str) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM trash_manifests WHERE trash_id = $1").bind(id).execute(&mut *tx).await?;
        let done = sqlx::query("UPDATE trash SET state = $1, state_at = $2, state_by = $3, state_reason = $4 WHERE id = $5")
            .bind(TrashState::Purged.as_str())
            .bind(millis(OffsetDateTime::now_utc()))
            .bind(by)
            .bind(reason)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no trash entry {id}")));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Entries still `saved` (the delete was under way) since before `before`, oldest first, at
    /// most `limit`, without their content: deletes that were interrupted (the process died
    /// between saving and recording how the delete ended), for the scheduler to settle.
    pub async fn trash_unsettled(&self, before: OffsetDateTime, limit: i64) -> Result<Vec<TrashEntry>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM trash WHERE state = $1 AND state_at < $2 ORDER BY id LIMIT $3"))
            .bind(TrashState::Saved.as_str())
            .bind(millis(before))
            .bind(limit.clamp(1, 1000))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(row_to_entry).collect()
    }

    /// The ids of entries older than `before` whose content is still kept (for purging after N
    /// days).
    pub async fn trash_expired(&self, before: OffsetDateTime) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar("SELECT id FROM trash WHERE at < $1 AND state <> $2 ORDER BY id")
            .bind(millis(before))
            .bind(TrashState::Purged.as_str())
            .fetch_all(self.pool())
            .await?)
    }
}

fn row_to_entry(row: &sqlx::any::AnyRow) -> Result<TrashEntry> {
    use sqlx::Row as _;
    let kind: String = row.try_get(8)?;
    let state: String = row.try_get(10)?;
    let actor_kind: String = row.try_get(2)?;
    Ok(TrashEntry {
        id: row.try_get(0)?,
        at: from_millis(row.try_get(1)?),
        actor: Actor {
            kind: match actor_kind.as_str() {
                "user" => ActorKind::User,
                "schedule" => ActorKind::Schedule,
                "system" => ActorKind::System,
                _ => ActorKind::Anonymous,
            },
            provider: row.try_get(3)?,
            subject: row.try_get(4)?,
            name: row.try_get(5)?,
        },
        registry: row.try_get(6)?,
        repository: row.try_get(7)?,
        kind: if kind == "tag" { TrashKind::Tag } else { TrashKind::Artifact },
        summary: row.try_get(9)?,
        state: TrashState::parse(&state),
        state_at: from_millis(row.try_get(11)?),
        state_by: row.try_get(12)?,
        state_reason: row.try_get(13)?,
        request_id: row.try_get(14)?,
        run_id: row.try_get(15)?,
        manifests: Vec::new(),
        tags: Vec::new(),
    })
}
