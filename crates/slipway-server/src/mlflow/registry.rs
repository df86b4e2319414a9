//! The MLflow model-registry REST API (`registered-models/*`, `model-versions/*`) on Slipway's
//! registry. Stage transitions map onto the `default` slot and go through the same policy as
//! `slipway models promote`: a refused transition answers `PERMISSION_DENIED` (403) or
//! `INVALID_PARAMETER_VALUE` (400) with every missing requirement in the message.

use super::entities::{KeyValue, model_artifact_path, pairs, run_artifact_path};
use super::wire::{JsonBody, QueryPairs, required, string_list};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::{delete, get, patch, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use slipway_core::registry::{Action, Components, Request, Stage};
use slipway_core::search::{self, Entity, FieldValue, Filter, PageToken, Record};
use slipway_core::{ArtifactKind, ArtifactRef, Digest, Manifest, ManifestEntry, RelPath};
use slipway_store::MetaError;
use slipway_store::meta::{ArtifactRecord, MetadataStore, SqliteStore};
use slipway_store::objects::ObjectStore;
use slipway_store::registry::{
    ModelUpdate, NewModel, NewVersion, RegisteredModel, RegistryError, RegistryStore,
    VersionRecord, VersionUpdate,
};
use std::borrow::Cow;

/// The slot MLflow's single-stage API acts on.
const SLOT: &str = "default";

/// The routes, relative to the API prefix.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/registered-models/create", post(create_model))
        .route("/registered-models/get", get(get_model))
        .route(
            "/registered-models/search",
            get(search_models_get).post(search_models_post),
        )
        .route(
            "/registered-models/update",
            patch(update_model).post(update_model),
        )
        .route("/registered-models/rename", post(rename_model))
        .route("/registered-models/delete", delete(delete_model))
        .route("/registered-models/set-tag", post(set_model_tag))
        .route("/registered-models/delete-tag", delete(delete_model_tag))
        .route(
            "/registered-models/alias",
            post(set_alias).delete(delete_alias).get(get_by_alias),
        )
        .route(
            "/registered-models/get-latest-versions",
            post(latest_versions).get(latest_versions_get),
        )
        .route("/model-versions/create", post(create_version))
        .route("/model-versions/get", get(get_version))
        .route(
            "/model-versions/search",
            get(search_versions_get).post(search_versions_post),
        )
        .route(
            "/model-versions/update",
            patch(update_version).post(update_version),
        )
        .route("/model-versions/delete", delete(delete_version))
        .route("/model-versions/transition-stage", post(transition_stage))
        .route("/model-versions/get-download-uri", get(download_uri))
        .route("/model-versions/set-tag", post(set_version_tag))
        .route("/model-versions/delete-tag", delete(delete_version_tag))
}

/// MLflow's `ModelVersion`.
#[derive(Serialize, Debug)]
pub struct ModelVersionDto {
    name: String,
    version: String,
    creation_timestamp: i64,
    last_updated_timestamp: i64,
    current_stage: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<String>,
    status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    aliases: Vec<String>,
}

fn version_dto(v: &VersionRecord, aliases: &[(String, u64)]) -> ModelVersionDto {
    ModelVersionDto {
        name: v.model.clone(),
        version: v.number().to_string(),
        creation_timestamp: v.created_ms,
        last_updated_timestamp: v.updated_ms,
        current_stage: v.default_stage.as_str(),
        description: v.description.clone(),
        source: v.source.clone(),
        run_id: v.run_id.clone(),
        status: "READY",
        tags: pairs(&v.tags),
        aliases: aliases
            .iter()
            .filter(|(_, n)| *n == v.number())
            .map(|(a, _)| a.clone())
            .collect(),
    }
}

