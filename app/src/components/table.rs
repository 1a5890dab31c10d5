//! The framed table of every list and detail page: a rounded frame, a row of column names,
//! rows divided by lines — one place for its markup (and its light and dark colours).

use leptos::prelude::*;

/// A column's header.
#[derive(Clone, Debug)]
pub enum Col {
    /// Text, left-aligned.
    Text(String),
    /// Numbers: right-aligned.
    Num(String),
    /// A narrow column whose name only screen readers read (a row's checkbox).
    Narrow(&'static str),
}

impl Col {
    pub fn text(name: impl Into<String>) -> Self {
        Col::Text(name.into())
    }

    pub fn num(name: impl Into<String>) -> Self {
        Col::Num(name.into())
    }

    fn view(self) -> AnyView {
        match self {
            Col::Text(n) => view! { <th scope="col" class="px-3 py-2">{n}</th> }.into_any(),
            Col::Num(n) => view! { <th scope="col" class="px-3 py-2 text-right">{n}</th> }.into_any(),
            Col::Narrow(n) => view! { <th scope="col" class="w-8 px-3 py-2"><span class="sr-only">{n}</span></th> }.into_any(),
        }
    }
}

/// Text columns named `names`.
pub fn cols(names: &[&str]) -> Vec<Col> {
    names.iter().map(|n| Col::text(*n)).collect()
}

/// A framed table with `columns` (none: no header row), `rows` and an optional `foot`.
pub fn framed(testid: Option<&'static str>, columns: Vec<Col>, rows: impl IntoView + 'static, foot: Option<AnyView>) -> AnyView {
    let head = (!columns.is_empty()).then(|| {
        view! {
            <thead class="border-b border-slate-200 bg-slate-50 text-xs uppercase tracking-wide text-slate-600 dark:border-slate-800 dark:bg-slate-800/50 dark:text-slate-400">
                <tr>{columns.into_iter().map(Col::view).collect_view()}</tr>
            </thead>
        }
    });
    let foot = foot
        .map(|f| view! { <tfoot class="border-t border-slate-200 text-slate-600 dark:border-slate-800 dark:text-slate-400">{f}</tfoot> });
    view! {
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <table class="w-full text-left text-sm" data-testid=testid>
                {head}
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">{rows}</tbody>
                {foot}
            </table>
        </div>
    }
    .into_any()
}
