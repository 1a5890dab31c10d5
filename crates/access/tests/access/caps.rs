//! An API token's cap: a token acts for its owner, never above its scope nor above its owner.

use portolan_access::Role::{Admin, Maintainer, Viewer};
use portolan_access::{Cap, Identity, RawCap, Role};

use crate::{access, in_groups};

const CONFIG: &str = r#"
[[grants]]
role = "admin"
registry = "hub"
repositories = ["team/**"]
groups = ["keycloak:/platform/admins"]

[[grants]]
role = "viewer"
registry = "internal"
groups = ["keycloak:/platform/admins"]
"#;

fn with_cap(who: Identity, registry: &str, repositories: &[&str], role: Role) -> Identity {
    let raw = RawCap { token: 7, registry: registry.into(), repositories: repositories.iter().map(|s| (*s).into()).collect(), role };
    Identity { cap: Some(Cap::new(raw).unwrap()), ..who }
}

#[test]
fn a_token_is_the_lower_of_its_scope_and_its_owner() {
    let a = access(CONFIG, &[("ghcr", true)]);
    let owner = in_groups("keycloak", &["/platform/admins"]);
    assert_eq!(a.role_for(Some(&owner), "hub", Some("team/api")), Some(Admin));

    // Scoped to team/api as maintainer: maintainer there, nothing next door or elsewhere.
    let t = with_cap(owner.clone(), "hub", &["team/api"], Maintainer);
    assert_eq!(a.role_for(Some(&t), "hub", Some("team/api")), Some(Maintainer));
    assert_eq!(a.role_for(Some(&t), "hub", Some("team/web")), None, "another repository");
    assert_eq!(a.role_for(Some(&t), "internal", Some("x")), None, "another registry, where the owner is viewer");
    assert_eq!(a.role_for(Some(&t), "ghcr", Some("open/app")), None, "not even where anyone may browse");
    assert_eq!(a.highest_role(Some(&t)), Some(Maintainer));
    assert_eq!(a.role_over(Some(&t), "hub", &["team/api".into()]), Some(Maintainer));
    assert_eq!(a.role_over(Some(&t), "hub", &["team/**".into()]), None, "a scope wider than the token's");

    // A token asking for more than its owner has gets the owner's role: it loses what they lose.
    let t = with_cap(owner.clone(), "*", &["**"], Admin);
    assert_eq!(a.role_for(Some(&t), "internal", Some("x")), Some(Viewer));
    assert_eq!(a.role_for(Some(&t), "hub", Some("other/lib")), None);
    let demoted = Identity { groups: vec![], ..t.clone() };
    assert_eq!(a.role_for(Some(&demoted), "hub", Some("team/api")), None, "the owner left the group: the token has nothing");
    assert_eq!(a.role_for(Some(&demoted), "ghcr", Some("open/app")), Some(Viewer), "where anyone may browse, the token too");
}
