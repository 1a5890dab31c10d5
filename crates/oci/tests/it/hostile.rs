//! The client against hostile registries: a token lifetime that overflows, challenges and token
//! realms from servers a redirect led to, redirects to internal addresses, next-page Links to
//! other origins, digests that cannot be verified, junk and endless listings.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::replay::Replay;
use crate::support::{repo, run};
use portolan_oci::spec::Digest;
use portolan_oci::{Client, ClientConfig, Credentials, ErrorKind, MAX_TAGS, Reference, Tag};

fn client(url: &str, credentials: Credentials) -> Client {
    let mut config = ClientConfig::new(url).credentials(credentials);
    config.request_timeout = Duration::from_secs(2);
    config.connect_timeout = Duration::from_secs(1);
    config.max_retries = 1;
    Client::new(config).unwrap()
}

fn basic() -> Credentials {
    Credentials::Basic { username: "me".into(), password: "secret".into() }
}

const HELLO: &str = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

#[test]
fn an_absurd_token_lifetime_neither_panics_nor_sticks() {
    run(async {
        let registry = Replay::start("hostile-token.json", None).await;
        let c = client(&registry.url, basic());
        assert_eq!(*c.tags(&repo("a")).await.unwrap(), ["a"]);
        // The next request of the scope works (the token is cached, for a sane while).
        c.invalidate_repo(&repo("a")).await;
        assert_eq!(*c.tags(&repo("a")).await.unwrap(), ["a"]);
        // Another scope: another token request, which works as well.
        assert_eq!(*c.tags(&repo("b")).await.unwrap(), ["a"]);
        assert_eq!(c.stats().token_requests.load(Ordering::Relaxed), 2);
        assert_eq!(registry.seen_at("/token").len(), 2);
    })
}

#[test]
fn credentials_never_follow_a_redirect_to_another_servers_challenge() {
    run(async {
        let realm = Replay::start("hostile-realm.json", None).await;
        let elsewhere = Replay::start("hostile-elsewhere.json", Some(&realm.url)).await;
        let registry = Replay::start("hostile-redirects.json", Some(&elsewhere.url)).await;
        let c = client(&registry.url, basic());
        c.ping().await.unwrap();

        // A manifest request is not followed to another origin at all.
        let app = repo("app");
        let e = c.manifest(&app, &Reference::Tag(Tag::parse("v1").unwrap())).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadResponse, "{e}");
        assert!(e.message().contains("only blob downloads") && e.message().contains(&elsewhere.url), "{e}");
        assert!(elsewhere.seen().is_empty(), "{:?}", elsewhere.seen());

        // A blob download may go elsewhere (a CDN), without the credentials; that server's
        // challenge is not the registry's: no token is asked for, no credentials sent anywhere.
        let e = c.blob(&app, HELLO, None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadResponse, "{e}");
        assert!(e.message().contains("not the registry's origin") && e.message().contains("not sent there"), "{e}");
        assert_eq!(e.status(), Some(401));
        let seen = elsewhere.seen();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!((seen[0].method.as_str(), seen[0].authorization.as_deref()), ("GET", None));
        assert!(realm.seen().is_empty(), "the third server got {:?}", realm.seen());

        // The registry itself still works with its credentials.
        c.ping().await.unwrap();
        assert!(registry.seen().iter().filter(|s| s.path_and_query == "/v2/").any(|s| s.authorization.is_some()));
    })
}

#[test]
fn redirects_to_internal_addresses_are_refused() {
    run(async {
        let registry = Replay::start("hostile-redirects.json", Some("http://127.0.0.1:9")).await;
        let c = client(&registry.url, Credentials::Anonymous);
        let e = c.blob(&repo("metadata"), HELLO, None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadResponse, "{e}");
        assert!(e.message().contains("169.254.169.254") && e.message().contains("link-local"), "{e}");
        // Refused, not retried.
        assert_eq!(registry.seen_at("/v2/metadata/").len(), 1);
    })
}

