//! `/r/{registry}/{path…}`: a repository (`library/hello`), a tag (`library/hello:1.0`) or a
//! digest (`library/hello@sha256:…`). Repository names contain '/', so the path is one
//! catch-all segment, split here; the server functions validate each part with the OCI
//! reference grammar.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::routes::artifact::ArtifactPage;
use crate::routes::repository::RepositoryPage;

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

#[component]
pub fn TargetPage() -> impl IntoView {
    let params = use_params_map();
    let target = Memo::new(move |_| Target::parse(&params.read().get("path").unwrap_or_default()));
    let registry = Memo::new(move |_| params.read().get("registry").unwrap_or_default());
    move || match target.get() {
        Target::Repository(repo) => {
            view! { <RepositoryPage registry=registry.get() repository=repo /> }.into_any()
        }
        Target::Tag(repo, tag) => {
            view! { <ArtifactPage registry=registry.get() repository=repo reference=tag /> }
                .into_any()
        }
        Target::Digest(repo, digest) => {
            view! { <ArtifactPage registry=registry.get() repository=repo reference=digest /> }
                .into_any()
        }
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
}
