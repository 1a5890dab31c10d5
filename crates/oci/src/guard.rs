//! Where requests may go. A registry is trusted with its own origin, not with the network
//! Portolan runs in: it must not make Portolan request internal services (SSRF) nor collect the
//! configured credentials on another server.
//!
//! - Redirects: blob downloads (`GET`/`HEAD /v2/<name>/blobs/<digest>`) may leave the registry's
//!   origin (CDNs and object storage); every other request follows only redirects to its own
//!   origin (or to the same host upgraded to https). Never from https to http, at most
//!   [`MAX_REDIRECTS`].
//! - Addresses: loopback, private, link-local, unspecified, multicast and reserved addresses are
//!   reachable only when the registry itself is on an address of the same kind (a registry on
//!   127.0.0.1 may send Portolan to 127.0.0.1, one on 10.0.0.5 to 192.168.1.9, a public one to
//!   neither). Literal addresses are checked in the redirect policy and before each request;
//!   host names through [`GuardedResolver`], which drops the addresses not allowed.
//! - Token realms: named only by the registry's own challenges; `https` when the registry is.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Redirects followed for one request at most.
pub(crate) const MAX_REDIRECTS: usize = 5;

/// What kind of network an address is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    Public,
    Loopback,
    /// RFC 1918, shared address space (100.64/10), unique local (fc00::/7), site-local.
    Private,
    /// 169.254/16 (cloud metadata services live there), fe80::/10.
    LinkLocal,
    Unspecified,
    Multicast,
    /// Documentation, benchmarking, protocol assignments, 240/4, broadcast.
    Reserved,
}

impl Reach {
    fn label(self) -> &'static str {
        match self {
            Reach::Public => "public",
            Reach::Loopback => "loopback",
            Reach::Private => "private",
            Reach::LinkLocal => "link-local",
            Reach::Unspecified => "unspecified",
            Reach::Multicast => "multicast",
            Reach::Reserved => "reserved",
        }
    }
}

