//! Sign-in: the routes `/auth/login/{provider}`, `/auth/callback/{provider}` and
//! `/auth/logout`, and the middleware that works out who is asking — from the session, or from
//! a trusted reverse proxy's headers — for every request ([`identify`]).
//!
//! Sessions live in the store (tower-sessions): the id is rotated at sign-in, sign-out deletes
//! the session server-side, and a session ends after the idle timeout (tower-sessions' expiry)
//! or the absolute lifetime since sign-in (checked here), whichever comes first. What a sign-in
//! in progress needs (state, nonce, PKCE verifier, where to go next) is kept apart from the
//! session — a record of its own in the store, named by a cookie of its own that lasts ten
//! minutes — so starting a sign-in (a link anyone can send) leaves a signed-in session alone
//! until the callback succeeds. The callback takes it out exactly once — also when the browser
//! sends the callback twice at once (both read the record before either deletes it), which
//! [`Auth::claim`] settles.
//!
//! Nobody fills the audit log without an account: only the callback of a sign-in actually in
//! progress for a configured provider is audited (with the provider's configured id, and a
//! bounded reason); everything else refused here is only logged. Every route here is rate
//! limited per client address.
//!
//! # Layout
//! - this file: [`Auth`], the routes and the middleware.
//! - [`oidc`]: OpenID Connect sign-in.
//! - [`github`]: GitHub sign-in.
//! - [`page`]: the page shown when a sign-in is refused.

pub mod github;
pub mod oidc;
pub mod page;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use portolan_access::Identity;
use portolan_app::ssr::auth::{CurrentUser, actor_of};
use portolan_app::ssr::{RequestId, RequestOrigin};
use portolan_store::{NewAudit, Outcome, Store};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tower_sessions::Session;

use crate::config::{AuthConfig, ProxyConfig};
use github::GithubProvider;
use oidc::OidcProvider;

/// The session key of the signed-in user.
const USER_KEY: &str = "portolan.user";
/// The key of a sign-in in progress in its record.
const PENDING_KEY: &str = "portolan.pending";
/// A sign-in must come back within this long.
const PENDING_TTL: Duration = Duration::from_secs(600);
/// The cookie naming a sign-in in progress (with the `__Host-` prefix over https).
const PENDING_COOKIE: &str = "portolan_signin";
/// Requests to the sign-in routes one address may make at once, then a minute.
const AUTH_BURST: u32 = 60;
const AUTH_PER_MINUTE: u32 = 60;
/// Refused API tokens one address may send at once, then a minute.
const TOKEN_FAILURES_BURST: u32 = 10;
const TOKEN_FAILURES_PER_MINUTE: u32 = 10;
/// Longest refusal reason kept in the audit log.
const REASON_MAX: usize = 500;

/// A sign-in provider.
pub enum Provider {
    Oidc(Box<OidcProvider>),
    Github(Box<GithubProvider>),
}

impl Provider {
    fn id(&self) -> &str {
        match self {
            Provider::Oidc(p) => &p.config.id,
            Provider::Github(p) => &p.config.id,
        }
    }
}

/// Everything sign-in needs.
pub struct Auth {
    pub providers: Vec<Provider>,
    pub proxy: Option<ProxyConfig>,
    pub session_max: Duration,
    /// Where Portolan is reached, when configured (else each request's origin).
    pub public_url: Option<String>,
    pub store: Store,
    pub stylesheet: String,
    /// Cookies are `Secure` and `__Host-` prefixed (Portolan is reached over https).
    pub secure_cookies: bool,
    /// The states of the sign-ins whose callback has been taken, with when they started: a
    /// second callback of the same sign-in is refused before its code is sent (see [`Auth::claim`]).
    claimed: Mutex<HashMap<String, i64>>,
    /// Requests to the sign-in routes, per client address.
    limit: crate::limit::RateLimit,
    /// Refused API tokens, per client address.
    token_failures: crate::limit::RateLimit,
    /// When each API token's use was last recorded.
    token_uses: portolan_service::tokens::Uses,
}

