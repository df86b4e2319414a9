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
