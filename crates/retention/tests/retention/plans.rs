//! Table tests: one small repository per rule, with a fixed `now`.

use portolan_inventory::DateSource;
use portolan_retention::{Decision, DeleteReason, Deletion, KeepReason, MostRecent, OrphanMode, Plan, RankBy, diff, plan, simulate_apply};
use portolan_types::ArtifactKind;

use crate::builder::{Inv, NOW, policy};

fn tag<'a>(plan: &'a Plan, tag: &str) -> &'a Decision {
    &plan.tags.iter().find(|t| t.tag == tag).unwrap_or_else(|| panic!("no decision for tag {tag}")).decision
}

fn manifest<'a>(plan: &'a Plan, digest: &str) -> &'a Decision {
    &plan.manifests.iter().find(|m| m.digest == digest).unwrap_or_else(|| panic!("no decision for {digest}")).decision
}

fn keep(reason: KeepReason) -> Decision {
    Decision::Keep(reason)
}

fn most_recent(count: u32, by: RankBy) -> Option<MostRecent> {
    Some(MostRecent { count, by })
}

fn deleted_manifests(plan: &Plan) -> Vec<&str> {
    plan.deletions.iter().flat_map(Deletion::manifests).collect()
}

#[test]
fn each_keep_reason() {
    let inv = Inv::new()
        .image("sha256:latest", Some(400), &[])
        .image("sha256:pinned", Some(300), &[])
        .image("sha256:v2", Some(200), &[])
        .image("sha256:v1.9", Some(100), &[])
        .image("sha256:v1.8", Some(90), &[])
        .image("sha256:fresh", Some(3), &[])
        .image("sha256:undated", None, &[])
        .image("sha256:old", Some(45), &[])
        .tag("latest", "sha256:latest")
        .tag("pinned-db", "sha256:pinned")
        .tag("v2.0.0", "sha256:v2")
        .tag("v1.9.0", "sha256:v1.9")
        .tag("v1.8.0", "sha256:v1.8")
        .tag("fresh", "sha256:fresh")
        .tag("never-dated", "sha256:undated")
        .tag("old", "sha256:old")
        .build();
    let p = policy(|r| {
        r.protected = vec!["latest".into()];
        r.keep.tag_patterns = vec!["pinned-*".into()];
        r.keep.versions = Some(">=2.0.0".into());
        r.keep.most_recent = most_recent(2, RankBy::Version);
        r.keep.newer_than_days = Some(30);
    });
    let plan = plan(&p, &inv, NOW);
    assert_eq!(tag(&plan, "latest"), &keep(KeepReason::Protected { pattern: "latest".into() }));
    assert_eq!(tag(&plan, "pinned-db"), &keep(KeepReason::TagPattern { pattern: "pinned-*".into() }));
    assert_eq!(tag(&plan, "v2.0.0"), &keep(KeepReason::Version { requirement: ">=2.0.0".into() }));
    // v2.0.0 is rank 1 (kept by the version rule first), v1.9.0 rank 2.
    assert_eq!(tag(&plan, "v1.9.0"), &keep(KeepReason::MostRecent { rank: 2, of: 3, count: 2, by: RankBy::Version }));
    assert_eq!(tag(&plan, "fresh"), &keep(KeepReason::NewerThan { days: 30, age_source: DateSource::Config }));
    assert_eq!(tag(&plan, "never-dated"), &keep(KeepReason::NoDate));
    let Decision::Delete(DeleteReason::NoRuleKeeps { tried }) = tag(&plan, "v1.8.0") else { panic!("v1.8.0 is deleted") };
    assert_eq!(
        tried,
        &vec![
            "matches none of the keep patterns".to_string(),
            "version 1.8.0 does not match \">=2.0.0\"".into(),
            "rank 3 of 3 by version, beyond the 2 kept".into(),
            "created 90 days ago, older than 30 days".into(),
        ]
    );
    assert_eq!(
        tag(&plan, "v1.8.0").describe(),
        "deleted: matches none of the keep patterns; version 1.8.0 does not match \">=2.0.0\"; rank 3 of 3 by version, beyond the 2 \
         kept; created 90 days ago, older than 30 days"
    );
    let Decision::Delete(DeleteReason::NoRuleKeeps { tried }) = tag(&plan, "old") else { panic!("old is deleted") };
    assert!(tried.contains(&"not a version, so \">=2.0.0\" does not apply".to_string()), "{tried:?}");
    assert!(tried.contains(&"not a version, so not ranked by version".to_string()), "{tried:?}");

    assert_eq!(manifest(&plan, "sha256:latest"), &keep(KeepReason::KeptByTag { tag: "latest".into() }));
    assert_eq!(manifest(&plan, "sha256:old"), &Decision::Delete(DeleteReason::TagsDeleted));
    assert_eq!(deleted_manifests(&plan), vec!["sha256:v1.8", "sha256:old"], "oldest first");
    assert_eq!(plan.summary.tags_kept, 6);
    assert_eq!(plan.summary.tags_deleted, 2);
    assert_eq!(plan.summary.manifests_deleted, 2);
}

