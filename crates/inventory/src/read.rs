//! Reading an inventory from a registry, through [`RegistryVerbs`]: one tag ([`read_tag`], what
//! a row of the tag page needs) or a whole repository ([`read_inventory`], what the retention
//! planner needs). Both read manifests by digest after resolving tags with a HEAD, so the
//! client's digest cache answers repeated reads and Docker Hub's pull quota (counted on manifest
//! GETs by tag) is spared.

use std::collections::{BTreeMap, HashSet};

use futures::StreamExt;
use portolan_oci::spec::Descriptor;
use portolan_oci::{ArtifactKind, Manifest, Reference, RegistryVerbs, RepoName, Tag};
use serde_json::Value;
use time::OffsetDateTime;

use crate::model::{BlobRef, DateSource, Dated, Inventory, ManifestInfo, TagInfo, Unreadable, semver_of};

/// An index's children read at most (more are listed, not read).
pub const MAX_INDEX_CHILDREN: usize = 256;
/// Children of one index read at once.
const CHILD_CONCURRENCY: usize = 8;
/// Largest image config read for its date and platform.
const CONFIG_CAP: u64 = 4 * 1024 * 1024;
/// Referrers followed per subject, at most.
const MAX_REFERRERS: usize = 1_000;
/// Manifests one repository's inventory reaches, at most.
pub const MAX_MANIFESTS: usize = 200_000;
/// References (blobs, index children and referrers) one inventory holds, at most: a registry
/// serving manifests that list tens of thousands of layers or children each is stopped here,
/// not when memory is gone (each reference is a digest, about 100 bytes held).
pub const MAX_REFERENCES: usize = 2_000_000;
/// References one artifact (a manifest, or an index with its platform manifests) holds, at most.
pub const MAX_ARTIFACT_REFERENCES: usize = 100_000;

/// An RFC 3339 date worth using: parsed, and after 1970 (tools write the epoch for "unknown").
pub fn parse_date(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339).ok().filter(|t| t.unix_timestamp() > 0)
}

/// `os/arch[/variant]` of an index entry.
pub fn platform_name(d: &Descriptor) -> Option<String> {
    let p = d.platform().as_ref()?;
    let os = p.os().to_string();
    let arch = p.architecture().to_string();
    Some(match p.variant() {
        Some(v) if !v.is_empty() => format!("{os}/{arch}/{v}"),
        _ => format!("{os}/{arch}"),
    })
}

/// Whether an index entry is a buildx attestation manifest rather than a platform image.
pub fn is_attestation_entry(d: &Descriptor) -> bool {
    d.annotations().as_ref().and_then(|a| a.get("vnd.docker.reference.type")).is_some_and(|t| t == "attestation-manifest")
        || platform_name(d).as_deref() == Some("unknown/unknown")
}

/// `os/arch[/variant]` from an image config.
pub fn platform_of(config: &Value) -> Option<String> {
    let text = |k: &str| config.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let (os, arch) = (text("os")?, text("architecture")?);
    Some(match text("variant") {
        Some(v) => format!("{os}/{arch}/{v}"),
        None => format!("{os}/{arch}"),
    })
}

/// Whether a config media type is an image config (OCI or Docker).
pub fn is_image_config(media_type: &str) -> bool {
    matches!(media_type, portolan_oci::media::OCI_CONFIG | portolan_oci::media::DOCKER_CONFIG)
}

/// A manifest with, for an index, the children read to size and date it.
#[derive(Clone, Debug, PartialEq)]
pub struct Artifact {
    pub manifest: ManifestInfo,
    /// Platform manifests of an index (attestation manifests included), read or marked missing.
    pub children: Vec<ManifestInfo>,
}

impl Artifact {
    /// Compressed size as people think of it: an image's manifest, config and layers; an
    /// index's largest platform (what one pull downloads at most).
    pub fn size(&self) -> Option<u64> {
        match self.manifest.kind {
            ArtifactKind::Index => {
                self.children.iter().filter(|c| !c.missing && c.kind != ArtifactKind::BuildAttestation).map(ManifestInfo::own_size).max()
            }
            _ => Some(self.manifest.own_size()),
        }
    }
}

