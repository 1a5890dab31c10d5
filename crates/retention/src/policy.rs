//! Policies: the raw form people edit and store, and the validated form the planner runs.

use std::fmt;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use semver::VersionReq;
use serde::{Deserialize, Serialize};

/// The longest policy name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The highest per-run deletion cap.
pub const MAX_DELETIONS_LIMIT: u32 = 100_000;
/// The per-run deletion cap of a new policy.
pub const DEFAULT_MAX_DELETIONS: u32 = 100;
/// The longest `newer_than_days` accepted (about 100 years).
pub const MAX_NEWER_THAN_DAYS: u32 = 36_500;

/// A policy as stored (JSON) and edited in the form: nothing checked yet. [`validate`] turns it
/// into a [`Policy`], reporting every mistake at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// What people call it (1–100 characters).
    pub name: String,
    /// The registry it runs on (one of the configured registries).
    pub registry: String,
    /// Repository globs: `team/*` matches `team/api` but not `team/a/b`; `team/**` matches both;
    /// `**` matches every repository.
    pub repositories: Vec<String>,
    /// What to keep; the rules are OR-ed.
    #[serde(default)]
    pub keep: RawKeep,
    /// Tag globs that are always kept, whatever the rules say (`latest`, `v*`, `release-*`).
    #[serde(default)]
    pub protected: Vec<String>,
    /// What to do with referrers whose subject is gone.
    #[serde(default)]
    pub orphans: OrphanMode,
    /// At most this many deletion units per run (1..=100 000); the rest wait for the next run.
    #[serde(default = "default_max_deletions")]
    pub max_deletions: u32,
    /// Only plan, never delete. New policies start in dry run.
    #[serde(default = "default_dry_run")]
    pub dry_run: bool,
    /// When it runs: a cron expression of 5 fields (`0 3 * * *`), or `@daily`-style nicknames.
    /// None: only on demand.
    #[serde(default)]
    pub schedule: Option<String>,
}

fn default_max_deletions() -> u32 {
    DEFAULT_MAX_DELETIONS
}

fn default_dry_run() -> bool {
    true
}

impl Default for RawPolicy {
    /// An empty policy in dry run with the default cap (it does not validate as is: it needs a
    /// name, a registry, repositories and a keep rule).
    fn default() -> Self {
        RawPolicy {
            name: String::new(),
            registry: String::new(),
            repositories: Vec::new(),
            keep: RawKeep::default(),
            protected: Vec::new(),
            orphans: OrphanMode::default(),
            max_deletions: DEFAULT_MAX_DELETIONS,
            dry_run: true,
            schedule: None,
        }
    }
}

/// The keep rules. A tag is kept when any of them keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeep {
    /// Keep the `count` most recent tags, ranked by `by`.
    #[serde(default)]
    pub most_recent: Option<MostRecent>,
    /// Keep tags whose image is newer than this many days.
    #[serde(default)]
    pub newer_than_days: Option<u32>,
    /// Keep tags matching any of these globs (case-sensitive).
    #[serde(default)]
    pub tag_patterns: Vec<String>,
    /// Keep tags whose version matches this semver requirement (`>=2.0.0, <3`).
    #[serde(default)]
    pub versions: Option<String>,
    /// Keep tags whose artifact has a signature that verifies under the trust policies.
    #[serde(default, skip_serializing_if = "is_false")]
    pub verified: bool,
    /// Keep tags whose artifact is signed at all, verified or not (protected by its signature).
    #[serde(default, skip_serializing_if = "is_false")]
    pub signed: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl RawKeep {
    /// Whether no keep rule is set.
    pub fn is_empty(&self) -> bool {
        self.most_recent.is_none()
            && self.newer_than_days.is_none()
            && self.tag_patterns.is_empty()
            && self.versions.is_none()
            && !self.verified
            && !self.signed
    }
}

/// "Keep the N most recent".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MostRecent {
    pub count: u32,
    pub by: RankBy,
}

/// How "most recent" ranks tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RankBy {
    /// By semantic version, highest first; tags that are not versions are not ranked.
    Version,
    /// By the image's date (config `created`, else annotation, else first seen), newest first.
    Created,
    /// By when Portolan first saw the digest, newest first.
    FirstSeen,
}

