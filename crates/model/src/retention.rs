//! What the retention pages show: policies as a form, what-if previews, runs and their items.

use serde::{Deserialize, Serialize};

use super::{DateSource, RegistryInfo};

/// A policy as the editor's form holds it: text fields, lists one item per line. The server
/// turns it into a raw policy and validates it (every mistake at once, with where).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct PolicyForm {
    /// None: a new policy.
    pub id: Option<i64>,
    /// The version the edit started from (ignored for a new policy).
    pub version: i64,
    pub name: String,
    pub registry: String,
    /// Repository globs, one per line.
    pub repositories: String,
    /// Keep the N most recent (empty: no such rule).
    pub most_recent_count: String,
    /// `version`, `created` or `first-seen`.
    pub most_recent_by: String,
    /// Keep tags newer than this many days (empty: no such rule).
    pub newer_than_days: String,
    /// Tag globs kept, one per line.
    pub tag_patterns: String,
    /// A semver requirement (`>=2.0.0, <3`) kept.
    pub versions: String,
    /// Signed artifacts kept: `` (no such rule), `verified` (those verified under the trust
    /// policies) or `signed` (any signature, verified or not).
    pub keep_signatures: String,
    /// Tag globs always kept, one per line.
    pub protected: String,
    /// `report` or `delete`.
    pub orphans: String,
    pub max_deletions: String,
    pub dry_run: bool,
    /// A cron expression (empty: on demand only).
    pub schedule: String,
}

impl Default for PolicyForm {
    fn default() -> Self {
        Self {
            id: None,
            version: 0,
            name: String::new(),
            registry: String::new(),
            repositories: "**".into(),
            most_recent_count: "10".into(),
            most_recent_by: "version".into(),
            newer_than_days: String::new(),
            tag_patterns: String::new(),
            versions: String::new(),
            keep_signatures: String::new(),
            protected: "latest".into(),
            orphans: "report".into(),
            max_deletions: "100".into(),
            dry_run: true,
            schedule: String::new(),
        }
    }
}

/// A run, as lists show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunRow {
    pub id: i64,
    pub policy_id: i64,
    pub policy_name: String,
    pub policy_version: i64,
    pub registry: String,
    /// `manual` or `schedule`.
    pub trigger: String,
    pub started_by: Option<String>,
    pub dry_run: bool,
    /// `running`, `done`, `failed`, `stopped`, `interrupted`.
    pub state: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub repositories: i64,
    pub planned: i64,
    pub done: i64,
    pub skipped: i64,
    pub failed: i64,
    pub tags_kept: i64,
    pub tags_deleted: i64,
    pub bytes_freed: i64,
    pub message: Option<String>,
}

/// One item of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunItemRow {
    pub position: i64,
    pub repository: String,
    pub action: String,
    pub tag: Option<String>,
    pub digest: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub bytes: i64,
}

/// A run with a page of its items.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunView {
    pub run: RunRow,
    pub items: Vec<RunItemRow>,
    /// Pass as `from` for the next items.
    pub next_from: Option<i64>,
    pub can_stop: bool,
    pub now: i64,
}

/// A policy in the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyRow {
    pub id: i64,
    pub name: String,
    pub registry: String,
    pub repositories: Vec<String>,
    pub schedule: Option<String>,
    pub dry_run: bool,
    pub version: i64,
    pub updated_at: i64,
    pub updated_by: Option<String>,
    /// The next scheduled run (seconds since the epoch).
    pub next_run: Option<i64>,
    pub last_run: Option<RunRow>,
    /// Why the stored policy does not validate any more (a registry removed…).
    pub problem: Option<String>,
    pub can_edit: bool,
    pub can_run: bool,
}

/// The policies page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PoliciesPage {
    pub policies: Vec<PolicyRow>,
    pub recent_runs: Vec<RunRow>,
    /// The caller may create policies (admin somewhere).
    pub can_create: bool,
    pub now: i64,
}

/// One policy's page: its form (for the editor), its runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyPage {
    pub form: PolicyForm,
    pub registries: Vec<RegistryInfo>,
    pub runs: Vec<RunRow>,
    pub can_edit: bool,
    pub can_run: bool,
    pub next_run: Option<i64>,
    pub now: i64,
}

/// A tag in a what-if preview.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhatIfTag {
    pub repository: String,
    pub tag: String,
    pub digest: String,
    /// `keep`, `delete` or `deferred`.
    pub decision: String,
    pub reason: String,
    /// The date the rules used (seconds since the epoch), and where it came from.
    pub age: Option<i64>,
    pub age_source: Option<DateSource>,
}

/// What a policy would do now, computed from the cached repositories, before it is saved.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhatIf {
    /// Mistakes in the form (where, what): nothing else is computed while there are any.
    pub errors: Vec<(String, String)>,
    pub repositories: usize,
    pub tags_kept: usize,
    pub tags_deleted: usize,
    pub tags_deferred: usize,
    pub manifests_deleted: usize,
    pub units: usize,
    /// Bytes the deleted manifests alone use in the repositories read (the planner's figure).
    pub bytes_freed: u64,
    /// What garbage collection would give back after the deletions, worked out against the
    /// whole registry's index.
    #[serde(default)]
    pub freed: super::FreedAfterGc,
    /// Deleted (and deferred) tags first, then kept ones; at most a few hundred.
    pub tags: Vec<WhatIfTag>,
    pub truncated: bool,
    /// Tags this version deletes that the saved one does not, and the other way round.
    pub newly_deleted: Vec<String>,
    pub no_longer_deleted: Vec<String>,
    pub notes: Vec<String>,
    /// How long the computation took on the server (milliseconds).
    pub elapsed_ms: u64,
}
