//! `runs/*`: create, get, update, delete, restore, search, and the logging calls (log-metric,
//! log-parameter, log-batch, set-tag, delete-tag, log-inputs, outputs).

use super::entities;
use super::wire::{
    JsonBody, QueryPairs, check_key, check_value, either, experiment_id, opt_f64, opt_i64,
    required, string_list,
};
use super::{MAX_PARAM_VALUE, MAX_TAG_VALUE};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use slipway_core::search::{self, Filter, OrderBy, PageToken};
use slipway_core::tracking::{MetricPoint, RunOrigin, RunStatus};
use slipway_store::meta::{DatasetInput, NewRun, RunQuery, WriteOp, WriteOutcome};

/// The routes, relative to the API prefix.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/runs/create", post(create))
        .route("/runs/get", get(get_one))
        .route("/runs/update", post(update))
        .route("/runs/delete", post(delete))
        .route("/runs/restore", post(restore))
        .route("/runs/search", post(search))
        .route("/runs/log-metric", post(log_metric))
        .route("/runs/log-parameter", post(log_param))
        .route("/runs/log-batch", post(log_batch))
        .route("/runs/set-tag", post(set_tag))
        .route("/runs/delete-tag", post(delete_tag))
        .route("/runs/log-inputs", post(log_inputs))
        .route("/runs/outputs", post(log_outputs))
}

#[derive(Deserialize)]
struct TagIn {
    key: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
struct CreateRequest {
    #[serde(default, deserialize_with = "opt_string_or_number")]
    experiment_id: Option<String>,
    user_id: Option<String>,
    run_name: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    start_time: Option<i64>,
    #[serde(default)]
    tags: Vec<TagIn>,
}

fn opt_string_or_number<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    let v: Option<Value> = Deserialize::deserialize(d)?;
    match v {
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Null) | None => Ok(None),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a string, got {other}"
        ))),
    }
}

fn tags_in(tags: Vec<TagIn>) -> Result<Vec<(String, String)>, ApiError> {
    tags.into_iter()
        .map(|t| {
            let key = required(t.key, "key")?;
            check_key("tag", &key)?;
            let value = t.value.unwrap_or_default();
            check_value("tag", &key, &value, MAX_TAG_VALUE)?;
            Ok((key, value))
        })
        .collect()
}

