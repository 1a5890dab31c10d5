//! Retention on a 10,000-tag repository of a local CNCF distribution, Portolan in process (the
//! state built from a configuration as the server builds it, the SQLite store in a temporary
//! directory):
//! - a dry run: Portolan's read + plan (the repository read afresh, first-seen dates recorded,
//!   the planner) vs the floor — the registry requests that read needs (the tag list, a manifest
//!   HEAD per tag, each manifest GET by digest and its config), made by a bare HTTP loop at the
//!   same concurrency; and the whole dry run through the runner (every unit recorded as an item);
//!   the peak RSS of this process during each (VmHWM, reset before each run);
//! - the what-if preview after an edit, the repository cached: the planner alone, and the
//!   preview (two plans — saved and edited policy — and their difference), vs 100 ms;
//! - apply: deletions per second through Portolan's deletion path (re-check, trash, delete,
//!   audit) vs the same deletes by digest from a bare HTTP loop on a second, identical copy.
//!
//! Each measurement alternates the two sides for several rounds (three by default) and compares
//! medians; each figure is printed with its range over the rounds, and each ratio with the range
//! of the rounds' own ratios (each round's two sides measured one right after the other).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use portolan_app::ssr::AppState;
use portolan_oci::RepoName;
use portolan_retention::{Deletion, Policy};
use portolan_service::runs::{RunRequest, policy_of, start};
use portolan_store::{Actor, RunState, Trigger};
use portolan_testkit::{Kind, Registry};

use crate::Spread;

#[derive(clap::Args)]
pub struct Options {
    /// Small sizes and one round: to see that everything runs, not to measure.
    #[arg(long)]
    quick: bool,
    /// Tags in the benchmark repository.
    #[arg(long, default_value_t = 10_000, default_value_if("quick", "true", "400"))]
    tags: usize,
    /// Rounds per measurement (medians are compared; the spread is printed too).
    #[arg(long, default_value_t = 3, default_value_if("quick", "true", "1"))]
    rounds: usize,
    /// Requests in flight when reading (Portolan's default for a registry).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Deletions per round and side in the apply measurement.
    #[arg(long, default_value_t = 100, default_value_if("quick", "true", "20"))]
    deletions: usize,
}

const REPO: &str = "stress/many-tags";
/// "Keep the 100 highest versions, protect latest", on the benchmark repository.
const POLICY: &str = r#"{"name": "bench", "registry": "bench", "repositories": ["stress/many-tags"], "keep": {"most_recent": {"count": 100, "by": "version"}}, "protected": ["latest"], "max_deletions": 100000, "dry_run": false}"#;
/// The same, edited: keep 150.
const EDITED: &str = r#"{"name": "bench", "registry": "bench", "repositories": ["stress/many-tags"], "keep": {"most_recent": {"count": 150, "by": "version"}}, "protected": ["latest"], "max_deletions": 100000, "dry_run": false}"#;

/// Portolan in this process, on `registry`, with a fresh store (and so fresh client caches).
struct Portolan {
    state: AppState,
    policy: portolan_store::PolicyRecord,
    _app: portolan_server::testing::TestApp,
}

async fn portolan(registry: &str, concurrency: usize) -> Result<Portolan> {
    let toml = format!("[[registries]]\nname = \"bench\"\nurl = \"{registry}\"\nmax_concurrency = {concurrency}\n");
    let app = portolan_server::testing::TestApp::new(&toml).await?;
    let policy = app.store.policy_create("bench", "bench", POLICY, Some("bench")).await?;
    Ok(Portolan { state: app.state.clone(), policy, _app: app })
}

impl Portolan {
    fn policy(&self) -> Result<Policy> {
        policy_of(&self.state, &self.policy).map_err(|e| anyhow::anyhow!("{e}"))
    }

    fn registry(&self) -> Result<portolan_service::Registry> {
        Ok(self.state.registry("bench").map_err(|e| anyhow::anyhow!("{e}"))?.clone())
    }

