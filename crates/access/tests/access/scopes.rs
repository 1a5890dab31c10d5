//! Roles over a scope of repository globs (a retention policy's): a grant on part of a
//! registry must not reach the rest of it through a policy.

use globset::{GlobBuilder, GlobSetBuilder};
use portolan_access::Role::{self, Admin, Maintainer, Viewer};

use crate::{access, person};

const CONFIG: &str = r#"
[[grants]]
role = "admin"
registry = "hub"
repositories = ["team/**", "tools/cli"]
users = ["keycloak:ana"]

[[grants]]
role = "maintainer"
registry = "hub"
repositories = ["team/*", "lib/{a,b}"]
users = ["keycloak:ben"]

[[grants]]
role = "admin"
registry = "*"
users = ["keycloak:cho"]

[[grants]]
role = "viewer"
registry = "hub"
users = ["keycloak:ana"]
"#;

fn scope(patterns: &[&str]) -> Vec<String> {
    patterns.iter().map(|p| (*p).to_owned()).collect()
}

#[test]
fn a_scope_needs_the_role_on_every_repository_it_can_match() {
    let access = access(CONFIG, &[("hub", true)]);
    let ana = Some(person("keycloak", "ana"));
    let ben = Some(person("keycloak", "ben"));
    let cho = Some(person("keycloak", "cho"));
    let cases: &[(&str, &Option<_>, &[&str], Option<Role>)] = &[
        ("the grant's own pattern", &ana, &["team/**"], Some(Admin)),
        ("narrower, inside prefix/**", &ana, &["team/*"], Some(Admin)),
        ("deeper, inside prefix/**", &ana, &["team/web/*-cache"], Some(Admin)),
        ("a plain name the grant matches", &ana, &["team/api"], Some(Admin)),
        ("a plain name granted exactly", &ana, &["tools/cli"], Some(Admin)),
        ("every repository: only the registry-wide viewer grant", &ana, &["**"], Some(Viewer)),
        ("a look-alike prefix is not inside", &ana, &["teams/**"], Some(Viewer)),
        ("a wildcard before the prefix is not inside", &ana, &["*/api"], Some(Viewer)),
        ("the lowest over the patterns", &ana, &["team/**", "other/*"], Some(Viewer)),
        ("one segment does not cover deeper patterns", &ben, &["team/**"], Some(Viewer)),
        ("the same pattern", &ben, &["team/*"], Some(Maintainer)),
        ("plain names under an alternative", &ben, &["lib/a", "lib/b", "team/x"], Some(Maintainer)),
        ("the same alternative", &ben, &["lib/{a,b}"], Some(Maintainer)),
        ("an alternative written otherwise is not assumed inside", &ben, &["lib/{b,a}"], Some(Viewer)),
        ("registry-wide admin", &cho, &["**", "a/*"], Some(Admin)),
        ("no patterns, no role", &cho, &[], None),
        ("visitors: anonymous read only", &None, &["team/*"], Some(Viewer)),
        ("signed-in people keep anonymous read", &ben, &["other/*"], Some(Viewer)),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(name, who, patterns, want)| {
            let got = access.role_over(who.as_ref(), "hub", &scope(patterns));
            (got != *want).then(|| format!("{name}: {patterns:?}: want {want:?}, got {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(access.role_over(ana.as_ref(), "ghcr", &scope(&["team/**"])), None, "grants are per registry");
    assert!(access.require_over(ben.as_ref(), "hub", &scope(&["**"]), Maintainer).unwrap_err().to_string().contains("maintainer"));
    assert_eq!(access.require_over(None, "hub", &scope(&["team/*"]), Maintainer), Err(portolan_access::Denied::SignInRequired));
}

/// Soundness: whatever role a scope gets, the person has at least that role on every
/// repository (of a varied sample) the scope's globs match.
#[test]
fn a_role_over_a_scope_never_exceeds_the_role_on_any_repository_in_it() {
    let access = access(CONFIG, &[]);
    let people = [person("keycloak", "ana"), person("keycloak", "ben"), person("keycloak", "cho")];
    let names =
        ["team", "team/api", "team/web/x", "teams/api", "tools/cli", "tools/cli2", "lib/a", "lib/b", "lib/c", "lib/a/b", "other/api", "x"];
    let patterns = [
        "**",
        "*",
        "team/**",
        "team/*",
        "team/api",
        "team/web/*",
        "teams/**",
        "*/api",
        "lib/{a,b}",
        "lib/*",
        "lib/a",
        "tools/*",
        "tools/cli",
        "t*/**",
        "team/?pi",
        "[lt]*/**",
    ];
    for who in &people {
        for pattern in patterns {
            let Some(over) = access.role_over(Some(who), "hub", &scope(&[pattern])) else { continue };
            let mut set = GlobSetBuilder::new();
            set.add(GlobBuilder::new(pattern).literal_separator(true).build().unwrap());
            let set = set.build().unwrap();
            for name in names.iter().filter(|n| set.is_match(n)) {
                let here = access.role_for(Some(who), "hub", Some(name));
                assert!(here >= Some(over), "{}: {pattern} gives {over:?} but {name} only {here:?}", who.subject);
            }
        }
    }
}
