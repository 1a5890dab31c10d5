//! Validation: every mistake at once, each with where it is.

use portolan_access::{GrantError, RawGrant, Role, Subject, validate_grants};

use crate::{PROVIDERS, REGISTRIES, raw};

fn errors(config: &str) -> Vec<GrantError> {
    validate_grants(&raw(config), REGISTRIES, PROVIDERS).expect_err("should be invalid")
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
        groups = ["keycloak:/", "fine"]

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
        groups = ["keycloak:/platform/admins", "github:acme/ops", "elsewhere:x", "/plain"]
        "#,
    );
    assert_eq!(raw[0].registry, "*");
    assert_eq!(raw[0].repositories, ["**"]);
    let grants = validate_grants(&raw, REGISTRIES, PROVIDERS).unwrap();
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
            Subject::Group { provider: None, name: "elsewhere:x".into() },
            Subject::Group { provider: None, name: "/plain".into() },
        ]
    );
    assert_eq!(grant.subjects()[3].to_string(), "group \"/platform/admins\" from keycloak");
    assert_eq!(grant.subjects()[6].to_string(), "group \"/plain\" from any provider");
}

#[test]
fn registries_and_providers_must_exist() {
    let grant = RawGrant { groups: vec!["ops".into()], ..RawGrant::default() };
    let none = validate_grants(std::slice::from_ref(&grant), &[], PROVIDERS).unwrap_err();
    assert_eq!(none[0].to_string(), "grants[0].registry: \"*\" matches no registry: none are configured");
    let user = RawGrant { users: vec!["keycloak:1".into()], ..RawGrant::default() };
    let no_providers = validate_grants(&[user], REGISTRIES, &[]).unwrap_err();
    assert!(no_providers[0].message.ends_with("(no sign-in provider is configured)"), "{no_providers:?}");
    let glob = RawGrant { registry: "g*".into(), signed_in: true, ..RawGrant::default() };
    assert!(validate_grants(&[glob], REGISTRIES, PROVIDERS).is_ok());
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
