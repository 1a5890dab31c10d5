//! The policy editor's what-if: what a policy would do now, and how that differs from the saved
//! one, planned from repositories read once and kept a few minutes (the planner takes
//! milliseconds; reading a repository takes seconds), so every keystroke replans from memory.

use std::sync::Arc;
use std::time::Duration;

use portolan_model::{WhatIf, WhatIfTag};
use portolan_oci::RepoName;
use portolan_retention::{Policy, plan};
use time::OffsetDateTime;

use crate::runs::repositories_in_scope;
use crate::{Error, Registry, Result, Services};

/// Repositories read for what-if previews, kept a few minutes so an editor's every keystroke
/// replans from memory (the planner takes milliseconds; reading a repository takes seconds).
pub struct Inventories {
    cache: moka::future::Cache<(String, String), Arc<portolan_inventory::Inventory>>,
}

/// What the kept inventories may hold together, in tags, manifests and references (about
/// 100 bytes each): a few large repositories or many small ones, not 500 of the largest.
const INVENTORIES_WEIGHT: u64 = 1_000_000;

impl Default for Inventories {
    fn default() -> Self {
        let weigh = |_: &(String, String), inv: &Arc<portolan_inventory::Inventory>| -> u32 {
            u32::try_from(inv.tags.len() + inv.manifests.len() + inv.references()).unwrap_or(u32::MAX)
        };
        Self {
            cache: moka::future::Cache::builder()
                .max_capacity(INVENTORIES_WEIGHT)
                .weigher(weigh)
                .time_to_live(Duration::from_secs(300))
                .build(),
        }
    }
}

impl Inventories {
    /// The inventory of `repo` (read once for concurrent askers), first-seen dates applied.
    pub async fn get(&self, state: &Services, registry: &Registry, repo: &RepoName) -> Result<Arc<portolan_inventory::Inventory>, Error> {
        let key = (registry.info.name.clone(), repo.to_string());
        let (state, registry, repo) = (state.clone(), registry.clone(), repo.clone());
        self.cache
            .try_get_with(key, async move {
                let client: &dyn portolan_oci::RegistryVerbs = registry.client.as_ref();
                let mut inv =
                    portolan_inventory::read::read_inventory(client, &registry.info.name, &repo, 16).await.map_err(Error::from)?;
                let digests: Vec<String> = inv.manifests.keys().cloned().collect();
                let seen = state.store.first_seen(&registry.info.name, repo.as_str(), &digests, OffsetDateTime::now_utc()).await?;
                inv.apply_first_seen(&seen);
                Ok::<_, Error>(Arc::new(inv))
            })
            .await
            .map_err(|e| (*e).clone())
    }
}

/// Repositories a what-if preview reads at most.
pub const WHAT_IF_REPOSITORIES: usize = 50;
/// Tags a what-if preview lists at most.
pub const WHAT_IF_TAGS: usize = 400;

/// What `policy` would do now, and how that differs from `saved`, from cached repositories.
/// The plan of `policy` over `inventory` and, when given, of `saved` — side by side on blocking
/// threads: each is a pass over every tag of the repository, and the runtime's workers serve
/// other requests meanwhile.
async fn plans(
    policy: &Policy,
    saved: Option<&Policy>,
    inventory: Arc<portolan_inventory::Inventory>,
    now: OffsetDateTime,
) -> Result<(portolan_retention::Plan, Option<portolan_retention::Plan>), Error> {
    let failed = |e: tokio::task::JoinError| Error::Internal(format!("planning stopped: {e}"));
    let (edited, inv) = (policy.clone(), inventory.clone());
    let edited = tokio::task::spawn_blocking(move || plan(&edited, &inv, now));
    let before = match saved {
        Some(saved) => {
            let saved = saved.clone();
            Some(tokio::task::spawn_blocking(move || plan(&saved, &inventory, now)).await.map_err(failed)?)
        }
        None => None,
    };
    Ok((edited.await.map_err(failed)?, before))
}

