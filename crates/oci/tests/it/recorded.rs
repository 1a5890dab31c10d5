//! The client against recorded behaviour of registries that cannot run here (Docker Hub, GHCR)
//! and against faults (hangs, garbage, huge bodies, rate limits, 5xx, redirects). Nothing here
//! depends on timing except upper bounds that prove nothing hangs.

use std::time::{Duration, Instant};

use crate::support::replay::Replay;
use crate::support::{repo, run};
use portolan_oci::{
    ArtifactKind, Client, ClientConfig, Credentials, ErrorKind, Manifest, Reference, ReferrerSource, ReferrersMode, Support, Tag,
    TagDeleteMethod, TagDeleteMode,
};

fn client(url: &str, credentials: Credentials) -> Client {
    let mut config = ClientConfig::new(url).credentials(credentials);
    config.request_timeout = Duration::from_secs(1);
    config.connect_timeout = Duration::from_secs(1);
    config.max_retries = 2;
    config.max_retry_wait = Duration::from_secs(5);
    Client::new(config).unwrap()
}

fn basic() -> Credentials {
    Credentials::Basic { username: "me".into(), password: "secret".into() }
}

fn tag(t: &str) -> Reference {
    Reference::Tag(Tag::parse(t).unwrap())
}

const ALPINE: &str = "sha256:539d53decf9517663c775d537df3e33a30ff9cc7f47086f515c327b7bcf8c332";

