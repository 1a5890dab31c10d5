//! Keyless signatures from a local sigstore: `crates/testkit/sigstore/keyless.mjs` runs
//! sigstore's own mock Fulcio (with its CT log) and Rekor (npm `@sigstore/mock`, from
//! `end2end/node_modules`) and signs as cosign does. Each [`issue`] is a new instance: its
//! trusted root verifies its signatures and no other instance's.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a keyless signature is pushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// cosign v3: a sigstore bundle (DSSE, in-toto statement) attached as a referrer.
    Bundle,
    /// cosign 2: simple signing with certificate, chain and Rekor bundle annotations.
    Legacy,
}

/// One signature to make.
#[derive(Clone, Debug, Serialize)]
pub struct Request {
    pub digest: String,
    /// `host/repository`, written into the payload.
    pub reference: String,
    /// The certificate identity (its SAN URI).
    pub identity: String,
    /// The OIDC issuer written into the certificate.
    pub issuer: String,
    pub format: Format,
    /// Issued an hour before it is logged: expired when it signed.
    pub expired: bool,
    /// Issued by another CA, which the instance's trusted root does not hold.
    pub untrusted_ca: bool,
}

/// GitHub Actions' OIDC issuer.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

impl Request {
    /// A cosign v3 bundle signed by the GitHub Actions workflow `identity`.
    pub fn github(digest: &str, reference: &str, identity: &str) -> Self {
        Self {
            digest: digest.to_owned(),
            reference: reference.to_owned(),
            identity: identity.to_owned(),
            issuer: GITHUB_ISSUER.to_owned(),
            format: Format::Bundle,
            expired: false,
            untrusted_ca: false,
        }
    }
}

/// A legacy (cosign 2) keyless signature's parts.
#[derive(Clone, Debug, Deserialize)]
pub struct Legacy {
    /// The simple-signing payload (base64).
    pub payload: String,
    /// The signature (base64), for `dev.cosignproject.cosign/signature`.
    pub signature: String,
    pub certificate: String,
    pub chain: String,
    pub rekor_bundle: String,
}

/// A signature made.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signature {
    Bundle(Value),
    Legacy(Legacy),
}

/// An instance's answer: its trusted root and the signatures asked for, in order.
#[derive(Clone, Debug, Deserialize)]
pub struct Issued {
    pub trusted_root: Value,
    pub signatures: Vec<Signature>,
}

impl Issued {
    /// Writes the trusted root to `dir/<name>`, for a policy's `trusted_root_file`.
    pub fn write_root(&self, path: &Path) -> Result<()> {
        std::fs::write(path, serde_json::to_vec_pretty(&self.trusted_root)?).with_context(|| format!("writing {}", path.display()))
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sigstore/keyless.mjs")
}

/// Starts a fresh mock sigstore and makes `requests` with it.
pub async fn issue(requests: &[Request]) -> Result<Issued> {
    let modules = crate::oidc::node_modules();
    if !modules.join("@sigstore/mock/package.json").is_file() {
        bail!("the npm package @sigstore/mock is missing from {}: run scripts/tools.sh node", modules.display());
    }
    let modules = modules.canonicalize().with_context(|| format!("resolving {}", modules.display()))?;
    let mut child = tokio::process::Command::new("node")
        .arg(script())
        .env("PORTOLAN_NODE_MODULES", &modules)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("running node (Node.js 20 or later must be on PATH)")?;
    let input = serde_json::to_vec(&serde_json::json!({ "signatures": requests }))?;
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().context("node's stdin")?;
        stdin.write_all(&input).await?;
    }
    let output =
        tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await.context("the mock sigstore took over 60 s")??;
    if !output.status.success() {
        bail!("node {} failed: {}", script().display(), String::from_utf8_lossy(&output.stderr));
    }
    serde_json::from_slice(&output.stdout).context("reading the mock sigstore's answer")
}
