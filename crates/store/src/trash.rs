//! The trash: before anything is deleted, the manifests that go (the artifact, its index
//! children, its referrers) are saved here byte for byte with their tags — one entry per
//! delete — so they can be put back until the registry's garbage collection removes the blobs.
//!
//! # States
//!
//! Every change of state is one conditional update (`… WHERE id = $1 AND state IN (…)`), so two
//! replicas, or two clicks, racing for the same entry cannot both win; the loser gets
//! [`StoreError::Conflict`] and the entry keeps the winner's state. The moves allowed
//! ([`TrashState::may_become`]):
//!
//! | from | to | by |
//! |---|---|---|
//! | `saved` | `deleted`, `failed` | the delete's end ([`Store::trash_set_state`]), or settling an interrupted one ([`Store::trash_settle`]) |
//! | `deleted`, `failed` | `deleted`, `failed` | the delete's own end, over what settling guessed while it was still going on |
//! | `deleted`, `failed` | `restoring` | a restore claims the entry ([`Store::trash_restore_claim`]) |
//! | `restoring` | `restored` | the claim's holder, everything put back ([`Store::trash_restore_finish`]) |
//! | `restoring` | the state it was claimed from | the holder, when the restore failed ([`Store::trash_restore_release`]), or anyone once the claim is abandoned ([`Store::trash_restore_abandoned`]) |
//! | `deleted`, `failed`, `restored` | `purged` | a purge, by hand or by age ([`Store::trash_purge`]) |
//!
//! So a purge never lands on an entry whose delete or restore is under way (`saved`,
//! `restoring`), a purged entry stays purged whatever ends later, and a restore runs once.

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
    /// The delete failed before removing anything (or, for an artifact, before removing its
    /// root: some referrers may be gone); restorable too.
    Failed,
    /// A restore is under way (it holds the entry: no second restore, no purge meanwhile).
    Restoring,
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
            TrashState::Restoring => "restoring",
            TrashState::Restored => "restored",
            TrashState::Purged => "purged",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "saved" => TrashState::Saved,
            "deleted" => TrashState::Deleted,
            "failed" => TrashState::Failed,
            "restoring" => TrashState::Restoring,
            "restored" => TrashState::Restored,
            _ => TrashState::Purged,
        }
    }

    /// Whether the entry can be restored now: its delete has ended (not while it is under way,
    /// nor before an interrupted one is settled) and nothing else holds or ended it.
    pub fn restorable(self) -> bool {
        matches!(self, TrashState::Deleted | TrashState::Failed)
    }

    /// Whether the entry's content can be purged now: not while a delete or a restore of it is
    /// under way, and not twice.
    pub fn purgeable(self) -> bool {
        matches!(self, TrashState::Deleted | TrashState::Failed | TrashState::Restored)
    }

    /// Whether an entry may go from `self` to `to`: the table of the module's documentation.
    pub fn may_become(self, to: TrashState) -> bool {
        use TrashState::*;
        match (self, to) {
            (Saved | Deleted | Failed, Deleted | Failed) => true,
            (Deleted | Failed, Restoring) => true,
            (Restoring, Restored | Deleted | Failed) => true,
            (from, Purged) => from.purgeable(),
            _ => false,
        }
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

/// A restore's hold on a trash entry, from [`Store::trash_restore_claim`]: only its holder
/// renews, finishes or releases it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestoreClaim {
    /// The entry held.
    pub id: i64,
    token: i64,
}

