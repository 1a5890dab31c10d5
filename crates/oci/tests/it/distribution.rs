//! The client against real registries started by the test kit: CNCF distribution 2.8
//! (anonymous, htpasswd, token auth) and ferro-oci-server (the referrers API).

use std::collections::HashSet;

use portolan_oci::{
    ArtifactKind, Client, ClientConfig, Credentials, ErrorKind, Manifest, Reference, ReferrerSource, ReferrersMode, Support, Tag,
    TagDeleteMethod,
};
use portolan_testkit::fixtures::many_tag_name;
use portolan_testkit::{ADMIN, Kind, READER, Registry};

use crate::support::{repo, run};

fn tag(name: &str) -> Reference {
    Reference::Tag(Tag::parse(name).unwrap())
}

fn digest(d: &str) -> Reference {
    Reference::parse(d).unwrap()
}

fn client(registry: &Registry, credentials: Credentials) -> Client {
    Client::new(ClientConfig::new(&registry.url).credentials(credentials)).unwrap()
}

fn admin() -> Credentials {
    Credentials::Basic { username: ADMIN.0.into(), password: ADMIN.1.into() }
}

#[test]
fn browses_an_anonymous_distribution() {
    run(async {
        let mut registry = Registry::start(Kind::Anonymous, 0).await.unwrap();
        registry.tags_on_one_image("stress/many-tags", 1200).await.unwrap();
        let c = client(&registry, Credentials::Anonymous);
        c.ping().await.unwrap();

        // The catalog, two at a time, through Link paging.
        let mut names = Vec::new();
        let mut last: Option<String> = None;
        loop {
            let page = c.catalog_page(2, last.as_deref()).await.unwrap();
            assert!(page.repositories.len() <= 2);
            names.extend(page.repositories);
            match page.next {
                Some(next) => last = Some(next),
                None => break,
            }
        }
        assert_eq!(names, ["acme/app", "charts/portolan-demo", "library/hello", "stress/many-tags", "team/platform/api"]);

        // 1200 tags: distribution ignores n and answers them all; each appears once.
        let tags = c.tags(&repo("stress/many-tags")).await.unwrap();
        assert_eq!(tags.len(), 1200);
        let expected: HashSet<String> = (0..1200).map(many_tag_name).collect();
        assert_eq!(tags.iter().cloned().collect::<HashSet<_>>(), expected);

        let hello = repo("library/hello");
        let tags = c.tags(&hello).await.unwrap();
        for t in ["1.0.0", "1.1.0", "latest", "2.0.0-rc.1", "docker-v2"] {
            assert!(tags.contains(&t.to_owned()), "{t} in {tags:?}");
        }
        let v110 = registry.seed.digest("hello:1.1.0");
        assert!(tags.contains(&format!("sha256-{}", &v110[7..])), "the fallback tag is a tag like any other");

        // Manifests by tag and by digest agree with what the seed pushed.
        let doc = c.manifest(&hello, &tag("1.1.0")).await.unwrap();
        assert_eq!(doc.digest, v110);
        assert_eq!(doc.media_type, portolan_oci::media::OCI_MANIFEST);
        let Manifest::Image(image) = doc.manifest().unwrap() else { panic!("an image") };
        assert_eq!(doc.manifest().unwrap().kind(&doc.media_type), ArtifactKind::Image);
        let config = c.blob(&hello, image.config().digest().as_ref(), None).await.unwrap();
        let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(config["created"], "2025-06-01T12:00:00Z");
        assert_eq!(c.resolve(&hello, &tag("latest")).await.unwrap().digest, v110);
        let by_digest = c.manifest(&hello, &digest(v110)).await.unwrap();
        assert_eq!(by_digest.bytes, doc.bytes);

        let docker = c.manifest(&hello, &tag("docker-v2")).await.unwrap();
        assert_eq!(docker.media_type, portolan_oci::media::DOCKER_MANIFEST);
        assert_eq!(docker.manifest().unwrap().kind(&docker.media_type), ArtifactKind::Image);

        let api = repo("team/platform/api");
        let index = c.manifest(&api, &tag("v1.0.0")).await.unwrap();
        let Manifest::Index(index) = index.manifest().unwrap() else { panic!("an index") };
        assert_eq!(index.manifests().len(), 4, "two platforms and two attestation manifests");

        let chart = c.manifest(&repo("charts/portolan-demo"), &tag("0.2.0")).await.unwrap();
        assert_eq!(chart.manifest().unwrap().kind(&chart.media_type), ArtifactKind::HelmChart);

        // Errors a user can act on.
        let missing = c.manifest(&hello, &tag("no-such-tag")).await.unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::NotFound);
        let missing = c.tags(&repo("no/such/repo")).await.unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::NotFound);
    })
}

