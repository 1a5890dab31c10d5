//! `/r/{registry}/{repository}`: the tags, paged, filtered as you type, sorted by version,
//! name or date, with each tag's details.
//!
//! Resources are created here, at the top of the component, never inside a `Suspend`: during
//! server rendering a `Suspend` may run more than once, and would create them again.

use leptos::prelude::*;
use leptos_meta::{Link, Meta, Title};
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use crate::api::{list_tags, tag_details};
use crate::components::badges::badges;
use crate::components::copy::{CopyField, copy_button};
use crate::components::error_view::error_fallback;
use crate::components::layout::Breadcrumbs;
use crate::components::pager::pager;
use crate::error::AppError;
use crate::model::{DateSource, TagPage, TagQuery, TagRow, TagSort, human_size, relative_time, short_digest};

#[component]
pub fn RepositoryPage() -> impl IntoView {
    let params = use_params_map();
    let query_map = use_query_map();
    let registry = Memo::new(move |_| params.read().get("registry").unwrap_or_default());
    let repository = Memo::new(move |_| params.read().get("repository").unwrap_or_default());
    let query = Memo::new(move |_| {
        let q = query_map.read();
        TagQuery::from_params(|k| q.get(k))
    });
    // The page comes with the details read within a time budget (so it is sent promptly);
    // the browser asks for the rest.
    let page = crate::codec::page_data(move || (registry.get(), repository.get(), query.get()), |(r, p, q)| list_tags(r, p, q));
    let later = LocalResource::new(move || {
        let pending: Vec<String> = match page.get() {
            Some(Ok(page)) => page.rows.iter().filter(|x| matches!(x, TagRow::Pending { .. })).map(|x| x.tag().to_owned()).collect(),
            _ => Vec::new(),
        };
        let (r, p) = (registry.get_untracked(), repository.get_untracked());
        async move { if pending.is_empty() { Ok(Vec::new()) } else { tag_details(r, p, pending, 0).await } }
    });
    let base = move || format!("/r/{}/{}", registry.get(), repository.get());

    view! {
        {move || {
            let (r, p) = (registry.get(), repository.get());
            view! { <Breadcrumbs items=vec![("Registries".into(), Some("/".into())), (r.clone(), Some(format!("/r/{r}"))), (p, None)] /> }
        }}
        <div class="mb-4 flex flex-wrap items-end justify-between gap-4">
            <h1 class="min-w-0 break-all font-mono text-2xl font-semibold">{repository}</h1>
            <TagFilter base=Signal::derive(base) query />
        </div>
        <Transition fallback=|| view! { <p class="text-slate-600">"Loading tags…"</p> }>
            <ErrorBoundary fallback=error_fallback>
                {move || Suspend::new(async move { page.await.map(|page| tag_table(page, later)) })}
            </ErrorBoundary>
        </Transition>
    }
}

/// The filter box: filters as you type (after hydration) and by submitting (without JavaScript).
#[component]
fn TagFilter(base: Signal<String>, query: Memo<TagQuery>) -> impl IntoView {
    let navigate = use_navigate();
    let pending = StoredValue::new(None::<TimeoutHandle>);
    let on_input = move |ev: leptos::ev::Event| {
        let filter = event_target_value(&ev);
        let q = TagQuery { filter, page: 1, ..query.get_untracked() };
        let url = format!("{}{}", base.get_untracked(), q.to_query_string());
        let navigate = navigate.clone();
        if let Some(h) = pending.get_value() {
            h.clear();
        }
        let handle = set_timeout_with_handle(
            move || navigate(&url, NavigateOptions { replace: true, scroll: false, ..Default::default() }),
            std::time::Duration::from_millis(200),
        );
        pending.set_value(handle.ok());
    };
    let initial = query.get_untracked();
    view! {
        <form method="get" action=base role="search" class="flex items-center gap-2" on:submit=|ev| ev.prevent_default()>
            <label for="tag-filter" class="text-sm text-slate-600 dark:text-slate-400">"Filter"</label>
            <input
                id="tag-filter"
                type="search"
                name="q"
                value=initial.filter.clone()
                placeholder="tag, or a pattern like v1.*"
                autocomplete="off"
                on:input=on_input
                class="w-64 rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-900"
            />
            {(initial.sort != TagSort::default()).then(|| view! { <input type="hidden" name="sort" value=initial.sort.key() /> })}
            {initial.reverse.then(|| view! { <input type="hidden" name="reverse" value="1" /> })}
            {initial.show_referrer_tags.then(|| view! { <input type="hidden" name="all" value="1" /> })}
            <noscript><button type="submit" class="rounded-md border border-slate-300 px-3 py-1.5 text-sm">"Filter"</button></noscript>
        </form>
    }
}

