//! Deleting, safely: a tag alone (never its siblings), a manifest (keeping the fallback
//! referrers index of its subject consistent), and finding which tags a delete would take.
//!
//! # Deleting a tag
//! [`Client::delete_tag`] uses one of two methods, chosen by
//! [`ClientConfig::tag_delete`](crate::ClientConfig::tag_delete) (see [`TagDeleteMode`]) and
//! reported beforehand by [`Capabilities::tag_delete`](crate::Capabilities::tag_delete):
//! - the registry's tag DELETE, only when configured ([`TagDeleteMode::Always`]) or verified on a
//!   scratch repository ([`TagDeleteMode::Auto`], [`Client::verify_tag_delete`]): some
//!   registries delete the whole manifest, every sibling tag with it, when asked to delete a tag;
//! - otherwise the throwaway path, which needs manifest deletion:
//!   1. the tag is read: it points to D (with `expected`, D must be it, or [`ErrorKind::Conflict`]);
//!   2. a unique throwaway manifest T is prepared (its config, the 2-byte `{}` blob, is pushed if
//!      the repository lacks it);
//!   3. right before re-pointing the tag, where it points is asked again: if it moved from D (or
//!      is gone), [`ErrorKind::Conflict`], and nothing was changed;
//!   4. the tag is re-pointed to T (a PUT). If the PUT fails, where the tag points is checked,
//!      since the registry may have applied it all the same: if it points to T, it is put back
//!      to D (and T deleted); the error says what state things were left in;
//!   5. T is deleted by digest, which takes the tag with it and nothing else (T has no other
//!      tag); then the tag is checked: if it still points to T, a tag DELETE follows (harmless
//!      now). If deleting T fails, or the tag still points to T, the tag is put back to D and the
//!      error says so; if the tag is gone though the DELETE failed, the delete happened.
//!
//!   D itself is untouched, and still there for its other tags. The `{}` config blob stays in the
//!   repository until the registry's garbage collection (like the content of any deleted
//!   manifest); when T could not be deleted, the error says it stays, untagged. The one race left:
//!   another client moving the tag in the single round trip between step 3 and step 4 — the
//!   registry API has no conditional PUT to close it.
//!
//! # Deleting a manifest
//! [`Client::delete_manifest`] deletes one manifest by digest: the registry removes every tag on
//! it (see [`Client::tags_for_digest`]); an index's children and a manifest's referrers stay. It
//! reads the manifest first, to find its subject, and deletes nothing when it cannot. When the
//! manifest has a subject and the registry has no referrers API, it is removed from the subject's
//! fallback index (the `sha256-<hex>` tag) by [`Client::remove_from_fallback_index`], which never
//! writes over an index that changed since it was read (another client adding a referrer): it
//! reads again, up to [`FALLBACK_INDEX_ATTEMPTS`] times, then reports a conflict. The same single
//! round trip between the last check and the PUT is left open, for the same reason.
//!
//! Whatever the outcome of a delete, the repository's cached tag list and tag → digest
//! resolutions are forgotten: after an error the registry's state is uncertain.

use bytes::Bytes;
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

use crate::capabilities::{Support, TagDeletePlan};
use crate::client::{Client, content_key};
use crate::config::TagDeleteMode;
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{Manifest, ManifestDoc, sha256_digest};
use crate::media;
use crate::name::{Reference, RepoName, Tag, fallback_tag, parse_digest};

/// How many times [`Client::remove_from_fallback_index`] reads and tries to write a fallback
/// index that other clients keep changing, before it reports [`ErrorKind::Conflict`].
pub const FALLBACK_INDEX_ATTEMPTS: usize = 3;

/// How a tag was deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "method")]
pub enum TagDeleteMethod {
    /// The registry's own tag DELETE.
    TagDelete,
    /// The tag was re-pointed to a unique throwaway manifest, which was then deleted; the
    /// manifest the tag named is untouched (and still there for its other tags). The throwaway's
    /// `{}` config blob stays until the registry's garbage collection.
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
    /// Deletes `tag` and nothing else, by the registry's tag DELETE or the throwaway path (see
    /// [the module](crate::delete)). With `expected`, refuses ([`ErrorKind::Conflict`]) when the
    /// tag no longer points there. Errors say what state the tag was left in.
    pub async fn delete_tag(&self, repo: &RepoName, tag: &Tag, expected: Option<&str>) -> Result<DeletedTag> {
        // Decided before the tag is read: in `Auto` this may run the scratch verification first.
        let plan = self.tag_delete_plan().await;
        let result = self.delete_tag_with(repo, tag, expected, plan).await;
        self.forget_tags(repo).await;
        result
    }

