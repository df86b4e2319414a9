//! Authentication and per-route permissions.
//!
//! Every route declares the role it needs in [`PERMISSIONS`]; [`check_declared`] scans the
//! route declarations compiled into this server and refuses to start if any route has no
//! entry (a test does the same). A request's actor comes from a Bearer token (MLflow clients
//! send `MLFLOW_TRACKING_TOKEN` that way) or HTTP Basic with the token as password; with no
//! users configured the server is in single-user mode and every request acts as the local
//! admin (only reachable on loopback unless `--insecure`).

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use slipway_core::registry::{Actor, Role};
use slipway_store::registry::RegistryStore;

/// Path prefixes under which route groups are mounted; permissions are declared relative.
const PREFIXES: &[&str] = &[
    "/ajax-api/2.0/mlflow-artifacts",
    "/api/2.0/mlflow-artifacts",
    "/ajax-api/2.0/mlflow",
    "/api/2.0/mlflow",
    "/api/v1",
];

/// `(route as declared, methods ("GET,POST" or "*"), role needed)`. Reads need viewer;
/// tracking writes contributor; the registry's own policy then decides who may promote,
/// approve or move protected aliases (deployer, validator, ...).
pub const PERMISSIONS: &[(&str, &str, Role)] = &[
    // Health and metadata.
    ("/healthz", "*", Role::Viewer),
    ("/health", "*", Role::Viewer),
    ("/metrics", "*", Role::Viewer),
    ("/api/3.0/mlflow/server-info", "*", Role::Viewer),
    // Experiments.
    ("/experiments/create", "*", Role::Contributor),
    ("/experiments/get", "*", Role::Viewer),
    ("/experiments/get-by-name", "*", Role::Viewer),
    ("/experiments/search", "*", Role::Viewer),
    ("/experiments/update", "*", Role::Contributor),
    ("/experiments/delete", "*", Role::Contributor),
    ("/experiments/restore", "*", Role::Contributor),
    ("/experiments/set-experiment-tag", "*", Role::Contributor),
    // Runs and metrics.
    ("/runs/create", "*", Role::Contributor),
    ("/runs/get", "*", Role::Viewer),
    ("/runs/update", "*", Role::Contributor),
    ("/runs/delete", "*", Role::Contributor),
    ("/runs/restore", "*", Role::Contributor),
    ("/runs/search", "*", Role::Viewer),
    ("/runs/log-metric", "*", Role::Contributor),
    ("/runs/log-parameter", "*", Role::Contributor),
    ("/runs/log-batch", "*", Role::Contributor),
    ("/runs/set-tag", "*", Role::Contributor),
    ("/runs/delete-tag", "*", Role::Contributor),
    ("/runs/log-inputs", "*", Role::Contributor),
    ("/runs/outputs", "*", Role::Contributor),
    ("/metrics/get-history", "*", Role::Viewer),
    // Logged models.
    ("/logged-models", "*", Role::Contributor),
    ("/logged-models/search", "*", Role::Viewer),
    ("/logged-models/{model_id}", "GET", Role::Viewer),
    ("/logged-models/{model_id}", "*", Role::Contributor),
    ("/logged-models/{model_id}/tags", "*", Role::Contributor),
    (
        "/logged-models/{model_id}/tags/{key}",
        "*",
        Role::Contributor,
    ),
    // Artifacts.
    ("/artifacts", "*", Role::Viewer),
    ("/artifacts/{*path}", "GET,HEAD", Role::Viewer),
    ("/artifacts/{*path}", "*", Role::Contributor),
    // Model registry (the registry's policy adds its own checks).
    ("/registered-models/create", "*", Role::Contributor),
    ("/registered-models/get", "*", Role::Viewer),
    ("/registered-models/search", "*", Role::Viewer),
    ("/registered-models/update", "*", Role::Contributor),
    ("/registered-models/rename", "*", Role::Deployer),
    ("/registered-models/delete", "*", Role::Deployer),
    ("/registered-models/set-tag", "*", Role::Contributor),
    ("/registered-models/delete-tag", "*", Role::Contributor),
    ("/registered-models/alias", "GET", Role::Viewer),
    ("/registered-models/alias", "*", Role::Contributor),
    ("/registered-models/get-latest-versions", "*", Role::Viewer),
    ("/model-versions/create", "*", Role::Contributor),
    ("/model-versions/get", "*", Role::Viewer),
    ("/model-versions/search", "*", Role::Viewer),
    ("/model-versions/update", "*", Role::Contributor),
    ("/model-versions/delete", "*", Role::Deployer),
    ("/model-versions/transition-stage", "*", Role::Contributor),
    ("/model-versions/get-download-uri", "*", Role::Viewer),
    ("/model-versions/set-tag", "*", Role::Contributor),
    ("/model-versions/delete-tag", "*", Role::Contributor),
    // Serving gateway: predictions are reads of a model; labels are writes.
    ("/v1/models", "*", Role::Viewer),
    ("/v1/models/{name}/slots/{action}", "*", Role::Viewer),
    ("/v1/models/{name}/aliases/{action}", "*", Role::Viewer),
    ("/v1/models/{name}/invocations", "*", Role::Viewer),
    ("/v1/labels", "*", Role::Contributor),
    // Native API (all reads).
    ("{native}", "*", Role::Viewer),
];

