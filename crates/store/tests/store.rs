//! The store's whole API, run on both engines: an embedded SQLite file and a real Postgres
//! (Debian's, started by the test kit).

use std::time::Duration;

use portolan_store::sessions::Sessions;
use portolan_store::trash::TrashFilter;
use portolan_store::{
    Actor, AuditFilter, Location, ManifestRole, NewAudit, NewTrash, Outcome, Store, StoreConfig, TrashKind, TrashManifest, TrashState,
};
use time::OffsetDateTime;
use time::macros::datetime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{ExpiredDeletion, SessionStore};

async fn suite(store: &Store) {
    store.ready().await.expect("ready");
    first_seen(store).await;
    users(store).await;
    sessions(&store.sessions(), store).await;
    audit(store).await;
    trash(store).await;
    policies_runs_and_leases(store).await;
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

async fn sessions(sessions: &Sessions, store: &Store) {
    let mut record = Record {
        id: Id::default(),
        data: [("user".to_owned(), serde_json::json!({"name": "alice"}))].into(),
        expiry_date: OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    sessions.create(&mut record).await.unwrap();
    let loaded = sessions.load(&record.id).await.unwrap().expect("the session");
    assert_eq!(loaded.data, record.data);
    record.data.insert("k".into(), serde_json::json!(1));
    sessions.save(&record).await.unwrap();
    assert_eq!(sessions.load(&record.id).await.unwrap().unwrap().data.len(), 2);
    // Deleted: dead.
    sessions.delete(&record.id).await.unwrap();
    assert!(sessions.load(&record.id).await.unwrap().is_none());
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
    // A run whose heartbeat stopped is marked interrupted by whoever notices.
    let manual = store.run_start(&new("replica-c", None)).await.unwrap().unwrap();
    let ids = store.runs_interrupt_stale(OffsetDateTime::now_utc() + time::Duration::seconds(1)).await.unwrap();
    assert_eq!(ids, vec![manual.id]);
    assert_eq!(store.run(manual.id).await.unwrap().state, RunState::Interrupted);
    assert_eq!(store.runs(Some(p.id), None, 10).await.unwrap().len(), 2);
    store.policy_delete(p.id).await.unwrap();
    assert_eq!(store.runs(None, None, 10).await.unwrap().len(), 2, "runs outlive their policy");
}

#[tokio::test]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = Store::open(&StoreConfig::new(Location::Sqlite(data.clone()))).await.unwrap();
    suite(&store).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("portolan.db")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the store file is readable by its owner only: {mode:o}");
        let mode = std::fs::metadata(&data).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "and so is its directory: {mode:o}");
    }
}

#[tokio::test]
async fn postgres() {
    let pg = portolan_testkit::postgres::Postgres::start().await.unwrap();
    let url = pg.new_database("store_suite").unwrap();
    let store = Store::open(&StoreConfig::new(Location::Postgres(url))).await.unwrap();
    assert_eq!(store.engine(), portolan_store::Engine::Postgres);
    suite(&store).await;
}

#[tokio::test]
async fn postgres_away_is_unavailable_then_recovers() {
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
}

#[tokio::test]
async fn a_postgres_that_is_not_there_is_unavailable() {
    let port = portolan_testkit::process::free_addr().unwrap().port();
    let mut config = StoreConfig::new(Location::Postgres(format!("postgres://portolan:hunter2@127.0.0.1:{port}/p")));
    config.acquire_timeout = Duration::from_secs(1);
    let e = Store::open(&config).await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, portolan_store::StoreError::Unavailable(_)), "{e:?}");
    assert!(!text.contains("hunter2"), "no password in messages: {text}");
}
