//! The gateway's endpoints. Wire shapes (fixed; extend, never change):
//!
//! - `GET /v1/models` → `{"models": [{"name", "slot", "version", "inputs": [{"name", "type"}],
//!   "outputs", …}]}`, one entry per live (model, slot).
//! - `POST /v1/models/{name}/slots/{slot}:predict` with `{"rows": [{feature: value}, …]}` →
//!   `{"predictions", "model", "version", "prediction_ids"}`, plus the headers
//!   `slipway-model-version` and `slipway-prediction-id` (the first id). A request may send
//!   `slipway-request-key` (or `"key"` in the body) to make canary routing sticky.
//! - `POST /v1/models/{name}/aliases/{alias}:predict`: the same on the version an alias
//!   (MLflow's `models:/name@alias`) points at; an alias move swaps it. `/v1/models` lists the
//!   aliases under `"aliases"`.
//! - `POST /v1/models/{name}/invocations`: MLflow's scoring formats (`dataframe_split`,
//!   `dataframe_records`, `inputs`, `instances`) on the `default` slot → `{"predictions"}`
//!   (plus the same extra fields).
//! - `POST /v1/labels` with `{"labels": [{"prediction_id", "label"}]}` records ground truth.

use super::Gateway;
use super::table::{Loaded, SlotRoute};
use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use slipway_store::predlog::{Batch, PredictionId, Route};
use slipway_store::registry::TrafficMode;
use std::sync::Arc;
use std::time::Instant;

/// The gateway's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/models", get(list_models))
        .route("/v1/models/{name}/slots/{action}", post(predict))
        .route("/v1/models/{name}/aliases/{action}", post(predict_alias))
        .route("/v1/models/{name}/invocations", post(invocations))
        .route("/v1/labels", post(labels))
}

fn gateway(state: &AppState) -> Result<&Arc<Gateway>, ApiError> {
    state.gateway().ok_or_else(|| {
        ApiError::Unavailable(match state.gateway_error() {
            Some(why) => format!("the serving gateway is off in this server: {why}"),
            None => "the serving gateway is not running in this server".into(),
        })
    })
}

async fn list_models(State(state): State<AppState>) -> Result<Response, ApiError> {
    let table = gateway(&state)?.table();
    let mut out = Vec::new();
    let mut names: Vec<&String> = table.models.keys().collect();
    names.sort();
    for name in names {
        let slots = &table.models[name];
        let mut slot_names: Vec<&String> = slots.keys().collect();
        slot_names.sort();
        for slot in slot_names {
            let route = &slots[slot];
            let champion = &route.champion;
            let sig = champion.runtime.signature();
            let mut entry = serde_json::json!({
                "name": name,
                "slot": slot,
                "version": champion.version.to_string(),
                "inputs": sig.inputs.iter().map(|f| serde_json::json!({"name": f.name, "type": f.ty.as_str()})).collect::<Vec<_>>(),
                "outputs": sig.outputs,
                "format": champion.runtime.format().as_str(),
                "artifact": champion.artifact.to_hex(),
            });
            if let Some(c) = &route.challenger {
                entry["challenger"] = serde_json::json!({
                    "mode": c.mode.as_str(),
                    "version": c.target.version.to_string(),
                    "share": c.share,
                });
            }
            out.push(entry);
        }
    }
    let mut aliases = Vec::new();
    let mut alias_models: Vec<&String> = table.aliases.keys().collect();
    alias_models.sort();
    for name in alias_models {
        let mut entries: Vec<(&String, &Arc<Loaded>)> = table.aliases[name].iter().collect();
        entries.sort_by_key(|(a, _)| *a);
        for (alias, loaded) in entries {
            aliases.push(serde_json::json!({
                "name": name,
                "alias": alias,
                "version": loaded.version.to_string(),
            }));
        }
    }
    let mut body = serde_json::json!({ "models": out, "aliases": aliases });
    if !table.errors.is_empty() {
        body["load_errors"] = serde_json::json!(table.errors);
    }
    Ok(axum::Json(body).into_response())
}

/// `{"rows": [...]}` with an optional sticky key.
#[derive(serde::Deserialize)]
struct PredictBody {
    rows: Option<Vec<Value>>,
    #[serde(default)]
    key: Option<String>,
}

