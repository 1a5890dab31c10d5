//! Repository lists, the search box, and "where is this digest used": what their server
//! functions answer.

use serde::{Deserialize, Serialize};

use super::{DateSource, RegistryInfo, encode_component};

/// How the repository list is ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RepoSort {
    /// A→Z.
    #[default]
    Name,
    /// Last push first (where it is known; the others after, by name).
    Pushed,
}

impl RepoSort {
    pub fn parse(s: &str) -> Self {
        match s {
            "pushed" => RepoSort::Pushed,
            _ => RepoSort::Name,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            RepoSort::Name => "name",
            RepoSort::Pushed => "pushed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RepoSort::Name => "name",
            RepoSort::Pushed => "last push",
        }
    }
}

/// Repositories per page by default, and at most.
pub const REPO_PER_PAGE: usize = 50;
pub const MAX_REPO_PER_PAGE: usize = 500;

/// What the repository list shows: filter, order, page. Carried in the URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepoQuery {
    pub filter: String,
    pub sort: RepoSort,
    pub reverse: bool,
    /// 1-based.
    pub page: usize,
    pub per_page: usize,
}

impl Default for RepoQuery {
    fn default() -> Self {
        Self { filter: String::new(), sort: RepoSort::default(), reverse: false, page: 1, per_page: REPO_PER_PAGE }
    }
}

impl RepoQuery {
    /// The query string that reproduces this view (defaults omitted), starting with `?` when
    /// not empty.
    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        if !self.filter.is_empty() {
            parts.push(format!("q={}", encode_component(&self.filter)));
        }
        if self.sort != RepoSort::default() {
            parts.push(format!("sort={}", self.sort.key()));
        }
        if self.reverse {
            parts.push("reverse=1".to_owned());
        }
        if self.page > 1 {
            parts.push(format!("page={}", self.page));
        }
        if self.per_page != REPO_PER_PAGE {
            parts.push(format!("per_page={}", self.per_page));
        }
        if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
    }

    /// Reads the view from query parameters (unknown or malformed values fall back to defaults).
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Self {
        let number = |k: &str| get(k).and_then(|v| v.parse::<usize>().ok());
        Self {
            filter: get("q").unwrap_or_default().chars().take(200).collect(),
            sort: get("sort").map(|s| RepoSort::parse(&s)).unwrap_or_default(),
            reverse: get("reverse").is_some_and(|v| v == "1" || v == "true"),
            page: number("page").unwrap_or(1).max(1),
            per_page: number("per_page").unwrap_or(REPO_PER_PAGE).clamp(1, MAX_REPO_PER_PAGE),
        }
    }
}

/// A repository's columns in the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepoSummary {
    pub name: String,
    /// Tags (referrer tags left out).
    pub tags: u64,
    /// The newest tag by semantic version.
    pub newest: Option<String>,
    /// The newest date known of its artifacts (seconds since the epoch), and where it came from.
    pub pushed: Option<i64>,
    pub pushed_source: Option<DateSource>,
}

/// A repository's row: its columns, why they could not be read, or not read yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RepoRow {
    Ok(RepoSummary),
    Failed {
        name: String,
        message: String,
    },
    /// Not read within the time budget (being read; ask again).
    Pending {
        name: String,
    },
}

impl RepoRow {
    pub fn name(&self) -> &str {
        match self {
            RepoRow::Ok(s) => &s.name,
            RepoRow::Failed { name, .. } | RepoRow::Pending { name } => name,
        }
    }
}

/// Where a registry's list of repositories comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Listing {
    /// Its catalog (`/v2/_catalog`), whole.
    Catalog,
    /// Its catalog, cut at Portolan's limit.
    CatalogCapped { limit: usize },
    /// No catalog (Docker Hub, GHCR…): the repositories configured for it and those people
    /// opened; `reason` says why there is no full list.
    NoCatalog { reason: String },
}

/// One page of a registry's repositories.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepoPage {
    pub registry: RegistryInfo,
    pub query: RepoQuery,
    /// Repositories the caller may see.
    pub total: usize,
    /// Of those, matching the filter.
    pub matching: usize,
    pub rows: Vec<RepoRow>,
    pub listing: Listing,
    /// Listed because someone opened them (registries without a catalog).
    pub recent: Vec<String>,
    /// Listed because the configuration names them (registries without a catalog).
    pub configured: Vec<String>,
    pub notice: Option<String>,
    /// The server's clock (seconds since the epoch), so relative dates read the same everywhere.
    pub now: i64,
}

