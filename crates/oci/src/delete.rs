//! Deleting, safely: a tag alone (never its siblings), a manifest (keeping the fallback
//! referrers index of its subject consistent), and finding which tags a delete would take.

use bytes::Bytes;
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

use crate::capabilities::Support;
use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::Manifest;
use crate::media;
use crate::name::{Reference, RepoName, Tag, fallback_tag, parse_digest};

/// How a tag was deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "method")]
pub enum TagDeleteMethod {
    /// The registry's own tag DELETE.
    TagDelete,
    /// The tag was re-pointed to a unique throwaway manifest, which was then deleted; the
    /// manifest the tag named is untouched (and still there for its other tags).
    Throwaway { throwaway: String },
}

/// What a tag deletion did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeletedTag {
    pub tag: String,
    /// The digest the tag pointed to.
    pub digest: String,
    pub method: TagDeleteMethod,
}

/// What a manifest deletion did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeletedManifest {
    pub digest: String,
    /// The subject whose fallback referrers index was updated, if any.
    pub fallback_index_updated: Option<String>,
}

impl Client {
    /// Deletes `tag` and nothing else. Uses the registry's tag DELETE where it has one; where
    /// it has not (distribution answers 400, others 405), re-points the tag to a unique
    /// throwaway manifest and deletes that. With `expected`, refuses ([`ErrorKind::Conflict`])
    /// when the tag no longer points there.
    pub async fn delete_tag(&self, repo: &RepoName, tag: &Tag, expected: Option<&str>) -> Result<DeletedTag> {
        let reference = Reference::Tag(tag.clone());
        self.invalidate_tag(repo, tag).await;
        let current = self.manifest(repo, &reference).await?;
        if let Some(expected) = expected
            && expected != current.digest
        {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("{repo}:{tag} now points to {}, not {expected}; nothing was deleted", current.digest),
            ));
        }
        let caps = self.inner.capabilities.get(repo.as_str()).await.unwrap_or_default();
        if !matches!(caps.tag_delete, Some(Support::No(_))) {
            match self.delete_reference(repo, tag.as_str()).await {
                Ok(()) => {
                    self.invalidate_repo(repo).await;
                    return Ok(DeletedTag { tag: tag.to_string(), digest: current.digest, method: TagDeleteMethod::TagDelete });
                }
                Err(e) if matches!(e.kind(), ErrorKind::Invalid | ErrorKind::Unsupported) => {
                    let mut caps = caps.clone();
                    caps.tag_delete = Some(Support::No("this registry deletes manifests only, not tags".into()));
                    self.inner.capabilities.insert(repo.as_str().to_owned(), caps).await;
                }
                Err(e) => return Err(e),
            }
        }
        // The safe path needs manifest deletion: check first, so the tag is never left moved.
        let caps = self.capabilities(repo).await?;
        if let Some(Support::No(reason)) = &caps.manifest_delete {
            return Err(Error::new(ErrorKind::Unsupported, format!("cannot delete {repo}:{tag}: {reason}")));
        }
        let throwaway = self.push_throwaway(repo, tag).await?;
        let deleted = self.delete_reference(repo, &throwaway).await;
        self.inner.content.invalidate(&crate::client::content_key(repo, &throwaway)).await;
        if let Err(e) = deleted {
            // Put the tag back where it was, then report.
            let restore = self.put_manifest(repo, &reference, &current.media_type, current.bytes.clone()).await;
            self.invalidate_repo(repo).await;
            let note = if restore.is_ok() { "the tag was restored" } else { "restoring the tag failed too" };
            return Err(e.with_context(&format!("deleting {repo}:{tag} ({note})")));
        }
        self.invalidate_repo(repo).await;
        Ok(DeletedTag { tag: tag.to_string(), digest: current.digest, method: TagDeleteMethod::Throwaway { throwaway } })
    }

    async fn push_throwaway(&self, repo: &RepoName, tag: &Tag) -> Result<String> {
        let config = Bytes::from_static(b"{}");
        let config_digest = self.put_blob(repo, config.clone()).await?;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": {"mediaType": media::OCI_EMPTY, "digest": config_digest, "size": config.len()},
            "layers": [],
            "annotations": {
                "org.opencontainers.image.description": format!("Placeholder written by Portolan to delete the tag {tag} alone; deleted right after."),
                "dev.portolan.throwaway": format!("{:032x}", rand::random::<u128>()),
            },
        });
        let bytes = Bytes::from(serde_json::to_vec(&manifest).map_err(|e| Error::invalid(e.to_string()))?);
        self.put_manifest(repo, &Reference::Tag(tag.clone()), media::OCI_MANIFEST, bytes).await
    }

    async fn invalidate_tag(&self, repo: &RepoName, tag: &Tag) {
        self.inner.tags.invalidate(&(repo.as_str().to_owned(), tag.to_string())).await;
    }

    /// Deletes the manifest `digest` (and so every tag on it: see [`Client::tags_for_digest`]).
    /// When it refers to a subject and the registry has no referrers API, it is also removed
    /// from the subject's fallback index.
    pub async fn delete_manifest(&self, repo: &RepoName, digest: &str) -> Result<DeletedManifest> {
        let parsed = parse_digest(digest)?;
        let doc = self.manifest(repo, &Reference::Digest(parsed)).await?;
        let subject = doc.parsed.as_ref().ok().and_then(Manifest::subject).map(|s| s.digest().to_string());
        self.delete_reference(repo, digest).await?;
        self.inner.content.invalidate(&crate::client::content_key(repo, digest)).await;
        self.invalidate_repo(repo).await;
        let mut fallback_index_updated = None;
        if let Some(subject) = subject {
            let caps = self.capabilities(repo).await.unwrap_or_default();
            if caps.referrers_api != Some(true) && self.remove_from_fallback_index(repo, &subject, digest).await? {
                fallback_index_updated = Some(subject);
            }
        }
        Ok(DeletedManifest { digest: digest.to_owned(), fallback_index_updated })
    }

    /// Removes `referrer` from `subject`'s fallback index; true when the index changed.
    pub async fn remove_from_fallback_index(&self, repo: &RepoName, subject: &str, referrer: &str) -> Result<bool> {
        let tag = Tag::parse(&fallback_tag(&parse_digest(subject)?))?;
        self.invalidate_tag(repo, &tag).await;
        let doc = match self.manifest(repo, &Reference::Tag(tag.clone())).await {
            Ok(doc) => doc,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let mut index: Value =
            serde_json::from_slice(&doc.bytes).map_err(|e| Error::bad_response(format!("the fallback index of {subject}: {e}")))?;
        let Some(manifests) = index.get_mut("manifests").and_then(Value::as_array_mut) else {
            return Ok(false);
        };
        let before = manifests.len();
        manifests.retain(|d| d.get("digest").and_then(Value::as_str) != Some(referrer));
        if manifests.len() == before {
            return Ok(false);
        }
        let bytes = Bytes::from(serde_json::to_vec(&index).map_err(|e| Error::invalid(e.to_string()))?);
        self.put_manifest(repo, &Reference::Tag(tag), media::OCI_INDEX, bytes).await?;
        Ok(true)
    }

    /// The tags of `repo` currently pointing at `digest` (each tag resolved, `concurrency` at a
    /// time, through the tag cache).
    pub async fn tags_for_digest(&self, repo: &RepoName, digest: &str, concurrency: usize) -> Result<Vec<String>> {
        let tags = self.tags(repo).await?;
        let resolved: Vec<Result<Option<String>>> = futures::stream::iter(tags.iter().cloned())
            .map(|tag| async move {
                let Ok(t) = Tag::parse(&tag) else {
                    return Ok(None);
                };
                match self.resolve(repo, &Reference::Tag(t)).await {
                    Ok(r) if r.digest == digest => Ok(Some(tag)),
                    Ok(_) => Ok(None),
                    Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .buffered(concurrency.max(1))
            .collect()
            .await;
        resolved.into_iter().filter_map(Result::transpose).collect()
    }
}
