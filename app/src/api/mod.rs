//! Server functions: the only way pages reach registries and the store. Each is a public HTTP
//! endpoint, so each checks the caller's role itself first (`crate::ssr::auth::require`),
//! validates its input, calls a crate, and answers a small value from [`crate::model`].
//!
//! # Layout
//! - [`browse`]: registries, tags, artifacts, blobs, graphs, diffs (viewer).
//! - [`session`]: who is signed in, and how one signs in.
//! - [`admin`]: deleting, the trash, the audit log (maintainer, admin).
//! - [`retention`]: policies, what-if previews, runs (maintainer, admin).
//! - [`search`]: repository lists, the search box, where a digest is used (viewer).
//! - [`tokens`]: API tokens (one's own; everyone's for an admin of everything).
//! - [`storage`]: where the bytes are, per registry and repository (viewer).
//! - [`needs`]: the table of what each server function and route needs of its caller.
//! - [`codec`]: the JSON encoding of the answers the islands read (one JSON reader in the
//!   browser).

pub mod admin;
pub mod browse;
pub mod codec;
pub mod needs;
pub mod retention;
pub mod search;
pub mod session;
pub mod storage;
pub mod tokens;

pub use admin::*;
pub use browse::*;
pub use retention::*;
pub use search::*;
pub use session::*;
pub use storage::*;
pub use tokens::*;
