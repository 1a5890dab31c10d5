//! The store's whole API, run on both engines: an embedded SQLite file and a real Postgres
//! (Debian's, started by the test kit).

use std::time::Duration;

use portolan_store::sessions::Sessions;
use portolan_store::trash::TrashFilter;
use portolan_store::{
    Actor, AuditFilter, CrawlState, IndexRef, IndexedManifest, Location, ManifestRole, NewAudit, NewTrash, Outcome, RefRole,
    RepoSummaryRecord, Store, StoreConfig, StoreError, TrashKind, TrashManifest, TrashState,
};
use portolan_testkit::runner::run;
use time::OffsetDateTime;
use time::macros::datetime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{ExpiredDeletion, SessionStore};

/// Every test of the store's API; `url` opens the same database directly, to look at what is
/// stored.
async fn suite(store: &Store, url: &str) {
    store.ready().await.expect("ready");
    first_seen(store).await;
    users(store).await;
    let raw = sqlx::AnyPool::connect(url).await.expect("the database, directly");
    sessions(&store.sessions(), store, &raw).await;
    raw.close().await;
    audit(store).await;
    trash(store).await;
    trash_states(store).await;
    trash_races(store).await;
    policies_runs_and_leases(store).await;
    search_index(store).await;
    // Migrating again is a no-op.
    store.migrate().await.unwrap();
}

async fn first_seen(store: &Store) {
    let d: Vec<String> = (0..450).map(|i| format!("sha256:{i:064x}")).collect();
    let t1 = datetime!(2025-01-01 00:00 UTC);
    let seen = store.first_seen("reg", "a/b", &d, t1).await.unwrap();
    assert_eq!(seen.len(), 450);
    assert!(seen.values().all(|t| *t == t1));
    // Seen again later: the first time stays; new digests get the new time.
    let t2 = datetime!(2025-02-01 00:00 UTC);
    let more = vec![d[0].clone(), "sha256:new".to_owned(), d[0].clone()];
    let seen = store.first_seen("reg", "a/b", &more, t2).await.unwrap();
    assert_eq!(seen[&d[0]], t1);
    assert_eq!(seen["sha256:new"], t2);
    // Per repository.
    let other = store.seen_times("reg", "a/c", &d[..3]).await.unwrap();
    assert!(other.is_empty());
    assert_eq!(store.seen_times("reg", "a/b", &d[..3]).await.unwrap().len(), 3);
}

async fn users(store: &Store) {
    let t = OffsetDateTime::now_utc();
    store.record_sign_in("kc", "u1", Some("Alice"), Some("a@example.com"), &["/admins".into()], t).await.unwrap();
    store.record_sign_in("kc", "u1", Some("Alice B"), Some("a@example.com"), &["/devs".into()], t).await.unwrap();
    let users = store.users(10).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].name.as_deref(), Some("Alice B"));
    assert_eq!(users[0].groups, vec!["/devs".to_owned()]);
}

