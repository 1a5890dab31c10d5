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
    storage_figures(store).await;
    storage_against_a_recount(store).await;
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
        bytes: 100,
        created: Some(datetime!(2025-01-01 00:00 UTC)),
        refs: std::iter::once(IndexRef { digest: config.to_owned(), role: RefRole::Config, platform: None, size: Some(10) })
            .chain(layers.iter().map(|l| IndexRef { digest: (*l).to_owned(), role: RefRole::Layer, platform: None, size: Some(300) }))
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
        bytes: 500,
        created: None,
        refs: vec![
            IndexRef { digest: a.clone(), role: RefRole::Manifest, platform: Some("linux/amd64".into()), size: Some(100) },
            IndexRef { digest: b.clone(), role: RefRole::Manifest, platform: Some("linux/arm64".into()), size: Some(100) },
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

/// A manifest of the storage tests: its own bytes, and what it names with sizes.
fn sized(d: &str, bytes: u64, refs: &[(&str, RefRole, u64)], subject: Option<&str>) -> IndexedManifest {
    IndexedManifest {
        digest: d.to_owned(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        kind: if refs.iter().any(|r| r.1 == RefRole::Manifest) { "index" } else { "image" }.into(),
        subject: subject.map(str::to_owned),
        size: refs.iter().map(|r| r.2).fold(bytes, u64::saturating_add),
        bytes,
        created: Some(datetime!(2025-01-01 00:00 UTC)),
        refs: refs
            .iter()
            .map(|(d, role, size)| IndexRef { digest: (*d).to_owned(), role: *role, platform: None, size: Some(*size) })
            .collect(),
    }
}

/// (unique, shared, untagged bytes, manifests, untagged manifests) of a repository.
async fn figures(store: &Store, registry: &str, repository: &str) -> (u64, u64, u64, u64, u64) {
    match store.storage_repository(registry, repository).await.unwrap() {
        Some(r) => (r.unique_bytes, r.shared_bytes, r.untagged_bytes, r.manifests, r.untagged),
        None => (0, 0, 0, 0, 0),
    }
}

/// (stored, untagged) bytes of a registry.
async fn totals(store: &Store, registry: &str) -> (u64, u64) {
    let t = store.storage_totals(registry).await.unwrap().unwrap_or_default();
    (t.stored_bytes, t.untagged_bytes)
}

/// Storage figures kept as the index changes, on a registry with known sharing: every figure
/// against hand-computed values.
async fn storage_figures(store: &Store) {
    use RefRole::{Config, Layer, Manifest};
    let now = OffsetDateTime::now_utc();
    let r = "st";
    // Sizes that add up unambiguously.
    let (base, a1, a2, a3, l1, s1) = (digest(0xb0), digest(0xa1), digest(0xa2), digest(0xa3), digest(0x11), digest(0x51));
    let (c1, c2, c3, c4, c5) = (digest(0xc1), digest(0xc2), digest(0xc3), digest(0xc4), digest(0xc5));
    let (m1, m2, m3, i, p1, p2, s) =
        (digest(0x1001), digest(0x1002), digest(0x1003), digest(0x2000), digest(0x2001), digest(0x2002), digest(0x3000));
    const BASE: u64 = 1_000_000;
    const A1: u64 = 200_000;
    const A2: u64 = 30_000;
    const A3: u64 = 7_000_000;
    const L1: u64 = 900;
    const S1: u64 = 3;
    const C: [u64; 5] = [40, 50, 60, 70, 80];
    const M: [u64; 3] = [1, 2, 4];
    let m1_doc = sized(&m1, M[0], &[(&c1, Config, C[0]), (&base, Layer, BASE), (&a1, Layer, A1)], None);
    let m2_doc = sized(&m2, M[1], &[(&c2, Config, C[1]), (&base, Layer, BASE), (&a2, Layer, A2)], None);
    let m3_doc = sized(&m3, M[2], &[(&c3, Config, C[2]), (&base, Layer, BASE), (&a3, Layer, A3)], None);
    store.index_put(r, "a", std::slice::from_ref(&m1_doc), now).await.unwrap();
    store.index_set_tags(r, "a", &[("1".into(), m1.clone())], now).await.unwrap();
    store.index_put(r, "b", &[m2_doc.clone(), m3_doc.clone()], now).await.unwrap();
    store.index_set_tags(r, "b", &[("1".into(), m2.clone()), ("2".into(), m3.clone())], now).await.unwrap();
    // The base layer is in both repositories: shared; everything else is each one's own.
    let a_own = M[0] + C[0] + A1;
    let b_own = M[1] + C[1] + A2 + M[2] + C[2] + A3;
    assert_eq!(figures(store, r, "a").await, (a_own, BASE, 0, 1, 0));
    assert_eq!(figures(store, r, "b").await, (b_own, BASE, 0, 2, 0));
    assert_eq!(totals(store, r).await, (a_own + b_own + BASE, 0), "the base layer counted once");
    let all = store.storage_totals(r).await.unwrap().unwrap();
    assert_eq!(all.blobs, 3 + 6 + 1);

    // An index whose platform images share a layer and a config with repository a, and a
    // signature referring to the index: all reached through the index's tag.
    let idx = sized(&i, 50, &[(&p1, Manifest, 10), (&p2, Manifest, 20)], None);
    let p1_doc = sized(&p1, 10, &[(&c1, Config, C[0]), (&l1, Layer, L1)], None);
    let p2_doc = sized(&p2, 20, &[(&c4, Config, C[3]), (&l1, Layer, L1)], None);
    let sig = sized(&s, 5, &[(&c5, Config, C[4]), (&s1, Layer, S1)], Some(&i));
    store.index_put(r, "i", &[idx, p1_doc, p2_doc, sig], now).await.unwrap();
    store.index_set_tags(r, "i", &[("v".into(), i.clone())], now).await.unwrap();
    // The platform manifests count once though the index names them too; c1 became shared.
    let i_own = 50 + 10 + 20 + L1 + C[3] + 5 + C[4] + S1;
    assert_eq!(figures(store, r, "i").await, (i_own, C[0], 0, 4, 0));
    assert_eq!(figures(store, r, "a").await, (a_own - C[0], BASE + C[0], 0, 1, 0), "c1 moved from only-here to shared");
    assert_eq!(totals(store, r).await.0, a_own + b_own + BASE + i_own);
    let contents = store.storage_contents(r, "i").await.unwrap();
    assert!(contents.manifests.iter().all(|m| m.reached), "children and the referrer are reached through the tag");

    // Untagging m3: its own blobs are held only by an untagged manifest now.
    store.index_remove_tags(r, "b", &["2".into()]).await.unwrap();
    let m3_own = M[2] + C[2] + A3;
    assert_eq!(figures(store, r, "b").await, (b_own, BASE, m3_own, 2, 1));
    assert_eq!(totals(store, r).await.1, m3_own);
    assert_eq!(store.index_unreached(r, "b").await.unwrap(), vec![m3.clone()]);
    // Untagging m1 and m2: the base layer is reached by nothing any more, in either repository.
    store.index_remove_tags(r, "a", &["1".into()]).await.unwrap();
    assert_eq!(figures(store, r, "a").await.2, a_own - C[0], "c1 is still reached through the index in i");
    store.index_remove_tags(r, "b", &["1".into()]).await.unwrap();
    assert_eq!(figures(store, r, "b").await, (b_own, BASE, b_own + BASE, 2, 2));
    assert_eq!(figures(store, r, "a").await, (a_own - C[0], BASE + C[0], a_own - C[0] + BASE, 1, 1), "a follows the base layer's change");
    assert_eq!(totals(store, r).await.1, a_own - C[0] + b_own + BASE);
    // Tagging m1 again brings the base layer back for both.
    store.index_set_tags(r, "a", &[("1".into(), m1.clone())], now).await.unwrap();
    assert_eq!(figures(store, r, "a").await.2, 0);
    assert_eq!(figures(store, r, "b").await.2, b_own);

    // Registry figures for part of it: a and b (the base layer once), from both sides.
    let shared = store.storage_shared_held(r, &["a".into(), "b".into()]).await.unwrap();
    assert_eq!(shared.len(), 2, "the base layer and c1: {shared:?}");
    assert_eq!((shared[&base].held_by, shared[&base].repositories), (2, 2));
    assert_eq!((shared[&c1].held_by, shared[&c1].repositories, shared[&c1].size), (1, 2, C[0]));

    // A deleted artifact: m3 saved in the trash and dropped from the index. Its own blobs are
    // named by nothing now (the base layer still is): what garbage collection frees.
    let trash = store
        .trash_put(&NewTrash {
            actor: Actor::system(),
            registry: r.into(),
            repository: "b".into(),
            kind: TrashKind::Artifact,
            summary: "b@m3".into(),
            manifests: vec![TrashManifest {
                digest: m3.clone(),
                media_type: "m".into(),
                role: ManifestRole::Root,
                subject: None,
                content: b"{}".to_vec(),
            }],
            tags: Vec::new(),
            request_id: None,
            run_id: None,
        })
        .await
        .unwrap();
    let blobs: Vec<(String, u64, bool)> = m3_doc.blobs().into_iter().map(|(d, s)| (d.clone(), s, d == m3)).collect();
    store.storage_trash_blobs_put(trash, r, "b", &blobs).await.unwrap();
    store.trash_set_state(trash, TrashState::Deleted, None, None).await.unwrap();
    assert!(store.storage_trash_held(r).await.unwrap().is_empty(), "still in the index: nothing is freed yet");
    assert_eq!(store.index_drop(r, "b", std::slice::from_ref(&m3)).await.unwrap(), 1);
    let held = store.storage_trash_held(r).await.unwrap();
    let mut freed: Vec<(String, u64, bool)> = held.iter().map(|b| (b.digest.clone(), b.size, b.manifest)).collect();
    freed.sort();
    let mut want = vec![(m3.clone(), M[2], true), (c3.clone(), C[2], false), (a3.clone(), A3, false)];
    want.sort();
    assert_eq!(freed, want);
    assert_eq!(figures(store, r, "b").await, (M[1] + C[1] + A2, BASE, M[1] + C[1] + A2, 1, 1));
    // Once garbage collection ran, nothing is held.
    store.trash_collected(&[trash], now).await.unwrap();
    assert!(store.storage_trash_held(r).await.unwrap().is_empty());

    // Counts for working out what a deletion frees.
    let counts = store.storage_blob_counts(r, &[base.clone(), a1.clone(), digest(0xdead)]).await.unwrap();
    assert_eq!((counts[&base].refs, counts[&base].repositories, counts[&base].size), (2, 2, BASE));
    assert_eq!(counts[&a1].refs, 1);
    assert!(!counts.contains_key(&digest(0xdead)));
    let largest = store.storage_repo_blobs(r, "a", false, 2).await.unwrap();
    assert_eq!(largest.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>(), vec![base.clone(), a1.clone()]);
    assert_eq!(store.storage_repo_blobs(r, "a", true, 10).await.unwrap().len(), 2, "the base layer and c1");
    let holders = store.storage_holders(r, std::slice::from_ref(&base), 10).await.unwrap();
    assert_eq!(holders[&base], vec!["a".to_owned(), "b".to_owned()]);

    // Forgetting b: the base layer is a's alone again.
    store.index_forget(r, "b").await.unwrap();
    assert_eq!(figures(store, r, "b").await, (0, 0, 0, 0, 0));
    assert_eq!(figures(store, r, "a").await, (a_own - C[0] + BASE, C[0], 0, 1, 0));
    assert_eq!(totals(store, r).await, (a_own + BASE + i_own, 0));
    // Pruning drops the untagged and their bytes.
    store.index_remove_tags(r, "i", &["v".into()]).await.unwrap();
    assert_eq!(figures(store, r, "i").await.4, 4);
    assert_eq!(store.index_prune(r, "i").await.unwrap(), 4);
    assert_eq!(figures(store, r, "i").await, (0, 0, 0, 0, 0));
    assert_eq!(figures(store, r, "a").await, (a_own + BASE, 0, 0, 1, 0));
    assert_eq!(totals(store, r).await, (a_own + BASE, 0));

    // Hostile sizes add up without overflow.
    let huge = sized(&digest(0x4000), u64::MAX, &[(&digest(0x4001), Layer, u64::MAX), (&digest(0x4002), Layer, u64::MAX)], None);
    store.index_put("huge", "x", &[huge], now).await.unwrap();
    assert_eq!(store.storage_repository("huge", "x").await.unwrap().unwrap().unique_bytes, i64::MAX as u64);

    // The crawl's last complete pass.
    assert_eq!(store.crawl_last_pass(r).await.unwrap(), None);
    let state = CrawlState {
        registry: r.into(),
        state: "waiting".into(),
        pass_started: Some(now),
        pass_finished: Some(now),
        repositories: 3,
        done: 3,
        requests: 10,
        paused_until: None,
        message: None,
        updated_at: now,
    };
    store.crawl_state_put(&state).await.unwrap();
    store.crawl_pass_complete(r, now - time::Duration::minutes(1), 1, true).await.unwrap();
    let last = store.crawl_last_pass(r).await.unwrap().unwrap();
    assert_eq!((last.failed, last.catalog), (1, true));
    assert_eq!(last.finished.unix_timestamp(), now.unix_timestamp());
}

/// The figures kept incrementally through random changes equal the figures counted from
/// scratch from what the index holds.
async fn storage_against_a_recount(store: &Store) {
    let r = "random";
    let repos = ["r0", "r1", "r2", "r3"];
    let now = OffsetDateTime::now_utc();
    // A small deterministic generator.
    let mut seed: u64 = 0x5eed;
    let mut next = |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let blob = |n: u64| (digest(0x9000 + n as u32), 1u64 << (n % 40));
    let manifest_digest = |n: u64| digest(0x8000 + n as u32);
    // A digest's size is the same wherever it is named.
    let manifest_bytes = |n: u64| 1u64 << (41 + n % 10);
    for step in 0..80 {
        let repo = repos[next(repos.len() as u64) as usize];
        match next(6) {
            0 | 1 => {
                // A manifest naming a few blobs (or another manifest, as an index).
                let m = next(24);
                let mut refs: Vec<(String, RefRole, u64)> =
                    (0..1 + next(4)).map(|_| blob(next(30))).map(|(d, s)| (d, RefRole::Layer, s)).collect();
                if next(3) == 0 {
                    let child = next(24);
                    refs.push((manifest_digest(child), RefRole::Manifest, manifest_bytes(child)));
                }
                let refs: Vec<(&str, RefRole, u64)> = refs.iter().map(|(d, role, s)| (d.as_str(), *role, *s)).collect();
                let subject = (next(5) == 0).then(|| manifest_digest(next(24)));
                let doc = sized(&manifest_digest(m), manifest_bytes(m), &refs, subject.as_deref());
                store.index_put(r, repo, &[doc], now).await.unwrap();
            }
            2 => {
                let tag = format!("t{}", next(5));
                store.index_set_tags(r, repo, &[(tag, manifest_digest(next(24)))], now).await.unwrap();
            }
            3 => store.index_remove_tags(r, repo, &[format!("t{}", next(5))]).await.unwrap(),
            4 => {
                store.index_drop(r, repo, &[manifest_digest(next(24))]).await.unwrap();
            }
            _ => {
                if next(4) == 0 {
                    store.index_forget(r, repo).await.unwrap();
                } else {
                    store.index_prune(r, repo).await.unwrap();
                }
            }
        }
        // Counted from scratch.
        let mut holders: std::collections::BTreeMap<String, (u64, std::collections::BTreeSet<&str>, bool)> = Default::default();
        let mut untagged_manifests = std::collections::BTreeMap::new();
        let mut per_repo: std::collections::BTreeMap<&str, std::collections::BTreeSet<String>> = Default::default();
        for repo in repos {
            let c = store.storage_contents(r, repo).await.unwrap();
            untagged_manifests.insert(repo, c.manifests.iter().filter(|m| !m.reached).count() as u64);
            for m in &c.manifests {
                let mut blobs = vec![(m.digest.clone(), m.bytes)];
                for (p, child, _, size) in &c.refs {
                    if *p == m.digest && !blobs.iter().any(|(d, _)| d == child) {
                        blobs.push((child.clone(), size.unwrap_or(0)));
                    }
                }
                for (d, size) in blobs {
                    let e = holders.entry(d.clone()).or_insert((size, Default::default(), false));
                    e.1.insert(repo);
                    e.2 |= m.reached;
                    per_repo.entry(repo).or_default().insert(d);
                }
            }
        }
        let stored: u64 = holders.values().map(|h| h.0).sum();
        let untagged: u64 = holders.values().filter(|h| !h.2).map(|h| h.0).sum();
        assert_eq!(totals(store, r).await, (stored, untagged), "step {step}: the registry");
        // The plain SQL count (the benchmark's baseline) agrees.
        let (total, rows) = store.storage_count_from_scratch(r).await.unwrap();
        assert_eq!(total, stored, "step {step}: counted by SQL");
        for (repo, unique, shared) in rows {
            let f = figures(store, r, &repo).await;
            assert_eq!((f.0, f.1), (unique, shared), "step {step}: {repo} counted by SQL");
        }
        for repo in repos {
            let mine = per_repo.get(repo).cloned().unwrap_or_default();
            let unique: u64 = mine.iter().filter(|d| holders[*d].1.len() == 1).map(|d| holders[d].0).sum();
            let shared: u64 = mine.iter().filter(|d| holders[*d].1.len() > 1).map(|d| holders[d].0).sum();
            let untagged: u64 = mine.iter().filter(|d| !holders[*d].2).map(|d| holders[d].0).sum();
            let manifests = store.storage_contents(r, repo).await.unwrap().manifests.len() as u64;
            assert_eq!(
                figures(store, r, repo).await,
                (unique, shared, untagged, manifests, untagged_manifests[repo]),
                "step {step}: {repo}"
            );
        }
    }
}
