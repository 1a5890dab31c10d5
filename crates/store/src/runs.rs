//! Retention runs: one row per run (what started it, its progress, how it ended) and one row
//! per item it planned or did. A run is claimed through the database: a schedule fire can be
//! claimed once (a unique index on policy and fire time), and a policy's lease (see
//! [`crate::leases`]) keeps two runs of one policy from overlapping. A run whose heartbeat
//! stopped (its replica died) is marked interrupted by whoever notices.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Result, Store, StoreError, from_millis, millis, new_id};

/// What started a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// Someone pressed "run now" (or "dry run").
    Manual,
    /// The policy's schedule.
    Schedule,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "schedule" { Trigger::Schedule } else { Trigger::Manual }
    }
}

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    Running,
    Done,
    /// Ended early: the error budget was spent, or the registry could not be read.
    Failed,
    /// Stopped on request.
    Stopped,
    /// Its replica stopped (crashed, killed) mid-run; whatever it did is in the trash and the audit.
    Interrupted,
    /// A schedule fire that found its policy still running: recorded, nothing done.
    Skipped,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Done => "done",
            RunState::Failed => "failed",
            RunState::Stopped => "stopped",
            RunState::Interrupted => "interrupted",
            RunState::Skipped => "skipped",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "running" => RunState::Running,
            "done" => RunState::Done,
            "failed" => RunState::Failed,
            "stopped" => RunState::Stopped,
            "skipped" => RunState::Skipped,
            _ => RunState::Interrupted,
        }
    }
}

/// A run to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRun {
    pub policy_id: i64,
    pub policy_version: i64,
    pub policy_name: String,
    pub registry: String,
    pub trigger: Trigger,
    pub started_by: Option<String>,
    pub dry_run: bool,
    /// The replica running it.
    pub owner: String,
    /// The schedule fire it is for.
    pub scheduled_for: Option<OffsetDateTime>,
    /// The repository globs the run covers (its policy's, when it starts).
    pub scope: Vec<String>,
}

/// A run's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    pub repositories: i64,
    /// Deletion units planned (for a dry run: what would be deleted).
    pub planned: i64,
    pub done: i64,
    pub skipped: i64,
    pub failed: i64,
    pub tags_kept: i64,
    pub tags_deleted: i64,
    pub bytes_freed: i64,
}

/// A run as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: i64,
    pub policy_id: i64,
    pub policy_version: i64,
    pub policy_name: String,
    pub registry: String,
    pub trigger: Trigger,
    pub started_by: Option<String>,
    pub dry_run: bool,
    pub state: RunState,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub heartbeat_at: OffsetDateTime,
    pub owner: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub scheduled_for: Option<OffsetDateTime>,
    pub stop_requested: bool,
    pub counts: RunCounts,
    pub message: Option<String>,
    /// The repository globs the run covers, as its policy said when it started (`**` for runs
    /// recorded before Portolan kept them).
    pub scope: Vec<String>,
}

/// One item of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunItem {
    pub position: i64,
    pub repository: String,
    /// `delete-tag`, `delete-manifest`, or `plan-untag` / `plan-delete` in a dry run.
    pub action: String,
    pub tag: Option<String>,
    pub digest: String,
    /// `done`, `skipped`, `failed`, or `planned`.
    pub outcome: String,
    pub reason: Option<String>,
    pub bytes: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A `run_items` row: position, repository, action, tag, digest, outcome, reason, bytes, at.
type ItemRow = (i64, String, String, Option<String>, String, String, Option<String>, i64, i64);

const COLUMNS: &str = "id, policy_id, policy_version, policy_name, registry, trigger_kind, started_by, dry_run, state, started_at, finished_at, heartbeat_at, owner, scheduled_for, stop_requested, repositories, planned, done, skipped, failed, tags_kept, tags_deleted, bytes_freed, message, scope";

