//! What a registry supports, and how Portolan goes about things there, cached: the referrers
//! API and deleting manifests (probed per repository without side effects: the probes ask to
//! delete what does not exist), and how tags are deleted — from [`ClientConfig::tag_delete`]
//! and, for [`TagDeleteMode::Auto`], from [`Client::verify_tag_delete`], which writes only in the
//! configured scratch repository, once per client.
//!
//! [`ClientConfig::tag_delete`]: crate::ClientConfig::tag_delete

use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Serialize;

use crate::auth::Scope;
use crate::client::Client;
use crate::config::TagDeleteMode;
use crate::error::{Error, ErrorKind, Result};
use crate::media;
use crate::name::{Reference, RepoName, Tag};
use crate::transport::Request;

/// Whether something is supported, and if not, why (in words for a tooltip).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "support", content = "reason", rename_all = "kebab-case")]
pub enum Support {
    Yes,
    No(String),
    Unknown(String),
}

/// How [`Capabilities::tag_delete`]'s reason starts when tags are deleted by the throwaway path.
pub const THROWAWAY_PATH: &str = "tags are deleted by re-pointing them to a throwaway manifest";

/// Capabilities of one repository on one registry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// `Some(true)` when the OCI 1.1 referrers API answers.
    pub referrers_api: Option<bool>,
    /// Deleting a manifest by digest.
    pub manifest_delete: Option<Support>,
    /// How [`Client::delete_tag`] deletes a tag alone. `Yes`: with the registry's own tag DELETE
    /// (configured [`TagDeleteMode::Always`], or [`TagDeleteMode::Auto`] once verified). `No`:
    /// by the throwaway path (see [`crate::delete`]), the reason saying why — it starts with
    /// [`THROWAWAY_PATH`] when that path works here; the path needs `manifest_delete`, and when
    /// that is `No` the reason says that tags cannot be deleted at all. So tags can be deleted
    /// when `tag_delete` or `manifest_delete` is `Yes`.
    pub tag_delete: Option<Support>,
}

/// An outcome of [`Client::verify_tag_delete`], and when it was reached.
#[derive(Clone, Debug)]
pub(crate) struct Verified {
    outcome: Support,
    at: Instant,
}

/// How long an inconclusive verification (`Unknown`) is trusted before it is tried again;
/// conclusive ones are kept for the client's life.
const INCONCLUSIVE_TTL: Duration = Duration::from_secs(600);

impl Verified {
    fn current(&self) -> bool {
        !matches!(self.outcome, Support::Unknown(_)) || self.at.elapsed() < INCONCLUSIVE_TTL
    }
}

/// Which method [`Client::delete_tag`] uses.
pub(crate) enum TagDeletePlan {
    /// The registry's tag DELETE.
    TagDelete,
    /// The throwaway path, and why.
    Throwaway(String),
}

impl TagDeletePlan {
    /// The plan of [`TagDeleteMode::Never`].
    pub(crate) fn never() -> Self {
        TagDeletePlan::Throwaway("the registry's tag DELETE is not used here: tag_delete is set to never".into())
    }

    /// As reported in [`Capabilities::tag_delete`].
    pub(crate) fn support(&self, manifest_delete: Option<&Support>) -> Support {
        match (self, manifest_delete) {
            (TagDeletePlan::TagDelete, _) => Support::Yes,
            (TagDeletePlan::Throwaway(why), Some(Support::No(reason))) => Support::No(format!(
                "tags cannot be deleted here: {why}, and deleting a tag alone without it needs manifest deletion ({reason})"
            )),
            (TagDeletePlan::Throwaway(why), _) => Support::No(format!("{THROWAWAY_PATH} ({why})")),
        }
    }
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

