//! The crawl: for every registry with `crawl = true`, a task that reads the whole registry into
//! the where-used index, pass after pass, within the registry's request budget (see
//! `portolan_search::crawl`). One replica crawls a registry at a time (a lease in the store,
//! renewed while the pass runs); the others wait for their turn. A pass lists the catalog —
//! or, where there is none, the configured repositories, those people opened and those the
//! index knows — forgets repositories gone from a complete catalog, reads each repository
//! incrementally, records how complete the pass was (the storage figures say so), then rests
//! `crawl_interval_minutes`. Stopped by the server's shutdown signal.

use std::time::Duration;

use portolan_oci::ErrorKind;
use portolan_search::crawl::{DEFAULT_PAUSE, PassReport};
use portolan_search::{Budget, Crawl, CrawlError};
use portolan_service::{Registry, Services};
use time::OffsetDateTime;
use tokio::sync::watch;

/// How long a crawl's claim on a registry lasts without renewal (renewed every quarter of it).
pub const LEASE_TTL: Duration = Duration::from_secs(60);
/// Registry requests in flight at once for one crawl (the client's limit applies too).
pub const CONCURRENCY: usize = 8;
/// The wait before the first pass, so a starting server answers pages first.
const FIRST_WAIT: Duration = Duration::from_secs(2);
/// How often a replica without the lease looks again.
const LEASE_RETRY: Duration = Duration::from_secs(60);

/// Runs every registry's crawl until `stop` says so.
pub async fn run(state: Services, stop: watch::Receiver<bool>) {
    let tasks: Vec<_> = state
        .registries
        .iter()
        .filter(|r| state.search.settings(&r.info.name).crawl)
        .map(|r| tokio::spawn(registry_loop(state.clone(), r.clone(), stop.clone())))
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

/// Sleeps `wait`, or less when `stop` turns true; says whether to stop.
async fn rest(wait: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(wait) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

async fn registry_loop(state: Services, registry: Registry, mut stop: watch::Receiver<bool>) {
    let name = registry.info.name.clone();
    let settings = state.search.settings(&name);
    let budget = Budget::per_minute(settings.crawl_requests_per_minute);
    let lease = format!("crawl:{name}");
    tracing::info!(registry = %name, per_minute = settings.crawl_requests_per_minute, "crawl: on");
    if rest(FIRST_WAIT + Duration::from_millis(rand::random_range(0..1000)), &mut stop).await {
        return;
    }
    loop {
        let wait = match state.store.lease_acquire(&lease, &state.replica, LEASE_TTL, OffsetDateTime::now_utc()).await {
            Ok(true) => {
                let report = with_lease(&state, &lease, &mut stop, |pass_stop| pass(&state, &registry, &budget, pass_stop)).await;
                if let Err(e) = state.store.lease_release(&lease, &state.replica).await {
                    tracing::warn!(registry = %name, error = %e, "crawl: releasing the lease");
                }
                if *stop.borrow() {
                    return;
                }
                tracing::info!(registry = %name, done = report.done, failed = report.failed, changed = report.changed, read = report.read, pauses = report.pauses, "crawl: pass finished");
                settings.crawl_interval
            }
            Ok(false) => LEASE_RETRY.min(settings.crawl_interval.max(Duration::from_secs(5))),
            Err(e) => {
                tracing::warn!(registry = %name, error = %e, "crawl: taking the lease");
                LEASE_RETRY
            }
        };
        if rest(wait.max(Duration::from_secs(1)), &mut stop).await {
            return;
        }
    }
}

/// Runs `work` while renewing the lease; `work` is told to stop when the server stops or the
/// lease is lost.
async fn with_lease<F, Fut>(state: &Services, lease: &str, stop: &mut watch::Receiver<bool>, work: F) -> PassReport
where
    F: FnOnce(watch::Receiver<bool>) -> Fut,
    Fut: std::future::Future<Output = PassReport>,
{
    let (tx, rx) = watch::channel(false);
    let renew = {
        let (state, lease, mut stop) = (state.clone(), lease.to_owned(), stop.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(LEASE_TTL / 4) => {}
                    _ = stop.changed() => {
                        let _ = tx.send(true);
                        return;
                    }
                }
                match state.store.lease_renew(&lease, &state.replica, LEASE_TTL, OffsetDateTime::now_utc()).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(%lease, "crawl: the lease was lost; stopping this pass");
                        let _ = tx.send(true);
                        return;
                    }
                    Err(e) => tracing::warn!(%lease, error = %e, "crawl: renewing the lease"),
                }
            }
        })
    };
    let report = work(rx).await;
    renew.abort();
    let _ = stop.has_changed();
    report
}

