//! The delete verbs where it counts: against real registries (CNCF distribution and
//! ferro-oci-server, started by the test kit), through a proxy that loses answers, answers for the
//! registry and lets another client write between two requests (support/proxy.rs), and
//! against an in-process registry whose tag DELETE deletes the tag alone or the whole manifest,
//! which the registries that run here cannot show (support/tagdel.rs).

use std::sync::{Arc, Mutex};

use crate::support::proxy::{Action, Proxy, Writer};
use crate::support::tagdel::{FakeRegistry, TagDelete};
use crate::support::{repo, run};
use futures::FutureExt;
use portolan_oci::media::{OCI_INDEX, OCI_MANIFEST};
use portolan_oci::{
    Client, ClientConfig, Credentials, ErrorKind, FALLBACK_INDEX_ATTEMPTS, Reference, Support, THROWAWAY_PATH, Tag, TagDeleteMethod,
    TagDeleteMode,
};
use portolan_testkit::pusher::{PushAuth, Pusher};
use portolan_testkit::{Kind, READER, Registry};
use serde_json::Value;

const HELLO: &str = "library/hello";
const SCRATCH: &str = "portolan/scratch";
/// The digest the manifest delete probe asks to delete.
const ZEROES: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn tag(name: &str) -> Tag {
    Tag::parse(name).unwrap()
}

fn by_tag(name: &str) -> Reference {
    Reference::Tag(tag(name))
}

fn client(url: &str) -> Client {
    Client::new(ClientConfig::new(url)).unwrap()
}

fn configured(url: &str, mode: TagDeleteMode, scratch: Option<&str>) -> Client {
    Client::new(ClientConfig::new(url).tag_delete(mode, scratch)).unwrap()
}

fn throwaway_reason(support: &Option<Support>) -> &str {
    match support {
        Some(Support::No(why)) if why.starts_with(THROWAWAY_PATH) => why,
        other => panic!("expected the throwaway path, got {other:?}"),
    }
}

/// Manifest DELETEs by digest in `library/hello`, but the capability probe's.
fn deletes_a_digest(path: &str) -> bool {
    path.starts_with("/v2/library/hello/manifests/sha256:") && !path.ends_with(ZEROES)
}

// 1. Tag DELETE only when proven or configured.

#[test]
fn a_404_for_a_made_up_tag_does_not_prove_tag_delete() {
    run(async {
        // This registry answers 404 for a tag it does not have, and deletes the whole manifest,
        // sibling tags with it, for one it has.
        let fake = FakeRegistry::start(TagDelete::WholeManifest).await;
        let d = fake.seed(HELLO, "one", &["1.0", "latest"]);
        let c = client(&fake.url);
        let caps = c.capabilities(&repo(HELLO)).await.unwrap();
        let why = throwaway_reason(&caps.tag_delete);
        assert!(why.contains("no scratch repository"), "{why}");
        let deleted = c.delete_tag(&repo(HELLO), &tag("latest"), Some(&d)).await.unwrap();
        assert!(matches!(deleted.method, TagDeleteMethod::Throwaway { .. }), "{deleted:?}");
        assert_eq!(fake.tags(HELLO), ["1.0"], "the sibling tag is intact");
        assert_eq!(fake.tag(HELLO, "1.0").as_deref(), Some(d.as_str()));
        assert_eq!(fake.manifests(HELLO), 1, "the manifest stays, the throwaway is gone");
        let tag_deletes: Vec<_> = fake.seen().into_iter().filter(|(m, p)| m == "DELETE" && !p.contains("/manifests/sha256:")).collect();
        assert!(tag_deletes.is_empty(), "no tag DELETE was sent: {tag_deletes:?}");
    })
}