fn run_of(row: &sqlx::any::AnyRow) -> Result<RunRecord> {
    use sqlx::Row as _;
    let trigger: String = row.try_get(5)?;
    let state: String = row.try_get(8)?;
    let finished: Option<i64> = row.try_get(10)?;
    let fire: Option<i64> = row.try_get(13)?;
    Ok(RunRecord {
        id: row.try_get(0)?,
        policy_id: row.try_get(1)?,
        policy_version: row.try_get(2)?,
        policy_name: row.try_get(3)?,
        registry: row.try_get(4)?,
        trigger: Trigger::parse(&trigger),
        started_by: row.try_get(6)?,
        dry_run: row.try_get::<i64, _>(7)? != 0,
        state: RunState::parse(&state),
        started_at: from_millis(row.try_get(9)?),
        finished_at: finished.map(from_millis),
        heartbeat_at: from_millis(row.try_get(11)?),
        owner: row.try_get(12)?,
        scheduled_for: fire.map(from_millis),
        stop_requested: row.try_get::<i64, _>(14)? != 0,
        counts: RunCounts {
            repositories: row.try_get(15)?,
            planned: row.try_get(16)?,
            done: row.try_get(17)?,
            skipped: row.try_get(18)?,
            failed: row.try_get(19)?,
            tags_kept: row.try_get(20)?,
            tags_deleted: row.try_get(21)?,
            bytes_freed: row.try_get(22)?,
        },
        message: row.try_get(23)?,
        scope: match row.try_get::<Option<String>, _>(24)? {
            Some(json) => serde_json::from_str(&json).map_err(|e| StoreError::Internal(format!("a run's scope does not read: {e}")))?,
            None => vec!["**".to_owned()],
        },
    })
}

impl Store {
    /// Records a run as started. For a schedule fire, `None` when another replica claimed that
    /// fire already.
    pub async fn run_start(&self, run: &NewRun) -> Result<Option<RunRecord>> {
        let id = new_id();
        let now = millis(OffsetDateTime::now_utc());
        let inserted = sqlx::query(
            "INSERT INTO runs (id, policy_id, policy_version, policy_name, registry, trigger_kind, started_by, dry_run, state, started_at, heartbeat_at, owner, scheduled_for, stop_requested, repositories, planned, done, skipped, failed, tags_kept, tags_deleted, bytes_freed, scope) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, 0, 0, 0, 0, 0, 0, 0, 0, 0, $13)",
        )
        .bind(id)
        .bind(run.policy_id)
        .bind(run.policy_version)
        .bind(&run.policy_name)
        .bind(&run.registry)
        .bind(run.trigger.as_str())
        .bind(run.started_by.as_deref())
        .bind(i64::from(run.dry_run))
        .bind(RunState::Running.as_str())
        .bind(now)
        .bind(&run.owner)
        .bind(run.scheduled_for.map(millis))
        .bind(serde_json::to_string(&run.scope).map_err(|e| StoreError::Internal(e.to_string()))?)
        .execute(self.pool())
        .await;
        match inserted {
            Ok(_) => Ok(Some(self.run(id).await?)),
            Err(e) => match StoreError::from(e) {
                StoreError::Conflict(_) if run.scheduled_for.is_some() => Ok(None),
                other => Err(other),
            },
        }
    }

