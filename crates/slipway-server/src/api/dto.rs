//! The native API's wire types (`/api/v1`), shared by the server, the HTTP client and the
//! embedded client, so the CLI prints the same JSON whichever way it reads. Changing a field
//! here changes the published API: keep `openapi.json` in step.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An experiment.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ExperimentView {
    /// Numeric id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// `active` or `deleted`.
    pub lifecycle: String,
    /// Created, ms since the epoch.
    pub created_ms: i64,
    /// Last updated, ms.
    pub updated_ms: i64,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// The latest value of a metric, or one point of its history.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MetricValue {
    /// Value; NaN and infinities are written as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
    #[serde(
        serialize_with = "crate::mlflow::wire::float",
        deserialize_with = "required_f64"
    )]
    pub value: f64,
    /// Step.
    pub step: i64,
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
}

fn required_f64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    crate::mlflow::wire::opt_f64(d)?.ok_or_else(|| serde::de::Error::custom("missing value"))
}

/// A run, as lists and searches show it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// 32 lowercase hex characters.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Experiment id.
    pub experiment_id: i64,
    /// `pipeline` or `adhoc`.
    pub origin: String,
    /// `RUNNING`, `FINISHED`, `FAILED`, `KILLED`, `SCHEDULED`.
    pub status: String,
    /// Start, ms.
    pub start_ms: i64,
    /// End, ms.
    pub end_ms: Option<i64>,
    /// Who ran it.
    pub user: String,
    /// Git commit of the code.
    pub git_commit: Option<String>,
    /// Whether the work tree had uncommitted changes.
    pub git_dirty: Option<bool>,
    /// `active` or `deleted`.
    pub lifecycle: String,
    /// Params.
    pub params: BTreeMap<String, String>,
    /// Latest value of each metric.
    pub metrics: BTreeMap<String, MetricValue>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// An artifact a run consumed or produced (pipeline runs), or a file under its artifacts.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ArtifactEntry {
    /// Path (relative to the project for inputs/outputs, to the run's artifact root for files).
    pub path: String,
    /// BLAKE3 digest of the bytes (or of the directory manifest).
    pub digest: String,
    /// Size in bytes, when known.
    pub size: Option<u64>,
}

/// A dataset a run consumed, as the MLflow client described it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DatasetView {
    /// Name.
    pub name: String,
    /// The client's digest.
    pub digest: String,
    /// Source kind.
    pub source_type: String,
    /// Source (JSON text).
    pub source: String,
    /// `mlflow.data.context` (e.g. `training`), if given.
    pub context: Option<String>,
}

/// Everything about one run.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RunView {
    /// The run.
    #[serde(flatten)]
    pub summary: RunSummary,
    /// Data and code it consumed (digests).
    pub inputs: Vec<ArtifactEntry>,
    /// What it produced (digests).
    pub outputs: Vec<ArtifactEntry>,
    /// Datasets logged with `log_input`.
    pub datasets: Vec<DatasetView>,
    /// Logged models it produced.
    pub models: Vec<String>,
    /// Every file under its artifact root.
    pub artifacts: Vec<ArtifactEntry>,
}

/// One page of a run search.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RunPage {
    /// The runs, in order.
    pub runs: Vec<RunSummary>,
    /// Pass back to get the next page; absent on the last.
    pub next_page_token: Option<String>,
}

/// A param across compared runs.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ParamRow {
    /// Key.
    pub key: String,
    /// Value in each run (same order as `runs`); `null` when a run lacks it.
    pub values: Vec<Option<String>>,
}

/// A metric across compared runs.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MetricRow {
    /// Key.
    pub key: String,
    /// Latest value in each run; `null` when a run lacks it (NaN is also `null`).
    pub values: Vec<Option<f64>>,
    /// Difference from the first run's value; `null` where either is missing.
    pub deltas: Vec<Option<f64>>,
}

/// A side-by-side comparison of runs.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The runs compared, in the order given.
    pub runs: Vec<RunSummary>,
    /// Params whose values differ between the runs.
    pub params: Vec<ParamRow>,
    /// Every metric, with deltas against the first run.
    pub metrics: Vec<MetricRow>,
}

/// A run's lineage: its code version, what it consumed and produced, and the runs on either side.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Lineage {
    /// The run.
    pub run_id: String,
    /// Git commit.
    pub git_commit: Option<String>,
    /// Dirty work tree.
    pub git_dirty: Option<bool>,
    /// Inputs (digests).
    pub inputs: Vec<ArtifactEntry>,
    /// Outputs (digests).
    pub outputs: Vec<ArtifactEntry>,
    /// Datasets logged through MLflow.
    pub datasets: Vec<DatasetView>,
    /// Runs that produced this run's inputs.
    pub upstream: Vec<String>,
    /// Runs that consumed this run's outputs.
    pub downstream: Vec<String>,
}
