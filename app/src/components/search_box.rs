//! The search box in the header of every page. Without JavaScript it is a plain form that opens
//! `/search?q=…`; in the browser (an island) it answers as you type, and `/` focuses it from
//! anywhere on the page.

use leptos::prelude::*;

use crate::api::box_search;
use crate::components::latest::Latest;
use crate::components::usage::digest_href;
use crate::model::{BoxResults, SearchKind, encode_component, short_digest};

/// Hits per registry in the drop-down.
const BOX_HITS: usize = 5;

#[island]
pub fn SearchBox(#[prop(into)] initial: String) -> impl IntoView {
    let results = RwSignal::new(None::<BoxResults>);
    let open = RwSignal::new(false);
    let input = NodeRef::<leptos::html::Input>::new();
    // `/` focuses the box, unless one is typing somewhere else (effects run only in the browser).
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            let handle = window_event_listener(leptos::ev::keydown, move |e: web_sys::KeyboardEvent| {
                if e.key() != "/" || e.ctrl_key() || e.meta_key() || e.alt_key() {
                    return;
                }
                let typing = event_target::<web_sys::Element>(&e).tag_name().to_ascii_lowercase();
                if matches!(typing.as_str(), "input" | "textarea" | "select") {
                    return;
                }
                if let Some(el) = input.get() {
                    e.prevent_default();
                    let _ = el.focus();
                    el.select();
                }
            });
            on_cleanup(move || handle.remove());
        }
    });
    // As you type: the newest answer wins.
    let latest = Latest::new(std::time::Duration::from_millis(150));
    let on_input = move |ev: leptos::ev::Event| {
        let q = event_target_value(&ev);
        if q.trim().is_empty() {
            latest.cancel();
            results.set(None);
            open.set(false);
            return;
        }
        latest.ask(
            move || box_search(q, BOX_HITS),
            move |answer| {
                if let Ok(r) = answer {
                    results.set(Some(r));
                    open.set(true);
                }
            },
        );
    };
    let on_keydown = move |e: leptos::ev::KeyboardEvent| {
        if e.key() == "Escape" {
            open.set(false);
        }
    };
    // Closing when the focus leaves the box and its list (later, so a click on a result lands).
    let on_focusout = move |_| {
        set_timeout(
            move || {
                #[cfg(feature = "hydrate")]
                {
                    let inside = document().active_element().and_then(|a| a.closest("[data-search-box]").ok().flatten()).is_some();
                    if !inside {
                        open.set(false);
                    }
                }
            },
            std::time::Duration::from_millis(150),
        );
    };
    view! {
        <form method="get" action="/search" role="search" class="relative w-full sm:w-80" data-search-box="" on:focusout=on_focusout>
            <label for="search-box" class="sr-only">"Search repositories, tags and digests"</label>
            <input
                id="search-box"
                node_ref=input
                type="search"
                name="q"
                value=initial
                placeholder="Search (press /)"
                autocomplete="off"
                aria-keyshortcuts="/"
                aria-controls="search-box-results"
                on:input=on_input
                on:keydown=on_keydown
                on:focus=move |_| if results.with_untracked(Option::is_some) { open.set(true) }
                class="w-full rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-900"
            />
            <div id="search-box-results" role="region" aria-live="polite" aria-label="Search results">
                {move || (open.get()).then(|| results.get().map(dropdown)).flatten()}
            </div>
        </form>
    }
}

fn dropdown(r: BoxResults) -> impl IntoView {
    let all = format!("/search?q={}", encode_component(&r.query));
    let empty = r.is_empty();
    let item = "block truncate px-3 py-1 font-mono text-sm hover:bg-sky-50 focus:bg-sky-50 focus:outline-hidden dark:hover:bg-slate-800 dark:focus:bg-slate-800";
    let body = match r.kind {
        SearchKind::Digest => {
            let mut links: Vec<(String, String)> = r.digests.iter().map(|d| (d.clone(), digest_href(d))).collect();
            if let Some(u) = &r.used
                && links.is_empty()
            {
                links.push((format!("{} — {} places", short_digest(&u.digest), u.places), digest_href(&u.digest)));
            }
            links
                .into_iter()
                .map(|(label, href)| view! { <a href=href class=item data-testid="box-hit">{label}</a> })
                .collect_view()
                .into_any()
        }
        _ => r
            .groups
            .into_iter()
            .map(|g| {
                view! {
                    <p class="px-3 pt-2 text-xs font-semibold uppercase tracking-wide text-slate-500">{g.title}</p>
                    {g.hits.into_iter().map(|h| view! { <a href=h.href class=item data-testid="box-hit">{h.label}</a> }).collect_view()}
                }
            })
            .collect_view()
            .into_any(),
    };
    view! {
        <div class="absolute right-0 left-0 z-10 mt-1 max-h-96 overflow-y-auto rounded-md border border-slate-200 bg-white py-1 shadow-lg dark:border-slate-700 dark:bg-slate-900" data-testid="search-dropdown">
            {empty.then(|| view! { <p class="px-3 py-1 text-sm text-slate-500">"No match"</p> })}
            {body}
            <a href=all class="mt-1 block border-t border-slate-100 px-3 py-1 text-sm text-sky-700 hover:underline dark:border-slate-800 dark:text-sky-400">"All results →"</a>
        </div>
    }
}