/// Latest version per stage, as MLflow's `latest_versions`.
fn latest_per_stage<'a>(
    versions: &'a [VersionRecord],
    stages: &[String],
) -> Vec<&'a VersionRecord> {
    let mut out: Vec<&VersionRecord> = Vec::new();
    for v in versions {
        let stage = v.default_stage.as_str();
        if !stages.is_empty() && !stages.iter().any(|s| s.eq_ignore_ascii_case(stage)) {
            continue;
        }
        match out.iter().position(|o| o.default_stage == v.default_stage) {
            Some(i) if out[i].number() < v.number() => out[i] = v,
            Some(_) => {}
            None => out.push(v),
        }
    }
    out.sort_by_key(|v| v.number());
    out
}

fn model_dto(store: &SqliteStore, m: &RegisteredModel) -> Result<Value, ApiError> {
    let versions = store.versions(&m.name)?;
    let latest: Vec<ModelVersionDto> = latest_per_stage(&versions, &[])
        .into_iter()
        .map(|v| version_dto(v, &m.aliases))
        .collect();
    let mut dto = json!({
        "name": m.name,
        "creation_timestamp": m.created_ms,
        "last_updated_timestamp": m.updated_ms,
    });
    if let Some(d) = &m.description {
        dto["description"] = json!(d);
    }
    if !latest.is_empty() {
        dto["latest_versions"] = json!(latest);
    }
    if !m.tags.is_empty() {
        dto["tags"] = json!(pairs(&m.tags));
    }
    if !m.aliases.is_empty() {
        dto["aliases"] = json!(
            m.aliases
                .iter()
                .map(|(a, v)| json!({"alias": a, "version": v.to_string()}))
                .collect::<Vec<_>>()
        );
    }
    Ok(dto)
}

fn not_found_model(name: &str) -> impl FnOnce(RegistryError) -> ApiError + '_ {
    move |e| match e {
        RegistryError::Meta(MetaError::NotFound { .. }) => {
            ApiError::NotFound(format!("Registered Model with name={name} not found"))
        }
        other => other.into(),
    }
}

fn version_number(text: &str) -> Result<u64, ApiError> {
    text.trim().parse::<u64>().map_err(|_| {
        ApiError::InvalidParameter(format!(
            "Invalid value '{text}' for parameter 'version'; it must be a positive integer"
        ))
    })
}

#[derive(Deserialize)]
struct TagIn {
    key: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
struct CreateModelRequest {
    name: Option<String>,
    #[serde(default)]
    tags: Vec<TagIn>,
    description: Option<String>,
}

async fn create_model(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    JsonBody(req): JsonBody<CreateModelRequest>,
) -> Result<Json<Value>, ApiError> {
    let name = required(req.name.filter(|n| !n.trim().is_empty()), "name")?;
    let dto = state
        .registry_write(move |_, store| {
            let now = slipway_store::now_ms();
            let m = store.create_model(
                &NewModel {
                    name: name.clone(),
                    owner: Some(actor.name.clone()),
                    description: req.description,
                    ..NewModel::default()
                },
                &actor,
                now,
            )?;
            for t in req.tags {
                let key = required(t.key, "tags.key")?;
                store.set_model_tag(
                    &name,
                    &key,
                    Some(&t.value.unwrap_or_default()),
                    &actor,
                    now,
                )?;
            }
            let m = store.model(&m.name)?;
            model_dto(store, &m)
        })
        .await?;
    Ok(Json(json!({ "registered_model": dto })))
}

async fn get_model(
    State(state): State<AppState>,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let name = query.required(&["name"])?.to_string();
    let dto = state
        .registry_read(move |store| {
            let m = store.model(&name).map_err(not_found_model(&name))?;
            model_dto(store, &m)
        })
        .await?;
    Ok(Json(json!({ "registered_model": dto })))
}

struct ModelRow<'a>(&'a RegisteredModel);

