//! `portolan-demo`: what `scripts/demo` saves in the demo's store before Portolan starts — a
//! retention policy in dry run over the demo's 1,500-tag repository, there to open, preview and
//! run (a dry run deletes nothing). Saved once: a policy of the same name is left as it is.
//!
//!   portolan-demo --data-dir target/demo/data --registry anonymous

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Parser;
use portolan_retention::{MostRecent, RankBy, RawKeep, RawPolicy};
use portolan_store::{Location, Store, StoreConfig};

#[derive(Parser)]
#[command(about = "Saves the demo's retention policy (dry run) in Portolan's SQLite store", version)]
struct Args {
    /// Portolan's data directory (its SQLite store).
    #[arg(long)]
    data_dir: PathBuf,
    /// The registry the policy is on (a name from Portolan's configuration).
    #[arg(long)]
    registry: String,
}

/// The policy's name: also how a second start finds it saved already.
const NAME: &str = "Demo: keep the 20 newest versions of stress/many-tags";

/// The demo's policy: the 20 highest versions and every `build-*` tag of the last 30 days kept,
/// `nightly-*` protected, in dry run, on demand only.
fn policy(registry: &str) -> RawPolicy {
    RawPolicy {
        name: NAME.to_owned(),
        registry: registry.to_owned(),
        repositories: vec!["stress/many-tags".to_owned()],
        keep: RawKeep {
            most_recent: Some(MostRecent { count: 20, by: RankBy::Version }),
            newer_than_days: Some(30),
            tag_patterns: vec!["latest".to_owned()],
            versions: None,
            ..RawKeep::default()
        },
        protected: vec!["nightly-*".to_owned()],
        max_deletions: 500,
        dry_run: true,
        ..RawPolicy::default()
    }
}

/// Saves the policy unless one of its name is there; says which.
async fn save(store: &Store, registry: &str) -> Result<String> {
    let policy = portolan_retention::validate(policy(registry), &[registry]).map_err(|errors| {
        anyhow::anyhow!("the demo's policy does not validate: {}", errors.iter().map(|e| format!("{e:?}")).collect::<Vec<_>>().join("; "))
    })?;
    if store.policies().await?.iter().any(|p| p.name == NAME) {
        return Ok(format!("the retention policy {NAME:?} is saved already"));
    }
    let body = serde_json::to_string(policy.raw())?;
    let record = store.policy_create(policy.name(), policy.registry(), &body, Some("portolan-demo")).await?;
    Ok(format!("saved the retention policy {NAME:?} (dry run): /admin/policies/{}", record.id))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.registry.is_empty() {
        bail!("--registry names one of the configured registries");
    }
    let store = Store::open(&StoreConfig::new(Location::Sqlite(args.data_dir.clone())))
        .await
        .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
    let said = save(&store, &args.registry).await;
    store.close().await;
    eprintln!("portolan-demo: {}", said?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_policy_is_saved_once_in_dry_run() {
        tokio::time::timeout(std::time::Duration::from_secs(120), saved_once()).await.expect("within two minutes");
    }

    async fn saved_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreConfig::new(Location::Sqlite(dir.path().to_owned()))).await.unwrap();
        assert!(save(&store, "anonymous").await.unwrap().starts_with("saved"));
        assert!(save(&store, "anonymous").await.unwrap().contains("saved already"));
        let saved = store.policies().await.unwrap();
        assert_eq!(saved.len(), 1);
        let raw: RawPolicy = serde_json::from_str(&saved[0].body).unwrap();
        assert!(raw.dry_run);
        assert_eq!((saved[0].registry.as_str(), raw.repositories), ("anonymous", vec!["stress/many-tags".to_owned()]));
        store.close().await;
    }
}
