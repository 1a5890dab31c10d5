//! The inventory's types: plain data, no I/O.

use std::collections::BTreeMap;

use portolan_types::ArtifactKind;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use portolan_types::{DateSource, Dated};

/// A blob a manifest references (config or layer), for bytes-freed estimates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    pub digest: String,
    pub size: u64,
}

/// One manifest of the repository: tagged, an index child, or a referrer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestInfo {
    pub digest: String,
    pub media_type: String,
    pub kind: ArtifactKind,
    /// The manifest's own size in bytes.
    pub manifest_size: u64,
    /// Config and layers (images); empty for an index.
    pub blobs: Vec<BlobRef>,
    /// An index's manifests (platform images and attestation manifests), in order.
    pub children: Vec<String>,
    /// What this manifest refers to, when it is a referrer (`subject`).
    pub subject: Option<String>,
    /// Its date, with where it came from (config, annotation, else first seen).
    pub created: Option<Dated>,
    /// When Portolan first saw this digest in this repository.
    #[serde(with = "time::serde::timestamp::option")]
    pub first_seen: Option<OffsetDateTime>,
    /// `linux/amd64`, … (an index: its platforms, attestation manifests excluded).
    pub platforms: Vec<String>,
    /// Listed by an index or as a referrer, but the registry answers 404 for it.
    pub missing: bool,
}

impl ManifestInfo {
    /// Compressed size: the manifest, its config and layers (an index: just itself; see
    /// [`Inventory::total_size`] for an index with its children). Sizes are what the registry
    /// says, so the sum saturates rather than overflow.
    pub fn own_size(&self) -> u64 {
        self.blobs.iter().fold(self.manifest_size, |sum, b| sum.saturating_add(b.size))
    }

    /// The blobs and index children it lists.
    pub fn references(&self) -> usize {
        self.blobs.len() + self.children.len()
    }
}

/// A tag and where it points.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagInfo {
    pub tag: String,
    pub digest: String,
    /// The tag read as a semantic version (`v` prefix allowed, `1.2` as `1.2.0`).
    pub version: Option<semver::Version>,
    /// For a referrer tag (`sha256-<hex>` fallback index, cosign's `.sig`/`.att`/`.sbom`): the
    /// subject digest it names. Such tags follow their subject; keep rules do not apply to them.
    pub referrer_of: Option<String>,
}

/// A tag that could not be read, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreadable {
    pub tag: String,
    pub message: String,
}

/// Everything known about one repository at one moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub registry: String,
    pub repository: String,
    #[serde(with = "time::serde::timestamp")]
    pub taken_at: OffsetDateTime,
    /// Every tag read, referrer tags included, in the registry's order.
    pub tags: Vec<TagInfo>,
    /// Every manifest reached from a tag: the tagged ones, index children, referrers
    /// (recursively), by digest.
    pub manifests: BTreeMap<String, ManifestInfo>,
    /// Subject digest → the digests of its referrers.
    pub referrers: BTreeMap<String, Vec<String>>,
    /// Tags whose manifest could not be read (a planner keeps them: nothing unknown is deleted).
    pub unreadable: Vec<Unreadable>,
    /// Signature verification of tagged manifests, by digest, where it was asked for (a policy
    /// keeping verified artifacts): filled by the service, which verifies; empty otherwise.
    #[serde(default)]
    pub verified: BTreeMap<String, Verdict>,
}

/// What signature verification concluded about one manifest, as the planner uses it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub verified: bool,
    /// "verified by policy ci (key release)", "not verified: unknown key", "unsigned".
    pub says: String,
}

impl Inventory {
    /// The references it holds: blobs, index children and referrers (what its size grows with,
    /// beside tags and manifests).
    pub fn references(&self) -> usize {
        self.manifests.values().map(ManifestInfo::references).sum::<usize>() + self.referrers.values().map(Vec::len).sum::<usize>()
    }

    /// Records first-seen times (from the store) and gives undated manifests that date, said as
    /// such.
    pub fn apply_first_seen(&mut self, seen: &std::collections::HashMap<String, OffsetDateTime>) {
        for m in self.manifests.values_mut() {
            if let Some(at) = seen.get(&m.digest) {
                m.first_seen = Some(*at);
                if m.created.is_none() {
                    m.created = Some(Dated { at: *at, source: DateSource::FirstSeen });
                }
            }
        }
    }

    /// A manifest's size with its index children (counted once each).
    pub fn total_size(&self, digest: &str) -> u64 {
        let Some(m) = self.manifests.get(digest) else { return 0 };
        m.children.iter().filter_map(|c| self.manifests.get(c)).map(ManifestInfo::own_size).fold(m.own_size(), u64::saturating_add)
    }
}

/// A tag read as a semantic version: `v1.2.3`, `1.2.3-rc.1`; `1.2` and `1` are taken as
/// `1.2.0` and `1.0.0`.
pub fn semver_of(tag: &str) -> Option<semver::Version> {
    let t = tag.strip_prefix('v').unwrap_or(tag);
    semver::Version::parse(t).ok().or_else(|| {
        let dots = t.chars().filter(|c| *c == '.').count();
        let head = t.split(['-', '+']).next().unwrap_or(t);
        if dots < 2 && !head.is_empty() && head.chars().all(|c| c.is_ascii_digit() || c == '.') && !head.ends_with('.') {
            let padded = if dots == 0 { format!("{head}.0.0") } else { format!("{head}.0") };
            semver::Version::parse(&format!("{padded}{}", &t[head.len()..])).ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(semver_of("v1.2.3").unwrap().to_string(), "1.2.3");
        assert_eq!(semver_of("1.2").unwrap().to_string(), "1.2.0");
        assert_eq!(semver_of("2").unwrap().to_string(), "2.0.0");
        assert_eq!(semver_of("2.0.0-rc.1").unwrap().pre.as_str(), "rc.1");
        assert!(semver_of("latest").is_none());
        assert!(semver_of("1.").is_none());
        assert!(semver_of("").is_none());
    }
}
