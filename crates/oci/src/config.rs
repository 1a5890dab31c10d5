//! How to reach one registry, and the limits to keep while doing it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::auth::Credentials;

/// Whether [`Client::delete_tag`](crate::Client::delete_tag) uses the registry's own tag DELETE
/// (`DELETE /v2/<name>/manifests/<tag>`) or the throwaway path (the tag is re-pointed to a unique
/// throwaway manifest, which is then deleted by digest: the tag alone goes, whatever the registry).
///
/// A registry's answer to a tag DELETE of a made-up tag proves nothing: some registries answer
/// 404 there, yet answer a tag DELETE of a real tag by resolving it and deleting the whole
/// manifest, every sibling tag with it. So the tag DELETE is only used when proven or configured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TagDeleteMode {
    /// The registry's tag DELETE once [`Client::verify_tag_delete`](crate::Client::verify_tag_delete)
    /// proved, on a scratch repository, that it deletes the tag alone; the throwaway path until
    /// then, and for good when that could not be proved (no scratch repository configured in
    /// [`ClientConfig::tag_delete_scratch`], no right to push there, a registry that refuses tag
    /// DELETEs or deletes the whole manifest).
    #[default]
    Auto,
    /// Always the registry's tag DELETE, unverified: for an operator who knows that this registry
    /// deletes the tag alone. A registry that refuses it makes tag deletes fail (no fall-back).
    Always,
    /// Never the registry's tag DELETE: always the throwaway path.
    Never,
}

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
    /// How tags are deleted (default [`TagDeleteMode::Auto`]).
    pub tag_delete: TagDeleteMode,
    /// The scratch repository where [`TagDeleteMode::Auto`] verifies the registry's tag DELETE
    /// (it pushes, tags and deletes one tiny manifest there, once per client); it needs push and
    /// delete rights there. None (the default): Auto never verifies, so it uses the throwaway path.
    pub tag_delete_scratch: Option<String>,
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
            tag_delete: TagDeleteMode::Auto,
            tag_delete_scratch: None,
        }
    }

    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// Sets how tags are deleted, and the scratch repository [`TagDeleteMode::Auto`] verifies in.
    pub fn tag_delete(mut self, mode: TagDeleteMode, scratch: Option<&str>) -> Self {
        self.tag_delete = mode;
        self.tag_delete_scratch = scratch.map(str::to_owned);
        self
    }
}
