//! `/r/{registry}/{repository}`: the tags, paged, filtered as you type, sorted by version,
//! name or date, with each tag's details.
//!
//! The page is rendered on the server; the tag list is an island ([`TagBrowser`]) that, in the
//! browser, filters as you type (asking the server for the matching page and updating the URL)
//! and fills in the details the server had no time to read.

use leptos::prelude::*;
use leptos_meta::{Link, Meta, Title};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{list_tags, tag_details};
use crate::components::badges::badges;
use crate::components::copy::{CopyField, copy_button};
use crate::components::layout::Breadcrumbs;
use crate::components::live_list::{complete_pending, filter_as_you_type, filter_form, sort_link, with_completed};
use crate::components::page::page_view;
use crate::components::pager::pager;
use crate::components::table::{Col, framed};
use crate::model::{
    DateSource, DeleteAbility, Outcome, TagPage, TagQuery, TagRow, TagSort, VerifiedFilter, format_utc, human_size, relative_seconds,
    short_digest,
};

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
    let page = Resource::new_blocking(move || (registry.get(), repository.get(), query.get()), |(r, p, q)| list_tags(r, p, q));
    page_view(page, repository_view)
}

/// Everything around the tag list: head, pull command, badges (server-rendered).
fn repository_view(page: TagPage) -> impl IntoView {
    let TagPage { registry, repository, total, query, public_url, .. } = page.clone();
    let base = format!("/r/{}/{}", registry.name, repository);
    let badge_base = format!("/badge/{}/{}", registry.name, repository);
    let pull = format!("docker pull {}/{}:<tag>", registry.host, repository);
    let description = format!("{total} tags in {}/{repository}", registry.host);
    view! {
        <Title text=format!("{repository} · {} · Portolan", registry.title) />
        <Meta name="description" content=description.clone() />
        <Meta property="og:title" content=format!("{repository} on {}", registry.host) />
        <Meta property="og:description" content=description />
        <Breadcrumbs items=vec![("Registries".into(), Some("/".into())), (registry.title.clone(), Some(format!("/r/{}", registry.name))), (repository.clone(), None)] />
        <Meta property="og:type" content="website" />
        <Link rel="canonical" href=format!("{base}{}", query.to_query_string()) />
        <h1 class="mb-3 min-w-0 break-all font-mono text-2xl font-semibold">{repository.clone()}</h1>
        {crate::routes::storage::repository_tabs(&registry.name, &repository, false)}
        <div class="mb-3 grid gap-2 md:grid-cols-2">
            <CopyField text=pull label="Pull" />
        </div>
        {badges(&public_url, vec![("latest version", format!("{badge_base}/latest.svg"), base.clone()), ("tags", format!("{badge_base}/tags.svg"), base)])}
        <TagBrowser page />
    }
}

/// The tag list: filter, sort links, table, pager. An island: in the browser it filters as you
/// type and completes the rows the server left pending; without JavaScript the filter is a form.
#[island]
pub fn TagBrowser(page: TagPage) -> impl IntoView {
    let base = format!("/r/{}/{}", page.registry.name, page.repository);
    let (registry, repository) = (page.registry.name.clone(), page.repository.clone());
    let initial = page.query.clone();
    let shown = RwSignal::new(page);
    let problem = RwSignal::new(None::<String>);
    let completed = RwSignal::new(Vec::<TagRow>::new());
    let (r, p) = (registry.clone(), repository.clone());
    complete_pending(shown, |page: &TagPage| &page.rows, move |tags| tag_details(r.clone(), p.clone(), tags, 0), completed);
    let on_input = filter_as_you_type(
        base.clone(),
        move || shown.with_untracked(|p| p.query.clone()),
        move |query| list_tags(registry.clone(), repository.clone(), query),
        move |page| {
            completed.set(Vec::new());
            shown.set(page);
        },
        problem,
    );
    view! {
        {filter_form(base, "tag-filter", "tag, or a pattern like v1.*", &initial, on_input)}
        {move || problem.get().map(|p| view! { <p role="status" class="mb-3 text-sm text-rose-700 dark:text-rose-400">{p}</p> })}
        {move || tag_table(shown.get(), completed.get())}
    }
}