impl RepoPage {
    pub fn pages(&self) -> usize {
        self.matching.div_ceil(self.query.per_page).max(1)
    }
}

/// How long the repository page waits for its rows' columns before rendering without the rest.
pub const SUMMARY_BUDGET_MS: u32 = 400;

/// What a search query was taken for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SearchKind {
    #[default]
    Empty,
    /// Repository names (a substring, or a glob with `*`).
    Names,
    /// `repository:tag`.
    Tag,
    /// A digest (`sha256:…`, whole or its start).
    Digest,
}

/// One result, a link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    pub label: String,
    pub href: String,
    pub detail: Option<String>,
}

/// The results in one registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchGroup {
    pub registry: RegistryInfo,
    pub hits: Vec<SearchHit>,
    /// Matches not shown, and where to see them all.
    pub more: usize,
    pub more_href: Option<String>,
    /// Why the results here may be incomplete.
    pub note: Option<String>,
}

/// The answer to the search box.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchResults {
    pub query: String,
    pub kind: SearchKind,
    pub groups: Vec<SearchGroup>,
    /// For the start of a digest: the digests the index knows that start so.
    pub digests: Vec<String>,
    /// For a whole digest: where it is used.
    pub used: Option<WhereUsedView>,
    pub notice: Option<String>,
}

/// What the search box's drop-down shows of [`SearchResults`], and nothing else. The box is an
/// island on every page: the fewer types it reads, the less the browser downloads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BoxResults {
    pub query: String,
    pub kind: SearchKind,
    /// The registries with hits: their title, and their hits.
    pub groups: Vec<BoxGroup>,
    /// For the start of a digest: the digests the index knows that start so.
    pub digests: Vec<String>,
    /// For a whole digest: it, and how many places use it.
    pub used: Option<BoxUsed>,
}

/// A registry's hits in the search box.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BoxGroup {
    pub title: String,
    pub hits: Vec<BoxHit>,
}

/// One hit in the search box, a link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BoxHit {
    pub label: String,
    pub href: String,
}

/// A whole digest in the search box: where it is used, counted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BoxUsed {
    pub digest: String,
    pub places: usize,
}

impl BoxResults {
    /// Nothing to show: no hit, no digest, no place (as [`SearchResults::hits`] and
    /// [`WhereUsedView::places`] count them).
    pub fn is_empty(&self) -> bool {
        self.groups.iter().all(|g| g.hits.is_empty()) && self.digests.is_empty() && self.used.as_ref().is_none_or(|u| u.places == 0)
    }
}

impl From<SearchResults> for BoxResults {
    fn from(r: SearchResults) -> Self {
        let groups = r
            .groups
            .into_iter()
            .filter(|g| !g.hits.is_empty())
            .map(|g| BoxGroup {
                title: g.registry.title,
                hits: g.hits.into_iter().map(|h| BoxHit { label: h.label, href: h.href }).collect(),
            })
            .collect();
        let used = r.used.map(|u| BoxUsed { places: u.places(), digest: u.digest });
        BoxResults { query: r.query, kind: r.kind, groups, digests: r.digests, used }
    }
}

/// One step from a manifest down to the digest asked about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UseStep {
    /// What the next item is to the manifest above it: `layer`, `config`, `platform manifest`.
    pub role: String,
    pub platform: Option<String>,
    /// The item named (its page).
    pub digest: String,
    pub href: String,
}

/// One place a digest is used: a manifest (tagged, or untagged) that is it or leads to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UseRow {
    pub tags: Vec<(String, String)>,
    pub manifest: String,
    pub manifest_href: String,
    pub kind: Option<String>,
    /// From the manifest down to the digest (empty: the manifest is the digest).
    pub path: Vec<UseStep>,
}

/// The places in one repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsedRepository {
    pub name: String,
    pub href: String,
    pub uses: Vec<UseRow>,
}

/// The places in one registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsedRegistry {
    pub registry: RegistryInfo,
    pub repositories: Vec<UsedRepository>,
}

/// A manifest that refers to the digest (a signature, an SBOM, an attestation…).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsedReferrer {
    pub registry: RegistryInfo,
    pub repository: String,
    pub digest: String,
    pub kind: String,
    pub tags: Vec<String>,
    pub href: String,
}

