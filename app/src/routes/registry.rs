//! `/r/{registry}`: a registry's repositories — filtered as you type, sorted by name or last
//! push, paged, each with its tag count, newest version and last push read lazily — and a box
//! to open a repository by name. Registries without a catalog (Docker Hub, GHCR) list the
//! repositories configured for them and those people opened, and say why.
//!
//! The page is rendered on the server; the list is an island ([`RepoBrowser`]) that, in the
//! browser, filters as you type and fills in the columns the server had no time to read.

use leptos::prelude::*;
use leptos_meta::{Link, Meta, Title};
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{list_repositories, repository_summaries};
use crate::components::layout::Breadcrumbs;
use crate::components::live_list::{complete_pending, filter_as_you_type, filter_form, sort_link, with_completed};
use crate::components::page::page_view;
use crate::components::pager::pager;
use crate::components::table::{Col, framed};
use crate::model::{
    DateSource, Listing, RepoPage, RepoQuery, RepoRow, RepoSort, format_utc, is_config_name, is_repository_name, relative_seconds,
};

#[component]
pub fn RegistryPage() -> impl IntoView {
    let params = use_params_map();
    let query_map = use_query_map();
    let registry = Memo::new(move |_| params.read().get("registry").unwrap_or_default());
    let query = Memo::new(move |_| {
        let q = query_map.read();
        RepoQuery::from_params(|k| q.get(k))
    });
    let open = move || query_map.read().get("open").map(|o| o.trim().trim_matches('/').to_owned()).filter(|o| !o.is_empty());
    let page = Resource::new_blocking(move || (registry.get(), query.get()), |(r, q)| list_repositories(r, q));

    // Only valid names go into the redirect (a raw value could carry a newline into the
    // Location header).
    view! {
        {move || match open() {
            Some(repo) if is_repository_name(&repo) && is_config_name(&registry.get()) => {
                view! { <Redirect path=format!("/r/{}/{}", registry.get(), repo) /> }.into_any()
            }
            Some(repo) if !is_repository_name(&repo) => {
                let error = crate::error::AppError::BadRequest(format!("{repo:?} is not a valid repository name"));
                view! { <crate::components::error_view::ErrorView error /> }.into_any()
            }
            Some(_) => {
                let error = crate::error::AppError::NotFound("no registry by that name is configured".into());
                view! { <crate::components::error_view::ErrorView error /> }.into_any()
            }
            None => page_view(page, registry_view).into_any(),
        }}
    }
}

/// The page body (plain markup: it is built inside a `Suspend`).
fn registry_view(page: RepoPage) -> impl IntoView {
    let name = page.registry.name.clone();
    let title = page.registry.title.clone();
    let host = page.registry.host.clone();
    let base = format!("/r/{name}");
    let storage = format!("{base}/-/storage");
    let why = match &page.listing {
        Listing::NoCatalog { reason } => Some(format!(
            "This registry does not list its repositories ({reason}). Listed here: the repositories configured for it in Portolan and those people opened here. Open any other by name."
        )),
        _ => None,
    };
    view! {
        <Title text=format!("{title} · Portolan") />
        <Meta name="description" content=format!("Repositories of the registry {host}.") />
        <Meta property="og:title" content=format!("{title} ({host})") />
        <Link rel="canonical" href=format!("{base}{}", page.query.to_query_string()) />
        <Breadcrumbs items=vec![("Registries".into(), Some("/".into())), (title.clone(), None)] />
        <div class="mb-4 flex flex-wrap items-end justify-between gap-4">
            <div>
                <h1 class="text-2xl font-semibold">{title}</h1>
                <p class="font-mono text-sm text-slate-600 dark:text-slate-400">{host}</p>
                <p class="mt-1 text-sm"><a href=storage class="text-sky-700 hover:underline dark:text-sky-400" data-testid="storage-link">"Storage: where the bytes are"</a></p>
            </div>
            <form method="get" action=base class="flex gap-2">
                <label for="open-repo" class="sr-only">"Repository name"</label>
                <input id="open-repo" name="open" placeholder="Open repository, e.g. library/alpine" class="w-72 rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-900" />
                <button type="submit" class="rounded-md bg-sky-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-800">"Open"</button>
            </form>
        </div>
        {why.map(|w| view! {
            <p class="mb-4 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200" data-testid="no-catalog">{w}</p>
        })}
        <RepoBrowser page />
    }
}

