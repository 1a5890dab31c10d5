//! Portolan's configuration: a TOML file, then environment variables, then command-line flags,
//! read in two steps — raw input ([`FileConfig`], [`Cli`]) to a validated [`Config`] — so every
//! mistake is reported at start, all at once, with where it is. Secrets never print: they are
//! [`Secret`]s, URLs carrying credentials are refused, and TOML syntax errors are reported by
//! line and column without echoing the line.
//!
//! # Layout
//! - this file: the flags, the file's top level, [`Config::load`].
//! - [`registries`]: the registry tables.
//! - [`auth`]: `[auth]`, its providers and the trusted proxy.
//! - [`secret`]: [`Secret`] and where secrets come from.
//! - [`trust`]: `[[trust_policies]]`, read into `portolan-verify`'s validated policies.

pub mod auth;
pub mod registries;
pub mod secret;
pub mod trust;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use ipnet::IpNet;
use portolan_access::{Access, RawGrant};
use portolan_store::{Location, StoreConfig};
use serde::Deserialize;

pub use auth::{AuthConfig, ProviderConfig, ProviderKind, ProxyConfig};
pub use registries::{RegistryConfig, RegistryFile};
pub use secret::Secret;

const ABOUT: &str = "Portolan: browse and manage the artifacts of OCI registries.";

/// What `portolan --version` prints after the name: the version and the git revision the binary
/// was built from (`unknown` for a build outside git).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (revision ", env!("PORTOLAN_REVISION"), ")");

/// The reference of every setting: `--help` prints it and the README repeats it.
pub const REFERENCE: &str = include_str!("reference.txt");

/// Command-line flags (each also settable through its environment variable).
#[derive(Debug, Parser)]
#[command(name = "portolan", version = VERSION, about = ABOUT, long_about = REFERENCE)]
pub struct Cli {
    /// Configuration file (TOML). Default: portolan.toml in the working directory, if present.
    #[arg(short, long, env = "PORTOLAN_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on. Default: the file's `listen`, else Leptos.toml's site-addr.
    #[arg(long, env = "PORTOLAN_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Directory of the embedded SQLite store. Default: the file's `data_dir`, else ./data.
    #[arg(long, env = "PORTOLAN_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The Leptos site settings file. Default: the Leptos.toml built into the binary.
    #[arg(long, env = "PORTOLAN_LEPTOS_CONFIG", value_name = "FILE")]
    pub leptos_config: Option<PathBuf>,
    /// Serve the site (WebAssembly, JavaScript) from this directory instead of the copy built
    /// into the binary (development: cargo leptos watch sets LEPTOS_SITE_ROOT).
    #[arg(long, env = "LEPTOS_SITE_ROOT", value_name = "DIR")]
    pub site_root: Option<PathBuf>,
    /// The URL Portolan is reached at. Default: the file's `public_url`.
    #[arg(long, env = "PORTOLAN_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// An extra anonymous registry, NAME=URL (repeatable), after those of the file.
    #[arg(long = "registry", value_name = "NAME=URL")]
    pub registries: Vec<String>,
    /// Log lines as `text` or `json`. Default: the file's `log_format`, else text.
    #[arg(long, env = "PORTOLAN_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Check the configuration, print a summary and exit.
    #[arg(long)]
    pub check: bool,
}

/// The configuration file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub public_url: Option<String>,
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    #[serde(default)]
    pub metrics_from: Vec<String>,
    pub database_url: Option<Secret>,
    pub database_url_env: Option<String>,
    pub database_url_file: Option<PathBuf>,
    pub database_max_connections: Option<u32>,
    pub database_timeout_secs: Option<u64>,
    pub log_format: Option<String>,
    pub trash_days: Option<u32>,
    pub audit_days: Option<u32>,
    pub token_max_days: Option<u32>,
    pub retention_lease_secs: Option<u64>,
    #[serde(default)]
    pub auth: auth::AuthFile,
    #[serde(default)]
    pub grants: Vec<RawGrant>,
    #[serde(default)]
    pub registries: Vec<RegistryFile>,
    #[serde(default)]
    pub trust_policies: Vec<portolan_verify::RawTrustPolicy>,
}

