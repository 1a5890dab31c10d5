//! A registry in memory, implementing [`RegistryVerbs`] to the spec's behaviour (tags,
//! manifests by digest, blobs, the referrers API, tag and manifest deletes): for in-process
//! router tests that drive every server function without starting a registry. It can also be
//! told to refuse Portolan's credentials, to test that such a refusal never looks like the
//! user's own sign-in.
//!
//! Its tag DELETE deletes the tag alone, so it reports `tag_delete: Yes` and uses it, as a
//! [`crate::Client`] does with a verified registry; told [`TagDeleteMode::Never`]
//! ([`MemoryRegistry::with_tag_delete`]), it reports and uses the throwaway path instead, like a
//! client so configured, so both paths can be driven from the app's tests.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use oci_spec::image::{Descriptor, MediaType};

use crate::capabilities::{Capabilities, Support, TagDeletePlan};
use crate::client::{CatalogPage, Resolved};
use crate::config::{ClientConfig, TagDeleteMode};
use crate::delete::{DeletedManifest, DeletedTag, TagDeleteMethod};
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{self, Manifest, ManifestDoc, sha256_digest};
use crate::media;
use crate::name::{Reference, RepoName, Tag, parse_digest};
use crate::referrers::{Referrer, ReferrerGraph, ReferrerSource, ReferrersMode, walk_graph};
use crate::verbs::RegistryVerbs;

#[derive(Default)]
struct Repo {
    tags: BTreeMap<String, String>,
    /// digest → (media type, bytes)
    manifests: HashMap<String, (String, Bytes)>,
    blobs: HashMap<String, Bytes>,
}

/// A tag list handed out, and the fingerprint of its repository then.
type Listed = (Arc<Vec<String>>, u64);

/// A registry in memory. Cheap to clone; clones share content.
#[derive(Clone)]
pub struct MemoryRegistry {
    repos: Arc<Mutex<BTreeMap<String, Repo>>>,
    refuse: Arc<Mutex<Option<Error>>>,
    config: Arc<ClientConfig>,
    /// The tag list last handed out per repository, with a fingerprint of the repository then
    /// (its tags and manifests): the list is "still cached" while nothing in it changed, as a
    /// client's cache would say (see [`RegistryVerbs::still_cached`]).
    listed: Arc<Mutex<HashMap<String, Listed>>>,
}

impl Default for MemoryRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryRegistry")
    }
}

impl MemoryRegistry {
    pub fn new() -> Self {
        Self {
            repos: Arc::default(),
            refuse: Arc::default(),
            config: Arc::new(ClientConfig::new("http://memory.invalid")),
            listed: Arc::default(),
        }
    }

    /// Deletes tags as a client configured with `mode` would: [`TagDeleteMode::Never`] by the
    /// throwaway path (reported in `capabilities`); `Auto` (the default) and `Always` by the tag
    /// DELETE, which deletes the tag alone here (as good as verified).
    pub fn with_tag_delete(mut self, mode: TagDeleteMode) -> Self {
        Arc::make_mut(&mut self.config).tag_delete = mode;
        self
    }

    fn tag_delete_plan(&self) -> TagDeletePlan {
        match self.config.tag_delete {
            TagDeleteMode::Never => TagDeletePlan::never(),
            TagDeleteMode::Auto | TagDeleteMode::Always => TagDeletePlan::TagDelete,
        }
    }

    /// From now on every verb fails with `error` (None: back to normal) — e.g. the registry
    /// refusing Portolan's credentials.
    pub fn refuse_with(&self, error: Option<Error>) {
        *self.refuse.lock().unwrap_or_else(|e| e.into_inner()) = error;
    }

