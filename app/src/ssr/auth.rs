//! Who is asking, and whether they may: every server function, page and API route calls
//! [`require`] (or [`require_for`]) itself with the role it needs. Route guards only change
//! what is shown; this is the check.

use portolan_access::{Denied, Identity, Role};
use portolan_store::{Actor, NewAudit, Outcome};

use crate::error::AppError;
use crate::ssr::{AppState, request_id, request_parts};

/// Who is asking, as the server's middleware found out (the session, or a trusted proxy's
/// headers); put in the request's extensions. `None`: not signed in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CurrentUser(pub Option<Identity>);

/// The signed-in identity of the request being served.
pub fn current_user() -> Option<Identity> {
    request_parts().and_then(|p| p.extensions.get::<CurrentUser>().cloned()).and_then(|c| c.0)
}

/// Someone allowed to do something, and the role they have where they do it.
#[derive(Clone, Debug, PartialEq)]
pub struct Caller {
    pub identity: Option<Identity>,
    pub role: Role,
}

impl Caller {
    /// The caller as the audit log records them.
    pub fn actor(&self) -> Actor {
        actor_of(self.identity.as_ref())
    }
}

/// An identity as the audit log records it.
pub fn actor_of(who: Option<&Identity>) -> Actor {
    match who {
        Some(i) => Actor { token: i.cap.as_ref().map(|c| c.token()), ..Actor::user(&i.provider, &i.subject, Some(i.display_name())) },
        None => Actor::anonymous(),
    }
}

/// Whether `who` is an admin of every repository of every registry (and acts as themselves or
/// through a token that allows it).
pub fn admin_everywhere(state: &AppState, who: Option<&Identity>) -> bool {
    let everything = ["**".to_owned()];
    !state.registries.is_empty()
        && state.registries.iter().all(|r| state.access.role_over(who, &r.info.name, &everything).is_some_and(|role| role >= Role::Admin))
}

/// The role the entry point `name` needs, from the one table of needs
/// ([`crate::api::needs`]).
pub fn needed(name: &str) -> Role {
    match crate::api::needs::level(name) {
        crate::api::needs::Level::Viewer => Role::Viewer,
        crate::api::needs::Level::Maintainer => Role::Maintainer,
        crate::api::needs::Level::Admin => Role::Admin,
    }
}

/// The audit action under which refusals of the entry point `name` (a change) are recorded.
pub fn action(name: &str) -> &'static str {
    crate::api::needs::entry(name).and_then(|e| e.change).unwrap_or("change")
}

/// Checks that the current user has at least `needed` on `registry` (and `repository`).
pub fn require(state: &AppState, needed: Role, registry: &str, repository: Option<&str>) -> Result<Caller, AppError> {
    require_for(state, current_user(), needed, registry, repository)
}

/// [`require`] for a given identity (routes outside Leptos: badges, the JSON API).
pub fn require_for(
    state: &AppState,
    who: Option<Identity>,
    needed: Role,
    registry: &str,
    repository: Option<&str>,
) -> Result<Caller, AppError> {
    // An unknown registry is a 404 for everyone.
    state.registry(registry)?;
    match state.access.require(who.as_ref(), registry, repository, needed) {
        Ok(role) => Ok(Caller { identity: who, role }),
        Err(denied) => Err(refusal(denied, registry, repository)),
    }
}

/// [`require`] for a change (maintainer or admin actions): a signed-in person's refusal is
/// written to the audit log too, as `action`.
pub async fn require_change(
    state: &AppState,
    needed: Role,
    registry: &str,
    repository: Option<&str>,
    action: &str,
) -> Result<Caller, AppError> {
    let who = current_user();
    let result = require_for(state, who.clone(), needed, registry, repository);
    audit_refusal(state, who, registry, repository, action, result).await
}

/// At least `needed` over every repository the globs `scope` can match in `registry` (a
/// retention policy's scope: see [`portolan_access::Access::role_over`]); a signed-in
/// person's refusal is audited as `action`.
pub async fn require_change_over(
    state: &AppState,
    needed: Role,
    registry: &str,
    scope: &[String],
    action: &str,
) -> Result<Caller, AppError> {
    let who = current_user();
    let result = require_over_for(state, who.clone(), needed, registry, scope);
    audit_refusal(state, who, registry, None, action, result).await
}

/// [`require_change_over`] without the audit, for reading (a preview).
pub fn require_over(state: &AppState, needed: Role, registry: &str, scope: &[String]) -> Result<Caller, AppError> {
    require_over_for(state, current_user(), needed, registry, scope)
}

fn require_over_for(state: &AppState, who: Option<Identity>, needed: Role, registry: &str, scope: &[String]) -> Result<Caller, AppError> {
    state.registry(registry)?;
    match state.access.require_over(who.as_ref(), registry, scope, needed) {
        Ok(role) => Ok(Caller { identity: who, role }),
        Err(denied) => Err(refusal_here(denied, &scope_label(registry, scope))),
    }
}

/// Where a scope is, as a refusal says it: its patterns (a long list shortened).
fn scope_label(registry: &str, scope: &[String]) -> String {
    let shown: Vec<&str> = scope.iter().take(5).map(String::as_str).collect();
    let more = scope.len().saturating_sub(shown.len());
    let list = shown.join(", ");
    let list = if more > 0 { format!("{list} and {more} more") } else { list };
    format!(" on every repository of {list} in {registry}")
}

