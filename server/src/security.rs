//! What every request goes through first: an id (for logs and the audit), the `Host` check
//! (DNS rebinding against a loopback bind), the origin the request reached Portolan at —
//! believing `X-Forwarded-*` only from configured proxies — and, on the way out, the security
//! headers every response carries.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use portolan_app::ssr::{RequestId, RequestOrigin};
use tracing::Instrument;

/// Paths probes and scrapers reach by address, whatever `Host` they send.
const HOSTLESS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The visitor's address as [`Guard::client`] worked it out, in each request's extensions (for
/// rate limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

/// What the checks need, worked out once at start.
#[derive(Clone, Debug)]
pub struct Guard {
    /// Accepted `Host` values (lowercase `host[:port]`); None: any (a non-loopback listener
    /// with neither `public_url` nor `allowed_hosts`: a warning is logged at start).
    pub hosts: Option<HashSet<String>>,
    pub trusted_proxies: Vec<IpNet>,
    /// The configured public origin (`https://portolan.example.com`).
    pub public_origin: Option<String>,
    /// Send `Strict-Transport-Security` (the public URL is https).
    pub hsts: bool,
    /// Peers allowed to read `/metrics`.
    pub metrics_from: Vec<IpNet>,
}

impl Guard {
    pub fn new(listen: SocketAddr, public_url: Option<&url::Url>, allowed_hosts: &[String], trusted_proxies: Vec<IpNet>) -> Self {
        let mut hosts: HashSet<String> = allowed_hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
        let public_origin = public_url.map(|u| u.origin().ascii_serialization());
        if let Some(u) = public_url
            && let Some(host) = u.host_str()
        {
            hosts.insert(match u.port() {
                Some(p) => format!("{host}:{p}").to_ascii_lowercase(),
                None => host.to_ascii_lowercase(),
            });
        }
        let loopback = listen.ip().is_loopback();
        if loopback || !hosts.is_empty() {
            let port = listen.port();
            for name in ["127.0.0.1", "localhost", "[::1]"] {
                hosts.insert(format!("{name}:{port}"));
            }
        }
        let any = !loopback && public_url.is_none() && allowed_hosts.is_empty();
        Self {
            hosts: (!any).then_some(hosts),
            trusted_proxies,
            public_origin,
            hsts: public_url.is_some_and(|u| u.scheme() == "https"),
            metrics_from: vec!["127.0.0.0/8".parse().expect("a network"), "::1/128".parse().expect("a network")],
        }
    }

    /// Who may read `/metrics` (default: loopback only).
    pub fn metrics_from(mut self, nets: Vec<IpNet>) -> Self {
        if !nets.is_empty() {
            self.metrics_from = nets;
        }
        self
    }

    /// The visitor's address: the peer's, or — when the peer is a trusted proxy — the nearest
    /// address in `X-Forwarded-For` that is not itself a trusted proxy (read from the right,
    /// since a client can put anything on the left).
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        if !self.trusted(peer) {
            return peer;
        }
        let forwarded: Vec<&str> =
            headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).collect();
        let mut client = peer;
        // From the nearest hop outwards, while the hops are trusted proxies. An entry that is
        // not an address ends the walk: what stands left of it cannot be told apart from
        // something the client wrote.
        for entry in forwarded.into_iter().rev() {
            let Ok(address) = entry.trim().parse::<IpAddr>() else { break };
            client = Some(address.to_canonical());
            if !self.trusted(client) {
                break;
            }
        }
        client
    }

    /// Whether this request may read `/metrics`: its client (see [`Guard::client`]) is in
    /// `metrics_from`, and it did not come through a proxy Portolan does not know. A request
    /// carrying `X-Forwarded-For` from a peer that is not a trusted proxy was forwarded by
    /// something — on the same host, every request of a reverse proxy comes from 127.0.0.1,
    /// inside the default `metrics_from` — so its real client is unknown: refused, and the
    /// first such request logs a warning naming the setting to fix.
    pub fn metrics_allowed(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> bool {
        let forwarded = headers.contains_key("x-forwarded-for") || headers.contains_key("forwarded");
        if forwarded && !self.trusted(peer) {
            static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(
                    peer = peer.map(|p| p.to_string()).unwrap_or_default(),
                    "/metrics was asked through a proxy that is not in trusted_proxies; such requests are refused. \
                     If a reverse proxy runs in front of Portolan (on this host every request it forwards comes from \
                     127.0.0.1), list it in trusted_proxies so the real client decides."
                );
            }
            return false;
        }
        self.client(peer, headers).is_some_and(|ip| self.metrics_from.iter().any(|n| n.contains(&ip)))
    }

    fn trusted(&self, peer: Option<IpAddr>) -> bool {
        peer.is_some_and(|ip| self.trusted_proxies.iter().any(|n| n.contains(&ip.to_canonical())))
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

/// Ids from a proxy are kept only when they look like ids.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

pub async fn guard(State(guard): State<Arc<Guard>>, mut request: Request, next: Next) -> Response {
    // An IPv4 client on a dual-stack listener arrives as `::ffff:a.b.c.d`: compared as IPv4.
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_canonical());
    let trusted = guard.trusted(peer);
    let headers = request.headers();
    let id = match header_text(headers, "x-request-id") {
        Some(id) if trusted && valid_id(id) => id.to_owned(),
        _ => format!("{:016x}", rand::random::<u64>()),
    };
    let host =
        if trusted { header_text(headers, "x-forwarded-host").or(header_text(headers, "host")) } else { header_text(headers, "host") }
            .map(str::to_ascii_lowercase);
    let path = request.uri().path().to_owned();
    if let Some(allowed) = &guard.hosts
        && !HOSTLESS.contains(&path.as_str())
        && !host.as_ref().is_some_and(|h| allowed.contains(h))
    {
        tracing::info!(host = host.as_deref().unwrap_or(""), %path, "refused: Host not served here");
        return with_headers(
            (StatusCode::MISDIRECTED_REQUEST, "This server does not answer for that host name (set public_url or allowed_hosts).")
                .into_response(),
            &guard,
            &id,
        );
    }
    // The client as the trusted proxies saw it: behind an ingress inside `metrics_from`, the
    // internet is not.
    let client = guard.client(peer, headers);
    if path == "/metrics" && !guard.metrics_allowed(peer, headers) {
        return with_headers((StatusCode::FORBIDDEN, "Metrics are for the networks in metrics_from.").into_response(), &guard, &id);
    }

    let origin = guard.public_origin.clone().unwrap_or_else(|| {
        let scheme = if trusted { header_text(headers, "x-forwarded-proto").filter(|p| matches!(*p, "http" | "https")) } else { None };
        format!("{}://{}", scheme.unwrap_or("http"), host.clone().unwrap_or_default())
    });
    request.extensions_mut().insert(RequestId(id.clone()));
    request.extensions_mut().insert(RequestOrigin(origin));
    request.extensions_mut().insert(ClientAddr(client));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        client = client.map(|c| c.to_string()).unwrap_or_default(),
        method = %request.method(),
        path = %path
    );
    let started = std::time::Instant::now();
    let route = route_label(&path);
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    metrics::counter!("portolan_http_requests_total", "route" => route, "status" => status.as_u16().to_string()).increment(1);
    metrics::histogram!("portolan_http_request_duration_seconds", "route" => route).record(started.elapsed().as_secs_f64());
    span.in_scope(|| {
        let ms = started.elapsed().as_millis() as u64;
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), ms, "answered");
        } else {
            tracing::debug!(status = status.as_u16(), ms, "answered");
        }
    });
    with_headers(response, &guard, &id)
}