/// "Keep verified artifacts" keeps what verified, says why the others were not kept (their
/// reason, or that they are unsigned), and takes their signatures along; "keep signed" keeps
/// anything a signature refers to, verified or not.
#[test]
fn verified_and_signed_artifacts_are_kept_with_the_reason() {
    let inv = Inv::new()
        .image("sha256:ci", Some(100), &[])
        .image("sha256:stranger", Some(100), &[])
        .image("sha256:unsigned", Some(100), &[])
        .image("sha256:unknown", Some(100), &[])
        .referrer("sha256:ci-sig", ArtifactKind::Signature, "sha256:ci", &[])
        .referrer("sha256:stranger-sig", ArtifactKind::Signature, "sha256:stranger", &[])
        .referrer("sha256:unknown-sbom", ArtifactKind::Sbom, "sha256:unknown", &[])
        .tag("1.0.0", "sha256:ci")
        .tag("1.1.0", "sha256:stranger")
        .tag("1.2.0", "sha256:unsigned")
        .tag("1.3.0", "sha256:unknown")
        .verdict("sha256:ci", true, "verified by policy ci (release)")
        .verdict("sha256:stranger", false, "not verified: made with a key policy ci does not trust")
        .verdict("sha256:unsigned", false, "unsigned")
        .build();
    let verified = plan(&policy(|r| r.keep.verified = true), &inv, NOW);
    assert_eq!(tag(&verified, "1.0.0"), &keep(KeepReason::Verified { says: "verified by policy ci (release)".into() }));
    assert_eq!(tag(&verified, "1.0.0").describe(), "kept: its signature is verified by policy ci (release)");
    assert_eq!(manifest(&verified, "sha256:ci-sig"), &keep(KeepReason::ReferrerOf { subject: "sha256:ci".into() }));
    let Decision::Delete(DeleteReason::NoRuleKeeps { tried }) = tag(&verified, "1.1.0") else { panic!("1.1.0 is deleted") };
    assert_eq!(tried, &vec!["not verified: made with a key policy ci does not trust".to_string()]);
    let Decision::Delete(DeleteReason::NoRuleKeeps { tried }) = tag(&verified, "1.2.0") else { panic!("1.2.0 is deleted") };
    assert_eq!(tried, &vec!["unsigned".to_string()]);
    // Nothing said about it: no policy covered it.
    let Decision::Delete(DeleteReason::NoRuleKeeps { tried }) = tag(&verified, "1.3.0") else { panic!("1.3.0 is deleted") };
    assert_eq!(tried, &vec!["not verified (no trust policy covers it)".to_string()]);
    assert!(deleted_manifests(&verified).contains(&"sha256:stranger-sig"), "a deleted artifact takes its signature");

    let signed = plan(&policy(|r| r.keep.signed = true), &inv, NOW);
    assert_eq!(tag(&signed, "1.0.0"), &keep(KeepReason::Signed));
    assert_eq!(tag(&signed, "1.1.0"), &keep(KeepReason::Signed));
    assert!(matches!(tag(&signed, "1.2.0"), Decision::Delete(_)));
    assert!(matches!(tag(&signed, "1.3.0"), Decision::Delete(_)), "an SBOM is not a signature");
    // Either rule alone makes a policy (it keeps something).
    assert!(portolan_retention::validate(crate::builder::raw(), &["hub"]).is_err());
    let mut raw = crate::builder::raw();
    raw.keep.verified = true;
    assert!(portolan_retention::validate(raw.clone(), &["hub"]).is_ok());
    // Stored policies without the rules read and write as before.
    let json = serde_json::to_value(&raw).unwrap();
    assert_eq!(json["keep"]["verified"], true);
    assert!(json["keep"].get("signed").is_none(), "{json}");
}

