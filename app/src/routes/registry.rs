//! `/r/{registry}`: a registry's repositories (catalog, paged), and a box to open a
//! repository by name (the only way on registries without a catalog).

use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::list_repositories;
use crate::components::layout::Breadcrumbs;
use crate::components::page::page_view;
use crate::model::{CatalogPage, encode_component, is_repository_name};

#[component]
pub fn RegistryPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let registry = Memo::new(move |_| params.read().get("registry").unwrap_or_default());
    let last = Memo::new(move |_| query.read().get("last"));
    let open = move || query.read().get("open").map(|o| o.trim().trim_matches('/').to_owned()).filter(|o| !o.is_empty());
    let page = Resource::new_blocking(move || (registry.get(), last.get()), |(r, l)| list_repositories(r, l));

    // Only a valid repository name goes into the redirect (a raw value could carry a newline
    // into the Location header).
    view! {
        {move || match open() {
            Some(repo) if is_repository_name(&repo) => view! { <Redirect path=format!("/r/{}/{}", registry.get(), repo) /> }.into_any(),
            Some(repo) => {
                let error = crate::error::AppError::BadRequest(format!("{repo:?} is not a valid repository name"));
                view! { <crate::components::error_view::ErrorView error /> }.into_any()
            }
            None => page_view(page, registry_view).into_any(),
        }}
    }
}

/// The page body (plain markup: it is built inside a `Suspend`).
fn registry_view(page: CatalogPage) -> impl IntoView {
    let name = page.registry.name.clone();
    let title = page.registry.title.clone();
    let host = page.registry.host.clone();
    let next = page.next.clone().map(|n| format!("/r/{name}?last={}", encode_component(&n)));
    let first = page.after.is_some().then(|| format!("/r/{name}"));
    let base = format!("/r/{name}");
    view! {
        <Title text=format!("{title} · Portolan") />
        <Meta name="description" content=format!("Repositories of the registry {host}.") />
        <Meta property="og:title" content=format!("{title} ({host})") />
        <Breadcrumbs items=vec![("Registries".into(), Some("/".into())), (title.clone(), None)] />
        <div class="mb-4 flex flex-wrap items-end justify-between gap-4">
            <div>
                <h1 class="text-2xl font-semibold">{title}</h1>
                <p class="font-mono text-sm text-slate-600 dark:text-slate-400">{host}</p>
            </div>
            <form method="get" action=base class="flex gap-2" role="search">
                <label for="open-repo" class="sr-only">"Repository name"</label>
                <input id="open-repo" name="open" placeholder="Open repository, e.g. library/alpine" class="w-72 rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-900" />
                <button type="submit" class="rounded-md bg-sky-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-800">"Open"</button>
            </form>
        </div>
        {page.notice.clone().map(|n| view! {
            <p class="mb-4 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200">{n}</p>
        })}
        {(page.catalog_supported && page.repositories.is_empty()).then(|| view! {
            <p class="text-slate-600 dark:text-slate-400">"This registry lists no repositories (or none Portolan's credentials may see)."</p>
        })}
        <ul class="divide-y divide-slate-200 overflow-hidden rounded-lg border border-slate-200 bg-white dark:divide-slate-800 dark:border-slate-800 dark:bg-slate-900" data-testid="repositories">
            {page.repositories.clone().into_iter().map(|repo| {
                let href = format!("/r/{name}/{repo}");
                view! {
                    <li>
                        <a href=href class="block px-4 py-2 font-mono text-sm hover:bg-sky-50 focus:outline-hidden focus-visible:bg-sky-50 dark:hover:bg-slate-800 dark:focus-visible:bg-slate-800">{repo}</a>
                    </li>
                }
            }).collect_view()}
        </ul>
        <nav aria-label="Pages" class="mt-4 flex justify-between text-sm">
            {first.map(|f| view! { <a href=f class="text-sky-700 hover:underline dark:text-sky-400">"← First page"</a> })}
            <span></span>
            {next.map(|n| view! { <a href=n class="text-sky-700 hover:underline dark:text-sky-400" rel="next">"Next page →"</a> })}
        </nav>
    }
}
