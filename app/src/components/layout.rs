//! The frame of every page: the top bar and breadcrumbs. Plain links: the router handles
//! clicks on any same-origin `<a>`, and plain markup may be built inside a `Suspend`.

use leptos::prelude::*;

#[component]
pub fn Header() -> impl IntoView {
    view! {
        <header class="border-b border-slate-200 bg-white/90 dark:border-slate-800 dark:bg-slate-900/90">
            <div class="mx-auto flex w-full max-w-7xl items-center gap-4 px-4 py-3 sm:px-6">
                <a href="/" class="flex items-center gap-2 font-semibold text-slate-900 hover:text-sky-700 dark:text-slate-100 dark:hover:text-sky-300">
                    <img src="/favicon.svg" alt="" width="24" height="24" />
                    <span>"Portolan"</span>
                </a>
                <span class="hidden text-sm text-slate-500 sm:inline dark:text-slate-400">"OCI registry browser"</span>
            </div>
        </header>
    }
}

/// A trail of links: each item a label and, except the current page, a target.
#[component]
pub fn Breadcrumbs(items: Vec<(String, Option<String>)>) -> impl IntoView {
    let last = items.len().saturating_sub(1);
    view! {
        <nav aria-label="Breadcrumb" class="mb-4 text-sm text-slate-600 dark:text-slate-400">
            <ol class="flex flex-wrap items-center gap-1">
                {items
                    .into_iter()
                    .enumerate()
                    .map(|(i, (label, href))| {
                        let sep = (i > 0).then(|| view! { <span aria-hidden="true" class="text-slate-400">"/"</span> });
                        let item = match href {
                            Some(href) if i != last => {
                                view! { <a href=href class="hover:text-sky-700 hover:underline dark:hover:text-sky-300">{label}</a> }.into_any()
                            }
                            _ => view! { <span aria-current="page" class="font-medium text-slate-900 dark:text-slate-100">{label}</span> }.into_any(),
                        };
                        view! { <li class="flex items-center gap-1">{sep}{item}</li> }
                    })
                    .collect_view()}
            </ol>
        </nav>
    }
}
