//! What Portolan's services answer and its pages show: small serializable values (DTOs),
//! shared by the server crates and the browser build (no OCI or HTTP types here, and no date
//! library: dates travel as seconds since the epoch).
//!
//! # Layout
//! - this file: registries, sign-in, tag lists and their rows, formatting helpers (sizes,
//!   digests, dates) that also run in the browser;
//! - `artifact`: artifact pages, diffs, referrer graphs, panels;
//! - `admin`: deleting, the trash, the audit log;
//! - `retention`: policies, runs, what-if previews;
//! - `search`: repository lists, the search box, where-used;
//! - `storage`: where the bytes are, what a cleanup would give back.
//! - `verify`: signature verification outcomes.

use serde::{Deserialize, Serialize};

mod admin;
mod artifact;
mod retention;
mod search;
mod storage;
mod verify;
pub use admin::*;
pub use artifact::*;
pub use retention::*;
pub use search::*;
pub use storage::*;
pub use verify::*;

/// A configured registry, as pages show it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistryInfo {
    /// The URL segment (`/r/{name}`).
    pub name: String,
    pub title: String,
    /// `host[:port]` as it appears in pull commands.
    pub host: String,
}

/// A way to sign in, as the sign-in page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderInfo {
    /// The URL segment: `/auth/login/{id}`.
    pub id: String,
    pub title: String,
    /// `oidc` or `github`.
    pub kind: String,
}

/// How people sign in here.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignInOptions {
    pub providers: Vec<ProviderInfo>,
    /// A trusted reverse proxy signs people in (no sign-in page of Portolan's own).
    pub proxy: bool,
    /// The administrator's note for the sign-in page (`[auth] sign_in_note`), shown as text.
    pub note: Option<String>,
}

/// Who is signed in, and their role where the page is (for the header; never for deciding).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionView {
    pub name: Option<String>,
    pub provider: Option<String>,
    /// `viewer`, `maintainer`, `admin`, or None (no access here).
    pub role: Option<String>,
    /// The caller's highest role anywhere (which admin pages to link).
    pub highest: Option<String>,
    /// False: Portolan is an open read-only browser.
    pub sign_in_enabled: bool,
    pub proxy: bool,
}

/// How the tag list is ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TagSort {
    /// Semantic versions first, newest first; other tags after, by name.
    #[default]
    Version,
    Name,
    /// By creation date (needs every tag's config: slower the first time).
    Created,
}

impl TagSort {
    pub fn parse(s: &str) -> Self {
        match s {
            "name" => TagSort::Name,
            "created" => TagSort::Created,
            _ => TagSort::Version,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            TagSort::Version => "version",
            TagSort::Name => "name",
            TagSort::Created => "created",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TagSort::Version => "version",
            TagSort::Name => "name",
            TagSort::Created => "created",
        }
    }
}

/// What the tag list shows: filter, order, page. Carried in the URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TagQuery {
    pub filter: String,
    pub sort: TagSort,
    /// Ascending instead of the sort's natural (newest first / A→Z for names) order.
    pub reverse: bool,
    /// 1-based.
    pub page: usize,
    pub per_page: usize,
    /// Also list referrer tags (`sha256-…`, `….sig/.att/.sbom`).
    pub show_referrer_tags: bool,
    /// Only tags whose artifact is verified, or is not (where trust policies apply).
    pub verified: VerifiedFilter,
}

impl Default for TagQuery {
    fn default() -> Self {
        Self {
            filter: String::new(),
            sort: TagSort::default(),
            reverse: false,
            page: 1,
            per_page: DEFAULT_PER_PAGE,
            show_referrer_tags: false,
            verified: VerifiedFilter::All,
        }
    }
}

pub const DEFAULT_PER_PAGE: usize = 50;
pub const MAX_PER_PAGE: usize = 500;

impl TagQuery {
    /// The query string that reproduces this view (defaults omitted), starting with `?` when
    /// not empty.
    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        if !self.filter.is_empty() {
            parts.push(format!("q={}", encode_component(&self.filter)));
        }
        if self.sort != TagSort::default() {
            parts.push(format!("sort={}", self.sort.key()));
        }
        if self.reverse {
            parts.push("reverse=1".to_owned());
        }
        if self.page > 1 {
            parts.push(format!("page={}", self.page));
        }
        if self.per_page != DEFAULT_PER_PAGE {
            parts.push(format!("per_page={}", self.per_page));
        }
        if self.show_referrer_tags {
            parts.push("all=1".to_owned());
        }
        if self.verified != VerifiedFilter::All {
            parts.push(format!("verified={}", self.verified.key()));
        }
        if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
    }

    /// Reads the view from query parameters (unknown or malformed values fall back to defaults).
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Self {
        let number = |k: &str| get(k).and_then(|v| v.parse::<usize>().ok());
        Self {
            filter: get("q").unwrap_or_default().chars().take(200).collect(),
            sort: get("sort").map(|s| TagSort::parse(&s)).unwrap_or_default(),
            reverse: get("reverse").is_some_and(|v| v == "1" || v == "true"),
            page: number("page").unwrap_or(1).max(1),
            per_page: number("per_page").unwrap_or(DEFAULT_PER_PAGE).clamp(1, MAX_PER_PAGE),
            show_referrer_tags: get("all").is_some_and(|v| v == "1" || v == "true"),
            verified: get("verified").map(|v| VerifiedFilter::from_key(&v)).unwrap_or_default(),
        }
    }
}

