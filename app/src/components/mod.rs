//! Reusable pieces of pages.

pub mod badges;
pub mod copy;
pub mod error_view;
pub mod fold;
pub mod json;
pub mod latest;
pub mod layout;
pub mod live_list;
pub mod page;
pub mod pager;
pub mod search_box;
pub mod table;
pub mod usage;
