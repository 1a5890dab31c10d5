//! Starts seeded registries and keeps them up until interrupted (SIGINT/SIGTERM) or until its
//! standard input closes; everything it started stops with it.
//!
//!   portolan-testkit --kinds anonymous,token --many-tags 1500 \
//!       --json target/testkit.json --portolan-config target/portolan.toml
//!
//! With `--with-oidc --portolan-url http://127.0.0.1:PORT` it also starts an OpenID provider
//! (npm `oidc-provider`, users alice, bob and carol) whose client redirects to that Portolan, and
//! the configuration gets sign-in: `public_url`, the provider, grants (group `/platform/admins`:
//! admin; `/dev`: maintainer on the token and ferro registries; anyone signed in: viewer),
//! `anonymous_read = true` on every registry but `private` (the first registry again, for
//! signed-in people only). With `--demo-users` as well, the provider's users are instead
//! `admin`, `maintainer` and `viewer` (random passwords, in the JSON file), each with that role
//! on every registry.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use portolan_testkit::oidc::{OidcConfig, OidcProvider, OidcUser};
use portolan_testkit::{Kind, READER, Registry};
use serde_json::json;

/// The provider's id in the generated configuration (URL segment and grant prefix).
const PROVIDER_ID: &str = "sso";

/// The demo's users, named after the role each has (`--demo-users`).
const DEMO_ROLES: [&str; 3] = ["admin", "maintainer", "viewer"];

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
    /// Also configure the token registry again with a static bearer token (a password without
    /// username) minted by its token server, pull-only, valid a day, as `token-bearer`.
    #[arg(long)]
    with_bearer_copy: bool,
    /// Start an OpenID Connect provider and configure sign-in with it (needs --portolan-url).
    #[arg(long, requires = "portolan_url")]
    with_oidc: bool,
    /// Where the Portolan using the generated configuration will listen (its public_url, and
    /// the provider's redirect URIs).
    #[arg(long)]
    portolan_url: Option<String>,
    /// With --with-oidc: the users are admin, maintainer and viewer, each with that role on
    /// every registry (for the demo), instead of alice, bob and carol.
    #[arg(long, requires = "with_oidc")]
    demo_users: bool,
    /// Stop when standard input reaches end of file (for parents that cannot send signals).
    #[arg(long)]
    stop_on_stdin_eof: bool,
    /// Turn on the crawl of every registry started (unthrottled, a pass a minute), so the
    /// where-used index and the storage figures cover them whole.
    #[arg(long)]
    with_crawl: bool,
}

/// Secrets the configuration holds (or that back it): tests check none ever shows.
fn secret(what: impl Into<String>, value: impl Into<String>) -> serde_json::Value {
    json!({"what": what.into(), "value": value.into()})
}

