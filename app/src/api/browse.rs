//! Browsing: every function here needs the viewer role where it reads, checked first.

use leptos::prelude::*;

use crate::api::codec::JsonStr;
use crate::error::AppError;
use crate::model::{RegistryInfo, TagPage, TagQuery, TagRow};

/// The state, the registry named `registry` and the validated repository name, once the caller
/// is known to have what the server function `name` needs there: what every server function
/// about a repository starts from.
#[cfg(feature = "ssr")]
pub(crate) fn lookup(
    name: &str,
    registry: &str,
    repository: &str,
) -> Result<(crate::ssr::AppState, crate::ssr::Registry, portolan_oci::RepoName), AppError> {
    let state = crate::ssr::state()?;
    let repo = portolan_oci::RepoName::parse(repository).map_err(|e| AppError::BadRequest(e.message().to_owned()))?;
    crate::ssr::auth::require(&state, crate::ssr::auth::needed(name), registry, Some(repo.as_str()))?;
    let reg = state.registry(registry)?.clone();
    Ok((state, reg, repo))
}

/// A tag or digest, validated.
#[cfg(feature = "ssr")]
pub(crate) fn reference_of(text: &str) -> Result<portolan_oci::Reference, AppError> {
    portolan_oci::Reference::parse(text).map_err(|e| AppError::BadRequest(e.message().to_owned()))
}

/// The registries the caller may see (all of them for everyone when no sign-in is
/// configured). Not signed in and nothing public: sign in.
#[server]
pub async fn list_registries() -> Result<Vec<RegistryInfo>, AppError> {
    let state = crate::ssr::state()?;
    let who = crate::ssr::auth::current_user();
    let visible: Vec<RegistryInfo> = state
        .registries
        .iter()
        .filter(|r| state.access.role_for(who.as_ref(), &r.info.name, None).is_some())
        .map(|r| r.info.clone())
        .collect();
    if visible.is_empty() && who.is_none() && !state.registries.is_empty() {
        return Err(AppError::SignInRequired("Sign in to see the registries.".into()));
    }
    Ok(visible)
}

/// One page of a repository's tags, filtered and sorted as `query` says, with the details read
/// within [`crate::model::DETAILS_BUDGET_MS`] (the others come back pending).
#[server(output = JsonStr)]
pub async fn list_tags(registry: String, repository: String, query: TagQuery) -> Result<TagPage, AppError> {
    use crate::ssr::logged;
    let (state, reg, repo) = lookup("list_tags", &registry, &repository)?;
    let (mut page, built_from) = portolan_service::tags::list(&state, &reg, &repo, query)
        .await
        .map_err(|e| logged(&format!("tags of {registry}/{repository}"), e.into()))?;
    let (delete, lasting) = crate::ssr::auth::delete_ability_lasting(&state, &reg, &repo).await;
    // The page can be sent again while what it was built from is cached (the server's page
    // cache; ssr/reuse.rs), unless what the caller may do here could change meanwhile.
    if let Some(built_from) = built_from.filter(|_| lasting) {
        crate::ssr::reuse::offer(built_from);
    }
    page.delete = delete;
    page.public_url = crate::ssr::public_url(&state);
    Ok(page)
}

/// The details of `tags` (digest, kind, platforms, size, date, referrers), in the same order;
/// those not read within `budget_ms` (0: no limit) come back pending.
#[server(output = JsonStr)]
pub async fn tag_details(registry: String, repository: String, tags: Vec<String>, budget_ms: u32) -> Result<Vec<TagRow>, AppError> {
    use crate::ssr::logged;
    use portolan_service::tags as t;
    let (state, reg, repo) = lookup("tag_details", &registry, &repository)?;
    if tags.len() > crate::model::MAX_PER_PAGE {
        return Err(AppError::BadRequest(format!("at most {} tags at once", crate::model::MAX_PER_PAGE)));
    }
    let budget = (budget_ms > 0).then(|| std::time::Duration::from_millis(budget_ms.into()));
    if tags.iter().any(|t| portolan_oci::Tag::parse(t).is_err()) {
        return Err(AppError::BadRequest("a tag is not valid (up to 128 letters, digits, _ . -)".into()));
    }
    t::rows_within(&state.services, &reg, &repo, tags, budget.map(|b| b.min(std::time::Duration::from_secs(30))), t::DETAIL_CONCURRENCY)
        .await
        .map_err(|e| logged(&format!("tags of {registry}/{repository}"), e.into()))
}

/// One artifact by tag or digest, with everything its page shows.
#[server]
pub async fn get_artifact(registry: String, repository: String, reference: String) -> Result<crate::model::ArtifactView, AppError> {
    use crate::ssr::logged;
    let (state, reg, repo) = lookup("get_artifact", &registry, &repository)?;
    let parsed = reference_of(&reference)?;
    let doc = reg
        .client
        .manifest(&repo, &parsed)
        .await
        .map_err(|e| logged(&format!("manifest {registry}/{repository} {reference}"), e.into()))?;
    let tag = matches!(parsed, portolan_oci::Reference::Tag(_)).then_some(reference);
    portolan_service::search::record_doc(&state.store, &registry, &repository, tag.as_deref(), &doc);
    let mut view =
        portolan_service::artifact::artifact_view(&state.store, &state.verifier, &reg, &repo, tag, doc, crate::ssr::public_url(&state))
            .await;
    view.delete = crate::ssr::auth::delete_ability(&state, &reg, &repo).await;
    Ok(view)
}

