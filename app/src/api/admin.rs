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

/// Tags or digests picked at once, at most.
pub const MAX_SELECTION: usize = 1_000;

#[cfg(feature = "ssr")]
mod ssr {
    pub use crate::ssr::auth::{require_anywhere, require_change};
    pub use crate::ssr::deletion::{Confirmation, ConfirmedUnit, Deleter, GC_HINT, fresh_inventory, manifest_line, plan, unit_tags};
    pub use crate::ssr::redirect_to;
    pub use portolan_access::Role;

    use crate::error::AppError;
    use crate::model::DeleteSelection;

    /// Checks a selection's size and grammar.
    pub fn check_selection(s: &DeleteSelection) -> Result<(), AppError> {
        if s.tags.is_empty() && s.digests.is_empty() {
            return Err(AppError::BadRequest("pick at least one tag or artifact to delete".into()));
        }
        if s.tags.len() + s.digests.len() > super::MAX_SELECTION {
            return Err(AppError::BadRequest(format!("at most {} tags and artifacts at once", super::MAX_SELECTION)));
        }
        for t in &s.tags {
            portolan_oci::Tag::parse(t).map_err(|e| AppError::BadRequest(e.message().to_owned()))?;
        }
        for d in &s.digests {
            portolan_oci::name::parse_digest(d).map_err(|e| AppError::BadRequest(e.message().to_owned()))?;
        }
        Ok(())
    }

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
    require_change(&state, Role::Maintainer, &registry, Some(repo.as_str()), "delete-preview").await?;
    check_selection(&selection)?;
    let reg = state.registry(&registry)?;
    let blocked = match reg.client.capabilities(&repo).await {
        Ok(caps) => match caps.manifest_delete {
            Some(portolan_oci::Support::No(reason)) => Some(format!("Nothing can be deleted here: {reason}.")),
            _ => None,
        },
        Err(e) => Some(format!("Whether deleting is possible here could not be found out: {}", e.message())),
    };
    let inventory = fresh_inventory(reg, &repo, &selection.digests).await.map_err(AppError::from)?;
    let plan = plan(&selection, &inventory);
    let units: Vec<ConfirmedUnit> =
        plan.deletions.iter().map(|u| ConfirmedUnit { unit: u.clone(), tags: unit_tags(u, &inventory) }).collect();
    let view = units
        .iter()
        .map(|c| {
            let (op, children, referrers) = match &c.unit {
                portolan_retention::Deletion::Untag { .. } => ("untag", Vec::new(), Vec::new()),
                portolan_retention::Deletion::DeleteManifest { children, referrers, .. } => (
                    "delete",
                    children.iter().map(|d| manifest_line(&inventory, d)).collect(),
                    referrers.iter().map(|d| manifest_line(&inventory, d)).collect(),
                ),
            };
            crate::model::DeleteUnit {
                op: op.into(),
                digest: c.unit.digest().to_owned(),
                kind_label: inventory.manifests.get(c.unit.digest()).map(|m| m.kind.label().to_owned()).unwrap_or_default(),
                tags: c.tags.clone(),
                children,
                referrers,
                bytes_freed: c.unit.bytes_freed(),
                describe: c.unit.describe(),
            }
        })
        .collect();
    // Tags that stay although they share a digest with a selected one.
    let deleted_tags: std::collections::HashSet<&str> = plan.deletions.iter().flat_map(|u| u.tags()).collect();
    let touched: std::collections::HashSet<&str> = plan.deletions.iter().map(|u| u.digest()).collect();
    let kept = inventory
        .tags
        .iter()
        .filter(|t| touched.contains(t.digest.as_str()) && !deleted_tags.contains(t.tag.as_str()))
        .map(|t| (t.tag.clone(), format!("shares {} and stays", crate::model::short_digest(&t.digest))))
        .collect();
    let mut notes = plan.notes.clone();
    for t in &selection.tags {
        if !inventory.tags.iter().any(|x| &x.tag == t) {
            notes.push(format!("the tag {t:?} does not exist (any more)"));
        }
    }
    let confirmation =
        serde_json::to_string(&Confirmation { selection: selection.clone(), units }).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(DeletePreview {
        registry: reg.info.clone(),
        repository,
        selection,
        units: view,
        kept,
        notes,
        blocked,
        gc_hint: GC_HINT.into(),
        confirmation,
    })
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
    let caller = match require_change(&state, Role::Maintainer, &registry, Some(repo.as_str()), "delete").await {
        Ok(c) => c,
        Err(e) => {
            redirect_to(&outcome_page);
            return Err(e);
        }
    };
    let confirmation: Confirmation = serde_json::from_str(&confirmation)
        .map_err(|_| AppError::BadRequest("the confirmation is not one a preview made: preview again".into()))?;
    check_selection(&confirmation.selection)?;
    let mut deleter = Deleter {
        registry: reg,
        store: &state.store,
        actor: caller.actor(),
        request_id: request.clone(),
        run_id: None,
        known_tags: Default::default(),
    };
    match deleter.apply_confirmation(&repo, &confirmation).await {
        Ok(_) => {
            redirect_to(&outcome_page);
            Ok(())
        }
        Err(e) => {
            let entry = portolan_store::NewAudit::new(caller.actor(), "delete", portolan_store::Outcome::Failed)
                .at(&registry, Some(repo.as_str()))
                .reason(format!("nothing was deleted: {e}"))
                .request(request.as_deref());
            state.store.audit(entry).await?;
            redirect_to(&outcome_page);
            Err(e)
        }
    }
}

