//! Reusable pieces of pages.

pub mod copy;
pub mod error_view;
pub mod layout;
pub mod pager;
