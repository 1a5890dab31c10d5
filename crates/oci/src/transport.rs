//! One HTTP exchange with a registry, done properly: bounded concurrency, authentication
//! (Basic, or a Bearer token fetched for the request's scopes), retries with backoff and jitter
//! for idempotent requests, `Retry-After`, timeouts, size caps on bodies, and the rules of
//! [`crate::guard`] on where requests and credentials may go.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::auth::{Credentials, Scheme, Scope, Token, TokenCache, TokenResponse, merge_scopes, parse_challenges, scope_key};
use crate::config::ClientConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::guard::{self, AddressGuard, GuardedResolver, Refused};

/// Largest error body we read, to build a message from the registry's error envelope.
const ERROR_BODY_CAP: u64 = 64 * 1024;

/// A request, described so it can be sent again (retries, re-authentication).
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub method: Method,
    pub url: Url,
    pub accept: Option<&'static str>,
    pub content_type: Option<String>,
    pub body: Option<Bytes>,
    pub scopes: Vec<Scope>,
    /// What this is, for error messages ("manifest library/hello:1.0").
    pub what: String,
}

impl Request {
    pub fn new(method: Method, url: Url, scope: Scope, what: impl Into<String>) -> Self {
        Self { method, url, accept: None, content_type: None, body: None, scopes: vec![scope], what: what.into() }
    }

    pub fn accept(mut self, accept: &'static str) -> Self {
        self.accept = Some(accept);
        self
    }

    pub fn body(mut self, content_type: &str, body: Bytes) -> Self {
        self.content_type = Some(content_type.to_owned());
        self.body = Some(body);
        self
    }

    /// GET, HEAD and DELETE may be sent again after a failure; POST and PUT may not.
    fn idempotent(&self) -> bool {
        matches!(self.method, Method::GET | Method::HEAD)
    }
}

/// A successful response; holds its concurrency slot until the body is read or dropped.
pub(crate) struct Response {
    pub headers: HeaderMap,
    pub url: Url,
    inner: reqwest::Response,
    _permit: OwnedSemaphorePermit,
}

impl Response {
    /// Reads the whole body, failing with [`ErrorKind::TooLarge`] past `cap` bytes.
    pub async fn bytes(self, cap: u64, what: &str) -> Result<Bytes> {
        read_capped(self.inner, cap, what).await
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn read_capped(mut response: reqwest::Response, cap: u64, what: &str) -> Result<Bytes> {
    if let Some(length) = response.content_length()
        && length > cap
    {
        return Err(too_large(what, length, cap));
    }
    let mut buffer = BytesMut::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if (buffer.len() + chunk.len()) as u64 > cap {
                    return Err(too_large(what, (buffer.len() + chunk.len()) as u64, cap));
                }
                buffer.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(buffer.freeze()),
            Err(e) => return Err(from_reqwest(&e, what)),
        }
    }
}

pub(crate) fn too_large(what: &str, size: u64, cap: u64) -> Error {
    Error::new(
        ErrorKind::TooLarge,
        format!("{what}: the response is larger than the {} limit (at least {})", human_bytes(cap), human_bytes(size)),
    )
}

pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

fn from_reqwest(e: &reqwest::Error, what: &str) -> Error {
    if let Some(refused) = find_refused(e) {
        return Error::bad_response(format!("{what}: {refused}"));
    }
    if e.is_timeout() {
        Error::new(ErrorKind::Timeout, format!("{what}: the registry did not answer in time"))
    } else if let Some(cause) = certificate_problem(e) {
        Error::new(
            ErrorKind::Unavailable,
            format!(
                "{what}: the registry's TLS certificate is not trusted ({cause}); if it is signed by a private CA, set the registry's ca_file to that CA's certificate (insecure_tls = true accepts any certificate: test registries only)"
            ),
        )
    } else if e.is_connect() {
        Error::new(ErrorKind::Unavailable, format!("{what}: cannot connect to the registry ({})", root_cause(e)))
    } else if e.is_redirect() {
        Error::new(ErrorKind::BadResponse, format!("{what}: too many redirects"))
    } else {
        Error::new(ErrorKind::Unavailable, format!("{what}: the connection failed ({})", root_cause(e)))
    }
}

/// The guard's refusal (a redirect, a DNS answer) behind a reqwest error, if that is the cause.
fn find_refused<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(refused) = c.downcast_ref::<Refused>() {
            return Some(refused);
        }
        cause = c.source();
    }
    None
}

