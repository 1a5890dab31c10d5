//! Properties on random repositories (indexes with children, referrers with and without their
//! subject, random dates and versions, unreadable tags) and random policies.

use std::collections::{BTreeMap, HashMap, HashSet};

use globset::Glob;
use portolan_inventory::{BlobRef, DateSource, Dated, Inventory, ManifestInfo, TagInfo, Unreadable, semver_of};
use portolan_retention::{Decision, Deletion, MostRecent, OrphanMode, Plan, Policy, RankBy, RawPolicy, plan, simulate_apply, validate};
use portolan_types::ArtifactKind;
use proptest::prelude::*;

use crate::builder::{NOW, REGISTRY, REPOSITORY, days_ago};

#[derive(Clone, Debug)]
struct ManifestSpec {
    kind: u8,
    picks: Vec<u8>,
    created: Option<u8>,
    first_seen_only: bool,
    first_seen: Option<u8>,
    blobs: Vec<u8>,
    missing: bool,
    orphan: bool,
    subject_field: bool,
    in_map: bool,
    tagged: bool,
}

#[derive(Clone, Debug)]
struct TagSpec {
    name: (u8, u8, u8),
    target: u8,
    unreadable: bool,
}

#[derive(Clone, Debug)]
struct PolicySpec {
    protected: u8,
    patterns: u8,
    versions: bool,
    most_recent: Option<(u8, u8)>,
    newer_than: Option<u8>,
    delete_orphans: bool,
    cap: u32,
}

fn manifest_spec() -> impl Strategy<Value = ManifestSpec> {
    (
        (0u8..100, prop::collection::vec(any::<u8>(), 1..4), prop::option::weighted(0.85, 0u8..120), any::<bool>()),
        (prop::option::of(0u8..120), prop::collection::vec(0u8..6, 0..3), prop::bool::weighted(0.05), prop::bool::weighted(0.15)),
        (any::<bool>(), any::<bool>(), prop::bool::weighted(0.4)),
    )
        .prop_map(
            |((kind, picks, created, first_seen_only), (first_seen, blobs, missing, orphan), (subject_field, in_map, tagged))| {
                ManifestSpec { kind, picks, created, first_seen_only, first_seen, blobs, missing, orphan, subject_field, in_map, tagged }
            },
        )
}

fn tag_spec() -> impl Strategy<Value = TagSpec> {
    ((0u8..5, 0u8..4, 0u8..12), any::<u8>(), prop::bool::weighted(0.05)).prop_map(|(name, target, unreadable)| TagSpec {
        name,
        target,
        unreadable,
    })
}

fn policy_spec() -> impl Strategy<Value = PolicySpec> {
    (
        0u8..8,
        0u8..8,
        any::<bool>(),
        prop::option::of((1u8..6, 0u8..3)),
        prop::option::of(1u8..60),
        any::<bool>(),
        prop_oneof![Just(100_000u32), 1u32..5],
    )
        .prop_map(|(protected, patterns, versions, most_recent, newer_than, delete_orphans, cap)| PolicySpec {
            protected,
            patterns,
            versions,
            most_recent,
            newer_than,
            delete_orphans,
            cap,
        })
}

fn digest(i: usize) -> String {
    format!("sha256:m{i:02}")
}

