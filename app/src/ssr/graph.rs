//! The referrer graph, laid out for drawing: the artifact at the left, each referrer in the
//! column of its depth, subjects centred on their referrers (a tidy tree; extra edges of a DAG
//! are drawn too).

use std::collections::{BTreeMap, HashMap};

use portolan_oci::{ReferrersMode, RepoName};

use crate::model::ReferrerEntry;
use crate::model::{GraphView, short_digest};
use crate::ssr::Registry;
use portolan_service::artifact::{referrer_entry, source_label};
use portolan_service::json::escape;

pub const NODE_WIDTH: i32 = 250;
pub const NODE_HEIGHT: i32 = 64;
const COLUMN: i32 = NODE_WIDTH + 70;
const ROW: i32 = NODE_HEIGHT + 22;
const MARGIN: i32 = 16;
/// Nodes walked at most.
pub const MAX_NODES: usize = 300;

/// Places `nodes` (node 0 the root) given each node's parent: leaves on successive rows,
/// parents centred on their children. Returns (x, y) per node.
pub fn layout(parents: &[Option<usize>], depths: &[usize]) -> Vec<(i32, i32)> {
    let n = parents.len();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, p) in parents.iter().enumerate() {
        if let Some(p) = p
            && *p < n
            && *p != i
        {
            children[*p].push(i);
        }
    }
    let mut y = vec![0i32; n];
    let mut next_row = 0i32;
    // Iterative post-order from the root (no recursion: graphs may be deep).
    let mut stack = vec![(0usize, false)];
    let mut placed = vec![false; n];
    while let Some((node, done)) = stack.pop() {
        if n == 0 || placed[node] {
            continue;
        }
        if done || children[node].is_empty() {
            y[node] = if children[node].is_empty() {
                let row = next_row;
                next_row += 1;
                row * ROW
            } else {
                let ys: Vec<i32> = children[node].iter().map(|c| y[*c]).collect();
                (ys.iter().min().copied().unwrap_or(0) + ys.iter().max().copied().unwrap_or(0)) / 2
            };
            placed[node] = true;
        } else {
            stack.push((node, true));
            for c in children[node].iter().rev() {
                stack.push((*c, false));
            }
        }
    }
    // Nodes unreachable from the root (should not happen) go below.
    for (i, p) in placed.iter().enumerate() {
        if !p {
            y[i] = next_row * ROW;
            next_row += 1;
        }
    }
    (0..n).map(|i| (MARGIN + depths[i] as i32 * COLUMN, MARGIN + y[i])).collect()
}

/// A node of the graph, placed.
struct Node {
    entry: ReferrerEntry,
    depth: usize,
    x: i32,
    y: i32,
    /// A signature of the artifact: whether it verified, and what that says.
    verified: Option<(bool, String)>,
}

