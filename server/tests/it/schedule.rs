//! The scheduler's tick ([`service::runs::tick`], which every replica runs every 20 seconds)
//! against a real distribution: fires missed while no replica ran are run once and the miss
//! is audited (`policy-schedule-missed`); a fire that finds its policy running (its lease held
//! by another replica) is recorded as a skipped run, once, and starts nothing.

use std::time::{Duration, Instant};

use portolan_store::{ActorKind, AuditEntry, AuditFilter, NewRun, Outcome, PolicyRecord, RunCounts, RunRecord, RunState, Trigger};
use portolan_testkit::fixtures::ImageSpec;
use time::OffsetDateTime;

use crate::restore::{portolan, registry};
use crate::support::{TestApp, run, service};

/// An hour of the day twelve hours from now: a daily fire at it is never near, so no test
/// crosses it, whenever the tests run.
fn quiet_hour() -> u8 {
    (OffsetDateTime::now_utc().hour() + 12) % 24
}

/// A dry-run policy on `sched/*` of "reg" keeping the highest version, daily at `hour`:00 UTC.
async fn daily_policy(w: &TestApp, name: &str, hour: u8) -> PolicyRecord {
    let body = serde_json::json!({
        "name": name,
        "registry": "reg",
        "repositories": ["sched/*"],
        "keep": {"most_recent": {"count": 1, "by": "version"}},
        "dry_run": true,
        "schedule": format!("0 {hour} * * *"),
    });
    w.store.policy_create(name, "reg", &body.to_string(), Some("ada")).await.unwrap()
}

/// The latest `hour`:00 UTC at or before now: the fire due now.
fn latest_fire(hour: u8) -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    let today = now.replace_time(time::Time::from_hms(hour, 0, 0).unwrap());
    if today <= now { today } else { today - time::Duration::days(1) }
}

/// A finished scheduled run of `policy` for the fire at `fire`, as a replica recorded it.
async fn fired_at(w: &TestApp, policy: &PolicyRecord, fire: OffsetDateTime) {
    let run = w
        .store
        .run_start(&NewRun {
            policy_id: policy.id,
            policy_version: policy.version,
            policy_name: policy.name.clone(),
            registry: "reg".into(),
            trigger: Trigger::Schedule,
            started_by: Some(format!("schedule of {}", policy.name)),
            dry_run: true,
            owner: "a-replica-long-gone".into(),
            scheduled_for: Some(fire),
            scope: service::runs::scope_of(policy),
        })
        .await
        .unwrap()
        .expect("the fire is free");
    w.store.run_finish(run.id, RunState::Done, &RunCounts::default(), None).await.unwrap();
}

/// The policy's runs, oldest first.
async fn runs_of(w: &TestApp, policy: &PolicyRecord) -> Vec<RunRecord> {
    let mut runs = w.store.runs(Some(policy.id), None, 100).await.unwrap();
    runs.reverse();
    runs
}

async fn audited(w: &TestApp, action: &str) -> Vec<AuditEntry> {
    w.store.audit_entries(&AuditFilter { action: Some(action.into()), ..Default::default() }, 100).await.unwrap()
}

/// Waits for a run to end (at most a minute).
async fn finished(w: &TestApp, id: i64) -> RunRecord {
    let started = Instant::now();
    loop {
        let run = w.store.run(id).await.unwrap();
        if run.state != RunState::Running {
            return run;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "run {id} still running: {run:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn fires_missed_while_no_replica_ran_are_run_once_and_the_miss_is_audited() {
    run(async {
        let (d, seeder) = registry().await;
        for tag in ["1.0", "2.0", "3.0"] {
            seeder.image("sched/app", &[tag], &ImageSpec::new(&format!("version {tag}"))).await.unwrap();
        }
        let w = portolan(&d.url).await;
        let hour = quiet_hour();
        let policy = daily_policy(&w, "nightly", hour).await;
        // The last fire anyone ran was ten days ago: nine fires were missed since, and one is due.
        let due = latest_fire(hour);
        fired_at(&w, &policy, due - time::Duration::days(10)).await;

        service::runs::tick(&w.state).await;
        let runs = runs_of(&w, &policy).await;
        assert_eq!(runs.len(), 2, "one run for the ten fires: {runs:#?}");
        let ran = &runs[1];
        assert_eq!((ran.trigger, ran.scheduled_for), (Trigger::Schedule, Some(due)), "{ran:?}");
        let ran = finished(&w, ran.id).await;
        assert_eq!(ran.state, RunState::Done, "{ran:?}");
        assert_eq!(ran.counts.planned, 2, "a real dry run: 1.0 and 2.0 would go");
        let missed = audited(&w, "policy-schedule-missed").await;
        assert_eq!(missed.len(), 1, "{missed:#?}");
        let e = &missed[0].entry;
        assert_eq!((e.outcome, e.actor.kind, e.actor.subject.as_deref()), (Outcome::Skipped, ActorKind::Schedule, Some("nightly")));
        assert_eq!(e.registry.as_deref(), Some("reg"));
        let reason = e.reason.as_deref().unwrap_or_default();
        assert!(reason.starts_with("9 scheduled run(s) before") && reason.ends_with("ran once now"), "{reason}");
        assert_eq!(audited(&w, "policy-dry-run").await.len(), 1, "one run started");

        // The next tick finds nothing due: the fires are not run again, nor the miss noted again.
        service::runs::tick(&w.state).await;
        assert_eq!(runs_of(&w, &policy).await.len(), 2);
        assert_eq!(audited(&w, "policy-schedule-missed").await.len(), 1);
        assert_eq!(audited(&w, "policy-dry-run").await.len(), 1);
        w.store.close().await;
    })
}

#[test]
fn a_fire_that_finds_its_policy_running_is_recorded_as_skipped() {
    run(async {
        let (d, seeder) = registry().await;
        seeder.image("sched/app", &["1.0"], &ImageSpec::new("one version")).await.unwrap();
        let w = portolan(&d.url).await;
        let hour = quiet_hour();
        let policy = daily_policy(&w, "busy", hour).await;
        let due = latest_fire(hour);
        fired_at(&w, &policy, due - time::Duration::days(1)).await;
        // A run of the policy is going on on another replica: it holds the policy's lease.
        let lease = service::runs::lease_name(policy.id);
        assert!(w.store.lease_acquire(&lease, "replica-b#1", Duration::from_secs(600), OffsetDateTime::now_utc()).await.unwrap());

        service::runs::tick(&w.state).await;
        let runs = runs_of(&w, &policy).await;
        assert_eq!(runs.len(), 2, "{runs:#?}");
        let skipped = &runs[1];
        assert_eq!((skipped.trigger, skipped.scheduled_for), (Trigger::Schedule, Some(due)), "{skipped:?}");
        assert_eq!(skipped.state, RunState::Skipped, "{skipped:?}");
        let message = skipped.message.as_deref().unwrap_or_default();
        assert!(message.contains("is going on already (on replica-b)"), "{message}");
        assert_eq!(skipped.counts, RunCounts::default(), "it did nothing");
        assert!(audited(&w, "policy-*").await.is_empty(), "no run started, nothing missed");

        // Recorded once: the fire is taken, also once the other run ended.
        service::runs::tick(&w.state).await;
        w.store.lease_release(&lease, "replica-b#1").await.unwrap();
        service::runs::tick(&w.state).await;
        assert_eq!(runs_of(&w, &policy).await.len(), 2);
        assert!(audited(&w, "policy-*").await.is_empty());
        w.store.close().await;
    })
}
