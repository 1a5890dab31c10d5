//! Portolan's configuration: a TOML file, then environment variables, then command-line flags,
//! read in two steps — raw input ([`FileConfig`], [`Cli`]) to a validated [`Config`] — so every
//! mistake is reported at start, all at once, with where it is.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use portolan_oci::{ClientConfig, Credentials};
use serde::Deserialize;

const ABOUT: &str = "Portolan: browse and manage the artifacts of OCI registries.";

const LONG_ABOUT: &str = "Portolan: browse and manage the artifacts of OCI registries.

Settings come from a TOML file (--config), then environment variables, then flags.

Configuration file:
  listen = \"127.0.0.1:3000\"     # address to serve on (default: Leptos.toml's site-addr)
  data_dir = \"data\"             # where the SQLite store lives (default: ./data)
  public_url = \"https://portolan.example.com\"  # for absolute links (badges); default: from Host

  [[registries]]                # one table per registry, in display order
  name = \"hub\"                  # URL segment: lowercase letters, digits, '-'
  url = \"https://registry-1.docker.io\"
  title = \"Docker Hub\"          # display name (default: the name)
  pull_host = \"docker.io\"       # host in pull commands (default: the URL's host[:port])
  username = \"me\"               # optional; with one of:
  password_env = \"HUB_TOKEN\"    #   an environment variable holding the password or token,
  password_file = \"/run/secrets/hub\"  # a file holding it,
  password = \"…\"                #   or the value itself (discouraged)
  timeout_secs = 30             # whole request (default 30)
  connect_timeout_secs = 5      # connection (default 5)
  max_concurrency = 16          # requests in flight to this registry (default 16)
  max_retries = 3               # retries of idempotent requests (default 3)
  cache_mb = 64                 # content cache by digest (default 64)
  tag_ttl_secs = 15             # how long tag lists and tag digests are trusted (default 15)
  max_blob_mb = 16              # largest blob read into memory (default 16)
  insecure_tls = false          # accept invalid TLS certificates (default false)

Environment overrides per registry (NAME upper-cased, '-' as '_'):
  PORTOLAN_REGISTRY_<NAME>_USERNAME, PORTOLAN_REGISTRY_<NAME>_PASSWORD

Site settings (output name, site root, environment) are read from Leptos.toml; any of them can
be overridden with LEPTOS_<KEY> environment variables (e.g. LEPTOS_SITE_ROOT).";

/// Command-line flags (each also settable through its environment variable).
#[derive(Debug, Parser)]
#[command(name = "portolan", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    /// Configuration file (TOML). Default: portolan.toml in the working directory, if present.
    #[arg(short, long, env = "PORTOLAN_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on. Default: the file's `listen`, else Leptos.toml's site-addr.
    #[arg(long, env = "PORTOLAN_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Directory of the SQLite store (sessions, first-seen dates…). Default: the file's
    /// `data_dir`, else ./data.
    #[arg(long, env = "PORTOLAN_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The Leptos site settings file.
    #[arg(long, env = "PORTOLAN_LEPTOS_CONFIG", value_name = "FILE", default_value = "Leptos.toml")]
    pub leptos_config: PathBuf,
    /// The URL Portolan is reached at, for absolute links (badges' Markdown). Default: the file's
    /// `public_url`, else each request's Host header.
    #[arg(long, env = "PORTOLAN_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// An extra anonymous registry, NAME=URL (repeatable), after those of the file.
    #[arg(long = "registry", value_name = "NAME=URL")]
    pub registries: Vec<String>,
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
    pub registries: Vec<RegistryFile>,
}

/// One `[[registries]]` table, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    pub name: String,
    pub url: String,
    pub title: Option<String>,
    pub pull_host: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub timeout_secs: Option<u64>,
    pub connect_timeout_secs: Option<u64>,
    pub max_concurrency: Option<usize>,
    pub max_retries: Option<u32>,
    pub cache_mb: Option<u64>,
    pub tag_ttl_secs: Option<u64>,
    pub max_blob_mb: Option<u64>,
    pub insecure_tls: Option<bool>,
}

