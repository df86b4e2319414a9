//! The conformance suite every [`MetadataStore`] backend must pass. Each check starts from an
//! empty store's state it creates itself (unique names), so checks can share one store.

use super::*;
use slipway_core::tracking::{IoRole, MetricPoint, RunOrigin, RunStatus};
use slipway_core::{ArtifactKind, ArtifactRef, Digest};

/// Runs every check against `store`, panicking with a description on the first failure.
pub fn run_all(store: &dyn MetadataStore) {
    artifacts_and_refs(store);
    stat_cache_ranges(store);
    experiments(store);
    runs_lifecycle(store);
    params_are_immutable(store);
    metrics_are_append_only(store);
    tags_keep_history(store);
    run_io_and_lineage(store);
    record_run_is_atomic(store);
    unknown_run_is_not_found(store);
    batch_ops_succeed_or_fail_alone(store);
    experiments_update_tag_delete_restore(store);
    runs_update_delete_restore(store);
    log_batch_is_all_or_nothing(store);
    latest_metric_is_by_step_then_time(store);
    inputs_and_outputs_are_recorded(store);
    run_search_filters_orders_and_pages(store);
    run_details_keep_order(store);
    artifact_index_keeps_history(store);
    logged_models_lifecycle(store);
    assert!(store.schema_version().unwrap() >= 1);
    store.integrity_check().unwrap();
}

fn new_run(store: &dyn MetadataStore, experiment: &str) -> Run {
    let exp = match store.experiment_by_name(experiment).unwrap() {
        Some(e) => e,
        None => store.create_experiment(experiment, 1_000).unwrap(),
    };
    store
        .create_run(&NewRun {
            experiment_id: exp.id,
            name: "run".into(),
            origin: RunOrigin::Adhoc,
            status: RunStatus::Running,
            start_ms: 1_000,
            user: "alice".into(),
            git_commit: Some("abc123".into()),
            git_dirty: Some(false),
        })
        .unwrap()
}

/// Artifacts are recorded idempotently; refs move; referenced digests include refs.
pub fn artifacts_and_refs(store: &dyn MetadataStore) {
    let digest = Digest::of(b"conformance artifact");
    let record = ArtifactRecord {
        artifact: ArtifactRef {
            digest,
            size: 20,
            kind: ArtifactKind::Dataset,
            media_type: Some("text/csv".into()),
        },
        created_ms: 5,
        source: Some("data/raw.csv".into()),
    };
    store.put_artifact(&record).unwrap();
    store
        .put_artifact(&ArtifactRecord {
            created_ms: 99,
            ..record.clone()
        })
        .unwrap();
    assert_eq!(
        store.artifact(&digest).unwrap(),
        Some(record),
        "first record wins"
    );
    assert!(
        store
            .artifacts()
            .unwrap()
            .iter()
            .any(|a| a.artifact.digest == digest)
    );

    let other = Digest::of(b"other");
    store.set_ref("conf/latest", &digest, 1).unwrap();
    store.set_ref("conf/latest", &other, 2).unwrap();
    assert_eq!(
        store.get_ref("conf/latest").unwrap(),
        Some(other),
        "refs move"
    );
    assert!(store.referenced_digests().unwrap().contains(&other));
    assert!(store.set_ref("has space", &other, 3).is_err());
    store.delete_ref("conf/latest").unwrap();
    assert!(matches!(
        store.delete_ref("conf/latest"),
        Err(MetaError::NotFound { .. })
    ));
    store.forget_artifacts(&[digest]).unwrap();
    assert_eq!(store.artifact(&digest).unwrap(), None);
}

/// Stat entries are found for a path and everything under it, and nothing else.
pub fn stat_cache_ranges(store: &dyn MetadataStore) {
    let entry = |path: &str, n: u8| StatEntry {
        path: path.into(),
        size: n as u64,
        mtime_ns: 1_700_000_000_000_000_000 + n as i64,
        ctime_ns: 7,
        inode: 42 + n as u64,
        digest: Digest::of(&[n]),
    };
    store
        .put_stat_entries(&[
            entry("/conf/data", 1),
            entry("/conf/data/a", 2),
            entry("/conf/data/b/c", 3),
            entry("/conf/database", 4),
            entry("/conf/data0", 5),
        ])
        .unwrap();
    let mut found: Vec<String> = store
        .stat_entries_under("/conf/data")
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    found.sort();
    assert_eq!(found, ["/conf/data", "/conf/data/a", "/conf/data/b/c"]);
    store
        .put_stat_entries(&[StatEntry {
            size: 9,
            ..entry("/conf/data/a", 2)
        }])
        .unwrap();
    let a = store.stat_entries_under("/conf/data/a").unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].size, 9, "entries are replaced");
    assert_eq!(
        a[0].mtime_ns, 1_700_000_000_000_000_002,
        "nanosecond mtimes survive"
    );
}

