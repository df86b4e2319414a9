//! The native API under `/api/v1`: runs (search, get, compare, metric history, artifacts,
//! lineage), experiments, and stored objects by digest; its OpenAPI document is served at
//! `/api/v1/openapi.json` and checked in as `crates/slipway-server/openapi.json`.
//!
//! The router is built from [`table`] alone, and a test compares that table with the document
//! and requests every documented route, so the two cannot drift apart silently.

pub mod dto;

use crate::error::ApiError;
use crate::mlflow::wire::QueryPairs;
use crate::query::{self, RunSearch};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use axum::{Json, Router};
use slipway_core::Digest;

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// Every native route: (method, path template, handler). The router is built from this alone.
pub fn table() -> Vec<(&'static str, &'static str, MethodRouter<AppState>)> {
    vec![
        ("get", "/api/v1/openapi.json", get(openapi)),
        ("get", "/api/v1/experiments", get(list_experiments)),
        (
            "get",
            "/api/v1/experiments/{experiment}",
            get(get_experiment),
        ),
        ("get", "/api/v1/runs", get(search_runs)),
        ("get", "/api/v1/runs/compare", get(compare)),
        ("get", "/api/v1/runs/{run_id}", get(get_run)),
        ("get", "/api/v1/runs/{run_id}/metrics", get(metric_history)),
        ("get", "/api/v1/runs/{run_id}/artifacts", get(run_artifacts)),
        ("get", "/api/v1/runs/{run_id}/lineage", get(lineage)),
        ("get", "/api/v1/objects/{digest}", get(object)),
    ]
}

/// The native routes.
pub fn routes() -> Router<AppState> {
    table()
        .into_iter()
        .fold(Router::new(), |router, (_, path, handler)| {
            router.route(path, handler)
        })
}

async fn openapi() -> Response {
    ([(CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn list_experiments(
    State(state): State<AppState>,
) -> Result<Json<Vec<dto::ExperimentView>>, ApiError> {
    Ok(Json(
        state.read(|_, store| query::experiments(store)).await?,
    ))
}

async fn get_experiment(
    State(state): State<AppState>,
    Path(experiment): Path<String>,
) -> Result<Json<dto::ExperimentView>, ApiError> {
    Ok(Json(
        state
            .read(move |_, store| query::experiment(store, &experiment))
            .await?,
    ))
}

/// Reads a search from query parameters (`experiment` and `order_by` may repeat).
pub fn run_search_from(query: &QueryPairs) -> Result<RunSearch, ApiError> {
    Ok(RunSearch {
        experiments: query.all("experiment"),
        filter: query.get("filter").unwrap_or("").to_string(),
        order_by: query.all("order_by"),
        max_results: query
            .int("max_results")?
            .map(|n| usize::try_from(n).unwrap_or(0)),
        page_token: query.get("page_token").map(str::to_string),
        view: query.get("view").map(str::to_string),
    })
}

async fn search_runs(
    State(state): State<AppState>,
    query: QueryPairs,
) -> Result<Json<dto::RunPage>, ApiError> {
    let search = run_search_from(&query)?;
    Ok(Json(
        state
            .read(move |_, store| query::search_runs(store, &search))
            .await?,
    ))
}

async fn compare(
    State(state): State<AppState>,
    query: QueryPairs,
) -> Result<Json<dto::Comparison>, ApiError> {
    let ids = query.all("run");
    Ok(Json(
        state
            .read(move |_, store| query::compare(store, &ids))
            .await?,
    ))
}

async fn get_run(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> Result<Json<dto::RunView>, ApiError> {
    Ok(Json(
        state
            .read(move |ws, store| query::run_view(ws, store, &run_id))
            .await?,
    ))
}

async fn metric_history(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    query: QueryPairs,
) -> Result<Json<Vec<dto::MetricValue>>, ApiError> {
    let key = query.required(&["key"])?.to_string();
    Ok(Json(
        state
            .read(move |_, store| query::metric_history(store, &run_id, &key))
            .await?,
    ))
}

async fn run_artifacts(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    query: QueryPairs,
) -> Result<Json<Vec<dto::ArtifactEntry>>, ApiError> {
    let path = query.get("path").unwrap_or("").to_string();
    Ok(Json(
        state
            .read(move |ws, store| query::artifacts(ws, store, &run_id, &path))
            .await?,
    ))
}

async fn lineage(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> Result<Json<dto::Lineage>, ApiError> {
    Ok(Json(
        state
            .read(move |_, store| query::lineage(store, &run_id))
            .await?,
    ))
}

async fn object(
    State(state): State<AppState>,
    Path(digest): Path<String>,
) -> Result<Response, ApiError> {
    let digest: Digest = digest
        .parse()
        .map_err(|e| ApiError::InvalidParameter(format!("invalid digest: {e}")))?;
    let ws = state.workspace().clone();
    let size = std::fs::metadata(ws.objects().object_path(&digest))
        .map_err(|_| ApiError::NotFound(format!("object {digest} is not in the store")))?
        .len();
    let body = crate::artifact_tree::object_body(ws, digest).await?;
    Ok((
        [
            (CONTENT_TYPE, "application/octet-stream".to_string()),
            (axum::http::header::CONTENT_LENGTH, size.to_string()),
        ],
        body,
    )
        .into_response())
}