    /// Saves progress and the heartbeat.
    pub async fn run_progress(&self, id: i64, c: &RunCounts) -> Result<()> {
        sqlx::query(
            "UPDATE runs SET repositories = $1, planned = $2, done = $3, skipped = $4, failed = $5, tags_kept = $6, tags_deleted = $7, bytes_freed = $8, heartbeat_at = $9 WHERE id = $10",
        )
        .bind(c.repositories)
        .bind(c.planned)
        .bind(c.done)
        .bind(c.skipped)
        .bind(c.failed)
        .bind(c.tags_kept)
        .bind(c.tags_deleted)
        .bind(c.bytes_freed)
        .bind(millis(OffsetDateTime::now_utc()))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records that a running run is alive (its replica's heartbeat), without touching its
    /// progress.
    pub async fn run_heartbeat(&self, id: i64) -> Result<()> {
        sqlx::query("UPDATE runs SET heartbeat_at = $1 WHERE id = $2 AND state = $3")
            .bind(millis(OffsetDateTime::now_utc()))
            .bind(id)
            .bind(RunState::Running.as_str())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Appends items (their positions must be new).
    pub async fn run_items_add(&self, id: i64, items: &[RunItem]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool().begin().await?;
        for it in items {
            sqlx::query(
                "INSERT INTO run_items (run_id, position, repository, action, tag, digest, outcome, reason, bytes, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(id)
            .bind(it.position)
            .bind(&it.repository)
            .bind(&it.action)
            .bind(it.tag.as_deref())
            .bind(&it.digest)
            .bind(&it.outcome)
            .bind(it.reason.as_deref())
            .bind(it.bytes)
            .bind(millis(it.at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends a run.
    pub async fn run_finish(&self, id: i64, state: RunState, c: &RunCounts, message: Option<&str>) -> Result<()> {
        self.run_progress(id, c).await?;
        sqlx::query("UPDATE runs SET state = $1, finished_at = $2, message = $3 WHERE id = $4 AND state = $5")
            .bind(state.as_str())
            .bind(millis(OffsetDateTime::now_utc()))
            .bind(message)
            .bind(id)
            .bind(RunState::Running.as_str())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn run(&self, id: i64) -> Result<RunRecord> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM runs WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no run {id}")))?;
        run_of(&row)
    }

    /// Runs, newest first: of one policy, or of all; older than `before` (paging).
    pub async fn runs(&self, policy: Option<i64>, before: Option<i64>, limit: i64) -> Result<Vec<RunRecord>> {
        let rows = match policy {
            Some(p) => {
                sqlx::query(&format!("SELECT {COLUMNS} FROM runs WHERE policy_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"))
                    .bind(p)
                    .bind(before.unwrap_or(i64::MAX))
                    .bind(limit.clamp(1, 1000))
                    .fetch_all(self.pool())
                    .await?
            }
            None => {
                sqlx::query(&format!("SELECT {COLUMNS} FROM runs WHERE id < $1 ORDER BY id DESC LIMIT $2"))
                    .bind(before.unwrap_or(i64::MAX))
                    .bind(limit.clamp(1, 1000))
                    .fetch_all(self.pool())
                    .await?
            }
        };
        rows.iter().map(run_of).collect()
    }

    /// A run's items, in order, from `from` on, at most `limit`.
    pub async fn run_items(&self, id: i64, from: i64, limit: i64) -> Result<Vec<RunItem>> {
        let rows: Vec<ItemRow> = sqlx::query_as(
            "SELECT position, repository, action, tag, digest, outcome, reason, bytes, at FROM run_items WHERE run_id = $1 AND position >= $2 ORDER BY position LIMIT $3",
        )
        .bind(id)
        .bind(from)
        .bind(limit.clamp(1, 100_000))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(position, repository, action, tag, digest, outcome, reason, bytes, at)| RunItem {
                position,
                repository,
                action,
                tag,
                digest,
                outcome,
                reason,
                bytes,
                at: from_millis(at),
            })
            .collect())
    }

    /// Asks a running run to stop (it checks between items).
    pub async fn run_request_stop(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE runs SET stop_requested = 1 WHERE id = $1 AND state = $2")
            .bind(id)
            .bind(RunState::Running.as_str())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether a stop was asked for.
    pub async fn run_stop_requested(&self, id: i64) -> Result<bool> {
        let v: i64 = sqlx::query_scalar("SELECT stop_requested FROM runs WHERE id = $1").bind(id).fetch_one(self.pool()).await?;
        Ok(v != 0)
    }

    /// Marks interrupted the running runs whose heartbeat is older than `stale` (their replica
    /// is gone); returns their ids.
    pub async fn runs_interrupt_stale(&self, stale: OffsetDateTime) -> Result<Vec<i64>> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM runs WHERE state = $1 AND heartbeat_at < $2")
            .bind(RunState::Running.as_str())
            .bind(millis(stale))
            .fetch_all(self.pool())
            .await?;
        for id in &ids {
            sqlx::query("UPDATE runs SET state = $1, finished_at = $2, message = $3 WHERE id = $4 AND state = $5")
                .bind(RunState::Interrupted.as_str())
                .bind(millis(OffsetDateTime::now_utc()))
                .bind(
                    "the replica running it stopped mid-run; what it deleted is in the trash and the audit log, and running again is safe",
                )
                .bind(id)
                .bind(RunState::Running.as_str())
                .execute(self.pool())
                .await?;
        }
        Ok(ids)
    }

    /// The latest schedule fire claimed for a policy.
    pub async fn last_fire(&self, policy: i64) -> Result<Option<OffsetDateTime>> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT MAX(scheduled_for) FROM runs WHERE policy_id = $1").bind(policy).fetch_one(self.pool()).await?;
        Ok(v.map(from_millis))
    }
}
