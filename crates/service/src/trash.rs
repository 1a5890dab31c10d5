//! The whole trash lifecycle, for a person's request and for retention runs alike:
//! - previewing a deletion ([`preview`]) and applying exactly what was previewed ([`apply`]):
//!   every unit is re-checked against the registry as it is now, saved byte for byte in the
//!   trash, then deleted, and each step goes to the audit log ([`Deleter`]);
//! - restoring ([`Deleter::restore`]): the entry is claimed first (one restore at a time, no
//!   purge meanwhile), every blob is checked, manifests are put back in dependency order
//!   (children, index, referrers), then the tags — never over a tag that was pushed again since;
//!   purging ([`purge`], by hand or past the retention); listing what someone may act on
//!   ([`list`]);
//! - settling deletes a stopped replica left half-recorded, and giving back the entries of
//!   restores that stopped ([`settle_trash`]).
//!
//! Every change of an entry's state is conditional on the state it is expected in (the store's
//! `trash` module has the table): a delete ending after its entry was purged leaves it purged.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use futures::StreamExt;
use portolan_inventory::Inventory;
use portolan_inventory::read::{extend, read_inventory};
use portolan_oci::{ErrorKind, Manifest, Reference, RegistryVerbs, RepoName, Tag};
use portolan_retention::{Deletion, Plan, Selection, plan_selection};
use portolan_store::{
    Actor, ManifestRole, NewAudit, NewTrash, Outcome, RestoreClaim, Store, StoreError, TrashEntry, TrashKind, TrashManifest, TrashState,
};
use serde::{Deserialize, Serialize};

use portolan_access::{Identity, Role};
use portolan_model::{DeletePreview, DeleteSelection, DeleteUnit, ItemOutcome, ManifestLine, TrashPage, TrashRow};
use portolan_store::RunState;
use time::OffsetDateTime;

use crate::{Error, Registry, Result, Services};

/// Tags or digests picked at once, at most.
pub const MAX_SELECTION: usize = 1_000;

/// Registry requests in flight while reading a repository for a deletion.
const READ_CONCURRENCY: usize = 16;

/// How space comes back, said next to every delete.
pub const GC_HINT: &str = "Deleting removes manifests and tags; the space their layers take returns only when the registry's garbage collection runs (CNCF distribution: `registry garbage-collect <config.yml>`, with the registry read-only or stopped — not `--delete-untagged`, which on distribution 2.x also removes the untagged platform manifests of multi-platform images and their referrers; Harbor, zot, GHCR and Docker Hub: their own garbage collection). Until then, everything deleted here can be restored from Portolan's trash.";

/// Who deletes, and on whose behalf (a person's request or a retention run).
pub struct Deleter<'a> {
    pub registry: &'a Registry,
    pub store: &'a Store,
    pub actor: Actor,
    pub request_id: Option<String>,
    pub run_id: Option<i64>,
    /// The repository's tags as the plan saw them ([`KnownTags::of`]); empty for restores.
    pub known_tags: KnownTags,
    /// Set when the trash could not save a unit because the store is unreachable: the units
    /// after it are not attempted (see [`Deleter::apply_confirmation`]).
    pub store_down: std::sync::atomic::AtomicBool,
}

/// How old the tag list may be when a manifest is deleted.
const TAG_LIST_FRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// Tags the plan kept that are resolved again before a manifest delete, at most (floating
/// names such as `latest` first, then the newest versions).
pub const KEPT_RECHECK: usize = 32;

/// The tags of a repository as a plan saw them, and what they point at now. Deleting a
/// manifest removes every tag on its digest, so a tag that points at a unit's manifests now
/// but did not when the plan was made must stop that unit: it was not previewed and would not
/// be in the trash. That is a tag pushed since (a build promoted under a new name), or a tag
/// the plan kept that was moved onto the digest (a rolled-back `latest`). Before each manifest
/// delete the tag list is read again (at most [`TAG_LIST_FRESH`] old), the names the plan did
/// not know are resolved, and so are up to [`KEPT_RECHECK`] of the tags the plan kept: in a
/// repository with more kept tags, one of the others moved onto the digest in those seconds is
/// not seen (finding every one would take a request per tag per deletion).
#[derive(Default)]
pub struct KnownTags {
    /// Each tag the plan saw, with the digest it pointed at then.
    planned: HashMap<String, String>,
    since: tokio::sync::Mutex<Option<Checked>>,
}

/// When the tag list was last read, and where the tags checked then pointed.
type Checked = (std::time::Instant, Vec<(String, String)>);

impl KnownTags {
    pub fn of(inventory: &Inventory) -> Self {
        Self { planned: inventory.tags.iter().map(|t| (t.tag.clone(), t.digest.clone())).collect(), since: Default::default() }
    }

    /// Which of the listed tags the plan knew to check again: floating names (not versions)
    /// first, then versions newest first; referrer tags follow their subject and are left out.
    fn recheck<'a>(&self, listed: &'a [String]) -> Vec<&'a String> {
        let mut kept: Vec<(Option<semver::Version>, &String)> = listed
            .iter()
            .filter(|t| self.planned.contains_key(t.as_str()) && portolan_oci::name::subject_of_tag(t).is_none())
            .map(|t| (portolan_inventory::semver_of(t), t))
            .collect();
        kept.sort_by(|(va, a), (vb, b)| match (va, vb) {
            (None, None) => a.cmp(b),
            (None, Some(_)) => std::cmp::Ordering::Less,
            (Some(_), None) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => y.cmp(x),
        });
        kept.into_iter().take(KEPT_RECHECK).map(|(_, t)| t).collect()
    }
}

/// A unit as the preview showed it, with the digest each of its tags pointed at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmedUnit {
    pub unit: Deletion,
    pub tags: Vec<(String, String)>,
}

/// What a person confirmed: the selection and the units the preview showed for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub selection: DeleteSelection,
    pub units: Vec<ConfirmedUnit>,
}

/// The repository as it is now: the client's tag caches dropped first, then every tag, the
/// manifests they reach, and `extra` digests (an untagged artifact picked by digest).
pub async fn fresh_inventory(registry: &Registry, repo: &RepoName, extra: &[String]) -> portolan_oci::Result<Inventory> {
    registry.client.invalidate_repo(repo).await;
    let client: &dyn RegistryVerbs = registry.client.as_ref();
    let mut inv = read_inventory(client, &registry.info.name, repo, READ_CONCURRENCY).await?;
    extend(client, repo, &mut inv, extra, READ_CONCURRENCY).await?;
    Ok(inv)
}