#[test]
fn docker_hub() {
    run(async {
        let hub = Replay::start("dockerhub.json", None).await;
        let c = client(&hub.url, basic());
        c.ping().await.unwrap();

        // No catalog, for anyone: said so, not reported as a credentials problem.
        let e = c.catalog_page(100, None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(e.message().contains("open a repository by name"), "{e}");

        let alpine = repo("library/alpine");
        let resolved = c.resolve(&alpine, &tag("3.20")).await.unwrap();
        assert_eq!(resolved.digest, ALPINE);
        let doc = c.manifest(&alpine, &Reference::parse(ALPINE).unwrap()).await.unwrap();
        let Manifest::Index(index) = doc.manifest().unwrap() else { panic!("an index") };
        assert_eq!(index.manifests().len(), 2);
        assert_eq!(c.tags(&alpine).await.unwrap().len(), 4);

        // DELETE is refused with 405: probed without deleting, and reported as unsupported.
        let caps = c.capabilities(&alpine).await.unwrap();
        assert!(matches!(&caps.manifest_delete, Some(Support::No(why)) if why.contains("disabled")), "{caps:?}");
        let e = c.delete_manifest(&alpine, ALPINE).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");

        // Token requests: Basic credentials, scopes per repository and action, `delete` included.
        let tokens = hub.seen_at("/token");
        assert!(tokens.iter().all(|t| { t.authorization.as_deref().is_some_and(|a| a.starts_with("Basic ")) }));
        assert!(tokens.iter().any(|t| t.path_and_query.contains("scope=repository%3Alibrary%2Falpine%3Adelete")), "{tokens:?}");
        assert!(tokens.iter().any(|t| t.path_and_query.contains("scope=registry%3Acatalog%3A*")), "{tokens:?}");
        assert!(tokens.iter().all(|t| t.path_and_query.contains("service=registry.docker.io")));
        // One pull token served every pull request of the repository.
        let pulls = tokens.iter().filter(|t| t.path_and_query.contains("library%2Falpine%3Apull")).count();
        assert_eq!(pulls, 1, "{tokens:?}");
    })
}

#[test]
fn ghcr() {
    run(async {
        let gh = Replay::start("ghcr.json", None).await;
        let c = client(&gh.url, Credentials::Anonymous);
        let app = repo("owner/app");
        let subject = format!("sha256:{}", "c".repeat(64));

        // Two pages through Link.
        let tags = c.tags(&app).await.unwrap();
        assert_eq!(*tags, ["v1", "v2", "v3", &format!("sha256-{}", "c".repeat(64))]);

        // No referrers API: the fallback tag's index is read instead. Concurrent callers share one
        // probe of the API.
        let together = futures::future::join_all((0..5).map(|_| c.referrers(&app, &subject, None))).await;
        assert!(together.iter().all(|r| r.as_ref().is_ok_and(|(list, _)| list.len() == 2)));
        assert_eq!(gh.seen_at("/v2/owner/app/referrers/").len(), 1, "{:?}", gh.seen());
        let (referrers, mode) = c.referrers(&app, &subject, None).await.unwrap();
        assert_eq!(mode, ReferrersMode::FallbackTag);
        assert_eq!(referrers.len(), 2);
        assert!(referrers.iter().all(|r| r.source == ReferrerSource::FallbackTag));
        let kinds: Vec<ArtifactKind> = referrers.iter().map(|r| r.kind()).collect();
        assert_eq!(kinds, [ArtifactKind::Signature, ArtifactKind::Sbom]);
        let (sboms, _) = c.referrers(&app, &subject, Some("application/spdx+json")).await.unwrap();
        assert_eq!(sboms.len(), 1);
        // The tag list (cached) has no cosign legacy tags: none was asked for.
        assert!(gh.seen().iter().all(|s| !s.path_and_query.contains(".sig")), "{:?}", gh.seen());

        // Anonymous tokens, one for all the pulls.
        let tokens = gh.seen_at("/token");
        assert_eq!(tokens.len(), 1, "{tokens:?}");
        assert!(tokens[0].authorization.is_none());
        assert!(tokens[0].path_and_query.contains("service=ghcr.io"));
    })
}

#[test]
fn faults_end_in_clear_errors_and_nothing_hangs() {
    run(async {
        let storage = Replay::start("storage.json", None).await;
        let f = Replay::start("faults.json", Some(&storage.url)).await;
        let c = client(&f.url, basic());
        c.ping().await.unwrap();

        // A registry that never answers: a timeout, not retried, well within bounds.
        let started = Instant::now();
        let e = c.tags(&repo("slow")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());

        assert_eq!(c.tags(&repo("garbage")).await.unwrap_err().kind(), ErrorKind::BadResponse);
        assert_eq!(c.tags(&repo("html")).await.unwrap_err().kind(), ErrorKind::BadResponse);
        assert!(c.tags(&repo("nulltags")).await.unwrap().is_empty(), "`tags: null` is an empty list");

        // 50 MB where a manifest (4 MiB at most) was expected.
        let e = c.manifest(&repo("huge"), &tag("big")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");

        // 429 with a short Retry-After is waited out; a long one is reported at once.
        assert_eq!(*c.tags(&repo("limited")).await.unwrap(), ["a"]);
        assert_eq!(f.seen_at("/v2/limited/").len(), 2);
        let started = Instant::now();
        let e = c.tags(&repo("toolimited")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3600)));
        assert_eq!(f.seen_at("/v2/toolimited/").len(), 1);
        assert!(started.elapsed() < Duration::from_secs(5));

        // 503 twice then 200: retried; 500 for ever: given up after the retries.
        assert_eq!(*c.tags(&repo("flaky")).await.unwrap(), ["x"]);
        assert_eq!(f.seen_at("/v2/flaky/").len(), 3);
        let e = c.tags(&repo("broken")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(f.seen_at("/v2/broken/").len(), 3);

        let doc = c.manifest(&repo("schema1"), &tag("old")).await.unwrap();
        let e = doc.manifest().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.message().contains("schema 1"), "{e}");

        let liar = Reference::parse(&format!("sha256:{}", "a".repeat(64))).unwrap();
        let e = c.manifest(&repo("liar"), &liar).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadResponse);
        assert!(e.message().contains("digest"), "{e}");

        // A blob redirected to storage on another host: the bytes arrive, the credentials do not.
        let hello = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        assert_eq!(&c.blob(&repo("redirect"), hello, None).await.unwrap()[..], b"hello");
        assert!(f.seen_at("/v2/redirect/")[0].authorization.as_deref().is_some_and(|a| a.starts_with("Basic ")));
        let stored = storage.seen();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].authorization, None, "Authorization must not follow a redirect to another host");

        // A registry with the OCI tag DELETE, configured as such by its operator: used, nothing else.
        // (Unconfigured, a tag DELETE is only used once verified on a scratch repository.)
        let operator = Client::new(ClientConfig::new(&f.url).credentials(basic()).tag_delete(TagDeleteMode::Always, None)).unwrap();
        let deleted = operator.delete_tag(&repo("tagdel"), &Tag::parse("v1").unwrap(), None).await.unwrap();
        assert_eq!(deleted.method, TagDeleteMethod::TagDelete);
        assert_eq!(f.seen().iter().filter(|s| s.method == "PUT").count(), 0);
    })
}