fn build(manifests: &[ManifestSpec], tags: &[TagSpec]) -> Inventory {
    let n = manifests.len();
    let mut inv = Inventory {
        registry: REGISTRY.into(),
        repository: REPOSITORY.into(),
        taken_at: NOW,
        tags: Vec::new(),
        manifests: BTreeMap::new(),
        referrers: BTreeMap::new(),
        unreadable: Vec::new(),
        verified: Default::default(),
    };
    let mut referrer_tags = Vec::new();
    for (i, s) in manifests.iter().enumerate() {
        let kind = match s.kind {
            0..60 => ArtifactKind::Image,
            60..75 => ArtifactKind::Index,
            75..90 => ArtifactKind::Signature,
            _ => ArtifactKind::Sbom,
        };
        let mut m = ManifestInfo {
            digest: digest(i),
            media_type: String::new(),
            kind,
            manifest_size: 100 + i as u64,
            blobs: s.blobs.iter().map(|&b| BlobRef { digest: format!("sha256:b{b}"), size: (u64::from(b) + 1) * 1000 }).collect(),
            children: Vec::new(),
            subject: None,
            created: s.created.map(|d| Dated {
                at: days_ago(i64::from(d)),
                source: if s.first_seen_only { DateSource::FirstSeen } else { DateSource::Config },
            }),
            first_seen: s.first_seen.map(|d| days_ago(i64::from(d))),
            platforms: Vec::new(),
            missing: s.missing,
        };
        // Edges go from lower to higher positions: children after their index, referrers after
        // their subject. Real manifests cannot form cycles (digests are content hashes).
        match kind {
            ArtifactKind::Index if i + 1 < n => {
                m.children = s.picks.iter().map(|&p| digest(i + 1 + usize::from(p) % (n - i - 1))).collect();
            }
            ArtifactKind::Signature | ArtifactKind::Sbom => {
                let subject =
                    if s.orphan || i == 0 { format!("sha256:gone{}", s.picks[0] % 3) } else { digest(usize::from(s.picks[0]) % i) };
                if s.subject_field || !s.in_map {
                    m.subject = Some(subject.clone());
                }
                if s.in_map {
                    inv.referrers.entry(subject.clone()).or_default().push(digest(i));
                }
                if s.tagged {
                    referrer_tags.push(TagInfo {
                        tag: format!("{}-{i}.sig", subject.replace(':', "-")),
                        digest: digest(i),
                        version: None,
                        referrer_of: Some(subject),
                    });
                }
            }
            _ => {}
        }
        inv.manifests.insert(digest(i), m);
    }
    let mut names = HashSet::new();
    for t in tags {
        let (kind, a, b) = t.name;
        let name = match kind {
            0 => ["latest", "stable", "nightly", "edge"][usize::from(a)].to_string(),
            1 => format!("v{a}.{b}.0"),
            2 => format!("build-{a}{b}"),
            3 => format!("release-{a}.{b}"),
            _ => format!("{a}.{b}"),
        };
        if !names.insert(name.clone()) {
            continue;
        }
        let target =
            if n == 0 || t.target % 25 == 0 { format!("sha256:unknown{}", t.target % 2) } else { digest(usize::from(t.target) % n) };
        if t.unreadable {
            inv.unreadable.push(Unreadable { tag: name.clone(), message: "timeout".into() });
        }
        inv.tags.push(TagInfo { version: semver_of(&name), tag: name, digest: target, referrer_of: None });
    }
    inv.tags.extend(referrer_tags);
    inv
}

const PROTECTED: [&str; 3] = ["latest", "v1.*", "release-*"];
const PATTERNS: [&str; 3] = ["build-1*", "v2.*", "stable"];

fn make_policy(s: &PolicySpec) -> Policy {
    let pick = |mask: u8, pool: [&str; 3]| -> Vec<String> {
        pool.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, p)| p.to_string()).collect()
    };
    let mut raw = RawPolicy {
        name: "random".into(),
        registry: REGISTRY.into(),
        repositories: vec!["team/*".into()],
        protected: pick(s.protected, PROTECTED),
        orphans: if s.delete_orphans { OrphanMode::Delete } else { OrphanMode::Report },
        max_deletions: s.cap,
        ..RawPolicy::default()
    };
    raw.keep.tag_patterns = pick(s.patterns, PATTERNS);
    raw.keep.versions = s.versions.then(|| ">=2.0.0, <3".to_string());
    raw.keep.most_recent = s.most_recent.map(|(count, by)| MostRecent {
        count: u32::from(count),
        by: [RankBy::Version, RankBy::Created, RankBy::FirstSeen][usize::from(by)],
    });
    raw.keep.newer_than_days = s.newer_than.map(u32::from);
    if raw.keep.is_empty() && raw.protected.is_empty() {
        raw.protected.push("latest".into());
    }
    validate(raw, &[REGISTRY]).expect("generated policies are valid")
}

fn units(plan: &Plan) -> impl Iterator<Item = &Deletion> {
    plan.deletions.iter().chain(&plan.deferred)
}

