//! The page a refused sign-in gets: what happened, in words, and a way back. Plain HTML with
//! Portolan's stylesheet (the app's pages need the router; this must work whatever failed).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// A refusal page with `status`; `reason` is shown as text.
pub fn failure(stylesheet: &str, status: StatusCode, reason: &str) -> Response {
    let title = if status == StatusCode::UNAUTHORIZED { "Sign-in refused" } else { "Sign-in is not available" };
    let body = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark"><title>{title} · Portolan</title><link rel="stylesheet" href="{css}"></head>
<body class="min-h-screen bg-slate-50 text-slate-900 dark:bg-slate-950 dark:text-slate-100"><main class="mx-auto w-full max-w-7xl px-4 py-6 sm:px-6">
<section role="alert" data-error-status="{code}" data-signin-refused="true" class="mx-auto max-w-2xl rounded-lg border border-rose-200 bg-white p-6 shadow-sm dark:border-rose-900 dark:bg-slate-900">
<p class="text-sm font-semibold text-rose-700 dark:text-rose-400">Error {code}</p>
<h1 class="mt-1 text-2xl font-semibold">{title}</h1>
<p class="mt-3 break-words text-slate-700 dark:text-slate-300">{reason}</p>
<p class="mt-3 text-sm text-slate-600 dark:text-slate-400">Nothing was signed in. If this keeps happening, Portolan's log has the details.</p>
<p class="mt-5 text-sm"><a href="/sign-in" class="text-sky-700 hover:underline dark:text-sky-400">Try again</a> · <a href="/" class="text-sky-700 hover:underline dark:text-sky-400">All registries</a></p>
</section></main></body></html>"#,
        css = escape(stylesheet),
        code = status.as_u16(),
        reason = escape(reason),
    );
    (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}
