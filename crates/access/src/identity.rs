//! Who is asking: a signed-in person as a sign-in provider described them.

use serde::{Deserialize, Serialize};

/// A signed-in person. Built by the server from a provider's answer (OIDC claims, GitHub API,
/// proxy headers); this crate only reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The configured provider id, e.g. `keycloak`, `github`, `proxy`.
    pub provider: String,
    /// The provider's stable user id (OIDC `sub`, GitHub numeric id…), never a display name,
    /// because names and emails can change hands.
    pub subject: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// Whether `email` may be trusted for `emails` and `domains` grants. The caller decides per
    /// provider: it sets this from the provider's own verification claim, or to `true` for a
    /// provider it trusts to only hand out owned addresses, or to `false` when in doubt. An
    /// unverified email never matches a grant: anyone can type someone else's address.
    #[serde(default)]
    pub email_verified: bool,
    /// Group names as the provider sends them: Keycloak paths (`/platform/admins`), GitHub
    /// `org/team` slugs, Entra ID object ids…
    #[serde(default)]
    pub groups: Vec<String>,
    /// The scope of the API token the person acts through (none: acting themselves). Every
    /// decision takes the lower of what the person may do and what the token allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<crate::Cap>,
}

impl Identity {
    /// A person known only by provider and subject; fill in the rest as the provider tells it.
    pub fn new(provider: impl Into<String>, subject: impl Into<String>) -> Self {
        Identity {
            provider: provider.into(),
            subject: subject.into(),
            name: None,
            email: None,
            email_verified: false,
            groups: Vec::new(),
            cap: None,
        }
    }

    /// What to call the person in a header: their name, else their email, else their subject.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().or(self.email.as_deref()).unwrap_or(&self.subject)
    }
}
