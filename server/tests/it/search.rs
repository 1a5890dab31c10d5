//! Finding things, against real registries: a catalog of 10,000 repositories (ferro-oci-server
//! pages it with `Link`) filtered, paged and searched; Docker Hub's missing catalog (replayed
//! in front of a real registry) with configured and recently opened repositories; the crawl
//! under a registry that answers 429, incremental between passes; and "where is this digest
//! used" across registries, fed by browsing and by the crawl, showing each caller only what
//! they may see.
//!
//! The real router (pages, server functions) is called in process; the registries are the test
//! kit's, seeded by its own pusher.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portolan_app::model::{BoxResults, RepoPage, RepoQuery, RepoRow, SearchKind, SearchResults, WhereUsedView};
use portolan_search::Budget;
use portolan_testkit::distribution::{Distribution, DistributionAuth, Ferro};
use portolan_testkit::fixtures::{ImageSpec, OCI_CONFIG, OCI_MANIFEST, Seeder};
use portolan_testkit::pusher::{PushAuth, Pusher};

use crate::support::{Answer, TestApp, Who, qs, run, server_fn};

/// Portolan's router in process, and its state (for running crawl passes).
struct Portolan {
    app: TestApp,
}

impl Portolan {
    async fn new(toml: &str) -> Self {
        Self { app: TestApp::new(toml).await }
    }

    async fn send(&self, method: &str, uri: &str, body: Option<String>, who: Who) -> Answer {
        // Pages are asked for as a browser does; server functions as the island does (with
        // text/html, a server function answers a form post with a redirect back).
        let accept = if uri.starts_with("/api/") { "application/json" } else { "text/html" };
        self.app.request(method, uri).who(who).body(body).header("accept", accept).send().await
    }

    async fn get(&self, uri: &str) -> Answer {
        self.send("GET", uri, None, Who::Anonymous).await
    }

    async fn get_as(&self, uri: &str, who: Who) -> Answer {
        self.send("GET", uri, None, who).await
    }

    /// Calls the server function `name` with a form body; its answer, decoded.
    async fn call<T: serde::de::DeserializeOwned>(&self, name: &str, form: String, who: Who) -> Result<T, (StatusCode, String)> {
        let a = self.send("POST", server_fn(name), Some(form), who).await;
        if a.status != StatusCode::OK {
            return Err((a.status, a.body));
        }
        Ok(serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("{name}: {e}: {}", a.body)))
    }

    /// One crawl pass over a registry, without a budget.
    async fn crawl(&self, name: &str) -> portolan_search::PassReport {
        let (_tx, stop) = tokio::sync::watch::channel(false);
        portolan_server::crawler::pass(&self.app.state, &self.app.registry(name), &Budget::unlimited(), stop).await
    }
}

/// Waits (up to 10 s) until `check` holds: writes that pages make in the background.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// ferro-oci-server holding one small image (tag `1.0.0`) in each of `names`.
///
/// Ferro rewrites its whole metadata file at each push (10,000 pushes would take many minutes),
/// so one image is pushed through the API, and the entry ferro wrote for that repository is
/// copied for every other name in that file (`Ferro::edit_metadata`): what Portolan then talks
/// to is ferro itself, serving 10,000 repositories.
struct SeededFerro {
    url: String,
    _ferro: Ferro,
}

impl SeededFerro {
    async fn start(names: &[String]) -> Self {
        let mut ferro = Ferro::start().await.unwrap();
        let pusher = Pusher::new(&ferro.url, PushAuth::None);
        let config =
            pusher.blob(&names[0], OCI_CONFIG, br#"{"architecture":"amd64","os":"linux","created":"2025-05-01T00:00:00Z"}"#).await.unwrap();
        let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(), "layers": []});
        pusher.manifest(&names[0], "1.0.0", OCI_MANIFEST, &serde_json::to_vec(&manifest).unwrap()).await.unwrap();
        ferro
            .edit_metadata(|meta| {
                for section in ["manifests", "tags"] {
                    let template = meta[section][&names[0]].clone();
                    assert!(!template.is_null(), "ferro wrote no {section} entry for {}: {meta}", names[0]);
                    let map = meta[section].as_object_mut().unwrap();
                    for n in &names[1..] {
                        map.insert(n.clone(), template.clone());
                    }
                }
                Ok(())
            })
            .await
            .unwrap();
        Self { url: ferro.url.clone(), _ferro: ferro }
    }
}