/// The TLS certificate error behind a failed connection (unknown issuer, expired, wrong name…),
/// said by rustls, if that is the cause: retrying will not help.
fn certificate_problem(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if text.contains("invalid peer certificate") || text.contains("certificate verify failed") {
            return Some(text);
        }
        cause = c.source();
    }
    None
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Counters for tests and benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    /// HTTP requests sent to the registry (retries and re-authentications included).
    pub requests: AtomicU64,
    /// Requests sent to token servers.
    pub token_requests: AtomicU64,
}

pub(crate) struct Transport {
    pub base: Url,
    http: reqwest::Client,
    credentials: Credentials,
    scheme: Mutex<Scheme>,
    tokens: Arc<TokenCache>,
    guard: Arc<AddressGuard>,
    limiter: Arc<Semaphore>,
    config: ClientConfig,
    pub stats: Arc<Stats>,
    /// The registry as metrics name it: `host[:port]`.
    metrics_name: String,
}

impl Transport {
    pub fn new(config: &ClientConfig) -> Result<Self> {
        let mut base = Url::parse(&config.url).map_err(|e| Error::invalid(format!("registry URL {:?}: {e}", config.url)))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(Error::invalid(format!("registry URL {:?} must be http:// or https:// with a host", config.url)));
        }
        base.set_query(None);
        base.set_fragment(None);
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let guard = Arc::new(AddressGuard::new(&base));
        let mut builder = reqwest::Client::builder();
        if let Some(pem) = &config.ca_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| Error::invalid(format!("the registry's CA certificates (ca_file) are not valid PEM: {e}")))?;
            if certificates.is_empty() {
                return Err(Error::invalid("the registry's CA file (ca_file) holds no certificate"));
            }
            for c in certificates {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(config.max_concurrency.max(1))
            .tcp_keepalive(Duration::from_secs(30))
            .user_agent(config.user_agent.clone())
            .danger_accept_invalid_certs(config.insecure_tls)
            // Blob downloads may go to a CDN, anything else stays on its origin; reqwest drops
            // Authorization (and cookies) when a redirect leaves the host.
            .redirect(guard::redirect_policy(base.clone(), guard.clone()))
            .dns_resolver(Arc::new(GuardedResolver { guard: guard.clone() }))
            .build()
            .map_err(|e| Error::invalid(format!("building the HTTP client: {e}")))?;
        let metrics_name = match base.port() {
            Some(p) => format!("{}:{p}", base.host_str().unwrap_or_default()),
            None => base.host_str().unwrap_or_default().to_owned(),
        };
        Ok(Self {
            base,
            http,
            credentials: config.credentials.clone(),
            scheme: Mutex::new(Scheme::Unknown),
            tokens: Arc::default(),
            guard,
            limiter: Arc::new(Semaphore::new(config.max_concurrency.max(1))),
            config: config.clone(),
            stats: Arc::default(),
            metrics_name,
        })
    }

    /// `/v2/<path>` under the base URL.
    pub fn url(&self, path: &str) -> Url {
        self.base.join(&format!("v2/{path}")).unwrap_or_else(|_| self.base.clone())
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    pub fn same_origin(&self, url: &Url) -> bool {
        guard::same_origin(url, &self.base)
    }

    /// A `Link: rel="next"` target, which must stay on the registry's origin.
    pub fn check_next_page(&self, next: Url, what: &str) -> Result<Url> {
        if self.same_origin(&next) {
            Ok(next)
        } else {
            Err(Error::bad_response(format!(
                "{what}: the registry's next-page Link points to another origin ({}); paging is not followed there",
                guard::origin(&next)
            )))
        }
    }

    fn current_scheme(&self) -> Scheme {
        self.scheme.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_scheme(&self, scheme: Scheme) {
        *self.scheme.lock().unwrap_or_else(|e| e.into_inner()) = scheme;
    }

    /// The Authorization header to send with a request for `scopes` (fetching a token first
    /// when the registry is known to want one), and the token used, if any.
    async fn authorization(&self, scopes: &[Scope]) -> Result<Option<(HeaderValue, Option<String>)>> {
        if let Credentials::Bearer(token) = &self.credentials {
            return Ok(Some((bearer(token)?, None)));
        }
        match self.current_scheme() {
            Scheme::Basic => Ok(self.basic_header().map(|h| (h, None))),
            Scheme::Bearer { realm, service } => {
                let key = scope_key(scopes);
                let token = match self.tokens.get(&key, Instant::now()) {
                    Some(t) => t,
                    None => self.fetch_token(&realm, service.as_deref(), scopes).await?,
                };
                Ok(Some((bearer(&token)?, Some(token))))
            }
            Scheme::Unknown | Scheme::None => Ok(None),
        }
    }

    fn basic_header(&self) -> Option<HeaderValue> {
        match &self.credentials {
            Credentials::Basic { username, password } => {
                use base64::Engine;
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
                HeaderValue::from_str(&format!("Basic {encoded}")).ok()
            }
            _ => None,
        }
    }

    /// Fetches a token for `scopes` from `realm`; concurrent fetches of the same scopes share
    /// one request. A failure is an error, never a silent fall-back to anonymous.
    async fn fetch_token(&self, realm: &str, service: Option<&str>, scopes: &[Scope]) -> Result<String> {
        let key = scope_key(scopes);
        let mut url = guard::check_realm(&self.base, &self.guard, realm).map_err(Error::bad_response)?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = service {
                query.append_pair("service", service);
            }
            for scope in scopes {
                query.append_pair("scope", &scope.to_string());
            }
        }
        let mut request = self.http.get(url.clone()).timeout(self.config.request_timeout);
        if let Credentials::Basic { username, password } = &self.credentials {
            request = request.basic_auth(username, Some(password));
        }
        let tokens = self.tokens.clone();
        let stats = self.stats.clone();
        let metrics_name = self.metrics_name.clone();
        let cache_key = key.clone();
        let scope_text = key.clone();
        let token = tokens
            .flights
            .run(key, move || async move {
                stats.token_requests.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("portolan_registry_token_fetches_total", "registry" => metrics_name).increment(1);
                let what = format!("token for {scope_text}");
                let response = request.send().await.map_err(|e| from_reqwest(&e, &what))?;
                let status = response.status();
                if !status.is_success() {
                    let body = read_capped(response, ERROR_BODY_CAP, &what).await.unwrap_or_default();
                    let mut e = Error::from_response(status.as_u16(), &body, &format!("the token server refused a {what}"));
                    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                        e = Error::new(ErrorKind::Unauthorized, e.message().to_owned()).with_status(status.as_u16());
                    }
                    return Err(e);
                }
                let body = read_capped(response, 1024 * 1024, &what).await?;
                let parsed: TokenResponse = serde_json::from_slice(&body)
                    .map_err(|e| Error::bad_response(format!("{what}: the token server answered unreadable JSON ({e})")))?;
                let expires_in = parsed.expires_in();
                let value = parsed
                    .token
                    .or(parsed.access_token)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| Error::bad_response(format!("{what}: the token server's answer has no token")))?;
                Ok(Token::new(value, expires_in, Instant::now()))
            })
            .await?;
        self.tokens.put(cache_key, token.clone());
        Ok(token.value)
    }

    /// Sends `request`; `Ok` for 2xx answers only, every other outcome an [`Error`].
    pub async fn send(&self, request: &Request) -> Result<Response> {
        let mut retries = 0;
        let mut auth_rounds = 0;
        let mut scopes = request.scopes.clone();
        loop {
            let permit = self
                .limiter
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| Error::new(ErrorKind::Unavailable, "the client is shutting down"))?;
            let same_origin = self.same_origin(&request.url);
            if !same_origin {
                // An upload Location elsewhere: never to an address the registry may not use.
                self.guard.check_url(&request.url).map_err(|why| Error::bad_response(format!("{}: {why}", request.what)))?;
            }
            let auth = if same_origin { self.authorization(&scopes).await? } else { None };
            let mut builder = self.http.request(request.method.clone(), request.url.clone()).timeout(self.config.request_timeout);
            if let Some(accept) = request.accept {
                builder = builder.header(header::ACCEPT, accept);
            }
            if let Some((value, _)) = &auth {
                builder = builder.header(header::AUTHORIZATION, value.clone());
            }
            if let (Some(content_type), Some(body)) = (&request.content_type, &request.body) {
                builder = builder.header(header::CONTENT_TYPE, content_type.as_str()).body(body.clone());
            } else if request.method == Method::PUT || request.method == Method::POST {
                builder = builder.header(header::CONTENT_LENGTH, "0");
            }
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let sent = builder.send().await;
            self.observe(
                request,
                started,
                match &sent {
                    Ok(r) => status_class(r.status()),
                    Err(e) if e.is_timeout() => "timeout",
                    Err(_) => "connection-error",
                },
            );
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    let error = from_reqwest(&e, &request.what);
                    // A timed-out request already spent its whole budget: do not double it.
                    if request.idempotent()
                        && e.is_connect()
                        && find_refused(&e).is_none()
                        && certificate_problem(&e).is_none()
                        && retries < self.config.max_retries
                    {
                        drop(permit);
                        tokio::time::sleep(backoff(retries)).await;
                        retries += 1;
                        continue;
                    }
                    return Err(error);
                }
            };
            let status = response.status();
            // Challenges count only from the registry itself: a 401 from where a redirect led
            // (another host) must not make Portolan send the registry's credentials anywhere.
            let answered_by_registry = same_origin && self.same_origin(response.url());
            if status.is_success() {
                if auth.is_none() && answered_by_registry && self.current_scheme() == Scheme::Unknown {
                    self.set_scheme(Scheme::None);
                }
                let headers = response.headers().clone();
                let url = response.url().clone();
                return Ok(Response { headers, url, inner: response, _permit: permit });
            }
            if status == StatusCode::UNAUTHORIZED && !answered_by_registry {
                let from = guard::origin(response.url());
                let moved = response.url().host_str() == self.base.host_str() && response.url().scheme() == "https";
                drop(response);
                let hint = if moved { format!(" (if the registry moved there, configure its URL as {from})") } else { String::new() };
                return Err(Error::bad_response(format!(
                    "{}: {from} asks for authentication, but it is not the registry's origin (a redirect led there); the registry's credentials are not sent there{hint}",
                    request.what
                ))
                .with_status(status.as_u16()));
            }
            if status == StatusCode::UNAUTHORIZED && auth_rounds < 2 {
                let challenges = response
                    .headers()
                    .get_all(header::WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(parse_challenges)
                    .collect::<Vec<_>>();
                let sent_token = auth.as_ref().and_then(|(_, t)| t.clone());
                let sent_any = auth.is_some();
                if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer")
                    && let Some(realm) = bearer.param("realm")
                    && !matches!(self.credentials, Credentials::Bearer(_))
                {
                    if let Err(why) = guard::check_realm(&self.base, &self.guard, realm) {
                        drop(response);
                        return Err(Error::bad_response(format!("{}: {why}", request.what)).with_status(status.as_u16()));
                    }
                    let insufficient = bearer.param("error") == Some("insufficient_scope");
                    if let Some(token) = &sent_token {
                        if insufficient {
                            // A valid token without the right: asking again will not help.
                            drop(response);
                            return Err(self.refused(request, status));
                        }
                        self.tokens.invalidate(&scope_key(&scopes), token);
                    }
                    self.set_scheme(Scheme::Bearer { realm: realm.to_owned(), service: bearer.param("service").map(str::to_owned) });
                    if let Some(extra) = bearer.param("scope") {
                        scopes = merge_scopes(scopes.into_iter().chain(extra.split(' ').filter_map(Scope::parse)));
                    }
                    auth_rounds += 1;
                    drop(response);
                    drop(permit);
                    continue;
                }
                if challenges.iter().any(|c| c.scheme == "basic") && !sent_any && self.basic_header().is_some() {
                    self.set_scheme(Scheme::Basic);
                    auth_rounds += 1;
                    drop(response);
                    drop(permit);
                    continue;
                }
            }
            if status == StatusCode::UNAUTHORIZED {
                drop(response);
                return Err(self.refused(request, status));
            }
            let retryable = status == StatusCode::TOO_MANY_REQUESTS || (status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED);
            let retry_after = parse_retry_after(response.headers().get(header::RETRY_AFTER));
            let body = read_capped(response, ERROR_BODY_CAP, &request.what).await.unwrap_or_default();
            let error = Error::from_response(status.as_u16(), &body, &request.what).with_retry_after(retry_after);
            if retryable && request.idempotent() && retries < self.config.max_retries {
                let wait = match retry_after {
                    Some(after) if after > self.config.max_retry_wait => return Err(error),
                    Some(after) => after,
                    None => backoff(retries),
                };
                drop(permit);
                tokio::time::sleep(wait).await;
                retries += 1;
                continue;
            }
            return Err(error);
        }
    }

    /// Records one exchange in the metrics: by registry, verb and outcome, with its latency.
    fn observe(&self, request: &Request, started: Instant, outcome: &'static str) {
        let registry = self.metrics_name.clone();
        let verb = verb_of(&request.method, request.url.path());
        metrics::counter!("portolan_registry_requests_total", "registry" => registry.clone(), "verb" => verb, "outcome" => outcome)
            .increment(1);
        metrics::histogram!("portolan_registry_request_duration_seconds", "registry" => registry, "verb" => verb)
            .record(started.elapsed().as_secs_f64());
    }

    /// The error for a request the registry still refuses after authentication.
    fn refused(&self, request: &Request, status: StatusCode) -> Error {
        let wanted = request.scopes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        match &self.credentials {
            Credentials::Anonymous => Error::new(
                ErrorKind::Unauthorized,
                format!("{}: the registry requires credentials (none are configured) for {wanted}", request.what),
            ),
            _ => Error::new(ErrorKind::Denied, format!("{}: the configured credentials are not allowed {wanted}", request.what)),
        }
        .with_status(status.as_u16())
    }

    /// Sends `request` and reads the body, at most `cap` bytes.
    pub async fn fetch(&self, request: &Request, cap: u64) -> Result<Body> {
        let response = self.send(request).await?;
        let headers = response.headers.clone();
        let bytes = response.bytes(cap, &request.what).await?;
        Ok(Body { headers, bytes })
    }
}

