//! Portolan built in process from a configuration (feature `testing`): one way to go from TOML
//! to a configuration, Leptos' options and a state, for the benchmarks ([`TestApp`]) and the
//! integration tests (whose harness, `server/tests/it/support`, builds its router on
//! [`config`] and [`leptos_options`]), so neither carries a copy.

use clap::Parser;
use leptos::config::LeptosOptions;
use portolan_app::ssr::AppState;
use portolan_service::Registry;

use crate::config::{Cli, Config};

/// Portolan in process: its configuration, state and store, and the directory holding the
/// configuration file and the data (removed when this is dropped).
pub struct TestApp {
    pub config: Config,
    pub state: AppState,
    pub store: portolan_store::Store,
    pub dir: tempfile::TempDir,
}

/// Leptos' options from the workspace's `Leptos.toml`.
pub fn leptos_options() -> LeptosOptions {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../Leptos.toml");
    leptos_config::get_configuration(Some(path)).expect("Leptos.toml reads").leptos_options
}

/// The configuration `toml` would give, with the data directory `data` (no environment).
pub fn config(toml: &str, dir: &std::path::Path) -> anyhow::Result<Config> {
    let path = dir.join("portolan.toml");
    std::fs::write(&path, toml)?;
    let data = dir.join("data");
    let as_str = |p: &std::path::Path| p.to_str().map(str::to_owned).ok_or_else(|| anyhow::anyhow!("a path that is not UTF-8"));
    let cli = Cli::parse_from(["portolan", "--config", &as_str(&path)?, "--data-dir", &as_str(&data)?]);
    Ok(Config::load_with(cli, &|_| None)?)
}

impl TestApp {
    /// Portolan as `toml` configures it: its registries' real clients and its own store.
    pub async fn new(toml: &str) -> anyhow::Result<Self> {
        Self::with(toml, None, None).await
    }

    /// Portolan as `toml` configures it, with `registries` instead of the configured ones'
    /// clients (e.g. registries in memory) and `store` instead of its own, where given.
    pub async fn with(toml: &str, registries: Option<Vec<Registry>>, store: Option<portolan_store::Store>) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let config = config(toml, dir.path())?;
        let store = match store {
            Some(s) => s,
            None => portolan_store::Store::open(&config.store).await?,
        };
        let registries = match registries {
            Some(r) => r,
            None => crate::registries(&config).map_err(|e| anyhow::anyhow!("{e}"))?,
        };
        let state = crate::state(leptos_options(), registries, &config, store.clone());
        Ok(Self { config, state, store, dir })
    }
}
