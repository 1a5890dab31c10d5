//! CNCF distribution (Debian's `docker-registry`, 2.8.x) and ferro-oci-server, each on a free
//! loopback port (see [`crate::process`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::process::{ChildGuard, start_on_free_port, wait_http};
use crate::tls::ServerCert;
use crate::token::{ISSUER, SERVICE, TokenServer};

/// How the registry authenticates clients.
pub enum DistributionAuth<'a> {
    Anonymous,
    /// htpasswd users (name, password); every authenticated user may do everything.
    Htpasswd(&'a [(&'a str, &'a str)]),
    /// Docker token auth against the given token server.
    Token(&'a TokenServer),
}

/// A running `docker-registry serve`; killed, with its storage removed, when dropped.
pub struct Distribution {
    pub url: String,
    guard: ChildGuard,
    /// Its configuration (`config.yml`), logs and storage (`storage/`).
    dir: tempfile::TempDir,
}

impl Distribution {
    pub async fn start(auth: DistributionAuth<'_>) -> Result<Self> {
        Self::start_with(auth, None).await
    }

    /// Like [`Distribution::start`], serving HTTPS with `tls` (`http.tls` in its configuration)
    /// when given: the URL is then `https://127.0.0.1:<port>`.
    pub async fn start_with(auth: DistributionAuth<'_>, tls: Option<&ServerCert>) -> Result<Self> {
        Self::start_configured(auth, tls, true).await
    }

    /// Anonymous, without the registry's in-memory cache of blob descriptors, so that what
    /// garbage collection removes is gone for the running registry too (with the cache it would
    /// still answer for collected blobs until restarted). For tests of garbage collection.
    pub async fn start_uncached() -> Result<Self> {
        Self::start_configured(DistributionAuth::Anonymous, None, false).await
    }

    async fn start_configured(auth: DistributionAuth<'_>, tls: Option<&ServerCert>, cache: bool) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("portolan-distribution-").tempdir()?;
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage)?;
        let auth_yaml = match auth {
            DistributionAuth::Anonymous => String::new(),
            DistributionAuth::Htpasswd(users) => {
                let path = dir.path().join("htpasswd");
                let mut text = String::new();
                for (user, pass) in users {
                    // Low cost: tests start many registries; the registry accepts any bcrypt cost.
                    let hash = bcrypt::hash(pass, 4)?;
                    text.push_str(&format!("{user}:{hash}\n"));
                }
                std::fs::write(&path, text)?;
                format!("auth:\n  htpasswd:\n    realm: portolan-test\n    path: {}\n", path.display())
            }
            DistributionAuth::Token(server) => {
                let cert = dir.path().join("token-cert.pem");
                std::fs::write(&cert, &server.cert_pem)?;
                format!(
                    "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
                    server.realm(),
                    cert.display()
                )
            }
        };
        let tls_yaml = match tls {
            Some(cert) => {
                let files = cert.write(dir.path())?;
                format!("  tls:\n    certificate: {}\n    key: {}\n", files.cert.display(), files.key.display())
            }
            None => String::new(),
        };
        let rest = format!("{tls_yaml}{auth_yaml}");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let (url, guard) =
            start_on_free_port("docker-registry", |addr| serve_with(dir.path(), &storage, addr, &rest, scheme, cache)).await?;
        Ok(Self { url, guard, dir })
    }

    /// The bytes of every blob the registry stores (the `data` files of its blob store: layers,
    /// configs and manifests alike), as garbage collection frees them.
    pub fn stored_blob_bytes(&self) -> Result<u64> {
        fn walk(dir: &Path, total: &mut u64) -> std::io::Result<()> {
            if !dir.exists() {
                return Ok(());
            }
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    walk(&entry.path(), total)?;
                } else if kind.is_file() && entry.file_name() == "data" {
                    *total += entry.metadata()?.len();
                }
            }
            Ok(())
        }
        let mut total = 0;
        walk(&self.storage().join("docker/registry/v2/blobs"), &mut total)?;
        Ok(total)
    }

    /// Stops the registry now; its storage goes when it is dropped.
    pub fn kill(&mut self) {
        self.guard.kill();
    }

    /// The directory the registry stores everything in (`storage.filesystem.rootdirectory`).
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Runs distribution's own garbage collection, as its documentation says to: the registry
    /// is stopped, `docker-registry garbage-collect <config.yml>` runs on its configuration (so
    /// on its storage), and the registry starts again on the same configuration — the same
    /// address and storage, with empty caches. Blobs no manifest of any repository references
    /// any more are removed. Returns what the collection printed (the blobs it removed are the
    /// lines with "blob eligible for deletion"). With `delete_untagged`, manifests no tag points at
    /// are removed first (`--delete-untagged`).
    pub async fn garbage_collect(&mut self, delete_untagged: bool) -> Result<String> {
        self.guard.kill();
        let config = self.dir.path().join("config.yml");
        let mut collect = tokio::process::Command::new("docker-registry");
        collect.arg("garbage-collect");
        if delete_untagged {
            collect.arg("--delete-untagged");
        }
        let collected = tokio::time::timeout(std::time::Duration::from_secs(120), collect.arg(&config).kill_on_drop(true).output())
            .await
            .context("docker-registry garbage-collect took over 120 s")?
            .context("running docker-registry garbage-collect")?;
        let output = format!("{}{}", String::from_utf8_lossy(&collected.stdout), String::from_utf8_lossy(&collected.stderr));
        if !collected.status.success() {
            bail!("docker-registry garbage-collect exited with {}:\n{output}", collected.status);
        }
        // Same configuration, so the same port: it was ours a moment ago, and ports for children
        // come from outside the kernel's ephemeral range (see crate::process).
        self.guard = spawn_serve(&config, &self.dir.path().join("registry-after-gc.log"), &self.url).await?;
        Ok(output)
    }

    /// `host:port`, as a registry name in references.
    pub fn host(&self) -> &str {
        self.url.trim_start_matches("https://").trim_start_matches("http://")
    }
}

