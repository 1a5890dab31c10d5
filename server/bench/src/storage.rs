//! Storage figures at scale, from the store (SQLite, and Postgres when installed): a registry of
//! 10,000 repositories and 1,000,000 blob references (each repository's images name a base
//! layer shared by a group of repositories, a dependencies layer shared by the images of the
//! repository, their own layers and configs, and are themselves blobs), filled through the
//! store's API as the crawl records manifests (the figures kept up to date as it goes).
//!
//! Measured, alternating the sides over several rounds and comparing medians:
//! - the registry's storage page as the service builds it (every repository's figures, the
//!   totals, the freshness, sorted and paged) for someone who sees everything, and for someone
//!   who sees half of the repositories (totals worked out over what they see), vs plain SQL
//!   aggregates over the same index rows (each repository's bytes only it names and shared, and
//!   the registry's total: what a page would count without kept figures);
//! - one repository's storage page;
//! - what keeping the figures costs a write: a tag moved to a new image in one repository.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use portolan_access::Identity;
use portolan_model::StorageQuery;
use portolan_store::{IndexRef, IndexedManifest, Location, RefRole, Store, StoreConfig};

use crate::median;

#[derive(clap::Args)]
pub struct Options {
    /// Small sizes and one round: to see that everything runs, not to measure.
    #[arg(long)]
    quick: bool,
    /// Repositories in the registry.
    #[arg(long, default_value_t = 10_000, default_value_if("quick", "true", "200"))]
    repositories: usize,
    /// Images per repository.
    #[arg(long, default_value_t = 10)]
    images: usize,
    /// Blobs per image besides its config (its layers): with the config, the blob references of
    /// one image (9 + 1: 10 images in 10,000 repositories make 1,000,000).
    #[arg(long, default_value_t = 9)]
    layers: usize,
    /// Repositories sharing a base layer.
    #[arg(long, default_value_t = 50)]
    sharing: usize,
    /// Rounds per measurement (medians are compared).
    #[arg(long, default_value_t = 5, default_value_if("quick", "true", "1"))]
    rounds: usize,
    /// Leave Postgres out (by default it is measured when installed).
    #[arg(long)]
    no_postgres: bool,
}

fn digest(label: &str) -> String {
    portolan_testkit::pusher::sha256(label.as_bytes())
}

fn repository(r: usize) -> String {
    format!("team-{:02}/app-{r:05}", r % 40)
}

/// Repository `r` as the crawl records it: `images` images, each tagged.
fn images(o: &Options, r: usize, generation: usize) -> (Vec<IndexedManifest>, Vec<(String, String)>) {
    let layer = |d: String, size: u64| IndexRef { digest: d, role: RefRole::Layer, platform: None, size: Some(size) };
    let mut manifests = Vec::with_capacity(o.images);
    let mut tags = Vec::with_capacity(o.images);
    for i in 0..o.images {
        let at = |what: &str| digest(&format!("{r}/{generation}/{i}/{what}"));
        let mut refs = vec![
            IndexRef { digest: at("config"), role: RefRole::Config, platform: None, size: Some(1_500 + i as u64) },
            layer(digest(&format!("base {}", r / o.sharing)), 30_000_000),
            layer(digest(&format!("dependencies {r}")), 12_000_000),
        ];
        refs.extend((3..o.layers).map(|l| layer(at(&format!("layer {l}")), 100_000 * l as u64 + i as u64)));
        let d = at("manifest");
        manifests.push(IndexedManifest {
            digest: d.clone(),
            media_type: portolan_oci::media::OCI_MANIFEST.to_owned(),
            kind: "image".into(),
            subject: None,
            size: 0,
            bytes: 800 + 100 * o.layers as u64,
            created: Some(time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(19_000 + (r + 7 * i) as i64 % 700)),
            refs,
        });
        tags.push((format!("1.{i}.{generation}"), d));
    }
    (manifests, tags)
}

fn ms(seconds: f64) -> String {
    format!("{:.1} ms", seconds * 1e3)
}