    fn check(&self) -> Result<()> {
        match &*self.refuse.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Stores a blob; returns its digest.
    pub fn put_blob(&self, repo: &str, bytes: impl Into<Bytes>) -> String {
        let bytes = bytes.into();
        let digest = sha256_digest(&bytes);
        self.repos.lock().unwrap_or_else(|e| e.into_inner()).entry(repo.to_owned()).or_default().blobs.insert(digest.clone(), bytes);
        digest
    }

    /// Stores an image (an OCI manifest with a config and one layer) under `tags`; returns the
    /// manifest's digest. `subject` makes it a referrer of that digest.
    pub fn put_image(&self, repo: &str, tags: &[&str], config: &serde_json::Value, layer: &[u8], subject: Option<(&str, u64)>) -> String {
        self.put_artifact(repo, tags, media::OCI_CONFIG, config, layer, None, subject)
    }

    /// Stores any single-manifest artifact; returns its digest.
    #[allow(clippy::too_many_arguments)]
    pub fn put_artifact(
        &self,
        repo: &str,
        tags: &[&str],
        config_type: &str,
        config: &serde_json::Value,
        layer: &[u8],
        artifact_type: Option<&str>,
        subject: Option<(&str, u64)>,
    ) -> String {
        let config_bytes = serde_json::to_vec(config).unwrap_or_default();
        let config_digest = self.put_blob(repo, config_bytes.clone());
        let layer_digest = self.put_blob(repo, layer.to_vec());
        let mut m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": {"mediaType": config_type, "digest": config_digest, "size": config_bytes.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len()}],
        });
        if let Some(t) = artifact_type {
            m["artifactType"] = t.into();
        }
        if let Some((digest, size)) = subject {
            m["subject"] = serde_json::json!({"mediaType": media::OCI_MANIFEST, "digest": digest, "size": size});
        }
        self.put_raw(repo, tags, media::OCI_MANIFEST, serde_json::to_vec(&m).unwrap_or_default())
    }

    /// Stores an index of `children` (digest, platform `os/arch`) under `tags`.
    pub fn put_index(&self, repo: &str, tags: &[&str], children: &[(&str, &str)]) -> String {
        let sizes: Vec<u64> = {
            let repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
            children
                .iter()
                .map(|(d, _)| repos.get(repo).and_then(|r| r.manifests.get(*d)).map(|(_, b)| b.len() as u64).unwrap_or(0))
                .collect()
        };
        let manifests: Vec<serde_json::Value> = children
            .iter()
            .zip(sizes)
            .map(|((digest, platform), size)| {
                let (os, arch) = platform.split_once('/').unwrap_or(("linux", platform));
                serde_json::json!({"mediaType": media::OCI_MANIFEST, "digest": digest, "size": size, "platform": {"os": os, "architecture": arch}})
            })
            .collect();
        let index = serde_json::json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": manifests});
        self.put_raw(repo, tags, media::OCI_INDEX, serde_json::to_vec(&index).unwrap_or_default())
    }

    /// Stores manifest bytes as they are under `tags`; returns the digest.
    pub fn put_raw(&self, repo: &str, tags: &[&str], media_type: &str, bytes: Vec<u8>) -> String {
        let digest = sha256_digest(&bytes);
        let mut repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        let r = repos.entry(repo.to_owned()).or_default();
        r.manifests.insert(digest.clone(), (media_type.to_owned(), Bytes::from(bytes)));
        for t in tags {
            r.tags.insert((*t).to_owned(), digest.clone());
        }
        digest
    }

    /// Where a tag points now.
    pub fn tag_digest(&self, repo: &str, tag: &str) -> Option<String> {
        self.repos.lock().unwrap_or_else(|e| e.into_inner()).get(repo).and_then(|r| r.tags.get(tag).cloned())
    }

    /// Whether a manifest is stored.
    pub fn has_manifest(&self, repo: &str, digest: &str) -> bool {
        self.repos.lock().unwrap_or_else(|e| e.into_inner()).get(repo).is_some_and(|r| r.manifests.contains_key(digest))
    }

    /// What a repository holds now, as one number (tags, where they point, and manifests).
    fn fingerprint(r: &Repo) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        r.tags.hash(&mut h);
        let mut manifests: Vec<&String> = r.manifests.keys().collect();
        manifests.sort();
        manifests.hash(&mut h);
        h.finish()
    }

    fn not_found(what: String) -> Error {
        Error::new(ErrorKind::NotFound, format!("{what}: not found (HTTP 404)")).with_status(404)
    }

    fn digest_of(&self, repo: &RepoName, reference: &Reference) -> Result<String> {
        let repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        let r = repos.get(repo.as_str()).ok_or_else(|| Self::not_found(format!("repository {repo}")))?;
        match reference {
            Reference::Tag(t) => r.tags.get(t.as_str()).cloned().ok_or_else(|| Self::not_found(format!("manifest {repo}:{t}"))),
            Reference::Digest(d) => {
                let d = d.to_string();
                if r.manifests.contains_key(&d) { Ok(d) } else { Err(Self::not_found(format!("manifest {repo}@{d}"))) }
            }
        }
    }
}