/// The table of one page of tags, rows the server left pending taken from `completed`.
fn tag_table(page: TagPage, completed: Vec<TagRow>) -> impl IntoView {
    let pages = page.pages();
    let TagPage { registry, repository, total, matching, hidden_referrer_tags, query, rows, notice, now, delete, verifying, .. } = page;
    let selectable = delete == DeleteAbility::Allowed;
    let base = format!("/r/{}/{}", registry.name, repository);
    let toggle = TagQuery { show_referrer_tags: !query.show_referrer_tags, page: 1, ..query.clone() };
    let pager_base = base.clone();
    let pager_query = query.clone();
    // Pending rows the browser has since read replace their placeholders.
    let rows = with_completed(rows, &completed);
    view! {
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
        {verifying.then(|| verified_filter(&base, &query))}
        <form method="get" action=format!("{base}/-/delete") id="tag-selection">
        {match delete.clone() {
            DeleteAbility::Allowed => view! {
                <div class="mb-2 flex items-center gap-3 text-sm">
                    <button type="submit" data-testid="delete-selected" class="rounded-md border border-rose-300 px-3 py-1 text-rose-800 hover:bg-rose-50 dark:border-rose-800 dark:text-rose-300 dark:hover:bg-rose-950">"Delete selected…"</button>
                    <span class="text-slate-500">"A preview shows everything a delete removes before anything is."</span>
                </div>
            }.into_any(),
            DeleteAbility::Disabled(reason) => view! {
                <div class="mb-2 flex items-center gap-3 text-sm">
                    <button type="button" disabled title=reason.clone() data-testid="delete-selected" class="cursor-not-allowed rounded-md border border-slate-300 px-3 py-1 text-slate-400 dark:border-slate-700">"Delete selected…"</button>
                    <span class="text-slate-500" data-testid="delete-disabled">{format!("Deleting is not possible here: {reason}")}</span>
                </div>
            }.into_any(),
            DeleteAbility::Hidden => ().into_any(),
        }}
        {framed(Some("tags"), selectable.then_some(Col::Narrow("Select")).into_iter().chain([Col::text("Tag"), Col::text("Digest"), Col::text("Kind"), Col::text("Platforms"), Col::num("Size"), Col::text("Created"), Col::num("Referrers")]).chain(verifying.then_some(Col::text("Signature"))).collect(),
                    rows.iter().map(|row| {
                        let tag = row.tag().to_owned();
                        let href = format!("{base}:{tag}");
                        let name = tag.clone();
                        let cells = detail_cells(Some(row.clone()), &rows, now, verifying);
                        let check = selectable.then(|| {
                            let label = format!("select {tag}");
                            view! { <td class="px-3 py-2"><input type="checkbox" name="tag" value=tag.clone() aria-label=label class="h-4 w-4" /></td> }
                        });
                        view! {
                            <tr class="hover:bg-slate-50 dark:hover:bg-slate-800/50" data-tag=name>
                                {check}
                                <th scope="row" class="px-3 py-2 font-mono font-medium">
                                    <a href=href class="text-sky-700 hover:underline focus:outline-hidden focus-visible:ring-2 focus-visible:ring-sky-500 dark:text-sky-400">{tag}</a>
                                </th>
                                {cells}
                            </tr>
                        }
                    }).collect_view(), None)}
        </form>
        <div class="mt-4">
            {pager(query.page, pages, move |p| format!("{pager_base}{}", TagQuery { page: p, ..pager_query.clone() }.to_query_string()))}
        </div>
    }
}

