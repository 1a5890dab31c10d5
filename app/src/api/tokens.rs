//! API tokens: people make them for their pipelines (`/settings/tokens`) and revoke them; an
//! admin of everything sees and revokes everyone's. Each function checks its caller itself
//! (the table of needs); a token cannot make tokens.

use leptos::prelude::*;

use crate::api::codec::JsonStr;
use crate::error::AppError;
use crate::model::{NewToken, TokenForm, TokensPage};

/// The caller's own tokens.
#[server]
pub async fn list_tokens() -> Result<TokensPage, AppError> {
    let state = crate::ssr::state()?;
    let who = signed_in(&state)?;
    let rows = portolan_service::tokens::list(&state, Some(&who)).await?;
    Ok(page(&state, rows, false))
}

/// Everyone's tokens (an admin of everything).
#[server]
pub async fn list_all_tokens() -> Result<TokensPage, AppError> {
    let state = crate::ssr::state()?;
    let who = crate::ssr::auth::current_user();
    crate::ssr::auth::require_anywhere(&state, crate::ssr::auth::needed("list_all_tokens"))?;
    if !crate::ssr::auth::admin_everywhere(&state, who.as_ref()) {
        return Err(AppError::Forbidden("Everyone's tokens are for admins of every repository of every registry.".into()));
    }
    let rows = portolan_service::tokens::list(&state, None).await?;
    Ok(page(&state, rows, true))
}

/// Makes a token for the caller: its secret, shown this once. Never more than the caller may
/// do over its scope.
#[server(output = JsonStr)]
pub async fn create_token(form: TokenForm) -> Result<NewToken, AppError> {
    let state = crate::ssr::state()?;
    let who = signed_in(&state)?;
    let role = form.role.parse::<portolan_access::Role>().map_err(|e| AppError::BadRequest(e.to_string()))?;
    let request = portolan_service::tokens::TokenRequest {
        name: form.name,
        registry: if form.registry.trim().is_empty() { "*".into() } else { form.registry },
        repositories: form.repositories.split([',', '\n']).map(str::to_owned).collect(),
        role,
        days: form.days,
    };
    let (secret, record) = portolan_service::tokens::create(&state, &who, request, state.settings.token_max_days).await?;
    let entry = portolan_store::NewAudit::new(crate::ssr::auth::actor_of(Some(&who)), "token-create", portolan_store::Outcome::Done)
        .reason(format!(
            "token {} {:?} ({}, {} over {} in {}, until {})",
            record.id,
            record.name,
            record.hint,
            record.role,
            record.repositories.join(", "),
            record.registry,
            record.expires_at.date()
        ))
        .request(crate::ssr::request_id().as_deref());
    state.store.audit(entry).await?;
    Ok(NewToken { secret, row: portolan_service::tokens::row_of(&record, time::OffsetDateTime::now_utc()) })
}

/// Revokes a token: the caller's own, or anyone's for an admin of everything.
#[server]
pub async fn revoke_token(id: i64) -> Result<(), AppError> {
    let state = crate::ssr::state()?;
    let who = signed_in(&state)?;
    let any = crate::ssr::auth::admin_everywhere(&state, Some(&who));
    let actor = crate::ssr::auth::actor_of(Some(&who));
    portolan_service::tokens::revoke(&state, id, &who, any, actor, crate::ssr::request_id().as_deref()).await?;
    crate::ssr::redirect_to(if any { "/admin/tokens" } else { "/settings/tokens" });
    Ok(())
}

/// The caller, who must be signed in (in the read-only mode nobody is).
#[cfg(feature = "ssr")]
fn signed_in(_state: &crate::ssr::AppState) -> Result<portolan_access::Identity, AppError> {
    crate::ssr::auth::current_user().ok_or_else(|| AppError::SignInRequired("Sign in to see and make your API tokens.".into()))
}

#[cfg(feature = "ssr")]
fn page(state: &crate::ssr::AppState, rows: Vec<crate::model::TokenRow>, all: bool) -> TokensPage {
    TokensPage {
        rows,
        all,
        max_days: state.settings.token_max_days,
        registries: state.registries.iter().map(|r| r.info.clone()).collect(),
        now: time::OffsetDateTime::now_utc().unix_timestamp(),
    }
}