async fn sessions(sessions: &Sessions, store: &Store, raw: &sqlx::AnyPool) {
    let mut record = Record {
        id: Id::default(),
        data: [("user".to_owned(), serde_json::json!({"name": "alice"}))].into(),
        expiry_date: OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    sessions.create(&mut record).await.unwrap();
    let loaded = sessions.load(&record.id).await.unwrap().expect("the session");
    assert_eq!(loaded, record, "the same record back: id, data and expiry to the nanosecond");
    record.data.insert("k".into(), serde_json::json!(1));
    sessions.save(&record).await.unwrap();
    assert_eq!(sessions.load(&record.id).await.unwrap().unwrap().data.len(), 2);

    // The database holds the id's hash, never the id: not as the key, not in the data, in
    // neither of the forms an id takes (the cookie's text, the number serde writes).
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, data FROM sessions").fetch_all(raw).await.unwrap();
    assert_eq!(rows.len(), 1);
    let (key, data) = &rows[0];
    let (text, number) = (record.id.to_string(), record.id.0.to_string());
    assert_eq!(*key, portolan_store::sessions::key(&record.id));
    assert_eq!(key.len(), 64, "a SHA-256 in hex: {key}");
    assert!(!key.contains(&text) && !key.contains(&number), "{key}");
    assert!(!data.contains(&text) && !data.contains(&number), "{data}");
    assert!(data.contains("alice"), "the data itself is kept: {data}");
    // A record stored under its id in clear, as before, is not found: its person signs in again.
    let old = Id::default();
    let old_record = Record { id: old, data: Default::default(), expiry_date: record.expiry_date };
    sqlx::query("INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3)")
        .bind(old.to_string())
        .bind(serde_json::to_string(&old_record).unwrap())
        .bind(portolan_store::millis(record.expiry_date))
        .execute(raw)
        .await
        .unwrap();
    assert!(sessions.load(&old).await.unwrap().is_none());
    sqlx::query("DELETE FROM sessions WHERE id = $1").bind(old.to_string()).execute(raw).await.unwrap();

    // A new session whose id is taken gets another, and leaves the existing one alone.
    let mut twin = Record {
        id: record.id,
        data: [("user".to_owned(), serde_json::json!({"name": "mallory"}))].into(),
        expiry_date: record.expiry_date,
    };
    sessions.create(&mut twin).await.unwrap();
    assert_ne!(twin.id, record.id);
    assert_eq!(sessions.load(&record.id).await.unwrap().unwrap().data, record.data);
    assert_eq!(sessions.load(&twin.id).await.unwrap().unwrap().data, twin.data);

    // Deleted: dead, and a save does not bring it back.
    sessions.delete(&record.id).await.unwrap();
    assert!(sessions.load(&record.id).await.unwrap().is_none());
    sessions.save(&record).await.unwrap();
    assert!(sessions.load(&record.id).await.unwrap().is_none());
    assert!(sessions.load(&twin.id).await.unwrap().is_some(), "only that one");
    sessions.delete(&twin.id).await.unwrap();
    // Expired: not loaded, and cleaned up.
    let mut old =
        Record { id: Id::default(), data: Default::default(), expiry_date: OffsetDateTime::now_utc() - time::Duration::seconds(1) };
    sessions.create(&mut old).await.unwrap();
    assert!(sessions.load(&old.id).await.unwrap().is_none());
    sessions.delete_expired().await.unwrap();
    assert_eq!(store.count_sessions(OffsetDateTime::now_utc() - time::Duration::hours(2)).await.unwrap(), 0);
}

async fn audit(store: &Store) {
    let alice = Actor::user("kc", "u1", Some("Alice"));
    store
        .audit(
            NewAudit::new(alice.clone(), "delete-tag", Outcome::Done)
                .at("reg", Some("team/api"))
                .tags(["1.0".to_owned()])
                .digests(["sha256:aa".to_owned()])
                .request(Some("req-1")),
        )
        .await
        .unwrap();
    store.audit(NewAudit::new(Actor::anonymous(), "sign-in", Outcome::Refused).reason("state mismatch")).await.unwrap();
    store
        .audit(NewAudit::new(alice.clone(), "policy-update", Outcome::Done).detail(serde_json::json!({"before": 1, "after": 2})))
        .await
        .unwrap();
    store.audit(NewAudit::new(Actor::schedule("ci-cleanup"), "policy-run", Outcome::Failed).at("reg", Some("team_x"))).await.unwrap();
    let all = store.audit_entries(&AuditFilter::default(), 100).await.unwrap();
    assert_eq!(all.len(), 4);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!(all[1].entry.detail, Some(serde_json::json!({"before": 1, "after": 2})));
    let by = |f: AuditFilter| async move { store.audit_entries(&f, 100).await.unwrap().len() };
    assert_eq!(by(AuditFilter { action: Some("policy-*".into()), ..Default::default() }).await, 2);
    assert_eq!(by(AuditFilter { actor: Some("ALICE".into()), ..Default::default() }).await, 2);
    assert_eq!(by(AuditFilter { outcome: Some(Outcome::Refused), ..Default::default() }).await, 1);
    assert_eq!(by(AuditFilter { repository: Some("team/*".into()), ..Default::default() }).await, 1, "'_' is not a wildcard");
    let first = store.audit_entries(&AuditFilter::default(), 1).await.unwrap();
    assert_eq!(by(AuditFilter { before: Some(first[0].id), ..Default::default() }).await, 3);
    let e = &all[3];
    assert_eq!(e.entry.tags, vec!["1.0".to_owned()]);
    assert_eq!(e.entry.request_id.as_deref(), Some("req-1"));
    assert_eq!(store.audit_prune(OffsetDateTime::now_utc() - time::Duration::days(1)).await.unwrap(), 0);
}

async fn trash(store: &Store) {
    // Every byte value, to show content comes back exactly.
    let content: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let t = NewTrash {
        actor: Actor::user("kc", "u1", Some("Alice")),
        registry: "reg".into(),
        repository: "team/api".into(),
        kind: TrashKind::Artifact,
        summary: "team/api@sha256:bb (1.0, latest)".into(),
        manifests: vec![
            TrashManifest {
                digest: "sha256:child".into(),
                media_type: "m".into(),
                role: ManifestRole::Child,
                subject: None,
                content: content.clone(),
            },
            TrashManifest {
                digest: "sha256:bb".into(),
                media_type: "i".into(),
                role: ManifestRole::Root,
                subject: None,
                content: b"{}".to_vec(),
            },
            TrashManifest {
                digest: "sha256:sig".into(),
                media_type: "m".into(),
                role: ManifestRole::Referrer,
                subject: Some("sha256:bb".into()),
                content: vec![0, 1, 2],
            },
        ],
        tags: vec![("1.0".into(), "sha256:bb".into()), ("latest".into(), "sha256:bb".into())],
        request_id: Some("req-2".into()),
        run_id: None,
    };
    let id = store.trash_put(&t).await.unwrap();
    let entry = store.trash_entry(id).await.unwrap();
    assert_eq!(entry.state, TrashState::Saved);
    assert_eq!(entry.manifests.len(), 3);
    assert_eq!(entry.manifests[0].content, content);
    assert_eq!(entry.manifests[2].subject.as_deref(), Some("sha256:bb"));
    assert_eq!(entry.tags.len(), 2);
    store.trash_set_state(id, TrashState::Deleted, Some("Alice"), None).await.unwrap();
    let listed = store.trash_entries(&TrashFilter { restorable: true, ..Default::default() }, 10).await.unwrap();
    assert_eq!(listed.iter().map(|e| e.id).collect::<Vec<_>>(), vec![id]);
    assert!(listed[0].manifests.is_empty(), "lists carry no content");
    assert_eq!(store.trash_expired(OffsetDateTime::now_utc() + time::Duration::seconds(1)).await.unwrap(), vec![id]);
    store.trash_purge(id, None, "older than 30 days").await.unwrap();
    let entry = store.trash_entry(id).await.unwrap();
    assert_eq!(entry.state, TrashState::Purged);
    assert!(entry.manifests.is_empty());
    assert!(store.trash_entry(12345).await.is_err());
}

/// A trash entry of one manifest, saved (its delete under way).
async fn saved_entry(store: &Store) -> i64 {
    let t = NewTrash {
        actor: Actor::user("kc", "u1", Some("Alice")),
        registry: "reg".into(),
        repository: "team/states".into(),
        kind: TrashKind::Tag,
        summary: "team/states:1.0".into(),
        manifests: vec![TrashManifest {
            digest: "sha256:aa".into(),
            media_type: "m".into(),
            role: ManifestRole::Root,
            subject: None,
            content: b"{}".to_vec(),
        }],
        tags: vec![("1.0".into(), "sha256:aa".into())],
        request_id: None,
        run_id: None,
    };
    store.trash_put(&t).await.unwrap()
}

/// A trash entry whose delete ended with `state`.
async fn entry_in(store: &Store, state: TrashState) -> i64 {
    let id = saved_entry(store).await;
    store.trash_set_state(id, state, Some("Alice"), None).await.unwrap();
    id
}

fn conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) -> String {
    match result {
        Err(StoreError::Conflict(message)) => message,
        other => panic!("{what}: expected a conflict, got {other:?}"),
    }
}

