//! The REST API under `/api/v1/`: JSON for automation, called with an API token
//! (`Authorization: Bearer ptl_…`) or a session. Each handler runs the pages' own server
//! function for the operation, as the caller, in the same context a page request would give it
//! — so the role checks are the same code, from the same table of needs, and so is everything
//! else. Errors are problem details ([`problem`]). The routes are listed once ([`routes`]);
//! the OpenAPI document ([`openapi`]) is checked against that list by a test.

pub mod openapi;
pub mod problem;

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use leptos::prelude::provide_context;
use leptos::reactive::computed::ScopedFuture;
use leptos::reactive::owner::Owner;
use portolan_app::api;
use portolan_app::error::AppError;
use portolan_app::model::{AuditQuery, DeleteSelection, RepoQuery, StorageQuery, TagQuery};
use portolan_app::ssr::{AppState, RequestId};
use serde::{Deserialize, Serialize};

use self::problem::Problem;

/// Runs `operation` (a server function) for the request whose parts are `parts`: with the
/// state and the request in its context, as a page's call would have them — who asks (a
/// token's owner and cap, or a session's person), the request id for the audit log.
async fn as_caller<T, Fut>(state: &AppState, parts: axum::http::request::Parts, operation: impl FnOnce() -> Fut) -> Result<T, Problem>
where
    Fut: Future<Output = Result<T, AppError>>,
{
    let owner = Owner::new();
    let state = state.clone();
    let run = owner.with(|| {
        ScopedFuture::new(async move {
            provide_context(state);
            provide_context(parts);
            provide_context(leptos_axum::ResponseOptions::default());
            operation().await
        })
    });
    run.await.map_err(Problem::from)
}

/// JSON with the request's status (200).
fn json<T: Serialize>(value: &T) -> Response {
    Json(value).into_response()
}

/// Splits `name:tag` or `name@digest` (as the artifact routes take them).
fn split_reference(path: &str) -> Result<(String, String), Problem> {
    let bad = || Problem::from(AppError::BadRequest(format!("{path:?} is not repository:tag or repository@digest")));
    if let Some((repo, digest)) = path.split_once('@') {
        return Ok((repo.to_owned(), digest.to_owned()));
    }
    let (repo, tag) = path.rsplit_once(':').ok_or_else(bad)?;
    if tag.contains('/') {
        return Err(bad());
    }
    Ok((repo.to_owned(), tag.to_owned()))
}

type Params = Query<HashMap<String, String>>;

async fn registries(State(state): State<AppState>, request: Request) -> Result<Response, Problem> {
    let (parts, _) = request.into_parts();
    let list = as_caller(&state, parts, api::list_registries).await?;
    Ok(json(&list))
}

async fn repositories(
    State(state): State<AppState>,
    Path(registry): Path<String>,
    Query(q): Params,
    request: Request,
) -> Result<Response, Problem> {
    let query = RepoQuery::from_params(|k| q.get(k).cloned());
    let (parts, _) = request.into_parts();
    let page = as_caller(&state, parts, || api::list_repositories(registry, query)).await?;
    Ok(json(&page))
}

async fn tags(
    State(state): State<AppState>,
    Path((registry, repository)): Path<(String, String)>,
    Query(q): Params,
    request: Request,
) -> Result<Response, Problem> {
    let query = TagQuery::from_params(|k| q.get(k).cloned());
    let (parts, _) = request.into_parts();
    let page = as_caller(&state, parts, || api::list_tags(registry, repository, query)).await?;
    Ok(json(&page))
}

async fn artifact(
    State(state): State<AppState>,
    Path((registry, path)): Path<(String, String)>,
    request: Request,
) -> Result<Response, Problem> {
    let (repository, reference) = split_reference(&path)?;
    let (parts, _) = request.into_parts();
    let view = as_caller(&state, parts, || api::get_artifact(registry, repository, reference)).await?;
    Ok(json(&view))
}

async fn diff(
    State(state): State<AppState>,
    Path((registry, repository)): Path<(String, String)>,
    Query(q): Params,
    request: Request,
) -> Result<Response, Problem> {
    let (from, to) = (q.get("from").cloned().unwrap_or_default(), q.get("to").cloned().unwrap_or_default());
    let (parts, _) = request.into_parts();
    let view = as_caller(&state, parts, || api::get_diff(registry, repository, from, to)).await?;
    Ok(json(&view))
}