/// Experiment names are unique; lookups by id and name agree.
pub fn experiments(store: &dyn MetadataStore) {
    let e = store.create_experiment("conf-exp", 10).unwrap();
    assert!(matches!(
        store.create_experiment("conf-exp", 11),
        Err(MetaError::AlreadyExists { .. })
    ));
    assert_eq!(store.experiment(e.id).unwrap(), e);
    assert_eq!(
        store.experiment_by_name("conf-exp").unwrap(),
        Some(e.clone())
    );
    assert!(store.experiments().unwrap().contains(&e));
    assert!(matches!(
        store.experiment(987_654),
        Err(MetaError::NotFound { .. })
    ));
    assert!(store.create_experiment("  ", 1).is_err());
}

/// Runs get unique sortable ids, record commit and dirty flag, and finish with a terminal status.
pub fn runs_lifecycle(store: &dyn MetadataStore) {
    let a = new_run(store, "conf-runs");
    let b = new_run(store, "conf-runs");
    assert_ne!(a.id, b.id);
    assert_eq!(a.id.len(), 32);
    assert_eq!(a.git_commit.as_deref(), Some("abc123"));
    assert_eq!(a.git_dirty, Some(false));
    assert_eq!(a.status, RunStatus::Running);
    assert!(
        store.finish_run(&a.id, RunStatus::Running, 5).is_err(),
        "RUNNING is not terminal"
    );
    store.finish_run(&a.id, RunStatus::Finished, 2_000).unwrap();
    let a = store.run(&a.id).unwrap();
    assert_eq!((a.status, a.end_ms), (RunStatus::Finished, Some(2_000)));
    let listed = store.runs(a.experiment_id).unwrap();
    assert_eq!(listed.len(), 2);
    assert!(matches!(
        store.create_run(&NewRun {
            experiment_id: 987_654,
            ..new_run_template()
        }),
        Err(MetaError::NotFound {
            what: "experiment",
            ..
        })
    ));
}

fn new_run_template() -> NewRun {
    NewRun {
        experiment_id: 0,
        name: "x".into(),
        origin: RunOrigin::Pipeline,
        status: RunStatus::Running,
        start_ms: 0,
        user: "u".into(),
        git_commit: None,
        git_dirty: None,
    }
}

/// Re-logging a param with the same value is fine; a different value is refused and nothing changes.
pub fn params_are_immutable(store: &dyn MetadataStore) {
    let run = new_run(store, "conf-params");
    store
        .log_params(
            &run.id,
            &[("lr".into(), "0.1".into()), ("depth".into(), "3".into())],
        )
        .unwrap();
    store
        .log_params(&run.id, &[("lr".into(), "0.1".into())])
        .unwrap();
    let err = store
        .log_params(
            &run.id,
            &[("seed".into(), "1".into()), ("lr".into(), "0.2".into())],
        )
        .unwrap_err();
    assert!(
        matches!(err, MetaError::ParamConflict { ref old, ref new, .. } if old == "0.1" && new == "0.2")
    );
    assert_eq!(
        store.params(&run.id).unwrap(),
        vec![
            ("depth".to_string(), "3".to_string()),
            ("lr".to_string(), "0.1".to_string())
        ],
        "a refused batch writes nothing (seed was not stored)"
    );
}

/// Metric points are appended (duplicates included), ordered by step; latest is by step.
pub fn metrics_are_append_only(store: &dyn MetadataStore) {
    let run = new_run(store, "conf-metrics");
    let point = |value: f64, step: i64, ts: i64| MetricPoint {
        key: "loss".into(),
        value,
        timestamp_ms: ts,
        step,
    };
    store
        .log_metrics(&run.id, &[point(0.9, 0, 10), point(0.5, 1, 20)])
        .unwrap();
    store
        .log_metrics(
            &run.id,
            &[point(0.5, 1, 20), point(f64::NAN, 2, 30), point(0.7, 1, 5)],
        )
        .unwrap();
    let history = store.metric_history(&run.id, "loss").unwrap();
    assert_eq!(
        history.len(),
        5,
        "every point is kept, even an identical one"
    );
    let steps: Vec<i64> = history.iter().map(|p| p.step).collect();
    assert_eq!(steps, [0, 1, 1, 1, 2]);
    assert!(history[4].value.is_nan(), "NaN survives");
    let latest = store.latest_metrics(&run.id).unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].step, 2);
    assert!(
        store
            .log_metrics(
                &run.id,
                &[MetricPoint {
                    key: String::new(),
                    ..point(1.0, 0, 0)
                }]
            )
            .is_err()
    );
}