/// Checks a selection's size and grammar.
pub fn check_selection(s: &DeleteSelection) -> Result<()> {
    if s.tags.is_empty() && s.digests.is_empty() {
        return Err(Error::Invalid("pick at least one tag or artifact to delete".into()));
    }
    if s.tags.len() + s.digests.len() > MAX_SELECTION {
        return Err(Error::Invalid(format!("at most {MAX_SELECTION} tags and artifacts at once")));
    }
    for t in &s.tags {
        Tag::parse(t).map_err(|e| Error::Invalid(e.message().to_owned()))?;
    }
    for d in &s.digests {
        portolan_oci::name::parse_digest(d).map_err(|e| Error::Invalid(e.message().to_owned()))?;
    }
    Ok(())
}

/// What deleting `selection` would remove: every tag, every child manifest no other tag needs,
/// every referrer (recursively), with sizes — nothing is deleted. The answer carries the
/// confirmation [`apply`] takes back.
pub async fn preview(services: &Services, registry: &Registry, repo: &RepoName, selection: DeleteSelection) -> Result<DeletePreview> {
    check_selection(&selection)?;
    let blocked = match registry.client.capabilities(repo).await {
        Ok(caps) => match caps.manifest_delete {
            Some(portolan_oci::Support::No(reason)) => Some(format!("Nothing can be deleted here: {reason}.")),
            _ => None,
        },
        Err(e) => Some(format!("Whether deleting is possible here could not be found out: {}", e.message())),
    };
    let inventory = fresh_inventory(registry, repo, &selection.digests).await?;
    let plan = plan(&selection, &inventory);
    let units: Vec<ConfirmedUnit> =
        plan.deletions.iter().map(|u| ConfirmedUnit { unit: u.clone(), tags: unit_tags(u, &inventory) }).collect();
    // What garbage collection frees, against the whole registry's index; each freed blob counts
    // for the last unit naming it.
    let removed: Vec<crate::storage::Removed> = plan
        .deletions
        .iter()
        .flat_map(|u| u.manifests())
        .map(|d| crate::storage::Removed {
            repository: repo.to_string(),
            digest: d.to_owned(),
            blobs: crate::storage::inventory_blobs(&inventory, d),
        })
        .collect();
    let gone: HashSet<&str> = removed.iter().map(|r| r.digest.as_str()).collect();
    let kept = crate::storage::kept_blobs(&inventory, &gone);
    let freed = crate::storage::freed_after_gc(services, &registry.info.name, &removed, &kept).await?;
    let mut last_unit: HashMap<&str, usize> = HashMap::new();
    for (i, u) in plan.deletions.iter().enumerate() {
        for m in u.manifests() {
            for (d, _) in removed.iter().filter(|r| r.digest == m).flat_map(|r| &r.blobs) {
                if freed.blobs.contains_key(d) {
                    last_unit.insert(d.as_str(), i);
                }
            }
        }
    }
    let mut unit_bytes = vec![0u64; plan.deletions.len()];
    for (d, i) in &last_unit {
        unit_bytes[*i] = unit_bytes[*i].saturating_add(freed.blobs[*d]);
    }
    let view = units
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (op, children, referrers) = match &c.unit {
                Deletion::Untag { .. } => ("untag", Vec::new(), Vec::new()),
                Deletion::DeleteManifest { children, referrers, .. } => (
                    "delete",
                    children.iter().map(|d| manifest_line(&inventory, d)).collect(),
                    referrers.iter().map(|d| manifest_line(&inventory, d)).collect(),
                ),
            };
            DeleteUnit {
                op: op.into(),
                digest: c.unit.digest().to_owned(),
                kind: inventory.manifests.get(c.unit.digest()).map(|m| m.kind),
                tags: c.tags.clone(),
                children,
                referrers,
                bytes_freed: unit_bytes[i],
                describe: c.unit.describe(),
            }
        })
        .collect();
    // Tags that stay although they share a digest with a selected one.
    let deleted_tags: HashSet<&str> = plan.deletions.iter().flat_map(|u| u.tags()).collect();
    let touched: HashSet<&str> = plan.deletions.iter().map(|u| u.digest()).collect();
    let kept = inventory
        .tags
        .iter()
        .filter(|t| touched.contains(t.digest.as_str()) && !deleted_tags.contains(t.tag.as_str()))
        .map(|t| (t.tag.clone(), format!("shares {} and stays", portolan_model::short_digest(&t.digest))))
        .collect();
    let mut notes = plan.notes.clone();
    for t in &selection.tags {
        if !inventory.tags.iter().any(|x| &x.tag == t) {
            notes.push(format!("the tag {t:?} does not exist (any more)"));
        }
    }
    let confirmation =
        serde_json::to_string(&Confirmation { selection: selection.clone(), units }).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(DeletePreview {
        registry: registry.info.clone(),
        repository: repo.to_string(),
        selection,
        units: view,
        kept,
        notes,
        blocked,
        gc_hint: GC_HINT.into(),
        confirmation,
        freed: freed.figure,
    })
}

/// A confirmation as [`preview`] made it, read back and checked.
pub fn confirmation(text: &str) -> Result<Confirmation> {
    let confirmation: Confirmation =
        serde_json::from_str(text).map_err(|_| Error::Invalid("the confirmation is not one a preview made: preview again".into()))?;
    check_selection(&confirmation.selection)?;
    Ok(confirmation)
}

/// Applies a confirmed preview (see [`confirmation`]) on behalf of `actor`:
/// only units that still remove exactly what was shown are applied; the others are skipped and
/// reported. Each item is saved in the trash first and audited; a failure before any item is
/// audited too. Nothing that was not previewed is deleted.
pub async fn apply(
    services: &Services,
    registry: &Registry,
    repo: &RepoName,
    actor: Actor,
    request_id: Option<String>,
    confirmation: &Confirmation,
) -> Result<(Vec<ItemOutcome>, Vec<i64>)> {
    let mut deleter = Deleter {
        registry,
        store: &services.store,
        actor: actor.clone(),
        request_id: request_id.clone(),
        run_id: None,
        known_tags: Default::default(),
        store_down: Default::default(),
    };
    match deleter.apply_confirmation(repo, confirmation).await {
        Ok(done) => Ok(done),
        Err(e) => {
            let entry = NewAudit::new(actor, "delete", Outcome::Failed)
                .at(&registry.info.name, Some(repo.as_str()))
                .reason(format!("nothing was deleted: {e}"))
                .request(request_id.as_deref());
            services.store.audit(entry).await?;
            Err(e)
        }
    }
}

/// Restores trash entry `entry` on behalf of `actor` (see [`Deleter::restore`]).
pub async fn restore(
    services: &Services,
    entry: &TrashEntry,
    actor: Actor,
    request_id: Option<String>,
) -> Result<(Vec<ItemOutcome>, Vec<String>)> {
    let registry = services.registry(&entry.registry)?;
    let deleter = Deleter {
        registry,
        store: &services.store,
        actor,
        request_id,
        run_id: None,
        known_tags: Default::default(),
        store_down: Default::default(),
    };
    deleter.restore(entry).await
}

