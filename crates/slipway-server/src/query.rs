//! The native read model: builds the `/api/v1` views from the stores. The API handlers and the
//! embedded client both call these functions, so the CLI shows the same data whether it opens
//! `.slipway/` itself or asks a server.

use crate::api::dto::*;
use crate::artifact_tree;
use crate::error::ApiError;
use slipway_core::search::{self, Filter, OrderBy, PageToken};
use slipway_core::tracking::IoRole;
use slipway_store::Workspace;
use slipway_store::meta::{MetadataStore, RunDetail, RunQuery, ViewType};
use std::collections::BTreeSet;

/// What a run search asks for (the native API's query parameters).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSearch {
    /// Experiment names or ids; empty means every active experiment.
    pub experiments: Vec<String>,
    /// A filter in the MLflow search language.
    pub filter: String,
    /// `order_by` items.
    pub order_by: Vec<String>,
    /// Page size (default 100).
    pub max_results: Option<usize>,
    /// From a previous page.
    pub page_token: Option<String>,
    /// `active` (default), `deleted` or `all`.
    pub view: Option<String>,
}

/// Every experiment.
pub fn experiments(store: &dyn MetadataStore) -> Result<Vec<ExperimentView>, ApiError> {
    store
        .experiments()?
        .into_iter()
        .map(|e| {
            let tags = store.experiment_tags(e.id)?.into_iter().collect();
            Ok(ExperimentView {
                id: e.id,
                name: e.name,
                lifecycle: e.lifecycle,
                created_ms: e.created_ms,
                updated_ms: e.updated_ms,
                tags,
            })
        })
        .collect()
}

/// One experiment, by id or name.
pub fn experiment(store: &dyn MetadataStore, id_or_name: &str) -> Result<ExperimentView, ApiError> {
    let id = resolve_experiment(store, id_or_name)?;
    experiments(store)?
        .into_iter()
        .find(|e| e.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("experiment `{id_or_name}` does not exist")))
}

fn resolve_experiment(store: &dyn MetadataStore, id_or_name: &str) -> Result<i64, ApiError> {
    if let Some(e) = store.experiment_by_name(id_or_name)? {
        return Ok(e.id);
    }
    match id_or_name.parse::<i64>() {
        Ok(id) => Ok(store.experiment(id)?.id),
        Err(_) => Err(ApiError::NotFound(format!(
            "experiment `{id_or_name}` does not exist (give its name or numeric id)"
        ))),
    }
}

/// A page of runs matching a search.
pub fn search_runs(store: &dyn MetadataStore, search: &RunSearch) -> Result<RunPage, ApiError> {
    let experiment_ids = if search.experiments.is_empty() {
        store
            .experiments()?
            .into_iter()
            .filter(|e| e.lifecycle == "active")
            .map(|e| e.id)
            .collect()
    } else {
        search
            .experiments
            .iter()
            .map(|e| resolve_experiment(store, e))
            .collect::<Result<Vec<_>, _>>()?
    };
    let limit = search.max_results.unwrap_or(100);
    if limit == 0 || limit > 50_000 {
        return Err(ApiError::InvalidParameter(format!(
            "max_results must be between 1 and 50000, got {limit}"
        )));
    }
    let offset = PageToken::decode(search.page_token.as_deref().unwrap_or(""))?.offset;
    let view = match search.view.as_deref().unwrap_or("active") {
        "active" => ViewType::ActiveOnly,
        "deleted" => ViewType::DeletedOnly,
        "all" => ViewType::All,
        other => {
            return Err(ApiError::InvalidParameter(format!(
                "unknown view `{other}`; expected active, deleted or all"
            )));
        }
    };
    let query = RunQuery {
        experiment_ids,
        filter: Filter::parse(&search.filter)?.check(&search::RUNS)?,
        order_by: search
            .order_by
            .iter()
            .map(|o| OrderBy::parse(o, &search::RUNS))
            .collect::<Result<_, _>>()?,
        view,
        offset,
        limit: limit as u64 + 1,
    };
    let mut ids = store.search_runs(&query)?;
    let more = ids.len() > limit;
    ids.truncate(limit);
    let runs = store.run_details(&ids)?.iter().map(summary).collect();
    Ok(RunPage {
        runs,
        next_page_token: more.then(|| {
            PageToken {
                offset: offset + limit as u64,
            }
            .encode()
        }),
    })
}

fn summary(d: &RunDetail) -> RunSummary {
    let r = &d.run;
    RunSummary {
        id: r.id.clone(),
        name: r.name.clone(),
        experiment_id: r.experiment_id,
        origin: r.origin.to_string(),
        status: r.status.to_string(),
        start_ms: r.start_ms,
        end_ms: r.end_ms,
        user: r.user.clone(),
        git_commit: r.git_commit.clone(),
        git_dirty: r.git_dirty,
        lifecycle: r.lifecycle.clone(),
        params: d.params.iter().cloned().collect(),
        metrics: d
            .metrics
            .iter()
            .map(|p| {
                (
                    p.key.clone(),
                    MetricValue {
                        value: p.value,
                        step: p.step,
                        timestamp_ms: p.timestamp_ms,
                    },
                )
            })
            .collect(),
        tags: d.tags.iter().cloned().collect(),
    }
}

fn detail(store: &dyn MetadataStore, run_id: &str) -> Result<RunDetail, ApiError> {
    store
        .run_details(&[run_id.to_string()])?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("run `{run_id}` does not exist")))
}