/// Tags are editable, and every change (including deletes) is kept in their history.
pub fn tags_keep_history(store: &dyn MetadataStore) {
    let run = new_run(store, "conf-tags");
    store.set_tag(&run.id, "stage", "dev", 1).unwrap();
    store.set_tag(&run.id, "stage", "prod", 2).unwrap();
    store.set_tag(&run.id, "owner", "bob", 3).unwrap();
    store.delete_tag(&run.id, "owner", 4).unwrap();
    assert!(matches!(
        store.delete_tag(&run.id, "owner", 5),
        Err(MetaError::NotFound { .. })
    ));
    assert_eq!(
        store.tags(&run.id).unwrap(),
        vec![("stage".to_string(), "prod".to_string())]
    );
    let history = store.tag_history(&run.id).unwrap();
    let values: Vec<Option<&str>> = history.iter().map(|c| c.value.as_deref()).collect();
    assert_eq!(values, [Some("dev"), Some("prod"), Some("bob"), None]);
}

/// Inputs and outputs are recorded, found by digest, and count as gc roots.
pub fn run_io_and_lineage(store: &dyn MetadataStore) {
    let run = new_run(store, "conf-io");
    let data = Digest::of(b"conf input");
    let model = Digest::of(b"conf model");
    store
        .add_run_io(
            &run.id,
            &[
                RunIo {
                    digest: data,
                    role: IoRole::Input,
                    path: "data/raw.csv".into(),
                },
                RunIo {
                    digest: model,
                    role: IoRole::Output,
                    path: "model.json".into(),
                },
            ],
        )
        .unwrap();
    assert_eq!(store.run_io(&run.id).unwrap().len(), 2);
    let touching = store.runs_touching(&data).unwrap();
    assert_eq!(touching.len(), 1);
    assert_eq!(touching[0].0, run.id);
    assert_eq!(touching[0].1.role, IoRole::Input);
    let roots = store.referenced_digests().unwrap();
    assert!(roots.contains(&data) && roots.contains(&model));
}

/// Operations on an unknown run fail with `NotFound` naming the run, and write nothing.
pub fn unknown_run_is_not_found(store: &dyn MetadataStore) {
    let ghost = "0123456789abcdef0123456789abcdef";
    assert!(matches!(
        store.run(ghost),
        Err(MetaError::NotFound { what: "run", .. })
    ));
    let err = store
        .log_params(ghost, &[("a".into(), "b".into())])
        .unwrap_err();
    assert!(err.to_string().contains(ghost), "{err}");
    assert!(store.log_metrics(ghost, &[]).is_err());
    assert!(store.set_tag(ghost, "k", "v", 0).is_err());
    assert!(store.add_run_io(ghost, &[]).is_err());
}

/// A whole run is recorded in one go; a record naming an unknown experiment writes nothing.
pub fn record_run_is_atomic(store: &dyn MetadataStore) {
    let exp = store.create_experiment("conf-record", 1).unwrap();
    let output = Digest::of(b"conf recorded output");
    let record = RunRecord {
        run: NewRun {
            experiment_id: exp.id,
            ..new_run_template()
        },
        status: RunStatus::Finished,
        end_ms: 9,
        params: vec![("lr".into(), "0.1".into())],
        metrics: vec![MetricPoint {
            key: "auc".into(),
            value: 0.9,
            timestamp_ms: 9,
            step: 0,
        }],
        tags: vec![("slipway.stage".into(), "train".into())],
        io: vec![RunIo {
            digest: output,
            role: IoRole::Output,
            path: "model.json".into(),
        }],
    };
    let run = store.record_run(&record).unwrap();
    assert_eq!(run.status, RunStatus::Finished);
    assert_eq!(run.end_ms, Some(9));
    assert_eq!(store.params(&run.id).unwrap().len(), 1);
    assert_eq!(store.latest_metrics(&run.id).unwrap()[0].value, 0.9);
    assert_eq!(store.tags(&run.id).unwrap()[0].1, "train");
    assert_eq!(store.runs_touching(&output).unwrap()[0].0, run.id);

    let ghost = RunRecord {
        run: NewRun {
            experiment_id: 987_654,
            ..new_run_template()
        },
        io: vec![RunIo {
            digest: Digest::of(b"never recorded"),
            role: IoRole::Output,
            path: "x".into(),
        }],
        ..record.clone()
    };
    assert!(store.record_run(&ghost).is_err());
    assert!(
        store
            .runs_touching(&Digest::of(b"never recorded"))
            .unwrap()
            .is_empty()
    );
    let running = RunRecord {
        status: RunStatus::Running,
        ..record
    };
    assert!(
        store.record_run(&running).is_err(),
        "a recorded run has ended"
    );
}

