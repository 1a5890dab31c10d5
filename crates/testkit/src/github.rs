//! A replay of GitHub for sign-in tests: the OAuth app endpoints (`/login/oauth/authorize`,
//! `/login/oauth/access_token`) and the REST API calls a sign-in needs (`/user`, `/user/emails`,
//! `/user/orgs`, `/user/teams`), all on one in-process server at `http://127.0.0.1:<port>`
//! (GitHub splits them between github.com and api.github.com: point both at [`GithubServer::url`]).
//!
//! Written from GitHub's documentation, not captured; ids and tokens are made up. What it follows:
//! - authorize auto-approves as the chosen user (its `login` parameter, else the one set with
//!   [`GithubServer::set_user`] or `POST /__test/user {"login": …}`) and redirects with `code`
//!   and `state`; a refusal ([`GithubServer::deny_next`]) redirects with `error=access_denied`;
//!   PKCE (S256) is checked when the authorization asked for it;
//! - the token endpoint takes the client credentials in the form or as HTTP Basic, answers JSON
//!   when asked (`Accept: application/json`), else form-encoded, and reports errors with status
//!   200 (`bad_verification_code` for an unknown, used or expired code, `incorrect_client_credentials`,
//!   `redirect_uri_mismatch`); a code is good once, for ten minutes;
//! - the granted scopes are the requested ones, comma-separated (`read:org,user:email`);
//! - the API wants `Authorization: Bearer <token>` or `token <token>` (401 `Bad credentials`,
//!   or `Requires authentication` without one), sends GitHub's headers (`x-github-media-type`,
//!   `x-ratelimit-*`, `x-oauth-scopes`, `x-accepted-oauth-scopes`), checks scopes (`/user/emails`
//!   needs `user:email` or `user`: else 404; `/user/orgs` and `/user/teams` need `read:org` or
//!   `user`: else 403), and pages lists with `per_page` (default 30, at most
//!   [`GithubConfig::max_per_page`]) and `page`, with a `Link` header (`next`, `last`, `first`, `prev`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Result;
use axum::body::Bytes;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The OAuth app configured by default.
pub const CLIENT_ID: &str = "Iv1.portolan0testkit";
/// Its secret.
pub const CLIENT_SECRET: &str = "0123456789abcdef0123456789abcdef01234567";

const TOKEN_ERRORS_DOC: &str = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors";
const AUTHORIZE_ERRORS_DOC: &str = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors";

/// An address of a user (`GET /user/emails`).
#[derive(Clone, Debug)]
pub struct GithubEmail {
    pub email: String,
    pub primary: bool,
    pub verified: bool,
    /// `Some("public")`, `Some("private")`, or `None` (GitHub's `null`).
    pub visibility: Option<String>,
}

impl GithubEmail {
    pub fn new(email: &str, primary: bool, verified: bool) -> Self {
        Self { email: email.to_owned(), primary, verified, visibility: Some(if primary { "public" } else { "private" }.to_owned()) }
    }
}

/// A user, with their organization and team memberships.
#[derive(Clone, Debug)]
pub struct GithubUser {
    pub login: String,
    pub id: u64,
    pub name: Option<String>,
    /// The public profile email (`/user`'s `email`; `None` when the user keeps it private).
    pub public_email: Option<String>,
    pub emails: Vec<GithubEmail>,
    /// Logins of the organizations the user belongs to.
    pub orgs: Vec<String>,
    /// Teams the user belongs to, as (organization login, team slug).
    pub teams: Vec<(String, String)>,
}