/// The moves of a trash entry, one at a time: each is allowed only from the states the module's
/// table names, and a refused one changes nothing.
async fn trash_states(store: &Store) {
    let state = |id: i64| async move { store.trash_entry(id).await.unwrap() };

    // While its delete is under way, an entry can be neither restored nor purged.
    let id = saved_entry(store).await;
    assert!(!TrashState::Saved.restorable() && !TrashState::Saved.purgeable());
    let refused = conflict(store.trash_restore_claim(id, Some("Bob")).await, "restoring a saved entry");
    assert_eq!(
        refused,
        format!("trash entry {id} is still being deleted (or its interrupted delete is not settled yet): it cannot be restored")
    );
    conflict(store.trash_purge(id, Some("Bob"), "by hand").await, "purging a saved entry");
    let e = state(id).await;
    assert_eq!((e.state, e.manifests.len()), (TrashState::Saved, 1), "nothing changed");
    // Settling guesses while the delete still runs; the delete's own end is the better answer
    // and replaces the guess; settling never replaces the delete's answer.
    store.trash_settle(id, TrashState::Failed, None, "settled: every saved manifest is still there").await.unwrap();
    store.trash_set_state(id, TrashState::Deleted, Some("Alice"), Some("done")).await.unwrap();
    conflict(store.trash_settle(id, TrashState::Failed, None, "a late guess").await, "settling a delete that ended");
    let e = state(id).await;
    assert_eq!((e.state, e.state_by.as_deref(), e.state_reason.as_deref()), (TrashState::Deleted, Some("Alice"), Some("done")));
    // Moves outside the table are refused before anything is written.
    assert!(matches!(store.trash_set_state(id, TrashState::Restored, None, None).await, Err(StoreError::Internal(_))));
    assert!(matches!(store.trash_set_state(id, TrashState::Purged, None, None).await, Err(StoreError::Internal(_))));
    assert_eq!(state(id).await.state, TrashState::Deleted);
    assert!(matches!(store.trash_set_state(987_654, TrashState::Deleted, None, None).await, Err(StoreError::NotFound(_))));

    // A purge during a delete in progress: refused while the entry is saved (above). Once
    // settling has answered, the entry may be purged — and the delete, ending after that, does
    // not bring it back: it stays purged, the delete's outcome is in the audit log only.
    let id = saved_entry(store).await;
    store.trash_settle(id, TrashState::Deleted, None, "settled: the tag is gone").await.unwrap();
    store.trash_purge(id, Some("Carol"), "purged by hand").await.unwrap();
    let refused = conflict(store.trash_set_state(id, TrashState::Failed, Some("Alice"), None).await, "a delete ending after a purge");
    assert_eq!(refused, format!("trash entry {id} was purged already: it cannot be marked failed"));
    let e = state(id).await;
    assert_eq!((e.state, e.state_by.as_deref(), e.manifests.len()), (TrashState::Purged, Some("Carol"), 0));
    // A second purge is refused and changes nothing.
    let refused = conflict(store.trash_purge(id, Some("Dan"), "purged by hand").await, "a second purge");
    assert_eq!(refused, format!("trash entry {id} was purged already: it cannot be purged"));
    assert_eq!(state(id).await.state_by.as_deref(), Some("Carol"));
    assert!(matches!(store.trash_purge(987_654, None, "x").await, Err(StoreError::NotFound(_))));

    // A restore holds the entry: no second restore, no purge, until it ends.
    let id = entry_in(store, TrashState::Failed).await;
    let listed = store.trash_entries(&TrashFilter { restorable: true, ..Default::default() }, 1000).await.unwrap();
    assert!(listed.iter().any(|e| e.id == id), "a failed delete is restorable");
    let claim = store.trash_restore_claim(id, Some("Bob")).await.unwrap();
    assert_eq!(state(id).await.state, TrashState::Restoring);
    assert!(!TrashState::Restoring.restorable() && !TrashState::Restoring.purgeable());
    let refused = conflict(store.trash_restore_claim(id, Some("Eve")).await, "a second restore");
    assert_eq!(refused, format!("trash entry {id} is being restored right now: it cannot be restored"));
    conflict(store.trash_purge(id, Some("Carol"), "purged by hand").await, "a purge under a restore");
    assert_eq!(state(id).await.manifests.len(), 1, "the content stays while it is being restored");
    assert!(store.trash_restore_renew(&claim).await.unwrap());
    // A failed restore gives the entry back as it was claimed: failed, restorable again.
    store.trash_restore_release(&claim, Some("Bob"), "a manifest could not be put back").await.unwrap();
    let e = state(id).await;
    assert_eq!((e.state, e.state_reason.as_deref()), (TrashState::Failed, Some("a manifest could not be put back")));
    assert!(!store.trash_restore_renew(&claim).await.unwrap(), "a released claim is not renewed");
    conflict(store.trash_restore_finish(&claim, Some("Bob")).await, "finishing a released claim");
    assert_eq!(state(id).await.state, TrashState::Failed);
    // Claimed again, and finished: restored, for good; its content may then be purged.
    let claim = store.trash_restore_claim(id, Some("Bob")).await.unwrap();
    store.trash_restore_finish(&claim, Some("Bob")).await.unwrap();
    assert_eq!(state(id).await.state, TrashState::Restored);
    conflict(store.trash_restore_claim(id, Some("Bob")).await, "restoring a restored entry");
    conflict(store.trash_restore_release(&claim, Some("Bob"), "late").await, "releasing a finished claim");
    store.trash_purge(id, None, "older than 30 days").await.unwrap();
    assert_eq!(state(id).await.state, TrashState::Purged);

    // An abandoned restore (its replica died) does not hold the entry forever: a claim not
    // renewed since the cut is given back to the state it was claimed from; one renewed since
    // is left alone.
    let abandoned = entry_in(store, TrashState::Deleted).await;
    let renewed = entry_in(store, TrashState::Deleted).await;
    let old = store.trash_restore_claim(abandoned, Some("Bob")).await.unwrap();
    let busy = store.trash_restore_claim(renewed, Some("Bob")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cut = OffsetDateTime::now_utc();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(store.trash_restore_renew(&busy).await.unwrap());
    let released = store.trash_restore_abandoned(cut, None, "the restore was interrupted").await.unwrap();
    assert_eq!(released, vec![abandoned]);
    let e = state(abandoned).await;
    assert_eq!((e.state, e.state_reason.as_deref()), (TrashState::Deleted, Some("the restore was interrupted")));
    assert_eq!(state(renewed).await.state, TrashState::Restoring);
    // The old holder, back, learns it lost the entry and cannot end someone else's claim.
    let new = store.trash_restore_claim(abandoned, Some("Eve")).await.unwrap();
    assert!(!store.trash_restore_renew(&old).await.unwrap());
    conflict(store.trash_restore_finish(&old, Some("Bob")).await, "the old holder finishing");
    conflict(store.trash_restore_release(&old, Some("Bob"), "late").await, "the old holder releasing");
    assert_eq!(state(abandoned).await.state, TrashState::Restoring, "the new claim stands");
    store.trash_restore_finish(&new, Some("Eve")).await.unwrap();
    store.trash_restore_finish(&busy, Some("Bob")).await.unwrap();
    assert_eq!(state(abandoned).await.state_by.as_deref(), Some("Eve"));
    // Entries whose delete or restore is under way are not purged for their age.
    let under_way = saved_entry(store).await;
    let restoring = entry_in(store, TrashState::Deleted).await;
    store.trash_restore_claim(restoring, None).await.unwrap();
    let expired = store.trash_expired(OffsetDateTime::now_utc() + time::Duration::seconds(1)).await.unwrap();
    assert!(expired.contains(&renewed) && !expired.contains(&under_way) && !expired.contains(&restoring), "{expired:?}");
}

/// The same moves raced: several replicas, or a double click, at once. Exactly one wins each
/// race; the others are refused and change nothing.
async fn trash_races(store: &Store) {
    use tokio::task::JoinSet;
    const RACERS: usize = 6;
    for round in 0..8 {
        // Restore against restore: one claim.
        let id = entry_in(store, TrashState::Deleted).await;
        let mut claims = JoinSet::new();
        for n in 0..RACERS {
            let store = store.clone();
            claims.spawn(async move { store.trash_restore_claim(id, Some(&format!("replica-{n}"))).await });
        }
        let results = claims.join_all().await;
        let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(won.len(), 1, "round {round}: {results:?}");
        assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict(_)))), "{results:?}");
        store.trash_restore_finish(won[0], None).await.unwrap();

        // Restore against purge: one of them, never both.
        let id = entry_in(store, TrashState::Failed).await;
        let (claim, purge) = tokio::join!(
            {
                let store = store.clone();
                tokio::spawn(async move { store.trash_restore_claim(id, Some("Bob")).await })
            },
            {
                let store = store.clone();
                tokio::spawn(async move { store.trash_purge(id, Some("Carol"), "purged by hand").await })
            }
        );
        let (claim, purge) = (claim.unwrap(), purge.unwrap());
        let entry = store.trash_entry(id).await.unwrap();
        match (claim, purge) {
            (Ok(claim), Err(StoreError::Conflict(_))) => {
                assert_eq!((entry.state, entry.manifests.len()), (TrashState::Restoring, 1), "never purged while restoring");
                store.trash_restore_finish(&claim, Some("Bob")).await.unwrap();
                assert_eq!(store.trash_entry(id).await.unwrap().state, TrashState::Restored);
            }
            (Err(StoreError::Conflict(_)), Ok(())) => {
                assert_eq!((entry.state, entry.manifests.len()), (TrashState::Purged, 0), "never restored after a purge");
            }
            other => panic!("round {round}: restore and purge: {other:?}"),
        }

        // Purge against purge (a double click): one purge.
        let id = entry_in(store, TrashState::Deleted).await;
        let mut purges = JoinSet::new();
        for n in 0..RACERS {
            let store = store.clone();
            purges.spawn(async move { store.trash_purge(id, Some(&format!("click-{n}")), "purged by hand").await });
        }
        let results = purges.join_all().await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "round {round}: {results:?}");
        assert!(results.iter().all(|r| matches!(r, Ok(()) | Err(StoreError::Conflict(_)))), "{results:?}");

        // A delete's end against settling: the delete's answer stands, whichever comes first.
        let id = saved_entry(store).await;
        let (ended, settled) = tokio::join!(
            store.trash_set_state(id, TrashState::Deleted, Some("Alice"), Some("done")),
            store.trash_settle(id, TrashState::Failed, None, "a guess")
        );
        ended.unwrap();
        assert!(matches!(settled, Ok(()) | Err(StoreError::Conflict(_))), "{settled:?}");
        let e = store.trash_entry(id).await.unwrap();
        assert_eq!((e.state, e.state_by.as_deref()), (TrashState::Deleted, Some("Alice")), "round {round}");
    }
}

