//! Pretty-printed JSON with coloured tokens and digests as links (plain markup).

use leptos::prelude::*;

use crate::model::{JsonDoc, JsonKind};

pub fn json_view(doc: JsonDoc, testid: &'static str) -> impl IntoView {
    let truncated = doc.truncated;
    view! {
        <pre class="max-h-[40rem] overflow-auto rounded-lg border border-slate-200 bg-white p-3 text-xs leading-5 dark:border-slate-800 dark:bg-slate-900" data-testid=testid>
            {doc
                .tokens
                .into_iter()
                .map(|t| {
                    let class = match t.kind {
                        JsonKind::Key => "json-key",
                        JsonKind::Str => "json-str",
                        JsonKind::Num | JsonKind::Lit => "json-num",
                        JsonKind::Punct => "",
                    };
                    match t.href {
                        Some(href) => view! { <a href=href class="json-str underline decoration-dotted hover:decoration-solid">{t.text}</a> }.into_any(),
                        None if class.is_empty() => t.text.into_any(),
                        None => view! { <span class=class>{t.text}</span> }.into_any(),
                    }
                })
                .collect_view()}
        </pre>
        {truncated.then(|| view! { <p class="mt-1 text-xs text-amber-700 dark:text-amber-300">"Cut: the document is longer than shown."</p> })}
    }
}