#[test]
fn finds_referrers_through_the_fallback_tag_and_legacy_cosign_tags() {
    run(async {
        let registry = Registry::start(Kind::Anonymous, 0).await.unwrap();
        let c = client(&registry, Credentials::Anonymous);
        let hello = repo("library/hello");
        let v110 = registry.seed.digest("hello:1.1.0");

        let (referrers, mode) = c.referrers(&hello, v110, None).await.unwrap();
        assert_eq!(mode, ReferrersMode::FallbackTag);
        let found: HashSet<String> = referrers.iter().map(|r| r.digest()).collect();
        let expected: HashSet<String> = ["hello:1.1.0/sbom", "hello:1.1.0/signature", "hello:1.1.0/attestation"]
            .iter()
            .map(|n| registry.seed.digest(n).to_owned())
            .collect();
        assert_eq!(found, expected);
        assert!(referrers.iter().all(|r| r.source == ReferrerSource::FallbackTag));
        let sbom = referrers.iter().find(|r| r.digest() == registry.seed.digest("hello:1.1.0/sbom")).unwrap();
        assert_eq!(sbom.kind(), ArtifactKind::Sbom);

        // Filtered on the client.
        let (only_sboms, _) = c.referrers(&hello, v110, Some("application/spdx+json")).await.unwrap();
        assert_eq!(only_sboms.len(), 1);

        // cosign's legacy .sig tag on 1.0.0.
        let (legacy, _) = c.referrers(&hello, registry.seed.digest("hello:1.0.0"), None).await.unwrap();
        assert_eq!(legacy.len(), 1);
        assert_eq!(legacy[0].source, ReferrerSource::CosignTag("sig".into()));
        assert_eq!(legacy[0].kind(), ArtifactKind::Signature);
        assert_eq!(legacy[0].digest(), registry.seed.digest("hello:1.0.0/legacy-signature"));

        // The whole graph: the SBOM's own signature is one level further down.
        let graph = c.referrer_graph(&hello, v110, 100).await.unwrap();
        assert_eq!(graph.nodes.len(), 4);
        let sbom_sig = graph.nodes.iter().find(|n| n.referrer.digest() == registry.seed.digest("hello:1.1.0/sbom/signature")).unwrap();
        assert_eq!(sbom_sig.depth, 2);
        assert_eq!(sbom_sig.subject, registry.seed.digest("hello:1.1.0/sbom"));
        assert!(!graph.truncated);
        let capped = c.referrer_graph(&hello, v110, 2).await.unwrap();
        assert_eq!(capped.nodes.len(), 2);
        assert!(capped.truncated);
    })
}

#[test]
fn uses_the_referrers_api_where_there_is_one() {
    run(async {
        let registry = Registry::start(Kind::Ferro, 0).await.unwrap();
        let c = client(&registry, Credentials::Anonymous);
        let hello = repo("library/hello");
        let v110 = registry.seed.digest("hello:1.1.0");
        let (referrers, mode) = c.referrers(&hello, v110, None).await.unwrap();
        assert_eq!(mode, ReferrersMode::Api);
        assert_eq!(referrers.len(), 3, "{referrers:?}");
        assert!(referrers.iter().all(|r| r.source == ReferrerSource::Api));
        let (sboms, _) = c.referrers(&hello, v110, Some("application/spdx+json")).await.unwrap();
        assert_eq!(sboms.len(), 1);
        assert_eq!(sboms[0].digest(), registry.seed.digest("hello:1.1.0/sbom"));
        let graph = c.referrer_graph(&hello, v110, 100).await.unwrap();
        assert_eq!(graph.nodes.len(), 4);
        // Referrer lists are cached for the tag TTL: asking again sends nothing.
        let sent = c.stats().requests.load(std::sync::atomic::Ordering::Relaxed);
        let (again, _) = c.referrers(&hello, v110, None).await.unwrap();
        assert_eq!(again.len(), 3);
        assert_eq!(c.stats().requests.load(std::sync::atomic::Ordering::Relaxed), sent, "answered from the cache");
        // Forgotten with the repository's tags.
        c.invalidate_repo(&hello).await;
        c.referrers(&hello, v110, None).await.unwrap();
        assert!(c.stats().requests.load(std::sync::atomic::Ordering::Relaxed) > sent);

        let caps = c.capabilities(&hello).await.unwrap();
        assert_eq!(caps.referrers_api, Some(true));
        // ferro answers an unknown repository with an empty list, not a 404.
        assert!(c.tags(&repo("no/such/repo")).await.unwrap().is_empty());
    })
}