    /// Read + plan, as a run does it: the repository read afresh, first-seen dates recorded,
    /// the plan. Returns the number of deletion units.
    async fn read_and_plan(&self) -> Result<usize> {
        let registry = self.registry()?;
        let repo = RepoName::parse(REPO)?;
        let mut inventory = portolan_service::trash::fresh_inventory(&registry, &repo, &[]).await?;
        let digests: Vec<String> = inventory.manifests.keys().cloned().collect();
        let seen = self.state.store.first_seen("bench", REPO, &digests, time::OffsetDateTime::now_utc()).await?;
        inventory.apply_first_seen(&seen);
        if !inventory.unreadable.is_empty() {
            bail!("{} tags could not be read", inventory.unreadable.len());
        }
        let plan = portolan_retention::plan(&self.policy()?, &inventory, time::OffsetDateTime::now_utc());
        Ok(plan.deletions.len() + plan.deferred.len())
    }

    /// A whole dry run through the runner, until it ends. Returns the units it recorded.
    async fn dry_run(&self) -> Result<i64> {
        let req = RunRequest {
            record: self.policy.clone(),
            trigger: Trigger::Manual,
            actor: Actor::system(),
            dry_run: true,
            scheduled_for: None,
            request_id: None,
        };
        let run = start(&self.state, "bench", req).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        loop {
            let now = self.state.store.run(run.id).await?;
            match now.state {
                RunState::Running => tokio::time::sleep(Duration::from_millis(5)).await,
                RunState::Done => return Ok(now.counts.planned),
                other => bail!("the dry run ended {}: {:?}", other.as_str(), now.message),
            }
        }
    }
}

/// The floor of a dry run's read: the tag list, a manifest HEAD per tag, then each manifest GET
/// by digest and its config blob, `concurrency` at a time — a plain reqwest client, no cache,
/// no parsing beyond the config's digest.
async fn floor_read(http: &reqwest::Client, url: &str, concurrency: usize) -> Result<usize> {
    let list: serde_json::Value = http.get(format!("{url}/v2/{REPO}/tags/list?n=1000")).send().await?.json().await?;
    let tags: Vec<String> = list["tags"].as_array().context("a tag list")?.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect();
    let digests = crate::floor::head_digests(http, url, REPO, &tags, concurrency).await;
    let mut digests: Vec<String> = digests.into_iter().collect::<Option<Vec<_>>>().context("a tag without a digest")?;
    digests.sort();
    digests.dedup();
    let read: Vec<Result<()>> = futures::stream::iter(digests.iter())
        .map(|d| async move {
            let manifest: serde_json::Value = http
                .get(format!("{url}/v2/{REPO}/manifests/{d}"))
                .header("accept", portolan_oci::media::MANIFEST_ACCEPT)
                .send()
                .await?
                .json()
                .await?;
            let config = manifest.pointer("/config/digest").and_then(|c| c.as_str()).context("a config digest")?;
            http.get(format!("{url}/v2/{REPO}/blobs/{config}")).send().await?.bytes().await?;
            Ok(())
        })
        .buffered(concurrency)
        .collect()
        .await;
    read.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(tags.len())
}

/// The peak resident set size of this process since the last [`reset_peak`], in bytes.
fn peak_rss() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("VmHWM in /proc/self/status")?;
    let kb: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse()?;
    Ok(kb * 1024)
}

/// Resets the peak RSS to the current RSS (Linux: `5` to `/proc/self/clear_refs`).
fn reset_peak() -> Result<()> {
    std::fs::write(Path::new("/proc/self/clear_refs"), "5").context("resetting the peak RSS (/proc/self/clear_refs)")
}