async fn create(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<CreateRequest>,
) -> Result<Json<Value>, ApiError> {
    let experiment = match req.experiment_id.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => experiment_id(text)?,
        None => 0,
    };
    let mut tags = tags_in(req.tags)?;
    let name = req
        .run_name
        .filter(|n| !n.is_empty())
        .or_else(|| {
            tags.iter()
                .find(|(k, _)| k == "mlflow.runName")
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_else(super::names::generate);
    tags.retain(|(k, _)| k != "mlflow.runName");
    tags.push(("mlflow.runName".into(), name.clone()));
    let git_commit = tags
        .iter()
        .find(|(k, _)| k == "mlflow.source.git.commit")
        .map(|(_, v)| v.clone());
    let user = req
        .user_id
        .filter(|u| !u.is_empty())
        .or_else(|| {
            tags.iter()
                .find(|(k, _)| k == "mlflow.user")
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_else(|| "unknown".into());
    let outcome = state
        .write(WriteOp::CreateRun {
            run: NewRun {
                experiment_id: experiment,
                name,
                origin: RunOrigin::Adhoc,
                status: RunStatus::Running,
                start_ms: req.start_time.unwrap_or_else(slipway_store::now_ms),
                user,
                git_commit,
                git_dirty: None,
            },
            tags,
        })
        .await?;
    let WriteOutcome::Run(run) = outcome else {
        return Err(ApiError::Internal(format!(
            "unexpected outcome of create run: {outcome:?}"
        )));
    };
    let run = fetch(&state, run.id).await?;
    Ok(Json(json!({ "run": run })))
}

/// Loads one run as MLflow shows it; `RESOURCE_DOES_NOT_EXIST` when unknown.
async fn fetch(state: &AppState, run_id: String) -> Result<entities::Run, ApiError> {
    state
        .read(move |_, store| {
            let details = store.run_details(std::slice::from_ref(&run_id))?;
            details
                .first()
                .map(entities::run)
                .ok_or_else(|| ApiError::NotFound(format!("Run with id={run_id} not found")))
        })
        .await
}

async fn get_one(
    State(state): State<AppState>,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let run_id = query.required(&["run_id", "run_uuid"])?.to_string();
    let run = fetch(&state, run_id).await?;
    Ok(Json(json!({ "run": run })))
}

#[derive(Deserialize)]
struct RunRef {
    run_id: Option<String>,
    run_uuid: Option<String>,
}

#[derive(Deserialize)]
struct UpdateRequest {
    run_id: Option<String>,
    run_uuid: Option<String>,
    status: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    end_time: Option<i64>,
    run_name: Option<String>,
}

async fn update(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<UpdateRequest>,
) -> Result<Json<Value>, ApiError> {
    let run_id = either(&req.run_id, &req.run_uuid, "run_id")?;
    let status = req
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<RunStatus>()
                .map_err(|e| ApiError::InvalidParameter(e.to_string()))
        })
        .transpose()?;
    state
        .write(WriteOp::UpdateRun {
            run_id: run_id.clone(),
            status,
            end_ms: req.end_time,
            name: req.run_name,
            at_ms: slipway_store::now_ms(),
        })
        .await?;
    let run = fetch(&state, run_id).await?;
    Ok(Json(json!({ "run_info": run.info })))
}

async fn set_deleted(state: AppState, req: RunRef, deleted: bool) -> Result<Json<Value>, ApiError> {
    let run_id = either(&req.run_id, &req.run_uuid, "run_id")?;
    state
        .write(WriteOp::SetRunDeleted {
            run_id,
            deleted,
            at_ms: slipway_store::now_ms(),
        })
        .await?;
    Ok(Json(json!({})))
}

async fn delete(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<RunRef>,
) -> Result<Json<Value>, ApiError> {
    set_deleted(state, req, true).await
}

async fn restore(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<RunRef>,
) -> Result<Json<Value>, ApiError> {
    set_deleted(state, req, false).await
}

#[derive(Deserialize)]
struct SearchRequest {
    #[serde(default, deserialize_with = "string_list")]
    experiment_ids: Vec<String>,
    filter: Option<String>,
    run_view_type: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "string_list")]
    order_by: Vec<String>,
    page_token: Option<String>,
}

async fn search(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<SearchRequest>,
) -> Result<Json<Value>, ApiError> {
    if req.experiment_ids.is_empty() {
        return Err(ApiError::missing("experiment_ids"));
    }
    let experiment_ids = req
        .experiment_ids
        .iter()
        .map(|id| experiment_id(id))
        .collect::<Result<Vec<_>, _>>()?;
    let limit = super::page_size(req.max_results, 1000, 50_000)?;
    let offset = PageToken::decode(req.page_token.as_deref().unwrap_or(""))?.offset;
    let query = RunQuery {
        experiment_ids,
        filter: Filter::parse(req.filter.as_deref().unwrap_or(""))?.check(&search::RUNS)?,
        order_by: req
            .order_by
            .iter()
            .filter(|o| !o.trim().is_empty())
            .map(|o| OrderBy::parse(o, &search::RUNS))
            .collect::<Result<_, _>>()?,
        view: super::view_type(req.run_view_type.as_deref())?,
        offset,
        // One extra row tells whether another page follows.
        limit: limit as u64 + 1,
    };
    let (runs, more) = state
        .read(move |_, store| {
            let mut ids = store.search_runs(&query)?;
            let more = ids.len() > limit;
            ids.truncate(limit);
            let details = store.run_details(&ids)?;
            Ok((details.iter().map(entities::run).collect::<Vec<_>>(), more))
        })
        .await?;
    let mut body = serde_json::Map::new();
    if !runs.is_empty() {
        body.insert(
            "runs".into(),
            serde_json::to_value(runs).unwrap_or_default(),
        );
    }
    if more {
        body.insert(
            "next_page_token".into(),
            Value::String(
                PageToken {
                    offset: offset + limit as u64,
                }
                .encode(),
            ),
        );
    }
    Ok(Json(Value::Object(body)))
}