/// How log lines look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    /// One JSON object per line.
    Json,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// None: use Leptos.toml's site-addr.
    pub listen: Option<SocketAddr>,
    pub data_dir: PathBuf,
    /// Where Portolan is reached (scheme, host, port; no trailing slash).
    pub public_url: Option<url::Url>,
    /// `Host` values accepted besides the public URL's and, on a loopback listener, loopback names.
    pub allowed_hosts: Vec<String>,
    /// Peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Peers that may read `/metrics` (empty: loopback only).
    pub metrics_from: Vec<IpNet>,
    pub store: StoreConfig,
    pub log_format: LogFormat,
    pub registries: Vec<RegistryConfig>,
    pub auth: AuthConfig,
    /// Who may do what (open read-only when no sign-in is configured).
    pub access: Access,
    /// Days a trash entry stays restorable before its content is purged.
    pub trash_days: u32,
    /// Days audit entries are kept.
    pub audit_days: u32,
    /// The longest an API token may last, in days.
    pub token_max_days: u32,
    /// How long a retention run's lease lasts without renewal (see `retention_lease_secs`).
    pub retention_lease: Duration,
    /// Which signatures are trusted, where.
    pub trust: portolan_verify::TrustPolicies,
    /// None: the Leptos.toml built in.
    pub leptos_config: Option<PathBuf>,
    /// None: the site built into the binary.
    pub site_root: Option<PathBuf>,
}

/// Everything wrong with a configuration, one line each.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

impl Config {
    /// Reads the file (if any) and applies the environment and flags.
    pub fn load(cli: Cli) -> Result<Self, ConfigError> {
        Self::load_with(cli, &|k| std::env::var(k).ok())
    }

