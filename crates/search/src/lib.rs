//! Finding things across registries: repository lists filtered and paged over a whole catalog,
//! and "where is this digest used" — answered from an index Portolan keeps in its store of the
//! manifests it reads, filled by the pages people open and by an opt-in crawl per registry.
//!
//! # Layout
//! - [`filter`]: [`NameFilter`], the substring-or-glob filter people type (tags, repositories).
//! - [`catalog`]: [`catalog::select`], one page of a catalog: visible, filtered, ordered.
//! - [`index`]: what the index keeps of a manifest read ([`index::from_doc`],
//!   [`index::from_tag_read`]).
//! - [`budget`]: [`Budget`], the crawl's requests per minute (a token bucket).
//! - [`crawl`]: [`Crawl`]: a repository read incrementally (only tags whose digest changed are
//!   read again), a pass over many that pauses when the registry answers 429.
//!
//! The index itself (tables, the where-used walk) is in `portolan-store`'s `search` module.

pub mod budget;
pub mod catalog;
pub mod crawl;
pub mod filter;
pub mod index;

pub use budget::Budget;
pub use crawl::{Crawl, CrawlError, PassReport, RepoCrawl};
pub use filter::{FilterError, MAX_FILTER, NameFilter};
