//! The web app on a 5,000-tag repository of a local CNCF distribution:
//! - the first page of tags (names and details), from a freshly started Portolan: time to first
//!   byte and to the last byte, vs the floor — the registry requests that page needs (the tag
//!   list, then each of the 50 tags' manifest and config), made by a bare HTTP loop;
//! - the same page again, warm, vs cold;
//! - the size of what the browser downloads to hydrate (WebAssembly + JavaScript, gzip).
//!
//! Needs a release build (`cargo leptos build --release`): scripts/bench web does it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use portolan_testkit::{Kind, Registry};

use crate::median;

#[derive(clap::Args)]
pub struct Options {
    /// Tags in the benchmark repository.
    #[arg(long, default_value_t = 5000)]
    tags: usize,
    /// Rounds (a fresh server each).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// The Portolan binary.
    #[arg(long, default_value = "target/release/portolan")]
    server: PathBuf,
    /// The site's pkg directory (the hydration bundle).
    #[arg(long, default_value = "target/site/pkg")]
    pkg: PathBuf,
}

const REPO: &str = "stress/many-tags";
const PAGE: usize = 50;

struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_server(binary: &Path, registry: &str) -> Result<Server> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("portolan.toml");
    std::fs::write(&config, format!("[[registries]]\nname = \"bench\"\nurl = \"{registry}\"\n"))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new(binary)
        .args([
            "--config",
            &config.display().to_string(),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
            &dir.path().join("data").display().to_string(),
        ])
        .env("PORTOLAN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {} (build it: cargo leptos build --release)", binary.display()))?;
    let server = Server { child, url: format!("http://127.0.0.1:{port}"), _dir: dir };
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(format!("{}/healthz", server.url)).send().await.is_ok() {
            return Ok(server);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("Portolan did not start")
}

/// (time to first byte, time to last byte, rows with details) of one page load.
async fn load(http: &reqwest::Client, url: &str) -> Result<(f64, f64, usize)> {
    let started = Instant::now();
    let response = http.get(url).send().await?;
    let first = started.elapsed().as_secs_f64();
    if !response.status().is_success() {
        bail!("{url}: {}", response.status());
    }
    let body = response.text().await?;
    let total = started.elapsed().as_secs_f64();
    Ok((first, total, body.matches("data-digest=").count()))
}

/// The registry requests the page needs, from a bare loop: the tag list, then each tag's
/// manifest and config at concurrency 16.
async fn floor(http: &reqwest::Client, registry: &str, tags: &[String]) -> Result<f64> {
    let started = Instant::now();
    let list: serde_json_value::Value = http.get(format!("{registry}/v2/{REPO}/tags/list?n=1000")).send().await?.json().await?;
    let _ = list;
    let results: Vec<Result<()>> = futures::stream::iter(tags.iter().take(PAGE))
        .map(|t| async move {
            let manifest: serde_json_value::Value = http
                .get(format!("{registry}/v2/{REPO}/manifests/{t}"))
                .header("accept", portolan_oci::media::MANIFEST_ACCEPT)
                .send()
                .await?
                .json()
                .await?;
            let config = manifest.pointer("/config/digest").and_then(|d| d.as_str()).context("a config digest")?.to_owned();
            http.get(format!("{registry}/v2/{REPO}/blobs/{config}")).send().await?.bytes().await?;
            Ok(())
        })
        .buffer_unordered(16)
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(started.elapsed().as_secs_f64())
}

/// serde_json under a name that says what it is used for here.
mod serde_json_value {
    pub use serde_json::Value;
}

fn gzip_size(path: &Path) -> Result<u64> {
    use std::io::Write;
    let bytes = std::fs::read(path).with_context(|| format!("reading {} (build with cargo leptos build --release)", path.display()))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&bytes)?;
    Ok(gz.finish()?.len() as u64)
}

pub async fn run(o: Options) -> Result<()> {
    eprintln!("seeding {} tags into a local CNCF distribution…", o.tags);
    let registry = Registry::start(Kind::Anonymous, o.tags).await?;
    let http = reqwest::Client::new();
    let mut tags = portolan_oci::Client::new(portolan_oci::ClientConfig::new(&registry.url))?
        .tags(&portolan_oci::RepoName::parse(REPO)?)
        .await?
        .to_vec();
    // The page's first 50 tags, in its default (version) order: what it must read.
    tags.sort_by(|a, b| match (semver_of(a), semver_of(b)) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    });
    let (mut cold_first, mut cold_total, mut warm_first, mut floors, mut complete) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..o.rounds {
        if round % 2 == 1 {
            floors.push(floor(&http, &registry.url, &tags).await?);
        }
        let server = start_server(&o.server, &registry.url).await?;
        let page = format!("{}/r/bench/{REPO}", server.url);
        let (first, total, rows) = load(&http, &page).await?;
        cold_first.push(first);
        cold_total.push(total);
        complete.push(rows as f64);
        let (first, _, _) = load(&http, &page).await?;
        warm_first.push(first);
        drop(server);
        if round % 2 == 0 {
            floors.push(floor(&http, &registry.url, &tags).await?);
        }
    }
    let (cf, ct, wf, fl) = (median(cold_first), median(cold_total), median(warm_first), median(floors));
    let wasm = gzip_size(&o.pkg.join("portolan.wasm"))?;
    let js = gzip_size(&o.pkg.join("portolan.js"))?;
    println!("portolan-bench web: first page ({PAGE} tags) of a {}-tag repository, {} rounds, medians", o.tags, o.rounds);
    println!("{:<56} {:>10} {:>10} {:>8}", "measurement", "ours", "other", "ratio");
    println!("{:<56} {:>9.3}s {:>9.3}s {:>8.2}", "cold: time to first byte / registry floor", cf, fl, cf / fl);
    println!("{:<56} {:>9.3}s {:>9.3}s {:>8.2}", "cold: full page / registry floor", ct, fl, ct / fl);
    println!("{:<56} {:>9.3}s {:>9.3}s {:>8.3}", "warm / cold (time to first byte)", wf, cf, wf / cf);
    println!("rows with details in the cold page: {} of {PAGE} (the rest are filled in by the browser)", median(complete));
    println!(
        "hydration bundle, gzip: {:.1} KB wasm + {:.1} KB js = {:.1} KB (target ≤ 350 KB: {})",
        wasm as f64 / 1000.0,
        js as f64 / 1000.0,
        (wasm + js) as f64 / 1000.0,
        if wasm + js <= 350_000 { "met" } else { "NOT met" }
    );
    Ok(())
}

fn semver_of(tag: &str) -> Option<semver::Version> {
    semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()
}
