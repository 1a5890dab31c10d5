//! Authentication: `WWW-Authenticate` challenges, token scopes, and a token cache that makes
//! one token request for any number of concurrent requests needing the same token.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use moka::sync::Cache;
use serde::Deserialize;

use crate::flight::Flights;

/// Credentials for one registry.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Credentials {
    /// No credentials: anonymous requests, anonymous tokens.
    #[default]
    Anonymous,
    /// Username and password (or personal access token): sent as Basic auth, or to the token server.
    Basic { username: String, password: String },
    /// A bearer token used as is (no token exchange).
    Bearer(String),
}

impl fmt::Debug for Credentials {
    // Never print secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Credentials::Bearer(_) => f.write_str("Bearer(***)"),
        }
    }
}

/// One parsed challenge of a `WWW-Authenticate` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// `bearer` or `basic`, lowercase.
    pub scheme: String,
    pub params: HashMap<String, String>,
}

impl Challenge {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }
}

/// Parses a `WWW-Authenticate` value (RFC 7235): one or more challenges, each a scheme and
/// comma-separated `key=value` or `key="quoted value"` parameters.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        // A token followed by '=' is a parameter of the current challenge; otherwise a scheme.
        let token_end = rest.find([' ', ',', '=']).unwrap_or(rest.len());
        let token = &rest[..token_end];
        let after = rest[token_end..].trim_start();
        if after.starts_with('=') && !out.is_empty() {
            let mut value_part = after[1..].trim_start();
            let value;
            if let Some(stripped) = value_part.strip_prefix('"') {
                let mut v = String::new();
                let mut chars = stripped.char_indices();
                let mut end = stripped.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, n)) = chars.next() {
                                v.push(n);
                            }
                        }
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        _ => v.push(c),
                    }
                }
                value = v;
                value_part = &stripped[end.min(stripped.len())..];
            } else {
                let end = value_part.find(',').unwrap_or(value_part.len());
                value = value_part[..end].trim().to_owned();
                value_part = &value_part[end..];
            }
            if let Some(last) = out.last_mut() {
                last.params.insert(token.to_ascii_lowercase(), value);
            }
            rest = value_part.trim_start().trim_start_matches(',').trim_start();
        } else if !token.is_empty() {
            out.push(Challenge { scheme: token.to_ascii_lowercase(), params: HashMap::new() });
            rest = after.trim_start_matches(',').trim_start();
        } else {
            rest = rest[1..].trim_start();
        }
    }
    out
}

/// An access scope for the token server: `repository:<name>:pull,push`, `registry:catalog:*`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    pub resource_type: String,
    pub name: String,
    pub actions: BTreeSet<String>,
}

impl Scope {
    pub fn repository(name: &str, actions: &[&str]) -> Self {
        Self { resource_type: "repository".into(), name: name.into(), actions: actions.iter().map(|a| (*a).to_owned()).collect() }
    }

    pub fn catalog() -> Self {
        Self { resource_type: "registry".into(), name: "catalog".into(), actions: ["*".to_owned()].into() }
    }

