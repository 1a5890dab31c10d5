//! `/r/{registry}/{repository}/-/diff?from=…&to=…`: how two tags or digests differ — platforms,
//! layers (added, removed, same), config and labels.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::get_diff;
use crate::components::fold::folded;
use crate::components::layout::Breadcrumbs;
use crate::components::page::page_view;
use crate::components::table::{Col, framed};
use crate::model::{ArtifactKind, Change, DiffSide, DiffView, human_size, short_digest};

#[component]
pub fn DiffPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = Memo::new(move |_| {
        let p = params.read();
        let q = query.read();
        (
            p.get("registry").unwrap_or_default(),
            p.get("repository").unwrap_or_default(),
            q.get("from").unwrap_or_default(),
            q.get("to").unwrap_or_default(),
        )
    });
    let diff = Resource::new_blocking(move || key.get(), |(r, p, a, b)| get_diff(r, p, a, b));
    page_view(diff, diff_view)
}

fn change_badge(c: Change) -> impl IntoView {
    let (text, class) = match c {
        Change::Added => ("added", "rounded-sm bg-emerald-100 px-1.5 text-xs text-emerald-900 dark:bg-emerald-900 dark:text-emerald-100"),
        Change::Removed => ("removed", "rounded-sm bg-rose-100 px-1.5 text-xs text-rose-900 dark:bg-rose-900 dark:text-rose-100"),
        Change::Changed => ("changed", "rounded-sm bg-amber-100 px-1.5 text-xs text-amber-900 dark:bg-amber-900 dark:text-amber-100"),
        Change::Same => ("same", "rounded-sm bg-slate-100 px-1.5 text-xs text-slate-700 dark:bg-slate-800 dark:text-slate-300"),
    };
    view! { <span class=class data-change=text>{text}</span> }
}

fn side(s: DiffSide, base: &str) -> impl IntoView + use<> {
    let href = format!("{base}@{}", s.digest);
    view! {
        <div class="rounded-lg border border-slate-200 bg-white p-3 text-sm dark:border-slate-800 dark:bg-slate-900">
            <p class="font-mono font-medium break-all">{s.reference}</p>
            <p class="text-slate-600 dark:text-slate-400">{s.kind.map(ArtifactKind::label).unwrap_or("unreadable")} {s.size.map(|x| format!(" · {}", human_size(x)))} {s.created.map(|c| format!(" · {c}"))}</p>
            <a href=href class="font-mono text-xs text-sky-700 hover:underline dark:text-sky-400">{short_digest(&s.digest)}</a>
        </div>
    }
}

fn diff_view(d: DiffView) -> impl IntoView {
    let base = format!("/r/{}/{}", d.registry.name, d.repository);
    let crumbs = vec![
        ("Registries".to_owned(), Some("/".to_owned())),
        (d.registry.title.clone(), Some(format!("/r/{}", d.registry.name))),
        (d.repository.clone(), Some(base.clone())),
        ("diff".to_owned(), None),
    ];
    let same = d.from.digest == d.to.digest;
    view! {
        <Title text=format!("{} → {} · {} · Portolan", d.from.reference, d.to.reference, d.repository) />
        <Breadcrumbs items=crumbs />
        <h1 class="mb-3 text-2xl font-semibold">"Compare"</h1>
        <div class="mb-4 grid gap-3 md:grid-cols-2">{side(d.from.clone(), &base)}{side(d.to.clone(), &base)}</div>
        {same.then(|| view! { <p class="mb-4 text-sm" data-testid="identical">"Both name the same digest: they are identical."</p> })}
        {(!d.platforms.is_empty()).then(|| view! {
            <h2 class="mt-4 mb-2 text-lg font-semibold">"Platforms"</h2>
            <ul class="flex flex-wrap gap-3 text-sm" data-testid="diff-platforms">
                {d.platforms.clone().into_iter().map(|(p, c)| view! { <li class="font-mono">{p} " " {change_badge(c)}</li> }).collect_view()}
            </ul>
        })}
        {d.compared_platform.clone().map(|p| view! { <p class="mt-2 text-sm text-slate-600 dark:text-slate-400">"Layers and config compared on " <span class="font-mono">{p}</span></p> })}
        <h2 class="mt-4 mb-2 text-lg font-semibold">"Layers"</h2>
        {framed(Some("diff-layers"), vec![Col::text("Change"), Col::text("Digest"), Col::text("Media type"), Col::num("Size")],
                    d.layers.clone().into_iter().map(|l| view! {
                        <tr>
                            <td class="px-3 py-1.5">{change_badge(l.change)}</td>
                            <td class="px-3 py-1.5 font-mono text-xs" title=l.digest.clone()>{short_digest(&l.digest)}</td>
                            <td class="px-3 py-1.5 font-mono text-xs">{l.media_type}</td>
                            <td class="px-3 py-1.5 text-right tabular-nums">{human_size(l.size)}</td>
                        </tr>
                    }).collect_view(), None)}
        {(!d.config.is_empty() || !d.labels.is_empty()).then(|| view! {
            <h2 class="mt-4 mb-2 text-lg font-semibold">"Config and labels"</h2>
            {framed(Some("diff-config"), vec![Col::text("Field"), Col::text(d.from.reference.clone()), Col::text(d.to.reference.clone())],
                        d.config.clone().into_iter().chain(d.labels.clone().into_iter().map(|(k, a, b)| (format!("label {k}"), a, b))).map(|(k, a, b)| view! {
                            <tr>
                                <th scope="row" class="px-3 py-1.5 font-mono text-xs font-normal">{k}</th>
                                <td class="px-3 py-1.5 font-mono text-xs text-rose-800 dark:text-rose-300">{folded(a)}</td>
                                <td class="px-3 py-1.5 font-mono text-xs text-emerald-800 dark:text-emerald-300">{folded(b)}</td>
                            </tr>
                        }).collect_view(), None)}
        })}
    }
}
