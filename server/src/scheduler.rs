//! The scheduler: every replica runs one, and the database makes them agree. Each tick it
//! marks interrupted the runs whose replica stopped beating, starts the schedule fires that are
//! due (a fire is claimed once in the cluster; a policy's lease keeps its runs from
//! overlapping — a fire that finds its policy still running is recorded as skipped), says when
//! fires were missed (no replica was up), and records first-seen dates of every repository a
//! policy covers (so an image nobody opened is not "new" when a policy first judges it).

use std::time::Duration;

use futures::StreamExt;
use portolan_app::ssr::AppState;
use portolan_app::ssr::retention::{HEARTBEAT, LEASE_TTL, RunRequest, policy_of, repositories_in_scope, start};
use portolan_oci::{Reference, RepoName, Tag};
use portolan_store::{Actor, NewAudit, NewRun, Outcome, RunCounts, RunState, Trigger};
use time::OffsetDateTime;

/// How often the scheduler looks.
pub const TICK: Duration = Duration::from_secs(20);
/// How often first-seen dates are recorded for every repository in a policy's scope.
pub const SCAN_EVERY: Duration = Duration::from_secs(15 * 60);

/// Runs until `stop` says so.
pub async fn run(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut last_scan: Option<std::time::Instant> = None;
    loop {
        tick(&state).await;
        if last_scan.is_none_or(|t| t.elapsed() >= SCAN_EVERY) {
            scan(&state).await;
            last_scan = Some(std::time::Instant::now());
        }
        // A little jitter, so replicas started together do not knock at once.
        let wait = TICK + Duration::from_millis(rand::random_range(0..2000));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

/// One look: stale runs, due fires.
pub async fn tick(state: &AppState) {
    let now = OffsetDateTime::now_utc();
    // A run whose heartbeat is older than its lease: its replica is gone.
    match state
        .store
        .runs_interrupt_stale(now - time::Duration::try_from(LEASE_TTL + HEARTBEAT).unwrap_or(time::Duration::minutes(2)))
        .await
    {
        Ok(ids) if !ids.is_empty() => tracing::warn!(?ids, "runs whose replica stopped were marked interrupted"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "checking for interrupted runs"),
    }
    let policies = match state.store.policies().await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "reading the policies");
            return;
        }
    };
    for record in policies {
        let Ok(policy) = policy_of(state, &record) else { continue };
        let Some(schedule) = policy.schedule() else { continue };
        let since = match state.store.last_fire(record.id).await {
            Ok(Some(t)) => t,
            Ok(None) => record.created_at,
            Err(e) => {
                tracing::warn!(error = %e, "reading a policy's last fire");
                continue;
            }
        };
        let (fires, more) = match portolan_retention::fires_between(schedule, since, now, 10_000) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(policy = %record.name, error = %e, "a stored schedule does not parse");
                continue;
            }
        };
        let Some(&fire) = fires.last() else { continue };
        let missed = fires.len() - 1 + more;
        let req = RunRequest {
            record: record.clone(),
            trigger: Trigger::Schedule,
            actor: Actor::schedule(&record.name),
            dry_run: policy.dry_run(),
            scheduled_for: Some(fire),
            request_id: None,
        };
        match start(state, &state.replica, req).await {
            Ok(run) => {
                tracing::info!(policy = %record.name, run = run.id, %fire, "scheduled run started");
                if missed > 0 {
                    let entry = NewAudit::new(Actor::schedule(&record.name), "policy-schedule-missed", Outcome::Skipped)
                        .at(policy.registry(), None)
                        .reason(format!("{missed} scheduled run(s) before {fire} were missed (no replica was running); ran once now"));
                    let _ = state.store.audit(entry).await;
                }
            }
            Err(portolan_app::error::AppError::Conflict(why)) => {
                // Another replica took the fire, or the policy is still running: record the
                // fire as skipped (once: the fire's row is unique), so it shows in the history.
                let skipped = NewRun {
                    policy_id: record.id,
                    policy_version: record.version,
                    policy_name: record.name.clone(),
                    registry: record.registry.clone(),
                    trigger: Trigger::Schedule,
                    started_by: Some(Actor::schedule(&record.name).label()),
                    dry_run: policy.dry_run(),
                    owner: state.replica.to_string(),
                    scheduled_for: Some(fire),
                };
                if let Ok(Some(run)) = state.store.run_start(&skipped).await {
                    let _ = state.store.run_finish(run.id, RunState::Failed, &RunCounts::default(), Some(&format!("skipped: {why}"))).await;
                }
            }
            Err(e) => tracing::warn!(policy = %record.name, error = %e, "a scheduled run could not start"),
        }
    }
}

/// Records first-seen dates for every tagged digest of every repository a policy covers (tags
/// resolved with HEAD requests, through the client's caches), once per policy scope per scan.
pub async fn scan(state: &AppState) {
    let Ok(policies) = state.store.policies().await else { return };
    for record in policies {
        let Ok(policy) = policy_of(state, &record) else { continue };
        let Ok(registry) = state.registry(policy.registry()) else { continue };
        let registry = registry.clone();
        // One replica scans a policy's scope at a time.
        let lease = format!("scan:{}", record.id);
        match state.store.lease_acquire(&lease, &state.replica, SCAN_EVERY, OffsetDateTime::now_utc()).await {
            Ok(true) => {}
            _ => continue,
        }
        let repositories = match repositories_in_scope(state, &registry, &policy).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(policy = %record.name, error = %e, "listing repositories to scan");
                continue;
            }
        };
        for name in repositories {
            let Ok(repo) = RepoName::parse(&name) else { continue };
            let Ok(tags) = registry.client.tags(&repo).await else { continue };
            let client = registry.client.clone();
            let reads: Vec<_> = tags
                .iter()
                .filter_map(|t| Tag::parse(t).ok())
                .map(|t| {
                    let (client, repo) = (client.clone(), repo.clone());
                    async move { client.resolve(&repo, &Reference::Tag(t)).await.ok().map(|r| r.digest) }
                })
                .collect();
            let digests: Vec<String> = futures::stream::iter(reads).buffer_unordered(4).filter_map(|d| async move { d }).collect().await;
            if let Err(e) = state.store.first_seen(&registry.info.name, repo.as_str(), &digests, OffsetDateTime::now_utc()).await {
                tracing::warn!(error = %e, "recording first-seen dates");
                break;
            }
        }
    }
}
