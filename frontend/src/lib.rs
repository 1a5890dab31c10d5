//! The WebAssembly entry point: hydrates the interactive islands of the server-rendered page,
//! then marks `<html data-hydrated="true">` (tests and scripts wait for it).

// The islands live in the app crate: naming it makes the compiler link it, and with it their
// exported hydration functions.
use portolan_app as _;

use leptos::prelude::{document, set_timeout};

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    // Leptos' loader hydrates the islands when this returns, without waiting on anything but
    // promises already resolved: a timeout marks the page once they and their first effects
    // have run.
    set_timeout(
        || {
            if let Some(root) = document().document_element() {
                let _ = root.set_attribute("data-hydrated", "true");
            }
        },
        std::time::Duration::ZERO,
    );
}
