//! How to reach one registry, and the limits to keep while doing it.

use std::time::Duration;

use crate::auth::Credentials;

/// Settings of one registry client. [`ClientConfig::new`] gives sensible defaults.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Base URL, e.g. `https://ghcr.io` or `http://127.0.0.1:5000`.
    pub url: String,
    pub credentials: Credentials,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time for one whole request, body included.
    pub request_timeout: Duration,
    /// Requests in flight to this registry at most.
    pub max_concurrency: usize,
    /// Retries of an idempotent request after a connection error, a 5xx or a 429.
    pub max_retries: u32,
    /// The longest `Retry-After` we wait for; longer asks fail at once as rate limited.
    pub max_retry_wait: Duration,
    /// Largest manifest accepted (the spec's limit is 4 MiB).
    pub max_manifest_bytes: u64,
    /// Largest blob read into memory (configs, SBOMs, signatures, chart archives).
    pub max_blob_bytes: u64,
    /// Bytes of content kept in the by-digest cache.
    pub cache_bytes: u64,
    /// How long a tag → digest resolution and a tag list are trusted.
    pub tag_ttl: Duration,
    /// Accept invalid TLS certificates (self-signed test registries only).
    pub insecure_tls: bool,
    /// Extra CA certificates (PEM) to trust for this registry, besides the system's.
    pub ca_pem: Option<Vec<u8>>,
    pub user_agent: String,
}

impl ClientConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            credentials: Credentials::Anonymous,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_concurrency: 16,
            max_retries: 3,
            max_retry_wait: Duration::from_secs(20),
            max_manifest_bytes: 4 * 1024 * 1024,
            max_blob_bytes: 16 * 1024 * 1024,
            cache_bytes: 64 * 1024 * 1024,
            tag_ttl: Duration::from_secs(15),
            insecure_tls: false,
            ca_pem: None,
            user_agent: concat!("portolan/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }
}
