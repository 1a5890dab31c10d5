//! When Portolan first saw each digest in a repository.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::{Result, Store, from_millis, millis, placeholders};

/// Rows per statement (well under both engines' parameter limits).
const CHUNK: usize = 200;

impl Store {
    /// The first-seen time of each of `digests` in `registry`/`repository`, recording `now`
    /// for those never seen before.
    pub async fn first_seen(
        &self,
        registry: &str,
        repository: &str,
        digests: &[String],
        now: OffsetDateTime,
    ) -> Result<HashMap<String, OffsetDateTime>> {
        let mut unique: Vec<&String> = digests.iter().collect();
        unique.sort();
        unique.dedup();
        let mut out = HashMap::with_capacity(unique.len());
        let now = millis(now);
        for chunk in unique.chunks(CHUNK) {
            let values = (0..chunk.len()).map(|i| format!("($1, $2, $3, ${})", i + 4)).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "INSERT INTO seen_digests (registry, repository, first_seen, digest) VALUES {values} ON CONFLICT (registry, repository, digest) DO NOTHING"
            );
            let mut q = sqlx::query(&sql).bind(registry).bind(repository).bind(now);
            for d in chunk {
                q = q.bind(d.as_str());
            }
            q.execute(self.pool()).await?;
            out.extend(self.read_seen(registry, repository, chunk).await?);
        }
        Ok(out)
    }

    /// The first-seen times known for `digests` (recording nothing).
    pub async fn seen_times(&self, registry: &str, repository: &str, digests: &[String]) -> Result<HashMap<String, OffsetDateTime>> {
        let refs: Vec<&String> = digests.iter().collect();
        let mut out = HashMap::new();
        for chunk in refs.chunks(CHUNK) {
            out.extend(self.read_seen(registry, repository, chunk).await?);
        }
        Ok(out)
    }

    /// The repositories of `registry` Portolan has seen digests in (where a registry has no
    /// catalog, the repositories people opened or policies covered).
    pub async fn seen_repositories(&self, registry: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT DISTINCT repository FROM seen_digests WHERE registry = $1 ORDER BY repository")
            .bind(registry)
            .fetch_all(self.pool())
            .await?)
    }

    async fn read_seen(&self, registry: &str, repository: &str, digests: &[&String]) -> Result<HashMap<String, OffsetDateTime>> {
        let sql = format!(
            "SELECT digest, first_seen FROM seen_digests WHERE registry = $1 AND repository = $2 AND digest IN ({})",
            placeholders(3, digests.len())
        );
        let mut q = sqlx::query_as::<_, (String, i64)>(&sql).bind(registry).bind(repository);
        for d in digests {
            q = q.bind(d.as_str());
        }
        Ok(q.fetch_all(self.pool()).await?.into_iter().map(|(d, t)| (d, from_millis(t))).collect())
    }
}