/// What the index holds for one registry, and how fresh it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CoverageRow {
    pub registry: RegistryInfo,
    /// The crawl is on for it.
    pub crawl: bool,
    /// `crawling`, `paused`, `waiting`…; None: never crawled.
    pub state: Option<String>,
    pub repositories: u64,
    pub tags: u64,
    pub manifests: u64,
    /// Repositories the crawl read whole, and the oldest of those reads (seconds).
    pub crawled: u64,
    pub oldest_crawl: Option<i64>,
    /// The last complete pass ended then (seconds), and the current pass's progress.
    pub last_pass: Option<i64>,
    pub pass_done: u64,
    pub pass_total: u64,
    pub paused_until: Option<i64>,
    pub message: Option<String>,
}

/// Where a digest is used, in every registry the caller may see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhereUsedView {
    pub digest: String,
    pub registries: Vec<UsedRegistry>,
    pub referrers: Vec<UsedReferrer>,
    /// There were more places than shown.
    pub truncated: bool,
    pub coverage: Vec<CoverageRow>,
    pub now: i64,
}

impl WhereUsedView {
    pub fn places(&self) -> usize {
        self.registries.iter().flat_map(|r| &r.repositories).map(|r| r.uses.len()).sum()
    }
}

/// Other places an artifact or blob is used (for its page): the repository it was opened in
/// left out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlsoUsed {
    pub digest: String,
    pub registries: Vec<UsedRegistry>,
    /// Places in the index at all (this repository included), so the page can say "only here".
    pub everywhere: usize,
    pub truncated: bool,
}

/// A digest (`sha256:` and 64 hex digits, or `sha512:` and 128).
pub fn is_digest(s: &str) -> bool {
    match s.split_once(':') {
        Some(("sha256", hex)) => hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        Some(("sha512", hex)) => hex.len() == 128 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_query_round_trips_through_the_url() {
        let q = RepoQuery { filter: "team/*".into(), sort: RepoSort::Pushed, reverse: true, page: 3, per_page: 100 };
        let s = q.to_query_string();
        assert_eq!(s, "?q=team%2F%2A&sort=pushed&reverse=1&page=3&per_page=100");
        let params = [("q", "team/*"), ("sort", "pushed"), ("reverse", "1"), ("page", "3"), ("per_page", "100")];
        let back = RepoQuery::from_params(|k| params.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()));
        assert_eq!(back, q);
        assert_eq!(RepoQuery::default().to_query_string(), "");
        let bad = [("page", "0"), ("per_page", "100000"), ("sort", "<b>")];
        let q = RepoQuery::from_params(|k| bad.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()));
        assert_eq!((q.page, q.per_page, q.sort), (1, MAX_REPO_PER_PAGE, RepoSort::Name));
    }

    #[test]
    fn the_search_box_keeps_what_its_drop_down_shows() {
        let registry = RegistryInfo { name: "hub".into(), title: "Docker Hub".into(), host: "docker.io".into() };
        let hit = SearchHit { label: "library/hello".into(), href: "/r/hub/library/hello".into(), detail: Some("3 tags".into()) };
        let group = |hits: Vec<SearchHit>| SearchGroup { registry: registry.clone(), hits, more: 0, more_href: None, note: None };
        let r = SearchResults {
            query: "hello".into(),
            kind: SearchKind::Names,
            groups: vec![group(vec![]), group(vec![hit])],
            ..Default::default()
        };
        let b = BoxResults::from(r);
        assert_eq!((b.query.as_str(), b.kind, b.groups.len(), b.is_empty()), ("hello", SearchKind::Names, 1, false));
        assert_eq!(b.groups[0].title, "Docker Hub");
        assert_eq!(b.groups[0].hits, vec![BoxHit { label: "library/hello".into(), href: "/r/hub/library/hello".into() }]);

        let digest = format!("sha256:{}", "a".repeat(64));
        let row = UseRow { tags: vec![], manifest: digest.clone(), manifest_href: String::new(), kind: None, path: vec![] };
        let repository = UsedRepository { name: "library/hello".into(), href: String::new(), uses: vec![row.clone(), row] };
        let used = WhereUsedView {
            digest: digest.clone(),
            registries: vec![UsedRegistry { registry, repositories: vec![repository] }],
            referrers: vec![],
            truncated: false,
            coverage: vec![],
            now: 0,
        };
        let b = BoxResults::from(SearchResults { kind: SearchKind::Digest, used: Some(used), ..Default::default() });
        assert_eq!(b.used, Some(BoxUsed { digest, places: 2 }));
        assert!(!b.is_empty());
        assert!(BoxResults::from(SearchResults::default()).is_empty());
    }

    #[test]
    fn digests() {
        assert!(is_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!is_digest(&format!("sha256:{}", "A".repeat(64))));
        assert!(!is_digest("sha256:abc"));
        assert!(!is_digest(&format!("md5:{}", "a".repeat(64))));
    }
}
