//! `/r/{registry}/{repository}:{tag}` and `…@{digest}`: one artifact.

use leptos::prelude::*;
use leptos_meta::{Link, Meta, Title};
use leptos_router::hooks::use_params_map;

use crate::api::get_artifact;
use crate::components::copy::CopyField;
use crate::components::error_view::error_fallback;
use crate::components::layout::Breadcrumbs;
use crate::model::{ArtifactView, human_size, short_digest};

#[component]
pub fn ArtifactPage() -> impl IntoView {
    let params = use_params_map();
    let key = Memo::new(move |_| {
        let p = params.read();
        (
            p.get("registry").unwrap_or_default(),
            p.get("repository").unwrap_or_default(),
            p.get("reference").unwrap_or_default(),
        )
    });
    let artifact = Resource::new_blocking(move || key.get(), |(r, p, x)| get_artifact(r, p, x));
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            <ErrorBoundary fallback=error_fallback>
                {move || Suspend::new(async move { artifact.await.map(artifact_view) })}
            </ErrorBoundary>
        </Transition>
    }
}

fn label(a: &ArtifactView) -> String {
    a.tag
        .clone()
        .map(|t| format!(":{t}"))
        .unwrap_or_else(|| format!("@{}", short_digest(&a.digest)))
}

fn description(a: &ArtifactView) -> String {
    format!(
        "{} {} in {}/{}",
        a.kind_label, a.digest, a.registry.host, a.repository
    )
}

/// The page body (plain markup: it is built inside a `Suspend`).
fn artifact_view(a: ArtifactView) -> impl IntoView {
    let base = format!("/r/{}/{}", a.registry.name, a.repository);
    let pinned = format!("{base}@{}", a.digest);
    let label = label(&a);
    let crumbs = vec![
        ("Registries".to_owned(), Some("/".to_owned())),
        (
            a.registry.title.clone(),
            Some(format!("/r/{}", a.registry.name)),
        ),
        (a.repository.clone(), Some(base.clone())),
        (label.clone(), None),
    ];
    let by_tag = a
        .tag
        .clone()
        .map(|t| format!("docker pull {}/{}:{t}", a.registry.host, a.repository));
    let by_digest = format!(
        "docker pull {}/{}@{}",
        a.registry.host, a.repository, a.digest
    );
    view! {
        <Title text=format!("{}{label} · Portolan", a.repository) />
        <Meta name="description" content=description(&a) />
        <Meta property="og:title" content=format!("{}{label}", a.repository) />
        <Meta property="og:description" content=description(&a) />
        // The canonical page is the one pinned to the digest.
        <Link rel="canonical" href=pinned.clone() />
        <Breadcrumbs items=crumbs />
        <h1 class="mb-1 break-all font-mono text-2xl font-semibold">{a.repository.clone()}{label}</h1>
        <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
            <span class="rounded-sm bg-slate-100 px-1.5 py-0.5 dark:bg-slate-800" data-kind=a.kind.clone()>{a.kind_label.clone()}</span>
            " · " <span class="font-mono">{a.media_type.clone()}</span>
            " · manifest " {human_size(a.manifest_size)}
        </p>
        <div class="mb-4 grid gap-2 md:grid-cols-2">
            {by_tag.map(|c| view! { <CopyField text=c label="By tag" /> })}
            <CopyField text=by_digest label="By digest" />
            <CopyField text=a.digest.clone() label="Digest" />
            <div class="text-sm"><a href=pinned class="text-sky-700 hover:underline dark:text-sky-400" data-testid="permalink">"Permalink (pinned to this digest)"</a></div>
        </div>
        {a.problem.clone().map(|p| view! {
            <p class="mb-4 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200">{p}</p>
        })}
        <section>
            <h2 class="mb-2 text-lg font-semibold">"Manifest"</h2>
            <pre class="overflow-x-auto rounded-lg border border-slate-200 bg-white p-3 text-xs dark:border-slate-800 dark:bg-slate-900" data-testid="manifest-json">{a.manifest_json.clone()}</pre>
        </section>
    }
}
