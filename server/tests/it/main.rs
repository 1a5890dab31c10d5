//! The server's integration tests, one binary (one link of the whole server, not one per file):
//!
//! - [`router`]: every route and server function at every role, cross-site changes, the Host
//!   check, headers, metrics — registries in memory;
//! - [`signin`]: sign-in end to end against a real OpenID provider and a GitHub replay;
//! - [`oidc`]: ID tokens with an `at_hash`, and the provider's key rotation;
//! - [`registries`]: registries set up the awkward ways real ones are;
//! - [`retention`]: retention runs against real registries under faults;
//! - [`restore`]: restoring from the trash after the registry's garbage collection, and over
//!   tags pushed again since;
//! - [`schedule`]: the scheduler's tick — missed fires, fires that find their policy running;
//! - [`upkeep`]: old trash purged, old audit entries forgotten;
//! - [`search`]: finding things — big catalogs, none, the crawl, where a digest is used;
//! - [`storage`]: where the bytes are, checked against distribution and its garbage collection;
//! - [`replicas`], [`load`]: two `portolan` processes on one Postgres;
//! - [`verify`]: signature verification against real registries (cosign keys and keyless,
//!   notation; `.sig` tags, the referrers API and the fallback tag);
//! - [`leptos_config`]: build and site settings agree;
//! - [`site`]: the site built into the binary, the binary run from another directory,
//!   `--version`;
//! - [`image`]: the OCI image, unpacked and run as its user (ignored by a plain cargo
//!   test: it needs the image `scripts/image` builds; `scripts/test` runs it after building it).
//!
//! [`support`] holds what they share. Tests of Portolan in process run one at a time
//! (`support::run`), and so does the load test, which takes both cores; the other tests of
//! `portolan` processes run beside them (`support::run_in_parallel`). Each has a time limit: a
//! hang fails, naming the test.

mod image;
mod leptos_config;
mod load;
mod oidc;
mod registries;
mod replicas;
mod restore;
mod retention;
mod roles;
mod router;
mod schedule;
mod search;
mod signin;
mod site;
mod storage;
mod support;
mod tokens;
mod upkeep;
mod verify;