impl Record for ModelRow<'_> {
    fn field(&self, entity: Entity, key: &str) -> Option<FieldValue<'_>> {
        match entity {
            // A missing tag compares as empty text, so `tags.x != 'true'` holds for models
            // without it (the MLflow client appends such a clause to every search).
            Entity::Tag => Some(FieldValue::Str(Cow::Borrowed(
                self.0
                    .tags
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or(""),
            ))),
            Entity::Attribute => match key {
                "name" => Some(FieldValue::Str(Cow::Borrowed(&self.0.name))),
                "creation_timestamp" => Some(FieldValue::Num(self.0.created_ms as f64)),
                "last_updated_timestamp" => Some(FieldValue::Num(self.0.updated_ms as f64)),
                _ => None,
            },
            _ => None,
        }
    }
}

struct VersionRow<'a>(&'a VersionRecord);

impl Record for VersionRow<'_> {
    fn field(&self, entity: Entity, key: &str) -> Option<FieldValue<'_>> {
        let v = self.0;
        match entity {
            Entity::Tag => Some(FieldValue::Str(Cow::Borrowed(
                v.tags
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, val)| val.as_str())
                    .unwrap_or(""),
            ))),
            Entity::Attribute => match key {
                "name" => Some(FieldValue::Str(Cow::Borrowed(&v.model))),
                "version" => Some(FieldValue::Num(v.number() as f64)),
                "run_id" => v
                    .run_id
                    .as_deref()
                    .map(|r| FieldValue::Str(Cow::Borrowed(r))),
                "source" => v
                    .source
                    .as_deref()
                    .map(|s| FieldValue::Str(Cow::Borrowed(s))),
                "current_stage" => Some(FieldValue::Str(Cow::Borrowed(v.default_stage.as_str()))),
                "creation_timestamp" => Some(FieldValue::Num(v.created_ms as f64)),
                "last_updated_timestamp" => Some(FieldValue::Num(v.updated_ms as f64)),
                _ => None,
            },
            _ => None,
        }
    }
}

#[derive(Deserialize, Default)]
struct SearchRequest {
    filter: Option<String>,
    #[serde(default, deserialize_with = "super::wire::opt_i64")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "string_list")]
    order_by: Vec<String>,
    page_token: Option<String>,
}

fn search_from_query(query: &QueryPairs) -> Result<SearchRequest, ApiError> {
    Ok(SearchRequest {
        filter: query.get("filter").map(str::to_string),
        max_results: query.int("max_results")?,
        order_by: query.all("order_by"),
        page_token: query.get("page_token").map(str::to_string),
    })
}

/// Sorts by MLflow's order-by clauses over the given keys (`name`, timestamps, `version`).
fn sort_by<T>(
    items: &mut [T],
    order_by: &[String],
    key: impl Fn(&T, &str) -> (f64, String),
) -> Result<(), ApiError> {
    for clause in order_by.iter().rev() {
        let mut parts = clause.split_whitespace();
        let field = parts.next().unwrap_or("name").trim_matches('`').to_string();
        let field = field
            .strip_prefix("attributes.")
            .unwrap_or(&field)
            .to_string();
        let descending = match parts.next().map(|s| s.to_ascii_uppercase()) {
            None => false,
            Some(d) if d == "ASC" => false,
            Some(d) if d == "DESC" => true,
            Some(d) => {
                return Err(ApiError::InvalidParameter(format!(
                    "invalid order_by direction `{d}` in `{clause}`; use ASC or DESC"
                )));
            }
        };
        items.sort_by(|a, b| {
            let (ka, kb) = (key(a, &field), key(b, &field));
            let ordering =
                ka.0.partial_cmp(&kb.0)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then_with(|| ka.1.cmp(&kb.1));
            if descending {
                ordering.reverse()
            } else {
                ordering
            }
        });
    }
    Ok(())
}