/// Purges trash entry `entry`'s content for good, on behalf of `actor`, and audits it. Refused
/// ([`Error::Conflict`]) while a delete or a restore of it is under way, and when it was purged
/// already (a double click purges once).
pub async fn purge(services: &Services, entry: &TrashEntry, actor: Actor, request_id: Option<String>) -> Result<()> {
    purge_as(services, entry, actor, request_id, "purged by hand").await
}

/// [`purge`], saying why (`why` is kept with the entry and in the audit entry): by hand, or
/// past the trash's retention ([`crate::upkeep`]).
pub async fn purge_as(services: &Services, entry: &TrashEntry, actor: Actor, request_id: Option<String>, why: &str) -> Result<()> {
    services.store.trash_purge(entry.id, Some(&actor.label()), why).await?;
    let audit = NewAudit::new(actor, "purge", Outcome::Done)
        .at(&entry.registry, Some(&entry.repository))
        .digests(entry.manifests.iter().map(|m| m.digest.clone()))
        .tags(entry.tags.iter().map(|(t, _)| t.clone()))
        .reason(format!("trash entry {}: {} ({why})", entry.id, entry.summary))
        .request(request_id.as_deref());
    services.store.audit(audit).await?;
    Ok(())
}

/// Trash entries per page.
const TRASH_PAGE: usize = 50;

/// The trash entries `who` may act on (maintainer of their repository), newest first, from
/// before entry `before`.
pub async fn list(services: &Services, who: Option<&Identity>, before: Option<i64>) -> Result<TrashPage> {
    let filter = portolan_store::trash::TrashFilter { before, ..Default::default() };
    let mut rows = Vec::new();
    let mut cursor = filter.clone();
    let mut next = None;
    // Entries of repositories the caller may not touch are skipped (a few store pages at most).
    for _ in 0..10 {
        let batch = services.store.trash_entries(&cursor, 100).await?;
        let last = batch.last().map(|e| e.id);
        for e in batch {
            let role = services.access.role_for(who, &e.registry, Some(&e.repository));
            if role.is_none_or(|r| r < Role::Maintainer) {
                continue;
            }
            rows.push(TrashRow {
                id: e.id,
                at: e.at.unix_timestamp(),
                who: e.actor.label(),
                registry: e.registry,
                repository: e.repository,
                kind: if e.kind == TrashKind::Tag { "tag".into() } else { "artifact".into() },
                summary: e.summary,
                state: e.state.as_str().into(),
                state_at: e.state_at.unix_timestamp(),
                state_by: e.state_by,
                state_reason: e.state_reason,
                manifests: e.manifests.len(),
                tags: e.tags,
                can_restore: e.state.restorable(),
                can_purge: role.is_some_and(|r| r >= Role::Admin) && e.state.purgeable(),
            });
            if rows.len() >= TRASH_PAGE {
                break;
            }
        }
        match last {
            Some(id) if rows.len() < TRASH_PAGE => cursor.before = Some(id),
            Some(id) => {
                next = Some(rows.last().map(|r| r.id).unwrap_or(id));
                break;
            }
            None => break,
        }
    }
    Ok(TrashPage { rows, next, trash_days: services.settings.trash_days, now: time::OffsetDateTime::now_utc().unix_timestamp() })
}

/// The plan of a hand-picked deletion.
pub fn plan(selection: &DeleteSelection, inventory: &Inventory) -> Plan {
    let selection = Selection {
        tags: selection.tags.iter().cloned().collect(),
        digests: selection.digests.iter().cloned().collect(),
        keep_referrers: selection.keep_referrers,
    };
    plan_selection(&selection, inventory)
}

/// The tags a unit removes, with where each points in `inventory`.
pub fn unit_tags(unit: &Deletion, inventory: &Inventory) -> Vec<(String, String)> {
    let names: BTreeSet<&str> = unit.tags().into_iter().collect();
    inventory.tags.iter().filter(|t| names.contains(t.tag.as_str())).map(|t| (t.tag.clone(), t.digest.clone())).collect()
}

/// A manifest as the preview lists it.
pub fn manifest_line(inventory: &Inventory, digest: &str) -> ManifestLine {
    match inventory.manifests.get(digest) {
        Some(m) => ManifestLine {
            digest: digest.to_owned(),
            kind: Some(m.kind),
            platforms: m.platforms.clone(),
            size: inventory.total_size(digest),
        },
        None => ManifestLine { digest: digest.to_owned(), kind: None, platforms: Vec::new(), size: 0 },
    }
}

/// Whether two units remove the same things (sizes aside).
fn same_effect(a: &Deletion, b: &Deletion) -> bool {
    match (a, b) {
        (Deletion::Untag { tag: t1, digest: d1 }, Deletion::Untag { tag: t2, digest: d2 }) => t1 == t2 && d1 == d2,
        (
            Deletion::DeleteManifest { digest: d1, tags: t1, children: c1, referrers: r1, .. },
            Deletion::DeleteManifest { digest: d2, tags: t2, children: c2, referrers: r2, .. },
        ) => d1 == d2 && t1 == t2 && c1 == c2 && r1 == r2,
        _ => false,
    }
}

fn item(action: &str, tag: Option<&str>, digest: &str, outcome: Outcome, reason: Option<String>) -> ItemOutcome {
    ItemOutcome {
        action: action.to_owned(),
        tag: tag.map(str::to_owned),
        digest: digest.to_owned(),
        outcome: outcome.as_str().to_owned(),
        reason,
    }
}