/// A path as a metrics label: a small fixed set, never a repository or tag name.
pub fn route_label(path: &str) -> &'static str {
    let views = ["/-/referrers", "/-/blob/", "/-/diff", "/-/delete", "/-/deleted"];
    match path {
        "/" => "/",
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        "/sign-in" => "/sign-in",
        p if p.starts_with("/api/v1/referrers/") => "/api/v1/referrers",
        p if p.starts_with("/api/v1/verify/") => "/api/v1/verify",
        p if p.starts_with("/api/") => "/api/{server-function}",
        p if p.starts_with("/auth/") => "/auth",
        p if p.starts_with("/badge/") => "/badge",
        p if p.starts_with("/pkg/") || p.starts_with("/style/") || p == "/favicon.svg" => "static",
        p if p.starts_with("/admin/") => "/admin",
        p if p.starts_with("/r/") => {
            let rest = &p[3..];
            if !rest.contains('/') {
                "/r/{registry}"
            } else if views.iter().any(|v| rest.contains(v)) {
                "/r/{registry}/{repository}/-/{view}"
            } else if rest.contains('@') {
                "/r/{registry}/{repository}@{digest}"
            } else if rest.rsplit('/').next().is_some_and(|last| last.contains(':')) {
                "/r/{registry}/{repository}:{tag}"
            } else {
                "/r/{registry}/{repository}"
            }
        }
        _ => "other",
    }
}

