//! When Portolan first saw each digest: the date of last resort for artifacts that carry none
//! (no config `created`, no `org.opencontainers.image.created`). Kept in the store, so it
//! survives restarts; the UI says when a date is only this.

use std::collections::HashMap;

/// The first-seen time (RFC 3339) of each of `digests` in `registry`/`repository`, recording
/// now for those never seen before. Store failures are logged and give no dates.
pub async fn first_seen(store: &portolan_store::Store, registry: &str, repository: &str, digests: &[String]) -> HashMap<String, String> {
    if digests.is_empty() {
        return HashMap::new();
    }
    match store.first_seen(registry, repository, digests, time::OffsetDateTime::now_utc()).await {
        Ok(map) => map
            .into_iter()
            .filter_map(|(d, t)| Some((d, t.replace_nanosecond(0).ok()?.format(&time::format_description::well_known::Rfc3339).ok()?)))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "reading first-seen dates");
            HashMap::new()
        }
    }
}