impl Deleter<'_> {
    async fn audit(&self, repo: &RepoName, it: &ItemOutcome, trash: Option<i64>) {
        let mut entry = NewAudit::new(self.actor.clone(), &it.action, Outcome::parse(&it.outcome).unwrap_or(Outcome::Failed))
            .at(&self.registry.info.name, Some(repo.as_str()))
            .digests([it.digest.clone()])
            .tags(it.tag.clone())
            .request(self.request_id.as_deref())
            .detail(serde_json::json!({"trash": trash, "run": self.run_id}));
        if let Some(r) = &it.reason {
            entry = entry.reason(r.clone());
        }
        // An action that cannot be audited must not pass silently: it is logged loudly.
        if let Err(e) = self.store.audit(entry).await {
            tracing::error!(error = %e, action = %it.action, digest = %it.digest, "the audit log could not record a deletion step");
        }
    }

    /// Notes a store error that means the store is unreachable (see [`Deleter::store_down`]).
    fn note_store_error(&self, e: &portolan_store::StoreError) {
        if matches!(e, portolan_store::StoreError::Unavailable(_)) {
            self.store_down.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    async fn record(&self, repo: &RepoName, items: &mut Vec<ItemOutcome>, it: ItemOutcome, trash: Option<i64>) {
        self.audit(repo, &it, trash).await;
        items.push(it);
    }

    /// Applies a person's confirmation: the repository is read again and planned again for the
    /// same selection; a unit is applied only when it removes exactly what the preview showed,
    /// else it is skipped and reported. Nothing that was not previewed is deleted.
    pub async fn apply_confirmation(&mut self, repo: &RepoName, confirmation: &Confirmation) -> Result<(Vec<ItemOutcome>, Vec<i64>)> {
        let inventory = fresh_inventory(self.registry, repo, &confirmation.selection.digests).await?;
        self.known_tags = KnownTags::of(&inventory);
        let fresh = plan(&confirmation.selection, &inventory);
        let mut items = Vec::new();
        let mut trash = Vec::new();
        for confirmed in &confirmation.units {
            let now = fresh.deletions.iter().find(|u| u.digest() == confirmed.unit.digest() && u.tags() == confirmed.unit.tags());
            let fresh_tags = now.map(|u| unit_tags(u, &inventory)).unwrap_or_default();
            match now {
                Some(u) if same_effect(u, &confirmed.unit) && fresh_tags == confirmed.tags => {
                    if self.store_down.load(std::sync::atomic::Ordering::Relaxed) {
                        // The store went away during this request: what is left is not tried
                        // (nothing can be deleted without its trash entry), and says so.
                        let action = if matches!(confirmed.unit, Deletion::Untag { .. }) { "delete-tag" } else { "delete-manifest" };
                        let tag = confirmed.tags.first().map(|(t, _)| t.as_str());
                        let reason = "not tried: Portolan's database became unreachable; nothing of it was deleted: preview again";
                        items.push(item(action, tag, confirmed.unit.digest(), Outcome::Skipped, Some(reason.into())));
                        continue;
                    }
                    let (mut done, id) = self.apply_unit(repo, &confirmed.unit, &confirmed.tags).await;
                    items.append(&mut done);
                    trash.extend(id);
                    // Nothing done yet and the store unreachable: the whole request is
                    // unavailable (503), not a list of failures.
                    if self.store_down.load(std::sync::atomic::Ordering::Relaxed) && trash.is_empty() {
                        return Err(Error::Store(portolan_store::StoreError::Unavailable(
                            "the trash could not save what was to be deleted; nothing was deleted".into(),
                        )));
                    }
                }
                _ => {
                    let now_text = now.map(Deletion::describe).unwrap_or_else(|| "it no longer applies".into());
                    let reason = format!("changed since the preview ({now_text}); nothing of it was deleted: preview again");
                    let action = if matches!(confirmed.unit, Deletion::Untag { .. }) { "delete-tag" } else { "delete-manifest" };
                    let tag = confirmed.tags.first().map(|(t, _)| t.as_str());
                    self.record(repo, &mut items, item(action, tag, confirmed.unit.digest(), Outcome::Skipped, Some(reason)), None).await;
                }
            }
        }
        Ok((items, trash))
    }

    /// Applies one unit: re-check, trash, delete, audit. Returns what happened to each item and
    /// the trash entry written.
    pub async fn apply_unit(&self, repo: &RepoName, unit: &Deletion, tags: &[(String, String)]) -> (Vec<ItemOutcome>, Option<i64>) {
        match unit {
            Deletion::Untag { tag, digest } => self.untag(repo, tag, digest).await,
            Deletion::DeleteManifest { digest, children, referrers, .. } => self.delete(repo, digest, children, referrers, tags).await,
        }
    }

    /// Tags that now point at one of `members` but did not when the plan was made: new ones,
    /// and kept ones moved onto them (see [`KnownTags`]).
    async fn unplanned_tags(&self, repo: &RepoName, members: &HashSet<&str>) -> portolan_oci::Result<Vec<String>> {
        let client = &self.registry.client;
        let known = &self.known_tags;
        let mut since = known.since.lock().await;
        if since.as_ref().is_none_or(|(at, _)| at.elapsed() > TAG_LIST_FRESH) {
            let listed = client.tags(repo).await?;
            let new = listed.iter().filter(|t| !known.planned.contains_key(t.as_str()));
            let asked: Vec<Tag> = new.chain(known.recheck(&listed)).filter_map(|t| Tag::parse(t).ok()).collect();
            let resolved: Vec<portolan_oci::Result<Option<(String, String)>>> = futures::stream::iter(asked)
                .map(|tag| async move {
                    match client.resolve_now(repo, &Reference::Tag(tag.clone())).await {
                        Ok(r) => Ok(r.map(|r| (tag.to_string(), r.digest))),
                        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                        Err(e) => Err(e),
                    }
                })
                .buffered(8)
                .collect()
                .await;
            let resolved = resolved.into_iter().filter_map(Result::transpose).collect::<portolan_oci::Result<Vec<_>>>()?;
            *since = Some((std::time::Instant::now(), resolved));
        }
        let checked = since.as_ref().map(|(_, c)| c.as_slice()).unwrap_or_default();
        Ok(checked
            .iter()
            .filter(|(t, d)| members.contains(d.as_str()) && known.planned.get(t).is_none_or(|then| !members.contains(then.as_str())))
            .map(|(t, _)| t.clone())
            .collect())
    }

    async fn untag(&self, repo: &RepoName, tag: &str, digest: &str) -> (Vec<ItemOutcome>, Option<i64>) {
        let mut items = Vec::new();
        let client = &self.registry.client;
        let parsed = match (Tag::parse(tag), portolan_oci::name::parse_digest(digest)) {
            (Ok(t), Ok(d)) => (t, d),
            _ => {
                let it = item("delete-tag", Some(tag), digest, Outcome::Failed, Some("not a valid tag or digest".into()));
                self.record(repo, &mut items, it, None).await;
                return (items, None);
            }
        };
        let root = match client.manifest(repo, &Reference::Digest(parsed.1)).await {
            Ok(doc) => doc,
            Err(e) => {
                let it =
                    item("delete-tag", Some(tag), digest, Outcome::Skipped, Some(format!("its manifest cannot be read: {}", e.message())));
                self.record(repo, &mut items, it, None).await;
                return (items, None);
            }
        };
        let entry = NewTrash {
            actor: self.actor.clone(),
            registry: self.registry.info.name.clone(),
            repository: repo.to_string(),
            kind: TrashKind::Tag,
            summary: format!("{repo}:{tag} ({})", portolan_model::short_digest(digest)),
            manifests: vec![TrashManifest {
                digest: digest.to_owned(),
                media_type: root.media_type.clone(),
                role: ManifestRole::Root,
                subject: None,
                content: root.bytes.to_vec(),
            }],
            tags: vec![(tag.to_owned(), digest.to_owned())],
            request_id: self.request_id.clone(),
            run_id: self.run_id,
        };
        // Trash first: no delete without a way back.
        let id = match self.store.trash_put(&entry).await {
            Ok(id) => id,
            Err(e) => {
                self.note_store_error(&e);
                let it =
                    item("delete-tag", Some(tag), digest, Outcome::Failed, Some(format!("not deleted: the trash could not save it ({e})")));
                self.record(repo, &mut items, it, None).await;
                return (items, None);
            }
        };
        let (outcome, reason, state) = match client.delete_tag(repo, &parsed.0, Some(digest)).await {
            Ok(done) => {
                let how = match done.method {
                    portolan_oci::TagDeleteMethod::TagDelete => "with the registry's tag delete",
                    portolan_oci::TagDeleteMethod::Throwaway { .. } => {
                        "by re-pointing it to a throwaway manifest and deleting that (its manifest stays)"
                    }
                };
                (Outcome::Done, Some(how.to_owned()), TrashState::Deleted)
            }
            Err(e) if e.kind() == ErrorKind::Conflict => (Outcome::Skipped, Some(e.message().to_owned()), TrashState::Failed),
            Err(e) => (Outcome::Failed, Some(e.message().to_owned()), TrashState::Failed),
        };
        self.end_delete(id, state, reason.as_deref()).await;
        self.record(repo, &mut items, item("delete-tag", Some(tag), digest, outcome, reason), Some(id)).await;
        (items, Some(id))
    }

    async fn delete(
        &self,
        repo: &RepoName,
        root: &str,
        children: &[String],
        referrers: &[String],
        tags: &[(String, String)],
    ) -> (Vec<ItemOutcome>, Option<i64>) {
        let mut items = Vec::new();
        let client = &self.registry.client;
        // Right before deleting: tags that moved away are no longer the unit's (reported); a
        // tag now pointing elsewhere in the unit is still removed with it.
        let members: HashSet<&str> =
            std::iter::once(root).chain(children.iter().map(String::as_str)).chain(referrers.iter().map(String::as_str)).collect();
        client.invalidate_repo(repo).await;
        let mut still: Vec<(String, String)> = Vec::new();
        for (tag, expected) in tags {
            let now = match Tag::parse(tag) {
                Ok(t) => client.resolve(repo, &Reference::Tag(t)).await.map(|r| r.digest),
                Err(e) => Err(e),
            };
            match now {
                Ok(d) if members.contains(d.as_str()) => still.push((tag.clone(), d)),
                Ok(d) => {
                    let reason = format!("moved to {} since the preview: left alone", portolan_model::short_digest(&d));
                    self.record(repo, &mut items, item("delete-tag", Some(tag), expected, Outcome::Skipped, Some(reason)), None).await;
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    self.record(
                        repo,
                        &mut items,
                        item("delete-tag", Some(tag), expected, Outcome::Skipped, Some("already gone".into())),
                        None,
                    )
                    .await;
                }
                Err(e) => {
                    let reason = format!("could not be checked ({}): nothing of this artifact was deleted", e.message());
                    self.record(repo, &mut items, item("delete-manifest", Some(tag), root, Outcome::Skipped, Some(reason)), None).await;
                    return (items, None);
                }
            }
        }
        match self.unplanned_tags(repo, &members).await {
            Ok(found) if found.is_empty() => {}
            Ok(found) => {
                let reason = format!(
                    "{} now point{} at it and {} not in the plan: nothing of this artifact was deleted",
                    found.join(", "),
                    if found.len() == 1 { "s" } else { "" },
                    if found.len() == 1 { "was" } else { "were" }
                );
                self.record(repo, &mut items, item("delete-manifest", None, root, Outcome::Skipped, Some(reason)), None).await;
                return (items, None);
            }
            Err(e) => {
                let reason = format!("the tag list could not be read ({}): nothing of this artifact was deleted", e.message());
                self.record(repo, &mut items, item("delete-manifest", None, root, Outcome::Skipped, Some(reason)), None).await;
                return (items, None);
            }
        }
        // Byte for byte, in the order a restore puts them back: children, the root, referrers.
        let order: Vec<(String, ManifestRole)> = children
            .iter()
            .map(|d| (d.clone(), ManifestRole::Child))
            .chain(std::iter::once((root.to_owned(), ManifestRole::Root)))
            .chain(referrers.iter().map(|d| (d.clone(), ManifestRole::Referrer)))
            .collect();
        let reads: Vec<_> = order
            .into_iter()
            .map(|(d, role)| {
                let (client, repo) = (client.clone(), repo.clone());
                async move {
                    let doc = match portolan_oci::name::parse_digest(&d) {
                        Ok(parsed) => client.manifest(&repo, &Reference::Digest(parsed)).await,
                        Err(e) => Err(e),
                    };
                    (d, role, doc)
                }
            })
            .collect();
        let docs: Vec<(String, ManifestRole, portolan_oci::Result<portolan_oci::ManifestDoc>)> =
            futures::stream::iter(reads).buffered(8).collect().await;
        let mut saved = Vec::new();
        for (d, role, doc) in &docs {
            match doc {
                Ok(doc) => saved.push(TrashManifest {
                    digest: d.clone(),
                    media_type: doc.media_type.clone(),
                    role: *role,
                    subject: doc.parsed.as_ref().ok().and_then(Manifest::subject).map(|s| s.digest().to_string()),
                    content: doc.bytes.to_vec(),
                }),
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => {
                    let reason = format!(
                        "{} could not be read ({}): nothing of this artifact was deleted",
                        portolan_model::short_digest(d),
                        e.message()
                    );
                    self.record(repo, &mut items, item("delete-manifest", None, root, Outcome::Skipped, Some(reason)), None).await;
                    return (items, None);
                }
            }
        }
        if !saved.iter().any(|m| m.role == ManifestRole::Root) {
            self.record(repo, &mut items, item("delete-manifest", None, root, Outcome::Skipped, Some("already gone".into())), None).await;
            return (items, None);
        }
        let tag_list = still.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(", ");
        let entry = NewTrash {
            actor: self.actor.clone(),
            registry: self.registry.info.name.clone(),
            repository: repo.to_string(),
            kind: TrashKind::Artifact,
            summary: format!(
                "{repo}@{}{}{}",
                portolan_model::short_digest(root),
                if tag_list.is_empty() { String::new() } else { format!(" ({tag_list})") },
                match (children.len(), referrers.len()) {
                    (0, 0) => String::new(),
                    (c, 0) => format!(" with {c} platform manifest{}", if c == 1 { "" } else { "s" }),
                    (0, r) => format!(" with {r} referrer{}", if r == 1 { "" } else { "s" }),
                    (c, r) => format!(
                        " with {c} platform manifest{} and {r} referrer{}",
                        if c == 1 { "" } else { "s" },
                        if r == 1 { "" } else { "s" }
                    ),
                }
            ),
            manifests: saved,
            tags: still.clone(),
            request_id: self.request_id.clone(),
            run_id: self.run_id,
        };
        let id = match self.store.trash_put(&entry).await {
            Ok(id) => id,
            Err(e) => {
                self.note_store_error(&e);
                let reason = format!("not deleted: the trash could not save it ({e})");
                self.record(repo, &mut items, item("delete-manifest", None, root, Outcome::Failed, Some(reason)), None).await;
                return (items, None);
            }
        };
        // Fallback indexes first (the `sha256-<hex>` tags listing the referrers of a member, on
        // registries without the referrers API): deleting a referrer rewrites its subject's
        // fallback index without it, which would leave that tag behind on an empty index that
        // is no longer the one planned. Then the other referrers (deepest first), the root, and
        // the children no longer listed.
        let fallback_index = |d: &str| {
            still
                .iter()
                .any(|(t, x)| x == d && t.strip_prefix("sha256-").is_some_and(|hex| members.contains(format!("sha256:{hex}").as_str())))
        };
        // The blobs they take, for the storage figures: once deleted, garbage collection frees
        // those no other manifest names.
        let blobs: Vec<(String, u64, bool)> = docs
            .iter()
            .filter_map(|(_, _, doc)| doc.as_ref().ok())
            .filter_map(portolan_search::index::from_doc)
            .flat_map(|m| {
                let own = m.digest.clone();
                m.blobs().into_iter().map(move |(d, size)| {
                    let manifest = d == own;
                    (d, size, manifest)
                })
            })
            .collect();
        if let Err(e) = self.store.storage_trash_blobs_put(id, &self.registry.info.name, repo.as_str(), &blobs).await {
            tracing::warn!(error = %e, id, "recording what a deleted artifact's manifests take");
        }
        let mut gone: Vec<String> = Vec::new();
        let mut root_deleted = false;
        let mut failures = Vec::new();
        let sequence: Vec<(&str, &str)> = referrers
            .iter()
            .filter(|d| fallback_index(d))
            .chain(referrers.iter().rev().filter(|d| !fallback_index(d)))
            .map(|d| (d.as_str(), "referrer"))
            .chain(std::iter::once((root, "root")))
            .chain(children.iter().map(|d| (d.as_str(), "child")))
            .collect();
        for (d, role) in sequence {
            if !entry.manifests.iter().any(|m| m.digest == d) {
                continue;
            }
            if role == "child" && !root_deleted {
                break;
            }
            let tags_here: Vec<String> = still.iter().filter(|(_, x)| x == d).map(|(t, _)| t.clone()).collect();
            let outcome = client.delete_manifest(repo, d).await;
            if outcome.as_ref().map_or_else(|e| e.kind() == ErrorKind::NotFound, |_| true) {
                gone.push(d.to_owned());
            }
            let it = match outcome {
                Ok(_) => {
                    if role == "root" {
                        root_deleted = true;
                    }
                    ItemOutcome {
                        tag: (!tags_here.is_empty()).then(|| tags_here.join(", ")),
                        ..item("delete-manifest", None, d, Outcome::Done, Some(format!("the {role}")))
                    }
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    item("delete-manifest", None, d, Outcome::Skipped, Some("already gone".into()))
                }
                Err(e) => {
                    failures.push(format!("{}: {}", portolan_model::short_digest(d), e.message()));
                    item("delete-manifest", None, d, Outcome::Failed, Some(e.message().to_owned()))
                }
            };
            self.record(repo, &mut items, it, Some(id)).await;
        }
        // The index forgets what is gone (the storage figures then count its blobs as
        // reclaimable); the crawl would find out too, later.
        if let Err(e) = self.store.index_drop(&self.registry.info.name, repo.as_str(), &gone).await {
            tracing::warn!(error = %e, "forgetting deleted manifests in the index");
        }
        let state = if root_deleted { TrashState::Deleted } else { TrashState::Failed };
        let reason = (!failures.is_empty()).then(|| failures.join("; "));
        self.end_delete(id, state, reason.as_deref()).await;
        (items, Some(id))
    }

    /// Records how a delete ended on its trash entry. An entry that moved on meanwhile (settled as
    /// interrupted, then restored or purged) keeps its state: the steps are in the audit log.
    async fn end_delete(&self, id: i64, state: TrashState, reason: Option<&str>) {
        match self.store.trash_set_state(id, state, Some(&self.actor.label()), reason).await {
            Ok(()) => {}
            Err(StoreError::Conflict(why)) => {
                tracing::warn!(id, state = state.as_str(), %why, "a delete ended after its trash entry moved on; the entry keeps its state")
            }
            Err(e) => tracing::error!(error = %e, id, "recording a trash entry's state"),
        }
    }

    /// Restores a trash entry. The entry is claimed first, so a second restore (another replica,
    /// a double click) or a purge cannot run meanwhile ([`Error::Conflict`]); the claim is renewed
    /// after each write. Refused (nothing written) when a blob is gone — the registry's garbage
    /// collection ran — with the list of what is missing. Everything put back: the entry is
    /// `restored`; otherwise it goes back to the state it was claimed from, restorable again.
    pub async fn restore(&self, entry: &TrashEntry) -> Result<(Vec<ItemOutcome>, Vec<String>)> {
        let repo = RepoName::parse(&entry.repository).map_err(|e| Error::Invalid(e.message().to_owned()))?;
        if !entry.state.restorable() {
            return Err(Error::Conflict(format!("trash entry {} is {} and cannot be restored", entry.id, entry.state.as_str())));
        }
        let by = self.actor.label();
        let claim = self.store.trash_restore_claim(entry.id, Some(&by)).await?;
        // The entry's content cannot have changed since it was read: only a purge changes it, and
        // a purged entry cannot be claimed.
        let outcome = self.restore_claimed(&repo, entry, &claim).await;
        let failure = match &outcome {
            Err(e) => Some(format!("the restore failed: {e}")),
            Ok((_, missing)) if !missing.is_empty() => Some(format!("not restored: {} blob(s) or manifest(s) are gone", missing.len())),
            Ok((items, _)) => {
                let failed: Vec<String> = items
                    .iter()
                    .filter(|i| i.outcome == Outcome::Failed.as_str())
                    .map(|i| format!("{} {}: {}", i.action, i.tag.as_deref().unwrap_or(&i.digest), i.reason.as_deref().unwrap_or("failed")))
                    .collect();
                (!failed.is_empty()).then(|| format!("the restore did not put everything back: {}", failed.join("; ")))
            }
        };
        let ended = match &failure {
            None => self.store.trash_restore_finish(&claim, Some(&by)).await,
            Some(reason) => self.store.trash_restore_release(&claim, Some(&by), reason).await,
        };
        if let Err(e) = ended {
            tracing::error!(error = %e, id = entry.id, "recording the end of a restore");
        }
        outcome
    }

    /// The restore itself, with `claim` held.
    async fn restore_claimed(&self, repo: &RepoName, entry: &TrashEntry, claim: &RestoreClaim) -> Result<(Vec<ItemOutcome>, Vec<String>)> {
        let client = &self.registry.client;
        let in_entry: HashSet<&str> = entry.manifests.iter().map(|m| m.digest.as_str()).collect();
        let mut blobs: BTreeMap<String, ()> = BTreeMap::new();
        let mut outside: BTreeSet<String> = BTreeSet::new();
        // What each manifest needs put back before it: its subject, and an index's manifests.
        let mut needs: HashMap<&str, Vec<String>> = HashMap::new();
        for m in &entry.manifests {
            needs.entry(&m.digest).or_default().extend(m.subject.iter().filter(|s| in_entry.contains(s.as_str())).cloned());
            let (_, parsed) = portolan_oci::manifest::parse(&m.content, Some(&m.media_type));
            match parsed {
                Ok(Manifest::Image(i)) => {
                    for d in std::iter::once(i.config()).chain(i.layers().iter()) {
                        blobs.insert(d.digest().to_string(), ());
                    }
                }
                Ok(Manifest::Index(i)) => {
                    for d in i.manifests() {
                        if !in_entry.contains(d.digest().as_ref()) {
                            outside.insert(d.digest().to_string());
                        } else {
                            needs.entry(&m.digest).or_default().push(d.digest().to_string());
                        }
                    }
                }
                Err(e) => return Err(Error::Internal(format!("a saved manifest does not parse: {}", e.message()))),
            }
        }
        let probes: Vec<_> = blobs
            .into_keys()
            .map(|d| (d, false))
            .chain(outside.into_iter().map(|d| (d, true)))
            .map(|(d, manifest)| {
                let (client, repo) = (client.clone(), repo.clone());
                async move {
                    // Asked of the registry, not of caches: what was read before its garbage
                    // collection may be cached still.
                    let present = if manifest {
                        match portolan_oci::name::parse_digest(&d) {
                            Ok(p) => client.resolve_now(&repo, &Reference::Digest(p)).await.is_ok_and(|r| r.is_some()),
                            Err(_) => false,
                        }
                    } else {
                        client.blob_size(&repo, &d).await.is_ok()
                    };
                    (d, present)
                }
            })
            .collect();
        let checks: Vec<(String, bool)> = futures::stream::iter(probes).buffered(8).collect().await;
        let missing: Vec<String> = checks.into_iter().filter(|(_, ok)| !ok).map(|(d, _)| d).collect();
        if !missing.is_empty() {
            let it = item(
                "restore",
                None,
                entry.manifests.iter().find(|m| m.role == ManifestRole::Root).map(|m| m.digest.as_str()).unwrap_or(""),
                Outcome::Refused,
                Some(format!(
                    "the registry no longer has {} blob(s) or manifest(s) it needs (garbage-collected): {}",
                    missing.len(),
                    missing.join(", ")
                )),
            );
            self.audit(repo, &it, Some(entry.id)).await;
            return Ok((vec![it], missing));
        }
        // Each manifest after those it needs (registries refuse an index whose manifests they
        // do not have: a fallback index goes back after the referrers it lists), else as saved.
        let mut ordered: Vec<&TrashManifest> = Vec::new();
        let mut pending: Vec<&TrashManifest> = entry.manifests.iter().collect();
        while !pending.is_empty() {
            let (ready, waiting): (Vec<_>, Vec<_>) = pending
                .into_iter()
                .partition(|m| needs.get(m.digest.as_str()).is_none_or(|n| n.iter().all(|d| ordered.iter().any(|o| &o.digest == d))));
            if ready.is_empty() {
                // A cycle (no registry would hold one): as saved.
                ordered.extend(waiting);
                break;
            }
            ordered.extend(ready);
            pending = waiting;
        }
        let mut items = Vec::new();
        for m in ordered {
            let digest = match portolan_oci::name::parse_digest(&m.digest) {
                Ok(d) => d,
                Err(e) => return Err(Error::Internal(e.message().to_owned())),
            };
            let put = client.put_manifest(repo, &Reference::Digest(digest), &m.media_type, bytes::Bytes::from(m.content.clone())).await;
            let it = match put {
                Ok(d) if d == m.digest => item("restore-manifest", None, &m.digest, Outcome::Done, None),
                Ok(d) => item("restore-manifest", None, &m.digest, Outcome::Failed, Some(format!("the registry stored it as {d}"))),
                Err(e) => item("restore-manifest", None, &m.digest, Outcome::Failed, Some(e.message().to_owned())),
            };
            let failed = it.outcome != Outcome::Done.as_str();
            self.record(repo, &mut items, it, Some(entry.id)).await;
            if failed || !self.still_holds(repo, &mut items, entry, claim).await {
                return Ok((items, Vec::new()));
            }
        }
        client.invalidate_repo(repo).await;
        for (tag, digest) in &entry.tags {
            let Some(m) = entry.manifests.iter().find(|m| &m.digest == digest) else { continue };
            let Ok(t) = Tag::parse(tag) else { continue };
            let it = match client.resolve(repo, &Reference::Tag(t.clone())).await {
                Ok(now) if &now.digest == digest => item("restore-tag", Some(tag), digest, Outcome::Done, Some("already there".into())),
                Ok(now) => item(
                    "restore-tag",
                    Some(tag),
                    digest,
                    Outcome::Skipped,
                    Some(format!("the tag points at {} now (pushed again since): left alone", portolan_model::short_digest(&now.digest))),
                ),
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    match client.put_manifest(repo, &Reference::Tag(t), &m.media_type, bytes::Bytes::from(m.content.clone())).await {
                        Ok(_) => item("restore-tag", Some(tag), digest, Outcome::Done, None),
                        Err(e) => item("restore-tag", Some(tag), digest, Outcome::Failed, Some(e.message().to_owned())),
                    }
                }
                Err(e) => item("restore-tag", Some(tag), digest, Outcome::Failed, Some(e.message().to_owned())),
            };
            self.record(repo, &mut items, it, Some(entry.id)).await;
            if !self.still_holds(repo, &mut items, entry, claim).await {
                break;
            }
        }
        client.invalidate_repo(repo).await;
        Ok((items, Vec::new()))
    }

    /// Renews the restore's claim after a write; false (with a failed item saying why) when the
    /// claim was given up meanwhile — the restore made no progress for
    /// [`RESTORE_CLAIM_TIMEOUT`] — and the restore must stop. A store that cannot be reached
    /// does not stop it: the claim is checked again at the next write.
    async fn still_holds(&self, repo: &RepoName, items: &mut Vec<ItemOutcome>, entry: &TrashEntry, claim: &RestoreClaim) -> bool {
        match self.store.trash_restore_renew(claim).await {
            Ok(true) => true,
            Ok(false) => {
                let reason = format!(
                    "stopped: this restore made no progress for {} minutes and its hold on trash entry {} was given up; restore again",
                    RESTORE_CLAIM_TIMEOUT.whole_minutes(),
                    entry.id
                );
                self.record(repo, items, item("restore", None, "", Outcome::Failed, Some(reason)), Some(entry.id)).await;
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, id = entry.id, "renewing a restore's claim");
                true
            }
        }
    }
}

