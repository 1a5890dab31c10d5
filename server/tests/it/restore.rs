//! Restoring from the trash against a real CNCF distribution (Debian's `docker-registry`):
//! an artifact deleted through Portolan, then distribution's own garbage collection run for
//! real (the registry stopped, `docker-registry garbage-collect <config.yml>`, started again),
//! is refused — nothing written, the missing blobs named, the refusal audited; so is the restore
//! of an index one of whose platform manifests (kept at the delete for another index) was
//! deleted at the registry since; and a restore never overwrites a tag that was pushed again
//! since the delete.
//!
//! Deletes and restores go through the server functions (`preview_delete`, `apply_delete`,
//! `trash_restore`) as a maintainer; what the registry holds is read with plain HTTP requests,
//! independent of Portolan's client.

use portolan_store::{AuditEntry, AuditFilter, Outcome, TrashEntry, TrashState};
use portolan_testkit::distribution::{Distribution, DistributionAuth};
use portolan_testkit::fixtures::{ImageSpec, Seeder};
use portolan_testkit::pusher::{PushAuth, Pushed, Pusher};

use crate::support::{TestApp, Who, qs, run};

/// Portolan on the registry at `url`: maintainers and admins through the trusted proxy.
pub(crate) async fn portolan(url: &str) -> TestApp {
    portolan_with(url, "").await
}

/// [`portolan`] with more top-level settings (`top`, TOML lines).
pub(crate) async fn portolan_with(url: &str, top: &str) -> TestApp {
    TestApp::new(&format!(
        r#"
public_url = "http://portolan.test"
{top}
[auth.proxy]
trusted = ["127.0.0.1"]
[[grants]]
role = "maintainer"
groups = ["maintainers"]
[[grants]]
role = "admin"
groups = ["admins"]
[[registries]]
name = "reg"
url = "{url}"
"#
    ))
    .await
}

/// A real distribution, and a seeder pushing into it with plain HTTP.
pub(crate) async fn registry() -> (Distribution, Seeder) {
    let d = Distribution::start(DistributionAuth::Anonymous).await.expect("docker-registry starts");
    let seeder = Seeder::new(Pusher::new(&d.url, PushAuth::None), true);
    (d, seeder)
}

/// Deletes the artifact `digest` of `repo` as the maintainer max, the way the delete page does
/// (preview, then apply exactly what was previewed); returns its trash entry, content included.
pub(crate) async fn delete_artifact(w: &TestApp, repo: &str, digest: &str) -> TrashEntry {
    let selection = portolan_app::model::DeleteSelection { digests: vec![digest.to_owned()], ..Default::default() };
    let preview = qs(&portolan_app::api::PreviewDelete { registry: "reg".into(), repository: repo.into(), selection });
    let a = w.server_fn("preview_delete", Who::Maintainer, preview).await;
    assert_eq!(a.status, 200, "preview_delete: {}", a.body);
    let p: portolan_app::model::DeletePreview = serde_json::from_str(&a.body).unwrap();
    assert_eq!(p.units.len(), 1, "{p:?}");
    assert_eq!((p.units[0].op.as_str(), p.units[0].digest.as_str()), ("delete", digest));
    let apply = qs(&portolan_app::api::ApplyDelete { registry: "reg".into(), repository: repo.into(), confirmation: p.confirmation });
    let a = w.server_fn("apply_delete", Who::Maintainer, apply).await;
    assert_eq!(a.status, 200, "apply_delete: {}", a.body);
    let entries = w.store.trash_entries(&Default::default(), 100).await.unwrap();
    let entry = entries.iter().find(|e| e.repository == repo && e.summary.contains(&portolan_app::model::short_digest(digest)));
    let entry = w.store.trash_entry(entry.expect("the delete's trash entry").id).await.unwrap();
    assert_eq!(entry.state, TrashState::Deleted, "{entry:?}");
    entry
}

