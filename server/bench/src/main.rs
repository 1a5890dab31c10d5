//! `portolan-bench`: benchmarks that print ratios measured side by side in one run (the machine
//! is noisy; absolute times are printed for context only).
//!
//!   portolan-bench oci [--tags 5000] [--rounds 5]
//!   portolan-bench web [--tags 5000] [--rounds 5]
//!   portolan-bench retention [--tags 10000] [--rounds 3] [--deletions 100]
//!   portolan-bench search [--repositories 10000] [--copies 100] [--manifests 100000] [--rounds 5]
//!   portolan-bench storage [--repositories 10000] [--images 10] [--layers 9] [--rounds 5]
//!   portolan-bench verify [--tags 1000] [--rounds 5] [--signatures 2000]
//!   portolan-bench all [--quick]
//!
//! Every benchmark takes `--quick`: small sizes and few rounds, to see that it runs (CI), not
//! to measure.

mod floor;
mod oci;
mod retention;
mod search;
mod storage;
mod verify;
mod web;

use std::time::Instant;

use anyhow::bail;
use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Portolan's benchmarks: ratios measured side by side", version)]
struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// The OCI client: listing and resolving a repository of many tags.
    Oci(oci::Options),
    /// The web app: the first page of a 5,000-tag repository, cold and warm, in Chromium vs a
    /// static copy; bundle size; memory; requests per second; Postgres vs SQLite.
    Web(web::Options),
    /// Retention: a dry run over 10,000 tags vs its registry requests, peak memory, the what-if
    /// preview after an edit, deletions per second vs bare DELETEs.
    Retention(retention::Options),
    /// Search: the catalog filter over 10,000 repositories vs a plain scan, a full crawl vs the
    /// requests it needs, where-used lookups with 100,000 indexed manifests vs a primary-key
    /// lookup.
    Search(search::Options),
    /// Storage: a registry's storage page over 10,000 repositories and 1,000,000 blob
    /// references from the kept figures vs plain SQL aggregates over the same rows, on SQLite
    /// and Postgres.
    Storage(storage::Options),
    /// Signature verification: every tag's signatures of a 1,000-tag repository, cold, vs the
    /// requests fetching them; the CPU cost per signature, by format.
    Verify(verify::Options),
    /// Every other benchmark, one after another, each with `--quick` when given; fails (after
    /// running the rest) if any failed — not when a ratio misses its target.
    All(AllOptions),
}

#[derive(clap::Args)]
struct AllOptions {
    /// Each benchmark at small sizes, to see that it runs (CI).
    #[arg(long)]
    quick: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Every figure below comes from this revision and this command.
    println!("revision {} · command: {}", revision(), std::env::args().collect::<Vec<_>>().join(" "));
    dispatch(Args::parse().what).await
}

/// The checkout's git revision, `+changes` when its files differ from it (`unknown` outside git).
fn revision() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(rev) if git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty()) => format!("{rev}+changes"),
        Some(rev) => rev,
        None => "unknown".to_owned(),
    }
}

async fn dispatch(what: What) -> anyhow::Result<()> {
    match what {
        What::Oci(options) => oci::run(options).await,
        What::Web(options) => web::run(options).await,
        What::Retention(options) => retention::run(options).await,
        What::Search(options) => search::run(options).await,
        What::Storage(options) => storage::run(options).await,
        What::Verify(options) => verify::run(options).await,
        What::All(options) => all(options.quick).await,
    }
}

/// Runs every subcommand but `all` (found from the command line's own description, so a
/// benchmark added later is run too), as `portolan-bench <name> [--quick]`.
async fn all(quick: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let names: Vec<String> =
        Args::command().get_subcommands().map(|c| c.get_name().to_owned()).filter(|n| n != "all" && n != "help").collect();
    let mut failed = Vec::new();
    for name in &names {
        let mut argv = vec!["portolan-bench", name.as_str()];
        if quick {
            argv.push("--quick");
        }
        let what = Args::try_parse_from(&argv)?.what;
        eprintln!("==> {}", argv.join(" "));
        let t = Instant::now();
        match Box::pin(dispatch(what)).await {
            Ok(()) => eprintln!("<== {name}: done in {:.0} s", t.elapsed().as_secs_f64()),
            Err(e) => {
                eprintln!("<== {name}: FAILED after {:.0} s: {e:#}", t.elapsed().as_secs_f64());
                failed.push(name.as_str());
            }
        }
        println!();
    }
    eprintln!("all benchmarks ({}) ran in {:.0} s", names.join(", "), started.elapsed().as_secs_f64());
    if !failed.is_empty() {
        bail!("{} of {} benchmarks failed: {}", failed.len(), names.len(), failed.join(", "));
    }
    Ok(())
}

/// The median of some durations, in seconds.
pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 { samples[n / 2] } else { (samples[n / 2 - 1] + samples[n / 2]) / 2.0 }
}

/// The median of some samples and their range.
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(samples: &[f64]) -> Self {
        let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
        let max = samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Self { median: median(samples.to_vec()), min, max }
    }

    /// "median (min–max)", each value times `scale`, with `decimals` decimals.
    pub fn show(&self, scale: f64, decimals: usize) -> String {
        format!("{:.*} ({:.*}–{:.*})", decimals, self.median * scale, decimals, self.min * scale, decimals, self.max * scale)
    }
}