/// The sources whose `.route("…")` declarations make up the server.
const ROUTE_SOURCES: &[&str] = &[
    include_str!("lib.rs"),
    include_str!("mlflow/mod.rs"),
    include_str!("mlflow/experiments.rs"),
    include_str!("mlflow/runs.rs"),
    include_str!("mlflow/metrics.rs"),
    include_str!("mlflow/logged_models.rs"),
    include_str!("mlflow/artifacts.rs"),
    include_str!("mlflow/registry.rs"),
    include_str!("gateway/predict.rs"),
];

/// Every route path declared in the server's sources (the native API's table is separate).
pub fn declared_routes() -> Vec<String> {
    let mut routes = Vec::new();
    for source in ROUTE_SOURCES {
        let mut rest = *source;
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let trimmed = rest.trim_start();
            if let Some(body) = trimmed.strip_prefix('"')
                && let Some(end) = body.find('"')
            {
                routes.push(body[..end].to_string());
            }
        }
    }
    routes
}

/// Refuses a server whose routes do not all declare a permission.
pub fn check_declared() -> Result<(), String> {
    let missing: Vec<String> = declared_routes()
        .into_iter()
        .filter(|r| !PERMISSIONS.iter().any(|(p, _, _)| p == r))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "routes without a declared permission: {}",
            missing.join(", ")
        ))
    }
}

/// The role a request needs, from its matched route template and method.
pub fn required_role(method: &str, matched: &str) -> Option<Role> {
    if matched.starts_with("/api/v1") {
        return Some(Role::Viewer);
    }
    let mut path = matched;
    for prefix in PREFIXES {
        if let Some(rest) = matched.strip_prefix(prefix)
            && rest.starts_with('/')
        {
            path = rest;
            break;
        }
    }
    PERMISSIONS
        .iter()
        .find(|(p, methods, _)| {
            *p == path && (*methods == "*" || methods.split(',').any(|m| m == method))
        })
        .map(|(_, _, role)| *role)
}

/// The acting user of a request, put into its extensions by [`authenticate`].
#[derive(Clone, Debug)]
pub struct Caller(pub Actor);

fn credential(request: &Request) -> Option<String> {
    let header = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    if let Some(token) = header.strip_prefix("Bearer ") {
        return Some(token.trim().to_string());
    }
    let basic = header.strip_prefix("Basic ")?;
    let decoded = decode_base64(basic.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    Some(
        text.split_once(':')
            .map(|(_, p)| p.to_string())
            .unwrap_or(text),
    )
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        })
    };
    let bytes: Vec<u8> = text.bytes().filter(|b| *b != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            acc |= value(*b)? << (18 - 6 * i);
        }
        out.push((acc >> 16) as u8);
        if chunk.len() > 2 {
            out.push((acc >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(acc as u8);
        }
    }
    Some(out)
}

