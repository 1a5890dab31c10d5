//! Retention policies as stored: the raw policy (JSON, as an admin wrote it — validated by the
//! retention crate whenever it is used) with a version bumped at every change, so two admins
//! editing at once cannot overwrite each other unknowingly.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Result, Store, StoreError, from_millis, millis, new_id};

/// A stored policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    pub id: i64,
    pub name: String,
    pub registry: String,
    /// The raw policy, JSON.
    pub body: String,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub updated_by: Option<String>,
}

type Row = (i64, String, String, String, i64, i64, Option<String>, i64, Option<String>);

fn record(r: Row) -> PolicyRecord {
    PolicyRecord {
        id: r.0,
        name: r.1,
        registry: r.2,
        body: r.3,
        version: r.4,
        created_at: from_millis(r.5),
        created_by: r.6,
        updated_at: from_millis(r.7),
        updated_by: r.8,
    }
}

const COLUMNS: &str = "id, name, registry, body, version, created_at, created_by, updated_at, updated_by";

impl Store {
    /// Stores a new policy (version 1). A name already used is a conflict.
    pub async fn policy_create(&self, name: &str, registry: &str, body: &str, by: Option<&str>) -> Result<PolicyRecord> {
        let id = new_id();
        let now = millis(OffsetDateTime::now_utc());
        sqlx::query(
            "INSERT INTO policies (id, name, registry, body, version, created_at, created_by, updated_at, updated_by) VALUES ($1, $2, $3, $4, 1, $5, $6, $5, $6)",
        )
        .bind(id)
        .bind(name)
        .bind(registry)
        .bind(body)
        .bind(now)
        .bind(by)
        .execute(self.pool())
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("a policy named {name:?} exists already")),
            other => other,
        })?;
        self.policy(id).await
    }

    /// Replaces a policy, if it is still at `version` (else a conflict: someone changed it
    /// meanwhile); returns the new record (version + 1).
    pub async fn policy_update(
        &self,
        id: i64,
        version: i64,
        name: &str,
        registry: &str,
        body: &str,
        by: Option<&str>,
    ) -> Result<PolicyRecord> {
        let done = sqlx::query(
            "UPDATE policies SET name = $1, registry = $2, body = $3, version = version + 1, updated_at = $4, updated_by = $5 WHERE id = $6 AND version = $7",
        )
        .bind(name)
        .bind(registry)
        .bind(body)
        .bind(millis(OffsetDateTime::now_utc()))
        .bind(by)
        .bind(id)
        .bind(version)
        .execute(self.pool())
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("a policy named {name:?} exists already")),
            other => other,
        })?;
        if done.rows_affected() == 0 {
            let current = self.policy(id).await?;
            return Err(StoreError::Conflict(format!(
                "the policy was changed meanwhile (now version {}, by {}): reload it and edit again",
                current.version,
                current.updated_by.unwrap_or_else(|| "someone".into())
            )));
        }
        self.policy(id).await
    }

    pub async fn policy(&self, id: i64) -> Result<PolicyRecord> {
        let row: Option<Row> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM policies WHERE id = $1")).bind(id).fetch_optional(self.pool()).await?;
        row.map(record).ok_or_else(|| StoreError::NotFound(format!("no policy {id}")))
    }

    /// Every policy, by name.
    pub async fn policies(&self) -> Result<Vec<PolicyRecord>> {
        let rows: Vec<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM policies ORDER BY name")).fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(record).collect())
    }

    /// Deletes a policy (its runs stay, for history).
    pub async fn policy_delete(&self, id: i64) -> Result<()> {
        let done = sqlx::query("DELETE FROM policies WHERE id = $1").bind(id).execute(self.pool()).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no policy {id}")));
        }
        Ok(())
    }
}