impl RankBy {
    pub fn label(self) -> &'static str {
        match self {
            RankBy::Version => "version",
            RankBy::Created => "created date",
            RankBy::FirstSeen => "first-seen date",
        }
    }
}

/// What happens to referrers (signatures, SBOMs, attestations) whose subject is gone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrphanMode {
    /// List them in the plan, delete nothing.
    #[default]
    Report,
    /// Delete them (unless a kept tag points at them).
    Delete,
}

/// One mistake in a policy, with where it is (`keep.tag_patterns[1]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyError {
    /// The field's path in the raw policy; empty for the policy as a whole.
    pub at: String,
    pub message: String,
}

impl PolicyError {
    fn new(at: impl Into<String>, message: impl Into<String>) -> Self {
        PolicyError { at: at.into(), message: message.into() }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.at, self.message) }
    }
}

impl std::error::Error for PolicyError {}

/// A validated policy: the raw form (for display and storage) and its compiled globs and
/// version requirement. Made only by [`validate`]. Serializes as its raw form.
#[derive(Clone, Debug)]
pub struct Policy {
    raw: RawPolicy,
    repositories: GlobSet,
    pub(crate) protected: Patterns,
    pub(crate) tag_patterns: Patterns,
    pub(crate) versions: Option<VersionReq>,
}

/// Tag globs with their source text, in the policy's order.
#[derive(Clone, Debug)]
pub(crate) struct Patterns {
    set: GlobSet,
    sources: Vec<String>,
}