#[test]
fn auto_uses_a_tag_delete_only_once_verified_on_the_scratch_repository() {
    run(async {
        let fake = FakeRegistry::start(TagDelete::Alone).await;
        let hello = repo(HELLO);
        let d = fake.seed(HELLO, "one", &["1.0", "latest", "stable"]);

        // Auto without a scratch repository: never verified, the throwaway path.
        let unverified = client(&fake.url);
        assert!(throwaway_reason(&unverified.capabilities(&hello).await.unwrap().tag_delete).contains("not verified"));
        // Never: the throwaway path, and no verification, scratch repository or not.
        let never = configured(&fake.url, TagDeleteMode::Never, Some(SCRATCH));
        assert!(throwaway_reason(&never.capabilities(&hello).await.unwrap().tag_delete).contains("never"));
        let deleted = never.delete_tag(&hello, &tag("stable"), Some(&d)).await.unwrap();
        assert!(matches!(deleted.method, TagDeleteMethod::Throwaway { .. }), "{deleted:?}");
        assert!(fake.seen().iter().all(|(_, p)| !p.contains(SCRATCH)), "{:?}", fake.seen());

        // Auto with a scratch repository: verified once, then used.
        let auto = configured(&fake.url, TagDeleteMode::Auto, Some(SCRATCH));
        assert_eq!(auto.capabilities(&hello).await.unwrap().tag_delete, Some(Support::Yes));
        assert_eq!(auto.verify_tag_delete(&repo(SCRATCH)).await.unwrap(), Support::Yes);
        let deleted = auto.delete_tag(&hello, &tag("latest"), Some(&d)).await.unwrap();
        assert_eq!(deleted.method, TagDeleteMethod::TagDelete);
        assert_eq!(fake.tags(HELLO), ["1.0"]);
        assert_eq!(fake.manifests(HELLO), 1, "no throwaway was needed");
        let verifications = fake.seen().iter().filter(|(m, p)| m == "DELETE" && p.contains("/portolan-verify-")).count();
        assert_eq!(verifications, 1, "{:?}", fake.seen());
        assert!(fake.tags(SCRATCH).is_empty(), "{:?}", fake.tags(SCRATCH));
        assert_eq!(fake.manifests(SCRATCH), 0, "the verification cleaned up after itself");

        // Always: the tag DELETE, unverified.
        let always = configured(&fake.url, TagDeleteMode::Always, None);
        assert_eq!(always.capabilities(&hello).await.unwrap().tag_delete, Some(Support::Yes));
        let deleted = always.delete_tag(&hello, &tag("1.0"), None).await.unwrap();
        assert_eq!(deleted.method, TagDeleteMethod::TagDelete);
        assert!(fake.tags(HELLO).is_empty());
    })
}

#[test]
fn verification_catches_a_tag_delete_that_takes_the_whole_manifest() {
    run(async {
        let fake = FakeRegistry::start(TagDelete::WholeManifest).await;
        let hello = repo(HELLO);
        let d = fake.seed(HELLO, "one", &["1.0", "latest"]);
        let auto = configured(&fake.url, TagDeleteMode::Auto, Some(SCRATCH));
        let verdict = auto.verify_tag_delete(&repo(SCRATCH)).await.unwrap();
        assert!(matches!(&verdict, Support::No(why) if why.contains("whole manifest")), "{verdict:?}");
        assert!(throwaway_reason(&auto.capabilities(&hello).await.unwrap().tag_delete).contains("whole manifest"));
        let deleted = auto.delete_tag(&hello, &tag("latest"), Some(&d)).await.unwrap();
        assert!(matches!(deleted.method, TagDeleteMethod::Throwaway { .. }), "{deleted:?}");
        assert_eq!(fake.tags(HELLO), ["1.0"]);
        assert!(fake.tags(SCRATCH).is_empty());
        assert_eq!(fake.manifests(SCRATCH), 0);
    })
}

#[test]
fn real_registries_refuse_tag_deletes_in_verification_and_keep_the_throwaway_path() {
    run(async {
        for kind in [Kind::Anonymous, Kind::Ferro] {
            let registry = Registry::start(kind, 0).await.unwrap();
            let hello = repo(HELLO);
            let c = configured(&registry.url, TagDeleteMode::Auto, Some(SCRATCH));
            let verdict = c.verify_tag_delete(&repo(SCRATCH)).await.unwrap();
            assert!(matches!(&verdict, Support::No(why) if why.contains("refuses tag DELETEs")), "{kind:?}: {verdict:?}");
            assert!(throwaway_reason(&c.capabilities(&hello).await.unwrap().tag_delete).contains("refuses tag DELETEs"));
            // Nothing of the verification is left tagged in the scratch repository.
            match c.tags(&repo(SCRATCH)).await {
                Ok(tags) => assert!(tags.is_empty(), "{kind:?}: {tags:?}"),
                Err(e) => assert_eq!(e.kind(), ErrorKind::NotFound, "{kind:?}: {e}"),
            }
            let v110 = registry.seed.digest("hello:1.1.0");
            let deleted = c.delete_tag(&hello, &tag("latest"), Some(v110)).await.unwrap();
            assert!(matches!(deleted.method, TagDeleteMethod::Throwaway { .. }), "{kind:?}: {deleted:?}");
            assert_eq!(c.resolve(&hello, &by_tag("1.1.0")).await.unwrap().digest, v110, "{kind:?}");
            assert_eq!(c.resolve(&hello, &by_tag("latest")).await.unwrap_err().kind(), ErrorKind::NotFound, "{kind:?}");
        }
    })
}