impl Auth {
    pub fn new(
        config: &AuthConfig,
        public_url: Option<String>,
        store: Store,
        stylesheet: String,
        secure_cookies: bool,
    ) -> Result<Self, String> {
        // Providers are called from the server: no redirects (SSRF), bounded time.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("portolan/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("building the sign-in HTTP client: {e}"))?;
        let providers = config
            .providers
            .iter()
            .map(|p| match &p.kind {
                crate::config::ProviderKind::Oidc { .. } => Provider::Oidc(Box::new(OidcProvider::new(p.clone(), http.clone()))),
                crate::config::ProviderKind::Github { .. } => Provider::Github(Box::new(GithubProvider::new(p.clone(), http.clone()))),
            })
            .collect();
        Ok(Self {
            providers,
            proxy: config.proxy.clone(),
            session_max: config.session_max,
            public_url,
            store,
            stylesheet,
            secure_cookies,
            claimed: Mutex::new(HashMap::new()),
            limit: crate::limit::RateLimit::new(AUTH_BURST, AUTH_PER_MINUTE),
            token_failures: crate::limit::RateLimit::new(TOKEN_FAILURES_BURST, TOKEN_FAILURES_PER_MINUTE),
            token_uses: Default::default(),
        })
    }

    /// The name of the cookie naming a sign-in in progress.
    fn pending_cookie(&self) -> String {
        if self.secure_cookies { format!("__Host-{PENDING_COOKIE}") } else { PENDING_COOKIE.to_owned() }
    }

    /// The `Set-Cookie` value naming the sign-in record `id` (None: clearing it).
    fn pending_set_cookie(&self, id: Option<&tower_sessions::session::Id>) -> String {
        let (value, age) = match id {
            Some(id) => (id.to_string(), PENDING_TTL.as_secs()),
            None => (String::new(), 0),
        };
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        format!("{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={age}{secure}", self.pending_cookie())
    }

    /// Refuses a request past its address's rate.
    fn limited(&self, parts: &axum::http::Extensions) -> Option<Response> {
        let client = parts.get::<crate::security::ClientAddr>().and_then(|c| c.0);
        let wait = self.limit.take(client).err()?;
        tracing::info!(client = ?client, "sign-in route rate limited");
        let mut response = page::failure(
            &self.stylesheet,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in requests from your address; wait a little and try again.",
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        Some(response)
    }

    /// Takes the callback of a sign-in in progress for this request alone: false when another
    /// request has it already. Two requests carrying the same callback (a double click, a
    /// browser's retry) both find the sign-in in their copy of the session; without this both
    /// would send the code, and a provider seeing a code twice refuses the second and revokes
    /// what it issued for the first (RFC 6749 §4.1.2; oidc-provider does), so neither signs in.
    fn claim(&self, pending: &Pending) -> bool {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let mut claimed = self.claimed.lock().unwrap_or_else(|e| e.into_inner());
        // Past the time a sign-in may take, a state can no longer be finished anyway.
        claimed.retain(|_, started| now - *started <= PENDING_TTL.as_secs() as i64);
        match claimed.entry(pending.state.clone()) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(pending.started_at);
                true
            }
        }
    }

    fn provider(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.id() == id)
    }

    /// The origin redirect URLs are built on.
    fn origin(&self, parts: &axum::http::Extensions) -> String {
        self.public_url.clone().or_else(|| parts.get::<RequestOrigin>().map(|o| o.0.clone())).unwrap_or_default()
    }
}

/// The signed-in user, as kept in the session.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SessionUser {
    identity: Identity,
    /// Unix seconds.
    signed_in_at: i64,
    /// The provider's ID token, kept server-side as the hint for ending its session.
    id_token: Option<String>,
}

/// A sign-in in progress.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    pub provider: String,
    pub state: String,
    pub nonce: Option<String>,
    pub verifier: String,
    pub next: String,
    pub redirect: String,
    pub started_at: i64,
}

impl Pending {
    pub fn new(provider: &str, state: &str, nonce: Option<String>, verifier: &str, next: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            state: state.to_owned(),
            nonce,
            verifier: verifier.to_owned(),
            next: next.to_owned(),
            redirect: String::new(),
            started_at: OffsetDateTime::now_utc().unix_timestamp(),
        }
    }
}

