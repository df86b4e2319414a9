//! The one interface the CLI reads runs through, with two implementations: [`Embedded`] opens
//! the project's `.slipway/` directly; [`Http`] asks a running server's native API. Both return
//! the same [`crate::api::dto`] values, so every command behaves the same either way.

mod embedded;
mod http;

pub use embedded::Embedded;
pub use http::Http;

use crate::api::dto::{Comparison, ExperimentView, Lineage, RunPage, RunView};
use crate::query::RunSearch;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The tracker answered with an error (a run that does not exist, a bad filter, ...).
    #[error("{message} ({code})")]
    Api {
        /// MLflow-style error code.
        code: String,
        /// What the tracker said.
        message: String,
    },
    /// The server could not be reached or answered something unreadable.
    #[error("cannot talk to the tracker at {url}: {reason}")]
    Transport {
        /// The server.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

impl From<crate::error::ApiError> for ClientError {
    fn from(e: crate::error::ApiError) -> ClientError {
        ClientError::Api {
            code: e.status_and_code().1.to_string(),
            message: e.to_string(),
        }
    }
}

/// Reading the tracker.
pub trait TrackerClient {
    /// Every experiment.
    fn experiments(&self) -> Result<Vec<ExperimentView>, ClientError>;
    /// A page of runs.
    fn search_runs(&self, search: &RunSearch) -> Result<RunPage, ClientError>;
    /// One run with its inputs, outputs and artifacts.
    fn run(&self, run_id: &str) -> Result<RunView, ClientError>;
    /// Runs side by side.
    fn compare(&self, run_ids: &[String]) -> Result<Comparison, ClientError>;
    /// A run's lineage.
    fn lineage(&self, run_id: &str) -> Result<Lineage, ClientError>;
}