#[async_trait]
impl RegistryVerbs for MemoryRegistry {
    async fn ping(&self) -> Result<()> {
        self.check()
    }

    async fn catalog_page(&self, n: usize, last: Option<&str>) -> Result<CatalogPage> {
        self.check()?;
        let repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        let names: Vec<String> = repos.keys().filter(|k| last.is_none_or(|l| k.as_str() > l)).take(n).cloned().collect();
        let next = (names.len() == n).then(|| names.last().cloned()).flatten();
        Ok(CatalogPage { repositories: names, next })
    }

    async fn tags(&self, repo: &RepoName) -> Result<Arc<Vec<String>>> {
        self.check()?;
        let repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        let r = repos.get(repo.as_str()).ok_or_else(|| Self::not_found(format!("the tags of {repo}")))?;
        let now = Self::fingerprint(r);
        let mut listed = self.listed.lock().unwrap_or_else(|e| e.into_inner());
        match listed.get(repo.as_str()) {
            Some((list, at)) if *at == now => Ok(list.clone()),
            _ => {
                let list = Arc::new(r.tags.keys().cloned().collect());
                listed.insert(repo.to_string(), (Arc::clone(&list), now));
                Ok(list)
            }
        }
    }

    async fn still_cached(&self, repo: &RepoName, list: &Arc<Vec<String>>, resolved: &[(String, String)]) -> bool {
        let repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        let Some(r) = repos.get(repo.as_str()) else { return false };
        let listed = self.listed.lock().unwrap_or_else(|e| e.into_inner());
        listed.get(repo.as_str()).is_some_and(|(kept, at)| Arc::ptr_eq(kept, list) && *at == Self::fingerprint(r))
            && resolved.iter().all(|(tag, digest)| r.tags.get(tag) == Some(digest))
    }

    async fn resolve(&self, repo: &RepoName, reference: &Reference) -> Result<Resolved> {
        let doc = self.manifest(repo, reference).await?;
        Ok(Resolved { digest: doc.digest.clone(), media_type: doc.media_type.clone(), size: doc.size() })
    }

    async fn manifest(&self, repo: &RepoName, reference: &Reference) -> Result<ManifestDoc> {
        self.check()?;
        let digest = self.digest_of(repo, reference)?;
        let repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        let (media_type, bytes) =
            repos.get(repo.as_str()).and_then(|r| r.manifests.get(&digest)).cloned().ok_or_else(|| Self::not_found(digest.clone()))?;
        let (media_type, parsed) = manifest::parse(&bytes, Some(&media_type));
        Ok(ManifestDoc { digest, media_type, bytes, parsed })
    }

