//! The planner: a policy and an inventory in, every decision out.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use portolan_inventory::{DateSource, Dated, Inventory, ManifestInfo, TagInfo};
use portolan_types::ArtifactKind;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::policy::{OrphanMode, Policy, RankBy};
use crate::reason::{Decision, DeleteReason, KeepReason, short};

/// What a policy would do to one repository at one moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub registry: String,
    pub repository: String,
    /// Every tag: the ordinary ones (judged by the rules) and the referrer tags (following the
    /// manifest they point at), in the inventory's order.
    pub tags: Vec<TagDecision>,
    /// Every manifest of the inventory, by digest.
    pub manifests: Vec<ManifestDecision>,
    /// What this run removes, in order (oldest first); each unit is one confirmation and one
    /// apply step.
    pub deletions: Vec<Deletion>,
    /// Units beyond the cap (`max_deletions`), in the same order: a later run removes them.
    pub deferred: Vec<Deletion>,
    /// Referrers whose subject is not in the repository, by digest.
    pub orphans: Vec<Orphan>,
    pub summary: Summary,
    /// Remarks for people (scope, cap, tags that could not be read).
    pub notes: Vec<String>,
}

/// One tag and what happens to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TagDecision {
    pub tag: String,
    pub digest: String,
    pub decision: Decision,
    /// The image's date (created, else first seen), with where it came from; None: unknown.
    pub age: Option<Dated>,
    /// The tag read as a version.
    pub version: Option<String>,
    /// For a referrer tag (`sha256-…`, `.sig`, `.att`, `.sbom`): the subject it names.
    pub referrer_of: Option<String>,
}

/// One manifest and what happens to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestDecision {
    pub digest: String,
    pub kind: ArtifactKind,
    pub decision: Decision,
    /// The manifest with its config and layers (an index: just itself).
    pub size: u64,
}

/// One unit of deletion: what one confirmation and one apply step removes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Deletion {
    /// Remove the tag only: its manifest stays, because a kept tag, a kept index or a kept
    /// subject still needs it. Must never be applied as a delete by digest.
    Untag { tag: String, digest: String },
    /// Delete the manifest by digest, with the index children no kept manifest uses and its
    /// referrers (recursively). Every tag pointing at any of them disappears with them.
    DeleteManifest {
        digest: String,
        /// Every tag pointing at the manifest, its children or its referrers (referrer tags
        /// included), by name.
        tags: Vec<String>,
        /// Index children deleted with it, by digest.
        children: Vec<String>,
        /// Referrers deleted with it (recursively, with their own children), by digest.
        referrers: Vec<String>,
        /// Bytes only this unit's manifests use (see [`Summary::bytes_freed`]).
        bytes_freed: u64,
    },
}

impl Deletion {
    /// The tags this unit removes.
    pub fn tags(&self) -> Vec<&str> {
        match self {
            Deletion::Untag { tag, .. } => vec![tag.as_str()],
            Deletion::DeleteManifest { tags, .. } => tags.iter().map(String::as_str).collect(),
        }
    }

    /// The manifests this unit deletes (none for an untag).
    pub fn manifests(&self) -> Vec<&str> {
        match self {
            Deletion::Untag { .. } => Vec::new(),
            Deletion::DeleteManifest { digest, children, referrers, .. } => {
                std::iter::once(digest).chain(children).chain(referrers).map(String::as_str).collect()
            }
        }
    }

    /// The digest the unit is about (the untagged manifest, or the deleted one).
    pub fn digest(&self) -> &str {
        match self {
            Deletion::Untag { digest, .. } | Deletion::DeleteManifest { digest, .. } => digest,
        }
    }

