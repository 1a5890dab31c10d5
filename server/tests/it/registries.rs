//! The web app against real registries set up the awkward ways real ones are: HTTPS with a
//! private CA (trusted through `ca_file`, not trusted, or `insecure_tls`), static bearer tokens,
//! pull-only and wrong credentials, a registry answering 403, a catalog longer than a page, no
//! catalog at all, a tag pushed again while it is cached, blobs over the blob cap and binary
//! blobs, an index whose child is gone; bad input to server functions and the JSON API; and
//! static files served alongside pages without taking their headers, compressed (their
//! precompressed copies sent as they are).
//!
//! The real router (pages, server functions, routes) is called in process; the registries are
//! the test kit's (CNCF distribution, its token server, its proxies), seeded by its own pusher.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portolan_testkit::distribution::{Distribution, DistributionAuth};
use portolan_testkit::fixtures::{ImageSpec, OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, Seeder};
use portolan_testkit::pusher::{PushAuth, Pusher};
use portolan_testkit::seed::{SeedReport, seed_demo};
use portolan_testkit::slow::SlowProxy;
use portolan_testkit::tls::{TestCa, client_trusting};
use portolan_testkit::token::{Grant, TokenServer};
use portolan_testkit::{ADMIN, READER};

use crate::support::{Answer, TestApp, Who, registry, run};

/// Portolan's router, in process, with a configuration of `[[registries]]`.
struct Portolan {
    app: TestApp,
}

impl Portolan {
    async fn new(registries: &str) -> Self {
        Self { app: TestApp::new(registries).await }
    }

    async fn with_site(registries: &str, site_root: &Path) -> Self {
        Self { app: TestApp::build(registries).site_root(site_root).start().await }
    }

    /// A GET as browsers send it (`Accept-Encoding: gzip`); the body decoded.
    async fn get_gzip(&self, uri: &str) -> Answer {
        use std::io::Read;
        let mut a = self.app.request("GET", uri).header("accept", "text/html").header("accept-encoding", "br;q=0, gzip").send().await;
        assert_eq!(a.header("content-encoding"), Some("gzip"), "{uri} was sent compressed");
        let mut body = String::new();
        flate2::read::GzDecoder::new(&a.bytes[..]).read_to_string(&mut body).expect("valid gzip");
        a.body = body;
        a
    }

    /// How many pages the page cache sent again, and how many it rendered (`/metrics`).
    async fn page_cache_counts(&self) -> (u64, u64) {
        let text = self.get("/metrics").await.body;
        let count = |outcome: &str| {
            text.lines()
                .find(|l| {
                    l.starts_with("portolan_cache_lookups_total")
                        && l.contains("cache=\"pages\"")
                        && l.contains(&format!("result=\"{outcome}\""))
                })
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        (count("hit"), count("miss"))
    }

    async fn get(&self, uri: &str) -> Answer {
        self.app.get(uri).await
    }

    /// Calls the server function `name` with a form body.
    async fn server_fn(&self, name: &str, form: String) -> Answer {
        self.app.server_fn(name, Who::Anonymous, form).await
    }
}

/// The `href` of the link (`<a …>`) whose tag contains `marker`.
fn link_href(body: &str, marker: &str) -> Option<String> {
    let at = body.find(marker)?;
    let tag_start = body[..at].rfind("<a ")?;
    let tag = &body[tag_start..tag_start + body[tag_start..].find('>')?];
    let start = tag.find("href=\"")? + 6;
    Some(tag[start..start + tag[start..].find('"')?].to_owned())
}

/// The error box of a page: `(data-error-status, data-registry-status)`.
fn error_box(a: &Answer) -> (Option<String>, Option<String>) {
    (a.attribute_after("role=\"alert\"", "data-error-status"), a.attribute_after("role=\"alert\"", "data-registry-status"))
}

#[test]
fn an_https_registry_with_a_private_ca() {
    run(async {
        let ca = TestCa::new().unwrap();
        let cert = ca.server_cert(&["127.0.0.1", "localhost"]).unwrap();
        let registry_ = Distribution::start_with(DistributionAuth::Anonymous, Some(&cert)).await.unwrap();
        assert!(registry_.url.starts_with("https://"));
        let pusher = Pusher::with_client(&registry_.url, PushAuth::None, client_trusting(&ca).unwrap());
        let seed = seed_demo(&Seeder::new(pusher, true), 0).await.unwrap();

        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        ca.write(&ca_file).unwrap();
        let url = &registry_.url;
        let portolan = Portolan::new(&format!(
            "{}{}{}",
            registry("trusted", url, &format!("ca_file = \"{}\"", ca_file.display())),
            registry("untrusted", url, "max_retries = 1"),
            registry("insecure", url, "insecure_tls = true"),
        ))
        .await;

        // With its CA: it works, pages and all.
        let a = portolan.get("/r/trusted").await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains(">library/hello<"), "{}", a.body);
        let a = portolan.get("/r/trusted/library/hello:1.1.0").await;
        assert_eq!(a.status, 200);
        assert!(a.body.contains(seed.digest("hello:1.1.0")));

        // Without it: a clear error page at once — no panic, no hang.
        for path in ["/r/untrusted", "/r/untrusted/library/hello"] {
            let started = Instant::now();
            let a = portolan.get(path).await;
            assert!(started.elapsed() < Duration::from_secs(20), "{path} took {:?}", started.elapsed());
            assert_eq!(a.status, 502, "{path}: {}", a.body);
            assert_eq!(error_box(&a).0.as_deref(), Some("502"));
            assert!(a.body.contains("certificate"), "{path} says it is about the certificate: {}", a.body);
            assert!(a.body.contains("ca_file"), "{path} says what to do: {}", a.body);
        }

        // insecure_tls: any certificate (test registries only).
        let a = portolan.get("/r/insecure/library/hello").await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains("data-tag=\"1.1.0\""));
    })
}

