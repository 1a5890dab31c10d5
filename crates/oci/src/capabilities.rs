//! What a registry supports, probed without side effects and cached per repository:
//! the referrers API, deleting manifests, deleting tags, the catalog.

use reqwest::Method;
use serde::Serialize;

use crate::auth::Scope;
use crate::client::Client;
use crate::error::{ErrorKind, Result};
use crate::name::RepoName;
use crate::transport::Request;

/// Whether something is supported, and if not, why (in words for a tooltip).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "support", content = "reason", rename_all = "kebab-case")]
pub enum Support {
    Yes,
    No(String),
    Unknown(String),
}

impl Support {
    pub fn is_yes(&self) -> bool {
        matches!(self, Support::Yes)
    }
}

/// Capabilities of one repository on one registry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// `Some(true)` when the OCI 1.1 referrers API answers.
    pub referrers_api: Option<bool>,
    /// Deleting a manifest by digest.
    pub manifest_delete: Option<Support>,
    /// Deleting a tag alone (`DELETE /manifests/<tag>`); when not, tags are deleted safely by
    /// re-pointing them to a throwaway manifest.
    pub tag_delete: Option<Support>,
}

/// A digest no registry has: deleting it probes whether deleting is allowed.
const NO_SUCH_DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

impl Client {
    /// Whether the registry serves the OCI 1.1 referrers API for `repo`: probed once (concurrent
    /// callers share the probe), then cached for ten minutes.
    pub async fn has_referrers_api(&self, repo: &RepoName) -> Result<bool> {
        let this = self.clone();
        let name = repo.clone();
        let probe = async move {
            let url = this.v2_url(&format!("{name}/referrers/{NO_SUCH_DIGEST}"));
            let request = Request::new(Method::GET, url, Scope::repository(name.as_str(), &["pull"]), "probing the referrers API")
                .accept(crate::media::OCI_INDEX);
            match this.fetch_raw(&request, 1024 * 1024).await {
                Ok(body) => Ok(serde_json::from_slice::<oci_spec::image::ImageIndex>(&body.bytes).is_ok()),
                Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Unsupported) || matches!(e.status(), Some(400 | 405)) => {
                    Ok(false)
                }
                Err(e) => Err(e),
            }
        };
        self.inner.referrers_api.try_get_with(repo.as_str().to_owned(), probe).await.map_err(|e| (*e).clone())
    }

    /// Probes (once per repository, then cached for ten minutes) the referrers API and delete
    /// support. The probes delete nothing: they ask to delete what does not exist.
    pub async fn capabilities(&self, repo: &RepoName) -> Result<Capabilities> {
        let mut caps = self.inner.capabilities.get(repo.as_str()).await.unwrap_or_default();
        caps.referrers_api = Some(self.has_referrers_api(repo).await?);
        if caps.manifest_delete.is_none() {
            caps.manifest_delete = Some(match self.delete_reference(repo, NO_SUCH_DIGEST).await {
                Ok(()) => Support::Yes,
                Err(e) => match e.kind() {
                    ErrorKind::NotFound => Support::Yes,
                    ErrorKind::Unsupported => Support::No("this registry has deletion disabled".into()),
                    ErrorKind::Denied | ErrorKind::Unauthorized => {
                        Support::No(format!("the configured credentials may not delete in {repo}"))
                    }
                    _ => Support::Unknown(e.message().to_owned()),
                },
            });
        }
        if caps.tag_delete.is_none() {
            let probe = format!("portolan-probe-{:016x}", rand::random::<u64>());
            caps.tag_delete = Some(match self.delete_reference(repo, &probe).await {
                Ok(()) => Support::Yes,
                Err(e) => match e.kind() {
                    ErrorKind::NotFound => Support::Yes,
                    // distribution: 400 DIGEST_INVALID; others 405 UNSUPPORTED.
                    ErrorKind::Invalid | ErrorKind::Unsupported => Support::No("this registry deletes manifests only, not tags".into()),
                    ErrorKind::Denied | ErrorKind::Unauthorized => {
                        Support::No(format!("the configured credentials may not delete in {repo}"))
                    }
                    _ => Support::Unknown(e.message().to_owned()),
                },
            });
        }
        self.inner.capabilities.insert(repo.as_str().to_owned(), caps.clone()).await;
        Ok(caps)
    }
}
