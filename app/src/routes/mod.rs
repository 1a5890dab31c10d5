//! One page per file.

pub mod admin;
pub mod artifact;
pub mod blob;
pub mod delete;
pub mod diff;
pub mod graph;
pub mod home;
pub mod registry;
pub mod repository;
pub mod retention;
pub mod search;
pub mod sign_in;
pub mod storage;
pub mod target;
pub mod tokens;
