//! Validation: every mistake at once, each with where it is.

use portolan_access::{GrantError, Provider, RawGrant, Role, Subject, grant_warnings, validate_grants};

use crate::{REGISTRIES, providers, raw};

fn errors(config: &str) -> Vec<GrantError> {
    validate_grants(&raw(config), REGISTRIES, &providers()).expect_err("should be invalid")
}

#[test]
fn reports_every_mistake_with_where() {
    let errors = errors(
        r#"
        [[grants]]
        role = "viewer"
        signed_in = true

        [[grants]]
        role = "owner"
        registry = "hbu"
        users = ["1b2c", "gitlab:7", "keycloak:", ""]

        [[grants]]
        role = "maintainer"
        repositories = ["ok/*", "team/["]
        emails = ["alice.example.com", "bob@example.com"]
        domains = ["alice@example.com", "*.example.com", "example.com"]
        groups = ["keycloak:/", "keycloak:fine"]

        [[grants]]
        role = "admin"
        registry = "["
        repositories = []

        [[grants]]
        role = "admin"
        "#,
    );
    let at: Vec<&str> = errors.iter().map(|e| e.at.as_str()).collect();
    assert_eq!(
        at,
        [
            "grants[1].role",
            "grants[1].registry",
            "grants[1].users[0]",
            "grants[1].users[1]",
            "grants[1].users[2]",
            "grants[1].users[3]",
            "grants[2].repositories[1]",
            "grants[2].emails[0]",
            "grants[2].domains[0]",
            "grants[2].domains[1]",
            "grants[2].groups[0]",
            "grants[3].registry",
            "grants[3].repositories",
            "grants[3]",
            "grants[4]",
        ],
        "{errors:#?}"
    );
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let expected_start = [
        "grants[1].role: \"owner\" is not a role; use viewer, maintainer or admin",
        "grants[1].registry: \"hbu\" matches none of the configured registries (hub, ghcr, internal)",
        "grants[1].users[0]: \"1b2c\" must be written provider:subject",
        "grants[1].users[1]: \"gitlab:7\" names the provider \"gitlab\", which is not configured (configured: keycloak, github, proxy)",
        "grants[1].users[2]: \"keycloak:\" has no subject",
        "grants[1].users[3]: is empty",
        "grants[2].repositories[1]: \"team/[\" is not a valid pattern (unclosed character class; missing ']')",
        "grants[2].emails[0]: \"alice.example.com\" is not an email address",
        "grants[2].domains[0]: \"alice@example.com\" is an email, not a domain",
        "grants[2].domains[1]: \"*.example.com\" is not a domain",
        "grants[2].groups[0]: \"keycloak:/\" has no group name",
        "grants[3].registry: \"[\" is not a valid pattern (",
        "grants[3].repositories: is empty",
        "grants[3]: names nobody",
        "grants[4]: names nobody",
    ];
    for (shown, start) in shown.iter().zip(expected_start) {
        assert!(shown.starts_with(start), "{shown:?} should start with {start:?}");
    }
}

#[test]
fn defaults_and_normalisation() {
    let raw = crate::raw(
        r#"
        [[grants]]
        role = "Admin"
        users = [" keycloak:1b2c "]
        emails = ["Alice@Example.COM"]
        domains = ["Example.com"]
        groups = ["keycloak:/platform/admins", "github:acme/ops", "proxy:a:b", " github : /acme "]
        "#,
    );
    assert_eq!(raw[0].registry, "*");
    assert_eq!(raw[0].repositories, ["**"]);
    let grants = validate_grants(&raw, REGISTRIES, &providers()).unwrap();
    let grant = &grants[0];
    assert_eq!(grant.role(), Role::Admin);
    assert_eq!(grant.registry(), "*");
    assert_eq!(grant.repositories(), ["**"]);
    assert_eq!(
        grant.subjects(),
        [
            Subject::User { provider: "keycloak".into(), subject: "1b2c".into() },
            Subject::Email("alice@example.com".into()),
            Subject::Domain("example.com".into()),
            Subject::Group { provider: Some("keycloak".into()), name: "/platform/admins".into() },
            Subject::Group { provider: Some("github".into()), name: "acme/ops".into() },
            Subject::Group { provider: Some("proxy".into()), name: "a:b".into() },
            Subject::Group { provider: Some("github".into()), name: "/acme".into() },
        ]
    );
    assert_eq!(grant.subjects()[3].to_string(), "group \"/platform/admins\" from keycloak");
}

