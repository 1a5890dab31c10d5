//! Where a digest is used, as pages show it: the places grouped by registry and repository,
//! what refers to it, and what the index covers (plain markup: usable inside a `Suspend`).

use leptos::prelude::*;

use crate::components::table::{Col, framed};

use crate::model::{AlsoUsed, CoverageRow, UseRow, UsedReferrer, UsedRegistry, WhereUsedView, format_utc, relative_seconds, short_digest};

const LINK: &str = "text-sky-700 hover:underline dark:text-sky-400";

/// `/digest/{digest}`.
pub fn digest_href(digest: &str) -> String {
    format!("/digest/{digest}")
}

/// How a place uses the digest, in words: "is it", "layer of linux/amd64 sha256:…".
fn path_view(u: &UseRow) -> AnyView {
    if u.path.is_empty() {
        return view! { <span class="text-slate-600 dark:text-slate-400">"is this manifest"</span> }.into_any();
    }
    let steps = u
        .path
        .iter()
        .map(|s| {
            let platform = s.platform.clone().map(|p| format!(" {p}"));
            view! {
                <span class="text-slate-400" aria-hidden="true">" → "</span>
                <span>{s.role.clone()}{platform}" "</span>
                <a href=s.href.clone() class=format!("{LINK} font-mono text-xs") title=s.digest.clone()>{short_digest(&s.digest)}</a>
            }
        })
        .collect_view();
    view! { <span class="text-slate-600 dark:text-slate-400" data-testid="use-path">{steps}</span> }.into_any()
}

fn use_row(u: UseRow) -> impl IntoView {
    let tags = if u.tags.is_empty() {
        view! { <span class="text-slate-500">"untagged"</span> }.into_any()
    } else {
        u.tags
            .iter()
            .map(|(t, href)| view! { <a href=href.clone() class=format!("{LINK} mr-2 font-mono") data-testid="use-tag">{t.clone()}</a> })
            .collect_view()
            .into_any()
    };
    let kind = u.kind.clone().map(|k| view! { <span class="rounded-sm bg-slate-100 px-1 text-xs dark:bg-slate-800">{k}</span> " " });
    let path = path_view(&u);
    view! {
        <li class="py-1" data-manifest=u.manifest.clone()>
            {tags} " " {kind}
            <a href=u.manifest_href class=format!("{LINK} font-mono text-xs") title=u.manifest.clone()>{short_digest(&u.manifest)}</a>
            " " {path}
        </li>
    }
}

/// The places, grouped by registry and repository.
pub fn registries_view(registries: Vec<UsedRegistry>) -> impl IntoView {
    registries
        .into_iter()
        .map(|r| {
            view! {
                <section class="mb-4" data-registry=r.registry.name.clone()>
                    <h3 class="mb-1 font-semibold">{r.registry.title.clone()} <span class="ml-2 font-mono text-sm font-normal text-slate-500">{r.registry.host.clone()}</span></h3>
                    <ul class="space-y-2">
                        {r.repositories.into_iter().map(|repo| view! {
                            <li class="rounded-md border border-slate-200 bg-white p-2 dark:border-slate-800 dark:bg-slate-900" data-repository=repo.name.clone()>
                                <a href=repo.href class=format!("{LINK} font-mono font-medium")>{repo.name.clone()}</a>
                                <ul class="ml-4 text-sm">{repo.uses.into_iter().map(use_row).collect_view()}</ul>
                            </li>
                        }).collect_view()}
                    </ul>
                </section>
            }
        })
        .collect_view()
}

fn referrers_view(referrers: Vec<UsedReferrer>) -> impl IntoView {
    view! {
        <ul class="space-y-1 text-sm" data-testid="used-referrers">
            {referrers.into_iter().map(|r| view! {
                <li>
                    <span class="rounded-sm bg-slate-100 px-1 text-xs dark:bg-slate-800">{r.kind}</span> " "
                    <a href=r.href class=format!("{LINK} font-mono text-xs") title=r.digest.clone()>{short_digest(&r.digest)}</a>
                    " in " {r.registry.title} " " <span class="font-mono">{r.repository}</span>
                    {(!r.tags.is_empty()).then(|| format!(" (tags: {})", r.tags.join(", ")))}
                </li>
            }).collect_view()}
        </ul>
    }
}

