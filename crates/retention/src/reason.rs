//! Decisions and their reasons, each with a plain-words description for the UI.

use portolan_inventory::DateSource;
use serde::{Deserialize, Serialize};

use crate::policy::RankBy;

/// What the plan does with a tag or a manifest, and the one reason why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    Keep(KeepReason),
    /// Deleted by this run.
    Delete(DeleteReason),
    /// Would be deleted, but its deletion unit is beyond this run's cap (`max_deletions`): it
    /// stays for now, listed in [`Plan::deferred`](crate::Plan::deferred), and a later run
    /// deletes it.
    Deferred {
        cap: u32,
        reason: DeleteReason,
    },
}

impl Decision {
    pub fn is_keep(&self) -> bool {
        matches!(self, Decision::Keep(_))
    }

    /// Deleted by this run.
    pub fn is_delete(&self) -> bool {
        matches!(self, Decision::Delete(_))
    }

    /// Deleted by this run or deferred to a later one: what the policy wants gone.
    pub fn is_targeted(&self) -> bool {
        !self.is_keep()
    }

    pub fn describe(&self) -> String {
        match self {
            Decision::Keep(r) => r.describe(),
            Decision::Delete(r) => r.describe(),
            Decision::Deferred { cap, reason } => {
                format!("deferred to a later run (this run stops at {cap} deletions); {}", reason.describe())
            }
        }
    }
}

/// Why a tag or a manifest is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum KeepReason {
    /// The tag's manifest could not be read (or the registry answers 404 for it): nothing
    /// unknown is deleted.
    Unreadable,
    /// The tag matches a protected pattern.
    Protected { pattern: String },
    /// The tag matches a keep pattern.
    TagPattern { pattern: String },
    /// The tag's version matches the policy's requirement.
    Version { requirement: String },
    /// The tag is among the `count` most recent: rank `rank` (1-based) of the `of` ranked tags.
    MostRecent { rank: u32, of: u32, count: u32, by: RankBy },
    /// The tag's image is newer than `days` days; its date came from `age_source`.
    NewerThan { days: u32, age_source: DateSource },
    /// The policy keeps recent tags, and this tag's age is unknown: never-dated images are not
    /// deleted first.
    NoDate,
    /// A manifest a kept tag points at.
    KeptByTag { tag: String },
    /// A manifest a kept index lists.
    ChildOf { index: String },
    /// A referrer (signature, SBOM, attestation) of a kept manifest.
    ReferrerOf { subject: String },
    /// A referrer whose subject is gone; the policy only reports orphans.
    Orphan { subject: String },
    /// A manifest the registry answers 404 for: there is nothing to delete.
    Missing,
    /// A manifest no tag, index or subject of the repository leads to: no rule decides about it.
    Untracked,
    /// Not among what was picked for deletion (a delete by hand).
    NotSelected,
    /// A referrer of a deleted artifact, kept because the deletion asked to keep referrers.
    ReferrerKept { subject: String },
    /// Its artifact is verified under the trust policies (`says`: by which policy and signer).
    Verified { says: String },
    /// Its artifact is signed (the policy keeps signed artifacts, verified or not).
    Signed,
}

impl KeepReason {
    pub fn describe(&self) -> String {
        match self {
            KeepReason::Unreadable => "kept: its manifest could not be read, and nothing unknown is deleted".into(),
            KeepReason::Protected { pattern } => format!("kept: protected by pattern \"{pattern}\""),
            KeepReason::TagPattern { pattern } => format!("kept: matches the keep pattern \"{pattern}\""),
            KeepReason::Version { requirement } => format!("kept: its version matches \"{requirement}\""),
            KeepReason::MostRecent { rank, of, count, by } => {
                format!("kept: rank {rank} of {of} by {}, within the {count} most recent", by.label())
            }
            KeepReason::NewerThan { days, age_source } => {
                format!("kept: newer than {days} days (dated by {})", age_source.label())
            }
            KeepReason::NoDate => "kept: its age is unknown, and undated images are never deleted for their age".into(),
            KeepReason::KeptByTag { tag } => format!("kept: the kept tag \"{tag}\" points at it"),
            KeepReason::ChildOf { index } => format!("kept: part of the kept index {}", short(index)),
            KeepReason::ReferrerOf { subject } => format!("kept: refers to the kept {}", short(subject)),
            KeepReason::Orphan { subject } => {
                format!("kept: an orphan (its subject {} is gone); this policy only reports orphans", short(subject))
            }
            KeepReason::Missing => "kept: the registry answers 404 for it, so there is nothing to delete".into(),
            KeepReason::Untracked => "kept: no tag, index or subject in this repository leads to it, so no rule decides about it".into(),
            KeepReason::NotSelected => "kept: not selected".into(),
            KeepReason::ReferrerKept { subject } => format!("kept: a referrer of {}, kept on request", short(subject)),
            KeepReason::Verified { says } => format!("kept: its signature is {says}"),
            KeepReason::Signed => "kept: it is signed, and signed artifacts are kept".into(),
        }
    }
}

/// Why a tag or a manifest is deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum DeleteReason {
    /// No keep rule keeps the tag; `tried` says, per rule, why it did not ("rank 12 of 40 by
    /// version, beyond the 10 kept", "created 45 days ago, older than 30 days").
    NoRuleKeeps { tried: Vec<String> },
    /// A manifest every tag of which is deleted.
    TagsDeleted,
    /// A manifest deleted with the index that lists it.
    WithIndex { index: String },
    /// A referrer deleted with its subject.
    WithSubject { subject: String },
    /// A referrer whose subject is gone; the policy deletes orphans.
    Orphan { subject: String },
    /// Picked for deletion by hand.
    Selected,
}

impl DeleteReason {
    pub fn describe(&self) -> String {
        match self {
            DeleteReason::NoRuleKeeps { tried } if tried.is_empty() => "deleted: no keep rule keeps it".into(),
            DeleteReason::NoRuleKeeps { tried } => format!("deleted: {}", tried.join("; ")),
            DeleteReason::TagsDeleted => "deleted: every tag pointing at it is deleted".into(),
            DeleteReason::WithIndex { index } => format!("deleted with its index {}", short(index)),
            DeleteReason::WithSubject { subject } => format!("deleted with its subject {}", short(subject)),
            DeleteReason::Orphan { subject } => format!("deleted: an orphan (its subject {} is gone)", short(subject)),
            DeleteReason::Selected => "deleted: selected".into(),
        }
    }
}

/// `sha256:0123456789ab` for people.
pub(crate) fn short(digest: &str) -> &str {
    let end = digest.find(':').map_or(0, |i| i + 1) + 12;
    digest.get(..end).unwrap_or(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_digests() {
        assert_eq!(short("sha256:0123456789abcdef0123"), "sha256:0123456789ab");
        assert_eq!(short("sha256:01"), "sha256:01");
        assert_eq!(short("x"), "x");
    }
}