/// A validated registry.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    pub name: String,
    pub title: String,
    pub pull_host: String,
    pub client: ClientConfig,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// None: use Leptos.toml's site-addr.
    pub listen: Option<SocketAddr>,
    pub data_dir: PathBuf,
    pub public_url: Option<String>,
    pub registries: Vec<RegistryConfig>,
    pub leptos_config: PathBuf,
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
        let public_url = cli.public_url.or(file.public_url).map(|u| u.trim_end_matches('/').to_owned());
        if let Some(u) = &public_url
            && !matches!(url::Url::parse(u), Ok(p) if matches!(p.scheme(), "http" | "https"))
        {
            errors.push(format!("{origin}: public_url {u:?} must be an http:// or https:// URL"));
        }
        let mut raw = file.registries;
        for spec in &cli.registries {
            match spec.split_once('=') {
                Some((name, url)) => raw.push(RegistryFile { name: name.to_owned(), url: url.to_owned(), ..Default::default() }),
                None => errors.push(format!("--registry {spec:?}: expected NAME=URL")),
            }
        }
        let mut registries = Vec::new();
        for (i, r) in raw.into_iter().enumerate() {
            let at = format!("{origin}: registries[{i}] ({:?})", r.name);
            match validate_registry(r, env) {
                Ok(reg) if registries.iter().any(|x: &RegistryConfig| x.name == reg.name) => {
                    errors.push(format!("{at}: the name is used twice"))
                }
                Ok(reg) => registries.push(reg),
                Err(problems) => errors.extend(problems.into_iter().map(|p| format!("{at}: {p}"))),
            }
        }
        if errors.is_empty() {
            Ok(Self { listen, data_dir, public_url, registries, leptos_config: cli.leptos_config })
        } else {
            Err(ConfigError(errors))
        }
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError(vec![format!("cannot read {}: {e}", path.display())]))?;
    toml::from_str(&text).map_err(|e| ConfigError(vec![format!("{}: {}", path.display(), e.to_string().trim())]))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
}

fn validate_registry(r: RegistryFile, env: &dyn Fn(&str) -> Option<String>) -> Result<RegistryConfig, Vec<String>> {
    let mut problems = Vec::new();
    if !valid_name(&r.name) {
        problems.push("name must be 1-64 lowercase letters, digits or '-' (it is a URL segment)".to_owned());
    }
    let url = match url::Url::parse(&r.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(u),
        Ok(_) => {
            problems.push(format!("url {:?} must start with http:// or https:// and name a host", r.url));
            None
        }
        Err(e) => {
            problems.push(format!("url {:?} is not a URL ({e})", r.url));
            None
        }
    };
    let key = r.name.to_ascii_uppercase().replace('-', "_");
    let username = env(&format!("PORTOLAN_REGISTRY_{key}_USERNAME")).or(r.username.clone());
    let sources = [r.password.is_some(), r.password_env.is_some(), r.password_file.is_some()].iter().filter(|x| **x).count();
    if sources > 1 {
        problems.push("give at most one of password, password_env, password_file".to_owned());
    }
    let password = match env(&format!("PORTOLAN_REGISTRY_{key}_PASSWORD")) {
        Some(p) => Some(p),
        None => match (&r.password, &r.password_env, &r.password_file) {
            (Some(p), _, _) => Some(p.clone()),
            (_, Some(var), _) => match env(var) {
                Some(p) => Some(p),
                None => {
                    problems.push(format!("password_env names {var}, which is not set"));
                    None
                }
            },
            (_, _, Some(path)) => match std::fs::read_to_string(path) {
                Ok(p) => Some(p.trim_end_matches(['\n', '\r']).to_owned()),
                Err(e) => {
                    problems.push(format!("password_file {}: {e}", path.display()));
                    None
                }
            },
            _ => None,
        },
    };
    let credentials = match (username, password) {
        (Some(username), Some(password)) => Credentials::Basic { username, password },
        (Some(_), None) => {
            if problems.is_empty() {
                problems.push("username is set but no password (password, password_env or password_file)".to_owned());
            }
            Credentials::Anonymous
        }
        (None, Some(token)) => Credentials::Bearer(token),
        (None, None) => Credentials::Anonymous,
    };
    let mut client = ClientConfig::new(r.url.clone()).credentials(credentials);
    let positive = |v: Option<u64>, field: &str, problems: &mut Vec<String>| match v {
        Some(0) => {
            problems.push(format!("{field} must be greater than 0"));
            None
        }
        other => other,
    };
    if let Some(s) = positive(r.timeout_secs, "timeout_secs", &mut problems) {
        client.request_timeout = Duration::from_secs(s);
    }
    if let Some(s) = positive(r.connect_timeout_secs, "connect_timeout_secs", &mut problems) {
        client.connect_timeout = Duration::from_secs(s);
    }
    if let Some(n) = positive(r.max_concurrency.map(|n| n as u64), "max_concurrency", &mut problems) {
        client.max_concurrency = n as usize;
    }
    if let Some(n) = r.max_retries {
        client.max_retries = n.min(10);
    }
    if let Some(mb) = r.cache_mb {
        client.cache_bytes = mb * 1024 * 1024;
    }
    if let Some(s) = r.tag_ttl_secs {
        client.tag_ttl = Duration::from_secs(s);
    }
    if let Some(mb) = positive(r.max_blob_mb, "max_blob_mb", &mut problems) {
        client.max_blob_bytes = mb * 1024 * 1024;
    }
    client.insecure_tls = r.insecure_tls.unwrap_or(false);
    if !problems.is_empty() {
        return Err(problems);
    }
    let url = url.expect("validated above");
    let default_host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    Ok(RegistryConfig {
        title: r.title.unwrap_or_else(|| r.name.clone()),
        pull_host: r.pull_host.unwrap_or(default_host),
        name: r.name,
        client,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        Cli::parse_from(std::iter::once("portolan").chain(args.iter().copied()))
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> String {
        let path = dir.path().join("portolan.toml");
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
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
}