// --- tracker ---

fn exp(store: &dyn MetadataStore, name: &str) -> i64 {
    match store.apply_one(WriteOp::CreateExperiment {
        name: name.into(),
        tags: vec![("team".into(), "risk".into())],
        at_ms: 1,
    }) {
        Ok(WriteOutcome::Experiment(id)) => id,
        other => panic!("create experiment {name}: {other:?}"),
    }
}

fn adhoc_run(store: &dyn MetadataStore, experiment_id: i64, start_ms: i64) -> Run {
    match store.apply_one(WriteOp::CreateRun {
        run: NewRun {
            experiment_id,
            name: format!("run-{start_ms}"),
            origin: RunOrigin::Adhoc,
            status: RunStatus::Running,
            start_ms,
            user: "alice".into(),
            git_commit: None,
            git_dirty: None,
        },
        tags: vec![("mlflow.runName".into(), format!("run-{start_ms}"))],
    }) {
        Ok(WriteOutcome::Run(run)) => run,
        other => panic!("create run: {other:?}"),
    }
}

fn batch(
    run_id: &str,
    metrics: &[(&str, f64, i64)],
    params: &[(&str, &str)],
    tags: &[(&str, &str)],
) -> WriteOp {
    WriteOp::LogBatch {
        run_id: run_id.into(),
        metrics: metrics
            .iter()
            .map(|(k, v, step)| MetricPoint {
                key: (*k).into(),
                value: *v,
                timestamp_ms: 100 + step,
                step: *step,
            })
            .collect(),
        params: params
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        at_ms: 5,
    }
}

/// `apply` commits every op that succeeds; a refused op writes nothing and leaves the rest alone.
pub fn batch_ops_succeed_or_fail_alone(store: &dyn MetadataStore) {
    let results = store
        .apply(&[
            WriteOp::CreateExperiment {
                name: "conf-batch".into(),
                tags: vec![],
                at_ms: 1,
            },
            WriteOp::CreateExperiment {
                name: "conf-batch".into(),
                tags: vec![("k".into(), "v".into())],
                at_ms: 2,
            },
            WriteOp::SetExperimentTag {
                id: 987_654,
                key: "k".into(),
                value: "v".into(),
            },
        ])
        .unwrap();
    assert_eq!(results.len(), 3);
    let Ok(WriteOutcome::Experiment(id)) = results[0] else {
        panic!("{:?}", results[0])
    };
    assert!(matches!(results[1], Err(MetaError::AlreadyExists { .. })));
    assert!(matches!(results[2], Err(MetaError::NotFound { .. })));
    assert!(store.experiment(id).is_ok());
    assert!(
        store.experiment_tags(id).unwrap().is_empty(),
        "the refused duplicate wrote no tags"
    );
    assert!(store.apply(&[]).unwrap().is_empty());
}

