//! Where the bytes are: a registry's storage and each repository's, what a cleanup would give
//! back, and how complete and fresh the index behind every figure is.

use serde::{Deserialize, Serialize};

use super::{ArtifactKind, RegistryInfo, encode_component};

/// Said under every storage figure: what no registry API shows.
pub const UNLISTABLE: &str =
    "Manifests pushed by digest that no tag ever named cannot be listed through the registry API: no figure counts them.";

/// How complete and how fresh the index behind storage figures is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Freshness {
    /// The index covers every repository of the registry (the crawl's last pass read the whole
    /// catalog, none failed): the figures are the registry's, as of `last_pass`.
    pub complete: bool,
    /// The crawl is on for this registry.
    pub crawl: bool,
    /// Where the crawl stands (`crawling`, `waiting`, `paused`…); None: it never ran.
    pub state: Option<String>,
    /// When the crawl's last complete pass ended (seconds since the epoch).
    pub last_pass: Option<i64>,
    /// The oldest read behind the figures shown (seconds): none is older.
    pub oldest_read: Option<i64>,
    /// Repositories in the figures.
    pub indexed: u64,
    /// Repositories in the registry's catalog as last listed (None: not known).
    pub catalog: Option<u64>,
    /// Repositories not read, with why (the first few).
    pub unread: Vec<(String, String)>,
    /// How many are not read in all.
    pub unread_total: u64,
    /// What the figures leave out, in words.
    pub notes: Vec<String>,
    pub now: i64,
}

/// What a deletion or a policy would give back once the registry's garbage collection runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FreedAfterGc {
    /// Bytes of the blobs (layers, configs, the manifests themselves) that no manifest staying
    /// in the registry names, as far as the index knows — each counted once.
    pub bytes: u64,
    /// The index covers the whole registry: this is what garbage collection frees. Otherwise it
    /// is at most this: repositories the index has not read may name some of these blobs.
    pub complete: bool,
    /// Said next to the figure: how it was worked out, how old the index is, what it leaves out.
    pub note: String,
    /// When the crawl's last complete pass ended (seconds), the index's age.
    pub as_of: Option<i64>,
}

/// The order of a registry's storage table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StorageSort {
    /// Bytes the repository names (its own and shared), largest first.
    #[default]
    Stored,
    Unique,
    Shared,
    /// What garbage collection would free today, largest first.
    Reclaimable,
    Manifests,
    Untagged,
    Tags,
    Name,
}

impl StorageSort {
    pub const ALL: [StorageSort; 8] = [
        StorageSort::Stored,
        StorageSort::Unique,
        StorageSort::Shared,
        StorageSort::Reclaimable,
        StorageSort::Tags,
        StorageSort::Manifests,
        StorageSort::Untagged,
        StorageSort::Name,
    ];

    pub fn parse(s: &str) -> Self {
        Self::ALL.into_iter().find(|x| x.key() == s).unwrap_or_default()
    }

    pub fn key(self) -> &'static str {
        match self {
            StorageSort::Stored => "stored",
            StorageSort::Unique => "unique",
            StorageSort::Shared => "shared",
            StorageSort::Reclaimable => "reclaimable",
            StorageSort::Manifests => "manifests",
            StorageSort::Untagged => "untagged",
            StorageSort::Tags => "tags",
            StorageSort::Name => "name",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StorageSort::Stored => "Stored",
            StorageSort::Unique => "Only here",
            StorageSort::Shared => "Shared",
            StorageSort::Reclaimable => "Reclaimable",
            StorageSort::Manifests => "Manifests",
            StorageSort::Untagged => "Untagged",
            StorageSort::Tags => "Tags",
            StorageSort::Name => "Name",
        }
    }
}

/// Rows of a registry's storage table per page.
pub const STORAGE_PER_PAGE: usize = 100;
/// Rows per page at most.
pub const MAX_STORAGE_PER_PAGE: usize = 1000;
/// Repositories drawn in a registry's chart.
pub const STORAGE_CHART_BARS: usize = 15;

/// What the storage table shows: order and page. Carried in the URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StorageQuery {
    pub sort: StorageSort,
    /// The other way round (smallest first; Z→A for names).
    pub reverse: bool,
    /// 1-based.
    pub page: usize,
    pub per_page: usize,
}

impl Default for StorageQuery {
    fn default() -> Self {
        Self { sort: StorageSort::default(), reverse: false, page: 1, per_page: STORAGE_PER_PAGE }
    }
}

impl StorageQuery {
    /// The query string that reproduces this view (defaults omitted), starting with `?` when
    /// not empty.
    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        if self.sort != StorageSort::default() {
            parts.push(format!("sort={}", encode_component(self.sort.key())));
        }
        if self.reverse {
            parts.push("reverse=1".to_owned());
        }
        if self.page > 1 {
            parts.push(format!("page={}", self.page));
        }
        if self.per_page != STORAGE_PER_PAGE {
            parts.push(format!("per_page={}", self.per_page));
        }
        if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
    }

    /// Reads the view from query parameters (unknown or malformed values fall back to defaults).
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Self {
        let number = |k: &str| get(k).and_then(|v| v.parse::<usize>().ok());
        Self {
            sort: get("sort").map(|s| StorageSort::parse(&s)).unwrap_or_default(),
            reverse: get("reverse").is_some_and(|v| v == "1" || v == "true"),
            page: number("page").unwrap_or(1).max(1),
            per_page: number("per_page").unwrap_or(STORAGE_PER_PAGE).clamp(1, MAX_STORAGE_PER_PAGE),
        }
    }
}