fn big_name(i: usize) -> String {
    format!("team-{:02}/service-{i:05}", i % 40)
}

#[test]
fn ten_thousand_repositories_filtered_paged_and_searched() {
    run(async {
        let names: Vec<String> = (0..10_000).map(big_name).collect();
        let ferro = SeededFerro::start(&names).await;
        let portolan = Portolan::new(&format!("[[registries]]\nname = \"big\"\nurl = \"{}\"\n", ferro.url)).await;

        // The first page: the whole catalog read (ten pages of 1,000, by Link), 50 listed.
        let a = portolan.get("/r/big").await;
        assert_eq!(a.status, 200, "{}", &a.body[..a.body.len().min(2000)]);
        assert!(a.body.contains("10000 repositories"), "{}", &a.body[..a.body.len().min(3000)]);
        assert!(a.body.contains("href=\"/r/big?page=2\""), "a link to the next page");
        let listed = |a: &Answer| a.body.matches("data-repository=\"").count();
        assert_eq!(listed(&a), 50);
        assert!(a.body.contains("data-repository=\"team-00/service-00000\""));

        // Filtered on the server, as the island asks while one types: a glob, then a substring.
        let page = |filter: &str, page: usize| {
            let form = qs(&portolan_app::api::ListRepositories {
                registry: "big".into(),
                query: RepoQuery { filter: filter.into(), page, ..Default::default() },
            });
            let portolan = &portolan;
            async move { portolan.call::<RepoPage>("list_repositories", form, Who::Anonymous).await.unwrap() }
        };
        let started = Instant::now();
        let p = page("team-07/*", 1).await;
        let took = started.elapsed();
        assert_eq!((p.total, p.matching, p.rows.len(), p.pages()), (10_000, 250, 50, 5));
        assert!(p.rows.iter().all(|r| r.name().starts_with("team-07/")));
        assert!(took < Duration::from_secs(3), "a filtered page over a kept catalog took {took:?}");
        let last = page("team-07/*", 5).await;
        assert_eq!(last.rows.len(), 50);
        assert_eq!(last.rows.last().unwrap().name(), "team-07/service-09967");
        assert_eq!(page("SERVICE-0999", 1).await.matching, 10, "substrings ignore case");
        assert_eq!(page("nothing-like-this", 1).await.matching, 0);
        // Without JavaScript: the same through the URL.
        let a = portolan.get("/r/big?q=service-0004%2A&page=1").await;
        assert!(a.body.contains("10 of 10000 repositories match"), "{}", &a.body[..a.body.len().min(3000)]);

        // Columns: read within the page's budget or pending; asked for, they come.
        let form = qs(&portolan_app::api::RepositorySummaries {
            registry: "big".into(),
            repositories: vec![big_name(7), big_name(8)],
            budget_ms: 0,
        });
        let rows: Vec<RepoRow> = portolan.call("repository_summaries", form, Who::Anonymous).await.unwrap();
        for row in rows {
            let RepoRow::Ok(s) = row else { panic!("{row:?}") };
            assert_eq!((s.tags, s.newest.as_deref()), (1, Some("1.0.0")));
            assert_eq!(s.pushed, Some(1_746_057_600), "the config's created date");
        }

        // By last push: known ones first, a notice for the rest (read in the background).
        let a = portolan.get("/r/big?sort=pushed").await;
        assert_eq!(a.status, 200);
        assert!(a.body.contains("The last push is known for"), "{}", &a.body[..a.body.len().min(3000)]);

        // Searching, across registries; the search box gets the same, cut to what it shows.
        let form = qs(&portolan_app::api::Search { query: "service-04242".into(), limit: 5 });
        let r: SearchResults = portolan.call("search", form, Who::Anonymous).await.unwrap();
        assert_eq!(r.kind, SearchKind::Names);
        assert_eq!(r.groups.len(), 1);
        assert_eq!(r.groups[0].hits[0].label, big_name(4242));
        assert_eq!(r.groups[0].hits[0].href, format!("/r/big/{}", big_name(4242)));
        let form = qs(&portolan_app::api::BoxSearch { query: "service-04242".into(), limit: 5 });
        let b: BoxResults = portolan.call("box_search", form, Who::Anonymous).await.unwrap();
        assert_eq!(b, BoxResults::from(r));
        let form = qs(&portolan_app::api::Search { query: "team-1*".into(), limit: 5 });
        let r: SearchResults = portolan.call("search", form, Who::Anonymous).await.unwrap();
        assert_eq!((r.groups[0].hits.len(), r.groups[0].more), (5, 2495));
        assert_eq!(r.groups[0].more_href.as_deref(), Some("/r/big?q=team-1%2A"));
        let a = portolan.get(&format!("/search?q={}:1.0.0", big_name(3))).await;
        assert_eq!(a.status, 200);
        assert!(a.body.contains(&format!("href=\"/r/big/{}:1.0.0\"", big_name(3))), "{}", &a.body[..a.body.len().min(4000)]);
    })
}