#[test]
fn without_the_right_to_push_to_the_scratch_repository_auto_keeps_the_throwaway_path() {
    run(async {
        let registry = Registry::start(Kind::Token, 0).await.unwrap();
        let reader = Credentials::Basic { username: READER.0.into(), password: READER.1.into() };
        let c = Client::new(ClientConfig::new(&registry.url).credentials(reader).tag_delete(TagDeleteMode::Auto, Some(SCRATCH))).unwrap();
        let verdict = c.verify_tag_delete(&repo(SCRATCH)).await.unwrap();
        assert!(matches!(&verdict, Support::Unknown(why) if why.contains("may not push")), "{verdict:?}");
        let caps = c.capabilities(&repo(HELLO)).await.unwrap();
        // No manifest delete either, for this reader: tags cannot be deleted at all.
        assert!(
            matches!(&caps.tag_delete, Some(Support::No(why)) if why.starts_with("tags cannot be deleted") && why.contains("could not be verified")),
            "{caps:?}"
        );
    })
}

// 2. The throwaway path, hardened.

fn move_latest_to_1_0_0(pusher: Pusher) -> Writer {
    Arc::new(move || {
        let pusher = pusher.clone();
        async move {
            let bytes = pusher.get_manifest(HELLO, "1.0.0").await.unwrap().unwrap();
            pusher.manifest(HELLO, "latest", OCI_MANIFEST, &bytes).await.unwrap();
        }
        .boxed()
    })
}

