//! The artifact page's content: the manifest or index read leniently, the image config, the
//! platforms with their attestations, the artifact-aware panel, and the first level of referrers.
//! Its kind, size and date come from the inventory reader — the one the tag list and the
//! retention planner use — so the pages never disagree about them (an undated index takes its
//! newest platform's date on every page).

use std::collections::{HashMap, HashSet};

use portolan_oci::spec::Descriptor;
use portolan_oci::{ArtifactKind, Manifest, ManifestDoc, Referrer, ReferrerSource, RepoName};
use serde_json::Value;

use portolan_inventory::read::{is_attestation_entry, is_image_config, platform_name, platform_of, read_artifact};
use portolan_model::{ArtifactBody, ArtifactView, ConfigView, DescriptorView, HistoryEntry, PlatformEntry, ReferrerEntry};

use crate::Registry;
use crate::json::{Links, render_bytes};

/// Config blobs larger than this are not read (real configs are a few KiB), nor larger than the
/// registry's blob cap (`max_blob_mb`) when that is lower.
const CONFIG_CAP: u64 = 4 * 1024 * 1024;

/// Attestations shown with one platform at most (BuildKit writes one or two); more are listed
/// with the index's other entries.
const ATTESTATIONS_PER_PLATFORM: usize = 8;

pub fn sorted_annotations(map: Option<&std::collections::HashMap<String, String>>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
    v.sort();
    v
}

