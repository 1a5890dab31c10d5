//! Portolan's user interface: pages, components and server functions. Pages render on the
//! server only; the interactive parts are islands that hydrate in the browser (the tag list's
//! filter, copy buttons), so the browser downloads little.
//!
//! # Layout
//! - [`routes`]: one page per file (registries, catalog, repository, artifact, search, storage).
//! - [`components`]: reusable pieces (layout, error view, copy button, pager…).
//! - [`api`]: `#[server]` functions, thin adapters: check the caller's role, call one service of
//!   `portolan-service`, answer a small [`model`] value. Every one is a public endpoint and
//!   checks what it must itself.
//! - [`model`]: the values shared with the browser build (the `portolan-model` crate).
//! - [`error`]: [`AppError`](error::AppError), with HTTP statuses and words for people.
//! - `ssr` (server build only): the page state (the services, plus Leptos' options and how
//!   people sign in), role checks (`ssr::auth`), and view builders that need the server (the
//!   SVG referrer graph, badges, the policy form, audit rows). Nothing here runs without a
//!   request: background work lives in `portolan-service`.

#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod error;
pub use portolan_model as model;
pub mod routes;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{Link, Meta, MetaTags, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{ParamSegment, SsrMode, StaticSegment};

use crate::components::error_view::ErrorView;
use crate::components::layout::Header;
use crate::error::AppError;
use crate::routes::target::TargetSegment;

/// The HTML document around the app. `stylesheet` is the versioned URL of the CSS. On the
/// server it also sets the page's Content-Security-Policy, with the nonce Leptos gives the
/// hydration scripts: no other script runs.
pub fn shell(options: LeptosOptions, stylesheet: &'static str) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>()) {
        let policy = format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        );
        if let Ok(value) = http::HeaderValue::from_str(&policy) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="stylesheet" href=stylesheet />
                <AutoReload options=options.clone() />
                <HydrationScripts options islands=true />
                <MetaTags />
            </head>
            <body class="min-h-screen bg-slate-50 text-slate-900 dark:bg-slate-950 dark:text-slate-100">
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Meta property="og:site_name" content="Portolan" />
        <Router>
            <Header />
            <main class="mx-auto w-full max-w-7xl px-4 py-6 sm:px-6">
                <Routes fallback=|| {
                    view! { <ErrorView error=AppError::NotFound("There is no page at this address.".into()) /> }
                }>
                    // Async: a page is sent once its data is in, rendered in place, so it reads
                    // without JavaScript and its <title>, previews and HTTP status are right.
                    // (leptos_axum 0.8 does not implement PartiallyBlocked; streamed pages would
                    // set the status and head before their data arrives, and out-of-order chunks
                    // need script to show.) Slow parts have a time budget and the browser fills
                    // in the rest (see routes/repository.rs).
                    <Route path=StaticSegment("") view=routes::home::HomePage ssr=SsrMode::Async />
                    <Route path=StaticSegment("sign-in") view=routes::sign_in::SignInPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("search") view=routes::search::SearchPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("digest"), ParamSegment("digest")) view=routes::search::DigestPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("trash")) view=routes::admin::TrashPageView ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("tokens")) view=routes::tokens::AllTokensPageView ssr=SsrMode::Async />
                    <Route path=(StaticSegment("settings"), StaticSegment("tokens")) view=routes::tokens::TokensPageView ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("audit")) view=routes::admin::AuditPageView ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("policies")) view=routes::retention::PoliciesPageView ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("policies"), ParamSegment("id")) view=routes::retention::PolicyPageView ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("runs"), ParamSegment("id")) view=routes::retention::RunPageView ssr=SsrMode::Async />
                    <Route path=(StaticSegment("r"), ParamSegment("registry")) view=routes::registry::RegistryPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("r"), ParamSegment("registry"), TargetSegment::RegistryStorage) view=routes::storage::RegistryStoragePage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("r"), ParamSegment("registry"), TargetSegment::Repository) view=routes::repository::RepositoryPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("r"), ParamSegment("registry"), TargetSegment::Tag) view=routes::artifact::ArtifactPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("r"), ParamSegment("registry"), TargetSegment::Digest) view=routes::artifact::ArtifactPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("r"), ParamSegment("registry"), TargetSegment::Referrers) view=routes::graph::GraphPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("r"), ParamSegment("registry"), TargetSegment::Blob) view=routes::blob::BlobPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("r"), ParamSegment("registry"), TargetSegment::Diff) view=routes::diff::DiffPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("r"), ParamSegment("registry"), TargetSegment::Delete) view=routes::delete::DeletePage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("r"), ParamSegment("registry"), TargetSegment::Deleted) view=routes::delete::DeletedPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("r"), ParamSegment("registry"), TargetSegment::Storage) view=routes::storage::RepositoryStoragePage ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}
