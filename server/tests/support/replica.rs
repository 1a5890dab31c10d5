//! A Portolan replica for tests: the real binary, started on a port with a configuration,
//! ready once `/readyz` answers, its output in a log file, killed (SIGKILL) when dropped.
//! Used by the replicas and load tests (`#[path]`-included: not a test target of its own).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running replica; killed (SIGKILL) when dropped.
pub struct Replica {
    child: Child,
    pub url: String,
    pub log: PathBuf,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    pub async fn start(config: &Path, port: u16, dir: &Path, name: &str, log_level: &str) -> Replica {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_portolan"))
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .args(["--config", config.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}")])
            .env("PORTOLAN_LOG", log_level)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if client.get(format!("{url}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
                break;
            }
            assert!(Instant::now() < deadline, "{name} did not get ready: {}", std::fs::read_to_string(&log).unwrap_or_default());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Replica { child, url, log }
    }

    #[allow(dead_code)] // the load test never kills one
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