fn inventory() -> impl Strategy<Value = Inventory> {
    (prop::collection::vec(manifest_spec(), 0..30), prop::collection::vec(tag_spec(), 0..60)).prop_map(|(m, t)| build(&m, &t))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// (a) protected ∩ deleted = ∅; (b) what a kept tag points at is never deleted; (e) every
    /// tag a unit removes is decided Delete (Deferred beyond the cap); and the plan's shape.
    #[test]
    fn plans_are_safe_and_consistent(inv in inventory(), spec in policy_spec()) {
        let policy = make_policy(&spec);
        let plan = plan(&policy, &inv, NOW);
        let protected: Vec<_> = policy.raw().protected.iter().map(|p| Glob::new(p).unwrap().compile_matcher()).collect();
        let decision: HashMap<&str, &Decision> = plan.tags.iter().map(|t| (t.tag.as_str(), &t.decision)).collect();
        let manifest_decision: HashMap<&str, &Decision> = plan.manifests.iter().map(|m| (m.digest.as_str(), &m.decision)).collect();
        prop_assert_eq!(plan.tags.len(), inv.tags.len());
        prop_assert_eq!(plan.manifests.len(), inv.manifests.len());

        let mut removed_tags: HashSet<&str> = HashSet::new();
        let mut removed_manifests: HashSet<&str> = HashSet::new();
        for (u, unit) in units(&plan).enumerate() {
            let planned = u < plan.deletions.len();
            for t in unit.tags() {
                prop_assert!(removed_tags.insert(t), "tag {} in two units", t);
                // (e)
                let d = decision[t];
                prop_assert!(if planned { d.is_delete() } else { matches!(d, Decision::Deferred { .. }) }, "{t}: {d:?}");
                // (a)
                let info = inv.tags.iter().find(|i| i.tag == t).unwrap();
                if info.referrer_of.is_none() {
                    prop_assert!(!protected.iter().any(|g| g.is_match(t)), "protected tag {} deleted", t);
                }
            }
            for m in unit.manifests() {
                prop_assert!(removed_manifests.insert(m), "manifest {} in two units", m);
                let info = &inv.manifests[m];
                prop_assert!(!info.missing);
                let d = manifest_decision[m];
                prop_assert!(if planned { d.is_delete() } else { matches!(d, Decision::Deferred { .. }) }, "{m}: {d:?}");
                // Deleting a manifest removes every tag on it: all of them are in the unit.
                for t in inv.tags.iter().filter(|t| t.digest == m) {
                    prop_assert!(unit.tags().contains(&t.tag.as_str()), "tag {} on {} not in its unit", t.tag, m);
                }
            }
        }
        for t in &plan.tags {
            prop_assert_eq!(t.decision.is_targeted(), removed_tags.contains(t.tag.as_str()), "{}", t.tag);
            // (b)
            if t.referrer_of.is_none() && t.decision.is_keep() {
                prop_assert!(!removed_manifests.contains(t.digest.as_str()), "kept tag {} loses {}", t.tag, t.digest);
            }
            if t.referrer_of.is_none() && protected.iter().any(|g| g.is_match(&t.tag)) {
                prop_assert!(t.decision.is_keep());
            }
        }
        // A kept index keeps its children; a kept subject its referrers.
        for m in inv.manifests.values() {
            if manifest_decision[m.digest.as_str()].is_keep() {
                for c in m.children.iter().chain(inv.referrers.get(&m.digest).into_iter().flatten()) {
                    if let Some(d) = manifest_decision.get(c.as_str()) {
                        prop_assert!(d.is_keep(), "{} kept, {} not", m.digest, c);
                    }
                }
            }
            if let Some(s) = &m.subject && manifest_decision.get(s.as_str()).is_some_and(|d| d.is_keep()) {
                prop_assert!(manifest_decision[m.digest.as_str()].is_keep());
            }
        }
        for m in &plan.manifests {
            prop_assert_eq!(m.decision.is_targeted(), removed_manifests.contains(m.digest.as_str()), "{}", m.digest);
        }
        prop_assert!(plan.deletions.len() <= policy.max_deletions() as usize);
        prop_assert_eq!(plan.summary.bytes_freed, plan.deletions.iter().map(Deletion::bytes_freed).sum::<u64>());
        prop_assert_eq!(plan.summary.tags_kept + plan.summary.tags_deleted + plan.summary.tags_deferred, plan.tags.len());
        // Same input, same plan.
        prop_assert_eq!(&plan, &portolan_retention::plan(&policy, &inv, NOW));
    }

    /// (c) Planning again on what the plan leaves behind deletes nothing more; and what a kept
    /// tag pointed at is still there.
    #[test]
    fn planning_again_deletes_nothing_new(inv in inventory(), mut spec in policy_spec()) {
        spec.cap = 100_000;
        let policy = make_policy(&spec);
        let first = plan(&policy, &inv, NOW);
        prop_assert!(first.deferred.is_empty());
        let after = simulate_apply(&inv, &first);
        for t in first.tags.iter().filter(|t| t.decision.is_keep()) {
            prop_assert!(after.tags.iter().any(|a| a.tag == t.tag && a.digest == t.digest), "kept tag {} gone", t.tag);
            if inv.manifests.contains_key(&t.digest) {
                prop_assert!(after.manifests.contains_key(&t.digest));
            }
        }
        let second = plan(&policy, &after, NOW);
        prop_assert!(second.deletions.is_empty(), "second run deletes {:?}", second.deletions);
        prop_assert!(second.tags.iter().all(|t| t.decision.is_keep()));
    }

    /// (d) A plan never reaches outside its inventory, and decides nothing for a repository the
    /// policy does not cover.
    #[test]
    fn scopes_never_leak(mut inv in inventory(), spec in policy_spec()) {
        let policy = make_policy(&spec);
        let plan = plan(&policy, &inv, NOW);
        let tags: HashSet<&str> = inv.tags.iter().map(|t| t.tag.as_str()).collect();
        for unit in units(&plan) {
            prop_assert!(unit.tags().iter().all(|t| tags.contains(t)));
            prop_assert!(unit.manifests().iter().all(|m| inv.manifests.contains_key(*m)));
            prop_assert!(inv.manifests.contains_key(unit.digest()));
        }
        inv.repository = "other/api".into();
        let outside = portolan_retention::plan(&policy, &inv, NOW);
        prop_assert!(outside.deletions.is_empty() && outside.deferred.is_empty() && outside.tags.is_empty());
        inv.repository = "team/api/nested".into();
        prop_assert!(portolan_retention::plan(&policy, &inv, NOW).deletions.is_empty());
    }
}
