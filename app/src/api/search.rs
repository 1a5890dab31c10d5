//! Repository lists, the search box and "where is this digest used". Each function checks the
//! caller's role itself; lists and results hold only what the caller may see.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{AlsoUsed, RepoPage, RepoQuery, RepoRow, SearchResults, WhereUsedView};

/// Search results per registry, at most.
pub const MAX_SEARCH_HITS: usize = 50;

/// One page of a registry's repositories — filtered, ordered, with their columns read within
/// [`crate::model::SUMMARY_BUDGET_MS`] (the others come back pending) — among those the caller
/// may see.
#[server]
pub async fn list_repositories(registry: String, query: RepoQuery) -> Result<RepoPage, AppError> {
    use crate::model::{Listing, MAX_REPO_PER_PAGE, RepoSort, SUMMARY_BUDGET_MS};
    use crate::ssr::catalog::{MAX_CATALOG, PUSHED_WARM_LIMIT, listed_without_catalog, row_of, rows_within};
    use crate::ssr::logged;
    use portolan_search::catalog::{Order, select};
    let state = crate::ssr::state()?;
    crate::ssr::auth::require(&state, portolan_access::Role::Viewer, &registry, None)?;
    let reg = state.registry(&registry)?.clone();
    let query = RepoQuery { page: query.page.max(1), per_page: query.per_page.clamp(1, MAX_REPO_PER_PAGE), ..query };
    let filter = portolan_search::NameFilter::new(&query.filter)?;
    let who = crate::ssr::auth::current_user();
    let configured = state.search.settings(&registry).repositories;
    let snapshot = state.search.catalogs.get(&reg).await.map_err(|e| logged(&format!("catalog of {registry}"), AppError::from(e)))?;
    let mut recent = Vec::new();
    let mut listed_configured = Vec::new();
    let (names, listing): (std::borrow::Cow<'_, [String]>, Listing) = match &snapshot.unsupported {
        None => {
            let listing = if snapshot.complete { Listing::Catalog } else { Listing::CatalogCapped { limit: MAX_CATALOG } };
            if configured.iter().all(|c| snapshot.names.binary_search(c).is_ok()) {
                (std::borrow::Cow::Borrowed(&snapshot.names[..]), listing)
            } else {
                let mut names = snapshot.names.clone();
                names.extend(configured.iter().cloned());
                names.sort();
                names.dedup();
                (std::borrow::Cow::Owned(names), listing)
            }
        }
        Some(reason) => {
            let (names, opened) = listed_without_catalog(&state.store, &registry, &configured).await;
            recent = opened;
            listed_configured = configured.clone();
            (std::borrow::Cow::Owned(names), Listing::NoCatalog { reason: reason.clone() })
        }
    };
    let visible = |n: &str| state.access.role_for(who.as_ref(), &registry, Some(n)).is_some();
    let mut notice = None;
    let selection = match query.sort {
        RepoSort::Name => select(&names, &filter, visible, Order::Name, query.reverse, query.page, query.per_page),
        RepoSort::Pushed => {
            let kept = state.store.repo_summaries(&registry, None).await?;
            let pushed: std::collections::HashMap<String, i64> =
                kept.values().filter_map(|r| Some((r.repository.clone(), r.pushed?.unix_timestamp()))).collect();
            let all = select(&names, &filter, visible, Order::Pushed(&pushed), query.reverse, 1, usize::MAX);
            let unread: Vec<String> =
                all.page.iter().filter(|n| kept.get(*n).and_then(row_of).is_none()).take(PUSHED_WARM_LIMIT).cloned().collect();
            let unknown = all.page.iter().filter(|n| !pushed.contains_key(*n)).count();
            if !unread.is_empty() {
                notice = Some(format!(
                    "The last push is known for {} of {} repositories; the others are listed after them, by name, while Portolan reads them a few at a time. Reload in a moment for more.",
                    all.matching - unknown,
                    all.matching
                ));
                state.search.summaries.warm(&reg, &state.store, unread);
            }
            let start = (query.page - 1).saturating_mul(query.per_page);
            portolan_search::catalog::Selection {
                page: all.page.iter().skip(start).take(query.per_page).cloned().collect(),
                matching: all.matching,
                total: all.total,
            }
        }
    };
    let budget = std::time::Duration::from_millis(SUMMARY_BUDGET_MS.into());
    let rows = rows_within(&reg, &state.store, &state.search.summaries, selection.page, Some(budget)).await?;
    if let Listing::CatalogCapped { limit } = &listing {
        notice.get_or_insert_with(|| {
            format!("This registry lists more than {limit} repositories: only the first {limit} are shown and searched.")
        });
    }
    Ok(RepoPage {
        registry: reg.info.clone(),
        query,
        total: selection.total,
        matching: selection.matching,
        rows,
        listing,
        recent,
        configured: listed_configured,
        notice,
        now: time::OffsetDateTime::now_utc().unix_timestamp(),
    })
}

/// The columns of `repositories` of `registry` (tag count, newest version, last push), in the
/// same order; those not read within `budget_ms` (0: no limit, at most 30 s) come back pending.
#[server]
pub async fn repository_summaries(registry: String, repositories: Vec<String>, budget_ms: u32) -> Result<Vec<RepoRow>, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::auth::require(&state, portolan_access::Role::Viewer, &registry, None)?;
    if repositories.len() > crate::model::MAX_REPO_PER_PAGE {
        return Err(AppError::BadRequest(format!("at most {} repositories at once", crate::model::MAX_REPO_PER_PAGE)));
    }
    for r in &repositories {
        portolan_oci::RepoName::parse(r).map_err(|e| AppError::BadRequest(e.message().to_owned()))?;
        crate::ssr::auth::require(&state, portolan_access::Role::Viewer, &registry, Some(r))?;
    }
    let reg = state.registry(&registry)?.clone();
    let budget = if budget_ms == 0 { std::time::Duration::from_secs(30) } else { std::time::Duration::from_millis(budget_ms.into()) };
    crate::ssr::catalog::rows_within(
        &reg,
        &state.store,
        &state.search.summaries,
        repositories,
        Some(budget.min(std::time::Duration::from_secs(30))),
    )
    .await
}

/// The search box: repository names in every registry the caller may see (a substring, or a
/// glob with `*`), `repository:tag`, or a digest (whole, or its start) — at most `limit` hits
/// per registry.
#[server]
pub async fn search(query: String, limit: usize) -> Result<SearchResults, AppError> {
    let state = crate::ssr::state()?;
    if query.chars().count() > portolan_search::MAX_FILTER {
        return Err(AppError::BadRequest(format!("the search is longer than {} characters", portolan_search::MAX_FILTER)));
    }
    let who = crate::ssr::auth::current_user();
    crate::ssr::search::search(&state, who.as_ref(), &query, limit.clamp(1, MAX_SEARCH_HITS)).await
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
    crate::ssr::search::where_used(&state, who.as_ref(), &digest).await
}

/// The other places an artifact (by tag or digest) or a blob (by digest) of a repository is
/// used, for its page.
#[server]
pub async fn also_used_by(registry: String, repository: String, reference: String) -> Result<AlsoUsed, AppError> {
    let (state, reg, repo) = crate::api::browse::lookup(&registry, &repository)?;
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
    crate::ssr::search::also_used(&state, who.as_ref(), &registry, repo.as_str(), &digest).await
}