async fn search(State(state): State<AppState>, Query(q): Params, request: Request) -> Result<Response, Problem> {
    let text = q.get("q").cloned().unwrap_or_default();
    let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
    let (parts, _) = request.into_parts();
    let results = as_caller(&state, parts, || api::search(text, limit)).await?;
    Ok(json(&results))
}

async fn where_used(State(state): State<AppState>, Path(digest): Path<String>, request: Request) -> Result<Response, Problem> {
    let (parts, _) = request.into_parts();
    let view = as_caller(&state, parts, || api::where_used(digest)).await?;
    Ok(json(&view))
}

/// An artifact's signature verification: the outcome and every signature's result and reason;
/// with `?require=verified`, 412 unless verified (for deploy gates: `curl --fail`).
async fn verify(
    State(state): State<AppState>,
    Path((registry, path)): Path<(String, String)>,
    Query(q): Params,
    request: Request,
) -> Result<Response, Problem> {
    let (repository, reference) = split_reference(path.trim_matches('/'))?;
    let require = match q.get("require").map(String::as_str) {
        None => false,
        Some("verified") => true,
        Some(_) => return Err(AppError::BadRequest("require takes one value: verified".into()).into()),
    };
    let (parts, _) = request.into_parts();
    let (verified, answer) = as_caller(&state, parts, || api::get_verification(registry, repository, reference)).await?;
    let status = if require && !verified { StatusCode::PRECONDITION_FAILED } else { StatusCode::OK };
    Ok((status, Json(answer)).into_response())
}

async fn registry_storage(
    State(state): State<AppState>,
    Path(registry): Path<String>,
    Query(q): Params,
    request: Request,
) -> Result<Response, Problem> {
    let query = StorageQuery::from_params(|k| q.get(k).cloned());
    let (parts, _) = request.into_parts();
    let mut figures = as_caller(&state, parts, || api::get_registry_storage(registry, query)).await?;
    figures.chart = String::new(); // the page's drawing; the figures are all in `largest`
    Ok(json(&figures))
}

async fn repository_storage(
    State(state): State<AppState>,
    Path((registry, repository)): Path<(String, String)>,
    request: Request,
) -> Result<Response, Problem> {
    let (parts, _) = request.into_parts();
    let mut figures = as_caller(&state, parts, || api::get_repository_storage(registry, repository)).await?;
    figures.chart = String::new(); // the page's drawing; the figures are all in `history`
    Ok(json(&figures))
}

/// A request's body as JSON of `T` (at most 1 MiB), or a problem saying why not.
async fn body_of<T: for<'de> Deserialize<'de>>(body: axum::body::Body) -> Result<T, Problem> {
    let bytes = axum::body::to_bytes(body, 1024 * 1024)
        .await
        .map_err(|e| Problem::from(AppError::BadRequest(format!("the body could not be read: {e}"))))?;
    serde_json::from_slice(&bytes).map_err(|e| Problem::from(AppError::BadRequest(format!("the body is not the JSON expected: {e}"))))
}

async fn delete_preview(
    State(state): State<AppState>,
    Path((registry, repository)): Path<(String, String)>,
    request: Request,
) -> Result<Response, Problem> {
    let (parts, body) = request.into_parts();
    let selection: DeleteSelection = body_of(body).await?;
    let preview = as_caller(&state, parts, || api::preview_delete(registry, repository, selection)).await?;
    Ok(json(&preview))
}

/// What a change did, step by step, from the audit log (the caller's own entries of this
/// request), as the pages' outcome views show it.
#[derive(Serialize)]
pub struct Outcome {
    pub request: String,
    pub steps: Vec<portolan_app::model::AuditRow>,
}

/// Runs a change, then answers what it did (read back from the audit log by the request's id).
async fn change_then_outcome<Fut>(
    state: &AppState,
    parts: axum::http::request::Parts,
    change: impl FnOnce() -> Fut,
) -> Result<Response, Problem>
where
    Fut: Future<Output = Result<(), AppError>>,
{
    let request = parts.extensions.get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default();
    as_caller(state, parts.clone(), change).await?;
    let outcome_of = request.clone();
    let steps = as_caller(state, parts, || api::request_outcome(outcome_of)).await?;
    Ok(json(&Outcome { request, steps }))
}

#[derive(Deserialize)]
struct Confirmation {
    confirmation: String,
}