#[test]
fn describes_in_plain_words() {
    assert_eq!(KeepReason::Protected { pattern: "latest".into() }.describe(), "kept: protected by pattern \"latest\"");
    assert_eq!(
        KeepReason::MostRecent { rank: 3, of: 40, count: 10, by: RankBy::Created }.describe(),
        "kept: rank 3 of 40 by created date, within the 10 most recent"
    );
    assert_eq!(
        DeleteReason::NoRuleKeeps {
            tried: vec!["rank 12 of 40 by version, beyond the 10 kept".into(), "created 45 days ago, older than 30 days".into()]
        }
        .describe(),
        "deleted: rank 12 of 40 by version, beyond the 10 kept; created 45 days ago, older than 30 days"
    );
    assert_eq!(
        Decision::Deferred { cap: 5, reason: DeleteReason::TagsDeleted }.describe(),
        "deferred to a later run (this run stops at 5 deletions); deleted: every tag pointing at it is deleted"
    );
    assert_eq!(
        DeleteReason::WithIndex { index: "sha256:0123456789abcdef".into() }.describe(),
        "deleted with its index sha256:0123456789ab"
    );
}

#[test]
fn ranks_by_created_and_first_seen() {
    let inv = Inv::new()
        .image("sha256:a", Some(1), &[])
        .image("sha256:b", Some(2), &[])
        .image("sha256:c", Some(3), &[])
        .first_seen_only("sha256:c", 3)
        .image("sha256:d", None, &[])
        .tag("a", "sha256:a")
        .tag("b", "sha256:b")
        .tag("c", "sha256:c")
        .tag("d", "sha256:d")
        .build();
    let by_created = plan(&policy(|r| r.keep.most_recent = most_recent(2, RankBy::Created)), &inv, NOW);
    assert_eq!(tag(&by_created, "b"), &keep(KeepReason::MostRecent { rank: 2, of: 3, count: 2, by: RankBy::Created }));
    assert!(tag(&by_created, "c").is_delete());
    // Undated, with no newer-than rule: not ranked, so deleted (with the reason).
    let Decision::Delete(DeleteReason::NoRuleKeeps { tried }) = tag(&by_created, "d") else { panic!() };
    assert_eq!(tried, &vec!["no created date, so not ranked by created date".to_string()]);

    let mut inv2 = inv.clone();
    inv2.manifests.get_mut("sha256:a").unwrap().first_seen = Some(crate::builder::days_ago(10));
    let by_first_seen = plan(&policy(|r| r.keep.most_recent = most_recent(1, RankBy::FirstSeen)), &inv2, NOW);
    assert_eq!(tag(&by_first_seen, "b"), &keep(KeepReason::MostRecent { rank: 1, of: 3, count: 1, by: RankBy::FirstSeen }));
    assert!(tag(&by_first_seen, "a").is_delete());
}

#[test]
fn newer_than_uses_first_seen_and_boundaries() {
    let inv = Inv::new()
        .image("sha256:seen", Some(5), &[])
        .first_seen_only("sha256:seen", 5)
        .image("sha256:edge", Some(30), &[])
        .tag("seen", "sha256:seen")
        .tag("edge", "sha256:edge")
        .build();
    let plan = plan(&policy(|r| r.keep.newer_than_days = Some(30)), &inv, NOW);
    assert_eq!(tag(&plan, "seen"), &keep(KeepReason::NewerThan { days: 30, age_source: DateSource::FirstSeen }));
    // Exactly 30 days old is not newer than 30 days.
    assert!(tag(&plan, "edge").is_delete());
}

