//! A Portolan replica for tests: the real binary, started on a port with a configuration,
//! ready once `/readyz` answers, its output in a log file, killed (SIGKILL) when dropped.
//! Used by the replicas and load tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use portolan_testkit::process::ChildGuard;

/// A running replica; killed (SIGKILL) when dropped.
pub struct Replica {
    guard: ChildGuard,
    pub url: String,
    pub log: PathBuf,
}

impl Replica {
    /// Starts the binary on `addr`; fails if it exits first (see
    /// `portolan_testkit::process::start_on_free_ports` for a taken port).
    pub async fn start(config: &Path, addr: SocketAddr, dir: &Path, name: &str, log_level: &str) -> Result<Replica> {
        let log = dir.join(format!("{name}.log"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portolan"));
        cmd.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .args(["--config", config.to_str().unwrap(), "--listen", &addr.to_string()])
            .env("PORTOLAN_LOG", log_level);
        let mut guard = ChildGuard::spawn(&format!("portolan ({name})"), cmd, &log)?;
        let url = format!("http://{addr}");
        let client = portolan_testkit::runner::http_builder().timeout(Duration::from_secs(2)).build()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            guard.check_running(&log)?;
            if client.get(format!("{url}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
                break;
            }
            if Instant::now() > deadline {
                bail!("{name} did not get ready: {}", std::fs::read_to_string(&log).unwrap_or_default());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Replica { guard, url, log })
    }

    pub fn kill(&mut self) {
        self.guard.kill();
    }
}