fn page<T: Serialize>(
    items: Vec<T>,
    req: &SearchRequest,
    default: usize,
    max: usize,
    key: &str,
) -> Result<Value, ApiError> {
    let size = super::page_size(req.max_results, default, max)?;
    let start = PageToken::decode(req.page_token.as_deref().unwrap_or(""))?.offset as usize;
    let total = items.len();
    let chosen: Vec<T> = items.into_iter().skip(start).take(size).collect();
    let mut out = json!({});
    if !chosen.is_empty() {
        out[key] = json!(chosen);
    }
    if start + size < total {
        out["next_page_token"] = json!(
            PageToken {
                offset: (start + size) as u64
            }
            .encode()
        );
    }
    Ok(out)
}

async fn search_models(state: AppState, req: SearchRequest) -> Result<Json<Value>, ApiError> {
    let out = state
        .registry_read(move |store| {
            let filter = Filter::parse(req.filter.as_deref().unwrap_or(""))?
                .check(&search::REGISTERED_MODELS)?;
            let mut models: Vec<RegisteredModel> = store
                .models()?
                .into_iter()
                .filter(|m| filter.matches(&ModelRow(m)))
                .collect();
            let order = if req.order_by.is_empty() {
                vec!["name ASC".to_string()]
            } else {
                req.order_by.clone()
            };
            sort_by(&mut models, &order, |m, field| match field {
                "creation_timestamp" => (m.created_ms as f64, String::new()),
                "last_updated_timestamp" => (m.updated_ms as f64, String::new()),
                _ => (0.0, m.name.clone()),
            })?;
            let dtos = models
                .iter()
                .map(|m| model_dto(store, m))
                .collect::<Result<Vec<_>, _>>()?;
            page(dtos, &req, 100, 1000, "registered_models")
        })
        .await?;
    Ok(Json(out))
}

async fn search_models_get(
    State(state): State<AppState>,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    search_models(state, search_from_query(&query)?).await
}

async fn search_models_post(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<SearchRequest>,
) -> Result<Json<Value>, ApiError> {
    search_models(state, req).await
}

#[derive(Deserialize)]
struct UpdateModelRequest {
    name: Option<String>,
    description: Option<String>,
}

async fn update_model(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    JsonBody(req): JsonBody<UpdateModelRequest>,
) -> Result<Json<Value>, ApiError> {
    let name = required(req.name, "name")?;
    let dto = state
        .registry_write(move |_, store| {
            let update = ModelUpdate {
                description: req.description,
                ..ModelUpdate::default()
            };
            let m = store
                .update_model(&name, &update, &actor, slipway_store::now_ms())
                .map_err(not_found_model(&name))?;
            model_dto(store, &m)
        })
        .await?;
    Ok(Json(json!({ "registered_model": dto })))
}

#[derive(Deserialize)]
struct RenameRequest {
    name: Option<String>,
    new_name: Option<String>,
}

async fn rename_model(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    JsonBody(req): JsonBody<RenameRequest>,
) -> Result<Json<Value>, ApiError> {
    let name = required(req.name, "name")?;
    let new_name = required(req.new_name, "new_name")?;
    let dto = state
        .registry_write(move |_, store| {
            let m = store
                .rename_model(&name, &new_name, &actor, slipway_store::now_ms())
                .map_err(not_found_model(&name))?;
            model_dto(store, &m)
        })
        .await?;
    Ok(Json(json!({ "registered_model": dto })))
}

#[derive(Deserialize)]
struct NameRequest {
    name: Option<String>,
}

