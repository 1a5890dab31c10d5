//! One page of a registry's repositories out of its whole catalog (kept in memory by the app):
//! those the caller may see, matching the filter, in the order asked, without copying the
//! catalog — a scan of references, then a sort of the matches only when the order is not the
//! catalog's own.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::filter::NameFilter;

/// How repositories are ordered.
#[derive(Clone, Copy, Debug)]
pub enum Order<'a> {
    /// A→Z (the catalog's own order).
    Name,
    /// Last push first (Unix seconds by repository); those without a known date last, by name.
    Pushed(&'a HashMap<String, i64>),
}

/// A page, and how many there are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    pub page: Vec<String>,
    /// Repositories matching the filter (among those visible).
    pub matching: usize,
    /// Repositories the caller may see.
    pub total: usize,
}

/// Page `page` (1-based) of `per_page` names of `sorted` (sorted by name) that `visible`
/// allows and `filter` matches, in `order` (`reverse` flips it).
pub fn select(
    sorted: &[String],
    filter: &NameFilter,
    visible: impl Fn(&str) -> bool,
    order: Order<'_>,
    reverse: bool,
    page: usize,
    per_page: usize,
) -> Selection {
    let mut total = 0;
    let mut matching: Vec<&String> = Vec::new();
    for name in sorted {
        if !visible(name) {
            continue;
        }
        total += 1;
        if filter.matches_repository(name) {
            matching.push(name);
        }
    }
    if let Order::Pushed(pushed) = order {
        matching.sort_by(|a, b| match (pushed.get(a.as_str()), pushed.get(b.as_str())) {
            (Some(x), Some(y)) => y.cmp(x).then_with(|| a.cmp(b)),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => a.cmp(b),
        });
    }
    if reverse {
        matching.reverse();
    }
    let per_page = per_page.max(1);
    let start = page.max(1).saturating_sub(1).saturating_mul(per_page);
    let page = matching.iter().skip(start).take(per_page).map(|s| (*s).clone()).collect();
    Selection { page, matching: matching.len(), total }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        let mut v: Vec<String> = (0..n).map(|i| format!("team-{:02}/service-{i:05}", i % 40)).collect();
        v.sort();
        v
    }

    #[test]
    fn filters_pages_and_orders() {
        let all = names(10_000);
        let f = NameFilter::new("team-07/*").unwrap();
        let s = select(&all, &f, |_| true, Order::Name, false, 1, 100);
        assert_eq!((s.total, s.matching, s.page.len()), (10_000, 250, 100));
        assert!(s.page.windows(2).all(|w| w[0] < w[1]));
        let last = select(&all, &f, |_| true, Order::Name, false, 3, 100);
        assert_eq!(last.page.len(), 50);
        assert!(select(&all, &f, |_| true, Order::Name, false, 4, 100).page.is_empty());
        // Visibility comes first: hidden repositories are neither counted nor matched.
        let s = select(&all, &NameFilter::All, |n| n.starts_with("team-01/"), Order::Name, true, 1, 10);
        assert_eq!((s.total, s.matching), (250, 250));
        assert!(s.page[0] > s.page[1], "reversed");
        // By last push: known dates first, newest first; the rest by name.
        let pushed: HashMap<String, i64> = [(all[5].clone(), 100), (all[9].clone(), 200)].into();
        let s = select(&all, &NameFilter::All, |_| true, Order::Pushed(&pushed), false, 1, 3);
        assert_eq!(s.page, vec![all[9].clone(), all[5].clone(), all[0].clone()]);
    }
}