    pub fn bytes_freed(&self) -> u64 {
        match self {
            Deletion::Untag { .. } => 0,
            Deletion::DeleteManifest { bytes_freed, .. } => *bytes_freed,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Deletion::Untag { tag, digest } => format!("remove the tag \"{tag}\" ({} stays)", short(digest)),
            Deletion::DeleteManifest { digest, tags, children, referrers, .. } => {
                let mut parts = vec![format!("delete {}", short(digest))];
                if !tags.is_empty() {
                    parts.push(format!("{} tag{}", tags.len(), plural(tags.len())));
                }
                if !children.is_empty() {
                    parts.push(format!("{} child manifest{}", children.len(), plural(children.len())));
                }
                if !referrers.is_empty() {
                    parts.push(format!("{} referrer{}", referrers.len(), plural(referrers.len())));
                }
                parts.join(", with ")
            }
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A referrer whose subject is not in the repository.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Orphan {
    pub digest: String,
    pub subject: String,
}

/// Counts for the plan's header.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub tags_kept: usize,
    /// Tags this run removes.
    pub tags_deleted: usize,
    /// Tags a later run removes (beyond the cap).
    pub tags_deferred: usize,
    pub manifests_kept: usize,
    /// Manifests this run deletes.
    pub manifests_deleted: usize,
    /// Manifests a later run deletes (beyond the cap).
    pub manifests_deferred: usize,
    /// The bytes of blobs and manifests that only this run's deleted manifests use: what the
    /// registry's garbage collection can reclaim at most (other repositories may share blobs).
    pub bytes_freed: u64,
    /// Deletion units beyond the cap.
    pub deferred: usize,
}

/// Plans `policy` on `inventory`, as of `now`. Pure: the same input gives the same plan. A
/// policy that does not cover the inventory's registry and repository gives an empty plan.
pub fn plan(policy: &Policy, inventory: &Inventory, now: OffsetDateTime) -> Plan {
    let mut plan = Plan {
        registry: inventory.registry.clone(),
        repository: inventory.repository.clone(),
        tags: Vec::new(),
        manifests: Vec::new(),
        deletions: Vec::new(),
        deferred: Vec::new(),
        orphans: Vec::new(),
        summary: Summary::default(),
        notes: Vec::new(),
    };
    if !policy.applies_to(&inventory.registry, &inventory.repository) {
        plan.notes.push(format!(
            "the policy \"{}\" does not cover {} on registry {}: nothing is decided",
            policy.name(),
            inventory.repository,
            inventory.registry
        ));
        return plan;
    }
    Planner::new(policy, inventory, now).run(plan)
}

/// What to delete by hand (the delete preview): tags, and artifacts by digest (with every tag
/// on them). The same unit rules as a policy apply: a tag whose manifest another kept tag still
/// needs is only untagged; a deleted index takes the children no kept manifest uses; a deleted
/// subject takes its referrers, recursively, unless `keep_referrers`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    pub tags: BTreeSet<String>,
    pub digests: BTreeSet<String>,
    pub keep_referrers: bool,
}

/// Plans the deletion of `selection` in `inventory`: every selected tag and digest gets a
/// decision, the rest is kept (`NotSelected`). No cap. Pure, like [`plan`].
pub fn plan_selection(selection: &Selection, inventory: &Inventory) -> Plan {
    let plan = Plan {
        registry: inventory.registry.clone(),
        repository: inventory.repository.clone(),
        tags: Vec::new(),
        manifests: Vec::new(),
        deletions: Vec::new(),
        deferred: Vec::new(),
        orphans: Vec::new(),
        summary: Summary::default(),
        notes: Vec::new(),
    };
    Planner { rules: Rules::Selection(selection), inv: inventory, now: inventory.taken_at, graph: Graph::new(inventory) }.run(plan)
}

/// What decides about tags: a policy's rules, or a hand-made selection.
#[derive(Clone, Copy)]
enum Rules<'a> {
    Policy(&'a Policy),
    Selection(&'a Selection),
}

impl Rules<'_> {
    fn orphans(&self) -> OrphanMode {
        match self {
            Rules::Policy(p) => p.orphans(),
            Rules::Selection(_) => OrphanMode::Report,
        }
    }

    fn max_deletions(&self) -> u32 {
        match self {
            Rules::Policy(p) => p.max_deletions(),
            Rules::Selection(_) => u32::MAX,
        }
    }
}

const NONE: usize = usize::MAX;

/// The inventory as a graph: manifests by index, edges from an index to its children and from
/// a subject to its referrers.
struct Graph<'a> {
    nodes: Vec<&'a ManifestInfo>,
    id: HashMap<&'a str, usize>,
    children: Vec<Vec<usize>>,
    referrers: Vec<Vec<usize>>,
    /// Every node with an edge to this one.
    parents: Vec<Vec<usize>>,
    /// The tags (indexes into `inventory.tags`) pointing at each node.
    tags_of: Vec<Vec<usize>>,
    /// (referrer digest, subject digest) for referrers whose subject is not in the inventory.
    orphans: BTreeSet<(&'a str, &'a str)>,
}

