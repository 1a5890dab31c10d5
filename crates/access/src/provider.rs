//! The sign-in providers, as far as grants care: the id a grant names them by, and where their
//! groups come from — which decides who can make a group of a given name.

use std::fmt;

/// A configured sign-in provider, for [`validate_grants`](crate::validate_grants).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    /// Its id: the prefix of `users` and `groups` entries (`keycloak:…`).
    pub id: String,
    pub kind: ProviderKind,
}

/// Where a provider's groups come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenID Connect: groups as the directory sends them, made by its administrators.
    Oidc,
    /// GitHub: the person's orgs (`acme`) and teams (`acme/ops`). Anyone with an account can
    /// create an org under any name still free, and teams in it, so a group name alone proves
    /// nothing: only an org the admin owns does.
    Github {
        /// Only members of one of these orgs may sign in (empty: anyone with an account).
        allowed_orgs: Vec<String>,
    },
    /// The trusted reverse proxy's groups header.
    Proxy,
}

impl Provider {
    pub fn oidc(id: impl Into<String>) -> Self {
        Provider { id: id.into(), kind: ProviderKind::Oidc }
    }

    pub fn github(id: impl Into<String>, allowed_orgs: &[&str]) -> Self {
        Provider { id: id.into(), kind: ProviderKind::Github { allowed_orgs: allowed_orgs.iter().map(|o| o.to_string()).collect() } }
    }

    /// The trusted reverse proxy, whose identities have the provider id `proxy`.
    pub fn proxy() -> Self {
        Provider { id: "proxy".to_owned(), kind: ProviderKind::Proxy }
    }

    pub fn is_github(&self) -> bool {
        matches!(self.kind, ProviderKind::Github { .. })
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}