#[test]
fn registries_and_providers_must_exist() {
    let grant = RawGrant { groups: vec!["keycloak:ops".into()], ..RawGrant::default() };
    let none = validate_grants(std::slice::from_ref(&grant), &[], &providers()).unwrap_err();
    assert_eq!(none[0].to_string(), "grants[0].registry: \"*\" matches no registry: none are configured");
    let user = RawGrant { users: vec!["keycloak:1".into()], ..RawGrant::default() };
    let no_providers = validate_grants(&[user], REGISTRIES, &[]).unwrap_err();
    assert!(no_providers[0].message.ends_with("(no sign-in provider is configured)"), "{no_providers:?}");
    let glob = RawGrant { registry: "g*".into(), signed_in: true, ..RawGrant::default() };
    assert!(validate_grants(&[glob], REGISTRIES, &providers()).is_ok());
}

#[test]
fn unknown_fields_are_rejected() {
    let err = toml::from_str::<RawGrant>("role = \"viewer\"\nsigned_in = true\ngroup = [\"ops\"]\n").unwrap_err();
    assert!(err.to_string().contains("unknown field `group`"), "{err}");
}

#[test]
fn raw_grants_round_trip() {
    let raw = RawGrant { role: "maintainer".into(), registry: "hub".into(), groups: vec!["ops".into()], ..RawGrant::default() };
    let text = toml::to_string(&raw).unwrap();
    assert_eq!(text, "role = \"maintainer\"\nregistry = \"hub\"\nrepositories = [\"**\"]\ngroups = [\"ops\"]\n");
    assert_eq!(toml::from_str::<RawGrant>(&text).unwrap(), raw);
}

/// A validated subject, or the message of the mistake.
type Outcome = Result<Subject, String>;

