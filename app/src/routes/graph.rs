//! `/r/{registry}/{repository}@{digest}/-/referrers` (or `:{tag}/-/referrers`): the referrer graph
//! drawn as SVG on the server — works without JavaScript — with each node linking to its page,
//! and a filter by artifact type. The same graph is served as JSON at
//! `/api/v1/referrers/{registry}/{repository}@{digest}`.

use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::get_graph;
use crate::components::error_view::error_fallback;
use crate::components::layout::Breadcrumbs;
use crate::model::{GraphView, encode_component, short_digest};

const NODE_WIDTH: i32 = 250;
const NODE_HEIGHT: i32 = 64;

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
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            <ErrorBoundary fallback=error_fallback>
                {move || Suspend::new(async move { graph.await.map(graph_view) })}
            </ErrorBoundary>
        </Transition>
    }
}

fn short_type(t: &str) -> String {
    let t = t.strip_prefix("application/").unwrap_or(t);
    if t.chars().count() > 34 { format!("{}…", t.chars().take(33).collect::<String>()) } else { t.to_owned() }
}

fn fill(kind: &str) -> &'static str {
    match kind {
        "signature" => "#dcfce7",
        "sbom" => "#e0f2fe",
        "attestation" | "build-attestation" => "#fef3c7",
        "index" | "image" => "#f1f5f9",
        _ => "#ede9fe",
    }
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
    let count = g.nodes.len().saturating_sub(1);
    let json =
        format!("/api/v1/referrers/{}/{}@{}", g.registry.name, g.repository, g.nodes.first().map(|n| n.digest.clone()).unwrap_or_default());
    let filter = g.filter.clone();
    let svg = graph_svg(&g);
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
        // Markup built as text (escaped below): SVG links made by the view macro would be HTML
        // elements when the page is rendered in the browser, and SVG ignores those.
        <div class="overflow-auto rounded-lg border border-slate-200 bg-white p-2 dark:border-slate-800 dark:bg-slate-100" inner_html=svg></div>
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// The graph as SVG markup; every text from the registry is escaped.
pub fn graph_svg(g: &GraphView) -> String {
    use std::fmt::Write;
    let count = g.nodes.len().saturating_sub(1);
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="Referrer graph: {count} referrers" data-testid="graph">"#,
        w = g.width,
        h = g.height
    );
    for (from, to) in &g.edges {
        let (Some(a), Some(b)) = (g.nodes.get(*from), g.nodes.get(*to)) else {
            continue;
        };
        // From the referrer's left edge to its subject's right edge.
        let (x1, y1, x2, y2) = (a.x, a.y + NODE_HEIGHT / 2, b.x + NODE_WIDTH, b.y + NODE_HEIGHT / 2);
        let mid = (x1 + x2) / 2;
        let _ = write!(out, r##"<path d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}" fill="none" stroke="#94a3b8" stroke-width="1.5"/>"##);
    }
    for (i, n) in g.nodes.iter().enumerate() {
        let title = format!(
            "{}\n{}\n{}{}",
            n.kind_label,
            n.digest,
            n.artifact_type.clone().unwrap_or_default(),
            n.created.clone().map(|c| format!("\ncreated {c}")).unwrap_or_default()
        );
        let line2 = n.artifact_type.as_deref().map(short_type).unwrap_or_else(|| n.source.clone());
        let date = n.created.as_deref().map(|c| format!(" · {}", c.chars().take(10).collect::<String>())).unwrap_or_default();
        let line3 = format!("{}{date}", short_digest(&n.digest));
        let (stroke, width) = if i == 0 { ("#0369a1", "2.5") } else { ("#64748b", "1") };
        let suffix = if i == 0 { " (this artifact)" } else { "" };
        let _ = write!(
            out,
            r##"<a href="{href}" data-node="{digest}" data-kind="{kind}"><title>{title}</title><rect x="{x}" y="{y}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="8" fill="{fill}" stroke="{stroke}" stroke-width="{width}"/><text x="{tx}" y="{y1}" font-size="13" font-weight="600" fill="#0f172a">{label}{suffix}</text><text x="{tx}" y="{y2}" font-size="11" fill="#334155" font-family="ui-monospace, monospace">{line2}</text><text x="{tx}" y="{y3}" font-size="11" fill="#475569" font-family="ui-monospace, monospace">{line3}</text></a>"##,
            href = escape(&n.href),
            digest = escape(&n.digest),
            kind = escape(&n.kind),
            title = escape(&title),
            x = n.x,
            y = n.y,
            fill = fill(&n.kind),
            tx = n.x + 10,
            y1 = n.y + 20,
            y2 = n.y + 38,
            y3 = n.y + 54,
            label = escape(&n.kind_label),
            line2 = escape(&line2),
            line3 = escape(&line3),
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GraphNode, RegistryInfo};

    #[test]
    fn untrusted_text_is_escaped() {
        let node = |digest: &str, t: &str| GraphNode {
            digest: digest.into(),
            kind: "other".into(),
            kind_label: "artifact".into(),
            artifact_type: Some(t.into()),
            created: Some("<b>2025</b>".into()),
            source: "x".into(),
            depth: 0,
            href: "/r/a/b@sha256:1".into(),
            x: 0,
            y: 0,
        };
        let g = GraphView {
            registry: RegistryInfo { name: "a".into(), title: "a".into(), host: "h".into() },
            repository: "b".into(),
            reference: "v1".into(),
            nodes: vec![node("sha256:1", "x"), node("sha256:2", "application/<script>alert(1)</script>\"'")],
            edges: vec![(1, 0)],
            width: 100,
            height: 100,
            truncated: false,
            mode: None,
            artifact_types: vec![],
            filter: None,
        };
        let svg = graph_svg(&g);
        assert!(!svg.contains("<script>"));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert_eq!(svg.matches("<path").count(), 1);
        assert_eq!(svg.matches("<a href").count(), 2);
    }
}
