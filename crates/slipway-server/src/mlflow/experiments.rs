//! `experiments/*`: create, get, get-by-name, search, update (rename), delete, restore, set tag.

use super::entities;
use super::wire::{JsonBody, QueryPairs, experiment_id, required, string_list};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use slipway_core::search::{self, Entity, FieldValue, Filter, OrderBy, PageToken, Record};
use slipway_store::meta::{Experiment, MetaError, WriteOp, WriteOutcome};
use std::borrow::Cow;

/// The routes, relative to the API prefix.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/experiments/create", post(create))
        .route("/experiments/get", get(get_one))
        .route("/experiments/get-by-name", get(get_by_name))
        .route("/experiments/search", post(search_post).get(search_get))
        .route("/experiments/update", post(update))
        .route("/experiments/delete", post(delete))
        .route("/experiments/restore", post(restore))
        .route("/experiments/set-experiment-tag", post(set_tag))
}

#[derive(Deserialize)]
struct TagIn {
    key: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
struct CreateRequest {
    name: Option<String>,
    #[serde(default)]
    tags: Vec<TagIn>,
    // Accepted and ignored: artifacts always live in this server's object store.
    #[allow(dead_code)]
    artifact_location: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<CreateRequest>,
) -> Result<Json<Value>, ApiError> {
    let name = required(req.name.filter(|n| !n.trim().is_empty()), "name")?;
    let tags = req
        .tags
        .into_iter()
        .map(|t| {
            let key = required(t.key, "tags.key")?;
            super::wire::check_key("tag", &key)?;
            Ok((key, t.value.unwrap_or_default()))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let outcome = state
        .write(WriteOp::CreateExperiment {
            name,
            tags,
            at_ms: slipway_store::now_ms(),
        })
        .await?;
    match outcome {
        WriteOutcome::Experiment(id) => Ok(Json(json!({ "experiment_id": id.to_string() }))),
        other => Err(ApiError::Internal(format!(
            "unexpected outcome of create experiment: {other:?}"
        ))),
    }
}

async fn get_one(
    State(state): State<AppState>,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let id = experiment_id(query.required(&["experiment_id"])?)?;
    let dto = state
        .read(move |_, store| {
            let e = store.experiment(id)?;
            let tags = store.experiment_tags(id)?;
            Ok(entities::experiment(&e, &tags))
        })
        .await?;
    Ok(Json(json!({ "experiment": dto })))
}

async fn get_by_name(
    State(state): State<AppState>,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let name = query.required(&["experiment_name"])?.to_string();
    let dto = state
        .read(move |_, store| {
            let e = store.experiment_by_name(&name)?.ok_or_else(|| {
                ApiError::NotFound(format!("Could not find experiment with name '{name}'"))
            })?;
            let tags = store.experiment_tags(e.id)?;
            Ok(entities::experiment(&e, &tags))
        })
        .await?;
    Ok(Json(json!({ "experiment": dto })))
}

#[derive(Deserialize, Default)]
struct SearchRequest {
    #[serde(default, deserialize_with = "super::wire::opt_i64")]
    max_results: Option<i64>,
    page_token: Option<String>,
    filter: Option<String>,
    #[serde(default, deserialize_with = "string_list")]
    order_by: Vec<String>,
    view_type: Option<String>,
}

async fn search_post(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<SearchRequest>,
) -> Result<Json<Value>, ApiError> {
    search(state, req).await
}

async fn search_get(
    State(state): State<AppState>,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let req = SearchRequest {
        max_results: query.int("max_results")?,
        page_token: query.get("page_token").map(str::to_string),
        filter: query.get("filter").map(str::to_string),
        order_by: query.all("order_by"),
        view_type: query.get("view_type").map(str::to_string),
    };
    search(state, req).await
}

/// An experiment with its tags, as seen by in-memory filtering.
struct Row {
    experiment: Experiment,
    tags: Vec<(String, String)>,
}

impl Record for Row {
    fn field(&self, entity: Entity, key: &str) -> Option<FieldValue<'_>> {
        let e = &self.experiment;
        match entity {
            Entity::Tag => self
                .tags
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| FieldValue::Str(Cow::Borrowed(v))),
            Entity::Attribute => Some(match key {
                "name" => FieldValue::Str(Cow::Borrowed(&e.name)),
                "experiment_id" => FieldValue::Str(Cow::Owned(e.id.to_string())),
                "creation_time" => FieldValue::Num(e.created_ms as f64),
                "last_update_time" => FieldValue::Num(e.updated_ms as f64),
                "lifecycle_stage" => FieldValue::Str(Cow::Borrowed(&e.lifecycle)),
                _ => return None,
            }),
            _ => None,
        }
    }
}

async fn search(state: AppState, req: SearchRequest) -> Result<Json<Value>, ApiError> {
    let limit = super::page_size(req.max_results, 1000, 50_000)?;
    let offset = PageToken::decode(req.page_token.as_deref().unwrap_or(""))?.offset as usize;
    let filter = Filter::parse(req.filter.as_deref().unwrap_or(""))?.check(&search::EXPERIMENTS)?;
    let order: Vec<OrderBy> = req
        .order_by
        .iter()
        .map(|o| OrderBy::parse(o, &search::EXPERIMENTS))
        .collect::<Result<_, _>>()?;
    let view = super::view_type(req.view_type.as_deref())?;
    let (page, more) = state
        .read(move |_, store| {
            let mut rows = Vec::new();
            for experiment in store.experiments()? {
                if !super::view_includes(view, &experiment.lifecycle) {
                    continue;
                }
                let tags = store.experiment_tags(experiment.id)?;
                let row = Row { experiment, tags };
                if filter.matches(&row) {
                    rows.push(row);
                }
            }
            rows.sort_by(|a, b| {
                for o in &order {
                    let ordering =
                        compare_field(a.field(o.entity, &o.key), b.field(o.entity, &o.key));
                    let ordering = if o.ascending {
                        ordering
                    } else {
                        ordering.reverse()
                    };
                    if ordering.is_ne() {
                        return ordering;
                    }
                }
                // MLflow's default: newest first, then by id.
                b.experiment
                    .created_ms
                    .cmp(&a.experiment.created_ms)
                    .then(a.experiment.id.cmp(&b.experiment.id))
            });
            let more = rows.len() > offset + limit;
            let page: Vec<_> = rows
                .iter()
                .skip(offset)
                .take(limit)
                .map(|r| entities::experiment(&r.experiment, &r.tags))
                .collect();
            Ok((page, more))
        })
        .await?;
    let mut body = serde_json::Map::new();
    if !page.is_empty() {
        body.insert(
            "experiments".into(),
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

/// Orders two optional field values; absent values sort last.
pub(super) fn compare_field(
    a: Option<FieldValue<'_>>,
    b: Option<FieldValue<'_>>,
) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (None, None) => Equal,
        (None, Some(_)) => Greater,
        (Some(_), None) => Less,
        (Some(FieldValue::Num(x)), Some(FieldValue::Num(y))) => x.partial_cmp(&y).unwrap_or(Equal),
        (Some(FieldValue::Str(x)), Some(FieldValue::Str(y))) => x.cmp(&y),
        (Some(FieldValue::Num(_)), Some(FieldValue::Str(_))) => Less,
        (Some(FieldValue::Str(_)), Some(FieldValue::Num(_))) => Greater,
    }
}

#[derive(Deserialize)]
struct IdRequest {
    #[serde(default, deserialize_with = "opt_id")]
    experiment_id: Option<String>,
    new_name: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

/// Experiment ids arrive as strings, or sometimes as numbers.
fn opt_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v: Option<Value> = Deserialize::deserialize(d)?;
    Ok(match v {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Null) | None => None,
        Some(other) => {
            return Err(serde::de::Error::custom(format!(
                "experiment_id must be a string, got {other}"
            )));
        }
    })
}

fn id_of(req: &IdRequest) -> Result<i64, ApiError> {
    experiment_id(&required(req.experiment_id.clone(), "experiment_id")?)
}

async fn update(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<IdRequest>,
) -> Result<Json<Value>, ApiError> {
    let id = id_of(&req)?;
    let name = required(req.new_name.filter(|n| !n.trim().is_empty()), "new_name")?;
    state
        .write(WriteOp::RenameExperiment {
            id,
            name,
            at_ms: slipway_store::now_ms(),
        })
        .await?;
    Ok(Json(json!({})))
}

async fn set_deleted(
    state: AppState,
    req: IdRequest,
    deleted: bool,
) -> Result<Json<Value>, ApiError> {
    let id = id_of(&req)?;
    state
        .write(WriteOp::SetExperimentDeleted {
            id,
            deleted,
            at_ms: slipway_store::now_ms(),
        })
        .await?;
    Ok(Json(json!({})))
}

async fn delete(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<IdRequest>,
) -> Result<Json<Value>, ApiError> {
    set_deleted(state, req, true).await
}

async fn restore(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<IdRequest>,
) -> Result<Json<Value>, ApiError> {
    set_deleted(state, req, false).await
}

async fn set_tag(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<IdRequest>,
) -> Result<Json<Value>, ApiError> {
    let id = id_of(&req)?;
    let key = required(req.key, "key")?;
    super::wire::check_key("tag", &key)?;
    let value = required(req.value, "value")?;
    super::wire::check_value("tag", &key, &value, super::MAX_TAG_VALUE)?;
    state
        .write(WriteOp::SetExperimentTag { id, key, value })
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => MetaError::NotFound {
                what: "experiment",
                id: id.to_string(),
            }
            .into(),
            other => other,
        })?;
    Ok(Json(json!({})))
}