/// Harbor #8717: "keep the 1 most recent" kept nothing, because deleting the other tag by
/// digest removed the kept tag with it.
#[test]
fn keep_one_of_two_tags_on_one_digest() {
    let inv = Inv::new()
        .image("sha256:new", Some(1), &[("sha256:layer", 1000)])
        .image("sha256:old", Some(50), &[("sha256:oldlayer", 500)])
        .tag("build-2", "sha256:new")
        .tag("build-1", "sha256:new")
        .tag("build-0", "sha256:old")
        .build();
    let plan = plan(&policy(|r| r.keep.most_recent = most_recent(1, RankBy::Created)), &inv, NOW);
    // Same date: ties go by name, so build-1 is rank 1.
    assert_eq!(tag(&plan, "build-1"), &keep(KeepReason::MostRecent { rank: 1, of: 3, count: 1, by: RankBy::Created }));
    assert!(tag(&plan, "build-2").is_delete());
    assert_eq!(manifest(&plan, "sha256:new"), &keep(KeepReason::KeptByTag { tag: "build-1".into() }));
    assert_eq!(
        plan.deletions,
        vec![
            Deletion::DeleteManifest {
                digest: "sha256:old".into(),
                tags: vec!["build-0".into()],
                children: vec![],
                referrers: vec![],
                bytes_freed: 600,
            },
            Deletion::Untag { tag: "build-2".into(), digest: "sha256:new".into() },
        ]
    );
    let after = simulate_apply(&inv, &plan);
    assert_eq!(after.tags.iter().map(|t| t.tag.as_str()).collect::<Vec<_>>(), vec!["build-1"]);
    assert!(after.manifests.contains_key("sha256:new"));
}

#[test]
fn index_children_go_with_their_index_unless_shared_with_a_kept_one() {
    let inv = Inv::new()
        .index("sha256:i-old", Some(60), &["sha256:amd-old", "sha256:shared"])
        .image("sha256:amd-old", Some(60), &[("sha256:l-old", 10)])
        .image("sha256:shared", Some(60), &[("sha256:l-shared", 20)])
        .index("sha256:i-new", Some(1), &["sha256:shared", "sha256:amd-new"])
        .image("sha256:amd-new", Some(1), &[("sha256:l-new", 30)])
        .tag("v1", "sha256:i-old")
        // A tag on a platform image of the deleted index: deleted with the index, not alone.
        .tag("v1-amd64", "sha256:amd-old")
        .tag("v2", "sha256:i-new")
        .build();
    let plan = plan(&policy(|r| r.keep.most_recent = most_recent(1, RankBy::Version)), &inv, NOW);
    assert_eq!(
        plan.deletions,
        vec![Deletion::DeleteManifest {
            digest: "sha256:i-old".into(),
            tags: vec!["v1".into(), "v1-amd64".into()],
            children: vec!["sha256:amd-old".into()],
            referrers: vec![],
            bytes_freed: 100 + 100 + 10,
        }]
    );
    assert_eq!(manifest(&plan, "sha256:shared"), &keep(KeepReason::ChildOf { index: "sha256:i-new".into() }));
    assert_eq!(manifest(&plan, "sha256:amd-old"), &Decision::Delete(DeleteReason::WithIndex { index: "sha256:i-old".into() }));
    assert_eq!(manifest(&plan, "sha256:amd-new"), &keep(KeepReason::ChildOf { index: "sha256:i-new".into() }));
}

#[test]
fn a_tag_on_a_child_of_a_kept_index_is_only_untagged() {
    let inv = Inv::new()
        .index("sha256:idx", Some(1), &["sha256:amd"])
        .image("sha256:amd", Some(1), &[])
        .tag("v3", "sha256:idx")
        .tag("v2-amd64", "sha256:amd")
        .build();
    let plan = plan(&policy(|r| r.keep.most_recent = most_recent(1, RankBy::Version)), &inv, NOW);
    assert_eq!(plan.deletions, vec![Deletion::Untag { tag: "v2-amd64".into(), digest: "sha256:amd".into() }]);
}

