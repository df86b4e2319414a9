//! The MLflow tracking REST API, as the `mlflow` 3.x Python client uses it, under
//! `/api/2.0/mlflow` (and `/ajax-api/2.0/mlflow` for the web UI), plus the artifact proxy under
//! `/api/2.0/mlflow-artifacts`. One module per resource: each parses the request, calls the
//! store (reads on a reader connection, writes through the group-committing writer) and
//! converts the records to MLflow's entities. MLflow's wire types live only here.

pub mod artifacts;
pub mod entities;
pub mod experiments;
pub mod logged_models;
pub mod metrics;
pub mod names;
pub mod registry;
pub mod runs;
pub mod wire;

use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::routing::get;
use slipway_store::meta::ViewType;

/// MLflow's limit on a param value, in characters.
pub const MAX_PARAM_VALUE: usize = 6000;
/// MLflow's limit on a tag value, in characters.
pub const MAX_TAG_VALUE: usize = 8000;

/// The tracking routes (experiments, runs, metrics, logged models), relative to the prefix.
pub fn tracking_routes() -> Router<AppState> {
    experiments::routes()
        .merge(runs::routes())
        .merge(metrics::routes())
        .merge(logged_models::routes())
        .merge(registry::routes())
}

/// Everything MLflow-shaped, mounted at its prefixes.
pub fn routes() -> Router<AppState> {
    let tracking = tracking_routes();
    Router::new()
        .nest("/api/2.0/mlflow", tracking.clone())
        .nest("/ajax-api/2.0/mlflow", tracking)
        .nest("/api/2.0/mlflow-artifacts", artifacts::routes())
        .nest("/ajax-api/2.0/mlflow-artifacts", artifacts::routes())
        .route("/api/3.0/mlflow/server-info", get(server_info))
        .route("/health", get(|| async { "OK" }))
}

/// What the artifact client asks once per process: no multipart uploads (single streamed PUTs
/// are fast here), no workspaces.
async fn server_info() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
        "presigned_upload_run_id_supported": false,
        "presigned_upload_model_id_supported": false,
        "features_enabled": {}
    }))
}

/// A page size: the default when absent, refused when not positive or above `max`.
pub fn page_size(requested: Option<i64>, default: usize, max: usize) -> Result<usize, ApiError> {
    match requested {
        None => Ok(default),
        Some(n) if n >= 1 && n as u64 <= max as u64 => Ok(n as usize),
        Some(n) => Err(ApiError::InvalidParameter(format!(
            "Invalid value {n} for parameter 'max_results' supplied; it must be between 1 and {max}"
        ))),
    }
}

/// Reads MLflow's `ViewType` (`ACTIVE_ONLY` by default).
pub fn view_type(text: Option<&str>) -> Result<ViewType, ApiError> {
    match text.unwrap_or("") {
        "" | "ACTIVE_ONLY" | "1" => Ok(ViewType::ActiveOnly),
        "DELETED_ONLY" | "2" => Ok(ViewType::DeletedOnly),
        "ALL" | "3" => Ok(ViewType::All),
        other => Err(ApiError::InvalidParameter(format!(
            "unknown view type `{other}`; expected ACTIVE_ONLY, DELETED_ONLY or ALL"
        ))),
    }
}

/// Whether a lifecycle stage is in a view.
pub fn view_includes(view: ViewType, lifecycle: &str) -> bool {
    match view {
        ViewType::ActiveOnly => lifecycle == "active",
        ViewType::DeletedOnly => lifecycle == "deleted",
        ViewType::All => true,
    }
}