#[test]
fn probes_capabilities_without_side_effects() {
    run(async {
        let registry = Registry::start(Kind::Anonymous, 0).await.unwrap();
        let c = client(&registry, Credentials::Anonymous);
        let hello = repo("library/hello");
        let before = c.tags(&hello).await.unwrap();
        let caps = c.capabilities(&hello).await.unwrap();
        assert_eq!(caps.referrers_api, Some(false));
        assert_eq!(caps.manifest_delete, Some(Support::Yes));
        assert!(matches!(caps.tag_delete, Some(Support::No(_))), "{caps:?}");
        c.invalidate_repo(&hello).await;
        assert_eq!(c.tags(&hello).await.unwrap(), before);
    })
}

#[test]
fn deletes_a_tag_without_touching_its_siblings() {
    run(async {
        let registry = Registry::start(Kind::Anonymous, 0).await.unwrap();
        let c = client(&registry, Credentials::Anonymous);
        let hello = repo("library/hello");
        let v110 = registry.seed.digest("hello:1.1.0");
        // `latest` and `1.1.0` share a digest; distribution has no tag DELETE.
        let mut siblings = c.tags_for_digest(&hello, v110, 4).await.unwrap();
        siblings.sort();
        assert_eq!(siblings, ["1.1.0", "latest"]);
        let deleted = c.delete_tag(&hello, &Tag::parse("latest").unwrap(), Some(v110)).await.unwrap();
        assert_eq!(deleted.digest, v110);
        assert!(matches!(deleted.method, TagDeleteMethod::Throwaway { .. }));
        let tags = c.tags(&hello).await.unwrap();
        assert!(!tags.contains(&"latest".to_owned()), "{tags:?}");
        assert_eq!(c.resolve(&hello, &tag("1.1.0")).await.unwrap().digest, v110, "the sibling tag is intact");
        assert_eq!(c.tags_for_digest(&hello, v110, 4).await.unwrap(), ["1.1.0"]);
        assert_eq!(c.manifest(&hello, &digest(v110)).await.unwrap().digest, v110);

        // A moved tag is not deleted.
        let moved = c.delete_tag(&hello, &Tag::parse("1.0.0").unwrap(), Some(v110)).await.unwrap_err();
        assert_eq!(moved.kind(), ErrorKind::Conflict);
        assert!(c.tags(&hello).await.unwrap().contains(&"1.0.0".to_owned()));
    })
}

#[test]
fn deleting_a_referrer_keeps_the_fallback_index_consistent() {
    run(async {
        let registry = Registry::start(Kind::Anonymous, 0).await.unwrap();
        let c = client(&registry, Credentials::Anonymous);
        let hello = repo("library/hello");
        let v110 = registry.seed.digest("hello:1.1.0");
        let sbom = registry.seed.digest("hello:1.1.0/sbom");
        let deleted = c.delete_manifest(&hello, sbom).await.unwrap();
        assert_eq!(deleted.fallback_index_updated.as_deref(), Some(v110));
        let (referrers, _) = c.referrers(&hello, v110, None).await.unwrap();
        assert_eq!(referrers.len(), 2);
        assert!(referrers.iter().all(|r| r.digest() != sbom));
        assert_eq!(c.manifest(&hello, &digest(sbom)).await.unwrap_err().kind(), ErrorKind::NotFound);
        // Deleting it again: not found, nothing else changes.
        assert_eq!(c.delete_manifest(&hello, sbom).await.unwrap_err().kind(), ErrorKind::NotFound);
    })
}

#[test]
fn deletes_on_a_registry_with_the_referrers_api() {
    run(async {
        let registry = Registry::start(Kind::Ferro, 0).await.unwrap();
        let c = client(&registry, Credentials::Anonymous);
        let hello = repo("library/hello");
        let v110 = registry.seed.digest("hello:1.1.0");
        let deleted = c.delete_tag(&hello, &Tag::parse("latest").unwrap(), None).await.unwrap();
        assert_eq!(deleted.digest, v110);
        let tags = c.tags(&hello).await.unwrap();
        assert!(!tags.contains(&"latest".to_owned()));
        assert_eq!(c.resolve(&hello, &tag("1.1.0")).await.unwrap().digest, v110);
        let sig = registry.seed.digest("hello:1.1.0/signature");
        let deleted = c.delete_manifest(&hello, sig).await.unwrap();
        assert_eq!(deleted.fallback_index_updated, None, "the registry keeps its own referrers");
        let (referrers, _) = c.referrers(&hello, v110, None).await.unwrap();
        assert!(referrers.iter().all(|r| r.digest() != sig));
    })
}