/// A response read whole.
pub(crate) struct Body {
    pub headers: HeaderMap,
    pub bytes: Bytes,
}

impl Body {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What a request does, for metrics (a small fixed set: never a repository name).
fn verb_of(method: &Method, path: &str) -> &'static str {
    let get = matches!(*method, Method::GET);
    if path.contains("/manifests/") {
        match *method {
            Method::HEAD => "manifest-head",
            Method::PUT => "manifest-put",
            Method::DELETE => "manifest-delete",
            _ => "manifest-get",
        }
    } else if path.contains("/blobs/uploads") {
        "blob-upload"
    } else if path.contains("/blobs/") {
        if get { "blob-get" } else { "blob-head" }
    } else if path.ends_with("/tags/list") {
        "tags"
    } else if path.ends_with("/_catalog") {
        "catalog"
    } else if path.contains("/referrers/") {
        "referrers"
    } else if path.ends_with("/v2/") {
        "ping"
    } else {
        "other"
    }
}

/// An HTTP status as a metrics outcome.
fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "2xx",
        401 => "401",
        403 => "403",
        404 => "404",
        429 => "429",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn bearer(token: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| Error::bad_response("the token contains characters not allowed in a header"))
}

/// Exponential backoff with full jitter: a random wait in [50 ms, 250 ms × 2^attempt], ≤ 5 s.
fn backoff(attempt: u32) -> Duration {
    let ceiling = (250u64 << attempt.min(5)).min(5_000);
    Duration::from_millis(rand::random_range(50..=ceiling.max(51)))
}

