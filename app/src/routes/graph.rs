//! `/r/{registry}/{repository}@{digest}/-/referrers` (or `:{tag}/-/referrers`): the referrer graph
//! drawn as SVG on the server — works without JavaScript — with each node linking to its page,
//! and a filter by artifact type. The same graph is served as JSON at
//! `/api/v1/referrers/{registry}/{repository}@{digest}`.

use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::get_graph;
use crate::components::layout::Breadcrumbs;
use crate::components::page::page_view;
use crate::model::{GraphView, encode_component, short_digest};

#[component]
pub fn GraphPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = Memo::new(move |_| {
        let p = params.read();
        (
            p.get("registry").unwrap_or_default(),
            p.get("repository").unwrap_or_default(),
            p.get("reference").unwrap_or_default(),
            query.read().get("type"),
        )
    });
    let graph = Resource::new_blocking(move || key.get(), |(r, p, x, t)| get_graph(r, p, x, t));
    page_view(graph, graph_view)
}

fn graph_view(g: GraphView) -> impl IntoView {
    let reference = g.reference.clone();
    let sep = if reference.contains(':') { "@" } else { ":" };
    let base = format!("/r/{}/{}", g.registry.name, g.repository);
    let here = format!("{base}{sep}{reference}/-/referrers");
    let crumbs = vec![
        ("Registries".to_owned(), Some("/".to_owned())),
        (g.registry.title.clone(), Some(format!("/r/{}", g.registry.name))),
        (g.repository.clone(), Some(base.clone())),
        (
            format!("{sep}{}", if sep == "@" { short_digest(&reference) } else { reference.clone() }),
            Some(format!("{base}{sep}{reference}")),
        ),
        ("referrers".to_owned(), None),
    ];
    let count = g.referrers;
    let json = format!("/api/v1/referrers/{}/{}@{}", g.registry.name, g.repository, g.root);
    let filter = g.filter.clone();
    let svg = g.svg.clone();
    view! {
        <Title text=format!("Referrers of {}{sep}{} · Portolan", g.repository, reference) />
        <Meta name="description" content=format!("{count} referrers (signatures, SBOMs, attestations) of {}{sep}{reference}", g.repository) />
        <Breadcrumbs items=crumbs />
        <h1 class="mb-1 text-2xl font-semibold">"Referrer graph"</h1>
        <p class="mb-3 text-sm text-slate-600 dark:text-slate-400" data-testid="graph-summary">
            {format!("{count} referrers")}
            {g.mode.clone().map(|m| format!(" · listed through the {m}"))}
            {g.truncated.then_some(" · cut at 300 nodes")}
            " · " <a href=json class="text-sky-700 hover:underline dark:text-sky-400">"JSON"</a>
        </p>
        {(!g.artifact_types.is_empty()).then(|| view! {
            <nav aria-label="Filter by artifact type" class="mb-3 flex flex-wrap gap-2 text-sm">
                <a href=here.clone() class=if filter.is_none() { "rounded-md bg-sky-100 px-2 py-1 text-sky-900 dark:bg-sky-900 dark:text-sky-100" } else { "rounded-md px-2 py-1 hover:bg-slate-100 dark:hover:bg-slate-800" }>"all"</a>
                {g.artifact_types.iter().map(|(t, n)| {
                    let active = filter.as_deref() == Some(t.as_str());
                    let href = format!("{here}?type={}", encode_component(t));
                    view! {
                        <a href=href class=if active { "rounded-md bg-sky-100 px-2 py-1 font-mono text-xs leading-6 text-sky-900 dark:bg-sky-900 dark:text-sky-100" } else { "rounded-md px-2 py-1 font-mono text-xs leading-6 hover:bg-slate-100 dark:hover:bg-slate-800" }>
                            {format!("{t} ({n})")}
                        </a>
                    }
                }).collect_view()}
            </nav>
        })}
        // Drawn on the server (ssr::graph): links made by the view macro inside an <svg> would be
        // HTML elements when rendered in the browser, which SVG ignores.
        <div class="overflow-auto rounded-lg border border-slate-200 bg-white p-2 dark:border-slate-800 dark:bg-slate-100" inner_html=svg></div>
    }
}
