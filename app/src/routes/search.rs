//! `/search?q=…`: the search box's results page (it works without JavaScript; the header's box
//! also answers as you type), and `/digest/{digest}`: where a digest is used.

use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{search, where_used};
use crate::components::copy::CopyField;
use crate::components::page::page_view;
use crate::components::usage::{digest_href, where_used_body};
use crate::model::{SearchKind, SearchResults, WhereUsedView, short_digest};

/// Hits per registry on the results page.
pub const PAGE_HITS: usize = 20;

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let q = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let results = Resource::new_blocking(move || q.get(), |q| search(q, PAGE_HITS));
    page_view(results, results_view)
}

fn search_form(q: &str) -> impl IntoView + use<> {
    view! {
        <form method="get" action="/search" role="search" class="mb-4 flex flex-wrap gap-2">
            <label for="search-page-q" class="sr-only">"Search"</label>
            <input id="search-page-q" type="search" name="q" value=q.to_owned() placeholder="repository, repository:tag, or sha256:…" class="w-full max-w-xl rounded-md border border-slate-300 bg-white px-3 py-1.5 dark:border-slate-700 dark:bg-slate-900" />
            <button type="submit" class="rounded-md bg-sky-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-800">"Search"</button>
        </form>
    }
}

fn results_view(r: SearchResults) -> impl IntoView {
    // leptos_meta writes a title's text unescaped: the query goes in without the characters
    // that could end the element (it is shown whole, as text, on the page).
    let shown: String = r.query.chars().filter(|c| !matches!(c, '<' | '>' | '&')).collect();
    let title = if shown.is_empty() { "Search · Portolan".to_owned() } else { format!("{shown} · Search · Portolan") };
    let body = match r.kind {
        SearchKind::Empty => view! {
            <p class="text-sm text-slate-600 dark:text-slate-400">
                "Type a repository name (or part of one; " <code>"*"</code> " is a wildcard), " <code>"repository:tag"</code>
                ", or a digest (" <code>"sha256:…"</code> ", or its first 12 digits) to see where it is used. Press "
                <kbd class="rounded-sm border border-slate-300 px-1 dark:border-slate-700">"/"</kbd> " on any page to search."
            </p>
        }
        .into_any(),
        SearchKind::Digest => digest_results(r.clone()).into_any(),
        SearchKind::Names | SearchKind::Tag => name_results(r.clone()).into_any(),
    };
    view! {
        <Title text=title />
        <Meta name="description" content="Search repositories, tags and digests across registries." />
        <h1 class="mb-3 text-2xl font-semibold">"Search"</h1>
        {search_form(&r.query)}
        {r.notice.clone().map(|n| view! { <p class="mb-3 text-sm text-slate-600 dark:text-slate-400" data-testid="search-notice">{n}</p> })}
        <div data-testid="search-results">{body}</div>
    }
}

fn name_results(r: SearchResults) -> impl IntoView {
    if r.groups.iter().all(|g| g.hits.is_empty()) && r.groups.iter().all(|g| g.note.is_none()) {
        return view! { <p class="text-slate-600 dark:text-slate-400" data-testid="no-results">{format!("Nothing matches {:?} in the registries you may see.", r.query)}</p> }.into_any();
    }
    r.groups
        .into_iter()
        .map(|g| {
            let more = g.more_href.clone().map(|href| view! { <a href=href class="text-sm text-sky-700 hover:underline dark:text-sky-400">{format!("{} more in this registry →", g.more)}</a> });
            view! {
                <section class="mb-5" data-registry=g.registry.name.clone()>
                    <h2 class="mb-1 font-semibold">{g.registry.title.clone()} <span class="ml-2 font-mono text-sm font-normal text-slate-500">{g.registry.host.clone()}</span></h2>
                    {g.note.clone().map(|n| view! { <p class="text-xs text-slate-500">{format!("Note: {n}.")}</p> })}
                    <ul class="divide-y divide-slate-100 rounded-md border border-slate-200 bg-white dark:divide-slate-800 dark:border-slate-800 dark:bg-slate-900">
                        {g.hits.into_iter().map(|h| view! {
                            <li><a href=h.href class="block px-3 py-1.5 font-mono text-sm hover:bg-sky-50 dark:hover:bg-slate-800" data-testid="hit">{h.label}</a></li>
                        }).collect_view()}
                    </ul>
                    {(g.more > 0 && g.more_href.is_none()).then(|| format!("{} more not shown", g.more))}
                    {more}
                </section>
            }
        })
        .collect_view()
        .into_any()
}

fn digest_results(r: SearchResults) -> impl IntoView {
    let candidates = (r.digests.len() > 1).then(|| {
        view! {
            <p class="mb-2 text-sm">"Several digests start so:"</p>
            <ul class="mb-4 space-y-1">
                {r.digests.iter().map(|d| view! { <li><a href=digest_href(d) class="font-mono text-sm text-sky-700 hover:underline dark:text-sky-400" data-testid="hit">{d.clone()}</a></li> }).collect_view()}
            </ul>
        }
    });
    let used = r.used.clone().map(|u| {
        let href = digest_href(&u.digest);
        view! {
            <h2 class="mb-2 text-lg font-semibold">"Where " <a href=href class="font-mono text-sky-700 hover:underline dark:text-sky-400">{short_digest(&u.digest)}</a> " is used"</h2>
            {where_used_body(u)}
        }
    });
    view! { {candidates} {used} }
}

#[component]
pub fn DigestPage() -> impl IntoView {
    let params = use_params_map();
    let digest = Memo::new(move |_| params.read().get("digest").unwrap_or_default());
    let used = Resource::new_blocking(move || digest.get(), where_used);
    page_view(used, digest_view)
}

fn digest_view(v: WhereUsedView) -> impl IntoView {
    let places = v.places();
    view! {
        <Title text=format!("Where {} is used · Portolan", short_digest(&v.digest)) />
        <Meta name="description" content=format!("{places} places use {} across the registries of this Portolan.", v.digest) />
        <h1 class="mb-2 text-2xl font-semibold">"Where is this digest used?"</h1>
        <div class="mb-4 max-w-3xl"><CopyField text=v.digest.clone() label="digest" /></div>
        {where_used_body(v)}
    }
}
