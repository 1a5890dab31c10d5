//! `require`: a role, or the refusal the caller turns into 401, 403 or a read-only notice.

use portolan_access::Role::{self, Admin, Maintainer, Viewer};
use portolan_access::{Access, Denied, Identity};

use crate::{access, in_groups, person};

const CONFIG: &str = r#"
[[grants]]
role = "maintainer"
registry = "hub"
repositories = ["team/*"]
groups = ["keycloak:devs"]

[[grants]]
role = "viewer"
registry = "ghcr"
signed_in = true
"#;

#[test]
fn outcomes() {
    let access = access(CONFIG, &[("hub", true)]);
    let open = Access::open();
    let dev = || Some(in_groups("keycloak", &["devs"]));
    let nobody = || Some(person("keycloak", "nobody"));
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, &Access, Option<Identity>, &str, Option<&str>, Role, Result<Role, Denied>)> = vec![
        ("maintainer may delete in team", &access, dev(), "hub", Some("team/api"), Maintainer, Ok(Maintainer)),
        ("viewer asked, maintainer had", &access, dev(), "hub", Some("team/api"), Viewer, Ok(Maintainer)),
        (
            "maintainer may not edit policies",
            &access,
            dev(),
            "hub",
            Some("team/api"),
            Admin,
            Err(Denied::Forbidden { needed: Admin, have: Some(Maintainer) }),
        ),
        (
            "outside team only anonymous viewer",
            &access,
            dev(),
            "hub",
            Some("other/api"),
            Maintainer,
            Err(Denied::Forbidden { needed: Maintainer, have: Some(Viewer) }),
        ),
        ("visitor may browse hub", &access, None, "hub", Some("team/api"), Viewer, Ok(Viewer)),
        ("visitor with viewer needing more signs in", &access, None, "hub", Some("team/api"), Maintainer, Err(Denied::SignInRequired)),
        ("visitor without access signs in", &access, None, "internal", None, Viewer, Err(Denied::SignInRequired)),
        ("signed in on ghcr", &access, nobody(), "ghcr", None, Viewer, Ok(Viewer)),
        ("signed in but nothing here", &access, nobody(), "internal", None, Viewer, Err(Denied::Forbidden { needed: Viewer, have: None })),
        ("open: browse", &open, None, "hub", Some("a"), Viewer, Ok(Viewer)),
        ("open: signed in browse", &open, dev(), "hub", Some("a"), Viewer, Ok(Viewer)),
        ("open: no deleting", &open, None, "hub", Some("a"), Maintainer, Err(Denied::ReadOnly)),
        ("open: not even signed in", &open, dev(), "hub", Some("a"), Admin, Err(Denied::ReadOnly)),
    ];
    let failures: Vec<String> = cases
        .into_iter()
        .filter_map(|(name, access, who, registry, repository, needed, want)| {
            let got = access.require(who.as_ref(), registry, repository, needed);
            (got != want).then(|| format!("{name}: want {want:?}, got {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn messages_name_the_role_needed() {
    let forbidden = Denied::Forbidden { needed: Admin, have: Some(Maintainer) };
    assert_eq!(
        forbidden.to_string(),
        "this needs the admin role, and here you are a maintainer (you may browse, delete tags and artifacts, run retention policies \
         and restore from the trash): ask an admin to grant you admin"
    );
    let none = Denied::Forbidden { needed: Viewer, have: None };
    assert_eq!(none.to_string(), "you have no access here; this needs the viewer role: ask an admin to grant it to you");
    assert!(Denied::SignInRequired.to_string().contains("sign in"));
    assert!(Denied::ReadOnly.to_string().starts_with("nothing can be changed when no sign-in is configured"));
    let as_error: Box<dyn std::error::Error> = Box::new(Denied::ReadOnly);
    assert!(!as_error.to_string().is_empty());
}
