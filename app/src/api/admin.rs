//! Changes: deleting (preview, then apply what was previewed), the trash (restore, purge) and
//! the audit log. Each function checks the caller's role itself — maintainer to delete and
//! restore, admin to purge and read the audit log — and refusals are audited.
//!
//! The confirming functions are called by plain HTML forms (they work without JavaScript): when
//! done they redirect to a page that shows the outcome, read back from the audit log by the
//! request's id.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{AuditPage, AuditQuery, DeletePreview, DeleteSelection, TrashPage};

#[cfg(feature = "ssr")]
mod ssr {
    pub use crate::ssr::auth::{action, needed, require_anywhere, require_change};
    pub use crate::ssr::redirect_to;
    pub use portolan_access::Role;

    use crate::error::AppError;

    /// A trash entry the caller may act on with `needed` on its repository (a refusal is
    /// audited as `action`). To someone with no role at all there, the entry does not exist:
    /// trying ids tells them nothing about where deletions happened.
    pub async fn trash_entry_for(
        state: &crate::ssr::AppState,
        id: i64,
        needed: Role,
        action: &str,
    ) -> Result<(portolan_store::TrashEntry, crate::ssr::auth::Caller), AppError> {
        require_anywhere(state, needed)?;
        let entry = state.store.trash_entry(id).await?;
        match require_change(state, needed, &entry.registry, Some(&entry.repository), action).await {
            Ok(caller) => Ok((entry, caller)),
            Err(_) if crate::ssr::auth::role_here(state, &entry.registry, Some(&entry.repository)).is_none() => {
                Err(AppError::NotFound(format!("no trash entry {id}")))
            }
            Err(e) => Err(e),
        }
    }
}

/// What deleting `selection` would remove: every tag, every child manifest no other tag needs,
/// every referrer (recursively), with sizes — nothing is deleted. Maintainers only.
#[server]
pub async fn preview_delete(registry: String, repository: String, selection: DeleteSelection) -> Result<DeletePreview, AppError> {
    use self::ssr::*;
    let state = crate::ssr::state()?;
    let repo = portolan_oci::RepoName::parse(&repository).map_err(|e| AppError::BadRequest(e.message().to_owned()))?;
    require_change(&state, needed("preview_delete"), &registry, Some(repo.as_str()), action("preview_delete")).await?;
    let reg = state.registry(&registry)?;
    Ok(portolan_service::trash::preview(&state, reg, &repo, selection).await?)
}

/// Applies a confirmed preview (`confirmation`, as the preview page sent it): only units that
/// still remove exactly what was shown are applied; the others are skipped and reported. Each
/// item is saved in the trash first and audited. Answers with a redirect to the outcome page.
#[server]
pub async fn apply_delete(registry: String, repository: String, confirmation: String) -> Result<(), AppError> {
    use self::ssr::*;
    let state = crate::ssr::state()?;
    let request = crate::ssr::request_id();
    let repo = portolan_oci::RepoName::parse(&repository).map_err(|e| AppError::BadRequest(e.message().to_owned()))?;
    // Only checked names go into the redirect (a raw one could carry a newline into a header).
    let reg = state.registry(&registry)?;
    let outcome_page = format!("/r/{}/{repo}/-/deleted?request={}", reg.info.name, request.clone().unwrap_or_default());
    let caller = match require_change(&state, needed("apply_delete"), &registry, Some(repo.as_str()), action("apply_delete")).await {
        Ok(c) => c,
        Err(e) => {
            redirect_to(&outcome_page);
            return Err(e);
        }
    };
    let confirmation = portolan_service::trash::confirmation(&confirmation)?;
    let done = portolan_service::trash::apply(&state, reg, &repo, caller.actor(), request, &confirmation).await;
    redirect_to(&outcome_page);
    done.map(|_| ()).map_err(AppError::from)
}

/// The trash: entries the caller may act on (maintainer of their repository), newest first.
#[server]
pub async fn trash_list(before: Option<i64>) -> Result<TrashPage, AppError> {
    use self::ssr::*;
    let state = crate::ssr::state()?;
    let caller = require_anywhere(&state, needed("trash_list"))?;
    Ok(portolan_service::trash::list(&state, caller.identity.as_ref(), before).await?)
}

/// Restores a trash entry (maintainer of its repository), then redirects to the trash page
/// with the outcome.
#[server]
pub async fn trash_restore(id: i64) -> Result<(), AppError> {
    use self::ssr::*;
    let state = crate::ssr::state()?;
    let request = crate::ssr::request_id();
    let outcome_page = format!("/admin/trash?request={}", request.clone().unwrap_or_default());
    let (entry, caller) = match trash_entry_for(&state, id, needed("trash_restore"), action("trash_restore")).await {
        Ok(found) => found,
        Err(e) => {
            redirect_to(&outcome_page);
            return Err(e);
        }
    };
    let result = portolan_service::trash::restore(&state, &entry, caller.actor(), request).await;
    redirect_to(&outcome_page);
    result.map(|_| ()).map_err(AppError::from)
}

/// Purges a trash entry's content for good (admin of its repository).
#[server]
pub async fn trash_purge(id: i64) -> Result<(), AppError> {
    use self::ssr::*;
    let state = crate::ssr::state()?;
    let request = crate::ssr::request_id();
    let outcome_page = format!("/admin/trash?request={}", request.clone().unwrap_or_default());
    let (entry, caller) = match trash_entry_for(&state, id, needed("trash_purge"), action("trash_purge")).await {
        Ok(found) => found,
        Err(e) => {
            redirect_to(&outcome_page);
            return Err(e);
        }
    };
    let result = portolan_service::trash::purge(&state, &entry, caller.actor(), request).await;
    redirect_to(&outcome_page);
    result.map_err(AppError::from)
}

/// The audit log, filtered, newest first (admin). Entries about a registry are shown to admins
/// of it; sign-ins and other entries about no registry to every admin.
#[server]
pub async fn audit_list(query: AuditQuery) -> Result<AuditPage, AppError> {
    let state = crate::ssr::state()?;
    let caller = crate::ssr::auth::require_anywhere(&state, crate::ssr::auth::needed("audit_list"))?;
    let rows = crate::ssr::audit::rows(&state, &caller, &query, 100).await?;
    let next = (rows.len() == 100).then(|| rows.last().map(|r| r.id)).flatten();
    Ok(AuditPage { query, rows, next, audit_days: state.settings.audit_days, now: time::OffsetDateTime::now_utc().unix_timestamp() })
}

/// What the request `request` did, for the page a confirming form lands on: the caller's own
/// audit entries of that request.
#[server]
pub async fn request_outcome(request: String) -> Result<Vec<crate::model::AuditRow>, AppError> {
    let state = crate::ssr::state()?;
    if request.is_empty() || request.len() > 64 || !request.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(AppError::BadRequest("not a request id".into()));
    }
    let who = crate::ssr::auth::current_user();
    let Some(who) = who else {
        return Err(AppError::SignInRequired("Sign in to see what your request did.".into()));
    };
    crate::ssr::audit::of_request(&state, &who, &request).await
}
