//! The scheduler: every replica runs one, and the database makes them agree. Each tick
//! ([`portolan_service::runs::tick`]) marks interrupted the runs whose replica stopped beating,
//! settles the deletes such a replica left half-recorded, starts the schedule fires that are
//! due (a fire is claimed once in the cluster; a policy's lease keeps its runs from overlapping —
//! a fire that finds its policy still running is recorded as skipped) and says when fires were
//! missed (no replica was up); every [`SCAN_EVERY`] it records first-seen dates of every
//! repository a policy covers ([`portolan_service::runs::scan`]), so an image nobody opened is
//! not "new" when a policy first judges it. This file is only the loop.

use std::time::Duration;

use portolan_service::Services;
use portolan_service::runs::{SCAN_EVERY, scan, tick};

/// How often the scheduler looks.
pub const TICK: Duration = Duration::from_secs(20);

/// Runs until `stop` says so.
pub async fn run(services: Services, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut last_scan: Option<std::time::Instant> = None;
    loop {
        tick(&services).await;
        if last_scan.is_none_or(|t| t.elapsed() >= SCAN_EVERY) {
            scan(&services).await;
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
