//! Starts seeded registries and keeps them up until interrupted (SIGINT/SIGTERM) or until its
//! standard input closes; everything it started stops with it.
//!
//!   portolan-testkit --kinds anonymous,token --many-tags 1500 \
//!       --json target/testkit.json --portolan-config target/portolan.toml

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use portolan_testkit::{Kind, Registry};
use serde_json::json;

#[derive(Parser)]
#[command(about = "Starts seeded test registries for Portolan", version)]
struct Args {
    /// Registry kinds to start: anonymous, basic, token, ferro (comma separated).
    #[arg(long, default_value = "anonymous", value_delimiter = ',')]
    kinds: Vec<String>,
    /// Tags to push into `stress/many-tags` of each registry.
    #[arg(long, default_value_t = 0)]
    many_tags: usize,
    /// Write the registries (URLs, credentials, seeded digests) here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a Portolan configuration browsing them here (TOML).
    #[arg(long)]
    portolan_config: Option<PathBuf>,
    /// Also configure a registry named `down` that nothing listens on.
    #[arg(long)]
    with_unreachable: bool,
    /// Also configure each authenticated registry a second time, without credentials, as
    /// `<name>-anonymous` (to see what users without access see).
    #[arg(long)]
    with_anonymous_copies: bool,
    /// Also configure the first registry again behind a proxy that delays each manifest and
    /// blob request by this many milliseconds, as `slow`.
    #[arg(long)]
    with_slow_copy: Option<u64>,
    /// Also configure the first registry again behind a proxy answering every tag list with
    /// 429 Too Many Requests (Retry-After: an hour), as `limited`.
    #[arg(long)]
    with_rate_limited_copy: bool,
    /// Stop when standard input reaches end of file (for parents that cannot send signals).
    #[arg(long)]
    stop_on_stdin_eof: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let kinds = args.kinds.iter().map(|k| Kind::parse(k)).collect::<Result<Vec<_>>>()?;
    let started = std::time::Instant::now();
    let registries = futures::future::try_join_all(kinds.iter().map(|k| Registry::start(*k, args.many_tags))).await?;

    let mut toml = String::from("# Written by portolan-testkit: registries that live as long as it does.\n");
    let mut listed = Vec::new();
    for r in &registries {
        let name = r.kind.name();
        toml.push_str(&format!("\n[[registries]]\nname = \"{name}\"\ntitle = \"{}\"\nurl = \"{}\"\n", r.kind.title(), r.url));
        if let Some((u, p)) = &r.admin {
            toml.push_str(&format!("username = \"{u}\"\npassword = \"{p}\"\n"));
        }
        listed.push(json!({
            "name": name, "url": r.url, "kind": r.kind,
            "username": r.admin.as_ref().map(|a| &a.0), "password": r.admin.as_ref().map(|a| &a.1),
            "referrersApi": r.has_referrers_api(), "seed": r.seed,
        }));
    }
    if args.with_anonymous_copies {
        for r in registries.iter().filter(|r| r.admin.is_some()) {
            let name = format!("{}-anonymous", r.kind.name());
            toml.push_str(&format!(
                "\n[[registries]]\nname = \"{name}\"\ntitle = \"{} without credentials\"\nurl = \"{}\"\n",
                r.kind.title(),
                r.url
            ));
            listed.push(json!({"name": name, "url": r.url, "kind": r.kind}));
        }
    }
    let mut slow = None;
    if let (Some(delay), Some(first)) = (args.with_slow_copy, registries.first()) {
        let proxy = portolan_testkit::slow::SlowProxy::start(&first.url, std::time::Duration::from_millis(delay)).await?;
        toml.push_str(&format!("\n[[registries]]\nname = \"slow\"\ntitle = \"{} (slow)\"\nurl = \"{}\"\n", first.kind.title(), proxy.url));
        if let Some((u, p)) = &first.admin {
            toml.push_str(&format!("username = \"{u}\"\npassword = \"{p}\"\n"));
        }
        listed.push(json!({"name": "slow", "url": proxy.url, "kind": first.kind, "delayMs": delay}));
        slow = Some(proxy);
    }
    let mut limited = None;
    if let (true, Some(first)) = (args.with_rate_limited_copy, registries.first()) {
        let proxy = portolan_testkit::slow::SlowProxy::rate_limited(&first.url, 3600).await?;
        toml.push_str(&format!(
            "\n[[registries]]\nname = \"limited\"\ntitle = \"{} (rate limited)\"\nurl = \"{}\"\nmax_retries = 0\n",
            first.kind.title(),
            proxy.url
        ));
        listed.push(json!({"name": "limited", "url": proxy.url, "kind": first.kind}));
        limited = Some(proxy);
    }
    if args.with_unreachable {
        let addr = portolan_testkit::process::free_addr()?;
        toml.push_str(&format!(
            "\n[[registries]]\nname = \"down\"\ntitle = \"Unreachable (nothing listens there)\"\nurl = \"http://{addr}\"\ntimeout_secs = 5\n"
        ));
        listed.push(json!({"name": "down", "url": format!("http://{addr}"), "kind": "unreachable"}));
    }
    if let Some(path) = &args.portolan_config {
        std::fs::write(path, &toml).with_context(|| format!("writing {}", path.display()))?;
    }
    let summary = json!({"registries": listed, "pid": std::process::id()});
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&summary)?).with_context(|| format!("writing {}", path.display()))?;
    }
    for r in &registries {
        eprintln!("portolan-testkit: {} registry at {} ({} tags in stress/many-tags)", r.kind.name(), r.url, r.seed.many_tags);
    }
    eprintln!("portolan-testkit: ready in {:.1} s", started.elapsed().as_secs_f64());
    println!("ready");

    let stdin_closed = async {
        if args.stop_on_stdin_eof {
            let _ = tokio::task::spawn_blocking(|| {
                let mut sink = Vec::new();
                std::io::stdin().read_to_end(&mut sink)
            })
            .await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = stdin_closed => {}
    }
    drop(slow);
    drop(limited);
    let mut registries = registries;
    for r in &mut registries {
        r.kill();
    }
    eprintln!("portolan-testkit: registries stopped; removing their storage");
    drop(registries);
    eprintln!("portolan-testkit: stopped");
    Ok(())
}
