//! Sign-in end to end: the real router served on a loopback port, driven by HTTP clients that
//! keep cookies as a browser does, against a real OpenID provider (npm `oidc-provider`, run by
//! Node: needs end2end/node_modules) and the test kit's GitHub replay.
//!
//! What is checked: a sign-in gives the person their name and role (grants on the provider's
//! groups), rotates the session id and sets the cookie's attributes; every refusal (forged
//! state, replayed code, tampered ID tokens, a callback in a browser that never started the
//! sign-in, a denied authorization, a user outside the allowed orgs) answers the refusal page,
//! signs nobody in and is audited with its reason; sign-out deletes the session server-side and
//! ends the provider's session; a session older than its absolute lifetime is anonymous; a
//! callback sent twice at once signs in once; issuers and GitHub Enterprise API paths are used
//! as written.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use portolan_app::model::SessionView;
use portolan_oci::memory::MemoryRegistry;
use portolan_store::{ActorKind, AuditEntry, AuditFilter, Outcome, Store};
use portolan_testkit::github::{GithubConfig, GithubEmail, GithubOrg, GithubServer, GithubTeam};
use portolan_testkit::oidc::{OidcConfig, OidcProvider, Tamper};
use reqwest::cookie::CookieStore;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::Value;
use tower_sessions::SessionStore;
use url::Url;

use crate::support::{Registry, TestApp, run, server_fn};

const SESSION_COOKIE: &str = "portolan_session";
/// The cookie naming a sign-in in progress (kept apart from the session).
const SIGNIN_COOKIE: &str = "portolan_signin";

/// The OpenID provider's id in Portolan's configuration (its URL segment and grant prefix).
pub(crate) const SSO: &str = "sso";

/// Portolan served on a loopback port, with its store.
pub(crate) struct Portolan {
    /// `http://127.0.0.1:<port>`, also the configured `public_url`.
    pub(crate) base: String,
    pub(crate) store: Store,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Portolan {
    fn drop(&mut self) {
        // A test that panicked did not call stop(): the server must not outlive it.
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl Portolan {
    /// Reserves the port first: the OpenID provider must know the redirect URI before Portolan
    /// (which must know the provider's issuer) is configured.
    pub(crate) async fn bind() -> (tokio::net::TcpListener, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let base = format!("http://{}", listener.local_addr().unwrap());
        (listener, base)
    }

    /// Serves the real router on `listener`, configured by `toml` (after `public_url`).
    pub(crate) async fn serve(listener: tokio::net::TcpListener, base: &str, toml: &str) -> Self {
        let portolan = with_mem(&format!("public_url = \"{base}\"\n{toml}"), listener.local_addr().unwrap()).await;
        let (store, app, dir) = (portolan.store, portolan.app, portolan.dir);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Portolan { base: base.to_owned(), store, stop: Some(stop), task: Some(task), _dir: dir }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops serving (in-flight requests finish), then closes the store.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(10), task).await.is_err() {
                abort.abort();
            }
        }
        self.store.close().await;
    }

    /// The audit entries of one request (its `x-request-id`).
    pub(crate) async fn audit_of(&self, response_request_id: &str) -> Vec<AuditEntry> {
        let filter = AuditFilter { request: Some(response_request_id.to_owned()), ..Default::default() };
        self.store.audit_entries(&filter, 10).await.unwrap()
    }
}

/// Portolan configured by `toml`, listening on `listen`, with one in-memory registry `mem`.
async fn with_mem(toml: &str, listen: SocketAddr) -> TestApp {
    let mem = MemoryRegistry::new();
    let config_json = serde_json::json!({"created": "2025-01-01T00:00:00Z", "os": "linux", "architecture": "amd64"});
    mem.put_image("team/app", &["1.0"], &config_json, b"layer", None);
    let registries = vec![Registry {
        info: portolan_app::model::RegistryInfo { name: "mem".into(), title: "mem".into(), host: "mem.invalid".into() },
        client: Arc::new(mem),
    }];
    TestApp::build(toml).registries(registries).listen(listen).start().await
}

/// A browser: keeps cookies (its jar can be read), does not follow redirects, times out.
pub(crate) struct Browser {
    pub(crate) client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
}

impl Browser {
    pub(crate) fn new() -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap();
        Self { client, jar }
    }

    /// The value of Portolan's session cookie in the jar, if any.
    pub(crate) fn session(&self, p: &Portolan) -> Option<String> {
        let cookies = self.jar.cookies(&Url::parse(&p.base).unwrap())?;
        cookie_value(cookies.to_str().ok()?, SESSION_COOKIE)
    }
}

/// A client without cookies, for replaying a cookie by hand.
fn plain_client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(Duration::from_secs(15)).build().unwrap()
}