/// Which entries to list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrashFilter {
    pub registry: Option<String>,
    pub repository: Option<String>,
    /// Entries older than this id (paging, newest first).
    pub before: Option<i64>,
    /// Restorable ones only ([`TrashState::restorable`]).
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

    /// Records how a delete ended: `saved` → `deleted` or `failed` (by whom, why). Also over
    /// `deleted` or `failed`, which settling an interrupted delete ([`Store::trash_settle`]) may
    /// have guessed while this one was still going on: the delete's own outcome is the better
    /// answer. An entry that moved on since (being restored, restored, purged) keeps its state:
    /// [`StoreError::Conflict`].
    pub async fn trash_set_state(&self, id: i64, state: TrashState, by: Option<&str>, reason: Option<&str>) -> Result<()> {
        self.trash_move(id, &[TrashState::Saved, TrashState::Deleted, TrashState::Failed], state, by, reason).await
    }

    /// Settles an interrupted delete: `saved` → `deleted` or `failed`, only if the delete has
    /// not recorded its own end meanwhile (else [`StoreError::Conflict`], and its answer stays).
    pub async fn trash_settle(&self, id: i64, state: TrashState, by: Option<&str>, reason: &str) -> Result<()> {
        self.trash_move(id, &[TrashState::Saved], state, by, Some(reason)).await
    }

    /// Moves entry `id` from one of `from` to `to` in one conditional update.
    async fn trash_move(&self, id: i64, from: &[TrashState], to: TrashState, by: Option<&str>, reason: Option<&str>) -> Result<()> {
        if let Some(wrong) = from.iter().find(|f| !f.may_become(to)) {
            return Err(StoreError::Internal(format!("a trash entry may not go from {} to {}", wrong.as_str(), to.as_str())));
        }
        let sql = format!(
            "UPDATE trash SET state = $1, state_at = $2, state_by = $3, state_reason = $4 WHERE id = $5 AND state IN ({})",
            crate::placeholders(6, from.len())
        );
        let mut query = sqlx::query(&sql).bind(to.as_str()).bind(millis(OffsetDateTime::now_utc())).bind(by).bind(reason).bind(id);
        for f in from {
            query = query.bind(f.as_str());
        }
        if query.execute(self.pool()).await?.rows_affected() == 0 {
            return Err(self.trash_refusal(id, to).await);
        }
        Ok(())
    }

    /// Why entry `id` could not become `to`: it does not exist, or its state now does not allow
    /// it (read after the refused update, for the message only).
    async fn trash_refusal(&self, id: i64, to: TrashState) -> StoreError {
        let state: Option<String> =
            match sqlx::query_scalar("SELECT state FROM trash WHERE id = $1").bind(id).fetch_optional(self.pool()).await {
                Ok(state) => state,
                Err(e) => return e.into(),
            };
        let Some(state) = state else { return StoreError::NotFound(format!("no trash entry {id}")) };
        let now = match TrashState::parse(&state) {
            TrashState::Saved => "is still being deleted (or its interrupted delete is not settled yet)".to_owned(),
            TrashState::Restoring => "is being restored right now".to_owned(),
            TrashState::Restored => "was restored already".to_owned(),
            TrashState::Purged => "was purged already".to_owned(),
            other => format!("is {}", other.as_str()),
        };
        let wanted = match to {
            TrashState::Restoring => "restored".to_owned(),
            TrashState::Purged => "purged".to_owned(),
            other => format!("marked {}", other.as_str()),
        };
        StoreError::Conflict(format!("trash entry {id} {now}: it cannot be {wanted}"))
    }

    /// Claims entry `id` for a restore: `deleted` or `failed` → `restoring`, in one conditional
    /// update, so two restores racing (two replicas, a double click) cannot both run, and no
    /// purge can happen while it runs. [`StoreError::Conflict`] when the entry is not restorable
    /// (any more). The holder renews the claim as it goes ([`Store::trash_restore_renew`]), then
    /// finishes ([`Store::trash_restore_finish`]) or releases it ([`Store::trash_restore_release`]).
    pub async fn trash_restore_claim(&self, id: i64, by: Option<&str>) -> Result<RestoreClaim> {
        let token = new_id();
        // `claimed_from = state` reads the row as it was before this update, on both engines.
        let done = sqlx::query(
            "UPDATE trash SET state = $1, claimed_from = state, claim = $2, state_at = $3, state_by = $4, state_reason = NULL \
             WHERE id = $5 AND state IN ($6, $7)",
        )
        .bind(TrashState::Restoring.as_str())
        .bind(token)
        .bind(millis(OffsetDateTime::now_utc()))
        .bind(by)
        .bind(id)
        .bind(TrashState::Deleted.as_str())
        .bind(TrashState::Failed.as_str())
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(self.trash_refusal(id, TrashState::Restoring).await);
        }
        Ok(RestoreClaim { id, token })
    }

    /// Shows the claim's holder is still at work (its time moves on, see
    /// [`Store::trash_restore_abandoned`]); false when the claim is no longer its own: the
    /// holder must stop.
    pub async fn trash_restore_renew(&self, claim: &RestoreClaim) -> Result<bool> {
        let done = sqlx::query("UPDATE trash SET state_at = $1 WHERE id = $2 AND state = $3 AND claim = $4")
            .bind(millis(OffsetDateTime::now_utc()))
            .bind(claim.id)
            .bind(TrashState::Restoring.as_str())
            .bind(claim.token)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends a restore that put everything back: `restoring` → `restored`, if `claim` still
    /// holds the entry (else [`StoreError::Conflict`]).
    pub async fn trash_restore_finish(&self, claim: &RestoreClaim, by: Option<&str>) -> Result<()> {
        self.trash_restore_end(claim, "$1", TrashState::Restored.as_str(), by, None).await
    }

    /// Ends a restore that failed or was refused: the entry goes back to the state it was
    /// claimed from, restorable again, with `reason`; if `claim` still holds it (else
    /// [`StoreError::Conflict`]).
    pub async fn trash_restore_release(&self, claim: &RestoreClaim, by: Option<&str>, reason: &str) -> Result<()> {
        self.trash_restore_end(claim, "COALESCE(claimed_from, $1)", TrashState::Deleted.as_str(), by, Some(reason)).await
    }

    /// Sets `state` to the SQL expression `to` (where `$1` is `value`) and drops the claim.
    async fn trash_restore_end(&self, claim: &RestoreClaim, to: &str, value: &str, by: Option<&str>, reason: Option<&str>) -> Result<()> {
        let sql = format!(
            "UPDATE trash SET state = {to}, claim = NULL, claimed_from = NULL, state_at = $2, state_by = $3, state_reason = $4 \
             WHERE id = $5 AND state = $6 AND claim = $7"
        );
        let done = sqlx::query(&sql)
            .bind(value)
            .bind(millis(OffsetDateTime::now_utc()))
            .bind(by)
            .bind(reason)
            .bind(claim.id)
            .bind(TrashState::Restoring.as_str())
            .bind(claim.token)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            let now = match self.trash_refusal(claim.id, TrashState::Restored).await {
                StoreError::Conflict(_) => "this restore no longer holds it (it was given up as abandoned)".to_owned(),
                other => return Err(other),
            };
            return Err(StoreError::Conflict(format!("trash entry {}: {now}", claim.id)));
        }
        Ok(())
    }

    /// Releases the restore claims not renewed since before `before`, their holder having died
    /// or hung: each entry goes back to the state it was claimed from, restorable again, with
    /// `reason`. Returns the entries released. A holder that comes back finds its claim gone
    /// ([`Store::trash_restore_renew`] answers false) and stops.
    pub async fn trash_restore_abandoned(&self, before: OffsetDateTime, by: Option<&str>, reason: &str) -> Result<Vec<i64>> {
        let stale: Vec<(i64, Option<i64>)> =
            sqlx::query_as("SELECT id, claim FROM trash WHERE state = $1 AND state_at < $2 ORDER BY id LIMIT 1000")
                .bind(TrashState::Restoring.as_str())
                .bind(millis(before))
                .fetch_all(self.pool())
                .await?;
        let mut released = Vec::new();
        for (id, token) in stale {
            // Only if still that claim, still not renewed: its holder may have moved on meanwhile.
            let done = sqlx::query(
                "UPDATE trash SET state = COALESCE(claimed_from, $1), claim = NULL, claimed_from = NULL, state_at = $2, \
                 state_by = $3, state_reason = $4 WHERE id = $5 AND state = $6 AND claim = $7 AND state_at < $8",
            )
            .bind(TrashState::Deleted.as_str())
            .bind(millis(OffsetDateTime::now_utc()))
            .bind(by)
            .bind(reason)
            .bind(id)
            .bind(TrashState::Restoring.as_str())
            .bind(token.unwrap_or_default())
            .bind(millis(before))
            .execute(self.pool())
            .await?;
            if done.rows_affected() == 1 {
                released.push(id);
            }
        }
        Ok(released)
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
            texts.push(TrashState::Failed.as_str().into());
            clauses.push(format!("state IN (${}, ${})", texts.len() - 1, texts.len()));
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

    /// Removes an entry's content for good (it stays listed as purged): `deleted`, `failed` or
    /// `restored` → `purged`. [`StoreError::Conflict`] while a delete or a restore of it is
    /// under way (`saved`, `restoring`), and when it was purged already: nothing is removed.
    pub async fn trash_purge(&self, id: i64, by: Option<&str>, reason: &str) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        // The state first: a write from the start, so SQLite takes its write lock at once rather
        // than upgrading a read (which can fail busy), and the content goes only if it applied.
        let done = sqlx::query(
            "UPDATE trash SET state = $1, state_at = $2, state_by = $3, state_reason = $4 WHERE id = $5 AND state IN ($6, $7, $8)",
        )
        .bind(TrashState::Purged.as_str())
        .bind(millis(OffsetDateTime::now_utc()))
        .bind(by)
        .bind(reason)
        .bind(id)
        .bind(TrashState::Deleted.as_str())
        .bind(TrashState::Failed.as_str())
        .bind(TrashState::Restored.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(self.trash_refusal(id, TrashState::Purged).await);
        }
        sqlx::query("DELETE FROM trash_manifests WHERE trash_id = $1").bind(id).execute(&mut *tx).await?;
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

    /// The ids of entries older than `before` whose content is kept and may be purged (for
    /// purging after N days). Not those whose delete or restore is under way: a delete still
    /// `saved` is settled first (then purged on a later pass), a restore ends or is abandoned.
    pub async fn trash_expired(&self, before: OffsetDateTime) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar("SELECT id FROM trash WHERE at < $1 AND state IN ($2, $3, $4) ORDER BY id")
            .bind(millis(before))
            .bind(TrashState::Deleted.as_str())
            .bind(TrashState::Failed.as_str())
            .bind(TrashState::Restored.as_str())
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
            token: None,
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