/// The repository list: filter, sort links, table, pager. An island: in the browser it filters
/// as you type and completes the rows the server left pending; without JavaScript the filter
/// is a form.
#[island]
pub fn RepoBrowser(page: RepoPage) -> impl IntoView {
    let base = format!("/r/{}", page.registry.name);
    let registry = page.registry.name.clone();
    let initial = page.query.clone();
    let shown = RwSignal::new(page);
    let problem = RwSignal::new(None::<String>);
    let completed = RwSignal::new(Vec::<RepoRow>::new());
    let r = registry.clone();
    complete_pending(shown, |p: &RepoPage| &p.rows, move |names| repository_summaries(r.clone(), names, 0), completed);
    let on_input = filter_as_you_type(
        base.clone(),
        move || shown.with_untracked(|p| p.query.clone()),
        move |query| list_repositories(registry.clone(), query),
        move |page| {
            completed.set(Vec::new());
            shown.set(page);
        },
        problem,
    );
    view! {
        {filter_form(base, "repo-filter", "name, or a pattern like team/*", &initial, on_input)}
        {move || problem.get().map(|p| view! { <p role="status" class="mb-3 text-sm text-rose-700 dark:text-rose-400">{p}</p> })}
        {move || repo_table(shown.get(), completed.get())}
    }
}

/// The table of one page of repositories, rows the server left pending taken from `completed`.
fn repo_table(page: RepoPage, completed: Vec<RepoRow>) -> impl IntoView {
    let pages = page.pages();
    let RepoPage { registry, query, total, matching, rows, listing, recent, configured, notice, now } = page;
    let base = format!("/r/{}", registry.name);
    let rows = with_completed(rows, &completed);
    let empty = match (&listing, total) {
        (_, 0) if !matches!(listing, Listing::NoCatalog { .. }) => {
            Some("This registry lists no repositories (or none Portolan's credentials, or your role, may see).")
        }
        (Listing::NoCatalog { .. }, 0) => {
            Some("No repository is configured for this registry and nobody opened one here yet: open one by name.")
        }
        _ if matching == 0 => Some("No repository matches the filter."),
        _ => None,
    };
    let (pager_base, pager_query) = (base.clone(), query.clone());
    view! {
        {notice.map(|n| view! {
            <p class="mb-3 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200" data-testid="repo-notice">{n}</p>
        })}
        <div class="mb-3 flex flex-wrap items-center justify-between gap-3 text-sm">
            <p class="text-slate-600 dark:text-slate-400" data-testid="repo-count">
                {if query.filter.is_empty() { format!("{total} repositories") } else { format!("{matching} of {total} repositories match") }}
            </p>
            <div class="flex flex-wrap items-center gap-1" role="group" aria-label="Sort by">
                <span class="mr-1 text-slate-500">"Sort:"</span>
                {sort_link(&base, &query, RepoSort::Name)}
                {sort_link(&base, &query, RepoSort::Pushed)}
            </div>
        </div>
        {empty.map(|e| view! { <p class="mb-3 text-slate-600 dark:text-slate-400" data-testid="repo-empty">{e}</p> })}
        {framed(Some("repositories"), vec![Col::text("Repository"), Col::num("Tags"), Col::text("Newest version"), Col::text("Last push")],
                    rows.into_iter().map(|row| {
                        let name = row.name().to_owned();
                        let href = format!("{base}/{name}");
                        let origin = if recent.contains(&name) {
                            Some(("opened here", "someone opened it in Portolan"))
                        } else if configured.contains(&name) {
                            Some(("configured", "named in Portolan's configuration"))
                        } else {
                            None
                        };
                        view! {
                            <tr class="hover:bg-slate-50 dark:hover:bg-slate-800/50" data-repository=name.clone()>
                                <th scope="row" class="px-3 py-2 font-mono font-medium break-all">
                                    <a href=href class="text-sky-700 hover:underline focus:outline-hidden focus-visible:ring-2 focus-visible:ring-sky-500 dark:text-sky-400">{name.clone()}</a>
                                    {origin.map(|(label, title)| view! { <span class="ml-2 rounded-sm bg-slate-100 px-1 text-xs font-normal text-slate-600 dark:bg-slate-800 dark:text-slate-300" title=title>{label}</span> })}
                                </th>
                                {summary_cells(row, now)}
                            </tr>
                        }
                    }).collect_view(), None)}
        <div class="mt-4">
            {pager(query.page, pages, move |p| format!("{pager_base}{}", RepoQuery { page: p, ..pager_query.clone() }.to_query_string()))}
        </div>
    }
}

fn summary_cells(row: RepoRow, now: i64) -> AnyView {
    match row {
        RepoRow::Ok(s) => {
            let pushed = s.pushed.map(|t| {
                let exact = format_utc(t);
                let source = s.pushed_source.map(DateSource::label).unwrap_or_default();
                view! { <time datetime=exact.clone() title=format!("{exact} ({source})")>{relative_seconds(t, now)}</time> }
            });
            view! {
                <td class="px-3 py-2 text-right tabular-nums" data-tags=s.tags>{s.tags}</td>
                <td class="px-3 py-2 font-mono text-xs">{s.newest}</td>
                <td class="px-3 py-2 whitespace-nowrap">{pushed}</td>
            }
            .into_any()
        }
        RepoRow::Failed { message, .. } => {
            view! { <td colspan="3" class="px-3 py-2 text-xs text-rose-700 dark:text-rose-400">{message}</td> }.into_any()
        }
        RepoRow::Pending { .. } => view! { <td colspan="3" class="px-3 py-2 text-slate-400" data-pending="true">"…"</td> }.into_any(),
    }
}