impl GithubUser {
    /// `alice` (id 1000001): alice@example.com primary and verified (public), an unverified
    /// secondary; member of `portolan-org` and `acme-corp`, teams `portolan-org/platform-admins`
    /// and `portolan-org/developers`.
    pub fn alice() -> Self {
        Self {
            login: "alice".to_owned(),
            id: 1_000_001,
            name: Some("Alice Admin".to_owned()),
            public_email: Some("alice@example.com".to_owned()),
            emails: vec![GithubEmail::new("alice@example.com", true, true), GithubEmail::new("alice@old.example.net", false, false)],
            orgs: vec!["portolan-org".to_owned(), "acme-corp".to_owned()],
            teams: vec![("portolan-org".to_owned(), "platform-admins".to_owned()), ("portolan-org".to_owned(), "developers".to_owned())],
        }
    }

    /// `bob` (id 1000002): bob@example.com primary and verified but private (`/user`'s email
    /// is null); member of `portolan-org`, team `portolan-org/developers`.
    pub fn bob() -> Self {
        Self {
            login: "bob".to_owned(),
            id: 1_000_002,
            name: Some("Bob Builder".to_owned()),
            public_email: None,
            emails: vec![GithubEmail { visibility: Some("private".to_owned()), ..GithubEmail::new("bob@example.com", true, true) }],
            orgs: vec!["portolan-org".to_owned()],
            teams: vec![("portolan-org".to_owned(), "developers".to_owned())],
        }
    }

    /// `carol` (id 1000003): no name, carol@example.com primary but NOT verified; no
    /// organizations, no teams.
    pub fn carol() -> Self {
        Self {
            login: "carol".to_owned(),
            id: 1_000_003,
            name: None,
            public_email: None,
            emails: vec![GithubEmail::new("carol@example.com", true, false)],
            orgs: Vec::new(),
            teams: Vec::new(),
        }
    }

    pub fn node_id(&self) -> String {
        node_id("U_kgDO", self.id)
    }
}

/// An organization.
#[derive(Clone, Debug)]
pub struct GithubOrg {
    pub login: String,
    pub id: u64,
    pub description: Option<String>,
}

/// A team of an organization.
#[derive(Clone, Debug)]
pub struct GithubTeam {
    /// The organization's login.
    pub org: String,
    pub slug: String,
    pub name: String,
    pub id: u64,
}

/// What the replay serves. [`GithubConfig::default`]: the app [`CLIENT_ID`]/[`CLIENT_SECRET`]
/// (any redirect URI), users alice, bob and carol (alice signs in unless told otherwise), the
/// organizations `portolan-org` and `acme-corp`, and their teams.
#[derive(Clone, Debug)]
pub struct GithubConfig {
    pub client_id: String,
    pub client_secret: String,
    /// The app's registered callback URL: a `redirect_uri` must have its host and port and a path
    /// under its path, as GitHub requires. `None`: any redirect URI.
    pub callback_url: Option<String>,
    pub users: Vec<GithubUser>,
    pub orgs: Vec<GithubOrg>,
    pub teams: Vec<GithubTeam>,
    /// Who authorizes when the request does not say (`login` parameter).
    pub default_login: String,
    /// The largest `per_page` honoured (GitHub: 100); lower it to exercise paging with few items.
    pub max_per_page: usize,
}

impl Default for GithubConfig {
    fn default() -> Self {
        let team = |org: &str, slug: &str, name: &str, id: u64| GithubTeam {
            org: org.to_owned(),
            slug: slug.to_owned(),
            name: name.to_owned(),
            id,
        };
        Self {
            client_id: CLIENT_ID.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
            callback_url: None,
            users: vec![GithubUser::alice(), GithubUser::bob(), GithubUser::carol()],
            orgs: vec![
                GithubOrg { login: "portolan-org".to_owned(), id: 9_000_001, description: Some("Portolan test organization".to_owned()) },
                GithubOrg { login: "acme-corp".to_owned(), id: 9_000_002, description: None },
            ],
            teams: vec![
                team("portolan-org", "platform-admins", "Platform Admins", 7_000_001),
                team("portolan-org", "developers", "Developers", 7_000_002),
                team("acme-corp", "viewers", "Viewers", 7_000_003),
            ],
            default_login: "alice".to_owned(),
            max_per_page: 100,
        }
    }
}

