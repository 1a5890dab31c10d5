//! Retention: policies (admins edit them, maintainers see and run them), the what-if preview,
//! runs (start, stop, follow). Each function checks the caller's role itself, always over a
//! scope — every repository a policy's globs can match, or those a run covered (its policy's
//! scope when it started): to see a policy or a run, or to preview, run or stop one,
//! maintainer over its scope; to save or delete a policy, admin over its scope (before and
//! after an edit). A grant on part of a registry shows nothing of policies reaching further.
//! To someone without the role over it, a policy or a run does not exist.

use leptos::prelude::*;

use crate::api::codec::JsonStr;
use crate::error::AppError;
use crate::model::{PoliciesPage, PolicyForm, PolicyPage, RunView, WhatIf};

#[cfg(feature = "ssr")]
mod ssr {
    pub use crate::ssr::auth::{action, needed, require_anywhere, require_change_over, require_over};
    pub use crate::ssr::policy_form::{form_of, item_row, raw_of, run_row};
    pub use crate::ssr::redirect_to;
    pub use portolan_access::Role;
    pub use portolan_service::runs::{RunRequest, policy_of, scope_of, start};
    pub use portolan_store::Trigger;

    use crate::ssr::AppState;

    /// The next fire of a schedule after now (seconds since the epoch).
    pub fn next_fire(schedule: Option<&str>) -> Option<i64> {
        let now = time::OffsetDateTime::now_utc();
        let (fires, _) = portolan_retention::fires_between(schedule?, now, now + time::Duration::days(400), 1).ok()?;
        fires.first().map(|t| t.unix_timestamp())
    }

    /// Validates a form into a policy; every mistake at once.
    pub fn validated(state: &AppState, form: &crate::model::PolicyForm) -> Result<portolan_retention::Policy, Vec<(String, String)>> {
        let raw = raw_of(form)?;
        let names: Vec<&str> = state.registries.iter().map(|r| r.info.name.as_str()).collect();
        portolan_retention::validate(raw, &names).map_err(|errors| errors.into_iter().map(|e| (e.at, e.message)).collect())
    }

    /// The role of the current user over a stored policy's scope.
    pub fn role_over(state: &AppState, record: &portolan_store::PolicyRecord) -> Option<Role> {
        role_over_scope(state, &record.registry, &scope_of(record))
    }

    /// The role of the current user over `scope` in `registry`.
    pub fn role_over_scope(state: &AppState, registry: &str, scope: &[String]) -> Option<Role> {
        state.access.role_over(crate::ssr::auth::current_user().as_ref(), registry, scope)
    }

    /// The policy `id` when the caller is maintainer over its scope; to anyone else it does not
    /// exist (its name and scope stay hidden).
    pub async fn visible_policy(state: &AppState, id: i64) -> Result<portolan_store::PolicyRecord, crate::error::AppError> {
        let record = state.store.policy(id).await?;
        match role_over(state, &record) {
            Some(r) if r >= needed("get_policy") => Ok(record),
            _ => Err(crate::error::AppError::NotFound(format!("no policy {id}"))),
        }
    }

    /// The run `id` when the caller is maintainer over the repositories it covered; to anyone
    /// else it does not exist.
    pub async fn visible_run(state: &AppState, id: i64) -> Result<portolan_store::RunRecord, crate::error::AppError> {
        let run = state.store.run(id).await?;
        match role_over_scope(state, &run.registry, &run.scope) {
            Some(r) if r >= needed("get_run") => Ok(run),
            _ => Err(crate::error::AppError::NotFound(format!("no run {id}"))),
        }
    }
}

/// The policies the caller may see (maintainer of their registry) and the latest runs.
#[server]
pub async fn get_policies() -> Result<PoliciesPage, AppError> {
    use self::ssr::*;
    let state = crate::ssr::state()?;
    let caller = require_anywhere(&state, needed("get_policies"))?;
    let mut policies = Vec::new();
    for record in state.store.policies().await? {
        let over = role_over(&state, &record);
        if over.is_none_or(|r| r < needed("get_policies")) {
            continue;
        }
        let (raw, problem) = match policy_of(&state, &record) {
            Ok(p) => (Some(p.raw().clone()), None),
            Err(e) => (serde_json::from_str::<portolan_retention::RawPolicy>(&record.body).ok(), Some(e.to_string())),
        };
        let last_run = state.store.runs(Some(record.id), None, 1).await?.first().map(run_row);
        let schedule = raw.as_ref().and_then(|r| r.schedule.clone());
        policies.push(crate::model::PolicyRow {
            id: record.id,
            name: record.name.clone(),
            registry: record.registry.clone(),
            repositories: raw.as_ref().map(|r| r.repositories.clone()).unwrap_or_default(),
            next_run: next_fire(schedule.as_deref()),
            schedule,
            dry_run: raw.as_ref().is_none_or(|r| r.dry_run),
            version: record.version,
            updated_at: record.updated_at.unix_timestamp(),
            updated_by: record.updated_by.clone(),
            last_run,
            problem,
            can_edit: over.is_some_and(|r| r >= needed("save_policy")),
            can_run: over.is_some_and(|r| r >= needed("run_policy")),
        });
    }
    let recent_runs = state
        .store
        .runs(None, None, 20)
        .await?
        .iter()
        .filter(|r| role_over_scope(&state, &r.registry, &r.scope).is_some_and(|role| role >= needed("get_policies")))
        .map(run_row)
        .collect();
    Ok(PoliciesPage {
        policies,
        recent_runs,
        can_create: caller.role >= needed("save_policy"),
        now: time::OffsetDateTime::now_utc().unix_timestamp(),
    })
}