#[test]
fn credentials_a_registry_takes_or_refuses() {
    run(async {
        let token = Arc::new(
            TokenServer::start(&[(ADMIN.0, ADMIN.1, Grant::All), (READER.0, READER.1, Grant::Pull)], Grant::Nothing).await.unwrap(),
        );
        let registry_ = Distribution::start(DistributionAuth::Token(&token)).await.unwrap();
        let minter = token.clone();
        let auth = PushAuth::Bearer(Arc::new(move |repo: &str| minter.mint(&[("repository", repo, &["pull", "push", "delete"])])));
        let seed = seed_demo(&Seeder::new(Pusher::new(&registry_.url, auth), true), 0).await.unwrap();
        // A static bearer token: what a CI job's token looks like to Portolan (no username).
        let pull: &[&str] = &["pull"];
        let bearer = token
            .mint_for(
                &[("repository", "library/hello", pull), ("repository", "team/platform/api", pull), ("registry", "catalog", &["*"])],
                Duration::from_secs(3600),
            )
            .unwrap();
        // A registry that knows the credentials but gives them no access (Harbor, Docker Hub…).
        let denied = SlowProxy::denied(&registry_.url).await.unwrap();
        let url = &registry_.url;
        let portolan = Portolan::new(&format!(
            "{}{}{}{}{}",
            registry("bearer", url, &format!("password = \"{bearer}\"")),
            registry("reader", url, &format!("username = \"{}\"\npassword = \"{}\"", READER.0, READER.1)),
            registry("wrong", url, &format!("username = \"{}\"\npassword = \"not-the-password\"", ADMIN.0)),
            registry("denied", &denied.url, &format!("username = \"{}\"\npassword = \"{}\"", ADMIN.0, ADMIN.1)),
            registry("nobody", url, ""),
        ))
        .await;

        // The static token is sent as it is: catalog, tags, artifacts.
        let a = portolan.get("/r/bearer").await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains(">library/hello<") && a.body.contains(">team/platform/api<"), "{}", a.body);
        let a = portolan.get("/r/bearer/library/hello:1.1.0").await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains(seed.digest("hello:1.1.0")));
        // …and only as far as it reaches: a repository outside its scopes is refused.
        let a = portolan.get("/r/bearer/charts/portolan-demo").await;
        assert_eq!(a.status, 502, "{}", a.body);
        assert_eq!(error_box(&a), (Some("502".into()), Some("401".into())));

        // Pull-only is all browsing needs.
        let a = portolan.get("/r/reader/library/hello").await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains("data-tag=\"1.1.0\""));

        // The registry refusing Portolan's own credentials is a 502 that says so and shows the
        // registry's status — never a 401/403 of Portolan's, which would be about the visitor.
        for (path, registry_status) in [
            ("/r/wrong/library/hello", "401"),
            ("/r/wrong/library/hello:1.1.0", "401"),
            ("/r/nobody/library/hello", "401"),
            ("/r/denied/library/hello", "403"),
            ("/r/denied/library/hello:1.1.0", "403"),
        ] {
            let a = portolan.get(path).await;
            assert_eq!(a.status, 502, "{path}: {}", a.body);
            assert_eq!(error_box(&a), (Some("502".into()), Some(registry_status.into())), "{path}");
            assert!(a.body.contains("refused Portolan&#x27;s credentials") || a.body.contains("refused Portolan's credentials"), "{path}");
            assert!(a.body.contains(&format!("The registry answered HTTP {registry_status}.")), "{path}");
            assert!(!a.body.contains("data-testid=\"sign-in-link\""), "{path}: signing in would change nothing");
        }
        // The configured password shows nowhere, not even in the error.
        let a = portolan.get("/r/wrong/library/hello").await;
        assert!(!a.body.contains("not-the-password"));
        // Badges say it in the image, with the same refusal status.
        let a = portolan.get("/badge/denied/library/hello/latest.svg").await;
        assert_eq!(a.headers.get("content-type").unwrap(), "image/svg+xml; charset=utf-8");
        assert!(a.status.is_server_error() || a.status.is_success(), "{}", a.status);
    })
}