fn cookie_value(header: &str, name: &str) -> Option<String> {
    header.split(';').map(str::trim).find_map(|c| c.strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
}

/// Portolan's session `Set-Cookie` on a response, whole (with its attributes).
fn session_set_cookie(response: &reqwest::Response) -> Option<String> {
    cookie_set(response, SESSION_COOKIE)
}

/// The `Set-Cookie` of cookie `name` on a response, whole.
fn cookie_set(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect()
}

fn location(response: &reqwest::Response) -> String {
    response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no Location: {response:?}")).to_owned()
}

fn request_id(response: &reqwest::Response) -> String {
    response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).expect("an x-request-id").to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    Url::parse(url).ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn with_query_param(url: &str, name: &str, value: &str) -> String {
    let mut u = Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> =
        u.query_pairs().map(|(k, v)| (k.to_string(), if k == name { value.to_owned() } else { v.into_owned() })).collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

/// Who Portolan says is signed in (the `session_info` server function), and their role on
/// `registry` (or anywhere), as seen by `client` (with `cookie` added by hand if given).
async fn who_with(p: &Portolan, client: &reqwest::Client, cookie: Option<&str>, registry: Option<&str>) -> SessionView {
    let body = serde_qs::to_string(&portolan_app::api::SessionInfo { registry: registry.map(str::to_owned), repository: None }).unwrap();
    let mut request = client
        .post(p.url(server_fn("session_info")))
        .header("origin", &p.base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("{SESSION_COOKIE}={cookie}"));
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

pub(crate) async fn who(p: &Portolan, b: &Browser, registry: Option<&str>) -> SessionView {
    who_with(p, &b.client, None, registry).await
}

/// Asserts nobody is signed in.
fn anonymous(view: &SessionView, context: &str) {
    assert_eq!((view.name.as_deref(), view.provider.as_deref(), view.role.as_deref()), (None, None, None), "{context}");
    assert!(view.sign_in_enabled, "{context}");
}

/// The payload of a JWT (not verified: the tests look at what Portolan sent on).
pub(crate) fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// OpenID Connect

/// Portolan's configuration with the OpenID provider `sso` and its grants: admins by the group
/// `/platform/admins` of that provider, viewers of `mem` by the group `dev` (any provider's,
/// written without Keycloak's leading slash), viewers of `mem` by verified email (carol's is not).
pub(crate) fn oidc_toml(op: &OidcProvider, auth_extra: &str) -> String {
    format!(
        r#"
[auth]
{auth_extra}
[[auth.providers]]
id = "{SSO}"
kind = "oidc"
title = "Test SSO"
issuer = "{issuer}"
client_id = "{client_id}"
client_secret = "{client_secret}"
scopes = ["openid", "profile", "email", "groups"]

[[grants]]
role = "admin"
groups = ["{SSO}:/platform/admins"]

[[grants]]
role = "viewer"
registry = "mem"
groups = ["dev"]

[[grants]]
role = "viewer"
registry = "mem"
emails = ["carol@example.com"]

[[registries]]
name = "mem"
url = "http://mem.invalid"
"#,
        issuer = op.issuer(),
        client_id = op.client_id(),
        client_secret = op.client_secret().unwrap(),
    )
}

/// The OpenID provider, knowing Portolan's redirect and post-logout URIs.
pub(crate) async fn start_op(base: &str, claims_in_id_token: bool) -> OidcProvider {
    let config = OidcConfig::default()
        .scope_claims_in_id_token(claims_in_id_token)
        .redirect_uri(&format!("{base}/auth/callback/{SSO}"))
        .post_logout_redirect_uri(&format!("{base}/"));
    OidcProvider::start(config).await.expect("the OpenID provider starts (needs node and end2end/node_modules)")
}

/// A sign-in up to the callback: starts it at Portolan (checking the redirect and the sign-in
/// cookie it sets, and that it sets no session cookie), signs in at the provider; returns the
/// start's sign-in `Set-Cookie` and the callback URL, not visited yet.
pub(crate) async fn to_callback(p: &Portolan, op: &OidcProvider, b: &Browser, login: &str, next: &str) -> (String, String) {
    let start = b.client.get(p.url(&format!("/auth/login/{SSO}?next={next}"))).send().await.unwrap();
    assert_eq!(start.status(), 303, "{:?}", start.text().await);
    assert_eq!(session_set_cookie(&start), None, "a sign-in start leaves the session alone");
    let set_cookie = cookie_set(&start, SIGNIN_COOKIE).expect("the sign-in start sets the sign-in cookie");
    let attrs = attributes(&set_cookie);
    for wanted in ["httponly", "samesite=lax", "path=/", "max-age=600"] {
        assert!(attrs.contains(&wanted.to_owned()), "{wanted} in {set_cookie}");
    }
    let authorize = location(&start);
    assert!(authorize.starts_with(op.issuer()), "{authorize}");
    for (param, expected) in [
        ("client_id", Some(op.client_id().to_owned())),
        ("redirect_uri", Some(p.url(&format!("/auth/callback/{SSO}")))),
        ("response_type", Some("code".to_owned())),
        ("code_challenge_method", Some("S256".to_owned())),
    ] {
        assert_eq!(query_param(&authorize, param), expected, "{param} in {authorize}");
    }
    for param in ["state", "nonce", "code_challenge"] {
        assert!(query_param(&authorize, param).is_some_and(|v| v.len() >= 22), "{param} in {authorize}");
    }
    let scope = query_param(&authorize, "scope").unwrap();
    assert!(scope.split(' ').any(|s| s == "openid") && scope.contains("groups"), "{scope}");
    let user = op.user(login).unwrap_or_else(|| panic!("no user {login}"));
    let callback = op.sign_in(&b.client, &authorize, &user.login, &user.password).await.expect("signing in at the provider");
    assert!(callback.starts_with(&p.url(&format!("/auth/callback/{SSO}?"))), "{callback}");
    assert!(query_param(&callback, "code").is_some(), "{callback}");
    (set_cookie, callback)
}

/// A whole successful sign-in: the callback's `Set-Cookie`.
pub(crate) async fn sign_in(p: &Portolan, op: &OidcProvider, b: &Browser, login: &str) -> String {
    let (_, callback) = to_callback(p, op, b, login, "/").await;
    let done = b.client.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), 303, "{login}: {:?}", done.text().await);
    session_set_cookie(&done).expect("the callback sets the session cookie")
}

/// Checks a refused callback that was not a sign-in in progress in this browser (none started
/// here, or spent already): the refusal page with 401 saying `reason`, nothing audited (anyone
/// can open a callback URL), and nobody signed in in this browser.
async fn assert_refused_unaudited(p: &Portolan, b: &Browser, response: reqwest::Response, reason: &str) {
    let status = response.status();
    let rid = request_id(&response);
    let body = response.text().await.unwrap();
    assert_eq!(status, 401, "{reason}: {body}");
    assert!(body.contains(r#"data-signin-refused="true""#), "{reason}: {body}");
    assert!(body.contains(reason), "{reason}: {body}");
    assert!(p.audit_of(&rid).await.is_empty(), "{reason}: not audited");
    anonymous(&who(p, b, None).await, reason);
}

/// Checks a refused callback: the refusal page with 401, an audit entry `sign-in` refused for
/// the provider with a reason containing `reason`, and nobody signed in in this browser.
pub(crate) async fn assert_refused(p: &Portolan, b: &Browser, response: reqwest::Response, provider: &str, reason: &str) {
    let status = response.status();
    let rid = request_id(&response);
    let body = response.text().await.unwrap();
    assert_eq!(status, 401, "{reason}: {body}");
    assert!(body.contains(r#"data-signin-refused="true""#), "{reason}: {body}");
    assert!(body.contains("Sign-in refused"), "{body}");
    let entries = p.audit_of(&rid).await;
    assert_eq!(entries.len(), 1, "{reason}: {entries:?}");
    let e = &entries[0].entry;
    assert_eq!((e.action.as_str(), e.outcome), ("sign-in", Outcome::Refused), "{e:?}");
    assert_eq!(e.actor.kind, ActorKind::Anonymous);
    assert_eq!(e.actor.provider.as_deref(), Some(provider));
    let why = e.reason.as_deref().unwrap_or_default();
    assert!(why.contains(reason), "expected a reason with {reason:?}, got {why:?}");
    anonymous(&who(p, b, None).await, reason);
}

async fn oidc_sign_in_end_to_end(claims_in_id_token: bool) {
    let (listener, base) = Portolan::bind().await;
    let op = start_op(&base, claims_in_id_token).await;
    let p = Portolan::serve(listener, &base, &oidc_toml(&op, "")).await;

    // Before: anonymous, and mem is not for anonymous visitors.
    let alice = Browser::new();
    anonymous(&who(&p, &alice, Some("mem")).await, "before signing in");

    // The start puts the sign-in in progress in a record of its own, named by its own cookie.
    let (started, callback) = to_callback(&p, &op, &alice, "alice", "/r/mem").await;
    let before = cookie_value(&started, SIGNIN_COOKIE).unwrap();
    assert_eq!(alice.session(&p), None, "no session until the sign-in succeeds");
    let done = alice.client.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/r/mem", "back where the sign-in started");
    let rid = request_id(&done);
    let set_cookie = session_set_cookie(&done).expect("the callback sets the session cookie");
    let after = cookie_value(&set_cookie, SESSION_COOKIE).unwrap();
    assert_ne!(after, before, "the session is not the sign-in's record");
    assert_eq!(alice.session(&p).as_deref(), Some(after.as_str()));
    let spent = cookie_set(&done, SIGNIN_COOKIE).expect("the callback clears the sign-in cookie");
    assert!(attributes(&spent).iter().any(|a| a == "max-age=0"), "{spent}");
    let record: tower_sessions::session::Id = before.parse().unwrap();
    assert!(p.store.sessions().load(&record).await.unwrap().is_none(), "the sign-in's record is spent");
    for cookie in [&started, &set_cookie] {
        let attrs = attributes(cookie);
        assert!(attrs.contains(&"httponly".to_owned()), "{cookie}");
        assert!(attrs.contains(&"samesite=lax".to_owned()), "{cookie}");
        assert!(attrs.contains(&"path=/".to_owned()), "{cookie}");
        assert!(!attrs.contains(&"secure".to_owned()), "an http public_url: no Secure ({cookie})");
    }

    // Signed in: alice, admin through her provider group.
    let view = who(&p, &alice, None).await;
    assert_eq!(view.name.as_deref(), Some("Alice Admin"));
    assert_eq!(view.provider.as_deref(), Some(SSO));
    assert_eq!(view.role.as_deref(), Some("admin"));
    assert_eq!(who(&p, &alice, Some("mem")).await.role.as_deref(), Some("admin"));
    // A page shows her too (the header is rendered on the server).
    let page = alice.client.get(p.url("/r/mem")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Alice Admin"));

    // Where the claims came from: the ID token kept for sign-out has the groups only when the
    // provider puts scope claims in it; else they came from userinfo.
    let id: tower_sessions::session::Id = after.parse().unwrap();
    let record = p.store.sessions().load(&id).await.unwrap().expect("the session record");
    let id_token = record.data["portolan.user"]["id_token"].as_str().expect("the ID token, kept server-side").to_owned();
    let claims = jwt_claims(&id_token);
    assert_eq!(claims["sub"], op.user("alice").unwrap().sub.as_str());
    if claims_in_id_token {
        assert_eq!(claims["groups"], serde_json::json!(["/platform/admins"]), "{claims}");
        assert_eq!(claims["email"], "alice@example.com");
    } else {
        assert!(claims.get("groups").is_none() && claims.get("email").is_none(), "{claims}");
    }

    // The sign-in record's id is no session: replaying it as one is anonymous.
    anonymous(&who_with(&p, &plain_client(), Some(&before), None).await, "the sign-in's record replayed as a session");
    // The new one, replayed by hand, is alice (the cookie is the whole credential).
    assert_eq!(who_with(&p, &plain_client(), Some(&after), None).await.name.as_deref(), Some("Alice Admin"));

    // Audited, and the user recorded as the provider described her.
    let entries = p.audit_of(&rid).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0].entry;
    assert_eq!((e.action.as_str(), e.outcome), ("sign-in", Outcome::Done));
    assert_eq!(e.actor.kind, ActorKind::User);
    assert_eq!(e.actor.provider.as_deref(), Some(SSO));
    assert_eq!(e.actor.subject.as_deref(), Some(op.user("alice").unwrap().sub.as_str()));
    assert_eq!(e.actor.name.as_deref(), Some("Alice Admin"));
    assert_eq!(e.reason.as_deref(), Some("groups: /platform/admins"));
    let users = p.store.users(10).await.unwrap();
    let recorded = users.iter().find(|u| u.name.as_deref() == Some("Alice Admin")).expect("alice recorded");
    assert_eq!(recorded.email.as_deref(), Some("alice@example.com"));
    assert_eq!(recorded.groups, vec!["/platform/admins".to_owned()]);

    // bob: viewer of mem through his group, nothing elsewhere.
    let bob = Browser::new();
    sign_in(&p, &op, &bob, "bob").await;
    let view = who(&p, &bob, Some("mem")).await;
    assert_eq!((view.name.as_deref(), view.role.as_deref()), (Some("Bob Builder"), Some("viewer")));
    assert_eq!(who(&p, &bob, None).await.role.as_deref(), Some("viewer"), "his highest role anywhere");

    // carol: signed in, but her email is not verified, so the grant by email does not apply.
    let carol = Browser::new();
    sign_in(&p, &op, &carol, "carol").await;
    let view = who(&p, &carol, Some("mem")).await;
    assert_eq!((view.name.as_deref(), view.role.as_deref()), (Some("Carol Unverified"), None));

    // Three browsers, three sessions.
    assert_eq!(p.store.count_sessions(time::OffsetDateTime::now_utc()).await.unwrap(), 3);
    // Alice is still alice (sessions do not mix).
    assert_eq!(who(&p, &alice, None).await.name.as_deref(), Some("Alice Admin"));
    p.stop().await;
}

#[test]
fn oidc_sign_in_with_scope_claims_from_userinfo() {
    run(oidc_sign_in_end_to_end(false))
}

#[test]
fn oidc_sign_in_with_scope_claims_in_the_id_token() {
    run(oidc_sign_in_end_to_end(true))
}

#[test]
fn the_session_cookie_is_secure_when_public_url_is_https() {
    run(async {
        let toml = r#"
public_url = "https://portolan.example.com"
[[auth.providers]]
id = "github"
kind = "github"
client_id = "Iv1.abc"
client_secret = "secret"
"#;
        let portolan = with_mem(toml, "127.0.0.1:3000".parse().unwrap()).await;
        // A GitHub sign-in starts without calling GitHub: the redirect and the cookie only.
        let response = portolan.request("GET", "/auth/login/github").send().await;
        assert_eq!(response.status, 303);
        let to = response.header("location").unwrap();
        assert!(to.starts_with("https://github.com/login/oauth/authorize?"), "{to}");
        assert_eq!(query_param(to, "redirect_uri").as_deref(), Some("https://portolan.example.com/auth/callback/github"));
        let cookie = response
            .headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("__Host-{SIGNIN_COOKIE}=")))
            .expect("the sign-in cookie, with the __Host- prefix over https")
            .to_owned();
        let attrs = attributes(&cookie);
        for wanted in ["secure", "httponly", "samesite=lax", "path=/"] {
            assert!(attrs.contains(&wanted.to_owned()), "{wanted} in {cookie}");
        }
        assert!(!attrs.iter().any(|a| a.starts_with("domain")), "a __Host- cookie names no domain: {cookie}");
        assert_eq!(portolan_server::session_cookie_name(true), "__Host-portolan_session");
        assert_eq!(portolan_server::session_cookie_name(false), SESSION_COOKIE);
        portolan.store.close().await;
    })
}

/// The sign-in routes are open to anyone: each address gets a burst, then a rate (429 with
/// Retry-After); another address is not slowed down by it.
#[test]
fn sign_in_routes_are_rate_limited_per_address() {
    run(async {
        let toml = r#"
[[auth.providers]]
id = "github"
kind = "github"
client_id = "Iv1.abc"
client_secret = "secret"
"#;
        let portolan = with_mem(toml, "127.0.0.1:3000".parse().unwrap()).await;
        let knocker: SocketAddr = "203.0.113.7:40000".parse().unwrap();
        let mut statuses = Vec::new();
        for _ in 0..61 {
            statuses.push(portolan.request("GET", "/auth/callback/github?code=x&state=y").peer(knocker).send().await.status.as_u16());
        }
        assert!(statuses[..60].iter().all(|s| *s == 401), "{statuses:?}");
        let limited = portolan.request("GET", "/auth/login/github").peer(knocker).send().await;
        assert_eq!(limited.status, 429);
        assert!(limited.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n >= 1)), "{:?}", limited.headers);
        // Its neighbour in the same IPv6 /64 counts as the same address; another address does not.
        let other = portolan.request("GET", "/auth/login/github").peer("198.51.100.1:40000".parse().unwrap()).send().await;
        assert_eq!(other.status, 303);
        for (a, b, same) in [("2001:db8:1:2::1", "2001:db8:1:2::ffff", true), ("2001:db8:1:3::1", "2001:db8:1:4::1", false)] {
            let a: SocketAddr = SocketAddr::new(a.parse().unwrap(), 40000);
            for _ in 0..60 {
                portolan.request("GET", "/auth/callback/github").peer(a).send().await;
            }
            let next = portolan.request("GET", "/auth/callback/github").peer(SocketAddr::new(b.parse().unwrap(), 40000)).send().await;
            assert_eq!(next.status == 429, same, "{a} then {b}");
        }
        // Nothing of this reached the audit log.
        assert!(portolan.store.audit_entries(&AuditFilter::default(), 10).await.unwrap().is_empty());
        portolan.store.close().await;
    })
}

#[test]
fn oidc_refusals_sign_nobody_in_and_are_audited() {
    run(async {
        let (listener, base) = Portolan::bind().await;
        let op = start_op(&base, false).await;
        let p = Portolan::serve(listener, &base, &oidc_toml(&op, "")).await;

        // A forged state: the callback's state is not the one this browser's sign-in made.
        let b = Browser::new();
        let (_, callback) = to_callback(&p, &op, &b, "alice", "/").await;
        let forged = with_query_param(&callback, "state", "forged-state-0123456789abcdef");
        let response = b.client.get(&forged).send().await.unwrap();
        assert_refused(&p, &b, response, SSO, "the state does not match").await;
        // The attempt is spent: the genuine callback arriving after it is refused too (no sign-in
        // is in progress any more: only logged).
        let response = b.client.get(&callback).send().await.unwrap();
        assert_refused_unaudited(&p, &b, response, "no sign-in is in progress").await;

        // A replayed code: the same callback twice. The first signs alice in; the second is
        // refused before the code reaches the provider again (the sign-in in progress was
        // taken out by the first), and alice's session stays hers, unchanged.
        let b = Browser::new();
        let (_, callback) = to_callback(&p, &op, &b, "alice", "/").await;
        let first = b.client.get(&callback).send().await.unwrap();
        assert_eq!(first.status(), 303);
        let session = b.session(&p).unwrap();
        let again = b.client.get(&callback).send().await.unwrap();
        let status = again.status();
        let rid = request_id(&again);
        let body = again.text().await.unwrap();
        assert_eq!(status, 401, "{body}");
        assert!(body.contains(r#"data-signin-refused="true""#));
        assert!(body.contains("no sign-in is in progress"), "{body}");
        assert!(p.audit_of(&rid).await.is_empty(), "no sign-in was in progress: only logged");
        assert_eq!(b.session(&p).as_deref(), Some(session.as_str()), "the refusal leaves the signed-in session alone");
        assert_eq!(who(&p, &b, None).await.name.as_deref(), Some("Alice Admin"));
        // Replayed from another browser (a leaked callback URL): refused, nobody signed in.
        let thief = Browser::new();
        let response = thief.client.get(&callback).send().await.unwrap();
        assert_refused_unaudited(&p, &thief, response, "the PKCE verifier is missing").await;
        assert_eq!(thief.session(&p), None, "no session is left behind");

        // ID tokens that fail exactly one check. The provider's session lets each sign-in
        // through without the form; the tampering applies to the next token response only.
        for (mode, reason) in [
            (Tamper::Nonce, "the ID token's nonce does not match this sign-in"),
            (Tamper::Issuer, "the ID token comes from another issuer"),
            (Tamper::Signature, "the ID token's signature is not valid"),
            (Tamper::Expired, "the ID token has expired"),
            (Tamper::Audience, "the ID token is for another client (audience)"),
        ] {
            let b = Browser::new();
            let (_, callback) = to_callback(&p, &op, &b, "alice", "/").await;
            op.set_tamper(Some(mode)).await.unwrap();
            let response = b.client.get(&callback).send().await.unwrap();
            assert_refused(&p, &b, response, SSO, reason).await;
            // The same browser signs in fine right after (nothing of the attempt stayed).
            sign_in(&p, &op, &b, "alice").await;
            assert_eq!(who(&p, &b, None).await.name.as_deref(), Some("Alice Admin"), "after {mode:?}");
        }

        // A callback in a browser that never started the sign-in: no PKCE verifier, no state,
        // no nonce there. The code is not even sent to the provider, so the browser that did
        // start the sign-in can still finish it.
        let victim = Browser::new();
        let (_, callback) = to_callback(&p, &op, &victim, "bob", "/").await;
        let stranger = Browser::new();
        let response = stranger.client.get(&callback).send().await.unwrap();
        assert_refused_unaudited(&p, &stranger, response, "the PKCE verifier is missing").await;
        let done = victim.client.get(&callback).send().await.unwrap();
        assert_eq!(done.status(), 303);
        assert_eq!(who(&p, &victim, None).await.name.as_deref(), Some("Bob Builder"));

        // A callback for a provider that does not exist: 404, only logged (any text fits in a
        // URL; none of it reaches the audit log).
        let response = stranger.client.get(p.url("/auth/callback/nope?code=x&state=y")).send().await.unwrap();
        assert_eq!(response.status(), 404);
        assert!(p.audit_of(&request_id(&response)).await.is_empty());

        // Every refusal of a sign-in in progress above is in the log, with its reason; the
        // others (callbacks nobody started here) are not.
        let refused = p
            .store
            .audit_entries(&AuditFilter { action: Some("sign-in".into()), outcome: Some(Outcome::Refused), ..Default::default() }, 100)
            .await
            .unwrap();
        assert_eq!(refused.len(), 6, "the forged state and the five tampered ID tokens: {refused:#?}");
        assert!(refused.iter().all(|e| e.entry.actor.provider.as_deref() == Some(SSO)), "{refused:#?}");
        assert!(refused.iter().all(|e| e.entry.reason.as_deref().is_some_and(|r| !r.is_empty())));
        p.stop().await;
    })
}

#[test]
fn sign_out_deletes_the_session_and_ends_the_providers() {
    run(async {
        let (listener, base) = Portolan::bind().await;
        let op = start_op(&base, false).await;
        let p = Portolan::serve(listener, &base, &oidc_toml(&op, "")).await;
        let b = Browser::new();
        sign_in(&p, &op, &b, "alice").await;
        let session = b.session(&p).unwrap();
        assert_eq!(op.sessions().await.unwrap().len(), 1);

        // Cross-site sign-outs are refused, and the session stays.
        for (header, value) in [("origin", "http://evil.example"), ("sec-fetch-site", "cross-site"), ("origin", "null")] {
            let response = b.client.post(p.url("/auth/logout")).header(header, value).send().await.unwrap();
            assert_eq!(response.status(), 403, "{header}: {value}");
            assert_eq!(who(&p, &b, None).await.name.as_deref(), Some("Alice Admin"), "{header}: {value}");
        }
        // Another port of the same host is another origin.
        let response = b.client.post(p.url("/auth/logout")).header("origin", op.issuer()).send().await.unwrap();
        assert_eq!(response.status(), 403);
        assert_eq!(b.session(&p).as_deref(), Some(session.as_str()));

        // A same-origin sign-out: to the provider's end-session endpoint, with the ID token.
        let response = b.client.post(p.url("/auth/logout")).header("origin", &p.base).send().await.unwrap();
        assert_eq!(response.status(), 303);
        let rid = request_id(&response);
        let cleared = session_set_cookie(&response).expect("the cookie is cleared");
        assert!(attributes(&cleared).iter().any(|a| a == "max-age=0"), "{cleared}");
        let to = location(&response);
        let discovery: Value = plain_client().get(op.discovery_url()).send().await.unwrap().json().await.unwrap();
        let end_session = discovery["end_session_endpoint"].as_str().unwrap();
        assert!(to.starts_with(&format!("{end_session}?")), "{to}");
        assert_eq!(query_param(&to, "client_id").as_deref(), Some(op.client_id()));
        assert_eq!(query_param(&to, "post_logout_redirect_uri"), Some(p.url("/")));
        let hint = query_param(&to, "id_token_hint").expect("id_token_hint");
        let claims = jwt_claims(&hint);
        assert_eq!(claims["sub"], op.user("alice").unwrap().sub.as_str());
        assert_eq!(claims["aud"], op.client_id());
        assert_eq!(claims["iss"], op.issuer());

        // Deleted server-side: the old cookie, replayed by hand, is anonymous; the browser
        // dropped it.
        assert_eq!(b.session(&p), None);
        anonymous(&who_with(&p, &plain_client(), Some(&session), None).await, "the signed-out session replayed");
        anonymous(&who(&p, &b, None).await, "after signing out");
        let id: tower_sessions::session::Id = session.parse().unwrap();
        assert!(p.store.sessions().load(&id).await.unwrap().is_none(), "no record left");
        let entries = p.audit_of(&rid).await;
        assert_eq!(entries.len(), 1);
        assert_eq!((entries[0].entry.action.as_str(), entries[0].entry.outcome), ("sign-out", Outcome::Done));
        assert_eq!(entries[0].entry.actor.name.as_deref(), Some("Alice Admin"));

        // The provider ends its session and comes back to Portolan.
        let back = op.sign_out(&b.client, &to).await.unwrap();
        assert!(back.starts_with(&p.url("/")), "{back}");
        assert!(op.sessions().await.unwrap().is_empty(), "the provider's session is over");
        // So the next sign-in asks for the password again (a different person may sign in).
        let start = b.client.get(p.url(&format!("/auth/login/{SSO}"))).send().await.unwrap();
        let asked = op.sign_out(&b.client, &location(&start)).await.unwrap_err();
        assert!(asked.to_string().contains("asks to sign in"), "{asked:#}");
        sign_in(&p, &op, &Browser::new(), "bob").await;

        // Signing out without a session just goes home.
        let response = plain_client().post(p.url("/auth/logout")).header("origin", &p.base).send().await.unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/");
        p.stop().await;
    })
}

#[test]
fn a_session_older_than_its_absolute_lifetime_is_anonymous() {
    run(async {
        let (listener, base) = Portolan::bind().await;
        let op = start_op(&base, false).await;
        let p = Portolan::serve(listener, &base, &oidc_toml(&op, "session_hours = 1")).await;
        let b = Browser::new();
        sign_in(&p, &op, &b, "alice").await;
        let cookie = b.session(&p).unwrap();
        let id: tower_sessions::session::Id = cookie.parse().unwrap();
        let sessions = p.store.sessions();

        // Moves the sign-in back in time by `seconds`, in the stored record.
        let signed_in_ago = |seconds: i64| {
            let sessions = sessions.clone();
            async move {
                let mut record = sessions.load(&id).await.unwrap().expect("the session record");
                let user = record.data.get_mut("portolan.user").expect("the signed-in user in the session");
                assert!(user["signed_in_at"].is_i64(), "{user}");
                user["signed_in_at"] = (time::OffsetDateTime::now_utc().unix_timestamp() - seconds).into();
                sessions.save(&record).await.unwrap();
            }
        };

        let record = sessions.load(&id).await.unwrap().expect("the session record");
        let signed_in_at = record.data["portolan.user"]["signed_in_at"].as_i64().expect("signed_in_at, Unix seconds");
        assert!((time::OffsetDateTime::now_utc().unix_timestamp() - signed_in_at).abs() < 300, "{signed_in_at}");

        // Within the hour: still alice (also after the idle expiry was renewed by use).
        signed_in_ago(59 * 60).await;
        assert_eq!(who(&p, &b, None).await.name.as_deref(), Some("Alice Admin"));
        // Past it: anonymous, and the session is deleted (not only ignored).
        signed_in_ago(60 * 60 + 5).await;
        anonymous(&who(&p, &b, None).await, "an hour and 5 s after signing in");
        assert!(sessions.load(&id).await.unwrap().is_none(), "the expired session is deleted");
        assert_eq!(b.session(&p), None, "and its cookie cleared");
        anonymous(&who_with(&p, &plain_client(), Some(&cookie), None).await, "the old cookie replayed");
        // Signing in again starts a new lifetime.
        sign_in(&p, &op, &b, "alice").await;
        assert_eq!(who(&p, &b, None).await.name.as_deref(), Some("Alice Admin"));
        p.stop().await;
    })
}

/// Sessions last as long as they are used (the idle timeout slides), a sign-in start makes only a
/// short-lived session, a request that loaded a session before sign-out cannot bring it back,
/// and what a signed-in person sees is kept by no cache.
#[test]
fn sessions_slide_with_use_start_short_and_stay_signed_out() {
    run(async {
        let (listener, base) = Portolan::bind().await;
        let op = start_op(&base, false).await;
        let p = Portolan::serve(listener, &base, &oidc_toml(&op, "idle_timeout_minutes = 60")).await;
        let sessions = p.store.sessions();
        let now = || time::OffsetDateTime::now_utc();
        let b = Browser::new();

        // A sign-in started by someone not signed in: a record for ten minutes, no session.
        let start = b.client.get(p.url(&format!("/auth/login/{SSO}"))).send().await.unwrap();
        assert_eq!(start.status(), 303);
        assert_eq!(b.session(&p), None);
        let pending: tower_sessions::session::Id =
            cookie_value(&cookie_set(&start, SIGNIN_COOKIE).unwrap(), SIGNIN_COOKIE).unwrap().parse().unwrap();
        let record = sessions.load(&pending).await.unwrap().expect("the sign-in in progress");
        assert!(record.expiry_date <= now() + time::Duration::minutes(10), "{}", record.expiry_date);

        // Signed in: the idle timeout.
        sign_in(&p, &op, &b, "alice").await;
        let id: tower_sessions::session::Id = b.session(&p).unwrap().parse().unwrap();
        let expiry = sessions.load(&id).await.unwrap().unwrap().expiry_date;
        assert!(expiry > now() + time::Duration::minutes(55) && expiry <= now() + time::Duration::minutes(61), "{expiry}");

        // Used again after a while: written again, so its expiry moves on with use.
        let mut record = sessions.load(&id).await.unwrap().unwrap();
        record.data.insert("seen".into(), (now().unix_timestamp() - 600).into());
        record.expiry_date = now() + time::Duration::minutes(5);
        sessions.save(&record).await.unwrap();
        let response = b
            .client
            .post(p.url(server_fn("session_info")))
            .header("origin", &p.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers().get("cache-control").and_then(|v| v.to_str().ok()),
            Some("private, no-store"),
            "a signed-in answer is kept by no cache"
        );
        let expiry = sessions.load(&id).await.unwrap().unwrap().expiry_date;
        assert!(expiry > now() + time::Duration::minutes(55), "the idle expiry slid: {expiry}");
        let anonymous_page = plain_client().get(p.url("/")).send().await.unwrap();
        assert_eq!(anonymous_page.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("private, no-cache"));

        // Starting a sign-in from a signed-in session (a link anyone can send) leaves it alone:
        // nobody is signed out by a link. It is replaced only when the new sign-in succeeds.
        let before = sessions.load(&id).await.unwrap().expect("the signed-in session");
        let start = b.client.get(p.url(&format!("/auth/login/{SSO}"))).send().await.unwrap();
        assert_eq!(start.status(), 303);
        assert_eq!(session_set_cookie(&start), None);
        assert_eq!(sessions.load(&id).await.unwrap().expect("still there").data, before.data, "not written into");
        assert_eq!(b.session(&p).as_deref(), Some(id.to_string().as_str()));
        assert_eq!(who(&p, &b, None).await.name.as_deref(), Some("Alice Admin"), "still signed in");
        sign_in(&p, &op, &b, "alice").await;
        assert!(sessions.load(&id).await.unwrap().is_none(), "replaced once the new sign-in succeeded");
        assert_ne!(b.session(&p).as_deref(), Some(id.to_string().as_str()), "under a new id");
        assert_eq!(who(&p, &b, None).await.name.as_deref(), Some("Alice Admin"));

        // A request that read the session before the sign-out and saves after it brings nothing back.
        let id: tower_sessions::session::Id = b.session(&p).unwrap().parse().unwrap();
        let before = sessions.load(&id).await.unwrap().unwrap();
        let response = b.client.post(p.url("/auth/logout")).header("origin", &p.base).send().await.unwrap();
        assert_eq!(response.status(), 303);
        sessions.save(&before).await.unwrap();
        assert!(sessions.load(&id).await.unwrap().is_none(), "a signed-out session stays out");
        anonymous(&who_with(&p, &plain_client(), Some(&id.to_string()), None).await, "the old cookie replayed");
        p.stop().await;
    })
}

// ---------------------------------------------------------------------------------------------
// GitHub

/// A browser's GitHub sign-in through the replay: the start's redirect, the replay's
/// authorization (auto-approved as the replay's current user), the callback's response.
async fn github_sign_in(p: &Portolan, gh: &GithubServer, b: &Browser) -> reqwest::Response {
    let start = b.client.get(p.url("/auth/login/github")).send().await.unwrap();
    assert_eq!(start.status(), 303);
    let authorize = location(&start);
    assert!(authorize.starts_with(&gh.authorize_url()), "{authorize}");
    assert_eq!(query_param(&authorize, "redirect_uri"), Some(p.url("/auth/callback/github")));
    assert_eq!(query_param(&authorize, "code_challenge_method").as_deref(), Some("S256"));
    let scope = query_param(&authorize, "scope").unwrap();
    for wanted in ["read:user", "user:email", "read:org"] {
        assert!(scope.split(' ').any(|s| s == wanted), "{wanted} in {scope}");
    }
    let approved = b.client.get(&authorize).send().await.unwrap();
    assert_eq!(approved.status(), 302);
    let callback = location(&approved);
    assert!(callback.starts_with(&p.url("/auth/callback/github?")), "{callback}");
    b.client.get(&callback).send().await.unwrap()
}

#[test]
fn github_sign_in_through_the_replay() {
    run(async {
        // Two items a page: alice's 5 teams and 3 orgs, and bob's 3 emails, take several pages.
        let mut config = GithubConfig { max_per_page: 2, ..GithubConfig::default() };
        config.orgs.push(GithubOrg { login: "extra-org".into(), id: 9_000_003, description: None });
        for i in 0..3u64 {
            let slug = format!("squad-{i}");
            config.teams.push(GithubTeam { org: "acme-corp".into(), slug: slug.clone(), name: format!("Squad {i}"), id: 7_100_000 + i });
            config.users[0].teams.push(("acme-corp".into(), slug));
        }
        config.users[0].orgs.push("extra-org".into());
        // bob: a member of portolan-org and acme-corp, in acme-corp's squad-2; his verified
        // primary email is listed last, on the second page.
        config.users[1].orgs.push("acme-corp".into());
        config.users[1].teams.push(("acme-corp".into(), "squad-2".into()));
        config.users[1].emails = vec![
            GithubEmail::new("bob@old.example.net", false, false),
            GithubEmail::new("bob@users.noreply.github.com", false, true),
            GithubEmail::new("bob@example.com", true, true),
        ];
        let gh = GithubServer::start(config).await.unwrap();

        let (listener, base) = Portolan::bind().await;
        let toml = format!(
            r#"
[[auth.providers]]
id = "github"
kind = "github"
title = "GitHub"
client_id = "{client_id}"
client_secret = "{client_secret}"
github_url = "{github_url}"
api_url = "{api_url}"
allowed_orgs = ["portolan-org"]

[[grants]]
role = "admin"
groups = ["github:portolan-org/platform-admins"]

[[grants]]
role = "maintainer"
registry = "mem"
groups = ["github:acme-corp/squad-2"]

[[registries]]
name = "mem"
url = "http://mem.invalid"
"#,
            client_id = portolan_testkit::github::CLIENT_ID,
            client_secret = portolan_testkit::github::CLIENT_SECRET,
            github_url = gh.url(),
            api_url = gh.api_url(),
        );
        let p = Portolan::serve(listener, &base, &toml).await;

        // alice: identity from /user, every org and team over several pages, admin by a team.
        let alice = Browser::new();
        let done = github_sign_in(&p, &gh, &alice).await;
        assert_eq!(done.status(), 303, "{:?}", done.text().await);
        let rid = request_id(&done);
        let first = alice.session(&p).unwrap();
        // Signing in again (a signed-in browser) gives the session a new id.
        let done = github_sign_in(&p, &gh, &alice).await;
        assert_eq!(done.status(), 303, "{:?}", done.text().await);
        let after = alice.session(&p).unwrap();
        assert_ne!(after, first, "the session id is rotated at sign-in");
        let view = who(&p, &alice, None).await;
        assert_eq!(
            (view.name.as_deref(), view.provider.as_deref(), view.role.as_deref()),
            (Some("Alice Admin"), Some("github"), Some("admin"))
        );
        let users = p.store.users(10).await.unwrap();
        let recorded = users.iter().find(|u| u.provider == "github" && u.subject == "1000001").expect("alice recorded by her id");
        assert_eq!(recorded.email.as_deref(), Some("alice@example.com"));
        let expected: Vec<String> = [
            "acme-corp",
            "acme-corp/squad-0",
            "acme-corp/squad-1",
            "acme-corp/squad-2",
            "extra-org",
            "portolan-org",
            "portolan-org/developers",
            "portolan-org/platform-admins",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(recorded.groups, expected);
        let entries = p.audit_of(&rid).await;
        assert_eq!(entries.len(), 1);
        assert_eq!((entries[0].entry.action.as_str(), entries[0].entry.outcome), ("sign-in", Outcome::Done));
        assert_eq!(entries[0].entry.actor.subject.as_deref(), Some("1000001"));
        let requests = gh.requests();
        for page in ["GET /user/teams?per_page=2&page=3", "GET /user/orgs?per_page=2&page=2"] {
            assert!(requests.iter().any(|r| r == page), "{page} in {requests:#?}");
        }

        // bob: his email is private on /user; the verified primary one comes from /user/emails
        // (its second page). Maintainer of mem by an acme-corp team.
        gh.set_user("bob");
        let bob = Browser::new();
        let done = github_sign_in(&p, &gh, &bob).await;
        assert_eq!(done.status(), 303, "{:?}", done.text().await);
        let view = who(&p, &bob, Some("mem")).await;
        assert_eq!((view.name.as_deref(), view.role.as_deref()), (Some("Bob Builder"), Some("maintainer")));
        assert_eq!(who(&p, &bob, None).await.role.as_deref(), Some("maintainer"));
        let users = p.store.users(10).await.unwrap();
        let recorded = users.iter().find(|u| u.subject == "1000002").expect("bob recorded");
        assert_eq!(recorded.email.as_deref(), Some("bob@example.com"), "the verified primary email");
        assert_eq!(recorded.groups, ["acme-corp", "acme-corp/squad-2", "portolan-org", "portolan-org/developers"].map(String::from));

        // carol belongs to no allowed org: refused with the refusal page.
        gh.set_user("carol");
        let carol = Browser::new();
        let response = github_sign_in(&p, &gh, &carol).await;
        assert_refused(&p, &carol, response, "github", "carol is not a member of portolan-org").await;
        assert!(p.store.users(10).await.unwrap().iter().all(|u| u.subject != "1000003"), "carol is not recorded");

        // A denied authorization comes back with an error: refused.
        gh.set_user("alice");
        gh.deny_next();
        let denied = Browser::new();
        let response = github_sign_in(&p, &gh, &denied).await;
        assert_refused(&p, &denied, response, "github", "the provider refused the sign-in (access_denied)").await;

        // A forged state is refused too, and the code is never exchanged.
        let forger = Browser::new();
        let start = forger.client.get(p.url("/auth/login/github")).send().await.unwrap();
        let approved = forger.client.get(location(&start)).send().await.unwrap();
        let tokens_before = gh.requests().iter().filter(|r| r.starts_with("POST /login/oauth/access_token")).count();
        let forged = with_query_param(&location(&approved), "state", "forged");
        let response = forger.client.get(&forged).send().await.unwrap();
        assert_refused(&p, &forger, response, "github", "the state does not match").await;
        assert_eq!(gh.requests().iter().filter(|r| r.starts_with("POST /login/oauth/access_token")).count(), tokens_before);

        // Signing out of GitHub's sign-in stays at Portolan (GitHub has no end-session endpoint).
        let response = alice.client.post(p.url("/auth/logout")).header("origin", &p.base).send().await.unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/");
        anonymous(&who_with(&p, &plain_client(), Some(&after), None).await, "alice's signed-out GitHub session");
        p.stop().await;
        drop(gh);
    })
}

/// A browser may send the callback twice at once (a double click, a retry). Both requests find
/// the sign-in in progress in their copy of the session; only one may send the code: the provider
/// refuses a code it sees twice and revokes the tokens it issued for it (oidc-provider does), so
/// two exchanges would leave nobody signed in (the first one's userinfo call is refused).
#[test]
fn a_callback_sent_twice_at_once_signs_in_once() {
    run(async {
        let (listener, base) = Portolan::bind().await;
        let op = start_op(&base, false).await;
        let p = Portolan::serve(listener, &base, &oidc_toml(&op, "")).await;
        for round in 0..5 {
            let b = Browser::new();
            let (_, callback) = to_callback(&p, &op, &b, "alice", "/").await;
            let (one, two) = tokio::join!(b.client.get(&callback).send(), b.client.get(&callback).send());
            let (mut done, mut refused) = (Vec::new(), Vec::new());
            for r in [one.unwrap(), two.unwrap()] {
                let rid = request_id(&r);
                let entries = p.audit_of(&rid).await;
                match r.status().as_u16() {
                    303 => {
                        assert_eq!(entries.len(), 1, "round {round}: {entries:?}");
                        done.push(entries[0].entry.clone());
                    }
                    401 => {
                        let body = r.text().await.unwrap();
                        assert!(body.contains(r#"data-signin-refused="true""#));
                        // Either it found the sign-in being finished by the other request
                        // (audited), or already spent (no sign-in in progress: only logged).
                        let why = entries.first().and_then(|e| e.entry.reason.clone()).unwrap_or_else(|| body.clone());
                        assert!(entries.len() <= 1, "round {round}: {entries:?}");
                        refused.push(why);
                    }
                    other => panic!("round {round}: {other}"),
                }
            }
            assert_eq!((done.len(), refused.len()), (1, 1), "round {round}: done {done:?}, refused {refused:?}");
            assert_eq!(done[0].outcome, Outcome::Done);
            let why = &refused[0];
            assert!(
                why.contains("being finished already") || why.contains("no sign-in is in progress"),
                "round {round}: the second request must not send the code again: {why}"
            );
            assert_eq!(who(&p, &b, None).await.name.as_deref(), Some("Alice Admin"), "round {round}");
        }
        p.stop().await;
    })
}

/// OpenID Connect Discovery: the issuer a provider publishes "MUST be identical" to the one
/// discovery was asked with, and ID tokens' `iss` too. Some providers' issuers end with a slash
/// (Auth0: `https://tenant.auth0.com/`): written so, it must be used so. A document server
/// stands in for such a provider (the test kit's provider publishes its issuer without one).
#[test]
fn an_issuer_is_used_exactly_as_written() {
    run(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let issuer = format!("{origin}/");
        let document = serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{origin}/authorize"),
            "token_endpoint": format!("{origin}/token"),
            "jwks_uri": format!("{origin}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        });
        let provider = axum::Router::new()
            .route("/.well-known/openid-configuration", axum::routing::get(move || async move { axum::Json(document) }))
            .route("/jwks", axum::routing::get(|| async { axum::Json(serde_json::json!({"keys": []})) }));
        let documents = tokio::spawn(async move {
            let _ = axum::serve(listener, provider).await;
        });

        let (listener, base) = Portolan::bind().await;
        let toml = format!(
            r#"
[[auth.providers]]
id = "exact"
kind = "oidc"
issuer = "{issuer}"
client_id = "portolan"
client_secret = "s"

[[auth.providers]]
id = "mangled"
kind = "oidc"
issuer = "{origin}"
client_id = "portolan"
client_secret = "s"
"#
        );
        let p = Portolan::serve(listener, &base, &toml).await;
        let b = Browser::new();
        let start = b.client.get(p.url("/auth/login/exact")).send().await.unwrap();
        assert_eq!(start.status(), 303, "{:?}", start.text().await);
        assert!(location(&start).starts_with(&format!("{origin}/authorize?")), "{}", location(&start));
        // Written without its slash, it is another issuer: sign-in is not available, and says why.
        let start = b.client.get(p.url("/auth/login/mangled")).send().await.unwrap();
        assert_eq!(start.status(), 502);
        let rid = request_id(&start);
        let body = start.text().await.unwrap();
        assert!(body.contains("Sign-in is not available"));
        assert!(body.contains("unexpected issuer"), "{body}");
        // Nothing was started, so nothing is audited (anyone can open a sign-in link).
        assert!(p.audit_of(&rid).await.is_empty());
        p.stop().await;
        documents.abort();
        let _ = documents.await;
    })
}

/// GitHub Enterprise Server serves its REST API under `/api/v3` (`api_url =
/// "https://<host>/api/v3"`, as the configuration reference says): the API paths go under it, not
/// beside it. A proxy stands in for such a server: `/api/v3/…` to the replay's API, the rest
/// (the OAuth pages) as is.
#[test]
fn github_enterprise_api_under_a_path() {
    use axum::response::IntoResponse;
    run(async {
        let gh = GithubServer::start(GithubConfig::default()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ghe = format!("http://{}", listener.local_addr().unwrap());
        let upstream = gh.url().to_owned();
        let forward = move |request: axum::extract::Request| {
            let upstream = upstream.clone();
            async move {
                let path_and_query = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
                let Some(rest) =
                    path_and_query.strip_prefix("/api/v3").or(Some(path_and_query.as_str()).filter(|p| p.starts_with("/login/")))
                else {
                    return (axum::http::StatusCode::NOT_FOUND, "not under /api/v3").into_response();
                };
                let mut out = plain_client().request(request.method().clone(), format!("{upstream}{rest}"));
                for (name, value) in request.headers() {
                    if name != "host" {
                        out = out.header(name, value);
                    }
                }
                let body = axum::body::to_bytes(request.into_body(), 1 << 20).await.unwrap();
                let answer = out.body(body).send().await.unwrap();
                let mut response = axum::response::Response::builder().status(answer.status());
                for name in ["content-type", "location", "link"] {
                    if let Some(v) = answer.headers().get(name) {
                        response = response.header(name, v);
                    }
                }
                response.body(axum::body::Body::from(answer.bytes().await.unwrap())).unwrap()
            }
        };
        let proxy = tokio::spawn(async move {
            let _ = axum::serve(listener, axum::Router::new().fallback(forward)).await;
        });

        let (listener, base) = Portolan::bind().await;
        let toml = format!(
            r#"
[[auth.providers]]
id = "github"
kind = "github"
client_id = "{client_id}"
client_secret = "{client_secret}"
github_url = "{ghe}"
api_url = "{ghe}/api/v3"

[[grants]]
role = "admin"
groups = ["github:portolan-org/platform-admins"]

[[registries]]
name = "mem"
url = "http://mem.invalid"
"#,
            client_id = portolan_testkit::github::CLIENT_ID,
            client_secret = portolan_testkit::github::CLIENT_SECRET,
        );
        let p = Portolan::serve(listener, &base, &toml).await;
        let b = Browser::new();
        let start = b.client.get(p.url("/auth/login/github")).send().await.unwrap();
        assert!(location(&start).starts_with(&format!("{ghe}/login/oauth/authorize?")), "{}", location(&start));
        let approved = b.client.get(location(&start)).send().await.unwrap();
        let done = b.client.get(location(&approved)).send().await.unwrap();
        assert_eq!(done.status(), 303, "{:?}", done.text().await);
        let view = who(&p, &b, None).await;
        assert_eq!((view.name.as_deref(), view.role.as_deref()), (Some("Alice Admin"), Some("admin")));
        let requests = gh.requests();
        for wanted in ["GET /user", "GET /user/emails?per_page=100", "GET /user/orgs?per_page=100", "GET /user/teams?per_page=100"] {
            assert!(requests.iter().any(|r| r == wanted), "{wanted} in {requests:#?}");
        }
        p.stop().await;
        proxy.abort();
        let _ = proxy.await;
    })
}