#[test]
fn an_unreachable_registry_is_unavailable() {
    run(async {
        let addr = portolan_testkit::process::unused_addr().unwrap();
        let c = client(&format!("http://{addr}"), Credentials::Anonymous);
        let started = Instant::now();
        let e = c.tags(&repo("anything")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
        assert!(e.message().contains("cannot connect"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10));
    })
}

/// The Docker Hub and GHCR fixtures are written from documentation (see fixtures/README.md):
/// their header names, challenges and error envelopes must be those the registries send, and
/// every body served under a digest must hash to it.
#[test]
fn fixtures_have_the_registries_shapes() {
    use sha2::{Digest, Sha256};
    const HEADERS: [&str; 10] = [
        "www-authenticate",
        "docker-content-digest",
        "docker-distribution-api-version",
        "etag",
        "ratelimit-limit",
        "ratelimit-remaining",
        "docker-ratelimit-source",
        "link",
        "content-type",
        "content-length",
    ];
    const CODES: [&str; 14] = [
        "BLOB_UNKNOWN",
        "BLOB_UPLOAD_INVALID",
        "BLOB_UPLOAD_UNKNOWN",
        "DIGEST_INVALID",
        "MANIFEST_BLOB_UNKNOWN",
        "MANIFEST_INVALID",
        "MANIFEST_UNKNOWN",
        "NAME_INVALID",
        "NAME_UNKNOWN",
        "SIZE_INVALID",
        "UNAUTHORIZED",
        "DENIED",
        "UNSUPPORTED",
        "TOOMANYREQUESTS",
    ];
    for (file, detail_always) in [("dockerhub.json", true), ("ghcr.json", false)] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(file);
        let fixture: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for e in fixture["exchanges"].as_array().unwrap() {
            let at = format!("{file}: {} {} {}", e["method"], e["path"], e["status"]);
            let headers: Vec<(String, String)> = serde_json::from_value(e.get("headers").cloned().unwrap_or_default()).unwrap_or_default();
            for (name, value) in &headers {
                assert!(HEADERS.contains(&name.as_str()), "{at}: {name} is not a header those registries send (or not lowercase)");
                if name == "www-authenticate" {
                    assert!(value.starts_with("Bearer realm=\"") && value.contains(",service=\""), "{at}: {value}");
                }
                if name == "docker-content-digest"
                    && let Some(body) = e["body"].as_str()
                {
                    assert_eq!(value, &format!("sha256:{}", hex::encode(Sha256::digest(body.as_bytes()))), "{at}: the digest of its body");
                }
            }
            let status = e["status"].as_u64().unwrap();
            if status == 401 {
                assert!(headers.iter().any(|(n, _)| n == "www-authenticate"), "{at}: a 401 carries its challenge");
            }
            if status >= 400
                && let Some(body) = e.get("body").filter(|b| b.is_object())
            {
                let errors = body["errors"].as_array().unwrap_or_else(|| panic!("{at}: an error answer is {{\"errors\":[…]}}"));
                assert!(!errors.is_empty(), "{at}");
                for error in errors {
                    let keys: Vec<&String> = error.as_object().unwrap().keys().collect();
                    assert!(
                        CODES.contains(&error["code"].as_str().unwrap_or("")) || error["code"] == "NOT_FOUND",
                        "{at}: code {}",
                        error["code"]
                    );
                    assert!(error["message"].is_string(), "{at}: message");
                    assert!(keys.iter().all(|k| ["code", "message", "detail"].contains(&k.as_str())), "{at}: {keys:?}");
                    if detail_always {
                        assert!(error.get("detail").is_some(), "{at}: Docker Hub always sends detail");
                    }
                }
            }
        }
    }
}