/// The repositories a pass reads: the whole catalog (forgetting those gone from it), else the
/// configured ones, those people opened and those the index knows. Waits out 429s.
async fn repositories(crawl: &Crawl<'_>, state: &Services, stop: &mut watch::Receiver<bool>) -> Result<(Vec<String>, bool), CrawlError> {
    let registry = crawl.registry;
    let configured = state.search.settings(registry).repositories;
    loop {
        match crawl.catalog().await {
            Ok((names, complete)) => {
                if complete {
                    for gone in state.store.index_repositories(registry).await?.into_iter().filter(|r| names.binary_search(r).is_err()) {
                        if !configured.contains(&gone) {
                            state.store.index_forget(registry, &gone).await?;
                        }
                    }
                }
                return Ok((portolan_service::catalog::with_configured(&names, &configured).into_owned(), complete));
            }
            // No catalog (the client says so for Docker Hub's refusal of anonymous clients too).
            Err(CrawlError::Registry(e)) if e.kind() == ErrorKind::Unsupported => {
                let (names, _) = portolan_service::catalog::listed_without_catalog(&state.store, registry, &configured).await;
                return Ok((names, false));
            }
            Err(e) => match e.pause(DEFAULT_PAUSE) {
                Some(pause) => {
                    tracing::info!(registry, seconds = pause.as_secs(), "crawl: the catalog answered 429; pausing");
                    if rest(pause, stop).await {
                        return Ok((Vec::new(), false));
                    }
                    crawl.budget.drain();
                }
                None => return Err(e),
            },
        }
    }
}

/// One pass over a registry.
pub async fn pass(state: &Services, registry: &Registry, budget: &Budget, mut stop: watch::Receiver<bool>) -> PassReport {
    let crawl = Crawl {
        registry: &registry.info.name,
        verbs: registry.client.as_ref(),
        store: &state.store,
        budget,
        concurrency: CONCURRENCY,
        default_pause: DEFAULT_PAUSE,
    };
    let mut listing = portolan_store::CrawlState {
        registry: registry.info.name.clone(),
        state: "listing".into(),
        pass_started: Some(OffsetDateTime::now_utc()),
        pass_finished: state.store.crawl_state(&registry.info.name).await.ok().flatten().and_then(|s| s.pass_finished),
        repositories: 0,
        done: 0,
        requests: 0,
        paused_until: None,
        message: None,
        updated_at: OffsetDateTime::now_utc(),
    };
    crawl.save(&mut listing).await;
    let started = listing.pass_started.unwrap_or_else(OffsetDateTime::now_utc);
    match repositories(&crawl, state, &mut stop).await {
        Ok((names, catalog)) => {
            let report = crawl.pass(&names, &mut stop).await;
            if !report.stopped
                && let Err(e) = state.store.crawl_pass_complete(&registry.info.name, started, report.failed as u64, catalog).await
            {
                tracing::warn!(registry = %registry.info.name, error = %e, "crawl: recording the pass");
            }
            report
        }
        Err(e) => {
            tracing::warn!(registry = %registry.info.name, error = %e, "crawl: listing the repositories");
            listing.state = "failed".into();
            listing.message = Some(format!("The repositories could not be listed: {e}"));
            crawl.save(&mut listing).await;
            PassReport { failed: 1, ..Default::default() }
        }
    }
}