/// Experiments can be renamed, tagged, soft-deleted and restored; the default experiment 0 exists
/// and cannot be deleted; a deleted experiment takes no new runs.
pub fn experiments_update_tag_delete_restore(store: &dyn MetadataStore) {
    assert_eq!(store.experiment(0).unwrap().name, "Default");
    assert!(matches!(
        store.apply_one(WriteOp::SetExperimentDeleted {
            id: 0,
            deleted: true,
            at_ms: 1
        }),
        Err(MetaError::Invalid(_))
    ));
    let id = exp(store, "conf-exp-edit");
    assert_eq!(
        store.experiment_tags(id).unwrap(),
        vec![("team".to_string(), "risk".to_string())]
    );
    store
        .apply_one(WriteOp::SetExperimentTag {
            id,
            key: "team".into(),
            value: "ops".into(),
        })
        .unwrap();
    assert_eq!(store.experiment_tags(id).unwrap()[0].1, "ops");
    store
        .apply_one(WriteOp::RenameExperiment {
            id,
            name: "conf-exp-renamed".into(),
            at_ms: 9,
        })
        .unwrap();
    assert!(store.experiment_by_name("conf-exp-edit").unwrap().is_none());
    assert_eq!(store.experiment(id).unwrap().updated_ms, 9);
    exp(store, "conf-exp-other");
    assert!(matches!(
        store.apply_one(WriteOp::RenameExperiment {
            id,
            name: "conf-exp-other".into(),
            at_ms: 10
        }),
        Err(MetaError::AlreadyExists { .. })
    ));
    store
        .apply_one(WriteOp::SetExperimentDeleted {
            id,
            deleted: true,
            at_ms: 11,
        })
        .unwrap();
    assert_eq!(store.experiment(id).unwrap().lifecycle, "deleted");
    let refused = store.apply_one(WriteOp::CreateRun {
        run: NewRun {
            experiment_id: id,
            ..new_run_template()
        },
        tags: vec![],
    });
    assert!(matches!(refused, Err(MetaError::Invalid(_))), "{refused:?}");
    store
        .apply_one(WriteOp::SetExperimentDeleted {
            id,
            deleted: false,
            at_ms: 12,
        })
        .unwrap();
    assert_eq!(store.experiment(id).unwrap().lifecycle, "active");
    assert!(matches!(
        store.experiment_tags(987_654),
        Err(MetaError::NotFound { .. })
    ));
}

/// Runs change status, end time and name (the name also as `mlflow.runName`, with history);
/// a deleted run refuses writes until restored.
pub fn runs_update_delete_restore(store: &dyn MetadataStore) {
    let id = exp(store, "conf-run-edit");
    let run = adhoc_run(store, id, 1_000);
    assert_eq!(store.tags(&run.id).unwrap()[0].0, "mlflow.runName");
    store
        .apply_one(WriteOp::UpdateRun {
            run_id: run.id.clone(),
            status: Some(RunStatus::Finished),
            end_ms: Some(2_000),
            name: Some("renamed".into()),
            at_ms: 2_000,
        })
        .unwrap();
    let updated = store.run(&run.id).unwrap();
    assert_eq!(
        (updated.status, updated.end_ms, updated.name.as_str()),
        (RunStatus::Finished, Some(2_000), "renamed")
    );
    let names: Vec<Option<String>> = store
        .tag_history(&run.id)
        .unwrap()
        .into_iter()
        .filter(|c| c.key == "mlflow.runName")
        .map(|c| c.value)
        .collect();
    assert_eq!(
        names,
        [Some("run-1000".to_string()), Some("renamed".to_string())]
    );
    // Logging to a finished run is allowed, as in MLflow.
    store
        .apply_one(batch(&run.id, &[("late", 1.0, 0)], &[], &[]))
        .unwrap();
    store
        .apply_one(WriteOp::SetRunDeleted {
            run_id: run.id.clone(),
            deleted: true,
            at_ms: 3,
        })
        .unwrap();
    assert_eq!(store.run(&run.id).unwrap().lifecycle, "deleted");
    assert!(matches!(
        store.apply_one(batch(&run.id, &[("x", 1.0, 0)], &[], &[])),
        Err(MetaError::Invalid(_))
    ));
    assert!(store.metric_history(&run.id, "x").unwrap().is_empty());
    store
        .apply_one(WriteOp::SetRunDeleted {
            run_id: run.id.clone(),
            deleted: false,
            at_ms: 4,
        })
        .unwrap();
    store
        .apply_one(batch(&run.id, &[("x", 1.0, 0)], &[], &[]))
        .unwrap();
    assert_eq!(store.metric_history(&run.id, "x").unwrap().len(), 1);
    store
        .apply_one(WriteOp::DeleteTag {
            run_id: run.id.clone(),
            key: "mlflow.runName".into(),
            at_ms: 5,
        })
        .unwrap();
    assert!(matches!(
        store.apply_one(WriteOp::DeleteTag {
            run_id: run.id.clone(),
            key: "mlflow.runName".into(),
            at_ms: 6
        }),
        Err(MetaError::NotFound { .. })
    ));
    assert!(matches!(
        store.apply_one(WriteOp::UpdateRun {
            run_id: "0123456789abcdef0123456789abcdef".into(),
            status: None,
            end_ms: None,
            name: None,
            at_ms: 0
        }),
        Err(MetaError::NotFound { what: "run", .. })
    ));
}

