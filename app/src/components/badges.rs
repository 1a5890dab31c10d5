//! Badge previews with their Markdown, ready to copy into a README.

use leptos::prelude::*;

use crate::components::copy::CopyField;

/// `(alt text, badge path under /badge/…, link target path)`.
pub fn badges(public_url: &str, items: Vec<(&'static str, String, String)>) -> impl IntoView + use<> {
    let public_url = public_url.trim_end_matches('/').to_owned();
    view! {
        <details class="mb-3 text-sm" data-testid="badges">
            <summary class="cursor-pointer text-sky-700 dark:text-sky-400">"Badges for your README"</summary>
            <div class="mt-2 grid gap-2">
                {items
                    .into_iter()
                    .map(|(alt, badge, target)| {
                        let markdown = format!("[![{alt}]({public_url}{badge})]({public_url}{target})");
                        view! {
                            <div class="flex flex-wrap items-center gap-3">
                                <img src=badge.clone() alt=alt height="20" />
                                <div class="min-w-0 flex-1"><CopyField text=markdown label="Markdown" /></div>
                            </div>
                        }
                    })
                    .collect_view()}
            </div>
        </details>
    }
}
