//! The HTTP client: the same reads against a server's `/api/v1`, with a small blocking client
//! (ureq, no TLS: the tracker is reached on a trusted network until auth lands).

use super::{ClientError, TrackerClient};
use crate::api::dto::{Comparison, ExperimentView, Lineage, RunPage, RunView};
use crate::query::RunSearch;
use serde::de::DeserializeOwned;

/// Talks to a tracker server.
pub struct Http {
    base: String,
    agent: ureq::Agent,
}

impl Http {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:5000`).
    pub fn new(base: &str) -> Http {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(120)))
            .build()
            .into();
        Http {
            base: base.trim_end_matches('/').to_string(),
            agent,
        }
    }

    fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let transport = |reason: String| ClientError::Transport {
            url: self.base.clone(),
            reason,
        };
        let mut request = self.agent.get(&url);
        for (k, v) in query {
            request = request.query(*k, v);
        }
        let mut response = request.call().map_err(|e| transport(e.to_string()))?;
        let status = response.status();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| transport(e.to_string()))?;
        if !status.is_success() {
            let error: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            return Err(ClientError::Api {
                code: error["error_code"]
                    .as_str()
                    .unwrap_or("UNKNOWN")
                    .to_string(),
                message: error["message"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("HTTP {status}: {text}")),
            });
        }
        serde_json::from_str(&text)
            .map_err(|e| transport(format!("unreadable answer to {path}: {e}")))
    }
}

fn segment(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

impl TrackerClient for Http {
    fn experiments(&self) -> Result<Vec<ExperimentView>, ClientError> {
        self.get("/api/v1/experiments", &[])
    }

    fn search_runs(&self, search: &RunSearch) -> Result<RunPage, ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        for e in &search.experiments {
            query.push(("experiment", e.clone()));
        }
        if !search.filter.is_empty() {
            query.push(("filter", search.filter.clone()));
        }
        for o in &search.order_by {
            query.push(("order_by", o.clone()));
        }
        if let Some(n) = search.max_results {
            query.push(("max_results", n.to_string()));
        }
        if let Some(t) = &search.page_token {
            query.push(("page_token", t.clone()));
        }
        if let Some(v) = &search.view {
            query.push(("view", v.clone()));
        }
        self.get("/api/v1/runs", &query)
    }

    fn run(&self, run_id: &str) -> Result<RunView, ClientError> {
        self.get(&format!("/api/v1/runs/{}", segment(run_id)), &[])
    }

    fn compare(&self, run_ids: &[String]) -> Result<Comparison, ClientError> {
        let query: Vec<(&str, String)> = run_ids.iter().map(|id| ("run", id.clone())).collect();
        self.get("/api/v1/runs/compare", &query)
    }

    fn lineage(&self, run_id: &str) -> Result<Lineage, ClientError> {
        self.get(&format!("/api/v1/runs/{}/lineage", segment(run_id)), &[])
    }
}
