//! `/r/{registry}/{repository}/-/delete?tag=…&digest=…`: the preview of a deletion — every tag,
//! child manifest and referrer it removes, what stays, how space comes back — and the form that
//! confirms exactly what was shown. `…/-/deleted?request=…`: what the confirmed deletion did.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{ApplyDelete, preview_delete, request_outcome};
use crate::components::layout::Breadcrumbs;
use crate::components::page::page_view;
use crate::model::{
    ArtifactKind, AuditRow, DeletePreview, DeleteSelection, DeleteUnit, ManifestLine, encode_component, human_size, short_digest,
};

#[component]
pub fn DeletePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = Memo::new(move |_| {
        let p = params.read();
        let q = query.read();
        let all = |k: &str| q.get_all(k).unwrap_or_default().into_iter().filter(|v| !v.is_empty()).collect::<Vec<String>>();
        let selection = DeleteSelection {
            tags: all("tag"),
            digests: all("digest"),
            keep_referrers: q.get("keep_referrers").is_some_and(|v| v == "1" || v == "true"),
        };
        (p.get("registry").unwrap_or_default(), p.get("repository").unwrap_or_default(), selection)
    });
    let preview = Resource::new_blocking(move || key.get(), |(r, p, s)| preview_delete(r, p, s));
    view! {
        <Meta name="robots" content="noindex" />
        {page_view(preview, preview_view)}
    }
}

fn selection_query(s: &DeleteSelection, keep_referrers: bool) -> String {
    let mut parts: Vec<String> = s.tags.iter().map(|t| format!("tag={}", encode_component(t))).collect();
    parts.extend(s.digests.iter().map(|d| format!("digest={}", encode_component(d))));
    if keep_referrers {
        parts.push("keep_referrers=1".into());
    }
    format!("?{}", parts.join("&"))
}

