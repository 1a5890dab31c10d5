//! Running retention policies: one run at a time per policy in the whole cluster (a lease in
//! the store, renewed while the run works), on a snapshot of the policy taken at start (an edit
//! during a run applies to the next one). Per repository in scope: the repository is read
//! afresh, first-seen dates recorded, the planner decides, and each planned unit goes through
//! the same deletion path as a person's delete — trash first, tags re-checked right before,
//! every item audited — until done, stopped, the cap, or the error budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use portolan_oci::RepoName;
use portolan_retention::{Deletion, Policy, RawPolicy, plan, validate};
use portolan_store::{Actor, NewAudit, NewRun, Outcome, PolicyRecord, RunCounts, RunItem, RunRecord, RunState, Trigger};
use time::OffsetDateTime;

use crate::error::AppError;
use crate::ssr::AppState;
use crate::ssr::deletion::{Deleter, KnownTags, fresh_inventory, unit_tags};

/// How long a run's lease lasts without renewal, by default (`retention_lease_secs`): a replica
/// that dies mid-run loses its claim after this, and another may run the policy.
pub const LEASE_TTL: Duration = Duration::from_secs(60);
/// Renewal (and the run's heartbeat) every this long, by default: a quarter of the lease.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// Items that may fail in one run before it stops.
pub const ERROR_BUDGET: i64 = 10;
/// Repositories one run covers at most.
const MAX_REPOSITORIES: usize = 10_000;

/// How long a run's lease lasts without renewal (the configured `retention_lease_secs`).
pub fn lease_ttl(state: &AppState) -> Duration {
    state.settings.retention_lease
}

/// How often a running run renews its lease and records its heartbeat: a quarter of the lease.
pub fn heartbeat(state: &AppState) -> Duration {
    (lease_ttl(state) / 4).max(Duration::from_millis(250))
}

/// How old a running run's heartbeat is when its replica is taken for gone: the lease and one
/// renewal more.
pub fn stale_after(state: &AppState) -> Duration {
    lease_ttl(state) + heartbeat(state)
}

/// The lease name of a policy's runs.
pub fn lease_name(policy: i64) -> String {
    format!("policy:{policy}")
}

