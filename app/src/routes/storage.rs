//! Where the bytes are. `/r/{registry}/-/storage`: the registry's stored bytes (each blob
//! once), what garbage collection would free today, every repository's bytes — only its own
//! and shared — with its tags, manifests and untagged manifests, sortable; the largest drawn as
//! a chart beside a table of the same numbers. `/r/{registry}/{repository}/-/storage`: the
//! repository's bytes added over time, its largest artifacts and layers, and the layers other
//! repositories name too. Every figure says how old and how complete the index behind it is.
//! Charts are SVG drawn on the server (`ssr::storage`): the pages need no JavaScript. The same
//! figures as JSON: `/api/v1/storage/{registry}[/{repository}]`.

use leptos::prelude::*;
use leptos_meta::{Link, Meta, Title};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{get_registry_storage, get_repository_storage};
use crate::components::layout::Breadcrumbs;
use crate::components::page::page_view;
use crate::components::pager::pager;
use crate::components::table::{Col, framed};
use crate::model::{
    ArtifactKind, Freshness, LayerBytes, RegistryStorage, RepositoryStorage, StorageQuery, StorageRow, StorageSort, UNLISTABLE,
    encode_component, format_utc, human_size, relative_seconds, short_digest,
};

#[component]
pub fn RegistryStoragePage() -> impl IntoView {
    let params = use_params_map();
    let query_map = use_query_map();
    let registry = Memo::new(move |_| params.read().get("registry").unwrap_or_default());
    let query = Memo::new(move |_| {
        let q = query_map.read();
        StorageQuery::from_params(|k| q.get(k))
    });
    let page = Resource::new_blocking(move || (registry.get(), query.get()), |(r, q)| get_registry_storage(r, q));
    page_view(page, registry_view)
}

#[component]
pub fn RepositoryStoragePage() -> impl IntoView {
    let params = use_params_map();
    let key = Memo::new(move |_| {
        let p = params.read();
        (p.get("registry").unwrap_or_default(), p.get("repository").unwrap_or_default())
    });
    let page = Resource::new_blocking(move || key.get(), |(r, p)| get_repository_storage(r, p));
    page_view(page, repository_view)
}

const BOX: &str = "mb-4 rounded-md border p-3 text-sm";
const COMPLETE: &str = "border-slate-300 bg-slate-100 text-slate-700 dark:border-slate-700 dark:bg-slate-800 dark:text-slate-300";
const INCOMPLETE: &str = "border-amber-300 bg-amber-50 text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200";
const LINK: &str = "text-sky-700 hover:underline dark:text-sky-400";

