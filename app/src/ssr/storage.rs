//! Storage charts, drawn on the server as SVG (they read without JavaScript): the largest
//! repositories of a registry as stacked bars (bytes only each names, bytes shared), and a
//! repository's bytes added per period as columns. Text and axes take the page's colour
//! (`currentColor`), bars mid-tone colours that read on light and dark alike; every bar carries
//! its figures as data attributes, and every chart is shown beside a table of the same numbers.

use std::fmt::Write;

use portolan_service::json::escape;

use crate::model::{RegistryStorage, RepositoryStorage, human_size};

/// Bytes only this repository names.
pub const UNIQUE_FILL: &str = "#0284c7";
/// Bytes shared with other repositories.
pub const SHARED_FILL: &str = "#f59e0b";
/// Bytes added in a period.
pub const ADDED_FILL: &str = "#0d9488";

const WIDTH: i64 = 720;
const LABEL: i64 = 230;
const VALUE: i64 = 90;
const ROW: i64 = 26;
const BAR: i64 = 18;
const TOP: i64 = 34;

/// `text`, cut to `max` characters with an ellipsis.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let keep: String = text.chars().rev().take(max - 1).collect::<Vec<_>>().into_iter().rev().collect();
        format!("…{keep}")
    }
}

/// The width of `value` out of `max` over `span` pixels (a non-zero value is at least 1 px).
fn scale(value: u64, max: u64, span: i64) -> i64 {
    if max == 0 || value == 0 {
        return 0;
    }
    ((u128::from(value) * span as u128 / u128::from(max)) as i64).max(1)
}

/// The largest repositories of a registry: one row each, bytes only it names then shared
/// bytes, linking to the repository's storage page.
pub fn registry_chart(s: &RegistryStorage) -> String {
    if s.largest.is_empty() {
        return String::new();
    }
    let span = WIDTH - LABEL - VALUE;
    let max = s.largest.iter().map(|r| r.stored()).max().unwrap_or(0);
    let height = TOP + ROW * s.largest.len() as i64 + 8;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-labelledby="storage-chart-title" data-testid="storage-chart" data-bars="{n}" font-family="ui-sans-serif, system-ui, sans-serif" fill="currentColor"><title id="storage-chart-title">The {n} largest repositories of {title}: bytes only each names, and bytes shared with other repositories</title>"#,
        n = s.largest.len(),
        title = escape(&s.registry.title),
    );
    let _ = write!(
        out,
        r#"<rect x="{LABEL}" y="6" width="12" height="12" fill="{UNIQUE_FILL}"/><text x="{x1}" y="16" font-size="12">only here</text><rect x="{x2}" y="6" width="12" height="12" fill="{SHARED_FILL}"/><text x="{x3}" y="16" font-size="12">shared with other repositories</text>"#,
        x1 = LABEL + 16,
        x2 = LABEL + 100,
        x3 = LABEL + 116,
    );
    for (i, r) in s.largest.iter().enumerate() {
        let y = TOP + ROW * i as i64;
        let unique = scale(r.unique_bytes, max, span);
        let shared = scale(r.stored(), max, span) - unique;
        let href = format!("/r/{}/{}/-/storage", s.registry.name, r.repository);
        let _ = write!(
            out,
            r#"<a href="{href}" data-repository="{name}" data-unique="{ub}" data-shared="{sb}" data-stored="{st}"><title>{full}: {total} ({u} only here, {sh} shared)</title><text x="{tx}" y="{ty}" font-size="12" text-anchor="end" font-family="ui-monospace, monospace">{label}</text><rect x="{LABEL}" y="{y}" width="{unique}" height="{BAR}" fill="{UNIQUE_FILL}" data-part="unique"/><rect x="{sx}" y="{y}" width="{shared}" height="{BAR}" fill="{SHARED_FILL}" data-part="shared"/><text x="{vx}" y="{ty}" font-size="12">{total}</text></a>"#,
            href = escape(&href),
            name = escape(&r.repository),
            ub = r.unique_bytes,
            sb = r.shared_bytes,
            st = r.stored(),
            full = escape(&r.repository),
            total = human_size(r.stored()),
            u = human_size(r.unique_bytes),
            sh = human_size(r.shared_bytes),
            tx = LABEL - 8,
            ty = y + 13,
            label = escape(&cut(&r.repository, 30)),
            sx = LABEL + unique,
            vx = LABEL + unique + shared.max(0) + 6,
        );
    }
    out.push_str("</svg>");
    out
}

