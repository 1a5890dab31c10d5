//! `[auth]`: sign-in providers (OpenID Connect, GitHub), the trusted reverse proxy, session
//! lifetimes.

use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use super::secret::{self, Secret};

/// `[auth]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFile {
    pub idle_timeout_minutes: Option<u64>,
    pub session_hours: Option<u64>,
    pub sign_in_note: Option<String>,
    #[serde(default)]
    pub providers: Vec<ProviderFile>,
    pub proxy: Option<ProxyFile>,
}

/// One `[[auth.providers]]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderFile {
    pub id: String,
    pub kind: String,
    pub title: Option<String>,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    // OpenID Connect
    pub issuer: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub groups_claim: Option<String>,
    pub trust_unverified_email: Option<bool>,
    pub end_provider_session: Option<bool>,
    // GitHub
    pub github_url: Option<String>,
    pub api_url: Option<String>,
    pub allowed_orgs: Option<Vec<String>>,
}

/// `[auth.proxy]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyFile {
    pub trusted: Vec<String>,
    pub user_header: Option<String>,
    pub email_header: Option<String>,
    pub name_header: Option<String>,
    pub groups_header: Option<String>,
}

/// A validated sign-in provider.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Its URL segment (`/auth/login/{id}`) and its prefix in grants (`{id}:subject`).
    pub id: String,
    pub title: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub kind: ProviderKind,
}

#[derive(Debug, Clone)]
pub enum ProviderKind {
    /// Generic OpenID Connect: discovery, code flow with PKCE, ID token verified.
    Oidc {
        issuer: String,
        scopes: Vec<String>,
        /// Where the groups are: a claim name, or a dotted path (`realm_access.roles`).
        groups_claim: String,
        /// Treat `email_verified: false` (or absent) as verified (directories that import users).
        trust_unverified_email: bool,
        /// At sign-out, also end the session at the provider (RP-initiated logout).
        end_provider_session: bool,
    },
    /// GitHub OAuth (not OpenID Connect): identity, verified email, orgs and teams from its API.
    Github { github_url: url::Url, api_url: url::Url, allowed_orgs: Vec<String> },
}

impl ProviderKind {
    pub fn label(&self) -> &'static str {
        match self {
            ProviderKind::Oidc { .. } => "oidc",
            ProviderKind::Github { .. } => "github",
        }
    }
}

/// A validated reverse-proxy sign-in (oauth2-proxy and the like).
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Only peers in these networks may assert who the user is.
    pub trusted: Vec<IpNet>,
    pub user_header: String,
    pub email_header: String,
    pub name_header: String,
    pub groups_header: String,
}

/// Sign-in, validated.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub providers: Vec<ProviderConfig>,
    pub proxy: Option<ProxyConfig>,
    /// A session ends after this long unused…
    pub idle_timeout: Duration,
    /// …and this long after sign-in at the latest.
    pub session_max: Duration,
    /// Text shown on the sign-in page (as text, never markup), e.g. who to ask for access.
    pub sign_in_note: Option<String>,
}

/// The longest `sign_in_note`, in characters.
pub const SIGN_IN_NOTE_MAX: usize = 2000;

impl AuthConfig {
    /// Whether anyone can sign in at all (else Portolan is an open read-only browser).
    pub fn enabled(&self) -> bool {
        !self.providers.is_empty() || self.proxy.is_some()
    }

    /// The providers as grants see them: their ids, and where their groups come from (the
    /// proxy, id `proxy`, when it is configured).
    pub fn access_providers(&self) -> Vec<portolan_access::Provider> {
        use portolan_access::{Provider, ProviderKind as Groups};
        let mut providers: Vec<Provider> = self
            .providers
            .iter()
            .map(|p| Provider {
                id: p.id.clone(),
                kind: match &p.kind {
                    ProviderKind::Oidc { .. } => Groups::Oidc,
                    ProviderKind::Github { allowed_orgs, .. } => Groups::Github { allowed_orgs: allowed_orgs.clone() },
                },
            })
            .collect();
        if self.proxy.is_some() {
            providers.push(Provider { id: PROXY_PROVIDER.to_owned(), kind: Groups::Proxy });
        }
        providers
    }
}

