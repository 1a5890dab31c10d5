//! What Portolan does, with no web framework in the middle: the server functions of the pages,
//! the REST API, the scheduler and the crawl all call these, so each action has one
//! implementation. Roles are checked by the callers (each entry point checks its own caller's
//! role); what is here takes an identity only to show people what they may see.
//!
//! # Layout
//! - [`Services`]: the configured registries with their clients, the store, who may do what, and
//!   the caches and background workers below; built once by the server.
//! - [`trash`]: deleting safely (re-check, trash, delete, audit), restoring, purging, and
//!   settling deletes a stopped replica left half-recorded.
//! - [`runs`]: retention runs — one at a time per policy in the cluster (leases, heartbeats),
//!   the runs of this replica, schedule fires, first-seen scans; [`whatif`]: the policy editor's
//!   preview from kept inventories.
//! - [`catalog`]: each registry's catalog kept in memory, repository columns kept in the store;
//!   [`search`]: the search box and where-used answers, and recording what was read into the
//!   where-used index; [`tags`]: tag lists sorted, filtered, paged, and their rows read.
//! - [`artifact`], [`panels`], [`diff`], [`json`]: one reader of an artifact for its page (config,
//!   platforms, Helm charts, SBOMs, signatures, raw JSON with links), and comparisons.
//! - [`tokens`]: API tokens — made within their maker's role, checked at every use.
//! - [`upkeep`]: what is forgotten on schedule — ended sessions, trash past `trash_days`, audit
//!   entries past `audit_days`.
//! - [`storage`]: where the bytes are (a registry's and each repository's storage, from the
//!   figures the store keeps), what a deletion or a policy would give back after garbage
//!   collection, and how complete the index behind each figure is.
//! - [`verify`]: signature verification under the trust policies — signatures collected from
//!   referrers and cosign tags, verified off the runtime, outcomes kept by digest.
//! - [`seen`]: first-seen dates. [`error`]: the one error type of this layer.

pub mod artifact;
pub mod catalog;
pub mod diff;
pub mod error;
pub mod json;
pub mod panels;
pub mod runs;
pub mod search;
pub mod seen;
pub mod storage;
pub mod tags;
pub mod tokens;
pub mod trash;
pub mod upkeep;
pub mod verify;
pub mod whatif;

use std::sync::Arc;

use portolan_access::Access;
use portolan_model::RegistryInfo;
use portolan_oci::RegistryVerbs;

pub use error::{Error, Result};

/// One configured registry.
#[derive(Clone)]
pub struct Registry {
    pub info: RegistryInfo,
    /// The registry verbs: a real client, or a registry in memory in tests.
    pub client: Arc<dyn RegistryVerbs>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("name", &self.info.name).finish_non_exhaustive()
    }
}

/// Settings the services need besides the registries.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Days a trash entry stays restorable.
    pub trash_days: u32,
    /// Days audit entries are kept.
    pub audit_days: u32,
    /// The longest an API token may last, in days.
    pub token_max_days: u32,
    /// How long a retention run's lease lasts without renewal (renewed every quarter of it): a
    /// replica that dies mid-run loses its claim after this, and its run is marked interrupted
    /// once its heartbeat is older than this plus one renewal.
    pub retention_lease: std::time::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self { trash_days: 30, audit_days: 365, token_max_days: 90, retention_lease: runs::LEASE_TTL }
    }
}

/// Everything the services work with, cheap to clone (all shared).
#[derive(Clone)]
pub struct Services {
    pub registries: Arc<Vec<Registry>>,
    /// The store (first-seen dates, sessions, audit, trash…): always there, so nothing that
    /// must be recorded can be skipped.
    pub store: portolan_store::Store,
    /// Who may do what.
    pub access: Arc<Access>,
    pub settings: Arc<Settings>,
    /// Bounded background reads on behalf of visitors.
    pub background: Arc<tags::Background>,
    /// Repositories read for retention previews, kept a few minutes.
    pub inventories: Arc<whatif::Inventories>,
    /// Tag lists in version order, per repository, while the cached list is unchanged.
    pub tag_lists: Arc<tags::SortedTags>,
    /// The retention runs this replica is working on (shutdown stops them and hands back
    /// their leases).
    pub runs: Arc<runs::LocalRuns>,
    /// This replica's name (leases, runs).
    pub replica: Arc<str>,
    /// Repository lists, the search box, the where-used index.
    pub search: Arc<search::SearchState>,
    /// The trust policies and the verification outcomes kept by digest.
    pub verifier: Arc<verify::Verifier>,
}

impl Services {
    /// The services over `registries` and `store`, with fresh caches and no runs.
    pub fn new(
        registries: Vec<Registry>,
        store: portolan_store::Store,
        access: Arc<Access>,
        settings: Settings,
        replica: &str,
        search: search::SearchState,
        background_permits: usize,
    ) -> Self {
        Self {
            registries: Arc::new(registries),
            store,
            access,
            settings: Arc::new(settings),
            background: Arc::new(tags::Background::new(background_permits)),
            inventories: Arc::default(),
            tag_lists: Arc::default(),
            runs: Arc::default(),
            replica: replica.into(),
            search: Arc::new(search),
            verifier: Arc::default(),
        }
    }

    /// The same services, verifying signatures under `policies`.
    pub fn with_trust_policies(mut self, policies: portolan_verify::TrustPolicies) -> Self {
        self.verifier = Arc::new(verify::Verifier::new(policies));
        self
    }

    /// The registry named `name`.
    pub fn registry(&self, name: &str) -> Result<&Registry> {
        self.registries.iter().find(|r| r.info.name == name).ok_or_else(|| {
            // The name is whatever the request said: echoed back only in part.
            let shown: String = name.chars().take(64).collect();
            let more = if shown.len() < name.len() { "…" } else { "" };
            Error::NotFound(format!("no registry named {shown:?}{more} is configured"))
        })
    }
}