/// The trash: entries the caller may act on (maintainer of their repository), newest first.
#[server]
pub async fn trash_list(before: Option<i64>) -> Result<TrashPage, AppError> {
    use self::ssr::*;
    let state = crate::ssr::state()?;
    let caller = require_anywhere(&state, Role::Maintainer)?;
    let filter = portolan_store::trash::TrashFilter { before, ..Default::default() };
    let mut rows = Vec::new();
    let mut cursor = filter.clone();
    let mut next = None;
    // Entries of repositories the caller may not touch are skipped (a few store pages at most).
    for _ in 0..10 {
        let batch = state.store.trash_entries(&cursor, 100).await?;
        let last = batch.last().map(|e| e.id);
        for e in batch {
            let role = state.access.role_for(caller.identity.as_ref(), &e.registry, Some(&e.repository));
            if role.is_none_or(|r| r < Role::Maintainer) {
                continue;
            }
            rows.push(crate::model::TrashRow {
                id: e.id,
                at: e.at.unix_timestamp(),
                who: e.actor.label(),
                registry: e.registry,
                repository: e.repository,
                kind: if e.kind == portolan_store::TrashKind::Tag { "tag".into() } else { "artifact".into() },
                summary: e.summary,
                state: e.state.as_str().into(),
                state_at: e.state_at.unix_timestamp(),
                state_by: e.state_by,
                state_reason: e.state_reason,
                manifests: e.manifests.len(),
                tags: e.tags,
                can_restore: e.state.restorable(),
                can_purge: role.is_some_and(|r| r >= Role::Admin) && e.state != portolan_store::TrashState::Purged,
            });
            if rows.len() >= 50 {
                break;
            }
        }
        match last {
            Some(id) if rows.len() < 50 => cursor.before = Some(id),
            Some(id) => {
                next = Some(rows.last().map(|r| r.id).unwrap_or(id));
                break;
            }
            None => break,
        }
    }
    Ok(TrashPage { rows, next, trash_days: state.settings.trash_days, now: time::OffsetDateTime::now_utc().unix_timestamp() })
}

/// Restores a trash entry (maintainer of its repository), then redirects to the trash page
/// with the outcome.
#[server]
pub async fn trash_restore(id: i64) -> Result<(), AppError> {
    use self::ssr::*;
    let state = crate::ssr::state()?;
    let request = crate::ssr::request_id();
    let outcome_page = format!("/admin/trash?request={}", request.clone().unwrap_or_default());
    let (entry, caller) = match trash_entry_for(&state, id, Role::Maintainer, "restore").await {
        Ok(found) => found,
        Err(e) => {
            redirect_to(&outcome_page);
            return Err(e);
        }
    };
    let reg = state.registry(&entry.registry)?;
    let deleter = Deleter {
        registry: reg,
        store: &state.store,
        actor: caller.actor(),
        request_id: request,
        run_id: None,
        known_tags: Default::default(),
    };
    let result = deleter.restore(&entry).await;
    redirect_to(&outcome_page);
    result.map(|_| ())
}

/// Purges a trash entry's content for good (admin of its repository).
#[server]
pub async fn trash_purge(id: i64) -> Result<(), AppError> {
    use self::ssr::*;
    let state = crate::ssr::state()?;
    let request = crate::ssr::request_id();
    let outcome_page = format!("/admin/trash?request={}", request.clone().unwrap_or_default());
    let (entry, caller) = match trash_entry_for(&state, id, Role::Admin, "purge").await {
        Ok(found) => found,
        Err(e) => {
            redirect_to(&outcome_page);
            return Err(e);
        }
    };
    let by = caller.actor().label();
    state.store.trash_purge(id, Some(&by), "purged by hand").await?;
    let audit = portolan_store::NewAudit::new(caller.actor(), "purge", portolan_store::Outcome::Done)
        .at(&entry.registry, Some(&entry.repository))
        .digests(entry.manifests.iter().map(|m| m.digest.clone()))
        .tags(entry.tags.iter().map(|(t, _)| t.clone()))
        .reason(format!("trash entry {id}: {}", entry.summary))
        .request(request.as_deref());
    state.store.audit(audit).await?;
    redirect_to(&outcome_page);
    Ok(())
}

/// The audit log, filtered, newest first (admin). Entries about a registry are shown to admins
/// of it; sign-ins and other entries about no registry to every admin.
#[server]
pub async fn audit_list(query: AuditQuery) -> Result<AuditPage, AppError> {
    let state = crate::ssr::state()?;
    let caller = crate::ssr::auth::require_anywhere(&state, portolan_access::Role::Admin)?;
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