struct PendingCode {
    login: String,
    client_id: String,
    redirect_uri: Option<String>,
    scopes: Vec<String>,
    challenge: Option<String>,
    issued: Instant,
}

struct Grant {
    login: String,
    scopes: Vec<String>,
}

#[derive(Default)]
struct Live {
    login: Option<String>,
    deny_next: bool,
    codes: HashMap<String, PendingCode>,
    tokens: HashMap<String, Grant>,
    requests: Vec<String>,
    rate_used: u32,
}

struct Inner {
    config: GithubConfig,
    base: String,
    live: Mutex<Live>,
}

impl Inner {
    fn live(&self) -> MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running replay; stops when dropped.
pub struct GithubServer {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GithubServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GithubServer {
    /// Starts on a free loopback port.
    pub async fn start(config: GithubConfig) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner { config, base: format!("http://{addr}"), live: Mutex::new(Live::default()) });
        let app = axum::Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(access_token))
            .route("/user", get(user))
            .route("/user/emails", get(emails))
            .route("/user/orgs", get(orgs))
            .route("/user/teams", get(teams))
            .route("/__test/user", post(control_user))
            .route("/__test/deny", post(control_deny))
            .fallback(not_found)
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, inner, task })
    }

    /// `http://127.0.0.1:<port>`: both "github.com" (OAuth) and "api.github.com" (REST).
    pub fn url(&self) -> &str {
        &self.inner.base
    }

    pub fn authorize_url(&self) -> String {
        format!("{}/login/oauth/authorize", self.inner.base)
    }

    pub fn token_url(&self) -> String {
        format!("{}/login/oauth/access_token", self.inner.base)
    }

    /// The REST API root (GitHub: `https://api.github.com`).
    pub fn api_url(&self) -> &str {
        &self.inner.base
    }

    /// Who authorizes from now on when the request has no `login` parameter.
    pub fn set_user(&self, login: &str) {
        self.inner.live().login = Some(login.to_owned());
    }

    /// The next authorization is refused by the user (`error=access_denied`).
    pub fn deny_next(&self) {
        self.inner.live().deny_next = true;
    }

    /// An access token for `login` with these scopes, as if the flow had run.
    pub fn mint_token(&self, login: &str, scopes: &[&str]) -> String {
        let token = format!("gho_{}", random_alnum(36));
        let grant = Grant { login: login.to_owned(), scopes: scopes.iter().map(|s| (*s).to_owned()).collect() };
        self.inner.live().tokens.insert(token.clone(), grant);
        token
    }

    /// Every request so far, as `METHOD /path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.inner.live().requests.clone()
    }
}