/// A secret sent with a user name, as HTTP Basic authentication sends it (`user:value` in
/// base64): the end-to-end scan also looks for that form.
fn basic_secret(what: impl Into<String>, user: &str, value: impl Into<String>) -> serde_json::Value {
    json!({"what": what.into(), "value": value.into(), "user": user})
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let kinds = args.kinds.iter().map(|k| Kind::parse(k)).collect::<Result<Vec<_>>>()?;
    let started = std::time::Instant::now();
    let portolan_url = args.portolan_url.as_deref().map(|u| u.trim_end_matches('/').to_owned());
    let oidc = async {
        match (&portolan_url, args.with_oidc) {
            (Some(url), true) => {
                let mut config = OidcConfig::default()
                    .redirect_uri(&format!("{url}/auth/callback/{PROVIDER_ID}"))
                    .post_logout_redirect_uri(&format!("{url}/"));
                if args.demo_users {
                    config.users = DEMO_ROLES.iter().map(|role| OidcUser::demo(role)).collect();
                }
                OidcProvider::start(config).await.map(Some)
            }
            _ => Ok(None),
        }
    };
    let (registries, oidc) =
        futures::future::try_join(futures::future::try_join_all(kinds.iter().map(|k| Registry::start(*k, args.many_tags))), oidc).await?;
    // With sign-in, every registry but `private` may be browsed without signing in.
    let anonymous_read = if oidc.is_some() { "anonymous_read = true\n" } else { "" };
    let crawl = if args.with_crawl { "crawl = true\ncrawl_requests_per_minute = 100000\ncrawl_interval_minutes = 1\n" } else { "" };

    let mut head = String::from("# Written by portolan-testkit: registries that live as long as it does.\n");
    let mut toml = String::new();
    let mut listed = Vec::new();
    let mut secrets = Vec::new();
    for r in &registries {
        let name = r.kind.name();
        toml.push_str(&format!(
            "\n[[registries]]\nname = \"{name}\"\ntitle = \"{}\"\nurl = \"{}\"\n{anonymous_read}{crawl}",
            r.kind.title(),
            r.url
        ));
        if let Some((u, p)) = &r.admin {
            toml.push_str(&format!("username = \"{u}\"\npassword = \"{p}\"\n"));
            secrets.push(basic_secret(format!("the password of {u} on {name}"), u, p.clone()));
        }
        if let Some(token) = &r.token {
            secrets.push(basic_secret(format!("the password of {} on {name}", READER.0), READER.0, READER.1));
            secrets.push(secret(format!("the signing key of {name}'s token server"), token.key_pem.clone()));
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
                "\n[[registries]]\nname = \"{name}\"\ntitle = \"{} without credentials\"\nurl = \"{}\"\n{anonymous_read}",
                r.kind.title(),
                r.url
            ));
            listed.push(json!({"name": name, "url": r.url, "kind": r.kind}));
        }
    }
    let mut slow = None;
    if let (Some(delay), Some(first)) = (args.with_slow_copy, registries.first()) {
        let proxy = portolan_testkit::slow::SlowProxy::start(&first.url, std::time::Duration::from_millis(delay)).await?;
        toml.push_str(&format!(
            "\n[[registries]]\nname = \"slow\"\ntitle = \"{} (slow)\"\nurl = \"{}\"\n{anonymous_read}",
            first.kind.title(),
            proxy.url
        ));
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
            "\n[[registries]]\nname = \"limited\"\ntitle = \"{} (rate limited)\"\nurl = \"{}\"\nmax_retries = 0\n{anonymous_read}",
            first.kind.title(),
            proxy.url
        ));
        listed.push(json!({"name": "limited", "url": proxy.url, "kind": first.kind}));
        limited = Some(proxy);
    }
    if args.with_unreachable {
        let addr = portolan_testkit::process::unused_addr()?;
        toml.push_str(&format!(
            "\n[[registries]]\nname = \"down\"\ntitle = \"Unreachable (nothing listens there)\"\nurl = \"http://{addr}\"\ntimeout_secs = 5\n{anonymous_read}"
        ));
        listed.push(json!({"name": "down", "url": format!("http://{addr}"), "kind": "unreachable"}));
    }
    if args.with_bearer_copy
        && let Some(r) = registries.iter().find(|r| r.kind == Kind::Token)
        && let Some(server) = &r.token
    {
        // Pull on the seeded repositories and the catalog, for a day: a static bearer token.
        let pull: &[&str] = &["pull"];
        let mut scopes: Vec<(&str, &str, &[&str])> = ["library/hello", "team/platform/api", "charts/portolan-demo", "stress/many-tags"]
            .into_iter()
            .map(|repo| ("repository", repo, pull))
            .collect();
        scopes.push(("registry", "catalog", &["*"]));
        let token = server.mint_for(&scopes, std::time::Duration::from_secs(24 * 3600))?;
        toml.push_str(&format!(
            "\n[[registries]]\nname = \"token-bearer\"\ntitle = \"{} (static bearer token)\"\nurl = \"{}\"\npassword = \"{token}\"\n{anonymous_read}",
            r.kind.title(),
            r.url
        ));
        secrets.push(secret("the static bearer token of token-bearer", token));
        listed.push(json!({"name": "token-bearer", "url": r.url, "kind": r.kind}));
    }
    let mut sign_in = serde_json::Value::Null;
    if let (Some(provider), Some(url)) = (&oidc, &portolan_url) {
        let first = registries.first().context("no registry to copy as `private`")?;
        toml.push_str(&format!(
            "\n[[registries]]\nname = \"private\"\ntitle = \"{} (private)\"\nurl = \"{}\"\nanonymous_read = false\n",
            first.kind.title(),
            first.url
        ));
        if let Some((u, p)) = &first.admin {
            toml.push_str(&format!("username = \"{u}\"\npassword = \"{p}\"\n"));
        }
        listed.push(json!({"name": "private", "url": first.url, "kind": first.kind, "anonymousRead": false}));
        let secret_value = provider.client_secret().unwrap_or_default();
        head.push_str(&format!("public_url = \"{url}\"\n"));
        toml.push_str(&format!(
            "\n[[auth.providers]]\nid = \"{PROVIDER_ID}\"\nkind = \"oidc\"\ntitle = \"Test SSO\"\nissuer = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{secret_value}\"\nscopes = [\"openid\", \"profile\", \"email\", \"groups\"]\n",
            provider.issuer(),
            provider.client_id(),
        ));
        if args.demo_users {
            for role in ["admin", "maintainer"] {
                toml.push_str(&format!("\n[[grants]]\nrole = \"{role}\"\ngroups = [\"{PROVIDER_ID}:/portolan/{role}s\"]\n"));
            }
        } else {
            toml.push_str(&format!("\n[[grants]]\nrole = \"admin\"\ngroups = [\"{PROVIDER_ID}:/platform/admins\"]\n"));
            for r in registries.iter().filter(|r| matches!(r.kind, Kind::Token | Kind::Ferro)) {
                toml.push_str(&format!(
                    "\n[[grants]]\nrole = \"maintainer\"\nregistry = \"{}\"\ngroups = [\"{PROVIDER_ID}:/dev\"]\n",
                    r.kind.name()
                ));
            }
        }
        toml.push_str("\n[[grants]]\nrole = \"viewer\"\nsigned_in = true\n");
        secrets.push(basic_secret("the OpenID client secret", provider.client_id(), secret_value));
        secrets.push(secret("the OpenID provider's signing key", provider.signing_key_pem()));
        let roles =
            if args.demo_users { DEMO_ROLES.map(|r| (r, r)) } else { [("alice", "admin"), ("bob", "maintainer"), ("carol", "viewer")] };
        let users: Vec<serde_json::Value> = provider
            .users()
            .iter()
            .map(|u| {
                secrets.push(secret(format!("{}'s password at the OpenID provider", u.login), u.password.clone()));
                let role = roles.iter().find(|(l, _)| *l == u.login).map(|(_, r)| *r);
                json!({"login": u.login, "password": u.password, "name": u.name, "groups": u.groups, "role": role})
            })
            .collect();
        sign_in = json!({
            "providerId": PROVIDER_ID, "issuer": provider.issuer(), "clientId": provider.client_id(),
            "clientSecret": secret_value, "portolanUrl": url, "users": users,
        });
    }
    // The demo's signed images (`acme/app`) are judged by a trust policy naming its signers.
    toml.push_str(&portolan_testkit::seed::demo_signers().trust_policy_toml());
    let toml = format!("{head}{toml}");
    if let Some(path) = &args.portolan_config {
        std::fs::write(path, &toml).with_context(|| format!("writing {}", path.display()))?;
    }
    let summary = json!({"registries": listed, "oidc": sign_in, "secrets": secrets, "pid": std::process::id()});
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
    drop(oidc);
    let mut registries = registries;
    for r in &mut registries {
        r.kill();
    }
    eprintln!("portolan-testkit: registries stopped; removing their storage");
    drop(registries);
    eprintln!("portolan-testkit: stopped");
    Ok(())
}