pub async fn what_if(state: &Services, policy: &Policy, saved: Option<&Policy>) -> Result<portolan_model::WhatIf, Error> {
    let started = std::time::Instant::now();
    let registry = state.registry(policy.registry())?.clone();
    let mut repositories = repositories_in_scope(state, &registry, policy).await?;
    let mut out = WhatIf::default();
    if repositories.len() > WHAT_IF_REPOSITORIES {
        out.notes.push(format!(
            "the policy covers {} repositories; this preview reads the first {WHAT_IF_REPOSITORIES} (a run covers them all)",
            repositories.len()
        ));
        repositories.truncate(WHAT_IF_REPOSITORIES);
    }
    out.repositories = repositories.len();
    let now = OffsetDateTime::now_utc();
    let mut deleted_rows = Vec::new();
    let mut kept_rows = Vec::new();
    let mut total = 0;
    // What the deletions take, and what the manifests that stay take, in every repository read.
    let mut removed: Vec<crate::storage::Removed> = Vec::new();
    let mut kept: std::collections::HashSet<String> = std::collections::HashSet::new();
    for name in repositories {
        let Ok(repo) = RepoName::parse(&name) else { continue };
        let mut inventory = match state.inventories.get(state, &registry, &repo).await {
            Ok(i) => i,
            Err(e) => {
                out.notes.push(format!("{name}: could not be read ({e})"));
                continue;
            }
        };
        // Keeping verified artifacts needs their signatures verified (outcomes are kept by
        // digest, so a preview after an edit verifies nothing again).
        if policy.raw().keep.verified || saved.is_some_and(|s| s.raw().keep.verified) {
            let mut annotated = (*inventory).clone();
            state.verifier.annotate(&registry, &repo, &mut annotated).await;
            inventory = std::sync::Arc::new(annotated);
        }
        let (p, before) = plans(policy, saved, inventory.clone(), now).await?;
        let gone: std::collections::HashSet<&str> = p.deletions.iter().flat_map(|u| u.manifests()).collect();
        removed.extend(gone.iter().map(|d| crate::storage::Removed {
            repository: name.clone(),
            digest: (*d).to_owned(),
            blobs: crate::storage::inventory_blobs(&inventory, d),
        }));
        kept.extend(crate::storage::kept_blobs(&inventory, &gone));
        if let Some(before) = before {
            let d = portolan_retention::diff(&before, &p);
            out.newly_deleted.extend(d.newly_deleted.into_iter().map(|t| format!("{name}:{t}")));
            out.no_longer_deleted.extend(d.no_longer_deleted.into_iter().map(|t| format!("{name}:{t}")));
        }
        out.tags_kept += p.summary.tags_kept;
        out.tags_deleted += p.summary.tags_deleted;
        out.tags_deferred += p.summary.tags_deferred;
        out.manifests_deleted += p.summary.manifests_deleted;
        out.units += p.deletions.len();
        out.bytes_freed += p.summary.bytes_freed;
        out.notes.extend(p.notes.iter().map(|n| format!("{name}: {n}")));
        for t in &p.tags {
            // Only the rows that can be shown are made (deleted ones first, then kept ones).
            let rows = if t.decision.is_keep() { &mut kept_rows } else { &mut deleted_rows };
            total += 1;
            if rows.len() >= WHAT_IF_TAGS {
                continue;
            }
            rows.push(WhatIfTag {
                repository: name.clone(),
                tag: t.tag.clone(),
                digest: t.digest.clone(),
                decision: match t.decision {
                    portolan_retention::Decision::Keep(_) => "keep",
                    portolan_retention::Decision::Delete(_) => "delete",
                    portolan_retention::Decision::Deferred { .. } => "deferred",
                }
                .into(),
                reason: t.decision.describe(),
                age: t.age.map(|a| a.at.unix_timestamp()),
                age_source: t.age.map(|a| a.source),
            });
        }
    }
    out.freed = crate::storage::freed_after_gc(state, &registry.info.name, &removed, &kept).await?.figure;
    out.tags = deleted_rows.into_iter().chain(kept_rows).take(WHAT_IF_TAGS).collect();
    out.truncated = total > out.tags.len();
    out.newly_deleted.truncate(WHAT_IF_TAGS);
    out.no_longer_deleted.truncate(WHAT_IF_TAGS);
    out.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(out)
}
