//! CNCF distribution (Debian's `docker-registry`, 2.8.x) on a free loopback port.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::process::{ChildGuard, free_addr, wait_http};
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
    _dir: tempfile::TempDir,
}

impl Distribution {
    pub async fn start(auth: DistributionAuth<'_>) -> Result<Self> {
        Self::start_with(auth, None).await
    }

    /// Like [`Distribution::start`], serving HTTPS with `tls` (`http.tls` in its configuration)
    /// when given: the URL is then `https://127.0.0.1:<port>`.
    pub async fn start_with(auth: DistributionAuth<'_>, tls: Option<&ServerCert>) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("portolan-distribution-").tempdir()?;
        let addr = free_addr()?;
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
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  cache:\n    blobdescriptor: inmemory\nhttp:\n  addr: {addr}\n  secret: portolan-testkit\n{tls_yaml}{auth_yaml}",
            storage.display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config)?;
        let log: PathBuf = dir.path().join("registry.log");
        let mut cmd = Command::new("docker-registry");
        cmd.arg("serve").arg(&config_path);
        let mut guard = ChildGuard::spawn("docker-registry", cmd, &log)?;
        let url = format!("{}://{addr}", if tls.is_some() { "https" } else { "http" });
        wait_http(&format!("{url}/v2/"), &mut guard, &log).await.context("starting docker-registry")?;
        Ok(Self { url, guard, _dir: dir })
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

/// ferro-oci-server (crates.io): OCI 1.1 with the referrers API, no auth.
pub struct Ferro {
    pub url: String,
    guard: ChildGuard,
    _dir: tempfile::TempDir,
}

impl Ferro {
    pub async fn start() -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("portolan-ferro-").tempdir()?;
        let addr = free_addr()?;
        let log = dir.path().join("ferro.log");
        let mut cmd = Command::new("ferro-oci-server");
        cmd.env("FERRO_OCI_LISTEN", addr.to_string()).env("FERRO_OCI_STORAGE_DIR", dir.path().join("storage"));
        let mut guard = ChildGuard::spawn("ferro-oci-server", cmd, &log)?;
        let url = format!("http://{addr}");
        wait_http(&format!("{url}/v2/"), &mut guard, &log).await.context("starting ferro-oci-server")?;
        Ok(Self { url, guard, _dir: dir })
    }

    /// Stops the registry now; its storage goes when it is dropped.
    pub fn kill(&mut self) {
        self.guard.kill();
    }
}
