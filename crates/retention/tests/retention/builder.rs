//! Small inventories and policies for tests.

use std::collections::BTreeMap;

use portolan_inventory::{BlobRef, DateSource, Dated, Inventory, ManifestInfo, TagInfo, Unreadable, semver_of};
use portolan_retention::{Policy, RawPolicy, validate};
use portolan_types::ArtifactKind;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

pub const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);
pub const REGISTRY: &str = "hub";
pub const REPOSITORY: &str = "team/api";

pub fn days_ago(days: i64) -> OffsetDateTime {
    NOW - Duration::days(days)
}

/// A repository under construction. Manifests are dated by their config `days` days before
/// [`NOW`] and first seen at the same moment, unless told otherwise.
pub struct Inv {
    inv: Inventory,
}

impl Inv {
    pub fn new() -> Self {
        Self::in_repo(REPOSITORY)
    }

    pub fn in_repo(repository: &str) -> Self {
        Inv {
            inv: Inventory {
                registry: REGISTRY.into(),
                repository: repository.into(),
                taken_at: NOW,
                tags: Vec::new(),
                manifests: BTreeMap::new(),
                referrers: BTreeMap::new(),
                unreadable: Vec::new(),
                verified: Default::default(),
            },
        }
    }

    fn manifest(mut self, digest: &str, kind: ArtifactKind, days: Option<i64>, blobs: &[(&str, u64)]) -> Self {
        let at = days.map(days_ago);
        self.inv.manifests.insert(
            digest.into(),
            ManifestInfo {
                digest: digest.into(),
                media_type: if kind == ArtifactKind::Index {
                    portolan_types::media::OCI_INDEX
                } else {
                    portolan_types::media::OCI_MANIFEST
                }
                .into(),
                kind,
                manifest_size: 100,
                blobs: blobs.iter().map(|&(d, size)| BlobRef { digest: d.into(), size }).collect(),
                children: Vec::new(),
                subject: None,
                created: at.map(|at| Dated { at, source: DateSource::Config }),
                first_seen: at,
                platforms: Vec::new(),
                missing: false,
            },
        );
        self
    }

    /// An image created `days` ago (None: no date at all), with blobs `(digest, size)`.
    pub fn image(self, digest: &str, days: Option<i64>, blobs: &[(&str, u64)]) -> Self {
        self.manifest(digest, ArtifactKind::Image, days, blobs)
    }

    /// An index listing `children` (add them with [`Inv::image`]).
    pub fn index(mut self, digest: &str, days: Option<i64>, children: &[&str]) -> Self {
        self = self.manifest(digest, ArtifactKind::Index, days, &[]);
        self.get(digest).children = children.iter().map(|c| c.to_string()).collect();
        self
    }

    /// A referrer of `subject` (its `subject` field, and the inventory's referrer list).
    pub fn referrer(mut self, digest: &str, kind: ArtifactKind, subject: &str, blobs: &[(&str, u64)]) -> Self {
        self = self.manifest(digest, kind, Some(1), blobs);
        self.get(digest).subject = Some(subject.into());
        self.inv.referrers.entry(subject.into()).or_default().push(digest.into());
        self
    }

    pub fn get(&mut self, digest: &str) -> &mut ManifestInfo {
        self.inv.manifests.get_mut(digest).expect("a manifest added before")
    }

    /// Dated by when it was first seen only (the inventory's fallback).
    pub fn first_seen_only(mut self, digest: &str, days: i64) -> Self {
        let m = self.get(digest);
        m.created = Some(Dated { at: days_ago(days), source: DateSource::FirstSeen });
        m.first_seen = Some(days_ago(days));
        self
    }

    pub fn missing(mut self, digest: &str) -> Self {
        self.get(digest).missing = true;
        self
    }

    pub fn tag(mut self, tag: &str, digest: &str) -> Self {
        self.inv.tags.push(TagInfo { tag: tag.into(), digest: digest.into(), version: semver_of(tag), referrer_of: None });
        self
    }

    pub fn referrer_tag(mut self, tag: &str, digest: &str, subject: &str) -> Self {
        self.inv.tags.push(TagInfo { tag: tag.into(), digest: digest.into(), version: None, referrer_of: Some(subject.into()) });
        self
    }

    /// What verifying `digest`'s signatures concluded (the service fills this in).
    pub fn verdict(mut self, digest: &str, verified: bool, says: &str) -> Self {
        self.inv.verified.insert(digest.into(), portolan_inventory::Verdict { verified, says: says.into() });
        self
    }

    pub fn unreadable(mut self, tag: &str) -> Self {
        self.inv.unreadable.push(Unreadable { tag: tag.into(), message: "500 from the registry".into() });
        self
    }

    pub fn build(self) -> Inventory {
        self.inv
    }
}

/// A valid raw policy on [`REGISTRY`] for `team/*`, keeping nothing yet (set a rule).
pub fn raw() -> RawPolicy {
    RawPolicy { name: "test".into(), registry: REGISTRY.into(), repositories: vec!["team/*".into()], ..RawPolicy::default() }
}

pub fn policy(edit: impl FnOnce(&mut RawPolicy)) -> Policy {
    let mut raw = raw();
    edit(&mut raw);
    validate(raw, &[REGISTRY]).unwrap_or_else(|e| panic!("invalid test policy: {e:?}"))
}
