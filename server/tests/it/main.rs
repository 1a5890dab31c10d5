//! The server's integration tests, one binary (one link of the whole server, not one per file):
//!
//! - [`router`]: every route and server function at every role, cross-site changes, the Host
//!   check, headers, metrics — registries in memory;
//! - [`signin`]: sign-in end to end against a real OpenID provider and a GitHub replay;
//! - [`registries`]: registries set up the awkward ways real ones are;
//! - [`retention`]: retention runs against real registries under faults;
//! - [`search`]: finding things — big catalogs, none, the crawl, where a digest is used;
//! - [`replicas`], [`load`]: two `portolan` processes on one Postgres;
//! - [`leptos_config`]: build and site settings agree;
//! - [`site`]: the site built into the binary, the binary run from another directory,
//!   `--version`;
//! - [`image`]: the OCI image, unpacked and run as its user (only when asked: it needs the
//!   image built by `scripts/image`; see `scripts/test --image`).
//!
//! [`support`] holds what they share. Tests of Portolan in process run one at a time
//! (`support::run`); tests of `portolan` processes run beside them (`support::run_in_parallel`).
//! Each has a time limit: a hang fails, naming the test.

mod image;
mod leptos_config;
mod load;
mod registries;
mod replicas;
mod retention;
mod roles;
mod router;
mod search;
mod signin;
mod site;
mod support;