pub async fn run(o: Options) -> Result<()> {
    eprintln!("seeding {} tags into two local CNCF distributions (the second for the apply floor)…", o.tags);
    let started = Instant::now();
    let (a, b) = tokio::join!(Registry::start(Kind::Anonymous, o.tags), Registry::start(Kind::Anonymous, o.tags));
    let (a, b) = (a?, b?);
    eprintln!("seeded in {:.1} s; {} rounds per measurement", started.elapsed().as_secs_f64(), o.rounds);
    let http = reqwest::Client::builder().pool_max_idle_per_host(o.concurrency).build()?;
    // One warm-up each, so neither side pays for the registry's own first touch.
    floor_read(&http, &a.url, o.concurrency).await?;
    floor_read(&http, &b.url, o.concurrency).await?;
    let units = portolan(&a.url, o.concurrency).await?.read_and_plan().await?;
    eprintln!("the policy deletes {units} units of {} tags", o.tags);

    // 1. The dry run: read + plan vs the floor; the whole dry run; peak RSS of each.
    let (mut ours, mut floor, mut whole) = (Vec::new(), Vec::new(), Vec::new());
    let (mut peak_plan, mut peak_run) = (Vec::new(), Vec::new());
    for round in 0..o.rounds {
        let measure_ours = async {
            let p = portolan(&a.url, o.concurrency).await?;
            reset_peak()?;
            let t = Instant::now();
            let n = p.read_and_plan().await?;
            let elapsed = t.elapsed().as_secs_f64();
            if n != units {
                bail!("planned {n} units, {units} before");
            }
            Ok::<_, anyhow::Error>((elapsed, peak_rss()?))
        };
        let measure_floor = async {
            let t = Instant::now();
            let n = floor_read(&http, &a.url, o.concurrency).await?;
            if n != o.tags {
                bail!("the floor listed {n} tags");
            }
            Ok::<_, anyhow::Error>(t.elapsed().as_secs_f64())
        };
        if round % 2 == 0 {
            let (t, peak) = measure_ours.await?;
            ours.push(t);
            peak_plan.push(peak as f64);
            floor.push(measure_floor.await?);
        } else {
            floor.push(measure_floor.await?);
            let (t, peak) = measure_ours.await?;
            ours.push(t);
            peak_plan.push(peak as f64);
        }
        let p = portolan(&a.url, o.concurrency).await?;
        reset_peak()?;
        let t = Instant::now();
        let planned = p.dry_run().await?;
        whole.push(t.elapsed().as_secs_f64());
        peak_run.push(peak_rss()? as f64);
        if planned as usize != units {
            bail!("the dry run planned {planned} units, {units} expected");
        }
    }

    // 2. What-if after an edit, the repository cached.
    let p = portolan(&a.url, o.concurrency).await?;
    let saved = p.policy()?;
    let edited_raw: portolan_retention::RawPolicy = serde_json::from_str(EDITED)?;
    let edited = portolan_retention::validate(edited_raw, &["bench"]).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let first = portolan_service::whatif::what_if(&p.state, &edited, Some(&saved)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    if first.no_longer_deleted.len() != 50 {
        bail!("the edit should keep 50 more tags; the preview says {}", first.no_longer_deleted.len());
    }
    let registry = p.registry()?;
    let repo = RepoName::parse(REPO)?;
    let inventory = p.state.inventories.get(&p.state, &registry, &repo).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let (mut planner, mut preview) = (Vec::new(), Vec::new());
    for _ in 0..o.rounds.max(5) * 4 {
        let t = Instant::now();
        let plan = portolan_retention::plan(&edited, &inventory, time::OffsetDateTime::now_utc());
        planner.push(t.elapsed().as_secs_f64());
        std::hint::black_box(plan);
        let t = Instant::now();
        let w = portolan_service::whatif::what_if(&p.state, &edited, Some(&saved)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        preview.push(t.elapsed().as_secs_f64());
        std::hint::black_box(w);
    }

    // 3. Apply: deletions through Portolan's deletion path on the first copy, the same deletes
    //    by digest from a bare loop on the second, one at a time as a run applies them.
    let plan = portolan_retention::plan(&saved, &inventory, time::OffsetDateTime::now_utc());
    let deletions: Vec<&Deletion> = plan.deletions.iter().filter(|u| matches!(u, Deletion::DeleteManifest { .. })).collect();
    if deletions.len() < o.rounds * o.deletions {
        bail!("{} units to delete, {} needed", deletions.len(), o.rounds * o.deletions);
    }
    let deleter = portolan_service::trash::Deleter {
        registry: &registry,
        store: &p.state.store,
        actor: Actor::system(),
        request_id: None,
        run_id: None,
        known_tags: portolan_service::trash::KnownTags::of(&inventory),
        store_down: Default::default(),
    };
    let (mut ours_apply, mut floor_apply) = (Vec::new(), Vec::new());
    for (round, batch) in deletions.chunks(o.deletions).take(o.rounds).enumerate() {
        let measure_ours = async {
            let t = Instant::now();
            for unit in batch {
                let tags = portolan_service::trash::unit_tags(unit, &inventory);
                let (items, _) = deleter.apply_unit(&repo, unit, &tags).await;
                if items.iter().any(|i| i.outcome != "done") {
                    bail!("a unit was not applied: {items:?}");
                }
            }
            Ok::<_, anyhow::Error>(t.elapsed().as_secs_f64())
        };
        let measure_floor = async {
            let t = Instant::now();
            for unit in batch {
                let r = http.delete(format!("{}/v2/{REPO}/manifests/{}", b.url, unit.digest())).send().await?;
                if r.status() != reqwest::StatusCode::ACCEPTED {
                    bail!("the floor's DELETE answered {}", r.status());
                }
            }
            Ok::<_, anyhow::Error>(t.elapsed().as_secs_f64())
        };
        if round % 2 == 0 {
            ours_apply.push(measure_ours.await?);
            floor_apply.push(measure_floor.await?);
        } else {
            floor_apply.push(measure_floor.await?);
            ours_apply.push(measure_ours.await?);
        }
    }

    // Each round's own ratios: its two sides were measured one right after the other.
    let per_round = |xs: &[f64], ys: &[f64]| Spread::of(&xs.iter().zip(ys).map(|(x, y)| x / y).collect::<Vec<_>>());
    let (read_ratio, whole_ratio) = (per_round(&ours, &floor), per_round(&whole, &floor));
    let n = o.deletions as f64;
    let (ours_rates, floor_rates): (Vec<f64>, Vec<f64>) =
        (ours_apply.iter().map(|t| n / t).collect(), floor_apply.iter().map(|t| n / t).collect());
    let apply_ratio = per_round(&floor_rates, &ours_rates);
    let (ours, floor, whole) = (Spread::of(&ours), Spread::of(&floor), Spread::of(&whole));
    let (planner, preview) = (Spread::of(&planner), Spread::of(&preview));
    let (ours_rate, floor_rate) = (Spread::of(&ours_rates), Spread::of(&floor_rates));
    let (peak_plan, peak_run) = (Spread::of(&peak_plan), Spread::of(&peak_run));
    println!(
        "portolan-bench retention: {} tags ({units} units to delete), concurrency {}, {} rounds; medians (min–max over the rounds)",
        o.tags, o.concurrency, o.rounds
    );
    println!("{:<58} {:>24} {:>24} {:>20}", "measurement", "ours", "other", "ratio");
    println!(
        "{:<58} {:>24} {:>24} {:>20}",
        "dry run, read + plan / bare HTTP loop (same requests), s",
        ours.show(1.0, 2),
        floor.show(1.0, 2),
        read_ratio.show(1.0, 2)
    );
    println!(
        "{:<58} {:>24} {:>24} {:>20}",
        "dry run, whole run (items recorded) / bare HTTP loop, s",
        whole.show(1.0, 2),
        floor.show(1.0, 2),
        whole_ratio.show(1.0, 2)
    );
    println!(
        "{:<58} {:>24} {:>24} {:>20}",
        format!("what-if after an edit, planner alone / 100 ms, ms ({} runs)", o.rounds.max(5) * 4),
        planner.show(1e3, 1),
        "100",
        format!("{:.2}", planner.median / 0.1)
    );
    println!(
        "{:<58} {:>24} {:>24} {:>20}",
        format!("what-if, preview (2 plans + diff) / 100 ms, ms ({} runs)", o.rounds.max(5) * 4),
        preview.show(1e3, 1),
        "100",
        format!("{:.2}", preview.median / 0.1)
    );
    println!(
        "{:<58} {:>24} {:>24} {:>20}",
        format!("apply, deletions/s: deletion path / bare DELETEs ({} each)", o.deletions),
        ours_rate.show(1.0, 1),
        floor_rate.show(1.0, 1),
        apply_ratio.show(1.0, 2)
    );
    println!(
        "peak RSS of this process, MB: read + plan {}, whole dry run {} (target ≤ 150 MB: {})",
        peak_plan.show(1e-6, 1),
        peak_run.show(1e-6, 1),
        if peak_plan.max.max(peak_run.max) <= 150_000_000.0 { "met" } else { "NOT met" }
    );
    println!("(the apply ratio is bare DELETEs per second over the deletion path's, so above 1 means the deletion path is slower)");
    println!("target: read + plan ratio ≤ 1.5 — {}", if read_ratio.median <= 1.5 { "met" } else { "NOT met" });
    println!("target: what-if preview ≤ 100 ms — {}", if preview.median <= 0.1 { "met" } else { "NOT met" });
    println!("(run took {:.0} s)", started.elapsed().as_secs_f64());
    drop((a, b));
    Ok(())
}
