//! The session: who is signed in, and how one signs in. Public: these tell anyone only what
//! the sign-in page shows anyway.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{SessionView, SignInOptions};

/// How people sign in here (the providers of the sign-in page).
#[server]
pub async fn get_sign_in_options() -> Result<SignInOptions, AppError> {
    let state = crate::ssr::state()?;
    Ok((*state.sign_in).clone())
}

/// Who is signed in, and their role on `registry` (and `repository`) or anywhere.
#[server]
pub async fn session_info(registry: Option<String>, repository: Option<String>) -> Result<SessionView, AppError> {
    let state = crate::ssr::state()?;
    Ok(crate::ssr::auth::session_view(&state, registry.as_deref(), repository.as_deref()))
}