#[derive(Deserialize)]
struct MetricIn {
    key: Option<String>,
    #[serde(default, deserialize_with = "opt_f64")]
    value: Option<f64>,
    #[serde(default, deserialize_with = "opt_i64")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    step: Option<i64>,
}

impl MetricIn {
    fn into_point(self) -> Result<MetricPoint, ApiError> {
        let key = required(self.key, "key")?;
        check_key("metric", &key)?;
        Ok(MetricPoint {
            key,
            value: required(self.value, "value")?,
            timestamp_ms: required(self.timestamp, "timestamp")?,
            step: self.step.unwrap_or(0),
        })
    }
}

#[derive(Deserialize)]
struct LogMetricRequest {
    run_id: Option<String>,
    run_uuid: Option<String>,
    #[serde(flatten)]
    metric: MetricIn,
}

async fn write_batch(
    state: &AppState,
    run_id: String,
    metrics: Vec<MetricPoint>,
    params: Vec<(String, String)>,
    tags: Vec<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    state
        .write(WriteOp::LogBatch {
            run_id,
            metrics,
            params,
            tags,
            at_ms: slipway_store::now_ms(),
        })
        .await?;
    Ok(Json(json!({})))
}

async fn log_metric(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<LogMetricRequest>,
) -> Result<Json<Value>, ApiError> {
    let run_id = either(&req.run_id, &req.run_uuid, "run_id")?;
    let point = req.metric.into_point()?;
    write_batch(&state, run_id, vec![point], vec![], vec![]).await
}

