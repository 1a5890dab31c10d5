//! Retention pages: `/admin/policies` (the policies, their last runs, run now), the editor
//! `/admin/policies/new` and `/admin/policies/{id}` (a live what-if preview recomputed as you
//! type, the difference from the saved version, the run history with a plot), and
//! `/admin/runs/{id}` (a run's items, with a live progress bar and a stop button).

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{DeletePolicy, RunPolicy, SavePolicy, StopRun, get_policies, get_policy, get_run, preview_policy};
use crate::components::latest::Latest;
use crate::components::page::page_view;
use crate::model::{
    DateSource, PoliciesPage, PolicyForm, PolicyPage, RegistryInfo, RunRow, RunView, WhatIf, format_utc, human_size, relative_seconds,
    short_digest,
};

fn state_badge(state: &str) -> impl IntoView + use<> {
    let class = match state {
        "done" => "bg-emerald-100 text-emerald-900 dark:bg-emerald-900 dark:text-emerald-100",
        "running" => "bg-sky-100 text-sky-900 dark:bg-sky-900 dark:text-sky-100",
        "stopped" | "skipped" => "bg-amber-100 text-amber-900 dark:bg-amber-900 dark:text-amber-100",
        _ => "bg-rose-100 text-rose-900 dark:bg-rose-900 dark:text-rose-100",
    };
    view! { <span class=format!("rounded-sm px-1.5 py-0.5 text-xs {class}") data-state=state.to_owned()>{state.to_owned()}</span> }
}

fn run_forms(id: i64) -> impl IntoView {
    let action = RunPolicy::PATH;
    view! {
        <form method="post" action=action class="inline">
            <input type="hidden" name="id" value=id />
            <input type="hidden" name="dry_run" value="true" />
            <button type="submit" data-testid="dry-run" class="rounded-md border border-slate-300 px-2 py-1 text-sm hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800">"Dry run"</button>
        </form>
        <form method="post" action=action class="inline">
            <input type="hidden" name="id" value=id />
            <input type="hidden" name="dry_run" value="false" />
            <button type="submit" data-testid="run-now" class="rounded-md bg-rose-700 px-2 py-1 text-sm font-medium text-white hover:bg-rose-800">"Run now"</button>
        </form>
    }
}

