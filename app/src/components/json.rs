//! Pretty-printed JSON (HTML made and escaped on the server, see `ssr::json`).

use leptos::prelude::*;

use crate::model::JsonDoc;

pub fn json_view(doc: JsonDoc, testid: &'static str) -> impl IntoView {
    let truncated = doc.truncated;
    view! {
        <pre
            class="max-h-[40rem] overflow-auto rounded-lg border border-slate-200 bg-white p-3 text-xs leading-5 dark:border-slate-800 dark:bg-slate-900"
            data-testid=testid
            inner_html=doc.html
        ></pre>
        {truncated.then(|| view! { <p class="mt-1 text-xs text-amber-700 dark:text-amber-300">"Cut: the document is longer than shown."</p> })}
    }
}
