//! How grants, anonymous read and open mode add up.

use portolan_access::Role::{Admin, Maintainer, Viewer};
use portolan_access::{Access, Identity};

use crate::{access, case, check, in_groups, person, with_email};

const CONFIG: &str = r#"
[[grants]]
role = "viewer"
domains = ["example.com"]

[[grants]]
role = "maintainer"
registry = "hub"
repositories = ["team/*"]
groups = ["keycloak:/platform/devs"]

[[grants]]
role = "admin"
registry = "hub"
repositories = ["team/api"]
groups = ["keycloak:/platform/admins"]

[[grants]]
role = "maintainer"
registry = "ghcr"
repositories = ["ops/**"]
groups = ["github:acme/ops"]
"#;

fn dev_and_admin() -> Identity {
    Identity {
        email: Some("dee@example.com".into()),
        email_verified: true,
        groups: vec!["/platform/devs".into(), "/platform/admins".into()],
        ..Identity::new("keycloak", "dee")
    }
}

#[test]
fn highest_role_wins_and_anonymous_read_is_per_registry() {
    let access = access(CONFIG, &[("hub", true), ("internal", false)]);
    let dee = || Some(dev_and_admin());
    let outsider = || Some(with_email("github", "x@elsewhere.org", true));
    check(
        &access,
        &[
            case("admin grant beats maintainer and viewer", dee(), "hub", Some("team/api"), Some(Admin)),
            case("maintainer beats viewer", dee(), "hub", Some("team/web"), Some(Maintainer)),
            case("only the domain grant", dee(), "hub", Some("other/thing"), Some(Viewer)),
            case("only the domain grant elsewhere", dee(), "internal", Some("team/api"), Some(Viewer)),
            case("registry page: every grant on the registry counts", dee(), "hub", None, Some(Admin)),
            case("registry page elsewhere", dee(), "ghcr", None, Some(Viewer)),
            case("anonymous read on hub", None, "hub", Some("team/api"), Some(Viewer)),
            case("anonymous read on hub page", None, "hub", None, Some(Viewer)),
            case("anonymous read off on internal", None, "internal", Some("team/api"), None),
            case("anonymous read unset on ghcr", None, "ghcr", None, None),
            case("anonymous read covers the signed-in too", outsider(), "hub", Some("a"), Some(Viewer)),
            case("outsider elsewhere", outsider(), "ghcr", Some("a"), None),
            case("github team on ghcr", Some(in_groups("github", &["acme/ops"])), "ghcr", Some("ops/a/b"), Some(Maintainer)),
            case("github team outside its repos", Some(in_groups("github", &["acme/ops"])), "ghcr", Some("dev/a"), None),
            case("github team on its registry page", Some(in_groups("github", &["acme/ops"])), "ghcr", None, Some(Maintainer)),
        ],
    );
}

#[test]
fn highest_role_anywhere() {
    let with_anonymous = access(CONFIG, &[("hub", true)]);
    let without = access(CONFIG, &[("hub", false)]);
    assert_eq!(with_anonymous.highest_role(Some(&dev_and_admin())), Some(Admin));
    assert_eq!(with_anonymous.highest_role(Some(&in_groups("github", &["acme/ops"]))), Some(Maintainer));
    assert_eq!(with_anonymous.highest_role(Some(&person("proxy", "nobody"))), Some(Viewer));
    assert_eq!(with_anonymous.highest_role(None), Some(Viewer));
    assert_eq!(without.highest_role(Some(&person("proxy", "nobody"))), None);
    assert_eq!(without.highest_role(None), None);
    assert_eq!(Access::open().highest_role(None), Some(Viewer));
}

#[test]
fn open_mode_is_viewer_for_everyone_and_never_more() {
    let open = Access::open();
    assert!(open.is_open());
    check(
        &open,
        &[
            case("visitor", None, "hub", Some("team/api"), Some(Viewer)),
            case("visitor on a registry page", None, "internal", None, Some(Viewer)),
            case("signed in", Some(dev_and_admin()), "hub", Some("team/api"), Some(Viewer)),
        ],
    );
}

#[test]
fn closed_by_default() {
    let nothing = Access::default();
    check(&nothing, &[case("visitor", None, "hub", None, None), case("signed in", Some(dev_and_admin()), "hub", Some("team/api"), None)]);
}