fn node_id(prefix: &str, id: u64) -> String {
    format!("{prefix}{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(id.to_be_bytes()))
}

fn random_alnum(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect()
}

fn random_hex(len: usize) -> String {
    (0..len).map(|_| char::from_digit(rand::random_range(0..16u32), 16).unwrap_or('0')).collect()
}

fn record(inner: &Inner, method: &str, path: &str, query: Option<&str>) {
    let line = match query {
        Some(q) if !q.is_empty() => format!("{method} {path}?{q}"),
        _ => format!("{method} {path}"),
    };
    inner.live().requests.push(line);
}

/// The scopes of a request (`scope` is space- or comma-separated), de-duplicated, in order.
fn split_scopes(scope: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scope.split([' ', ',']).filter(|s| !s.is_empty()) {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    out
}

fn redirect_uri_allowed(callback: &str, redirect: &str) -> bool {
    let (Ok(callback), Ok(redirect)) = (url::Url::parse(callback), url::Url::parse(redirect)) else {
        return false;
    };
    callback.scheme() == redirect.scheme()
        && callback.host_str() == redirect.host_str()
        && callback.port_or_known_default() == redirect.port_or_known_default()
        && redirect.path().starts_with(callback.path().trim_end_matches('/'))
}

fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(base).unwrap_or_else(|_| url::Url::parse("http://invalid/").expect("static URL"));
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

fn redirect(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

fn html_page(status: StatusCode, text: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], format!("<!DOCTYPE html><html><body><p>{text}</p></body></html>"))
        .into_response()
}

async fn authorize(State(inner): State<Arc<Inner>>, RawQuery(raw): RawQuery, Query(q): Query<HashMap<String, String>>) -> Response {
    record(&inner, "GET", "/login/oauth/authorize", raw.as_deref());
    let config = &inner.config;
    if q.get("client_id") != Some(&config.client_id) {
        return html_page(StatusCode::NOT_FOUND, "404: this OAuth application does not exist (unknown client_id)");
    }
    let state = q.get("state").cloned().unwrap_or_default();
    let redirect_uri = q.get("redirect_uri").cloned();
    let target = match (&redirect_uri, &config.callback_url) {
        (Some(uri), Some(callback)) if !redirect_uri_allowed(callback, uri) => {
            return redirect(&with_query(
                callback,
                &[
                    ("error", "redirect_uri_mismatch"),
                    ("error_description", "The redirect_uri MUST match the registered callback URL for this application."),
                    ("error_uri", &format!("{AUTHORIZE_ERRORS_DOC}#redirect-uri-mismatch")),
                    ("state", &state),
                ],
            ));
        }
        (Some(uri), _) => uri.clone(),
        (None, Some(callback)) => callback.clone(),
        (None, None) => return html_page(StatusCode::BAD_REQUEST, "redirect_uri is required (no callback URL is registered)"),
    };
    let challenge = match (q.get("code_challenge"), q.get("code_challenge_method").map(String::as_str)) {
        (Some(c), Some("S256") | None) => Some(c.clone()),
        (Some(_), Some(_)) => return html_page(StatusCode::BAD_REQUEST, "code_challenge_method must be S256"),
        (None, _) => None,
    };

    let mut live = inner.live();
    if std::mem::take(&mut live.deny_next) {
        return redirect(&with_query(
            &target,
            &[
                ("error", "access_denied"),
                ("error_description", "The user has denied your application access."),
                ("error_uri", &format!("{AUTHORIZE_ERRORS_DOC}#access-denied")),
                ("state", &state),
            ],
        ));
    }
    let login = q.get("login").cloned().or_else(|| live.login.clone()).unwrap_or_else(|| config.default_login.clone());
    if !config.users.iter().any(|u| u.login == login) {
        return html_page(StatusCode::NOT_FOUND, &format!("no user {login}"));
    }
    let code = random_hex(20);
    live.codes.insert(
        code.clone(),
        PendingCode {
            login,
            client_id: config.client_id.clone(),
            redirect_uri,
            scopes: split_scopes(q.get("scope").map(String::as_str).unwrap_or_default()),
            challenge,
            issued: Instant::now(),
        },
    );
    drop(live);
    redirect(&with_query(&target, &[("code", &code), ("state", &state)]))
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Some((unescape(id)?, unescape(secret)?))
}

fn token_answer(headers: &HeaderMap, fields: &[(&str, &str)]) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if accept.contains("json") {
        let body: serde_json::Map<String, Value> = fields.iter().map(|(k, v)| ((*k).to_owned(), Value::from(*v))).collect();
        (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], Value::Object(body).to_string()).into_response()
    } else {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields.iter().copied()).finish();
        (StatusCode::OK, [(header::CONTENT_TYPE, "application/x-www-form-urlencoded; charset=utf-8")], body).into_response()
    }
}

fn token_error(headers: &HeaderMap, error: &str, description: &str, anchor: &str) -> Response {
    token_answer(headers, &[("error", error), ("error_description", description), ("error_uri", &format!("{TOKEN_ERRORS_DOC}#{anchor}"))])
}