/// Security headers, unless the handler set its own (pages set a CSP with their nonce).
fn with_headers(mut response: Response, guard: &Guard, id: &str) -> Response {
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert("x-request-id", v);
    }
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(
        "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
    ));
    h.entry(header::X_CONTENT_TYPE_OPTIONS).or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::REFERRER_POLICY).or_insert(HeaderValue::from_static("same-origin"));
    h.entry(header::X_FRAME_OPTIONS).or_insert(HeaderValue::from_static("DENY"));
    h.entry("cross-origin-opener-policy").or_insert(HeaderValue::from_static("same-origin"));
    // Pages and answers depend on who asks (and a signed-in request carries no Set-Cookie to
    // warn a shared cache off): kept by the browser only, and checked with the server before
    // reuse. Responses meant to be shared (badges of public registries, the stylesheet) say so
    // themselves.
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("private, no-cache"));
    if guard.hsts {
        h.entry(header::STRICT_TRANSPORT_SECURITY).or_insert(HeaderValue::from_static("max-age=31536000"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_address_comes_from_trusted_proxies_only() {
        let g = Guard::new("127.0.0.1:3000".parse().unwrap(), None, &[], vec!["10.0.0.0/8".parse().unwrap()]);
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.1.1.1"));
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        // Through the proxies: the nearest address they did not add themselves.
        assert_eq!(g.client(Some(proxy), &headers), Some("203.0.113.7".parse().unwrap()));
        // From anyone else the header is ignored.
        assert_eq!(g.client(Some(stranger), &headers), Some(stranger));
        // A trusted proxy without the header is the client.
        assert_eq!(g.client(Some(proxy), &HeaderMap::new()), Some(proxy));
        // An entry that is not an address ends the walk: the forged one left of it is not taken.
        headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, unknown, 10.1.1.1"));
        assert_eq!(g.client(Some(proxy), &headers), Some("10.1.1.1".parse().unwrap()));
        // IPv4 clients of a dual-stack listener are compared as IPv4.
        let mapped: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        assert_eq!(g.client(Some(mapped), &headers), Some("203.0.113.7".parse().unwrap()));
    }

    #[test]
    fn metrics_through_a_proxy_portolan_does_not_know_are_refused() {
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let mut forwarded = HeaderMap::new();
        forwarded.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        // No trusted proxies: a local request is allowed, one a local proxy forwarded is not.
        let g = Guard::new("127.0.0.1:3000".parse().unwrap(), None, &[], vec![]);
        assert!(g.metrics_allowed(Some(loopback), &HeaderMap::new()));
        assert!(!g.metrics_allowed(Some(loopback), &forwarded), "a reverse proxy on this host does not make /metrics public");
        let mut rfc7239 = HeaderMap::new();
        rfc7239.insert("forwarded", HeaderValue::from_static("for=203.0.113.7"));
        assert!(!g.metrics_allowed(Some(loopback), &rfc7239));
        // The proxy listed as trusted: its client decides.
        let g = Guard::new("127.0.0.1:3000".parse().unwrap(), None, &[], vec!["127.0.0.1/32".parse().unwrap()]);
        assert!(!g.metrics_allowed(Some(loopback), &forwarded), "the internet is not in metrics_from");
        let mut internal = HeaderMap::new();
        internal.insert("x-forwarded-for", HeaderValue::from_static("127.0.0.1"));
        assert!(g.metrics_allowed(Some(loopback), &internal));
    }

    #[test]
    fn hosts_from_the_listener_and_the_public_url() {
        let g = Guard::new("127.0.0.1:3000".parse().unwrap(), None, &[], vec![]);
        let hosts = g.hosts.unwrap();
        assert!(hosts.contains("127.0.0.1:3000") && hosts.contains("localhost:3000"));
        assert!(!hosts.contains("evil.example:3000"));
        let url = url::Url::parse("https://portolan.example.com").unwrap();
        let g = Guard::new("0.0.0.0:8080".parse().unwrap(), Some(&url), &[], vec![]);
        assert!(g.hosts.unwrap().contains("portolan.example.com"));
        assert!(g.hsts);
        let g = Guard::new("0.0.0.0:8080".parse().unwrap(), None, &[], vec![]);
        assert!(g.hosts.is_none(), "an open listener without a public URL takes any Host (warned at start)");
    }

    #[test]
    fn route_labels_never_carry_names() {
        assert_eq!(route_label("/r/hub/library/hello"), "/r/{registry}/{repository}");
        assert_eq!(route_label("/r/hub/library/hello:1.0"), "/r/{registry}/{repository}:{tag}");
        assert_eq!(route_label("/r/hub/a@sha256:00"), "/r/{registry}/{repository}@{digest}");
        assert_eq!(route_label("/r/hub/a/-/delete"), "/r/{registry}/{repository}/-/{view}");
        assert_eq!(route_label("/api/list_tags123"), "/api/{server-function}");
        assert_eq!(route_label("/anything/else"), "other");
    }

    #[test]
    fn request_ids() {
        assert!(valid_id("abc-123_x.y"));
        assert!(!valid_id("a b"));
        assert!(!valid_id(&"a".repeat(65)));
    }
}