#[test]
fn a_subject_goes_with_its_signature_sbom_and_the_sbom_signature() {
    let inv = Inv::new()
        .image("sha256:old", Some(90), &[("sha256:l1", 1000)])
        .referrer("sha256:sig", ArtifactKind::Signature, "sha256:old", &[("sha256:sigblob", 5)])
        .referrer("sha256:sbom", ArtifactKind::Sbom, "sha256:old", &[("sha256:sbomblob", 50)])
        .referrer("sha256:sbom-sig", ArtifactKind::Signature, "sha256:sbom", &[("sha256:sbomsigblob", 7)])
        .referrer_tag("sha256-old.sig", "sha256:sig", "sha256:old")
        .image("sha256:new", Some(1), &[("sha256:l1", 1000)])
        .referrer("sha256:newsig", ArtifactKind::Signature, "sha256:new", &[])
        .referrer_tag("sha256-new.sig", "sha256:newsig", "sha256:new")
        .tag("1.0.0", "sha256:old")
        .tag("2.0.0", "sha256:new")
        .build();
    let plan = plan(&policy(|r| r.keep.versions = Some(">=2".into())), &inv, NOW);
    assert_eq!(
        plan.deletions,
        vec![Deletion::DeleteManifest {
            digest: "sha256:old".into(),
            tags: vec!["1.0.0".into(), "sha256-old.sig".into()],
            children: vec![],
            referrers: vec!["sha256:sbom".into(), "sha256:sbom-sig".into(), "sha256:sig".into()],
            // Four manifests and their own blobs; l1 is shared with the kept image.
            bytes_freed: 400 + 5 + 50 + 7,
        }]
    );
    assert_eq!(tag(&plan, "sha256-old.sig"), &Decision::Delete(DeleteReason::WithSubject { subject: "sha256:old".into() }));
    assert_eq!(manifest(&plan, "sha256:sbom-sig"), &Decision::Delete(DeleteReason::WithSubject { subject: "sha256:sbom".into() }));
    assert_eq!(tag(&plan, "sha256-new.sig"), &keep(KeepReason::ReferrerOf { subject: "sha256:new".into() }));
    assert_eq!(plan.summary.tags_deleted, 2);
    assert_eq!(plan.summary.manifests_deleted, 4);
}

#[test]
fn a_referrer_a_kept_tag_points_at_stays() {
    let inv = Inv::new()
        .image("sha256:old", Some(90), &[])
        .referrer("sha256:sbom", ArtifactKind::Sbom, "sha256:old", &[])
        .tag("old", "sha256:old")
        .tag("sbom-keep", "sha256:sbom")
        .build();
    let plan = plan(&policy(|r| r.keep.tag_patterns = vec!["*-keep".into()]), &inv, NOW);
    assert_eq!(deleted_manifests(&plan), vec!["sha256:old"]);
    assert_eq!(manifest(&plan, "sha256:sbom"), &keep(KeepReason::KeptByTag { tag: "sbom-keep".into() }));
    // Once the subject is gone, the SBOM is an orphan, still kept by its tag.
    let after = simulate_apply(&inv, &plan);
    let again = portolan_retention::plan(&policy(|r| r.keep.tag_patterns = vec!["*-keep".into()]), &after, NOW);
    assert!(again.deletions.is_empty());
    assert_eq!(again.orphans.len(), 1);
}

#[test]
fn protected_beats_an_otherwise_deleted_tag() {
    let inv = Inv::new()
        .image("sha256:a", Some(500), &[])
        .image("sha256:b", Some(1), &[])
        .tag("release-1", "sha256:a")
        .tag("nightly", "sha256:b")
        .build();
    let plan = plan(
        &policy(|r| {
            r.keep.most_recent = most_recent(1, RankBy::Created);
            r.protected = vec!["v*".into(), "release-*".into()];
        }),
        &inv,
        NOW,
    );
    assert_eq!(tag(&plan, "release-1"), &keep(KeepReason::Protected { pattern: "release-*".into() }));
    assert!(plan.deletions.is_empty());
    assert_eq!(tag(&plan, "release-1").describe(), "kept: protected by pattern \"release-*\"");
}

