//! Repository lists, the search box and "where is this digest used". Each function checks the
//! caller's role itself; lists and results hold only what the caller may see.

use leptos::prelude::*;

use crate::api::codec::JsonStr;
use crate::error::AppError;
use crate::model::{AlsoUsed, BoxResults, RepoPage, RepoQuery, RepoRow, SearchResults, WhereUsedView};

/// Search results per registry, at most.
pub const MAX_SEARCH_HITS: usize = 50;

/// One page of a registry's repositories — filtered, ordered, with their columns read within
/// [`crate::model::SUMMARY_BUDGET_MS`] (the others come back pending) — among those the caller
/// may see.
#[server(output = JsonStr)]
pub async fn list_repositories(registry: String, query: RepoQuery) -> Result<RepoPage, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::auth::require(&state, crate::ssr::auth::needed("list_repositories"), &registry, None)?;
    let reg = state.registry(&registry)?;
    let who = crate::ssr::auth::current_user();
    portolan_service::catalog::list(&state, reg, who.as_ref(), query)
        .await
        .map_err(|e| crate::ssr::logged(&format!("repositories of {registry}"), e.into()))
}

/// The columns of `repositories` of `registry` (tag count, newest version, last push), in the
/// same order; those not read within `budget_ms` (0: no limit, at most 30 s) come back pending.
#[server(output = JsonStr)]
pub async fn repository_summaries(registry: String, repositories: Vec<String>, budget_ms: u32) -> Result<Vec<RepoRow>, AppError> {
    let state = crate::ssr::state()?;
    let needed = crate::ssr::auth::needed("repository_summaries");
    crate::ssr::auth::require(&state, needed, &registry, None)?;
    if repositories.len() > crate::model::MAX_REPO_PER_PAGE {
        return Err(AppError::BadRequest(format!("at most {} repositories at once", crate::model::MAX_REPO_PER_PAGE)));
    }
    for r in &repositories {
        portolan_oci::RepoName::parse(r).map_err(|e| AppError::BadRequest(e.message().to_owned()))?;
        crate::ssr::auth::require(&state, needed, &registry, Some(r))?;
    }
    let reg = state.registry(&registry)?.clone();
    let budget = if budget_ms == 0 { std::time::Duration::from_secs(30) } else { std::time::Duration::from_millis(budget_ms.into()) };
    portolan_service::catalog::rows_within(
        &reg,
        &state.store,
        &state.search.summaries,
        repositories,
        Some(budget.min(std::time::Duration::from_secs(30))),
    )
    .await
    .map_err(AppError::from)
}

/// A search (the search page's, the REST API's): repository names in every registry the caller
/// may see (a substring, or a glob with `*`), `repository:tag`, or a digest (whole, or its
/// start) — at most `limit` hits per registry.
#[server]
pub async fn search(query: String, limit: usize) -> Result<SearchResults, AppError> {
    let state = crate::ssr::state()?;
    if query.chars().count() > portolan_search::MAX_FILTER {
        return Err(AppError::BadRequest(format!("the search is longer than {} characters", portolan_search::MAX_FILTER)));
    }
    let who = crate::ssr::auth::current_user();
    Ok(portolan_service::search::search(&state, who.as_ref(), &query, limit.clamp(1, MAX_SEARCH_HITS)).await?)
}

/// The search box as you type: [`search`], cut to what its drop-down shows.
#[server(output = JsonStr)]
pub async fn box_search(query: String, limit: usize) -> Result<BoxResults, AppError> {
    search(query, limit).await.map(BoxResults::from)
}

/// Where a digest (a manifest or a blob) is used: every place the caller may see whose artifact
/// is it or contains it, and what refers to it — from Portolan's index, with how fresh it is.
#[server]
pub async fn where_used(digest: String) -> Result<WhereUsedView, AppError> {
    let state = crate::ssr::state()?;
    let digest = digest.trim().to_ascii_lowercase();
    if !crate::model::is_digest(&digest) {
        return Err(AppError::BadRequest(format!("{digest:?} is not a digest (sha256: and 64 hex digits)")));
    }
    let who = crate::ssr::auth::current_user();
    Ok(portolan_service::search::where_used(&state, who.as_ref(), &digest).await?)
}

/// The other places an artifact (by tag or digest) or a blob (by digest) of a repository is
/// used, for its page.
#[server]
pub async fn also_used_by(registry: String, repository: String, reference: String) -> Result<AlsoUsed, AppError> {
    let (state, reg, repo) = crate::api::browse::lookup("also_used_by", &registry, &repository)?;
    let digest = match crate::api::browse::reference_of(&reference)? {
        portolan_oci::Reference::Digest(d) => d.to_string(),
        tag @ portolan_oci::Reference::Tag(_) => {
            reg.client
                .resolve(&repo, &tag)
                .await
                .map_err(|e| crate::ssr::logged(&format!("resolving {registry}/{repository}:{reference}"), e.into()))?
                .digest
        }
    };
    let who = crate::ssr::auth::current_user();
    Ok(portolan_service::search::also_used(&state, who.as_ref(), &registry, repo.as_str(), &digest).await?)
}