async fn predict(
    State(state): State<AppState>,
    Path((name, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(slot) = action.strip_suffix(":predict") else {
        return Err(ApiError::EndpointNotFound(format!(
            "no endpoint at /v1/models/{name}/slots/{action}; predictions are POST /v1/models/{name}/slots/<slot>:predict"
        )));
    };
    let parsed: PredictBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::MalformedRequest(format!(
            "the request body is not valid: {e}; expected {{\"rows\": [{{\"<feature>\": value, ...}}]}}"
        ))
    })?;
    let rows = parsed.rows.ok_or_else(|| {
        ApiError::InvalidParameter(
            "missing field `rows`: expected {\"rows\": [{\"<feature>\": value, ...}]}".into(),
        )
    })?;
    let key = headers
        .get("slipway-request-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or(parsed.key);
    answer(gateway(&state)?, &name, slot, rows, key.as_deref())
}

async fn predict_alias(
    State(state): State<AppState>,
    Path((name, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(alias) = action.strip_suffix(":predict") else {
        return Err(ApiError::EndpointNotFound(format!(
            "no endpoint at /v1/models/{name}/aliases/{action}; predictions are POST /v1/models/{name}/aliases/<alias>:predict"
        )));
    };
    let parsed: PredictBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::MalformedRequest(format!(
            "the request body is not valid: {e}; expected {{\"rows\": [{{\"<feature>\": value, ...}}]}}"
        ))
    })?;
    let rows = parsed.rows.ok_or_else(|| {
        ApiError::InvalidParameter(
            "missing field `rows`: expected {\"rows\": [{\"<feature>\": value, ...}]}".into(),
        )
    })?;
    let gateway = gateway(&state)?;
    let table = gateway.table();
    let target = table.alias(&name, alias).ok_or_else(|| {
        ApiError::NotFound(format!(
            "model {name:?} has no alias {alias:?} (set one with `slipway models alias {name} {alias} VERSION`)"
        ))
    })?;
    serve_with(gateway, target, Route::Champion, rows)
}

async fn invocations(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let parsed: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::MalformedRequest(format!("the request body is not valid JSON: {e}"))
    })?;
    let rows = mlflow_rows(parsed)?;
    let key = headers
        .get("slipway-request-key")
        .and_then(|v| v.to_str().ok());
    answer(gateway(&state)?, &name, "default", rows, key)
}