#[test]
fn undated_tags_are_kept_when_the_policy_keeps_recent_ones() {
    let inv = Inv::new().image("sha256:x", None, &[]).image("sha256:y", Some(99), &[]).tag("x", "sha256:x").tag("y", "sha256:y").build();
    let plan = plan(&policy(|r| r.keep.newer_than_days = Some(7)), &inv, NOW);
    assert_eq!(tag(&plan, "x"), &keep(KeepReason::NoDate));
    assert!(plan.tags.iter().find(|t| t.tag == "x").unwrap().age.is_none());
    assert!(tag(&plan, "y").is_delete());
}

#[test]
fn unreadable_tags_are_kept() {
    let inv = Inv::new()
        .image("sha256:a", Some(100), &[])
        .image("sha256:gone", Some(100), &[])
        .missing("sha256:gone")
        .tag("listed-unreadable", "sha256:a")
        .tag("unknown-digest", "sha256:nowhere")
        .tag("missing", "sha256:gone")
        .unreadable("listed-unreadable")
        .unreadable("never-listed")
        .build();
    let plan = plan(&policy(|r| r.keep.newer_than_days = Some(7)), &inv, NOW);
    for t in ["listed-unreadable", "unknown-digest", "missing"] {
        assert_eq!(tag(&plan, t), &keep(KeepReason::Unreadable), "{t}");
    }
    assert_eq!(manifest(&plan, "sha256:gone"), &keep(KeepReason::Missing));
    assert!(plan.deletions.is_empty());
    assert!(plan.notes.iter().any(|n| n.contains("never-listed")), "{:?}", plan.notes);
}

#[test]
fn orphans_are_reported_or_deleted() {
    let inv = Inv::new()
        .image("sha256:img", Some(1), &[])
        .tag("v1", "sha256:img")
        .referrer("sha256:lost-sig", ArtifactKind::Signature, "sha256:deleted-long-ago", &[("sha256:sigblob", 9)])
        .referrer_tag("sha256-deleted-long-ago.sig", "sha256:lost-sig", "sha256:deleted-long-ago")
        // A referrer tag naming an unknown subject, pointing at an unreadable manifest.
        .referrer_tag("sha256-other.att", "sha256:unknown", "sha256:other")
        .build();
    let orphans = vec![
        portolan_retention::Orphan { digest: "sha256:lost-sig".into(), subject: "sha256:deleted-long-ago".into() },
        portolan_retention::Orphan { digest: "sha256:unknown".into(), subject: "sha256:other".into() },
    ];
    let report = plan(&policy(|r| r.protected = vec!["v*".into()]), &inv, NOW);
    assert_eq!(report.orphans, orphans);
    assert!(report.deletions.is_empty());
    assert_eq!(manifest(&report, "sha256:lost-sig"), &keep(KeepReason::Orphan { subject: "sha256:deleted-long-ago".into() }));
    assert_eq!(tag(&report, "sha256-deleted-long-ago.sig"), &keep(KeepReason::Orphan { subject: "sha256:deleted-long-ago".into() }));

    let delete = plan(
        &policy(|r| {
            r.protected = vec!["v*".into()];
            r.orphans = OrphanMode::Delete;
        }),
        &inv,
        NOW,
    );
    assert_eq!(delete.orphans, orphans);
    assert_eq!(
        delete.deletions,
        vec![Deletion::DeleteManifest {
            digest: "sha256:lost-sig".into(),
            tags: vec!["sha256-deleted-long-ago.sig".into()],
            children: vec![],
            referrers: vec![],
            bytes_freed: 109,
        }]
    );
    assert_eq!(manifest(&delete, "sha256:lost-sig"), &Decision::Delete(DeleteReason::Orphan { subject: "sha256:deleted-long-ago".into() }));
    // Nothing unknown is deleted: the unreadable orphan stays.
    assert_eq!(tag(&delete, "sha256-other.att"), &keep(KeepReason::Unreadable));
}

