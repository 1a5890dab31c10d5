//! The REST API's OpenAPI 3.1 document, generated from the code by utoipa: each route's
//! parameters and answers below, the answers' schemas from the DTOs themselves
//! (`portolan-model` with its `openapi` feature). Served at `/api/v1/openapi.json`; a test
//! checks it names exactly the routes the router serves.
//!
//! Repository names contain `/`: the router takes them as a catch-all (`{*repository}`), which
//! OpenAPI writes as `{repository}` — a client sends the name with its slashes as they are.

// The functions below are documentation only: utoipa reads their attributes. Their bodies are
// never called.
#![allow(dead_code)]

use axum::Json;
use portolan_app::model::*;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// A problem detail (RFC 9457).
#[derive(utoipa::ToSchema)]
#[schema(as = Problem)]
pub struct ProblemSchema {
    /// A stable name of the kind of problem: `urn:portolan:problem:<kind>`.
    #[schema(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Seconds to wait (rate limits).
    #[schema(rename = "retryAfter")]
    pub retry_after: Option<u64>,
}

/// What a change did, step by step (the caller's audit entries of the request).
#[derive(utoipa::ToSchema)]
#[schema(as = Outcome)]
pub struct OutcomeSchema {
    pub request: String,
    pub steps: Vec<AuditRow>,
}

/// A run started.
#[derive(utoipa::ToSchema)]
pub struct Started {
    pub run: i64,
}

/// What to confirm: the `confirmation` a delete preview answered.
#[derive(utoipa::ToSchema)]
pub struct ConfirmationSchema {
    pub confirmation: String,
}

/// How to run a policy.
#[derive(utoipa::ToSchema)]
pub struct RunAskedSchema {
    /// Only plan (also when the policy itself is in dry run).
    #[schema(default = false)]
    pub dry_run: bool,
}

#[utoipa::path(get, path = "/api/v1/registries", tag = "browse",
    responses((status = 200, body = Vec<RegistryInfo>, description = "The registries the caller may see"), (status = 401, body = ProblemSchema)))]
fn registries() {}

#[utoipa::path(get, path = "/api/v1/repositories/{registry}", tag = "browse",
    params(("registry" = String, Path), ("q" = Option<String>, Query, description = "Filter: a substring, or a glob with *"),
        ("sort" = Option<String>, Query, description = "`name` (default) or `pushed`"), ("reverse" = Option<bool>, Query),
        ("page" = Option<usize>, Query), ("per_page" = Option<usize>, Query)),
    responses((status = 200, body = RepoPage), (status = 401, body = ProblemSchema), (status = 403, body = ProblemSchema), (status = 404, body = ProblemSchema)))]
fn repositories() {}

#[utoipa::path(get, path = "/api/v1/tags/{registry}/{repository}", tag = "browse",
    params(("registry" = String, Path), ("repository" = String, Path, description = "The repository name, slashes and all"),
        ("q" = Option<String>, Query, description = "Filter: a substring, or a glob with *"),
        ("sort" = Option<String>, Query, description = "`version` (default), `name` or `created`"), ("reverse" = Option<bool>, Query),
        ("page" = Option<usize>, Query), ("per_page" = Option<usize>, Query), ("all" = Option<bool>, Query, description = "Also referrer tags")),
    responses((status = 200, body = TagPage), (status = 401, body = ProblemSchema), (status = 403, body = ProblemSchema), (status = 404, body = ProblemSchema)))]
fn tags() {}

#[utoipa::path(get, path = "/api/v1/artifacts/{registry}/{reference}", tag = "browse",
    params(("registry" = String, Path), ("reference" = String, Path, description = "`repository:tag` or `repository@digest`")),
    responses((status = 200, body = ArtifactView), (status = 400, body = ProblemSchema), (status = 401, body = ProblemSchema), (status = 403, body = ProblemSchema), (status = 404, body = ProblemSchema)))]
fn artifacts() {}

#[utoipa::path(get, path = "/api/v1/referrers/{registry}/{reference}", tag = "browse",
    params(("registry" = String, Path), ("reference" = String, Path, description = "`repository:tag` or `repository@digest`"),
        ("artifactType" = Option<String>, Query)),
    responses((status = 200, description = "The referrer graph: every referrer with its descriptor, where it was found and its subject"),
        (status = 401, body = ProblemSchema), (status = 403, body = ProblemSchema), (status = 404, body = ProblemSchema)))]
