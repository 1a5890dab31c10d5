//! Roles, from least to most: each one allows everything the ones below it allow, so "enough"
//! is a comparison (`have >= needed`) and combining grants is taking the highest.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a person may do. The derive order is the privilege order: `Viewer < Maintainer < Admin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Browse registries, repositories, tags and artifacts.
    Viewer,
    /// Also delete tags and artifacts, run retention policies, restore from the trash.
    Maintainer,
    /// Also edit retention policies, read the audit log, purge the trash.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Maintainer, Role::Admin];

    /// The word used in the config and in messages: `viewer`, `maintainer`, `admin`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Maintainer => "maintainer",
            Role::Admin => "admin",
        }
    }

    /// A capitalised label for headers and badges.
    pub const fn label(self) -> &'static str {
        match self {
            Role::Viewer => "Viewer",
            Role::Maintainer => "Maintainer",
            Role::Admin => "Admin",
        }
    }

    /// What the role allows, in words a person reads on an admin or error page.
    pub const fn what_it_allows(self) -> &'static str {
        match self {
            Role::Viewer => "browse registries, repositories, tags and artifacts",
            Role::Maintainer => "browse, delete tags and artifacts, run retention policies and restore from the trash",
            Role::Admin => "everything a maintainer can, and also edit retention policies, read the audit log and purge the trash",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not one of the three roles.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("\"{given}\" is not a role; use viewer, maintainer or admin")]
pub struct ParseRoleError {
    given: String,
}

impl FromStr for Role {
    type Err = ParseRoleError;

    /// Accepts the config words in any ASCII case (`Admin` is as clear as `admin`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseRoleError { given: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_privilege() {
        assert!(Role::Viewer < Role::Maintainer && Role::Maintainer < Role::Admin);
        assert_eq!(Role::ALL.iter().max(), Some(&Role::Admin));
    }

    #[test]
    fn parses_and_displays_the_config_words() {
        for role in Role::ALL {
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
        }
        assert_eq!("Maintainer".parse::<Role>(), Ok(Role::Maintainer));
        let err = "owner".parse::<Role>().unwrap_err();
        assert_eq!(err.to_string(), "\"owner\" is not a role; use viewer, maintainer or admin");
    }

    #[test]
    fn serde_uses_lowercase() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Holder {
            role: Role,
        }
        let parsed: Holder = toml::from_str("role = \"admin\"").unwrap();
        assert_eq!(parsed, Holder { role: Role::Admin });
        assert_eq!(toml::to_string(&parsed).unwrap().trim(), "role = \"admin\"");
        assert!(toml::from_str::<Holder>("role = \"Admin\"").is_err());
    }
}
