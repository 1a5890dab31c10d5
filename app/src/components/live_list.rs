//! What the repository list and the tag list share: a filter that follows typing and keeps the
//! URL in step, sort links, and rows the server left pending that the browser completes.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use leptos::prelude::*;

use super::latest::Latest;
use crate::model::{RepoQuery, RepoRow, RepoSort, TagQuery, TagRow, TagSort};

/// A list's view as carried in the URL: filter, order, direction, page.
pub trait ListQuery: Clone + 'static {
    type Sort: Copy + PartialEq;
    fn filter(&self) -> &str;
    fn sort(&self) -> Self::Sort;
    fn reverse(&self) -> bool;
    fn label(sort: Self::Sort) -> &'static str;
    /// The first page of this view, filtered by `filter`.
    fn filtered(&self, filter: String) -> Self;
    /// The first page of this view, ordered by `sort`: the other direction if it is already.
    fn sorted(&self, sort: Self::Sort) -> Self;
    fn to_query_string(&self) -> String;
}

/// The two lists' queries have the same fields for this.
macro_rules! list_query {
    ($query:ty, $sort:ty) => {
        impl ListQuery for $query {
            type Sort = $sort;
            fn filter(&self) -> &str {
                &self.filter
            }
            fn sort(&self) -> $sort {
                self.sort
            }
            fn reverse(&self) -> bool {
                self.reverse
            }
            fn label(sort: $sort) -> &'static str {
                sort.label()
            }
            fn filtered(&self, filter: String) -> Self {
                Self { filter, page: 1, ..self.clone() }
            }
            fn sorted(&self, sort: $sort) -> Self {
                Self { sort, reverse: self.sort == sort && !self.reverse, page: 1, ..self.clone() }
            }
            fn to_query_string(&self) -> String {
                <$query>::to_query_string(self)
            }
        }
    };
}

list_query!(RepoQuery, RepoSort);
list_query!(TagQuery, TagSort);

/// A row of a list that the server may leave pending (not read within its time budget).
pub trait ListRow: Clone {
    /// The name the row is listed under (a repository, a tag).
    fn key(&self) -> &str;
    fn is_pending(&self) -> bool;
}

impl ListRow for RepoRow {
    fn key(&self) -> &str {
        self.name()
    }
    fn is_pending(&self) -> bool {
        matches!(self, RepoRow::Pending { .. })
    }
}

impl ListRow for TagRow {
    fn key(&self) -> &str {
        self.tag()
    }
    fn is_pending(&self) -> bool {
        matches!(self, TagRow::Pending { .. })
    }
}

/// The names of the rows still pending.
pub fn pending_keys<R: ListRow>(rows: &[R]) -> Vec<String> {
    rows.iter().filter(|r| r.is_pending()).map(|r| r.key().to_owned()).collect()
}

/// The rows, each pending one replaced by its completed version where the browser has it.
pub fn with_completed<R: ListRow>(rows: Vec<R>, completed: &[R]) -> Vec<R> {
    rows.into_iter().map(|r| if r.is_pending() { completed.iter().find(|c| c.key() == r.key()).cloned().unwrap_or(r) } else { r }).collect()
}

/// In the browser, reads the rows `rows_of(page)` leaves pending (`read(names)`), whenever the
/// shown page changes, and adds them to `completed`.
pub fn complete_pending<P, R, E, Fut>(
    shown: RwSignal<P>,
    rows_of: impl Fn(&P) -> &[R] + 'static,
    read: impl Fn(Vec<String>) -> Fut + 'static,
    completed: RwSignal<Vec<R>>,
) where
    P: Send + Sync + 'static,
    R: ListRow + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<R>, E>> + 'static,
{
    // Effects run only in the browser.
    Effect::new(move |_| {
        let pending = shown.with(|p| pending_keys(rows_of(p)));
        if pending.is_empty() {
            return;
        }
        let reading = read(pending);
        leptos::task::spawn_local(async move {
            if let Ok(rows) = reading.await {
                completed.update(|c| c.extend(rows));
            }
        });
    });
}

/// The input handler of a list's filter: 200 ms after the last key the server is asked for
/// the first page of the view with that filter; the newest answer is shown (`show`), and the
/// address bar follows it.
pub fn filter_as_you_type<Q, P, E, Fut>(
    base: String,
    current: impl Fn() -> Q + 'static,
    fetch: impl Fn(Q) -> Fut + Clone + 'static,
    show: impl Fn(P) + Clone + 'static,
    problem: RwSignal<Option<String>>,
) -> impl Fn(leptos::ev::Event) + 'static
where
    Q: ListQuery,
    P: 'static,
    E: Display + 'static,
    Fut: Future<Output = Result<P, E>> + 'static,
{
    let latest = Latest::new(Duration::from_millis(200));
    move |ev| {
        let query = current().filtered(event_target_value(&ev));
        let url = format!("{base}{}", query.to_query_string());
        let (fetch, show) = (fetch.clone(), show.clone());
        latest.ask(
            move || fetch(query),
            move |answer| match answer {
                Ok(page) => {
                    replace_url(&url);
                    problem.set(None);
                    show(page);
                }
                Err(e) => problem.set(Some(e.to_string())),
            },
        );
    }
}