#[test]
fn catalog_pages_and_registries_without_a_catalog() {
    run(async {
        let registry_ = Distribution::start(DistributionAuth::Anonymous).await.unwrap();
        let seeder = Seeder::new(Pusher::new(&registry_.url, PushAuth::None), true);
        // 130 repositories: more than the 100 of a catalog page.
        let names: Vec<String> = (0..130).map(|i| format!("many/repo-{i:03}")).collect();
        let spec = ImageSpec::new("tiny\n");
        futures::future::try_join_all(names.iter().map(|n| seeder.image(n, &["1"], &spec))).await.unwrap();
        let no_catalog = SlowProxy::without_catalog(&registry_.url).await.unwrap();
        let portolan = Portolan::new(&format!("{}{}", registry("many", &registry_.url, ""), registry("hub", &no_catalog.url, ""))).await;

        // Page after page through the "next" links, every repository once, none left out.
        let mut seen: Vec<String> = Vec::new();
        let mut page = portolan.get("/r/many").await;
        let mut pages = 1;
        loop {
            assert_eq!(page.status, 200, "{}", page.body);
            let here: Vec<&String> = names.iter().filter(|n| page.body.contains(&format!("href=\"/r/many/{n}\""))).collect();
            assert!(!here.is_empty() && here.len() < names.len(), "page {pages} lists {} repositories", here.len());
            seen.extend(here.into_iter().cloned());
            match link_href(&page.body, "rel=\"next\"") {
                Some(next) => {
                    assert!(next.starts_with("/r/many?"), "{next}");
                    page = portolan.get(&next.replace("&amp;", "&")).await;
                    pages += 1;
                    assert!(pages < 10, "the pages end");
                }
                None => break,
            }
        }
        assert!(pages >= 2, "more than one page");
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), seen.len(), "no repository on two pages");
        assert_eq!(sorted, names, "every repository on some page");

        // No catalog (404, as Docker Hub and GHCR): a notice and the box to open one by name.
        let a = portolan.get("/r/hub").await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains("does not list its repositories"), "{}", a.body);
        assert!(a.body.contains("id=\"open-repo\""), "the box to open a repository by name");
        let a = portolan.get("/r/hub?open=many/repo-007").await;
        assert!(a.status.is_redirection(), "{}", a.status);
        assert_eq!(a.headers.get("location").unwrap(), "/r/hub/many/repo-007");
        assert_eq!(portolan.get("/r/hub/many/repo-007").await.status, 200);
    })
}