/// A group naming no provider matches that name from any provider. Accepted only with a single
/// provider that is not GitHub; anywhere else another provider's group — or a GitHub org and team
/// anyone can create by a free name (org `platform`, team `admins`) — would get the grant.
#[test]
fn groups_and_the_providers_configured() {
    let keycloak = || Provider::oidc("keycloak");
    let open_github = || Provider::github("github", &[]);
    let github = || Provider::github("github", &["acme"]);
    let group = |provider: Option<&str>, name: &str| Ok(Subject::Group { provider: provider.map(str::to_owned), name: name.to_owned() });
    let refused = |message: &str| Err(message.to_owned());
    // Each: what it shows, the providers configured, the group entry, and what it becomes.
    let cases: Vec<(&str, Vec<Provider>, &str, Outcome)> = vec![
        ("one OIDC provider: a bare group", vec![keycloak()], "/platform/admins", group(None, "/platform/admins")),
        ("one OIDC provider: a bare group with a colon", vec![keycloak()], "a:b", group(None, "a:b")),
        ("the proxy alone: a bare group", vec![Provider::proxy()], "admins", group(None, "admins")),
        ("one OIDC provider: its group", vec![keycloak()], "keycloak:/platform/admins", group(Some("keycloak"), "/platform/admins")),
        (
            "two providers: a bare group",
            vec![keycloak(), Provider::proxy()],
            "ops",
            refused(
                "\"ops\" names no provider: a group of that name from any of keycloak, proxy would match; \
                 write it \"<provider>:<group>\", e.g. \"keycloak:ops\"",
            ),
        ),
        (
            "two providers: an unknown prefix",
            vec![keycloak(), Provider::proxy()],
            "gitlab:ops",
            refused(
                "\"gitlab:ops\" names no provider (\"gitlab\" is not a configured provider: keycloak, proxy): a group of that \
                 name from any of keycloak, proxy would match; write it \"<provider>:<group>\", e.g. \"keycloak:gitlab:ops\"",
            ),
        ),
        (
            "GitHub alone: a bare group",
            vec![open_github()],
            "registry-admins",
            refused(
                "\"registry-admins\" names no provider: a group of that name from any provider would match, and with github \
                 (GitHub) sign-in anyone can create a GitHub org and team by a free name to get one; write it \
                 \"<provider>:<group>\", e.g. \"github:registry-admins\"; a GitHub group names an org you own, e.g. \
                 \"github:acme/ops\"",
            ),
        ),
        (
            "GitHub with allowed orgs and Keycloak: a Keycloak path written bare",
            vec![keycloak(), github()],
            "/platform/admins",
            refused(
                "\"/platform/admins\" names no provider: a group of that name from any provider would match, and with github \
                 (GitHub) sign-in anyone can create a GitHub org and team by a free name to get one; write it \
                 \"<provider>:<group>\", e.g. \"keycloak:/platform/admins\"; a GitHub group names an org you own, e.g. \
                 \"github:acme/ops\"",
            ),
        ),
        ("GitHub: an org", vec![github()], "github:acme", group(Some("github"), "acme")),
        ("GitHub: a team", vec![keycloak(), github()], "github:acme/ops", group(Some("github"), "acme/ops")),
        ("GitHub: a team with a leading slash", vec![github()], "github:/acme/ops", group(Some("github"), "/acme/ops")),
        (
            "GitHub: three parts",
            vec![github()],
            "github:acme/ops/x",
            refused(
                "\"github:acme/ops/x\" matches no GitHub group: GitHub's groups are an org (\"github:acme\") or an org and a \
                 team slug (\"github:acme/ops\")",
            ),
        ),
        (
            "GitHub: no team after the slash",
            vec![github()],
            "github:acme/",
            refused(
                "\"github:acme/\" matches no GitHub group: GitHub's groups are an org (\"github:acme\") or an org and a team \
                 slug (\"github:acme/ops\")",
            ),
        ),
        ("another provider's group keeps its shape", vec![keycloak(), github()], "keycloak:a/b/c", group(Some("keycloak"), "a/b/c")),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(name, providers, entry, want)| {
            let raw = RawGrant { groups: vec![(*entry).to_owned()], ..RawGrant::default() };
            let got = match validate_grants(&[raw], REGISTRIES, providers) {
                Ok(grants) => Ok(grants[0].subjects()[0].clone()),
                Err(errors) => {
                    assert_eq!(errors.len(), 1, "{name}: {errors:?}");
                    assert_eq!(errors[0].at, "grants[0].groups[0]", "{name}");
                    Err(errors[0].message.clone())
                }
            };
            (got != *want).then(|| format!("{name}: {entry:?}\n  want {want:?}\n  got  {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

/// Bare groups are reported with every other mistake, each where it is.
#[test]
fn bare_groups_are_reported_with_the_rest() {
    let errors = errors(
        r#"
        [[grants]]
        role = "admin"
        groups = ["/platform/admins"]

        [[grants]]
        role = "owner"
        groups = ["keycloak:/platform/devs", "registry-admins"]
        "#,
    );
    let at: Vec<&str> = errors.iter().map(|e| e.at.as_str()).collect();
    assert_eq!(at, ["grants[0].groups[0]", "grants[1].role", "grants[1].groups[1]"], "{errors:#?}");
    assert!(errors[0].message.contains("names no provider"), "{errors:#?}");
    assert!(errors[2].message.contains("e.g. \"keycloak:registry-admins\""), "{errors:#?}");
}

/// GitHub groups while anyone with a GitHub account may sign in: valid, and warned about.
#[test]
fn github_groups_without_allowed_orgs_are_warned_about() {
    let config = r#"
        [[grants]]
        role = "viewer"
        groups = ["keycloak:/platform/devs"]

        [[grants]]
        role = "admin"
        groups = ["keycloak:/platform/admins", "github:acme/ops"]
        "#;
    let open = [Provider::oidc("keycloak"), Provider::github("github", &[])];
    let grants = validate_grants(&raw(config), REGISTRIES, &open).unwrap();
    let warnings = grant_warnings(&grants, &open);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert_eq!(warnings[0].at, "grants[1]");
    assert!(
        warnings[0].message.starts_with(
            "names the GitHub group \"github:acme/ops\" while anyone with a GitHub account may sign in with github (its \
             allowed_orgs is empty): make sure the org \"acme\" exists and is yours"
        ),
        "{warnings:#?}"
    );
    let restricted = [Provider::oidc("keycloak"), Provider::github("github", &["acme"])];
    let grants = validate_grants(&raw(config), REGISTRIES, &restricted).unwrap();
    assert_eq!(grant_warnings(&grants, &restricted), []);
}
