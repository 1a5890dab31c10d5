//! The frame of every page: the top bar (the search box, who is signed in, their role here,
//! sign-in and sign-out) and breadcrumbs. Plain links and forms: they work without JavaScript.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_query_map};

use crate::api::session_info;
use crate::components::search_box::SearchBox;
use crate::model::{SessionView, encode_component};
use crate::routes::target::Target;

/// The registry and repository a path is about (for "your role here").
fn place(path: &str) -> (Option<String>, Option<String>) {
    let Some(rest) = path.strip_prefix("/r/") else {
        return (None, None);
    };
    let (registry, rest) = rest.split_once('/').unwrap_or((rest, ""));
    let repository = match Target::parse(rest) {
        Target::Repository(r)
        | Target::Tag(r, _)
        | Target::Digest(r, _)
        | Target::Referrers(r, _)
        | Target::Blob(r, _)
        | Target::Diff(r)
        | Target::Delete(r)
        | Target::Deleted(r)
        | Target::Storage(r) => Some(r).filter(|r| !r.is_empty()),
        Target::RegistryStorage | Target::Unknown => None,
    };
    (Some(registry.to_owned()).filter(|r| !r.is_empty()), repository)
}

#[component]
pub fn Header() -> impl IntoView {
    let location = use_location();
    let query = use_query_map();
    let path = Memo::new(move |_| location.pathname.get());
    // The box shows what was searched for on the results page.
    let searched = move || if path.get() == "/search" { query.read().get("q").unwrap_or_default() } else { String::new() };
    let session = Resource::new_blocking(
        move || path.get(),
        |path| async move {
            let (registry, repository) = place(&path);
            session_info(registry, repository).await.map(|s| (s, path))
        },
    );
    view! {
        <header class="border-b border-slate-200 bg-white/90 dark:border-slate-800 dark:bg-slate-900/90">
            <div class="mx-auto flex w-full max-w-7xl flex-wrap items-center gap-4 px-4 py-3 sm:px-6">
                <a href="/" class="flex items-center gap-2 font-semibold text-slate-900 hover:text-sky-700 dark:text-slate-100 dark:hover:text-sky-300">
                    <img src="/favicon.svg" alt="" width="24" height="24" />
                    <span>"Portolan"</span>
                </a>
                <span class="hidden text-sm text-slate-500 lg:inline dark:text-slate-400">"OCI registry browser"</span>
                {move || view! { <SearchBox initial=searched() /> }}
                <div class="ml-auto flex items-center gap-3 text-sm" data-testid="session">
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move { session.await.ok().map(|(s, path)| session_view(s, path)) })}
                    </Suspense>
                </div>
            </div>
        </header>
    }
}

fn session_view(s: SessionView, path: String) -> AnyView {
    if !s.sign_in_enabled {
        return view! { <span class="rounded-sm bg-slate-100 px-2 py-0.5 text-xs text-slate-600 dark:bg-slate-800 dark:text-slate-300" title="No sign-in is configured: nothing can be changed">"read-only"</span> }.into_any();
    }
    match s.name {
        Some(name) => {
            let role = s.role.clone().unwrap_or_else(|| "no role".into());
            // Links to the admin pages the caller may open somewhere (each page checks itself).
            let highest = s.highest.as_deref();
            let admin_links = matches!(highest, Some("maintainer") | Some("admin")).then(|| {
                view! {
                    <a href="/admin/policies" class="text-sky-700 hover:underline dark:text-sky-400">"Retention"</a>
                    <a href="/admin/trash" class="text-sky-700 hover:underline dark:text-sky-400">"Trash"</a>
                }
            });
            let audit_link = (highest == Some("admin"))
                .then(|| view! { <a href="/admin/audit" class="text-sky-700 hover:underline dark:text-sky-400">"Audit"</a> });
            view! {
                {admin_links}
                {audit_link}
                <a href="/settings/tokens" class="text-sky-700 hover:underline dark:text-sky-400">"Tokens"</a>
                <span data-testid="user" data-role=s.role.clone().unwrap_or_default()>
                    <span class="font-medium">{name}</span>
                    <span class="ml-1 rounded-sm bg-sky-100 px-1.5 py-0.5 text-xs text-sky-900 dark:bg-sky-900 dark:text-sky-100" title="your role where this page is">{role}</span>
                </span>
                {(!s.proxy || s.provider.as_deref() != Some("proxy")).then(|| view! {
                    <form method="post" action="/auth/logout">
                        <button type="submit" class="rounded-md border border-slate-300 px-2 py-1 hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800">"Sign out"</button>
                    </form>
                })}
            }
            .into_any()
        }
        None if s.proxy => ().into_any(),
        None => {
            let href = format!("/sign-in?next={}", encode_component(&path));
            view! { <a href=href class="rounded-md bg-sky-700 px-3 py-1 font-medium text-white hover:bg-sky-800">"Sign in"</a> }.into_any()
        }
    }
}

/// A trail of links: each item a label and, except the current page, a target.
#[component]
pub fn Breadcrumbs(items: Vec<(String, Option<String>)>) -> impl IntoView {
    let last = items.len().saturating_sub(1);
    view! {
        <nav aria-label="Breadcrumb" class="mb-4 text-sm text-slate-600 dark:text-slate-400">
            <ol class="flex flex-wrap items-center gap-1">
                {items
                    .into_iter()
                    .enumerate()
                    .map(|(i, (label, href))| {
                        let sep = (i > 0).then(|| view! { <span aria-hidden="true" class="text-slate-400">"/"</span> });
                        let item = match href {
                            Some(href) if i != last => {
                                view! { <a href=href class="hover:text-sky-700 hover:underline dark:hover:text-sky-300">{label}</a> }.into_any()
                            }
                            _ => view! { <span aria-current="page" class="font-medium text-slate-900 dark:text-slate-100">{label}</span> }.into_any(),
                        };
                        view! { <li class="flex items-center gap-1">{sep}{item}</li> }
                    })
                    .collect_view()}
            </ol>
        </nav>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places() {
        assert_eq!(place("/r/hub/library/hello:1.0"), (Some("hub".into()), Some("library/hello".into())));
        assert_eq!(place("/r/hub"), (Some("hub".into()), None));
        assert_eq!(place("/"), (None, None));
    }
}