/// The provider id of identities asserted by the trusted proxy.
pub const PROXY_PROVIDER: &str = "proxy";

/// Parses a network (`10.0.0.0/8`) or an address (`127.0.0.1`, as a /32 or /128).
pub fn parse_net(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is not an address or a network like 10.0.0.0/8"))
}

pub fn validate(file: AuthFile, env: &dyn Fn(&str) -> Option<String>, origin: &str, errors: &mut Vec<String>) -> AuthConfig {
    let mut providers: Vec<ProviderConfig> = Vec::new();
    for (i, p) in file.providers.into_iter().enumerate() {
        let at = format!("{origin}: auth.providers[{i}] ({:?})", p.id);
        let mut problems = Vec::new();
        if !super::registries::valid_name(&p.id) {
            problems.push("id must be 1-64 lowercase letters, digits or '-' (it is a URL segment)".to_owned());
        } else if p.id == PROXY_PROVIDER {
            problems.push("the id \"proxy\" is kept for [auth.proxy]".to_owned());
        } else if providers.iter().any(|x| x.id == p.id) {
            problems.push("the id is used twice".to_owned());
        }
        if p.client_id.trim().is_empty() {
            problems.push("client_id is empty".to_owned());
        }
        let key = p.id.to_ascii_uppercase().replace('-', "_");
        let client_secret = match env(&format!("PORTOLAN_PROVIDER_{key}_CLIENT_SECRET")) {
            Some(s) => Some(Secret::new(s)),
            None => secret::read(
                "client_secret",
                p.client_secret.as_ref(),
                p.client_secret_env.as_deref(),
                p.client_secret_file.as_deref(),
                env,
                &mut problems,
            ),
        };
        let oidc_only = [
            p.issuer.is_some(),
            p.scopes.is_some(),
            p.groups_claim.is_some(),
            p.trust_unverified_email.is_some(),
            p.end_provider_session.is_some(),
        ];
        let github_only = [p.github_url.is_some(), p.api_url.is_some(), p.allowed_orgs.is_some()];
        let kind = match p.kind.as_str() {
            "oidc" => {
                if github_only.iter().any(|x| *x) {
                    problems.push("github_url, api_url and allowed_orgs are for kind = \"github\"".to_owned());
                }
                let issuer = p.issuer.clone().unwrap_or_default();
                match url::Url::parse(&issuer) {
                    Ok(u) if u.scheme() == "https" || (u.scheme() == "http" && is_loopback(&u)) => {}
                    Ok(_) => problems.push(format!("issuer {issuer:?} must be an https:// URL (http:// only on loopback, for tests)")),
                    Err(_) if issuer.is_empty() => problems.push("issuer is missing (the provider's issuer URL, for discovery)".to_owned()),
                    Err(e) => problems.push(format!("issuer {issuer:?} is not a URL ({e})")),
                }
                let scopes = p.scopes.clone().unwrap_or_else(|| ["openid", "profile", "email"].map(String::from).to_vec());
                if !scopes.iter().any(|s| s == "openid") {
                    problems.push("scopes must include \"openid\"".to_owned());
                }
                ProviderKind::Oidc {
                    // As written: discovery and ID tokens compare it character for character, and
                    // some issuers end with '/' (Auth0's), others not (Keycloak's).
                    issuer,
                    scopes,
                    groups_claim: p.groups_claim.clone().unwrap_or_else(|| "groups".into()),
                    trust_unverified_email: p.trust_unverified_email.unwrap_or(false),
                    end_provider_session: p.end_provider_session.unwrap_or(true),
                }
            }
            "github" => {
                if oidc_only.iter().any(|x| *x) {
                    problems.push(
                        "issuer, scopes, groups_claim, trust_unverified_email and end_provider_session are for kind = \"oidc\"".to_owned(),
                    );
                }
                if client_secret.is_none() && problems.is_empty() {
                    problems.push("GitHub needs a client_secret (client_secret_env or client_secret_file)".to_owned());
                }
                let parse = |field: &str, value: Option<&String>, default: &str, problems: &mut Vec<String>| {
                    let text = value.map(String::as_str).unwrap_or(default);
                    match url::Url::parse(text) {
                        Ok(mut u) if u.scheme() == "https" || (u.scheme() == "http" && is_loopback(&u)) => {
                            // Paths are joined under it: GitHub Enterprise's API is at /api/v3, and
                            // "/api/v3" joined with "user" would be "/api/user".
                            if !u.path().ends_with('/') {
                                let path = format!("{}/", u.path());
                                u.set_path(&path);
                            }
                            Some(u)
                        }
                        _ => {
                            problems.push(format!("{field} {text:?} must be an https:// URL"));
                            None
                        }
                    }
                };
                let github_url = parse("github_url", p.github_url.as_ref(), "https://github.com", &mut problems);
                let api_url = parse("api_url", p.api_url.as_ref(), "https://api.github.com", &mut problems);
                match (github_url, api_url) {
                    (Some(github_url), Some(api_url)) => {
                        ProviderKind::Github { github_url, api_url, allowed_orgs: p.allowed_orgs.clone().unwrap_or_default() }
                    }
                    _ => ProviderKind::Github {
                        github_url: url::Url::parse("https://github.com").expect("a URL"),
                        api_url: url::Url::parse("https://api.github.com").expect("a URL"),
                        allowed_orgs: Vec::new(),
                    },
                }
            }
            other => {
                problems.push(format!("kind {other:?} is not one of \"oidc\", \"github\""));
                continue_with(&mut problems)
            }
        };
        if problems.is_empty() {
            providers.push(ProviderConfig {
                title: p.title.clone().unwrap_or_else(|| p.id.clone()),
                id: p.id,
                client_id: p.client_id,
                client_secret,
                kind,
            });
        } else {
            errors.extend(problems.into_iter().map(|x| format!("{at}: {x}")));
        }
    }
    let proxy = file.proxy.map(|p| {
        let mut trusted = Vec::new();
        for (i, t) in p.trusted.iter().enumerate() {
            match parse_net(t) {
                Ok(n) => trusted.push(n),
                Err(e) => errors.push(format!("{origin}: auth.proxy.trusted[{i}]: {e}")),
            }
        }
        if p.trusted.is_empty() {
            errors.push(format!(
                "{origin}: auth.proxy.trusted is empty: name the proxy's addresses, or headers would be believed from anyone"
            ));
        }
        ProxyConfig {
            trusted,
            user_header: p.user_header.unwrap_or_else(|| "X-Forwarded-User".into()),
            email_header: p.email_header.unwrap_or_else(|| "X-Forwarded-Email".into()),
            name_header: p.name_header.unwrap_or_else(|| "X-Forwarded-Preferred-Username".into()),
            groups_header: p.groups_header.unwrap_or_else(|| "X-Forwarded-Groups".into()),
        }
    });
    let minutes = |v: Option<u64>, default: u64, field: &str, errors: &mut Vec<String>| match v {
        Some(0) => {
            errors.push(format!("{origin}: auth.{field} must be greater than 0"));
            default
        }
        Some(n) => n,
        None => default,
    };
    let idle = minutes(file.idle_timeout_minutes, 12 * 60, "idle_timeout_minutes", errors);
    let hours = minutes(file.session_hours, 7 * 24, "session_hours", errors);
    let sign_in_note = file.sign_in_note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if sign_in_note.as_ref().is_some_and(|n| n.chars().count() > SIGN_IN_NOTE_MAX) {
        errors.push(format!("{origin}: auth.sign_in_note is longer than {SIGN_IN_NOTE_MAX} characters"));
    }
    AuthConfig {
        providers,
        proxy,
        idle_timeout: Duration::from_secs(idle.min(525_600) * 60),
        session_max: Duration::from_secs(hours.min(8_760) * 3600),
        sign_in_note,
    }
}

/// A placeholder kind for a provider already known to be invalid (its problems are reported).
fn continue_with(_problems: &mut [String]) -> ProviderKind {
    ProviderKind::Oidc {
        issuer: String::new(),
        scopes: Vec::new(),
        groups_claim: String::new(),
        trust_unverified_email: false,
        end_provider_session: false,
    }
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}