#[test]
fn basic_auth() {
    run(async {
        let registry = Registry::start(Kind::Basic, 0).await.unwrap();
        let hello = repo("library/hello");
        let c = client(&registry, admin());
        assert_eq!(c.manifest(&hello, &tag("1.0.0")).await.unwrap().digest, registry.seed.digest("hello:1.0.0"));
        assert_eq!(c.catalog_page(100, None).await.unwrap().repositories.len(), 4);

        let anonymous = client(&registry, Credentials::Anonymous);
        assert_eq!(anonymous.tags(&hello).await.unwrap_err().kind(), ErrorKind::Unauthorized);
        let wrong = client(&registry, Credentials::Basic { username: "admin".into(), password: "nope".into() });
        let e = wrong.tags(&hello).await.unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Unauthorized | ErrorKind::Denied), "{e:?}");
    })
}

#[test]
fn token_auth_scopes_sharing_and_renewal() {
    run(async {
        let mut registry = Registry::start(Kind::Token, 0).await.unwrap();
        registry.tags_on_one_image("stress/many-tags", 300).await.unwrap();
        let token_server = registry.token.clone().unwrap();
        let c = client(&registry, admin());
        let many = repo("stress/many-tags");
        let tags = c.tags(&many).await.unwrap();
        assert_eq!(tags.len(), 300);

        // 300 concurrent resolutions in one repository: one pull token.
        let before = token_server.requests();
        let c2 = client(&registry, admin());
        let references: Vec<Reference> = tags.iter().map(|t| tag(t)).collect();
        let resolved = futures::future::join_all(references.iter().map(|r| c2.resolve(&many, r))).await;
        assert!(resolved.iter().all(Result::is_ok));
        let used = token_server.requests() - before;
        assert_eq!(used, 1, "{used} token requests for one scope");
        assert_eq!(c2.stats().token_requests.load(std::sync::atomic::Ordering::Relaxed), 1);

        // The catalog needs its own scope.
        assert_eq!(c.catalog_page(10, None).await.unwrap().repositories.len(), 5);

        // A token the registry refuses (expired early) is renewed once, transparently.
        token_server.expire_next_token();
        let hello = repo("library/hello");
        assert_eq!(c.manifest(&hello, &tag("1.0.0")).await.unwrap().digest, registry.seed.digest("hello:1.0.0"));

        // A pull-only user reads, and is refused deleting (denied, not unauthorized).
        let reader = client(&registry, Credentials::Basic { username: READER.0.into(), password: READER.1.into() });
        assert!(reader.tags(&hello).await.is_ok());
        let e = reader.delete_manifest(&hello, registry.seed.digest("hello:2.0.0-rc.1")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Denied, "{e:?}");
        let caps = reader.capabilities(&hello).await.unwrap();
        assert!(matches!(caps.manifest_delete, Some(Support::No(_))), "{caps:?}");
        assert!(c.tags(&hello).await.unwrap().contains(&"2.0.0-rc.1".to_owned()), "nothing was deleted");

        // Anonymous: the token server issues an empty token; the registry refuses.
        let anonymous = client(&registry, Credentials::Anonymous);
        assert_eq!(anonymous.tags(&hello).await.unwrap_err().kind(), ErrorKind::Unauthorized);
        // Wrong password: the token server refuses, and that is an error (no anonymous retry).
        let wrong = client(&registry, Credentials::Basic { username: "admin".into(), password: "wrong".into() });
        let e = wrong.tags(&hello).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e:?}");
        assert!(e.message().contains("token server"), "{e}");

        // The admin deletes through the safe path.
        let deleted = c.delete_tag(&hello, &Tag::parse("2.0.0-rc.1").unwrap(), None).await.unwrap();
        assert!(matches!(deleted.method, TagDeleteMethod::Throwaway { .. }));
    })
}

#[test]
fn follows_link_paging_on_a_registry_that_pages() {
    run(async {
        // ferro-oci-server pages tags and the catalog with Link headers.
        let mut registry = Registry::start(Kind::Ferro, 0).await.unwrap();
        registry.tags_on_one_image("stress/many-tags", 2100).await.unwrap();
        let c = client(&registry, Credentials::Anonymous);
        let tags = c.tags(&repo("stress/many-tags")).await.unwrap();
        assert_eq!(tags.len(), 2100);
        let expected: HashSet<String> = (0..2100).map(many_tag_name).collect();
        assert_eq!(tags.iter().cloned().collect::<HashSet<_>>(), expected);
        let page = c.catalog_page(2, None).await.unwrap();
        assert_eq!(page.repositories.len(), 2);
        let rest = c.catalog_page(1000, page.next.as_deref()).await.unwrap();
        assert_eq!(rest.repositories.len(), 3);
        assert!(rest.next.is_none());
    })
}
