//! A cap on what an identity may do: an API token's scope. A request made with a token acts
//! for the token's owner, but never beyond the token's registry, repositories and role — and
//! never beyond what the owner may do at that moment: every decision of [`Access`] takes the
//! lower of the two, so a token loses what its owner loses.
//!
//! [`Access`]: crate::Access

use globset::{GlobMatcher, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::Role;

/// A token's scope, with its globs compiled. Built only by [`Cap::new`], which checks them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "RawCap", into = "RawCap")]
pub struct Cap {
    raw: RawCap,
    registry_glob: GlobMatcher,
    repository_globs: GlobSet,
}

/// A cap as written: the token's id, a registry pattern, repository patterns and a role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawCap {
    pub token: i64,
    pub registry: String,
    pub repositories: Vec<String>,
    pub role: Role,
}

impl PartialEq for Cap {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Eq for Cap {}

impl TryFrom<RawCap> for Cap {
    type Error = String;

    fn try_from(raw: RawCap) -> Result<Self, String> {
        Cap::new(raw)
    }
}

impl From<Cap> for RawCap {
    fn from(cap: Cap) -> Self {
        cap.raw
    }
}

impl Cap {
    /// A cap with the grants' glob rules (`*` within a path part, `**` across them). At least
    /// one repository pattern.
    pub fn new(raw: RawCap) -> Result<Self, String> {
        if raw.repositories.is_empty() {
            return Err("a token names at least one repository pattern (\"**\" for all)".into());
        }
        let registry_glob = crate::validate::compile_pattern(&raw.registry)?.compile_matcher();
        let mut set = GlobSetBuilder::new();
        for pattern in &raw.repositories {
            set.add(crate::validate::compile_pattern(pattern)?);
        }
        let repository_globs = set.build().map_err(|e| e.to_string())?;
        Ok(Self { raw, registry_glob, repository_globs })
    }

    pub fn raw(&self) -> &RawCap {
        &self.raw
    }

    /// The token's id.
    pub fn token(&self) -> i64 {
        self.raw.token
    }

    /// The most the token allows on `registry` (and `repository`; none: the registry as a
    /// whole, where the registry pattern alone decides, as for grants).
    pub fn allows(&self, registry: &str, repository: Option<&str>) -> Option<Role> {
        let covered =
            self.registry_glob.is_match(registry) && repository.is_none_or(|repository| self.repository_globs.is_match(repository));
        covered.then_some(self.raw.role)
    }

    /// The most the token allows over every repository `pattern` can match in `registry`
    /// (conservatively, as [`crate::Grant::covers_pattern`] decides for grants).
    pub fn allows_pattern(&self, registry: &str, pattern: &str) -> Option<Role> {
        if !self.registry_glob.is_match(registry) {
            return None;
        }
        let covered = if crate::grant::is_literal(pattern) {
            self.repository_globs.is_match(pattern)
        } else {
            self.raw.repositories.iter().any(|g| {
                g == pattern
                    || g == "**"
                    || g.strip_suffix("/**").is_some_and(|prefix| {
                        crate::grant::is_literal(prefix) && pattern.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
                    })
            })
        };
        covered.then_some(self.raw.role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(registry: &str, repositories: &[&str], role: Role) -> Cap {
        Cap::new(RawCap { token: 1, registry: registry.into(), repositories: repositories.iter().map(|s| (*s).into()).collect(), role })
            .unwrap()
    }

    #[test]
    fn a_cap_allows_its_scope_only() {
        let c = cap("hub", &["team/*"], Role::Maintainer);
        assert_eq!(c.allows("hub", Some("team/api")), Some(Role::Maintainer));
        assert_eq!(c.allows("hub", Some("team/a/b")), None, "* stays within a part");
        assert_eq!(c.allows("hub", Some("other/api")), None);
        assert_eq!(c.allows("other", Some("team/api")), None);
        assert_eq!(c.allows("hub", None), Some(Role::Maintainer), "the registry as a whole");
        assert_eq!(c.allows_pattern("hub", "team/*"), Some(Role::Maintainer));
        assert_eq!(c.allows_pattern("hub", "**"), None);
        let all = cap("*", &["**"], Role::Viewer);
        assert_eq!(all.allows_pattern("x", "team/**"), Some(Role::Viewer));
    }

    #[test]
    fn caps_round_trip_and_bad_patterns_are_refused() {
        let c = cap("hub", &["team/**"], Role::Admin);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Cap>(&json).unwrap(), c);
        assert!(Cap::new(RawCap { token: 1, registry: "hub".into(), repositories: vec![], role: Role::Viewer }).is_err());
        assert!(Cap::new(RawCap { token: 1, registry: "hub".into(), repositories: vec!["a/[".into()], role: Role::Viewer }).is_err());
    }
}