impl Patterns {
    /// The first pattern (in the policy's order) matching `tag`.
    pub(crate) fn first_match(&self, tag: &str) -> Option<&str> {
        if self.sources.is_empty() || !self.set.is_match(tag) {
            return None;
        }
        self.set.matches(tag).into_iter().min().map(|i| self.sources[i].as_str())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

impl PartialEq for Policy {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Serialize for Policy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

impl Policy {
    /// The policy as written.
    pub fn raw(&self) -> &RawPolicy {
        &self.raw
    }

    pub fn name(&self) -> &str {
        &self.raw.name
    }

    pub fn registry(&self) -> &str {
        &self.raw.registry
    }

    pub fn dry_run(&self) -> bool {
        self.raw.dry_run
    }

    pub fn max_deletions(&self) -> u32 {
        self.raw.max_deletions
    }

    pub fn orphans(&self) -> OrphanMode {
        self.raw.orphans
    }

    /// The cron schedule, checked; None: on demand only.
    pub fn schedule(&self) -> Option<&str> {
        self.raw.schedule.as_deref()
    }

    /// Whether the policy covers this repository of this registry (registry ids compare
    /// exactly; repositories by the policy's globs).
    pub fn applies_to(&self, registry: &str, repository: &str) -> bool {
        registry == self.raw.registry && self.repositories.is_match(repository)
    }
}

/// Checks a raw policy against the registries that exist, reporting every mistake with where
/// it is. A policy that keeps nothing (no keep rule, no protected pattern) is refused.
pub fn validate(raw: RawPolicy, known_registries: &[&str]) -> Result<Policy, Vec<PolicyError>> {
    let mut errors = Vec::new();

    let name = raw.name.trim();
    if name.is_empty() {
        errors.push(PolicyError::new("name", "give the policy a name"));
    } else if raw.name.chars().count() > MAX_NAME_CHARS {
        errors.push(PolicyError::new("name", format!("at most {MAX_NAME_CHARS} characters (this one has {})", raw.name.chars().count())));
    } else if name.len() != raw.name.len() {
        errors.push(PolicyError::new("name", "remove the spaces at the start or end"));
    }

    if raw.registry.is_empty() {
        errors.push(PolicyError::new("registry", "choose a registry"));
    } else if !known_registries.contains(&raw.registry.as_str()) {
        errors.push(PolicyError::new("registry", format!("no registry named \"{}\" is configured", raw.registry)));
    }

    let mut repositories = GlobSetBuilder::new();
    if raw.repositories.is_empty() {
        errors.push(PolicyError::new("repositories", "add at least one repository pattern (`team/*`, or `**` for all)"));
    }
    for (i, pattern) in raw.repositories.iter().enumerate() {
        let at = format!("repositories[{i}]");
        match repository_glob(pattern) {
            Ok(glob) => {
                repositories.add(glob);
            }
            Err(message) => errors.push(PolicyError::new(at, message)),
        }
    }

    if let Some(most_recent) = raw.keep.most_recent
        && most_recent.count == 0
    {
        errors.push(PolicyError::new(
            "keep.most_recent.count",
            "keeping the 0 most recent keeps nothing: use at least 1, or remove the rule",
        ));
    }
    if let Some(days) = raw.keep.newer_than_days {
        if days == 0 {
            errors.push(PolicyError::new("keep.newer_than_days", "newer than 0 days keeps nothing: use at least 1, or remove the rule"));
        } else if days > MAX_NEWER_THAN_DAYS {
            errors.push(PolicyError::new("keep.newer_than_days", format!("at most {MAX_NEWER_THAN_DAYS} days")));
        }
    }
    let tag_patterns = tag_globs("keep.tag_patterns", &raw.keep.tag_patterns, &mut errors);
    let versions = match &raw.keep.versions {
        None => None,
        Some(text) if text.trim().is_empty() => {
            errors.push(PolicyError::new("keep.versions", "write a version requirement (`>=2.0.0, <3`), or remove the rule"));
            None
        }
        Some(text) => match VersionReq::parse(text.trim()) {
            Ok(req) => Some(req),
            Err(e) => {
                errors.push(PolicyError::new("keep.versions", format!("not a version requirement (e.g. `>=2.0.0, <3`): {e}")));
                None
            }
        },
    };
    let protected = tag_globs("protected", &raw.protected, &mut errors);

    if raw.keep.is_empty() && raw.protected.is_empty() {
        errors.push(PolicyError::new("keep", "this policy would delete every tag in scope; add a keep rule or a protected pattern"));
    }

    if raw.max_deletions == 0 || raw.max_deletions > MAX_DELETIONS_LIMIT {
        errors.push(PolicyError::new("max_deletions", format!("between 1 and {MAX_DELETIONS_LIMIT} deletions per run")));
    }

    if let Some(schedule) = &raw.schedule
        && let Err(message) = check_schedule(schedule)
    {
        errors.push(PolicyError::new("schedule", message));
    }

    let repositories = repositories.build();
    match (errors.is_empty(), repositories) {
        (true, Ok(repositories)) => Ok(Policy {
            repositories,
            protected: protected.expect("no errors, so the globs compiled"),
            tag_patterns: tag_patterns.expect("no errors, so the globs compiled"),
            versions,
            raw,
        }),
        (true, Err(e)) => Err(vec![PolicyError::new("repositories", e.to_string())]),
        (false, _) => Err(errors),
    }
}

fn repository_glob(pattern: &str) -> Result<Glob, String> {
    if pattern.is_empty() {
        return Err("empty pattern".into());
    }
    if pattern.trim() != pattern {
        return Err("remove the spaces at the start or end".into());
    }
    if pattern.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("repository names are lowercase, so this pattern would match nothing".into());
    }
    if pattern.starts_with('/') || pattern.ends_with('/') {
        return Err("repository names neither start nor end with `/`".into());
    }
    GlobBuilder::new(pattern).literal_separator(true).build().map_err(|e| format!("not a valid pattern: {}", glob_error(&e)))
}

fn tag_globs(field: &str, patterns: &[String], errors: &mut Vec<PolicyError>) -> Option<Patterns> {
    let mut set = GlobSetBuilder::new();
    let mut ok = true;
    for (i, pattern) in patterns.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let checked = if pattern.is_empty() {
            Err("empty pattern".to_string())
        } else if pattern.trim() != pattern {
            Err("remove the spaces at the start or end".to_string())
        } else if pattern.contains('/') {
            Err("tags never contain `/`, so this pattern would match nothing".to_string())
        } else {
            GlobBuilder::new(pattern).literal_separator(true).build().map_err(|e| format!("not a valid pattern: {}", glob_error(&e)))
        };
        match checked {
            Ok(glob) => {
                set.add(glob);
            }
            Err(message) => {
                ok = false;
                errors.push(PolicyError::new(at, message));
            }
        }
    }
    if !ok {
        return None;
    }
    match set.build() {
        Ok(set) => Some(Patterns { set, sources: patterns.to_vec() }),
        Err(e) => {
            errors.push(PolicyError::new(field, e.to_string()));
            None
        }
    }
}

fn glob_error(e: &globset::Error) -> String {
    e.kind().to_string()
}

/// Checks a cron schedule: 5 fields (minute hour day-of-month month day-of-week) or a
/// nickname such as `@daily`.
fn check_schedule(schedule: &str) -> Result<(), String> {
    let text = schedule.trim();
    const HELP: &str = "5 fields: minute hour day-of-month month day-of-week, e.g. `0 3 * * *` for 03:00 every day";
    if text.is_empty() {
        return Err(format!("write a schedule ({HELP}), or leave it unset to run on demand only"));
    }
    if !text.starts_with('@') {
        let fields = text.split_whitespace().count();
        if fields != 5 {
            return Err(format!("a schedule has {HELP}; this one has {fields} field{}", if fields == 1 { "" } else { "s" }));
        }
    }
    match croner::Cron::new(text).parse() {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("not a valid schedule ({HELP}): {e}")),
    }
}