/// Docker Hub's answer to `/v2/_catalog`, written from its documentation (as
/// `crates/oci/tests/fixtures/dockerhub.json`): a Bearer challenge for `registry:catalog:*`,
/// a token for it, and then 401 `insufficient_scope` all the same — there is no catalog for
/// anyone. Every other request goes to a real registry.
struct HubCatalog {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HubCatalog {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HubCatalog {
    async fn start(upstream: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = (url.clone(), upstream.to_owned(), portolan_testkit::runner::http_client());
        let app = axum::Router::new().fallback(hub).with_state(Arc::new(state));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, task }
    }
}

async fn hub(State(s): State<Arc<(String, String, reqwest::Client)>>, request: Request) -> Response {
    let (base, upstream, http) = &*s;
    let path = request.uri().path().to_owned();
    let unauthorized = |extra: &str| {
        let challenge = format!("Bearer realm=\"{base}/token\",service=\"registry.docker.io\",scope=\"registry:catalog:*\"{extra}");
        Response::builder()
            .status(401)
            .header("www-authenticate", challenge)
            .header("docker-distribution-api-version", "registry/2.0")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#))
            .unwrap()
    };
    if path == "/token" {
        return axum::Json(
            serde_json::json!({"token": "hub-token", "access_token": "hub-token", "expires_in": 300, "issued_at": "2025-01-01T00:00:00Z"}),
        )
        .into_response();
    }
    if path == "/v2/_catalog" {
        return if request.headers().contains_key("authorization") {
            unauthorized(",error=\"insufficient_scope\"")
        } else {
            unauthorized("")
        };
    }
    let target = format!("{upstream}{}", request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let mut forward = http.request(request.method().clone(), target);
    for (name, value) in request.headers() {
        if matches!(name.as_str(), "accept" | "content-type") {
            forward = forward.header(name, value);
        }
    }
    match forward.send().await {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status().as_u16());
            for (name, value) in answer.headers() {
                if !matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
                    response = response.header(name, value);
                }
            }
            response.body(Body::from(answer.bytes().await.unwrap_or_default())).unwrap()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

#[test]
fn docker_hubs_missing_catalog_lists_configured_and_opened_repositories() {
    run(async {
        let registry = Distribution::start(DistributionAuth::Anonymous).await.unwrap();
        let seeder = Seeder::new(Pusher::new(&registry.url, PushAuth::None), true);
        for (repo, tags) in
            [("library/alpine", &["3.19", "3.20", "latest"][..]), ("library/nginx", &["1.27"][..]), ("myorg/app", &["2.0"][..])]
        {
            seeder.image(repo, tags, &ImageSpec::new(repo)).await.unwrap();
        }
        let hub = HubCatalog::start(&registry.url).await;
        let portolan = Portolan::new(&format!(
            "[[registries]]\nname = \"hub\"\ntitle = \"Docker Hub\"\nurl = \"{}\"\nrepositories = [\"library/alpine\", \"myorg/app\"]\n",
            hub.url
        ))
        .await;

        // Never empty: the configured repositories, and why there is no full list.
        let a = portolan.get("/r/hub").await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains("data-testid=\"no-catalog\""));
        assert!(a.body.contains("does not list its repositories"), "{}", a.body);
        assert!(a.body.contains("data-repository=\"library/alpine\"") && a.body.contains("data-repository=\"myorg/app\""));
        assert!(!a.body.contains("data-repository=\"library/nginx\""));
        assert!(a.body.contains(">configured<"));
        assert!(a.body.contains("id=\"open-repo\""));

        // Opened once, listed from then on.
        assert_eq!(portolan.get("/r/hub/library/nginx").await.status, 200);
        eventually("the opened repository is listed", || async {
            portolan.get("/r/hub").await.body.contains("data-repository=\"library/nginx\"")
        })
        .await;
        assert!(portolan.get("/r/hub").await.body.contains(">opened here<"));

        // The search box finds them, and says why it cannot find more.
        let form = qs(&portolan_app::api::Search { query: "nginx".into(), limit: 5 });
        let r: SearchResults = portolan.call("search", form, Who::Anonymous).await.unwrap();
        assert_eq!(r.groups[0].hits[0].label, "library/nginx");
        assert!(r.groups[0].note.as_deref().unwrap_or_default().contains("no catalog"), "{r:?}");
        let form = qs(&portolan_app::api::Search { query: "library/alpine:3.*".into(), limit: 5 });
        let r: SearchResults = portolan.call("search", form, Who::Anonymous).await.unwrap();
        assert_eq!(r.kind, SearchKind::Tag);
        let labels: Vec<&str> = r.groups[0].hits.iter().map(|h| h.label.as_str()).collect();
        assert_eq!(labels, vec!["library/alpine:3.19", "library/alpine:3.20"]);

        // The crawl, without a catalog, reads the listed ones.
        let report = portolan.crawl("hub").await;
        assert_eq!((report.repositories, report.done, report.failed), (3, 3, 0), "{report:?}");
    })
}

/// A registry's quota, in front of a real one: every `every`-th request is answered 429 with
/// `Retry-After: retry_after` seconds (as Docker Hub does past its pull limit); what it saw is
/// kept: (when it arrived, method, path, status).
type Seen = Arc<Mutex<Vec<(Instant, String, String, u16)>>>;

struct Quota {
    url: String,
    seen: Seen,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Quota {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type QuotaState = (String, reqwest::Client, u64, u64, Seen);

impl Quota {
    async fn start(upstream: &str, every: u64, retry_after: u64) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<_>>> = Arc::default();
        let state: Arc<QuotaState> =
            Arc::new((upstream.to_owned(), portolan_testkit::runner::http_client(), every, retry_after, seen.clone()));
        let app = axum::Router::new().fallback(quota).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, seen, task }
    }

