//! The filter people type over names — tags of a repository, repositories of a registry:
//! case-insensitive; with `*` or `?` a glob over the whole name, else a substring. Compiled once
//! per request; matching is linear in the name's length (globset compiles to a regex), whatever
//! the pattern.

use globset::{GlobBuilder, GlobMatcher};

/// Longest filter accepted (a tag is at most 128 characters, a repository name 255).
pub const MAX_FILTER: usize = 200;

/// Why a filter was refused; the message is for people.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

/// A compiled filter.
#[derive(Clone, Debug)]
pub enum NameFilter {
    All,
    /// Lower-cased.
    Substring(String),
    Glob(GlobMatcher),
}

impl NameFilter {
    pub fn new(text: &str) -> Result<Self, FilterError> {
        let text = text.trim();
        if text.chars().count() > MAX_FILTER {
            return Err(FilterError(format!("the filter is longer than {MAX_FILTER} characters")));
        }
        if text.is_empty() {
            return Ok(NameFilter::All);
        }
        if !text.contains(['*', '?']) {
            return Ok(NameFilter::Substring(text.to_ascii_lowercase()));
        }
        // Runs of `*` mean the same as one; `[`, `{`, `\` and `,` are taken literally (names
        // cannot contain them, and a person typing them means nothing special). `*` crosses
        // `/`: `team*` finds `team/api` too.
        let mut pattern = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '*' if pattern.ends_with('*') => {}
                '[' | ']' | '{' | '}' | '\\' | ',' => {
                    pattern.push('[');
                    pattern.push(c);
                    pattern.push(']');
                }
                c => pattern.push(c),
            }
        }
        let glob = GlobBuilder::new(&pattern)
            .case_insensitive(true)
            .literal_separator(false)
            .build()
            .map_err(|e| FilterError(format!("the filter {text:?} is not a pattern Portolan understands ({e})")))?;
        Ok(NameFilter::Glob(glob.compile_matcher()))
    }

    pub fn matches(&self, name: &str) -> bool {
        match self {
            NameFilter::All => true,
            NameFilter::Substring(s) => contains_ignoring_case(name, s),
            NameFilter::Glob(g) => g.is_match(name),
        }
    }

    /// For repository names: a glob matches the whole name or its last parts (`api*` finds
    /// `team/api-server`; `team/*` finds `team/api`), a substring anywhere.
    pub fn matches_repository(&self, name: &str) -> bool {
        match self {
            NameFilter::Glob(g) => g.is_match(name) || name.match_indices('/').any(|(i, _)| g.is_match(&name[i + 1..])),
            other => other.matches(name),
        }
    }
}

/// Whether `haystack` contains `needle` (already lower-case), ASCII case ignored, without
/// allocating (the catalog filter runs this over every repository of a registry).
fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return true;
    }
    if n.len() > h.len() {
        return false;
    }
    h.windows(n.len()).any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_or_glob() {
        let m = |name: &str, f: &str| NameFilter::new(f).unwrap().matches(name);
        assert!(m("v1.2.3", "1.2"));
        assert!(m("V1.2.3", "v1"));
        assert!(m("build-00017", "build-*7"));
        assert!(m("release-2024-01", "*2024*"));
        assert!(!m("release-2024-01", "2023*"));
        assert!(m("anything", "  "));
        assert!(m("v1.0", "v?.0"));
        assert!(m("team/api", "team*"));
        assert!(m("Team/API", "api"));
        assert!(!m("a", "[a]*"));
        assert!(NameFilter::new(&"x".repeat(MAX_FILTER + 1)).is_err());
    }

    #[test]
    fn repository_globs_match_the_name_or_its_last_parts() {
        let m = |name: &str, f: &str| NameFilter::new(f).unwrap().matches_repository(name);
        assert!(m("team/api-server", "api*"));
        assert!(m("team/api-server", "team/*"));
        assert!(m("org/team/api", "team/a?i"));
        assert!(!m("team/api-server", "eam/api*"));
        assert!(m("team/api-server", "eam/api"), "a substring anywhere");
    }

    #[test]
    fn a_pathological_filter_is_cheap() {
        // 200 stars and a letter over 5,000 tags of 128 characters: a compiled pattern, linear.
        let filter = NameFilter::new(&format!("{}z", "*".repeat(199))).unwrap();
        let tags: Vec<String> = (0..5000).map(|i| format!("{i:0>128}")).collect();
        let started = std::time::Instant::now();
        let n = tags.iter().filter(|t| filter.matches(t)).count();
        assert_eq!(n, 0);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[test]
    fn case_folding_needs_no_allocation() {
        assert!(contains_ignoring_case("Library/Hello", "hello"));
        assert!(!contains_ignoring_case("hel", "hello"));
        assert!(contains_ignoring_case("x", ""));
    }
}
