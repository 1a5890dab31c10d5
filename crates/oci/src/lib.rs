//! An OCI distribution client for a registry browser: it talks to any registry (CNCF
//! distribution, zot, Harbor, GHCR, Docker Hub, Quay…), with every common auth scheme, and
//! copes with what real registries serve.
//!
//! # Layout
//! - [`config`]: [`ClientConfig`], one registry's URL, credentials and limits, and how tags are
//!   deleted there ([`TagDeleteMode`]).
//! - [`name`]: repository names, tags, digests and references (OCI reference grammar).
//! - [`media`]: media types, the manifest `Accept` header, and [`ArtifactKind`] classification.
//! - [`auth`]: `WWW-Authenticate` parsing, token scopes, the token cache.
//! - `transport`: one HTTP exchange — concurrency limit, authentication, retries, timeouts, caps.
//! - `guard`: where requests may go — redirects, internal addresses, token realms.
//! - `flight`: merging identical in-flight work.
//! - `paging`: `Link` header paging (RFC 8288) of tag lists, catalogs and referrers.
//! - [`client`]: the verbs — ping, catalog, tags, resolve, manifest, blob, put — and the caps
//!   on listings ([`MAX_TAGS`], [`MAX_INDEX_CHILDREN`]…).
//! - [`manifest`]: manifests as fetched (bytes, digest, lenient parse).
//! - [`referrers`]: the referrers API, the fallback tag, cosign legacy tags, the graph walk.
//! - [`capabilities`]: side-effect-free probes (referrers API, manifest delete), how tags are
//!   deleted ([`Capabilities::tag_delete`]), and [`Client::verify_tag_delete`], which proves a
//!   registry's tag DELETE on a scratch repository before [`TagDeleteMode::Auto`] uses it.
//! - [`delete`]: safe tag delete (the registry's tag DELETE only when proven or configured,
//!   otherwise a throwaway manifest, re-checked at every step), manifest delete with
//!   fallback-index upkeep that never overwrites a newer index.
//! - [`verbs`]: [`RegistryVerbs`], the verbs behind one trait ([`Client`] implements it), and
//!   [`index_children`], an index's children fetched with bounded fan-out.
//! - `memory` (feature `memory`): a registry in memory implementing the verbs, for tests; its
//!   tag delete follows the client's contract (the tag DELETE, reported `Yes`; the throwaway path
//!   under [`TagDeleteMode::Never`]).
//! - [`error`]: [`Error`] with a matchable [`ErrorKind`].
//!
//! # How a request flows
//! A verb on [`Client`] first looks in its caches: content by digest (manifests and blobs,
//! immutable, bounded in bytes, and only ever filled with content verified against its sha256
//! or sha512 digest — digests of other algorithms are refused before any request) and tags
//! (tag → digest and tag lists, for a short TTL). On a miss, identical concurrent requests are
//! merged into one (a merged request is forgotten when it completes, panics or is cancelled, so
//! none can wedge later callers), which goes to the transport:
//! 1. it takes one of the registry's concurrency slots;
//! 2. it adds authorization: nothing until the registry asks; then Basic credentials, or a Bearer
//!    token for the request's scopes (`repository:<name>:pull|push|delete`,
//!    `registry:catalog:*`) from the token cache (at most 10,000 scope sets, each token kept for
//!    its lifetime, at most 24 h), fetching one — once, however many requests wait for it —
//!    from the challenge's realm. A 401 with a token drops that token and fetches a fresh one
//!    once; a token server refusal is an error, never a silent anonymous retry.
//!    Only challenges answered from the registry's own origin count: a 401 from where a
//!    redirect led is an error, and the credentials never go there. The realm may be on another
//!    host (Docker Hub's is), but must be https when the registry is.
//!    `Authorization` never goes to another host (nor through a redirect to one);
//! 3. it sends with connect and whole-request timeouts; idempotent requests are retried after
//!    connection errors, 5xx and 429 with exponential backoff and jitter, honouring
//!    `Retry-After` up to a limit. Redirects: blob downloads may go to another host (CDNs,
//!    object storage), every other request only to its own origin (or the same host upgraded to
//!    https), never from https to http, at most 5. No request — redirect, token realm, upload
//!    location — goes to a loopback, private, link-local, unspecified, multicast or reserved
//!    address unless the registry itself is on an address of that kind: literal addresses are
//!    checked before sending, host names by a DNS resolver that drops the addresses not allowed
//!    (an HTTP proxy from the environment resolves names itself, unchecked);
//! 4. bodies are read under a size cap, registry error envelopes become an [`Error`] of a
//!    small set of [`ErrorKind`]s, and fetched content is verified against its digest.
//!
//! Deletes add checks around those requests (see [`delete`]): a tag is read, then re-resolved
//! right before it is re-pointed to a throwaway manifest, and checked again after every write
//! that failed, since a registry may apply a request whose answer is lost; a fallback index is
//! re-resolved right before it is written. After a delete, successful or not, the repository's
//! cached tag list and tag → digest resolutions are forgotten.
//!
//! Listings follow `Link: rel="next"` only on the registry's origin (another origin is a
//! [`ErrorKind::BadResponse`]) and are capped in total: a tag list at [`MAX_TAGS`] tags,
//! 64 MiB and 5,000 pages, referrers at 10,000 per subject, 16 MiB and 1,000 pages, a catalog
//! page at 200,000 names — past a cap, an [`ErrorKind::TooLarge`] error says which. Tags and
//! repository names that break the OCI grammar are left out of listings.

pub mod auth;
pub mod capabilities;
pub mod client;
pub mod config;
pub mod delete;
pub mod error;
mod flight;
mod guard;
pub mod manifest;
/// Media types and artifact kinds live in `portolan-types` (the browser build shares them).
pub use portolan_types::media;
#[cfg(feature = "memory")]
pub mod memory;
pub mod name;
mod paging;
pub mod referrers;
mod transport;
pub mod verbs;

pub use auth::Credentials;
pub use capabilities::{Capabilities, Support, THROWAWAY_PATH};
pub use client::{CatalogPage, Client, INDEX_FAN_OUT, MAX_INDEX_CHILDREN, MAX_TAGS, Resolved};
pub use config::{ClientConfig, TagDeleteMode};
pub use delete::{DeletedManifest, DeletedTag, FALLBACK_INDEX_ATTEMPTS, TagDeleteMethod};
pub use error::{Error, ErrorKind, Result};
pub use manifest::{Manifest, ManifestDoc};
pub use media::ArtifactKind;
pub use name::{Reference, RepoName, Tag};
pub use referrers::{GraphNode, Referrer, ReferrerGraph, ReferrerSource, ReferrersMode};
pub use transport::Stats;
pub use verbs::{RegistryVerbs, index_children};

/// Re-exported OCI types (descriptors, manifests, indexes, digests, platforms).
pub use oci_spec::image as spec;