    /// Probes (once per repository, then cached for ten minutes) the referrers API and manifest
    /// delete support, and says how tags are deleted (see [`Capabilities::tag_delete`]). The
    /// probes delete nothing: they ask to delete what does not exist. The only writes are those
    /// of [`Client::verify_tag_delete`] in the scratch repository, in [`TagDeleteMode::Auto`]
    /// with one configured, once per client.
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
        // How tags are deleted is not probed: a 404 for a made-up tag would prove nothing (see
        // `TagDeleteMode`). It comes from the configuration and the scratch verification.
        caps.tag_delete = None;
        self.inner.capabilities.insert(repo.as_str().to_owned(), caps.clone()).await;
        caps.tag_delete = Some(self.tag_delete_plan().await.support(caps.manifest_delete.as_ref()));
        Ok(caps)
    }

    /// Which method [`Client::delete_tag`] uses, and why: from [`TagDeleteMode`]; in `Auto`,
    /// the registry's tag DELETE only once verified (running the verification on the configured
    /// scratch repository if it has not run yet; without one, only an explicit
    /// [`Client::verify_tag_delete`] counts).
    pub(crate) async fn tag_delete_plan(&self) -> TagDeletePlan {
        let outcome = match self.config().tag_delete {
            TagDeleteMode::Always => return TagDeletePlan::TagDelete,
            TagDeleteMode::Never => return TagDeletePlan::never(),
            TagDeleteMode::Auto => match &self.inner.tag_delete_scratch {
                Some(scratch) => Some(self.verify_tag_delete(scratch).await.unwrap_or_else(|e| Support::Unknown(e.message().to_owned()))),
                None => self.inner.tag_delete_verified.lock().await.as_ref().map(|v| v.outcome.clone()),
            },
        };
        match outcome {
            Some(Support::Yes) => TagDeletePlan::TagDelete,
            Some(Support::No(why)) => TagDeletePlan::Throwaway(why),
            Some(Support::Unknown(why)) => TagDeletePlan::Throwaway(format!("the registry's tag DELETE could not be verified: {why}")),
            None => TagDeletePlan::Throwaway(
                "the registry's tag DELETE is not verified: no scratch repository is configured to verify it in".into(),
            ),
        }
    }

    /// Verifies, on the scratch repository `scratch`, that the registry's tag DELETE deletes the
    /// tag alone: pushes a tiny unique manifest (its config the empty `{}` blob) under two tags,
    /// deletes one tag, and checks that the other still resolves to the manifest and the deleted
    /// one is gone; then cleans up (deletes the manifest by digest, tolerating errors; the `{}`
    /// blob stays until garbage collection).
    ///
    /// `Yes`: verified, so [`TagDeleteMode::Auto`] uses the tag DELETE from now on. `No(why)`: the
    /// registry refuses tag DELETEs, or deletes the whole manifest (its other tags with it), or
    /// keeps the tag. `Unknown(why)`: verification was impossible (no right to push or delete in
    /// `scratch`…). `Err`: the registry failed (unavailable, timeout, rate limited): not cached.
    /// Outcomes are cached per client (concurrent callers share one run): `Yes` and `No` for the
    /// client's life, `Unknown` for ten minutes. Until `Yes`, `Auto` uses the throwaway path.
    pub async fn verify_tag_delete(&self, scratch: &RepoName) -> Result<Support> {
        let mut verified = self.inner.tag_delete_verified.lock().await;
        if let Some(v) = verified.as_ref()
            && v.current()
        {
            return Ok(v.outcome.clone());
        }
        let outcome = self.run_tag_delete_verification(scratch).await?;
        match &outcome {
            Support::Yes => tracing::info!(%scratch, "the registry's tag DELETE deletes the tag alone (verified): used from now on"),
            Support::No(why) | Support::Unknown(why) => tracing::info!(%scratch, "the registry's tag DELETE is not used: {why}"),
        }
        *verified = Some(Verified { outcome: outcome.clone(), at: Instant::now() });
        Ok(outcome)
    }

    async fn run_tag_delete_verification(&self, scratch: &RepoName) -> Result<Support> {
        let nonce = format!("{:016x}", rand::random::<u64>());
        let kept = Tag::parse(&format!("portolan-verify-{nonce}-kept"))?;
        let deleted = Tag::parse(&format!("portolan-verify-{nonce}-deleted"))?;
        let purpose = "Written by Portolan to verify that the registry's tag DELETE deletes one tag alone; deleted right after.";
        let (digest, bytes) = match self.placeholder(scratch, purpose).await {
            Ok(placeholder) => placeholder,
            Err(e) => return inconclusive(e, scratch),
        };
        for tag in [&kept, &deleted] {
            if let Err(e) = self.put_manifest(scratch, &Reference::Tag(tag.clone()), media::OCI_MANIFEST, bytes.clone()).await {
                self.clean_scratch(scratch, &digest, &[&kept, &deleted]).await;
                return inconclusive(e, scratch);
            }
        }
        let outcome = self.judge_tag_delete(scratch, &digest, &kept, &deleted).await;
        self.clean_scratch(scratch, &digest, &[&kept, &deleted]).await;
        outcome
    }

    async fn judge_tag_delete(&self, scratch: &RepoName, digest: &str, kept: &Tag, deleted: &Tag) -> Result<Support> {
        match self.delete_reference(scratch, deleted.as_str()).await {
            Ok(()) => {}
            // distribution: 400 DIGEST_INVALID; others 405 UNSUPPORTED.
            Err(e) if matches!(e.kind(), ErrorKind::Invalid | ErrorKind::Unsupported) => {
                let status = e.status().map(|s| format!(" (HTTP {s})")).unwrap_or_default();
                return Ok(Support::No(format!("this registry refuses tag DELETEs{status}")));
            }
            Err(e) => return inconclusive(e, scratch),
        }
        let kept_now = match self.resolve_fresh(scratch, kept).await {
            Ok(now) => now,
            Err(e) => return inconclusive(e, scratch),
        };
        if kept_now.is_none_or(|r| r.digest != digest) {
            return Ok(Support::No(format!(
                "this registry's tag DELETE deletes the whole manifest, its other tags with it (seen in the scratch repository {scratch})"
            )));
        }
        match self.resolve_fresh(scratch, deleted).await {
            Ok(None) => Ok(Support::Yes),
            Ok(Some(_)) => Ok(Support::No(format!("this registry answers a tag DELETE but keeps the tag (seen in {scratch})"))),
            Err(e) => inconclusive(e, scratch),
        }
    }

    /// Removes the verification's manifest and tags, tolerating errors (logged).
    async fn clean_scratch(&self, scratch: &RepoName, digest: &str, tags: &[&Tag]) {
        if let Err(e) = self.delete_reference(scratch, digest).await
            && e.kind() != ErrorKind::NotFound
        {
            tracing::warn!(%scratch, %digest, "cleaning up after verifying tag deletes: {e}");
        }
        self.inner.content.invalidate(&crate::client::content_key(scratch, digest)).await;
        for tag in tags {
            if let Ok(Some(now)) = self.resolve_fresh(scratch, tag).await
                && now.digest == digest
            {
                // Only the verification's manifest is there: even a tag DELETE that takes the
                // whole manifest takes nothing else.
                if let Err(e) = self.delete_reference(scratch, tag.as_str()).await {
                    tracing::warn!(%scratch, %tag, "cleaning up after verifying tag deletes: {e}");
                }
            }
        }
        self.forget_tags(scratch).await;
    }
}

/// A verification that could not be made: `Unknown(why)`, or the error when the registry failed.
fn inconclusive(e: Error, scratch: &RepoName) -> Result<Support> {
    match e.kind() {
        ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::RateLimited => Err(e),
        ErrorKind::Denied | ErrorKind::Unauthorized => {
            Ok(Support::Unknown(format!("the configured credentials may not push and delete in the scratch repository {scratch}")))
        }
        _ => Ok(Support::Unknown(e.message().to_owned())),
    }
}
