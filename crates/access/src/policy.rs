//! The policy: grants, anonymous read per registry, and open mode, and the role they give.
//!
//! Roles only add up: the answer is the highest role of any grant that covers the place and
//! names the person, plus viewer where anonymous read is on. Nothing takes a role away.

use std::collections::BTreeMap;

use crate::{Grant, Identity, Role};

/// Who may do what, for the whole server. Cheap to share behind an `Arc`; rebuilt on reload.
#[derive(Clone, Debug, Default)]
pub struct Access {
    pub(crate) grants: Vec<Grant>,
    pub(crate) anonymous_read: BTreeMap<String, bool>,
    pub(crate) open: bool,
}

impl Access {
    /// No sign-in is configured: Portolan is an open, read-only browser. Everyone, signed in or
    /// not, is viewer on every registry, and nobody is more.
    pub fn open() -> Self {
        Access { grants: Vec::new(), anonymous_read: BTreeMap::new(), open: true }
    }

    /// Sign-in is configured: roles come from `grants`, and visitors who are not signed in may
    /// browse the registries whose `anonymous_read` is `true` (missing means `false`).
    pub fn new(grants: Vec<Grant>, anonymous_read: BTreeMap<String, bool>) -> Self {
        Access { grants, anonymous_read, open: false }
    }

    pub fn is_open(&self) -> bool {
        self.open
    }

    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// Whether visitors who are not signed in may browse `registry` (always, in open mode).
    pub fn anonymous_read(&self, registry: &str) -> bool {
        self.open || self.anonymous_read.get(registry).copied().unwrap_or(false)
    }

    /// The role `who` (`None`: not signed in) has on `registry`, in `repository`; `None` means
    /// no access at all.
    ///
    /// With `repository` `None`, the question is about the registry itself (its page, its
    /// catalog): every grant whose registry pattern matches counts, whatever its repository
    /// patterns. So someone who maintains `team/*` is maintainer "on the registry", which lets
    /// them see it; it does not let them act anywhere else in it: act on a repository only
    /// after asking with that repository, and filter a catalog the same way, one repository at
    /// a time.
    pub fn role_for(&self, who: Option<&Identity>, registry: &str, repository: Option<&str>) -> Option<Role> {
        if self.open {
            return Some(Role::Viewer);
        }
        let granted = who.and_then(|who| {
            self.grants.iter().filter(|grant| grant.covers(registry, repository) && grant.names(who)).map(Grant::role).max()
        });
        // `Option`'s order puts `None` below any role, so `max` combines "no access" correctly.
        let role = granted.max(self.anonymous_read(registry).then_some(Role::Viewer));
        capped(who, role, |cap| cap.allows(registry, repository))
    }

    /// The role `who` has over every repository of `registry` that the globs `patterns` can
    /// match — what acting on a whole scope (a retention policy) needs, where
    /// [`role_for`](Access::role_for) with no repository only says the registry may be seen.
    /// For each pattern, the highest role of a grant naming `who` that surely covers it (see
    /// [`Grant::covers_pattern`]); over the patterns, the lowest. No patterns: no role.
    pub fn role_over(&self, who: Option<&Identity>, registry: &str, patterns: &[String]) -> Option<Role> {
        if patterns.is_empty() {
            return None;
        }
        if self.open {
            return Some(Role::Viewer);
        }
        let anonymous = self.anonymous_read(registry).then_some(Role::Viewer);
        patterns
            .iter()
            .map(|pattern| {
                let granted = who.and_then(|who| {
                    self.grants.iter().filter(|g| g.covers_pattern(registry, pattern) && g.names(who)).map(Grant::role).max()
                });
                capped(who, granted.max(anonymous), |cap| cap.allows_pattern(registry, pattern))
            })
            .min()
            .flatten()
    }

    /// The highest role `who` has anywhere, e.g. to decide which links the header shows.
    pub fn highest_role(&self, who: Option<&Identity>) -> Option<Role> {
        if self.open {
            return Some(Role::Viewer);
        }
        let granted = who.and_then(|who| self.grants.iter().filter(|grant| grant.names(who)).map(Grant::role).max());
        let role = granted.max(self.anonymous_read.values().any(|&on| on).then_some(Role::Viewer));
        capped(who, role, |cap| Some(cap.raw().role))
    }
}

/// `role`, no higher than what `who`'s token allows (`allows` asks the cap), when they act
/// through one.
fn capped(who: Option<&Identity>, role: Option<Role>, allows: impl Fn(&crate::Cap) -> Option<Role>) -> Option<Role> {
    match who.and_then(|w| w.cap.as_ref()) {
        Some(cap) => role.min(allows(cap)),
        None => role,
    }
}
