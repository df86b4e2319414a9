//! Slipway's tracker server and its clients.
//!
//! - [`mlflow`]: the MLflow-compatible tracking API and artifact proxy.
//! - [`api`]: the native API under `/api/v1`, with its OpenAPI document.
//! - [`gateway`]: the serving gateway (`/v1/models/…`): live models, canary/shadow, prediction log.
//! - [`client`]: the interface the CLI uses to read runs, embedded or over HTTP.
//! - [`writer`]: the single writer with group commit; [`state`]: what handlers share;
//!   [`observe`]: access log and Prometheus metrics; [`error`]: the one error mapping.
//!
//! Axum and HTTP types stay in this crate: the store and the core know nothing of them.
#![deny(missing_docs)]

pub mod api;
pub mod artifact_tree;
pub mod auth;
pub mod client;
pub mod error;
pub mod gateway;
pub mod mlflow;
pub mod observe;
pub mod query;
pub mod state;
pub mod writer;

pub use error::{ApiError, ServerError};
pub use state::{AppState, Limits};

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use slipway_store::Workspace;
use std::future::Future;
use std::net::SocketAddr;

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Allow a non-loopback address without authentication.
    pub insecure: bool,
    /// Request size limits.
    pub limits: Limits,
}

/// Refuses to expose the tracker beyond this machine without authentication (users with
/// tokens configured), unless told to.
pub fn check_bind(
    addr: SocketAddr,
    insecure: bool,
    users_configured: bool,
) -> Result<(), ServerError> {
    if addr.ip().is_loopback() || insecure || users_configured {
        Ok(())
    } else {
        Err(ServerError::InsecureBind(addr))
    }
}

fn users_configured(workspace: &Workspace) -> bool {
    use slipway_store::registry::RegistryStore;
    workspace.meta().users().is_ok_and(|u| !u.is_empty())
}

/// The whole application: MLflow API, native API, health and metrics.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(mlflow::routes())
        .merge(api::routes())
        .merge(gateway::predict::routes())
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(prometheus))
        .fallback(|uri: axum::http::Uri| async move {
            ApiError::EndpointNotFound(format!("no endpoint at {}", uri.path()))
        })
        .method_not_allowed_fallback(
            |method: axum::http::Method, uri: axum::http::Uri| async move {
                ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
            },
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .with_state(state)
}

async fn prometheus(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> impl IntoResponse {
    let mut text = state.metrics().render();
    if let Some(gateway) = state.gateway() {
        gateway.render_metrics(&mut text);
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
}

/// Serves `workspace` until `shutdown` completes, then finishes the requests in flight and the
/// writes queued, and returns. Accepted sockets get `TCP_NODELAY`, so small responses are never
/// held back by Nagle's algorithm on keep-alive connections.
pub async fn serve(
    workspace: Workspace,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), ServerError> {
    check_bind(config.addr, config.insecure, users_configured(&workspace))?;
    auth::check_declared().map_err(ServerError::Permissions)?;
    let (state, writer) = AppState::open(workspace, config.limits)?;
    // The tracker serves even when the gateway cannot (e.g. a second server on this project:
    // one gateway owns the prediction log); its endpoints then answer 503 saying why.
    let log_writer = match state.start_gateway() {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "The serving gateway is off; the tracker serves on.");
            None
        }
    };
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.addr,
            source,
        })?;
    let local = listener.local_addr().map_err(ServerError::Serve)?;
    tracing::info!(address = %local, "Tracker listening.");
    on_ready(local);
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "Cannot set TCP_NODELAY on an accepted socket.");
        }
    });
    let app = router(state);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    // The router (and so every writer handle) is gone: the writer drains its queue and stops.
    let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    // Likewise the gateway: its log writes what is queued, syncs and closes its segment.
    if let Some(log_writer) = log_writer
        && let Ok(Err(e)) = tokio::task::spawn_blocking(move || log_writer.join()).await
    {
        tracing::error!(error = %e, "The prediction log did not close cleanly.");
    }
    tracing::info!("Tracker stopped.");
    served.map_err(ServerError::Serve)
}

/// Runs [`serve`] on a new multi-threaded runtime until SIGINT or SIGTERM.
pub fn run_blocking(
    workspace: Workspace,
    config: ServerConfig,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), ServerError> {
    check_bind(config.addr, config.insecure, users_configured(&workspace))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("slipway-server")
        .build()
        .map_err(ServerError::Serve)?;
    runtime.block_on(serve(workspace, config, shutdown_signal(), on_ready))
}

/// Resolves when SIGINT (Ctrl-C) or SIGTERM arrives.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("Shutdown requested; finishing requests in flight.");
}