pub use portolan_types::names::{is_config_name, is_repository_name};

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// One page of a repository's tags.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TagPage {
    pub registry: RegistryInfo,
    pub repository: String,
    /// Tags in the repository (referrer tags excluded unless shown).
    pub total: usize,
    /// Tags matching the filter.
    pub matching: usize,
    /// Referrer tags (`sha256-…`, cosign's `.sig/.att/.sbom`) hidden from the list.
    pub hidden_referrer_tags: usize,
    pub query: TagQuery,
    /// The page's tags, in order, with their details (some pending: see [`DETAILS_BUDGET_MS`]).
    pub rows: Vec<TagRow>,
    /// Portolan's absolute URL, for the badges' Markdown.
    pub public_url: String,
    /// Set when sorting by date ran out of time: the order is by the dates read so far.
    pub notice: Option<String>,
    /// The server's clock when answering (seconds since the epoch), so relative dates read
    /// the same on the server and in the browser.
    pub now: i64,
    /// Whether the caller may delete tags here.
    pub delete: DeleteAbility,
    /// Trust policies cover this repository: rows carry their verification, and the list can
    /// be filtered by it.
    pub verifying: bool,
}

impl TagPage {
    pub fn pages(&self) -> usize {
        self.matching.div_ceil(self.query.per_page).max(1)
    }
}

pub use portolan_types::{ArtifactKind, DateSource};

/// The details of one tag, as the tag table shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TagDetail {
    pub tag: String,
    pub digest: String,
    pub media_type: String,
    /// `image`, `index`, `helm-chart`, `sbom`, `signature`, `attestation`, `other`…
    pub kind: ArtifactKind,
    /// `linux/amd64`, `linux/arm64/v8`… (attestation manifests excluded).
    pub platforms: Vec<String>,
    /// Compressed size: manifest + config + layers (for an index: the largest platform).
    pub size: Option<u64>,
    /// When it was created (seconds since the epoch), and where that date came from.
    pub created: Option<i64>,
    pub created_source: Option<DateSource>,
    /// Referrers (signatures, SBOMs, attestations) attached to this digest.
    pub referrers: usize,
    /// Platform manifests of an index that the registry answers 404 for (a broken image).
    pub missing_children: usize,
    /// Its signatures under the trust policies (None: no policy covers the repository).
    pub verification: Option<VerifyBrief>,
}

/// A tag's details, or why they could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TagRow {
    Ok(TagDetail),
    Failed {
        tag: String,
        message: String,
    },
    /// Not read within the time budget (still being read; ask again).
    Pending {
        tag: String,
    },
}

impl TagRow {
    pub fn tag(&self) -> &str {
        match self {
            TagRow::Ok(d) => &d.tag,
            TagRow::Failed { tag, .. } | TagRow::Pending { tag } => tag,
        }
    }
}

/// How long a page waits for tag details before rendering without the rest (which the
/// browser then asks for).
pub const DETAILS_BUDGET_MS: u32 = 400;

/// Formats a byte count for people (1.5 MiB), in integer arithmetic (float formatting would
/// add its machinery to the browser bundle).
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut unit = 0;
    let mut whole = n;
    let mut rest = 0;
    while whole >= 1024 && unit < UNITS.len() - 1 {
        rest = whole % 1024;
        whole /= 1024;
        unit += 1;
    }
    if unit == 0 {
        return format!("{n} B");
    }
    // One decimal, rounded.
    let mut tenths = (rest * 10 + 512) / 1024;
    if tenths == 10 {
        whole += 1;
        tenths = 0;
    }
    if whole == 1024 && unit < UNITS.len() - 1 {
        whole = 1;
        unit += 1;
    }
    format!("{whole}.{tenths} {}", UNITS[unit])
}

/// The first 12 hex digits of a digest (`sha256:0123456789ab`).
pub fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((alg, hex)) => format!("{alg}:{}", &hex[..hex.len().min(12)]),
        None => digest.chars().take(19).collect(),
    }
}