/// `Retry-After`: delta seconds or an HTTP date.
fn parse_retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(text).ok()?;
    Some(when.duration_since(std::time::SystemTime::now()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use portolan_testkit::runner::run;

    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after(Some(&HeaderValue::from_static("7"))), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(Some(&HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"))), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(Some(&HeaderValue::from_static("soon"))), None);
        assert_eq!(parse_retry_after(None), None);
    }

    #[test]
    fn backoff_is_bounded() {
        for attempt in 0..20 {
            let d = backoff(attempt);
            assert!(d >= Duration::from_millis(50) && d <= Duration::from_secs(5), "{d:?}");
        }
    }

    #[test]
    fn names_resolving_to_internal_addresses_are_refused_for_a_public_registry() {
        run(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            tokio::spawn(async move {
                let _ = axum::serve(listener, axum::Router::new().fallback(|| async { "ok" })).await;
            });
            // `localhost` is a name: the guarded resolver answers for it, not the redirect policy.
            let target = format!("http://localhost:{port}/");
            let public = Transport::new(&ClientConfig::new("https://registry.example.com")).unwrap();
            public.guard.assume(vec![crate::guard::Reach::Public]);
            let e = public.http.get(&target).send().await.unwrap_err();
            assert!(find_refused(&e).is_some(), "{e:?}");
            let error = from_reqwest(&e, "blob x");
            assert_eq!(error.kind(), ErrorKind::BadResponse);
            assert!(error.message().contains("resolves only to internal addresses"), "{error}");
            // A registry on loopback may use loopback addresses, by name too.
            let local = Transport::new(&ClientConfig::new(format!("http://127.0.0.1:{port}"))).unwrap();
            assert_eq!(local.http.get(&target).send().await.unwrap().text().await.unwrap(), "ok");
        })
    }

    #[test]
    fn a_token_realm_on_an_internal_address_is_refused_for_a_public_registry() {
        run(async {
            let public = Transport::new(&ClientConfig::new("https://registry.example.com")).unwrap();
            public.guard.assume(vec![crate::guard::Reach::Public]);
            let e = public.fetch_token("https://169.254.169.254/token", None, &[Scope::catalog()]).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadResponse);
            assert!(e.message().contains("link-local"), "{e}");
            let e = public.fetch_token("http://auth.example.com/token", None, &[Scope::catalog()]).await.unwrap_err();
            assert!(e.message().contains("plain http token realm"), "{e}");
            assert_eq!(public.stats.token_requests.load(Ordering::Relaxed), 0);
        })
    }

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(4 * 1024 * 1024), "4.0 MiB");
    }
}