/// The query parameters of `query` a filter form keeps as hidden fields: all but the filter
/// itself and the page (a new filter starts at the first page). Taken from the query string,
/// so a parameter added to a view is kept without a change here.
pub fn kept_fields<Q: ListQuery>(query: &Q) -> Vec<(String, String)> {
    let string = query.to_query_string();
    string
        .trim_start_matches('?')
        .split('&')
        .filter_map(|p| p.split_once('='))
        .filter(|(k, _)| !matches!(*k, "q" | "page"))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The filter box of the view `query`: a plain GET form without JavaScript (hidden fields keep
/// the rest of the view), filtering as you type with it.
pub fn filter_form<Q: ListQuery>(
    base: String,
    id: &'static str,
    placeholder: &'static str,
    query: &Q,
    on_input: impl Fn(leptos::ev::Event) + 'static,
) -> impl IntoView {
    let (value, hidden) = (query.filter().to_owned(), kept_fields(query));
    view! {
        <form method="get" action=base role="search" class="mb-3 flex items-center gap-2" on:submit=|ev| ev.prevent_default()>
            <label for=id class="text-sm text-slate-600 dark:text-slate-400">"Filter"</label>
            <input
                id=id
                type="search"
                name="q"
                value=value
                placeholder=placeholder
                autocomplete="off"
                on:input=on_input
                class="w-72 rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-900"
            />
            {hidden.into_iter().map(|(name, value)| view! { <input type="hidden" name=name value=value /> }).collect_view()}
            <noscript><button type="submit" class="rounded-md border border-slate-300 px-3 py-1.5 text-sm">"Filter"</button></noscript>
        </form>
    }
}

/// Replaces the address bar's URL without navigating.
fn replace_url(url: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(url));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = url;
}

/// A link ordering the list by `sort` (the other direction when it already is), marked when
/// it is the current order.
pub fn sort_link<Q: ListQuery>(base: &str, query: &Q, sort: Q::Sort) -> impl IntoView + use<Q> {
    let active = query.sort() == sort;
    let href = format!("{base}{}", query.sorted(sort).to_query_string());
    let arrow = match (active, query.reverse()) {
        (false, _) => "",
        (true, false) => " ↓",
        (true, true) => " ↑",
    };
    let class = if active {
        "rounded-md bg-sky-100 px-2 py-1 font-medium text-sky-900 dark:bg-sky-900 dark:text-sky-100"
    } else {
        "rounded-md px-2 py-1 text-slate-700 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800"
    };
    view! { <a href=href class=class aria-current=active.then_some("true")>{Q::label(sort)}{arrow}</a> }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorting_by_the_current_order_turns_it_round_and_goes_to_page_one() {
        let q = TagQuery { sort: TagSort::Name, page: 3, ..TagQuery::default() };
        let again = q.sorted(TagSort::Name);
        assert!(again.reverse);
        assert_eq!(again.page, 1);
        assert!(!again.sorted(TagSort::Name).reverse);
        let other = again.sorted(TagSort::Created);
        assert_eq!((other.sort, other.reverse), (TagSort::Created, false));
        let repos = RepoQuery { page: 2, ..RepoQuery::default() }.filtered("team/*".into());
        assert_eq!((repos.filter.as_str(), repos.page), ("team/*", 1));
    }

    #[test]
    fn a_filter_form_keeps_the_rest_of_the_view_but_the_page() {
        let q = TagQuery {
            filter: "v1".into(),
            sort: TagSort::Name,
            reverse: true,
            page: 3,
            per_page: 100,
            show_referrer_tags: true,
            ..TagQuery::default()
        };
        let kept = kept_fields(&q);
        let kept: Vec<(&str, &str)> = kept.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(kept, [("sort", "name"), ("reverse", "1"), ("per_page", "100"), ("all", "1")]);
        assert!(kept_fields(&RepoQuery { filter: "a".into(), page: 2, ..RepoQuery::default() }).is_empty());
    }

    #[test]
    fn completed_rows_replace_only_their_pending_placeholders() {
        let rows = vec![
            TagRow::Pending { tag: "a".into() },
            TagRow::Failed { tag: "b".into(), message: "gone".into() },
            TagRow::Pending { tag: "c".into() },
        ];
        assert_eq!(pending_keys(&rows), ["a", "c"]);
        let completed = vec![TagRow::Failed { tag: "c".into(), message: "late".into() }, TagRow::Pending { tag: "b".into() }];
        let merged = with_completed(rows, &completed);
        assert!(merged[0].is_pending());
        assert_eq!(merged[1], TagRow::Failed { tag: "b".into(), message: "gone".into() });
        assert_eq!(merged[2], TagRow::Failed { tag: "c".into(), message: "late".into() });
    }
}