async fn access_token(State(inner): State<Arc<Inner>>, RawQuery(raw): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    record(&inner, "POST", "/login/oauth/access_token", raw.as_deref());
    let mut params: HashMap<String, String> = HashMap::new();
    if let Some(raw) = &raw {
        params.extend(url::form_urlencoded::parse(raw.as_bytes()).into_owned());
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if content_type.contains("json") {
        if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body) {
            for (k, v) in map {
                if let Some(s) = v.as_str() {
                    params.insert(k, s.to_owned());
                }
            }
        }
    } else {
        params.extend(url::form_urlencoded::parse(&body).into_owned());
    }
    if let Some((id, secret)) = basic_credentials(&headers) {
        params.entry("client_id".to_owned()).or_insert(id);
        params.entry("client_secret".to_owned()).or_insert(secret);
    }

    let config = &inner.config;
    if params.get("client_id") != Some(&config.client_id) || params.get("client_secret") != Some(&config.client_secret) {
        return token_error(
            &headers,
            "incorrect_client_credentials",
            "The client_id and/or client_secret passed are incorrect.",
            "incorrect-client-credentials",
        );
    }
    let bad_code = || token_error(&headers, "bad_verification_code", "The code passed is incorrect or expired.", "bad-verification-code");
    let Some(code) = params.get("code") else {
        return bad_code();
    };
    let mut live = inner.live();
    // A code is good once, whatever happens next.
    let Some(pending) = live.codes.remove(code) else {
        return bad_code();
    };
    if pending.issued.elapsed() > Duration::from_secs(600) || pending.client_id != config.client_id {
        return bad_code();
    }
    if let (Some(asked), Some(given)) = (&pending.redirect_uri, params.get("redirect_uri"))
        && asked != given
    {
        return token_error(
            &headers,
            "redirect_uri_mismatch",
            "The redirect_uri MUST match the registered callback URL for this application.",
            "redirect-uri-mismatch2",
        );
    }
    if let Some(challenge) = &pending.challenge {
        let verifier = params.get("code_verifier").map(String::as_str).unwrap_or_default();
        let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if computed != *challenge {
            return bad_code();
        }
    }
    let token = format!("gho_{}", random_alnum(36));
    let scope = pending.scopes.join(",");
    live.tokens.insert(token.clone(), Grant { login: pending.login, scopes: pending.scopes });
    drop(live);
    token_answer(&headers, &[("access_token", &token), ("token_type", "bearer"), ("scope", &scope)])
}

/// GitHub's API headers on every answer.
fn api_headers(inner: &Inner, scopes: Option<&[String]>, accepted: &str) -> HeaderMap {
    let used = {
        let mut live = inner.live();
        live.rate_used += 1;
        live.rate_used
    };
    let reset = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    let mut h = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set("content-type", "application/json; charset=utf-8".to_owned());
    set("x-github-media-type", "github.v3; format=json".to_owned());
    set("x-github-api-version-selected", "2022-11-28".to_owned());
    set(
        "x-github-request-id",
        format!("{}:{}:{}", random_hex(4).to_uppercase(), random_hex(6).to_uppercase(), random_hex(7).to_uppercase()),
    );
    set("x-ratelimit-limit", "5000".to_owned());
    set("x-ratelimit-remaining", 5000u32.saturating_sub(used).to_string());
    set("x-ratelimit-reset", reset.to_string());
    set("x-ratelimit-used", used.to_string());
    set("x-ratelimit-resource", "core".to_owned());
    if let Some(scopes) = scopes {
        set("x-oauth-scopes", scopes.join(", "));
        set("x-accepted-oauth-scopes", accepted.to_owned());
    }
    h
}

fn api_error(inner: &Inner, status: StatusCode, message: &str, doc: &str, scopes: Option<&[String]>, accepted: &str) -> Response {
    let body = json!({ "message": message, "documentation_url": doc, "status": status.as_u16().to_string() });
    (status, api_headers(inner, scopes, accepted), body.to_string()).into_response()
}

