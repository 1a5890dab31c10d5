//! Untrusted text (annotations, labels, env): shown as text — never as markup — with long
//! values folded behind a disclosure that works without JavaScript.

use leptos::prelude::*;

use crate::components::table::framed;

/// Characters shown before a value is folded.
pub const FOLD_AT: usize = 160;

pub fn folded(text: String) -> AnyView {
    if text.chars().count() <= FOLD_AT && !text.contains('\n') {
        return view! { <span class="break-anywhere">{text}</span> }.into_any();
    }
    let head: String = text.chars().take(FOLD_AT).take_while(|c| *c != '\n').collect();
    let more = text.chars().count();
    view! {
        <details class="group">
            <summary class="cursor-pointer list-none break-anywhere">
                {head}"… "<span class="text-xs text-sky-700 group-open:hidden dark:text-sky-400">{format!("show all {more} characters")}</span>
            </summary>
            <pre class="mt-1 max-h-80 overflow-auto whitespace-pre-wrap break-anywhere rounded-sm bg-slate-50 p-2 text-xs dark:bg-slate-800">{text}</pre>
        </details>
    }
    .into_any()
}

/// A two-column table of (key, value) pairs, values folded.
pub fn pairs_table(pairs: Vec<(String, String)>, testid: &'static str) -> impl IntoView {
    view! {
        {framed(Some(testid), Vec::new(),
                    pairs
                        .into_iter()
                        .map(|(k, v)| view! {
                            <tr>
                                <th scope="row" class="w-1/3 px-3 py-1.5 align-top font-mono text-xs font-normal text-slate-600 break-anywhere dark:text-slate-400">{k}</th>
                                <td class="px-3 py-1.5 font-mono text-xs">{folded(v)}</td>
                            </tr>
                        })
                        .collect_view(), None)}
    }
}