/// The graph of `digest`'s referrers, filtered to `artifact_type` (and what leads to it); with
/// `verification`, each signature of the artifact says whether it verified, and why not.
#[allow(clippy::too_many_arguments)]
pub async fn graph_view(
    registry: &Registry,
    repo: &RepoName,
    reference: &str,
    digest: &str,
    root_kind: portolan_oci::ArtifactKind,
    root_type: Option<String>,
    filter: Option<String>,
    verification: Option<&crate::model::Verification>,
) -> portolan_oci::Result<GraphView> {
    let base = format!("/r/{}/{}", registry.info.name, repo);
    let graph = registry.client.referrer_graph(repo, digest, MAX_NODES).await?;
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    for n in &graph.nodes {
        *types.entry(n.referrer.artifact_type().unwrap_or_else(|| "(none)".into())).or_default() += 1;
    }
    // Which nodes to keep: all, or those of the type and their ancestors.
    let positions: HashMap<String, usize> = graph.nodes.iter().enumerate().map(|(i, n)| (n.referrer.digest(), i)).collect();
    let mut keep = vec![filter.is_none(); graph.nodes.len()];
    if let Some(wanted) = &filter {
        for (i, n) in graph.nodes.iter().enumerate() {
            if n.referrer.artifact_type().as_deref() == Some(wanted.as_str()) {
                let mut cur = Some(i);
                while let Some(c) = cur {
                    if keep[c] {
                        break;
                    }
                    keep[c] = true;
                    cur = positions.get(&graph.nodes[c].subject).copied();
                }
            }
        }
    }
    let root = ReferrerEntry {
        digest: digest.to_owned(),
        kind: root_kind,
        artifact_type: root_type,
        created: None,
        source: "this artifact".into(),
        href: format!("{base}@{digest}"),
    };
    let mut nodes = vec![Node { entry: root, depth: 0, x: 0, y: 0, verified: None }];
    let mut slot: HashMap<String, usize> = HashMap::from([(digest.to_owned(), 0)]);
    for (i, n) in graph.nodes.iter().enumerate() {
        if !keep[i] {
            continue;
        }
        slot.insert(n.referrer.digest(), nodes.len());
        let verified = verification.filter(|_| n.subject == digest).and_then(|v| v.of_signature(&n.referrer.digest())).map(|s| {
            (
                s.verified,
                if s.verified {
                    format!("verified by policy {}", s.policy.clone().unwrap_or_default())
                } else {
                    format!("not verified: {}", s.message.clone().unwrap_or_default())
                },
            )
        });
        nodes.push(Node { entry: referrer_entry(&base, &n.referrer), depth: n.depth, x: 0, y: 0, verified });
    }
    let mut parents = vec![None; nodes.len()];
    for n in graph.nodes.iter() {
        if let (Some(child), Some(parent)) = (slot.get(&n.referrer.digest()), slot.get(&n.subject)) {
            parents[*child] = Some(*parent);
        }
    }
    let depths: Vec<usize> = nodes.iter().map(|n| n.depth).collect();
    let places = layout(&parents, &depths);
    for (node, (x, y)) in nodes.iter_mut().zip(&places) {
        node.x = *x;
        node.y = *y;
    }
    let mut edges: Vec<(usize, usize)> =
        graph.edges.iter().filter_map(|(subject, referrer)| Some((*slot.get(referrer)?, *slot.get(subject)?))).collect();
    edges.sort();
    edges.dedup();
    let width = places.iter().map(|(x, _)| x + NODE_WIDTH + MARGIN).max().unwrap_or(NODE_WIDTH + 2 * MARGIN);
    let height = places.iter().map(|(_, y)| y + NODE_HEIGHT + MARGIN).max().unwrap_or(NODE_HEIGHT + 2 * MARGIN);
    Ok(GraphView {
        registry: registry.info.clone(),
        repository: repo.to_string(),
        reference: reference.to_owned(),
        root: digest.to_owned(),
        referrers: nodes.len() - 1,
        svg: graph_svg(&nodes, &edges, width, height),
        truncated: graph.truncated,
        mode: graph.mode.map(|m| match m {
            ReferrersMode::Api => "referrers API".to_owned(),
            ReferrersMode::FallbackTag => "fallback tag".to_owned(),
        }),
        artifact_types: types.into_iter().collect(),
        filter,
    })
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

/// The graph as SVG markup; every text from the registry is escaped.
fn graph_svg(nodes: &[Node], edges: &[(usize, usize)], width: i32, height: i32) -> String {
    use std::fmt::Write;
    let count = nodes.len().saturating_sub(1);
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="Referrer graph: {count} referrers" data-testid="graph">"#,
        w = width,
        h = height
    );
    for (from, to) in edges {
        let (Some(a), Some(b)) = (nodes.get(*from), nodes.get(*to)) else {
            continue;
        };
        // From the referrer's left edge to its subject's right edge.
        let (x1, y1, x2, y2) = (a.x, a.y + NODE_HEIGHT / 2, b.x + NODE_WIDTH, b.y + NODE_HEIGHT / 2);
        let mid = (x1 + x2) / 2;
        let _ = write!(out, r##"<path d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}" fill="none" stroke="#94a3b8" stroke-width="1.5"/>"##);
    }
    for (i, n) in nodes.iter().enumerate() {
        let title = format!(
            "{}\n{}\n{}{}{}",
            n.entry.kind.label(),
            n.entry.digest,
            n.entry.artifact_type.clone().unwrap_or_default(),
            n.entry.created.clone().map(|c| format!("\ncreated {c}")).unwrap_or_default(),
            n.verified.as_ref().map(|(_, says)| format!("\n{says}")).unwrap_or_default()
        );
        let line2 = n.entry.artifact_type.as_deref().map(short_type).unwrap_or_else(|| n.entry.source.clone());
        let date = n.entry.created.as_deref().map(|c| format!(" · {}", c.chars().take(10).collect::<String>())).unwrap_or_default();
        let line3 = format!("{}{date}", short_digest(&n.entry.digest));
        let (stroke, width) = match (i, &n.verified) {
            (0, _) => ("#0369a1", "2.5"),
            (_, Some((true, _))) => ("#15803d", "2.5"),
            (_, Some((false, _))) => ("#b91c1c", "2.5"),
            _ => ("#64748b", "1"),
        };
        let suffix = match (i, &n.verified) {
            (0, _) => " (this artifact)",
            (_, Some((true, _))) => " · verified",
            (_, Some((false, _))) => " · not verified",
            _ => "",
        };
        let outcome = match &n.verified {
            Some((true, _)) => r#" data-outcome="verified""#,
            Some((false, _)) => r#" data-outcome="not-verified""#,
            None => "",
        };
        let _ = write!(
            out,
            r##"<a href="{href}" data-node="{digest}" data-kind="{kind}"{outcome}><title>{title}</title><rect x="{x}" y="{y}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="8" fill="{fill}" stroke="{stroke}" stroke-width="{width}"/><text x="{tx}" y="{y1}" font-size="13" font-weight="600" fill="#0f172a">{label}{suffix}</text><text x="{tx}" y="{y2}" font-size="11" fill="#334155" font-family="ui-monospace, monospace">{line2}</text><text x="{tx}" y="{y3}" font-size="11" fill="#475569" font-family="ui-monospace, monospace">{line3}</text></a>"##,
            href = escape(&n.entry.href),
            digest = escape(&n.entry.digest),
            kind = n.entry.kind.key(),
            title = escape(&title),
            x = n.x,
            y = n.y,
            fill = fill(n.entry.kind.key()),
            tx = n.x + 10,
            y1 = n.y + 20,
            y2 = n.y + 38,
            y3 = n.y + 54,
            label = escape(n.entry.kind.label()),
            line2 = escape(&line2),
            line3 = escape(&line3),
        );
    }
    out.push_str("</svg>");
    out
}

/// The referrer graph for scripts: every referrer with its descriptor, where it was found, and
/// the subject it refers to.
pub async fn referrers_json(
    registry: &Registry,
    repo: &RepoName,
    reference: &str,
    artifact_type: Option<&str>,
) -> portolan_oci::Result<serde_json::Value> {
    let parsed = portolan_oci::Reference::parse(reference)?;
    let digest = registry.client.resolve(repo, &parsed).await?.digest;
    let graph = registry.client.referrer_graph(repo, &digest, MAX_NODES).await?;
    let referrers: Vec<serde_json::Value> = graph
        .nodes
        .iter()
        .filter(|n| artifact_type.is_none_or(|t| n.referrer.artifact_type().as_deref() == Some(t)))
        .map(|n| {
            serde_json::json!({
                "digest": n.referrer.digest(),
                "mediaType": n.referrer.descriptor.media_type().to_string(),
                "artifactType": n.referrer.artifact_type(),
                "size": n.referrer.descriptor.size(),
                "annotations": n.referrer.descriptor.annotations(),
                "kind": n.referrer.kind().key(),
                "foundThrough": source_label(&n.referrer.source),
                "subject": n.subject,
                "depth": n.depth,
            })
        })
        .collect();
    Ok(serde_json::json!({
        "registry": registry.info.name,
        "repository": repo.to_string(),
        "subject": digest,
        "mode": graph.mode,
        "truncated": graph.truncated,
        "referrers": referrers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_sit_between_their_children() {
        // 0 ← 1, 0 ← 2, 1 ← 3, 1 ← 4
        let parents = [None, Some(0), Some(0), Some(1), Some(1)];
        let depths = [0, 1, 1, 2, 2];
        let p = layout(&parents, &depths);
        let (x, y): (Vec<i32>, Vec<i32>) = p.iter().copied().unzip();
        assert_eq!(x, [MARGIN, MARGIN + COLUMN, MARGIN + COLUMN, MARGIN + 2 * COLUMN, MARGIN + 2 * COLUMN]);
        assert_eq!(y[3], MARGIN);
        assert_eq!(y[4], MARGIN + ROW);
        assert_eq!(y[1], MARGIN + ROW / 2, "between its two children");
        assert_eq!(y[2], MARGIN + 2 * ROW);
        assert_eq!(y[0], (y[1] + y[2]) / 2);
    }

    #[test]
    fn untrusted_text_is_escaped_in_the_svg() {
        let node = |digest: &str, t: &str| Node {
            entry: ReferrerEntry {
                digest: digest.into(),
                kind: portolan_oci::ArtifactKind::Other,
                artifact_type: Some(t.into()),
                created: Some("<b>2025</b>".into()),
                source: "x".into(),
                href: "/r/a/b@sha256:1".into(),
            },
            depth: 0,
            verified: None,
            x: 0,
            y: 0,
        };
        let nodes = [node("sha256:1", "x"), node("sha256:2", "application/<script>alert(1)</script>\"'")];
        let svg = graph_svg(&nodes, &[(1, 0)], 100, 100);
        assert!(!svg.contains("<script>"));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert_eq!(svg.matches("<path").count(), 1);
        assert_eq!(svg.matches("<a href").count(), 2);
    }

    #[test]
    fn lone_roots_and_cycles_do_not_loop() {
        assert_eq!(layout(&[None], &[0]), vec![(MARGIN, MARGIN)]);
        // A parent pointer to itself and a cycle 1 ↔ 2 (unreachable from the root).
        let p = layout(&[Some(0), Some(2), Some(1)], &[0, 1, 1]);
        assert_eq!(p.len(), 3);
        assert!(layout(&[], &[]).is_empty());
    }
}