/// One repository's storage.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StorageRow {
    pub repository: String,
    /// Bytes only this repository names.
    pub unique_bytes: u64,
    /// Bytes it names that other repositories name too.
    pub shared_bytes: u64,
    /// Tags (referrer tags left out), as its tag list was last read.
    pub tags: Option<u64>,
    pub manifests: u64,
    /// Manifests no tag reaches (directly, as an index's entry or as a referrer).
    pub untagged: u64,
    /// Bytes only untagged manifests name (in the whole registry): freed by a garbage
    /// collection that deletes untagged manifests.
    pub reclaimable_untagged: u64,
    /// Bytes of artifacts deleted through Portolan that no manifest names any more: freed by
    /// the next garbage collection.
    pub reclaimable_deleted: u64,
    /// When its figures were last read from the registry (seconds).
    pub read_at: Option<i64>,
    /// How: `crawl` (read whole by the crawl), `browsing` (only what people opened), `failed`
    /// (the crawl's last pass could not read it: the figures are from `read_at`), `trash` (its
    /// every manifest was deleted through Portolan: only what they left is counted).
    pub read_by: String,
}

impl StorageRow {
    /// Bytes it names, its own and shared.
    pub fn stored(&self) -> u64 {
        self.unique_bytes.saturating_add(self.shared_bytes)
    }

    /// What garbage collection would free today (deleting untagged manifests too).
    pub fn reclaimable(&self) -> u64 {
        self.reclaimable_untagged.saturating_add(self.reclaimable_deleted)
    }
}

/// A registry's storage, for the caller: only the repositories they may see.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistryStorage {
    pub registry: RegistryInfo,
    /// The caller sees only part of the registry: the totals are of what they see.
    pub partial: bool,
    /// Bytes stored, each blob counted once however many manifests and repositories name it.
    pub stored_bytes: u64,
    /// Bytes only untagged manifests name.
    pub reclaimable_untagged: u64,
    /// Bytes deleted artifacts left that no manifest names (each once).
    pub reclaimable_deleted: u64,
    pub repositories: u64,
    pub tags: u64,
    pub manifests: u64,
    pub untagged: u64,
    /// The largest repositories, as the chart draws them (its table shows the same numbers).
    pub largest: Vec<StorageRow>,
    pub query: StorageQuery,
    /// One page of the table.
    pub rows: Vec<StorageRow>,
    pub freshness: Freshness,
    /// The chart of `largest`, drawn on the server (SVG markup; not in the JSON API).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub chart: String,
}

impl RegistryStorage {
    pub fn pages(&self) -> usize {
        (self.repositories as usize).div_ceil(self.query.per_page.max(1)).max(1)
    }
}

/// Bytes added in one period, by the created date of the manifests that first named them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryBar {
    /// `2025-03` (a month) or `2025-W09` (a week).
    pub label: String,
    /// Its first second (seconds since the epoch).
    pub start: i64,
    pub bytes: u64,
    /// Manifests created then.
    pub manifests: u64,
}

/// An artifact of a repository and the bytes it takes (its manifest, config and layers, and an
/// index's platform manifests with theirs — each blob once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArtifactBytes {
    pub digest: String,
    pub kind: ArtifactKind,
    pub tags: Vec<String>,
    pub bytes: u64,
    pub created: Option<i64>,
    /// No tag reaches it.
    pub untagged: bool,
}

/// A blob (layer or config) of a repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LayerBytes {
    pub digest: String,
    /// `layer` or `config`.
    pub role: String,
    pub size: u64,
    /// Other repositories naming it that the caller may see (the first few, by name).
    pub shared_with: Vec<String>,
    /// Named by other repositories too.
    pub shared: bool,
}

/// One repository's storage page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepositoryStorage {
    pub registry: RegistryInfo,
    pub repository: String,
    /// The index holds something of it.
    pub indexed: bool,
    pub figures: StorageRow,
    /// Bytes added per period (`granularity`: `month` or `week`), oldest first.
    pub history: Vec<HistoryBar>,
    pub granularity: String,
    /// Of the bytes in `history`, those dated by when Portolan first saw a manifest naming them
    /// (no created date known: no config `created`, no `org.opencontainers.image.created`).
    pub first_seen_bytes: u64,
    pub largest_artifacts: Vec<ArtifactBytes>,
    pub largest_layers: Vec<LayerBytes>,
    /// Its layers other repositories name too, largest first.
    pub shared_layers: Vec<LayerBytes>,
    pub freshness: Freshness,
    /// The chart of `history`, drawn on the server (SVG markup; not in the JSON API).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub chart: String,
}