#[test]
fn the_cap_defers_the_newest_units() {
    let mut b = Inv::new();
    for i in 1..=5 {
        b = b.image(&format!("sha256:{i}"), Some(100 - i), &[(&format!("sha256:l{i}"), 1)]).tag(&format!("t{i}"), &format!("sha256:{i}"));
    }
    let inv = b.image("sha256:keep", Some(1), &[]).tag("latest", "sha256:keep").build();
    let plan = plan(
        &policy(|r| {
            r.protected = vec!["latest".into()];
            r.max_deletions = 2;
        }),
        &inv,
        NOW,
    );
    assert_eq!(deleted_manifests(&plan), vec!["sha256:1", "sha256:2"]);
    assert_eq!(plan.deferred.iter().map(Deletion::digest).collect::<Vec<_>>(), vec!["sha256:3", "sha256:4", "sha256:5"]);
    assert!(tag(&plan, "t2").is_delete());
    assert_eq!(tag(&plan, "t3"), &Decision::Deferred { cap: 2, reason: DeleteReason::NoRuleKeeps { tried: vec![] } });
    assert_eq!(manifest(&plan, "sha256:5"), &Decision::Deferred { cap: 2, reason: DeleteReason::TagsDeleted });
    assert_eq!(plan.summary.deferred, 3);
    assert_eq!(plan.summary.tags_deleted, 2);
    assert_eq!(plan.summary.tags_deferred, 3);
    assert_eq!(plan.summary.bytes_freed, 2 * 101);
    assert!(plan.notes.iter().any(|n| n.contains("3 deletion units beyond this run's cap of 2")), "{:?}", plan.notes);
    // The next run picks up where this one stopped.
    let after = simulate_apply(&inv, &plan);
    let next = portolan_retention::plan(
        &policy(|r| {
            r.protected = vec!["latest".into()];
            r.max_deletions = 2;
        }),
        &after,
        NOW,
    );
    assert_eq!(deleted_manifests(&next), vec!["sha256:3", "sha256:4"]);
}

#[test]
fn a_shared_child_waits_for_the_last_index_using_it() {
    let inv = Inv::new()
        .index("sha256:i1", Some(90), &["sha256:a", "sha256:common"])
        .index("sha256:i2", Some(80), &["sha256:b", "sha256:common"])
        .image("sha256:a", Some(90), &[])
        .image("sha256:b", Some(80), &[])
        .image("sha256:common", Some(90), &[("sha256:big", 1000)])
        .image("sha256:k", Some(1), &[])
        .tag("one", "sha256:i1")
        .tag("two", "sha256:i2")
        .tag("latest", "sha256:k")
        .build();
    let p = policy(|r| {
        r.protected = vec!["latest".into()];
        r.max_deletions = 1;
    });
    let plan = plan(&p, &inv, NOW);
    let Deletion::DeleteManifest { children, bytes_freed, .. } = &plan.deletions[0] else { panic!() };
    assert_eq!(children, &vec!["sha256:a".to_string()]);
    assert_eq!(*bytes_freed, 200);
    let Deletion::DeleteManifest { children, bytes_freed, .. } = &plan.deferred[0] else { panic!() };
    assert_eq!(children, &vec!["sha256:b".to_string(), "sha256:common".to_string()]);
    assert_eq!(*bytes_freed, 1300);
    assert_eq!(plan.summary.bytes_freed, 200);
}

#[test]
fn bytes_count_shared_layers_once_and_not_those_of_kept_images() {
    let inv = Inv::new()
        .image("sha256:old1", Some(90), &[("sha256:base", 1000), ("sha256:app1", 10)])
        .image("sha256:old2", Some(80), &[("sha256:base", 1000), ("sha256:app2", 20), ("sha256:runtime", 300)])
        .image("sha256:kept", Some(1), &[("sha256:runtime", 300), ("sha256:app3", 30)])
        .tag("old1", "sha256:old1")
        .tag("old2", "sha256:old2")
        .tag("kept", "sha256:kept")
        .build();
    let plan = plan(&policy(|r| r.keep.newer_than_days = Some(30)), &inv, NOW);
    assert_eq!(plan.deletions.iter().map(Deletion::bytes_freed).collect::<Vec<_>>(), vec![100 + 10, 100 + 20 + 1000]);
    assert_eq!(plan.summary.bytes_freed, 1230);
}