/// The grant behind the request's token, or the error answer.
fn authenticate(inner: &Inner, headers: &HeaderMap, doc: &str) -> Result<(GithubUser, Vec<String>), Box<Response>> {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Err(Box::new(api_error(inner, StatusCode::UNAUTHORIZED, "Requires authentication", doc, None, "")));
    };
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .or_else(|| value.strip_prefix("token "))
        .map(str::trim)
        .unwrap_or_default();
    let grant = inner.live().tokens.get(token).map(|g| (g.login.clone(), g.scopes.clone()));
    let Some((login, scopes)) = grant else {
        return Err(Box::new(api_error(inner, StatusCode::UNAUTHORIZED, "Bad credentials", "https://docs.github.com/rest", None, "")));
    };
    match inner.config.users.iter().find(|u| u.login == login) {
        Some(user) => Ok((user.clone(), scopes)),
        None => Err(Box::new(api_error(inner, StatusCode::UNAUTHORIZED, "Bad credentials", "https://docs.github.com/rest", None, ""))),
    }
}

fn has_any(scopes: &[String], wanted: &[&str]) -> bool {
    scopes.iter().any(|s| wanted.contains(&s.as_str()))
}

fn user_json(base: &str, u: &GithubUser) -> Value {
    let login = &u.login;
    let mut value = json!({
        "login": login,
        "id": u.id,
        "node_id": u.node_id(),
        "avatar_url": format!("{base}/avatars/u/{}?v=4", u.id),
        "gravatar_id": "",
        "url": format!("{base}/users/{login}"),
        "html_url": format!("{base}/{login}"),
        "followers_url": format!("{base}/users/{login}/followers"),
        "following_url": format!("{base}/users/{login}/following{{/other_user}}"),
        "gists_url": format!("{base}/users/{login}/gists{{/gist_id}}"),
        "starred_url": format!("{base}/users/{login}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{base}/users/{login}/subscriptions"),
        "organizations_url": format!("{base}/users/{login}/orgs"),
        "repos_url": format!("{base}/users/{login}/repos"),
        "events_url": format!("{base}/users/{login}/events{{/privacy}}"),
        "received_events_url": format!("{base}/users/{login}/received_events"),
    });
    let profile = json!({
        "type": "User",
        "user_view_type": "private",
        "site_admin": false,
        "name": u.name,
        "company": null,
        "blog": "",
        "location": null,
        "email": u.public_email,
        "hireable": null,
        "bio": null,
        "twitter_username": null,
        "notification_email": u.public_email,
        "public_repos": 3,
        "public_gists": 0,
        "followers": 1,
        "following": 0,
        "created_at": "2015-03-04T10:21:09Z",
        "updated_at": "2025-01-20T08:00:00Z",
        "private_gists": 0,
        "total_private_repos": 0,
        "owned_private_repos": 0,
        "disk_usage": 1024,
        "collaborators": 0,
        "two_factor_authentication": true,
        "plan": { "name": "free", "space": 976562499, "collaborators": 0, "private_repos": 10000 },
    });
    if let (Value::Object(map), Value::Object(more)) = (&mut value, profile) {
        map.extend(more);
    }
    value
}

fn org_json(base: &str, o: &GithubOrg) -> Value {
    let login = &o.login;
    json!({
        "login": login,
        "id": o.id,
        "node_id": node_id("O_kgDO", o.id),
        "url": format!("{base}/orgs/{login}"),
        "repos_url": format!("{base}/orgs/{login}/repos"),
        "events_url": format!("{base}/orgs/{login}/events"),
        "hooks_url": format!("{base}/orgs/{login}/hooks"),
        "issues_url": format!("{base}/orgs/{login}/issues"),
        "members_url": format!("{base}/orgs/{login}/members{{/member}}"),
        "public_members_url": format!("{base}/orgs/{login}/public_members{{/member}}"),
        "avatar_url": format!("{base}/avatars/u/{}?v=4", o.id),
        "description": o.description,
    })
}

