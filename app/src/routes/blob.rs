//! `/r/{registry}/{repository}/-/blob/{digest}`: a blob (config, SBOM, signature payload…),
//! previewed when it is JSON or text.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{also_used_by, get_blob};
use crate::components::copy::CopyField;
use crate::components::json::json_view;
use crate::components::layout::Breadcrumbs;
use crate::components::page::page_view;
use crate::components::usage::also_used_view;
use crate::model::{AlsoUsed, BlobPreview, BlobView, human_size, short_digest};

#[component]
pub fn BlobPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = Memo::new(move |_| {
        let p = params.read();
        (
            p.get("registry").unwrap_or_default(),
            p.get("repository").unwrap_or_default(),
            p.get("digest").unwrap_or_default(),
            query.read().get("type"),
        )
    });
    let blob = Resource::new_blocking(
        move || key.get(),
        |(r, p, d, t)| async move {
            let (b, also) = futures::join!(get_blob(r.clone(), p.clone(), d.clone(), t), also_used_by(r, p, d));
            b.map(|b| (b, also.ok()))
        },
    );
    page_view(blob, |(b, also)| blob_view(b, also))
}

fn blob_view(b: BlobView, also: Option<AlsoUsed>) -> impl IntoView {
    let base = format!("/r/{}/{}", b.registry.name, b.repository);
    let crumbs = vec![
        ("Registries".to_owned(), Some("/".to_owned())),
        (b.registry.title.clone(), Some(format!("/r/{}", b.registry.name))),
        (b.repository.clone(), Some(base)),
        (format!("blob {}", short_digest(&b.digest)), None),
    ];
    let preview = match b.preview {
        BlobPreview::Json(doc) => json_view(doc, "blob-json").into_any(),
        BlobPreview::Text { text, .. } => view! { <pre class="max-h-[40rem] overflow-auto rounded-lg border border-slate-200 bg-white p-3 text-xs whitespace-pre-wrap dark:border-slate-800 dark:bg-slate-900" data-testid="blob-text">{text}</pre> }.into_any(),
        BlobPreview::None { reason } => view! { <p class="text-sm text-slate-600 dark:text-slate-400" data-testid="no-preview">"No preview: " {reason}</p> }.into_any(),
    };
    view! {
        <Title text=format!("blob {} · {} · Portolan", short_digest(&b.digest), b.repository) />
        <Breadcrumbs items=crumbs />
        <h1 class="mb-2 text-2xl font-semibold">"Blob"</h1>
        <p class="mb-3 text-sm text-slate-600 dark:text-slate-400">
            {b.media_type.clone().map(|t| view! { <span class="font-mono">{t}</span> " · " })}
            {b.size.map(human_size).unwrap_or_else(|| "size unknown".into())}
        </p>
        <div class="mb-4 max-w-3xl"><CopyField text=b.digest.clone() label="digest" /></div>
        {preview}
        {also.map(|also| also_used_view(also, "blob"))}
    }
}