#[test]
fn next_page_links_to_another_origin_are_errors() {
    run(async {
        // The same server, under another name: another origin all the same.
        let registry = Replay::start("hostile-listings.json", Some("http://localhost:1")).await;
        let c = client(&registry.url, Credentials::Anonymous);
        let away = repo("away");

        let e = c.tags(&away).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadResponse, "{e}");
        assert!(e.message().contains("another origin (http://localhost:1)"), "{e}");

        let e = c.catalog_page(2, Some("zzz")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadResponse, "{e}");
        assert!(e.message().contains("another origin"), "{e}");

        let subject = format!("sha256:{}", "c".repeat(64));
        let e = c.referrers(&away, &subject, None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadResponse, "{e}");
        assert!(e.message().contains("another origin"), "{e}");
    })
}

#[test]
fn invalid_and_huge_names_are_left_out_of_listings() {
    run(async {
        let registry = Replay::start("hostile-listings.json", None).await;
        let c = client(&registry.url, Credentials::Anonymous);
        assert_eq!(*c.tags(&repo("junk")).await.unwrap(), ["v1", "ok_2"]);
        let page = c.catalog_page(6, None).await.unwrap();
        assert_eq!(page.repositories, ["good/one", "good/two"]);
        // Paging goes on after the page's last entry, even a dropped one.
        assert_eq!(page.next.as_deref(), Some("x//y"));
    })
}

#[test]
fn digests_portolan_cannot_verify_are_refused_before_any_request() {
    run(async {
        let registry = Replay::start("hostile-listings.json", None).await;
        let c = client(&registry.url, Credentials::Anonymous);
        let odd = repo("odd");
        let blake3 = format!("blake3:{}", "ab".repeat(32));
        let e = c.blob(&odd, &blake3, None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid);
        assert!(e.message().contains("supported: sha256, sha512"), "{e}");
        // A `Digest` can come from any descriptor a registry serves: refused all the same.
        let digest = Digest::try_from(blake3.as_str()).unwrap();
        let e = c.manifest(&odd, &Reference::Digest(digest.clone())).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
        assert_eq!(c.resolve(&odd, &Reference::Digest(digest)).await.unwrap_err().kind(), ErrorKind::Invalid);
        assert!(Reference::parse(&blake3).is_err());
        assert!(registry.seen().is_empty(), "{:?}", registry.seen());
    })
}

/// A registry whose tag list never ends: each page has 1000 new tags and a Link to the next.
async fn endless_pager(pages: Arc<AtomicUsize>) -> String {
    use axum::extract::Query;
    use axum::response::IntoResponse;
    let handler = move |Query(query): Query<HashMap<String, String>>| {
        let pages = pages.clone();
        async move {
            pages.fetch_add(1, Ordering::SeqCst);
            let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
            let tags: Vec<String> = (0..1000).map(|i| format!("p{page}-{i}")).collect();
            let link = format!("</v2/forever/tags/list?n=1000&page={}>; rel=\"next\"", page + 1);
            ([("link", link)], axum::Json(serde_json::json!({"name": "forever", "tags": tags}))).into_response()
        }
    };
    let app = axum::Router::new().route("/v2/forever/tags/list", axum::routing::get(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

#[test]
fn a_tag_list_that_never_ends_stops_at_the_cap() {
    run(async {
        let pages = Arc::new(AtomicUsize::new(0));
        let url = endless_pager(pages.clone()).await;
        let c = client(&url, Credentials::Anonymous);
        let Err(e) = c.tags(&repo("forever")).await else { panic!("an endless tag list was read whole") };
        assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");
        assert!(e.message().contains(&format!("more than {MAX_TAGS} tags")), "{e}");
        assert_eq!(pages.load(Ordering::SeqCst), MAX_TAGS / 1000 + 1);
    })
}
