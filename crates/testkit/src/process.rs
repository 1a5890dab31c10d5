//! Child processes that die with their guard, loopback ports for them without a race, and
//! readiness polling.
//!
//! # Ports
//! A server started as another process must be told its port before it binds it. A port
//! found by binding `127.0.0.1:0` and letting go lies in the kernel's ephemeral range, where any
//! outgoing connection (a test's HTTP client, a registry's) may take it before the child binds
//! it. So ports for children come from below that range ([`unused_addr`]: random, checked free
//! by binding, never handed out twice by this process), and [`start_on_free_port`] starts the
//! child again on another port when it reports the port taken anyway (another process may pick
//! the same one). Servers that run in this process keep the listener they bound instead.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener};
use std::ops::Range;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
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

    /// Fails with [`ExitedDuringStart`] when the process has already exited (e.g. a bad config
    /// or a taken port).
    pub fn check_running(&mut self, log: &std::path::Path) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            return Err(ExitedDuringStart::new(&self.name, status, log).into());
        }
        Ok(())
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// How the process ended, if it has (reaped then).
    pub fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        self.child.try_wait()
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

/// A child process that exited before it was ready; the end of its log says why.
#[derive(Debug)]
pub struct ExitedDuringStart {
    pub name: String,
    pub status: ExitStatus,
    /// The last lines of its output.
    pub log_tail: String,
}

impl ExitedDuringStart {
    pub fn new(name: &str, status: ExitStatus, log: &Path) -> Self {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let log_tail = lines[lines.len().saturating_sub(15)..].join("\n");
        Self { name: name.to_owned(), status, log_tail }
    }

    /// Whether it exited because its port was taken, as every server the kit starts says it:
    /// Go's and Rust's "address already in use", Postgres' "Address already in use", Node's
    /// `EADDRINUSE`.
    pub fn port_taken(&self) -> bool {
        let tail = self.log_tail.to_ascii_lowercase();
        tail.contains("address already in use") || tail.contains("eaddrinuse")
    }
}

impl std::fmt::Display for ExitedDuringStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} exited with {} during start:\n{}", self.name, self.status, self.log_tail)
    }
}

impl std::error::Error for ExitedDuringStart {}

/// Whether `error` is a start that failed on a taken port.
pub fn port_taken(error: &anyhow::Error) -> bool {
    error.chain().any(|e| e.downcast_ref::<ExitedDuringStart>().is_some_and(ExitedDuringStart::port_taken))
}

/// Where ports for children come from: below the kernel's ephemeral range
/// (`/proc/sys/net/ipv4/ip_local_port_range`, 32768–60999 by default), from 20000 up.
fn port_range() -> Range<u16> {
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    if ephemeral_start > 21_000 { 20_000..ephemeral_start } else { 1_024..ephemeral_start.max(2_048) }
}

/// Ports this process handed out: none is handed out twice (a child may not have bound it yet).
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A loopback address for a server about to start as another process: a random port outside
/// the ephemeral range, nobody listening on it right now, not handed out before by this process.
/// Also for an address nothing listens on (for refusal tests). To start a server on it, use
/// [`start_on_free_port`], which tries another port if this one is taken meanwhile.
pub fn unused_addr() -> Result<SocketAddr> {
    let range = port_range();
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    if handed_out.len() > usize::from(range.end - range.start) / 2 {
        handed_out.clear();
    }
    for _ in 0..1_000 {
        let port = rand::random_range(range.clone());
        if handed_out.contains(&port) {
            continue;
        }
        // Free if it can be bound (and released: nothing keeps it in TIME_WAIT).
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.insert(port);
            return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
        }
    }
    bail!("no free loopback port in {range:?} after 1,000 tries")
}

/// How many times a server is started before a taken port fails the start.
pub const START_ATTEMPTS: usize = 4;

/// Starts a server that is told its address (`start(addr)` spawns it and waits until it is
/// ready) on a port from [`unused_addr`], and again on another one, up to [`START_ATTEMPTS`]
/// times, while it fails because the port was taken ([`port_taken`]). Any other failure is
/// returned at once. `what` names the server in the error.
pub async fn start_on_free_port<T, F, Fut>(what: &str, mut start: F) -> Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    start_on_free_ports(what, 1, move |addrs| start(addrs[0])).await
}