/// A batch with a conflicting param writes none of its metrics, params or tags.
pub fn log_batch_is_all_or_nothing(store: &dyn MetadataStore) {
    let id = exp(store, "conf-batch-atomic");
    let run = adhoc_run(store, id, 1);
    store
        .apply_one(batch(&run.id, &[], &[("lr", "0.1")], &[]))
        .unwrap();
    let err = store
        .apply_one(batch(
            &run.id,
            &[("loss", 0.5, 1)],
            &[("seed", "7"), ("lr", "0.2")],
            &[("t", "v")],
        ))
        .unwrap_err();
    assert!(matches!(err, MetaError::ParamConflict { .. }), "{err:?}");
    assert!(store.metric_history(&run.id, "loss").unwrap().is_empty());
    assert_eq!(store.params(&run.id).unwrap().len(), 1);
    assert!(!store.tags(&run.id).unwrap().iter().any(|(k, _)| k == "t"));
}

/// The latest value of a metric is the point with the highest step, then timestamp, then
/// arrival; history is ordered by step whatever the arrival order.
pub fn latest_metric_is_by_step_then_time(store: &dyn MetadataStore) {
    let id = exp(store, "conf-latest");
    let run = adhoc_run(store, id, 1);
    store
        .apply(&[
            batch(&run.id, &[("acc", 0.5, 5), ("acc", 0.1, 1)], &[], &[]),
            batch(
                &run.id,
                &[("acc", 0.7, 5), ("acc", 0.2, 2), ("loss", f64::NAN, 0)],
                &[],
                &[],
            ),
        ])
        .unwrap()
        .into_iter()
        .for_each(|r| {
            r.unwrap();
        });
    let latest = store.latest_metrics(&run.id).unwrap();
    assert_eq!(latest.len(), 2);
    assert_eq!(
        (latest[0].key.as_str(), latest[0].value, latest[0].step),
        ("acc", 0.7, 5)
    );
    assert!(latest[1].value.is_nan());
    let steps: Vec<i64> = store
        .metric_history(&run.id, "acc")
        .unwrap()
        .iter()
        .map(|p| p.step)
        .collect();
    assert_eq!(steps, [1, 2, 5, 5]);
}

/// Dataset inputs (deduplicated per experiment) and model inputs/outputs show up in run details.
pub fn inputs_and_outputs_are_recorded(store: &dyn MetadataStore) {
    let id = exp(store, "conf-inputs");
    let run = adhoc_run(store, id, 1);
    let dataset = DatasetInput {
        name: "train".into(),
        digest: "abc123".into(),
        source_type: "local".into(),
        source: "{\"uri\": \"data.csv\"}".into(),
        schema: Some("{}".into()),
        profile: None,
        tags: vec![("mlflow.data.context".into(), "training".into())],
    };
    for _ in 0..2 {
        store
            .apply_one(WriteOp::LogInputs {
                run_id: run.id.clone(),
                datasets: vec![dataset.clone()],
                models: vec!["m-in".into()],
            })
            .unwrap();
    }
    store
        .apply_one(WriteOp::LogOutputs {
            run_id: run.id.clone(),
            models: vec![("m-out".into(), 3)],
        })
        .unwrap();
    let detail = store
        .run_details(std::slice::from_ref(&run.id))
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(detail.datasets, vec![dataset]);
    let models: Vec<(&str, IoRole, i64)> = detail
        .models
        .iter()
        .map(|m| (m.model_id.as_str(), m.role, m.step))
        .collect();
    assert_eq!(
        models,
        [("m-in", IoRole::Input, 0), ("m-out", IoRole::Output, 3)]
    );
    assert!(matches!(
        store.apply_one(WriteOp::LogInputs {
            run_id: run.id.clone(),
            datasets: vec![DatasetInput {
                digest: String::new(),
                ..detail.datasets[0].clone()
            }],
            models: vec![]
        }),
        Err(MetaError::Invalid(_))
    ));
}

