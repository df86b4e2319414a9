//! Recording executed stages as tracker runs (origin `pipeline`), each in one transaction.

use crate::error::PipelineError;
use crate::git::GitState;
use slipway_core::pipeline::{PathState, StageSpec};
use slipway_core::tracking::{IoRole, MetricPoint, RunOrigin, RunStatus};
use slipway_core::{Digest, RelPath};
use slipway_store::meta::{MetadataStore, NewRun, Run, RunIo, RunRecord};
use slipway_store::{MetaError, Workspace};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Where and as whom stage runs are recorded. The experiment and the git state are looked up
/// on the first record, so a run with nothing to execute never starts `git`.
pub(crate) struct Tracker<'a> {
    ws: &'a Workspace,
    experiment: String,
    experiment_id: OnceLock<i64>,
    git: OnceLock<GitState>,
    user: String,
}

/// What one finished stage produced, for its run record.
pub(crate) struct StageResult<'s> {
    pub stage: &'s StageSpec,
    pub key: Digest,
    pub status: RunStatus,
    pub start_ms: i64,
    pub end_ms: i64,
    pub deps: &'s BTreeMap<RelPath, PathState>,
    pub outputs: &'s BTreeMap<RelPath, PathState>,
    pub metrics: Vec<MetricPoint>,
    /// Params a built-in logged, after the stage's tracked params.
    pub extra_params: &'s [(String, String)],
    pub log: Option<Digest>,
}

impl<'a> Tracker<'a> {
    /// Runs go to `experiment` (created when the first run is recorded).
    pub fn new(ws: &'a Workspace, experiment: &str) -> Tracker<'a> {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        Tracker {
            ws,
            experiment: experiment.to_string(),
            experiment_id: OnceLock::new(),
            git: OnceLock::new(),
            user,
        }
    }

    /// The git state; the executor reads it before the first command starts, so the run's
    /// own outputs never count as uncommitted changes.
    pub fn git(&self) -> &GitState {
        self.git.get_or_init(|| crate::git::state(self.ws.root()))
    }

    fn experiment_id(&self) -> Result<i64, PipelineError> {
        if let Some(id) = self.experiment_id.get() {
            return Ok(*id);
        }
        let meta = self.ws.meta();
        let id = match meta.experiment_by_name(&self.experiment)? {
            Some(e) => e.id,
            None => match meta.create_experiment(&self.experiment, slipway_store::now_ms()) {
                Ok(e) => e.id,
                // Another process or thread created it first.
                Err(MetaError::AlreadyExists { .. }) => meta
                    .experiment_by_name(&self.experiment)?
                    .map(|e| e.id)
                    .ok_or_else(|| MetaError::NotFound {
                        what: "experiment",
                        id: self.experiment.clone(),
                    })?,
                Err(e) => return Err(e.into()),
            },
        };
        Ok(*self.experiment_id.get_or_init(|| id))
    }

    /// Records one stage's run.
    pub fn record(&self, result: StageResult<'_>) -> Result<Run, PipelineError> {
        let stage = result.stage;
        let mut params = Vec::new();
        for p in &stage.params {
            flatten_param(&p.key, &p.value, &mut params);
        }
        params.extend(result.extra_params.iter().cloned());
        params.sort();
        params.dedup_by(|a, b| a.0 == b.0);
        let mut tags = vec![
            ("mlflow.runName".to_string(), stage.name.clone()),
            ("mlflow.user".to_string(), self.user.clone()),
            ("slipway.stage".to_string(), stage.name.clone()),
            ("slipway.stage_key".to_string(), result.key.to_hex()),
            ("mlflow.source.type".to_string(), "JOB".to_string()),
        ];
        match &stage.action {
            slipway_core::pipeline::Action::Cmd(lines) => {
                tags.push(("slipway.command".into(), lines.join("\n")));
            }
            slipway_core::pipeline::Action::Uses { name, .. } => {
                tags.push(("slipway.uses".into(), name.clone()));
            }
        }
        let git = self.git();
        if let Some(commit) = &git.commit {
            tags.push(("mlflow.source.git.commit".into(), commit.clone()));
        }
        let mut io = Vec::new();
        for (path, state) in result.deps {
            io.push(RunIo {
                digest: state.digest,
                role: IoRole::Input,
                path: path.to_string(),
            });
        }
        for (path, state) in result.outputs {
            io.push(RunIo {
                digest: state.digest,
                role: IoRole::Output,
                path: path.to_string(),
            });
        }
        if let Some(log) = result.log {
            io.push(RunIo {
                digest: log,
                role: IoRole::Output,
                path: format!("slipway/logs/{}.log", stage.name),
            });
        }
        let record = RunRecord {
            run: NewRun {
                experiment_id: self.experiment_id()?,
                name: stage.name.clone(),
                origin: RunOrigin::Pipeline,
                status: RunStatus::Running,
                start_ms: result.start_ms,
                user: self.user.clone(),
                git_commit: git.commit.clone(),
                git_dirty: git.dirty,
            },
            status: result.status,
            end_ms: result.end_ms,
            params,
            metrics: result.metrics,
            tags,
            io,
        };
        Ok(self.ws.meta().record_run(&record)?)
    }
}

/// Tracker params are flat strings: a section becomes one param per leaf (`train.lr`).
fn flatten_param(key: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                flatten_param(&format!("{key}.{k}"), v, out);
            }
        }
        serde_json::Value::String(s) => out.push((key.to_string(), s.clone())),
        other => out.push((key.to_string(), other.to_string())),
    }
}

/// Reads a metrics file: a JSON object whose numbers (at any depth, keys joined with `.`) become
/// metric points. Non-numeric values are ignored.
pub(crate) fn read_metrics(
    path: &std::path::Path,
    timestamp_ms: i64,
) -> Result<Vec<MetricPoint>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read metrics file {}: {e}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("metrics file {} is not JSON: {e}", path.display()))?;
    if !value.is_object() {
        return Err(format!(
            "metrics file {} must hold a JSON object of numbers",
            path.display()
        ));
    }
    let mut points = Vec::new();
    collect_numbers("", &value, timestamp_ms, &mut points);
    Ok(points)
}

fn collect_numbers(prefix: &str, value: &serde_json::Value, ts: i64, out: &mut Vec<MetricPoint>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                collect_numbers(&key, v, ts, out);
            }
        }
        serde_json::Value::Number(n) => {
            if let Some(value) = n.as_f64() {
                out.push(MetricPoint {
                    key: prefix.to_string(),
                    value,
                    timestamp_ms: ts,
                    step: 0,
                });
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_flatten_to_dotted_params() {
        let mut out = Vec::new();
        flatten_param(
            "train",
            &serde_json::json!({"lr": 0.1, "opt": {"name": "adam"}}),
            &mut out,
        );
        out.sort();
        assert_eq!(
            out,
            vec![
                ("train.lr".into(), "0.1".into()),
                ("train.opt.name".into(), "adam".into())
            ]
        );
    }

    #[test]
    fn metrics_files_yield_nested_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        std::fs::write(&path, r#"{"auc": 0.9, "eval": {"loss": 0.3, "name": "x"}}"#).unwrap();
        let points = read_metrics(&path, 5).unwrap();
        let keys: Vec<&str> = points.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["auc", "eval.loss"]);
        std::fs::write(&path, "[1,2]").unwrap();
        assert!(read_metrics(&path, 5).unwrap_err().contains("JSON object"));
    }
}