/// Fills the store and measures it.
async fn measure(o: &Options, engine: &str, store: Store, postgres: Option<&str>) -> Result<Vec<String>> {
    let references = o.repositories * o.images * (o.layers + 1);
    eprintln!("filling {engine}: {} repositories, {references} blob references…", o.repositories);
    let now = time::OffsetDateTime::now_utc();
    let t = Instant::now();
    for r in 0..o.repositories {
        let (m, tags) = images(o, r, 0);
        let name = repository(r);
        // Tags first, then the manifests: one change of the figures per repository.
        store.index_set_tags("bench", &name, &tags, now).await?;
        store.index_put("bench", &name, &m, now).await?;
        store.repo_summary_tags("bench", &name, tags.len() as u64, None, now).await?;
        store.crawl_repository_done("bench", &name, tags.len() as u64, now).await?;
        if r % 1000 == 999 {
            eprintln!("  {} repositories in {:.0} s", r + 1, t.elapsed().as_secs_f64());
        }
    }
    let filled = t.elapsed().as_secs_f64();
    if let Some(url) = postgres {
        let out = std::process::Command::new("psql").arg(url).args(["-q", "-X", "-c", "ANALYZE"]).output().context("running psql")?;
        if !out.status.success() {
            bail!("ANALYZE failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let toml = r#"
[auth.proxy]
trusted = ["127.0.0.1"]
[[grants]]
role = "viewer"
registry = "bench"
groups = ["all"]
[[grants]]
role = "viewer"
registry = "bench"
repositories = ["team-0*/**", "team-1*/**"]
groups = ["half"]
[[registries]]
name = "bench"
url = "http://127.0.0.1:9"
crawl = true
"#;
    let app = portolan_server::testing::TestApp::with(toml, None, Some(store.clone())).await?;
    let state = app.state.clone();
    let registry = state.registry("bench").map_err(|e| anyhow::anyhow!("{e}"))?.clone();
    let person = |group: &str| {
        let mut id = Identity::new("proxy", group);
        id.groups = vec![group.to_owned()];
        id
    };
    let (all, half) = (person("all"), person("half"));
    // The same figures both ways, first.
    let page = portolan_service::storage::registry_storage(&state, Some(&all), &registry, StorageQuery::default())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (total, rows) = store.storage_count_from_scratch("bench").await?;
    if page.stored_bytes != total || rows.len() != o.repositories || page.repositories as usize != o.repositories {
        bail!(
            "the kept figures ({} bytes, {} repositories) differ from the count ({total} bytes, {} rows)",
            page.stored_bytes,
            page.repositories,
            rows.len()
        );
    }
    for r in &page.rows {
        let counted = rows.iter().find(|(n, ..)| *n == r.repository).context("a row the count lacks")?;
        if (counted.1, counted.2) != (r.unique_bytes, r.shared_bytes) {
            bail!("{}: kept {:?}, counted {:?}", r.repository, (r.unique_bytes, r.shared_bytes), (counted.1, counted.2));
        }
    }
    let partial = portolan_service::storage::registry_storage(&state, Some(&half), &registry, StorageQuery::default())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if !partial.partial || partial.repositories as usize != o.repositories / 2 {
        bail!("half the repositories were to be seen: {} of {}", partial.repositories, o.repositories);
    }
    let (mut kept, mut kept_half, mut counted, mut one_repo) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // The first round warms the pool's statement caches and is not kept.
    for round in 0..=o.rounds {
        let time_kept = |who: &Identity| {
            let (state, registry, who) = (&state, &registry, who.clone());
            async move {
                let t = Instant::now();
                std::hint::black_box(
                    portolan_service::storage::registry_storage(state, Some(&who), registry, StorageQuery::default())
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                );
                Ok::<_, anyhow::Error>(t.elapsed().as_secs_f64())
            }
        };
        let time_counted = async {
            let t = Instant::now();
            std::hint::black_box(store.storage_count_from_scratch("bench").await?);
            Ok::<_, anyhow::Error>(t.elapsed().as_secs_f64())
        };
        let time_repo = async {
            let t = Instant::now();
            std::hint::black_box(
                portolan_service::storage::repository_storage(&state, Some(&all), &registry, &repository(o.repositories / 2))
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            );
            Ok::<_, anyhow::Error>(t.elapsed().as_secs_f64())
        };
        let (k, h, c, p) = if round % 2 == 0 {
            (time_kept(&all).await?, time_kept(&half).await?, time_counted.await?, time_repo.await?)
        } else {
            let c = time_counted.await?;
            let p = time_repo.await?;
            let h = time_kept(&half).await?;
            (time_kept(&all).await?, h, c, p)
        };
        if round > 0 {
            kept.push(k);
            kept_half.push(h);
            counted.push(c);
            one_repo.push(p);
        }
    }
    // A tag moved to a new image: the write with the figures kept, per repository.
    let mut writes = Vec::new();
    for round in 0..o.rounds.max(1) * 4 {
        let r = (round * 997) % o.repositories;
        let (m, _) = images(o, r, 1 + round);
        let name = repository(r);
        let t = Instant::now();
        store.index_put("bench", &name, &m[..1], now).await?;
        store.index_set_tags("bench", &name, &[("latest".to_owned(), m[0].digest.clone())], now).await?;
        writes.push(t.elapsed().as_secs_f64());
    }
    let (kept, kept_half, counted, one_repo, write) = (median(kept), median(kept_half), median(counted), median(one_repo), median(writes));
    let blobs = store.storage_totals("bench").await?.map(|t| t.blobs).unwrap_or(0);
    Ok(vec![
        format!(
            "{engine}: {} repositories, {references} blob references ({} blobs, {:.1} TB stored), filled through the store's API in {filled:.0} s ({:.0} repositories/s){}",
            o.repositories,
            blobs,
            page.stored_bytes as f64 / 1e12,
            o.repositories as f64 / filled,
            if postgres.is_some() { ", then ANALYZE" } else { "" },
        ),
        format!("{:<64} {:>10} {:>10} {:>8}", "(median of rounds)", "time", "floor", "ratio"),
        format!(
            "{:<64} {:>10} {:>10} {:>8.3}",
            "registry page, every repository (kept) / SQL aggregate",
            ms(kept),
            ms(counted),
            kept / counted
        ),
        format!(
            "{:<64} {:>10} {:>10} {:>8.3}",
            "registry page, half the repositories (kept) / SQL aggregate",
            ms(kept_half),
            ms(counted),
            kept_half / counted
        ),
        format!("{:<64} {:>10} {:>10} {:>8.3}", "registry page, every repository / 200 ms target", ms(kept), ms(0.2), kept / 0.2),
        format!(
            "{:<64} {:>10} {:>10} {:>8.3}",
            "registry page, half the repositories / 200 ms target",
            ms(kept_half),
            ms(0.2),
            kept_half / 0.2
        ),
        format!("{:<64} {:>10}", "one repository's page", ms(one_repo)),
        format!("{:<64} {:>10}", "a tag moved to a new image: index and figures written", ms(write)),
    ])
}

pub async fn run(o: Options) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let sqlite = Store::open(&StoreConfig::new(Location::Sqlite(dir.path().to_path_buf()))).await?;
    let mut lines = measure(&o, "SQLite", sqlite, None).await?;
    if !o.no_postgres {
        match portolan_testkit::postgres::Postgres::start().await {
            Ok(pg) => {
                let url = pg.new_database("bench")?;
                let store = Store::open(&StoreConfig::new(Location::Postgres(url.clone()))).await?;
                lines.extend(measure(&o, "Postgres", store, Some(&url)).await?);
                drop(pg);
            }
            Err(e) => lines.push(format!("Postgres: not measured ({e:#})")),
        }
    }
    println!("portolan-bench storage: {} rounds, medians", o.rounds);
    for line in lines {
        println!("{line}");
    }
    Ok(())
}