/// The fires of `schedule` (a validated cron expression, in UTC) after `after` and at or
/// before `until`, oldest first, at most `max` of them (the rest are counted as missed).
pub fn fires_between(
    schedule: &str,
    after: time::OffsetDateTime,
    until: time::OffsetDateTime,
    max: usize,
) -> Result<(Vec<time::OffsetDateTime>, usize), String> {
    use chrono::TimeZone;
    let cron = croner::Cron::new(schedule.trim()).parse().map_err(|e| format!("not a valid schedule: {e}"))?;
    let start = chrono::Utc.timestamp_opt(after.unix_timestamp(), 0).single().ok_or("a date out of range")?;
    let mut fires = Vec::new();
    let mut more = 0;
    for fire in cron.iter_after(start) {
        let at = time::OffsetDateTime::from_unix_timestamp(fire.timestamp()).map_err(|e| e.to_string())?;
        if at > until {
            break;
        }
        if fires.len() < max {
            fires.push(at);
        } else {
            more += 1;
            if more > 100_000 {
                break;
            }
        }
    }
    Ok((fires, more))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires() {
        use time::macros::datetime;
        let (f, more) = fires_between("0 3 * * *", datetime!(2026-01-01 00:00 UTC), datetime!(2026-01-03 12:00 UTC), 10).unwrap();
        assert_eq!(f, vec![datetime!(2026-01-01 03:00 UTC), datetime!(2026-01-02 03:00 UTC), datetime!(2026-01-03 03:00 UTC)]);
        assert_eq!(more, 0);
        let (f, more) = fires_between("*/15 * * * *", datetime!(2026-01-01 00:00 UTC), datetime!(2026-01-01 02:00 UTC), 1).unwrap();
        assert_eq!((f.len(), more), (1, 7));
        // Strictly after `after`: a fire at that very moment was handled already.
        let (f, _) = fires_between("0 3 * * *", datetime!(2026-01-01 03:00 UTC), datetime!(2026-01-01 03:00 UTC), 10).unwrap();
        assert!(f.is_empty());
    }

    #[test]
    fn schedules() {
        assert!(check_schedule("0 3 * * *").is_ok());
        assert!(check_schedule("*/15 * * * MON-FRI").is_ok());
        assert!(check_schedule("@daily").is_ok());
        assert!(check_schedule("0 0 3 * * *").unwrap_err().contains("this one has 6 fields"));
        assert!(check_schedule("61 * * * *").unwrap_err().starts_with("not a valid schedule"));
        assert!(check_schedule("").is_err());
        assert!(check_schedule("every day").unwrap_err().contains("2 fields"));
    }

    #[test]
    fn first_match_is_in_policy_order() {
        let mut errors = Vec::new();
        let p = tag_globs("protected", &["v*".into(), "v1*".into(), "*".into()], &mut errors).unwrap();
        assert_eq!(p.first_match("v1.2"), Some("v*"));
        assert_eq!(p.first_match("latest"), Some("*"));
        let none = tag_globs("protected", &[], &mut errors).unwrap();
        assert_eq!(none.first_match("latest"), None);
        assert!(errors.is_empty());
    }
}
