//! Child processes that die with their guard, free loopback ports, and readiness polling.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A running child process, killed and reaped when dropped (also when a test panics).
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    child: Child,
}

impl ChildGuard {
    /// Spawns `cmd` with its output sent to `log` (a file), so a failing start can be explained.
    pub fn spawn(name: &str, cmd: Command, log: &std::path::Path) -> Result<Self> {
        Self::spawn_with_stdin(name, cmd, log, Stdio::null())
    }

    /// Like [`ChildGuard::spawn`], with the child's standard input a pipe held open as long as the
    /// guard lives: a child that exits when its input closes also stops when this process dies
    /// without running destructors (e.g. killed by a signal).
    pub fn spawn_with_stdin_pipe(name: &str, cmd: Command, log: &std::path::Path) -> Result<Self> {
        Self::spawn_with_stdin(name, cmd, log, Stdio::piped())
    }

    fn spawn_with_stdin(name: &str, mut cmd: Command, log: &std::path::Path, stdin: Stdio) -> Result<Self> {
        let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let child = cmd
            .stdin(stdin)
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .with_context(|| format!("starting {name} ({:?}); is it installed? scripts/tools.sh installs it", cmd.get_program()))?;
        Ok(Self { name: name.to_owned(), child })
    }

    /// Fails when the process has already exited (e.g. a bad config or a taken port).
    pub fn check_running(&mut self, log: &std::path::Path) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: String = text.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
            bail!("{} exited with {status} during start:\n{tail}", self.name);
        }
        Ok(())
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Stops the process now (dropping does it too).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback address with a port nobody is listening on right now.
pub fn free_addr() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a free loopback port")?;
    Ok(listener.local_addr()?)
}

/// Polls `url` until it answers with any HTTP status, checking the process is still alive.
/// (Readiness only: over HTTPS any certificate is accepted here.)
pub async fn wait_http(url: &str, guard: &mut ChildGuard, log: &std::path::Path) -> Result<()> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).danger_accept_invalid_certs(true).build()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        guard.check_running(log)?;
        if client.get(url).send().await.is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{url} did not answer within 20 s (log: {})", log.display());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
