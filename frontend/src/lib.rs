//! The WebAssembly entry point: hydrates the interactive islands of the server-rendered page.

// The islands live in the app crate: naming it makes the compiler link it, and with it their
// exported hydration functions.
use portolan_app as _;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