/// A repository's bytes added per period, as columns, with the largest figure on the axis and
/// the first and last periods named (every period is in the table beside it).
pub fn history_chart(s: &RepositoryStorage) -> String {
    if s.history.is_empty() {
        return String::new();
    }
    const HEIGHT: i64 = 220;
    const LEFT: i64 = 70;
    const BOTTOM: i64 = 30;
    let n = s.history.len() as i64;
    let width = (LEFT + n * 14 + 10).max(WIDTH);
    let step = (width - LEFT - 10) / n;
    let column = (step - 2).clamp(1, 40);
    let span = HEIGHT - BOTTOM - 16;
    let max = s.history.iter().map(|b| b.bytes).max().unwrap_or(0);
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT}" width="100%" role="img" aria-labelledby="history-chart-title" data-testid="history-chart" data-bars="{n}" data-granularity="{g}" font-family="ui-sans-serif, system-ui, sans-serif" fill="currentColor"><title id="history-chart-title">Bytes added to {repo} per {g}, by the created date of the manifests that first named them</title>"#,
        g = escape(&s.granularity),
        repo = escape(&s.repository),
    );
    let base = HEIGHT - BOTTOM;
    let _ = write!(
        out,
        r#"<line x1="{LEFT}" y1="{base}" x2="{x2}" y2="{base}" stroke="currentColor" stroke-opacity="0.4"/><line x1="{LEFT}" y1="16" x2="{x2}" y2="16" stroke="currentColor" stroke-opacity="0.15" stroke-dasharray="4 3"/><text x="{lx}" y="20" font-size="11" text-anchor="end">{top}</text><text x="{lx}" y="{by}" font-size="11" text-anchor="end">0</text>"#,
        x2 = width - 10,
        lx = LEFT - 6,
        top = human_size(max),
        by = base + 4,
    );
    for (i, b) in s.history.iter().enumerate() {
        let x = LEFT + step * i as i64 + (step - column) / 2;
        let h = scale(b.bytes, max, span);
        let _ = write!(
            out,
            r#"<g data-period="{label}" data-start="{start}" data-bytes="{bytes}" data-manifests="{m}"><title>{label}: {size} added, {m} manifests</title><rect x="{x}" y="{y}" width="{column}" height="{h}" fill="{ADDED_FILL}"/></g>"#,
            label = escape(&b.label),
            start = b.start,
            bytes = b.bytes,
            m = b.manifests,
            size = human_size(b.bytes),
            y = base - h,
        );
    }
    let last = s.history.len() - 1;
    for (i, anchor) in [(0usize, "start"), (last, "end")] {
        if i == last && last == 0 && anchor == "end" {
            continue;
        }
        let x = if anchor == "start" { LEFT } else { width - 10 };
        let _ = write!(
            out,
            r#"<text x="{x}" y="{y}" font-size="11" text-anchor="{anchor}">{label}</text>"#,
            y = base + 18,
            label = escape(&s.history[i].label)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HistoryBar, RegistryInfo, StorageRow};

    fn registry(rows: Vec<StorageRow>) -> RegistryStorage {
        RegistryStorage {
            registry: RegistryInfo { name: "r".into(), title: "R <&>".into(), host: "r.example".into() },
            largest: rows,
            ..Default::default()
        }
    }

    fn row(name: &str, unique: u64, shared: u64) -> StorageRow {
        StorageRow { repository: name.into(), unique_bytes: unique, shared_bytes: shared, ..Default::default() }
    }

    #[test]
    fn bars_carry_their_figures_and_scale_to_the_largest() {
        let svg = registry_chart(&registry(vec![row("big", 600, 400), row("small", 0, 250), row("empty", 0, 0)]));
        assert_eq!(svg.matches("data-repository=").count(), 3);
        assert!(svg.contains(r#"data-repository="big" data-unique="600" data-shared="400" data-stored="1000""#));
        let span = WIDTH - LABEL - VALUE;
        // The largest fills the span: 60 % only here, 40 % shared.
        assert!(svg.contains(&format!(r#"width="{}" height="{BAR}" fill="{UNIQUE_FILL}""#, span * 6 / 10)), "{svg}");
        assert!(svg.contains(&format!(r#"width="{}" height="{BAR}" fill="{SHARED_FILL}""#, span * 4 / 10)));
        assert!(svg.contains(&format!(r#"width="{}" height="{BAR}" fill="{SHARED_FILL}""#, span / 4)));
        assert!(svg.contains("href=\"/r/r/big/-/storage\""));
        assert!(svg.contains("R &lt;&amp;&gt;"), "registry text is escaped");
        assert!(registry_chart(&registry(Vec::new())).is_empty(), "no rows, no chart");
    }

    #[test]
    fn untrusted_names_are_escaped() {
        let svg = registry_chart(&registry(vec![row("a/<script>alert(1)</script>", 1, 0)]));
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
    }

    #[test]
    fn columns_per_period() {
        let s = RepositoryStorage {
            repository: "app".into(),
            granularity: "month".into(),
            history: vec![
                HistoryBar { label: "2025-01".into(), start: 0, bytes: 100, manifests: 1 },
                HistoryBar { label: "2025-02".into(), start: 1, bytes: 0, manifests: 0 },
                HistoryBar { label: "2025-03".into(), start: 2, bytes: 50, manifests: 2 },
            ],
            ..Default::default()
        };
        let svg = history_chart(&s);
        assert_eq!(svg.matches("data-period=").count(), 3);
        assert!(svg.contains(r#"data-period="2025-03" data-start="2" data-bytes="50" data-manifests="2""#));
        assert!(svg.contains(r##"height="0" fill="#0d9488""##), "an empty month is an empty column");
        assert!(svg.contains("2025-01</text>") && svg.contains("2025-03</text>"));
    }

    #[test]
    fn cut_keeps_the_end() {
        assert_eq!(cut("team/service-with-a-long-name", 10), "…long-name");
        assert_eq!(cut("short", 10), "short");
    }
}
