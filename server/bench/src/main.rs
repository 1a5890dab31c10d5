//! `portolan-bench`: benchmarks that print ratios measured side by side in one run (the machine
//! is noisy; absolute times are printed for context only).
//!
//!   portolan-bench oci [--tags 5000] [--rounds 5]
//!   portolan-bench web [--tags 5000] [--rounds 5]
//!   portolan-bench retention [--tags 10000] [--rounds 5] [--deletions 100]
//!   portolan-bench search [--repositories 10000] [--copies 100] [--manifests 100000] [--rounds 5]
//!   portolan-bench storage [--repositories 10000] [--images 10] [--layers 8] [--rounds 5]
//!   portolan-bench verify [--tags 1000] [--rounds 5] [--signatures 2000]

mod floor;
mod oci;
mod retention;
mod search;
mod storage;
mod verify;
mod web;

use clap::{Parser, Subcommand};

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
    /// The web app: the first page of a 5,000-tag repository, cold and warm; bundle size.
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Args::parse().what {
        What::Oci(options) => oci::run(options).await,
        What::Web(options) => web::run(options).await,
        What::Retention(options) => retention::run(options).await,
        What::Search(options) => search::run(options).await,
        What::Storage(options) => storage::run(options).await,
        What::Verify(options) => verify::run(options).await,
    }
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
