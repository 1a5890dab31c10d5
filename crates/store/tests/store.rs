//! The store's whole API, run on both engines: an embedded SQLite file and a real Postgres
//! (Debian's, started by the test kit).

use std::time::Duration;

use portolan_store::sessions::Sessions;
use portolan_store::trash::TrashFilter;
use portolan_store::{
    Actor, AuditFilter, CrawlState, IndexRef, IndexedManifest, Location, ManifestRole, NewAudit, NewTrash, Outcome, RefRole,
    RepoSummaryRecord, Store, StoreConfig, TrashKind, TrashManifest, TrashState,
};
use portolan_testkit::runner::run;
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
        suite(&store).await;
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
        let store = Store::open(&StoreConfig::new(Location::Postgres(url))).await.unwrap();
        assert_eq!(store.engine(), portolan_store::Engine::Postgres);
        suite(&store).await;
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
