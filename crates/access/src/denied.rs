//! Refusals: why a request may not go on, in terms the caller maps to a response (401 with a
//! sign-in link, 403, or a read-only notice) and words the person can act on.

use std::fmt;

use crate::{Access, Identity, Role};

/// Why [`Access::require`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// Not signed in, and visitors may not do this; signing in may help (show 401 and a
    /// sign-in link). Also when visitors may browse but more than viewer is needed.
    SignInRequired,
    /// Signed in, but the role here is not enough.
    Forbidden { needed: Role, have: Option<Role> },
    /// No sign-in is configured and more than viewer is needed: nobody can change anything.
    ReadOnly,
}

impl Access {
    /// At least `needed` on `registry` (and `repository`, see [`Access::role_for`] for `None`),
    /// or why not. On success, the role `who` actually has.
    pub fn require(&self, who: Option<&Identity>, registry: &str, repository: Option<&str>, needed: Role) -> Result<Role, Denied> {
        self.decide(who, needed, || self.role_for(who, registry, repository))
    }

    /// At least `needed` over every repository the globs `patterns` can match (see
    /// [`Access::role_over`]), or why not.
    pub fn require_over(&self, who: Option<&Identity>, registry: &str, patterns: &[String], needed: Role) -> Result<Role, Denied> {
        self.decide(who, needed, || self.role_over(who, registry, patterns))
    }

    /// The decision once the role `who` has is known (`have`, not asked in read-only mode).
    fn decide(&self, who: Option<&Identity>, needed: Role, have: impl FnOnce() -> Option<Role>) -> Result<Role, Denied> {
        if self.open {
            return if needed <= Role::Viewer { Ok(Role::Viewer) } else { Err(Denied::ReadOnly) };
        }
        match have() {
            Some(have) if have >= needed => Ok(have),
            _ if who.is_none() => Err(Denied::SignInRequired),
            have => Err(Denied::Forbidden { needed, have }),
        }
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denied::SignInRequired => f.write_str("you are not signed in, and this is not open to visitors: sign in to continue"),
            Denied::Forbidden { needed, have: None } => {
                write!(f, "you have no access here; this needs the {needed} role: ask an admin to grant it to you")
            }
            Denied::Forbidden { needed, have: Some(have) } => write!(
                f,
                "this needs the {needed} role, and here you are {article} {have} (you may {allowed}): ask an admin to grant you {needed}",
                article = if *have == Role::Admin { "an" } else { "a" },
                allowed = have.what_it_allows(),
            ),
            Denied::ReadOnly => f.write_str(
                "nothing can be changed when no sign-in is configured: Portolan is a read-only browser until a sign-in provider and grants are set up",
            ),
        }
    }
}

impl std::error::Error for Denied {}
