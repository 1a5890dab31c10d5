//! What the where-used index keeps of a manifest, from what Portolan read: a manifest as
//! fetched ([`from_doc`], the crawl and the artifact page) or a tag as the tag page read it
//! ([`from_tag_read`]).

use std::collections::HashMap;

use portolan_inventory::ManifestInfo;
use portolan_inventory::read::{TagRead, parse_date, platform_name};
use portolan_oci::{Manifest, ManifestDoc};
use portolan_store::{IndexRef, IndexedManifest, RefRole};

/// A manifest as fetched; None when it is not a manifest Portolan can read.
pub fn from_doc(doc: &ManifestDoc) -> Option<IndexedManifest> {
    let manifest = doc.manifest().ok()?;
    let created = manifest.annotations().and_then(|a| a.get("org.opencontainers.image.created")).and_then(|c| parse_date(c));
    let (refs, blobs): (Vec<IndexRef>, u64) = match manifest {
        Manifest::Image(m) => {
            let refs = std::iter::once(IndexRef {
                digest: m.config().digest().to_string(),
                role: RefRole::Config,
                platform: None,
                size: Some(m.config().size()),
            })
            .chain(m.layers().iter().map(|l| IndexRef {
                digest: l.digest().to_string(),
                role: RefRole::Layer,
                platform: None,
                size: Some(l.size()),
            }))
            .collect();
            (refs, std::iter::once(m.config()).chain(m.layers()).map(|l| l.size()).fold(0, u64::saturating_add))
        }
        Manifest::Index(i) => (
            i.manifests()
                .iter()
                .map(|d| IndexRef {
                    digest: d.digest().to_string(),
                    role: RefRole::Manifest,
                    platform: platform_name(d),
                    size: Some(d.size()),
                })
                .collect(),
            0,
        ),
    };
    Some(IndexedManifest {
        digest: doc.digest.clone(),
        media_type: doc.media_type.clone(),
        kind: manifest.kind(&doc.media_type).key().to_owned(),
        subject: manifest.subject().map(|s| s.digest().to_string()),
        size: doc.size().saturating_add(blobs),
        bytes: doc.size(),
        created,
        refs,
    })
}

/// A manifest as the inventory reader describes it; `children` gives an index's entries their
/// platform and size.
fn from_info(m: &ManifestInfo, children: &HashMap<&str, (Option<&str>, u64)>) -> IndexedManifest {
    let refs = if m.children.is_empty() {
        m.blobs
            .iter()
            .enumerate()
            .map(|(i, b)| IndexRef {
                digest: b.digest.clone(),
                role: if i == 0 { RefRole::Config } else { RefRole::Layer },
                platform: None,
                size: Some(b.size),
            })
            .collect()
    } else {
        m.children
            .iter()
            .map(|c| {
                let known = children.get(c.as_str());
                IndexRef {
                    digest: c.clone(),
                    role: RefRole::Manifest,
                    platform: known.and_then(|(p, _)| p.map(str::to_owned)),
                    size: known.map(|(_, s)| *s),
                }
            })
            .collect()
    };
    IndexedManifest {
        digest: m.digest.clone(),
        media_type: m.media_type.clone(),
        kind: m.kind.key().to_owned(),
        subject: m.subject.clone(),
        size: m.own_size(),
        bytes: m.manifest_size,
        created: m.created.map(|d| d.at),
        refs,
    }
}

/// A tag as the tag page read it: the tag, where it points, and the manifests read on the way
/// (the artifact and, for an index, the platform manifests that exist).
pub fn from_tag_read(read: &TagRead) -> (String, String, Vec<IndexedManifest>) {
    let a = &read.artifact;
    let children: HashMap<&str, (Option<&str>, u64)> = a
        .children
        .iter()
        .filter(|c| !c.missing)
        .map(|c| (c.digest.as_str(), (c.platforms.first().map(String::as_str), c.manifest_size)))
        .collect();
    let mut manifests = vec![from_info(&a.manifest, &children)];
    manifests.extend(a.children.iter().filter(|c| !c.missing).map(|c| from_info(c, &HashMap::new())));
    (read.tag.tag.clone(), read.tag.digest.clone(), manifests)
}

#[cfg(test)]
mod tests {
    use portolan_testkit::runner::run;

    use super::*;
    use portolan_oci::memory::MemoryRegistry;
    use portolan_oci::{Reference, RegistryVerbs, RepoName};

    #[test]
    fn images_and_indexes() {
        run(async {
            let reg = MemoryRegistry::new();
            let amd = reg.put_image("a", &[], &serde_json::json!({"os": "linux", "architecture": "amd64"}), b"amd", None);
            let index = reg.put_index("a", &["1.0"], &[(&amd, "linux/amd64")]);
            let repo = RepoName::parse("a").unwrap();
            let doc = reg.manifest(&repo, &Reference::parse(&index).unwrap()).await.unwrap();
            let m = from_doc(&doc).unwrap();
            assert_eq!(m.kind, "index");
            assert_eq!(m.refs.len(), 1);
            assert_eq!((m.refs[0].digest.as_str(), m.refs[0].platform.as_deref()), (amd.as_str(), Some("linux/amd64")));
            assert!(m.refs[0].size.is_some_and(|s| s > 0), "an entry's size comes from its descriptor");
            let doc = reg.manifest(&repo, &Reference::parse(&amd).unwrap()).await.unwrap();
            let m = from_doc(&doc).unwrap();
            assert_eq!(m.kind, "image");
            assert_eq!(m.refs.len(), 2);
            assert_eq!(m.refs[0].role, RefRole::Config);
            assert_eq!(m.refs[1].digest, portolan_oci::manifest::sha256_digest(b"amd"));
            let read = portolan_inventory::read::read_tag(&reg, &repo, "1.0").await.unwrap();
            let (tag, digest, manifests) = from_tag_read(&read);
            assert_eq!((tag.as_str(), digest.as_str(), manifests.len()), ("1.0", index.as_str(), 2));
            assert_eq!(manifests[0].refs[0].platform.as_deref(), Some("linux/amd64"));
            assert_eq!(manifests[1].refs[1].role, RefRole::Layer);
        })
    }
}
