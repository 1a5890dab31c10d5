//! Authentication: `WWW-Authenticate` challenges, token scopes, and a token cache that makes
//! one token request for any number of concurrent requests needing the same token.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    pub expires_in: Option<u64>,
}

/// A bearer token and when to stop using it.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub value: String,
    pub refresh_at: Instant,
}

impl Token {
    /// The spec's default lifetime is 60 s; we renew a little early (a tenth of the lifetime,
    /// at most 30 s) so a token does not expire in flight.
    pub fn new(value: String, expires_in: Option<u64>, now: Instant) -> Self {
        let lifetime = Duration::from_secs(expires_in.filter(|s| *s > 0).unwrap_or(60));
        let margin = (lifetime / 10).min(Duration::from_secs(30));
        Self { value, refresh_at: now + lifetime - margin }
    }

    pub fn is_fresh(&self, now: Instant) -> bool {
        now < self.refresh_at
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

/// Tokens per scope set, and the in-flight token requests.
#[derive(Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<String, Token>>,
    pub flights: Flights<String, crate::Result<Token>>,
}

impl TokenCache {
    pub fn get(&self, key: &str, now: Instant) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.get(key).filter(|t| t.is_fresh(now)).map(|t| t.value.clone())
    }

    pub fn put(&self, key: String, token: Token) {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner()).insert(key, token);
    }

    /// Drops a token the registry refused (expired or revoked early).
    pub fn invalidate(&self, key: &str, value: &str) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if tokens.get(key).is_some_and(|t| t.value == value) {
            tokens.remove(key);
        }
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
}
