//! `portolan`: reads the configuration, opens the store, serves until SIGINT or SIGTERM.

use clap::Parser;
use portolan_server::config::{Cli, Config};
use portolan_server::{StartError, app, registries, state};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("PORTOLAN_LOG").unwrap_or_else(|_| EnvFilter::new("info,portolan=info")))
        .init();
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portolan: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), StartError> {
    let check = cli.check;
    let config = Config::load(cli).map_err(|e| StartError(e.to_string()))?;
    let path = config.leptos_config.display().to_string();
    let mut leptos_options =
        leptos_config::get_configuration(Some(&path)).map_err(|e| StartError(format!("reading {path}: {e}")))?.leptos_options;
    if let Some(listen) = config.listen {
        leptos_options.site_addr = listen;
    }
    let addr = leptos_options.site_addr;
    if config.registries.is_empty() {
        tracing::warn!("no registry is configured: add [[registries]] to the configuration file (see --help)");
    }
    if check {
        println!("configuration OK: {} registries, listening on {addr}, data in {}", config.registries.len(), config.data_dir.display());
        return Ok(());
    }
    let registries = registries(&config)?;
    let store = portolan_store::Store::open(&portolan_store::StoreConfig::new(portolan_store::Location::Sqlite(config.data_dir.clone())))
        .await
        .map_err(|e| StartError(format!("opening the store: {e}")))?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| StartError(format!("cannot listen on {addr}: {e}")))?;
    tracing::info!("Portolan listening on http://{addr} ({} registries)", registries.len());
    axum::serve(listener, app(state(leptos_options, registries, config.public_url.clone(), store)))
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| StartError(format!("serving: {e}")))
}

async fn shutdown() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}