#[test]
fn a_tag_that_moves_before_it_is_repointed_is_left_alone() {
    run(async {
        let registry = Registry::start(Kind::Anonymous, 0).await.unwrap();
        let (v100, v110) = (registry.seed.digest("hello:1.0.0"), registry.seed.digest("hello:1.1.0"));
        let proxy = Proxy::start(&registry.url).await;
        // Another client moves `latest` right after Portolan read it.
        let writer = move_latest_to_1_0_0(Pusher::new(&registry.url, PushAuth::None));
        proxy.on("GET", |p| p == "/v2/library/hello/manifests/latest", Some(1), Action::ForwardThen(writer));
        let c = client(&proxy.url);
        let e = c.delete_tag(&repo(HELLO), &tag("latest"), Some(v110)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
        assert!(e.message().contains(&format!("moved to {v100}")) && e.message().contains("nothing was changed"), "{e}");
        assert_eq!(proxy.count("PUT", |p| p.contains("/manifests/")), 0, "{:?}", proxy.seen());
        let direct = client(&registry.url);
        assert_eq!(direct.resolve(&repo(HELLO), &by_tag("latest")).await.unwrap().digest, v100, "where the other client put it");
        assert_eq!(direct.resolve(&repo(HELLO), &by_tag("1.1.0")).await.unwrap().digest, v110);
    })
}

#[test]
fn a_repoint_the_registry_applied_despite_an_error_is_undone() {
    run(async {
        let registry = Registry::start(Kind::Anonymous, 0).await.unwrap();
        let v110 = registry.seed.digest("hello:1.1.0");
        let proxy = Proxy::start(&registry.url).await;
        // The registry re-points `latest` to the throwaway, but its answer is lost.
        proxy.on("PUT", |p| p == "/v2/library/hello/manifests/latest", Some(1), Action::ForwardThenFail(502));
        let c = client(&proxy.url);
        let e = c.delete_tag(&repo(HELLO), &tag("latest"), Some(v110)).await.unwrap_err();
        assert!(e.message().contains("applied it all the same") && e.message().contains(&format!("put back to {v110}")), "{e}");
        assert!(e.message().contains("throwaway") && e.message().contains("deleted"), "{e}");
        let direct = client(&registry.url);
        assert_eq!(direct.resolve(&repo(HELLO), &by_tag("latest")).await.unwrap().digest, v110);
        assert_eq!(direct.resolve(&repo(HELLO), &by_tag("1.1.0")).await.unwrap().digest, v110);
        let deletes: Vec<String> = proxy.seen().into_iter().filter(|(m, p)| m == "DELETE" && deletes_a_digest(p)).map(|(_, p)| p).collect();
        assert_eq!(deletes.len(), 1, "{deletes:?}");
        let throwaway = Reference::parse(deletes[0].rsplit('/').next().unwrap()).unwrap();
        assert_eq!(direct.manifest(&repo(HELLO), &throwaway).await.unwrap_err().kind(), ErrorKind::NotFound, "the throwaway is gone");
    })
}

#[test]
fn a_throwaway_that_cannot_be_deleted_puts_the_tag_back_and_says_so() {
    run(async {
        let registry = Registry::start(Kind::Anonymous, 0).await.unwrap();
        let v110 = registry.seed.digest("hello:1.1.0");
        let proxy = Proxy::start(&registry.url).await;
        proxy.on("DELETE", deletes_a_digest, None, Action::Answer(500));
        let c = client(&proxy.url);
        let e = c.delete_tag(&repo(HELLO), &tag("latest"), Some(v110)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
        assert!(e.message().contains("deleting the throwaway manifest"), "{e}");
        assert!(e.message().contains(&format!("latest was put back to {v110}")) && e.message().contains("stays, untagged"), "{e}");
        let direct = client(&registry.url);
        assert_eq!(direct.resolve(&repo(HELLO), &by_tag("latest")).await.unwrap().digest, v110);
    })
}

#[test]
fn a_throwaway_delete_the_registry_did_not_apply_leaves_nothing_tagged_with_it() {
    run(async {
        let registry = Registry::start(Kind::Anonymous, 0).await.unwrap();
        let v110 = registry.seed.digest("hello:1.1.0");
        let proxy = Proxy::start(&registry.url).await;
        // 202 Accepted, yet nothing deleted (as a registry that deletes later, or not at all, does).
        proxy.on("DELETE", deletes_a_digest, None, Action::Answer(202));
        let c = client(&proxy.url);
        let e = c.delete_tag(&repo(HELLO), &tag("latest"), Some(v110)).await.unwrap_err();
        assert!(e.message().contains("still points to it") && e.message().contains(&format!("put back to {v110}")), "{e}");
        let direct = client(&registry.url);
        assert_eq!(direct.resolve(&repo(HELLO), &by_tag("latest")).await.unwrap().digest, v110, "not left on the throwaway");
    })
}

// 3. Fallback index upkeep against a concurrent push.

/// Another client: pushes a new referrer of `subject` and adds it to the subject's fallback
/// index, as a client without the referrers API does (leaving out `gone`, a referrer deleted
/// meanwhile: distribution refuses an index listing a manifest it no longer has); records the
/// new referrer's digest.
fn add_referrers(pusher: Pusher, subject: String, gone: Option<String>, added: Arc<Mutex<Vec<String>>>) -> Writer {
    Arc::new(move || {
        let (pusher, subject, gone, added) = (pusher.clone(), subject.clone(), gone.clone(), added.clone());
        async move {
            let n = added.lock().unwrap().len();
            let config = pusher.blob(HELLO, "application/vnd.oci.empty.v1+json", b"{}").await.unwrap();
            let layer = pusher.blob(HELLO, "text/plain", format!("note {n}").as_bytes()).await.unwrap();
            let subject_size = pusher.get_manifest(HELLO, &subject).await.unwrap().unwrap().len();
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": "application/vnd.example.note",
                "config": config.descriptor(),
                "layers": [layer.descriptor()],
                "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_size},
            });
            let pushed = pusher.json_manifest(HELLO, &[], &manifest).await.unwrap();
            let fallback = subject.replacen(':', "-", 1);
            let mut index: Value = serde_json::from_slice(&pusher.get_manifest(HELLO, &fallback).await.unwrap().unwrap()).unwrap();
            let manifests = index["manifests"].as_array_mut().unwrap();
            manifests.retain(|d| d["digest"].as_str() != gone.as_deref());
            manifests.push(serde_json::json!({
                "mediaType": OCI_MANIFEST, "digest": pushed.digest, "size": pushed.size, "artifactType": "application/vnd.example.note",
            }));
            pusher.manifest(HELLO, &fallback, OCI_INDEX, &serde_json::to_vec(&index).unwrap()).await.unwrap();
            added.lock().unwrap().push(pushed.digest);
        }
        .boxed()
    })
}