/// Why a sign-in did not happen.
#[derive(Debug)]
pub struct Failure {
    pub status: StatusCode,
    pub reason: String,
}

impl Failure {
    /// The sign-in itself was refused (a check failed).
    pub fn refused(reason: impl Into<String>) -> Self {
        Self { status: StatusCode::UNAUTHORIZED, reason: reason.into() }
    }

    /// The provider could not be used (down, misconfigured).
    pub fn provider(reason: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_GATEWAY, reason: reason.into() }
    }
}

/// The sign-in routes (method, path).
pub const ROUTES: [(&str, &str); 3] = [("GET", "/auth/login/{provider}"), ("GET", "/auth/callback/{provider}"), ("POST", "/auth/logout")];

/// The sign-in routes.
pub fn routes<S: Clone + Send + Sync + 'static>(auth: Arc<Auth>) -> Router<S> {
    Router::new().route(ROUTES[0].1, get(login)).route(ROUTES[1].1, get(callback)).route(ROUTES[2].1, post(logout)).with_state(auth)
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

/// Where to go after signing in: a path of this site only.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && n.len() <= 2000
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

async fn login(State(auth): State<Arc<Auth>>, Path(provider): Path<String>, Query(q): Query<LoginQuery>, request: Request) -> Response {
    if let Some(refused) = auth.limited(request.extensions()) {
        return refused;
    }
    let (_, origin) = context(&auth, &request);
    drop(request);
    let Some(p) = auth.provider(&provider) else {
        return page::failure(&auth.stylesheet, StatusCode::NOT_FOUND, "There is no such sign-in provider.");
    };
    let next = safe_next(q.next.as_deref());
    let redirect = format!("{origin}/auth/callback/{provider}");
    let started = match p {
        Provider::Oidc(o) => o.start(&redirect, &next).await,
        Provider::Github(g) => g.start(&redirect, &next).await,
    };
    match started {
        Ok((url, mut pending)) => {
            pending.redirect = redirect;
            // A record of its own, lasting only as long as a sign-in may take: a signed-in
            // session is not touched until the callback succeeds, and repeated starts cannot
            // fill the store with long-lived records.
            let record = match pending_record(&auth, &pending).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "saving a sign-in in progress");
                    return page::failure(
                        &auth.stylesheet,
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Portolan cannot reach its database right now.",
                    );
                }
            };
            let mut response = Redirect::to(url.as_str()).into_response();
            if let Ok(v) = axum::http::HeaderValue::from_str(&auth.pending_set_cookie(Some(&record))) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            response
        }
        // The provider could not be asked: nothing was started, so nothing is audited (anyone
        // can open this URL); the log says why.
        Err(f) => {
            tracing::warn!(%provider, reason = %f.reason, "a sign-in could not start");
            page::failure(&auth.stylesheet, f.status, &f.reason)
        }
    }
}

/// Saves a sign-in in progress as a record of its own in the session store; its id goes in the
/// sign-in cookie.
async fn pending_record(auth: &Auth, pending: &Pending) -> Result<tower_sessions::session::Id, String> {
    use tower_sessions::SessionStore;
    let value = serde_json::to_value(pending).map_err(|e| e.to_string())?;
    let mut record = tower_sessions::session::Record {
        id: tower_sessions::session::Id::default(),
        data: HashMap::from([(PENDING_KEY.to_owned(), value)]),
        expiry_date: OffsetDateTime::now_utc() + time::Duration::try_from(PENDING_TTL).unwrap_or(time::Duration::MINUTE * 10),
    };
    auth.store.sessions().create(&mut record).await.map_err(|e| e.to_string())?;
    Ok(record.id)
}