/// Restores trash entry `id` as the maintainer max (the trash page's *Restore*); returns the
/// audit entries of that request.
async fn restore(w: &TestApp, id: i64) -> Vec<AuditEntry> {
    let a = w.server_fn("trash_restore", Who::Maintainer, qs(&portolan_app::api::TrashRestore { id })).await;
    let request = a.header("x-request-id").expect("an x-request-id").to_owned();
    let mut entries = w.store.audit_entries(&AuditFilter { request: Some(request), ..Default::default() }, 100).await.unwrap();
    entries.reverse();
    assert_eq!(a.status, 200, "trash_restore: {} (audited: {entries:#?})", a.body);
    entries
}

// ---------------------------------------------------------------------------------------------
// The registry as it is, read with plain HTTP (no Portolan code).

/// Where `reference` (a tag or digest) points in `repo`: a manifest HEAD; None on 404.
async fn manifest_at(base: &str, repo: &str, reference: &str) -> Option<String> {
    let r = portolan_testkit::runner::http_client()
        .head(format!("{base}/v2/{repo}/manifests/{reference}"))
        .header("accept", portolan_oci::media::MANIFEST_ACCEPT)
        .send()
        .await
        .unwrap();
    match r.status().as_u16() {
        200 => Some(r.headers()["docker-content-digest"].to_str().unwrap().to_owned()),
        404 => None,
        s => panic!("HEAD {repo}:{reference}: {s}"),
    }
}

/// Whether the registry has blob `digest` in `repo` (a blob HEAD).
async fn blob_present(base: &str, repo: &str, digest: &str) -> bool {
    let r = portolan_testkit::runner::http_client().head(format!("{base}/v2/{repo}/blobs/{digest}")).send().await.unwrap();
    match r.status().as_u16() {
        200 => true,
        404 => false,
        s => panic!("HEAD blob {digest}: {s}"),
    }
}

/// The tag list of `repo`, sorted.
async fn tags(base: &str, repo: &str) -> Vec<String> {
    let r = portolan_testkit::runner::http_client().get(format!("{base}/v2/{repo}/tags/list")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let list: serde_json::Value = r.json().await.unwrap();
    let mut tags: Vec<String> =
        list["tags"].as_array().map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect()).unwrap_or_default();
    tags.sort();
    tags
}