#[test]
fn scopes_never_leak() {
    let inv = Inv::in_repo("other/api").image("sha256:x", Some(900), &[]).tag("x", "sha256:x").build();
    let p = policy(|r| r.keep.newer_than_days = Some(1));
    let plan = plan(&p, &inv, NOW);
    assert!(plan.deletions.is_empty() && plan.tags.is_empty() && plan.manifests.is_empty());
    assert!(plan.notes[0].contains("does not cover other/api"), "{:?}", plan.notes);
    let mut other_registry = Inv::new().image("sha256:x", Some(900), &[]).tag("x", "sha256:x").build();
    other_registry.registry = "elsewhere".into();
    assert!(portolan_retention::plan(&p, &other_registry, NOW).deletions.is_empty());
}

#[test]
fn diff_shows_what_an_edit_changes() {
    let inv = Inv::new()
        .image("sha256:a", Some(10), &[])
        .image("sha256:b", Some(20), &[])
        .image("sha256:c", Some(40), &[])
        .tag("a", "sha256:a")
        .tag("b", "sha256:b")
        .tag("c", "sha256:c")
        .build();
    let saved = plan(&policy(|r| r.keep.newer_than_days = Some(30)), &inv, NOW);
    let edited = plan(&policy(|r| r.keep.newer_than_days = Some(15)), &inv, NOW);
    let d = diff(&saved, &edited);
    assert_eq!(d.newly_deleted, vec!["b".to_string()]);
    assert!(d.no_longer_deleted.is_empty());
    assert_eq!((d.bytes_before, d.bytes_after), (100, 200));
    let back = diff(&edited, &saved);
    assert_eq!(back.no_longer_deleted, vec!["b".to_string()]);
}

#[test]
fn plans_round_trip_as_json() {
    let inv = Inv::new()
        .index("sha256:i", Some(90), &["sha256:c"])
        .image("sha256:c", Some(90), &[("sha256:l", 5)])
        .referrer("sha256:s", ArtifactKind::Signature, "sha256:i", &[])
        .tag("old", "sha256:i")
        .image("sha256:n", None, &[])
        .tag("new", "sha256:n")
        .build();
    let plan = plan(&policy(|r| r.keep.newer_than_days = Some(30)), &inv, NOW);
    let json = serde_json::to_string(&plan).unwrap();
    let back: Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(back, plan);
    assert!(json.contains(r#""op":"delete-manifest""#), "{json}");
    assert!(json.contains(r#""keep":{"reason":"no-date"}"#), "{json}");
}

#[test]
fn ten_thousand_tags_plan_quickly() {
    let mut b = Inv::new();
    for i in 0..5_000i64 {
        let digest = format!("sha256:{i:064x}");
        b = b
            .image(&digest, Some(i % 400), &[(&format!("sha256:layer{}", i % 97), 1_000), (&format!("sha256:own{i}"), 10)])
            .tag(&format!("1.{}.{}", i / 100, i % 100), &digest)
            .tag(&format!("build-{i}"), &digest);
    }
    let inv = b.build();
    let p = policy(|r| {
        r.protected = vec!["latest".into()];
        r.keep.most_recent = most_recent(50, RankBy::Version);
        r.keep.newer_than_days = Some(30);
        r.max_deletions = 100_000;
    });
    // The live editor plans again on every edit: time the best of a few runs.
    let mut took = std::time::Duration::MAX;
    let mut last = None;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let plan = plan(&p, &inv, NOW);
        took = took.min(started.elapsed());
        last = Some(plan);
    }
    let plan = last.unwrap();
    assert_eq!(plan.tags.len(), 10_000);
    assert!(!plan.deletions.is_empty());
    // Generous for unoptimized test builds; release builds are far faster.
    assert!(took < std::time::Duration::from_secs(2), "planning 10 000 tags took {took:?}");
    eprintln!("planning 10 000 tags took {took:?}");
}