fn referrers() {}

#[utoipa::path(get, path = "/api/v1/diff/{registry}/{repository}", tag = "browse",
    params(("registry" = String, Path), ("repository" = String, Path), ("from" = String, Query), ("to" = String, Query)),
    responses((status = 200, body = DiffView), (status = 400, body = ProblemSchema), (status = 401, body = ProblemSchema), (status = 403, body = ProblemSchema)))]
fn diff() {}

#[utoipa::path(get, path = "/api/v1/search", tag = "browse",
    params(("q" = String, Query, description = "Repository names, `repository:tag`, or a digest (or its start)"), ("limit" = Option<usize>, Query)),
    responses((status = 200, body = SearchResults), (status = 400, body = ProblemSchema), (status = 401, body = ProblemSchema)))]
fn search() {}

#[utoipa::path(get, path = "/api/v1/where-used/{digest}", tag = "browse",
    params(("digest" = String, Path)),
    responses((status = 200, body = WhereUsedView), (status = 400, body = ProblemSchema)))]
fn where_used() {}

#[utoipa::path(get, path = "/api/v1/verify/{registry}/{reference}", tag = "verify",
    params(("registry" = String, Path), ("reference" = String, Path, description = "`repository:tag` or `repository@digest`"),
        ("require" = Option<String>, Query, description = "`verified`: answer 412 unless the artifact is verified (a deploy gate)")),
    responses((status = 200, description = "The outcome (`verified`, `not-verified`, `unsigned`), the policy and signer that verified it, \
        and every signature with its format, result and reason"),
        (status = 400, body = ProblemSchema), (status = 401, body = ProblemSchema), (status = 403, body = ProblemSchema), (status = 404, body = ProblemSchema),
        (status = 412, description = "`require=verified` and the artifact is not verified: the same answer as 200")))]
fn verify() {}

#[utoipa::path(get, path = "/api/v1/storage/{registry}", tag = "storage",
    params(("registry" = String, Path),
        ("sort" = Option<String>, Query, description = "`stored` (default), `unique`, `shared`, `reclaimable`, `tags`, `manifests`, `untagged` or `name`"),
        ("reverse" = Option<bool>, Query), ("page" = Option<usize>, Query), ("per_page" = Option<usize>, Query)),
    responses((status = 200, description = "The registry's storage as the caller may see it: totals (each blob once), what garbage collection would free, \
        each repository's bytes only it uses and bytes it shares, the largest repositories, and how complete and fresh the index behind the figures is"),
        (status = 401, body = ProblemSchema), (status = 403, body = ProblemSchema), (status = 404, body = ProblemSchema)))]
fn registry_storage() {}

#[utoipa::path(get, path = "/api/v1/storage/{registry}/{repository}", tag = "storage",
    params(("registry" = String, Path), ("repository" = String, Path, description = "The repository name, slashes and all")),
    responses((status = 200, description = "A repository's storage: its figures, bytes added per period, its largest artifacts and layers, \
        the layers it shares with the repositories using them"),
        (status = 400, body = ProblemSchema), (status = 401, body = ProblemSchema), (status = 403, body = ProblemSchema), (status = 404, body = ProblemSchema)))]
fn repository_storage() {}

#[utoipa::path(post, path = "/api/v1/delete-previews/{registry}/{repository}", tag = "delete",
    params(("registry" = String, Path), ("repository" = String, Path)), request_body = DeleteSelection,
    responses((status = 200, body = DeletePreview, description = "Everything that would go, and the confirmation to send back; nothing is deleted"),
        (status = 400, body = ProblemSchema), (status = 401, body = ProblemSchema), (status = 403, body = ProblemSchema)))]
fn delete_previews() {}

#[utoipa::path(post, path = "/api/v1/deletions/{registry}/{repository}", tag = "delete",
    params(("registry" = String, Path), ("repository" = String, Path)), request_body = ConfirmationSchema,
    responses((status = 200, body = OutcomeSchema, description = "Each step: what still matched the preview was saved in the trash and deleted; the rest skipped"),
        (status = 400, body = ProblemSchema), (status = 401, body = ProblemSchema), (status = 403, body = ProblemSchema)))]
fn deletions() {}

#[utoipa::path(get, path = "/api/v1/trash", tag = "trash",
    params(("before" = Option<i64>, Query, description = "The next page: entries older than this id")),
    responses((status = 200, body = TrashPage), (status = 401, body = ProblemSchema), (status = 403, body = ProblemSchema)))]