#[test]
fn a_tag_pushed_again_shows_its_new_digest_once_its_ttl_is_over() {
    run(async {
        let registry_ = Distribution::start(DistributionAuth::Anonymous).await.unwrap();
        let pusher = Pusher::new(&registry_.url, PushAuth::None);
        let seeder = Seeder::new(pusher.clone(), true);
        let old = seeder.image("library/moving", &["stable"], &ImageSpec::new("one\n")).await.unwrap();
        let new = seeder.image("library/moving", &["next"], &ImageSpec::new("two\n")).await.unwrap();
        const TTL: u64 = 3;
        let portolan = Portolan::new(&registry("ttl", &registry_.url, &format!("tag_ttl_secs = {TTL}"))).await;

        let cached_at = Instant::now();
        let a = portolan.get("/r/ttl/library/moving:stable").await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains(&old.digest) && !a.body.contains(&new.digest));
        let row = portolan.get("/r/ttl/library/moving").await;
        assert!(row.body.contains(&format!("data-digest=\"{}\"", old.digest)), "{}", row.body);

        // The tag page as browsers ask for it is kept and sent again while its data is cached —
        // the same page, each time with a nonce of its own, in the body and the policy alike.
        let first = portolan.get_gzip("/r/ttl/library/moving").await;
        let (hits, _) = portolan.page_cache_counts().await;
        let again = portolan.get_gzip("/r/ttl/library/moving").await;
        assert_eq!(portolan.page_cache_counts().await.0, hits + 1, "the second view was the kept page");
        let nonce = |a: &Answer| {
            let policy = a.headers.get("content-security-policy").unwrap().to_str().unwrap().to_owned();
            let start = policy.find("'nonce-").unwrap() + 7;
            policy[start..start + policy[start..].find('\'').unwrap()].to_owned()
        };
        let (n1, n2) = (nonce(&first), nonce(&again));
        assert_ne!(n1, n2, "every response has its own nonce");
        assert!(again.body.contains(&format!("nonce=\"{n2}\"")) && !again.body.contains(&n1), "the page carries its response's nonce");
        assert_eq!(first.body.replace(&n1, "N"), again.body.replace(&n2, "N"), "the same page otherwise");
        assert!(again.body.contains(&format!("data-digest=\"{}\"", old.digest)));

        // Pushed again: `stable` is now the other image.
        let bytes = pusher.get_manifest("library/moving", &new.digest).await.unwrap().unwrap();
        pusher.manifest("library/moving", "stable", OCI_MANIFEST, &bytes).await.unwrap();
        let pushed_at = Instant::now();

        // Within the TTL the cached digest may still be shown (here it is, being well within).
        let a = portolan.get("/r/ttl/library/moving:stable").await;
        if cached_at.elapsed() < Duration::from_secs(TTL - 1) {
            assert!(a.body.contains(&old.digest), "within the TTL the tag is still trusted");
        }
        // After it, the new digest, on the artifact page and in the tag list. (Anything Portolan
        // read before the push — pages, and the details it reads in the background — was cached
        // by the time the push was done, give or take a request in flight: a TTL and a second.)
        tokio::time::sleep((Duration::from_secs(TTL) + Duration::from_secs(1)).saturating_sub(pushed_at.elapsed())).await;
        let a = portolan.get("/r/ttl/library/moving:stable").await;
        assert_eq!(a.status, 200);
        let around = |d: &str| a.body.find(d).map(|i| a.body[i.saturating_sub(300)..(i + 100).min(a.body.len())].to_owned());
        assert!(
            a.body.contains(&new.digest) && !a.body.contains(&old.digest),
            "after the TTL the new digest is shown: new {:?}, old {:?}",
            around(&new.digest),
            around(&old.digest)
        );
        let row = portolan.get("/r/ttl/library/moving").await;
        assert!(row.body.contains(&format!("data-digest=\"{}\"", new.digest)), "{}", row.body);
        // The kept page too: its tag list and digests are no longer what the caches hold.
        let kept = portolan.get_gzip("/r/ttl/library/moving").await;
        assert!(kept.body.contains(&format!("data-digest=\"{}\"", new.digest)), "{}", kept.body);
        assert!(!kept.body.contains(&old.digest));
    })
}

