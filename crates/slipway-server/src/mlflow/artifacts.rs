//! The artifact proxy (`/api/2.0/mlflow-artifacts/artifacts`): streamed upload (PUT), streamed
//! download (GET), listing (GET with `?path=`), delete. Bytes go to the content-addressed object
//! store; the artifact index maps each path to its digest.

use super::wire::QueryPairs;
use crate::artifact_tree;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use serde_json::{Value, json};
use slipway_store::meta::{ArtifactFile, WriteOp};

/// Bytes handed to the store per channel message during an upload.
const BLOCK: usize = 1 << 20;

/// The routes, relative to `/api/2.0/mlflow-artifacts`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/artifacts", get(list))
        .route(
            "/artifacts/{*path}",
            get(download).put(upload).delete(remove),
        )
        // Uploads are streamed and limited by `Limits::artifact_body`, not by axum's default.
        .layer(DefaultBodyLimit::disable())
}

async fn list(State(state): State<AppState>, query: QueryPairs) -> Result<Json<Value>, ApiError> {
    let path = artifact_tree::checked_path(query.get("path").unwrap_or(""))?;
    let children = state
        .read(move |ws, store| {
            let files = artifact_tree::files_under(ws, store, &path)?;
            Ok(artifact_tree::children(&files, &path))
        })
        .await?;
    if children.is_empty() {
        // MLflow answers `{}` for an empty directory, a missing path, and a file path alike.
        return Ok(Json(json!({})));
    }
    let files: Vec<Value> = children
        .into_iter()
        .map(|c| match c.size {
            Some(size) if !c.is_dir => json!({"path": c.name, "is_dir": false, "file_size": size}),
            _ => json!({"path": c.name, "is_dir": true}),
        })
        .collect();
    Ok(Json(json!({ "files": files })))
}

async fn download(
    State(state): State<AppState>,
    ArtifactPath(path): ArtifactPath,
) -> Result<Response, ApiError> {
    let path = artifact_tree::checked_path(&path)?;
    let lookup = path.clone();
    let file = state
        .read(move |ws, store| artifact_tree::file_at(ws, store, &lookup))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("artifact `{path}` does not exist")))?;
    let body = artifact_tree::object_body(state.workspace().clone(), file.digest).await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(artifact_tree::content_type(&path)),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(file.size));
    Ok((headers, body).into_response())
}

async fn upload(
    State(state): State<AppState>,
    ArtifactPath(path): ArtifactPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let path = artifact_tree::checked_path(&path)?;
    if path.is_empty() {
        return Err(ApiError::InvalidParameter(
            "an artifact upload needs a file path".into(),
        ));
    }
    let limit = state.limits().artifact_body;
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "artifact is larger than the {limit}-byte upload limit; nothing was stored"
        ))
    };
    if let Some(length) = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && length > limit
    {
        return Err(too_large());
    }
    // The network side pushes chunks into a bounded channel; a blocking task hashes them and
    // writes them to a temp file as they come (network and disk work overlap on two threads),
    // then fsyncs and links the object into place. Memory stays at a few chunks.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(4);
    let ws = state.workspace().clone();
    let put = tokio::task::spawn_blocking(move || {
        let mut pending = ws.objects().begin_put()?;
        while let Some(item) = receiver.blocking_recv() {
            match item {
                Ok(bytes) => pending.write(&bytes)?,
                // Dropping `pending` removes its temp file: nothing becomes visible.
                Err(reason) => return Err(ApiError::MalformedRequest(reason)),
            }
        }
        Ok::<_, ApiError>(pending.finish()?)
    });
    let mut stream = body.into_data_stream();
    let mut received = 0u64;
    let mut failure = None;
    // The network delivers small chunks (tens of KiB); handing each over would cost a channel
    // hop and a thread wake-up. Coalescing into 1 MiB blocks costs one copy and is cheaper.
    let mut block: Vec<u8> = Vec::with_capacity(BLOCK);
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                received += bytes.len() as u64;
                if received > limit {
                    failure = Some(too_large());
                    break;
                }
                block.extend_from_slice(&bytes);
                if block.len() >= BLOCK {
                    let full = std::mem::replace(&mut block, Vec::with_capacity(BLOCK));
                    if sender.send(Ok(full.into())).await.is_err() {
                        break; // the put failed; its error is reported below
                    }
                }
            }
            Err(e) => {
                failure = Some(ApiError::MalformedRequest(format!(
                    "upload of `{path}` was cut off: {e}"
                )));
                break;
            }
        }
    }
    if let Some(error) = failure {
        // Make the put fail, so its temp file is removed and nothing becomes visible.
        let _ = sender.send(Err(error.to_string())).await;
        drop(sender);
        let _ = put.await;
        return Err(error);
    }
    if !block.is_empty() {
        let _ = sender.send(Ok(block.into())).await;
    }
    drop(sender);
    let stored = put
        .await
        .map_err(|e| ApiError::Internal(format!("upload task failed: {e}")))??;
    state
        .write(WriteOp::PutArtifactFile {
            file: ArtifactFile {
                path,
                digest: stored.digest,
                size: stored.size,
                at_ms: slipway_store::now_ms(),
            },
        })
        .await?;
    Ok(axum::http::StatusCode::OK.into_response())
}

async fn remove(
    State(state): State<AppState>,
    ArtifactPath(path): ArtifactPath,
) -> Result<Json<Value>, ApiError> {
    let path = artifact_tree::checked_path(&path)?;
    state
        .write(WriteOp::DeleteArtifactFiles {
            path,
            at_ms: slipway_store::now_ms(),
        })
        .await?;
    Ok(Json(json!({})))
}

/// The `{*path}` part of an artifact URL, percent-decoded by axum; a path that does not decode
/// (e.g. invalid UTF-8) is an MLflow-shaped 400 rather than a plain-text rejection.
struct ArtifactPath(String);

impl<S: Send + Sync> FromRequestParts<S> for ArtifactPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(path)| ArtifactPath(path))
            .map_err(|e| ApiError::InvalidParameter(format!("invalid artifact path: {e}")))
    }
}
