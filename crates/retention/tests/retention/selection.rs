//! Deletes picked by hand use the same unit rules as policies.

use portolan_retention::{Deletion, Selection, plan_selection};
use portolan_types::ArtifactKind;

use crate::builder::Inv;

fn select(tags: &[&str], digests: &[&str], keep_referrers: bool) -> Selection {
    Selection {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        digests: digests.iter().map(|d| d.to_string()).collect(),
        keep_referrers,
    }
}

#[test]
fn a_tag_sharing_its_digest_is_only_untagged() {
    let inv = Inv::new().image("sha256:a", Some(3), &[("sha256:l", 10)]).tag("1.0", "sha256:a").tag("latest", "sha256:a").build();
    let plan = plan_selection(&select(&["1.0"], &[], false), &inv);
    assert_eq!(plan.deletions, vec![Deletion::Untag { tag: "1.0".into(), digest: "sha256:a".into() }]);
    assert!(plan.tags.iter().find(|t| t.tag == "latest").unwrap().decision.is_keep());
}

#[test]
fn an_artifact_goes_with_its_tags_unique_children_and_referrers() {
    let inv = Inv::new()
        .image("sha256:amd", Some(3), &[("sha256:l1", 10)])
        .image("sha256:arm", Some(3), &[("sha256:l2", 10)])
        .index("sha256:idx", Some(3), &["sha256:amd", "sha256:arm"])
        .index("sha256:other", Some(3), &["sha256:arm"])
        .referrer("sha256:sig", ArtifactKind::Signature, "sha256:idx", &[("sha256:s", 1)])
        .referrer("sha256:sigsig", ArtifactKind::Signature, "sha256:sig", &[("sha256:s2", 1)])
        .tag("1.0", "sha256:idx")
        .tag("latest", "sha256:idx")
        .tag("2.0", "sha256:other")
        .build();
    let plan = plan_selection(&select(&[], &["sha256:idx"], false), &inv);
    assert_eq!(plan.deletions.len(), 1, "{:?}", plan.deletions);
    let Deletion::DeleteManifest { digest, tags, children, referrers, .. } = &plan.deletions[0] else { panic!("a delete") };
    assert_eq!(digest, "sha256:idx");
    assert_eq!(*tags, vec!["1.0".to_string(), "latest".to_string()]);
    // The arm64 child is also in another, kept index: it stays.
    assert_eq!(*children, vec!["sha256:amd".to_string()]);
    assert_eq!(*referrers, vec!["sha256:sig".to_string(), "sha256:sigsig".to_string()]);

    let keep = plan_selection(&select(&[], &["sha256:idx"], true), &inv);
    let Deletion::DeleteManifest { referrers, .. } = &keep.deletions[0] else { panic!("a delete") };
    assert!(referrers.is_empty(), "referrers kept on request");
}

#[test]
fn an_untagged_artifact_can_be_picked_by_digest() {
    let inv = Inv::new().image("sha256:a", Some(3), &[]).image("sha256:loose", Some(9), &[]).tag("1.0", "sha256:a").build();
    let plan = plan_selection(&select(&[], &["sha256:loose"], false), &inv);
    assert_eq!(plan.deletions.len(), 1);
    assert_eq!(plan.deletions[0].digest(), "sha256:loose");
    assert!(plan.tags.iter().all(|t| t.decision.is_keep()));
}