/// What one tag is: where it points, the artifact there, and how many referrers it has.
#[derive(Clone, Debug, PartialEq)]
pub struct TagRead {
    pub tag: TagInfo,
    pub artifact: Artifact,
    pub referrers: Vec<String>,
}

/// Reads a manifest by digest: its kind, size, blobs, subject, date (config `created`, else the
/// annotation) and platform. Does not read an index's children (see [`read_artifact`]).
pub async fn read_manifest(verbs: &dyn RegistryVerbs, repo: &RepoName, digest: &str) -> portolan_oci::Result<ManifestInfo> {
    let parsed = portolan_oci::name::parse_digest(digest)?;
    let doc = verbs.manifest(repo, &Reference::Digest(parsed)).await?;
    let manifest = doc.manifest()?;
    let kind = manifest.kind(&doc.media_type);
    let annotated = manifest.annotations().and_then(|a| a.get("org.opencontainers.image.created")).and_then(|c| parse_date(c));
    let mut info = ManifestInfo {
        digest: doc.digest.clone(),
        media_type: doc.media_type.clone(),
        kind,
        manifest_size: doc.size(),
        blobs: Vec::new(),
        children: Vec::new(),
        subject: manifest.subject().map(|s| s.digest().to_string()),
        created: annotated.map(|at| Dated { at, source: DateSource::Annotation }),
        first_seen: None,
        platforms: Vec::new(),
        missing: false,
    };
    match manifest {
        Manifest::Image(m) => {
            info.blobs = std::iter::once(m.config())
                .chain(m.layers().iter())
                .map(|d| BlobRef { digest: d.digest().to_string(), size: d.size() })
                .collect();
            if is_image_config(m.config().media_type().as_ref())
                && let Ok(bytes) =
                    verbs.blob(repo, m.config().digest().as_ref(), Some(CONFIG_CAP.min(verbs.settings().max_blob_bytes))).await
                && let Ok(config) = serde_json::from_slice::<Value>(&bytes)
            {
                if let Some(at) = config.get("created").and_then(Value::as_str).and_then(parse_date) {
                    info.created = Some(Dated { at, source: DateSource::Config });
                }
                if kind == ArtifactKind::Image {
                    info.platforms.extend(platform_of(&config));
                }
            }
        }
        Manifest::Index(index) => {
            info.children = index.manifests().iter().map(|d| d.digest().to_string()).collect();
            info.platforms = index.manifests().iter().filter(|d| !is_attestation_entry(d)).filter_map(platform_name).collect();
        }
    }
    Ok(info)
}

/// A manifest placeholder for a digest the registry does not have (404).
fn missing(digest: &str) -> ManifestInfo {
    ManifestInfo {
        digest: digest.to_owned(),
        media_type: String::new(),
        kind: ArtifactKind::Other,
        manifest_size: 0,
        blobs: Vec::new(),
        children: Vec::new(),
        subject: None,
        created: None,
        first_seen: None,
        platforms: Vec::new(),
        missing: true,
    }
}

/// Reads a manifest and, for an index, its children (at most [`MAX_INDEX_CHILDREN`], a few at a
/// time; a child answering 404 is kept, marked missing). An undated index takes the newest
/// date of its children.
pub async fn read_artifact(verbs: &dyn RegistryVerbs, repo: &RepoName, digest: &str) -> portolan_oci::Result<Artifact> {
    let mut manifest = read_manifest(verbs, repo, digest).await?;
    let mut children = Vec::new();
    if !manifest.children.is_empty() {
        let wanted: Vec<String> = manifest.children.iter().take(MAX_INDEX_CHILDREN).cloned().collect();
        let mut read = futures::stream::iter(wanted)
            .map(|d| async move {
                match read_manifest(verbs, repo, &d).await {
                    Err(e) if e.kind() == portolan_oci::ErrorKind::NotFound => Ok(missing(&d)),
                    other => other,
                }
            })
            .buffered(CHILD_CONCURRENCY);
        // Counted as they come: an index of manifests listing tens of thousands of layers each
        // is refused before all are held.
        let mut references = manifest.references();
        while let Some(child) = read.next().await {
            let child = child?;
            references += child.references();
            if references > MAX_ARTIFACT_REFERENCES {
                return Err(portolan_oci::Error::new(
                    portolan_oci::ErrorKind::TooLarge,
                    format!("{repo}@{digest} and its platform manifests list more than {MAX_ARTIFACT_REFERENCES} blobs and manifests"),
                ));
            }
            children.push(child);
        }
        if manifest.created.is_none() {
            manifest.created = children.iter().filter_map(|c| c.created).max_by_key(|d| d.at);
        }
    }
    Ok(Artifact { manifest, children })
}

