//! Running retention policies: one run at a time per policy in the whole cluster (a lease in
//! the store, renewed while the run works), on a snapshot of the policy taken at start (an edit
//! during a run applies to the next one). Per repository in scope: the repository is read
//! afresh, first-seen dates recorded, the planner decides, and each planned unit goes through
//! the same deletion path as a person's delete — trash first, tags re-checked right before,
//! every item audited — until done, stopped, the cap, or the error budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use portolan_oci::{Reference, RepoName, Tag};
use portolan_retention::{Deletion, Policy, RawPolicy, plan, validate};
use portolan_store::{Actor, NewAudit, NewRun, Outcome, PolicyRecord, RunCounts, RunItem, RunRecord, RunState, Trigger};
use time::OffsetDateTime;

use crate::trash::{Deleter, KnownTags, fresh_inventory, unit_tags};
use crate::{Error, Registry, Result, Services};

/// How long a run's lease lasts without renewal, by default (`retention_lease_secs`): a replica
/// that dies mid-run loses its claim after this, and another may run the policy.
pub const LEASE_TTL: Duration = Duration::from_secs(60);
/// Items that may fail in one run before it stops.
pub const ERROR_BUDGET: i64 = 10;
/// How often first-seen dates are recorded for every repository in a policy's scope (the
/// scheduler's [`scan`]).
pub const SCAN_EVERY: Duration = Duration::from_secs(15 * 60);
/// Repositories one run covers at most.
const MAX_REPOSITORIES: usize = 10_000;

/// How long a run's lease lasts without renewal (the configured `retention_lease_secs`).
pub fn lease_ttl(state: &Services) -> Duration {
    state.settings.retention_lease
}

/// How often a running run renews its lease and records its heartbeat: a quarter of the lease.
pub fn heartbeat(state: &Services) -> Duration {
    (lease_ttl(state) / 4).max(Duration::from_millis(250))
}

/// How old a running run's heartbeat is when its replica is taken for gone: the lease and one
/// renewal more.
pub fn stale_after(state: &Services) -> Duration {
    lease_ttl(state) + heartbeat(state)
}

/// The lease name of a policy's runs.
pub fn lease_name(policy: i64) -> String {
    format!("policy:{policy}")
}

/// The repository globs of a stored policy: what acting on it, or seeing it and its runs,
/// needs a role over. A body that no longer reads (or names no repository) counts as every
/// repository.
pub fn scope_of(record: &PolicyRecord) -> Vec<String> {
    serde_json::from_str::<RawPolicy>(&record.body)
        .ok()
        .map(|raw| raw.repositories)
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| vec!["**".to_owned()])
}

/// The validated policy of a stored record.
pub fn policy_of(state: &Services, record: &PolicyRecord) -> Result<Policy, Error> {
    let raw: RawPolicy =
        serde_json::from_str(&record.body).map_err(|e| Error::Invalid(format!("the stored policy is not valid JSON: {e}")))?;
    let names: Vec<&str> = state.registries.iter().map(|r| r.info.name.as_str()).collect();
    validate(raw, &names).map_err(|errors| Error::Invalid(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))
}

/// What asks for a run.
pub struct RunRequest {
    pub record: PolicyRecord,
    pub trigger: Trigger,
    pub actor: Actor,
    pub dry_run: bool,
    pub scheduled_for: Option<OffsetDateTime>,
    pub request_id: Option<String>,
}

/// Starts a run in the background; answers at once with its record. Refused (Conflict) when a
/// run of the policy is going on anywhere in the cluster, or when another replica claimed the
/// schedule fire.
/// The runs this replica is working on: shutdown asks them to stop (each ends as interrupted
/// before its next deletion, the one in flight finished, and hands back its lease at once, so
/// another replica need not wait for the lease to run out), and waits for them.
#[derive(Default)]
pub struct LocalRuns {
    stopping: AtomicBool,
    active: AtomicUsize,
}

