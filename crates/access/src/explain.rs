//! Why a person has the role they have somewhere: the evidence behind
//! [`Access::role_for`], for an admin page checking a mapping.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Access, Identity, Reason, Role};

/// The grants that applied, whether anonymous read did, and the resulting role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub registry: String,
    pub repository: Option<String>,
    /// No sign-in is configured: everyone is viewer, grants do not apply.
    pub open: bool,
    /// The grants that cover the place and name the person, in config order.
    pub matched: Vec<GrantMatch>,
    /// Visitors who are not signed in may browse this registry, which makes everyone a viewer.
    pub anonymous_read: bool,
    /// What [`Access::role_for`] answers: the highest of the above.
    pub role: Option<Role>,
}

/// One grant that applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantMatch {
    /// Its position in the config's `[[grants]]` list, from 0, as in `grants[2]`.
    pub index: usize,
    pub role: Role,
    /// The first of its subjects that named the person.
    pub reason: Reason,
}

impl Access {
    /// Like [`Access::role_for`], with the reasons.
    pub fn explain(&self, who: Option<&Identity>, registry: &str, repository: Option<&str>) -> Explanation {
        let matched = match who {
            Some(who) if !self.open => self
                .grants
                .iter()
                .enumerate()
                .filter(|(_, grant)| grant.covers(registry, repository))
                .filter_map(|(index, grant)| grant.reason(who).map(|reason| GrantMatch { index, role: grant.role(), reason }))
                .collect(),
            _ => Vec::new(),
        };
        Explanation {
            registry: registry.to_owned(),
            repository: repository.map(str::to_owned),
            open: self.open,
            matched,
            anonymous_read: !self.open && self.anonymous_read(registry),
            role: self.role_for(who, registry, repository),
        }
    }
}

impl fmt::Display for GrantMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "grants[{}] gives {}: {}", self.index, self.role, self.reason)
    }
}

/// One line per reason, then the result.
impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.open {
            writeln!(f, "no sign-in is configured: everyone is viewer everywhere")?;
        }
        for grant in &self.matched {
            writeln!(f, "{grant}")?;
        }
        if self.anonymous_read {
            writeln!(f, "anonymous read on {} gives viewer", self.registry)?;
        }
        match self.role {
            Some(role) => write!(f, "result: {role}"),
            None => write!(f, "result: no access"),
        }
    }
}