/// Takes the sign-in in progress named by the request's sign-in cookie out of the store (once:
/// a replayed callback finds nothing).
async fn take_pending(auth: &Auth, headers: &HeaderMap) -> Result<Option<Pending>, String> {
    use tower_sessions::SessionStore;
    let name = auth.pending_cookie();
    let Some(id) = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| v.parse::<tower_sessions::session::Id>().ok())
    else {
        return Ok(None);
    };
    let sessions = auth.store.sessions();
    let Some(record) = sessions.load(&id).await.map_err(|e| e.to_string())? else { return Ok(None) };
    sessions.delete(&id).await.map_err(|e| e.to_string())?;
    Ok(record.data.get(PENDING_KEY).and_then(|v| serde_json::from_value(v.clone()).ok()))
}

/// The request's id and origin (the request itself cannot be held across awaits).
fn context(auth: &Auth, request: &Request) -> (Option<String>, String) {
    (request.extensions().get::<RequestId>().map(|r| r.0.clone()), auth.origin(request.extensions()))
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(auth): State<Arc<Auth>>,
    Path(provider): Path<String>,
    Query(q): Query<CallbackQuery>,
    session: Session,
    request: Request,
) -> Response {
    if let Some(refused) = auth.limited(request.extensions()) {
        return refused;
    }
    let (rid, _) = context(&auth, &request);
    let headers = request.headers().clone();
    drop(request);
    if auth.provider(&provider).is_none() {
        return page::failure(&auth.stylesheet, StatusCode::NOT_FOUND, "There is no such sign-in provider.");
    }
    let pending = match take_pending(&auth, &headers).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "reading a sign-in in progress");
            return page::failure(&auth.stylesheet, StatusCode::SERVICE_UNAVAILABLE, "Portolan cannot reach its database right now.");
        }
    };
    let clear = auth.pending_set_cookie(None);
    let with_cleared = |mut response: Response| {
        if let Ok(v) = axum::http::HeaderValue::from_str(&clear) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
        response
    };
    let Some(pending) = pending else {
        // No sign-in in progress here: nothing to audit (anyone can open this URL).
        let reason = "no sign-in is in progress in this browser (it was finished already, expired, or started elsewhere): the PKCE verifier is missing";
        tracing::info!(%provider, reason, "sign-in callback refused");
        return with_cleared(page::failure(&auth.stylesheet, StatusCode::UNAUTHORIZED, reason));
    };
    match finish(&auth, &provider, q, pending.clone()).await {
        Ok((user, next)) => {
            // The signed-in session replaces whatever this browser had, under a new id (no
            // fixation); until now a session signed in before was left alone.
            let saved = async {
                session.clear().await;
                session.cycle_id().await?;
                session.insert(USER_KEY, &user).await
            }
            .await;
            if let Err(e) = saved {
                tracing::warn!(error = %e, "saving a session");
                return page::failure(&auth.stylesheet, StatusCode::SERVICE_UNAVAILABLE, "Portolan cannot reach its database right now.");
            }
            let i = &user.identity;
            let now = OffsetDateTime::now_utc();
            if let Err(e) = auth.store.record_sign_in(&i.provider, &i.subject, i.name.as_deref(), i.email.as_deref(), &i.groups, now).await
            {
                tracing::warn!(error = %e, "recording a sign-in");
            }
            let entry = NewAudit::new(actor_of(Some(i)), "sign-in", Outcome::Done)
                .reason(format!("groups: {}", if i.groups.is_empty() { "none".to_owned() } else { i.groups.join(", ") }))
                .request(rid.as_deref());
            if let Err(e) = auth.store.audit(entry).await {
                tracing::warn!(error = %e, "auditing a sign-in");
            }
            with_cleared(Redirect::to(&next).into_response())
        }
        Err(f) => {
            // A sign-in was in progress with a configured provider: the refusal is audited,
            // under that provider's configured id.
            audit_refusal(&auth, rid.as_deref(), Some(&pending.provider), &f.reason).await;
            with_cleared(page::failure(&auth.stylesheet, f.status, &f.reason))
        }
    }
}