fn manifest_rows(title: &'static str, lines: Vec<ManifestLine>) -> impl IntoView {
    (!lines.is_empty()).then(|| {
        view! {
            <p class="mt-2 text-xs font-semibold uppercase tracking-wide text-slate-500">{title}</p>
            <ul class="mt-1 space-y-0.5 text-sm">
                {lines
                    .into_iter()
                    .map(|m| {
                        let platforms = m.platforms.join(", ");
                        view! {
                            <li class="font-mono text-xs" data-digest=m.digest.clone()>
                                {short_digest(&m.digest)} " · " {m.kind.map(ArtifactKind::label).unwrap_or("unknown")} {(!platforms.is_empty()).then(|| format!(" · {platforms}"))} " · "
                                {human_size(m.size)}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
    })
}

fn unit_view(u: DeleteUnit) -> impl IntoView {
    let untag = u.op == "untag";
    let label = if untag { "Remove the tag only" } else { "Delete the artifact" };
    view! {
        <li class="rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900" data-unit=u.op.clone() data-digest=u.digest.clone()>
            <p class="font-medium">{label} <span class="ml-2 font-mono text-sm text-slate-600 dark:text-slate-400">{short_digest(&u.digest)}</span> <span class="ml-2 text-sm text-slate-500">{u.kind.map(ArtifactKind::label).unwrap_or("unknown")}</span></p>
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">{u.describe.clone()}</p>
            {(!u.tags.is_empty()).then(|| view! {
                <p class="mt-2 text-xs font-semibold uppercase tracking-wide text-slate-500">"Tags removed"</p>
                <p class="mt-1 flex flex-wrap gap-1">
                    {u.tags.iter().map(|(t, d)| view! {
                        <span class="rounded-sm bg-rose-100 px-1.5 py-0.5 font-mono text-xs text-rose-900 dark:bg-rose-900 dark:text-rose-100" data-tag=t.clone() title=d.clone()>{t.clone()}</span>
                    }).collect_view()}
                </p>
            })}
            {manifest_rows("Platform manifests deleted with it", u.children)}
            {manifest_rows("Referrers deleted with it (signatures, SBOMs, attestations…)", u.referrers)}
            {(!untag).then(|| view! { <p class="mt-2 text-sm" data-freed=u.bytes_freed>"Its share of what garbage collection frees: " <span class="font-medium">{human_size(u.bytes_freed)}</span></p> })}
        </li>
    }
}

fn preview_view(p: DeletePreview) -> impl IntoView {
    let base = format!("/r/{}/{}", p.registry.name, p.repository);
    let toggle = format!("{base}/-/delete{}", selection_query(&p.selection, !p.selection.keep_referrers));
    let n = p.units.len();
    let tags: usize = p.units.iter().map(|u| u.tags.len()).sum();
    let manifests: usize = p.units.iter().filter(|u| u.op == "delete").map(|u| 1 + u.children.len() + u.referrers.len()).sum();
    let freed = p.freed.clone();
    let bytes = freed.bytes;
    let action = ApplyDelete::PATH;
    let blocked = p.blocked.clone();
    view! {
        <Title text=format!("Delete from {} · Portolan", p.repository) />
        <Breadcrumbs items=vec![
            ("Registries".into(), Some("/".into())),
            (p.registry.title.clone(), Some(format!("/r/{}", p.registry.name))),
            (p.repository.clone(), Some(base.clone())),
            ("Delete".into(), None),
        ] />
        <h1 class="mb-2 text-2xl font-semibold">"Delete from " <span class="font-mono">{p.repository.clone()}</span></h1>
        <p class="mb-4 text-slate-700 dark:text-slate-300" data-testid="delete-summary">
            {format!("{tags} tag{} and {manifests} manifest{} would be removed, freeing {}{} once the registry collects garbage.", if tags == 1 { "" } else { "s" }, if manifests == 1 { "" } else { "s" }, if freed.complete { "" } else { "at most " }, human_size(bytes))}
        </p>
        <p class="mb-4 text-sm text-slate-600 dark:text-slate-400" data-testid="freed-note" data-bytes=bytes data-complete=freed.complete.to_string()>{freed.note.clone()}</p>
        {blocked.clone().map(|b| view! {
            <p role="alert" class="mb-4 rounded-md border border-rose-300 bg-rose-50 p-3 text-sm text-rose-900 dark:border-rose-800 dark:bg-rose-950 dark:text-rose-200" data-testid="delete-blocked">{b}</p>
        })}
        <ul class="space-y-3" data-testid="delete-units">{p.units.into_iter().map(unit_view).collect_view()}</ul>
        {(!p.kept.is_empty()).then(|| view! {
            <div class="mt-4 rounded-md border border-emerald-300 bg-emerald-50 p-3 text-sm text-emerald-900 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-200" data-testid="delete-kept">
                <p class="font-medium">"These tags stay:"</p>
                <ul class="mt-1">{p.kept.into_iter().map(|(t, why)| { let name = t.clone(); view! { <li data-tag=name><span class="font-mono">{t}</span> " — " {why}</li> } }).collect_view()}</ul>
            </div>
        })}
        {(!p.notes.is_empty()).then(|| view! {
            <ul class="mt-4 list-disc pl-5 text-sm text-amber-900 dark:text-amber-200">{p.notes.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
        })}
        <p class="mt-4 rounded-md border border-slate-300 bg-slate-100 p-3 text-sm text-slate-700 dark:border-slate-700 dark:bg-slate-800 dark:text-slate-300" data-testid="gc-hint">{p.gc_hint}</p>
        <p class="mt-3 text-sm">
            <a href=toggle class="text-sky-700 hover:underline dark:text-sky-400">
                {if p.selection.keep_referrers { "Delete referrers with their artifacts (the default)" } else { "Keep the referrers of deleted artifacts" }}
            </a>
        </p>
        {(n > 0 && blocked.is_none()).then(|| view! {
            <form method="post" action=action class="mt-4 flex items-center gap-3">
                <input type="hidden" name="registry" value=p.registry.name.clone() />
                <input type="hidden" name="repository" value=p.repository.clone() />
                <input type="hidden" name="confirmation" value=p.confirmation.clone() />
                <button type="submit" data-testid="confirm-delete" class="rounded-md bg-rose-700 px-4 py-2 font-medium text-white hover:bg-rose-800">
                    {format!("Delete {n} item{}", if n == 1 { "" } else { "s" })}
                </button>
                <a href=base.clone() class="text-sm text-slate-600 hover:underline dark:text-slate-400">"Cancel"</a>
            </form>
        })}
        {(n == 0).then(|| view! { <p class="mt-4 text-slate-600 dark:text-slate-400">"Nothing to delete."</p> })}
    }
}

#[component]
pub fn DeletedPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = Memo::new(move |_| {
        let p = params.read();
        (p.get("registry").unwrap_or_default(), p.get("repository").unwrap_or_default(), query.read().get("request").unwrap_or_default())
    });
    let outcome = Resource::new_blocking(move || key.get(), |(r, p, id)| async move { request_outcome(id).await.map(|rows| (r, p, rows)) });
    view! {
        <Meta name="robots" content="noindex" />
        {page_view(outcome, outcome_view)}
    }
}

/// A table of what a request did, item by item (also used by the trash page).
pub fn outcome_table(rows: Vec<AuditRow>) -> impl IntoView {
    view! {
        <table class="w-full text-left text-sm" data-testid="outcome">
            <thead class="text-xs uppercase tracking-wide text-slate-500"><tr><th class="py-1 pr-3">"Step"</th><th class="py-1 pr-3">"Tag"</th><th class="py-1 pr-3">"Digest"</th><th class="py-1 pr-3">"Outcome"</th><th class="py-1">"Why"</th></tr></thead>
            <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                {rows.into_iter().map(|r| {
                    let color = match r.outcome.as_str() {
                        "done" => "text-emerald-700 dark:text-emerald-400",
                        "skipped" => "text-amber-700 dark:text-amber-400",
                        _ => "text-rose-700 dark:text-rose-400",
                    };
                    view! {
                        <tr data-action=r.action.clone() data-outcome=r.outcome.clone()>
                            <td class="py-1 pr-3">{r.action.clone()}</td>
                            <td class="py-1 pr-3 font-mono text-xs">{r.tags.join(", ")}</td>
                            <td class="py-1 pr-3 font-mono text-xs">{r.digests.iter().map(|d| short_digest(d)).collect::<Vec<_>>().join(", ")}</td>
                            <td class=format!("py-1 pr-3 font-medium {color}")>{r.outcome.clone()}</td>
                            <td class="py-1 text-slate-600 dark:text-slate-400">{r.reason.clone().unwrap_or_default()}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

fn outcome_view((registry, repository, rows): (String, String, Vec<AuditRow>)) -> impl IntoView {
    let base = format!("/r/{registry}/{repository}");
    let empty = rows.is_empty();
    view! {
        <Title text=format!("Deleted from {repository} · Portolan") />
        <h1 class="mb-3 text-2xl font-semibold">"What the deletion did"</h1>
        {if empty {
            view! { <p class="text-slate-600 dark:text-slate-400">"Nothing was recorded for this request: it may have been refused before it started."</p> }.into_any()
        } else {
            outcome_table(rows).into_any()
        }}
        <p class="mt-4 text-sm text-slate-600 dark:text-slate-400">{crate::model::GC_NOTE}</p>
        <p class="mt-4 flex gap-4 text-sm">
            <a href=base class="text-sky-700 hover:underline dark:text-sky-400">"Back to the repository"</a>
            <a href="/admin/trash" class="text-sky-700 hover:underline dark:text-sky-400">"The trash (restore)"</a>
        </p>
    }
}