/// A tag as inventory sees it (no registry access).
pub fn tag_info(tag: &str, digest: &str) -> TagInfo {
    TagInfo {
        tag: tag.to_owned(),
        digest: digest.to_owned(),
        version: semver_of(tag),
        referrer_of: portolan_oci::name::subject_of_tag(tag).map(|(d, _)| d.to_string()),
    }
}

/// Reads one tag: a HEAD for where it points, then the artifact by digest, then its referrers.
pub async fn read_tag(verbs: &dyn RegistryVerbs, repo: &RepoName, tag: &str) -> portolan_oci::Result<TagRead> {
    let resolved = verbs.resolve(repo, &Reference::Tag(Tag::parse(tag)?)).await?;
    let artifact = read_artifact(verbs, repo, &resolved.digest).await?;
    // Referrers are extra: a registry failing to list them does not fail the tag.
    let referrers = match verbs.referrers(repo, &resolved.digest, None).await {
        Ok((list, _)) => list.iter().map(|r| r.digest()).collect(),
        Err(e) => {
            tracing::debug!(error = %e, %repo, tag, "listing referrers");
            Vec::new()
        }
    };
    Ok(TagRead { tag: tag_info(tag, &resolved.digest), artifact, referrers })
}

/// Reads a whole repository: every tag (resolved `concurrency` at a time), every manifest they
/// reach — index children and referrers, recursively — by digest. Tags that cannot be read are
/// listed as unreadable (a planner keeps them). First-seen dates are filled by the caller
/// ([`Inventory::apply_first_seen`]).
pub async fn read_inventory(
    verbs: &dyn RegistryVerbs,
    registry: &str,
    repo: &RepoName,
    concurrency: usize,
) -> portolan_oci::Result<Inventory> {
    let tags = verbs.tags(repo).await?;
    let resolved: Vec<(String, portolan_oci::Result<String>)> = futures::stream::iter(tags.iter().cloned())
        .map(|tag| async move {
            let digest = match Tag::parse(&tag) {
                Ok(t) => verbs.resolve(repo, &Reference::Tag(t)).await.map(|r| r.digest),
                Err(e) => Err(e),
            };
            (tag, digest)
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let mut inventory = Inventory {
        registry: registry.to_owned(),
        repository: repo.to_string(),
        taken_at: OffsetDateTime::now_utc(),
        tags: Vec::new(),
        manifests: BTreeMap::new(),
        referrers: BTreeMap::new(),
        unreadable: Vec::new(),
        verified: Default::default(),
    };
    let mut pending: Vec<String> = Vec::new();
    let mut queued: HashSet<String> = HashSet::new();
    for (tag, digest) in resolved {
        match digest {
            Ok(d) => {
                if queued.insert(d.clone()) {
                    pending.push(d.clone());
                }
                inventory.tags.push(tag_info(&tag, &d));
            }
            Err(e) => inventory.unreadable.push(Unreadable { tag, message: e.message().to_owned() }),
        }
    }
    reach(verbs, repo, &mut inventory, pending, queued, concurrency, Limits::default()).await?;
    Ok(inventory)
}

/// Adds to `inventory` the manifests `digests` and everything they reach (index children and
/// referrers, recursively) that it does not hold yet — e.g. an untagged artifact opened by
/// digest, before planning its deletion.
pub async fn extend(
    verbs: &dyn RegistryVerbs,
    repo: &RepoName,
    inventory: &mut Inventory,
    digests: &[String],
    concurrency: usize,
) -> portolan_oci::Result<()> {
    let mut queued: HashSet<String> = inventory.manifests.keys().cloned().collect();
    let pending: Vec<String> = digests.iter().filter(|d| queued.insert((*d).clone())).cloned().collect();
    reach(verbs, repo, inventory, pending, queued, concurrency, Limits::default()).await
}

/// How much one inventory may reach.
#[derive(Clone, Copy)]
struct Limits {
    manifests: usize,
    references: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { manifests: MAX_MANIFESTS, references: MAX_REFERENCES }
    }
}

/// Reads `pending` and what they reach, breadth first: the manifests, then their children and
/// referrers. `queued` holds every digest read or about to be.
async fn reach(
    verbs: &dyn RegistryVerbs,
    repo: &RepoName,
    inventory: &mut Inventory,
    mut pending: Vec<String>,
    mut queued: HashSet<String>,
    concurrency: usize,
    limits: Limits,
) -> portolan_oci::Result<()> {
    let too_large = |what: String| portolan_oci::Error::new(portolan_oci::ErrorKind::TooLarge, format!("{repo} {what}"));
    let mut references = inventory.references();
    while !pending.is_empty() {
        let batch: Vec<String> = std::mem::take(&mut pending);
        // Taken as they come, so the caps stop a hostile registry after one artifact too many,
        // not after a whole layer of them is held.
        let mut read = futures::stream::iter(batch)
            .map(|digest| async move {
                let artifact = read_artifact(verbs, repo, &digest).await;
                let referrers = match &artifact {
                    Ok(a) if !a.manifest.missing => {
                        // The tag list kept cached through a long read (one list read per tag
                        // TTL): without it, on a registry without the referrers API, each
                        // artifact's referrer tags are asked for one by one (four requests).
                        let _ = verbs.tags(repo).await;
                        verbs.referrers(repo, &digest, None).await.map(|(r, _)| r.iter().take(MAX_REFERRERS).map(|x| x.digest()).collect())
                    }
                    _ => Ok(Vec::new()),
                };
                (digest, artifact, referrers)
            })
            .buffered(concurrency.max(1));
        while let Some((digest, artifact, referrers)) = read.next().await {
            match artifact {
                Ok(a) => {
                    references += a.manifest.references() + a.children.iter().map(ManifestInfo::references).sum::<usize>();
                    for child in a.children {
                        queued.insert(child.digest.clone());
                        inventory.manifests.entry(child.digest.clone()).or_insert(child);
                    }
                    // Children beyond those read are still worth knowing about.
                    for d in &a.manifest.children {
                        if queued.insert(d.clone()) {
                            pending.push(d.clone());
                        }
                    }
                    inventory.manifests.insert(digest.clone(), a.manifest);
                }
                Err(e) if e.kind() == portolan_oci::ErrorKind::NotFound => {
                    inventory.manifests.insert(digest.clone(), missing(&digest));
                }
                Err(e) => {
                    for t in inventory.tags.iter().filter(|t| t.digest == digest) {
                        inventory.unreadable.push(Unreadable { tag: t.tag.clone(), message: e.message().to_owned() });
                    }
                }
            }
            match referrers {
                Ok(list) if !list.is_empty() => {
                    references += list.len();
                    for r in &list {
                        if queued.insert(r.clone()) {
                            pending.push(r.clone());
                        }
                    }
                    inventory.referrers.insert(digest, list);
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, %repo, %digest, "listing referrers for the inventory"),
            }
            if queued.len() > limits.manifests {
                return Err(too_large(format!("reaches more than {} manifests", limits.manifests)));
            }
            if references > limits.references {
                return Err(too_large(format!("holds more than {} blobs, index children and referrers", limits.references)));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use portolan_testkit::runner::run;

    use super::*;
    use portolan_oci::memory::MemoryRegistry;

    #[test]
    fn reads_a_repository_whole() {
        run(async {
            let reg = MemoryRegistry::new();
            let config = serde_json::json!({"created": "2025-03-01T00:00:00Z", "os": "linux", "architecture": "amd64"});
            let amd = reg.put_image("a", &[], &config, b"amd", None);
            let arm = reg.put_image("a", &[], &serde_json::json!({"os": "linux", "architecture": "arm64"}), b"arm", None);
            let index = reg.put_index("a", &["1.0", "latest"], &[(&amd, "linux/amd64"), (&arm, "linux/arm64")]);
            let sig = reg.put_artifact(
                "a",
                &[],
                "application/vnd.oci.empty.v1+json",
                &serde_json::json!({}),
                b"sig",
                Some("application/vnd.dev.cosign.artifact.sig.v1+json"),
                Some((&index, 1)),
            );
            let old = reg.put_image("a", &["0.9"], &serde_json::json!({"created": "1970-01-01T00:00:00Z"}), b"old", None);
            let repo = RepoName::parse("a").unwrap();
            let inv = read_inventory(&reg, "mem", &repo, 4).await.unwrap();
            assert_eq!(inv.tags.len(), 3);
            assert_eq!(inv.manifests.len(), 5, "{:?}", inv.manifests.keys());
            assert_eq!(inv.manifests[&index].children, vec![amd.clone(), arm.clone()]);
            assert_eq!(inv.manifests[&index].kind, ArtifactKind::Index);
            // The index has no date of its own: its newest child's.
            assert_eq!(inv.manifests[&amd].created.unwrap().source, DateSource::Config);
            assert_eq!(inv.referrers[&index], vec![sig.clone()]);
            assert_eq!(inv.manifests[&sig].subject.as_deref(), Some(index.as_str()));
            // The epoch is no date.
            assert!(inv.manifests[&old].created.is_none());
            let read = read_tag(&reg, &repo, "latest").await.unwrap();
            assert_eq!(read.tag.digest, index);
            assert_eq!(read.artifact.manifest.created.unwrap().at.unix_timestamp(), 1_740_787_200);
            assert_eq!(read.artifact.manifest.platforms, vec!["linux/amd64".to_owned(), "linux/arm64".to_owned()]);
            assert_eq!(read.referrers, vec![sig]);
        })
    }

    #[test]
    fn a_repository_reaching_too_much_is_refused_as_soon_as_it_does() {
        run(async {
            let reg = MemoryRegistry::new();
            // Indexes listing children that do not exist (each read answers 404): only the lists
            // cost memory, which is what a hostile registry would use.
            let fake = |i: usize, j: usize| portolan_oci::manifest::sha256_digest(format!("{i}/{j}").as_bytes());
            let mut indexes = Vec::new();
            for i in 0..6 {
                let children: Vec<String> = (0..10).map(|j| fake(i, j)).collect();
                let pairs: Vec<(&str, &str)> = children.iter().map(|c| (c.as_str(), "linux/amd64")).collect();
                indexes.push(reg.put_index("a", &[&format!("t{i}")], &pairs));
            }
            let repo = RepoName::parse("a").unwrap();
            let whole = read_inventory(&reg, "mem", &repo, 1).await.unwrap();
            assert_eq!(whole.manifests.len(), 6 + 60);
            for (limits, what) in [
                (Limits { manifests: MAX_MANIFESTS, references: 25 }, "blobs, index children and referrers"),
                (Limits { manifests: 30, references: MAX_REFERENCES }, "manifests"),
            ] {
                let mut inventory = Inventory {
                    registry: "mem".into(),
                    repository: "a".into(),
                    taken_at: OffsetDateTime::now_utc(),
                    tags: Vec::new(),
                    manifests: BTreeMap::new(),
                    referrers: BTreeMap::new(),
                    unreadable: Vec::new(),
                    verified: Default::default(),
                };
                let pending = indexes.clone();
                let queued: HashSet<String> = pending.iter().cloned().collect();
                let e = reach(&reg, &repo, &mut inventory, pending, queued, 1, limits).await.unwrap_err();
                assert_eq!(e.kind(), portolan_oci::ErrorKind::TooLarge);
                assert!(e.message().contains(what), "{}", e.message());
                assert!(inventory.manifests.len() < whole.manifests.len(), "stopped before reading everything");
            }
        })
    }
}