async fn policies_runs_and_leases(store: &Store) {
    use portolan_store::{NewRun, RunCounts, RunItem, RunState, Trigger};
    let p = store.policy_create("ci-cleanup", "reg", r#"{"name":"ci-cleanup"}"#, Some("alice")).await.unwrap();
    assert_eq!(p.version, 1);
    assert!(matches!(store.policy_create("ci-cleanup", "reg", "{}", None).await, Err(portolan_store::StoreError::Conflict(_))));
    let p2 = store.policy_update(p.id, 1, "ci-cleanup", "reg", r#"{"name":"ci-cleanup","x":1}"#, Some("bob")).await.unwrap();
    assert_eq!(p2.version, 2);
    // An edit based on an old version is refused, not lost silently.
    let e = store.policy_update(p.id, 1, "ci-cleanup", "reg", "{}", Some("carol")).await.unwrap_err();
    assert!(e.to_string().contains("changed meanwhile"), "{e}");
    assert_eq!(store.policies().await.unwrap().len(), 1);

    // Leases: one holder at a time, taken over only after expiry.
    let t0 = OffsetDateTime::now_utc();
    let ttl = Duration::from_secs(30);
    assert!(store.lease_acquire("policy:1", "replica-a", ttl, t0).await.unwrap());
    assert!(!store.lease_acquire("policy:1", "replica-b", ttl, t0).await.unwrap());
    assert!(store.lease_acquire("policy:1", "replica-a", ttl, t0).await.unwrap(), "the holder may take it again");
    assert!(store.lease_renew("policy:1", "replica-a", ttl, t0).await.unwrap());
    assert!(!store.lease_renew("policy:1", "replica-b", ttl, t0).await.unwrap());
    let later = t0 + time::Duration::seconds(31);
    assert!(store.lease_acquire("policy:1", "replica-b", ttl, later).await.unwrap(), "expired: taken over");
    assert!(!store.lease_renew("policy:1", "replica-a", ttl, later).await.unwrap(), "the old holder learns it lost it");
    assert_eq!(store.lease_holder("policy:1", later).await.unwrap().unwrap().0, "replica-b");
    store.lease_release("policy:1", "replica-b").await.unwrap();
    assert!(store.lease_holder("policy:1", later).await.unwrap().is_none());

    // Runs: a schedule fire is claimed once.
    let fire = datetime!(2026-01-01 03:00 UTC);
    let new = |owner: &str, fire: Option<OffsetDateTime>| NewRun {
        policy_id: p.id,
        policy_version: 2,
        policy_name: "ci-cleanup".into(),
        registry: "reg".into(),
        trigger: if fire.is_some() { Trigger::Schedule } else { Trigger::Manual },
        started_by: None,
        dry_run: false,
        owner: owner.into(),
        scheduled_for: fire,
        scope: vec!["team/**".into()],
    };
    let run = store.run_start(&new("replica-a", Some(fire))).await.unwrap().expect("claimed");
    assert!(store.run_start(&new("replica-b", Some(fire))).await.unwrap().is_none(), "the same fire twice");
    assert_eq!(store.last_fire(p.id).await.unwrap(), Some(fire));
    let counts =
        RunCounts { repositories: 2, planned: 5, done: 3, skipped: 1, failed: 1, tags_kept: 10, tags_deleted: 4, bytes_freed: 1 << 33 };
    store.run_progress(run.id, &counts).await.unwrap();
    let item = |position| RunItem {
        position,
        repository: "team/app".into(),
        action: "delete-tag".into(),
        tag: Some(format!("t{position}")),
        digest: "sha256:aa".into(),
        outcome: "done".into(),
        reason: None,
        bytes: 0,
        at: OffsetDateTime::now_utc(),
    };
    store.run_items_add(run.id, &[item(0), item(1)]).await.unwrap();
    store.run_items_add(run.id, &[item(2)]).await.unwrap();
    assert_eq!(store.run_items(run.id, 1, 10).await.unwrap().len(), 2);
    assert!(store.run_request_stop(run.id).await.unwrap());
    assert!(store.run_stop_requested(run.id).await.unwrap());
    store.run_finish(run.id, RunState::Stopped, &counts, Some("stopped on request")).await.unwrap();
    let back = store.run(run.id).await.unwrap();
    assert_eq!(back.state, RunState::Stopped);
    assert_eq!(back.counts, counts, "8 GiB fits");
    assert_eq!(back.scope, ["team/**"], "the scope the run started with is kept");
    // A run whose heartbeat stopped is marked interrupted by whoever notices.
    let manual = store.run_start(&new("replica-c", None)).await.unwrap().unwrap();
    let ids = store.runs_interrupt_stale(OffsetDateTime::now_utc() + time::Duration::seconds(1)).await.unwrap();
    assert_eq!(ids, vec![manual.id]);
    assert_eq!(store.run(manual.id).await.unwrap().state, RunState::Interrupted);
    assert_eq!(store.runs(Some(p.id), None, 10).await.unwrap().len(), 2);
    store.policy_delete(p.id).await.unwrap();
    assert_eq!(store.runs(None, None, 10).await.unwrap().len(), 2, "runs outlive their policy");
}

fn digest(n: u32) -> String {
    format!("sha256:{n:064x}")
}

fn image(d: &str, config: &str, layers: &[&str], subject: Option<&str>) -> IndexedManifest {
    IndexedManifest {
        digest: d.to_owned(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        kind: if subject.is_some() { "signature" } else { "image" }.into(),
        subject: subject.map(str::to_owned),
        size: 1000,
        created: Some(datetime!(2025-01-01 00:00 UTC)),
        refs: std::iter::once(IndexRef { digest: config.to_owned(), role: RefRole::Config, platform: None })
            .chain(layers.iter().map(|l| IndexRef { digest: (*l).to_owned(), role: RefRole::Layer, platform: None }))
            .collect(),
    }
}

async fn search_index(store: &Store) {
    let (a, b, i, s) = (digest(0xa), digest(0xb), digest(0x1), digest(0x5));
    let (config, l1, l2, l3) = (digest(0xc0), digest(0x11), digest(0x12), digest(0x13));
    let index = IndexedManifest {
        digest: i.clone(),
        media_type: "application/vnd.oci.image.index.v1+json".into(),
        kind: "index".into(),
        subject: None,
        size: 500,
        created: None,
        refs: vec![
            IndexRef { digest: a.clone(), role: RefRole::Manifest, platform: Some("linux/amd64".into()) },
            IndexRef { digest: b.clone(), role: RefRole::Manifest, platform: Some("linux/arm64".into()) },
        ],
    };
    let now = OffsetDateTime::now_utc();
    let manifests = vec![
        image(&a, &config, &[&l1, &l2], None),
        image(&b, &config, &[&l3], None),
        index.clone(),
        image(&s, &digest(0xc1), &[&digest(0x51)], Some(&a)),
    ];
    assert_eq!(store.index_put("reg", "team/a", &manifests, now).await.unwrap(), 4);
    assert_eq!(store.index_put("reg", "team/a", &manifests, now).await.unwrap(), 0, "known manifests are not written again");
    store.index_set_tags("reg", "team/a", &[("1.0".into(), i.clone()), ("amd".into(), a.clone())], now).await.unwrap();
    store.index_put("mirror", "a", &[image(&a, &config, &[&l1, &l2], None)], now).await.unwrap();
    store.index_set_tags("mirror", "a", &[("1.0".into(), a.clone())], now).await.unwrap();

    // A layer: in the image itself (tagged amd), through the index (tagged 1.0), and in the mirror.
    let used = store.where_used(&l1, 100).await.unwrap();
    assert!(!used.truncated);
    let mut places: Vec<(String, String, String, Vec<String>, usize)> =
        used.uses.iter().map(|u| (u.registry.clone(), u.repository.clone(), u.manifest.clone(), u.tags.clone(), u.path.len())).collect();
    places.sort();
    assert_eq!(
        places,
        vec![
            ("mirror".into(), "a".into(), a.clone(), vec!["1.0".to_owned()], 1),
            ("reg".into(), "team/a".into(), i.clone(), vec!["1.0".to_owned()], 2),
            ("reg".into(), "team/a".into(), a.clone(), vec!["amd".to_owned()], 1),
        ]
    );
    let through_index = used.uses.iter().find(|u| u.manifest == i).unwrap();
    assert_eq!(through_index.path[0].platform.as_deref(), Some("linux/amd64"));
    assert_eq!(through_index.path[1].role, RefRole::Layer);
    assert_eq!(through_index.kind.as_deref(), Some("index"));
    // A manifest: itself, the index listing it, and what refers to it.
    let used = store.where_used(&a, 100).await.unwrap();
    assert_eq!(used.uses.len(), 3);
    assert_eq!(used.referrers.len(), 1);
    assert_eq!(used.referrers[0].digest, s);
    // The config is shared by both platform images: one place through the index, untagged b is
    // shown through it only.
    let used = store.where_used(&config, 100).await.unwrap();
    assert_eq!(used.uses.iter().filter(|u| u.manifest == b).count(), 0, "untagged b shows through its index");
    assert_eq!(used.uses.iter().filter(|u| u.manifest == i).count(), 1);
    assert!(store.where_used(&digest(0xdead), 100).await.unwrap().uses.is_empty());
    assert!(store.where_used(&l1, 1).await.unwrap().truncated);

    // A prefix finds manifests and blobs.
    assert_eq!(store.index_digests_with_prefix(&l1, 10).await.unwrap(), vec![l1.clone()]);
    assert_eq!(store.index_digests_with_prefix(&l1[..70], 10).await.unwrap(), vec![l1.clone(), l2.clone(), l3.clone()]);
    assert_eq!(store.index_digests_with_prefix(&digest(0)[..20], 100).await.unwrap().len(), 10);
    assert_eq!(store.index_digests_with_prefix(&digest(0)[..20], 3).await.unwrap().len(), 3);

    // Tags move; untagged manifests go, referrers of kept ones stay.
    assert_eq!(store.index_tags("reg", "team/a").await.unwrap().len(), 2);
    store.index_remove_tags("reg", "team/a", &["1.0".into()]).await.unwrap();
    assert_eq!(store.index_prune("reg", "team/a").await.unwrap(), 2, "the index and b");
    let known = store.index_known("reg", "team/a", &[a.clone(), b.clone(), i.clone(), s.clone()]).await.unwrap();
    assert_eq!(known, [a.clone(), s.clone()].into_iter().collect());
    store.index_set_tags("reg", "team/a", &[("amd".into(), b.clone())], now).await.unwrap();
    assert_eq!(store.index_tags("reg", "team/a").await.unwrap()["amd"], b);

    let coverage = store.index_coverage().await.unwrap();
    let mirror = coverage.iter().find(|c| c.registry == "mirror").unwrap();
    assert_eq!((mirror.repositories, mirror.tags, mirror.manifests), (1, 1, 1));
    store.index_forget("mirror", "a").await.unwrap();
    assert!(store.where_used(&l1, 100).await.unwrap().uses.iter().all(|u| u.registry == "reg"));
    assert_eq!(store.index_repositories("reg").await.unwrap(), vec!["team/a".to_owned()]);

    // The crawl's progress.
    let state = CrawlState {
        registry: "reg".into(),
        state: "paused".into(),
        pass_started: Some(now),
        pass_finished: None,
        repositories: 10_000,
        done: 42,
        requests: 1 << 33,
        paused_until: Some(now + time::Duration::seconds(30)),
        message: Some("the registry answered 429".into()),
        updated_at: now,
    };
    store.crawl_state_put(&state).await.unwrap();
    store.crawl_state_put(&CrawlState { done: 43, ..state.clone() }).await.unwrap();
    let back = store.crawl_state("reg").await.unwrap().unwrap();
    assert_eq!((back.done, back.requests, back.message.as_deref()), (43, 1 << 33, Some("the registry answered 429")));
    assert_eq!(store.crawl_states().await.unwrap().len(), 1);
    store.crawl_repository_done("reg", "team/a", 3, now).await.unwrap();
    assert_eq!(store.crawl_repositories("reg").await.unwrap().len(), 1);
    assert_eq!(store.index_coverage().await.unwrap().iter().find(|c| c.registry == "reg").unwrap().crawled, 1);

    // Summaries: the tag list updates counts and keeps the known push date.
    let pushed = datetime!(2025-03-01 00:00 UTC);
    store
        .repo_summary_put(&RepoSummaryRecord {
            registry: "reg".into(),
            repository: "team/a".into(),
            tags: 2,
            newest: Some("1.0".into()),
            pushed: Some(pushed),
            pushed_source: Some("config".into()),
            checked_at: now,
        })
        .await
        .unwrap();
    store.repo_summary_tags("reg", "team/a", 3, Some("1.1"), now).await.unwrap();
    store.repo_summary_tags("reg", "team/b", 1, None, now).await.unwrap();
    let all = store.repo_summaries("reg", None).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!((all["team/a"].tags, all["team/a"].newest.as_deref(), all["team/a"].pushed), (3, Some("1.1"), Some(pushed)));
    assert_eq!(store.repo_summaries("reg", Some(&["team/b".into(), "team/z".into()])).await.unwrap().len(), 1);

    // Recently opened, newest first.
    store.recent_open("hub", "library/alpine", now - time::Duration::minutes(5)).await.unwrap();
    store.recent_open("hub", "library/nginx", now).await.unwrap();
    store.recent_open("hub", "library/alpine", now - time::Duration::minutes(10)).await.unwrap();
    assert_eq!(store.recent_repositories("hub", 10).await.unwrap(), vec!["library/nginx".to_owned(), "library/alpine".into()]);
    assert_eq!(store.recent_repositories("hub", 1).await.unwrap().len(), 1);
}

#[test]
fn sqlite() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let store = Store::open(&StoreConfig::new(Location::Sqlite(data.clone()))).await.unwrap();
        suite(&store, &format!("sqlite://{}", data.join(portolan_store::DB_FILE).display())).await;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data.join("portolan.db")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the store file is readable by its owner only: {mode:o}");
            let mode = std::fs::metadata(&data).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "and so is its directory: {mode:o}");
        }
    })
}

