//! What the admin pages show: delete previews and results, the trash, the audit log.

use serde::{Deserialize, Serialize};

use super::{ArtifactKind, RegistryInfo};

/// Said after every deletion.
pub const GC_NOTE: &str =
    "Space returns only when the registry's garbage collection runs; until then, what was deleted can be restored from the trash.";

/// Whether the caller may delete where a page is, and if not why — controls are then shown
/// disabled with the reason. Never the decision: the server functions check again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeleteAbility {
    /// Not a maintainer here: no controls.
    #[default]
    Hidden,
    /// A maintainer, but the registry (or Portolan's credentials) cannot delete here.
    Disabled(String),
    Allowed,
}

/// What to delete, as picked on a page: tags, artifacts by digest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct DeleteSelection {
    pub tags: Vec<String>,
    pub digests: Vec<String>,
    /// Keep the referrers (signatures, SBOMs…) of deleted artifacts (default: they go too).
    pub keep_referrers: bool,
}

/// A manifest a deletion touches, as the preview lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManifestLine {
    pub digest: String,
    /// None: the registry does not have it (any more).
    pub kind: Option<ArtifactKind>,
    pub platforms: Vec<String>,
    pub size: u64,
}

/// One unit of a deletion: what one step removes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteUnit {
    /// `untag` (the tag alone; its manifest stays for other tags) or `delete` (the manifest by
    /// digest, with the tags on it, the index children nothing else uses, and referrers).
    pub op: String,
    pub digest: String,
    pub kind: Option<ArtifactKind>,
    /// Every tag this unit removes, with the digest it points at now.
    pub tags: Vec<(String, String)>,
    pub children: Vec<ManifestLine>,
    pub referrers: Vec<ManifestLine>,
    pub bytes_freed: u64,
    /// In plain words.
    pub describe: String,
}

/// The preview of a deletion: everything it would remove, before anything is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeletePreview {
    pub registry: RegistryInfo,
    pub repository: String,
    pub selection: DeleteSelection,
    pub units: Vec<DeleteUnit>,
    /// Tags that stay although they share a digest with something deleted, and why.
    pub kept: Vec<(String, String)>,
    pub notes: Vec<String>,
    /// Why nothing can be deleted here (deletion disabled, credentials without the right…).
    pub blocked: Option<String>,
    /// How space is reclaimed on this registry.
    pub gc_hint: String,
    /// The confirmation to send back: the units as shown (JSON).
    pub confirmation: String,
    /// What garbage collection would give back after it, worked out against the whole
    /// registry's index (each unit's `bytes_freed` is its share).
    #[serde(default)]
    pub freed: super::FreedAfterGc,
}

/// How one item of a deletion (or a restore) ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemOutcome {
    /// `delete-tag`, `delete-manifest`, `restore-manifest`, `restore-tag`…
    pub action: String,
    pub tag: Option<String>,
    pub digest: String,
    /// `done`, `skipped` or `failed`.
    pub outcome: String,
    pub reason: Option<String>,
}

/// A trash entry as the trash page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrashRow {
    pub id: i64,
    /// Seconds since the epoch.
    pub at: i64,
    pub who: String,
    pub registry: String,
    pub repository: String,
    /// `tag` or `artifact`.
    pub kind: String,
    pub summary: String,
    /// `saved`, `deleted`, `failed`, `restored`, `purged`.
    pub state: String,
    pub state_at: i64,
    pub state_by: Option<String>,
    pub state_reason: Option<String>,
    pub manifests: usize,
    pub tags: Vec<(String, String)>,
    /// What the caller may do with it.
    pub can_restore: bool,
    pub can_purge: bool,
}

/// One page of the trash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrashPage {
    pub rows: Vec<TrashRow>,
    /// Pass as `before` for the next page.
    pub next: Option<i64>,
    pub trash_days: u32,
    pub now: i64,
}

/// Which audit entries to list (all optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct AuditQuery {
    pub action: String,
    pub actor: String,
    pub registry: String,
    pub repository: String,
    /// `done`, `skipped`, `failed`, `refused`, or empty.
    pub outcome: String,
    /// Entries older than this id (paging).
    pub before: Option<i64>,
}

impl AuditQuery {
    /// The query string for links (CSV/JSON downloads, next page), starting with `?` or empty.
    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("action", &self.action),
            ("actor", &self.actor),
            ("registry", &self.registry),
            ("repository", &self.repository),
            ("outcome", &self.outcome),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", super::encode_component(v)));
            }
        }
        if let Some(b) = self.before {
            parts.push(format!("before={b}"));
        }
        if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
    }
}

/// An audit entry as the audit page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor_kind: String,
    pub actor: String,
    pub provider: Option<String>,
    pub subject: Option<String>,
    pub action: String,
    pub registry: Option<String>,
    pub repository: Option<String>,
    pub digests: Vec<String>,
    pub tags: Vec<String>,
    pub outcome: String,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    /// The API token the person acted through, if any.
    #[serde(default)]
    pub token: Option<i64>,
}

/// One page of the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub query: AuditQuery,
    pub rows: Vec<AuditRow>,
    pub next: Option<i64>,
    pub audit_days: u32,
    pub now: i64,
}

/// An API token as lists show it (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    /// The secret's first characters (`ptl_abcd`), to recognise it.
    pub hint: String,
    /// Whose it is.
    pub owner: String,
    pub registry: String,
    pub repositories: Vec<String>,
    /// `viewer`, `maintainer` or `admin` (never more than the owner has, at each use).
    pub role: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
    pub last_used_at: Option<i64>,
    pub last_used_from: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub state: String,
}

/// The tokens page: one's own tokens (or everyone's, for an admin of everything).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensPage {
    pub rows: Vec<TokenRow>,
    /// Everyone's tokens (the admin view), not one's own.
    pub all: bool,
    /// The longest a token may last (`token_max_days`).
    pub max_days: u32,
    pub registries: Vec<RegistryInfo>,
    pub now: i64,
}

/// A token to make, as the form sends it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenForm {
    pub name: String,
    /// A registry name, or a pattern (`*` for every registry).
    pub registry: String,
    /// Repository globs, one a line or comma separated (`**` for every repository).
    pub repositories: String,
    /// `viewer`, `maintainer` or `admin`.
    pub role: String,
    /// Days until it expires.
    pub days: u32,
}

/// A token just made: its secret, shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub secret: String,
    pub row: TokenRow,
}