async fn finish(auth: &Auth, provider: &str, q: CallbackQuery, pending: Pending) -> Result<(SessionUser, String), Failure> {
    // Once: a callback sent twice at once is refused here before its code is sent a second time.
    if !auth.claim(&pending) {
        return Err(Failure::refused("this sign-in is being finished already (its callback arrived twice)"));
    }
    if pending.provider != provider {
        return Err(Failure::refused("the sign-in was started with another provider"));
    }
    let p = auth.provider(provider).ok_or_else(|| Failure::refused("there is no such sign-in provider"))?;
    if OffsetDateTime::now_utc().unix_timestamp() - pending.started_at > PENDING_TTL.as_secs() as i64 {
        return Err(Failure::refused("the sign-in took too long; start again"));
    }
    if let Some(error) = q.error {
        let code: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
        return Err(Failure::refused(format!("the provider refused the sign-in ({code})")));
    }
    let state = q.state.unwrap_or_default();
    if !constant_time_eq(state.as_bytes(), pending.state.as_bytes()) {
        return Err(Failure::refused("the state does not match this sign-in (a forged or mixed-up callback)"));
    }
    let code = q.code.filter(|c| !c.is_empty() && c.len() <= 4096).ok_or_else(|| Failure::refused("the callback carries no code"))?;
    let (identity, id_token) = match p {
        Provider::Oidc(o) => o.finish(&pending, &code, &pending.redirect).await?,
        Provider::Github(g) => (g.finish(&pending, &code, &pending.redirect).await?, None),
    };
    Ok((SessionUser { identity, signed_in_at: OffsetDateTime::now_utc().unix_timestamp(), id_token }, pending.next))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn audit_refusal(auth: &Auth, rid: Option<&str>, provider: Option<&str>, reason: &str) {
    // Bounded: parts of a reason can come from the provider's answer.
    let reason: String = reason.chars().take(REASON_MAX).collect();
    let mut entry = NewAudit::new(portolan_store::Actor::anonymous(), "sign-in", Outcome::Refused).reason(reason.clone()).request(rid);
    entry.actor.provider = provider.map(str::to_owned);
    tracing::info!(provider = provider.unwrap_or(""), %reason, "sign-in refused");
    if let Err(e) = auth.store.audit(entry).await {
        tracing::warn!(error = %e, "auditing a refused sign-in");
    }
}

async fn logout(State(auth): State<Arc<Auth>>, session: Session, request: Request) -> Response {
    if let Some(refused) = auth.limited(request.extensions()) {
        return refused;
    }
    let (rid, origin) = context(&auth, &request);
    drop(request);
    let user: Option<SessionUser> = session.get(USER_KEY).await.ok().flatten();
    // Deletes the session server-side and clears the cookie: the old id is dead everywhere.
    if let Err(e) = session.flush().await {
        tracing::warn!(error = %e, "ending a session");
        return page::failure(&auth.stylesheet, StatusCode::SERVICE_UNAVAILABLE, "Portolan cannot reach its database right now.");
    }
    let Some(user) = user else {
        return Redirect::to("/").into_response();
    };
    let entry = NewAudit::new(actor_of(Some(&user.identity)), "sign-out", Outcome::Done).request(rid.as_deref());
    if let Err(e) = auth.store.audit(entry).await {
        tracing::warn!(error = %e, "auditing a sign-out");
    }
    // End the provider's session too, so the next sign-in is not silently the same person.
    if let Some(Provider::Oidc(p)) = auth.provider(&user.identity.provider) {
        let after = format!("{origin}/");
        if let Some(url) = p.end_session_url(user.id_token.as_deref(), &after).await {
            return Redirect::to(url.as_str()).into_response();
        }
    }
    Redirect::to("/").into_response()
}

/// Works out who is asking and puts it in the request's extensions as [`CurrentUser`]: the
/// trusted proxy's headers (only from its addresses), else the session's user (while within
/// the absolute lifetime).
pub async fn identify(State(auth): State<Arc<Auth>>, session: Session, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_canonical());
    let mut who = None;
    if let Some(proxy) = &auth.proxy {
        who = from_proxy(proxy, peer, request.headers());
    }
    if let Some(credential) = bearer(request.headers()) {
        let both = who.is_some() || has_session_cookie(request.headers());
        let client = request.extensions().get::<crate::security::ClientAddr>().and_then(|c| c.0);
        return match from_token(&auth, &credential, both, client).await {
            Ok(identity) => {
                request.extensions_mut().insert(CurrentUser(Some(identity)));
                request.extensions_mut().insert(ViaToken);
                let mut response = next.run(request).await;
                if !response.headers().contains_key(header::CACHE_CONTROL) {
                    response.headers_mut().insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("private, no-store"));
                }
                response
            }
            Err(problem) => problem.into_response(),
        };
    }
    if who.is_none() {
        match session.get::<SessionUser>(USER_KEY).await {
            Ok(Some(user)) => {
                let age = OffsetDateTime::now_utc().unix_timestamp() - user.signed_in_at;
                if age >= 0 && (age as u64) < auth.session_max.as_secs() {
                    who = Some(user.identity);
                    keep_alive(&session).await;
                } else {
                    let _ = session.flush().await;
                }
            }
            Ok(None) => {}
            Err(e) => {
                // A session we cannot read: say so rather than treat the person as anonymous.
                tracing::warn!(error = %e, "reading a session");
                return (StatusCode::SERVICE_UNAVAILABLE, "Portolan cannot reach its database right now; try again in a moment.")
                    .into_response();
            }
        }
    }
    let signed_in = who.is_some();
    request.extensions_mut().insert(CurrentUser(who));
    let mut response = next.run(request).await;
    // What a signed-in person sees is kept by no cache, not even for the back button after
    // signing out (unless the answer says otherwise itself).
    if signed_in && !response.headers().contains_key(header::CACHE_CONTROL) {
        response.headers_mut().insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("private, no-store"));
    }
    response
}