/// What the index covers, per registry, and how fresh it is.
pub fn coverage_view(rows: Vec<CoverageRow>, now: i64) -> impl IntoView {
    let when = move |t: Option<i64>| match t {
        Some(t) => view! { <time datetime=format_utc(t) title=format_utc(t)>{relative_seconds(t, now)}</time> }.into_any(),
        None => view! { <span class="text-slate-500">"never"</span> }.into_any(),
    };
    view! {
        {framed(Some("coverage"), vec![Col::text("Registry"), Col::text("Crawl"), Col::num("Repositories"), Col::num("Tags"), Col::num("Manifests"), Col::text("Last complete pass")],
                    rows.into_iter().map(|c| {
                        let crawl = if !c.crawl {
                            "off: only what people opened".to_owned()
                        } else {
                            match c.state.as_deref() {
                                None => "on, not started yet".to_owned(),
                                Some("crawling") => format!("reading: {} of {} repositories", c.pass_done, c.pass_total),
                                Some("paused") => match c.paused_until {
                                    Some(t) if t > now => format!("paused (429) for {} s more", t - now),
                                    _ => "paused (429)".to_owned(),
                                },
                                Some("waiting") => "on, between passes".to_owned(),
                                Some(other) => other.to_owned(),
                            }
                        };
                        view! {
                            <tr data-registry=c.registry.name.clone()>
                                <th scope="row" class="px-3 py-2 font-medium">{c.registry.title.clone()}</th>
                                <td class="px-3 py-2" data-testid="crawl-state">{crawl}{c.message.map(|m| view! { <span class="block text-xs text-slate-500">{m}</span> })}</td>
                                <td class="px-3 py-2 text-right tabular-nums">{c.repositories}</td>
                                <td class="px-3 py-2 text-right tabular-nums">{c.tags}</td>
                                <td class="px-3 py-2 text-right tabular-nums">{c.manifests}</td>
                                <td class="px-3 py-2 whitespace-nowrap">{when(c.last_pass)}</td>
                            </tr>
                        }
                    }).collect_view(), None)}
    }
}

/// The whole answer: places, referrers, coverage.
pub fn where_used_body(v: WhereUsedView) -> impl IntoView {
    let places = v.places();
    let repos: usize = v.registries.iter().map(|r| r.repositories.len()).sum();
    let summary = if places == 0 {
        "Portolan's index knows no place using this digest.".to_owned()
    } else {
        format!(
            "Used in {places} {} of {repos} {} in {} {}.",
            if places == 1 { "place" } else { "places" },
            if repos == 1 { "repository" } else { "repositories" },
            v.registries.len(),
            if v.registries.len() == 1 { "registry" } else { "registries" }
        )
    };
    let referrers = (!v.referrers.is_empty()).then(|| {
        view! {
            <h2 class="mt-6 mb-2 text-lg font-semibold">"Referred to by"</h2>
            {referrers_view(v.referrers.clone())}
        }
    });
    view! {
        <p class="mb-4 text-sm" data-testid="used-summary">{summary}</p>
        <div data-testid="used-places">{registries_view(v.registries)}</div>
        {v.truncated.then(|| view! { <p class="text-sm text-amber-800 dark:text-amber-300">"There are more places than shown here."</p> })}
        {referrers}
        <h2 class="mt-6 mb-2 text-lg font-semibold">"What the index covers"</h2>
        <p class="mb-2 text-sm text-slate-600 dark:text-slate-400">
            "The index holds the manifests Portolan read while people browsed, and everything the crawl read in registries where it is on. A registry without the crawl is known only as far as people opened it."
        </p>
        {coverage_view(v.coverage, v.now)}
    }
}

/// "Also used by" on an artifact or blob page.
pub fn also_used_view(a: AlsoUsed, what: &'static str) -> impl IntoView {
    let href = digest_href(&a.digest);
    let body = if a.registries.is_empty() {
        let text = if a.everywhere > 0 {
            format!("Portolan's index knows no other repository with this {what}.")
        } else {
            format!("Portolan's index knows no other repository with this {what} (it holds what people opened and what the crawl read).")
        };
        view! { <p class="text-sm text-slate-600 dark:text-slate-400">{text}</p> }.into_any()
    } else {
        registries_view(a.registries).into_any()
    };
    view! {
        <section class="mt-6" aria-labelledby="also-used" data-testid="also-used">
            <h2 id="also-used" class="mb-2 text-lg font-semibold">"Also used by"</h2>
            {body}
            {a.truncated.then(|| view! { <p class="text-sm">"There are more places than shown here."</p> })}
            <p class="mt-2 text-sm"><a href=href class=LINK>"Where this digest is used, and what the index covers →"</a></p>
        </section>
    }
}