    /// Parses `type:name:actions`; the name may contain ':' (a registry with a port).
    pub fn parse(text: &str) -> Option<Self> {
        let (resource_type, rest) = text.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        Some(Self {
            resource_type: resource_type.to_owned(),
            name: name.to_owned(),
            actions: actions.split(',').filter(|a| !a.is_empty()).map(str::to_owned).collect(),
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let actions: Vec<&str> = self.actions.iter().map(String::as_str).collect();
        write!(f, "{}:{}:{}", self.resource_type, self.name, actions.join(","))
    }
}

/// Merges scopes on the same resource (union of actions), sorted, deduplicated.
pub fn merge_scopes(scopes: impl IntoIterator<Item = Scope>) -> Vec<Scope> {
    let mut merged: Vec<Scope> = Vec::new();
    for s in scopes {
        match merged.iter_mut().find(|m| m.resource_type == s.resource_type && m.name == s.name) {
            Some(m) => m.actions.extend(s.actions),
            None => merged.push(s),
        }
    }
    merged.sort();
    merged
}

/// A token endpoint's answer (Docker token spec; `access_token` is the OAuth2 spelling).
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub token: Option<String>,
    pub access_token: Option<String>,
    /// Any JSON number (or anything else, ignored): token servers are not all careful.
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl TokenResponse {
    /// `expires_in` in whole seconds, when it is a positive number.
    pub fn expires_in(&self) -> Option<u64> {
        let value = self.expires_in.as_ref()?;
        value.as_u64().or_else(|| value.as_f64().filter(|s| s.is_finite() && *s >= 1.0).map(|s| s.min(u64::MAX as f64) as u64))
    }
}

/// The longest a token is used, whatever its server says.
pub(crate) const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Tokens kept at most (one per scope set: visiting many repositories must not grow it for ever).
pub(crate) const TOKEN_CACHE_ENTRIES: u64 = 10_000;

/// A bearer token and when to stop using it.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub value: String,
    pub refresh_at: Instant,
    /// How long it is used from when it was fetched (`refresh_at - now`).
    pub usable_for: Duration,
}

impl Token {
    /// The spec's default lifetime is 60 s, and we cap it at [`MAX_TOKEN_LIFETIME`]; we renew a
    /// little early (a tenth of the lifetime, at most 30 s) so a token does not expire in flight.
    pub fn new(value: String, expires_in: Option<u64>, now: Instant) -> Self {
        let lifetime = Duration::from_secs(expires_in.filter(|s| *s > 0).unwrap_or(60)).min(MAX_TOKEN_LIFETIME);
        let margin = (lifetime / 10).min(Duration::from_secs(30));
        let usable_for = lifetime.saturating_sub(margin);
        // `Instant + Duration` panics on overflow; a clock that cannot go that far means "now".
        let refresh_at = now.checked_add(usable_for).unwrap_or(now);
        Self { value, refresh_at, usable_for }
    }

    pub fn is_fresh(&self, now: Instant) -> bool {
        now < self.refresh_at
    }
}

/// Entries of the token cache expire when their token should be renewed.
struct TokenExpiry;

impl moka::Expiry<String, Token> for TokenExpiry {
    fn expire_after_create(&self, _key: &String, token: &Token, _created_at: Instant) -> Option<Duration> {
        Some(token.usable_for.min(MAX_TOKEN_LIFETIME))
    }
}

/// What the registry told us about its authentication, learned from its first challenge.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// Not asked yet.
    #[default]
    Unknown,
    /// Anonymous requests succeed.
    None,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Tokens per scope set (bounded, each expiring when it should be renewed), and the in-flight
/// token requests.
pub(crate) struct TokenCache {
    tokens: Cache<String, Token>,
    pub flights: Flights<String, crate::Result<Token>>,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::with_capacity(TOKEN_CACHE_ENTRIES)
    }
}

impl TokenCache {
    pub fn with_capacity(entries: u64) -> Self {
        Self {
            tokens: Cache::builder().max_capacity(entries).time_to_live(MAX_TOKEN_LIFETIME).expire_after(TokenExpiry).build(),
            flights: Flights::default(),
        }
    }

    pub fn get(&self, key: &str, now: Instant) -> Option<String> {
        self.tokens.get(key).filter(|t| t.is_fresh(now)).map(|t| t.value)
    }

    pub fn put(&self, key: String, token: Token) {
        if !token.usable_for.is_zero() {
            self.tokens.insert(key, token);
        }
    }

    /// Drops a token the registry refused (expired or revoked early).
    pub fn invalidate(&self, key: &str, value: &str) {
        if self.tokens.get(key).is_some_and(|t| t.value == value) {
            self.tokens.invalidate(key);
        }
    }

    #[cfg(test)]
    fn len(&self) -> u64 {
        self.tokens.run_pending_tasks();
        self.tokens.entry_count()
    }
}