    /// [`Config::load`] with an explicit environment (for tests).
    pub fn load_with(cli: Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let (file, origin) = match &cli.config {
            Some(path) => (read_file(path)?, path.display().to_string()),
            None if Path::new("portolan.toml").exists() => (read_file(Path::new("portolan.toml"))?, "portolan.toml".to_owned()),
            None => (FileConfig::default(), "the command line".to_owned()),
        };
        let mut errors = Vec::new();
        let listen = match (cli.listen, &file.listen) {
            (Some(addr), _) => Some(addr),
            (None, Some(text)) => match text.parse() {
                Ok(addr) => Some(addr),
                Err(e) => {
                    errors.push(format!("{origin}: listen = {text:?} is not an address like 127.0.0.1:3000 ({e})"));
                    None
                }
            },
            (None, None) => None,
        };
        let data_dir = cli.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from("data"));
        let public_url = match cli.public_url.or(file.public_url) {
            Some(text) => match url::Url::parse(text.trim_end_matches('/')) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() && u.username().is_empty() => Some(u),
                _ => {
                    errors.push(format!("{origin}: public_url {text:?} must be an http:// or https:// URL with a host"));
                    None
                }
            },
            None => None,
        };
        let mut trusted_proxies = Vec::new();
        for (i, t) in file.trusted_proxies.iter().enumerate() {
            match auth::parse_net(t) {
                Ok(n) => trusted_proxies.push(n),
                Err(e) => errors.push(format!("{origin}: trusted_proxies[{i}]: {e}")),
            }
        }
        let mut metrics_from = Vec::new();
        for (i, t) in file.metrics_from.iter().enumerate() {
            match auth::parse_net(t) {
                Ok(n) => metrics_from.push(n),
                Err(e) => errors.push(format!("{origin}: metrics_from[{i}]: {e}")),
            }
        }
        let log_format = match cli.log_format.or(file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                errors.push(format!("{origin}: log_format {other:?} is not \"text\" or \"json\""));
                LogFormat::Text
            }
        };
        // The store: Postgres when a database URL is given, else SQLite in data_dir.
        let database_url = match env("PORTOLAN_DATABASE_URL") {
            Some(u) => Some(Secret::new(u)),
            None => secret::read(
                "database_url",
                file.database_url.as_ref(),
                file.database_url_env.as_deref(),
                file.database_url_file.as_deref(),
                env,
                &mut errors,
            ),
        };
        let location = match database_url {
            Some(url) if url.expose().starts_with("postgres://") || url.expose().starts_with("postgresql://") => {
                Location::Postgres(url.expose().to_owned())
            }
            Some(_) => {
                errors.push(format!("{origin}: database_url must be a postgres:// URL (leave it out for the embedded SQLite store)"));
                Location::Sqlite(data_dir.clone())
            }
            None => Location::Sqlite(data_dir.clone()),
        };
        let mut store = StoreConfig::new(location);
        if let Some(n) = file.database_max_connections {
            store.max_connections = n.clamp(1, 1000);
        }
        if let Some(s) = file.database_timeout_secs {
            store.acquire_timeout = Duration::from_secs(s.clamp(1, 600));
        }
        let mut raw = file.registries;
        for spec in &cli.registries {
            match spec.split_once('=') {
                Some((name, url)) => raw.push(RegistryFile { name: name.to_owned(), url: url.to_owned(), ..Default::default() }),
                None => errors.push(format!("--registry {spec:?}: expected NAME=URL")),
            }
        }
        let mut registries: Vec<RegistryConfig> = Vec::new();
        for (i, r) in raw.into_iter().enumerate() {
            let at = format!("{origin}: registries[{i}] ({:?})", r.name);
            match registries::validate(r, env) {
                Ok(reg) if registries.iter().any(|x| x.name == reg.name) => errors.push(format!("{at}: the name is used twice")),
                Ok(reg) => registries.push(reg),
                Err(problems) => errors.extend(problems.into_iter().map(|p| format!("{at}: {p}"))),
            }
        }
        let auth = auth::validate(file.auth, env, &origin, &mut errors);
        let access = if auth.enabled() {
            let names: Vec<&str> = registries.iter().map(|r| r.name.as_str()).collect();
            let anonymous = registries.iter().map(|r| (r.name.clone(), r.anonymous_read.unwrap_or(false))).collect();
            match portolan_access::validate_grants(&file.grants, &names, &auth.access_providers()) {
                Ok(grants) => Access::new(grants, anonymous),
                Err(problems) => {
                    errors.extend(problems.into_iter().map(|p| format!("{origin}: {p}")));
                    Access::default()
                }
            }
        } else {
            if !file.grants.is_empty() {
                errors.push(format!(
                    "{origin}: [[grants]] are given but no sign-in is configured ([[auth.providers]] or [auth.proxy]); without sign-in Portolan is an open read-only browser"
                ));
            }
            for r in registries.iter().filter(|r| r.anonymous_read == Some(false)) {
                errors.push(format!(
                    "{origin}: registry {:?} has anonymous_read = false but no sign-in is configured: nobody could see it",
                    r.name
                ));
            }
            Access::open()
        };
        let days = |v: Option<u32>, default: u32, field: &str, errors: &mut Vec<String>| match v {
            Some(0) => {
                errors.push(format!("{origin}: {field} must be at least 1"));
                default
            }
            Some(n) => n.min(36_500),
            None => default,
        };
        let trash_days = days(file.trash_days, 30, "trash_days", &mut errors);
        let audit_days = days(file.audit_days, 365, "audit_days", &mut errors);
        let token_max_days = days(file.token_max_days, 90, "token_max_days", &mut errors);
        let retention_lease = match file.retention_lease_secs {
            None => Duration::from_secs(60),
            Some(n @ 1..=3600) => Duration::from_secs(n),
            Some(n) => {
                errors.push(format!("{origin}: retention_lease_secs = {n} must be between 1 and 3600"));
                Duration::from_secs(60)
            }
        };
        let names: Vec<&str> = registries.iter().map(|r| r.name.as_str()).collect();
        let trust = trust::validate(&file.trust_policies, &names, env, &origin, &mut errors);
        if errors.is_empty() {
            Ok(Self {
                listen,
                data_dir,
                public_url,
                allowed_hosts: file.allowed_hosts,
                trusted_proxies,
                metrics_from,
                store,
                log_format,
                registries,
                auth,
                access,
                trash_days,
                audit_days,
                token_max_days,
                retention_lease,
                trust,
                leptos_config: cli.leptos_config,
                site_root: cli.site_root,
            })
        } else {
            Err(ConfigError(errors))
        }
    }

    /// Whether the session cookie must be `Secure` (Portolan is reached over https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.as_ref().is_some_and(|u| u.scheme() == "https")
    }

    /// Warnings worth a log line at start.
    pub fn warnings(&self) -> Vec<String> {
        let mut w: Vec<String> = self.registries.iter().flat_map(|r| r.warnings.clone()).collect();
        if self.registries.is_empty() {
            w.push("no registry is configured: add [[registries]] to the configuration file (see --help)".into());
        }
        if !self.auth.enabled() {
            w.push("no sign-in is configured: Portolan is an open read-only browser (nothing can be deleted)".into());
        }
        w.extend(portolan_access::grant_warnings(self.access.grants(), &self.auth.access_providers()).iter().map(ToString::to_string));
        if self.auth.enabled() && self.public_url.is_none() {
            w.push(
                "sign-in is configured but public_url is not: redirect URLs follow each request's Host, and the session cookie is not marked Secure (set public_url = \"https://…\" when Portolan is reached over https)"
                    .into(),
            );
        }
        w
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError(vec![format!("cannot read {}: {e}", path.display())]))?;
    toml::from_str(&text).map_err(|e| {
        // toml's own message quotes the offending line, which may hold a secret: say where
        // instead.
        let at = e.span().map(|s| line_col(&text, s.start)).map(|(l, c)| format!(" at line {l}, column {c}")).unwrap_or_default();
        ConfigError(vec![format!("{}{at}: {}", path.display(), e.message().trim())])
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portolan_oci::Credentials;

    fn cli(args: &[&str]) -> Cli {
        Cli::parse_from(std::iter::once("portolan").chain(args.iter().copied()))
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> String {
        let path = dir.path().join("portolan.toml");
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// The README's tables of settings hold: each numeric default there is what a configuration
    /// without the setting gets, and each upper bound there (`(a–b)`, `(≤ n)`) is taken as it is,
    /// while one more is refused naming the setting or brought down to the bound.
    #[test]
    fn the_readme_says_every_numeric_default_and_bound() {
        let readme = include_str!("../../../README.md");
        let row = |name: &str| -> Vec<String> {
            let row =
                readme.lines().find(|l| l.starts_with(&format!("| `{name}` |"))).unwrap_or_else(|| panic!("no README row for `{name}`"));
            row.split('|').map(|c| c.trim().to_owned()).collect()
        };
        let number = |text: &str| -> u64 { text.replace(',', "").parse().unwrap_or_else(|_| panic!("a number: {text:?}")) };
        let default_of = |name: &str| number(row(name)[2].split_whitespace().next().unwrap());
        // The bound at the end of the meaning: `(1–1000)`, `(≤ 256)`, `(0–10,080)`.
        let bound_of = |name: &str| -> Option<u64> {
            let meaning = &row(name)[3];
            let inside = meaning.rsplit_once('(')?.1.strip_suffix(')')?;
            let upper = inside.strip_prefix("≤ ").or_else(|| inside.split_once('–').map(|(_, b)| b))?;
            Some(number(upper))
        };
        let registry = "[[registries]]\nname = \"r\"\nurl = \"http://r.invalid\"\n";
        let dir = tempfile::tempdir().unwrap();
        let load = |text: &str| Config::load_with(cli(&["--config", &write(&dir, text)]), &|_| None);
        // Each setting: where it goes (`top`, `auth` or `registry`) and what the configuration holds.
        type Read = fn(&Config) -> u64;
        let settings: [(&str, &str, Read); 17] = [
            ("database_max_connections", "top", |c| c.store.max_connections.into()),
            ("database_timeout_secs", "top", |c| c.store.acquire_timeout.as_secs()),
            ("trash_days", "top", |c| c.trash_days.into()),
            ("audit_days", "top", |c| c.audit_days.into()),
            ("token_max_days", "top", |c| c.token_max_days.into()),
            ("retention_lease_secs", "top", |c| c.retention_lease.as_secs()),
            ("idle_timeout_minutes", "auth", |c| c.auth.idle_timeout.as_secs() / 60),
            ("session_hours", "auth", |c| c.auth.session_max.as_secs() / 3600),
            ("timeout_secs", "registry", |c| c.registries[0].client.request_timeout.as_secs()),
            ("connect_timeout_secs", "registry", |c| c.registries[0].client.connect_timeout.as_secs()),
            ("max_concurrency", "registry", |c| c.registries[0].client.max_concurrency as u64),
            ("max_retries", "registry", |c| c.registries[0].client.max_retries.into()),
            ("cache_mb", "registry", |c| c.registries[0].client.cache_bytes / (1024 * 1024)),
            ("tag_ttl_secs", "registry", |c| c.registries[0].client.tag_ttl.as_secs()),
            ("max_blob_mb", "registry", |c| c.registries[0].client.max_blob_bytes / (1024 * 1024)),
            ("crawl_requests_per_minute", "registry", |c| c.registries[0].crawl_requests_per_minute.into()),
            ("crawl_interval_minutes", "registry", |c| c.registries[0].crawl_interval.as_secs() / 60),
        ];
        let with = |place: &str, line: &str| match place {
            "top" => format!("{line}\n{registry}"),
            "auth" => format!("{registry}[auth]\n{line}\n"),
            _ => format!("{registry}{line}\n"),
        };
        let defaults = load(registry).unwrap();
        let mut bounded = 0;
        for (name, place, read) in settings {
            // "10 on Postgres, 4 on SQLite": this configuration's store is SQLite.
            let default = if name == "database_max_connections" { 4 } else { default_of(name) };
            assert_eq!(read(&defaults), default, "{name}: the README's default");
            let Some(bound) = bound_of(name) else { continue };
            bounded += 1;
            let at = load(&with(place, &format!("{name} = {bound}"))).unwrap_or_else(|e| panic!("{name} = {bound}: {e}"));
            assert_eq!(read(&at), bound, "{name} = {bound}, the README's bound");
            match load(&with(place, &format!("{name} = {}", bound + 1))) {
                Ok(over) => assert_eq!(read(&over), bound, "{name} = {}: brought down to the bound", bound + 1),
                Err(e) => assert!(e.to_string().contains(name), "{name} = {}: {e}", bound + 1),
            }
        }
        assert!(bounded >= 8, "bounds read from the README: {bounded}");
    }

    #[test]
    fn a_full_file_with_env_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "listen = \"127.0.0.1:4000\"\ndata_dir = \"/tmp/p\"\n[[registries]]\nname = \"hub\"\nurl = \"https://registry-1.docker.io\"\ntitle = \"Docker Hub\"\npull_host = \"docker.io\"\nusername = \"me\"\npassword_env = \"HUB\"\ntimeout_secs = 9\n",
        );
        let env = |k: &str| (k == "HUB").then(|| "secret".to_owned());
        let c = Config::load_with(cli(&["--config", &path]), &env).unwrap();
        assert_eq!(c.listen, Some("127.0.0.1:4000".parse().unwrap()));
        assert_eq!(c.data_dir, PathBuf::from("/tmp/p"));
        let r = &c.registries[0];
        assert_eq!((r.name.as_str(), r.title.as_str(), r.pull_host.as_str()), ("hub", "Docker Hub", "docker.io"));
        assert_eq!(r.client.credentials, Credentials::Basic { username: "me".into(), password: "secret".into() });
        assert_eq!(r.client.request_timeout, Duration::from_secs(9));
    }

    #[test]
    fn flags_and_environment_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "listen = \"127.0.0.1:4000\"\n[[registries]]\nname = \"local-1\"\nurl = \"http://127.0.0.1:5000\"\n");
        let env = |k: &str| match k {
            "PORTOLAN_REGISTRY_LOCAL_1_USERNAME" => Some("u".to_owned()),
            "PORTOLAN_REGISTRY_LOCAL_1_PASSWORD" => Some("p".to_owned()),
            _ => None,
        };
        let c = Config::load_with(cli(&["--config", &path, "--listen", "0.0.0.0:8080", "--registry", "extra=http://127.0.0.1:6000"]), &env)
            .unwrap();
        assert_eq!(c.listen, Some("0.0.0.0:8080".parse().unwrap()));
        assert_eq!(c.registries.len(), 2);
        assert_eq!(c.registries[0].pull_host, "127.0.0.1:5000");
        assert_eq!(c.registries[0].client.credentials, Credentials::Basic { username: "u".into(), password: "p".into() });
        assert_eq!(c.registries[1].name, "extra");
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "listen = \"nowhere\"\n[[registries]]\nname = \"Bad Name\"\nurl = \"ftp://x\"\n[[registries]]\nname = \"ok\"\nurl = \"http://x\"\npassword_env = \"MISSING\"\nusername = \"u\"\n[[registries]]\nname = \"ok\"\nurl = \"http://y\"\ntimeout_secs = 0\n",
        );
        let e = Config::load_with(cli(&["--config", &path]), &|_| None).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("listen = \"nowhere\""), "{text}");
        assert!(text.contains("name must be"), "{text}");
        assert!(text.contains("ftp://x"), "{text}");
        assert!(text.contains("MISSING"), "{text}");
        assert!(text.contains("timeout_secs must be greater than 0"), "{text}");
        let e = Config::load_with(
            cli(&[
                "--config",
                &write(&dir, "[[registries]]\nname = \"a\"\nurl = \"http://x\"\n[[registries]]\nname = \"a\"\nurl = \"http://y\"\n"),
            ]),
            &|_| None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("used twice"));
    }

    #[test]
    fn unknown_keys_and_syntax_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = Config::load_with(
            cli(&["--config", &write(&dir, "[[registries]]\nname = \"a\"\nurl = \"http://x\"\npasword = \"typo\"\n")]),
            &|_| None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("pasword"), "{e}");
        let e = Config::load_with(cli(&["--config", &write(&dir, "listen = ")]), &|_| None).unwrap_err();
        assert!(e.to_string().contains("portolan.toml"), "{e}");
        let e = Config::load_with(cli(&["--config", "/nonexistent/x.toml"]), &|_| None).unwrap_err();
        assert!(e.to_string().contains("cannot read"), "{e}");
    }

    #[test]
    fn secrets_never_print() {
        let dir = tempfile::tempdir().unwrap();
        // The raw file, printed for debugging, hides the password.
        let text = "[[registries]]\nname = \"a\"\nurl = \"https://r.example\"\nusername = \"u\"\npassword = \"hunter2\"\n";
        let file: FileConfig = toml::from_str(text).unwrap();
        assert!(!format!("{file:?}").contains("hunter2"));
        let c = Config::load_with(cli(&["--config", &write(&dir, text)]), &|_| None).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        // A syntax error names the line, never echoes it.
        let e =
            Config::load_with(cli(&["--config", &write(&dir, "[[registries]]\npassword = \"hunter2\" oops\n")]), &|_| None).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("line 2"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        // Credentials in a URL are refused, and the URL is shown without them.
        let e = Config::load_with(
            cli(&["--config", &write(&dir, "[[registries]]\nname = \"a\"\nurl = \"https://u:hunter2@r.example\"\n")]),
            &|_| None,
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("carries credentials"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        // Basic credentials over plain HTTP to another host: a warning at start.
        let c = Config::load_with(
            cli(&[
                "--config",
                &write(&dir, "[[registries]]\nname = \"a\"\nurl = \"http://r.example\"\nusername = \"u\"\npassword_env = \"P\"\n"),
            ]),
            &|k| (k == "P").then(|| "x".to_owned()),
        )
        .unwrap();
        assert!(c.warnings().iter().any(|w| w.contains("unencrypted")), "{:?}", c.warnings());
    }

    #[test]
    fn sign_in_and_grants() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[[auth.providers]]\nid = \"kc\"\nkind = \"oidc\"\nissuer = \"https://sso.example.com/realms/a\"\nclient_id = \"p\"\nclient_secret_env = \"S\"\n\
                    [[grants]]\nrole = \"admin\"\ngroups = [\"kc:/admins\"]\n\
                    [[registries]]\nname = \"a\"\nurl = \"https://r.example\"\n";
        let c = Config::load_with(cli(&["--config", &write(&dir, text)]), &|k| (k == "S").then(|| "s3cret".to_owned())).unwrap();
        assert!(c.auth.enabled());
        assert!(!format!("{:?}", c.auth).contains("s3cret"));
        assert!(!c.access.is_open());
        // Grants without any sign-in are a mistake, and so is a provider without an issuer.
        let e = Config::load_with(
            cli(&[
                "--config",
                &write(
                    &dir,
                    "[[grants]]\nrole = \"admin\"\nsigned_in = true\n[[auth.providers]]\nid = \"x\"\nkind = \"oidc\"\nclient_id = \"c\"\n",
                ),
            ]),
            &|_| None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("issuer is missing"), "{e}");
        let e =
            Config::load_with(cli(&["--config", &write(&dir, "[[grants]]\nrole = \"admin\"\nsigned_in = true\n")]), &|_| None).unwrap_err();
        assert!(e.to_string().contains("no sign-in is configured"), "{e}");
    }

    /// Trust policies are read with the rest: keys from a file or the environment, and every
    /// mistake in them reported at once, with everything else wrong in the file.
    #[test]
    fn trust_policies_are_read_and_their_mistakes_reported_with_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let key = portolan_testkit::sign::SigningKey::generate(portolan_testkit::sign::KeyKind::EcdsaP256).unwrap();
        let key_file = dir.path().join("cosign.pub");
        std::fs::write(&key_file, key.public_pem()).unwrap();
        let good = format!(
            "[[registries]]\nname = \"internal\"\nurl = \"https://r.example\"\n\
             [[trust_policies]]\nname = \"ci\"\nregistry = \"internal\"\nrepositories = [\"team/**\"]\ntrusted_root = \"none\"\n\
             [[trust_policies.cosign_keys]]\nname = \"release\"\npublic_key_file = \"{}\"\n\
             [[trust_policies.cosign_keys]]\npublic_key_env = \"CI_KEY\"\n\
             [[trust_policies]]\nname = \"github\"\n[[trust_policies.keyless]]\nissuer = \"https://token.actions.githubusercontent.com\"\nidentity_regex = \"https://github\\\\.com/acme/.*\"\n",
            key_file.display()
        );
        let pem = key.public_pem().to_owned();
        let c = Config::load_with(cli(&["--config", &write(&dir, &good)]), &move |k| (k == "CI_KEY").then(|| pem.clone())).unwrap();
        assert_eq!(c.trust.all().len(), 2);
        assert_eq!(c.trust.covering("internal", "team/app").len(), 2);
        assert_eq!(c.trust.covering("internal", "other").len(), 1, "the github policy covers everything");
        assert_eq!(c.trust.all()[0].keys.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["release", "key 2"]);

        let bad = "listen = \"nowhere\"\n[[registries]]\nname = \"internal\"\nurl = \"https://r.example\"\n\
                   [[trust_policies]]\nname = \"ci\"\nregistry = \"elsewhere\"\ntrusted_root = \"none\"\n\
                   [[trust_policies.cosign_keys]]\npublic_key_file = \"/nonexistent/cosign.pub\"\n\
                   [[trust_policies.cosign_keys]]\npublic_key = \"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\"\n";
        let e = Config::load_with(cli(&["--config", &write(&dir, bad)]), &|_| None).unwrap_err();
        let lines: Vec<&str> = e.0.iter().map(String::as_str).collect();
        assert_eq!(lines.len(), 4, "{e}");
        assert!(lines[0].contains("listen = \"nowhere\""), "{e}");
        assert!(
            lines[1].contains("portolan.toml: trust_policies[0].registry: \"elsewhere\" matches none of the configured registries"),
            "{e}"
        );
        assert!(lines[2].contains("trust_policies[0].cosign_keys[0]: cannot read /nonexistent/cosign.pub"), "{e}");
        assert!(lines[3].contains("trust_policies[0].cosign_keys[1]: unknown algorithm"), "{e}");
        // An unknown key in a policy is a mistake too (tables are read strictly).
        let e = Config::load_with(
            cli(&[
                "--config",
                &write(&dir, "[[registries]]\nname = \"a\"\nurl = \"http://x\"\n[[trust_policies]]\nname = \"p\"\ncosign_key = []\n"),
            ]),
            &|_| None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("cosign_key"), "{e}");
    }

    /// A group naming no provider is refused at start wherever it could match someone else's
    /// group: with several providers, or with GitHub (anyone can create an org and team by a
    /// free name); every such grant is named at once, with how to write it.
    #[test]
    fn groups_name_their_provider_where_it_matters() {
        let dir = tempfile::tempdir().unwrap();
        const KEYCLOAK: &str = "[[auth.providers]]\nid = \"kc\"\nkind = \"oidc\"\nissuer = \"https://sso.example.com/realms/a\"\nclient_id = \"p\"\nclient_secret = \"s\"\n";
        const GITHUB: &str = "[[auth.providers]]\nid = \"gh\"\nkind = \"github\"\nclient_id = \"Iv1.a\"\nclient_secret = \"s\"\n";
        const PROXY: &str = "[auth.proxy]\ntrusted = [\"127.0.0.1\"]\n";
        const GRANTS: &str = "[[grants]]\nrole = \"admin\"\ngroups = [\"/platform/admins\"]\n\
                              [[grants]]\nrole = \"viewer\"\ngroups = [\"kc:/platform/devs\", \"registry-admins\"]\n\
                              [[registries]]\nname = \"a\"\nurl = \"https://r.example\"\n";
        let load = |text: String| Config::load_with(cli(&["--config", &write(&dir, &text)]), &|_| None);

        // One OpenID provider: its groups only, bare names are fine.
        assert!(load(format!("{KEYCLOAK}{GRANTS}")).is_ok());
        // The proxy alone: the same.
        assert!(load(format!("{PROXY}{}", GRANTS.replace("kc:", ""))).is_ok());
        // Keycloak and the proxy, Keycloak and GitHub, GitHub alone: refused, each grant named.
        for (providers, example) in [(format!("{KEYCLOAK}{PROXY}"), "kc"), (format!("{KEYCLOAK}{GITHUB}"), "kc"), (GITHUB.to_owned(), "gh")]
        {
            let grants = if example == "gh" { GRANTS.replace("kc:/platform/devs", "gh:acme/devs") } else { GRANTS.to_owned() };
            let e = load(format!("{providers}{grants}")).unwrap_err();
            let lines: Vec<&str> = e.0.iter().map(String::as_str).collect();
            assert_eq!(lines.len(), 2, "{e}");
            assert!(lines[0].contains("portolan.toml: grants[0].groups[0]: \"/platform/admins\" names no provider"), "{e}");
            assert!(lines[0].contains(&format!("write it \"<provider>:<group>\", e.g. \"{example}:/platform/admins\"")), "{e}");
            assert!(lines[1].contains("grants[1].groups[1]: \"registry-admins\" names no provider"), "{e}");
            assert_eq!(lines[0].contains("anyone can create a GitHub org and team"), providers.contains("kind = \"github\""), "{e}");
        }
        // A GitHub group while anyone may sign in with GitHub: valid, and a warning at start.
        let text = format!(
            "{KEYCLOAK}{GITHUB}[[grants]]\nrole = \"admin\"\ngroups = [\"kc:/platform/admins\", \"gh:acme/ops\"]\n[[registries]]\nname = \"a\"\nurl = \"https://r.example\"\n"
        );
        let c = load(text.clone()).unwrap_or_else(|e| panic!("{e}"));
        let warnings = c.warnings();
        assert!(warnings.iter().any(|w| w.starts_with("grants[0]: names the GitHub group \"gh:acme/ops\"")), "{warnings:?}");
        let c = load(text.replace("client_id = \"Iv1.a\"", "client_id = \"Iv1.a\"\nallowed_orgs = [\"acme\"]"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!c.warnings().iter().any(|w| w.contains("GitHub group")), "{:?}", c.warnings());
    }

    #[test]
    fn a_sign_in_note_is_trimmed_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let load = |note: &str| {
            let text = format!("[auth]\nsign_in_note = {note:?}\n[auth.proxy]\ntrusted = [\"127.0.0.1\"]\n");
            Config::load_with(cli(&["--config", &write(&dir, &text)]), &|_| None)
        };
        assert_eq!(load("  Ask #platform.\n").unwrap().auth.sign_in_note.as_deref(), Some("Ask #platform."));
        assert_eq!(load("   ").unwrap().auth.sign_in_note, None);
        assert!(load(&"x".repeat(auth::SIGN_IN_NOTE_MAX)).is_ok());
        let e = load(&"x".repeat(auth::SIGN_IN_NOTE_MAX + 1)).unwrap_err();
        assert!(e.to_string().contains("auth.sign_in_note is longer than 2000 characters"), "{e}");
    }

    #[test]
    fn the_site_root_and_the_site_settings() {
        let config = Config::load_with(cli(&["--site-root", "/srv/site", "--listen", "127.0.0.1:4001"]), &|_| None).unwrap();
        assert_eq!(config.site_root.as_deref(), Some(Path::new("/srv/site")));
        let options = crate::leptos_options(&config).unwrap();
        assert_eq!((options.site_root.as_ref(), options.site_pkg_dir.as_ref()), ("/srv/site", "pkg"));
        assert_eq!(options.site_addr, "127.0.0.1:4001".parse().unwrap());
        // Without flags: the Leptos.toml built in, whatever the working directory holds.
        let config = Config::load_with(cli(&[]), &|_| None).unwrap();
        assert_eq!((config.site_root.as_ref(), config.leptos_config.as_ref()), (None, None));
        assert_eq!(crate::leptos_options(&config).unwrap().output_name.as_ref(), "portolan");
        let config = Config::load_with(cli(&["--leptos-config", "/nonexistent/Leptos.toml"]), &|_| None).unwrap();
        let e = crate::leptos_options(&config).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/Leptos.toml"), "{e}");
    }
}