async fn delete_model(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    JsonBody(req): JsonBody<NameRequest>,
) -> Result<Json<Value>, ApiError> {
    let name = required(req.name, "name")?;
    state
        .registry_write(move |_, store| {
            store
                .delete_model(&name, &actor, slipway_store::now_ms())
                .map_err(not_found_model(&name))
        })
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct ModelTagRequest {
    name: Option<String>,
    version: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

async fn set_model_tag(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    JsonBody(req): JsonBody<ModelTagRequest>,
) -> Result<Json<Value>, ApiError> {
    let name = required(req.name, "name")?;
    let key = required(req.key, "key")?;
    let value = required(req.value, "value")?;
    state
        .registry_write(move |_, store| {
            store
                .set_model_tag(&name, &key, Some(&value), &actor, slipway_store::now_ms())
                .map_err(not_found_model(&name))
        })
        .await?;
    Ok(Json(json!({})))
}

async fn delete_model_tag(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    JsonBody(req): JsonBody<ModelTagRequest>,
) -> Result<Json<Value>, ApiError> {
    let name = required(req.name, "name")?;
    let key = required(req.key, "key")?;
    state
        .registry_write(move |_, store| {
            store
                .set_model_tag(&name, &key, None, &actor, slipway_store::now_ms())
                .map_err(not_found_model(&name))
        })
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct AliasRequest {
    name: Option<String>,
    alias: Option<String>,
    version: Option<String>,
}

async fn set_alias(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    JsonBody(req): JsonBody<AliasRequest>,
) -> Result<Json<Value>, ApiError> {
    let name = required(req.name, "name")?;
    let alias = required(req.alias, "alias")?;
    let version = version_number(&required(req.version, "version")?)?;
    transition(
        state,
        name,
        Request {
            actor,
            time_ms: slipway_store::now_ms(),
            action: Action::SetAlias { alias, version },
        },
    )
    .await?;
    Ok(Json(json!({})))
}

async fn delete_alias(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    JsonBody(req): JsonBody<AliasRequest>,
) -> Result<Json<Value>, ApiError> {
    let name = required(req.name, "name")?;
    let alias = required(req.alias, "alias")?;
    transition(
        state,
        name,
        Request {
            actor,
            time_ms: slipway_store::now_ms(),
            action: Action::DeleteAlias { alias },
        },
    )
    .await?;
    Ok(Json(json!({})))
}

async fn get_by_alias(
    State(state): State<AppState>,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let name = query.required(&["name"])?.to_string();
    let alias = query.required(&["alias"])?.to_string();
    let dto = state
        .registry_read(move |store| {
            let m = store.model(&name).map_err(not_found_model(&name))?;
            let version = m
                .aliases
                .iter()
                .find(|(a, _)| *a == alias)
                .map(|(_, v)| *v)
                .ok_or_else(|| {
                    ApiError::InvalidParameter(format!("Registered model alias {alias} not found."))
                })?;
            let v = store.version(&name, version)?;
            Ok(version_dto(&v, &m.aliases))
        })
        .await?;
    Ok(Json(json!({ "model_version": dto })))
}

#[derive(Deserialize)]
struct LatestRequest {
    name: Option<String>,
    #[serde(default, deserialize_with = "string_list")]
    stages: Vec<String>,
}

async fn latest(
    state: AppState,
    name: String,
    stages: Vec<String>,
) -> Result<Json<Value>, ApiError> {
    let dtos = state
        .registry_read(move |store| {
            let m = store.model(&name).map_err(not_found_model(&name))?;
            let versions = store.versions(&name)?;
            Ok(latest_per_stage(&versions, &stages)
                .into_iter()
                .map(|v| version_dto(v, &m.aliases))
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(Json(if dtos.is_empty() {
        json!({})
    } else {
        json!({ "model_versions": dtos })
    }))
}

async fn latest_versions(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<LatestRequest>,
) -> Result<Json<Value>, ApiError> {
    let name = required(req.name, "name")?;
    latest(state, name, req.stages).await
}

async fn latest_versions_get(
    State(state): State<AppState>,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let name = query.required(&["name"])?.to_string();
    latest(state, name, query.all("stages")).await
}

#[derive(Deserialize)]
struct CreateVersionRequest {
    name: Option<String>,
    source: Option<String>,
    run_id: Option<String>,
    #[serde(default)]
    tags: Vec<TagIn>,
    description: Option<String>,
    model_id: Option<String>,
}

/// Where a version's files are under the artifact proxy, and the run that made them.
fn artifact_prefix(
    store: &dyn MetadataStore,
    source: &str,
    model_id: Option<&str>,
    run_id: Option<&str>,
) -> Result<(String, Option<String>), ApiError> {
    let logged = model_id.map(str::to_string).or_else(|| {
        source
            .strip_prefix("models:/")
            .filter(|s| s.starts_with("m-"))
            .map(|s| s.trim_end_matches('/').to_string())
    });
    if let Some(id) = logged {
        let m = store.logged_model(&id)?;
        return Ok((
            model_artifact_path(m.experiment_id, &m.id),
            m.source_run_id.or(run_id.map(str::to_string)),
        ));
    }
    if let Some(rest) = source.strip_prefix("runs:/") {
        let (run, path) = rest.split_once('/').unwrap_or((rest, ""));
        let path = path.trim_matches('/');
        let r = store.run(run)?;
        let base = run_artifact_path(r.experiment_id, &r.id);
        let prefix = if path.is_empty() {
            base
        } else {
            format!("{base}/{path}")
        };
        // MLflow 3 keeps a model logged by a run under the logged model, not the run's
        // artifacts: `runs:/<run>/<name>` then means the run's logged model of that name.
        if store.artifact_files(&prefix)?.is_empty()
            && let Some(m) = store
                .logged_models(&[r.experiment_id])?
                .into_iter()
                .find(|m| m.source_run_id.as_deref() == Some(r.id.as_str()) && m.name == path)
        {
            return Ok((model_artifact_path(m.experiment_id, &m.id), Some(r.id)));
        }
        return Ok((prefix, Some(r.id)));
    }
    if let Some(path) = source.strip_prefix("mlflow-artifacts:/") {
        return Ok((
            path.trim_matches('/').to_string(),
            run_id.map(str::to_string),
        ));
    }
    Err(ApiError::InvalidParameter(format!(
        "source `{source}` is not stored by this server; use a `runs:/<run id>/<path>`, `models:/m-…` or `mlflow-artifacts:/…` URI"
    )))
}

/// The version's artifact: a directory manifest over the files under `prefix` (stored as an
/// object, so the version's bytes are content-addressed like everything else).
fn artifact_digest(
    ws: &slipway_store::Workspace,
    store: &dyn MetadataStore,
    prefix: &str,
) -> Result<Digest, ApiError> {
    let files = store.artifact_files(prefix)?;
    let mut entries = Vec::new();
    for f in &files {
        let rel = f
            .path
            .strip_prefix(prefix)
            .unwrap_or(&f.path)
            .trim_start_matches('/');
        if rel.is_empty() {
            // The source names a single file.
            return Ok(f.digest);
        }
        entries.push(ManifestEntry {
            path: RelPath::new(rel)?,
            digest: f.digest,
            size: f.size,
            executable: false,
        });
    }
    if entries.is_empty() {
        return Err(ApiError::InvalidParameter(format!(
            "no artifacts were logged at `{prefix}`; log the model's files before registering it"
        )));
    }
    let manifest = Manifest::new(entries).map_err(|e| ApiError::InvalidParameter(e.to_string()))?;
    let put = ws.objects().put_bytes(&manifest.to_canonical_bytes())?;
    store.put_artifact(&ArtifactRecord {
        artifact: ArtifactRef {
            digest: put.digest,
            size: manifest.total_size(),
            kind: ArtifactKind::Model,
            media_type: None,
        },
        created_ms: slipway_store::now_ms(),
        source: Some(format!("mlflow-artifacts:/{prefix}")),
    })?;
    Ok(put.digest)
}

async fn create_version(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    JsonBody(req): JsonBody<CreateVersionRequest>,
) -> Result<Json<Value>, ApiError> {
    let name = required(req.name, "name")?;
    let source = required(req.source, "source")?;
    let dto = state
        .registry_write(move |ws, store| {
            let (prefix, run_id) = artifact_prefix(
                store,
                &source,
                req.model_id.as_deref(),
                req.run_id.as_deref(),
            )?;
            let artifact = artifact_digest(ws, store, &prefix)?;
            let now = slipway_store::now_ms();
            let v = store
                .register_version(
                    &NewVersion {
                        model: name.clone(),
                        artifact: Some(artifact),
                        source: Some(source),
                        run_id,
                        components: Components::default(),
                        description: req.description,
                    },
                    &actor,
                    now,
                )
                .map_err(not_found_model(&name))?;
            for t in req.tags {
                let key = required(t.key, "tags.key")?;
                store.set_version_tag(
                    &name,
                    v.number(),
                    &key,
                    Some(&t.value.unwrap_or_default()),
                    &actor,
                    now,
                )?;
            }
            let v = store.version(&name, v.number())?;
            Ok(version_dto(&v, &[]))
        })
        .await?;
    Ok(Json(json!({ "model_version": dto })))
}

async fn get_version(
    State(state): State<AppState>,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let name = query.required(&["name"])?.to_string();
    let version = version_number(query.required(&["version"])?)?;
    let dto = state
        .registry_read(move |store| {
            let m = store.model(&name).map_err(not_found_model(&name))?;
            let v = store.version(&name, version).map_err(|e| match e {
                RegistryError::Meta(MetaError::NotFound { .. }) => ApiError::NotFound(format!(
                    "Model Version (name={name}, version={version}) not found"
                )),
                other => other.into(),
            })?;
            Ok(version_dto(&v, &m.aliases))
        })
        .await?;
    Ok(Json(json!({ "model_version": dto })))
}

async fn search_versions(state: AppState, req: SearchRequest) -> Result<Json<Value>, ApiError> {
    let out = state
        .registry_read(move |store| {
            let filter = Filter::parse(req.filter.as_deref().unwrap_or(""))?
                .check(&search::MODEL_VERSIONS)?;
            let mut found: Vec<(VersionRecord, Vec<(String, u64)>)> = Vec::new();
            for m in store.models()? {
                for v in store.versions(&m.name)? {
                    if filter.matches(&VersionRow(&v)) {
                        found.push((v, m.aliases.clone()));
                    }
                }
            }
            let order = if req.order_by.is_empty() {
                vec!["name ASC".to_string(), "version DESC".to_string()]
            } else {
                req.order_by.clone()
            };
            sort_by(&mut found, &order, |(v, _), field| match field {
                "version" | "version_number" => (v.number() as f64, String::new()),
                "creation_timestamp" => (v.created_ms as f64, String::new()),
                "last_updated_timestamp" => (v.updated_ms as f64, String::new()),
                _ => (0.0, v.model.clone()),
            })?;
            let dtos: Vec<ModelVersionDto> = found
                .iter()
                .map(|(v, aliases)| version_dto(v, aliases))
                .collect();
            page(dtos, &req, 10_000, 200_000, "model_versions")
        })
        .await?;
    Ok(Json(out))
}

async fn search_versions_get(
    State(state): State<AppState>,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    search_versions(state, search_from_query(&query)?).await
}

async fn search_versions_post(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<SearchRequest>,
) -> Result<Json<Value>, ApiError> {
    search_versions(state, req).await
}

#[derive(Deserialize)]
struct VersionRequest {
    name: Option<String>,
    version: Option<String>,
    description: Option<String>,
    stage: Option<String>,
    #[allow(dead_code)]
    archive_existing_versions: Option<bool>,
}

async fn update_version(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    JsonBody(req): JsonBody<VersionRequest>,
) -> Result<Json<Value>, ApiError> {
    let name = required(req.name, "name")?;
    let version = version_number(&required(req.version, "version")?)?;
    let dto = state
        .registry_write(move |_, store| {
            let v = store.update_version(
                &name,
                version,
                &VersionUpdate {
                    description: req.description,
                    ..VersionUpdate::default()
                },
                &actor,
                slipway_store::now_ms(),
            )?;
            Ok(version_dto(&v, &store.model(&name)?.aliases))
        })
        .await?;
    Ok(Json(json!({ "model_version": dto })))
}

async fn delete_version(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    JsonBody(req): JsonBody<VersionRequest>,
) -> Result<Json<Value>, ApiError> {
    let name = required(req.name, "name")?;
    let version = version_number(&required(req.version, "version")?)?;
    state
        .registry_write(move |_, store| {
            Ok(store.delete_version(&name, version, &actor, slipway_store::now_ms())?)
        })
        .await?;
    Ok(Json(json!({})))
}

async fn transition(
    state: AppState,
    name: String,
    request: Request,
) -> Result<Option<u64>, ApiError> {
    state
        .registry_write(move |_, store| {
            let outcome = store
                .transition(&name, SLOT, &request)
                .map_err(not_found_model(&name))?;
            Ok(outcome.live)
        })
        .await
}

async fn transition_stage(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    JsonBody(req): JsonBody<VersionRequest>,
) -> Result<Json<Value>, ApiError> {
    let name = required(req.name, "name")?;
    let version = version_number(&required(req.version, "version")?)?;
    let stage_text = required(req.stage, "stage")?;
    let stage = stage_text
        .parse::<Stage>()
        .or_else(|_| {
            let mut c = stage_text.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase()).unwrap_or_default().parse::<Stage>()
        })
        .map_err(|_| ApiError::InvalidParameter(format!("Invalid Model Version stage: {stage_text}. Value must be one of None, Staging, Production, Archived")))?;
    // Production goes through promotion (the policy, archiving the previous Production); the
    // other stages are plain moves in the default slot.
    let action = match stage {
        Stage::Production => Action::Promote {
            version,
            aliases: Vec::new(),
        },
        to => Action::Stage { version, to },
    };
    transition(
        state.clone(),
        name.clone(),
        Request {
            actor,
            time_ms: slipway_store::now_ms(),
            action,
        },
    )
    .await?;
    let dto = state
        .registry_read(move |store| {
            let v = store.version(&name, version)?;
            Ok(version_dto(&v, &store.model(&name)?.aliases))
        })
        .await?;
    Ok(Json(json!({ "model_version": dto })))
}

async fn download_uri(
    State(state): State<AppState>,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let name = query.required(&["name"])?.to_string();
    let version = version_number(query.required(&["version"])?)?;
    let uri = state
        .registry_read(move |store| {
            let v = store.version(&name, version)?;
            let source = v.source.clone().unwrap_or_default();
            if source.starts_with("runs:/") || source.starts_with("mlflow-artifacts:/") {
                return Ok(source);
            }
            let (prefix, _) = artifact_prefix(store, &source, None, v.run_id.as_deref())?;
            Ok(format!("mlflow-artifacts:/{prefix}"))
        })
        .await?;
    Ok(Json(json!({ "artifact_uri": uri })))
}

async fn set_version_tag(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    JsonBody(req): JsonBody<ModelTagRequest>,
) -> Result<Json<Value>, ApiError> {
    let name = required(req.name, "name")?;
    let version = version_number(&required(req.version, "version")?)?;
    let key = required(req.key, "key")?;
    let value = required(req.value, "value")?;
    state
        .registry_write(move |_, store| {
            Ok(store.set_version_tag(
                &name,
                version,
                &key,
                Some(&value),
                &actor,
                slipway_store::now_ms(),
            )?)
        })
        .await?;
    Ok(Json(json!({})))
}

async fn delete_version_tag(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    JsonBody(req): JsonBody<ModelTagRequest>,
) -> Result<Json<Value>, ApiError> {
    let name = required(req.name, "name")?;
    let version = version_number(&required(req.version, "version")?)?;
    let key = required(req.key, "key")?;
    state
        .registry_write(move |_, store| {
            Ok(store.set_version_tag(
                &name,
                version,
                &key,
                None,
                &actor,
                slipway_store::now_ms(),
            )?)
        })
        .await?;
    Ok(Json(json!({})))
}