pub(crate) fn classify(ip: IpAddr) -> Reach {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Reach {
    let [a, b, c, _] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Reach::Unspecified
    } else if ip.is_loopback() {
        Reach::Loopback
    } else if ip.is_private() || (a == 100 && (b & 0xc0) == 64) {
        Reach::Private
    } else if ip.is_link_local() {
        Reach::LinkLocal
    } else if ip.is_multicast() {
        Reach::Multicast
    } else if ip.is_broadcast() || a >= 240 || ip.is_documentation() || (a == 192 && b == 0 && c == 0) || (a == 198 && (b & 0xfe) == 18) {
        Reach::Reserved
    } else {
        Reach::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> Reach {
    let segments = ip.segments();
    // Addresses that carry an IPv4 address: judged by it (::ffff:127.0.0.1 is loopback).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return classify_v4(embedded(segments[6], segments[7]));
    }
    if segments[0] == 0x2002 {
        return classify_v4(embedded(segments[1], segments[2]));
    }
    if ip.is_unspecified() {
        Reach::Unspecified
    } else if ip.is_loopback() {
        Reach::Loopback
    } else if ip.is_multicast() {
        Reach::Multicast
    } else if (segments[0] & 0xfe00) == 0xfc00 || (segments[0] & 0xffc0) == 0xfec0 {
        Reach::Private
    } else if (segments[0] & 0xffc0) == 0xfe80 {
        Reach::LinkLocal
    } else if segments[..6] == [0; 6] || (segments[0] == 0x2001 && segments[1] == 0x0db8) || segments[0] == 0x0100 {
        // IPv4-compatible (deprecated), documentation, discard-only.
        Reach::Reserved
    } else {
        Reach::Public
    }
}

/// Why a request was not sent where a registry (or a DNS answer) pointed it.
#[derive(Debug)]
pub(crate) struct Refused(pub String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Which addresses this client may connect to, learned from where its registry is.
pub(crate) struct AddressGuard {
    registry_host: String,
    /// The kinds of address the registry is on: from its literal address, or from the first
    /// resolution of its name (kept, so a later answer cannot rebind it to another kind).
    registry_reach: OnceLock<Vec<Reach>>,
}

impl AddressGuard {
    pub fn new(base: &Url) -> Self {
        let registry_reach = OnceLock::new();
        if let Some(ip) = literal_ip(base) {
            let _ = registry_reach.set(vec![classify(ip)]);
        }
        Self { registry_host: base.host_str().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase(), registry_reach }
    }

    /// Decides where the registry is, as if its name had resolved to addresses of these kinds.
    #[cfg(test)]
    pub fn assume(&self, kinds: Vec<Reach>) {
        let _ = self.registry_reach.set(kinds);
    }

    /// Whether Portolan may connect to `ip` for this registry.
    pub fn allows(&self, ip: IpAddr) -> bool {
        match classify(ip) {
            Reach::Public => true,
            Reach::Multicast => false,
            reach => self.registry_reach.get().is_some_and(|kinds| kinds.contains(&reach)),
        }
    }

    /// Checks a URL whose host is a literal address (names are checked when resolved).
    pub fn check_url(&self, url: &Url) -> Result<(), String> {
        match literal_ip(url) {
            Some(ip) if !self.allows(ip) => Err(format!(
                "{} is on a {} address, where only a registry on such an address may send Portolan",
                origin(url),
                classify(ip).label()
            )),
            _ => Ok(()),
        }
    }

    /// The addresses of `host` Portolan may connect to; an error when none is left.
    fn filter(&self, host: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, Refused> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host == self.registry_host && self.registry_reach.get().is_none() {
            let _ = self.registry_reach.set(addrs.iter().map(|a| classify(a.ip())).collect());
        }
        let total = addrs.len();
        let kept: Vec<SocketAddr> = addrs.into_iter().filter(|a| self.allows(a.ip())).collect();
        if kept.is_empty() && total > 0 {
            return Err(Refused(format!(
                "{host} resolves only to internal addresses, which a registry not on such an address may not send Portolan to"
            )));
        }
        if kept.len() < total {
            tracing::debug!(%host, dropped = total - kept.len(), "internal addresses dropped from a DNS answer");
        }
        Ok(kept)
    }
}

/// A DNS resolver (the system's, through tokio) that drops the addresses [`AddressGuard`]
/// does not allow.
pub(crate) struct GuardedResolver {
    pub guard: Arc<AddressGuard>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.guard.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept = guard.filter(&host, addrs)?;
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// The redirect policy of a client for the registry at `base` (see the module docs).
pub(crate) fn redirect_policy(base: Url, guard: Arc<AddressGuard>) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| match check_redirect(&base, &guard, attempt.previous(), attempt.url()) {
        Ok(()) => attempt.follow(),
        Err(why) => attempt.error(Refused(why)),
    })
}

/// Whether a request that started at `previous[0]` and is now at the last of `previous` may
/// follow a redirect to `next`.
pub(crate) fn check_redirect(base: &Url, guard: &AddressGuard, previous: &[Url], next: &Url) -> Result<(), String> {
    let (Some(first), Some(last)) = (previous.first(), previous.last()) else {
        return Ok(());
    };
    if previous.len() > MAX_REDIRECTS {
        return Err(format!("more than {MAX_REDIRECTS} redirects"));
    }
    if !matches!(next.scheme(), "http" | "https") {
        return Err(format!("a redirect to a {}: URL is refused", next.scheme()));
    }
    if last.scheme() == "https" && next.scheme() == "http" {
        return Err(format!("a redirect from https to plain http ({}) is refused", origin(next)));
    }
    guard.check_url(next).map_err(|why| format!("a redirect is refused: {why}"))?;
    if same_origin(first, next) || (first.scheme() == "http" && next.scheme() == "https" && first.host_str() == next.host_str()) {
        return Ok(());
    }
    if is_blob_download(base, first) {
        return Ok(());
    }
    Err(format!("the answer redirects to {}, another origin; only blob downloads may be redirected away from the registry", origin(next)))
}

/// A token realm named by a challenge of the registry at `base`: an http(s) URL, https when the
/// registry is, not on an address the registry may not send Portolan to. On another host is
/// normal (Docker Hub's realm is auth.docker.io).
pub(crate) fn check_realm(base: &Url, guard: &AddressGuard, realm: &str) -> Result<Url, String> {
    let url = Url::parse(realm).map_err(|e| format!("the registry's token realm {realm:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("the registry's token realm {realm:?} is not an http(s) URL"));
    }
    if base.scheme() == "https" && url.scheme() != "https" {
        return Err(format!(
            "the registry is served over https but names a plain http token realm ({}); credentials are not sent there",
            origin(&url)
        ));
    }
    guard.check_url(&url).map_err(|why| format!("the registry's token realm is refused: {why}"))?;
    Ok(url)
}

/// Whether `url` is a blob download of the registry at `base`: `<base>v2/<name>/blobs/<digest>`.
pub(crate) fn is_blob_download(base: &Url, url: &Url) -> bool {
    if !same_origin(base, url) {
        return false;
    }
    let Some(rest) = url.path().strip_prefix(base.path()).and_then(|p| p.strip_prefix("v2/")) else {
        return false;
    };
    match rest.rsplit_once("/blobs/") {
        Some((name, digest)) => !name.is_empty() && crate::name::parse_digest(digest).is_ok(),
        None => false,
    }
}

pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

/// `scheme://host:port`, for messages (never a path or query: presigned URLs carry secrets).
pub(crate) fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        Host::Domain(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_are_classified() {
        for (a, reach) in [
            ("8.8.8.8", Reach::Public),
            ("127.0.0.1", Reach::Loopback),
            ("127.8.9.1", Reach::Loopback),
            ("10.1.2.3", Reach::Private),
            ("172.16.0.1", Reach::Private),
            ("192.168.1.1", Reach::Private),
            ("100.64.0.1", Reach::Private),
            ("169.254.169.254", Reach::LinkLocal),
            ("0.0.0.0", Reach::Unspecified),
            ("224.0.0.1", Reach::Multicast),
            ("255.255.255.255", Reach::Reserved),
            ("::1", Reach::Loopback),
            ("::", Reach::Unspecified),
            ("::ffff:127.0.0.1", Reach::Loopback),
            ("::ffff:169.254.169.254", Reach::LinkLocal),
            ("64:ff9b::a00:1", Reach::Private),
            ("2002:7f00:1::", Reach::Loopback),
            ("fd00::1", Reach::Private),
            ("fe80::1", Reach::LinkLocal),
            ("ff02::1", Reach::Multicast),
            ("2606:4700::1111", Reach::Public),
        ] {
            assert_eq!(classify(ip(a)), reach, "{a}");
        }
    }

    #[test]
    fn internal_addresses_only_for_a_registry_on_the_same_kind() {
        let public = AddressGuard::new(&url("https://93.184.216.34/"));
        let named = AddressGuard::new(&url("https://registry.example.com/"));
        named.assume(vec![Reach::Public]);
        for a in ["127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "::ffff:10.0.0.1", "0.0.0.0", "224.0.0.1"] {
            assert!(!named.allows(ip(a)), "{a}");
        }
        assert!(named.allows(ip("8.8.8.8")));
        assert!(!public.allows(ip("127.0.0.1")));
        let loopback = AddressGuard::new(&url("http://127.0.0.1:5000/"));
        assert!(loopback.allows(ip("127.0.0.1")) && loopback.allows(ip("::1")) && loopback.allows(ip("8.8.8.8")));
        assert!(!loopback.allows(ip("10.0.0.1")) && !loopback.allows(ip("169.254.169.254")));
        let private = AddressGuard::new(&url("http://10.0.0.5:5000/"));
        assert!(private.allows(ip("192.168.1.9")));
        assert!(!private.allows(ip("127.0.0.1")) && !private.allows(ip("169.254.169.254")));
        // Not yet resolved: nothing internal.
        let unknown = AddressGuard::new(&url("https://registry.example.com/"));
        assert!(!unknown.allows(ip("10.0.0.1")));
    }

    #[test]
    fn the_registry_name_is_classified_once_and_cannot_be_rebound() {
        let guard = AddressGuard::new(&url("https://registry.example.com/"));
        let public: SocketAddr = "93.184.216.34:0".parse().unwrap();
        let internal: SocketAddr = "127.0.0.1:0".parse().unwrap();
        assert_eq!(guard.filter("registry.example.com", vec![public]).unwrap(), [public]);
        assert!(guard.filter("registry.example.com", vec![internal]).is_err());
        assert_eq!(guard.filter("cdn.example.net", vec![internal, public]).unwrap(), [public]);
        let err = guard.filter("internal.example.net", vec![internal]).unwrap_err();
        assert!(err.0.contains("internal addresses"), "{err}");
        // A registry whose name resolves to a private address is a private registry.
        let guard = AddressGuard::new(&url("http://registry.lan:5000/"));
        let private: SocketAddr = "10.0.0.5:0".parse().unwrap();
        assert_eq!(guard.filter("registry.lan", vec![private]).unwrap(), [private]);
        let storage: SocketAddr = "10.0.0.6:0".parse().unwrap();
        assert_eq!(guard.filter("minio.lan", vec![storage]).unwrap(), [storage]);
        assert!(guard.filter("localhost", vec![internal]).is_err());
    }

    #[test]
    fn only_blob_downloads_leave_the_origin() {
        let base = url("https://registry.example.com/");
        let guard = AddressGuard::new(&base);
        guard.assume(vec![Reach::Public]);
        let blob = url(&format!("https://registry.example.com/v2/a/b/blobs/sha256:{}", "a".repeat(64)));
        let cdn = url("https://cdn.example.net/x?sig=secret");
        assert!(check_redirect(&base, &guard, std::slice::from_ref(&blob), &cdn).is_ok());
        // Further CDN hops of a blob download are fine.
        assert!(check_redirect(&base, &guard, &[blob.clone(), cdn.clone()], &url("https://cdn2.example.net/y")).is_ok());
        // Never to an internal address, nor down to http.
        let why = check_redirect(&base, &guard, std::slice::from_ref(&blob), &url("http://169.254.169.254/latest/meta-data")).unwrap_err();
        assert!(why.contains("https to plain http"), "{why}");
        let why = check_redirect(&base, &guard, std::slice::from_ref(&blob), &url("https://127.0.0.1/")).unwrap_err();
        assert!(why.contains("loopback"), "{why}");
        let why = check_redirect(&base, &guard, std::slice::from_ref(&blob), &url("https://[::ffff:10.0.0.1]/")).unwrap_err();
        assert!(why.contains("private"), "{why}");
        // Anything else: its own origin only.
        let manifest = url("https://registry.example.com/v2/a/b/manifests/latest");
        let why = check_redirect(&base, &guard, std::slice::from_ref(&manifest), &cdn).unwrap_err();
        assert!(why.contains("only blob downloads") && why.contains("https://cdn.example.net") && !why.contains("secret"), "{why}");
        assert!(check_redirect(&base, &guard, std::slice::from_ref(&manifest), &url("https://registry.example.com/elsewhere")).is_ok());
        let upload = url("https://registry.example.com/v2/a/blobs/uploads/1234");
        assert!(check_redirect(&base, &guard, std::slice::from_ref(&upload), &cdn).is_err());
        // The same host, upgraded to https, is fine.
        let plain = url("http://registry.example.com/");
        assert!(
            check_redirect(&plain, &guard, &[url("http://registry.example.com/v2/")], &url("https://registry.example.com/v2/")).is_ok()
        );
        // A bounded chain.
        let chain = vec![blob.clone(); MAX_REDIRECTS + 1];
        assert!(check_redirect(&base, &guard, &chain, &cdn).unwrap_err().contains("redirects"));
    }

    #[test]
    fn realms() {
        let https = url("https://registry.example.com/");
        let guard = AddressGuard::new(&https);
        guard.assume(vec![Reach::Public]);
        assert!(check_realm(&https, &guard, "https://auth.docker.io/token").is_ok());
        let why = check_realm(&https, &guard, "http://auth.example.com/token").unwrap_err();
        assert!(why.contains("plain http token realm"), "{why}");
        assert!(check_realm(&https, &guard, "https://10.0.0.1/token").unwrap_err().contains("private"));
        assert!(check_realm(&https, &guard, "ftp://x/token").is_err());
        assert!(check_realm(&https, &guard, "not a url").is_err());
        let plain = url("http://127.0.0.1:5000/");
        let guard = AddressGuard::new(&plain);
        assert!(check_realm(&plain, &guard, "http://127.0.0.1:5001/token").is_ok());
    }
}