impl LocalRuns {
    /// Asks every run of this replica to stop, and waits up to `wait` for them to record their
    /// end. Returns how many were still going when the wait ran out.
    pub async fn stop_all(&self, wait: Duration) -> usize {
        self.stopping.store(true, Ordering::SeqCst);
        let until = std::time::Instant::now() + wait;
        while self.active.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.active.load(Ordering::SeqCst)
    }

    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// Counts a run as active for as long as it lives (also when its task is cancelled).
struct Active(Arc<LocalRuns>);

impl Active {
    fn new(runs: &Arc<LocalRuns>) -> Self {
        runs.active.fetch_add(1, Ordering::SeqCst);
        Self(runs.clone())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

pub async fn start(state: &Services, owner: &str, req: RunRequest) -> Result<RunRecord, Error> {
    if state.runs.stopping() {
        return Err(Error::Unavailable("this replica is shutting down; try again on another".into()));
    }
    let policy = policy_of(state, &req.record)?;
    let lease = lease_name(req.record.id);
    // The claim is this run's own, not the replica's: a lease is re-acquired by its holder, so
    // a replica claiming as itself would start a second run beside its own running one.
    let claim = format!("{owner}#{:x}", portolan_store::new_id());
    if !state.store.lease_acquire(&lease, &claim, lease_ttl(state), OffsetDateTime::now_utc()).await? {
        let holder = state.store.lease_holder(&lease, OffsetDateTime::now_utc()).await?.map(|h| h.0).unwrap_or_default();
        let holder = holder.split('#').next().unwrap_or_default();
        return Err(Error::Conflict(format!(
            "a run of {:?} is going on already (on {holder}); runs of one policy never overlap",
            req.record.name
        )));
    }
    let new = NewRun {
        policy_id: req.record.id,
        policy_version: req.record.version,
        policy_name: req.record.name.clone(),
        registry: policy.registry().to_owned(),
        trigger: req.trigger,
        started_by: Some(req.actor.label()),
        dry_run: req.dry_run,
        owner: owner.to_owned(),
        scheduled_for: req.scheduled_for,
        scope: scope_of(&req.record),
    };
    let run = match state.store.run_start(&new).await {
        Ok(Some(run)) => run,
        Ok(None) => {
            state.store.lease_release(&lease, &claim).await?;
            return Err(Error::Conflict("another replica took this schedule fire".into()));
        }
        Err(e) => {
            let _ = state.store.lease_release(&lease, &claim).await;
            return Err(e.into());
        }
    };
    let entry = NewAudit::new(req.actor.clone(), if req.dry_run { "policy-dry-run" } else { "policy-run" }, Outcome::Done)
        .at(policy.registry(), None)
        .reason(format!("run {} of {:?} (version {}) started ({})", run.id, req.record.name, req.record.version, req.trigger.as_str()))
        .detail(serde_json::json!({"run": run.id, "policy": run.policy_id, "scope": run.scope}))
        .request(req.request_id.as_deref());
    state.store.audit(entry).await?;
    let (state, record) = (state.clone(), run.clone());
    let active = Active::new(&state.runs);
    tokio::spawn(async move {
        let _active = active;
        let id = record.id;
        let outcome = execute(&state, &claim, record, policy, req).await;
        if let Err(e) = outcome {
            tracing::error!(run = id, error = %e, "a retention run failed to record its end");
        }
    });
    Ok(run)
}

/// The run itself (in a task of its own), holding the policy's lease as `owner` (its claim).
async fn execute(state: &Services, owner: &str, run: RunRecord, policy: Policy, req: RunRequest) -> Result<(), Error> {
    let lease = lease_name(run.policy_id);
    let lost = Arc::new(AtomicBool::new(false));
    // The heartbeat: the lease renewed and the run's heartbeat recorded while the run works —
    // also while it reads a large repository, when no progress is saved for a long time (else
    // the scheduler would take the live run for one whose replica died). Losing the lease stops
    // the run.
    let beat = {
        let (store, lease, owner, lost, run_id) = (state.store.clone(), lease.clone(), owner.to_owned(), lost.clone(), run.id);
        let (ttl, every) = (lease_ttl(state), heartbeat(state));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match store.lease_renew(&lease, &owner, ttl, OffsetDateTime::now_utc()).await {
                    Ok(true) => {
                        if let Err(e) = store.run_heartbeat(run_id).await {
                            tracing::warn!(error = %e, "recording a run's heartbeat");
                        }
                    }
                    Ok(false) => {
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "renewing a run's lease"),
                }
            }
        })
    };
    let mut work = Work {
        state,
        run: &run,
        policy: &policy,
        req: &req,
        counts: RunCounts::default(),
        position: 0,
        lost: &lost,
        budget_left: policy.max_deletions() as i64,
    };
    let (end, message) = work.all().await;
    beat.abort();
    let counts = work.counts;
    state.store.run_finish(run.id, end, &counts, message.as_deref()).await?;
    let _ = state.store.lease_release(&lease, owner).await;
    let kind = if run.dry_run { "dry-run" } else { "run" };
    metrics::counter!("portolan_retention_runs_total", "registry" => policy.registry().to_owned(), "kind" => kind, "state" => end.as_str())
        .increment(1);
    if !run.dry_run {
        metrics::counter!("portolan_retention_deleted_tags_total", "registry" => policy.registry().to_owned())
            .increment(counts.tags_deleted.max(0) as u64);
        metrics::counter!("portolan_retention_freed_bytes_total", "registry" => policy.registry().to_owned())
            .increment(counts.bytes_freed.max(0) as u64);
    }
    if end == RunState::Done {
        metrics::gauge!("portolan_retention_last_success_timestamp_seconds", "registry" => policy.registry().to_owned(), "kind" => kind)
            .set(OffsetDateTime::now_utc().unix_timestamp() as f64);
    }
    let outcome = match end {
        RunState::Done => Outcome::Done,
        RunState::Stopped => Outcome::Skipped,
        _ => Outcome::Failed,
    };
    let summary = format!(
        "run {} {}: {} repositories, {} units planned, {} done, {} skipped, {} failed, {} tags deleted, {} bytes freed{}",
        run.id,
        end.as_str(),
        counts.repositories,
        counts.planned,
        counts.done,
        counts.skipped,
        counts.failed,
        counts.tags_deleted,
        counts.bytes_freed,
        message.as_deref().map(|m| format!(" — {m}")).unwrap_or_default()
    );
    let entry = NewAudit::new(req.actor.clone(), if run.dry_run { "policy-dry-run-end" } else { "policy-run-end" }, outcome)
        .at(policy.registry(), None)
        .reason(summary)
        .detail(serde_json::json!({"run": run.id, "policy": run.policy_id, "scope": run.scope}))
        .request(req.request_id.as_deref());
    state.store.audit(entry).await?;
    Ok(())
}