impl<'a> Graph<'a> {
    fn new(inv: &'a Inventory) -> Self {
        let nodes: Vec<&ManifestInfo> = inv.manifests.values().collect();
        let id: HashMap<&str, usize> = inv.manifests.keys().enumerate().map(|(i, d)| (d.as_str(), i)).collect();
        let n = nodes.len();
        let mut children = vec![Vec::new(); n];
        let mut referrers = vec![Vec::new(); n];
        let mut orphans = BTreeSet::new();
        let mut add_referrer = |referrers: &mut Vec<Vec<usize>>, subject: &'a str, referrer: &'a str| match id.get(subject) {
            Some(&s) => {
                if let Some(&r) = id.get(referrer)
                    && r != s
                {
                    referrers[s].push(r);
                }
            }
            None => {
                orphans.insert((referrer, subject));
            }
        };
        for (i, m) in nodes.iter().enumerate() {
            for c in &m.children {
                if let Some(&c) = id.get(c.as_str())
                    && c != i
                {
                    children[i].push(c);
                }
            }
            if let Some(subject) = &m.subject {
                add_referrer(&mut referrers, subject, &m.digest);
            }
        }
        for (subject, list) in &inv.referrers {
            for r in list {
                add_referrer(&mut referrers, subject, r);
            }
        }
        let mut tags_of = vec![Vec::new(); n];
        for (t, tag) in inv.tags.iter().enumerate() {
            if let Some(subject) = &tag.referrer_of {
                add_referrer(&mut referrers, subject, &tag.digest);
            }
            if let Some(&i) = id.get(tag.digest.as_str()) {
                tags_of[i].push(t);
            }
        }
        let mut parents = vec![Vec::new(); n];
        for i in 0..n {
            for list in [&mut children[i], &mut referrers[i]] {
                list.sort_unstable();
                list.dedup();
            }
            for &c in children[i].iter().chain(&referrers[i]) {
                parents[c].push(i);
            }
        }
        for p in &mut parents {
            p.sort_unstable();
            p.dedup();
        }
        Graph { nodes, id, children, referrers, parents, tags_of, orphans }
    }

    /// Every node reachable from `starts` (included).
    fn reach(&self, starts: impl IntoIterator<Item = usize>, seen: &mut [bool]) {
        let mut queue: VecDeque<usize> = VecDeque::new();
        for s in starts {
            if !seen[s] {
                seen[s] = true;
                queue.push_back(s);
            }
        }
        while let Some(n) = queue.pop_front() {
            for &next in self.children[n].iter().chain(&self.referrers[n]) {
                if !seen[next] {
                    seen[next] = true;
                    queue.push_back(next);
                }
            }
        }
    }
}

/// A manifest's age: its date (created, which falls back to first seen in the inventory), else
/// when it was first seen.
pub(crate) fn age_of(m: &ManifestInfo) -> Option<Dated> {
    m.created.or(m.first_seen.map(|at| Dated { at, source: DateSource::FirstSeen }))
}

/// Sort key for deletion order: oldest first, undated last.
fn age_key(age: Option<Dated>) -> (bool, Option<OffsetDateTime>) {
    (age.is_none(), age.map(|a| a.at))
}

struct Planner<'a> {
    rules: Rules<'a>,
    inv: &'a Inventory,
    now: OffsetDateTime,
    graph: Graph<'a>,
}

/// The state of one manifest node while planning.
#[derive(Clone)]
enum NodeState {
    Undecided,
    Keep(KeepReason),
    /// Deleted, with the unit (index into the sorted units) that removes it.
    Delete(DeleteReason, usize),
}

/// A deletion unit while planning.
struct Unit<'a> {
    key: ((bool, Option<OffsetDateTime>), &'a str, &'a str),
    kind: UnitKind,
}

enum UnitKind {
    Untag { tag: usize, node: usize },
    Delete { top: usize, children: Vec<usize>, referrers: Vec<usize> },
}

impl<'a> Planner<'a> {
    fn new(policy: &'a Policy, inv: &'a Inventory, now: OffsetDateTime) -> Self {
        Planner { rules: Rules::Policy(policy), inv, now, graph: Graph::new(inv) }
    }

