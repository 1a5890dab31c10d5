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
        Some(i) => Actor::user(&i.provider, &i.subject, Some(i.display_name())),
        None => Actor::anonymous(),
    }
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

/// [`require`] for a change (maintainer or admin actions): a refusal is written to the audit
/// log too, as `action`.
pub async fn require_change(
    state: &AppState,
    needed: Role,
    registry: &str,
    repository: Option<&str>,
    action: &str,
) -> Result<Caller, AppError> {
    let who = current_user();
    match require_for(state, who.clone(), needed, registry, repository) {
        Ok(caller) => Ok(caller),
        Err(e) => {
            let entry = NewAudit::new(actor_of(who.as_ref()), action, Outcome::Refused)
                .at(registry, repository)
                .reason(e.to_string())
                .request(request_id().as_deref());
            // The refusal stands even if it cannot be recorded; the failure is logged.
            if let Err(store) = state.store.audit(entry).await {
                tracing::warn!(error = %store, "recording a refused attempt");
            }
            Err(e)
        }
    }
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