/// Search applies every clause kind, orders (missing values last, ties by start time), pages,
/// and respects the lifecycle view.
pub fn run_search_filters_orders_and_pages(store: &dyn MetadataStore) {
    let id = exp(store, "conf-search");
    let mut runs = Vec::new();
    for i in 0..6i64 {
        let run = adhoc_run(store, id, 1_000 + i);
        let lr = if i % 2 == 0 { "0.01" } else { "0.1" };
        let mut metrics = vec![("auc", 0.5 + i as f64 / 10.0, 0)];
        if i == 5 {
            metrics.clear();
        }
        store
            .apply_one(batch(
                &run.id,
                &metrics,
                &[("lr", lr)],
                &[("Team", if i < 3 { "Risk" } else { "ops" })],
            ))
            .unwrap();
        runs.push(run.id);
    }
    let search = |filter: &str, order: &[&str], offset: u64, limit: u64, view: ViewType| {
        let query = RunQuery {
            experiment_ids: vec![id],
            filter: slipway_core::search::Filter::parse(filter)
                .unwrap()
                .check(&slipway_core::search::RUNS)
                .unwrap(),
            order_by: order
                .iter()
                .map(|o| {
                    slipway_core::search::OrderBy::parse(o, &slipway_core::search::RUNS).unwrap()
                })
                .collect(),
            view,
            offset,
            limit,
        };
        store.search_runs(&query).unwrap()
    };
    let all = ViewType::ActiveOnly;
    assert_eq!(
        search("", &[], 0, 100, all),
        runs.iter().rev().cloned().collect::<Vec<_>>(),
        "newest first"
    );
    assert_eq!(
        search(
            "metrics.auc > 0.6 and params.lr = '0.01'",
            &["metrics.auc DESC"],
            0,
            100,
            all
        ),
        [runs[4].clone(), runs[2].clone()]
    );
    assert_eq!(
        search("", &["metrics.auc ASC"], 0, 100, all).last(),
        Some(&runs[5]),
        "runs without the metric sort last"
    );
    assert_eq!(
        search("", &["metrics.auc DESC"], 1, 2, all),
        [runs[3].clone(), runs[2].clone()]
    );
    assert_eq!(search("tags.Team LIKE 'R%'", &[], 0, 100, all).len(), 3);
    assert_eq!(
        search("tags.Team LIKE 'r%'", &[], 0, 100, all).len(),
        0,
        "LIKE is case-sensitive"
    );
    assert_eq!(search("tags.Team ILIKE 'r%'", &[], 0, 100, all).len(), 3);
    assert_eq!(
        search("params.lr IN ('0.1', '9')", &[], 0, 100, all).len(),
        3
    );
    assert_eq!(
        search("params.lr NOT IN ('0.1')", &[], 0, 100, all).len(),
        3
    );
    assert_eq!(search("params.lr != '0.1'", &[], 0, 100, all).len(), 3);
    assert_eq!(
        search(
            &format!("attributes.run_id = '{}'", runs[1]),
            &[],
            0,
            100,
            all
        ),
        [runs[1].clone()]
    );
    assert_eq!(
        search("attributes.start_time >= 1004", &[], 0, 100, all).len(),
        2
    );
    assert_eq!(
        search(
            "attributes.status = 'RUNNING' and run_name = 'run-1003'",
            &[],
            0,
            100,
            all
        )
        .len(),
        1
    );
    assert_eq!(
        search(
            "",
            &["params.lr ASC", "attributes.start_time ASC"],
            0,
            100,
            all
        )[0],
        runs[0]
    );
    store
        .apply_one(WriteOp::SetRunDeleted {
            run_id: runs[0].clone(),
            deleted: true,
            at_ms: 1,
        })
        .unwrap();
    assert_eq!(search("", &[], 0, 100, all).len(), 5);
    assert_eq!(
        search("", &[], 0, 100, ViewType::DeletedOnly),
        [runs[0].clone()]
    );
    assert_eq!(search("", &[], 0, 100, ViewType::All).len(), 6);
    store
        .apply_one(WriteOp::LogInputs {
            run_id: runs[1].clone(),
            datasets: vec![DatasetInput {
                name: "train".into(),
                digest: "d1".into(),
                source_type: "local".into(),
                source: "{}".into(),
                schema: None,
                profile: None,
                tags: vec![("mlflow.data.context".into(), "training".into())],
            }],
            models: vec![],
        })
        .unwrap();
    assert_eq!(
        search("datasets.name = 'train'", &[], 0, 100, all),
        [runs[1].clone()]
    );
    assert_eq!(
        search("datasets.context = 'training'", &[], 0, 100, all).len(),
        1
    );
}

/// Run details come back in the order asked, with unknown ids left out.
pub fn run_details_keep_order(store: &dyn MetadataStore) {
    let id = exp(store, "conf-details");
    let a = adhoc_run(store, id, 1);
    let b = adhoc_run(store, id, 2);
    store
        .apply_one(batch(&a.id, &[("m", 1.0, 0)], &[("p", "1")], &[]))
        .unwrap();
    let details = store
        .run_details(&[b.id.clone(), "nope".into(), a.id.clone()])
        .unwrap();
    assert_eq!(details.len(), 2);
    assert_eq!(details[0].run.id, b.id);
    assert_eq!(details[1].params, vec![("p".to_string(), "1".to_string())]);
    assert_eq!(details[1].metrics[0].key, "m");
    assert!(store.run_details(&[]).unwrap().is_empty());
}