    fn run(self, mut plan: Plan) -> Plan {
        let inv = self.inv;
        let g = &self.graph;
        let n = g.nodes.len();
        let unreadable: HashSet<&str> = inv.unreadable.iter().map(|u| u.tag.as_str()).collect();

        // 1–5: the ordinary tags, judged by the rules.
        let ordinary: Vec<usize> = (0..inv.tags.len()).filter(|&t| inv.tags[t].referrer_of.is_none()).collect();
        let node_of = |t: &TagInfo| g.id.get(t.digest.as_str()).copied();
        let (ranks, ranked_count) = self.ranks(&ordinary);
        let mut tag_decisions: Vec<Option<Decision>> = vec![None; inv.tags.len()];
        for (i, &t) in ordinary.iter().enumerate() {
            let tag = &inv.tags[t];
            let readable = !unreadable.contains(tag.tag.as_str()) && node_of(tag).is_some_and(|m| !g.nodes[m].missing);
            let decision = if readable {
                self.judge(tag, node_of(tag), ranks.get(i).copied().flatten(), ranked_count)
            } else {
                Decision::Keep(KeepReason::Unreadable)
            };
            tag_decisions[t] = Some(decision);
        }

        // 6: manifests kept. Seeds: manifests the registry does not have, what kept tags point
        // at, reported orphans, and manifests no tag leads to; then their children and
        // referrers.
        let mut from_tags = vec![false; n];
        g.reach(ordinary.iter().filter_map(|&t| node_of(&inv.tags[t])), &mut from_tags);
        let orphan_nodes: Vec<(usize, &str)> = g.orphans.iter().filter_map(|&(r, s)| g.id.get(r).map(|&r| (r, s))).collect();
        let mut from_orphans = vec![false; n];
        g.reach(orphan_nodes.iter().map(|&(r, _)| r), &mut from_orphans);
        let delete_orphans = self.rules.orphans() == OrphanMode::Delete;
        // A hand-made selection: its digests are deleted even when no tag leads to them, and
        // their referrers are kept when asked.
        let (selected, keep_referrers): (Vec<usize>, bool) = match self.rules {
            Rules::Selection(sel) => (sel.digests.iter().filter_map(|d| g.id.get(d.as_str()).copied()).collect(), sel.keep_referrers),
            Rules::Policy(_) => (Vec::new(), false),
        };

        let mut state = vec![NodeState::Undecided; n];
        let mut queue = VecDeque::new();
        let mut seed = |state: &mut Vec<NodeState>, node: usize, reason: KeepReason| {
            if matches!(state[node], NodeState::Undecided) {
                state[node] = NodeState::Keep(reason);
                queue.push_back(node);
            }
        };
        for m in 0..n {
            if g.nodes[m].missing {
                seed(&mut state, m, KeepReason::Missing);
            }
        }
        if keep_referrers {
            let targets: Vec<usize> = ordinary
                .iter()
                .filter(|&&t| tag_decisions[t].as_ref().is_some_and(|d| !d.is_keep()))
                .filter_map(|&t| node_of(&inv.tags[t]))
                .chain(selected.iter().copied())
                .collect();
            for m in targets {
                for &r in &g.referrers[m] {
                    seed(&mut state, r, KeepReason::ReferrerKept { subject: g.nodes[m].digest.clone() });
                }
            }
        }
        for &t in &ordinary {
            if tag_decisions[t].as_ref().is_some_and(Decision::is_keep)
                && let Some(m) = node_of(&inv.tags[t])
            {
                seed(&mut state, m, KeepReason::KeptByTag { tag: inv.tags[t].tag.clone() });
            }
        }
        if !delete_orphans {
            for &(m, subject) in &orphan_nodes {
                if !from_tags[m] {
                    seed(&mut state, m, KeepReason::Orphan { subject: subject.to_string() });
                }
            }
        }
        for m in 0..n {
            if !from_tags[m] && !from_orphans[m] && !selected.contains(&m) {
                seed(&mut state, m, KeepReason::Untracked);
            }
        }
        while let Some(m) = queue.pop_front() {
            for &c in &g.children[m] {
                if matches!(state[c], NodeState::Undecided) {
                    state[c] = NodeState::Keep(KeepReason::ChildOf { index: g.nodes[m].digest.clone() });
                    queue.push_back(c);
                }
            }
            for &r in &g.referrers[m] {
                if matches!(state[r], NodeState::Undecided) {
                    state[r] = NodeState::Keep(KeepReason::ReferrerOf { subject: g.nodes[m].digest.clone() });
                    queue.push_back(r);
                }
            }
        }
        let kept: Vec<bool> = state.iter().map(|s| matches!(s, NodeState::Keep(_))).collect();

        // Manifests deleted: what deleted tags point at (unless kept), deletable orphans, and
        // everything they lead to that is not kept.
        let mut deleted = vec![false; n];
        let mut delete_reason: Vec<Option<DeleteReason>> = vec![None; n];
        let mut queue = VecDeque::new();
        for &t in &ordinary {
            if let Some(m) = node_of(&inv.tags[t])
                && !kept[m]
                && !deleted[m]
            {
                deleted[m] = true;
                delete_reason[m] = Some(DeleteReason::TagsDeleted);
                queue.push_back(m);
            }
        }
        for &m in &selected {
            if !kept[m] && !deleted[m] {
                deleted[m] = true;
                delete_reason[m] = Some(DeleteReason::Selected);
                queue.push_back(m);
            }
        }
        if delete_orphans {
            for &(m, subject) in &orphan_nodes {
                if !kept[m] && !deleted[m] {
                    deleted[m] = true;
                    delete_reason[m] = Some(DeleteReason::Orphan { subject: subject.to_string() });
                    queue.push_back(m);
                }
            }
        }
        while let Some(m) = queue.pop_front() {
            for (list, child) in [(&g.children[m], true), (&g.referrers[m], false)] {
                for &c in list {
                    if !kept[c] && !deleted[c] {
                        deleted[c] = true;
                        delete_reason[c] = Some(if child {
                            DeleteReason::WithIndex { index: g.nodes[m].digest.clone() }
                        } else {
                            DeleteReason::WithSubject { subject: g.nodes[m].digest.clone() }
                        });
                        queue.push_back(c);
                    }
                }
            }
        }
        // Every manifest is kept or deleted by now; keep anything else, to be safe.
        for m in 0..n {
            if !kept[m] && !deleted[m] {
                state[m] = NodeState::Keep(KeepReason::Untracked);
            }
        }

        // 8: deletion units. A deleted manifest no deleted manifest leads to heads a unit; the
        // others join the unit of the last (in deletion order) head leading to them, so a
        // manifest two units share goes with the later one and is never deleted while a
        // remaining index or subject still uses it.
        let node_key = |m: usize| (age_key(age_of(g.nodes[m])), g.nodes[m].digest.as_str(), "");
        let mut heads: Vec<usize> = (0..n).filter(|&m| deleted[m] && !g.parents[m].iter().any(|&p| deleted[p])).collect();
        heads.sort_by_key(|&m| node_key(m));
        let mut owner = vec![NONE; n];
        let mut parent_of: Vec<(usize, bool)> = vec![(NONE, false); n];
        let mut child_only = vec![NONE; n];
        let mut groups: Vec<usize> = Vec::new();
        let mut stack: Vec<usize> = Vec::new();
        let mut queue: VecDeque<usize> = VecDeque::new();
        let mut claim = |head: usize,
                         group: usize,
                         steal: bool,
                         owner: &mut Vec<usize>,
                         parent_of: &mut Vec<(usize, bool)>,
                         child_only: &mut Vec<usize>| {
            // Children reached through index edges only.
            stack.push(head);
            child_only[head] = group;
            while let Some(m) = stack.pop() {
                for &c in &g.children[m] {
                    if deleted[c] && child_only[c] != group && (steal || owner[c] == NONE) {
                        child_only[c] = group;
                        stack.push(c);
                    }
                }
            }
            queue.push_back(head);
            owner[head] = group;
            while let Some(m) = queue.pop_front() {
                for (list, child) in [(&g.children[m], true), (&g.referrers[m], false)] {
                    for &c in list {
                        if deleted[c] && owner[c] != group && (steal || owner[c] == NONE) {
                            owner[c] = group;
                            parent_of[c] = (m, child);
                            queue.push_back(c);
                        }
                    }
                }
            }
        };
        for &h in &heads {
            claim(h, groups.len(), true, &mut owner, &mut parent_of, &mut child_only);
            groups.push(h);
        }
        // Deleted manifests only reachable through a cycle (not met in real registries).
        let mut rest: Vec<usize> = (0..n).filter(|&m| deleted[m] && owner[m] == NONE).collect();
        rest.sort_by_key(|&m| node_key(m));
        for m in rest {
            if owner[m] == NONE {
                claim(m, groups.len(), false, &mut owner, &mut parent_of, &mut child_only);
                groups.push(m);
            }
        }
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); groups.len()];
        for m in 0..n {
            if deleted[m] && owner[m] != NONE && groups[owner[m]] != m {
                members[owner[m]].push(m);
                let (p, child) = parent_of[m];
                if p != NONE {
                    let digest = g.nodes[p].digest.clone();
                    delete_reason[m] =
                        Some(if child { DeleteReason::WithIndex { index: digest } } else { DeleteReason::WithSubject { subject: digest } });
                }
            }
        }
        let mut units: Vec<Unit<'_>> = Vec::new();
        for (group, &head) in groups.iter().enumerate() {
            let (mut children, mut referrers): (Vec<usize>, Vec<usize>) = members[group].iter().partition(|&&m| child_only[m] == group);
            children.sort_by(|&a, &b| g.nodes[a].digest.cmp(&g.nodes[b].digest));
            referrers.sort_by(|&a, &b| g.nodes[a].digest.cmp(&g.nodes[b].digest));
            units.push(Unit { key: node_key(head), kind: UnitKind::Delete { top: head, children, referrers } });
        }
        for &t in &ordinary {
            if tag_decisions[t].as_ref().is_some_and(Decision::is_keep) {
                continue;
            }
            let m = node_of(&inv.tags[t]).expect("a deleted tag's manifest is known");
            if kept[m] {
                let key = (age_key(age_of(g.nodes[m])), g.nodes[m].digest.as_str(), inv.tags[t].tag.as_str());
                units.push(Unit { key, kind: UnitKind::Untag { tag: t, node: m } });
            }
        }
        // Keys are unique: a deleted manifest's digest, or a kept one's with the tag.
        units.sort_unstable_by(|a, b| a.key.cmp(&b.key));

        // 9: the cap.
        let cap = self.rules.max_deletions();
        let planned = |u: usize| u < cap as usize;
        let mut tag_unit = vec![NONE; inv.tags.len()];
        for (u, unit) in units.iter().enumerate() {
            match &unit.kind {
                UnitKind::Untag { tag, .. } => {
                    tag_unit[*tag] = u;
                }
                UnitKind::Delete { top, children, referrers } => {
                    for &m in std::iter::once(top).chain(children).chain(referrers) {
                        let reason = delete_reason[m].clone().unwrap_or(DeleteReason::TagsDeleted);
                        state[m] = NodeState::Delete(reason, u);
                        for &t in &g.tags_of[m] {
                            tag_unit[t] = u;
                        }
                    }
                }
            }
        }

        // 10: bytes freed. A blob (or manifest) counts for the last unit using it, and not at
        // all when a kept manifest uses it.
        let mut kept_blobs: HashSet<&str> = HashSet::new();
        for (node, s) in g.nodes.iter().zip(&state) {
            if matches!(s, NodeState::Keep(_)) && !node.missing {
                kept_blobs.insert(&node.digest);
                kept_blobs.extend(node.blobs.iter().map(|b| b.digest.as_str()));
            }
        }
        let mut last_use: HashMap<&str, (usize, u64)> = HashMap::new();
        for (u, unit) in units.iter().enumerate() {
            if let UnitKind::Delete { top, children, referrers } = &unit.kind {
                for &m in std::iter::once(top).chain(children).chain(referrers) {
                    let node = g.nodes[m];
                    for (digest, size) in std::iter::once((node.digest.as_str(), node.manifest_size))
                        .chain(node.blobs.iter().map(|b| (b.digest.as_str(), b.size)))
                    {
                        if !kept_blobs.contains(digest) {
                            last_use.insert(digest, (u, size));
                        }
                    }
                }
            }
        }
        let mut unit_bytes = vec![0u64; units.len()];
        for &(u, size) in last_use.values() {
            unit_bytes[u] = unit_bytes[u].saturating_add(size);
        }

        // 11: the plan.
        let tag_name = |t: usize| inv.tags[t].tag.clone();
        for (u, unit) in units.iter().enumerate() {
            let deletion = match &unit.kind {
                UnitKind::Untag { tag, node } => Deletion::Untag { tag: tag_name(*tag), digest: g.nodes[*node].digest.clone() },
                UnitKind::Delete { top, children, referrers } => {
                    let mut tags: Vec<String> = std::iter::once(top)
                        .chain(children)
                        .chain(referrers)
                        .flat_map(|&m| g.tags_of[m].iter().map(|&t| tag_name(t)))
                        .collect();
                    tags.sort();
                    tags.dedup();
                    Deletion::DeleteManifest {
                        digest: g.nodes[*top].digest.clone(),
                        tags,
                        children: children.iter().map(|&m| g.nodes[m].digest.clone()).collect(),
                        referrers: referrers.iter().map(|&m| g.nodes[m].digest.clone()).collect(),
                        bytes_freed: unit_bytes[u],
                    }
                }
            };
            if planned(u) { plan.deletions.push(deletion) } else { plan.deferred.push(deletion) }
        }
        let outcome = |reason: DeleteReason, u: usize| {
            if planned(u) { Decision::Delete(reason) } else { Decision::Deferred { cap, reason } }
        };
        let manifest_decision = |m: usize| match &state[m] {
            NodeState::Keep(r) => Decision::Keep(r.clone()),
            NodeState::Delete(r, u) => outcome(r.clone(), *u),
            NodeState::Undecided => Decision::Keep(KeepReason::Untracked),
        };
        for (t, tag) in inv.tags.iter().enumerate() {
            let node = node_of(tag);
            let decision = match tag_decisions[t].take() {
                Some(Decision::Delete(reason)) => outcome(reason, tag_unit[t]),
                Some(d) => d,
                // A referrer tag follows the manifest it points at.
                None => match node {
                    Some(m) => manifest_decision(m),
                    None => Decision::Keep(KeepReason::Unreadable),
                },
            };
            plan.tags.push(TagDecision {
                tag: tag.tag.clone(),
                digest: tag.digest.clone(),
                decision,
                age: node.and_then(|m| age_of(g.nodes[m])),
                version: tag.version.as_ref().map(ToString::to_string),
                referrer_of: tag.referrer_of.clone(),
            });
        }
        for m in 0..n {
            plan.manifests.push(ManifestDecision {
                digest: g.nodes[m].digest.clone(),
                kind: g.nodes[m].kind,
                decision: manifest_decision(m),
                size: g.nodes[m].own_size(),
            });
        }
        plan.orphans = g.orphans.iter().map(|&(d, s)| Orphan { digest: d.to_string(), subject: s.to_string() }).collect();

        let s = &mut plan.summary;
        for t in &plan.tags {
            match t.decision {
                Decision::Keep(_) => s.tags_kept += 1,
                Decision::Delete(_) => s.tags_deleted += 1,
                Decision::Deferred { .. } => s.tags_deferred += 1,
            }
        }
        for m in &plan.manifests {
            match m.decision {
                Decision::Keep(_) => s.manifests_kept += 1,
                Decision::Delete(_) => s.manifests_deleted += 1,
                Decision::Deferred { .. } => s.manifests_deferred += 1,
            }
        }
        s.bytes_freed = plan.deletions.iter().map(Deletion::bytes_freed).fold(0, u64::saturating_add);
        s.deferred = plan.deferred.len();

        self.notes(&mut plan);
        plan
    }

    /// Rank (1-based) of each ordinary tag (by position in `ordinary`) under the "most recent"
    /// rule, None: not ranked (no such rule, or the tag lacks the key); and how many are ranked.
    fn ranks(&self, ordinary: &[usize]) -> (Vec<Option<u32>>, u32) {
        let Rules::Policy(policy) = self.rules else { return (Vec::new(), 0) };
        let Some(rule) = policy.raw().keep.most_recent else { return (Vec::new(), 0) };
        let inv = self.inv;
        let manifest = |t: usize| self.graph.id.get(inv.tags[t].digest.as_str()).map(|&m| self.graph.nodes[m]);
        let mut ranked: Vec<usize> = Vec::new();
        match rule.by {
            RankBy::Version => {
                let mut keyed: Vec<(usize, &semver::Version)> =
                    (0..ordinary.len()).filter_map(|i| inv.tags[ordinary[i]].version.as_ref().map(|v| (i, v))).collect();
                keyed.sort_by(|a, b| b.1.cmp(a.1).then_with(|| inv.tags[ordinary[a.0]].tag.cmp(&inv.tags[ordinary[b.0]].tag)));
                ranked.extend(keyed.into_iter().map(|(i, _)| i));
            }
            RankBy::Created | RankBy::FirstSeen => {
                let mut keyed: Vec<(usize, OffsetDateTime)> = (0..ordinary.len())
                    .filter_map(|i| {
                        let m = manifest(ordinary[i])?;
                        let at = if rule.by == RankBy::Created { m.created.map(|c| c.at) } else { m.first_seen };
                        at.map(|at| (i, at))
                    })
                    .collect();
                keyed.sort_by(|a, b| {
                    Reverse(a.1).cmp(&Reverse(b.1)).then_with(|| inv.tags[ordinary[a.0]].tag.cmp(&inv.tags[ordinary[b.0]].tag))
                });
                ranked.extend(keyed.into_iter().map(|(i, _)| i));
            }
        }
        let of = u32::try_from(ranked.len()).unwrap_or(u32::MAX);
        let mut ranks = vec![None; ordinary.len()];
        for (r, i) in ranked.into_iter().enumerate() {
            ranks[i] = Some(u32::try_from(r + 1).unwrap_or(u32::MAX));
        }
        (ranks, of)
    }

    /// Rules 3–5 for a readable ordinary tag.
    fn judge(&self, tag: &TagInfo, node: Option<usize>, rank: Option<u32>, of: u32) -> Decision {
        let policy = match self.rules {
            Rules::Policy(p) => p,
            Rules::Selection(sel) => {
                let picked = sel.tags.contains(&tag.tag) || sel.digests.contains(&tag.digest);
                return if picked { Decision::Delete(DeleteReason::Selected) } else { Decision::Keep(KeepReason::NotSelected) };
            }
        };
        let keep = &policy.raw().keep;
        if let Some(pattern) = policy.protected.first_match(&tag.tag) {
            return Decision::Keep(KeepReason::Protected { pattern: pattern.to_string() });
        }
        if let Some(pattern) = policy.tag_patterns.first_match(&tag.tag) {
            return Decision::Keep(KeepReason::TagPattern { pattern: pattern.to_string() });
        }
        if let (Some(req), Some(v)) = (&policy.versions, &tag.version)
            && req.matches(v)
        {
            return Decision::Keep(KeepReason::Version { requirement: keep.versions.clone().unwrap_or_default().trim().to_string() });
        }
        let verdict = self.inv.verified.get(&tag.digest);
        if keep.verified
            && let Some(v) = verdict.filter(|v| v.verified)
        {
            return Decision::Keep(KeepReason::Verified { says: v.says.clone() });
        }
        if keep.signed && self.signed(&tag.digest) {
            return Decision::Keep(KeepReason::Signed);
        }
        if let (Some(rule), Some(rank)) = (keep.most_recent, rank)
            && rank <= rule.count
        {
            return Decision::Keep(KeepReason::MostRecent { rank, of, count: rule.count, by: rule.by });
        }
        let age = node.and_then(|m| age_of(self.graph.nodes[m]));
        if let Some(days) = keep.newer_than_days {
            match age {
                None => return Decision::Keep(KeepReason::NoDate),
                Some(age) if self.cutoff(days).is_none_or(|cutoff| age.at > cutoff) => {
                    return Decision::Keep(KeepReason::NewerThan { days, age_source: age.source });
                }
                Some(_) => {}
            }
        }

        // Deleted: say why each rule did not keep it.
        let mut tried = Vec::new();
        if !policy.tag_patterns.is_empty() {
            tried.push("matches none of the keep patterns".to_string());
        }
        if keep.verified {
            tried.push(match verdict {
                Some(v) => v.says.clone(),
                None => "not verified (no trust policy covers it)".to_string(),
            });
        }
        if keep.signed {
            tried.push("unsigned".to_string());
        }
        if let Some(req) = &keep.versions {
            let req = req.trim();
            match &tag.version {
                Some(v) => tried.push(format!("version {v} does not match \"{req}\"")),
                None => tried.push(format!("not a version, so \"{req}\" does not apply")),
            }
        }
        if let Some(rule) = keep.most_recent {
            match rank {
                Some(rank) => tried.push(format!("rank {rank} of {of} by {}, beyond the {} kept", rule.by.label(), rule.count)),
                None => tried.push(match rule.by {
                    RankBy::Version => "not a version, so not ranked by version".to_string(),
                    RankBy::Created => "no created date, so not ranked by created date".to_string(),
                    RankBy::FirstSeen => "never seen before, so not ranked by first-seen date".to_string(),
                }),
            }
        }
        if let (Some(days), Some(age)) = (keep.newer_than_days, age) {
            let ago = (self.now - age.at).whole_days();
            let what = match age.source {
                DateSource::Config | DateSource::Annotation => "created",
                DateSource::FirstSeen => "first seen",
            };
            tried.push(format!("{what} {ago} day{} ago, older than {days} days", if ago == 1 { "" } else { "s" }));
        }
        Decision::Delete(DeleteReason::NoRuleKeeps { tried })
    }

    /// Whether a signature refers to `digest`.
    fn signed(&self, digest: &str) -> bool {
        self.inv
            .referrers
            .get(digest)
            .is_some_and(|referrers| referrers.iter().any(|r| self.inv.manifests.get(r).is_some_and(|m| m.kind == ArtifactKind::Signature)))
    }

    fn cutoff(&self, days: u32) -> Option<OffsetDateTime> {
        self.now.checked_sub(Duration::days(i64::from(days)))
    }

    fn notes(&self, plan: &mut Plan) {
        if let Rules::Policy(policy) = self.rules
            && policy.dry_run()
        {
            plan.notes.push("dry run: this policy only plans; nothing is deleted until dry run is turned off".into());
        }
        if !plan.deferred.is_empty() {
            plan.notes.push(format!(
                "{} deletion unit{} beyond this run's cap of {} {} deferred to later runs",
                plan.deferred.len(),
                plural(plan.deferred.len()),
                self.rules.max_deletions(),
                if plan.deferred.len() == 1 { "is" } else { "are" }
            ));
        }
        let known: HashSet<&str> =
            if self.inv.unreadable.is_empty() { HashSet::new() } else { self.inv.tags.iter().map(|t| t.tag.as_str()).collect() };
        let lost: Vec<&str> = self.inv.unreadable.iter().map(|u| u.tag.as_str()).filter(|t| !known.contains(t)).collect();
        if !lost.is_empty() {
            plan.notes.push(format!(
                "{} tag{} could not be read at all ({}); deleting a manifest also removes any of them pointing at it, so re-read \
                 the repository before applying",
                lost.len(),
                plural(lost.len()),
                lost.join(", ")
            ));
        }
        let unread = plan.tags.iter().filter(|t| matches!(t.decision, Decision::Keep(KeepReason::Unreadable))).count();
        if unread > 0 {
            plan.notes.push(format!(
                "{unread} tag{} kept because {} manifest could not be read",
                plural(unread),
                if unread == 1 { "its" } else { "their" }
            ));
        }
        if !plan.orphans.is_empty() && matches!(self.rules, Rules::Policy(p) if p.orphans() == OrphanMode::Report) {
            plan.notes.push(format!(
                "{} orphan{} (referrers whose subject is gone) reported, not deleted",
                plan.orphans.len(),
                plural(plan.orphans.len())
            ));
        }
    }
}
