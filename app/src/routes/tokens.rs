//! `/settings/tokens`: one's API tokens — make one (its secret shown once), see when each was
//! last used and from where, revoke. `/admin/tokens`: everyone's, for an admin of everything.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::{Meta, Title};

use crate::api::{RevokeToken, create_token, list_all_tokens, list_tokens};
use crate::components::page::page_view;
use crate::components::table::{Col, framed};
use crate::model::{TokenForm, TokenRow, TokensPage, format_utc, relative_seconds};

#[component]
pub fn TokensPageView() -> impl IntoView {
    let page = Resource::new_blocking(|| (), |_| list_tokens());
    view! {
        <Title text="API tokens · Portolan" />
        <Meta name="robots" content="noindex" />
        <h1 class="mb-2 text-2xl font-semibold">"API tokens"</h1>
        <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
            "Tokens let scripts and pipelines call Portolan's REST API (" <a href="/api/v1/openapi.json" class="text-sky-700 hover:underline dark:text-sky-400">"its OpenAPI document"</a>
            ") as you, within a scope: a registry, repositories and a role — never more than you may do there, checked again at every use. Send one as "
            <code class="font-mono">"Authorization: Bearer ptl_…"</code> "."
        </p>
        {page_view(page, tokens_view)}
    }
}

#[component]
pub fn AllTokensPageView() -> impl IntoView {
    let page = Resource::new_blocking(|| (), |_| list_all_tokens());
    view! {
        <Title text="Everyone's API tokens · Portolan" />
        <Meta name="robots" content="noindex" />
        <h1 class="mb-4 text-2xl font-semibold">"Everyone's API tokens"</h1>
        {page_view(page, tokens_view)}
    }
}

fn tokens_view(page: TokensPage) -> impl IntoView {
    let now = page.now;
    let all = page.all;
    let when = move |t: Option<i64>| match t {
        Some(t) => {
            let exact = format_utc(t);
            view! { <time datetime=exact.clone() title=exact>{relative_seconds(t, now)}</time> }.into_any()
        }
        None => view! { <span class="text-slate-500">"never"</span> }.into_any(),
    };
    let columns = vec![
        Col::text("Name"),
        Col::text("Owner"),
        Col::text("Scope"),
        Col::text("Expires"),
        Col::text("Last used"),
        Col::text("State"),
        Col::Narrow("Revoke"),
    ];
    let rows = page
        .rows
        .iter()
        .map(|t: &TokenRow| {
            let scope = format!("{} over {} in {}", t.role, t.repositories.join(", "), t.registry);
            let used = t.last_used_from.clone().map(|from| format!(" from {from}"));
            view! {
                <tr data-token=t.id data-state=t.state.clone()>
                    <th scope="row" class="px-3 py-2 font-medium">{t.name.clone()} " " <span class="font-mono text-xs text-slate-500">{t.hint.clone()} "…"</span></th>
                    <td class="px-3 py-2 text-xs">{t.owner.clone()}</td>
                    <td class="px-3 py-2 font-mono text-xs">{scope}</td>
                    <td class="px-3 py-2 text-xs whitespace-nowrap">{when(Some(t.expires_at))}</td>
                    <td class="px-3 py-2 text-xs">{when(t.last_used_at)}{used}</td>
                    <td class="px-3 py-2 text-xs">{t.state.clone()}</td>
                    <td class="px-3 py-2">
                        {(t.state == "active").then(|| view! {
                            <form method="post" action=RevokeToken::PATH>
                                <input type="hidden" name="id" value=t.id />
                                <button type="submit" data-testid="revoke" class="rounded-md border border-rose-300 px-2 py-0.5 text-xs text-rose-800 hover:bg-rose-50 dark:border-rose-800 dark:text-rose-300">"Revoke"</button>
                            </form>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {(!all).then(|| view! { <NewTokenForm max_days=page.max_days registries=page.registries.iter().map(|r| r.name.clone()).collect() /> })}
        {page.rows.is_empty().then(|| view! { <p class="mt-4 text-slate-600 dark:text-slate-400">"No tokens yet."</p> })}
        <div class="mt-4">{framed(Some("tokens"), columns, rows, None)}</div>
    }
}

const INPUT: &str = "w-full rounded-md border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-900";

/// Making a token: its secret is shown once, right here (so this form needs JavaScript).
#[island]
pub fn NewTokenForm(max_days: u32, registries: Vec<String>) -> impl IntoView {
    let form = RwSignal::new(TokenForm {
        registry: registries.first().cloned().unwrap_or_else(|| "*".into()),
        repositories: "**".into(),
        role: "viewer".into(),
        days: max_days.min(30),
        ..Default::default()
    });
    let made = RwSignal::new(None::<(String, String)>);
    let problem = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let asked = form.get_untracked();
        leptos::task::spawn_local(async move {
            match create_token(asked).await {
                Ok(t) => {
                    problem.set(None);
                    made.set(Some((t.row.name, t.secret)));
                }
                Err(e) => problem.set(Some(e.to_string())),
            }
        });
    };
    let field = move |label: &'static str, name: &'static str, get: fn(&TokenForm) -> String, set: fn(&mut TokenForm, String)| {
        view! {
            <label class="block text-sm">
                <span class="font-medium">{label}</span>
                <input name=name value=get(&form.get_untracked()) class=INPUT data-field=name
                    on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| set(f, v)); } />
            </label>
        }
    };
    view! {
        <form on:submit=submit class="grid gap-3 rounded-lg border border-slate-200 bg-white p-4 sm:grid-cols-2 dark:border-slate-800 dark:bg-slate-900" data-testid="new-token">
            {field("Name", "name", |f| f.name.clone(), |f, v| f.name = v)}
            {field("Registry (a name, or * for all)", "registry", |f| f.registry.clone(), |f, v| f.registry = v)}
            {field("Repositories (globs, comma separated)", "repositories", |f| f.repositories.clone(), |f, v| f.repositories = v)}
            <label class="block text-sm">
                <span class="font-medium">"Role"</span>
                <select name="role" class=INPUT on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| f.role = v); }>
                    <option value="viewer" selected=true>"viewer"</option>
                    <option value="maintainer">"maintainer"</option>
                    <option value="admin">"admin"</option>
                </select>
            </label>
            <label class="block text-sm">
                <span class="font-medium">{format!("Expires in (days, at most {max_days})")}</span>
                <input name="days" type="number" min="1" max=max_days value=form.get_untracked().days class=INPUT
                    on:input=move |ev| { let v = event_target_value(&ev).parse().unwrap_or(0); form.update(|f| f.days = v); } />
            </label>
            <div class="flex items-end">
                <button type="submit" class="rounded-md bg-sky-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-800">"Make a token"</button>
            </div>
        </form>
        {move || problem.get().map(|p| view! { <p class="mt-2 text-sm text-rose-700 dark:text-rose-400" data-testid="token-problem">{p}</p> })}
        {move || made.get().map(|(name, secret)| view! {
            <div class="mt-3 rounded-lg border border-emerald-300 bg-emerald-50 p-3 dark:border-emerald-800 dark:bg-emerald-950" data-testid="new-secret">
                <p class="mb-2 text-sm">{format!("The token {name:?}: copy it now — it is not shown again (Portolan keeps only its hash).")}</p>
                <code class="block overflow-x-auto rounded-md border border-slate-300 bg-white px-2 py-1 font-mono text-sm dark:border-slate-700 dark:bg-slate-900" data-testid="secret">{secret}</code>
            </div>
        })}
    }
}