/// The validated policy of a stored record.
pub fn policy_of(state: &AppState, record: &PolicyRecord) -> Result<Policy, AppError> {
    let raw: RawPolicy =
        serde_json::from_str(&record.body).map_err(|e| AppError::BadRequest(format!("the stored policy is not valid JSON: {e}")))?;
    let names: Vec<&str> = state.registries.iter().map(|r| r.info.name.as_str()).collect();
    validate(raw, &names).map_err(|errors| AppError::BadRequest(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))
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
/// The runs this replica is working on: shutdown asks them to stop (each ends as interrupted at
/// its next repository and hands back its lease at once, so another replica need not wait for
/// the lease to run out), and waits for them.
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

pub async fn start(state: &AppState, owner: &str, req: RunRequest) -> Result<RunRecord, AppError> {
    if state.runs.stopping() {
        return Err(AppError::Unavailable("this replica is shutting down; try again on another".into()));
    }
    let policy = policy_of(state, &req.record)?;
    let lease = lease_name(req.record.id);
    // The claim is this run's own, not the replica's: a lease is re-acquired by its holder, so
    // a replica claiming as itself would start a second run beside its own running one.
    let claim = format!("{owner}#{:x}", portolan_store::new_id());
    if !state.store.lease_acquire(&lease, &claim, lease_ttl(state), OffsetDateTime::now_utc()).await? {
        let holder = state.store.lease_holder(&lease, OffsetDateTime::now_utc()).await?.map(|h| h.0).unwrap_or_default();
        let holder = holder.split('#').next().unwrap_or_default();
        return Err(AppError::Conflict(format!(
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
    };
    let run = match state.store.run_start(&new).await {
        Ok(Some(run)) => run,
        Ok(None) => {
            state.store.lease_release(&lease, &claim).await?;
            return Err(AppError::Conflict("another replica took this schedule fire".into()));
        }
        Err(e) => {
            let _ = state.store.lease_release(&lease, &claim).await;
            return Err(e.into());
        }
    };
    let entry = NewAudit::new(req.actor.clone(), if req.dry_run { "policy-dry-run" } else { "policy-run" }, Outcome::Done)
        .at(policy.registry(), None)
        .reason(format!("run {} of {:?} (version {}) started ({})", run.id, req.record.name, req.record.version, req.trigger.as_str()))
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
async fn execute(state: &AppState, owner: &str, run: RunRecord, policy: Policy, req: RunRequest) -> Result<(), AppError> {
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
        .request(req.request_id.as_deref());
    state.store.audit(entry).await?;
    Ok(())
}

struct Work<'a> {
    state: &'a AppState,
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

    async fn repository(&mut self, registry: &crate::ssr::Registry, repo: &RepoName) -> Result<(), AppError> {
        let mut inventory = fresh_inventory(registry, repo, &[]).await?;
        let digests: Vec<String> = inventory.manifests.keys().cloned().collect();
        let seen = self.state.store.first_seen(&registry.info.name, repo.as_str(), &digests, OffsetDateTime::now_utc()).await?;
        inventory.apply_first_seen(&seen);
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
pub async fn repositories_in_scope(state: &AppState, registry: &crate::ssr::Registry, policy: &Policy) -> Result<Vec<String>, AppError> {
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

/// Repositories read for what-if previews, kept a few minutes so an editor's every keystroke
/// replans from memory (the planner takes milliseconds; reading a repository takes seconds).
pub struct Inventories {
    cache: moka::future::Cache<(String, String), Arc<portolan_inventory::Inventory>>,
}

/// What the kept inventories may hold together, in tags, manifests and references (about
/// 100 bytes each): a few large repositories or many small ones, not 500 of the largest.
const INVENTORIES_WEIGHT: u64 = 1_000_000;

impl Default for Inventories {
    fn default() -> Self {
        let weigh = |_: &(String, String), inv: &Arc<portolan_inventory::Inventory>| -> u32 {
            u32::try_from(inv.tags.len() + inv.manifests.len() + inv.references()).unwrap_or(u32::MAX)
        };
        Self {
            cache: moka::future::Cache::builder()
                .max_capacity(INVENTORIES_WEIGHT)
                .weigher(weigh)
                .time_to_live(Duration::from_secs(300))
                .build(),
        }
    }
}

impl Inventories {
    /// The inventory of `repo` (read once for concurrent askers), first-seen dates applied.
    pub async fn get(
        &self,
        state: &AppState,
        registry: &crate::ssr::Registry,
        repo: &RepoName,
    ) -> Result<Arc<portolan_inventory::Inventory>, AppError> {
        let key = (registry.info.name.clone(), repo.to_string());
        let (state, registry, repo) = (state.clone(), registry.clone(), repo.clone());
        self.cache
            .try_get_with(key, async move {
                let client: &dyn portolan_oci::RegistryVerbs = registry.client.as_ref();
                let mut inv =
                    portolan_inventory::read::read_inventory(client, &registry.info.name, &repo, 16).await.map_err(AppError::from)?;
                let digests: Vec<String> = inv.manifests.keys().cloned().collect();
                let seen = state.store.first_seen(&registry.info.name, repo.as_str(), &digests, OffsetDateTime::now_utc()).await?;
                inv.apply_first_seen(&seen);
                Ok::<_, AppError>(Arc::new(inv))
            })
            .await
            .map_err(|e| (*e).clone())
    }

    /// Forgets a repository (after a run changed it).
    pub async fn forget(&self, registry: &str, repo: &str) {
        self.cache.invalidate(&(registry.to_owned(), repo.to_owned())).await;
    }
}

/// Repositories a what-if preview reads at most.
pub const WHAT_IF_REPOSITORIES: usize = 50;
/// Tags a what-if preview lists at most.
pub const WHAT_IF_TAGS: usize = 400;

/// What `policy` would do now, and how that differs from `saved`, from cached repositories.
/// The plan of `policy` over `inventory` and, when given, of `saved` — side by side on blocking
/// threads: each is a pass over every tag of the repository, and the runtime's workers serve
/// other requests meanwhile.
async fn plans(
    policy: &Policy,
    saved: Option<&Policy>,
    inventory: Arc<portolan_inventory::Inventory>,
    now: OffsetDateTime,
) -> Result<(portolan_retention::Plan, Option<portolan_retention::Plan>), AppError> {
    let failed = |e: tokio::task::JoinError| AppError::Internal(format!("planning stopped: {e}"));
    let (edited, inv) = (policy.clone(), inventory.clone());
    let edited = tokio::task::spawn_blocking(move || plan(&edited, &inv, now));
    let before = match saved {
        Some(saved) => {
            let saved = saved.clone();
            Some(tokio::task::spawn_blocking(move || plan(&saved, &inventory, now)).await.map_err(failed)?)
        }
        None => None,
    };
    Ok((edited.await.map_err(failed)?, before))
}

pub async fn what_if(state: &AppState, policy: &Policy, saved: Option<&Policy>) -> Result<crate::model::WhatIf, AppError> {
    use crate::model::{WhatIf, WhatIfTag};
    let started = std::time::Instant::now();
    let registry = state.registry(policy.registry())?.clone();
    let mut repositories = repositories_in_scope(state, &registry, policy).await?;
    let mut out = WhatIf::default();
    if repositories.len() > WHAT_IF_REPOSITORIES {
        out.notes.push(format!(
            "the policy covers {} repositories; this preview reads the first {WHAT_IF_REPOSITORIES} (a run covers them all)",
            repositories.len()
        ));
        repositories.truncate(WHAT_IF_REPOSITORIES);
    }
    out.repositories = repositories.len();
    let now = OffsetDateTime::now_utc();
    let mut deleted_rows = Vec::new();
    let mut kept_rows = Vec::new();
    let mut total = 0;
    for name in repositories {
        let Ok(repo) = RepoName::parse(&name) else { continue };
        let inventory = match state.inventories.get(state, &registry, &repo).await {
            Ok(i) => i,
            Err(e) => {
                out.notes.push(format!("{name}: could not be read ({e})"));
                continue;
            }
        };
        let (p, before) = plans(policy, saved, inventory, now).await?;
        if let Some(before) = before {
            let d = portolan_retention::diff(&before, &p);
            out.newly_deleted.extend(d.newly_deleted.into_iter().map(|t| format!("{name}:{t}")));
            out.no_longer_deleted.extend(d.no_longer_deleted.into_iter().map(|t| format!("{name}:{t}")));
        }
        out.tags_kept += p.summary.tags_kept;
        out.tags_deleted += p.summary.tags_deleted;
        out.tags_deferred += p.summary.tags_deferred;
        out.manifests_deleted += p.summary.manifests_deleted;
        out.units += p.deletions.len();
        out.bytes_freed += p.summary.bytes_freed;
        out.notes.extend(p.notes.iter().map(|n| format!("{name}: {n}")));
        for t in &p.tags {
            // Only the rows that can be shown are made (deleted ones first, then kept ones).
            let rows = if t.decision.is_keep() { &mut kept_rows } else { &mut deleted_rows };
            total += 1;
            if rows.len() >= WHAT_IF_TAGS {
                continue;
            }
            rows.push(WhatIfTag {
                repository: name.clone(),
                tag: t.tag.clone(),
                digest: t.digest.clone(),
                decision: match t.decision {
                    portolan_retention::Decision::Keep(_) => "keep",
                    portolan_retention::Decision::Delete(_) => "delete",
                    portolan_retention::Decision::Deferred { .. } => "deferred",
                }
                .into(),
                reason: t.decision.describe(),
                age: t.age.map(|a| a.at.unix_timestamp()),
                age_source: t.age.map(|a| a.source.label().to_owned()),
            });
        }
    }
    out.tags = deleted_rows.into_iter().chain(kept_rows).take(WHAT_IF_TAGS).collect();
    out.truncated = total > out.tags.len();
    out.newly_deleted.truncate(WHAT_IF_TAGS);
    out.no_longer_deleted.truncate(WHAT_IF_TAGS);
    out.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(out)
}
