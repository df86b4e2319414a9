//! Records and write operations of the experiment tracker (the MLflow-compatible and native
//! APIs): batched writes, run details, run search queries, datasets, logged models and the
//! artifact index.

use super::{NewRun, Run, RunIo};
use slipway_core::Digest;
use slipway_core::search::{Filter, OrderBy};
use slipway_core::tracking::{MetricPoint, RunStatus};

/// One write, applied by [`super::MetadataStore::apply`] together with others in one
/// transaction. Each operation is all-or-nothing on its own: a refused operation writes nothing
/// and does not disturb the others of its batch.
#[derive(Clone, Debug, PartialEq)]
pub enum WriteOp {
    /// Creates an experiment with tags; `AlreadyExists` if the name is taken.
    CreateExperiment {
        /// Unique name.
        name: String,
        /// Initial tags.
        tags: Vec<(String, String)>,
        /// Creation time, ms.
        at_ms: i64,
    },
    /// Renames an experiment.
    RenameExperiment {
        /// The experiment.
        id: i64,
        /// The new, unique name.
        name: String,
        /// When, ms.
        at_ms: i64,
    },
    /// Soft-deletes (`deleted: true`) or restores an experiment.
    SetExperimentDeleted {
        /// The experiment.
        id: i64,
        /// Delete or restore.
        deleted: bool,
        /// When, ms.
        at_ms: i64,
    },
    /// Sets (creates or overwrites) an experiment tag.
    SetExperimentTag {
        /// The experiment.
        id: i64,
        /// Tag key.
        key: String,
        /// Tag value.
        value: String,
    },
    /// Creates a run with initial tags; the outcome is [`WriteOutcome::Run`].
    CreateRun {
        /// The run.
        run: NewRun,
        /// Initial tags (kept in the tag history like any later change).
        tags: Vec<(String, String)>,
    },
    /// Changes a run's status, end time or name (a name change also sets `mlflow.runName`).
    UpdateRun {
        /// The run.
        run_id: String,
        /// New status, if any.
        status: Option<RunStatus>,
        /// End time, if any.
        end_ms: Option<i64>,
        /// New display name, if any.
        name: Option<String>,
        /// When, ms.
        at_ms: i64,
    },
    /// Soft-deletes (`deleted: true`) or restores a run.
    SetRunDeleted {
        /// The run.
        run_id: String,
        /// Delete or restore.
        deleted: bool,
        /// When, ms.
        at_ms: i64,
    },
    /// Logs metrics, params and tags to an active run, all or nothing.
    LogBatch {
        /// The run.
        run_id: String,
        /// Metric points, appended.
        metrics: Vec<MetricPoint>,
        /// Params (immutable once logged).
        params: Vec<(String, String)>,
        /// Tags (overwritten; history kept).
        tags: Vec<(String, String)>,
        /// When, ms (for the tag history).
        at_ms: i64,
    },
    /// Deletes a run tag (kept in the history); `NotFound` if absent.
    DeleteTag {
        /// The run.
        run_id: String,
        /// Tag key.
        key: String,
        /// When, ms.
        at_ms: i64,
    },
    /// Records datasets and models a run consumed.
    LogInputs {
        /// The run.
        run_id: String,
        /// Datasets (deduplicated per experiment by name and digest).
        datasets: Vec<DatasetInput>,
        /// Ids of logged models used as inputs.
        models: Vec<String>,
    },
    /// Records logged models a run produced, with the step they belong to.
    LogOutputs {
        /// The run.
        run_id: String,
        /// `(model id, step)` pairs.
        models: Vec<(String, i64)>,
    },
    /// Points an artifact path at stored bytes (replacing an earlier file; history kept).
    PutArtifactFile {
        /// The file.
        file: ArtifactFile,
    },
    /// Removes an artifact path and everything under it from the index (history kept; the
    /// bytes stay until gc finds them unreferenced).
    DeleteArtifactFiles {
        /// The path (a file or a directory).
        path: String,
        /// When, ms.
        at_ms: i64,
    },
    /// Creates a logged model; the outcome is [`WriteOutcome::LoggedModel`].
    CreateLoggedModel {
        /// The model.
        model: NewLoggedModel,
    },
    /// Sets a logged model's status (e.g. `LOGGED_MODEL_READY` when its upload finished).
    SetLoggedModelStatus {
        /// The model id.
        id: String,
        /// The new status.
        status: String,
        /// When, ms.
        at_ms: i64,
    },
    /// Sets logged-model tags.
    SetLoggedModelTags {
        /// The model id.
        id: String,
        /// Tags to set.
        tags: Vec<(String, String)>,
        /// When, ms.
        at_ms: i64,
    },
    /// Deletes a logged-model tag; `NotFound` if absent.
    DeleteLoggedModelTag {
        /// The model id.
        id: String,
        /// The key.
        key: String,
    },
    /// Soft-deletes a logged model.
    DeleteLoggedModel {
        /// The model id.
        id: String,
        /// When, ms.
        at_ms: i64,
    },
}

