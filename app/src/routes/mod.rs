//! One page per file.

pub mod artifact;
pub mod home;
pub mod registry;
pub mod repository;
pub mod target;
