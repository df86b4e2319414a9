//! MLflow 3 logged models (`logged-models/*`): what `mlflow.<flavor>.log_model` and
//! `load_model` need — create, get, finalize, tags, delete, search — and `runs/outputs`'
//! counterpart lives in `runs`.

use super::entities;
use super::wire::{JsonBody, experiment_id, required, string_list};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use slipway_core::search::{self, Entity, FieldValue, Filter, PageToken, Record};
use slipway_store::meta::{LoggedModel, NewLoggedModel, WriteOp, WriteOutcome};
use std::borrow::Cow;

/// The routes, relative to the API prefix.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/logged-models", post(create))
        .route("/logged-models/search", post(search))
        .route(
            "/logged-models/{model_id}",
            get(get_one).patch(finalize).delete(remove),
        )
        .route("/logged-models/{model_id}/tags", patch(set_tags))
        .route("/logged-models/{model_id}/tags/{key}", delete(delete_tag))
}

#[derive(Deserialize)]
struct KeyValueIn {
    key: Option<String>,
    value: Option<String>,
}

fn pairs_in(items: Vec<KeyValueIn>, what: &str) -> Result<Vec<(String, String)>, ApiError> {
    items
        .into_iter()
        .map(|kv| {
            let key = required(kv.key, "key")?;
            super::wire::check_key(what, &key)?;
            Ok((key, kv.value.unwrap_or_default()))
        })
        .collect()
}

#[derive(Deserialize)]
struct CreateRequest {
    #[serde(default, deserialize_with = "string_or_number")]
    experiment_id: Option<String>,
    name: Option<String>,
    source_run_id: Option<String>,
    model_type: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValueIn>,
    #[serde(default)]
    params: Vec<KeyValueIn>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
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

async fn create(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<CreateRequest>,
) -> Result<Json<Value>, ApiError> {
    let experiment = experiment_id(&required(req.experiment_id, "experiment_id")?)?;
    let model = NewLoggedModel {
        experiment_id: experiment,
        name: req
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(super::names::generate),
        source_run_id: req.source_run_id.filter(|r| !r.is_empty()),
        model_type: req.model_type.filter(|t| !t.is_empty()),
        status: "LOGGED_MODEL_PENDING".into(),
        tags: pairs_in(req.tags, "tag")?,
        params: pairs_in(req.params, "param")?,
        at_ms: slipway_store::now_ms(),
    };
    match state.write(WriteOp::CreateLoggedModel { model }).await? {
        WriteOutcome::LoggedModel(m) => Ok(Json(json!({ "model": entities::logged_model(&m) }))),
        other => Err(ApiError::Internal(format!(
            "unexpected outcome of create logged model: {other:?}"
        ))),
    }
}

async fn fetch(state: &AppState, id: String) -> Result<Value, ApiError> {
    let model = state
        .read(move |_, store| Ok(store.logged_model(&id)?))
        .await?;
    Ok(json!({ "model": entities::logged_model(&model) }))
}

async fn get_one(
    State(state): State<AppState>,
    Path(model_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(fetch(&state, model_id).await?))
}

#[derive(Deserialize)]
struct FinalizeRequest {
    status: Option<Value>,
}

/// MLflow's `LoggedModelStatus`, sent as its name or its number.
fn status_name(value: &Value) -> Result<String, ApiError> {
    const NAMES: [&str; 3] = [
        "LOGGED_MODEL_PENDING",
        "LOGGED_MODEL_READY",
        "LOGGED_MODEL_UPLOAD_FAILED",
    ];
    match value {
        Value::String(s) if NAMES.contains(&s.as_str()) => Ok(s.clone()),
        Value::Number(n) if (1..=3).contains(&n.as_u64().unwrap_or(0)) => {
            Ok(NAMES[n.as_u64().unwrap_or(1) as usize - 1].to_string())
        }
        other => Err(ApiError::InvalidParameter(format!(
            "unknown logged model status {other}; expected one of {}",
            NAMES.join(", ")
        ))),
    }
}

async fn finalize(
    State(state): State<AppState>,
    Path(model_id): Path<String>,
    JsonBody(req): JsonBody<FinalizeRequest>,
) -> Result<Json<Value>, ApiError> {
    let status = status_name(&required(req.status, "status")?)?;
    state
        .write(WriteOp::SetLoggedModelStatus {
            id: model_id.clone(),
            status,
            at_ms: slipway_store::now_ms(),
        })
        .await?;
    Ok(Json(fetch(&state, model_id).await?))
}

async fn remove(
    State(state): State<AppState>,
    Path(model_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .write(WriteOp::DeleteLoggedModel {
            id: model_id,
            at_ms: slipway_store::now_ms(),
        })
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct TagsRequest {
    #[serde(default)]
    tags: Vec<KeyValueIn>,
}

async fn set_tags(
    State(state): State<AppState>,
    Path(model_id): Path<String>,
    JsonBody(req): JsonBody<TagsRequest>,
) -> Result<Json<Value>, ApiError> {
    state
        .write(WriteOp::SetLoggedModelTags {
            id: model_id,
            tags: pairs_in(req.tags, "tag")?,
            at_ms: slipway_store::now_ms(),
        })
        .await?;
    Ok(Json(json!({})))
}

async fn delete_tag(
    State(state): State<AppState>,
    Path((model_id, key)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    state
        .write(WriteOp::DeleteLoggedModelTag { id: model_id, key })
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct SearchRequest {
    #[serde(default, deserialize_with = "string_list")]
    experiment_ids: Vec<String>,
    filter: Option<String>,
    #[serde(default)]
    order_by: Vec<Value>,
    #[serde(default, deserialize_with = "super::wire::opt_i64")]
    max_results: Option<i64>,
    page_token: Option<String>,
}

struct Row<'a>(&'a LoggedModel);

impl Record for Row<'_> {
    fn field(&self, entity: Entity, key: &str) -> Option<FieldValue<'_>> {
        let m = self.0;
        let find = |items: &'_ [(String, String)]| {
            items
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| FieldValue::Str(Cow::Owned(v.clone())))
        };
        match entity {
            Entity::Tag => find(&m.tags),
            Entity::Param => find(&m.params),
            Entity::Attribute => match key {
                "name" => Some(FieldValue::Str(Cow::Borrowed(&m.name))),
                "model_id" => Some(FieldValue::Str(Cow::Borrowed(&m.id))),
                "status" => Some(FieldValue::Str(Cow::Borrowed(&m.status))),
                "source_run_id" => m
                    .source_run_id
                    .as_deref()
                    .map(|s| FieldValue::Str(Cow::Borrowed(s))),
                "model_type" => m
                    .model_type
                    .as_deref()
                    .map(|s| FieldValue::Str(Cow::Borrowed(s))),
                "experiment_id" => Some(FieldValue::Str(Cow::Owned(m.experiment_id.to_string()))),
                "creation_timestamp" => Some(FieldValue::Num(m.created_ms as f64)),
                "last_updated_timestamp" => Some(FieldValue::Num(m.updated_ms as f64)),
                _ => None,
            },
            _ => None,
        }
    }
}