/// How long a restore's claim on its trash entry lasts without progress (it is renewed after
/// every manifest and tag put back): past this, [`settle_trash`] takes the restore for dead and
/// gives the entry back. Far above the time one registry request may take, retries included.
pub const RESTORE_CLAIM_TIMEOUT: time::Duration = time::Duration::minutes(10);

/// Settles the trash entries left `saved` since before `stale`: a delete was under way when its
/// process died (between saving the manifests and recording how the delete ended), so neither
/// the entry nor the audit log says what happened. The registry is asked, bypassing caches:
/// - an artifact some of whose saved manifests are gone was (at least partly) deleted: the
///   entry becomes `deleted`, restorable; one whose manifests are all still there was not: it
///   becomes `failed`;
/// - a tag that no longer points at its saved manifest was deleted (`deleted`); one that still
///   does was not (`failed`).
///
/// Each is audited (`delete-manifest` / `delete-tag`, by Portolan). Entries of a run still
/// going on are left alone, as are those the registry cannot be asked about now (next tick),
/// and those whose delete records its own end meanwhile (its answer stands).
///
/// Also gives back the entries of restores that stopped (no progress for
/// [`RESTORE_CLAIM_TIMEOUT`]): each goes back to the state it was claimed from, restorable
/// again, and a `restore` entry in the audit log says so.
pub async fn settle_trash(services: &Services, stale: OffsetDateTime) {
    release_abandoned_restores(services).await;
    let entries = match services.store.trash_unsettled(stale, 100).await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "listing unsettled trash entries");
            return;
        }
    };
    for entry in entries {
        if let Some(run) = entry.run_id
            && matches!(services.store.run(run).await, Ok(r) if r.state == RunState::Running)
        {
            continue;
        }
        let entry = match services.store.trash_entry(entry.id).await {
            Ok(full) => full,
            Err(e) => {
                tracing::warn!(error = %e, id = entry.id, "reading an unsettled trash entry");
                continue;
            }
        };
        match settle(services, &entry).await {
            Ok(Some((to, action, reason))) => {
                match services.store.trash_settle(entry.id, to, Some(&Actor::system().label()), &reason).await {
                    Ok(()) => {}
                    Err(StoreError::Conflict(why)) => {
                        tracing::debug!(id = entry.id, %why, "a delete recorded its own end while it was being settled");
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, id = entry.id, "settling a trash entry");
                        continue;
                    }
                }
                let outcome = if to == TrashState::Deleted { Outcome::Done } else { Outcome::Failed };
                let root = entry.manifests.iter().find(|m| m.role == portolan_store::ManifestRole::Root).map(|m| m.digest.clone());
                let tags = entry.tags.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(", ");
                let audit = NewAudit::new(Actor::system(), action, outcome)
                    .at(&entry.registry, Some(&entry.repository))
                    .digests(root)
                    .tags((!tags.is_empty()).then_some(tags))
                    .reason(reason)
                    .request(entry.request_id.as_deref())
                    .detail(serde_json::json!({"trash": entry.id, "run": entry.run_id, "settled": true}));
                if let Err(e) = services.store.audit(audit).await {
                    tracing::error!(error = %e, id = entry.id, "the audit log could not record a settled delete");
                }
                tracing::warn!(id = entry.id, state = to.as_str(), "an interrupted delete was settled");
            }
            Ok(None) => {}
            Err(e) => tracing::debug!(error = %e, id = entry.id, "an unsettled trash entry could not be checked; next time"),
        }
    }
}

