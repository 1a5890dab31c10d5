//! Registry and repository patterns: `/` is a separator, `*` stays within a segment.

use portolan_access::Role::{Admin, Maintainer, Viewer};

use crate::{access, case, check, person};

const CONFIG: &str = r#"
[[grants]]
role = "viewer"
registry = "*"
repositories = ["team/*"]
users = ["keycloak:ana"]

[[grants]]
role = "maintainer"
registry = "hub"
repositories = ["team/**"]
users = ["keycloak:ben"]

[[grants]]
role = "admin"
registry = "ghcr"
users = ["keycloak:cho"]

[[grants]]
role = "viewer"
registry = "h?b"
repositories = ["lib/{a,b}*", "exact"]
users = ["keycloak:dan"]
"#;

#[test]
fn globs_respect_the_separator() {
    let access = access(CONFIG, &[]);
    let ana = || Some(person("keycloak", "ana"));
    let ben = || Some(person("keycloak", "ben"));
    let cho = || Some(person("keycloak", "cho"));
    let dan = || Some(person("keycloak", "dan"));
    check(
        &access,
        &[
            case("* stays in a segment", ana(), "hub", Some("team/api"), Some(Viewer)),
            case("* does not cross /", ana(), "hub", Some("team/a/b"), None),
            case("* needs a segment", ana(), "hub", Some("team"), None),
            case("* is not a prefix match", ana(), "hub", Some("teams/api"), None),
            case("registry * is every registry", ana(), "internal", Some("team/api"), Some(Viewer)),
            case("** crosses /", ben(), "hub", Some("team/a/b"), Some(Maintainer)),
            case("** one level", ben(), "hub", Some("team/api"), Some(Maintainer)),
            case("team/** is inside team only", ben(), "hub", Some("other/api"), None),
            case("team/** does not match team itself", ben(), "hub", Some("team"), None),
            case("registry name is exact", ben(), "ghcr", Some("team/api"), None),
            case("default repositories are all", cho(), "ghcr", Some("a/b/c/d"), Some(Admin)),
            case("default repositories include top level", cho(), "ghcr", Some("alpine"), Some(Admin)),
            case("registry name not a prefix", cho(), "ghcr2", Some("alpine"), None),
            case("? in registry", dan(), "hub", Some("exact"), Some(Viewer)),
            case("alternatives", dan(), "hub", Some("lib/bar"), Some(Viewer)),
            case("alternatives exclude", dan(), "hub", Some("lib/car"), None),
            case("literal pattern is exact", dan(), "hub", Some("exact/sub"), None),
        ],
    );
}