/// The artifact index maps paths to digests; replaced and deleted entries stay gc roots.
pub fn artifact_index_keeps_history(store: &dyn MetadataStore) {
    let file = |path: &str, bytes: &[u8]| ArtifactFile {
        path: path.into(),
        digest: Digest::of(bytes),
        size: bytes.len() as u64,
        at_ms: 7,
    };
    for f in [
        file("conf/run/artifacts/a.txt", b"one"),
        file("conf/run/artifacts/dir/b.txt", b"two"),
        file("conf/run/artifacts-other/c.txt", b"three"),
    ] {
        store
            .apply_one(WriteOp::PutArtifactFile { file: f })
            .unwrap();
    }
    let under: Vec<String> = store
        .artifact_files("conf/run/artifacts")
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(
        under,
        ["conf/run/artifacts/a.txt", "conf/run/artifacts/dir/b.txt"]
    );
    store
        .apply_one(WriteOp::PutArtifactFile {
            file: file("conf/run/artifacts/a.txt", b"one v2"),
        })
        .unwrap();
    assert_eq!(
        store
            .artifact_file("conf/run/artifacts/a.txt")
            .unwrap()
            .unwrap()
            .digest,
        Digest::of(b"one v2")
    );
    let roots = store.referenced_digests().unwrap();
    assert!(roots.contains(&Digest::of(b"one")) && roots.contains(&Digest::of(b"one v2")));
    store
        .apply_one(WriteOp::DeleteArtifactFiles {
            path: "conf/run/artifacts/dir".into(),
            at_ms: 8,
        })
        .unwrap();
    assert!(
        store
            .artifact_file("conf/run/artifacts/dir/b.txt")
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .referenced_digests()
            .unwrap()
            .contains(&Digest::of(b"two"))
    );
    assert!(matches!(
        store.apply_one(WriteOp::DeleteArtifactFiles {
            path: "conf/none".into(),
            at_ms: 9
        }),
        Err(MetaError::NotFound { .. })
    ));
}

/// Logged models are created pending, finalised, tagged, listed per experiment and soft-deleted.
pub fn logged_models_lifecycle(store: &dyn MetadataStore) {
    let id = exp(store, "conf-models");
    let run = adhoc_run(store, id, 1);
    let created = store
        .apply_one(WriteOp::CreateLoggedModel {
            model: NewLoggedModel {
                experiment_id: id,
                name: "model".into(),
                source_run_id: Some(run.id.clone()),
                model_type: Some("pyfunc".into()),
                status: "LOGGED_MODEL_PENDING".into(),
                tags: vec![("a".into(), "1".into())],
                params: vec![("p".into(), "2".into())],
                at_ms: 10,
            },
        })
        .unwrap();
    let WriteOutcome::LoggedModel(model) = created else {
        panic!("{created:?}")
    };
    assert!(
        model.id.starts_with("m-") && model.id.len() == 34,
        "{}",
        model.id
    );
    assert_eq!(model.params, vec![("p".to_string(), "2".to_string())]);
    store
        .apply(&[
            WriteOp::SetLoggedModelStatus {
                id: model.id.clone(),
                status: "LOGGED_MODEL_READY".into(),
                at_ms: 11,
            },
            WriteOp::SetLoggedModelTags {
                id: model.id.clone(),
                tags: vec![("b".into(), "2".into())],
                at_ms: 12,
            },
            WriteOp::DeleteLoggedModelTag {
                id: model.id.clone(),
                key: "a".into(),
            },
        ])
        .unwrap()
        .into_iter()
        .for_each(|r| {
            r.unwrap();
        });
    let got = store.logged_model(&model.id).unwrap();
    assert_eq!(got.status, "LOGGED_MODEL_READY");
    assert_eq!(got.updated_ms, 12);
    assert_eq!(got.tags, vec![("b".to_string(), "2".to_string())]);
    assert_eq!(store.logged_models(&[id]).unwrap(), vec![got]);
    store
        .apply_one(WriteOp::DeleteLoggedModel {
            id: model.id.clone(),
            at_ms: 13,
        })
        .unwrap();
    assert_eq!(store.logged_model(&model.id).unwrap().lifecycle, "deleted");
    assert!(matches!(
        store.logged_model("m-none"),
        Err(MetaError::NotFound { .. })
    ));
    assert!(matches!(
        store.apply_one(WriteOp::DeleteLoggedModelTag {
            id: model.id.clone(),
            key: "zz".into()
        }),
        Err(MetaError::NotFound { .. })
    ));
}
