//! Upkeep: what Portolan forgets on schedule. One [`pass`] deletes the sessions that ended,
//! purges the trash entries older than `trash_days` (their saved manifests deleted, the entry
//! kept as `purged`, each purge audited as by Portolan) and forgets the audit entries older than
//! `audit_days`. The server runs a pass every few minutes; every replica may, the store makes
//! each step safe to repeat.

use portolan_store::{Actor, TrashState};
use time::OffsetDateTime;

use crate::Services;

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Sessions that had ended, deleted.
    pub sessions_deleted: u64,
    /// The trash entries purged (older than `trash_days`).
    pub trash_purged: Vec<i64>,
    /// Audit entries forgotten (older than `audit_days`).
    pub audit_pruned: u64,
    /// What failed (also logged); the next pass tries again.
    pub errors: Vec<String>,
}

/// One upkeep pass, as of `now`.
pub async fn pass(services: &Services, now: OffsetDateTime) -> Report {
    let mut report = Report::default();
    let store = &services.store;
    match store.delete_expired_sessions(now).await {
        Ok(n) => report.sessions_deleted = n,
        Err(e) => report.errors.push(format!("deleting ended sessions: {e}")),
    }
    let trash_days = services.settings.trash_days;
    match store.trash_expired(now - time::Duration::days(trash_days.into())).await {
        Ok(ids) => {
            for id in ids {
                let purged = match store.trash_entry(id).await {
                    // Purged meanwhile (by hand, or by another replica's pass).
                    Ok(entry) if entry.state == TrashState::Purged => continue,
                    Ok(entry) => {
                        crate::trash::purge_as(services, &entry, Actor::system(), None, &format!("older than {trash_days} days")).await
                    }
                    Err(e) => Err(e.into()),
                };
                match purged {
                    Ok(()) => report.trash_purged.push(id),
                    Err(e) => report.errors.push(format!("purging trash entry {id}: {e}")),
                }
            }
        }
        Err(e) => report.errors.push(format!("listing old trash: {e}")),
    }
    let audit_days = services.settings.audit_days;
    match store.audit_prune(now - time::Duration::days(audit_days.into())).await {
        Ok(n) => report.audit_pruned = n,
        Err(e) => report.errors.push(format!("pruning the audit log: {e}")),
    }
    for e in &report.errors {
        tracing::warn!(error = %e, "upkeep");
    }
    if !report.trash_purged.is_empty() || report.audit_pruned > 0 {
        tracing::info!(
            trash_purged = report.trash_purged.len(),
            audit_pruned = report.audit_pruned,
            "upkeep: old trash purged, old audit entries forgotten"
        );
    }
    report
}
