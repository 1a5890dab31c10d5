//! `/`: the configured registries.

use leptos::prelude::*;
use leptos_meta::{Meta, Title};

use crate::api::list_registries;
use crate::components::page::page_view;

#[component]
pub fn HomePage() -> impl IntoView {
    let registries = Resource::new_blocking(|| (), |_| list_registries());
    view! {
        <Title text="Registries · Portolan" />
        <Meta name="description" content="Browse the OCI registries configured in this Portolan." />
        <h1 class="mb-4 text-2xl font-semibold">"Registries"</h1>
        {page_view(registries, registries_view)}
    }
}

/// The list of registries (plain markup: it is built inside a `Suspend`).
fn registries_view(list: Vec<crate::model::RegistryInfo>) -> AnyView {
    if list.is_empty() {
        return view! {
            <p class="text-slate-600 dark:text-slate-400">"No registry is configured. Add one under [[registries]] in Portolan's configuration file."</p>
        }
        .into_any();
    }
    view! {
        <ul class="grid gap-4 sm:grid-cols-2 lg:grid-cols-3" data-testid="registries">
            {list
                .into_iter()
                .map(|r| {
                    view! {
                        <li>
                            <a href=format!("/r/{}", r.name) class="block h-full rounded-lg border border-slate-200 bg-white p-4 shadow-sm hover:border-sky-400 hover:shadow-md focus:outline-hidden focus-visible:ring-2 focus-visible:ring-sky-500 dark:border-slate-800 dark:bg-slate-900 dark:hover:border-sky-600">
                                <span class="block text-lg font-medium">{r.title}</span>
                                <span class="mt-1 block font-mono text-sm text-slate-600 dark:text-slate-400">{r.host}</span>
                            </a>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}
