//! `/r/{registry}/{path…}` names a repository (`library/hello`), a tag
//! (`library/hello:1.0`) or a digest (`library/hello@sha256:…`). Repository names contain '/',
//! so the path is split here, by a route segment of our own: the router then picks the page
//! (a different page when the kind changes, the same page with new parameters otherwise). The
//! server functions validate each part with the OCI reference grammar.

use std::borrow::Cow;

use leptos_router::{PartialPathMatch, PathSegment, PossibleRouteMatch};

/// What a path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Repository(String),
    Tag(String, String),
    Digest(String, String),
}

impl Target {
    pub fn parse(path: &str) -> Self {
        let path = path.trim_matches('/');
        if let Some((repo, digest)) = path.split_once('@') {
            return Target::Digest(repo.to_owned(), digest.to_owned());
        }
        match path.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => Target::Tag(repo.to_owned(), tag.to_owned()),
            _ => Target::Repository(path.to_owned()),
        }
    }
}

/// The rest of the path, when it names a target of this kind. Sets the parameters
/// `repository` and (for tags and digests) `reference`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TargetSegment {
    Repository,
    Tag,
    Digest,
}

impl PossibleRouteMatch for TargetSegment {
    fn optional(&self) -> bool {
        false
    }

    fn test<'a>(&self, path: &'a str) -> Option<PartialPathMatch<'a>> {
        let rest = path.strip_prefix('/')?;
        if rest.trim_matches('/').is_empty() {
            return None;
        }
        let params: Vec<(Cow<'static, str>, String)> = match (self, Target::parse(rest)) {
            (TargetSegment::Repository, Target::Repository(repo)) => {
                vec![("repository".into(), repo)]
            }
            (TargetSegment::Tag, Target::Tag(repo, tag)) => {
                vec![("repository".into(), repo), ("reference".into(), tag)]
            }
            (TargetSegment::Digest, Target::Digest(repo, digest)) => {
                vec![("repository".into(), repo), ("reference".into(), digest)]
            }
            _ => return None,
        };
        Some(PartialPathMatch::new("", params, path))
    }

    fn generate_path(&self, path: &mut Vec<PathSegment>) {
        // All three kinds serve the same server route; the server registers it once.
        path.push(PathSegment::Splat("path".into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_paths() {
        assert_eq!(
            Target::parse("library/hello"),
            Target::Repository("library/hello".into())
        );
        assert_eq!(
            Target::parse("library/hello/"),
            Target::Repository("library/hello".into())
        );
        assert_eq!(
            Target::parse("a/b:1.0"),
            Target::Tag("a/b".into(), "1.0".into())
        );
        assert_eq!(
            Target::parse("a/b@sha256:00"),
            Target::Digest("a/b".into(), "sha256:00".into())
        );
        assert_eq!(Target::parse("a:b/c"), Target::Repository("a:b/c".into()));
    }

    #[test]
    fn each_segment_matches_its_kind_only() {
        let m = TargetSegment::Tag.test("/library/hello:1.0").unwrap();
        assert!(m.is_complete());
        assert!(
            TargetSegment::Repository
                .test("/library/hello:1.0")
                .is_none()
        );
        assert!(TargetSegment::Digest.test("/library/hello:1.0").is_none());
        assert!(TargetSegment::Repository.test("/library/hello").is_some());
        assert!(TargetSegment::Digest.test("/a@sha256:00").is_some());
        assert!(TargetSegment::Repository.test("/").is_none());
        assert!(TargetSegment::Repository.test("").is_none());
    }
}
