//! The access policy, table by table: each case is who asks, where, and the role expected.

mod caps;
mod combine;
mod explain;
mod globs;
mod require;
mod scopes;
mod subjects;
mod validate;

use std::collections::BTreeMap;

use portolan_access::{Access, Grant, Identity, Provider, RawGrant, Role, validate_grants};
use serde::Deserialize;

pub const REGISTRIES: &[&str] = &["hub", "ghcr", "internal"];
/// The sign-in providers of most tables: several, GitHub among them, so every group names its
/// provider.
pub fn providers() -> Vec<Provider> {
    vec![Provider::oidc("keycloak"), Provider::github("github", &["acme"]), Provider::proxy()]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    grants: Vec<RawGrant>,
}

/// The `[[grants]]` of a config snippet, as the server would read them.
pub fn raw(config: &str) -> Vec<RawGrant> {
    toml::from_str::<Config>(config).unwrap_or_else(|e| panic!("bad test config: {e}")).grants
}

pub fn grants(config: &str) -> Vec<Grant> {
    validate_grants(&raw(config), REGISTRIES, &providers()).unwrap_or_else(|errors| panic!("invalid test grants: {errors:#?}"))
}

/// A policy with sign-in configured, the given grants, and anonymous read where listed.
pub fn access(config: &str, anonymous_read: &[(&str, bool)]) -> Access {
    let anonymous_read: BTreeMap<String, bool> = anonymous_read.iter().map(|(name, on)| (name.to_string(), *on)).collect();
    Access::new(grants(config), anonymous_read)
}

/// A policy with the given grants and sign-in providers, no anonymous read.
pub fn access_with(config: &str, providers: &[Provider]) -> Access {
    let grants = validate_grants(&raw(config), REGISTRIES, providers).unwrap_or_else(|errors| panic!("invalid test grants: {errors:#?}"));
    Access::new(grants, BTreeMap::new())
}

pub fn person(provider: &str, subject: &str) -> Identity {
    Identity::new(provider, subject)
}

pub fn in_groups(provider: &str, groups: &[&str]) -> Identity {
    Identity { groups: groups.iter().map(|g| g.to_string()).collect(), ..Identity::new(provider, "someone") }
}

pub fn with_email(provider: &str, email: &str, verified: bool) -> Identity {
    Identity { email: Some(email.to_owned()), email_verified: verified, ..Identity::new(provider, "someone") }
}

pub struct Case {
    pub name: &'static str,
    pub who: Option<Identity>,
    pub registry: &'static str,
    pub repository: Option<&'static str>,
    pub want: Option<Role>,
}

pub fn case(
    name: &'static str,
    who: Option<Identity>,
    registry: &'static str,
    repository: Option<&'static str>,
    want: Option<Role>,
) -> Case {
    Case { name, who, registry, repository, want }
}

/// Runs every case and reports all failures together, so a table shows its whole picture.
pub fn check(access: &Access, cases: &[Case]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            let got = access.role_for(c.who.as_ref(), c.registry, c.repository);
            // The explanation must always agree with the decision it explains.
            let explained = access.explain(c.who.as_ref(), c.registry, c.repository).role;
            (got != c.want || explained != got).then(|| {
                format!("{}: {} {:?}: want {:?}, got {:?} (explain says {:?})", c.name, c.registry, c.repository, c.want, got, explained)
            })
        })
        .collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