/// A blob's page: size, and a preview when it is JSON or text (at most [`BLOB_PREVIEW`] bytes).
#[server]
pub async fn get_blob(
    registry: String,
    repository: String,
    digest: String,
    media_type: Option<String>,
) -> Result<crate::model::BlobView, AppError> {
    use crate::model::BlobPreview;
    use portolan_service::json::{Links, render_bytes};
    let (_, reg, repo) = lookup("get_blob", &registry, &repository)?;
    portolan_oci::name::parse_digest(&digest).map_err(|e| AppError::BadRequest(e.message().to_owned()))?;
    let media_type = media_type.filter(|t| !t.is_empty());
    let size = reg
        .client
        .blob_size(&repo, &digest)
        .await
        .map_err(|e| crate::ssr::logged(&format!("blob {registry}/{repository}@{digest}"), e.into()))?;
    let base = format!("/r/{registry}/{repository}");
    let textual = media_type.as_deref().is_none_or(|t| t.contains("json") || t.starts_with("text/") || t.contains("yaml"));
    let preview = if !textual {
        BlobPreview::None { reason: format!("{} is not previewed (not text)", media_type.clone().unwrap_or_default()) }
    } else if size.is_some_and(|s| s > BLOB_PREVIEW) {
        BlobPreview::None { reason: format!("larger than the {} preview limit", crate::model::human_size(BLOB_PREVIEW)) }
    } else {
        match reg.client.blob(&repo, &digest, Some(BLOB_PREVIEW)).await {
            Ok(bytes) if serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() => {
                BlobPreview::Json(render_bytes(&bytes, &Links { base: &base }))
            }
            Ok(bytes) => match std::str::from_utf8(&bytes) {
                Ok(text) => BlobPreview::Text { text: text.to_owned(), truncated: false },
                Err(_) => BlobPreview::None { reason: "binary content".into() },
            },
            Err(e) => BlobPreview::None { reason: e.message().to_owned() },
        }
    };
    Ok(crate::model::BlobView { registry: reg.info.clone(), repository, digest, media_type, size, preview })
}

/// Blobs larger than this are not previewed.
pub const BLOB_PREVIEW: u64 = 1024 * 1024;

/// The referrer graph of a tag or digest, laid out; `artifact_type` keeps only referrers of that
/// type (and those they hang from).
#[server]
pub async fn get_graph(
    registry: String,
    repository: String,
    reference: String,
    artifact_type: Option<String>,
) -> Result<crate::model::GraphView, AppError> {
    use crate::ssr::logged;
    let (state, reg, repo) = lookup("get_graph", &registry, &repository)?;
    let parsed = reference_of(&reference)?;
    let context = format!("referrers of {registry}/{repository} {reference}");
    let doc = reg.client.manifest(&repo, &parsed).await.map_err(|e| logged(&context, e.into()))?;
    let (kind, artifact) = match doc.manifest() {
        Ok(m) => (m.kind(&doc.media_type), m.artifact_type()),
        Err(_) => (portolan_oci::ArtifactKind::Other, None),
    };
    let filter = artifact_type.filter(|t| !t.is_empty());
    // Each signature of the artifact says whether it verified (where policies apply).
    let verification = state.verifier.verify_covered(&reg, &repo, &doc.digest).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "verifying signatures for the graph");
        None
    });
    crate::ssr::graph::graph_view(&reg, &repo, &reference, &doc.digest, kind, artifact, filter, verification.as_deref())
        .await
        .map_err(|e| logged(&context, e.into()))
}

/// How `to` differs from `from` (tags or digests of one repository).
#[server]
pub async fn get_diff(registry: String, repository: String, from: String, to: String) -> Result<crate::model::DiffView, AppError> {
    use crate::ssr::logged;
    let (_, reg, repo) = lookup("get_diff", &registry, &repository)?;
    if from.is_empty() || to.is_empty() {
        return Err(AppError::BadRequest("name two tags or digests to compare: ?from=…&to=…".into()));
    }
    portolan_service::diff::diff_view(&reg, &repo, &from, &to)
        .await
        .map_err(|e| logged(&format!("diff of {registry}/{repository}"), e.into()))
}

/// An artifact's signature verification, for scripts and deploy gates: whether it is verified,
/// and the outcome with every signature's result and reason (`/api/v1/verify/…` answers it).
#[server]
pub async fn get_verification(registry: String, repository: String, reference: String) -> Result<(bool, serde_json::Value), AppError> {
    let (state, reg, repo) = lookup("get_verification", &registry, &repository)?;
    crate::ssr::verify::verify_json(&state, &reg, &repo, &reference).await
}
