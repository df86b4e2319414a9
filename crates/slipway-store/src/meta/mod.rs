//! The metadata store: everything that is not artifact bytes — artifacts' descriptions, the stat
//! cache, experiments, runs, params, metrics, tags, run inputs/outputs and named references.
//!
//! [`MetadataStore`] is the one interface; [`SqliteStore`] is the embedded backend. The
//! [`conformance`] suite (feature `conformance`, always on in this crate's tests) is written
//! against the trait so every backend runs the same checks.

mod migrations;
mod records;
mod sqlite;
mod tracker;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use records::*;
pub use sqlite::SqliteStore;
pub use tracker::*;

use slipway_core::Digest;
use slipway_core::tracking::{MetricPoint, RunStatus};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// An error from a metadata store.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// The requested record does not exist.
    #[error("{what} `{id}` does not exist")]
    NotFound {
        /// Kind of record (`run`, `experiment`, ...).
        what: &'static str,
        /// Its identifier.
        id: String,
    },
    /// A record with this identity already exists.
    #[error("{what} `{id}` already exists")]
    AlreadyExists {
        /// Kind of record.
        what: &'static str,
        /// Its identifier.
        id: String,
    },
    /// A param was logged again with a different value; params are immutable.
    #[error(
        "param `{key}` of run {run_id} is already `{old}`; params are immutable once logged (tried `{new}`)"
    )]
    ParamConflict {
        /// The run.
        run_id: String,
        /// The param key.
        key: String,
        /// The recorded value.
        old: String,
        /// The rejected value.
        new: String,
    },
    /// A value is not acceptable (names the field and what is valid).
    #[error("{0}")]
    Invalid(String),
    /// The database file is damaged or not a database.
    #[error("metadata database {} is damaged ({detail}); restore it from a backup, or move it aside and run `slipway init` to start a new one (objects are kept)", .path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite reported.
        detail: String,
    },
    /// The database was written by a newer slipway.
    #[error("metadata database {} has schema version {found}, newer than this slipway understands ({known}); upgrade slipway", .path.display())]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// Any other database failure.
    #[error("metadata database {}: {source}", .path.display())]
    Database {
        /// The database file (or connection string, for a server backend).
        path: PathBuf,
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Shorthand for results of metadata operations.
pub type MetaResult<T> = Result<T, MetaError>;

/// The metadata store interface. All methods are synchronous and safe to call from many threads;
/// each call is one transaction (a batch method commits all of its items or none).
pub trait MetadataStore: Send + Sync {
    // --- artifacts and references ---

    /// Records an artifact's description (idempotent: an existing digest is left as it is).
    fn put_artifact(&self, record: &ArtifactRecord) -> MetaResult<()>;
    /// Looks up an artifact's description.
    fn artifact(&self, digest: &Digest) -> MetaResult<Option<ArtifactRecord>>;
    /// Every recorded artifact, newest first.
    fn artifacts(&self) -> MetaResult<Vec<ArtifactRecord>>;
    /// Forgets artifact descriptions whose objects were deleted by gc.
    fn forget_artifacts(&self, digests: &[Digest]) -> MetaResult<()>;
    /// Points a named reference at a digest (creating or moving it).
    fn set_ref(&self, name: &str, digest: &Digest, at_ms: i64) -> MetaResult<()>;
    /// Resolves a named reference.
    fn get_ref(&self, name: &str) -> MetaResult<Option<Digest>>;
    /// Every named reference, by name.
    fn refs(&self) -> MetaResult<Vec<(String, Digest)>>;
    /// Deletes a named reference; `NotFound` if it does not exist.
    fn delete_ref(&self, name: &str) -> MetaResult<()>;
    /// Every digest the metadata references (run inputs/outputs, refs, and what later parts add):
    /// the roots gc keeps.
    fn referenced_digests(&self) -> MetaResult<BTreeSet<Digest>>;

    // --- stat cache ---

    /// Stat-cache entries for `path` itself and everything under it (`path/…`).
    fn stat_entries_under(&self, path: &str) -> MetaResult<Vec<StatEntry>>;
    /// Inserts or replaces stat-cache entries, in one transaction.
    fn put_stat_entries(&self, entries: &[StatEntry]) -> MetaResult<()>;

    // --- experiments ---

    /// Creates an experiment; `AlreadyExists` if the name is taken.
    fn create_experiment(&self, name: &str, at_ms: i64) -> MetaResult<Experiment>;
    /// Looks up an experiment by id.
    fn experiment(&self, id: i64) -> MetaResult<Experiment>;
    /// Looks up an experiment by name.
    fn experiment_by_name(&self, name: &str) -> MetaResult<Option<Experiment>>;
    /// Every experiment, by id.
    fn experiments(&self) -> MetaResult<Vec<Experiment>>;

    // --- runs ---

    /// Creates a run (its id is assigned by the store).
    fn create_run(&self, run: &NewRun) -> MetaResult<Run>;
    /// Records a whole finished run (run, params, metrics, tags, inputs/outputs) in one
    /// transaction: all of it is visible, or none of it.
    fn record_run(&self, record: &RunRecord) -> MetaResult<Run>;
    /// Looks up a run.
    fn run(&self, run_id: &str) -> MetaResult<Run>;
    /// Ends a run with a terminal status.
    fn finish_run(&self, run_id: &str, status: RunStatus, end_ms: i64) -> MetaResult<()>;
    /// Runs of an experiment, newest first.
    fn runs(&self, experiment_id: i64) -> MetaResult<Vec<Run>>;
    /// Logs params; each key is immutable once logged (same value again is accepted).
    fn log_params(&self, run_id: &str, params: &[(String, String)]) -> MetaResult<()>;
    /// A run's params, by key.
    fn params(&self, run_id: &str) -> MetaResult<Vec<(String, String)>>;
    /// Appends metric points (never overwriting earlier points).
    fn log_metrics(&self, run_id: &str, points: &[MetricPoint]) -> MetaResult<()>;
    /// Every point of one metric, by step then timestamp.
    fn metric_history(&self, run_id: &str, key: &str) -> MetaResult<Vec<MetricPoint>>;
    /// The latest point of each metric (highest step, then latest timestamp).
    fn latest_metrics(&self, run_id: &str) -> MetaResult<Vec<MetricPoint>>;
    /// Sets a tag (its previous value is kept in the tag history).
    fn set_tag(&self, run_id: &str, key: &str, value: &str, at_ms: i64) -> MetaResult<()>;
    /// Deletes a tag (recorded in the tag history); `NotFound` if absent.
    fn delete_tag(&self, run_id: &str, key: &str, at_ms: i64) -> MetaResult<()>;
    /// A run's current tags, by key.
    fn tags(&self, run_id: &str) -> MetaResult<Vec<(String, String)>>;
    /// Every change to a run's tags, oldest first.
    fn tag_history(&self, run_id: &str) -> MetaResult<Vec<TagChange>>;
    /// Records artifacts a run consumed or produced.
    fn add_run_io(&self, run_id: &str, io: &[RunIo]) -> MetaResult<()>;
    /// A run's inputs and outputs.
    fn run_io(&self, run_id: &str) -> MetaResult<Vec<RunIo>>;
    /// Runs that consumed or produced a digest (lineage), with the role.
    fn runs_touching(&self, digest: &Digest) -> MetaResult<Vec<(String, RunIo)>>;
    /// Every digest recorded as a run input at this project path (its contents over time):
    /// forward lineage of a changed file starts from what the path held before.
    fn input_digests_at(&self, path: &str) -> MetaResult<Vec<Digest>>;

    // --- tracker (the MLflow-compatible and native APIs) ---

    /// Applies writes in one transaction (one commit for the whole group). Each operation
    /// succeeds or fails on its own and a failed one writes nothing; the outer error means the
    /// transaction itself failed and nothing was written.
    fn apply(&self, ops: &[WriteOp]) -> MetaResult<Vec<MetaResult<WriteOutcome>>>;
    /// Applies one write in its own transaction.
    fn apply_one(&self, op: WriteOp) -> MetaResult<WriteOutcome> {
        self.apply(std::slice::from_ref(&op))?
            .pop()
            .unwrap_or(Err(MetaError::Invalid("no outcome for a write".into())))
    }
    /// An experiment's tags, by key.
    fn experiment_tags(&self, id: i64) -> MetaResult<Vec<(String, String)>>;
    /// Ids of the runs a query selects, in its order, one page of them.
    fn search_runs(&self, query: &RunQuery) -> MetaResult<Vec<String>>;
    /// Everything about the given runs, in the order given; unknown ids are left out.
    fn run_details(&self, run_ids: &[String]) -> MetaResult<Vec<RunDetail>>;
    /// Artifact-index entries at `path` or under it (`path/…`); an empty path lists everything.
    fn artifact_files(&self, path: &str) -> MetaResult<Vec<ArtifactFile>>;
    /// The artifact-index entry at exactly `path`.
    fn artifact_file(&self, path: &str) -> MetaResult<Option<ArtifactFile>>;
    /// A logged model with its tags and params.
    fn logged_model(&self, id: &str) -> MetaResult<LoggedModel>;
    /// Logged models of the given experiments, newest first.
    fn logged_models(&self, experiment_ids: &[i64]) -> MetaResult<Vec<LoggedModel>>;

    // --- maintenance ---

    /// Checks the database's integrity; `Corrupt` when damaged.
    fn integrity_check(&self) -> MetaResult<()>;
    /// The schema version the store is at.
    fn schema_version(&self) -> MetaResult<i64>;
}
