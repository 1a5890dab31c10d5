//! Where the bytes are: a registry's storage and a repository's. Each function checks the
//! caller's role itself; figures of repositories the caller may not see are neither shown nor
//! added into totals. Computed from Portolan's store, not by asking the registry again.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{RegistryStorage, RepositoryStorage, StorageQuery};

/// A registry's storage: each repository the caller may see (one page of them, in `query`'s
/// order), totals over those (each blob once), the largest drawn as a chart, and how complete
/// and fresh the index behind the figures is.
#[server]
pub async fn get_registry_storage(registry: String, query: StorageQuery) -> Result<RegistryStorage, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::auth::require(&state, crate::ssr::auth::needed("get_registry_storage"), &registry, None)?;
    let reg = state.registry(&registry)?;
    let who = crate::ssr::auth::current_user();
    let mut out = portolan_service::storage::registry_storage(&state, who.as_ref(), reg, query)
        .await
        .map_err(|e| crate::ssr::logged(&format!("storage of {registry}"), e.into()))?;
    out.chart = crate::ssr::storage::registry_chart(&out);
    Ok(out)
}

/// A repository's storage: its figures, bytes added over time (drawn as a chart), its largest
/// artifacts and layers, and the layers other repositories name too.
#[server]
pub async fn get_repository_storage(registry: String, repository: String) -> Result<RepositoryStorage, AppError> {
    let (state, reg, repo) = crate::api::browse::lookup("get_repository_storage", &registry, &repository)?;
    let who = crate::ssr::auth::current_user();
    let mut out = portolan_service::storage::repository_storage(&state, who.as_ref(), &reg, repo.as_str())
        .await
        .map_err(|e| crate::ssr::logged(&format!("storage of {registry}/{repository}"), e.into()))?;
    out.chart = crate::ssr::storage::history_chart(&out);
    Ok(out)
}
