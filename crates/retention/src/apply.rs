//! Comparing plans, and the inventory a plan leaves behind.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use portolan_inventory::Inventory;
use serde::{Deserialize, Serialize};

use crate::plan::{Deletion, Plan};

/// What changes between two plans (the saved policy's and the edited one's).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanDiff {
    /// Tags the new plan deletes (now or in a later run) and the old one did not, by name.
    pub newly_deleted: Vec<String>,
    /// Tags the old plan deleted (now or in a later run) and the new one does not, by name.
    pub no_longer_deleted: Vec<String>,
    /// Bytes freed by the old plan's run.
    pub bytes_before: u64,
    /// Bytes freed by the new plan's run.
    pub bytes_after: u64,
}

/// Compares two plans of the same repository. A tag counts as deleted when this run deletes it
/// or defers it to a later run: the diff shows what the policy wants gone, whatever the cap.
pub fn diff(before: &Plan, after: &Plan) -> PlanDiff {
    let targeted =
        |plan: &Plan| -> BTreeSet<String> { plan.tags.iter().filter(|t| t.decision.is_targeted()).map(|t| t.tag.clone()).collect() };
    let (old, new) = (targeted(before), targeted(after));
    PlanDiff {
        newly_deleted: new.difference(&old).cloned().collect(),
        no_longer_deleted: old.difference(&new).cloned().collect(),
        bytes_before: before.summary.bytes_freed,
        bytes_after: after.summary.bytes_freed,
    }
}

/// The inventory as it would be once this run's deletions (`plan.deletions`, not the deferred
/// ones) are applied: untagged tags and deleted manifests gone, with every tag pointing at a
/// deleted manifest, and the referrer lists updated. Pure.
pub fn simulate_apply(inventory: &Inventory, plan: &Plan) -> Inventory {
    let mut untagged: HashSet<&str> = HashSet::new();
    let mut deleted: HashSet<&str> = HashSet::new();
    for deletion in &plan.deletions {
        match deletion {
            Deletion::Untag { tag, .. } => {
                untagged.insert(tag);
            }
            Deletion::DeleteManifest { tags, .. } => {
                untagged.extend(tags.iter().map(String::as_str));
                deleted.extend(deletion.manifests());
            }
        }
    }
    let tags: Vec<_> =
        inventory.tags.iter().filter(|t| !untagged.contains(t.tag.as_str()) && !deleted.contains(t.digest.as_str())).cloned().collect();
    let removed: HashSet<&str> = inventory
        .tags
        .iter()
        .filter(|t| untagged.contains(t.tag.as_str()) || deleted.contains(t.digest.as_str()))
        .map(|t| t.tag.as_str())
        .collect();
    let manifests =
        inventory.manifests.iter().filter(|(d, _)| !deleted.contains(d.as_str())).map(|(d, m)| (d.clone(), m.clone())).collect();
    let referrers: BTreeMap<String, Vec<String>> = inventory
        .referrers
        .iter()
        .filter_map(|(subject, list)| {
            let list: Vec<String> = list.iter().filter(|r| !deleted.contains(r.as_str())).cloned().collect();
            (!list.is_empty()).then(|| (subject.clone(), list))
        })
        .collect();
    let unreadable = inventory.unreadable.iter().filter(|u| !removed.contains(u.tag.as_str())).cloned().collect();
    Inventory {
        registry: inventory.registry.clone(),
        repository: inventory.repository.clone(),
        taken_at: inventory.taken_at,
        tags,
        manifests,
        referrers,
        unreadable,
        verified: inventory.verified.clone(),
    }
}
