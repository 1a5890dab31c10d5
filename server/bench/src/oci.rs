//! The OCI client on a 5,000-tag repository of a local CNCF distribution:
//! - listing every tag: Portolan's client vs `skopeo list-tags`, and vs skopeo minus its own
//!   process start (`skopeo --version`, timed in the same rounds);
//! - resolving every tag to its digest at concurrency 16 (a manifest HEAD each): the client
//!   (cold caches) vs a bare HTTP loop doing exactly the same requests — the floor;
//! - the same resolution again with warm caches, vs cold.
//!
//! Each measurement alternates the two sides for several rounds and compares medians.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use portolan_oci::{Client, ClientConfig, Reference, RepoName, Tag};
use portolan_testkit::{Kind, Registry};

use crate::median;

#[derive(clap::Args)]
pub struct Options {
    /// Small sizes and few rounds: to see that everything runs, not to measure.
    #[arg(long)]
    quick: bool,
    /// Tags in the benchmark repository.
    #[arg(long, default_value_t = 5000, default_value_if("quick", "true", "300"))]
    tags: usize,
    /// Rounds per measurement (medians are compared).
    #[arg(long, default_value_t = 5, default_value_if("quick", "true", "2"))]
    rounds: usize,
    /// Requests in flight when resolving.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

const REPO: &str = "stress/many-tags";

fn client(url: &str, concurrency: usize) -> Result<Client> {
    let mut config = ClientConfig::new(url);
    config.max_concurrency = concurrency;
    Ok(Client::new(config)?)
}

async fn resolve_all(client: &Client, tags: &[String], concurrency: usize) -> Result<usize> {
    let repo = RepoName::parse(REPO)?;
    let results: Vec<_> = futures::stream::iter(tags.iter().cloned())
        .map(|t| {
            let (client, repo) = (client, &repo);
            async move { client.resolve(repo, &Reference::Tag(Tag::parse(&t)?)).await.map(|r| r.digest) }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    if ok != tags.len() {
        bail!("{} of {} tags failed to resolve", tags.len() - ok, tags.len());
    }
    Ok(ok)
}

/// The floor: the same HEAD requests, with the same Accept header and concurrency, on a plain
/// reqwest client — no cache, no auth logic, no retries, no parsing beyond the digest header.
async fn floor_all(http: &reqwest::Client, url: &str, tags: &[String], concurrency: usize) -> Result<usize> {
    let results = crate::floor::head_digests(http, url, REPO, tags, concurrency).await;
    let ok = results.iter().flatten().count();
    if ok != tags.len() {
        bail!("the floor loop resolved {ok} of {} tags", tags.len());
    }
    Ok(ok)
}

/// How long `skopeo --version` takes: skopeo's own process start, in seconds.
fn skopeo_version() -> Result<f64> {
    let t = Instant::now();
    let out = std::process::Command::new("skopeo").arg("--version").output().context("running skopeo --version")?;
    if !out.status.success() {
        bail!("skopeo --version failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(secs(t))
}

fn skopeo_list(host: &str) -> Result<usize> {
    let out = std::process::Command::new("skopeo")
        .args(["list-tags", "--tls-verify=false", &format!("docker://{host}/{REPO}")])
        .output()
        .context("running skopeo (scripts/tools.sh installs it)")?;
    if !out.status.success() {
        bail!("skopeo failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let listed: serde_json_lite::Tags = serde_json_lite::parse(&out.stdout)?;
    Ok(listed.0)
}

/// Just enough JSON reading to count skopeo's tags without another dependency.
mod serde_json_lite {
    pub struct Tags(pub usize);
    pub fn parse(bytes: &[u8]) -> anyhow::Result<Tags> {
        let text = std::str::from_utf8(bytes)?;
        let start = text.find("\"Tags\"").ok_or_else(|| anyhow::anyhow!("no Tags in skopeo's output"))?;
        let list = &text[start..];
        let open = list.find('[').ok_or_else(|| anyhow::anyhow!("no list"))?;
        let close = list.find(']').ok_or_else(|| anyhow::anyhow!("no list end"))?;
        Ok(Tags(list[open + 1..close].matches('"').count() / 2))
    }
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

pub async fn run(o: Options) -> Result<()> {
    eprintln!("seeding {} tags into a local CNCF distribution…", o.tags);
    let started = Instant::now();
    let registry = Registry::start(Kind::Anonymous, o.tags).await?;
    eprintln!("seeded in {:.1} s; {} rounds per measurement", started.elapsed().as_secs_f64(), o.rounds);
    let host = registry.url.trim_start_matches("http://").to_owned();
    let tags = client(&registry.url, o.concurrency)?.tags(&RepoName::parse(REPO)?).await?;
    if tags.len() != o.tags {
        bail!("the registry lists {} tags, {} were pushed", tags.len(), o.tags);
    }

    // 1. Listing all tags, the two sides alternating which goes first; and skopeo's own start
    // (`skopeo --version`: the process, its libraries and its Go runtime, no registry), timed
    // between them so it sees the same machine.
    skopeo_list(&host)?; // skopeo's first start (pages its binary in) counts for neither side
    let (mut ours, mut skopeo, mut skopeo_start) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..o.rounds {
        let list_ours = || async {
            let c = client(&registry.url, o.concurrency)?;
            let t = Instant::now();
            let n = c.tags(&RepoName::parse(REPO)?).await?.len();
            Ok::<_, anyhow::Error>((secs(t), n))
        };
        let list_skopeo = || {
            let t = Instant::now();
            let m = skopeo_list(&host)?;
            Ok::<_, anyhow::Error>((secs(t), m))
        };
        let ((ours_s, n), (skopeo_s, m)) = if round % 2 == 0 {
            let a = list_ours().await?;
            (a, list_skopeo()?)
        } else {
            let b = list_skopeo()?;
            (list_ours().await?, b)
        };
        ours.push(ours_s);
        skopeo.push(skopeo_s);
        skopeo_start.push(skopeo_version()?);
        if n != o.tags || m != o.tags {
            bail!("listed {n} (ours) and {m} (skopeo) of {} tags", o.tags);
        }
    }

    // 2. Resolving every tag, cold, vs the floor; 3. again, warm.
    let http = reqwest::Client::builder().pool_max_idle_per_host(o.concurrency).build()?;
    let (mut cold, mut floor, mut warm) = (Vec::new(), Vec::new(), Vec::new());
    // One warm-up each, so neither side pays for the registry's own first touch.
    floor_all(&http, &registry.url, &tags, o.concurrency).await?;
    resolve_all(&client(&registry.url, o.concurrency)?, &tags, o.concurrency).await?;
    for round in 0..o.rounds {
        let c = client(&registry.url, o.concurrency)?;
        let order_ours_first = round % 2 == 0;
        if order_ours_first {
            let t = Instant::now();
            resolve_all(&c, &tags, o.concurrency).await?;
            cold.push(secs(t));
        }
        let t = Instant::now();
        floor_all(&http, &registry.url, &tags, o.concurrency).await?;
        floor.push(secs(t));
        if !order_ours_first {
            let t = Instant::now();
            resolve_all(&c, &tags, o.concurrency).await?;
            cold.push(secs(t));
        }
        let before = c.stats().requests.load(std::sync::atomic::Ordering::Relaxed);
        let t = Instant::now();
        resolve_all(&c, &tags, o.concurrency).await?;
        warm.push(secs(t));
        let after = c.stats().requests.load(std::sync::atomic::Ordering::Relaxed);
        if after != before {
            eprintln!("note: the warm pass sent {} requests (tag cache expired mid-run?)", after - before);
        }
    }

    let (ours, skopeo, skopeo_start) = (median(ours), median(skopeo), median(skopeo_start));
    let (cold, floor, warm) = (median(cold), median(floor), median(warm));
    println!("portolan-bench oci: {} tags, concurrency {}, {} rounds, medians", o.tags, o.concurrency, o.rounds);
    println!("{:<52} {:>10} {:>10} {:>8}", "measurement", "ours", "other", "ratio");
    println!("{:<52} {:>9.3}s {:>9.3}s {:>8.2}", "list all tags: client / skopeo list-tags", ours, skopeo, ours / skopeo);
    println!(
        "{:<52} {:>9.3}s {:>9.3}s {:>8.2}",
        "list all tags: client / (skopeo minus its start)",
        ours,
        skopeo - skopeo_start,
        ours / (skopeo - skopeo_start)
    );
    println!("skopeo's own process start (skopeo --version), median: {skopeo_start:.3}s");
    println!("{:<52} {:>9.3}s {:>9.3}s {:>8.2}", "resolve all tags: client (cold) / bare HTTP loop", cold, floor, cold / floor);
    println!("{:<52} {:>9.3}s {:>9.3}s {:>8.4}", "resolve all tags: client warm / client cold", warm, cold, warm / cold);
    println!("target: resolve ratio ≤ 1.10 — {}", if cold / floor <= 1.10 { "met" } else { "NOT met" });
    Ok(())
}