async fn fallback_index(pusher: &Pusher, subject: &str) -> Vec<String> {
    let bytes = pusher.get_manifest(HELLO, &subject.replacen(':', "-", 1)).await.unwrap().unwrap();
    let index: Value = serde_json::from_slice(&bytes).unwrap();
    index["manifests"].as_array().unwrap().iter().map(|d| d["digest"].as_str().unwrap().to_owned()).collect()
}

fn fallback_path(subject: &str) -> String {
    format!("/v2/library/hello/manifests/{}", subject.replacen(':', "-", 1))
}

#[test]
fn fallback_index_upkeep_reads_again_an_index_another_client_changed() {
    run(async {
        let registry = Registry::start(Kind::Anonymous, 0).await.unwrap();
        let v110 = registry.seed.digest("hello:1.1.0").to_owned();
        let sbom = registry.seed.digest("hello:1.1.0/sbom");
        let pusher = Pusher::new(&registry.url, PushAuth::None);
        let proxy = Proxy::start(&registry.url).await;
        let added = Arc::new(Mutex::new(Vec::new()));
        let fallback = fallback_path(&v110);
        let path = fallback.clone();
        // Another client adds a referrer right after Portolan read the index.
        let writer = add_referrers(pusher.clone(), v110.clone(), None, added.clone());
        proxy.on("GET", move |p| p == path, Some(1), Action::ForwardThen(writer));
        let c = client(&proxy.url);
        assert!(c.remove_from_fallback_index(&repo(HELLO), &v110, sbom).await.unwrap());
        let listed = fallback_index(&pusher, &v110).await;
        let added = added.lock().unwrap().clone();
        assert_eq!(added.len(), 1);
        assert!(listed.contains(&added[0]), "the other client's referrer survived: {listed:?}");
        assert!(!listed.contains(&sbom.to_owned()), "{listed:?}");
        for kept in ["hello:1.1.0/signature", "hello:1.1.0/attestation"] {
            assert!(listed.contains(&registry.seed.digest(kept).to_owned()), "{kept}: {listed:?}");
        }
        assert_eq!(proxy.count("GET", |p| p == fallback), 2, "read again after the change");
        assert_eq!(proxy.count("PUT", |p| p == fallback), 1);
    })
}

#[test]
fn fallback_index_upkeep_gives_up_rather_than_overwrite_a_newer_index() {
    run(async {
        let registry = Registry::start(Kind::Anonymous, 0).await.unwrap();
        let v110 = registry.seed.digest("hello:1.1.0").to_owned();
        let sbom = registry.seed.digest("hello:1.1.0/sbom");
        let pusher = Pusher::new(&registry.url, PushAuth::None);
        let proxy = Proxy::start(&registry.url).await;
        let added = Arc::new(Mutex::new(Vec::new()));
        let fallback = fallback_path(&v110);
        let path = fallback.clone();
        // Another client adds a referrer after every read.
        let writer = add_referrers(pusher.clone(), v110.clone(), None, added.clone());
        proxy.on("GET", move |p| p == path, None, Action::ForwardThen(writer));
        let c = client(&proxy.url);
        let e = c.remove_from_fallback_index(&repo(HELLO), &v110, sbom).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
        assert!(e.message().contains(&format!("still listing {sbom}")), "{e}");
        let added = added.lock().unwrap().clone();
        assert_eq!(added.len(), FALLBACK_INDEX_ATTEMPTS);
        let listed = fallback_index(&pusher, &v110).await;
        for digest in added.iter().chain([&sbom.to_owned()]) {
            assert!(listed.contains(digest), "never overwritten: {digest} in {listed:?}");
        }
        assert_eq!(proxy.count("PUT", |p| p == fallback), 0);
    })
}