/// One policy (None: a new one), with its runs, for its page and editor.
#[server]
pub async fn get_policy(id: Option<i64>) -> Result<PolicyPage, AppError> {
    use self::ssr::*;
    let state = crate::ssr::state()?;
    let registries = state.registries.iter().map(|r| r.info.clone()).collect();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    match id {
        None => {
            require_anywhere(&state, needed("save_policy"))?;
            let form =
                PolicyForm { registry: state.registries.first().map(|r| r.info.name.clone()).unwrap_or_default(), ..Default::default() };
            Ok(PolicyPage { form, registries, runs: Vec::new(), can_edit: true, can_run: false, next_run: None, now })
        }
        Some(id) => {
            require_anywhere(&state, needed("get_policy"))?;
            let record = visible_policy(&state, id).await?;
            let runs = state.store.runs(Some(id), None, 50).await?.iter().map(run_row).collect();
            let form = form_of(&record);
            let next_run = next_fire(Some(form.schedule.as_str()).filter(|s| !s.is_empty()));
            let over = role_over(&state, &record);
            let (can_edit, can_run) = (over.is_some_and(|r| r >= needed("save_policy")), over.is_some_and(|r| r >= needed("run_policy")));
            Ok(PolicyPage { form, registries, runs, can_edit, can_run, next_run, now })
        }
    }
}

/// What the policy in `form` would do now — and how that differs from its saved version —
/// from cached repositories; nothing is saved or deleted. Mistakes come back in `errors`.
#[server(output = JsonStr)]
pub async fn preview_policy(form: PolicyForm) -> Result<WhatIf, AppError> {
    use self::ssr::*;
    let state = crate::ssr::state()?;
    require_anywhere(&state, needed("preview_policy"))?;
    let policy = match validated(&state, &form) {
        Ok(p) => p,
        Err(errors) => return Ok(WhatIf { errors, ..Default::default() }),
    };
    require_over(&state, needed("preview_policy"), policy.registry(), &policy.raw().repositories)?;
    let saved = match form.id {
        // The saved version's plan shows its repositories too: it must be the caller's to see.
        Some(id) => match visible_policy(&state, id).await {
            Ok(record) => policy_of(&state, &record).ok(),
            Err(AppError::NotFound(m)) => return Err(AppError::NotFound(m)),
            Err(_) => None,
        },
        None => None,
    };
    Ok(portolan_service::whatif::what_if(&state, &policy, saved.as_ref()).await?)
}

/// Saves a policy (admins of its registry): created, or updated if nobody changed it since
/// `form.version`. Every change is audited with the policy before and after.
#[server]
pub async fn save_policy(form: PolicyForm) -> Result<i64, AppError> {
    use self::ssr::*;
    let state = crate::ssr::state()?;
    let request = crate::ssr::request_id();
    let policy = validated(&state, &form).map_err(|errors| {
        AppError::BadRequest(
            errors.iter().map(|(at, m)| if at.is_empty() { m.clone() } else { format!("{at}: {m}") }).collect::<Vec<_>>().join("; "),
        )
    })?;
    let caller =
        require_change_over(&state, needed("save_policy"), policy.registry(), &policy.raw().repositories, action("save_policy")).await?;
    let body = serde_json::to_string(policy.raw()).map_err(|e| AppError::Internal(e.to_string()))?;
    let by = caller.actor().label();
    let (record, action, before) = match form.id {
        None => (state.store.policy_create(policy.name(), policy.registry(), &body, Some(&by)).await?, "policy-create", None),
        Some(id) => {
            let old = visible_policy(&state, id).await?;
            require_change_over(&state, needed("save_policy"), &old.registry, &scope_of(&old), action("save_policy")).await?;
            let record = state.store.policy_update(id, form.version, policy.name(), policy.registry(), &body, Some(&by)).await?;
            (record, "policy-update", Some(old))
        }
    };
    // Who may read this entry: admins over the scope before and after.
    let mut scope = scope_of(&record);
    scope.extend(before.as_ref().map(scope_of).unwrap_or_default());
    scope.sort();
    scope.dedup();
    let before = before.map(|old| old.body);
    let detail = serde_json::json!({
        "policy": record.id,
        "version": record.version,
        "scope": scope,
        "before": before.and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok()),
        "after": serde_json::from_str::<serde_json::Value>(&record.body).ok(),
    });
    let entry = portolan_store::NewAudit::new(caller.actor(), action, portolan_store::Outcome::Done)
        .at(policy.registry(), None)
        .reason(format!("{:?} version {}", record.name, record.version))
        .detail(detail)
        .request(request.as_deref());
    state.store.audit(entry).await?;
    redirect_to(&format!("/admin/policies/{}", record.id));
    Ok(record.id)
}