/// An image whose config is `config_bytes` long (a label padding it), and its layer.
async fn image_with_big_config(seeder: &Seeder, repo: &str, tag: &str, config_bytes: usize) -> (String, String, String) {
    let padding = "x".repeat(config_bytes);
    let spec = ImageSpec::new("big config\n").label("org.example.padding", &padding);
    let pushed = seeder.image(repo, &[tag], &spec).await.unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&seeder.pusher.get_manifest(repo, &pushed.digest).await.unwrap().unwrap()).unwrap();
    (pushed.digest, manifest["config"]["digest"].as_str().unwrap().to_owned(), manifest["layers"][0]["digest"].as_str().unwrap().to_owned())
}

#[test]
fn big_and_binary_blobs_and_an_index_missing_a_platform() {
    run(async {
        let registry_ = Distribution::start(DistributionAuth::Anonymous).await.unwrap();
        let pusher = Pusher::new(&registry_.url, PushAuth::None);
        let seeder = Seeder::new(pusher.clone(), true);
        let (image, config, layer) = image_with_big_config(&seeder, "big/config", "1", 1536 * 1024).await;
        let platforms = [ImageSpec::new("amd64\n"), ImageSpec::new("arm64\n").platform("arm64", Some("v8"))];
        let (index, images) = seeder.multi_platform("broken/index", &["1"], &platforms).await.unwrap();
        pusher.delete_manifest("broken/index", &images[1].digest).await.unwrap();
        let url = &registry_.url;
        let portolan = Portolan::new(&format!("{}{}", registry("reg", url, ""), registry("capped", url, "max_blob_mb = 1"))).await;

        // A config over the blob cap: the page still comes, saying why the config is not shown.
        let a = portolan.get("/r/capped/big/config:1").await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains(&image));
        let problem = &a.body[a.body.find("data-testid=\"config-problem\"").expect("the config's problem is shown")..];
        assert!(problem[..400].contains("larger than the 1.0 MiB limit"), "the cap is named: {problem:.400}");
        assert!(!a.body.contains("org.example.padding"), "the config was not read");
        // Under the default cap it is shown.
        let a = portolan.get("/r/reg/big/config:1").await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains("org.example.padding"));

        // The blob page: too big to preview, binary by type, binary by content.
        let a = portolan.get(&format!("/r/reg/big/config/-/blob/{config}?type={OCI_CONFIG}")).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains("larger than the 1.0 MiB preview limit"), "{}", a.body);
        assert!(a.body.contains("data-testid=\"no-preview\""));
        let a = portolan.get(&format!("/r/reg/big/config/-/blob/{layer}?type={OCI_LAYER_GZIP}")).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains("is not previewed (not text)"), "{}", a.body);
        let a = portolan.get(&format!("/r/reg/big/config/-/blob/{layer}")).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains("binary content"), "{}", a.body);
        let a = portolan.get(&format!("/r/reg/big/config/-/blob/sha256:{}", "0".repeat(64))).await;
        assert_eq!(a.status, 404, "{}", a.body);

        // An index whose arm64 manifest is gone: shown as missing, the rest as it is.
        let a = portolan.get("/r/reg/broken/index:1").await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains(&index.digest));
        let problem = &a.body[a.body.find("data-testid=\"platform-problem\"").expect("a platform problem")..];
        assert!(problem[..200].contains("missing (404)"), "{problem:.300}");
        assert!(a.body.contains("linux/amd64"));
        // The tag row says so too (read without a time budget through the server function).
        let a = portolan.server_fn("tag_details", "registry=reg&repository=broken%2Findex&tags[0]=1&budget_ms=0".into()).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let rows: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(rows[0]["Ok"]["missing_children"], 1, "{rows}");
        let page = portolan.get("/r/reg/broken/index").await;
        assert!(page.body.contains("1 missing"), "{}", page.body);
    })
}

