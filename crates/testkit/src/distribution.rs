//! CNCF distribution (Debian's `docker-registry`, 2.8.x) and ferro-oci-server, each on a free
//! loopback port (see [`crate::process`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

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
    /// Its storage's root directory and its configuration file.
    storage: PathBuf,
    config: PathBuf,
    _dir: tempfile::TempDir,
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
        Ok(Self { url, guard, config: dir.path().join("config.yml"), storage, _dir: dir })
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
        walk(&self.storage.join("docker/registry/v2/blobs"), &mut total)?;
        Ok(total)
    }

    /// Runs distribution's garbage collection over the registry's storage (`registry
    /// garbage-collect`, `--delete-untagged` when asked) and returns what it printed. A minimal
    /// helper for the storage tests: run it while nothing is pushed (distribution wants the
    /// registry read-only or stopped), on a registry started with [`Distribution::start_uncached`].
    pub fn garbage_collect_for_storage_tests(&self, delete_untagged: bool) -> Result<String> {
        let mut cmd = Command::new("docker-registry");
        cmd.arg("garbage-collect");
        if delete_untagged {
            cmd.arg("--delete-untagged");
        }
        let out = cmd.arg(&self.config).output()?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            anyhow::bail!("registry garbage-collect failed ({}): {text}", out.status);
        }
        Ok(text)
    }

    /// Stops the registry now; its storage goes when it is dropped.
    pub fn kill(&mut self) {
        self.guard.kill();
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
    let log: PathBuf = dir.join("registry.log");
    let mut cmd = Command::new("docker-registry");
    cmd.arg("serve").arg(&config_path);
    let mut guard = ChildGuard::spawn("docker-registry", cmd, &log)?;
    let url = format!("{scheme}://{addr}");
    wait_http(&format!("{url}/v2/"), &mut guard, &log).await?;
    Ok((url, guard))
}

/// ferro-oci-server (crates.io): OCI 1.1 with the referrers API, no auth.
pub struct Ferro {
    pub url: String,
    guard: ChildGuard,
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
        let (url, guard) = start_on_free_port("ferro-oci-server", |addr| async move {
            let mut cmd = Command::new("ferro-oci-server");
            cmd.env("FERRO_OCI_LISTEN", addr.to_string()).env("FERRO_OCI_STORAGE_DIR", storage);
            let mut guard = ChildGuard::spawn("ferro-oci-server", cmd, log)?;
            let url = format!("http://{addr}");
            wait_http(&format!("{url}/v2/"), &mut guard, log).await?;
            Ok((url, guard))
        })
        .await?;
        Ok(Self { url, guard, _dir: None })
    }

    /// Stops the registry now; its own storage goes when it is dropped.
    pub fn kill(&mut self) {
        self.guard.kill();
    }
}
