//! Reusing a rendered page: what the page cache of the server (server/src/page_cache.rs) needs
//! to know to send a page again without rendering it.
//!
//! The server puts a [`Reuse`] slot in the extensions of each page request it may cache. The
//! server function that reads the page's data — only the tag page's, [`crate::api::list_tags`],
//! so far — offers what the page was built from ([`BuiltFrom`]) when everything on it came
//! from the registry client's caches and nothing is still being read. The server keeps the
//! response while [`BuiltFrom::still_current`] holds: the same cached tag list, the same
//! cached digests and referrer lists — so a page sent again is the page a new render would
//! give, no staler than the tag TTL allows.

use std::sync::{Arc, Mutex};

pub use portolan_service::tags::BuiltFrom;

/// The slot a page request carries in its extensions; empty unless the render offered.
#[derive(Debug, Default)]
pub struct Reuse(Mutex<Option<BuiltFrom>>);

impl Reuse {
    pub fn take(&self) -> Option<BuiltFrom> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Offers the page being rendered for reuse (nothing happens outside a page request the
/// server may cache).
pub fn offer(built_from: BuiltFrom) {
    if let Some(slot) = crate::ssr::request_parts().and_then(|p| p.extensions.get::<Arc<Reuse>>().cloned()) {
        *slot.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(built_from);
    }
}
