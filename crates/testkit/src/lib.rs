//! Real registries for Portolan's tests and demo.
//!
//! # Layout
//! - [`postgres`]: a real Postgres cluster (Debian's), stopped and restarted at will.
//! - [`process`]: child processes killed on drop, loopback ports for them without a race
//!   ([`process::start_on_free_port`]), readiness polling.
//! - [`runner`]: tests within a time limit, HTTP clients that time out.
//! - [`distribution`]: CNCF distribution (Debian `docker-registry`) with anonymous, htpasswd or
//!   token auth, and ferro-oci-server (the OCI 1.1 referrers API).
//! - [`token`]: a Docker token server issuing ES256 JWTs the registry trusts.
//! - [`pusher`]: an independent, minimal pusher (plain HTTP, no Portolan code).
//! - [`fixtures`]: sample artifacts built from the specs (images, indexes, Helm charts, SBOMs,
//!   signatures, attestations, legacy cosign tags), [`seed`]: the standard sample content.
//! - [`harness`]: a started and seeded registry of each kind.
//! - [`slow`]: a proxy that makes a registry slow (manifests and blobs answer late), rate
//!   limited, without a catalog, or refusing everything (403).
//! - [`faulty`]: a proxy whose manifest DELETEs fail after N, or are answered late once applied,
//!   and whose reads are slow — for deletions under faults.
//! - [`tls`]: a certificate authority of its own and server certificates, for HTTPS registries.
//! - [`oidc`]: a real OpenID Connect provider (npm `oidc-provider` run by Node) with test users,
//!   a login form, RP-initiated logout and ID-token tampering for refusal tests.
//! - [`github`]: a replay of GitHub's OAuth app endpoints and REST API (user, emails, orgs, teams).
//! - [`sign`]: cosign key pairs and simple-signing payloads, a Notary Project CA and JWS
//!   envelopes; [`keyless`]: keyless sigstore bundles from sigstore's own mock Fulcio and Rekor.
//!
//! The `portolan-testkit` binary starts a set of them for end-to-end tests and the demo.

pub mod distribution;
pub mod faulty;
pub mod fixtures;
pub mod github;
pub mod harness;
pub mod keyless;
pub mod oidc;
pub mod postgres;
pub mod process;
pub mod pusher;
pub mod runner;
pub mod seed;
pub mod sign;
pub mod slow;
pub mod tls;
pub mod token;

pub use harness::{ADMIN, Kind, READER, Registry};