/// How old and how complete the index behind the figures is, and what it leaves out.
fn freshness_view(f: Freshness) -> impl IntoView {
    let now = f.now;
    let when = |t: Option<i64>| t.map(|t| relative_seconds(t, now)).unwrap_or_else(|| "never".into());
    let headline = if f.complete {
        format!(
            "Complete: the crawl's last pass read every repository; it ended {}. The oldest figure here was read {}.",
            when(f.last_pass),
            when(f.oldest_read)
        )
    } else {
        format!(
            "Not complete: these figures cover what Portolan's index holds ({} repositor{}), the oldest read {}.",
            f.indexed,
            if f.indexed == 1 { "y" } else { "ies" },
            when(f.oldest_read)
        )
    };
    let more = f.unread_total.saturating_sub(f.unread.len() as u64);
    view! {
        <div class=format!("{BOX} {}", if f.complete { COMPLETE } else { INCOMPLETE }) data-testid="freshness" data-complete=f.complete.to_string() data-unread=f.unread_total>
            <p class="font-medium">{headline}</p>
            {(!f.notes.is_empty()).then(|| view! { <ul class="mt-1 list-disc pl-5">{f.notes.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul> })}
            {(!f.unread.is_empty()).then(|| view! {
                <details class="mt-1">
                    <summary class="cursor-pointer">{format!("Not in these figures: {} repositor{}", f.unread_total, if f.unread_total == 1 { "y" } else { "ies" })}</summary>
                    <ul class="mt-1 list-disc pl-5" data-testid="unread">
                        {f.unread.into_iter().map(|(r, why)| { let key = r.clone(); view! { <li data-repository=key><span class="font-mono">{r}</span>" — "{why}</li> } }).collect_view()}
                        {(more > 0).then(|| view! { <li>{format!("and {more} more")}</li> })}
                    </ul>
                </details>
            })}
            <p class="mt-1 text-xs opacity-80">{UNLISTABLE}</p>
        </div>
    }
}

/// A figure with its label.
fn figure(label: &'static str, value: String, testid: &'static str, raw: u64, hint: &'static str) -> impl IntoView {
    view! {
        <div class="rounded-lg border border-slate-200 bg-white p-3 dark:border-slate-800 dark:bg-slate-900" title=hint>
            <p class="text-xs uppercase tracking-wide text-slate-500">{label}</p>
            <p class="text-xl font-semibold tabular-nums" data-testid=testid data-value=raw>{value}</p>
        </div>
    }
}

fn read_label(r: &StorageRow, now: i64) -> String {
    let when = r.read_at.map(|t| relative_seconds(t, now)).unwrap_or_default();
    match r.read_by.as_str() {
        "crawl" => format!("crawl, {when}"),
        "failed" => format!("last pass failed; from {when}"),
        "trash" => "deleted artifacts only".to_owned(),
        _ => format!("browsing only, {when}"),
    }
}

fn registry_view(s: RegistryStorage) -> impl IntoView {
    let name = s.registry.name.clone();
    let title = s.registry.title.clone();
    let base = format!("/r/{name}/-/storage");
    let base_for_sort = base.clone();
    let pages = s.pages();
    let query = s.query.clone();
    let now = s.freshness.now;
    let reclaimable = s.reclaimable_untagged.saturating_add(s.reclaimable_deleted);
    let scope = if s.partial { " (of the repositories you may see)" } else { "" };
    let description = format!("{} stored in {} repositories of {}{scope}", human_size(s.stored_bytes), s.repositories, s.registry.host);
    let chart = s.chart.clone();
    let largest = s.largest.clone();
    let storage_href = {
        let name = name.clone();
        move |repo: &str| format!("/r/{name}/{repo}/-/storage")
    };
    let head_href = storage_href.clone();
    let header = move |sort: StorageSort| {
        let next = StorageQuery { sort, reverse: query.sort == sort && !query.reverse, page: 1, per_page: query.per_page };
        let marker = if query.sort == sort { if query.reverse { " ↑" } else { " ↓" } } else { "" };
        let href = format!("{}{}", base_for_sort, next.to_query_string());
        let current = if query.sort == sort { "true" } else { "false" };
        (href, format!("{}{marker}", sort.label()), current)
    };
    let sortable = |sort: StorageSort, numeric: bool| {
        let (href, label, current) = header(sort);
        let align = if numeric { "px-3 py-2 text-right" } else { "px-3 py-2" };
        view! { <th scope="col" class=align aria-sort=if current == "true" { "descending" } else { "none" }><a href=href class="hover:underline" data-sort=sort.key()>{label}</a></th> }
    };
    let columns = view! {
        <thead class="border-b border-slate-200 bg-slate-50 text-xs uppercase tracking-wide text-slate-600 dark:border-slate-800 dark:bg-slate-800/50 dark:text-slate-400">
            <tr>
                {sortable(StorageSort::Name, false)}
                {sortable(StorageSort::Stored, true)}
                {sortable(StorageSort::Unique, true)}
                {sortable(StorageSort::Shared, true)}
                {sortable(StorageSort::Reclaimable, true)}
                {sortable(StorageSort::Tags, true)}
                {sortable(StorageSort::Manifests, true)}
                {sortable(StorageSort::Untagged, true)}
                <th scope="col" class="px-3 py-2">"Read"</th>
            </tr>
        </thead>
    };
    let rows = s
        .rows
        .iter()
        .map(|r| {
            let href = head_href(&r.repository);
            view! {
                <tr data-repository=r.repository.clone() data-stored=r.stored() data-unique=r.unique_bytes data-shared=r.shared_bytes data-reclaimable-untagged=r.reclaimable_untagged data-reclaimable-deleted=r.reclaimable_deleted data-manifests=r.manifests data-untagged=r.untagged>
                    <td class="px-3 py-2 font-mono"><a href=href class=LINK>{r.repository.clone()}</a></td>
                    <td class="px-3 py-2 text-right tabular-nums">{human_size(r.stored())}</td>
                    <td class="px-3 py-2 text-right tabular-nums">{human_size(r.unique_bytes)}</td>
                    <td class="px-3 py-2 text-right tabular-nums">{human_size(r.shared_bytes)}</td>
                    <td class="px-3 py-2 text-right tabular-nums" title=format!("{} held only by untagged manifests, {} left by deleted artifacts", human_size(r.reclaimable_untagged), human_size(r.reclaimable_deleted))>{human_size(r.reclaimable())}</td>
                    <td class="px-3 py-2 text-right tabular-nums">{r.tags.map(|t| t.to_string()).unwrap_or_else(|| "—".into())}</td>
                    <td class="px-3 py-2 text-right tabular-nums">{r.manifests}</td>
                    <td class="px-3 py-2 text-right tabular-nums">{r.untagged}</td>
                    <td class="px-3 py-2 text-xs text-slate-600 dark:text-slate-400" title=r.read_at.map(format_utc).unwrap_or_default() data-read-by=r.read_by.clone()>{read_label(r, now)}</td>
                </tr>
            }
        })
        .collect_view();
    let pager_base = base.clone();
    let pager_query = s.query.clone();
    let empty = s.repositories == 0;
    view! {
        <Title text=format!("Storage · {title} · Portolan") />
        <Meta name="description" content=description />
        <Link rel="canonical" href=format!("{base}{}", s.query.to_query_string()) />
        <Breadcrumbs items=vec![("Registries".into(), Some("/".into())), (title.clone(), Some(format!("/r/{name}"))), ("Storage".into(), None)] />
        <h1 class="mb-1 text-2xl font-semibold">"Storage of " {title.clone()}</h1>
        <p class="mb-3 text-sm text-slate-600 dark:text-slate-400">
            "Each blob (layer, config, manifest) counted once, however many images and repositories use it"{scope}". "
            <a href=format!("/api/v1/storage/{name}") class=LINK>"JSON"</a>
        </p>
        {freshness_view(s.freshness.clone())}
        <div class="mb-4 grid grid-cols-2 gap-3 md:grid-cols-4" data-testid="storage-totals" data-partial=s.partial.to_string()>
            {figure("Stored", human_size(s.stored_bytes), "stored", s.stored_bytes, "Every blob once")}
            {figure("Reclaimable now", human_size(reclaimable), "reclaimable", reclaimable, "What the registry's garbage collection (deleting untagged manifests) would free today")}
            {figure("Untagged only", human_size(s.reclaimable_untagged), "reclaimable-untagged", s.reclaimable_untagged, "Held only by manifests no tag reaches: freed by garbage collection with untagged deletion")}
            {figure("Deleted, not collected", human_size(s.reclaimable_deleted), "reclaimable-deleted", s.reclaimable_deleted, "Left by artifacts deleted through Portolan: freed by the next garbage collection")}
        </div>
        <p class="mb-4 text-sm text-slate-600 dark:text-slate-400" data-testid="storage-counts">
            {format!("{} repositories · {} tags · {} manifests, {} of them untagged", s.repositories, s.tags, s.manifests, s.untagged)}
        </p>
        {empty.then(|| view! { <p class="mb-4 text-sm">"Portolan's index holds nothing of this registry yet: open its repositories, or turn its crawl on."</p> })}
        {(!largest.is_empty()).then(|| view! {
            <section class="mb-6 grid gap-4 lg:grid-cols-2" aria-labelledby="largest-heading">
                <div>
                    <h2 id="largest-heading" class="mb-2 text-lg font-semibold">"The largest repositories"</h2>
                    <figure class="rounded-lg border border-slate-200 bg-white p-2 dark:border-slate-800 dark:bg-slate-900" inner_html=chart></figure>
                </div>
                <div>
                    <h2 class="mb-2 text-lg font-semibold">"The same, in numbers"</h2>
                    {framed(Some("storage-chart-table"), vec![Col::text("Repository"), Col::num("Only here"), Col::num("Shared"), Col::num("Stored")],
                        largest.iter().map(|r| view! {
                            <tr data-repository=r.repository.clone() data-unique=r.unique_bytes data-shared=r.shared_bytes data-stored=r.stored()>
                                <td class="px-3 py-1 font-mono break-all"><a href=storage_href(&r.repository) class=LINK>{r.repository.clone()}</a></td>
                                <td class="px-3 py-1 text-right tabular-nums">{human_size(r.unique_bytes)}</td>
                                <td class="px-3 py-1 text-right tabular-nums">{human_size(r.shared_bytes)}</td>
                                <td class="px-3 py-1 text-right tabular-nums">{human_size(r.stored())}</td>
                            </tr>
                        }).collect_view(), None)}
                </div>
            </section>
        })}
        <h2 class="mb-2 text-lg font-semibold">"Every repository"</h2>
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <table class="w-full text-left text-sm" data-testid="storage-table">
                {columns}
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">{rows}</tbody>
            </table>
        </div>
        <div class="mt-3">{pager(pager_query.page, pages, move |p| format!("{pager_base}{}", StorageQuery { page: p, ..pager_query.clone() }.to_query_string()))}</div>
    }
}

/// The repository's views: its tags and its storage.
pub fn repository_tabs(registry: &str, repository: &str, storage: bool) -> impl IntoView {
    let base = format!("/r/{registry}/{repository}");
    let on = "rounded-md bg-sky-100 px-3 py-1 font-medium text-sky-900 dark:bg-sky-900 dark:text-sky-100";
    let off = "rounded-md px-3 py-1 text-slate-700 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800";
    view! {
        <nav aria-label="Repository views" class="mb-3 flex gap-2 text-sm" data-testid="repository-tabs">
            <a href=base.clone() class=if storage { off } else { on } aria-current=if storage { None } else { Some("page") }>"Tags"</a>
            <a href=format!("{base}/-/storage") class=if storage { on } else { off } aria-current=if storage { Some("page") } else { None }>"Storage"</a>
        </nav>
    }
}

fn layer_rows(registry: &str, layers: Vec<LayerBytes>) -> impl IntoView + use<> {
    let registry = registry.to_owned();
    layers
        .into_iter()
        .map(|l| {
            let used = format!("/digest/{}", encode_component(&l.digest));
            let shared = if l.shared_with.is_empty() {
                if l.shared { "other repositories".to_owned() } else { "—".to_owned() }
            } else {
                String::new()
            };
            let with = l
                .shared_with
                .iter()
                .map(|r| {
                    let href = format!("/r/{registry}/{r}/-/storage");
                    view! { <a href=href class=format!("{LINK} mr-2 font-mono") data-shared-with=r.clone()>{r.clone()}</a> }
                })
                .collect_view();
            view! {
                <tr data-digest=l.digest.clone() data-size=l.size data-shared=l.shared.to_string()>
                    <td class="px-3 py-1 font-mono"><a href=used class=LINK title=l.digest.clone()>{short_digest(&l.digest)}</a></td>
                    <td class="px-3 py-1">{l.role.clone()}</td>
                    <td class="px-3 py-1 text-right tabular-nums">{human_size(l.size)}</td>
                    <td class="px-3 py-1 text-xs">{with}{shared}</td>
                </tr>
            }
        })
        .collect_view()
}

fn repository_view(s: RepositoryStorage) -> impl IntoView {
    let registry = s.registry.name.clone();
    let repository = s.repository.clone();
    let base = format!("/r/{registry}/{repository}");
    let f = s.figures.clone();
    let reclaimable = f.reclaimable();
    let now = s.freshness.now;
    let chart = s.chart.clone();
    let per = s.granularity.clone();
    let crumbs = vec![
        ("Registries".to_owned(), Some("/".to_owned())),
        (s.registry.title.clone(), Some(format!("/r/{registry}"))),
        (repository.clone(), Some(base.clone())),
        ("Storage".to_owned(), None),
    ];
    let artifacts = s
        .largest_artifacts
        .iter()
        .map(|a| {
            let href = format!("{base}@{}", a.digest);
            let tags = if a.tags.is_empty() { "untagged".to_owned() } else { a.tags.join(", ") };
            view! {
                <tr data-digest=a.digest.clone() data-bytes=a.bytes data-untagged=a.untagged.to_string()>
                    <td class="px-3 py-1 font-mono"><a href=href class=LINK title=a.digest.clone()>{short_digest(&a.digest)}</a></td>
                    <td class="px-3 py-1">{ArtifactKind::label(a.kind)}</td>
                    <td class="px-3 py-1 font-mono text-xs break-all">{tags}</td>
                    <td class="px-3 py-1 text-xs" title=a.created.map(format_utc).unwrap_or_default()>{a.created.map(|t| relative_seconds(t, now)).unwrap_or_else(|| "—".into())}</td>
                    <td class="px-3 py-1 text-right tabular-nums">{human_size(a.bytes)}</td>
                </tr>
            }
        })
        .collect_view();
    let history_rows = s
        .history
        .iter()
        .rev()
        .filter(|b| b.bytes > 0 || b.manifests > 0)
        .map(|b| {
            view! {
                <tr data-period=b.label.clone() data-bytes=b.bytes data-manifests=b.manifests>
                    <td class="px-3 py-1 font-mono">{b.label.clone()}</td>
                    <td class="px-3 py-1 text-right tabular-nums">{human_size(b.bytes)}</td>
                    <td class="px-3 py-1 text-right tabular-nums">{b.manifests}</td>
                </tr>
            }
        })
        .collect_view();
    let has_history = !s.history.is_empty();
    let first_seen = s.first_seen_bytes;
    view! {
        <Title text=format!("Storage · {repository} · Portolan") />
        <Meta name="description" content=format!("{} stored in {}/{repository}", human_size(f.stored()), s.registry.host) />
        <Breadcrumbs items=crumbs />
        <h1 class="mb-3 min-w-0 break-all font-mono text-2xl font-semibold">{repository.clone()}</h1>
        {repository_tabs(&registry, &repository, true)}
        <p class="mb-3 text-sm text-slate-600 dark:text-slate-400">
            "Each blob counted once. " <a href=format!("/api/v1/storage/{registry}/{repository}") class=LINK>"JSON"</a>
            " · " <a href=format!("/r/{registry}/-/storage") class=LINK>"The whole registry"</a>
        </p>
        {freshness_view(s.freshness.clone())}
        <div class="mb-4 grid grid-cols-2 gap-3 md:grid-cols-4" data-testid="storage-totals">
            {figure("Stored", human_size(f.stored()), "stored", f.stored(), "Every blob this repository's manifests name, once")}
            {figure("Only here", human_size(f.unique_bytes), "unique", f.unique_bytes, "Named by no other repository")}
            {figure("Shared", human_size(f.shared_bytes), "shared", f.shared_bytes, "Named by other repositories too")}
            {figure("Reclaimable now", human_size(reclaimable), "reclaimable", reclaimable, "Held only by untagged manifests, or left by artifacts deleted through Portolan")}
        </div>
        <p class="mb-4 text-sm text-slate-600 dark:text-slate-400" data-testid="storage-counts" data-read-by=f.read_by.clone()>
            {format!("{} tags · {} manifests, {} of them untagged · {} only untagged manifests hold, {} deleted artifacts left · read by {}",
                f.tags.map(|t| t.to_string()).unwrap_or_else(|| "?".into()), f.manifests, f.untagged, human_size(f.reclaimable_untagged), human_size(f.reclaimable_deleted), read_label(&f, now))}
        </p>
        <section class="mb-6" aria-labelledby="history-heading">
            <h2 id="history-heading" class="mb-2 text-lg font-semibold">{format!("Bytes added per {per}")}</h2>
            <p class="mb-2 text-sm text-slate-600 dark:text-slate-400">"Each blob in the period of the earliest created date of the manifests naming it (an index takes its platforms' date; without one, when Portolan first saw it)."</p>
            {if has_history {
                view! {
                    <div class="grid gap-4 lg:grid-cols-3">
                        <figure class="rounded-lg border border-slate-200 bg-white p-2 lg:col-span-2 dark:border-slate-800 dark:bg-slate-900" inner_html=chart></figure>
                        <div>{framed(Some("history-table"), vec![Col::text(if per == "week" { "Week" } else if per == "year" { "Year" } else { "Month" }), Col::num("Added"), Col::num("Manifests")], history_rows, None)}</div>
                    </div>
                }.into_any()
            } else {
                view! { <p class="text-sm">"Nothing of this repository in the index."</p> }.into_any()
            }}
            {(first_seen > 0).then(|| view! { <p class="mt-2 text-sm" data-testid="first-seen">{format!("{} of these are dated by when Portolan first saw them: no created date is known for the manifests naming them.", human_size(first_seen))}</p> })}
        </section>
        <section class="mb-6">
            <h2 class="mb-2 text-lg font-semibold">"Largest artifacts"</h2>
            {framed(Some("largest-artifacts"), vec![Col::text("Artifact"), Col::text("Kind"), Col::text("Tags"), Col::text("Created"), Col::num("Bytes")], artifacts, None)}
        </section>
        <section class="mb-6">
            <h2 class="mb-2 text-lg font-semibold">"Largest layers"</h2>
            {framed(Some("largest-layers"), vec![Col::text("Blob"), Col::text("Role"), Col::num("Size"), Col::text("Also in")], layer_rows(&registry, s.largest_layers.clone()), None)}
        </section>
        <section class="mb-6">
            <h2 class="mb-2 text-lg font-semibold">"Layers shared with other repositories"</h2>
            <p class="mb-2 text-sm text-slate-600 dark:text-slate-400">"Each links to where it is used."</p>
            {framed(Some("shared-layers"), vec![Col::text("Blob"), Col::text("Role"), Col::num("Size"), Col::text("Also in")], layer_rows(&registry, s.shared_layers.clone()), None)}
        </section>
    }
}