#[derive(Deserialize)]
struct KeyValueRequest {
    run_id: Option<String>,
    run_uuid: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

async fn log_param(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<KeyValueRequest>,
) -> Result<Json<Value>, ApiError> {
    let run_id = either(&req.run_id, &req.run_uuid, "run_id")?;
    let key = required(req.key, "key")?;
    check_key("param", &key)?;
    let value = required(req.value, "value")?;
    check_value("param", &key, &value, MAX_PARAM_VALUE)?;
    write_batch(&state, run_id, vec![], vec![(key, value)], vec![]).await
}

async fn set_tag(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<KeyValueRequest>,
) -> Result<Json<Value>, ApiError> {
    let run_id = either(&req.run_id, &req.run_uuid, "run_id")?;
    let key = required(req.key, "key")?;
    check_key("tag", &key)?;
    let value = required(req.value, "value")?;
    check_value("tag", &key, &value, MAX_TAG_VALUE)?;
    if key == "mlflow.runName" {
        // Renaming through the tag renames the run, as in MLflow.
        state
            .write(WriteOp::UpdateRun {
                run_id,
                status: None,
                end_ms: None,
                name: Some(value),
                at_ms: slipway_store::now_ms(),
            })
            .await?;
        return Ok(Json(json!({})));
    }
    write_batch(&state, run_id, vec![], vec![], vec![(key, value)]).await
}

async fn delete_tag(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<KeyValueRequest>,
) -> Result<Json<Value>, ApiError> {
    let run_id = either(&req.run_id, &req.run_uuid, "run_id")?;
    let key = required(req.key, "key")?;
    state
        .write(WriteOp::DeleteTag {
            run_id,
            key,
            at_ms: slipway_store::now_ms(),
        })
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct ParamIn {
    key: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
struct LogBatchRequest {
    run_id: Option<String>,
    run_uuid: Option<String>,
    #[serde(default)]
    metrics: Vec<MetricIn>,
    #[serde(default)]
    params: Vec<ParamIn>,
    #[serde(default)]
    tags: Vec<TagIn>,
}

async fn log_batch(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<LogBatchRequest>,
) -> Result<Json<Value>, ApiError> {
    let run_id = either(&req.run_id, &req.run_uuid, "run_id")?;
    // MLflow's limits for one call; its client splits larger batches itself.
    let (m, p, t) = (req.metrics.len(), req.params.len(), req.tags.len());
    if m > 1000 || p > 100 || t > 100 || m + p + t > 1000 {
        return Err(ApiError::InvalidParameter(format!(
            "a batch may hold at most 1000 metrics, 100 params, 100 tags and 1000 items in all; got {m} metrics, {p} params, {t} tags"
        )));
    }
    let metrics = req
        .metrics
        .into_iter()
        .map(MetricIn::into_point)
        .collect::<Result<Vec<_>, _>>()?;
    let params = req
        .params
        .into_iter()
        .map(|p| {
            let key = required(p.key, "key")?;
            check_key("param", &key)?;
            let value = p.value.unwrap_or_default();
            check_value("param", &key, &value, MAX_PARAM_VALUE)?;
            Ok((key, value))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let tags = tags_in(req.tags)?;
    write_batch(&state, run_id, metrics, params, tags).await
}

#[derive(Deserialize)]
struct DatasetIn {
    name: Option<String>,
    digest: Option<String>,
    source_type: Option<String>,
    source: Option<String>,
    schema: Option<String>,
    profile: Option<String>,
}

#[derive(Deserialize)]
struct DatasetInputIn {
    #[serde(default)]
    tags: Vec<TagIn>,
    dataset: Option<DatasetIn>,
}

#[derive(Deserialize)]
struct ModelIdIn {
    model_id: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    step: Option<i64>,
}

#[derive(Deserialize)]
struct LogInputsRequest {
    run_id: Option<String>,
    run_uuid: Option<String>,
    #[serde(default)]
    datasets: Vec<DatasetInputIn>,
    #[serde(default)]
    models: Vec<ModelIdIn>,
}

async fn log_inputs(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<LogInputsRequest>,
) -> Result<Json<Value>, ApiError> {
    let run_id = either(&req.run_id, &req.run_uuid, "run_id")?;
    let datasets = req
        .datasets
        .into_iter()
        .map(|d| {
            let dataset = required(d.dataset, "dataset")?;
            Ok(DatasetInput {
                name: required(dataset.name, "dataset.name")?,
                digest: required(dataset.digest, "dataset.digest")?,
                source_type: required(dataset.source_type, "dataset.source_type")?,
                source: required(dataset.source, "dataset.source")?,
                schema: dataset.schema,
                profile: dataset.profile,
                tags: tags_in(d.tags)?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let models = req
        .models
        .into_iter()
        .map(|m| required(m.model_id, "models.model_id"))
        .collect::<Result<Vec<_>, _>>()?;
    state
        .write(WriteOp::LogInputs {
            run_id,
            datasets,
            models,
        })
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct LogOutputsRequest {
    run_id: Option<String>,
    run_uuid: Option<String>,
    #[serde(default)]
    models: Vec<ModelIdIn>,
}

async fn log_outputs(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<LogOutputsRequest>,
) -> Result<Json<Value>, ApiError> {
    let run_id = either(&req.run_id, &req.run_uuid, "run_id")?;
    let models = req
        .models
        .into_iter()
        .map(|m| {
            Ok((
                required(m.model_id, "models.model_id")?,
                m.step.unwrap_or(0),
            ))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    state.write(WriteOp::LogOutputs { run_id, models }).await?;
    Ok(Json(json!({})))
}

/// Reads `run_id` (or the legacy `run_uuid`) from a query.
pub(super) fn run_id_of(query: &QueryPairs) -> Result<String, ApiError> {
    Ok(query.required(&["run_id", "run_uuid"])?.to_string())
}