/// Rows from MLflow's scoring formats.
fn mlflow_rows(body: Value) -> Result<Vec<Value>, ApiError> {
    let Value::Object(mut map) = body else {
        return Err(ApiError::InvalidParameter(
            "expected a JSON object with one of dataframe_split, dataframe_records, inputs or instances".into(),
        ));
    };
    if let Some(split) = map.remove("dataframe_split") {
        let columns: Vec<String> = split
            .get("columns")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                ApiError::InvalidParameter(
                    "dataframe_split needs `columns` (a list of feature names)".into(),
                )
            })?
            .iter()
            .map(|c| {
                c.as_str().map(str::to_string).ok_or_else(|| {
                    ApiError::InvalidParameter(format!(
                        "dataframe_split.columns: {c} is not a string"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        let data = split.get("data").and_then(Value::as_array).ok_or_else(|| {
            ApiError::InvalidParameter("dataframe_split needs `data` (a list of rows)".into())
        })?;
        return data
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let values = row.as_array().ok_or_else(|| {
                    ApiError::InvalidParameter(format!("dataframe_split.data[{i}] is not a list"))
                })?;
                if values.len() != columns.len() {
                    return Err(ApiError::InvalidParameter(format!(
                        "dataframe_split.data[{i}] has {} values for {} columns",
                        values.len(),
                        columns.len()
                    )));
                }
                Ok(Value::Object(
                    columns
                        .iter()
                        .cloned()
                        .zip(values.iter().cloned())
                        .collect(),
                ))
            })
            .collect();
    }
    for key in ["dataframe_records", "inputs", "instances"] {
        match map.remove(key) {
            Some(Value::Array(rows)) => return Ok(rows),
            Some(Value::Object(columns)) => return columns_to_rows(key, columns),
            Some(other) => {
                return Err(ApiError::InvalidParameter(format!(
                    "{key} must be a list of records or an object of columns, not {other}"
                )));
            }
            None => {}
        }
    }
    Err(ApiError::InvalidParameter(
        "expected one of dataframe_split, dataframe_records, inputs or instances".into(),
    ))
}

fn columns_to_rows(
    key: &str,
    columns: serde_json::Map<String, Value>,
) -> Result<Vec<Value>, ApiError> {
    let mut n = None;
    for (name, values) in &columns {
        let len = values.as_array().map(Vec::len).ok_or_else(|| {
            ApiError::InvalidParameter(format!("{key}.{name} must be a list of values"))
        })?;
        if *n.get_or_insert(len) != len {
            return Err(ApiError::InvalidParameter(format!(
                "{key}: the columns have different lengths ({name} has {len})"
            )));
        }
    }
    Ok((0..n.unwrap_or(0))
        .map(|i| {
            Value::Object(
                columns
                    .iter()
                    .map(|(name, values)| (name.clone(), values[i].clone()))
                    .collect(),
            )
        })
        .collect())
}

/// The response body (keys in sorted order).
#[derive(serde::Serialize)]
struct Reply<'a> {
    model: &'a str,
    prediction_ids: &'a [PredictionId],
    predictions: &'a [f64],
    version: &'a str,
}

/// The answer to a prediction request: the body, and the version and the first prediction id
/// as headers.
fn respond(target: &Loaded, ids: &[PredictionId], predictions: &[f64]) -> Response {
    let version = target.version.to_string();
    let body = serde_json::to_vec(&Reply {
        model: &target.model,
        prediction_ids: ids,
        predictions,
        version: &version,
    })
    .unwrap_or_default();
    let mut response = (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&version) {
        headers.insert("slipway-model-version", v);
    }
    if let Some(first) = ids.first()
        && let Ok(v) = HeaderValue::from_str(&first.to_string())
    {
        headers.insert("slipway-prediction-id", v);
    }
    response
}

/// Rows from which a request's model call runs as a blocking section.
const LARGE_BATCH: usize = 1024;

/// FNV-1a: a stable hash of the sticky key (the same key lands in the same bucket on every
/// server and every restart).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A uniform number in [0, 1) from the request key, or from the prediction id without one.
fn bucket(key: Option<&str>, id: PredictionId) -> f64 {
    let h = match key {
        Some(k) => fnv1a(k.as_bytes()),
        None => fnv1a(&id.to_bytes()),
    };
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Which model answers, and which (if any) gets a shadow copy.
fn pick(route: &SlotRoute, u: f64) -> (&Arc<Loaded>, Route, Option<&Arc<Loaded>>) {
    match &route.challenger {
        Some(c) if c.mode == TrafficMode::Canary && u < c.share => (&c.target, Route::Canary, None),
        Some(c) if c.mode == TrafficMode::Shadow && u < c.share => {
            (&route.champion, Route::Champion, Some(&c.target))
        }
        _ => (&route.champion, Route::Champion, None),
    }
}

fn answer(
    gateway: &Arc<Gateway>,
    name: &str,
    slot: &str,
    rows: Vec<Value>,
    key: Option<&str>,
) -> Result<Response, ApiError> {
    let start = Instant::now();
    let table = gateway.table();
    let route = table.get(name, slot).ok_or_else(|| {
        let live = table.slots_of(name);
        ApiError::NotFound(if live.is_empty() {
            format!(
                "no version of model {name:?} is live in any slot; promote one to Production first"
            )
        } else {
            format!(
                "no version of model {name:?} is live in slot {slot:?}; live slots: {}",
                live.join(", ")
            )
        })
    })?;
    if rows.is_empty() {
        return Err(ApiError::InvalidParameter(
            "`rows` is empty: send at least one row".into(),
        ));
    }
    let now = slipway_store::now_ms();
    let ids: Vec<PredictionId> = rows.iter().map(|_| gateway.log().ids().next(now)).collect();
    let (target, route_kind, shadow) = pick(route, bucket(key, ids[0]));
    let response = serve_rows(gateway, target, route_kind, &rows, ids, start)?;
    if let Some(shadow) = shadow {
        let gateway = Arc::clone(gateway);
        let shadow = Arc::clone(shadow);
        tokio::spawn(async move { run_shadow(&gateway, &shadow, &rows) });
    }
    Ok(response)
}

/// Answers `rows` with one loaded version (no traffic split): alias-addressed requests.
fn serve_with(
    gateway: &Arc<Gateway>,
    target: &Arc<Loaded>,
    route: Route,
    rows: Vec<Value>,
) -> Result<Response, ApiError> {
    let start = Instant::now();
    if rows.is_empty() {
        return Err(ApiError::InvalidParameter(
            "`rows` is empty: send at least one row".into(),
        ));
    }
    let now = slipway_store::now_ms();
    let ids: Vec<PredictionId> = rows.iter().map(|_| gateway.log().ids().next(now)).collect();
    serve_rows(gateway, target, route, &rows, ids, start)
}

/// Checks the rows against the version's signature, predicts, records the latency and logs.
fn serve_rows(
    gateway: &Arc<Gateway>,
    target: &Arc<Loaded>,
    route_kind: Route,
    rows: &[Value],
    ids: Vec<PredictionId>,
    start: Instant,
) -> Result<Response, ApiError> {
    let x = target
        .runtime
        .signature()
        .vectorize(rows)
        .map_err(|e| ApiError::InvalidParameter(e.to_string()))?;
    // A large batch (or a heavy ONNX graph on one) would hold this async worker for long:
    // let the runtime move other requests elsewhere meanwhile.
    let run = || target.runtime.predict_matrix(&x);
    let predictions = if rows.len() >= LARGE_BATCH {
        tokio::task::block_in_place(run)
    } else {
        run()
    }
    .map_err(|e| ApiError::Internal(format!("{}@{} failed: {e}", target.model, target.version)))?;
    let elapsed = start.elapsed().as_micros() as u64;
    target.latency.record(elapsed);
    // Rendered before the log takes the ids and outputs, so neither is copied.
    let response = respond(target, &ids, &predictions);
    append(
        gateway,
        Batch {
            stream: Arc::clone(&target.stream),
            route: route_kind,
            ids,
            outputs: predictions,
            inputs: x,
            latency_us: elapsed.min(u64::from(u32::MAX)) as u32,
        },
    )?;
    Ok(response)
}

/// Runs the shadow challenger on a mirrored request and logs its outputs (never returned).
fn run_shadow(gateway: &Gateway, shadow: &Arc<Loaded>, rows: &[Value]) {
    let start = Instant::now();
    let x = match shadow.runtime.signature().vectorize(rows) {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(model = %shadow.model, version = shadow.version, error = %e, "The shadow challenger cannot take a request the champion took.");
            return;
        }
    };
    let outputs = match shadow.runtime.predict_matrix(&x) {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(model = %shadow.model, version = shadow.version, error = %e, "The shadow challenger failed.");
            return;
        }
    };
    let elapsed = start.elapsed().as_micros() as u64;
    shadow.latency.record(elapsed);
    let now = slipway_store::now_ms();
    let ids = rows.iter().map(|_| gateway.log().ids().next(now)).collect();
    let _ = append(
        gateway,
        Batch {
            stream: Arc::clone(&shadow.stream),
            route: Route::Shadow,
            ids,
            outputs,
            inputs: x,
            latency_us: elapsed.min(u64::from(u32::MAX)) as u32,
        },
    );
}

