//! `metrics/get-history`: every point of one metric of one run, paged.

use super::entities::Metric;
use super::wire::QueryPairs;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use slipway_core::search::PageToken;

/// The routes, relative to the API prefix.
pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics/get-history", get(history))
}

#[derive(Serialize)]
struct HistoryResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    metrics: Vec<Metric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

async fn history(
    State(state): State<AppState>,
    query: QueryPairs,
) -> Result<Json<impl Serialize>, ApiError> {
    let run_id = super::runs::run_id_of(&query)?;
    let key = query.required(&["metric_key"])?.to_string();
    // The client asks for 25,000 at a time; more than a million in one answer is refused.
    let limit = super::page_size(query.int("max_results")?, 25_000, 1_000_000)?;
    let offset = PageToken::decode(query.get("page_token").unwrap_or(""))?.offset as usize;
    state
        .read(move |_, store| {
            let points = store.metric_history(&run_id, &key)?;
            let more = points.len() > offset + limit;
            Ok(Json(HistoryResponse {
                metrics: points
                    .iter()
                    .skip(offset)
                    .take(limit)
                    .map(Metric::from)
                    .collect(),
                next_page_token: more.then(|| {
                    PageToken {
                        offset: (offset + limit) as u64,
                    }
                    .encode()
                }),
            }))
        })
        .await
}
