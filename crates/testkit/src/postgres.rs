//! A real Postgres (Debian's `postgresql`) for the store's tests and the replica tests: a
//! throwaway cluster in a temporary directory, on a free loopback port, stopped (fast
//! shutdown) and removed when dropped. It can be stopped and started again on the same port
//! and data, to test what Portolan does while its database is away.
//!
//! `initdb` and `postgres` refuse to run as root: as root, they run as the `postgres` user
//! (the Debian package creates it), which then owns the data directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::process::{ExitedDuringStart, start_on_free_port};

/// A running Postgres cluster.
pub struct Postgres {
    /// `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication: no password).
    pub url: String,
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    user: Option<(u32, u32)>,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

/// The newest `/usr/lib/postgresql/<version>/bin`, or `$PORTOLAN_PG_BIN`.
fn bin_dir() -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("PORTOLAN_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("Postgres is not installed (/usr/lib/postgresql is missing): scripts/tools.sh installs it")?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, p): &(u32, PathBuf)| p.join("postgres").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p).context("no Postgres server binaries under /usr/lib/postgresql/*/bin")
}

/// The uid and gid of the `postgres` user, when running as root.
fn postgres_user() -> Result<Option<(u32, u32)>> {
    let me = Command::new("id").arg("-u").output().context("running id")?;
    if String::from_utf8_lossy(&me.stdout).trim() != "0" {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    let line = passwd.lines().find(|l| l.starts_with("postgres:")).context("running as root but there is no postgres user")?;
    let fields: Vec<&str> = line.split(':').collect();
    Ok(Some((fields[2].parse()?, fields[3].parse()?)))
}

fn command(bin: &Path, name: &str, user: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new(bin.join(name));
    #[cfg(unix)]
    if let Some((uid, gid)) = user {
        use std::os::unix::process::CommandExt;
        cmd.uid(uid).gid(gid);
    }
    cmd
}

impl Postgres {
    /// Creates a cluster and starts it.
    pub async fn start() -> Result<Self> {
        let bin = bin_dir()?;
        let user = postgres_user()?;
        let dir = tempfile::Builder::new().prefix("portolan-postgres-").tempdir()?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data)?;
        #[cfg(unix)]
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
            std::os::unix::fs::chown(&data, Some(uid), Some(gid))?;
        }
        let log = dir.path().join("postgres.log");
        let out = command(&bin, "initdb", user)
            .args(["-D"])
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])
            .stdin(Stdio::null())
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        }
        let (port, child) = start_on_free_port("postgres", |addr| {
            let server = Server { bin: &bin, data: &data, log: &log, user, port: addr.port() };
            async move { Ok((server.port, server.start().await?)) }
        })
        .await?;
        Ok(Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            port,
            bin,
            data,
            log,
            user,
            child: Some(child),
            _dir: dir,
        })
    }

    fn server(&self) -> Server<'_> {
        Server { bin: &self.bin, data: &self.data, log: &self.log, user: self.user, port: self.port }
    }

    /// A new, empty database; returns its URL.
    pub fn new_database(&self, name: &str) -> Result<String> {
        let out = Command::new(self.bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", name])
            .output()
            .context("running createdb")?;
        if !out.status.success() {
            bail!("createdb {name} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(format!("postgres://postgres@127.0.0.1:{}/{name}", self.port))
    }

    /// Stops the server (fast shutdown: connections are cut), keeping the data.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and data.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop();
        self.child = Some(self.server().start().await?);
        Ok(())
    }
}

/// What starts the server of a cluster.
struct Server<'a> {
    bin: &'a Path,
    data: &'a Path,
    log: &'a Path,
    user: Option<(u32, u32)>,
    port: u16,
}

impl Server<'_> {
    /// Starts `postgres` and waits until it accepts connections.
    async fn start(&self) -> Result<Child> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log)?;
        #[cfg(unix)]
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(self.log, Some(uid), Some(gid))?;
        }
        // The log of this start alone says why it failed (the file keeps earlier starts').
        let from = std::fs::metadata(self.log).map(|m| m.len()).unwrap_or(0);
        let mut child = command(self.bin, "postgres", self.user)
            .arg("-D")
            .arg(self.data)
            .args(["-p", &self.port.to_string(), "-c", "listen_addresses=127.0.0.1", "-k"])
            .arg(self.data)
            // A test database: durability off, so it starts and works fast.
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting postgres")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait()? {
                let mut exited = ExitedDuringStart::new("postgres", status, self.log);
                let text = std::fs::read(self.log).unwrap_or_default();
                exited.log_tail = String::from_utf8_lossy(text.get(from as usize..).unwrap_or_default()).into_owned();
                return Err(exited.into());
            }
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-t", "1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if ready.is_ok_and(|s| s.success()) {
                return Ok(child);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("postgres did not accept connections within 30 s: {}", std::fs::read_to_string(self.log).unwrap_or_default());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