/// Marks a request made with an API token (in its extensions): cross-site checks, which are
/// about cookies a browser sends by itself, do not apply to it.
#[derive(Clone, Copy, Debug)]
pub struct ViaToken;

/// The credential of an `Authorization: Bearer …` header, if any.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| credential.trim().to_owned())
}

/// Whether the request carries Portolan's session cookie.
fn has_session_cookie(headers: &HeaderMap) -> bool {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).any(|c| {
        let name = c.trim().split('=').next().unwrap_or_default();
        name == crate::session_cookie_name(false) || name == crate::session_cookie_name(true)
    })
}

/// The identity an API token stands for (its owner, capped by its scope), or the problem to
/// answer: a token beside a session cookie or proxy identity is refused rather than guessed;
/// refused tokens are rate limited per address.
async fn from_token(auth: &Auth, credential: &str, both: bool, client: Option<IpAddr>) -> Result<Identity, crate::rest::problem::Problem> {
    use crate::rest::problem::Problem;
    if both {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "ambiguous-credentials",
            "Two ways of saying who you are",
            "The request carries an API token and a session cookie (or a proxy's identity): send one of them.",
        ));
    }
    if let Some(wait) = auth.token_failures.blocked(client) {
        return Err(Problem::rate_limited(wait.as_secs()));
    }
    let refused = |reason: String| {
        let _ = auth.token_failures.take(client);
        tracing::info!(client = ?client, %reason, "an API token was refused");
        Problem::token(reason)
    };
    if !portolan_service::tokens::is_token(credential) {
        return Err(refused("not a Portolan API token (they start with ptl_)".into()));
    }
    let from = client.map(|c| c.to_string());
    match portolan_service::tokens::authenticate(&auth.store, &auth.token_uses, credential, from.as_deref(), OffsetDateTime::now_utc())
        .await
    {
        Ok(identity) => Ok(identity),
        Err(portolan_service::tokens::Refused::Store(e)) => {
            tracing::warn!(error = %e, "reading an API token");
            Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store-unavailable",
                "Portolan's database is unavailable",
                "Try again in a moment.",
            ))
        }
        Err(e) => Err(refused(e.to_string())),
    }
}

/// The session key holding when a signed-in session was last used (seconds since the epoch).
const SEEN_KEY: &str = "seen";
/// How often a session in use is written again, pushing its idle expiry back.
const KEEP_ALIVE_EVERY: i64 = 5 * 60;