async fn delete(
    State(state): State<AppState>,
    Path((registry, repository)): Path<(String, String)>,
    request: Request,
) -> Result<Response, Problem> {
    let (parts, body) = request.into_parts();
    let Confirmation { confirmation } = body_of(body).await?;
    change_then_outcome(&state, parts, || api::apply_delete(registry, repository, confirmation)).await
}

async fn trash(State(state): State<AppState>, Query(q): Params, request: Request) -> Result<Response, Problem> {
    let before = q.get("before").and_then(|b| b.parse().ok());
    let (parts, _) = request.into_parts();
    let page = as_caller(&state, parts, || api::trash_list(before)).await?;
    Ok(json(&page))
}

async fn restore(State(state): State<AppState>, Path(id): Path<i64>, request: Request) -> Result<Response, Problem> {
    let (parts, _) = request.into_parts();
    change_then_outcome(&state, parts, || api::trash_restore(id)).await
}

async fn policies(State(state): State<AppState>, request: Request) -> Result<Response, Problem> {
    let (parts, _) = request.into_parts();
    let page = as_caller(&state, parts, api::get_policies).await?;
    Ok(json(&page))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RunAsked {
    dry_run: bool,
}

#[derive(Serialize)]
struct Started {
    run: i64,
}

async fn run_policy(State(state): State<AppState>, Path(id): Path<i64>, request: Request) -> Result<Response, Problem> {
    let (parts, body) = request.into_parts();
    let asked: RunAsked = body_of(body).await?;
    let run = as_caller(&state, parts, || api::run_policy(id, asked.dry_run)).await?;
    let mut response = (StatusCode::ACCEPTED, Json(Started { run })).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/runs/{run}")) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

async fn run(State(state): State<AppState>, Path(id): Path<i64>, Query(q): Params, request: Request) -> Result<Response, Problem> {
    let from = q.get("from").and_then(|f| f.parse().ok()).unwrap_or(0);
    let (parts, _) = request.into_parts();
    let view = as_caller(&state, parts, || api::get_run(id, from)).await?;
    Ok(json(&view))
}

async fn audit(State(state): State<AppState>, Query(q): Params, request: Request) -> Result<Response, Problem> {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let query = AuditQuery {
        action: get("action"),
        actor: get("actor"),
        registry: get("registry"),
        repository: get("repository"),
        outcome: get("outcome"),
        before: q.get("before").and_then(|b| b.parse().ok()),
    };
    let csv = q.get("format").is_some_and(|f| f == "csv")
        || request.headers().get(header::ACCEPT).and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("text/csv"));
    let (parts, _) = request.into_parts();
    let page = as_caller(&state, parts, || api::audit_list(query)).await?;
    if csv {
        return Ok((
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"))],
            portolan_app::ssr::audit::csv(&page.rows),
        )
            .into_response());
    }
    Ok(json(&page))
}

/// Every route of the REST API: path, method, and handler. The OpenAPI document describes
/// exactly these and the referrer graph's older route (a test compares them).
pub fn routes() -> Vec<(&'static str, &'static str, MethodRouter<AppState>)> {
    vec![
        ("/api/v1/registries", "GET", get(registries)),
        ("/api/v1/repositories/{registry}", "GET", get(repositories)),
        ("/api/v1/tags/{registry}/{*repository}", "GET", get(tags)),
        ("/api/v1/artifacts/{registry}/{*reference}", "GET", get(artifact)),
        ("/api/v1/diff/{registry}/{*repository}", "GET", get(diff)),
        ("/api/v1/search", "GET", get(search)),
        ("/api/v1/where-used/{digest}", "GET", get(where_used)),
        ("/api/v1/verify/{registry}/{*reference}", "GET", get(verify)),
        ("/api/v1/storage/{registry}", "GET", get(registry_storage)),
        ("/api/v1/storage/{registry}/{*repository}", "GET", get(repository_storage)),
        ("/api/v1/delete-previews/{registry}/{*repository}", "POST", post(delete_preview)),
        ("/api/v1/deletions/{registry}/{*repository}", "POST", post(delete)),
        ("/api/v1/trash", "GET", get(trash)),
        ("/api/v1/trash/{id}/restore", "POST", post(restore)),
        ("/api/v1/policies", "GET", get(policies)),
        ("/api/v1/policies/{id}/runs", "POST", post(run_policy)),
        ("/api/v1/runs/{id}", "GET", get(run)),
        ("/api/v1/audit", "GET", get(audit)),
        ("/api/v1/openapi.json", "GET", get(openapi::document)),
    ]
}