#[test]
fn postgres() {
    run(async {
        let pg = portolan_testkit::postgres::Postgres::start().await.unwrap();
        let url = pg.new_database("store_suite").unwrap();
        let store = Store::open(&StoreConfig::new(Location::Postgres(url.clone()))).await.unwrap();
        assert_eq!(store.engine(), portolan_store::Engine::Postgres);
        suite(&store, &url).await;
    })
}

#[test]
fn postgres_away_is_unavailable_then_recovers() {
    run(async {
        let mut pg = portolan_testkit::postgres::Postgres::start().await.unwrap();
        let url = pg.new_database("away").unwrap();
        let mut config = StoreConfig::new(Location::Postgres(url));
        config.acquire_timeout = Duration::from_secs(2);
        let store = Store::open(&config).await.unwrap();
        store.audit(NewAudit::new(Actor::system(), "probe", Outcome::Done)).await.unwrap();
        pg.stop();
        let e = store.ready().await.unwrap_err();
        assert!(matches!(e, portolan_store::StoreError::Unavailable(_)), "{e:?}");
        pg.restart().await.unwrap();
        // The pool reconnects by itself; the data is still there.
        let mut ok = false;
        for _ in 0..50 {
            if store.ready().await.is_ok() {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ok, "the store came back");
        assert_eq!(store.audit_entries(&AuditFilter::default(), 10).await.unwrap().len(), 1);
    })
}

#[test]
fn a_postgres_that_is_not_there_is_unavailable() {
    run(async {
        let port = portolan_testkit::process::unused_addr().unwrap().port();
        let mut config = StoreConfig::new(Location::Postgres(format!("postgres://portolan:hunter2@127.0.0.1:{port}/p")));
        config.acquire_timeout = Duration::from_secs(1);
        let e = Store::open(&config).await.unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, portolan_store::StoreError::Unavailable(_)), "{e:?}");
        assert!(!text.contains("hunter2"), "no password in messages: {text}");
    })
}