    async fn delete_tag_with(&self, repo: &RepoName, tag: &Tag, expected: Option<&str>, plan: TagDeletePlan) -> Result<DeletedTag> {
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
        if let TagDeletePlan::TagDelete = plan {
            match self.delete_reference(repo, tag.as_str()).await {
                Ok(()) => return Ok(DeletedTag { tag: tag.to_string(), digest: current.digest, method: TagDeleteMethod::TagDelete }),
                // Verified elsewhere, refused here: the throwaway path is safe anywhere.
                Err(e)
                    if self.config().tag_delete == TagDeleteMode::Auto
                        && matches!(e.kind(), ErrorKind::Invalid | ErrorKind::Unsupported) =>
                {
                    tracing::warn!(%repo, %tag, "the registry refused its tag DELETE here, though verified; deleting by a throwaway manifest: {e}");
                }
                Err(e) if matches!(e.kind(), ErrorKind::Invalid | ErrorKind::Unsupported) => {
                    return Err(e.with_note(
                        "the registry refuses tag DELETEs, but tag_delete is set to always for it: set it to auto or never to delete tags by a throwaway manifest",
                    ));
                }
                Err(e) => return Err(e),
            }
        }
        self.delete_tag_by_throwaway(repo, tag, &current).await
    }

    /// The throwaway path (see [the module](crate::delete)), from the manifest the tag points to.
    async fn delete_tag_by_throwaway(&self, repo: &RepoName, tag: &Tag, original: &ManifestDoc) -> Result<DeletedTag> {
        let what = format!("deleting {repo}:{tag}");
        let unchanged = format!("{what} (nothing was changed)");
        // It needs manifest deletion: checked first, so the tag is never left moved.
        let caps = self.capabilities(repo).await.map_err(|e| e.with_context(&unchanged))?;
        if let Some(Support::No(reason)) = &caps.manifest_delete {
            return Err(Error::new(ErrorKind::Unsupported, format!("cannot delete {repo}:{tag}: {reason}; nothing was changed")));
        }
        let purpose = format!("Placeholder written by Portolan to delete the tag {tag} alone; deleted right after.");
        let (throwaway, bytes) = self.placeholder(repo, &purpose).await.map_err(|e| e.with_context(&unchanged))?;
        // Right before re-pointing: the tag must still point where it did.
        match self.resolve_fresh(repo, tag).await.map_err(|e| e.with_context(&unchanged))? {
            Some(now) if now.digest == original.digest => {}
            now => {
                let moved = match now {
                    Some(now) => format!("moved to {}", now.digest),
                    None => "was deleted by someone else".to_owned(),
                };
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!("{repo}:{tag} {moved} while it was being deleted (it pointed to {}); nothing was changed", original.digest),
                ));
            }
        }
        if let Err(e) = self.put_manifest(repo, &Reference::Tag(tag.clone()), media::OCI_MANIFEST, bytes).await {
            self.inner.content.invalidate(&content_key(repo, &throwaway)).await;
            let state = self.after_failed_repoint(repo, tag, original, &throwaway).await;
            return Err(e.with_context(&format!("{what}: re-pointing it to a throwaway manifest")).with_note(&state));
        }
        let deleted = match self.delete_reference(repo, &throwaway).await {
            Ok(()) => self.throwaway_untagged(repo, tag, &throwaway).await,
            Err(e) => Err(e),
        };
        self.inner.content.invalidate(&content_key(repo, &throwaway)).await;
        let done = DeletedTag {
            tag: tag.to_string(),
            digest: original.digest.clone(),
            method: TagDeleteMethod::Throwaway { throwaway: throwaway.clone() },
        };
        let Err(e) = deleted else {
            return Ok(done);
        };
        // Where is the tag now?
        let state = match self.resolve_fresh(repo, tag).await {
            Ok(None) => {
                tracing::info!(%repo, %tag, "the throwaway's delete was answered with an error but applied: {e}");
                return Ok(done);
            }
            Ok(Some(now)) if now.digest == throwaway => match self.put_back(repo, tag, original).await {
                Ok(()) => format!(
                    "{tag} was put back to {}; the throwaway manifest {throwaway} stays, untagged, until it is deleted or garbage-collected",
                    original.digest
                ),
                Err(restore) => format!(
                    "{tag} still points to the throwaway manifest {throwaway}, and putting it back to {} failed too ({restore}): push {} under {tag} again",
                    original.digest, original.digest
                ),
            },
            Ok(Some(now)) if now.digest == original.digest => format!("{tag} points to {} again; nothing was deleted", original.digest),
            Ok(Some(now)) => format!("{tag} now points to {}, set by someone else meanwhile; it was left there", now.digest),
            Err(check) => format!(
                "where {tag} points now is unknown ({check}): if it points to the throwaway manifest {throwaway}, push {} under it again",
                original.digest
            ),
        };
        Err(e.with_context(&format!("{what}: deleting the throwaway manifest {throwaway}")).with_note(&state))
    }

    /// After the throwaway's PUT failed: what the registry did, what was done about it (in words
    /// for the error).
    async fn after_failed_repoint(&self, repo: &RepoName, tag: &Tag, original: &ManifestDoc, throwaway: &str) -> String {
        let d = &original.digest;
        match self.resolve_fresh(repo, tag).await {
            // The registry applied the PUT all the same.
            Ok(Some(now)) if now.digest == throwaway => match self.put_back(repo, tag, original).await {
                Ok(()) => {
                    // Untagged now: deleting it by digest takes nothing else.
                    let removed = self.delete_reference(repo, throwaway).await;
                    match removed {
                        Ok(()) => format!(
                            "the registry applied it all the same: {tag} was put back to {d}, and the throwaway {throwaway} deleted"
                        ),
                        Err(e) => format!(
                            "the registry applied it all the same: {tag} was put back to {d}; the throwaway {throwaway} stays, untagged ({e})"
                        ),
                    }
                }
                Err(restore) => format!(
                    "the registry applied it all the same: {tag} points to the throwaway {throwaway}, and putting it back to {d} failed ({restore}): push {d} under {tag} again"
                ),
            },
            Ok(Some(now)) if now.digest == *d => format!("nothing was changed ({tag} still points to {d})"),
            Ok(Some(now)) => format!("{tag} now points to {}, set by someone else meanwhile; it was left there", now.digest),
            Ok(None) => format!("{tag} no longer exists (deleted by someone else meanwhile)"),
            Err(check) => format!(
                "whether the registry applied it is unknown (checking {tag} failed: {check}): if {tag} points to the throwaway {throwaway}, push {d} under it again"
            ),
        }
    }

    /// After the throwaway's DELETE was answered: nothing may stay tagged with it.
    async fn throwaway_untagged(&self, repo: &RepoName, tag: &Tag, throwaway: &str) -> Result<()> {
        match self.resolve_fresh(repo, tag).await? {
            None => return Ok(()),
            Some(now) if now.digest != throwaway => {
                tracing::info!(%repo, %tag, digest = %now.digest, "the tag was pushed again right after it was deleted");
                return Ok(());
            }
            Some(_) => {}
        }
        // Deleted later, or the registry keeps tags of deleted manifests: the tag names only the
        // throwaway now, so even a tag DELETE that takes the whole manifest takes nothing else.
        if let Err(e) = self.delete_reference(repo, tag.as_str()).await {
            tracing::debug!(%repo, %tag, "deleting the tag left on the throwaway: {e}");
        }
        match self.resolve_fresh(repo, tag).await? {
            Some(now) if now.digest == throwaway => Err(Error::new(
                ErrorKind::BadResponse,
                format!("the registry accepted the DELETE of {repo}@{throwaway}, but {tag} still points to it"),
            )),
            _ => Ok(()),
        }
    }

    async fn put_back(&self, repo: &RepoName, tag: &Tag, original: &ManifestDoc) -> Result<()> {
        self.put_manifest(repo, &Reference::Tag(tag.clone()), &original.media_type, original.bytes.clone()).await.map(|_| ())
    }

    /// A unique placeholder manifest for `repo` (its config, the empty `{}` blob, is pushed
    /// there if missing; the manifest itself is not): its digest and bytes.
    pub(crate) async fn placeholder(&self, repo: &RepoName, purpose: &str) -> Result<(String, Bytes)> {
        let config = Bytes::from_static(b"{}");
        let config_digest = self.put_blob(repo, config.clone()).await?;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": {"mediaType": media::OCI_EMPTY, "digest": config_digest, "size": config.len()},
            "layers": [],
            "annotations": {
                "org.opencontainers.image.description": purpose,
                "dev.portolan.throwaway": format!("{:032x}", rand::random::<u128>()),
            },
        });
        let bytes = Bytes::from(serde_json::to_vec(&manifest).map_err(|e| Error::invalid(e.to_string()))?);
        Ok((sha256_digest(&bytes), bytes))
    }

    async fn invalidate_tag(&self, repo: &RepoName, tag: &Tag) {
        self.inner.tags.invalidate(&(repo.as_str().to_owned(), tag.to_string())).await;
    }

    /// Deletes the one manifest `digest` (and so every tag on it: see [`Client::tags_for_digest`];
    /// an index's children and the manifest's referrers stay). It is read first, to find its
    /// subject: when it cannot be, nothing is deleted. When it has a subject and the registry has
    /// no referrers API, it is also removed from the subject's fallback index. Errors name the
    /// digest and say what was done; deleted or not, the repository's cached tags are forgotten.
    pub async fn delete_manifest(&self, repo: &RepoName, digest: &str) -> Result<DeletedManifest> {
        let parsed = parse_digest(digest)?;
        let result = self.delete_manifest_with(repo, digest, parsed).await;
        // Whatever happened, the registry's state may have changed (a failure can come after the
        // registry applied the delete): forget what is cached about it.
        self.inner.content.invalidate(&content_key(repo, digest)).await;
        self.forget_tags(repo).await;
        result
    }

    async fn delete_manifest_with(&self, repo: &RepoName, digest: &str, parsed: oci_spec::image::Digest) -> Result<DeletedManifest> {
        let what = format!("deleting {repo}@{digest}");
        let doc = self.manifest(repo, &Reference::Digest(parsed)).await.map_err(|e| match e.kind() {
            ErrorKind::NotFound => e.with_context(&what),
            _ => e.with_context(&format!(
                "{what}: it could not be read first (to keep its subject's referrers consistent), so nothing was deleted"
            )),
        })?;
        let subject = subject_of(&doc);
        if let Err(e) = self.delete_reference(repo, digest).await {
            if !matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::BadResponse) {
                return Err(e);
            }
            // The answer was lost, or the registry failed: was it deleted all the same?
            self.inner.content.invalidate(&content_key(repo, digest)).await;
            let reference = Reference::Digest(parse_digest(digest)?);
            match self.resolve(repo, &reference).await {
                Err(check) if check.kind() == ErrorKind::NotFound => {
                    tracing::info!(%repo, %digest, "the DELETE was answered with an error but applied: {e}");
                }
                Ok(_) => return Err(e.with_note("it is still there")),
                Err(check) => return Err(e.with_note(&format!("whether it was deleted is unknown ({check})"))),
            }
        }
        let mut fallback_index_updated = None;
        if let Some(subject) = subject {
            // The fallback index is the client's to keep where there is no referrers API; where
            // that is unknown, removing a deleted referrer from an index is right all the same.
            if !self.has_referrers_api(repo).await.unwrap_or(false) {
                match self.remove_from_fallback_index(repo, &subject, digest).await {
                    Ok(true) => fallback_index_updated = Some(subject),
                    Ok(false) => {}
                    Err(e) => {
                        return Err(e.with_context(&format!(
                            "{repo}@{digest} was deleted, but the fallback referrers index of its subject {subject} still lists it"
                        )));
                    }
                }
            }
        }
        Ok(DeletedManifest { digest: digest.to_owned(), fallback_index_updated })
    }

    /// Removes `referrer` from `subject`'s fallback index; true when the index changed, false
    /// when there is no such index or it does not list `referrer`. The index is read, the entry
    /// removed, and right before the PUT the fallback tag is resolved again: if another client
    /// changed the index meanwhile, it is read again (at most [`FALLBACK_INDEX_ATTEMPTS`] reads
    /// in all), so an index is never overwritten by an older one; [`ErrorKind::Conflict`] when
    /// it kept changing (the index is then left as the other clients wrote it).
    pub async fn remove_from_fallback_index(&self, repo: &RepoName, subject: &str, referrer: &str) -> Result<bool> {
        let tag = Tag::parse(&fallback_tag(&parse_digest(subject)?))?;
        let reference = Reference::Tag(tag.clone());
        for attempt in 1..=FALLBACK_INDEX_ATTEMPTS {
            self.invalidate_tag(repo, &tag).await;
            let doc = match self.manifest(repo, &reference).await {
                Ok(doc) => doc,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e.with_context(&format!("the fallback referrers index of {subject}"))),
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
            // Right before writing: still the index that was read?
            match self.resolve_fresh(repo, &tag).await? {
                Some(now) if now.digest == doc.digest => {}
                Some(now) => {
                    tracing::debug!(%repo, %tag, attempt, read = %doc.digest, now = %now.digest, "the fallback index changed meanwhile; reading it again");
                    continue;
                }
                None => return Ok(false),
            }
            self.put_manifest(repo, &reference, media::OCI_INDEX, bytes)
                .await
                .map_err(|e| e.with_context(&format!("updating the fallback referrers index of {subject}")))?;
            return Ok(true);
        }
        Err(Error::new(
            ErrorKind::Conflict,
            format!(
                "the fallback referrers index {repo}:{tag} changed each of the {FALLBACK_INDEX_ATTEMPTS} times it was read (other clients are adding referrers); it was left as they wrote it, still listing {referrer}"
            ),
        ))
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

/// The subject a manifest refers to: from its parsed form, or its raw JSON when it does not
/// parse (a registry accepts manifests Portolan cannot parse; their subject still counts).
fn subject_of(doc: &ManifestDoc) -> Option<String> {
    if let Ok(manifest) = &doc.parsed {
        return Manifest::subject(manifest).map(|s| s.digest().to_string());
    }
    let value: Value = serde_json::from_slice(&doc.bytes).ok()?;
    value.get("subject")?.get("digest")?.as_str().filter(|d| parse_digest(d).is_ok()).map(str::to_owned)
}