fn sort_link(base: &str, query: &TagQuery, sort: TagSort) -> impl IntoView + use<> {
    let active = query.sort == sort;
    let next = TagQuery { sort, reverse: active && !query.reverse, page: 1, ..query.clone() };
    let href = format!("{base}{}", next.to_query_string());
    let arrow = match (active, query.reverse) {
        (false, _) => "",
        (true, false) => " ↓",
        (true, true) => " ↑",
    };
    let class = if active {
        "rounded-md bg-sky-100 px-2 py-1 font-medium text-sky-900 dark:bg-sky-900 dark:text-sky-100"
    } else {
        "rounded-md px-2 py-1 text-slate-700 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800"
    };
    view! { <a href=href class=class aria-current=active.then_some("true")>{sort.label()}{arrow}</a> }
}

/// The table of one page of tags (plain markup: it is built inside a `Suspend`).
fn tag_table(page: TagPage, later: LocalResource<Result<Vec<TagRow>, AppError>>) -> impl IntoView {
    let pages = page.pages();
    let TagPage { registry, repository, total, matching, hidden_referrer_tags, query, rows, notice, now, public_url } = page;
    let badge_base = format!("/badge/{}/{}", registry.name, repository);
    let page_path = format!("/r/{}/{}", registry.name, repository);
    let base = format!("/r/{}/{}", registry.name, repository);
    let pull = format!("docker pull {}/{}:<tag>", registry.host, repository);
    let toggle = TagQuery { show_referrer_tags: !query.show_referrer_tags, page: 1, ..query.clone() };
    let pager_base = base.clone();
    let pager_query = query.clone();
    let description = format!("{total} tags in {}/{repository}", registry.host);
    view! {
        <Title text=format!("{repository} · {} · Portolan", registry.title) />
        <Meta name="description" content=description.clone() />
        <Meta property="og:title" content=format!("{repository} on {}", registry.host) />
        <Meta property="og:description" content=description />
        <Meta property="og:type" content="website" />
        <Link rel="canonical" href=format!("{base}{}", query.to_query_string()) />
        <div class="mb-3 grid gap-2 md:grid-cols-2">
            <CopyField text=pull label="Pull" />
        </div>
        {badges(&public_url, vec![("latest version", format!("{badge_base}/latest.svg"), page_path.clone()), ("tags", format!("{badge_base}/tags.svg"), page_path)])}
        {notice.map(|n| view! {
            <p class="mb-3 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200">{n}</p>
        })}
        <div class="mb-3 flex flex-wrap items-center justify-between gap-3 text-sm">
            <p class="text-slate-600 dark:text-slate-400" data-testid="tag-count">
                {if query.filter.is_empty() { format!("{total} tags") } else { format!("{matching} of {total} tags match") }}
                {(hidden_referrer_tags > 0 && !query.show_referrer_tags).then(|| format!(" · {hidden_referrer_tags} referrer tags hidden"))}
            </p>
            <div class="flex flex-wrap items-center gap-1" role="group" aria-label="Sort by">
                <span class="mr-1 text-slate-500">"Sort:"</span>
                {sort_link(&base, &query, TagSort::Version)}
                {sort_link(&base, &query, TagSort::Name)}
                {sort_link(&base, &query, TagSort::Created)}
                <a href=format!("{base}{}", toggle.to_query_string()) class="ml-2 rounded-md px-2 py-1 text-slate-700 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800">
                    {if query.show_referrer_tags { "Hide referrer tags" } else { "Show referrer tags" }}
                </a>
            </div>
        </div>
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <table class="w-full text-left text-sm" data-testid="tags">
                <thead class="border-b border-slate-200 bg-slate-50 text-xs uppercase tracking-wide text-slate-600 dark:border-slate-800 dark:bg-slate-800/50 dark:text-slate-400">
                    <tr>
                        <th scope="col" class="px-3 py-2">"Tag"</th>
                        <th scope="col" class="px-3 py-2">"Digest"</th>
                        <th scope="col" class="px-3 py-2">"Kind"</th>
                        <th scope="col" class="px-3 py-2">"Platforms"</th>
                        <th scope="col" class="px-3 py-2 text-right">"Size"</th>
                        <th scope="col" class="px-3 py-2">"Created"</th>
                        <th scope="col" class="px-3 py-2 text-right">"Referrers"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {rows.iter().map(|row| {
                        let tag = row.tag().to_owned();
                        let href = format!("{base}:{tag}");
                        let name = tag.clone();
                        let cells = match row {
                            // Read in the browser after the page loads (a local resource stays
                            // empty on the server, which renders the placeholder).
                            TagRow::Pending { .. } => {
                                let tag = tag.clone();
                                (move || {
                                    let found = later.get().and_then(|l| l.ok()).and_then(|l| l.into_iter().find(|r| r.tag() == tag));
                                    detail_cells(found, &[], now)
                                })
                                .into_any()
                            }
                            other => detail_cells(Some(other.clone()), &rows, now),
                        };
                        view! {
                            <tr class="hover:bg-slate-50 dark:hover:bg-slate-800/50" data-tag=name>
                                <th scope="row" class="px-3 py-2 font-mono font-medium">
                                    <a href=href class="text-sky-700 hover:underline focus:outline-hidden focus-visible:ring-2 focus-visible:ring-sky-500 dark:text-sky-400">{tag}</a>
                                </th>
                                {cells}
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <div class="mt-4">
            {pager(query.page, pages, move |p| format!("{pager_base}{}", TagQuery { page: p, ..pager_query.clone() }.to_query_string()))}
        </div>
    }
}

/// The detail cells of one row; `page` is the page's rows, to mark tags sharing a digest.
fn detail_cells(row: Option<TagRow>, page: &[TagRow], now: i64) -> AnyView {
    match row {
        Some(TagRow::Ok(d)) => {
            let siblings: Vec<String> = page
                .iter()
                .filter_map(|r| match r {
                    TagRow::Ok(o) if o.digest == d.digest && o.tag != d.tag => Some(o.tag.clone()),
                    _ => None,
                })
                .collect();
            let created = d.created.clone().map(|c| {
                let source = d.created_source.map(DateSource::label).unwrap_or_default();
                let title = format!("{c} ({source})");
                view! { <time datetime=c.clone() title=title>{relative_time(&c, now)}</time> }
            });
            let group = (!siblings.is_empty()).then(|| {
                let text = format!("same digest as {}", siblings.join(", "));
                view! { <span class="ml-1 rounded-sm bg-violet-100 px-1 text-xs text-violet-800 dark:bg-violet-900 dark:text-violet-200" title=text data-siblings=siblings.join(",")>{format!("+{}", siblings.len())}</span> }
            });
            view! {
                <td class="px-3 py-2 font-mono text-xs" title=d.digest.clone() data-digest=d.digest.clone()>
                    <span class="inline-block h-2 w-2 rounded-full align-middle" style=format!("background:{}", digest_color(&d.digest)) aria-hidden="true"></span>
                    " "{short_digest(&d.digest)}{group}{copy_button(d.digest.clone(), "digest")}
                </td>
                <td class="px-3 py-2"><span class="rounded-sm bg-slate-100 px-1.5 py-0.5 text-xs dark:bg-slate-800" data-kind=d.kind.clone()>{d.kind_label.clone()}</span></td>
                <td class="px-3 py-2 text-xs text-slate-600 dark:text-slate-400">{d.platforms.join(", ")}</td>
                <td class="px-3 py-2 text-right tabular-nums">{d.size.map(human_size)}</td>
                <td class="px-3 py-2 whitespace-nowrap">{created}</td>
                <td class="px-3 py-2 text-right tabular-nums">{(d.referrers > 0).then_some(d.referrers)}</td>
            }
            .into_any()
        }
        Some(TagRow::Failed { message, .. }) => {
            view! { <td colspan="6" class="px-3 py-2 text-xs text-rose-700 dark:text-rose-400">{message}</td> }.into_any()
        }
        Some(TagRow::Pending { .. }) | None => view! { <td colspan="6" class="px-3 py-2 text-slate-400">"…"</td> }.into_any(),
    }
}

/// A stable colour per digest, so tags sharing one stand out.
fn digest_color(digest: &str) -> String {
    let hex = digest.split_once(':').map(|(_, h)| h).unwrap_or(digest);
    let hue = u32::from_str_radix(hex.get(..4).unwrap_or("0"), 16).unwrap_or(0) % 360;
    format!("hsl({hue} 65% 50%)")
}
