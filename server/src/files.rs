//! The site's static files (the WebAssembly and its JavaScript, the favicon…), served straight
//! from the site root; every other unknown address gets Leptos' "no page here" (404).
//!
//! Not with `leptos_axum::file_and_error_handler` alone: for a file it finds, it answers inside
//! `Owner::new()`, a child of whatever reactive owner the worker thread has current, and applies
//! the `ResponseOptions` it finds there — which can be those of a page being rendered at the same
//! moment for someone else. The file's response then took that page's headers (its
//! Content-Security-Policy with the nonce of its scripts), and the page was sent with the default
//! `default-src 'none'`: its scripts blocked, nothing hydrated. Found by the end-to-end tests
//! (pages and files loaded at the same time); `tests/registries.rs` holds it.

use std::convert::Infallible;

use axum::extract::Request;
use axum::handler::Handler;
use axum::response::{IntoResponse, Response};
use portolan_app::shell;
use portolan_app::ssr::AppState;
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::STYLESHEET;

/// The static files of the site root, falling back to Leptos' 404 page for anything else (the
/// router's fallback service).
pub fn site(
    state: &AppState,
) -> impl tower::Service<Request, Response = Response, Error = Infallible, Future = impl Send + 'static> + Clone + Send + Sync + 'static {
    let not_found = leptos_axum::file_and_error_handler::<AppState, _>(|options| shell(options, &STYLESHEET));
    let files = ServeDir::new(&*state.leptos_options.site_root)
        .precompressed_gzip()
        .precompressed_br()
        .append_index_html_on_directories(false)
        .call_fallback_on_method_not_allowed(true)
        .fallback(not_found.with_state(state.clone()));
    ServiceExt::<Request>::map_response(files, IntoResponse::into_response)
}
