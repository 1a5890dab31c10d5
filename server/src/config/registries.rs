//! `[[registries]]`: one table per registry, validated into a client configuration.

use std::path::PathBuf;
use std::time::Duration;

use portolan_oci::{ClientConfig, Credentials};
use serde::Deserialize;

use super::secret::{self, Secret};

/// One `[[registries]]` table, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    pub name: String,
    pub url: String,
    pub title: Option<String>,
    pub pull_host: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
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
    pub ca_file: Option<PathBuf>,
    pub anonymous_read: Option<bool>,
    pub tag_delete: Option<String>,
    pub tag_delete_scratch: Option<String>,
    pub repositories: Option<Vec<String>>,
    pub crawl: Option<bool>,
    pub crawl_requests_per_minute: Option<u32>,
    pub crawl_interval_minutes: Option<u64>,
}

/// A validated registry.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    pub name: String,
    pub title: String,
    pub pull_host: String,
    pub client: ClientConfig,
    /// Whether visitors who are not signed in may browse it (always, when no sign-in is
    /// configured).
    pub anonymous_read: Option<bool>,
    /// Warnings for the start-up log (Basic credentials over plain HTTP…).
    pub warnings: Vec<String>,
    /// Repositories listed even where the registry has no catalog.
    pub repositories: Vec<String>,
    /// The crawl fills the where-used index for it.
    pub crawl: bool,
    /// Registry requests a minute the crawl may make.
    pub crawl_requests_per_minute: u32,
    /// Time between the end of a crawl pass and the start of the next.
    pub crawl_interval: Duration,
}

pub use portolan_types::names::is_config_name as valid_name;

/// The URL with any `user:password@` removed, for messages.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

pub fn validate(r: RegistryFile, env: &dyn Fn(&str) -> Option<String>) -> Result<RegistryConfig, Vec<String>> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    if !valid_name(&r.name) {
        problems.push("name must be 1-64 lowercase letters, digits or '-' (it is a URL segment)".to_owned());
    }
    let shown = redacted(&r.url);
    let url = match url::Url::parse(&r.url) {
        Ok(u) if !u.username().is_empty() || u.password().is_some() => {
            problems.push(format!(
                "url {shown:?} carries credentials (user:password@): put them in username and password_env or password_file instead"
            ));
            None
        }
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(u),
        Ok(_) => {
            problems.push(format!("url {shown:?} must start with http:// or https:// and name a host"));
            None
        }
        Err(e) => {
            problems.push(format!("url {shown:?} is not a URL ({e})"));
            None
        }
    };
    let key = r.name.to_ascii_uppercase().replace('-', "_");
    let username = env(&format!("PORTOLAN_REGISTRY_{key}_USERNAME")).or(r.username.clone());
    let password = match env(&format!("PORTOLAN_REGISTRY_{key}_PASSWORD")) {
        Some(p) => Some(Secret::new(p)),
        None => secret::read("password", r.password.as_ref(), r.password_env.as_deref(), r.password_file.as_deref(), env, &mut problems),
    };
    let credentials = match (username, password) {
        (Some(username), Some(password)) => Credentials::Basic { username, password: password.expose().to_owned() },
        (Some(_), None) => {
            if problems.is_empty() {
                problems.push("username is set but no password (password, password_env or password_file)".to_owned());
            }
            Credentials::Anonymous
        }
        (None, Some(token)) => Credentials::Bearer(token.expose().to_owned()),
        (None, None) => Credentials::Anonymous,
    };
    if let Some(u) = &url
        && u.scheme() == "http"
        && credentials != Credentials::Anonymous
        && !is_loopback(u)
    {
        warnings.push(format!(
            "registry {:?}: credentials will cross the network unencrypted (plain http:// to {})",
            r.name,
            u.host_str().unwrap_or_default()
        ));
    }
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
        client.max_concurrency = (n as usize).min(256);
    }
    if let Some(n) = r.max_retries {
        client.max_retries = n.min(10);
    }
    if let Some(mb) = r.cache_mb {
        client.cache_bytes = mb.min(64 * 1024) * 1024 * 1024;
    }
    if let Some(s) = r.tag_ttl_secs {
        client.tag_ttl = Duration::from_secs(s.min(86_400));
    }
    if let Some(mb) = positive(r.max_blob_mb, "max_blob_mb", &mut problems) {
        client.max_blob_bytes = mb.min(1024) * 1024 * 1024;
    }
    client.insecure_tls = r.insecure_tls.unwrap_or(false);
    client.tag_delete = match r.tag_delete.as_deref() {
        None | Some("auto") => portolan_oci::TagDeleteMode::Auto,
        Some("always") => portolan_oci::TagDeleteMode::Always,
        Some("never") => portolan_oci::TagDeleteMode::Never,
        Some(other) => {
            problems.push(format!("tag_delete {other:?} is not one of \"auto\", \"always\", \"never\""));
            portolan_oci::TagDeleteMode::Auto
        }
    };
    if let Some(scratch) = &r.tag_delete_scratch {
        match portolan_oci::RepoName::parse(scratch) {
            Ok(_) => client.tag_delete_scratch = Some(scratch.clone()),
            Err(e) => problems.push(format!("tag_delete_scratch: {}", e.message())),
        }
    }
    if let Some(path) = &r.ca_file {
        match std::fs::read(path) {
            Ok(pem) if pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") => client.ca_pem = Some(pem),
            Ok(_) => problems.push(format!("ca_file {}: no PEM certificate in it", path.display())),
            Err(e) => problems.push(format!("ca_file {}: {e}", path.display())),
        }
    }
    let mut repositories = Vec::new();
    for name in r.repositories.iter().flatten() {
        match portolan_oci::RepoName::parse(name) {
            Ok(n) => repositories.push(n.to_string()),
            Err(e) => problems.push(format!("repositories: {name:?}: {}", e.message())),
        }
    }
    repositories.sort();
    repositories.dedup();
    let crawl = match env(&format!("PORTOLAN_REGISTRY_{key}_CRAWL")).as_deref() {
        Some("true" | "1") => true,
        Some("false" | "0") => false,
        Some(other) => {
            problems.push(format!("PORTOLAN_REGISTRY_{key}_CRAWL={other:?} must be true or false"));
            false
        }
        None => r.crawl.unwrap_or(false),
    };
    let crawl_requests_per_minute = match r.crawl_requests_per_minute {
        None => 600,
        Some(n @ 1..=100_000) => n,
        Some(n) => {
            problems.push(format!("crawl_requests_per_minute = {n} must be between 1 and 100000"));
            600
        }
    };
    let crawl_interval = match r.crawl_interval_minutes {
        None => Duration::from_secs(600),
        Some(n @ 0..=10_080) => Duration::from_secs(n * 60),
        Some(n) => {
            problems.push(format!("crawl_interval_minutes = {n} must be at most 10080 (a week)"));
            Duration::from_secs(600)
        }
    };
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
        anonymous_read: r.anonymous_read,
        warnings,
        repositories,
        crawl,
        crawl_requests_per_minute,
        crawl_interval,
    })
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}