/// Starts `docker-registry serve` on `addr` with the configuration `rest` adds to (TLS, auth),
/// its configuration and log in `dir`; ready once `/v2/` answers.
#[cfg(test)]
pub(crate) async fn serve(dir: &Path, storage: &Path, addr: SocketAddr, rest: &str, scheme: &str) -> Result<(String, ChildGuard)> {
    serve_with(dir, storage, addr, rest, scheme, true).await
}

/// [`serve`], with or without the in-memory cache of blob descriptors.
async fn serve_with(dir: &Path, storage: &Path, addr: SocketAddr, rest: &str, scheme: &str, cache: bool) -> Result<(String, ChildGuard)> {
    let cache = if cache { "  cache:\n    blobdescriptor: inmemory\n" } else { "" };
    let config = format!(
        "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n{cache}http:\n  addr: {addr}\n  secret: portolan-testkit\n{rest}",
        storage.display()
    );
    let config_path = dir.join("config.yml");
    std::fs::write(&config_path, config)?;
    let url = format!("{scheme}://{addr}");
    let guard = spawn_serve(&config_path, &dir.join("registry.log"), &url).await?;
    Ok((url, guard))
}

/// Starts `docker-registry serve <config>` (which listens where `url` says), its output in
/// `log`; ready once `/v2/` answers.
async fn spawn_serve(config: &Path, log: &Path, url: &str) -> Result<ChildGuard> {
    let mut cmd = Command::new("docker-registry");
    cmd.arg("serve").arg(config);
    let mut guard = ChildGuard::spawn("docker-registry", cmd, log)?;
    wait_http(&format!("{url}/v2/"), &mut guard, log).await?;
    Ok(guard)
}

/// ferro-oci-server (crates.io): OCI 1.1 with the referrers API, no auth.
///
/// It keeps every repository's manifests, tags and referrers in one metadata file that it
/// rewrites whole at each push (measured: 1,000 pushes take 36 s, the next 1,000 take 53 s), so
/// content meant to be large is pushed once and copied in that file ([`Ferro::edit_metadata`]).
pub struct Ferro {
    pub url: String,
    guard: ChildGuard,
    storage: PathBuf,
    log: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Ferro {
    /// On a storage of its own, removed when it is dropped.
    pub async fn start() -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("portolan-ferro-").tempdir()?;
        let ferro = Self::start_on(&dir.path().join("storage"), &dir.path().join("ferro.log")).await?;
        Ok(Self { _dir: Some(dir), ..ferro })
    }

    /// On `storage` (kept when it stops: it can be started again on it), its output in `log`.
    pub async fn start_on(storage: &Path, log: &Path) -> Result<Self> {
        let (url, guard) = Self::serve(storage, log).await?;
        Ok(Self { url, guard, storage: storage.to_owned(), log: log.to_owned(), _dir: None })
    }

    /// Stops it, lets `edit` change its metadata file (`{"manifests": {repo: {digest: …}},
    /// "tags": {repo: {tag: digest}}, "referrers": {…}}`), and starts it again on the same
    /// storage — on another port: `url` changes.
    pub async fn edit_metadata(&mut self, edit: impl FnOnce(&mut serde_json::Value) -> Result<()>) -> Result<()> {
        self.guard.kill();
        let path = self.storage.join("metadata.json");
        let mut meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).with_context(|| format!("ferro's metadata file {}", path.display()))?)?;
        edit(&mut meta)?;
        std::fs::write(&path, serde_json::to_vec(&meta)?)?;
        let log = self.log.with_extension("restarted.log");
        (self.url, self.guard) = Self::serve(&self.storage, &log).await?;
        Ok(())
    }

    async fn serve(storage: &Path, log: &Path) -> Result<(String, ChildGuard)> {
        start_on_free_port("ferro-oci-server", |addr| async move {
            let mut cmd = Command::new("ferro-oci-server");
            cmd.env("FERRO_OCI_LISTEN", addr.to_string()).env("FERRO_OCI_STORAGE_DIR", storage);
            let mut guard = ChildGuard::spawn("ferro-oci-server", cmd, log)?;
            let url = format!("http://{addr}");
            wait_http(&format!("{url}/v2/"), &mut guard, log).await?;
            Ok((url, guard))
        })
        .await
    }

    /// Stops the registry now; its own storage goes when it is dropped.
    pub fn kill(&mut self) {
        self.guard.kill();
    }
}