/// Middleware: resolves the caller and enforces the route's declared role.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let method = request.method().as_str().to_string();
    let token = credential(&request);
    let resolved = match token {
        Some(token) => match state.tokens().get(&token) {
            Some(actor) => Ok(actor),
            None => {
                let cache = state.clone();
                state
                    .registry_read(move |store| match store.authenticate(&token)? {
                        Some(actor) => {
                            cache.tokens().put(&token, &actor);
                            Ok(actor)
                        }
                        None => Err(ApiError::Unauthenticated(
                            "the token is not valid (unknown, revoked, or its user is disabled); create one with `slipway tokens create`".into(),
                        )),
                    })
                    .await
            }
        },
        None => match state.single_user().await {
            Ok(true) => Ok(Actor::new("local", Role::Admin)),
            Ok(false) => Err(ApiError::Unauthenticated(
                "this server needs an API token: set MLFLOW_TRACKING_TOKEN (or send `Authorization: Bearer slw_…`); create one with `slipway tokens create`".into(),
            )),
            Err(e) => Err(e),
        },
    };
    let actor = match resolved {
        Ok(actor) => actor,
        Err(e) => return e.into_response(),
    };
    if let Some(matched) = &matched {
        match required_role(&method, matched) {
            Some(role) if actor.role.allows(role) => {}
            Some(role) => {
                return ApiError::PermissionDenied(format!(
                    "{method} {matched} needs the {role} role; {} has the {} role",
                    actor.name, actor.role
                ))
                .into_response();
            }
            None => {
                return ApiError::PermissionDenied(format!(
                    "{method} {matched} declares no permission; refusing"
                ))
                .into_response();
            }
        }
    }
    request.extensions_mut().insert(Caller(actor));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_route_has_a_permission() {
        let routes = declared_routes();
        assert!(routes.len() > 40, "found {routes:?}");
        check_declared().unwrap();
    }

    #[test]
    fn roles_by_method_and_prefix() {
        assert_eq!(
            required_role("POST", "/api/2.0/mlflow/runs/log-metric"),
            Some(Role::Contributor)
        );
        assert_eq!(
            required_role("POST", "/ajax-api/2.0/mlflow/runs/search"),
            Some(Role::Viewer)
        );
        assert_eq!(
            required_role("GET", "/api/2.0/mlflow-artifacts/artifacts/{*path}"),
            Some(Role::Viewer)
        );
        assert_eq!(
            required_role("PUT", "/api/2.0/mlflow-artifacts/artifacts/{*path}"),
            Some(Role::Contributor)
        );
        assert_eq!(
            required_role("DELETE", "/api/2.0/mlflow/registered-models/delete"),
            Some(Role::Deployer)
        );
        assert_eq!(required_role("GET", "/api/2.0/mlflow/nope"), None);
    }

    #[test]
    fn basic_auth_password_is_the_token() {
        assert_eq!(decode_base64("dTpzbHdfeA==").unwrap(), b"u:slw_x");
    }
}

/// Recently verified tokens, so a busy client (the gateway's callers) costs no database query
/// per request. Keyed by the token's digest (secrets are not kept); an entry lives one second,
/// so a revoked token or a disabled user stops working within a second.
#[derive(Default)]
pub struct TokenCache {
    entries: std::sync::Mutex<
        std::collections::HashMap<slipway_core::Digest, (Actor, std::time::Instant)>,
    >,
}

impl TokenCache {
    const TTL: std::time::Duration = std::time::Duration::from_secs(1);
    const MAX: usize = 10_000;

    /// The actor of a token verified less than a second ago.
    pub fn get(&self, token: &str) -> Option<Actor> {
        let key = slipway_core::Digest::of(token.as_bytes());
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&key)
            .filter(|(_, at)| at.elapsed() < Self::TTL)
            .map(|(actor, _)| actor.clone())
    }

    /// Remembers a token the store just verified.
    pub fn put(&self, token: &str, actor: &Actor) {
        let key = slipway_core::Digest::of(token.as_bytes());
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= Self::MAX {
            entries.retain(|_, (_, at)| at.elapsed() < Self::TTL);
        }
        entries.insert(key, (actor.clone(), std::time::Instant::now()));
    }
}

#[cfg(test)]
mod token_cache_tests {
    use super::*;

    #[test]
    fn a_verified_token_is_remembered_for_a_second_only() {
        let cache = TokenCache::default();
        let actor = Actor::new("ana", Role::Deployer);
        assert!(cache.get("slw_a_b").is_none());
        cache.put("slw_a_b", &actor);
        assert_eq!(cache.get("slw_a_b").map(|a| a.name), Some("ana".into()));
        assert!(cache.get("slw_a_c").is_none(), "another token is not");
        std::thread::sleep(TokenCache::TTL + std::time::Duration::from_millis(50));
        assert!(
            cache.get("slw_a_b").is_none(),
            "revocation takes effect within a second"
        );
    }
}