#[test]
fn deleting_a_referrer_never_overwrites_an_index_another_client_wrote_meanwhile() {
    run(async {
        let registry = Registry::start(Kind::Anonymous, 0).await.unwrap();
        let v110 = registry.seed.digest("hello:1.1.0").to_owned();
        let sbom = registry.seed.digest("hello:1.1.0/sbom");
        let pusher = Pusher::new(&registry.url, PushAuth::None);
        let proxy = Proxy::start(&registry.url).await;
        let added = Arc::new(Mutex::new(Vec::new()));
        let fallback = fallback_path(&v110);
        let path = fallback.clone();
        // Right after Portolan read the index (the SBOM deleted already), another client writes it
        // with a new referrer (and without the SBOM, which the registry no longer has).
        let writer = add_referrers(pusher.clone(), v110.clone(), Some(sbom.to_owned()), added.clone());
        proxy.on("GET", move |p| p == path, Some(1), Action::ForwardThen(writer));
        let c = client(&proxy.url);
        let deleted = c.delete_manifest(&repo(HELLO), sbom).await.unwrap();
        assert_eq!(deleted.fallback_index_updated, None, "the other client's index already left it out");
        let listed = fallback_index(&pusher, &v110).await;
        let added = added.lock().unwrap().clone();
        assert!(listed.contains(&added[0]) && !listed.contains(&sbom.to_owned()), "{listed:?}");
        assert_eq!(proxy.count("PUT", |p| p == fallback), 0);
        let direct = client(&registry.url);
        assert_eq!(direct.manifest(&repo(HELLO), &Reference::parse(sbom).unwrap()).await.unwrap_err().kind(), ErrorKind::NotFound);
    })
}

// 4. Manifest delete: errors say which digest, caches stay consistent.

#[test]
fn manifest_deletes_name_the_digest_and_forget_cached_tags_whatever_happens() {
    run(async {
        let registry = Registry::start(Kind::Anonymous, 0).await.unwrap();
        let hello = repo(HELLO);
        let rc = registry.seed.digest("hello:2.0.0-rc.1");
        let proxy = Proxy::start(&registry.url).await;
        let c = client(&proxy.url);
        let rc_tag = "2.0.0-rc.1".to_owned();
        assert!(c.tags(&hello).await.unwrap().contains(&rc_tag));
        assert_eq!(c.resolve(&hello, &by_tag(&rc_tag)).await.unwrap().digest, rc);
        let lists = || proxy.count("GET", |p| p == "/v2/library/hello/tags/list");
        let heads = || proxy.count("HEAD", |p| p == "/v2/library/hello/manifests/2.0.0-rc.1");
        let (lists_before, heads_before) = (lists(), heads());

        // Refused, never reaching the registry: the error names the digest; the tags are asked again.
        let target = format!("/v2/library/hello/manifests/{rc}");
        let path = target.clone();
        proxy.on("DELETE", move |p| p == path, Some(1), Action::Answer(500));
        let e = c.delete_manifest(&hello, rc).await.unwrap_err();
        assert!(e.message().contains(rc) && e.message().contains("still there"), "{e}");
        assert!(c.tags(&hello).await.unwrap().contains(&rc_tag));
        assert_eq!(c.resolve(&hello, &by_tag(&rc_tag)).await.unwrap().digest, rc);
        assert_eq!((lists(), heads()), (lists_before + 1, heads_before + 1), "cached tags were forgotten");

        // Applied, but the answer lost: that is a delete, and no cached tag survives it.
        let path = target.clone();
        proxy.on("DELETE", move |p| p == path, Some(1), Action::ForwardThenFail(500));
        let deleted = c.delete_manifest(&hello, rc).await.unwrap();
        assert_eq!(deleted.digest, rc);
        assert!(!c.tags(&hello).await.unwrap().contains(&rc_tag));
        assert_eq!(c.resolve(&hello, &by_tag(&rc_tag)).await.unwrap_err().kind(), ErrorKind::NotFound);

        // A manifest that cannot be read first is not deleted: its subject could not be kept consistent.
        let sbom = registry.seed.digest("hello:1.1.0/sbom");
        let path = format!("/v2/library/hello/manifests/{sbom}");
        proxy.on("GET", move |p| p == path, Some(1), Action::Answer(400));
        let e = c.delete_manifest(&hello, sbom).await.unwrap_err();
        assert!(e.message().contains(sbom) && e.message().contains("nothing was deleted"), "{e}");
        assert_eq!(proxy.count("DELETE", |p| p.ends_with(sbom)), 0);
        assert_eq!(c.manifest(&hello, &Reference::parse(sbom).unwrap()).await.unwrap().digest, sbom);
    })
}
