//! The scheduler: every replica runs one, and the database makes them agree. Each tick it
//! marks interrupted the runs whose replica stopped beating, settles the deletes such a replica
//! left half-recorded (see [`settle_trash`]), starts the schedule fires that are
//! due (a fire is claimed once in the cluster; a policy's lease keeps its runs from
//! overlapping — a fire that finds its policy still running is recorded as skipped), says when
//! fires were missed (no replica was up), and records first-seen dates of every repository a
//! policy covers (so an image nobody opened is not "new" when a policy first judges it).

use std::time::Duration;

use futures::StreamExt;
use portolan_app::ssr::AppState;
use portolan_app::ssr::retention::{RunRequest, policy_of, repositories_in_scope, stale_after, start};
use portolan_oci::{Reference, RepoName, Tag};
use portolan_store::{Actor, NewAudit, NewRun, Outcome, RunCounts, RunState, TrashEntry, TrashKind, TrashState, Trigger};
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
    let stale = now - time::Duration::try_from(stale_after(state)).unwrap_or(time::Duration::minutes(2));
    match state.store.runs_interrupt_stale(stale).await {
        Ok(ids) if !ids.is_empty() => tracing::warn!(?ids, "runs whose replica stopped were marked interrupted"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "checking for interrupted runs"),
    }
    settle_trash(state, stale).await;
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

/// Settles the trash entries left `saved` since before `stale`: a delete was under way when its
/// process died (between saving the manifests and recording how the delete ended), so neither
/// the entry nor the audit log says what happened. The registry is asked, bypassing caches:
/// - an artifact some of whose saved manifests are gone was (at least partly) deleted: the
///   entry becomes `deleted`, restorable; one whose manifests are all still there was not: it
///   becomes `failed`;
/// - a tag that no longer points at its saved manifest was deleted (`deleted`); one that still
///   does was not (`failed`).
///
/// Each is audited (`delete-manifest` / `delete-tag`, by Portolan). Entries of a run still
/// going on are left alone, as are those the registry cannot be asked about now (next tick).
pub async fn settle_trash(state: &AppState, stale: OffsetDateTime) {
    let entries = match state.store.trash_unsettled(stale, 100).await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "listing unsettled trash entries");
            return;
        }
    };
    for entry in entries {
        if let Some(run) = entry.run_id
            && matches!(state.store.run(run).await, Ok(r) if r.state == RunState::Running)
        {
            continue;
        }
        let entry = match state.store.trash_entry(entry.id).await {
            Ok(full) => full,
            Err(e) => {
                tracing::warn!(error = %e, id = entry.id, "reading an unsettled trash entry");
                continue;
            }
        };
        match settle(state, &entry).await {
            Ok(Some((to, action, reason))) => {
                if let Err(e) = state.store.trash_set_state(entry.id, to, Some(&Actor::system().label()), Some(&reason)).await {
                    tracing::warn!(error = %e, id = entry.id, "settling a trash entry");
                    continue;
                }
                let outcome = if to == TrashState::Deleted { Outcome::Done } else { Outcome::Failed };
                let root = entry.manifests.iter().find(|m| m.role == portolan_store::ManifestRole::Root).map(|m| m.digest.clone());
                let tags = entry.tags.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(", ");
                let audit = NewAudit::new(Actor::system(), action, outcome)
                    .at(&entry.registry, Some(&entry.repository))
                    .digests(root)
                    .tags((!tags.is_empty()).then_some(tags))
                    .reason(reason)
                    .request(entry.request_id.as_deref())
                    .detail(serde_json::json!({"trash": entry.id, "run": entry.run_id, "settled": true}));
                if let Err(e) = state.store.audit(audit).await {
                    tracing::error!(error = %e, id = entry.id, "the audit log could not record a settled delete");
                }
                tracing::warn!(id = entry.id, state = to.as_str(), "an interrupted delete was settled");
            }
            Ok(None) => {}
            Err(e) => tracing::debug!(error = %e, id = entry.id, "an unsettled trash entry could not be checked; next time"),
        }
    }
}

/// What became of an interrupted delete: the entry's new state, the audit action and why.
async fn settle(state: &AppState, entry: &TrashEntry) -> Result<Option<(TrashState, &'static str, String)>, portolan_oci::Error> {
    let Ok(registry) = state.registry(&entry.registry) else { return Ok(None) };
    let repo = RepoName::parse(&entry.repository)?;
    const PREFIX: &str = "settled after an interruption (the delete was under way when Portolan stopped)";
    match entry.kind {
        TrashKind::Artifact => {
            let mut gone = Vec::new();
            for m in &entry.manifests {
                let digest = portolan_oci::name::parse_digest(&m.digest)?;
                if registry.client.resolve_now(&repo, &Reference::Digest(digest)).await?.is_none() {
                    gone.push(portolan_app::model::short_digest(&m.digest));
                }
            }
            Ok(Some(if gone.is_empty() {
                (
                    TrashState::Failed,
                    "delete-manifest",
                    format!("{PREFIX}: every saved manifest is still in the registry; nothing was deleted"),
                )
            } else {
                (
                    TrashState::Deleted,
                    "delete-manifest",
                    format!(
                        "{PREFIX}: {} of {} saved manifests are gone from the registry ({})",
                        gone.len(),
                        entry.manifests.len(),
                        gone.join(", ")
                    ),
                )
            }))
        }
        TrashKind::Tag => {
            let mut still = Vec::new();
            for (tag, digest) in &entry.tags {
                let now = registry.client.resolve_now(&repo, &Reference::Tag(Tag::parse(tag)?)).await?;
                if now.is_some_and(|r| &r.digest == digest) {
                    still.push(tag.as_str());
                }
            }
            Ok(Some(if still.is_empty() {
                (TrashState::Deleted, "delete-tag", format!("{PREFIX}: the tag no longer points at the saved manifest"))
            } else {
                (
                    TrashState::Failed,
                    "delete-tag",
                    format!("{PREFIX}: {} still points at the saved manifest; nothing was deleted", still.join(", ")),
                )
            }))
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