fn team_json(base: &str, t: &GithubTeam, org: Option<&GithubOrg>) -> Value {
    let org_login = &t.org;
    let organization = match org {
        Some(o) => {
            let mut value = org_json(base, o);
            if let Some(map) = value.as_object_mut() {
                map.insert("name".to_owned(), Value::from(o.login.clone()));
                map.insert("html_url".to_owned(), Value::from(format!("{base}/{}", o.login)));
                map.insert("type".to_owned(), Value::from("Organization"));
                map.insert("created_at".to_owned(), Value::from("2018-06-01T12:00:00Z"));
                map.insert("updated_at".to_owned(), Value::from("2025-01-02T12:00:00Z"));
            }
            value
        }
        None => json!({ "login": org_login }),
    };
    json!({
        "id": t.id,
        "node_id": node_id("T_kwDO", t.id),
        "url": format!("{base}/organizations/{}/team/{}", org.map_or(0, |o| o.id), t.id),
        "html_url": format!("{base}/orgs/{org_login}/teams/{}", t.slug),
        "name": t.name,
        "slug": t.slug,
        "description": null,
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "permission": "pull",
        "members_url": format!("{base}/organizations/{}/team/{}/members{{/member}}", org.map_or(0, |o| o.id), t.id),
        "repositories_url": format!("{base}/organizations/{}/team/{}/repos", org.map_or(0, |o| o.id), t.id),
        "parent": null,
        "members_count": 3,
        "repos_count": 2,
        "created_at": "2019-02-11T09:00:00Z",
        "updated_at": "2025-01-02T12:00:00Z",
        "organization": organization,
    })
}

#[derive(serde::Deserialize)]
struct Paging {
    per_page: Option<String>,
    page: Option<String>,
}

/// One page of `items`, with GitHub's `Link` header when there is more than one page.
fn paged(inner: &Inner, path: &str, paging: &Paging, items: Vec<Value>, mut headers: HeaderMap) -> Response {
    let per_page =
        paging.per_page.as_deref().and_then(|p| p.parse::<usize>().ok()).unwrap_or(30).clamp(1, inner.config.max_per_page.max(1));
    let page = paging.page.as_deref().and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let slice: Vec<Value> = items.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    if last > 1 {
        let link = |p: usize, rel: &str| format!("<{}{path}?per_page={per_page}&page={p}>; rel=\"{rel}\"", inner.base);
        let mut links = Vec::new();
        if page > 1 {
            links.push(link(page - 1, "prev"));
        }
        if page < last {
            links.push(link(page + 1, "next"));
            links.push(link(last, "last"));
        }
        if page > 1 {
            links.push(link(1, "first"));
        }
        if let Ok(v) = HeaderValue::from_str(&links.join(", ")) {
            headers.insert(header::LINK, v);
        }
    }
    (StatusCode::OK, headers, Value::Array(slice).to_string()).into_response()
}

async fn user(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    record(&inner, "GET", "/user", None);
    let doc = "https://docs.github.com/rest/users/users#get-the-authenticated-user";
    let (user, scopes) = match authenticate(&inner, &headers, doc) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    (StatusCode::OK, api_headers(&inner, Some(&scopes), ""), user_json(&inner.base, &user).to_string()).into_response()
}

async fn emails(State(inner): State<Arc<Inner>>, RawQuery(raw): RawQuery, Query(paging): Query<Paging>, headers: HeaderMap) -> Response {
    record(&inner, "GET", "/user/emails", raw.as_deref());
    let doc = "https://docs.github.com/rest/users/emails#list-email-addresses-for-the-authenticated-user";
    let (user, scopes) = match authenticate(&inner, &headers, doc) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let accepted = "user, user:email";
    if !has_any(&scopes, &["user", "user:email"]) {
        return api_error(&inner, StatusCode::NOT_FOUND, "Not Found", doc, Some(&scopes), accepted);
    }
    let items = user
        .emails
        .iter()
        .map(|e| json!({ "email": e.email, "primary": e.primary, "verified": e.verified, "visibility": e.visibility }))
        .collect();
    paged(&inner, "/user/emails", &paging, items, api_headers(&inner, Some(&scopes), accepted))
}

