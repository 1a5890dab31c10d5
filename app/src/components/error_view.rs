//! The error page: a title, the message, what to do; and, during server rendering, the HTTP
//! status of the response.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::error::AppError;

#[component]
pub fn ErrorView(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(error.status_code());
    }
    let status = error.status_code().as_u16();
    let title = error.title();
    let registry_status = match &error {
        AppError::RegistryDenied { status, .. } => Some(*status),
        _ => None,
    };
    let sign_in = matches!(error, AppError::SignInRequired(_)).then(|| {
        let location = leptos_router::hooks::use_location();
        let next = format!("{}{}", location.pathname.get_untracked(), location.search.get_untracked());
        let href = format!("/sign-in?next={}", crate::model::encode_component(&next));
        view! { <a href=href data-testid="sign-in-link" class="mr-4 rounded-md bg-sky-700 px-3 py-1.5 font-medium text-white hover:bg-sky-800">"Sign in"</a> }
    });
    view! {
        <Title text=format!("{title} · Portolan") />
        <section role="alert" data-error-status=status data-registry-status=registry_status class="mx-auto max-w-2xl rounded-lg border border-rose-200 bg-white p-6 shadow-sm dark:border-rose-900 dark:bg-slate-900">
            <p class="text-sm font-semibold text-rose-700 dark:text-rose-400">"Error " {status}</p>
            <h1 class="mt-1 text-2xl font-semibold">{title}</h1>
            <p class="mt-3 break-words text-slate-700 dark:text-slate-300">{error.to_string()}</p>
            {registry_status.map(|s| view! { <p class="mt-2 text-sm text-slate-600 dark:text-slate-400">{format!("The registry answered HTTP {s}.")}</p> })}
            <p class="mt-3 text-sm text-slate-600 dark:text-slate-400">{error.hint()}</p>
            <p class="mt-5 text-sm">
                {sign_in}
                <a href="/" class="text-sky-700 hover:underline dark:text-sky-400">"All registries"</a>
            </p>
        </section>
    }
}

/// The fallback of an `<ErrorBoundary>`: shows the first error (an [`AppError`] where it is one).
pub fn error_fallback(errors: ArcRwSignal<Errors>) -> impl IntoView {
    let error = errors
        .get_untracked()
        .into_iter()
        .next()
        .map(|(_, e)| e.downcast_ref::<AppError>().cloned().unwrap_or_else(|| AppError::Internal(e.to_string())))
        .unwrap_or_else(|| AppError::Internal("an unknown error".into()));
    view! { <ErrorView error /> }
}
