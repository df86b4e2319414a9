//! Errors of the server, and the one table that maps each to an HTTP status and an MLflow
//! `error_code`. Every response error — MLflow API, native API, artifact proxy — goes through
//! [`ApiError::status_and_code`], whose `match` has no catch-all arm, so a new variant forces a
//! choice of status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use slipway_store::{MetaError, StoreError};

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The named thing (run, experiment, artifact, ...) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A thing with this identity already exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// A field is missing, has the wrong type or an unacceptable value.
    #[error("{0}")]
    InvalidParameter(String),
    /// The body is not valid JSON.
    #[error("{0}")]
    MalformedRequest(String),
    /// The body is larger than this endpoint accepts.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// No such endpoint (so that MLflow clients fall back where they can).
    #[error("{0}")]
    EndpointNotFound(String),
    /// The endpoint exists but not with this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// No valid credentials were presented (and the server is not in single-user mode).
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller may not do this (role too weak, protected alias, policy).
    #[error("{0}")]
    PermissionDenied(String),
    /// The server is shutting down and takes no more writes.
    #[error("{0}")]
    Unavailable(String),
    /// A fault of the server or its storage (logged; the client may retry).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The single mapping from error to (HTTP status, MLflow error code).
    ///
    /// MLflow answers `RESOURCE_ALREADY_EXISTS` with 400 (not 409), and its client retries
    /// 429 and 5xx for minutes, so client mistakes are never answered with those.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST"),
            ApiError::AlreadyExists(_) => (StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS"),
            ApiError::InvalidParameter(_) => (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE"),
            ApiError::MalformedRequest(_) => (StatusCode::BAD_REQUEST, "MALFORMED_REQUEST"),
            ApiError::PayloadTooLarge(_) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "INVALID_PARAMETER_VALUE")
            }
            ApiError::EndpointNotFound(_) => (StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "ENDPOINT_NOT_FOUND"),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            ApiError::PermissionDenied(_) => (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
            ApiError::Unavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "TEMPORARILY_UNAVAILABLE")
            }
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
        }
    }

    /// Shorthand for a missing required field, worded as MLflow words it.
    pub fn missing(field: &str) -> ApiError {
        ApiError::InvalidParameter(format!("Missing value for required parameter '{field}'"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(error_code = code, message = %self, "Request failed inside the server.");
        }
        let body = serde_json::json!({ "error_code": code, "message": self.to_string() });
        (status, axum::Json(body)).into_response()
    }
}

impl From<MetaError> for ApiError {
    fn from(e: MetaError) -> ApiError {
        match e {
            MetaError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            MetaError::AlreadyExists { .. } => ApiError::AlreadyExists(e.to_string()),
            MetaError::ParamConflict { .. } | MetaError::Invalid(_) => {
                ApiError::InvalidParameter(e.to_string())
            }
            MetaError::Corrupt { .. } | MetaError::TooNew { .. } | MetaError::Database { .. } => {
                ApiError::Internal(e.to_string())
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Meta(meta) => meta.into(),
            StoreError::Missing(_) => ApiError::NotFound(e.to_string()),
            StoreError::BadPath { .. } => ApiError::InvalidParameter(e.to_string()),
            StoreError::NotInitialized { .. }
            | StoreError::Io { .. }
            | StoreError::DiskFull { .. }
            | StoreError::Corrupt { .. }
            | StoreError::Symlink(_)
            | StoreError::NotAFileOrDir(_)
            | StoreError::BadManifest { .. }
            | StoreError::Config { .. } => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<slipway_store::registry::RegistryError> for ApiError {
    fn from(e: slipway_store::registry::RegistryError) -> ApiError {
        use slipway_store::registry::RegistryError;
        match e {
            RegistryError::Refused(refusal) => {
                let message = format!(
                    "refused: {}. Missing: {}",
                    refusal.action,
                    refusal
                        .missing
                        .iter()
                        .map(|(_, why)| why.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                if refusal.is_permission() {
                    ApiError::PermissionDenied(message)
                } else {
                    ApiError::InvalidParameter(message)
                }
            }
            RegistryError::Meta(meta) => meta.into(),
            RegistryError::Invalid(message) => ApiError::InvalidParameter(message),
            RegistryError::PermissionDenied(message) => ApiError::PermissionDenied(message),
        }
    }
}

impl From<slipway_core::search::SearchError> for ApiError {
    fn from(e: slipway_core::search::SearchError) -> ApiError {
        ApiError::InvalidParameter(e.to_string())
    }
}

impl From<slipway_core::RelPathError> for ApiError {
    fn from(e: slipway_core::RelPathError) -> ApiError {
        ApiError::InvalidParameter(format!("invalid artifact path: {e}"))
    }
}

/// Errors that stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding a non-loopback address without authentication.
    #[error(
        "refusing to listen on {0} without authentication: anyone who can reach it could read and write every run. Bind 127.0.0.1 (the default), add users and tokens (`slipway users add`, `slipway tokens create`), or pass --insecure if the network is trusted"
    )]
    InsecureBind(std::net::SocketAddr),
    /// A route declares no permission (a build defect: every route must).
    #[error("refusing to start: {0}")]
    Permissions(String),
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The serving gateway could not start (its prediction log or a live model).
    #[error("cannot start the serving gateway: {0}")]
    Gateway(String),
    /// Serving failed.
    #[error("server stopped: {0}")]
    Serve(#[source] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_matches_mlflows_table() {
        let cases = [
            (
                ApiError::NotFound("x".into()),
                404,
                "RESOURCE_DOES_NOT_EXIST",
            ),
            (
                ApiError::AlreadyExists("x".into()),
                400,
                "RESOURCE_ALREADY_EXISTS",
            ),
            (
                ApiError::InvalidParameter("x".into()),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                ApiError::EndpointNotFound("x".into()),
                404,
                "ENDPOINT_NOT_FOUND",
            ),
            (ApiError::Internal("x".into()), 500, "INTERNAL_ERROR"),
        ];
        for (error, status, code) in cases {
            let (s, c) = error.status_and_code();
            assert_eq!((s.as_u16(), c), (status, code));
        }
        // Client mistakes never get a status the MLflow client retries.
        for error in [
            ApiError::MalformedRequest("x".into()),
            ApiError::PayloadTooLarge("x".into()),
            ApiError::MethodNotAllowed("x".into()),
        ] {
            let status = error.status_and_code().0.as_u16();
            assert!(
                ![408, 429, 500, 502, 503, 504].contains(&status),
                "{status}"
            );
        }
    }

    #[test]
    fn param_conflict_is_invalid_parameter() {
        let e: ApiError = MetaError::ParamConflict {
            run_id: "r".into(),
            key: "k".into(),
            old: "1".into(),
            new: "2".into(),
        }
        .into();
        assert_eq!(e.status_and_code().1, "INVALID_PARAMETER_VALUE");
    }
}