fn trash() {}

#[utoipa::path(post, path = "/api/v1/trash/{id}/restore", tag = "trash",
    params(("id" = i64, Path)),
    responses((status = 200, body = OutcomeSchema), (status = 401, body = ProblemSchema), (status = 403, body = ProblemSchema),
        (status = 404, body = ProblemSchema), (status = 409, body = ProblemSchema)))]
fn trash_restore() {}

#[utoipa::path(get, path = "/api/v1/policies", tag = "retention",
    responses((status = 200, body = PoliciesPage), (status = 401, body = ProblemSchema), (status = 403, body = ProblemSchema)))]
fn policies() {}

#[utoipa::path(post, path = "/api/v1/policies/{id}/runs", tag = "retention",
    params(("id" = i64, Path)), request_body = RunAskedSchema,
    responses((status = 202, body = Started, description = "Started; follow it at /api/v1/runs/{run}"), (status = 401, body = ProblemSchema),
        (status = 403, body = ProblemSchema), (status = 404, body = ProblemSchema), (status = 409, body = ProblemSchema, description = "A run of the policy is going on")))]
fn policy_runs() {}

#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "retention",
    params(("id" = i64, Path), ("from" = Option<i64>, Query, description = "Items from this position on")),
    responses((status = 200, body = RunView), (status = 401, body = ProblemSchema), (status = 403, body = ProblemSchema), (status = 404, body = ProblemSchema)))]
fn runs() {}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    params(("action" = Option<String>, Query, description = "An action, or a prefix ending in *"), ("actor" = Option<String>, Query),
        ("registry" = Option<String>, Query), ("repository" = Option<String>, Query, description = "A repository, or a prefix ending in *"),
        ("outcome" = Option<String>, Query), ("before" = Option<i64>, Query), ("format" = Option<String>, Query, description = "`csv` for CSV")),
    responses((status = 200, body = AuditPage, description = "JSON, or CSV with format=csv or Accept: text/csv"), (status = 401, body = ProblemSchema), (status = 403, body = ProblemSchema)))]
fn audit() {}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", responses((status = 200, description = "This document")))]
fn openapi_json() {}

/// Bearer tokens (`ptl_…`), or a session cookie.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("An API token (ptl_…)")).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Portolan", description = "Browse and manage any OCI registry: the REST API for automation."),
    paths(registries, repositories, tags, artifacts, referrers, diff, search, where_used, verify, registry_storage, repository_storage, delete_previews, deletions, trash, trash_restore,
        policies, policy_runs, runs, audit, openapi_json),
    components(schemas(ProblemSchema, OutcomeSchema, Started, ConfirmationSchema, RunAskedSchema)),
    security(("token" = [])),
    modifiers(&Security)
)]
pub struct Document;

/// `/api/v1/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    let mut doc = Document::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    Json(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_names_exactly_the_routes_served() {
        let doc = Document::openapi();
        let mut documented: Vec<String> =
            doc.paths.paths.iter().flat_map(|(path, item)| methods(item).into_iter().map(move |m| format!("{m} {path}"))).collect();
        documented.sort();
        let mut served: Vec<String> = super::super::routes()
            .into_iter()
            .map(|(path, method, _)| (path, method))
            .chain([("/api/v1/referrers/{registry}/{*path}", "GET")])
            .map(|(path, method)| format!("{method} {}", openapi_path(path)))
            .collect();
        served.sort();
        assert_eq!(documented, served);
        let json = serde_json::to_value(&doc).unwrap();
        assert!(json["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "an OpenAPI 3.1 document: {}", json["openapi"]);
    }

    fn methods(item: &utoipa::openapi::PathItem) -> Vec<&'static str> {
        let mut m = Vec::new();
        if item.get.is_some() {
            m.push("GET");
        }
        if item.post.is_some() {
            m.push("POST");
        }
        if item.put.is_some() || item.delete.is_some() || item.patch.is_some() {
            m.push("OTHER");
        }
        m
    }

    /// A router path as OpenAPI writes it (`{*x}` → `{x}`; the referrers route names its
    /// catch-all `path`, documented as `reference`).
    fn openapi_path(path: &str) -> String {
        path.replace("{*path}", "{reference}").replace("{*", "{")
    }
}