/// An `order_by` item: MLflow 3 sends `{field_name, ascending}` objects.
fn order_key(item: &Value) -> Result<(String, bool), ApiError> {
    match item {
        Value::Object(map) => {
            let field = map
                .get("field_name")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::missing("order_by.field_name"))?;
            let ascending = map
                .get("ascending")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            Ok((field.to_string(), ascending))
        }
        Value::String(text) => {
            let o = slipway_core::search::OrderBy::parse(text, &search::LOGGED_MODELS)?;
            Ok((o.key, o.ascending))
        }
        other => Err(ApiError::InvalidParameter(format!(
            "order_by items must be objects with field_name, got {other}"
        ))),
    }
}

async fn search(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<SearchRequest>,
) -> Result<Json<Value>, ApiError> {
    if req.experiment_ids.is_empty() {
        return Err(ApiError::missing("experiment_ids"));
    }
    let experiments = req
        .experiment_ids
        .iter()
        .map(|e| experiment_id(e))
        .collect::<Result<Vec<_>, _>>()?;
    let filter =
        Filter::parse(req.filter.as_deref().unwrap_or(""))?.check(&search::LOGGED_MODELS)?;
    let order = req
        .order_by
        .iter()
        .map(order_key)
        .collect::<Result<Vec<_>, _>>()?;
    let limit = super::page_size(req.max_results, 100, 10_000)?;
    let offset = PageToken::decode(req.page_token.as_deref().unwrap_or(""))?.offset as usize;
    let models = state
        .read(move |_, store| Ok(store.logged_models(&experiments)?))
        .await?;
    let mut hits: Vec<&LoggedModel> = models
        .iter()
        .filter(|m| m.lifecycle == "active" && filter.matches(&Row(m)))
        .collect();
    hits.sort_by(|a, b| {
        for (field, ascending) in &order {
            let key = search::LOGGED_MODELS
                .attribute(field)
                .map(|(k, _)| k)
                .unwrap_or(field.as_str());
            let o = super::experiments::compare_field(
                Row(a).field(Entity::Attribute, key),
                Row(b).field(Entity::Attribute, key),
            );
            let o = if *ascending { o } else { o.reverse() };
            if o.is_ne() {
                return o;
            }
        }
        b.created_ms.cmp(&a.created_ms).then(a.id.cmp(&b.id))
    });
    let more = hits.len() > offset + limit;
    let page: Vec<_> = hits
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(entities::logged_model)
        .collect();
    let mut body = serde_json::Map::new();
    if !page.is_empty() {
        body.insert(
            "models".into(),
            serde_json::to_value(page).unwrap_or_default(),
        );
    }
    if more {
        body.insert(
            "next_page_token".into(),
            Value::String(
                PageToken {
                    offset: (offset + limit) as u64,
                }
                .encode(),
            ),
        );
    }
    Ok(Json(Value::Object(body)))
}
