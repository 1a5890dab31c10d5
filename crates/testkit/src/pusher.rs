//! A deliberately small, independent pusher: plain reqwest calls to the distribution API,
//! sharing no code with Portolan's client, so a client bug cannot hide itself in the seed.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Mints a bearer token for a repository (pull, push and delete).
pub type TokenFor = Arc<dyn Fn(&str) -> Result<String> + Send + Sync>;

/// How the pusher authenticates.
#[derive(Clone)]
pub enum PushAuth {
    None,
    Basic(String, String),
    Bearer(TokenFor),
}

/// A content descriptor as pushed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pushed {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

impl Pushed {
    pub fn descriptor(&self) -> Value {
        serde_json::json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size})
    }

    /// `sha256-<hex>`: the fallback referrers tag of this content.
    pub fn fallback_tag(&self) -> String {
        self.digest.replacen(':', "-", 1)
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[derive(Clone)]
pub struct Pusher {
    base: String,
    auth: PushAuth,
    http: reqwest::Client,
}

impl Pusher {
    pub fn new(base: &str, auth: PushAuth) -> Self {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(32)
            // A registry that stops answering fails the seed instead of hanging it.
            .timeout(std::time::Duration::from_secs(60))
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .expect("a reqwest client");
        Self::with_client(base, auth, http)
    }

    /// With a client of the caller's (e.g. one trusting a test CA); give it a timeout.
    pub fn with_client(base: &str, auth: PushAuth, http: reqwest::Client) -> Self {
        Self { base: base.trim_end_matches('/').to_owned(), auth, http }
    }

    /// The registry's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, url: &str, repo: &str) -> Result<reqwest::RequestBuilder> {
        let url = if url.starts_with("http") { url.to_owned() } else { format!("{}{url}", self.base) };
        let req = self.http.request(method, url);
        Ok(match &self.auth {
            PushAuth::None => req,
            PushAuth::Basic(u, p) => req.basic_auth(u, Some(p)),
            PushAuth::Bearer(token) => req.bearer_auth(token(repo)?),
        })
    }

    /// Uploads a blob (monolithic POST + PUT) unless the registry has it already.
    pub async fn blob(&self, repo: &str, media_type: &str, bytes: &[u8]) -> Result<Pushed> {
        let digest = sha256(bytes);
        let pushed = Pushed { media_type: media_type.to_owned(), digest: digest.clone(), size: bytes.len() as u64 };
        let head = self.request(Method::HEAD, &format!("/v2/{repo}/blobs/{digest}"), repo)?.send().await?;
        if head.status() == StatusCode::OK {
            return Ok(pushed);
        }
        let start = self.request(Method::POST, &format!("/v2/{repo}/blobs/uploads/"), repo)?.send().await?;
        if start.status() != StatusCode::ACCEPTED {
            bail!("starting a blob upload to {repo}: {} {}", start.status(), start.text().await.unwrap_or_default());
        }
        let location = start.headers().get("location").and_then(|v| v.to_str().ok()).context("upload without a Location")?.to_owned();
        let location = if location.starts_with('/') { format!("{}{location}", self.base) } else { location };
        let sep = if location.contains('?') { '&' } else { '?' };
        let put = self
            .request(Method::PUT, &format!("{location}{sep}digest={digest}"), repo)?
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await?;
        if put.status() != StatusCode::CREATED {
            bail!("finishing a blob upload to {repo}: {} {}", put.status(), put.text().await.unwrap_or_default());
        }
        Ok(pushed)
    }

    /// PUTs manifest bytes under `reference` (a tag or its digest).
    pub async fn manifest(&self, repo: &str, reference: &str, media_type: &str, bytes: &[u8]) -> Result<Pushed> {
        let put = self
            .request(Method::PUT, &format!("/v2/{repo}/manifests/{reference}"), repo)?
            .header("content-type", media_type)
            .body(bytes.to_vec())
            .send()
            .await?;
        if put.status() != StatusCode::CREATED {
            bail!("putting manifest {repo}:{reference}: {} {}", put.status(), put.text().await.unwrap_or_default());
        }
        Ok(Pushed { media_type: media_type.to_owned(), digest: sha256(bytes), size: bytes.len() as u64 })
    }

    /// PUTs a JSON manifest; `tags` may be empty (pushed by digest).
    pub async fn json_manifest(&self, repo: &str, tags: &[&str], manifest: &Value) -> Result<Pushed> {
        let media_type = manifest["mediaType"].as_str().context("manifest without mediaType")?.to_owned();
        let bytes = serde_json::to_vec_pretty(manifest)?;
        let digest = sha256(&bytes);
        if tags.is_empty() {
            return self.manifest(repo, &digest, &media_type, &bytes).await;
        }
        let mut pushed = None;
        for tag in tags {
            pushed = Some(self.manifest(repo, tag, &media_type, &bytes).await?);
        }
        Ok(pushed.expect("at least one tag"))
    }

    /// DELETEs a manifest by digest (for tests that break things on purpose).
    pub async fn delete_manifest(&self, repo: &str, digest: &str) -> Result<()> {
        let res = self.request(Method::DELETE, &format!("/v2/{repo}/manifests/{digest}"), repo)?.send().await?;
        if res.status() != StatusCode::ACCEPTED {
            bail!("deleting {repo}@{digest}: {} {}", res.status(), res.text().await.unwrap_or_default());
        }
        Ok(())
    }

    /// GETs a manifest's bytes (None when absent), for keeping fallback indexes up to date.
    pub async fn get_manifest(&self, repo: &str, reference: &str) -> Result<Option<Vec<u8>>> {
        let res = self
            .request(Method::GET, &format!("/v2/{repo}/manifests/{reference}"), repo)?
            .header("accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json")
            .send()
            .await?;
        match res.status() {
            StatusCode::OK => Ok(Some(res.bytes().await?.to_vec())),
            StatusCode::NOT_FOUND => Ok(None),
            s => bail!("getting {repo}:{reference}: {s}"),
        }
    }
}
