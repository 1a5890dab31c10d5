//! `explain`: the grants behind a role, for an admin page.

use portolan_access::Role::{Maintainer, Viewer};
use portolan_access::{Access, Explanation, GrantMatch, Identity, Reason};

use crate::access;

#[test]
fn two_grants_and_anonymous_read() {
    let access = access(
        r#"
        [[grants]]
        role = "viewer"
        domains = ["example.com"]

        [[grants]]
        role = "admin"
        registry = "ghcr"
        users = ["github:1"]

        [[grants]]
        role = "maintainer"
        registry = "hub"
        repositories = ["team/*"]
        groups = ["keycloak:/platform/admins", "keycloak:ops"]
        "#,
        &[("hub", true)],
    );
    let who = Identity {
        email: Some("Alice@Example.com".into()),
        email_verified: true,
        groups: vec!["/platform/admins".into()],
        ..Identity::new("keycloak", "alice")
    };
    let explanation = access.explain(Some(&who), "hub", Some("team/api"));
    assert_eq!(
        explanation,
        Explanation {
            registry: "hub".into(),
            repository: Some("team/api".into()),
            open: false,
            matched: vec![
                GrantMatch {
                    index: 0,
                    role: Viewer,
                    reason: Reason::Domain { email: "Alice@Example.com".into(), domain: "example.com".into() }
                },
                GrantMatch {
                    index: 2,
                    role: Maintainer,
                    reason: Reason::Group { group: "/platform/admins".into(), provider: "keycloak".into() }
                },
            ],
            anonymous_read: true,
            role: Some(Maintainer),
        }
    );
    assert_eq!(
        explanation.to_string(),
        "grants[0] gives viewer: verified email \"Alice@Example.com\" in domain example.com\n\
         grants[2] gives maintainer: group \"/platform/admins\" from keycloak\n\
         anonymous read on hub gives viewer\n\
         result: maintainer"
    );

    let elsewhere = access.explain(Some(&who), "hub", Some("other/api"));
    assert_eq!(elsewhere.matched.iter().map(|m| m.index).collect::<Vec<_>>(), vec![0]);
    assert_eq!(elsewhere.role, Some(Viewer));
}

#[test]
fn visitors_and_open_mode() {
    let access = access("[[grants]]\nrole = \"admin\"\nsigned_in = true\n", &[]);
    let visitor = access.explain(None, "hub", None);
    assert!(visitor.matched.is_empty() && !visitor.anonymous_read && visitor.role.is_none());
    assert_eq!(visitor.to_string(), "result: no access");

    let open = Access::open().explain(Some(&Identity::new("keycloak", "x")), "hub", None);
    assert!(open.open && open.matched.is_empty());
    assert_eq!(open.to_string(), "no sign-in is configured: everyone is viewer everywhere\nresult: viewer");
}