fn io_entries(d: &RunDetail, role: IoRole) -> Vec<ArtifactEntry> {
    d.io.iter()
        .filter(|io| io.role == role)
        .map(|io| ArtifactEntry {
            path: io.path.clone(),
            digest: io.digest.to_hex(),
            size: None,
        })
        .collect()
}

fn datasets(d: &RunDetail) -> Vec<DatasetView> {
    d.datasets
        .iter()
        .map(|ds| DatasetView {
            name: ds.name.clone(),
            digest: ds.digest.clone(),
            source_type: ds.source_type.clone(),
            source: ds.source.clone(),
            context: ds
                .tags
                .iter()
                .find(|(k, _)| k == "mlflow.data.context")
                .map(|(_, v)| v.clone()),
        })
        .collect()
}

/// Everything about one run, including every file under its artifact root.
pub fn run_view(
    workspace: &Workspace,
    store: &dyn MetadataStore,
    run_id: &str,
) -> Result<RunView, ApiError> {
    let d = detail(store, run_id)?;
    let artifacts = run_artifacts(workspace, store, &d, "")?;
    Ok(RunView {
        summary: summary(&d),
        inputs: io_entries(&d, IoRole::Input),
        outputs: io_entries(&d, IoRole::Output),
        datasets: datasets(&d),
        models: d
            .models
            .iter()
            .filter(|m| m.role == IoRole::Output)
            .map(|m| m.model_id.clone())
            .collect(),
        artifacts,
    })
}

/// Files under a run's artifact root (or under `path` inside it).
pub fn artifacts(
    workspace: &Workspace,
    store: &dyn MetadataStore,
    run_id: &str,
    path: &str,
) -> Result<Vec<ArtifactEntry>, ApiError> {
    let d = detail(store, run_id)?;
    run_artifacts(workspace, store, &d, path)
}

fn run_artifacts(
    workspace: &Workspace,
    store: &dyn MetadataStore,
    d: &RunDetail,
    path: &str,
) -> Result<Vec<ArtifactEntry>, ApiError> {
    let root = crate::mlflow::entities::run_artifact_path(d.run.experiment_id, &d.run.id);
    let sub = artifact_tree::checked_path(path)?;
    let dir = if sub.is_empty() {
        root.clone()
    } else {
        format!("{root}/{sub}")
    };
    Ok(artifact_tree::files_under(workspace, store, &dir)?
        .into_iter()
        .map(|f| ArtifactEntry {
            path: f.path[root.len() + 1..].to_string(),
            digest: f.digest.to_hex(),
            size: Some(f.size),
        })
        .collect())
}

/// Every point of one metric of a run.
pub fn metric_history(
    store: &dyn MetadataStore,
    run_id: &str,
    key: &str,
) -> Result<Vec<MetricValue>, ApiError> {
    Ok(store
        .metric_history(run_id, key)?
        .into_iter()
        .map(|p| MetricValue {
            value: p.value,
            step: p.step,
            timestamp_ms: p.timestamp_ms,
        })
        .collect())
}

/// Compares runs: params that differ, and every metric with its delta against the first run.
pub fn compare(store: &dyn MetadataStore, run_ids: &[String]) -> Result<Comparison, ApiError> {
    if run_ids.len() < 2 {
        return Err(ApiError::InvalidParameter(
            "compare needs at least two runs".into(),
        ));
    }
    let details = run_ids
        .iter()
        .map(|id| detail(store, id))
        .collect::<Result<Vec<_>, _>>()?;
    let runs: Vec<RunSummary> = details.iter().map(summary).collect();
    let param_keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.params.keys()).collect();
    let params = param_keys
        .into_iter()
        .map(|key| ParamRow {
            key: key.clone(),
            values: runs.iter().map(|r| r.params.get(key).cloned()).collect(),
        })
        .filter(|row| row.values.iter().any(|v| *v != row.values[0]))
        .collect();
    let metric_keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.metrics.keys()).collect();
    let metrics = metric_keys
        .into_iter()
        .map(|key| {
            let values: Vec<Option<f64>> = runs
                .iter()
                .map(|r| r.metrics.get(key).map(|m| m.value).filter(|v| !v.is_nan()))
                .collect();
            let deltas = values
                .iter()
                .map(|v| match (v, values[0]) {
                    (Some(v), Some(first)) => Some(v - first),
                    _ => None,
                })
                .collect();
            MetricRow {
                key: key.clone(),
                values,
                deltas,
            }
        })
        .collect();
    Ok(Comparison {
        runs,
        params,
        metrics,
    })
}

/// A run's lineage: commit, inputs and outputs by digest, and the runs on either side.
pub fn lineage(store: &dyn MetadataStore, run_id: &str) -> Result<Lineage, ApiError> {
    let d = detail(store, run_id)?;
    let mut upstream = BTreeSet::new();
    let mut downstream = BTreeSet::new();
    for io in &d.io {
        for (other, other_io) in store.runs_touching(&io.digest)? {
            if other == d.run.id {
                continue;
            }
            match (io.role, other_io.role) {
                (IoRole::Input, IoRole::Output) => {
                    upstream.insert(other);
                }
                (IoRole::Output, IoRole::Input) => {
                    downstream.insert(other);
                }
                _ => {}
            }
        }
    }
    Ok(Lineage {
        run_id: d.run.id.clone(),
        git_commit: d.run.git_commit.clone(),
        git_dirty: d.run.git_dirty,
        inputs: io_entries(&d, IoRole::Input),
        outputs: io_entries(&d, IoRole::Output),
        datasets: datasets(&d),
        upstream: upstream.into_iter().collect(),
        downstream: downstream.into_iter().collect(),
    })
}
