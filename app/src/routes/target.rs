//! `/r/{registry}/{path…}` names a repository (`library/hello`), a tag
//! (`library/hello:1.0`) or a digest (`library/hello@sha256:…`). Repository names contain '/',
//! so the path is split here, by a route segment of our own: the router then picks the page
//! (a different page when the kind changes, the same page with new parameters otherwise). The
//! server functions validate each part with the OCI reference grammar.

use std::borrow::Cow;

use leptos_router::{PartialPathMatch, PathSegment, PossibleRouteMatch};

/// What a path names. Views of a target follow `/-/` (which no repository name contains):
/// `…@{digest}/-/referrers`, `{repository}/-/blob/{digest}`, `{repository}/-/diff`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Repository(String),
    Tag(String, String),
    Digest(String, String),
    /// The referrer graph of a tag or digest.
    Referrers(String, String),
    Blob(String, String),
    Diff(String),
    /// The preview of a deletion (`?tag=…&digest=…`).
    Delete(String),
    /// What a confirmed deletion did (`?request=…`).
    Deleted(String),
    /// A repository's storage.
    Storage(String),
    /// The registry's storage (`/r/{registry}/-/storage`: no repository is named `-`).
    RegistryStorage,
    /// A `/-/` view that does not exist.
    Unknown,
}

impl Target {
    pub fn parse(path: &str) -> Self {
        let path = path.trim_matches('/');
        if path == "-/storage" {
            return Target::RegistryStorage;
        }
        let (main, view) = match path.split_once("/-/") {
            Some((main, view)) => (main, Some(view.trim_matches('/'))),
            None => (path, None),
        };
        let reference = || -> Option<(String, String)> {
            if let Some((repo, digest)) = main.split_once('@') {
                return Some((repo.to_owned(), digest.to_owned()));
            }
            match main.rsplit_once(':') {
                Some((repo, tag)) if !tag.contains('/') => Some((repo.to_owned(), tag.to_owned())),
                _ => None,
            }
        };
        match view {
            None => match (main.split_once('@'), reference()) {
                (Some(_), Some((repo, digest))) => Target::Digest(repo, digest),
                (None, Some((repo, tag))) => Target::Tag(repo, tag),
                _ => Target::Repository(main.to_owned()),
            },
            Some("referrers") => match reference() {
                Some((repo, reference)) => Target::Referrers(repo, reference),
                None => Target::Unknown,
            },
            Some("diff") if reference().is_none() => Target::Diff(main.to_owned()),
            Some("delete") if reference().is_none() => Target::Delete(main.to_owned()),
            Some("deleted") if reference().is_none() => Target::Deleted(main.to_owned()),
            Some("storage") if reference().is_none() => Target::Storage(main.to_owned()),
            Some(v) => match v.strip_prefix("blob/") {
                Some(digest) if reference().is_none() => Target::Blob(main.to_owned(), digest.to_owned()),
                _ => Target::Unknown,
            },
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
    Referrers,
    Blob,
    Diff,
    Delete,
    Deleted,
    Storage,
    RegistryStorage,
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
            (TargetSegment::Referrers, Target::Referrers(repo, reference)) => {
                vec![("repository".into(), repo), ("reference".into(), reference)]
            }
            (TargetSegment::Blob, Target::Blob(repo, digest)) => {
                vec![("repository".into(), repo), ("digest".into(), digest)]
            }
            (TargetSegment::Diff, Target::Diff(repo)) => vec![("repository".into(), repo)],
            (TargetSegment::Delete, Target::Delete(repo)) => vec![("repository".into(), repo)],
            (TargetSegment::Deleted, Target::Deleted(repo)) => vec![("repository".into(), repo)],
            (TargetSegment::Storage, Target::Storage(repo)) => vec![("repository".into(), repo)],
            (TargetSegment::RegistryStorage, Target::RegistryStorage) => Vec::new(),
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
        assert_eq!(Target::parse("library/hello"), Target::Repository("library/hello".into()));
        assert_eq!(Target::parse("library/hello/"), Target::Repository("library/hello".into()));
        assert_eq!(Target::parse("a/b:1.0"), Target::Tag("a/b".into(), "1.0".into()));
        assert_eq!(Target::parse("a/b@sha256:00"), Target::Digest("a/b".into(), "sha256:00".into()));
        assert_eq!(Target::parse("a:b/c"), Target::Repository("a:b/c".into()));
        assert_eq!(Target::parse("a/b@sha256:00/-/referrers"), Target::Referrers("a/b".into(), "sha256:00".into()));
        assert_eq!(Target::parse("a/b:v1/-/referrers"), Target::Referrers("a/b".into(), "v1".into()));
        assert_eq!(Target::parse("a/b/-/blob/sha256:00"), Target::Blob("a/b".into(), "sha256:00".into()));
        assert_eq!(Target::parse("a/b/-/diff"), Target::Diff("a/b".into()));
        assert_eq!(Target::parse("a/b/-/referrers"), Target::Unknown);
        assert_eq!(Target::parse("a/b:v1/-/blob/sha256:00"), Target::Unknown);
        assert_eq!(Target::parse("a/b/-/nope"), Target::Unknown);
        assert_eq!(Target::parse("a/b/-/delete"), Target::Delete("a/b".into()));
        assert_eq!(Target::parse("a/b:1/-/delete"), Target::Unknown);
        assert_eq!(Target::parse("a/b/-/storage"), Target::Storage("a/b".into()));
        assert_eq!(Target::parse("a/b:1/-/storage"), Target::Unknown);
        assert_eq!(Target::parse("-/storage"), Target::RegistryStorage);
        assert_eq!(Target::parse("-/storage/"), Target::RegistryStorage);
    }

    #[test]
    fn each_segment_matches_its_kind_only() {
        let m = TargetSegment::Tag.test("/library/hello:1.0").unwrap();
        assert!(m.is_complete());
        assert!(TargetSegment::Repository.test("/library/hello:1.0").is_none());
        assert!(TargetSegment::Digest.test("/library/hello:1.0").is_none());
        assert!(TargetSegment::Repository.test("/library/hello").is_some());
        assert!(TargetSegment::Digest.test("/a@sha256:00").is_some());
        assert!(TargetSegment::Repository.test("/").is_none());
        assert!(TargetSegment::Repository.test("").is_none());
        assert!(TargetSegment::Repository.test("/-/storage").is_none(), "the registry's storage is no repository");
        assert!(TargetSegment::RegistryStorage.test("/-/storage").is_some());
    }
}

#[cfg(test)]
mod route_tests {
    use super::*;
    use leptos_router::{ParamSegment, StaticSegment};

    #[test]
    fn whole_paths_match() {
        for (segment, path) in [
            (TargetSegment::Repository, "/r/x/library/hello"),
            (TargetSegment::Tag, "/r/x/library/hello:1.1.0"),
            (TargetSegment::Referrers, "/r/x/library/hello:1.1.0/-/referrers"),
            (TargetSegment::Blob, "/r/x/library/hello/-/blob/sha256:00"),
            (TargetSegment::Diff, "/r/x/library/hello/-/diff"),
            (TargetSegment::Storage, "/r/x/library/hello/-/storage"),
            (TargetSegment::RegistryStorage, "/r/x/-/storage"),
        ] {
            let m = (StaticSegment("r"), ParamSegment("registry"), segment).test(path);
            assert!(m.as_ref().is_some_and(|m| m.is_complete()), "{segment:?} {path}: {m:?}");
        }
    }
}