/// Keeps a session in use alive: its expiry is idle time, counted from its last write, so it
/// is written again (at most every few minutes) while someone uses it.
async fn keep_alive(session: &Session) {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let seen = session.get::<i64>(SEEN_KEY).await.ok().flatten().unwrap_or(0);
    if now - seen >= KEEP_ALIVE_EVERY
        && let Err(e) = session.insert(SEEN_KEY, now).await
    {
        tracing::warn!(error = %e, "keeping a session alive");
    }
}

/// The identity a trusted proxy asserts, if the peer is one and it asserts one.
fn from_proxy(proxy: &ProxyConfig, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<Identity> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let user = header(&proxy.user_header)?;
    match peer {
        Some(ip) if proxy.trusted.iter().any(|n| n.contains(&ip)) => {}
        _ => {
            tracing::warn!(peer = ?peer, "identity headers from a peer that is not a trusted proxy: ignored");
            return None;
        }
    }
    // A proxy that adds its header to one the client sent (instead of replacing it) passes
    // two: which is whose cannot be told, so neither counts.
    let names = [&proxy.user_header, &proxy.email_header, &proxy.name_header, &proxy.groups_header];
    if names.iter().any(|name| headers.get_all(name.as_str()).iter().count() > 1) {
        tracing::warn!(peer = ?peer, "an identity header came more than once: the proxy must replace, not add; ignored");
        return None;
    }
    let email = header(&proxy.email_header);
    Some(Identity {
        provider: crate::config::auth::PROXY_PROVIDER.to_owned(),
        subject: user.chars().take(256).collect(),
        name: header(&proxy.name_header).or(Some(user)),
        // The proxy vouches for what it sends.
        email_verified: email.is_some(),
        email,
        groups: header(&proxy.groups_header)
            .map(|g| g.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).take(1000).collect())
            .unwrap_or_default(),
        cap: None,
    })
}

/// Refuses a cross-site request that changes something: `Sec-Fetch-Site: cross-site`, or an
/// `Origin` that is not Portolan's own. (Cookies are `SameSite=Lax` too; this also covers
/// same-site subdomains and old browsers.)
pub async fn same_origin_changes(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    // A token is sent by a script on purpose, never by a browser on its own.
    if !method.is_safe() && request.extensions().get::<ViaToken>().is_none() {
        let headers = request.headers();
        let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        let ours = request.extensions().get::<RequestOrigin>().map(|o| o.0.clone());
        let cross = site == Some("cross-site")
            || matches!((origin, &ours), (Some(o), Some(ours)) if o != "null" && o != ours)
            || origin == Some("null");
        if cross {
            tracing::info!(?origin, ?site, path = %request.uri().path(), "cross-site change refused");
            return (StatusCode::FORBIDDEN, "Refused: a change requested from another site.").into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/r/hub/a?x=1")), "/r/hub/a?x=1");
        for bad in ["//evil.example", "https://evil.example", "/\\evil", "", "/a\nb"] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn proxy_headers_only_from_trusted_peers() {
        let proxy = ProxyConfig {
            trusted: vec!["10.0.0.0/8".parse().unwrap()],
            user_header: "X-Forwarded-User".into(),
            email_header: "X-Forwarded-Email".into(),
            name_header: "X-Forwarded-Preferred-Username".into(),
            groups_header: "X-Forwarded-Groups".into(),
        };
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-user", "alice".parse().unwrap());
        h.insert("x-forwarded-groups", "ops, dev".parse().unwrap());
        let who = from_proxy(&proxy, Some("10.1.2.3".parse().unwrap()), &h).unwrap();
        assert_eq!((who.provider.as_str(), who.subject.as_str()), ("proxy", "alice"));
        assert_eq!(who.groups, vec!["ops".to_owned(), "dev".to_owned()]);
        assert!(from_proxy(&proxy, Some("192.168.1.1".parse().unwrap()), &h).is_none());
        assert!(from_proxy(&proxy, None, &h).is_none());
        // A header the client sent and the proxy added to (instead of replacing): nobody.
        h.append("x-forwarded-groups", "admins".parse().unwrap());
        assert!(from_proxy(&proxy, Some("10.1.2.3".parse().unwrap()), &h).is_none());
    }

    #[test]
    fn constant_time() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
