//! Previous / next page links (plain markup: usable inside a `Suspend`).

use leptos::prelude::*;

/// Links to the previous and next pages; `href(page)` builds a page's URL.
pub fn pager(page: usize, pages: usize, href: impl Fn(usize) -> String) -> impl IntoView {
    let link_class = "rounded-md border border-slate-300 px-3 py-1 hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800";
    let off_class = "rounded-md border border-slate-200 px-3 py-1 text-slate-400 dark:border-slate-800 dark:text-slate-600";
    let prev = if page > 1 {
        view! { <a href=href(page - 1) class=link_class rel="prev">"← Previous"</a> }.into_any()
    } else {
        view! { <span class=off_class aria-disabled="true">"← Previous"</span> }.into_any()
    };
    let next = if page < pages {
        view! { <a href=href(page + 1) class=link_class rel="next">"Next →"</a> }.into_any()
    } else {
        view! { <span class=off_class aria-disabled="true">"Next →"</span> }.into_any()
    };
    view! {
        <nav aria-label="Pages" class="flex items-center justify-between gap-3 text-sm">
            {prev}
            <span class="text-slate-600 dark:text-slate-400">"Page " {page} " of " {pages}</span>
            {next}
        </nav>
    }
}