pub fn descriptor_view(base: &str, d: &Descriptor) -> DescriptorView {
    let media_type = d.media_type().to_string();
    let digest = d.digest().to_string();
    let href = if portolan_oci::media::is_manifest(&media_type) {
        format!("{base}@{digest}")
    } else {
        format!("{base}/-/blob/{digest}?type={}", portolan_model::encode_component(&media_type))
    };
    DescriptorView {
        media_type,
        digest,
        size: d.size(),
        artifact_type: d.artifact_type().as_ref().map(ToString::to_string),
        annotations: sorted_annotations(d.annotations().as_ref()),
        href,
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().map(|i| i.as_str().map(str::to_owned).unwrap_or_else(|| i.to_string())).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn keys(v: Option<&Value>) -> Vec<String> {
    let mut k: Vec<String> = v.and_then(Value::as_object).map(|o| o.keys().cloned().collect()).unwrap_or_default();
    k.sort();
    k
}

/// Reads an image configuration leniently: whatever fields are there and well-typed.
pub fn config_view(digest: &str, media_type: &str, bytes: &[u8], links: &Links<'_>) -> ConfigView {
    let raw = render_bytes(bytes, links);
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return ConfigView {
                digest: digest.to_owned(),
                media_type: media_type.to_owned(),
                raw,
                problem: Some(format!("the config is not valid JSON ({e})")),
                ..Default::default()
            };
        }
    };
    let text = |k: &str| value.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let config = value.get("config").or_else(|| value.get("container_config"));
    let ctext = |k: &str| config.and_then(|c| c.get(k)).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let platform = platform_of(&value);
    let mut labels: Vec<(String, String)> = config
        .and_then(|c| c.get("Labels"))
        .and_then(Value::as_object)
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))).collect())
        .unwrap_or_default();
    labels.sort();
    let history = value
        .get("history")
        .and_then(Value::as_array)
        .map(|h| {
            h.iter()
                .map(|e| HistoryEntry {
                    created: e.get("created").and_then(Value::as_str).map(str::to_owned),
                    created_by: e.get("created_by").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    comment: e.get("comment").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned),
                    empty_layer: e.get("empty_layer").and_then(Value::as_bool).unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default();
    ConfigView {
        digest: digest.to_owned(),
        media_type: media_type.to_owned(),
        created: text("created"),
        platform,
        user: ctext("User"),
        working_dir: ctext("WorkingDir"),
        entrypoint: strings(config.and_then(|c| c.get("Entrypoint"))),
        cmd: strings(config.and_then(|c| c.get("Cmd"))),
        env: strings(config.and_then(|c| c.get("Env"))),
        exposed_ports: keys(config.and_then(|c| c.get("ExposedPorts"))),
        volumes: keys(config.and_then(|c| c.get("Volumes"))),
        labels,
        history,
        raw,
        problem: None,
    }
}

/// Compressed size of an image manifest: itself, its config and its layers.
pub fn image_size(manifest_size: u64, manifest: &Manifest) -> Option<u64> {
    match manifest {
        Manifest::Image(m) => {
            Some(std::iter::once(m.config()).chain(m.layers()).map(Descriptor::size).fold(manifest_size, u64::saturating_add))
        }
        Manifest::Index(_) => None,
    }
}

pub fn source_label(source: &ReferrerSource) -> String {
    match source {
        ReferrerSource::Api => "referrers API".into(),
        ReferrerSource::FallbackTag => "fallback tag".into(),
        ReferrerSource::CosignTag(suffix) => format!("cosign .{suffix} tag"),
    }
}

pub fn referrer_entry(base: &str, r: &Referrer) -> ReferrerEntry {
    ReferrerEntry {
        digest: r.digest(),
        kind: r.kind(),
        artifact_type: r.artifact_type(),
        created: r.descriptor.annotations().as_ref().and_then(|a| a.get("org.opencontainers.image.created")).cloned(),
        source: source_label(&r.source),
        href: format!("{base}@{}", r.digest()),
    }
}

/// Builds the whole page for a fetched manifest. An artifact that carries no date gets the
/// date Portolan first saw it (from `store`), as in the tag list. Where a trust policy covers
/// the repository, its signatures are verified (`verifier`) while the rest is read.
pub async fn artifact_view(
    store: &portolan_store::Store,
    verifier: &crate::verify::Verifier,
    registry: &Registry,
    repo: &RepoName,
    tag: Option<String>,
    doc: ManifestDoc,
    public_url: String,
) -> ArtifactView {
    let base = format!("/r/{}/{}", registry.info.name, repo);
    let links = Links { base: &base };
    let client = &registry.client;
    let manifest_json = render_bytes(&doc.bytes, &links);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // The inventory's reading of it (through the client's caches, which the rest of the page
    // reads from too): its date as the tag list and the planner see it.
    let (read, referrers, verification) = futures::join!(
        read_artifact(client.as_ref(), repo, &doc.digest),
        client.referrers(repo, &doc.digest, None),
        verifier.verify_covered(registry, repo, &doc.digest)
    );
    let verification = match verification {
        Ok(v) => v.map(|v| (*v).clone()),
        Err(e) => {
            tracing::warn!(error = %e, "verifying signatures");
            None
        }
    };
    let (referrers, referrers_problem) = match referrers {
        Ok((list, _)) => (list.iter().map(|r| referrer_entry(&base, r)).collect(), None),
        Err(e) => (Vec::new(), Some(e.message().to_owned())),
    };
    let mut created = read.ok().and_then(|a| a.manifest.created);
    if created.is_none() {
        let seen = store.first_seen(&registry.info.name, repo.as_str(), std::slice::from_ref(&doc.digest), time::OffsetDateTime::now_utc());
        match seen.await {
            Ok(seen) => {
                created = seen.get(&doc.digest).map(|&at| portolan_types::Dated { at, source: portolan_types::DateSource::FirstSeen })
            }
            Err(e) => tracing::warn!(error = %e, "reading first-seen dates"),
        }
    }
    let manifest = match doc.manifest() {
        Ok(m) => m.clone(),
        Err(e) => {
            return ArtifactView {
                registry: registry.info.clone(),
                repository: repo.to_string(),
                tag,
                digest: doc.digest.clone(),
                media_type: doc.media_type.clone(),
                kind: ArtifactKind::Other,
                artifact_type: None,
                manifest_size: doc.size(),
                total_size: None,
                created: None,
                created_source: None,
                annotations: Vec::new(),
                subject: None,
                body: ArtifactBody::Unreadable,
                panel: None,
                referrers,
                referrers_problem,
                verification,
                manifest_json,
                problem: Some(e.message().to_owned()),
                now,
                public_url,
                delete: Default::default(),
            };
        }
    };
    let kind = manifest.kind(&doc.media_type);
    let annotations = sorted_annotations(manifest.annotations());
    let subject = manifest.subject().map(|s| descriptor_view(&base, s));
    let (body, total_size) = match &manifest {
        Manifest::Index(index) => {
            let (platform_descs, rest): (Vec<&Descriptor>, Vec<&Descriptor>) =
                index.manifests().iter().partition(|d| !is_attestation_entry(d));
            // Attestations by the platform manifest they are about (a few per platform at most
            // are shown with it: an index can name any number, all about one digest).
            let mut attestations: HashMap<&str, Vec<DescriptorView>> = HashMap::new();
            let mut others = Vec::new();
            for d in rest {
                match d.annotations().as_ref().and_then(|a| a.get("vnd.docker.reference.digest")) {
                    Some(target) => {
                        let here = attestations.entry(target.as_str()).or_default();
                        if here.len() < ATTESTATIONS_PER_PLATFORM {
                            here.push(descriptor_view(&base, d));
                        } else {
                            others.push(descriptor_view(&base, d));
                        }
                    }
                    None => others.push(descriptor_view(&base, d)),
                }
            }
            // A few at a time, at most MAX_INDEX_CHILDREN: an index can name any number. Each
            // child is reduced to its size as it arrives (not held whole).
            let size_of = |child: portolan_oci::Result<portolan_oci::ManifestDoc>| match child {
                Ok(doc) => Ok(doc.manifest().ok().and_then(|m| image_size(doc.size(), m))),
                Err(e) if e.kind() == portolan_oci::ErrorKind::NotFound => {
                    Err("missing (404): the registry does not have this platform's manifest".to_owned())
                }
                Err(e) => Err(e.message().to_owned()),
            };
            let read = portolan_oci::index_children(client.as_ref(), repo, platform_descs.iter().copied(), size_of).await;
            let sizes: Vec<Result<Option<u64>, String>> = read
                .into_iter()
                .chain(std::iter::repeat_with(|| Err("not read: the index lists too many manifests".to_owned())))
                .take(platform_descs.len())
                .collect();
            let platforms: Vec<PlatformEntry> = platform_descs
                .iter()
                .zip(sizes)
                .map(|(d, size)| {
                    let digest = d.digest().to_string();
                    let (image_size, problem) = match size {
                        Ok(s) => (s, None),
                        Err(p) => (None, Some(p)),
                    };
                    PlatformEntry {
                        platform: platform_name(d).unwrap_or_else(|| "unknown".into()),
                        manifest: descriptor_view(&base, d),
                        image_size,
                        problem,
                        attestations: attestations.get(digest.as_str()).cloned().unwrap_or_default(),
                    }
                })
                .collect();
            // Attestations naming no listed platform are shown with the others.
            let listed: HashSet<&str> = platforms.iter().map(|p| p.manifest.digest.as_str()).collect();
            for (target, a) in attestations {
                if !listed.contains(target) {
                    others.extend(a);
                }
            }
            let total = platforms.iter().filter_map(|p| p.image_size).max();
            (ArtifactBody::Index { platforms, others }, total)
        }
        Manifest::Image(m) => {
            let config_desc = descriptor_view(&base, m.config());
            let config_type = config_desc.media_type.clone();
            let image_config = if is_image_config(&config_type) {
                let cap = CONFIG_CAP.min(client.settings().max_blob_bytes);
                Some(Box::new(match client.blob(repo, &config_desc.digest, Some(cap)).await {
                    Ok(bytes) => config_view(&config_desc.digest, &config_type, &bytes, &links),
                    Err(e) => ConfigView {
                        digest: config_desc.digest.clone(),
                        media_type: config_type.clone(),
                        problem: Some(e.message().to_owned()),
                        ..Default::default()
                    },
                }))
            } else {
                None
            };
            let layers = m.layers().iter().map(|l| descriptor_view(&base, l)).collect();
            (ArtifactBody::Manifest { config: config_desc, image_config, layers }, image_size(doc.size(), &manifest))
        }
    };
    let panel = crate::panels::panel(registry, repo, &manifest, kind, &links).await;
    ArtifactView {
        registry: registry.info.clone(),
        repository: repo.to_string(),
        tag,
        digest: doc.digest.clone(),
        media_type: doc.media_type.clone(),
        kind,
        artifact_type: manifest.artifact_type(),
        manifest_size: doc.size(),
        total_size,
        created: created.map(|d| d.unix()),
        created_source: created.map(|d| d.source),
        annotations,
        subject,
        body,
        panel,
        referrers,
        referrers_problem,
        verification,
        manifest_json,
        problem: None,
        now,
        public_url,
        delete: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_configs_leniently() {
        let config = br#"{"created":"2025-06-01T12:00:00Z","os":"linux","architecture":"arm64","variant":"v8",
            "config":{"Entrypoint":["/bin/hello"],"Cmd":"--greet","Env":["A=1"],"ExposedPorts":{"80/tcp":{}},"Labels":{"b":"2","a":"1"},"User":""},
            "history":[{"created_by":"ADD x","empty_layer":false},{"created_by":"CMD","empty_layer":true,"comment":"buildkit"}]}"#;
        let c = config_view("sha256:x", "application/vnd.oci.image.config.v1+json", config, &Links { base: "" });
        assert_eq!(c.platform.as_deref(), Some("linux/arm64/v8"));
        assert_eq!(c.entrypoint, ["/bin/hello"]);
        assert_eq!(c.cmd, ["--greet"], "a string Cmd is read as one argument");
        assert_eq!(c.exposed_ports, ["80/tcp"]);
        assert_eq!(c.labels, [("a".to_owned(), "1".to_owned()), ("b".to_owned(), "2".to_owned())]);
        assert_eq!(c.user, None);
        assert_eq!(c.history.len(), 2);
        assert!(c.history[1].empty_layer);
        let broken = config_view("sha256:x", "t", b"{nope", &Links { base: "" });
        assert!(broken.problem.is_some());
        let odd = config_view("sha256:x", "t", br#"{"config": 7, "history": "no", "created": 5}"#, &Links { base: "" });
        assert_eq!(odd.created, None);
        assert!(odd.history.is_empty());
    }
}
