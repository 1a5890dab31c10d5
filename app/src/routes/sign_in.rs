//! `/sign-in`: the ways to sign in here (`?next=` is where to go afterwards).

use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_query_map;

use crate::api::get_sign_in_options;
use crate::components::page::page_view;
use crate::model::{SignInOptions, encode_component};

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let next =
        Memo::new(move |_| query.read().get("next").filter(|n| n.starts_with('/') && !n.starts_with("//")).unwrap_or_else(|| "/".into()));
    let options = Resource::new_blocking(move || next.get(), |next| async move { get_sign_in_options().await.map(|o| (o, next)) });
    view! {
        <Title text="Sign in · Portolan" />
        <Meta name="robots" content="noindex" />
        {page_view(options, sign_in_view)}
    }
}

fn sign_in_view((options, next): (SignInOptions, String)) -> impl IntoView {
    let SignInOptions { providers, proxy, note } = options;
    let body = if !providers.is_empty() {
        view! {
            <ul class="mt-4 grid gap-3" data-testid="providers">
                {providers
                    .into_iter()
                    .map(|p| {
                        let href = format!("/auth/login/{}?next={}", p.id, encode_component(&next));
                        view! {
                            <li>
                                <a href=href data-provider=p.id.clone() class="block rounded-md border border-slate-300 bg-white px-4 py-3 font-medium hover:border-sky-500 hover:bg-sky-50 dark:border-slate-700 dark:bg-slate-900 dark:hover:bg-slate-800">
                                    {format!("Sign in with {}", p.title)}
                                </a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    } else if proxy {
        view! { <p class="mt-3 text-slate-700 dark:text-slate-300">"Sign-in is handled by the proxy in front of Portolan: reload the page through it."</p> }.into_any()
    } else {
        view! {
            <p class="mt-3 text-slate-700 dark:text-slate-300">
                "No sign-in is configured: Portolan is an open, read-only browser here. Its administrator can add OpenID Connect or GitHub sign-in to its configuration."
            </p>
        }
        .into_any()
    };
    view! {
        <section class="mx-auto max-w-md rounded-lg border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <h1 class="text-2xl font-semibold">"Sign in"</h1>
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">"What you may see and change depends on the roles your account is given."</p>
            {body}
            {note.map(|note| {
                view! {
                    <p data-testid="sign-in-note" class="mt-5 whitespace-pre-line break-words border-t border-slate-200 pt-4 text-sm text-slate-700 dark:border-slate-800 dark:text-slate-300">
                        {note}
                    </p>
                }
            })}
        </section>
    }
}