    async fn blob(&self, repo: &RepoName, digest: &str, cap: Option<u64>) -> Result<Bytes> {
        self.check()?;
        parse_digest(digest)?;
        let repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        let bytes = repos
            .get(repo.as_str())
            .and_then(|r| r.blobs.get(digest))
            .cloned()
            .ok_or_else(|| Self::not_found(format!("blob {repo}@{digest}")))?;
        if bytes.len() as u64 > cap.unwrap_or(self.config.max_blob_bytes) {
            return Err(Error::new(ErrorKind::TooLarge, format!("blob {repo}@{digest}: larger than the limit")));
        }
        Ok(bytes)
    }

    async fn blob_size(&self, repo: &RepoName, digest: &str) -> Result<Option<u64>> {
        self.check()?;
        parse_digest(digest)?;
        let repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        repos
            .get(repo.as_str())
            .and_then(|r| r.blobs.get(digest))
            .map(|b| Some(b.len() as u64))
            .ok_or_else(|| Self::not_found(format!("blob {repo}@{digest}")))
    }

    async fn referrers(&self, repo: &RepoName, digest: &str, artifact_type: Option<&str>) -> Result<(Vec<Referrer>, ReferrersMode)> {
        self.check()?;
        parse_digest(digest)?;
        let repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        let mut found = Vec::new();
        if let Some(r) = repos.get(repo.as_str()) {
            let mut digests: Vec<&String> = r.manifests.keys().collect();
            digests.sort();
            for d in digests {
                let (media_type, bytes) = &r.manifests[d];
                let (media_type, parsed) = manifest::parse(bytes, Some(media_type));
                let Ok(m) = parsed else { continue };
                if m.subject().map(|s| s.digest().to_string()).as_deref() != Some(digest) {
                    continue;
                }
                let kind = m.artifact_type().or_else(|| match &m {
                    Manifest::Image(i) => Some(i.config().media_type().to_string()),
                    Manifest::Index(_) => None,
                });
                if artifact_type.is_some_and(|w| kind.as_deref() != Some(w)) {
                    continue;
                }
                let mut descriptor = Descriptor::new(MediaType::from(media_type.as_str()), bytes.len() as u64, parse_digest(d)?);
                descriptor.set_artifact_type(kind.map(|k| MediaType::from(k.as_str())));
                found.push(Referrer { descriptor, source: ReferrerSource::Api });
            }
        }
        Ok((found, ReferrersMode::Api))
    }

    async fn referrer_graph(&self, repo: &RepoName, digest: &str, max_nodes: usize) -> Result<ReferrerGraph> {
        walk_graph(self, repo, digest, max_nodes).await
    }

    async fn capabilities(&self, _repo: &RepoName) -> Result<Capabilities> {
        self.check()?;
        let manifest_delete = Support::Yes;
        let tag_delete = self.tag_delete_plan().support(Some(&manifest_delete));
        Ok(Capabilities { referrers_api: Some(true), manifest_delete: Some(manifest_delete), tag_delete: Some(tag_delete) })
    }