    fn seen(&self) -> Vec<(Instant, String, String, u16)> {
        self.seen.lock().unwrap().clone()
    }

    fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }
}

async fn quota(State(s): State<Arc<QuotaState>>, request: Request) -> Response {
    let (upstream, http, every, retry_after, seen) = &*s;
    let arrived = Instant::now();
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let n = {
        let seen = seen.lock().unwrap();
        seen.len() as u64 + 1
    };
    if path != "/v2/" && n % every == 0 {
        seen.lock().unwrap().push((arrived, method, path, 429));
        return Response::builder()
            .status(429)
            .header("retry-after", retry_after.to_string())
            .header("content-type", "application/json")
            .body(Body::from(r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit.","detail":null}]}"#))
            .unwrap();
    }
    let target = format!("{upstream}{}", request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let mut forward = http.request(request.method().clone(), target);
    for (name, value) in request.headers() {
        if matches!(name.as_str(), "accept" | "content-type") {
            forward = forward.header(name, value);
        }
    }
    let answer = forward.send().await;
    let status = answer.as_ref().map(|a| a.status().as_u16()).unwrap_or(502);
    seen.lock().unwrap().push((arrived, method, path, status));
    match answer {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status().as_u16());
            for (name, value) in answer.headers() {
                if !matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
                    response = response.header(name, value);
                }
            }
            response.body(Body::from(answer.bytes().await.unwrap_or_default())).unwrap()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

/// The first layer of an image manifest.
async fn first_layer(pusher: &Pusher, repo: &str, digest: &str) -> String {
    let bytes = pusher.get_manifest(repo, digest).await.unwrap().unwrap();
    let m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    m["layers"][0]["digest"].as_str().unwrap().to_owned()
}

#[test]
fn the_crawl_pauses_on_429_and_reads_only_what_changed() {
    run(async {
        let registry = Distribution::start(DistributionAuth::Anonymous).await.unwrap();
        let pusher = Pusher::new(&registry.url, PushAuth::None);
        let seeder = Seeder::new(pusher.clone(), true);
        let shared = ImageSpec::new("shared base layer\n");
        let mut arm = ImageSpec::new("shared base layer\n");
        arm.architecture = "arm64";
        for i in 1..=4 {
            let repo = format!("apps/app-{i}");
            seeder.multi_platform(&repo, &["1.0", "latest"], &[shared.clone(), arm.clone()]).await.unwrap();
            seeder.image(&repo, &["debug"], &ImageSpec::new(&format!("debug build {i}\n"))).await.unwrap();
        }
        let image = seeder.image("apps/app-1", &[], &shared).await.unwrap();
        let layer = first_layer(&pusher, "apps/app-1", &image.digest).await;
        // Every 9th request is refused for a second. The client does not retry (so the crawl's
        // own pause is what is tested), and trusts tag digests for a second only.
        let limited = Quota::start(&registry.url, 9, 1).await;
        let portolan = Portolan::new(&format!(
            "[[registries]]\nname = \"q\"\nurl = \"{}\"\nmax_retries = 0\ntag_ttl_secs = 1\ncrawl = true\n",
            limited.url
        ))
        .await;

        let started = Instant::now();
        let first = portolan.crawl("q").await;
        eprintln!("first pass: {first:?} in {:.1} s", started.elapsed().as_secs_f64());
        assert_eq!((first.repositories, first.done, first.failed), (4, 4, 0), "{first:?}");
        assert!(first.pauses >= 2, "{first:?}");
        // After each 429, nothing new was asked for Retry-After: only requests already in flight
        // (at most the crawl's concurrency less the refused one) arrive meanwhile.
        let mut seen = limited.seen();
        seen.sort_by_key(|s| s.0);
        let refusals: Vec<usize> = seen.iter().enumerate().filter(|(_, s)| s.3 == 429).map(|(i, _)| i).collect();
        assert!(!refusals.is_empty());
        for &i in &refusals {
            let within = seen[i + 1..].iter().take_while(|s| s.0 - seen[i].0 < Duration::from_millis(950)).count();
            assert!(within < portolan_server::crawler::CONCURRENCY, "{within} requests arrived less than a second after a 429");
        }
        assert!(started.elapsed() >= Duration::from_secs(first.pauses as u64), "each pause lasted Retry-After");
        let state = portolan.app.state.store.crawl_state("q").await.unwrap().unwrap();
        assert_eq!(state.state, "waiting");
        assert!(state.pass_finished.is_some());

        // Where the shared layer is used: every repository, through its index (both tags).
        let form = qs(&portolan_app::api::WhereUsed { digest: layer.clone() });
        let used: WhereUsedView = portolan.call("where_used", form, Who::Anonymous).await.unwrap();
        let repos: Vec<&str> = used.registries[0].repositories.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(repos, vec!["apps/app-1", "apps/app-2", "apps/app-3", "apps/app-4"]);
        let tagged = &used.registries[0].repositories[1].uses[0];
        assert_eq!(tagged.tags.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(), vec!["1.0", "latest"]);
        assert_eq!(tagged.path.len(), 2, "index → platform manifest → layer");
        assert_eq!(tagged.path[0].platform.as_deref(), Some("linux/amd64"));
        assert_eq!(used.coverage[0].crawled, 4);

        // Nothing changed: the second pass lists and resolves, and reads no manifest.
        limited.clear();
        let second = portolan.crawl("q").await;
        assert_eq!((second.done, second.changed, second.read), (4, 0, 0), "{second:?}");
        let gets = limited.seen().iter().filter(|s| s.1 == "GET" && s.2.contains("/manifests/") && s.3 == 200).count();
        assert_eq!(gets, 0, "{:?}", limited.seen());

        // One tag moves, one goes: only the moved one is read; the gone one leaves the index.
        let moved = seeder.image("apps/app-2", &["debug"], &ImageSpec::new("debug build 2, again\n")).await.unwrap();
        let gone = pusher.get_manifest("apps/app-3", "debug").await.unwrap().unwrap();
        let gone_digest = portolan_testkit::pusher::sha256(&gone);
        let gone_layer = first_layer(&pusher, "apps/app-3", &gone_digest).await;
        pusher.delete_manifest("apps/app-3", &gone_digest).await.unwrap();
        // Past the client's tag TTL, so the HEADs reach the registry.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        limited.clear();
        let third = portolan.crawl("q").await;
        assert_eq!((third.changed, third.read), (1, 1), "{third:?}");
        let read: Vec<String> =
            limited.seen().iter().filter(|s| s.1 == "GET" && s.2.contains("/manifests/") && s.3 == 200).map(|s| s.2.clone()).collect();
        assert_eq!(read, vec![format!("/v2/apps/app-2/manifests/{}", moved.digest)]);
        assert_eq!(portolan.app.state.store.index_tags("q", "apps/app-2").await.unwrap()["debug"], moved.digest);
        let form = qs(&portolan_app::api::WhereUsed { digest: gone_layer });
        let used: WhereUsedView = portolan.call("where_used", form, Who::Anonymous).await.unwrap();
        assert_eq!(used.places(), 0, "a deleted image leaves the index: {used:?}");
    })
}

#[test]
fn where_a_digest_is_used_across_registries_for_each_caller() {
    run(async {
        let a = Distribution::start(DistributionAuth::Anonymous).await.unwrap();
        let b = Distribution::start(DistributionAuth::Anonymous).await.unwrap();
        let spec = ImageSpec::new("the same layer in two registries\n");
        let in_a = Seeder::new(Pusher::new(&a.url, PushAuth::None), true).image("team/app", &["1.0"], &spec).await.unwrap();
        let in_b = Seeder::new(Pusher::new(&b.url, PushAuth::None), true).image("mirror/app", &["v1", "stable"], &spec).await.unwrap();
        assert_eq!(in_a.digest, in_b.digest, "the same image");
        let layer = first_layer(&Pusher::new(&a.url, PushAuth::None), "team/app", &in_a.digest).await;
        let portolan = Portolan::new(&format!(
            "[auth.proxy]\ntrusted = [\"127.0.0.1\"]\n\
             [[grants]]\nrole = \"viewer\"\ngroups = [\"everyone\"]\n\
             [[grants]]\nrole = \"viewer\"\nregistry = \"a\"\ngroups = [\"a-only\"]\n\
             [[registries]]\nname = \"a\"\nurl = \"{}\"\n\
             [[registries]]\nname = \"b\"\nurl = \"{}\"\ncrawl = true\n",
            a.url, b.url
        ))
        .await;
        let everyone = Who::User("eve", "everyone");
        let a_only = Who::User("ann", "a-only");

        // a: known because someone opened its tag list; b: because the crawl read it.
        assert_eq!(portolan.get_as("/r/a/team/app", everyone).await.status, 200);
        eventually("the opened tag is indexed", || async {
            portolan.app.state.store.index_tags("a", "team/app").await.unwrap().contains_key("1.0")
        })
        .await;
        assert_eq!(portolan.crawl("b").await.done, 1);

        // The digest page: both registries for someone who may see both.
        let page = portolan.get_as(&format!("/digest/{layer}"), everyone).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Used in 2 places of 2 repositories in 2 registries."), "{}", page.body);
        assert!(page.body.contains("href=\"/r/a/team/app:1.0\"") && page.body.contains("href=\"/r/b/mirror/app:stable\""));
        assert!(page.body.contains("data-testid=\"coverage\""));
        assert!(page.body.contains("off: only what people opened") && page.body.contains("on, between passes"), "{}", page.body);
        // Someone who may see a alone sees a alone; someone not signed in is asked to.
        let page = portolan.get_as(&format!("/digest/{layer}"), a_only).await;
        assert!(page.body.contains("Used in 1 place of 1 repository in 1 registry."), "{}", page.body);
        assert!(!page.body.contains("/r/b/"));
        assert_eq!(portolan.get(&format!("/digest/{layer}")).await.status, 401);
        assert_eq!(portolan.get("/digest/sha256:nope").await.status, 400);

        // "Also used by" on the artifact page and the blob page.
        let artifact = portolan.get_as("/r/a/team/app:1.0", everyone).await;
        assert_eq!(artifact.status, 200);
        let also = &artifact.body[artifact.body.find("data-testid=\"also-used\"").expect("the section")..];
        assert!(also.contains("href=\"/r/b/mirror/app:v1\""), "{also}");
        let blob = portolan.get_as(&format!("/r/b/mirror/app/-/blob/{layer}"), everyone).await;
        let also = &blob.body[blob.body.find("data-testid=\"also-used\"").expect("the section")..];
        assert!(also.contains("href=\"/r/a/team/app:1.0\"") && !also.contains("href=\"/r/b/mirror/app:v1\""), "{also}");
        let blob = portolan.get_as(&format!("/r/a/team/app/-/blob/{layer}"), a_only).await;
        assert!(blob.body.contains("knows no other repository with this blob"), "{}", blob.body);

        // The search box: a digest, or its first 12 digits, answers where it is used.
        let hex = layer.trim_start_matches("sha256:");
        for q in [layer.clone(), hex[..12].to_owned()] {
            let form = qs(&portolan_app::api::Search { query: q.clone(), limit: 5 });
            let r: SearchResults = portolan.call("search", form, everyone).await.unwrap();
            assert_eq!(r.kind, SearchKind::Digest);
            assert_eq!(r.used.as_ref().map(|u| u.places()), Some(2), "{q}: {r:?}");
            let form = qs(&portolan_app::api::BoxSearch { query: q.clone(), limit: 5 });
            let b: BoxResults = portolan.call("box_search", form, everyone).await.unwrap();
            assert_eq!(b, BoxResults::from(r), "{q}");
        }
        let results = portolan.get_as(&format!("/search?q={}", &hex[..12]), everyone).await;
        assert!(results.body.contains("Used in 2 places"), "{}", results.body);
        // Untrusted text stays text: a query with markup is shown escaped, and kept out of the
        // title (which leptos_meta writes unescaped).
        let results = portolan.get_as("/search?q=%3C%2Ftitle%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E", everyone).await;
        assert_eq!(results.status, 200);
        assert!(results.body.contains("<title>/titlescriptalert(1)/script · Search · Portolan</title>"), "{}", results.body);
        let at = results.body.find("<script>alert(1)</script>");
        assert!(at.is_none(), "{}", &results.body[at.unwrap_or(0).saturating_sub(300)..(at.unwrap_or(0) + 100).min(results.body.len())]);
    })
}