#[test]
fn bad_input_is_refused_with_400() {
    run(async {
        let registry_ = Distribution::start(DistributionAuth::Anonymous).await.unwrap();
        let seed: SeedReport = seed_demo(&Seeder::new(Pusher::new(&registry_.url, PushAuth::None), true), 0).await.unwrap();
        let portolan = Portolan::new(&registry("reg", &registry_.url, "")).await;

        // More tags than a page has, in one tag_details call.
        let tags: String = (0..=500).map(|i| format!("&tags[{i}]=t{i}")).collect();
        let a = portolan.server_fn("tag_details", format!("registry=reg&repository=library%2Fhello{tags}&budget_ms=0")).await;
        assert_eq!(a.status, 400, "{}", a.body);
        assert!(a.body.contains("at most 500 tags at once"), "{}", a.body);
        let a = portolan.server_fn("tag_details", "registry=reg&repository=library%2Fhello&tags[0]=bad..tag!&budget_ms=0".into()).await;
        assert_eq!(a.status, 400, "{}", a.body);
        let a = portolan.server_fn("tag_details", "registry=reg&repository=Library%2FHello&tags[0]=1.0.0&budget_ms=0".into()).await;
        assert_eq!(a.status, 400, "{}", a.body);
        let a = portolan.server_fn("tag_details", "registry=reg&repository=library%2Fhello&tags[0]=1.0.0&budget_ms=0".into()).await;
        assert_eq!(a.status, 200, "{}", a.body);

        // The JSON API: 400 with a JSON error for what is not a name, a tag or a digest.
        let digest = seed.digest("hello:1.1.0");
        for (path, status, says) in [
            ("/api/v1/referrers/reg/library/hello@sha256:nope".to_owned(), 400, "digest"),
            ("/api/v1/referrers/reg/library/hello".to_owned(), 400, "name a tag"),
            ("/api/v1/referrers/reg/Library/Hello:1.1.0".to_owned(), 400, "lowercase"),
            ("/api/v1/referrers/reg/library/hello:bad..tag!".to_owned(), 400, "tag"),
            (format!("/api/v1/referrers/reg/library/hello@{digest}?artifactType=%01"), 400, "artifactType"),
            (format!("/api/v1/referrers/reg/library/hello@{digest}?artifactType={}", "a".repeat(300)), 400, "artifactType"),
            ("/api/v1/referrers/nope/library/hello:1.1.0".to_owned(), 404, "nope"),
            ("/api/v1/referrers/reg/library/hello:no-such-tag".to_owned(), 404, ""),
        ] {
            let a = portolan.get(&path).await;
            assert_eq!(a.status.as_u16(), status, "{path}: {}", a.body);
            assert_eq!(a.headers.get("content-type").unwrap(), "application/json", "{path}");
            let json: serde_json::Value = serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("{path}: {e}: {}", a.body));
            let error = json["error"].as_str().unwrap_or_else(|| panic!("{path}: {json}"));
            assert!(error.contains(says), "{path}: {error}");
        }
        let a = portolan.get(&format!("/api/v1/referrers/reg/library/hello@{digest}")).await;
        assert_eq!(a.status, 200, "{}", a.body);
    })
}