/// The cache key of a scope set.
pub(crate) fn scope_key(scopes: &[Scope]) -> String {
    scopes.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_hub_style_bearer_challenge() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].param("service"), Some("registry.docker.io"));
        assert_eq!(c[0].param("scope"), Some("repository:samalba/my-app:pull,push"));
    }

    #[test]
    fn parses_several_challenges_unquoted_values_and_escapes() {
        let c = parse_challenges(r#"Basic realm="Registry \"one\"", Bearer realm=https://x/token, service=x, error="invalid_token""#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some(r#"Registry "one""#));
        assert_eq!(c[1].param("realm"), Some("https://x/token"));
        assert_eq!(c[1].param("error"), Some("invalid_token"));
        assert!(parse_challenges("").is_empty());
        // Garbage does not panic.
        let _ = parse_challenges(r#"=,,="" Bearer realm="unterminated"#);
    }

    #[test]
    fn scopes_round_trip_and_merge() {
        let s = Scope::parse("repository:localhost:5000/a/b:pull,push").unwrap();
        assert_eq!(s.name, "localhost:5000/a/b");
        assert_eq!(s.to_string(), "repository:localhost:5000/a/b:pull,push");
        let merged = merge_scopes([Scope::repository("a", &["pull"]), Scope::catalog(), Scope::repository("a", &["delete", "pull"])]);
        assert_eq!(scope_key(&merged), "registry:catalog:* repository:a:delete,pull");
    }

    #[test]
    fn token_lifetime_defaults_to_sixty_seconds_and_renews_early() {
        let now = Instant::now();
        let t = Token::new("t".into(), None, now);
        assert!(t.is_fresh(now + Duration::from_secs(53)));
        assert!(!t.is_fresh(now + Duration::from_secs(55)));
        let t = Token::new("t".into(), Some(3600), now);
        assert!(t.is_fresh(now + Duration::from_secs(3560)));
        assert!(!t.is_fresh(now + Duration::from_secs(3571)));
    }

    #[test]
    fn absurd_lifetimes_are_capped_not_a_panic() {
        let now = Instant::now();
        for seconds in [u64::MAX, 9_000_000_000_000_000_000, 1 << 62] {
            let t = Token::new("t".into(), Some(seconds), now);
            assert!(t.is_fresh(now + Duration::from_secs(3600)));
            assert!(!t.is_fresh(now + MAX_TOKEN_LIFETIME));
        }
        let answer = |json: &str| serde_json::from_str::<TokenResponse>(json).unwrap().expires_in();
        assert_eq!(answer(r#"{"token":"t","expires_in":300}"#), Some(300));
        assert_eq!(answer(r#"{"token":"t","expires_in":1e30}"#), Some(u64::MAX));
        assert_eq!(answer(r#"{"token":"t","expires_in":-5}"#), None);
        assert_eq!(answer(r#"{"token":"t","expires_in":"soon"}"#), None);
        assert_eq!(answer(r#"{"token":"t"}"#), None);
    }

    #[test]
    fn the_token_cache_is_bounded() {
        let cache = TokenCache::default();
        let now = Instant::now();
        for i in 0..(TOKEN_CACHE_ENTRIES * 2) {
            cache.put(format!("repository:r{i}:pull"), Token::new(format!("t{i}"), Some(300), now));
        }
        assert!(cache.len() <= TOKEN_CACHE_ENTRIES, "{} tokens kept", cache.len());
        // Still a working cache.
        cache.put("repository:a:pull".into(), Token::new("ta".into(), Some(300), now));
        assert_eq!(cache.get("repository:a:pull", now).as_deref(), Some("ta"));
        cache.invalidate("repository:a:pull", "other");
        assert!(cache.get("repository:a:pull", now).is_some());
        cache.invalidate("repository:a:pull", "ta");
        assert!(cache.get("repository:a:pull", now).is_none());
    }
}