/// Gives back the entries of restores that made no progress for [`RESTORE_CLAIM_TIMEOUT`], and
/// audits each.
async fn release_abandoned_restores(services: &Services) {
    let before = OffsetDateTime::now_utc() - RESTORE_CLAIM_TIMEOUT;
    let reason = format!(
        "a restore stopped (no progress for {} minutes: its replica stopped or hung); some manifests may be back in the registry: restore again",
        RESTORE_CLAIM_TIMEOUT.whole_minutes()
    );
    let released = match services.store.trash_restore_abandoned(before, Some(&Actor::system().label()), &reason).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "giving back the trash entries of stopped restores");
            return;
        }
    };
    for id in released {
        tracing::warn!(id, "a stopped restore's trash entry was given back");
        let Ok(entry) = services.store.trash_entry(id).await else { continue };
        let audit = NewAudit::new(Actor::system(), "restore", Outcome::Failed)
            .at(&entry.registry, Some(&entry.repository))
            .tags((!entry.tags.is_empty()).then(|| entry.tags.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(", ")))
            .reason(reason.clone())
            .detail(serde_json::json!({"trash": id, "settled": true}));
        if let Err(e) = services.store.audit(audit).await {
            tracing::error!(error = %e, id, "the audit log could not record a stopped restore");
        }
    }
}