/// Queues a batch for the log; when the queue is full, waits for room (bounded memory), on a
/// blocking section so other requests keep running.
fn append(gateway: &Gateway, batch: Batch) -> Result<(), ApiError> {
    match gateway.log().try_append(batch) {
        Ok(()) => Ok(()),
        Err((batch, true)) => tokio::task::block_in_place(|| gateway.log().append(batch))
            .map_err(|e| ApiError::Unavailable(e.to_string())),
        Err((_, false)) => Err(ApiError::Unavailable(
            "the prediction log has stopped; the server is shutting down".into(),
        )),
    }
}

/// `{"labels": [{"prediction_id": "...", "label": 1}]}`.
#[derive(serde::Deserialize)]
struct LabelsBody {
    labels: Vec<LabelRow>,
}

#[derive(serde::Deserialize)]
struct LabelRow {
    prediction_id: String,
    label: f64,
}

async fn labels(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let parsed: LabelsBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::MalformedRequest(format!(
            "the request body is not valid: {e}; expected {{\"labels\": [{{\"prediction_id\": \"…\", \"label\": 1}}]}}"
        ))
    })?;
    let mut rows = Vec::with_capacity(parsed.labels.len());
    for (i, row) in parsed.labels.into_iter().enumerate() {
        let id: PredictionId = row
            .prediction_id
            .parse()
            .map_err(|e| ApiError::InvalidParameter(format!("labels[{i}].prediction_id: {e}")))?;
        if !row.label.is_finite() {
            return Err(ApiError::InvalidParameter(format!(
                "labels[{i}].label must be a finite number"
            )));
        }
        rows.push((id.to_string(), row.label));
    }
    let recorded = state
        .registry_write(move |_, store| Ok(store.put_labels(&rows, slipway_store::now_ms())?))
        .await?;
    Ok(axum::Json(serde_json::json!({ "recorded": recorded })).into_response())
}