    async fn delete_tag(&self, repo: &RepoName, tag: &Tag, expected: Option<&str>) -> Result<DeletedTag> {
        self.check()?;
        let plan = self.tag_delete_plan();
        // One lock for the check and the change: nothing can move the tag in between.
        let mut repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        let r = repos.get_mut(repo.as_str()).ok_or_else(|| Self::not_found(format!("manifest {repo}:{tag}")))?;
        let digest = r.tags.get(tag.as_str()).cloned().ok_or_else(|| Self::not_found(format!("manifest {repo}:{tag}")))?;
        if let Some(expected) = expected
            && expected != digest
        {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("{repo}:{tag} now points to {digest}, not {expected}; nothing was deleted"),
            ));
        }
        let method = match plan {
            TagDeletePlan::TagDelete => {
                r.tags.remove(tag.as_str());
                TagDeleteMethod::TagDelete
            }
            TagDeletePlan::Throwaway(_) => {
                // As on a registry: the `{}` config blob stays (until a garbage collection), the
                // unique throwaway goes by digest with the one tag on it.
                let config = Bytes::from_static(b"{}");
                let config_digest = sha256_digest(&config);
                r.blobs.insert(config_digest.clone(), config);
                let throwaway = serde_json::json!({
                    "schemaVersion": 2,
                    "mediaType": media::OCI_MANIFEST,
                    "config": {"mediaType": media::OCI_EMPTY, "digest": config_digest, "size": 2},
                    "layers": [],
                    "annotations": {"dev.portolan.throwaway": format!("{:032x}", rand::random::<u128>())},
                });
                let bytes = Bytes::from(serde_json::to_vec(&throwaway).unwrap_or_default());
                let throwaway = sha256_digest(&bytes);
                r.manifests.insert(throwaway.clone(), (media::OCI_MANIFEST.to_owned(), bytes));
                r.tags.insert(tag.to_string(), throwaway.clone());
                r.manifests.remove(&throwaway);
                r.tags.retain(|_, d| *d != throwaway);
                TagDeleteMethod::Throwaway { throwaway }
            }
        };
        Ok(DeletedTag { tag: tag.to_string(), digest, method })
    }

    async fn delete_manifest(&self, repo: &RepoName, digest: &str) -> Result<DeletedManifest> {
        self.check()?;
        parse_digest(digest)?;
        let mut repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        let r = repos.get_mut(repo.as_str()).ok_or_else(|| Self::not_found(format!("repository {repo}")))?;
        if r.manifests.remove(digest).is_none() {
            return Err(Self::not_found(format!("manifest {repo}@{digest}")));
        }
        r.tags.retain(|_, d| d != digest);
        Ok(DeletedManifest { digest: digest.to_owned(), fallback_index_updated: None })
    }

    async fn put_manifest(&self, repo: &RepoName, reference: &Reference, media_type: &str, bytes: Bytes) -> Result<String> {
        self.check()?;
        let digest = sha256_digest(&bytes);
        if let Reference::Digest(d) = reference {
            manifest::verify_digest(d.as_ref(), &bytes)?;
        }
        // Like a registry: every blob and child the manifest names must be there.
        let (_, parsed) = manifest::parse(&bytes, Some(media_type));
        {
            let repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
            let r = repos.get(repo.as_str());
            let missing =
                |d: &str, manifest: bool| !r.is_some_and(|r| if manifest { r.manifests.contains_key(d) } else { r.blobs.contains_key(d) });
            match &parsed {
                Ok(Manifest::Image(m)) => {
                    for d in std::iter::once(m.config()).chain(m.layers().iter()) {
                        if missing(d.digest().as_ref(), false) {
                            return Err(
                                Error::new(ErrorKind::Invalid, format!("blob unknown to registry: {}", d.digest())).with_status(400)
                            );
                        }
                    }
                }
                Ok(Manifest::Index(i)) => {
                    for d in i.manifests() {
                        if missing(d.digest().as_ref(), true) {
                            return Err(
                                Error::new(ErrorKind::Invalid, format!("manifest unknown to registry: {}", d.digest())).with_status(400)
                            );
                        }
                    }
                }
                Err(e) => return Err(e.clone()),
            }
        }
        let tags: Vec<&str> = match reference {
            Reference::Tag(t) => vec![t.as_str()],
            Reference::Digest(_) => vec![],
        };
        Ok(self.put_raw(repo.as_str(), &tags, media_type, bytes.to_vec())).map(|d| {
            debug_assert_eq!(d, digest);
            d
        })
    }

    async fn invalidate_repo(&self, _repo: &RepoName) {}

    fn settings(&self) -> &ClientConfig {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use portolan_testkit::runner::run;

    use super::*;

    #[test]
    fn behaves_like_a_registry() {
        run(async {
            let reg = MemoryRegistry::new();
            let img = reg.put_image("a/b", &["1.0", "latest"], &serde_json::json!({"created": "2025-01-01T00:00:00Z"}), b"layer", None);
            let sig = reg.put_artifact(
                "a/b",
                &[],
                "application/vnd.oci.empty.v1+json",
                &serde_json::json!({}),
                b"sig",
                Some("application/vnd.dev.cosign.artifact.sig.v1+json"),
                Some((&img, 10)),
            );
            let repo = RepoName::parse("a/b").unwrap();
            assert_eq!(*reg.tags(&repo).await.unwrap(), vec!["1.0".to_owned(), "latest".to_owned()]);
            let (refs, _) = reg.referrers(&repo, &img, None).await.unwrap();
            assert_eq!(refs.iter().map(Referrer::digest).collect::<Vec<_>>(), vec![sig.clone()]);
            let doc = reg.manifest(&repo, &Reference::Digest(parse_digest(&img).unwrap())).await.unwrap();
            // Re-putting the same bytes gives the same digest; deleting by digest takes every tag.
            reg.delete_manifest(&repo, &img).await.unwrap();
            assert!(reg.tags(&repo).await.unwrap().is_empty());
            let back =
                reg.put_manifest(&repo, &Reference::Digest(parse_digest(&img).unwrap()), &doc.media_type, doc.bytes.clone()).await.unwrap();
            assert_eq!(back, img);
            // A tag delete with a stale expectation deletes nothing.
            reg.put_manifest(&repo, &Reference::Tag(Tag::parse("1.0").unwrap()), &doc.media_type, doc.bytes.clone()).await.unwrap();
            let e = reg.delete_tag(&repo, &Tag::parse("1.0").unwrap(), Some("sha256:other")).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Conflict);
            reg.refuse_with(Some(Error::new(ErrorKind::Denied, "no")));
            assert_eq!(reg.ping().await.unwrap_err().kind(), ErrorKind::Denied);
        })
    }

    #[test]
    fn deletes_tags_as_its_capabilities_say() {
        run(async {
            let repo = RepoName::parse("a/b").unwrap();
            let latest = Tag::parse("latest").unwrap();
            for (mode, throwaway) in [(TagDeleteMode::Auto, false), (TagDeleteMode::Always, false), (TagDeleteMode::Never, true)] {
                let reg = MemoryRegistry::new().with_tag_delete(mode);
                let img = reg.put_image("a/b", &["1.0", "latest"], &serde_json::json!({}), b"layer", None);
                let caps = reg.capabilities(&repo).await.unwrap();
                match &caps.tag_delete {
                    Some(Support::Yes) => assert!(!throwaway, "{mode:?}"),
                    Some(Support::No(why)) => {
                        assert!(throwaway && why.starts_with(crate::THROWAWAY_PATH) && why.contains("never"), "{why}")
                    }
                    other => panic!("{mode:?}: {other:?}"),
                }
                // A stale expectation changes nothing.
                let e = reg.delete_tag(&repo, &latest, Some("sha256:other")).await.unwrap_err();
                assert_eq!(e.kind(), ErrorKind::Conflict);
                assert_eq!(reg.tag_digest("a/b", "latest").as_deref(), Some(img.as_str()));
                let deleted = reg.delete_tag(&repo, &latest, Some(&img)).await.unwrap();
                assert_eq!(deleted.digest, img);
                assert_eq!(matches!(deleted.method, TagDeleteMethod::Throwaway { .. }), throwaway, "{mode:?}");
                if let TagDeleteMethod::Throwaway { throwaway } = &deleted.method {
                    assert!(!reg.has_manifest("a/b", throwaway), "the throwaway is gone");
                }
                // The tag alone: its sibling and the manifest stay.
                assert_eq!(*reg.tags(&repo).await.unwrap(), ["1.0"]);
                assert!(reg.has_manifest("a/b", &img));
                let e = reg.delete_tag(&repo, &latest, None).await.unwrap_err();
                assert_eq!(e.kind(), ErrorKind::NotFound);
            }
        })
    }
}