/// Seconds since the Unix epoch of an RFC 3339 date (`2025-06-01T12:00:00Z`, offsets and
/// fractions accepted), without a date library (this also runs in the browser).
pub fn unix_seconds(rfc3339: &str) -> Option<i64> {
    let b = rfc3339.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| rfc3339.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let mut offset = 0;
    let rest = &rfc3339[19..];
    let rest = rest.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    if let Some(sign) = rest.chars().next().filter(|c| *c == '+' || *c == '-') {
        let oh: i64 = rest.get(1..3)?.parse().ok()?;
        let om: i64 = rest.get(4..6)?.parse().ok()?;
        offset = (oh * 3600 + om * 60) * if sign == '+' { 1 } else { -1 };
    }
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss - offset)
}

/// "3 days ago", "in 2 hours", relative to `now` (seconds since the epoch).
pub fn relative_time(rfc3339: &str, now: i64) -> String {
    match unix_seconds(rfc3339) {
        Some(t) => relative_seconds(t, now),
        None => rfc3339.to_owned(),
    }
}

/// `2025-06-01T12:00:00Z` for seconds since the epoch (UTC), without a date library.
pub fn format_utc(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// "3 days ago", "in 2 hours": `t` relative to `now` (both seconds since the epoch).
pub fn relative_seconds(t: i64, now: i64) -> String {
    let delta = now - t;
    let (future, secs) = (delta < 0, delta.unsigned_abs());
    let (n, unit) = match secs {
        0..=59 => return "just now".to_owned(),
        60..=3_599 => (secs / 60, "minute"),
        3_600..=86_399 => (secs / 3_600, "hour"),
        86_400..=2_591_999 => (secs / 86_400, "day"),
        2_592_000..=31_535_999 => (secs / 2_592_000, "month"),
        _ => (secs / 31_536_000, "year"),
    };
    let plural = if n == 1 { "" } else { "s" };
    if future { format!("in {n} {unit}{plural}") } else { format!("{n} {unit}{plural} ago") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_query_round_trips_through_the_url() {
        let q = TagQuery {
            filter: "v1 &x".into(),
            sort: TagSort::Created,
            reverse: true,
            page: 3,
            per_page: 100,
            show_referrer_tags: true,
            ..TagQuery::default()
        };
        let s = q.to_query_string();
        assert_eq!(s, "?q=v1%20%26x&sort=created&reverse=1&page=3&per_page=100&all=1");
        let params: Vec<(&str, &str)> =
            vec![("q", "v1 &x"), ("sort", "created"), ("reverse", "1"), ("page", "3"), ("per_page", "100"), ("all", "1")];
        let back = TagQuery::from_params(|k| params.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()));
        assert_eq!(back, q);
        assert_eq!(TagQuery::default().to_query_string(), "");
    }

    #[test]
    fn repository_names() {
        for ok in ["hello", "library/hello", "a.b_c__d--e/f", "x9/y-0"] {
            assert!(is_repository_name(ok), "{ok}");
        }
        for bad in ["", "Hello", "a/", "/a", "a//b", "-a", "a\nb", "a b", "a___b", "a..b", "a_", &"a".repeat(256)] {
            assert!(!is_repository_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn malformed_parameters_fall_back_to_defaults() {
        let params = [("page", "-1"), ("per_page", "999999"), ("sort", "<script>")];
        let q = TagQuery::from_params(|k| params.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()));
        assert_eq!(q.page, 1);
        assert_eq!(q.per_page, MAX_PER_PAGE);
        assert_eq!(q.sort, TagSort::Version);
    }

    #[test]
    fn sizes_and_digests_for_people() {
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(1_048_575), "1.0 MiB");
        assert_eq!(human_size(5 * 1024 * 1024 + 300 * 1024), "5.3 MiB");
        assert_eq!(short_digest("sha256:0123456789abcdef"), "sha256:0123456789ab");
    }
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn parses_rfc3339() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2025-06-01T12:00:00Z"), Some(1_748_779_200));
        assert_eq!(unix_seconds("2025-06-01T14:00:00.123+02:00"), Some(1_748_779_200));
        assert_eq!(unix_seconds("2025-06-01"), None);
        assert_eq!(unix_seconds("<script>"), None);
    }

    #[test]
    fn relative() {
        let now = unix_seconds("2025-06-04T12:00:00Z").unwrap();
        assert_eq!(relative_time("2025-06-01T12:00:00Z", now), "3 days ago");
        assert_eq!(relative_time("2025-06-04T11:59:30Z", now), "just now");
        assert_eq!(relative_time("2027-06-04T12:00:00Z", now), "in 2 years");
        assert_eq!(relative_time("garbage", now), "garbage");
        assert_eq!(format_utc(1_748_779_200), "2025-06-01T12:00:00Z");
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
    }
}
