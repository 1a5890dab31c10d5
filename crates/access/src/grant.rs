//! A validated grant: a role, where it applies (registry and repository globs, compiled once),
//! and whom it names.

use globset::{GlobMatcher, GlobSet};

use crate::subject::Evidence;
use crate::{Identity, Reason, Role, Subject};

/// One grant, as produced by [`validate_grants`](crate::validate_grants); only that function
/// builds them, so every grant here names someone and has patterns that compiled.
#[derive(Clone, Debug)]
pub struct Grant {
    pub(crate) role: Role,
    pub(crate) registry: String,
    pub(crate) registry_glob: GlobMatcher,
    pub(crate) repositories: Vec<String>,
    pub(crate) repository_globs: GlobSet,
    pub(crate) subjects: Vec<Subject>,
}

impl Grant {
    pub fn role(&self) -> Role {
        self.role
    }

    /// The registry pattern as written.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository patterns as written.
    pub fn repositories(&self) -> &[String] {
        &self.repositories
    }

    pub fn subjects(&self) -> &[Subject] {
        &self.subjects
    }

    /// Whether the grant applies on this registry and repository. With no repository (the
    /// registry itself, e.g. its catalog page), the registry pattern alone decides: a grant on
    /// `team/*` in `hub` does apply to `hub` as a whole.
    pub fn covers(&self, registry: &str, repository: Option<&str>) -> bool {
        self.registry_glob.is_match(registry) && repository.is_none_or(|repository| self.repository_globs.is_match(repository))
    }

    /// Whether the grant applies on this registry to every repository the glob `pattern` can
    /// match (a retention policy's scope). Answered conservatively: yes when the grant has the
    /// pattern itself, or `**`, or `prefix/**` and the pattern starts with that literal
    /// `prefix/`, or when the pattern is a plain name the grant's globs match; no otherwise,
    /// even where a finer analysis might say yes.
    pub fn covers_pattern(&self, registry: &str, pattern: &str) -> bool {
        if !self.registry_glob.is_match(registry) {
            return false;
        }
        if is_literal(pattern) {
            return self.repository_globs.is_match(pattern);
        }
        self.repositories.iter().any(|g| {
            g == pattern
                || g == "**"
                || g.strip_suffix("/**")
                    .is_some_and(|prefix| is_literal(prefix) && pattern.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/')))
        })
    }

    /// Whether any of the grant's subjects names `who`.
    pub fn names(&self, who: &Identity) -> bool {
        self.evidence(who).is_some()
    }

    /// How `who` matched: the first subject (in the order written) that names them.
    pub fn reason(&self, who: &Identity) -> Option<Reason> {
        self.subjects.iter().find_map(|subject| subject.reason(who))
    }

    fn evidence<'a>(&self, who: &'a Identity) -> Option<Evidence<'a>> {
        self.subjects.iter().find_map(|subject| subject.evidence(who))
    }
}

/// Whether a glob matches only itself (no wildcard, class, alternative or escape).
pub(crate) fn is_literal(pattern: &str) -> bool {
    !pattern.contains(['*', '?', '[', ']', '{', '}', '\\'])
}