/// What an applied [`WriteOp`] produced.
#[derive(Clone, Debug, PartialEq)]
pub enum WriteOutcome {
    /// Nothing to report.
    Done,
    /// The id of a created experiment.
    Experiment(i64),
    /// A created run.
    Run(Run),
    /// A created logged model.
    LoggedModel(LoggedModel),
}

/// A dataset a run consumed, with the tags of that use (e.g. `mlflow.data.context`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetInput {
    /// Dataset name.
    pub name: String,
    /// The client's digest of the dataset (an MLflow digest, not necessarily BLAKE3).
    pub digest: String,
    /// Kind of source (`local`, `s3`, `http`, ...).
    pub source_type: String,
    /// The source, as JSON text.
    pub source: String,
    /// The schema, as JSON text.
    pub schema: Option<String>,
    /// The profile, as JSON text.
    pub profile: Option<String>,
    /// Tags of this use of the dataset.
    pub tags: Vec<(String, String)>,
}

/// A logged model a run consumed or produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelIo {
    /// The logged model id.
    pub model_id: String,
    /// Input or output.
    pub role: slipway_core::tracking::IoRole,
    /// The step it belongs to (outputs).
    pub step: i64,
}

/// Everything about one run, as search results and run pages show it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunDetail {
    /// The run itself.
    pub run: Run,
    /// Params, by key.
    pub params: Vec<(String, String)>,
    /// The latest point of each metric, by key.
    pub metrics: Vec<MetricPoint>,
    /// Current tags, by key.
    pub tags: Vec<(String, String)>,
    /// Datasets consumed.
    pub datasets: Vec<DatasetInput>,
    /// Logged models consumed or produced.
    pub models: Vec<ModelIo>,
    /// Artifacts consumed or produced (pipeline runs), by role then path.
    pub io: Vec<RunIo>,
}

/// Which runs a search considers, by lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ViewType {
    /// Active runs only (the default).
    #[default]
    ActiveOnly,
    /// Deleted runs only.
    DeletedOnly,
    /// Both.
    All,
}

/// A run search: experiments, filter, order, lifecycle and the page wanted.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RunQuery {
    /// Experiments to search (at least one).
    pub experiment_ids: Vec<i64>,
    /// The filter (checked against [`slipway_core::search::RUNS`]).
    pub filter: Filter,
    /// Sort keys, applied in order; ties are broken by start time (newest first), then id.
    pub order_by: Vec<OrderBy>,
    /// Which lifecycle states to include.
    pub view: ViewType,
    /// Results to skip.
    pub offset: u64,
    /// Results to return at most.
    pub limit: u64,
}

/// One file in the artifact index: a path under the artifact root and the bytes it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactFile {
    /// Path under the artifact root, e.g. `3/<run id>/artifacts/plots/roc.png`.
    pub path: String,
    /// The content's digest (the object store address).
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// When written, ms.
    pub at_ms: i64,
}

/// What is needed to create a logged model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLoggedModel {
    /// The experiment it belongs to.
    pub experiment_id: i64,
    /// Its name (e.g. `model`).
    pub name: String,
    /// The run that logged it.
    pub source_run_id: Option<String>,
    /// Free-form type (e.g. `pyfunc`).
    pub model_type: Option<String>,
    /// Initial status (`LOGGED_MODEL_PENDING`).
    pub status: String,
    /// Initial tags.
    pub tags: Vec<(String, String)>,
    /// Params.
    pub params: Vec<(String, String)>,
    /// Creation time, ms.
    pub at_ms: i64,
}

/// A logged model (MLflow 3): a model's files and where they came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedModel {
    /// `m-` followed by 32 hex characters.
    pub id: String,
    /// The experiment it belongs to.
    pub experiment_id: i64,
    /// Its name.
    pub name: String,
    /// The run that logged it.
    pub source_run_id: Option<String>,
    /// Free-form type.
    pub model_type: Option<String>,
    /// `LOGGED_MODEL_PENDING`, `LOGGED_MODEL_READY` or `LOGGED_MODEL_UPLOAD_FAILED`.
    pub status: String,
    /// Created, ms.
    pub created_ms: i64,
    /// Last updated, ms.
    pub updated_ms: i64,
    /// `active` or `deleted`.
    pub lifecycle: String,
    /// Tags, by key.
    pub tags: Vec<(String, String)>,
    /// Params, by key.
    pub params: Vec<(String, String)>,
}
