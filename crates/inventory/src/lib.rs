//! A repository's inventory: every tag and the manifests they reach (index children,
//! referrers), with what each is, its size, and its date as a timestamp with where the date
//! came from. The tag page shows it; the retention planner decides on it. One reader of tags
//! for both, so the page and the planner never disagree about a tag's age or digest.
//!
//! # Layout
//! - [`model`]: the inventory's types, plain data (the planner's input).
//! - [`read`] (feature `read`, opt-in): reading one tag or a whole repository through the
//!   registry verbs.

pub mod model;
#[cfg(feature = "read")]
pub mod read;

pub use model::*;