/// "Signature: all · verified only · not verified" (where trust policies apply).
fn verified_filter(base: &str, query: &TagQuery) -> impl IntoView + use<> {
    let links = [VerifiedFilter::All, VerifiedFilter::Verified, VerifiedFilter::NotVerified].map(|f| {
        let href = format!("{base}{}", TagQuery { verified: f, page: 1, ..query.clone() }.to_query_string());
        let current = query.verified == f;
        let class = if current {
            "rounded-md bg-slate-200 px-2 py-1 font-medium dark:bg-slate-700"
        } else {
            "rounded-md px-2 py-1 text-slate-700 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800"
        };
        view! { <a href=href class=class aria-current=current.then_some("true") data-verified-filter=f.key()>{f.label()}</a> }
    });
    view! {
        <div class="mb-3 flex flex-wrap items-center gap-1 text-sm" role="group" aria-label="Filter by signature">
            <span class="mr-1 text-slate-500">"Signature:"</span>
            {links.into_iter().collect_view()}
        </div>
    }
}

/// The signature cell of a row: the outcome, the reason in its title.
fn verification_cell(v: Option<crate::model::VerifyBrief>) -> impl IntoView {
    let cell = v.map(|v| {
        let class = match v.outcome {
            Outcome::Verified => "rounded-sm bg-emerald-100 px-1 text-xs text-emerald-900 dark:bg-emerald-900 dark:text-emerald-100",
            Outcome::NotVerified => "rounded-sm bg-rose-100 px-1 text-xs text-rose-900 dark:bg-rose-900 dark:text-rose-100",
            Outcome::Unsigned => "text-xs text-slate-500",
        };
        view! { <span class=class title=v.summary.clone() data-outcome=v.outcome.key()>{v.label()}</span> }
    });
    view! { <td class="px-3 py-2 whitespace-nowrap" data-testid="verification">{cell}</td> }
}

/// The detail cells of one row; `page` is the page's rows, to mark tags sharing a digest.
fn detail_cells(row: Option<TagRow>, page: &[TagRow], now: i64, verifying: bool) -> AnyView {
    let span = if verifying { "7" } else { "6" };
    match row {
        Some(TagRow::Ok(d)) => {
            let siblings: Vec<String> = page
                .iter()
                .filter_map(|r| match r {
                    TagRow::Ok(o) if o.digest == d.digest && o.tag != d.tag => Some(o.tag.clone()),
                    _ => None,
                })
                .collect();
            let created = d.created.map(|t| {
                let source = d.created_source.map(DateSource::label).unwrap_or_default();
                let exact = format_utc(t);
                let title = format!("{exact} ({source})");
                view! { <time datetime=exact title=title>{relative_seconds(t, now)}</time> }
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
                <td class="px-3 py-2"><span class="rounded-sm bg-slate-100 px-1.5 py-0.5 text-xs dark:bg-slate-800" data-kind=d.kind.key()>{d.kind.label()}</span></td>
                <td class="px-3 py-2 text-xs text-slate-600 dark:text-slate-400">
                    {d.platforms.join(", ")}
                    {(d.missing_children > 0).then(|| view! {
                        <span class="ml-1 rounded-sm bg-rose-100 px-1 text-rose-800 dark:bg-rose-900 dark:text-rose-200" data-missing=d.missing_children title="the index lists platform manifests the registry answers 404 for">
                            {format!("{} missing", d.missing_children)}
                        </span>
                    })}
                </td>
                <td class="px-3 py-2 text-right tabular-nums">{d.size.map(human_size)}</td>
                <td class="px-3 py-2 whitespace-nowrap">{created}</td>
                <td class="px-3 py-2 text-right tabular-nums">{(d.referrers > 0).then_some(d.referrers)}</td>
                {verifying.then(|| verification_cell(d.verification.clone()))}
            }
            .into_any()
        }
        Some(TagRow::Failed { message, .. }) => {
            view! { <td colspan=span class="px-3 py-2 text-xs text-rose-700 dark:text-rose-400">{message}</td> }.into_any()
        }
        Some(TagRow::Pending { .. }) | None => view! { <td colspan=span class="px-3 py-2 text-slate-400">"…"</td> }.into_any(),
    }
}

/// A stable colour per digest, so tags sharing one stand out.
fn digest_color(digest: &str) -> String {
    let hex = digest.split_once(':').map(|(_, h)| h).unwrap_or(digest);
    let hue = u32::from_str_radix(hex.get(..4).unwrap_or("0"), 16).unwrap_or(0) % 360;
    format!("hsl({hue} 65% 50%)")
}
