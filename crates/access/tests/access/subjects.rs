//! Whom a grant names: users, emails, domains, groups, anyone signed in.

use portolan_access::Role::{Maintainer, Viewer};
use portolan_access::{Identity, Provider};

use crate::{access, access_with, case, check, in_groups, person, with_email};

#[test]
fn groups_name_their_provider() {
    let access = access(
        r#"
        [[grants]]
        role = "maintainer"
        groups = ["keycloak:/platform/admins"]

        [[grants]]
        role = "viewer"
        groups = ["keycloak:ops", "proxy:ops"]

        [[grants]]
        role = "maintainer"
        registry = "ghcr"
        groups = ["github:acme/ops", "proxy:a:b"]
        "#,
        &[],
    );
    check(
        &access,
        &[
            case("keycloak path as written", Some(in_groups("keycloak", &["/platform/admins"])), "hub", None, Some(Maintainer)),
            case("leading / is insignificant", Some(in_groups("keycloak", &["platform/admins"])), "hub", None, Some(Maintainer)),
            case("same path from GitHub (org platform, team admins)", Some(in_groups("github", &["platform/admins"])), "hub", None, None),
            case("same path from the proxy", Some(in_groups("proxy", &["/platform/admins"])), "hub", None, None),
            case("group names are case-sensitive", Some(in_groups("keycloak", &["/Platform/Admins"])), "hub", None, None),
            case("subgroup is another group", Some(in_groups("keycloak", &["/platform/admins/sub"])), "hub", None, None),
            case("ops from keycloak", Some(in_groups("keycloak", &["ops"])), "hub", None, Some(Viewer)),
            case("ops from the proxy", Some(in_groups("proxy", &["ops"])), "hub", None, Some(Viewer)),
            case("ops, keycloak path", Some(in_groups("keycloak", &["/ops"])), "hub", None, Some(Viewer)),
            case("an org called ops on GitHub", Some(in_groups("github", &["ops"])), "hub", None, None),
            case("github team slug", Some(in_groups("github", &["acme/ops"])), "ghcr", None, Some(Maintainer)),
            case("github team slug from keycloak", Some(in_groups("keycloak", &["acme/ops"])), "ghcr", None, None),
            case("colon in a group name", Some(in_groups("proxy", &["a:b"])), "ghcr", None, Some(Maintainer)),
            case("no groups", Some(in_groups("keycloak", &[])), "hub", None, None),
            case("one of several groups", Some(in_groups("keycloak", &["x", "/platform/admins", "y"])), "hub", None, Some(Maintainer)),
        ],
    );
}

/// With one sign-in provider, and not GitHub, a group may leave its provider out: only that
/// provider's administrators make groups.
#[test]
fn groups_without_provider_with_a_single_one() {
    let grants = r#"
        [[grants]]
        role = "maintainer"
        groups = ["/platform/admins"]

        [[grants]]
        role = "viewer"
        groups = ["ops", "a:b"]
        "#;
    let keycloak = access_with(grants, &[Provider::oidc("keycloak")]);
    check(
        &keycloak,
        &[
            case("keycloak path as written", Some(in_groups("keycloak", &["/platform/admins"])), "hub", None, Some(Maintainer)),
            case("written without the slash", Some(in_groups("keycloak", &["platform/admins"])), "hub", None, Some(Maintainer)),
            case("bare group", Some(in_groups("keycloak", &["ops"])), "hub", None, Some(Viewer)),
            case("colon in a bare group name", Some(in_groups("keycloak", &["a:b"])), "hub", None, Some(Viewer)),
            case("another group", Some(in_groups("keycloak", &["dev"])), "hub", None, None),
        ],
    );
    let proxy = access_with(grants, &[Provider::proxy()]);
    check(&proxy, &[case("the proxy's group", Some(in_groups("proxy", &["ops"])), "hub", Some("any"), Some(Viewer))]);
}

#[test]
fn emails_and_domains() {
    let access = access(
        r#"
        [[grants]]
        role = "maintainer"
        emails = ["Carol@Example.org"]

        [[grants]]
        role = "viewer"
        domains = ["Example.com"]
        "#,
        &[],
    );
    check(
        &access,
        &[
            case("email, any case", Some(with_email("github", "carol@example.ORG", true)), "hub", None, Some(Maintainer)),
            case("unverified email never matches", Some(with_email("github", "carol@example.org", false)), "hub", None, None),
            case("domain, any case", Some(with_email("keycloak", "alice@EXAMPLE.com", true)), "hub", None, Some(Viewer)),
            case("unverified domain never matches", Some(with_email("keycloak", "alice@example.com", false)), "hub", None, None),
            case("a lookalike domain does not match", Some(with_email("keycloak", "eve@evil-example.com", true)), "hub", None, None),
            case("subdomains do not match", Some(with_email("keycloak", "alice@sub.example.com", true)), "hub", None, None),
            case("domain must be the end", Some(with_email("keycloak", "alice@example.com.evil.io", true)), "hub", None, None),
            case("the domain is after the last @", Some(with_email("keycloak", "\"x@example.com\"@evil.io", true)), "hub", None, None),
            case("no email at all", Some(person("keycloak", "alice")), "hub", None, None),
        ],
    );
}

#[test]
fn users_and_signed_in() {
    let access = access(
        r#"
        [[grants]]
        role = "maintainer"
        registry = "hub"
        users = ["keycloak:1b2c-77", "github:4242"]

        [[grants]]
        role = "viewer"
        registry = "internal"
        signed_in = true
        "#,
        &[],
    );
    let named_alice = Identity { name: Some("alice".into()), email: Some("alice@example.com".into()), ..person("keycloak", "other") };
    check(
        &access,
        &[
            case("user by provider and subject", Some(person("keycloak", "1b2c-77")), "hub", Some("x"), Some(Maintainer)),
            case("second user entry", Some(person("github", "4242")), "hub", Some("x"), Some(Maintainer)),
            case("same subject, other provider", Some(person("github", "1b2c-77")), "hub", Some("x"), None),
            case("subjects are exact", Some(person("keycloak", "1B2C-77")), "hub", Some("x"), None),
            case("name and email are not the subject", Some(named_alice), "hub", Some("x"), None),
            case("signed in with any provider", Some(person("proxy", "whoever")), "internal", Some("x"), Some(Viewer)),
            case("signed_in only where granted", Some(person("proxy", "whoever")), "hub", Some("x"), None),
            case("signed_in excludes visitors", None, "internal", Some("x"), None),
            case("user also signed in", Some(person("keycloak", "1b2c-77")), "internal", None, Some(Viewer)),
        ],
    );
}