#[test]
fn static_files_never_take_the_headers_of_a_page_served_meanwhile() {
    run(async {
        let registry_ = Distribution::start(DistributionAuth::Anonymous).await.unwrap();
        seed_demo(&Seeder::new(Pusher::new(&registry_.url, PushAuth::None), true), 0).await.unwrap();
        let site = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(site.path().join("pkg")).unwrap();
        std::fs::write(site.path().join("pkg/portolan.js"), "export default function init() {}\n".repeat(2000)).unwrap();
        std::fs::write(site.path().join("favicon.svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\"/>").unwrap();
        let portolan = Arc::new(Portolan::with_site(&registry("reg", &registry_.url, ""), site.path()).await);

        // Pages and files at the same time, from several worker threads.
        let mut tasks = Vec::new();
        for i in 0..120 {
            let portolan = portolan.clone();
            tasks.push(tokio::spawn(async move {
                let path = match i % 3 {
                    0 => "/r/reg/library/hello:1.1.0",
                    1 => "/pkg/portolan.js",
                    _ => "/favicon.svg",
                };
                let a = portolan.get(path).await;
                (path, a.status, a.headers.get("content-security-policy").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default())
            }));
        }
        for task in tasks {
            let (path, status, csp) = task.await.unwrap();
            assert_eq!(status, 200, "{path}");
            if path.starts_with("/r/") {
                assert!(csp.contains("script-src 'self' 'nonce-"), "a page keeps its own policy: {csp}");
            } else {
                assert!(csp.starts_with("default-src 'none'") && !csp.contains("nonce"), "{path} has no page's policy: {csp}");
            }
        }
        // Unknown addresses still get the 404 page.
        let a = portolan.get("/no/such/file.js").await;
        assert_eq!(a.status, 404);
        assert!(a.body.contains("There is no page at this address."));
    })
}

#[test]
fn static_files_go_out_compressed_precompressed_copies_as_they_are() {
    run(async {
        // What `cargo leptos build --release --precompress` leaves: the WebAssembly with .br and
        // .gz copies beside it (stand-ins here, told apart by their bytes); the script without.
        let site = tempfile::tempdir().unwrap();
        let pkg = site.path().join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        let wasm = b"\0asm\x01\0\0\0".repeat(4000);
        std::fs::write(pkg.join("portolan.wasm"), &wasm).unwrap();
        std::fs::write(pkg.join("portolan.wasm.br"), b"brotli copy").unwrap();
        std::fs::write(pkg.join("portolan.wasm.gz"), b"gzip copy").unwrap();
        std::fs::write(pkg.join("portolan.js"), "export default function init() {}\n".repeat(2000)).unwrap();
        let portolan = Portolan::with_site(&registry("reg", "http://127.0.0.1:9", ""), site.path()).await;
        let get = |path: &'static str, accept: &'static str| {
            let portolan = &portolan.app;
            async move {
                let mut call = portolan.request("GET", path);
                if !accept.is_empty() {
                    call = call.header("accept-encoding", accept);
                }
                let a = call.send().await;
                assert_eq!(a.status, 200, "{path}");
                (a.header("content-encoding").map(str::to_owned), a.bytes)
            }
        };
        // What Chromium asks with: the brotli copy, as it is.
        let (encoding, body) = get("/pkg/portolan.wasm", "gzip, deflate, br, zstd").await;
        assert_eq!((encoding.as_deref(), &body[..]), (Some("br"), &b"brotli copy"[..]));
        let (encoding, body) = get("/pkg/portolan.wasm", "gzip").await;
        assert_eq!((encoding.as_deref(), &body[..]), (Some("gzip"), &b"gzip copy"[..]));
        let (encoding, body) = get("/pkg/portolan.wasm", "").await;
        assert_eq!((encoding, body.len()), (None, wasm.len()), "no compression asked for, none given");
        // Each says the answer depends on Accept-Encoding (shared caches keep them apart).
        for accept in ["br", "gzip", ""] {
            let a = portolan.app.request("GET", "/pkg/portolan.wasm").header("accept-encoding", accept).send().await;
            assert_eq!(a.header("vary"), Some("accept-encoding"), "Accept-Encoding: {accept}");
        }
        // A file without copies, and the stylesheet: compressed as they are sent.
        for path in ["/pkg/portolan.js", "/style/portolan.css"] {
            let (encoding, body) = get(path, "br, gzip").await;
            assert_eq!(encoding.as_deref(), Some("gzip"), "{path}");
            let (_, plain) = get(path, "").await;
            assert!(body.len() < plain.len() / 2, "{path}: {} bytes compressed, {} plain", body.len(), plain.len());
        }
    })
}

/// A registry slower than its `timeout_secs`: the page answers 504, saying the registry did not
/// answer in time, without waiting for it.
#[test]
fn a_registry_slower_than_its_timeout_is_a_504() {
    run(async {
        let registry_ = Distribution::start(DistributionAuth::Anonymous).await.unwrap();
        let seeder = Seeder::new(Pusher::new(&registry_.url, PushAuth::None), true);
        seeder.image("library/slow", &["1.0"], &ImageSpec::new("slow\n")).await.unwrap();
        const DELAY: Duration = Duration::from_secs(6);
        let slow = SlowProxy::start(&registry_.url, DELAY).await.unwrap();
        let portolan = Portolan::new(&registry("slow", &slow.url, "timeout_secs = 1\nmax_retries = 0")).await;
        let started = Instant::now();
        let a = portolan.get("/r/slow/library/slow:1.0").await;
        assert_eq!(a.status, 504, "{}", &a.body[..a.body.len().min(2000)]);
        assert!(a.body.contains("The registry did not answer in time"), "{}", &a.body[..a.body.len().min(2000)]);
        assert!(started.elapsed() < DELAY, "answered without waiting for the registry: {:?}", started.elapsed());
    })
}