/// Deletes a policy (admins of its registry); its runs stay.
#[server]
pub async fn delete_policy(id: i64) -> Result<(), AppError> {
    use self::ssr::*;
    let state = crate::ssr::state()?;
    require_anywhere(&state, needed("delete_policy"))?;
    let record = visible_policy(&state, id).await?;
    let caller =
        require_change_over(&state, needed("delete_policy"), &record.registry, &scope_of(&record), action("delete_policy")).await?;
    state.store.policy_delete(id).await?;
    let entry = portolan_store::NewAudit::new(caller.actor(), "policy-delete", portolan_store::Outcome::Done)
        .at(&record.registry, None)
        .reason(format!("{:?}", record.name))
        .detail(serde_json::json!({"policy": id, "scope": scope_of(&record), "before": serde_json::from_str::<serde_json::Value>(&record.body).ok()}))
        .request(crate::ssr::request_id().as_deref());
    state.store.audit(entry).await?;
    redirect_to("/admin/policies");
    Ok(())
}

/// Runs a policy now (maintainers of its registry); a policy in dry run only plans. Never two
/// runs of one policy at once, anywhere in the cluster.
#[server]
pub async fn run_policy(id: i64, dry_run: bool) -> Result<i64, AppError> {
    use self::ssr::*;
    let state = crate::ssr::state()?;
    require_anywhere(&state, needed("run_policy"))?;
    let record = visible_policy(&state, id).await?;
    let caller = require_change_over(&state, needed("run_policy"), &record.registry, &scope_of(&record), action("run_policy")).await?;
    let policy = policy_of(&state, &record)?;
    let req = RunRequest {
        record,
        trigger: Trigger::Manual,
        actor: caller.actor(),
        dry_run: dry_run || policy.dry_run(),
        scheduled_for: None,
        request_id: crate::ssr::request_id(),
    };
    let run = start(&state, &state.replica, req).await?;
    redirect_to(&format!("/admin/runs/{}", run.id));
    Ok(run.id)
}

/// Asks a run to stop (maintainers of its registry): it stops between items.
#[server]
pub async fn stop_run(id: i64) -> Result<(), AppError> {
    use self::ssr::*;
    let state = crate::ssr::state()?;
    require_anywhere(&state, needed("stop_run"))?;
    let run = visible_run(&state, id).await?;
    require_change_over(&state, needed("stop_run"), &run.registry, &run.scope, action("stop_run")).await?;
    state.store.run_request_stop(id).await?;
    redirect_to(&format!("/admin/runs/{id}"));
    Ok(())
}

/// A run and its items from `from` on (maintainers of its registry).
#[server(output = JsonStr)]
pub async fn get_run(id: i64, from: i64) -> Result<RunView, AppError> {
    use self::ssr::*;
    let state = crate::ssr::state()?;
    let caller = require_anywhere(&state, needed("get_run"))?;
    let run = visible_run(&state, id).await?;
    // Items of repositories the caller does not maintain are left out (their positions stay).
    let batch = state.store.run_items(id, from.max(0), 501).await?;
    let next_from = batch.get(500).map(|item| item.position);
    let items: Vec<_> = batch
        .into_iter()
        .take(500)
        .filter(|item| {
            state.access.role_for(caller.identity.as_ref(), &run.registry, Some(&item.repository)).is_some_and(|r| r >= needed("get_run"))
        })
        .map(item_row)
        .collect();
    let running = run.state == portolan_store::RunState::Running;
    Ok(RunView {
        run: run_row(&run),
        items,
        next_from,
        // Seeing a run already needs maintainer over its scope, which is what stopping it needs.
        can_stop: running && !run.stop_requested,
        now: time::OffsetDateTime::now_utc().unix_timestamp(),
    })
}
