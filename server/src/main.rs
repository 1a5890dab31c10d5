//! `portolan`: reads the configuration, opens the store, serves until SIGINT or SIGTERM, then
//! finishes the requests in flight. The site (WebAssembly, JavaScript and their compressed
//! copies, as `cargo leptos build` wrote them in `target/site` before building this binary) is
//! built in.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use portolan_server::config::{Cli, Config, LogFormat};
use portolan_server::files::{Embedded, Site};
use portolan_server::{Parts, StartError, app, leptos_options, registries, state};
use tracing_subscriber::EnvFilter;

/// The site as `cargo leptos build` left it, but the TypeScript declarations (`build.rs` says
/// when to build the binary again).
#[derive(rust_embed::RustEmbed)]
#[folder = "../target/site"]
#[exclude = "*.d.ts"]
#[exclude = "*.d.ts.*"]
#[allow_missing = true]
struct SiteFiles;

/// The built-in site, or None when the binary was built without a whole one (before
/// `cargo leptos build` wrote the WebAssembly and its JavaScript).
fn built_in_site(options: &leptos::config::LeptosOptions) -> Option<Arc<Embedded>> {
    let files = SiteFiles::iter().filter_map(|path| {
        let file = SiteFiles::get(&path)?;
        Some((path.into_owned(), file.data, file.metadata.sha256_hash()))
    });
    let site = Embedded::new(&options.site_pkg_dir, files);
    site.is_complete(&options.output_name).then(|| Arc::new(site))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let check = cli.check;
    let config = match Config::load(cli) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("portolan: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // The format comes from the command line, the environment or the file (in that order).
    init_logs(config.log_format == LogFormat::Json);
    match run(config, check).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portolan: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logs(json: bool) {
    let filter = EnvFilter::try_from_env("PORTOLAN_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    if json {
        tracing_subscriber::fmt().with_env_filter(filter).json().with_current_span(true).with_span_list(false).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
}

async fn run(config: Config, check: bool) -> Result<(), StartError> {
    let leptos_options = leptos_options(&config)?;
    let addr = leptos_options.site_addr;
    for w in config.warnings() {
        tracing::warn!("{w}");
    }
    if check {
        println!(
            "configuration OK: {} registries, {} sign-in providers{}, {} trust policies, store: {}, listening on {addr}",
            config.registries.len(),
            config.auth.providers.len(),
            if config.auth.proxy.is_some() { " and a trusted proxy" } else { "" },
            config.trust.all().len(),
            config.store.location.redacted(),
        );
        return Ok(());
    }
    let registries = registries(&config)?;
    let store = portolan_store::Store::open(&config.store).await.map_err(|e| StartError(format!("opening the store: {e}")))?;
    let mut parts = Parts::new(&config, addr, store.clone())?;
    parts.site = match (&config.site_root, built_in_site(&leptos_options)) {
        (None, Some(site)) => {
            tracing::info!(hash = %site.hash(), "serving the site built into the binary");
            Site::Embedded(site)
        }
        (Some(root), _) => {
            tracing::info!("serving the site from {}", root.display());
            Site::Directory
        }
        (None, None) => {
            tracing::warn!(
                "this binary carries no whole site (it was built before `cargo leptos build` wrote target/site): serving the site from {}",
                leptos_options.site_root
            );
            Site::Directory
        }
    };
    if parts.guard.hosts.is_none() {
        tracing::warn!("listening on all interfaces without public_url or allowed_hosts: any Host header is accepted");
    }
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| StartError(format!("cannot listen on {addr}: {e}")))?;
    tracing::info!("Portolan listening on http://{addr} ({} registries, store: {})", registries.len(), store.engine().label());
    let state = state(leptos_options, registries, &config, store.clone());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let upkeep = tokio::spawn(upkeep(state.services.clone(), stop_rx.clone()));
    let scheduler = tokio::spawn(portolan_server::scheduler::run(state.services.clone(), stop_rx.clone()));
    let crawler = tokio::spawn(portolan_server::crawler::run(state.services.clone(), stop_rx));
    let served = axum::serve(listener, app(state.clone(), parts).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| StartError(format!("serving: {e}")));
    // Retention runs of this replica stop before their next deletion and hand back their leases.
    let left = state.runs.stop_all(Duration::from_secs(20)).await;
    if left > 0 {
        tracing::warn!(
            runs = left,
            "retention runs still going at shutdown: their leases run out and another replica marks them interrupted"
        );
    }
    let _ = stop_tx.send(true);
    let _ = upkeep.await;
    let _ = scheduler.await;
    let _ = crawler.await;
    store.close().await;
    served
}

/// Upkeep every ten minutes ([`portolan_service::upkeep::pass`]: ended sessions, trash past
/// `trash_days`, audit entries past `audit_days`); this is only the loop.
async fn upkeep(services: portolan_service::Services, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        portolan_service::upkeep::pass(&services, time::OffsetDateTime::now_utc()).await;
    }
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
    tracing::info!("shutting down: finishing the requests in flight");
}
