//! Errors that stop the executor before or between stages. A failing stage is not an error: it
//! is a [`StageOutcome::Failed`](crate::StageOutcome::Failed) in the summary.

use slipway_core::pipeline::{LockError, SpecError};
use std::path::PathBuf;

/// Why the pipeline could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// There is no pipeline file.
    #[error("no {} in {}; create one (see the README's pipeline section)", crate::project::PIPELINE_FILE, .root.display())]
    NoPipelineFile {
        /// The project root.
        root: PathBuf,
    },
    /// The pipeline (or params) file has problems; every one is listed.
    #[error("{} problem(s) in the pipeline:\n{}", .0.len(), .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Spec(Vec<SpecError>),
    /// The lock file cannot be read.
    #[error("{0}; fix or delete slipway.lock (it is rebuilt by the next `slipway run`)")]
    Lock(#[from] LockError),
    /// A target named on the command line is not a stage.
    #[error("no stage named `{name}`; stages are: {known}")]
    UnknownTarget {
        /// What was asked for.
        name: String,
        /// The stage names, comma-separated.
        known: String,
    },
    /// A file could not be read or written.
    #[error("cannot {op} {}: {source}", .path.display())]
    Io {
        /// The operation.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A stage's dep or output had no recorded state (a bug in the executor if it happens).
    #[error(transparent)]
    State(#[from] slipway_core::pipeline::MissingState),
    /// The object store failed.
    #[error(transparent)]
    Store(#[from] slipway_store::StoreError),
    /// The metadata store failed.
    #[error(transparent)]
    Meta(#[from] slipway_store::MetaError),
}

impl PipelineError {
    /// Wraps an I/O error with the operation and path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> PipelineError {
        PipelineError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