fn runs_table(runs: Vec<RunRow>, now: i64) -> impl IntoView {
    view! {
        <table class="w-full text-left text-sm" data-testid="runs">
            <thead class="text-xs uppercase tracking-wide text-slate-500">
                <tr><th class="py-1 pr-3">"Run"</th><th class="py-1 pr-3">"Policy"</th><th class="py-1 pr-3">"When"</th><th class="py-1 pr-3">"By"</th><th class="py-1 pr-3">"State"</th><th class="py-1 pr-3 text-right">"Deleted"</th><th class="py-1 pr-3 text-right">"Kept"</th><th class="py-1 pr-3 text-right">"Freed"</th><th class="py-1">"Took"</th></tr>
            </thead>
            <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                {runs.into_iter().map(|r| {
                    let when = format_utc(r.started_at);
                    let took = r.finished_at.map(|f| format!("{} s", f - r.started_at)).unwrap_or_else(|| "…".into());
                    view! {
                        <tr data-run=r.id>
                            <td class="py-1 pr-3"><a href=format!("/admin/runs/{}", r.id) class="text-sky-700 hover:underline dark:text-sky-400">{format!("#{}", r.id % 100_000)}</a>{r.dry_run.then_some(" (dry run)")}</td>
                            <td class="py-1 pr-3">{r.policy_name.clone()}</td>
                            <td class="py-1 pr-3"><time datetime=when.clone() title=when>{relative_seconds(r.started_at, now)}</time></td>
                            <td class="py-1 pr-3">{r.started_by.clone().unwrap_or_else(|| r.trigger.clone())}</td>
                            <td class="py-1 pr-3">{state_badge(&r.state)}</td>
                            <td class="py-1 pr-3 text-right tabular-nums">{r.tags_deleted}</td>
                            <td class="py-1 pr-3 text-right tabular-nums">{r.tags_kept}</td>
                            <td class="py-1 pr-3 text-right tabular-nums">{human_size(r.bytes_freed.max(0) as u64)}</td>
                            <td class="py-1">{took}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
pub fn PoliciesPageView() -> impl IntoView {
    let page = Resource::new_blocking(|| (), |_| get_policies());
    view! {
        <Title text="Retention policies · Portolan" />
        <Meta name="robots" content="noindex" />
        <h1 class="mb-2 text-2xl font-semibold">"Retention policies"</h1>
        {page_view(page, policies_view)}
    }
}

fn policies_view(page: PoliciesPage) -> impl IntoView {
    let now = page.now;
    view! {
        <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">"A policy keeps what its rules keep (the N most recent, newer than D days, matching patterns or versions; protected patterns always win) and deletes the rest of its repositories' tags — through the trash, so every deletion can be restored. New policies start in dry run."</p>
        {page.can_create.then(|| view! { <p class="mb-4"><a href="/admin/policies/new" data-testid="new-policy" class="rounded-md bg-sky-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-800">"New policy"</a></p> })}
        {page.policies.is_empty().then(|| view! { <p class="text-slate-600 dark:text-slate-400">"No policy yet."</p> })}
        <ul class="space-y-3" data-testid="policies">
            {page.policies.into_iter().map(|p| view! {
                <li class="rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900" data-policy=p.name.clone()>
                    <div class="flex flex-wrap items-center justify-between gap-2">
                        <a href=format!("/admin/policies/{}", p.id) class="text-lg font-medium text-sky-700 hover:underline dark:text-sky-400">{p.name.clone()}</a>
                        <div class="flex gap-2">{p.can_run.then(|| run_forms(p.id))}</div>
                    </div>
                    <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
                        {format!("{} · {}", p.registry, p.repositories.join(", "))}
                        {p.dry_run.then_some(" · dry run")}
                        {p.schedule.clone().map(|s| format!(" · schedule {s}"))}
                        {p.next_run.map(|t| format!(" · next {}", format_utc(t)))}
                    </p>
                    {p.problem.clone().map(|e| view! { <p class="mt-1 text-sm text-rose-700 dark:text-rose-400">{e}</p> })}
                    {p.last_run.clone().map(|r| view! {
                        <p class="mt-1 text-sm">"Last run: " {state_badge(&r.state)} {format!(" {} ago-ish · {} deleted, {} kept", relative_seconds(r.started_at, now), r.tags_deleted, r.tags_kept)}</p>
                    })}
                </li>
            }).collect_view()}
        </ul>
        <h2 class="mb-2 mt-6 text-lg font-semibold">"Recent runs"</h2>
        {runs_table(page.recent_runs, now)}
    }
}

#[component]
pub fn PolicyPageView() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|i| i.parse::<i64>().ok()));
    let page = Resource::new_blocking(move || id.get(), get_policy);
    view! {
        <Meta name="robots" content="noindex" />
        {page_view(page, policy_view)}
    }
}

/// Tags kept and deleted per run, as stacked bars (newest on the right).
fn history_chart(runs: &[RunRow]) -> impl IntoView + use<> {
    let runs: Vec<&RunRow> = runs.iter().filter(|r| r.state != "running").take(30).collect::<Vec<_>>().into_iter().rev().collect();
    let max = runs.iter().map(|r| r.tags_kept + r.tags_deleted).max().unwrap_or(0).max(1);
    let (w, h, bar) = (640, 140, 18);
    let bars = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let x = 10 + i as i64 * (bar + 4);
            let deleted_h = r.tags_deleted * (h - 20) / max;
            let kept_h = r.tags_kept * (h - 20) / max;
            let title = format!(
                "run {}: {} deleted, {} kept, {} freed{}",
                r.id,
                r.tags_deleted,
                r.tags_kept,
                human_size(r.bytes_freed.max(0) as u64),
                if r.dry_run { " (dry run)" } else { "" }
            );
            view! {
                <g>
                    <title>{title}</title>
                    <rect x=x y=h - 10 - kept_h - deleted_h width=bar height=kept_h fill="#94a3b8" />
                    <rect x=x y=h - 10 - deleted_h width=bar height=deleted_h fill=if r.dry_run { "#fca5a5" } else { "#dc2626" } />
                </g>
            }
        })
        .collect_view();
    (!runs.is_empty()).then(|| view! {
        <figure class="mb-4">
            <svg viewBox=format!("0 0 {w} {h}") class="h-36 w-full max-w-2xl rounded-md border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900" role="img" aria-label="tags kept and deleted per run" data-testid="history-chart">
                {bars}
            </svg>
            <figcaption class="mt-1 text-xs text-slate-500">"Tags deleted (red; pale for dry runs) and kept (grey) per run, oldest left. Hover a bar for its numbers."</figcaption>
        </figure>
    })
}

fn policy_view(page: PolicyPage) -> impl IntoView {
    let title = if page.form.id.is_some() { page.form.name.clone() } else { "New policy".into() };
    let runs = page.runs.clone();
    let id = page.form.id;
    let now = page.now;
    view! {
        <Title text=format!("{title} · Retention · Portolan") />
        <p class="mb-2 text-sm"><a href="/admin/policies" class="text-sky-700 hover:underline dark:text-sky-400">"← All policies"</a></p>
        <div class="mb-4 flex flex-wrap items-center justify-between gap-2">
            <h1 class="text-2xl font-semibold">{title}</h1>
            <div class="flex gap-2">{(page.can_run && id.is_some()).then(|| run_forms(id.unwrap_or_default()))}</div>
        </div>
        {page.next_run.map(|t| view! { <p class="mb-2 text-sm text-slate-600 dark:text-slate-400">{format!("Next scheduled run: {}", format_utc(t))}</p> })}
        <PolicyEditor initial=page.form.clone() registries=page.registries.clone() editable=page.can_edit />
        {id.map(|id| view! {
            <h2 class="mb-2 mt-8 text-lg font-semibold">"Runs"</h2>
            {history_chart(&runs)}
            {runs_table(runs.clone(), now)}
            {page.can_edit.then(|| view! {
                <form method="post" action=DeletePolicy::PATH class="mt-6">
                    <input type="hidden" name="id" value=id />
                    <button type="submit" class="text-sm text-rose-700 hover:underline dark:text-rose-400">"Delete this policy (its runs stay in the history)"</button>
                </form>
            })}
        })}
    }
}

const INPUT: &str = "w-full rounded-md border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-900";

/// The editor: a plain form (it saves without JavaScript) whose what-if preview — counts,
/// bytes, every tag with its reason, the difference from the saved version — is recomputed
/// from the cached repositories a moment after each edit. An island's props are written into
/// the page for the browser to read: it takes the form, the registries and whether the caller
/// may save, not the policy's runs (the page shows those).
#[island]
pub fn PolicyEditor(initial: PolicyForm, registries: Vec<RegistryInfo>, editable: bool) -> impl IntoView {
    let form = RwSignal::new(initial.clone());
    let preview = RwSignal::new(None::<WhatIf>);
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let latest = Latest::new(std::time::Duration::from_millis(350));
    let recompute = move || {
        latest.ask(
            move || {
                busy.set(true);
                preview_policy(form.get_untracked())
            },
            move |answer| {
                busy.set(false);
                match answer {
                    Ok(w) => {
                        problem.set(None);
                        preview.set(Some(w));
                    }
                    Err(e) => problem.set(Some(e.to_string())),
                }
            },
        );
    };
    // The first preview as soon as the page runs in the browser.
    Effect::new(move |_| recompute());
    let text = move |field: &'static str,
                     label: &'static str,
                     get: fn(&PolicyForm) -> String,
                     set: fn(&mut PolicyForm, String),
                     help: &'static str| {
        view! {
            <label class="block text-sm">
                <span class="font-medium">{label}</span>
                <input name=format!("form[{field}]") value=get(&form.get_untracked()) class=INPUT data-field=field
                    on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| set(f, v)); recompute(); } />
                <span class="text-xs text-slate-500">{help}</span>
            </label>
        }
    };
    let area = move |field: &'static str,
                     label: &'static str,
                     get: fn(&PolicyForm) -> String,
                     set: fn(&mut PolicyForm, String),
                     help: &'static str| {
        view! {
            <label class="block text-sm">
                <span class="font-medium">{label}</span>
                <textarea name=format!("form[{field}]") rows="3" class=INPUT data-field=field
                    on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| set(f, v)); recompute(); }>{get(&form.get_untracked())}</textarea>
                <span class="text-xs text-slate-500">{help}</span>
            </label>
        }
    };
    view! {
        <div class="grid gap-6 lg:grid-cols-2">
            <form method="post" action=SavePolicy::PATH class="space-y-3" data-testid="policy-form">
                {initial.id.map(|id| view! { <input type="hidden" name="form[id]" value=id /> })}
                <input type="hidden" name="form[version]" value=initial.version />
                {text("name", "Name", |f| f.name.clone(), |f, v| f.name = v, "")}
                <label class="block text-sm">
                    <span class="font-medium">"Registry"</span>
                    <select name="form[registry]" class=INPUT data-field="registry" on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| f.registry = v); recompute(); }>
                        {registries.iter().map(|r| view! { <option value=r.name.clone() selected=r.name == initial.registry>{r.title.clone()}</option> }).collect_view()}
                    </select>
                </label>
                {area("repositories", "Repositories", |f| f.repositories.clone(), |f, v| f.repositories = v, "globs, one per line: team/* (one level), team/** (all below), ** (everything)")}
                <fieldset class="rounded-md border border-slate-200 p-3 dark:border-slate-800">
                    <legend class="px-1 text-sm font-medium">"Keep (any rule that matches keeps the tag)"</legend>
                    <div class="grid grid-cols-2 gap-2">
                        {text("most_recent_count", "The N most recent", |f| f.most_recent_count.clone(), |f, v| f.most_recent_count = v, "empty: no such rule")}
                        <label class="block text-sm">
                            <span class="font-medium">"…ranked by"</span>
                            <select name="form[most_recent_by]" class=INPUT data-field="most_recent_by" on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| f.most_recent_by = v); recompute(); }>
                                {[("version", "semantic version"), ("created", "creation date"), ("first-seen", "first seen by Portolan")].into_iter().map(|(v, l)| view! { <option value=v selected=initial.most_recent_by == v>{l}</option> }).collect_view()}
                            </select>
                        </label>
                    </div>
                    {text("newer_than_days", "Newer than (days)", |f| f.newer_than_days.clone(), |f, v| f.newer_than_days = v, "by the image's date: config created, else the annotation, else first seen")}
                    {area("tag_patterns", "Tags matching", |f| f.tag_patterns.clone(), |f, v| f.tag_patterns = v, "globs, one per line, e.g. release-*")}
                    {text("versions", "Versions matching", |f| f.versions.clone(), |f, v| f.versions = v, "a semver requirement, e.g. >=2.0.0, <3")}
                    <label class="block text-sm">
                        <span class="font-medium">"Signed artifacts"</span>
                        <select name="form[keep_signatures]" class=INPUT data-field="keep_signatures" on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| f.keep_signatures = v); recompute(); }>
                            {[("", "no such rule"), ("verified", "keep those verified by a trust policy"), ("signed", "keep every signed one, verified or not")].into_iter().map(|(v, l)| view! { <option value=v selected=initial.keep_signatures == v>{l}</option> }).collect_view()}
                        </select>
                    </label>
                </fieldset>
                {area("protected", "Protected (always kept)", |f| f.protected.clone(), |f, v| f.protected = v, "tag globs, one per line, e.g. latest, v*")}
                <div class="grid grid-cols-2 gap-2">
                    <label class="block text-sm">
                        <span class="font-medium">"Orphaned referrers"</span>
                        <select name="form[orphans]" class=INPUT data-field="orphans" on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| f.orphans = v); recompute(); }>
                            <option value="report" selected=initial.orphans != "delete">"report them"</option>
                            <option value="delete" selected=initial.orphans == "delete">"delete them"</option>
                        </select>
                    </label>
                    {text("max_deletions", "At most per run", |f| f.max_deletions.clone(), |f, v| f.max_deletions = v, "deletions; the rest wait for the next run")}
                </div>
                <div class="grid grid-cols-2 gap-2">
                    <label class="block text-sm">
                        <span class="font-medium">"Mode"</span>
                        <select name="form[dry_run]" class=INPUT data-field="dry_run" on:change=move |ev| { let v = event_target_value(&ev) == "true"; form.update(|f| f.dry_run = v); recompute(); }>
                            <option value="true" selected=initial.dry_run>"dry run: only plan"</option>
                            <option value="false" selected=!initial.dry_run>"delete (through the trash)"</option>
                        </select>
                    </label>
                    {text("schedule", "Schedule", |f| f.schedule.clone(), |f, v| f.schedule = v, "cron, UTC: 0 3 * * * (03:00 daily); empty: on demand")}
                </div>
                {editable.then(|| view! { <button type="submit" data-testid="save-policy" class="rounded-md bg-sky-700 px-4 py-2 font-medium text-white hover:bg-sky-800">"Save"</button> })}
            </form>
            <section aria-live="polite" data-testid="what-if" data-busy=move || busy.get().to_string()>
                <h2 class="mb-2 text-lg font-semibold">"What it would do now"</h2>
                {move || problem.get().map(|p| view! { <p class="text-sm text-rose-700 dark:text-rose-400">{p}</p> })}
                {move || match preview.get() {
                    None => view! { <p class="text-sm text-slate-500">"Computing… (this needs JavaScript; saving does not)"</p> }.into_any(),
                    Some(w) => what_if_view(w).into_any(),
                }}
            </section>
        </div>
    }
}

