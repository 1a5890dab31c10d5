//! When Portolan first saw each digest: the date of last resort for artifacts that carry none
//! (no config `created`, no `org.opencontainers.image.created`). Kept in the store, so it
//! survives restarts; the UI says when a date is only this.

use std::collections::HashMap;

use sqlx::SqlitePool;

/// The first-seen time (RFC 3339) of each of `digests` in `registry`/`repository`, recording
/// now for those never seen before. Store failures are logged and give no dates.
pub async fn first_seen(pool: &SqlitePool, registry: &str, repository: &str, digests: &[String]) -> HashMap<String, String> {
    if digests.is_empty() {
        return HashMap::new();
    }
    match record_and_read(pool, registry, repository, digests).await {
        Ok(map) => map,
        Err(e) => {
            tracing::warn!(error = %e, "reading first-seen dates");
            HashMap::new()
        }
    }
}

async fn record_and_read(
    pool: &SqlitePool,
    registry: &str,
    repository: &str,
    digests: &[String],
) -> Result<HashMap<String, String>, sqlx::Error> {
    let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let now = now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let mut tx = pool.begin().await?;
    let mut out = HashMap::new();
    for digest in digests {
        sqlx::query("INSERT OR IGNORE INTO seen_digests (registry, repository, digest, first_seen) VALUES (?, ?, ?, ?)")
            .bind(registry)
            .bind(repository)
            .bind(digest)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        let seen: (String,) = sqlx::query_as("SELECT first_seen FROM seen_digests WHERE registry = ? AND repository = ? AND digest = ?")
            .bind(registry)
            .bind(repository)
            .bind(digest)
            .fetch_one(&mut *tx)
            .await?;
        out.insert(digest.clone(), seen.0);
    }
    tx.commit().await?;
    Ok(out)
}
