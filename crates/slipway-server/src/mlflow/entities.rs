//! MLflow's entities on the wire (protobuf JSON: snake_case, int64 as numbers, empty fields
//! left out), converted by hand from the store's records. Pipeline runs get the tags an MLflow
//! user would look for (`mlflow.source.git.commit`, ...) derived from their recorded commit.

use super::wire::float;
use serde::Serialize;
use slipway_core::tracking::{IoRole, MetricPoint, RunOrigin};
use slipway_store::meta::{Experiment, LoggedModel, RunDetail};

/// `{key, value}`.
#[derive(Serialize, Debug, Clone)]
pub struct KeyValue {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// Converts `(key, value)` pairs.
pub fn pairs(items: &[(String, String)]) -> Vec<KeyValue> {
    items
        .iter()
        .map(|(k, v)| KeyValue {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

/// A metric point.
#[derive(Serialize, Debug)]
pub struct Metric {
    /// Metric name.
    pub key: String,
    /// Value (non-finite values as protobuf-JSON strings).
    #[serde(serialize_with = "float")]
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// Step.
    pub step: i64,
}

impl From<&MetricPoint> for Metric {
    fn from(p: &MetricPoint) -> Metric {
        Metric {
            key: p.key.clone(),
            value: p.value,
            timestamp: p.timestamp_ms,
            step: p.step,
        }
    }
}

/// `RunInfo`.
#[derive(Serialize, Debug)]
pub struct RunInfo {
    /// The run id.
    pub run_id: String,
    /// The same id under its legacy name (the client still reads it).
    pub run_uuid: String,
    /// Display name.
    pub run_name: String,
    /// Experiment id, as a string.
    pub experiment_id: String,
    /// Who ran it.
    pub user_id: String,
    /// `RUNNING`, `FINISHED`, ...
    pub status: &'static str,
    /// Start, ms.
    pub start_time: i64,
    /// End, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    /// Where its artifacts are (`mlflow-artifacts:/…`, so the client proxies through us).
    pub artifact_uri: String,
    /// `active` or `deleted`.
    pub lifecycle_stage: String,
}

/// `RunData`.
#[derive(Serialize, Debug, Default)]
pub struct RunData {
    /// Latest value of each metric.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    /// Params.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// A dataset as MLflow describes it.
#[derive(Serialize, Debug)]
pub struct Dataset {
    /// Name.
    pub name: String,
    /// The client's digest.
    pub digest: String,
    /// Source kind.
    pub source_type: String,
    /// Source, JSON text.
    pub source: String,
    /// Schema, JSON text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Profile, JSON text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// One dataset input of a run.
#[derive(Serialize, Debug)]
pub struct DatasetInput {
    /// Tags of the use (e.g. `mlflow.data.context`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    /// The dataset.
    pub dataset: Dataset,
}

/// A logged model a run consumed.
#[derive(Serialize, Debug)]
pub struct ModelInput {
    /// Its id.
    pub model_id: String,
}

/// A logged model a run produced.
#[derive(Serialize, Debug)]
pub struct ModelOutput {
    /// Its id.
    pub model_id: String,
    /// The step.
    pub step: i64,
}

/// `RunInputs`.
#[derive(Serialize, Debug, Default)]
pub struct RunInputs {
    /// Datasets.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dataset_inputs: Vec<DatasetInput>,
    /// Models.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub model_inputs: Vec<ModelInput>,
}

/// `RunOutputs`.
#[derive(Serialize, Debug, Default)]
pub struct RunOutputs {
    /// Models.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub model_outputs: Vec<ModelOutput>,
}

/// A whole run.
#[derive(Serialize, Debug)]
pub struct Run {
    /// Info.
    pub info: RunInfo,
    /// Metrics, params, tags.
    pub data: RunData,
    /// Inputs.
    pub inputs: RunInputs,
    /// Outputs.
    pub outputs: RunOutputs,
}

/// The artifact root of a run, under the proxy.
pub fn run_artifact_path(experiment_id: i64, run_id: &str) -> String {
    format!("{experiment_id}/{run_id}/artifacts")
}

/// The artifact root of a logged model, under the proxy.
pub fn model_artifact_path(experiment_id: i64, model_id: &str) -> String {
    format!("{experiment_id}/models/{model_id}/artifacts")
}

/// Converts a run's record.
pub fn run_info(detail: &RunDetail) -> RunInfo {
    let r = &detail.run;
    RunInfo {
        run_id: r.id.clone(),
        run_uuid: r.id.clone(),
        run_name: r.name.clone(),
        experiment_id: r.experiment_id.to_string(),
        user_id: r.user.clone(),
        status: r.status.as_str(),
        start_time: r.start_ms,
        end_time: r.end_ms,
        artifact_uri: format!(
            "mlflow-artifacts:/{}",
            run_artifact_path(r.experiment_id, &r.id)
        ),
        lifecycle_stage: r.lifecycle.clone(),
    }
}

/// Converts a run with everything about it.
pub fn run(detail: &RunDetail) -> Run {
    let r = &detail.run;
    let mut tags = detail.tags.clone();
    // Facts Slipway records as columns, shown as the tags MLflow users know, unless the client
    // set those tags itself.
    let mut derived = vec![("slipway.origin".to_string(), r.origin.to_string())];
    if let Some(commit) = &r.git_commit {
        derived.push(("mlflow.source.git.commit".into(), commit.clone()));
    }
    if let Some(dirty) = r.git_dirty {
        derived.push(("slipway.git.dirty".into(), dirty.to_string()));
    }
    if r.origin == RunOrigin::Pipeline {
        derived.push(("mlflow.runName".into(), r.name.clone()));
        derived.push(("mlflow.source.type".into(), "JOB".into()));
    }
    for (key, value) in derived {
        if !tags.iter().any(|(k, _)| *k == key) {
            tags.push((key, value));
        }
    }
    tags.sort();
    Run {
        info: run_info(detail),
        data: RunData {
            metrics: detail.metrics.iter().map(Metric::from).collect(),
            params: pairs(&detail.params),
            tags: pairs(&tags),
        },
        inputs: RunInputs {
            dataset_inputs: detail
                .datasets
                .iter()
                .map(|d| DatasetInput {
                    tags: pairs(&d.tags),
                    dataset: Dataset {
                        name: d.name.clone(),
                        digest: d.digest.clone(),
                        source_type: d.source_type.clone(),
                        source: d.source.clone(),
                        schema: d.schema.clone(),
                        profile: d.profile.clone(),
                    },
                })
                .collect(),
            model_inputs: detail
                .models
                .iter()
                .filter(|m| m.role == IoRole::Input)
                .map(|m| ModelInput {
                    model_id: m.model_id.clone(),
                })
                .collect(),
        },
        outputs: RunOutputs {
            model_outputs: detail
                .models
                .iter()
                .filter(|m| m.role == IoRole::Output)
                .map(|m| ModelOutput {
                    model_id: m.model_id.clone(),
                    step: m.step,
                })
                .collect(),
        },
    }
}

/// An experiment.
#[derive(Serialize, Debug)]
pub struct ExperimentDto {
    /// Id, as a string.
    pub experiment_id: String,
    /// Name.
    pub name: String,
    /// Artifact root (`mlflow-artifacts:/<id>`).
    pub artifact_location: String,
    /// `active` or `deleted`.
    pub lifecycle_stage: String,
    /// Created, ms.
    pub creation_time: i64,
    /// Last updated, ms.
    pub last_update_time: i64,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// Converts an experiment and its tags.
pub fn experiment(e: &Experiment, tags: &[(String, String)]) -> ExperimentDto {
    ExperimentDto {
        experiment_id: e.id.to_string(),
        name: e.name.clone(),
        artifact_location: format!("mlflow-artifacts:/{}", e.id),
        lifecycle_stage: e.lifecycle.clone(),
        creation_time: e.created_ms,
        last_update_time: e.updated_ms,
        tags: pairs(tags),
    }
}

/// A logged model's info.
#[derive(Serialize, Debug)]
pub struct LoggedModelInfo {
    /// `m-…`.
    pub model_id: String,
    /// Experiment id, as a string.
    pub experiment_id: String,
    /// Name.
    pub name: String,
    /// Created, ms.
    pub creation_timestamp_ms: i64,
    /// Last updated, ms.
    pub last_updated_timestamp_ms: i64,
    /// Where its files are.
    pub artifact_uri: String,
    /// `LOGGED_MODEL_PENDING`, `LOGGED_MODEL_READY`, ...
    pub status: String,
    /// Free-form type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    /// The run that logged it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_run_id: Option<String>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// A logged model's data.
#[derive(Serialize, Debug, Default)]
pub struct LoggedModelData {
    /// Params.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
}

/// A logged model.
#[derive(Serialize, Debug)]
pub struct LoggedModelDto {
    /// Info.
    pub info: LoggedModelInfo,
    /// Data.
    pub data: LoggedModelData,
}

/// Converts a logged model.
pub fn logged_model(m: &LoggedModel) -> LoggedModelDto {
    LoggedModelDto {
        info: LoggedModelInfo {
            model_id: m.id.clone(),
            experiment_id: m.experiment_id.to_string(),
            name: m.name.clone(),
            creation_timestamp_ms: m.created_ms,
            last_updated_timestamp_ms: m.updated_ms,
            artifact_uri: format!(
                "mlflow-artifacts:/{}",
                model_artifact_path(m.experiment_id, &m.id)
            ),
            status: m.status.clone(),
            model_type: m.model_type.clone(),
            source_run_id: m.source_run_id.clone(),
            tags: pairs(&m.tags),
        },
        data: LoggedModelData {
            params: pairs(&m.params),
        },
    }
}
