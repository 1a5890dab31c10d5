//! Values both the browser build and the server use, in one small crate with no dependencies
//! beyond serde and time (it compiles to wasm32): the grammar of repository and configuration
//! names, media types and what kind of artifact a manifest is, and dates with where they came
//! from. The server crates use these types directly; the pages' DTOs (`portolan-model`) use
//! them instead of strings.
//!
//! # Layout
//! - [`names`]: the repository-name grammar and the names the configuration gives.
//! - [`media`]: media types, the manifest `Accept` header, and [`ArtifactKind`] classification.
//! - [`dated`]: [`DateSource`] and [`Dated`]: a date and where it came from.
//! - [`verify`]: what signature verification concludes ([`verify::Outcome`]) and why a
//!   signature is not verified ([`verify::ReasonKind`]).

pub mod dated;
pub mod media;
pub mod names;
pub mod verify;

pub use dated::{DateSource, Dated};
pub use media::ArtifactKind;
