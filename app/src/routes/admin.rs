//! `/admin/trash`: what was deleted, restorable until the registry's garbage collection, with
//! restore and purge; `/admin/audit`: the audit log, filtered, with CSV and JSON downloads.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_query_map;

use crate::api::{TrashPurge, TrashRestore, audit_list, request_outcome, trash_list};
use crate::components::page::page_view;
use crate::components::table::{cols, framed};
use crate::model::{AuditPage, AuditQuery, AuditRow, TrashPage, format_utc, relative_seconds, short_digest};
use crate::routes::delete::outcome_table;

#[component]
pub fn TrashPageView() -> impl IntoView {
    let query = use_query_map();
    let key = Memo::new(move |_| {
        let q = query.read();
        (q.get("before").and_then(|b| b.parse::<i64>().ok()), q.get("request").filter(|r| !r.is_empty()))
    });
    let page = Resource::new_blocking(
        move || key.get(),
        |(before, request)| async move {
            let outcome = match request {
                Some(r) => request_outcome(r).await.unwrap_or_default(),
                None => Vec::new(),
            };
            trash_list(before).await.map(|p| (p, outcome))
        },
    );
    view! {
        <Title text="Trash · Portolan" />
        <Meta name="robots" content="noindex" />
        <h1 class="mb-2 text-2xl font-semibold">"Trash"</h1>
        {page_view(page, trash_view)}
    }
}

fn trash_view((page, outcome): (TrashPage, Vec<AuditRow>)) -> impl IntoView {
    let restore = TrashRestore::PATH;
    let purge = TrashPurge::PATH;
    let now = page.now;
    view! {
        <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
            {format!("Everything deleted through Portolan is kept here, byte for byte, for {} days. Restoring puts the manifests back (children, index, referrers) and then the tags — as long as the registry's garbage collection has not removed their blobs; Portolan checks every blob first.", page.trash_days)}
        </p>
        {(!outcome.is_empty()).then(|| view! { <div class="mb-4 rounded-lg border border-slate-200 bg-white p-3 dark:border-slate-800 dark:bg-slate-900">{outcome_table(outcome)}</div> })}
        {page.rows.is_empty().then(|| view! { <p class="text-slate-600 dark:text-slate-400">"The trash is empty."</p> })}
        <ul class="space-y-3" data-testid="trash">
            {page.rows.into_iter().map(|r| {
                let when = format_utc(r.at);
                view! {
                    <li class="rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900" data-trash-id=r.id data-state=r.state.clone()>
                        <div class="flex flex-wrap items-baseline justify-between gap-2">
                            <p class="font-mono text-sm">{r.summary.clone()}</p>
                            <span class="rounded-sm bg-slate-100 px-1.5 py-0.5 text-xs dark:bg-slate-800">{r.state.clone()}</span>
                        </div>
                        <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
                            {format!("{} deleted by {} ", r.kind, r.who)}
                            <time datetime=when.clone() title=when>{relative_seconds(r.at, now)}</time>
                            {format!(" · {} manifest{} · {}/{}", r.manifests, if r.manifests == 1 { "" } else { "s" }, r.registry, r.repository)}
                        </p>
                        {(!r.tags.is_empty()).then(|| view! {
                            <p class="mt-1 text-xs">"Tags: " {r.tags.iter().map(|(t, d)| format!("{t} → {}", short_digest(d))).collect::<Vec<_>>().join(", ")}</p>
                        })}
                        {r.state_reason.clone().map(|why| view! { <p class="mt-1 text-xs text-amber-800 dark:text-amber-300">{why}</p> })}
                        <div class="mt-2 flex gap-2">
                            {r.can_restore.then(|| view! {
                                <form method="post" action=restore>
                                    <input type="hidden" name="id" value=r.id />
                                    <button type="submit" data-testid="restore" class="rounded-md bg-sky-700 px-3 py-1 text-sm font-medium text-white hover:bg-sky-800">"Restore"</button>
                                </form>
                            })}
                            {r.can_purge.then(|| view! {
                                <form method="post" action=purge>
                                    <input type="hidden" name="id" value=r.id />
                                    <button type="submit" data-testid="purge" class="rounded-md border border-rose-300 px-3 py-1 text-sm text-rose-800 hover:bg-rose-50 dark:border-rose-800 dark:text-rose-300 dark:hover:bg-rose-950">"Purge"</button>
                                </form>
                            })}
                        </div>
                    </li>
                }
            }).collect_view()}
        </ul>
        {page.next.map(|n| view! { <p class="mt-4 text-sm"><a href=format!("/admin/trash?before={n}") rel="next" class="text-sky-700 hover:underline dark:text-sky-400">"Older entries →"</a></p> })}
    }
}