/// Like [`start_on_free_port`], for servers that must know `n` addresses before any starts
/// (replicas naming each other, a provider told where a server will be): all are chosen again
/// when one was taken.
pub async fn start_on_free_ports<T, F, Fut>(what: &str, n: usize, start: F) -> Result<T>
where
    F: FnMut(Vec<SocketAddr>) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    start_on(what, n, unused_addr, start).await
}

/// [`start_on_free_ports`] with the addresses from `next`.
async fn start_on<T, F, Fut>(what: &str, n: usize, mut next: impl FnMut() -> Result<SocketAddr>, mut start: F) -> Result<T>
where
    F: FnMut(Vec<SocketAddr>) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut tried = Vec::new();
    loop {
        let addrs = (0..n).map(|_| next()).collect::<Result<Vec<_>>>()?;
        tried.push(addrs.iter().map(|a| a.port().to_string()).collect::<Vec<_>>().join("+"));
        match start(addrs).await {
            Ok(started) => return Ok(started),
            Err(e) if port_taken(&e) && tried.len() < START_ATTEMPTS => continue,
            Err(e) if port_taken(&e) => {
                return Err(e.context(format!("starting {what}: the port was taken each time (ports {})", tried.join(", "))));
            }
            Err(e) => return Err(e.context(format!("starting {what} (port {})", tried[tried.len() - 1]))),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::run;

    #[test]
    fn unused_addresses_are_outside_the_ephemeral_range_free_and_never_the_same() {
        let range = port_range();
        let addrs: Vec<SocketAddr> = (0..200).map(|_| unused_addr().unwrap()).collect();
        for a in &addrs {
            assert!(range.contains(&a.port()) && a.port() < 32768, "{a}");
            assert!(TcpListener::bind(a).is_ok(), "{a} is free");
        }
        let distinct: BTreeSet<u16> = addrs.iter().map(|a| a.port()).collect();
        assert_eq!(distinct.len(), addrs.len(), "no port handed out twice");
    }

    /// A real server (docker-registry) told to listen on a port this test holds exits saying
    /// so; the start is tried again on another port, and works there.
    #[test]
    fn a_taken_port_is_detected_and_the_start_tried_again_on_another() {
        run(async {
            let held = TcpListener::bind("127.0.0.1:0").unwrap();
            let taken = held.local_addr().unwrap();
            let dir = tempfile::tempdir().unwrap();
            let storage = dir.path().join("storage");
            let mut offered = vec![taken];
            let mut next = || match offered.pop() {
                Some(a) => Ok(a),
                None => unused_addr(),
            };
            let mut tried = Vec::new();
            let (url, _guard) = start_on("docker-registry", 1, &mut next, |addrs| {
                tried.push(addrs[0]);
                crate::distribution::serve(dir.path(), &storage, addrs[0], "", "http")
            })
            .await
            .unwrap();
            assert_eq!(tried.len(), 2, "{tried:?}");
            assert_eq!(tried[0], taken);
            assert_eq!(url, format!("http://{}", tried[1]));
            assert!(reqwest::get(format!("{url}/v2/")).await.unwrap().status().is_success());
            drop(held);
        })
    }

    #[test]
    fn a_port_taken_every_time_fails_after_a_few_tries_naming_the_ports() {
        run(async {
            let mut calls = 0;
            let error = start_on_free_port("a server", |addr| {
                calls += 1;
                async move {
                    let status = Command::new("false").status()?;
                    let log = tempfile::NamedTempFile::new()?;
                    std::fs::write(log.path(), format!("listen tcp {addr}: bind: address already in use\n"))?;
                    Err::<(), _>(ExitedDuringStart::new("a server", status, log.path()).into())
                }
            })
            .await
            .unwrap_err();
            assert_eq!(calls, START_ATTEMPTS);
            let text = format!("{error:#}");
            assert!(text.contains("starting a server: the port was taken each time"), "{text}");
            assert!(port_taken(&error));
        })
    }

    #[test]
    fn other_failures_are_not_tried_again() {
        run(async {
            let mut calls = 0;
            let error = start_on_free_port("a server", |_| {
                calls += 1;
                async { Err::<(), _>(anyhow::anyhow!("a bad configuration")) }
            })
            .await
            .unwrap_err();
            assert_eq!(calls, 1);
            assert!(format!("{error:#}").contains("a bad configuration"));
        })
    }
}
