//! Upkeep ([`service::upkeep::pass`], which the server runs every ten minutes): trash entries
//! older than `trash_days` are purged — their saved manifests deleted, the entry kept as
//! `purged` and no longer restorable, each purge audited as by Portolan — and audit entries
//! older than `audit_days` are forgotten while newer ones stay. Passes are run with a `now`
//! weeks ahead; what they act on was made through Portolan against a real distribution.

use std::collections::BTreeSet;
use std::time::Duration;

use portolan_store::{ActorKind, AuditEntry, AuditFilter, Outcome, Store, TrashState};
use portolan_testkit::fixtures::ImageSpec;
use time::OffsetDateTime;

use crate::restore::{delete_artifact, portolan_with, registry};
use crate::support::{Who, qs, run, service};

/// Every audit entry.
async fn audit_log(store: &Store) -> Vec<AuditEntry> {
    store.audit_entries(&AuditFilter::default(), 10_000).await.unwrap()
}

fn ids(entries: &[AuditEntry]) -> BTreeSet<i64> {
    entries.iter().map(|e| e.id).collect()
}

/// The present, a little after what was written before it and before what is written after.
async fn mark() -> OffsetDateTime {
    tokio::time::sleep(Duration::from_millis(20)).await;
    let at = OffsetDateTime::now_utc();
    tokio::time::sleep(Duration::from_millis(20)).await;
    at
}

#[test]
fn an_upkeep_pass_purges_trash_past_trash_days_and_forgets_audit_entries_past_audit_days() {
    run(async {
        const REPO: &str = "upkeep/app";
        let (d, seeder) = registry().await;
        let mut images = Vec::new();
        for name in ["a", "b", "c"] {
            images.push(seeder.image(REPO, &[name], &ImageSpec::new(&format!("image {name}"))).await.unwrap());
        }
        let w = portolan_with(&d.url, "trash_days = 30\naudit_days = 90").await;
        assert_eq!((w.state.settings.trash_days, w.state.settings.audit_days), (30, 90));

        // A deleted, then B, then C, with marks between.
        let a = delete_artifact(&w, REPO, &images[0].digest).await;
        let after_a = mark().await;
        let b = delete_artifact(&w, REPO, &images[1].digest).await;
        let after_b = mark().await;
        let c = delete_artifact(&w, REPO, &images[2].digest).await;

        // 30 days after A was deleted: A is purged; nothing is 90 days old.
        let before = audit_log(&w.store).await;
        let report = service::upkeep::pass(&w.state, after_a + time::Duration::days(30)).await;
        assert_eq!(report.errors, Vec::<String>::new());
        assert_eq!(report.trash_purged, vec![a.id]);
        assert_eq!(report.audit_pruned, 0);
        let purged = w.store.trash_entry(a.id).await.unwrap();
        assert_eq!(purged.state, TrashState::Purged, "{purged:?}");
        assert!(purged.manifests.is_empty(), "its saved manifests are gone: {purged:?}");
        assert_eq!(purged.state_by.as_deref(), Some("Portolan"));
        assert_eq!(purged.state_reason.as_deref(), Some("older than 30 days"));
        for kept in [&b, &c] {
            let kept = w.store.trash_entry(kept.id).await.unwrap();
            assert_eq!(kept.state, TrashState::Deleted);
            assert!(!kept.manifests.is_empty());
        }
        let after = audit_log(&w.store).await;
        assert!(ids(&before).is_subset(&ids(&after)), "nothing forgotten");
        let new: Vec<&AuditEntry> = after.iter().filter(|e| !ids(&before).contains(&e.id)).collect();
        assert_eq!(new.len(), 1, "the purge is audited: {new:#?}");
        let e = &new[0].entry;
        assert_eq!((e.action.as_str(), e.outcome, e.actor.kind), ("purge", Outcome::Done, ActorKind::System), "{e:?}");
        assert_eq!((e.registry.as_deref(), e.repository.as_deref()), (Some("reg"), Some(REPO)));
        assert_eq!(e.digests, vec![images[0].digest.clone()]);
        assert_eq!(e.tags, vec!["a".to_owned()]);
        assert!(e.reason.as_deref().unwrap_or_default().contains("older than 30 days"), "{e:?}");
        // A purged entry can no longer be restored.
        let a_restore = w.server_fn("trash_restore", Who::Maintainer, qs(&portolan_app::api::TrashRestore { id: a.id })).await;
        assert_eq!(a_restore.status, 409, "{}", a_restore.body);
        // A pass again at the same time finds nothing more to do.
        let again = service::upkeep::pass(&w.state, after_a + time::Duration::days(30)).await;
        assert_eq!((again.trash_purged.len(), again.audit_pruned), (0, 0), "{again:?}");

        // 90 days after B was deleted: the audit entries written before then are forgotten,
        // those written after (C's delete, A's purge) stay; B and C are purged.
        let before = audit_log(&w.store).await;
        let (old, recent): (Vec<&AuditEntry>, Vec<&AuditEntry>) = before.iter().partition(|e| e.at < after_b);
        assert!(!old.is_empty() && !recent.is_empty(), "entries on both sides: {before:#?}");
        let report = service::upkeep::pass(&w.state, after_b + time::Duration::days(90)).await;
        assert_eq!(report.errors, Vec::<String>::new());
        assert_eq!(report.trash_purged, vec![b.id, c.id]);
        assert_eq!(report.audit_pruned, old.len() as u64);
        let after = audit_log(&w.store).await;
        let remaining = ids(&after);
        assert!(old.iter().all(|e| !remaining.contains(&e.id)), "the old entries are gone");
        assert!(recent.iter().all(|e| remaining.contains(&e.id)), "the newer ones stay");
        assert_eq!(after.len(), before.len() - old.len() + 2, "plus the two purges");
        assert_eq!(after.iter().filter(|e| e.entry.action == "purge").count(), 3);
        for id in [b.id, c.id] {
            assert_eq!(w.store.trash_entry(id).await.unwrap().state, TrashState::Purged);
        }
        w.store.close().await;
    })
}
