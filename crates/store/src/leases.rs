//! Leases: a named claim in the database, held by one owner until it expires — how replicas
//! agree that one of them runs a policy. Taken atomically (an upsert that only overwrites an
//! expired lease or one the owner holds already), renewed by its holder while it works, handed
//! back when done. A holder that dies simply stops renewing; another takes over after expiry.

use std::time::Duration;

use time::OffsetDateTime;

use crate::{Result, Store, from_millis, millis};

impl Store {
    /// Takes `name` for `owner` until `now + ttl`, if it is free, expired, or `owner`'s already.
    pub async fn lease_acquire(&self, name: &str, owner: &str, ttl: Duration, now: OffsetDateTime) -> Result<bool> {
        let until = millis(now) + ttl.as_millis() as i64;
        let done = sqlx::query(
            "INSERT INTO leases (name, owner, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET owner = $2, expires_at = $3 WHERE leases.expires_at <= $4 OR leases.owner = $2",
        )
        .bind(name)
        .bind(owner)
        .bind(until)
        .bind(millis(now))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Extends `owner`'s lease; false when it is no longer theirs (it expired and another took
    /// it): the holder must stop.
    pub async fn lease_renew(&self, name: &str, owner: &str, ttl: Duration, now: OffsetDateTime) -> Result<bool> {
        let until = millis(now) + ttl.as_millis() as i64;
        let done = sqlx::query("UPDATE leases SET expires_at = $1 WHERE name = $2 AND owner = $3 AND expires_at > $4")
            .bind(until)
            .bind(name)
            .bind(owner)
            .bind(millis(now))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Hands `name` back (when `owner` holds it).
    pub async fn lease_release(&self, name: &str, owner: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND owner = $2").bind(name).bind(owner).execute(self.pool()).await?;
        Ok(())
    }

    /// Who holds `name` now, and until when.
    pub async fn lease_holder(&self, name: &str, now: OffsetDateTime) -> Result<Option<(String, OffsetDateTime)>> {
        let row: Option<(String, i64)> = sqlx::query_as("SELECT owner, expires_at FROM leases WHERE name = $1 AND expires_at > $2")
            .bind(name)
            .bind(millis(now))
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|(o, t)| (o, from_millis(t))))
    }
}
