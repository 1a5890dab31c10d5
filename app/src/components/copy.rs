//! Copyable text: the text itself (selectable without JavaScript) and a copy button.

use leptos::prelude::*;

/// A one-line command or value with a copy button (an island: it runs in the browser).
#[island]
pub fn CopyField(#[prop(into)] text: String, #[prop(into, optional)] label: Option<String>) -> impl IntoView {
    let copied = RwSignal::new(false);
    let value = text.clone();
    let on_click = move |_| {
        #[cfg(feature = "hydrate")]
        {
            if let Some(window) = web_sys::window() {
                let _ = window.navigator().clipboard().write_text(&value);
                copied.set(true);
                set_timeout(move || copied.set(false), std::time::Duration::from_millis(1500));
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &value;
    };
    let aria = format!("Copy {}", label.clone().unwrap_or_else(|| "to the clipboard".into()));
    view! {
        <div class="flex min-w-0 items-stretch overflow-hidden rounded-md border border-slate-300 bg-white dark:border-slate-700 dark:bg-slate-900">
            {label.map(|l| view! { <span class="shrink-0 border-r border-slate-300 bg-slate-100 px-2 py-1 text-xs leading-6 text-slate-600 dark:border-slate-700 dark:bg-slate-800 dark:text-slate-400">{l}</span> })}
            <code class="min-w-0 flex-1 overflow-x-auto whitespace-nowrap px-2 py-1 font-mono text-sm leading-6">{text}</code>
            <button
                type="button"
                on:click=on_click
                aria-label=aria
                class="shrink-0 border-l border-slate-300 px-3 text-sm text-slate-700 hover:bg-slate-100 focus:outline-hidden focus-visible:ring-2 focus-visible:ring-sky-500 dark:border-slate-700 dark:text-slate-300 dark:hover:bg-slate-800"
            >
                {move || if copied.get() { "Copied" } else { "Copy" }}
            </button>
        </div>
    }
}

/// A small button copying `text` (plain markup, usable inside a `Suspend`).
pub fn copy_button(text: String, what: &'static str) -> impl IntoView {
    let on_click = move |ev: leptos::ev::MouseEvent| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            if let Some(window) = web_sys::window() {
                let _ = window.navigator().clipboard().write_text(&text);
                if let Some(button) = ev.current_target().and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
                    button.set_inner_text("copied");
                }
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&text, ev);
    };
    view! {
        <button type="button" on:click=on_click aria-label=format!("Copy the full {what}") class="ml-1 rounded-sm px-1 text-xs text-slate-500 hover:bg-slate-100 hover:text-slate-900 focus:outline-hidden focus-visible:ring-2 focus-visible:ring-sky-500 dark:hover:bg-slate-800 dark:hover:text-slate-100">
            "copy"
        </button>
    }
}
