//! A grant as written in the TOML config, before anything is checked. Kept apart from
//! [`Grant`](crate::Grant) so that all mistakes can be found and reported together by
//! [`validate_grants`](crate::validate_grants), instead of serde stopping at the first one.

use serde::{Deserialize, Serialize};

/// One `[[grants]]` table:
///
/// ```toml
/// [[grants]]
/// role = "maintainer"                  # viewer | maintainer | admin
/// registry = "hub"                     # a registry name or a glob (default "*")
/// repositories = ["team/*"]            # repository globs (default ["**"], all)
/// users = ["keycloak:1b2c"]            # provider:subject
/// emails = ["alice@example.com"]       # verified emails, any case
/// domains = ["example.com"]            # verified emails in exactly this domain
/// groups = ["keycloak:/platform/admins"]  # provider:group ("ops" alone: only with one provider, not GitHub)
/// signed_in = true                     # anyone signed in, with any provider
/// ```
///
/// The subject lists are alternatives: the grant applies to a person any of them names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrant {
    /// Kept as text so an unknown role is reported with the other mistakes.
    pub role: String,
    #[serde(default = "any_registry")]
    pub registry: String,
    #[serde(default = "all_repositories")]
    pub repositories: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub signed_in: bool,
}

/// The same defaults as the config, with role `viewer` and nobody named yet, so code can write
/// `RawGrant { groups: vec![…], ..RawGrant::default() }`.
impl Default for RawGrant {
    fn default() -> Self {
        RawGrant {
            role: "viewer".to_owned(),
            registry: any_registry(),
            repositories: all_repositories(),
            users: Vec::new(),
            emails: Vec::new(),
            domains: Vec::new(),
            groups: Vec::new(),
            signed_in: false,
        }
    }
}

fn any_registry() -> String {
    "*".to_owned()
}

fn all_repositories() -> Vec<String> {
    vec!["**".to_owned()]
}

fn is_false(b: &bool) -> bool {
    !*b
}