/// Writes a refused change to the audit log when someone signed in asked for it on a
/// configured registry. Unknown registries are a 404 (nothing to record, and the name is
/// whatever the request said); refusals of visitors who are not signed in are logged, not
/// audited, so nobody can fill the audit log without an account.
async fn audit_refusal(
    state: &AppState,
    who: Option<Identity>,
    registry: &str,
    repository: Option<&str>,
    action: &str,
    result: Result<Caller, AppError>,
) -> Result<Caller, AppError> {
    let e = match result {
        Ok(caller) => return Ok(caller),
        Err(e) => e,
    };
    if state.registry(registry).is_err() {
        return Err(e);
    }
    let Some(who) = who else {
        tracing::info!(action, registry, "a change refused to a visitor who is not signed in");
        return Err(e);
    };
    let entry = NewAudit::new(actor_of(Some(&who)), action, Outcome::Refused)
        .at(registry, repository)
        .reason(e.to_string())
        .request(request_id().as_deref());
    // The refusal stands even if it cannot be recorded; the failure is logged.
    if let Err(store) = state.store.audit(entry).await {
        tracing::warn!(error = %store, "recording a refused attempt");
    }
    Err(e)
}

/// Checks a role that is not about one registry (the audit log, the trash, policies): the
/// highest role the user has anywhere.
pub fn require_anywhere(state: &AppState, needed: Role) -> Result<Caller, AppError> {
    require_anywhere_for(state, current_user(), needed)
}

/// [`require_anywhere`] for a given identity (routes outside Leptos: the audit downloads).
pub fn require_anywhere_for(state: &AppState, who: Option<Identity>, needed: Role) -> Result<Caller, AppError> {
    match state.access.highest_role(who.as_ref()) {
        Some(role) if role >= needed && !state.access.is_open() => Ok(Caller { identity: who, role }),
        _ if state.access.is_open() => Err(refusal(Denied::ReadOnly, "", None)),
        have if who.is_none() => {
            let _ = have;
            Err(refusal(Denied::SignInRequired, "", None))
        }
        have => Err(refusal(Denied::Forbidden { needed, have }, "", None)),
    }
}

fn refusal(denied: Denied, registry: &str, repository: Option<&str>) -> AppError {
    let here = match (registry, repository) {
        ("", _) => String::new(),
        (r, Some(repo)) => format!(" on {r}/{repo}"),
        (r, None) => format!(" on {r}"),
    };
    refusal_here(denied, &here)
}

/// A refusal; `here` says where (" on hub/team/api"), or is empty.
fn refusal_here(denied: Denied, here: &str) -> AppError {
    match denied {
        Denied::SignInRequired => AppError::SignInRequired(format!("Sign in to see or change this{here}.")),
        Denied::Forbidden { needed, have: Some(have) } => {
            AppError::Forbidden(format!("This needs the {needed} role{here}; you are {have} here."))
        }
        Denied::Forbidden { needed, have: None } => {
            AppError::Forbidden(format!("This needs the {needed} role{here}; you have no role here."))
        }
        Denied::ReadOnly => {
            AppError::Forbidden("Portolan is a read-only browser here: no sign-in is configured, so nothing can be changed.".into())
        }
    }
}

/// The role of the current user on a registry (and repository), for showing or hiding
/// controls — never for deciding (server functions check themselves).
pub fn role_here(state: &AppState, registry: &str, repository: Option<&str>) -> Option<Role> {
    state.access.role_for(current_user().as_ref(), registry, repository)
}

/// The current user's session view for pages (who, and their role where the page is).
pub fn session_view(state: &AppState, registry: Option<&str>, repository: Option<&str>) -> crate::model::SessionView {
    let who = current_user();
    let role = match registry {
        Some(r) => state.access.role_for(who.as_ref(), r, repository),
        None => state.access.highest_role(who.as_ref()),
    };
    crate::model::SessionView {
        name: who.as_ref().map(|i| i.display_name().to_owned()),
        provider: who.as_ref().map(|i| i.provider.clone()),
        role: role.map(|r| r.as_str().to_owned()),
        highest: state.access.highest_role(who.as_ref()).map(|r| r.as_str().to_owned()),
        sign_in_enabled: !state.access.is_open(),
        proxy: state.sign_in.proxy,
    }
}

/// Whether the current user may delete in `repository`, asked of the registry only for users
/// who could (the capability probe is cached per repository by the client).
pub async fn delete_ability(
    state: &AppState,
    registry: &crate::ssr::Registry,
    repository: &portolan_oci::RepoName,
) -> crate::model::DeleteAbility {
    delete_ability_lasting(state, registry, repository).await.0
}

/// [`delete_ability`], and whether the answer lasts (false: the registry could not be asked
/// just now, and the next page asks again).
pub async fn delete_ability_lasting(
    state: &AppState,
    registry: &crate::ssr::Registry,
    repository: &portolan_oci::RepoName,
) -> (crate::model::DeleteAbility, bool) {
    use crate::model::DeleteAbility;
    match role_here(state, &registry.info.name, Some(repository.as_str())) {
        Some(role) if role >= Role::Maintainer && !state.access.is_open() => match registry.client.capabilities(repository).await {
            Ok(caps) => match caps.manifest_delete {
                Some(portolan_oci::Support::No(reason)) => (DeleteAbility::Disabled(reason), true),
                _ => (DeleteAbility::Allowed, true),
            },
            Err(e) => (DeleteAbility::Disabled(format!("whether deleting is possible could not be found out: {}", e.message())), false),
        },
        _ => (DeleteAbility::Hidden, true),
    }
}