struct Work<'a> {
    state: &'a Services,
    run: &'a RunRecord,
    policy: &'a Policy,
    req: &'a RunRequest,
    counts: RunCounts,
    position: i64,
    lost: &'a AtomicBool,
    /// Deletion units this run may still apply (the policy's per-run cap).
    budget_left: i64,
}

impl Work<'_> {
    /// Every repository in scope; the run's end state and why.
    async fn all(&mut self) -> (RunState, Option<String>) {
        let registry = match self.state.registry(self.policy.registry()) {
            Ok(r) => r.clone(),
            Err(e) => return (RunState::Failed, Some(e.to_string())),
        };
        let repositories = match repositories_in_scope(self.state, &registry, self.policy).await {
            Ok(r) => r,
            Err(e) => return (RunState::Failed, Some(format!("listing the repositories failed: {e}"))),
        };
        for name in repositories {
            if let Some(end) = self.should_stop().await {
                return end;
            }
            let Ok(repo) = RepoName::parse(&name) else { continue };
            self.counts.repositories += 1;
            if let Err(e) = self.repository(&registry, &repo).await {
                self.counts.failed += 1;
                self.item(&repo, "read", None, "", "failed", Some(format!("the repository could not be read: {e}")), 0).await;
                if self.counts.failed >= ERROR_BUDGET {
                    return (RunState::Failed, Some(format!("stopped after {ERROR_BUDGET} failures (the error budget)")));
                }
            }
            if self.counts.failed >= ERROR_BUDGET {
                return (RunState::Failed, Some(format!("stopped after {ERROR_BUDGET} failures (the error budget)")));
            }
            let _ = self.state.store.run_progress(self.run.id, &self.counts).await;
        }
        // A stop asked for (or the lease lost) during the last repository ends the run as
        // stopped (interrupted), not done.
        if let Some(end) = self.should_stop().await {
            return end;
        }
        if self.budget_left <= 0 && !self.run.dry_run {
            return (
                RunState::Done,
                Some(format!("the cap of {} deletions per run was reached; a later run continues", self.policy.max_deletions())),
            );
        }
        (RunState::Done, None)
    }

    async fn should_stop(&self) -> Option<(RunState, Option<String>)> {
        if self.lost.load(Ordering::SeqCst) {
            return Some((RunState::Interrupted, Some("this replica lost the run's lease; it stopped".into())));
        }
        if self.state.runs.stopping() {
            return Some((RunState::Interrupted, Some("this replica shut down; the next run picks up what is left".into())));
        }
        match self.state.store.run_stop_requested(self.run.id).await {
            Ok(true) => Some((RunState::Stopped, Some("stopped on request".into()))),
            _ => None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn item(
        &mut self,
        repo: &RepoName,
        action: &str,
        tag: Option<&str>,
        digest: &str,
        outcome: &str,
        reason: Option<String>,
        bytes: u64,
    ) {
        let it = RunItem {
            position: self.position,
            repository: repo.to_string(),
            action: action.to_owned(),
            tag: tag.map(str::to_owned),
            digest: digest.to_owned(),
            outcome: outcome.to_owned(),
            reason,
            bytes: bytes as i64,
            at: OffsetDateTime::now_utc(),
        };
        self.position += 1;
        if let Err(e) = self.state.store.run_items_add(self.run.id, &[it]).await {
            tracing::warn!(error = %e, run = self.run.id, "recording a run item");
        }
    }

    async fn repository(&mut self, registry: &Registry, repo: &RepoName) -> Result<(), Error> {
        let mut inventory = fresh_inventory(registry, repo, &[]).await?;
        let digests: Vec<String> = inventory.manifests.keys().cloned().collect();
        let seen = self.state.store.first_seen(&registry.info.name, repo.as_str(), &digests, OffsetDateTime::now_utc()).await?;
        inventory.apply_first_seen(&seen);
        if self.policy.raw().keep.verified {
            self.state.verifier.annotate(registry, repo, &mut inventory).await;
        }
        let plan = plan(self.policy, &inventory, OffsetDateTime::now_utc());
        self.counts.tags_kept += plan.tags.iter().filter(|t| t.decision.is_keep()).count() as i64;
        self.counts.planned += plan.deletions.len() as i64;
        if self.run.dry_run {
            for unit in plan.deletions.iter().chain(plan.deferred.iter()) {
                let deferred = plan.deferred.contains(unit);
                let (action, tag) = match unit {
                    Deletion::Untag { tag, .. } => ("plan-untag", Some(tag.clone())),
                    Deletion::DeleteManifest { tags, .. } => ("plan-delete", (!tags.is_empty()).then(|| tags.join(", "))),
                };
                let outcome = if deferred { "deferred" } else { "planned" };
                self.item(repo, action, tag.as_deref(), unit.digest(), outcome, Some(unit.describe()), unit.bytes_freed()).await;
                if !deferred {
                    self.counts.tags_deleted += unit.tags().len() as i64;
                    self.counts.bytes_freed += unit.bytes_freed() as i64;
                }
            }
            return Ok(());
        }
        let deleter = Deleter {
            registry,
            store: &self.state.store,
            actor: self.req.actor.clone(),
            request_id: self.req.request_id.clone(),
            run_id: Some(self.run.id),
            known_tags: KnownTags::of(&inventory),
            store_down: Default::default(),
        };
        for unit in plan.deletions.iter().chain(plan.deferred.iter()) {
            if self.budget_left <= 0 {
                self.item(repo, "defer", unit.tags().first().copied(), unit.digest(), "deferred", Some("beyond this run's cap".into()), 0)
                    .await;
                continue;
            }
            if self.should_stop().await.is_some() || self.counts.failed >= ERROR_BUDGET {
                return Ok(());
            }
            self.budget_left -= 1;
            let tags = unit_tags(unit, &inventory);
            let (items, _) = deleter.apply_unit(repo, unit, &tags).await;
            let mut deleted_here = 0usize;
            for it in items {
                match it.outcome.as_str() {
                    "done" => {
                        self.counts.done += 1;
                        deleted_here += it.tag.as_ref().map(|t| t.split(", ").count()).unwrap_or(0);
                    }
                    "skipped" => self.counts.skipped += 1,
                    _ => self.counts.failed += 1,
                }
                self.item(repo, &it.action, it.tag.as_deref(), &it.digest, &it.outcome, it.reason.clone(), 0).await;
            }
            self.counts.tags_deleted += deleted_here as i64;
            self.counts.bytes_freed += unit.bytes_freed() as i64;
            let _ = self.state.store.run_progress(self.run.id, &self.counts).await;
        }
        Ok(())
    }
}

/// The repositories a policy covers: the catalog's (every page), else those Portolan has seen.
pub async fn repositories_in_scope(state: &Services, registry: &Registry, policy: &Policy) -> Result<Vec<String>, Error> {
    let mut names = Vec::new();
    let mut last: Option<String> = None;
    loop {
        match registry.client.catalog_page(1000, last.as_deref()).await {
            Ok(page) => {
                names.extend(page.repositories.iter().filter(|r| policy.applies_to(&registry.info.name, r)).cloned());
                match page.next {
                    Some(n) if names.len() < MAX_REPOSITORIES && Some(&n) != last.as_ref() => last = Some(n),
                    _ => break,
                }
            }
            Err(e) if e.kind() == portolan_oci::ErrorKind::Unsupported => {
                let seen = state.store.seen_repositories(&registry.info.name).await?;
                names.extend(seen.into_iter().filter(|r| policy.applies_to(&registry.info.name, r)));
                break;
            }
            Err(e) => return Err(e.into()),
        }
    }
    names.sort();
    names.dedup();
    names.truncate(MAX_REPOSITORIES);
    Ok(names)
}

/// One look: stale runs, due fires.
pub async fn tick(state: &Services) {
    let now = OffsetDateTime::now_utc();
    // A run whose heartbeat is older than its lease: its replica is gone.
    let stale = now - time::Duration::try_from(stale_after(state)).unwrap_or(time::Duration::minutes(2));
    match state.store.runs_interrupt_stale(stale).await {
        Ok(ids) if !ids.is_empty() => tracing::warn!(?ids, "runs whose replica stopped were marked interrupted"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "checking for interrupted runs"),
    }
    crate::trash::settle_trash(state, stale).await;
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
                        .detail(serde_json::json!({"policy": record.id, "scope": scope_of(&record)}))
                        .reason(format!("{missed} scheduled run(s) before {fire} were missed (no replica was running); ran once now"));
                    let _ = state.store.audit(entry).await;
                }
            }
            Err(Error::Conflict(why)) => {
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
                    scope: scope_of(&record),
                };
                if let Ok(Some(run)) = state.store.run_start(&skipped).await {
                    let _ = state.store.run_finish(run.id, RunState::Skipped, &RunCounts::default(), Some(&why)).await;
                }
            }
            Err(e) => tracing::warn!(policy = %record.name, error = %e, "a scheduled run could not start"),
        }
    }
}

/// Records first-seen dates for every tagged digest of every repository a policy covers (tags
/// resolved with HEAD requests, through the client's caches), once per policy scope per scan.
pub async fn scan(state: &Services) {
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