/// What became of an interrupted delete: the entry's new state, the audit action and why.
async fn settle(services: &Services, entry: &TrashEntry) -> Result<Option<(TrashState, &'static str, String)>, portolan_oci::Error> {
    let Ok(registry) = services.registry(&entry.registry) else { return Ok(None) };
    let repo = RepoName::parse(&entry.repository)?;
    const PREFIX: &str = "settled after an interruption (the delete was under way when Portolan stopped)";
    match entry.kind {
        TrashKind::Artifact => {
            let mut gone = Vec::new();
            for m in &entry.manifests {
                let digest = portolan_oci::name::parse_digest(&m.digest)?;
                if registry.client.resolve_now(&repo, &Reference::Digest(digest)).await?.is_none() {
                    gone.push(portolan_model::short_digest(&m.digest));
                }
            }
            Ok(Some(if gone.is_empty() {
                (
                    TrashState::Failed,
                    "delete-manifest",
                    format!("{PREFIX}: every saved manifest is still in the registry; nothing was deleted"),
                )
            } else {
                (
                    TrashState::Deleted,
                    "delete-manifest",
                    format!(
                        "{PREFIX}: {} of {} saved manifests are gone from the registry ({})",
                        gone.len(),
                        entry.manifests.len(),
                        gone.join(", ")
                    ),
                )
            }))
        }
        TrashKind::Tag => {
            let mut still = Vec::new();
            for (tag, digest) in &entry.tags {
                let now = registry.client.resolve_now(&repo, &Reference::Tag(Tag::parse(tag)?)).await?;
                if now.is_some_and(|r| &r.digest == digest) {
                    still.push(tag.as_str());
                }
            }
            Ok(Some(if still.is_empty() {
                (TrashState::Deleted, "delete-tag", format!("{PREFIX}: the tag no longer points at the saved manifest"))
            } else {
                (
                    TrashState::Failed,
                    "delete-tag",
                    format!("{PREFIX}: {} still points at the saved manifest; nothing was deleted", still.join(", ")),
                )
            }))
        }
    }
}
