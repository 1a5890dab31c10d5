//! What each entry point needs of its caller, in one table: the server functions and routes
//! take the role they check from here, and the role-matrix test derives every expected status
//! from it (so a change of role is made once, and tested by what it says).

/// A role, as entry points declare it (the `portolan-access` roles, which the browser build
/// does not compile).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Viewer,
    Maintainer,
    Admin,
}

/// What an entry point needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Anyone; the answer holds only what the caller may see.
    Anyone,
    /// Someone signed in.
    SignedIn,
    /// This role on the repository the call names (and on its registry).
    On(Level),
    /// This role on the registry the call names, as a whole: a role on any part of it (the
    /// answer lists only the repositories the caller may see).
    OnRegistry(Level),
    /// This role over every repository a policy's globs (in the call's form) can match.
    OverScope(Level),
    /// `act` where the trash entry, policy or run the call names by id is (over a policy's or
    /// run's scope), after `act` somewhere; to someone below `see` there (None: without any
    /// role there) it does not exist: 404.
    Named { see: Option<Level>, act: Level },
    /// This role somewhere; the answer lists only what the caller may see.
    Somewhere(Level),
    /// This role over every repository of every registry (an admin of everything: everyone's
    /// API tokens).
    Everywhere(Level),
    /// Signed in, on what is the caller's own (an API token by id); an admin of everything may
    /// act on anyone's. To others it does not exist: 404.
    Own,
}

/// One entry point: a server function (by name) or a route (by its path pattern).
#[derive(Clone, Copy, Debug)]
pub struct EntryPoint {
    pub name: &'static str,
    pub need: Need,
    /// A change: refusals of signed-in people are audited under this action, and cross-site
    /// requests are refused.
    pub change: Option<&'static str>,
}

const fn read(name: &'static str, need: Need) -> EntryPoint {
    EntryPoint { name, need, change: None }
}

const fn change(name: &'static str, need: Need, action: &'static str) -> EntryPoint {
    EntryPoint { name, need, change: Some(action) }
}

use Level::{Admin, Maintainer, Viewer};
use Need::{Anyone, Everywhere, Named, On, OnRegistry, OverScope, Own, SignedIn, Somewhere};

/// Every server function.
pub const SERVER_FUNCTIONS: &[EntryPoint] = &[
    read("list_registries", Anyone),
    read("get_sign_in_options", Anyone),
    read("session_info", Anyone),
    read("search", Anyone),
    read("box_search", Anyone),
    read("where_used", Anyone),
    read("list_repositories", OnRegistry(Viewer)),
    read("repository_summaries", On(Viewer)),
    read("also_used_by", On(Viewer)),
    read("get_registry_storage", OnRegistry(Viewer)),
    read("get_repository_storage", On(Viewer)),
    read("get_verification", On(Viewer)),
    read("list_tags", On(Viewer)),
    read("tag_details", On(Viewer)),
    read("get_artifact", On(Viewer)),
    read("get_blob", On(Viewer)),
    read("get_graph", On(Viewer)),
    read("get_diff", On(Viewer)),
    change("preview_delete", On(Maintainer), "delete-preview"),
    change("apply_delete", On(Maintainer), "delete"),
    read("trash_list", Somewhere(Maintainer)),
    change("trash_restore", Named { see: None, act: Maintainer }, "restore"),
    change("trash_purge", Named { see: None, act: Admin }, "purge"),
    read("audit_list", Somewhere(Admin)),
    read("request_outcome", SignedIn),
    read("get_policies", Somewhere(Maintainer)),
    read("get_policy", Named { see: Some(Maintainer), act: Maintainer }),
    read("preview_policy", OverScope(Maintainer)),
    change("save_policy", OverScope(Admin), "policy-save"),
    change("delete_policy", Named { see: Some(Maintainer), act: Admin }, "policy-delete"),
    change("run_policy", Named { see: Some(Maintainer), act: Maintainer }, "policy-run"),
    change("stop_run", Named { see: Some(Maintainer), act: Maintainer }, "policy-run-stop"),
    read("get_run", Named { see: Some(Maintainer), act: Maintainer }),
    read("list_tokens", SignedIn),
    read("list_all_tokens", Everywhere(Admin)),
    change("create_token", SignedIn, "token-create"),
    change("revoke_token", Own, "token-revoke"),
];

/// The routes besides pages and server functions that check a role themselves.
pub const ROUTES: &[EntryPoint] = &[
    read("/badge/{registry}/{*path}", On(Viewer)),
    read("/api/v1/referrers/{registry}/{*path}", On(Viewer)),
    read("/admin/audit.csv", Somewhere(Admin)),
    read("/admin/audit.json", Somewhere(Admin)),
];

/// The entry point named `name` (a server function's name, or a route's pattern).
pub fn entry(name: &str) -> Option<&'static EntryPoint> {
    SERVER_FUNCTIONS.iter().chain(ROUTES).find(|e| e.name == name)
}

/// The role `name` needs to act (its `act` for a named object). An entry point missing from
/// the table needs the highest role: it fails closed (and the role-matrix test fails).
pub fn level(name: &str) -> Level {
    match entry(name).map(|e| e.need) {
        Some(On(l) | OnRegistry(l) | OverScope(l) | Somewhere(l) | Everywhere(l) | Named { act: l, .. }) => l,
        Some(Anyone | SignedIn | Own) => Viewer,
        None => Admin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_changes_need_more_than_viewing() {
        let mut names: Vec<&str> = SERVER_FUNCTIONS.iter().chain(ROUTES).map(|e| e.name).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "an entry point is listed twice");
        for e in SERVER_FUNCTIONS.iter().filter(|e| e.change.is_some() && !matches!(e.need, SignedIn | Own)) {
            assert!(level(e.name) >= Maintainer, "{} changes something in registries: viewers may not", e.name);
        }
        assert_eq!(level("not-listed"), Admin, "unknown entry points fail closed");
    }
}