async fn orgs(State(inner): State<Arc<Inner>>, RawQuery(raw): RawQuery, Query(paging): Query<Paging>, headers: HeaderMap) -> Response {
    record(&inner, "GET", "/user/orgs", raw.as_deref());
    let doc = "https://docs.github.com/rest/orgs/orgs#list-organizations-for-the-authenticated-user";
    let (user, scopes) = match authenticate(&inner, &headers, doc) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let accepted = "admin:org, read:org, repo, user, write:org";
    if !has_any(&scopes, &["user", "read:org", "write:org", "admin:org"]) {
        let message = "You need at least read:org scope or user scope to list your organizations.";
        return api_error(&inner, StatusCode::FORBIDDEN, message, doc, Some(&scopes), accepted);
    }
    let items = inner.config.orgs.iter().filter(|o| user.orgs.contains(&o.login)).map(|o| org_json(&inner.base, o)).collect();
    paged(&inner, "/user/orgs", &paging, items, api_headers(&inner, Some(&scopes), accepted))
}

async fn teams(State(inner): State<Arc<Inner>>, RawQuery(raw): RawQuery, Query(paging): Query<Paging>, headers: HeaderMap) -> Response {
    record(&inner, "GET", "/user/teams", raw.as_deref());
    let doc = "https://docs.github.com/rest/teams/teams#list-teams-for-the-authenticated-user";
    let (user, scopes) = match authenticate(&inner, &headers, doc) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let accepted = "admin:org, read:org, repo, user, write:org";
    if !has_any(&scopes, &["user", "repo", "read:org", "write:org", "admin:org"]) {
        let message = "Resource not accessible by integration: the read:org scope is needed to list teams.";
        return api_error(&inner, StatusCode::FORBIDDEN, message, doc, Some(&scopes), accepted);
    }
    let items = user
        .teams
        .iter()
        .filter_map(|(org, slug)| inner.config.teams.iter().find(|t| &t.org == org && &t.slug == slug))
        .map(|t| team_json(&inner.base, t, inner.config.orgs.iter().find(|o| o.login == t.org)))
        .collect();
    paged(&inner, "/user/teams", &paging, items, api_headers(&inner, Some(&scopes), accepted))
}

async fn control_user(State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    let login = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["login"].as_str().map(str::to_owned));
    match login {
        Some(login) if inner.config.users.iter().any(|u| u.login == login) => {
            inner.live().login = Some(login.clone());
            axum::Json(json!({ "login": login })).into_response()
        }
        _ => (StatusCode::BAD_REQUEST, "expected {\"login\": <a configured user>}").into_response(),
    }
}

async fn control_deny(State(inner): State<Arc<Inner>>) -> Response {
    inner.live().deny_next = true;
    StatusCode::NO_CONTENT.into_response()
}

async fn not_found(State(inner): State<Arc<Inner>>) -> Response {
    api_error(&inner, StatusCode::NOT_FOUND, "Not Found", "https://docs.github.com/rest", None, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_on_spaces_and_commas() {
        assert_eq!(split_scopes("read:org user:email,read:org"), vec!["read:org", "user:email"]);
        assert!(split_scopes("").is_empty());
    }

    #[test]
    fn redirect_uris_must_sit_under_the_callback() {
        let cb = "http://127.0.0.1:3000/auth/github";
        assert!(redirect_uri_allowed(cb, "http://127.0.0.1:3000/auth/github/callback"));
        assert!(!redirect_uri_allowed(cb, "http://127.0.0.1:3001/auth/github/callback"));
        assert!(!redirect_uri_allowed(cb, "http://127.0.0.1:3000/other"));
    }
}