fn what_if_view(w: WhatIf) -> impl IntoView {
    if !w.errors.is_empty() {
        return view! {
            <ul class="list-disc pl-5 text-sm text-rose-700 dark:text-rose-400" data-testid="policy-errors">
                {w.errors.into_iter().map(|(at, m)| view! { <li><span class="font-mono">{at}</span>": " {m}</li> }).collect_view()}
            </ul>
        }
        .into_any();
    }
    view! {
        <p class="text-sm" data-testid="what-if-summary" data-deleted=w.tags_deleted data-kept=w.tags_kept>
            {format!("{} tags kept, {} deleted{}, {} manifests deleted, {}{} freed after garbage collection — in {} repositories (computed in {} ms).",
                w.tags_kept, w.tags_deleted, if w.tags_deferred > 0 { format!(" (and {} waiting for later runs)", w.tags_deferred) } else { String::new() },
                w.manifests_deleted, if w.freed.complete { "" } else { "at most " }, human_size(w.freed.bytes), w.repositories, w.elapsed_ms)}
        </p>
        <p class="text-xs text-slate-600 dark:text-slate-400" data-testid="what-if-freed" data-bytes=w.freed.bytes>{w.freed.note.clone()}</p>
        {(!w.newly_deleted.is_empty() || !w.no_longer_deleted.is_empty()).then(|| view! {
            <div class="mt-2 rounded-md border border-amber-300 bg-amber-50 p-2 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200" data-testid="what-if-diff">
                <p class="font-medium">"Compared with the saved version"</p>
                {(!w.newly_deleted.is_empty()).then(|| view! { <p>{format!("Now deleted too: {}", w.newly_deleted.join(", "))}</p> })}
                {(!w.no_longer_deleted.is_empty()).then(|| view! { <p>{format!("No longer deleted: {}", w.no_longer_deleted.join(", "))}</p> })}
            </div>
        })}
        {(!w.notes.is_empty()).then(|| view! { <ul class="mt-2 list-disc pl-5 text-xs text-slate-600 dark:text-slate-400">{w.notes.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul> })}
        <table class="mt-3 w-full text-left text-xs" data-testid="what-if-tags">
            <thead class="uppercase tracking-wide text-slate-500"><tr><th class="py-1 pr-2">"Tag"</th><th class="py-1 pr-2">"Decision"</th><th class="py-1 pr-2">"Date"</th><th class="py-1">"Why"</th></tr></thead>
            <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                {w.tags.into_iter().map(|t| {
                    let color = if t.decision == "keep" { "text-emerald-700 dark:text-emerald-400" } else { "text-rose-700 dark:text-rose-400" };
                    let date = t.age.map(format_utc);
                    view! {
                        <tr data-tag=format!("{}:{}", t.repository, t.tag) data-decision=t.decision.clone()>
                            <td class="py-1 pr-2 font-mono">{format!("{}:{}", t.repository, t.tag)}</td>
                            <td class=format!("py-1 pr-2 font-medium {color}")>{t.decision.clone()}</td>
                            <td class="py-1 pr-2" title=t.age_source.map(DateSource::label).unwrap_or_default()>{date.map(|d| d[..10].to_owned())}</td>
                            <td class="py-1 text-slate-600 dark:text-slate-400">{t.reason.clone()}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {w.truncated.then(|| view! { <p class="mt-1 text-xs text-slate-500">"More tags than shown here."</p> })}
    }
    .into_any()
}

#[component]
pub fn RunPageView() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = Memo::new(move |_| {
        (
            params.read().get("id").and_then(|i| i.parse::<i64>().ok()).unwrap_or(0),
            query.read().get("from").and_then(|f| f.parse::<i64>().ok()).unwrap_or(0),
        )
    });
    let view = Resource::new_blocking(move || key.get(), |(id, from)| get_run(id, from));
    view! {
        <Meta name="robots" content="noindex" />
        {page_view(view, run_view)}
    }
}

fn run_view(v: RunView) -> impl IntoView {
    let r = v.run.clone();
    view! {
        <Title text=format!("Run of {} · Portolan", r.policy_name) />
        <p class="mb-2 text-sm"><a href=format!("/admin/policies/{}", r.policy_id) class="text-sky-700 hover:underline dark:text-sky-400">{format!("← {}", r.policy_name)}</a></p>
        <h1 class="mb-2 text-2xl font-semibold">{format!("Run of {}{}", r.policy_name, if r.dry_run { " (dry run)" } else { "" })}</h1>
        <RunProgress run=v.run.clone() can_stop=v.can_stop />
        <table class="mt-4 w-full text-left text-sm" data-testid="run-items">
            <thead class="text-xs uppercase tracking-wide text-slate-500"><tr><th class="py-1 pr-3">"Repository"</th><th class="py-1 pr-3">"Step"</th><th class="py-1 pr-3">"Tag"</th><th class="py-1 pr-3">"Digest"</th><th class="py-1 pr-3">"Outcome"</th><th class="py-1">"Why"</th></tr></thead>
            <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                {v.items.into_iter().map(|i| view! {
                    <tr data-outcome=i.outcome.clone() data-action=i.action.clone()>
                        <td class="py-1 pr-3 font-mono text-xs">{i.repository.clone()}</td>
                        <td class="py-1 pr-3">{i.action.clone()}</td>
                        <td class="py-1 pr-3 font-mono text-xs">{i.tag.clone().unwrap_or_default()}</td>
                        <td class="py-1 pr-3 font-mono text-xs">{short_digest(&i.digest)}</td>
                        <td class="py-1 pr-3">{i.outcome.clone()}</td>
                        <td class="py-1 text-slate-600 dark:text-slate-400">{i.reason.clone().unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        {v.next_from.map(|n| view! { <p class="mt-3 text-sm"><a href=format!("/admin/runs/{}?from={n}", r.id) class="text-sky-700 hover:underline dark:text-sky-400">"More items →"</a></p> })}
    }
}

/// The run's state and counters; while it runs, a progress bar that refreshes itself and a
/// stop button. It takes the run and whether the caller may stop it, not the run's items (the
/// page lists those; an island's props are written into the page too).
#[island]
pub fn RunProgress(run: RunRow, can_stop: bool) -> impl IntoView {
    let id = run.id;
    let current = RwSignal::new((run, can_stop));
    Effect::new(move |_| {
        if current.with_untracked(|(run, _)| run.state != "running") {
            return;
        }
        leptos::task::spawn_local(async move {
            loop {
                gloo_sleep(1500).await;
                match get_run(id, i64::MAX).await {
                    Ok(v) => {
                        let running = v.run.state == "running";
                        current.set((v.run, v.can_stop));
                        if !running {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
    });
    move || {
        let (r, can_stop) = current.get();
        let handled = r.done + r.skipped + r.failed;
        let percent = if r.planned > 0 {
            (handled * 100 / r.planned).min(100)
        } else if r.state == "running" {
            0
        } else {
            100
        };
        view! {
            <div class="rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900" data-testid="run-progress" data-state=r.state.clone()>
                <p class="text-sm">{state_badge(&r.state)} {format!(" {} · started {} by {} · policy version {}", r.trigger, format_utc(r.started_at), r.started_by.clone().unwrap_or_default(), r.policy_version)}</p>
                <div class="mt-2 h-2 w-full overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=percent>
                    <div class="h-2 bg-sky-600" style=format!("width: {percent}%")></div>
                </div>
                <p class="mt-2 text-sm tabular-nums" data-testid="run-counts">
                    {format!("{} repositories · {} planned · {} done · {} skipped · {} failed · {} tags deleted, {} kept · {} freed",
                        r.repositories, r.planned, r.done, r.skipped, r.failed, r.tags_deleted, r.tags_kept, human_size(r.bytes_freed.max(0) as u64))}
                </p>
                {r.message.clone().map(|m| view! { <p class="mt-1 text-sm text-amber-800 dark:text-amber-300">{m}</p> })}
                {can_stop.then(|| view! {
                    <form method="post" action=StopRun::PATH class="mt-2">
                        <input type="hidden" name="id" value=r.id />
                        <button type="submit" data-testid="stop-run" class="rounded-md border border-rose-300 px-3 py-1 text-sm text-rose-800 hover:bg-rose-50 dark:border-rose-800 dark:text-rose-300">"Stop"</button>
                    </form>
                })}
            </div>
        }
    }
}

/// Waits `ms` milliseconds (in the browser).
async fn gloo_sleep(ms: u64) {
    let (tx, rx) = futures_channel();
    set_timeout(
        move || {
            let _ = tx.send(());
        },
        std::time::Duration::from_millis(ms),
    );
    let _ = rx.await;
}

fn futures_channel() -> (futures::channel::oneshot::Sender<()>, futures::channel::oneshot::Receiver<()>) {
    futures::channel::oneshot::channel()
}