#[component]
pub fn AuditPageView() -> impl IntoView {
    let query = use_query_map();
    let key = Memo::new(move |_| {
        let q = query.read();
        let get = |k: &str| q.get(k).unwrap_or_default();
        AuditQuery {
            action: get("action"),
            actor: get("actor"),
            registry: get("registry"),
            repository: get("repository"),
            outcome: get("outcome"),
            before: q.get("before").and_then(|b| b.parse().ok()),
        }
    });
    let page = Resource::new_blocking(move || key.get(), audit_list);
    view! {
        <Title text="Audit log · Portolan" />
        <Meta name="robots" content="noindex" />
        <h1 class="mb-2 text-2xl font-semibold">"Audit log"</h1>
        {page_view(page, audit_view)}
    }
}

fn audit_view(page: AuditPage) -> impl IntoView {
    let q = page.query.clone();
    let downloads = AuditQuery { before: None, ..q.clone() }.to_query_string();
    let field = |name: &'static str, label: &'static str, value: String, placeholder: &'static str| {
        view! {
            <label class="text-sm">
                <span class="mb-1 block text-xs text-slate-500">{label}</span>
                <input name=name value=value placeholder=placeholder class="w-40 rounded-md border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-900" />
            </label>
        }
    };
    let outcome = q.outcome.clone();
    view! {
        <p class="mb-3 text-sm text-slate-600 dark:text-slate-400">{format!("Who did what, when, and how it ended: sign-ins, refusals, deletions, restores, purges. Kept for {} days. Each entry is also a log line (target portolan::audit).", page.audit_days)}</p>
        <form method="get" action="/admin/audit" class="mb-4 flex flex-wrap items-end gap-3" role="search">
            {field("action", "Action", q.action.clone(), "delete-*")}
            {field("actor", "Who", q.actor.clone(), "name or subject")}
            {field("registry", "Registry", q.registry.clone(), "")}
            {field("repository", "Repository", q.repository.clone(), "team/*")}
            <label class="text-sm">
                <span class="mb-1 block text-xs text-slate-500">"Outcome"</span>
                <select name="outcome" class="rounded-md border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-900">
                    {["", "done", "skipped", "failed", "refused"].into_iter().map(|o| view! { <option value=o selected=outcome == o>{if o.is_empty() { "any" } else { o }}</option> }).collect_view()}
                </select>
            </label>
            <button type="submit" class="rounded-md bg-sky-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-800">"Filter"</button>
            <a href=format!("/admin/audit.csv{downloads}") class="text-sm text-sky-700 hover:underline dark:text-sky-400" data-testid="audit-csv">"CSV"</a>
            <a href=format!("/admin/audit.json{downloads}") class="text-sm text-sky-700 hover:underline dark:text-sky-400">"JSON"</a>
        </form>
        {framed(Some("audit"), cols(&["When", "Who", "Action", "Where", "What", "Outcome", "Why"]),
                    page.rows.into_iter().map(|r| {
                        let when = format_utc(r.at);
                        let place = match (&r.registry, &r.repository) {
                            (Some(reg), Some(repo)) => format!("{reg}/{repo}"),
                            (Some(reg), None) => reg.clone(),
                            _ => String::new(),
                        };
                        let what = r.tags.iter().cloned().chain(r.digests.iter().map(|d| short_digest(d))).collect::<Vec<_>>().join(", ");
                        let who_title = format!("{} {}", r.provider.clone().unwrap_or_default(), r.subject.clone().unwrap_or_default());
                        view! {
                            <tr data-action=r.action.clone() data-outcome=r.outcome.clone() data-request=r.request_id.clone().unwrap_or_default()>
                                <td class="px-3 py-2 whitespace-nowrap"><time datetime=when.clone() title=when.clone()>{when.replace('T', " ").trim_end_matches('Z').to_owned()}</time></td>
                                <td class="px-3 py-2" title=who_title>{r.actor.clone()}{r.token.map(|t| view! { <span class="ml-1 rounded-sm bg-slate-100 px-1 text-xs dark:bg-slate-800" data-token=t>{format!("token {t}")}</span> })}</td>
                                <td class="px-3 py-2 font-mono text-xs">{r.action.clone()}</td>
                                <td class="px-3 py-2 font-mono text-xs">{place}</td>
                                <td class="px-3 py-2 font-mono text-xs">{what}</td>
                                <td class="px-3 py-2">{r.outcome.clone()}</td>
                                <td class="px-3 py-2 text-slate-600 dark:text-slate-400">{r.reason.clone().unwrap_or_default()}</td>
                            </tr>
                        }
                    }).collect_view(), None)}
        {page.next.map(|n| {
            let next = AuditQuery { before: Some(n), ..q.clone() }.to_query_string();
            view! { <p class="mt-4 text-sm"><a href=format!("/admin/audit{next}") rel="next" class="text-sky-700 hover:underline dark:text-sky-400">"Older entries →"</a></p> }
        })}
    }
}