/// The config and layer digests of an image manifest, as pushed.
async fn blobs_of(seeder: &Seeder, repo: &str, image: &Pushed) -> Vec<String> {
    let bytes = seeder.pusher.get_manifest(repo, &image.digest).await.unwrap().expect("the manifest");
    let m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let mut blobs = vec![m["config"]["digest"].as_str().unwrap().to_owned()];
    blobs.extend(m["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_owned()));
    blobs
}

// ---------------------------------------------------------------------------------------------

#[test]
fn a_restore_after_the_registrys_garbage_collection_is_refused_naming_the_missing_blobs() {
    run(async {
        const REPO: &str = "gc/app";
        let (mut d, seeder) = registry().await;
        let gone = seeder.image(REPO, &["1.0", "latest"], &ImageSpec::new("only this image has this layer")).await.unwrap();
        let kept = seeder.image(REPO, &["2.0"], &ImageSpec::new("the image that stays")).await.unwrap();
        let gone_blobs = blobs_of(&seeder, REPO, &gone).await;
        let kept_blobs = blobs_of(&seeder, REPO, &kept).await;
        assert!(gone_blobs.iter().all(|b| !kept_blobs.contains(b)), "the images share no blob");
        let w = portolan(&d.url).await;

        // Deleted through Portolan: the manifest and its tags are gone, the blobs are not (yet).
        let entry = delete_artifact(&w, REPO, &gone.digest).await;
        assert_eq!(entry.tags, vec![("1.0".to_owned(), gone.digest.clone()), ("latest".to_owned(), gone.digest.clone())]);
        assert_eq!(manifest_at(&d.url, REPO, &gone.digest).await, None);
        assert_eq!(tags(&d.url, REPO).await, vec!["2.0"]);
        for b in &gone_blobs {
            assert!(blob_present(&d.url, REPO, b).await, "{b}: space comes back only with garbage collection");
        }

        // Distribution's own garbage collection, for real: the deleted image's blobs go, the
        // other image's stay.
        let collected = d.garbage_collect(false).await.unwrap();
        for b in &gone_blobs {
            assert!(!blob_present(&d.url, REPO, b).await, "{b} collected:\n{collected}");
        }
        for b in &kept_blobs {
            assert!(blob_present(&d.url, REPO, b).await, "{b} kept:\n{collected}");
        }
        assert_eq!(manifest_at(&d.url, REPO, "2.0").await.as_deref(), Some(kept.digest.as_str()));

        // The restore is refused, naming every missing blob, and writes nothing.
        let audited = restore(&w, entry.id).await;
        assert_eq!(audited.len(), 1, "one refusal, no restore step: {audited:#?}");
        let refusal = &audited[0].entry;
        assert_eq!((refusal.action.as_str(), refusal.outcome), ("restore", Outcome::Refused), "{refusal:?}");
        assert_eq!(refusal.actor.subject.as_deref(), Some("max"));
        assert_eq!((refusal.registry.as_deref(), refusal.repository.as_deref()), (Some("reg"), Some(REPO)));
        let reason = refusal.reason.as_deref().unwrap_or_default();
        assert!(reason.contains("garbage-collected"), "{reason}");
        for b in &gone_blobs {
            assert!(reason.contains(b.as_str()), "the reason names {b}: {reason}");
        }
        assert!(kept_blobs.iter().all(|b| !reason.contains(b.as_str())), "only missing blobs are named: {reason}");
        assert_eq!(manifest_at(&d.url, REPO, &gone.digest).await, None, "no manifest written");
        assert_eq!(tags(&d.url, REPO).await, vec!["2.0"], "no tag written");
        assert_eq!(manifest_at(&d.url, REPO, "2.0").await.as_deref(), Some(kept.digest.as_str()));
        let after = w.store.trash_entry(entry.id).await.unwrap();
        assert_eq!(after.state, TrashState::Deleted, "still in the trash, as it was: {after:?}");
        w.store.close().await;
    })
}

#[test]
fn a_restore_puts_the_artifact_back_but_never_over_a_tag_pushed_again_since() {
    run(async {
        const REPO: &str = "again/app";
        let (d, seeder) = registry().await;
        let old = seeder.image(REPO, &["1.0", "latest"], &ImageSpec::new("the build deleted")).await.unwrap();
        let w = portolan(&d.url).await;
        let entry = delete_artifact(&w, REPO, &old.digest).await;
        assert_eq!(manifest_at(&d.url, REPO, &old.digest).await, None);
        assert_eq!(manifest_at(&d.url, REPO, "latest").await, None);

        // Someone pushes another image as latest meanwhile.
        let new = seeder.image(REPO, &["latest"], &ImageSpec::new("the build pushed since")).await.unwrap();
        assert_ne!(new.digest, old.digest);

        let audited = restore(&w, entry.id).await;
        // Read from the registry itself: the manifest is back, 1.0 on it, latest left alone.
        assert_eq!(manifest_at(&d.url, REPO, &old.digest).await.as_deref(), Some(old.digest.as_str()), "the manifest is back");
        assert_eq!(manifest_at(&d.url, REPO, "1.0").await.as_deref(), Some(old.digest.as_str()), "1.0 restored");
        assert_eq!(manifest_at(&d.url, REPO, "latest").await.as_deref(), Some(new.digest.as_str()), "latest not overwritten");
        assert_eq!(tags(&d.url, REPO).await, vec!["1.0", "latest"]);

        let steps: Vec<(&str, Option<&str>, Outcome)> =
            audited.iter().map(|a| (a.entry.action.as_str(), a.entry.tags.first().map(String::as_str), a.entry.outcome)).collect();
        assert_eq!(
            steps,
            vec![
                ("restore-manifest", None, Outcome::Done),
                ("restore-tag", Some("1.0"), Outcome::Done),
                ("restore-tag", Some("latest"), Outcome::Skipped),
            ],
            "{audited:#?}"
        );
        let skipped = &audited[2].entry;
        let reason = skipped.reason.as_deref().unwrap_or_default();
        assert!(reason.contains("pushed again since"), "{reason}");
        assert!(reason.contains(&portolan_app::model::short_digest(&new.digest)), "names where latest points now: {reason}");
        assert!(audited.iter().all(|a| a.entry.actor.subject.as_deref() == Some("max")));
        assert_eq!(w.store.trash_entry(entry.id).await.unwrap().state, TrashState::Restored);
        w.store.close().await;
    })
}

#[test]
fn a_restore_of_an_index_whose_shared_platform_manifest_was_deleted_since_is_refused() {
    run(async {
        const REPO: &str = "shared/app";
        let (d, seeder) = registry().await;
        // Two multi-platform images sharing their amd64 manifest (and its attestation).
        let shared = ImageSpec::new("the amd64 build both use");
        let (first, first_images) = seeder
            .multi_platform(REPO, &["first"], &[shared.clone(), ImageSpec::new("first on arm64").platform("arm64", None)])
            .await
            .unwrap();
        let (second, second_images) =
            seeder.multi_platform(REPO, &["second"], &[shared, ImageSpec::new("second on arm64").platform("arm64", None)]).await.unwrap();
        assert_eq!(first_images[0].digest, second_images[0].digest, "the shared manifest");
        let shared = first_images[0].digest.clone();
        let first_only = first_images[1].digest.clone();
        let w = portolan(&d.url).await;

        // The first goes through Portolan: the shared manifest stays, the second uses it.
        let entry = delete_artifact(&w, REPO, &first.digest).await;
        assert!(entry.manifests.iter().any(|m| m.digest == first_only), "its own platform manifest is in the trash");
        assert!(entry.manifests.iter().all(|m| m.digest != shared), "the shared one is not");
        assert_eq!(manifest_at(&d.url, REPO, &shared).await.as_deref(), Some(shared.as_str()));
        assert_eq!(manifest_at(&d.url, REPO, &first_only).await, None);

        // Someone deletes the second, with the shared manifest, at the registry itself.
        let bytes = seeder.pusher.get_manifest(REPO, &second.digest).await.unwrap().unwrap();
        let index: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        seeder.pusher.delete_manifest(REPO, &second.digest).await.unwrap();
        for child in index["manifests"].as_array().unwrap() {
            seeder.pusher.delete_manifest(REPO, child["digest"].as_str().unwrap()).await.unwrap();
        }
        assert_eq!(manifest_at(&d.url, REPO, &shared).await, None);

        // The restore is refused naming the shared manifest, and puts nothing back.
        let audited = restore(&w, entry.id).await;
        assert_eq!(audited.len(), 1, "one refusal, no restore step: {audited:#?}");
        let refusal = &audited[0].entry;
        assert_eq!((refusal.action.as_str(), refusal.outcome), ("restore", Outcome::Refused), "{refusal:?}");
        let reason = refusal.reason.as_deref().unwrap_or_default();
        assert!(reason.contains(&shared), "{reason}");
        assert_eq!(manifest_at(&d.url, REPO, &first_only).await, None, "nothing written");
        assert_eq!(manifest_at(&d.url, REPO, &first.digest).await, None);
        assert_eq!(tags(&d.url, REPO).await, Vec::<String>::new());
        assert_eq!(w.store.trash_entry(entry.id).await.unwrap().state, TrashState::Deleted);
        w.store.close().await;
    })
}
