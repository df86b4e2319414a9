//! The tracker's writes and reads on SQLite: every write is a function over an open transaction,
//! so one write path serves both single calls and group-committed batches.

use super::super::*;
use super::{RUN_COLUMNS, SqliteStore, conversion, parse_digest, run_from_row};
use rusqlite::{Connection, OptionalExtension, params};
use slipway_core::tracking::{IoRole, MetricPoint};
use std::collections::HashMap;

/// `(key, value)` pairs as JSON text, for `IN (SELECT value FROM json_each(?))` lists.
fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).expect("lists of strings and numbers serialize")
}

impl SqliteStore {
    /// Applies `ops` in one transaction. Each op runs inside its own savepoint, so a refused op
    /// is rolled back alone; the commit (one fsync) covers the whole batch.
    pub(super) fn apply_ops(&self, ops: &[WriteOp]) -> MetaResult<Vec<MetaResult<WriteOutcome>>> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let mut results = Vec::with_capacity(ops.len());
        if let [op] = ops {
            // A single op needs no savepoint: the transaction is its boundary.
            let result = self.apply_op(&tx, op);
            if result.is_err() {
                drop(tx); // rolls back
                return Ok(vec![result]);
            }
            results.push(result);
        } else {
            for op in ops {
                tx.prepare_cached("SAVEPOINT op")
                    .and_then(|mut s| s.execute([]))
                    .map_err(|e| self.err(e))?;
                let result = self.apply_op(&tx, op);
                if result.is_err() {
                    tx.prepare_cached("ROLLBACK TO op")
                        .and_then(|mut s| s.execute([]))
                        .map_err(|e| self.err(e))?;
                }
                tx.prepare_cached("RELEASE op")
                    .and_then(|mut s| s.execute([]))
                    .map_err(|e| self.err(e))?;
                results.push(result);
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(results)
    }

    fn apply_op(&self, tx: &Connection, op: &WriteOp) -> MetaResult<WriteOutcome> {
        match op {
            WriteOp::CreateExperiment { name, tags, at_ms } => {
                let id = self.create_experiment_tx(tx, name, *at_ms)?;
                for (key, value) in tags {
                    self.set_experiment_tag_tx(tx, id, key, value)?;
                }
                Ok(WriteOutcome::Experiment(id))
            }
            WriteOp::RenameExperiment { id, name, at_ms } => {
                self.require_experiment(tx, *id)?;
                if name.trim().is_empty() {
                    return Err(MetaError::Invalid(
                        "experiment name must not be empty".into(),
                    ));
                }
                let taken: Option<i64> = tx
                    .query_row(
                        "SELECT id FROM experiments WHERE name = ?1 AND id != ?2",
                        params![name, id],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(|e| self.err(e))?;
                if taken.is_some() {
                    return Err(MetaError::AlreadyExists {
                        what: "experiment",
                        id: name.clone(),
                    });
                }
                tx.execute(
                    "UPDATE experiments SET name = ?2, updated_ms = ?3 WHERE id = ?1",
                    params![id, name, at_ms],
                )
                .map_err(|e| self.err(e))?;
                Ok(WriteOutcome::Done)
            }
            WriteOp::SetExperimentDeleted { id, deleted, at_ms } => {
                self.require_experiment(tx, *id)?;
                if *id == 0 && *deleted {
                    return Err(MetaError::Invalid(
                        "the default experiment (id 0) cannot be deleted".into(),
                    ));
                }
                let lifecycle = if *deleted { "deleted" } else { "active" };
                tx.execute(
                    "UPDATE experiments SET lifecycle = ?2, updated_ms = ?3 WHERE id = ?1",
                    params![id, lifecycle, at_ms],
                )
                .map_err(|e| self.err(e))?;
                Ok(WriteOutcome::Done)
            }
            WriteOp::SetExperimentTag { id, key, value } => {
                self.require_experiment(tx, *id)?;
                self.set_experiment_tag_tx(tx, *id, key, value)?;
                Ok(WriteOutcome::Done)
            }
            WriteOp::CreateRun { run, tags } => {
                let id = self.create_run_tx(tx, run)?;
                for (key, value) in tags {
                    self.set_tag_tx(tx, &id, key, value, run.start_ms)?;
                }
                let run = tx
                    .query_row(
                        &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                        [&id],
                        run_from_row,
                    )
                    .map_err(|e| self.err(e))?;
                let payload = serde_json::json!({"experiment_id": run.experiment_id, "name": run.name,
                    "origin": run.origin.as_str(), "status": run.status.as_str()});
                self.audit_tx(tx, &run.user, "run.create", &run.id, &payload, run.start_ms)?;
                Ok(WriteOutcome::Run(run))
            }
            WriteOp::UpdateRun {
                run_id,
                status,
                end_ms,
                name,
                at_ms,
            } => {
                self.require_active_run(tx, run_id)?;
                if let Some(status) = status {
                    tx.execute(
                        "UPDATE runs SET status = ?2 WHERE id = ?1",
                        params![run_id, status.as_str()],
                    )
                    .map_err(|e| self.err(e))?;
                    if status.is_terminal() {
                        let user: String = tx
                            .query_row("SELECT user_name FROM runs WHERE id = ?1", [run_id], |r| {
                                r.get(0)
                            })
                            .map_err(|e| self.err(e))?;
                        let payload =
                            serde_json::json!({"status": status.as_str(), "end_ms": end_ms});
                        self.audit_tx(tx, &user, "run.finish", run_id, &payload, *at_ms)?;
                    }
                }
                if let Some(end_ms) = end_ms {
                    tx.execute(
                        "UPDATE runs SET end_ms = ?2 WHERE id = ?1",
                        params![run_id, end_ms],
                    )
                    .map_err(|e| self.err(e))?;
                }
                if let Some(name) = name.as_ref().filter(|n| !n.is_empty()) {
                    tx.execute(
                        "UPDATE runs SET name = ?2 WHERE id = ?1",
                        params![run_id, name],
                    )
                    .map_err(|e| self.err(e))?;
                    self.set_tag_tx(tx, run_id, "mlflow.runName", name, *at_ms)?;
                }
                Ok(WriteOutcome::Done)
            }
            WriteOp::SetRunDeleted {
                run_id,
                deleted,
                at_ms,
            } => {
                self.require_run(tx, run_id)?;
                let (lifecycle, when) = if *deleted {
                    ("deleted", Some(*at_ms))
                } else {
                    ("active", None)
                };
                tx.execute(
                    "UPDATE runs SET lifecycle = ?2, deleted_ms = ?3 WHERE id = ?1",
                    params![run_id, lifecycle, when],
                )
                .map_err(|e| self.err(e))?;
                let action = if *deleted {
                    "run.delete"
                } else {
                    "run.restore"
                };
                self.audit_tx(tx, "api", action, run_id, &serde_json::json!({}), *at_ms)?;
                Ok(WriteOutcome::Done)
            }
            WriteOp::LogBatch {
                run_id,
                metrics,
                params,
                tags,
                at_ms,
            } => {
                self.require_active_run(tx, run_id)?;
                self.log_params_tx(tx, run_id, params)?;
                self.log_metrics_tx(tx, run_id, metrics)?;
                for (key, value) in tags {
                    self.set_tag_tx(tx, run_id, key, value, *at_ms)?;
                }
                Ok(WriteOutcome::Done)
            }
            WriteOp::DeleteTag { run_id, key, at_ms } => {
                self.require_active_run(tx, run_id)?;
                self.delete_tag_tx(tx, run_id, key, *at_ms)?;
                Ok(WriteOutcome::Done)
            }
            WriteOp::LogInputs {
                run_id,
                datasets,
                models,
            } => {
                let experiment_id = self.require_active_run(tx, run_id)?;
                for d in datasets {
                    self.log_dataset_tx(tx, run_id, experiment_id, d)?;
                }
                for model in models {
                    self.add_run_model_tx(tx, run_id, model, IoRole::Input, 0)?;
                }
                Ok(WriteOutcome::Done)
            }
            WriteOp::LogOutputs { run_id, models } => {
                self.require_active_run(tx, run_id)?;
                for (model, step) in models {
                    self.add_run_model_tx(tx, run_id, model, IoRole::Output, *step)?;
                }
                Ok(WriteOutcome::Done)
            }
            WriteOp::PutArtifactFile { file } => {
                self.put_artifact_file_tx(tx, file)?;
                Ok(WriteOutcome::Done)
            }
            WriteOp::DeleteArtifactFiles { path, at_ms } => {
                let files = self.artifact_files_tx(tx, path)?;
                if files.is_empty() {
                    return Err(MetaError::NotFound {
                        what: "artifact",
                        id: path.clone(),
                    });
                }
                for f in files {
                    self.retire_artifact_file_tx(tx, &f, *at_ms)?;
                    tx.execute("DELETE FROM artifact_files WHERE path = ?1", [&f.path])
                        .map_err(|e| self.err(e))?;
                }
                Ok(WriteOutcome::Done)
            }
            WriteOp::CreateLoggedModel { model } => {
                let id = self.create_logged_model_tx(tx, model)?;
                Ok(WriteOutcome::LoggedModel(self.logged_model_tx(tx, &id)?))
            }
            WriteOp::SetLoggedModelStatus { id, status, at_ms } => {
                self.require_logged_model(tx, id)?;
                tx.execute(
                    "UPDATE logged_models SET status = ?2, updated_ms = ?3 WHERE id = ?1",
                    params![id, status, at_ms],
                )
                .map_err(|e| self.err(e))?;
                Ok(WriteOutcome::Done)
            }
            WriteOp::SetLoggedModelTags { id, tags, at_ms } => {
                self.require_logged_model(tx, id)?;
                for (key, value) in tags {
                    check_key("tag", key)?;
                    tx.execute(
                        "INSERT INTO logged_model_tags (model_id, key, value) VALUES (?1, ?2, ?3)
                         ON CONFLICT(model_id, key) DO UPDATE SET value = excluded.value",
                        params![id, key, value],
                    )
                    .map_err(|e| self.err(e))?;
                }
                tx.execute(
                    "UPDATE logged_models SET updated_ms = ?2 WHERE id = ?1",
                    params![id, at_ms],
                )
                .map_err(|e| self.err(e))?;
                Ok(WriteOutcome::Done)
            }
            WriteOp::DeleteLoggedModelTag { id, key } => {
                self.require_logged_model(tx, id)?;
                let n = tx
                    .execute(
                        "DELETE FROM logged_model_tags WHERE model_id = ?1 AND key = ?2",
                        params![id, key],
                    )
                    .map_err(|e| self.err(e))?;
                if n == 0 {
                    return Err(MetaError::NotFound {
                        what: "logged model tag",
                        id: format!("{key} (model {id})"),
                    });
                }
                Ok(WriteOutcome::Done)
            }
            WriteOp::DeleteLoggedModel { id, at_ms } => {
                self.require_logged_model(tx, id)?;
                tx.execute(
                    "UPDATE logged_models SET lifecycle = 'deleted', updated_ms = ?2 WHERE id = ?1",
                    params![id, at_ms],
                )
                .map_err(|e| self.err(e))?;
                Ok(WriteOutcome::Done)
            }
        }
    }

    // --- shared write steps ---

    pub(super) fn create_experiment_tx(
        &self,
        tx: &Connection,
        name: &str,
        at_ms: i64,
    ) -> MetaResult<i64> {
        if name.trim().is_empty() {
            return Err(MetaError::Invalid(
                "experiment name must not be empty".into(),
            ));
        }
        let exists: Option<i64> = tx
            .query_row("SELECT id FROM experiments WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        if exists.is_some() {
            return Err(MetaError::AlreadyExists {
                what: "experiment",
                id: name.to_string(),
            });
        }
        tx.execute(
            "INSERT INTO experiments (name, created_ms, updated_ms) VALUES (?1, ?2, ?2)",
            params![name, at_ms],
        )
        .map_err(|e| self.err(e))?;
        Ok(tx.last_insert_rowid())
    }

    fn set_experiment_tag_tx(
        &self,
        tx: &Connection,
        id: i64,
        key: &str,
        value: &str,
    ) -> MetaResult<()> {
        check_key("tag", key)?;
        tx.execute(
            "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT(experiment_id, key) DO UPDATE SET value = excluded.value",
            params![id, key, value],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub(super) fn create_run_tx(&self, tx: &Connection, run: &NewRun) -> MetaResult<String> {
        let lifecycle: Option<String> = tx
            .query_row(
                "SELECT lifecycle FROM experiments WHERE id = ?1",
                [run.experiment_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        match lifecycle.as_deref() {
            None => {
                return Err(MetaError::NotFound {
                    what: "experiment",
                    id: run.experiment_id.to_string(),
                });
            }
            Some("deleted") => {
                return Err(MetaError::Invalid(format!(
                    "experiment {} is deleted; restore it before creating runs in it",
                    run.experiment_id
                )));
            }
            Some(_) => {}
        }
        let id = uuid::Uuid::now_v7().simple().to_string();
        tx.execute(
            "INSERT INTO runs (id, experiment_id, name, origin, status, start_ms, user_name, git_commit, git_dirty)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                id,
                run.experiment_id,
                run.name,
                run.origin.as_str(),
                run.status.as_str(),
                run.start_ms,
                run.user,
                run.git_commit,
                run.git_dirty.map(i64::from)
            ],
        )
        .map_err(|e| self.err(e))?;
        Ok(id)
    }

    pub(super) fn log_params_tx(
        &self,
        tx: &Connection,
        run_id: &str,
        params: &[(String, String)],
    ) -> MetaResult<()> {
        let mut select = tx
            .prepare_cached("SELECT value FROM params WHERE run_id = ?1 AND key = ?2")
            .map_err(|e| self.err(e))?;
        let mut insert = tx
            .prepare_cached("INSERT INTO params (run_id, key, value) VALUES (?1, ?2, ?3)")
            .map_err(|e| self.err(e))?;
        for (key, value) in params {
            check_key("param", key)?;
            let old: Option<String> = select
                .query_row([run_id, key], |r| r.get(0))
                .optional()
                .map_err(|e| self.err(e))?;
            match old {
                Some(old) if &old == value => {}
                Some(old) => {
                    return Err(MetaError::ParamConflict {
                        run_id: run_id.to_string(),
                        key: key.clone(),
                        old,
                        new: value.clone(),
                    });
                }
                None => {
                    insert
                        .execute([run_id, key, value])
                        .map_err(|e| self.err(e))?;
                }
            }
        }
        Ok(())
    }

    /// Appends points. Points are grouped by key so each series is looked up and updated once
    /// per call, however many points it gets.
    pub(super) fn log_metrics_tx(
        &self,
        tx: &Connection,
        run_id: &str,
        points: &[MetricPoint],
    ) -> MetaResult<()> {
        if points.is_empty() {
            return Ok(());
        }
        let mut by_key: Vec<(&str, Vec<&MetricPoint>)> = Vec::new();
        for p in points {
            check_key("metric", &p.key)?;
            match by_key.iter_mut().find(|(k, _)| *k == p.key) {
                Some((_, list)) => list.push(p),
                None => by_key.push((&p.key, vec![p])),
            }
        }
        let mut find = tx
            .prepare_cached(
                "SELECT id, points, last_step, last_ts, last_seq FROM metric_series
                 WHERE run_id = ?1 AND key = ?2",
            )
            .map_err(|e| self.err(e))?;
        let mut create = tx
            .prepare_cached(
                "INSERT INTO metric_series (run_id, key, points, last_step, last_ts, last_seq, last_value, last_is_nan)
                 VALUES (?1, ?2, 0, 0, 0, -1, NULL, 0)",
            )
            .map_err(|e| self.err(e))?;
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO metric_chunks (series, first_seq, count, step, timestamp_ms, value, packed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(|e| self.err(e))?;
        let mut update = tx
            .prepare_cached(
                "UPDATE metric_series SET points = ?2, last_step = ?3, last_ts = ?4, last_seq = ?5,
                        last_value = ?6, last_is_nan = ?7 WHERE id = ?1",
            )
            .map_err(|e| self.err(e))?;
        for (key, list) in by_key {
            let found: Option<(i64, i64, i64, i64, i64)> = find
                .query_row([run_id, key], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()
                .map_err(|e| self.err(e))?;
            let (series, mut next_seq, mut last_step, mut last_ts, mut last_seq) = match found {
                Some(row) => row,
                None => {
                    create.execute([run_id, key]).map_err(|e| self.err(e))?;
                    (tx.last_insert_rowid(), 0, i64::MIN, i64::MIN, -1)
                }
            };
            let mut last: Option<&MetricPoint> = None;
            let first_seq = next_seq;
            for p in &list {
                // The newest sequence number wins ties, so "latest" is (step, timestamp, seq).
                if (p.step, p.timestamp_ms) >= (last_step, last_ts) {
                    (last_step, last_ts, last_seq) = (p.step, p.timestamp_ms, next_seq);
                    last = Some(p);
                }
                next_seq += 1;
            }
            // One row per chunk of at most CHUNK_POINTS points (see the schema).
            let mut seq = first_seq;
            for chunk in list.chunks(CHUNK_POINTS) {
                if let [p] = chunk {
                    insert
                        .execute(params![
                            series,
                            seq,
                            1,
                            p.step,
                            p.timestamp_ms,
                            stored_value(p.value),
                            None::<Vec<u8>>
                        ])
                        .map_err(|e| self.err(e))?;
                } else {
                    let mut packed = Vec::with_capacity(chunk.len() * POINT_BYTES);
                    for p in chunk {
                        packed.extend_from_slice(&p.step.to_le_bytes());
                        packed.extend_from_slice(&p.timestamp_ms.to_le_bytes());
                        packed.extend_from_slice(&p.value.to_bits().to_le_bytes());
                    }
                    insert
                        .execute(params![
                            series,
                            seq,
                            chunk.len() as i64,
                            None::<i64>,
                            None::<i64>,
                            None::<f64>,
                            packed
                        ])
                        .map_err(|e| self.err(e))?;
                }
                seq += chunk.len() as i64;
            }
            match last {
                Some(p) => {
                    let value = stored_value(p.value);
                    update
                        .execute(params![
                            series,
                            next_seq,
                            last_step,
                            last_ts,
                            last_seq,
                            value,
                            value.is_none()
                        ])
                        .map_err(|e| self.err(e))?;
                }
                None => {
                    tx.execute(
                        "UPDATE metric_series SET points = ?2 WHERE id = ?1",
                        params![series, next_seq],
                    )
                    .map_err(|e| self.err(e))?;
                }
            }
        }
        Ok(())
    }

    pub(super) fn set_tag_tx(
        &self,
        tx: &Connection,
        run_id: &str,
        key: &str,
        value: &str,
        at_ms: i64,
    ) -> MetaResult<()> {
        check_key("tag", key)?;
        tx.prepare_cached(
            "INSERT INTO tags (run_id, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT(run_id, key) DO UPDATE SET value = excluded.value",
        )
        .and_then(|mut s| s.execute([run_id, key, value]))
        .map_err(|e| self.err(e))?;
        tx.prepare_cached(
            "INSERT INTO tag_history (run_id, key, value, at_ms) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| s.execute(params![run_id, key, value, at_ms]))
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub(super) fn delete_tag_tx(
        &self,
        tx: &Connection,
        run_id: &str,
        key: &str,
        at_ms: i64,
    ) -> MetaResult<()> {
        let n = tx
            .execute(
                "DELETE FROM tags WHERE run_id = ?1 AND key = ?2",
                [run_id, key],
            )
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(MetaError::NotFound {
                what: "tag",
                id: format!("{key} (run {run_id})"),
            });
        }
        tx.execute(
            "INSERT INTO tag_history (run_id, key, value, at_ms) VALUES (?1, ?2, NULL, ?3)",
            params![run_id, key, at_ms],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn log_dataset_tx(
        &self,
        tx: &Connection,
        run_id: &str,
        experiment_id: i64,
        d: &DatasetInput,
    ) -> MetaResult<()> {
        if d.name.is_empty() || d.digest.is_empty() {
            return Err(MetaError::Invalid(
                "a dataset needs a name and a digest".into(),
            ));
        }
        tx.execute(
            "INSERT OR IGNORE INTO datasets (experiment_id, name, digest, source_type, source, schema, profile)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![experiment_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile],
        )
        .map_err(|e| self.err(e))?;
        let dataset_id: i64 = tx
            .query_row(
                "SELECT id FROM datasets WHERE experiment_id = ?1 AND name = ?2 AND digest = ?3",
                params![experiment_id, d.name, d.digest],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        let tags: serde_json::Map<String, serde_json::Value> = d
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        // A dataset logged again to the same run keeps its first record: nothing is overwritten.
        tx.execute(
            "INSERT OR IGNORE INTO run_datasets (run_id, dataset_id, tags) VALUES (?1, ?2, ?3)",
            params![
                run_id,
                dataset_id,
                serde_json::Value::Object(tags).to_string()
            ],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn add_run_model_tx(
        &self,
        tx: &Connection,
        run_id: &str,
        model_id: &str,
        role: IoRole,
        step: i64,
    ) -> MetaResult<()> {
        if model_id.is_empty() {
            return Err(MetaError::Invalid("model id must not be empty".into()));
        }
        tx.execute(
            "INSERT OR IGNORE INTO run_models (run_id, role, model_id, step) VALUES (?1, ?2, ?3, ?4)",
            params![run_id, role.as_str(), model_id, step],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn put_artifact_file_tx(&self, tx: &Connection, file: &ArtifactFile) -> MetaResult<()> {
        if let Some(old) = self.artifact_file_tx(tx, &file.path)? {
            if old.digest == file.digest {
                return Ok(());
            }
            self.retire_artifact_file_tx(tx, &old, file.at_ms)?;
        }
        tx.execute(
            "INSERT INTO artifact_files (path, digest, size, created_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(path) DO UPDATE SET digest = excluded.digest, size = excluded.size,
                                             created_ms = excluded.created_ms",
            params![
                file.path,
                file.digest.to_hex(),
                file.size as i64,
                file.at_ms
            ],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn retire_artifact_file_tx(
        &self,
        tx: &Connection,
        file: &ArtifactFile,
        at_ms: i64,
    ) -> MetaResult<()> {
        tx.execute(
            "INSERT INTO artifact_file_history (path, digest, size, replaced_ms) VALUES (?1, ?2, ?3, ?4)",
            params![file.path, file.digest.to_hex(), file.size as i64, at_ms],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn create_logged_model_tx(&self, tx: &Connection, m: &NewLoggedModel) -> MetaResult<String> {
        self.require_experiment(tx, m.experiment_id)?;
        if m.name.trim().is_empty() {
            return Err(MetaError::Invalid(
                "logged model name must not be empty".into(),
            ));
        }
        let id = format!("m-{}", uuid::Uuid::now_v7().simple());
        tx.execute(
            "INSERT INTO logged_models (id, experiment_id, name, source_run_id, model_type, status, created_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            params![id, m.experiment_id, m.name, m.source_run_id, m.model_type, m.status, m.at_ms],
        )
        .map_err(|e| self.err(e))?;
        for (key, value) in &m.tags {
            check_key("tag", key)?;
            tx.execute(
                "INSERT OR REPLACE INTO logged_model_tags (model_id, key, value) VALUES (?1, ?2, ?3)",
                params![id, key, value],
            )
            .map_err(|e| self.err(e))?;
        }
        for (key, value) in &m.params {
            check_key("param", key)?;
            tx.execute(
                "INSERT OR REPLACE INTO logged_model_params (model_id, key, value) VALUES (?1, ?2, ?3)",
                params![id, key, value],
            )
            .map_err(|e| self.err(e))?;
        }
        Ok(id)
    }

    // --- existence checks ---

    fn require_experiment(&self, tx: &Connection, id: i64) -> MetaResult<()> {
        let found: Option<i64> = tx
            .query_row("SELECT 1 FROM experiments WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        found.map(|_| ()).ok_or(MetaError::NotFound {
            what: "experiment",
            id: id.to_string(),
        })
    }

    /// Checks that a run exists and is not deleted; returns its experiment.
    pub(super) fn require_active_run(&self, tx: &Connection, run_id: &str) -> MetaResult<i64> {
        let found: Option<(i64, String)> = tx
            .prepare_cached("SELECT experiment_id, lifecycle FROM runs WHERE id = ?1")
            .and_then(|mut s| {
                s.query_row([run_id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))?;
        match found {
            None => Err(MetaError::NotFound {
                what: "run",
                id: run_id.to_string(),
            }),
            Some((_, lifecycle)) if lifecycle != "active" => Err(MetaError::Invalid(format!(
                "run {run_id} is deleted; restore it before logging to it"
            ))),
            Some((experiment, _)) => Ok(experiment),
        }
    }

    fn require_logged_model(&self, tx: &Connection, id: &str) -> MetaResult<()> {
        let found: Option<i64> = tx
            .query_row("SELECT 1 FROM logged_models WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        found.map(|_| ()).ok_or(MetaError::NotFound {
            what: "logged model",
            id: id.to_string(),
        })
    }

    // --- reads ---

    pub(super) fn experiment_tags_conn(
        &self,
        conn: &Connection,
        id: i64,
    ) -> MetaResult<Vec<(String, String)>> {
        self.require_experiment(conn, id)?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT key, value FROM experiment_tags WHERE experiment_id = ?1 ORDER BY key",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    pub(super) fn run_details_conn(
        &self,
        conn: &Connection,
        ids: &[String],
    ) -> MetaResult<Vec<RunDetail>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = json_list(ids);
        let mut details: HashMap<String, RunDetail> = HashMap::with_capacity(ids.len());
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE id IN (SELECT value FROM json_each(?1))"
            ))
            .map_err(|e| self.err(e))?;
        let runs = stmt
            .query_map([&list], run_from_row)
            .map_err(|e| self.err(e))?;
        for run in runs {
            let run = run.map_err(|e| self.err(e))?;
            details.insert(
                run.id.clone(),
                RunDetail {
                    run,
                    params: Vec::new(),
                    metrics: Vec::new(),
                    tags: Vec::new(),
                    datasets: Vec::new(),
                    models: Vec::new(),
                    io: Vec::new(),
                },
            );
        }
        self.pairs_into(conn, "params", &list, &mut details, |d| &mut d.params)?;
        self.pairs_into(conn, "tags", &list, &mut details, |d| &mut d.tags)?;

        let mut stmt = conn
            .prepare_cached(
                "SELECT run_id, key, last_value, last_ts, last_step, last_is_nan FROM metric_series
                 WHERE run_id IN (SELECT value FROM json_each(?1)) ORDER BY run_id, key",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([&list]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let run_id: String = r.get(0).map_err(|e| self.err(e))?;
            let mut point = metric_row(r, 2).map_err(|e| self.err(e))?;
            point.key = r.get(1).map_err(|e| self.err(e))?;
            if let Some(d) = details.get_mut(&run_id) {
                d.metrics.push(point);
            }
        }

        let mut stmt = conn
            .prepare_cached(
                "SELECT rd.run_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile, rd.tags
                 FROM run_datasets rd JOIN datasets d ON d.id = rd.dataset_id
                 WHERE rd.run_id IN (SELECT value FROM json_each(?1)) ORDER BY rd.run_id, d.id",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([&list]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let run_id: String = r.get(0).map_err(|e| self.err(e))?;
            let tags_json: String = r.get(7).map_err(|e| self.err(e))?;
            let tags = match serde_json::from_str::<serde_json::Value>(&tags_json) {
                Ok(serde_json::Value::Object(map)) => map
                    .into_iter()
                    .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                    .collect(),
                _ => Vec::new(),
            };
            let input = DatasetInput {
                name: r.get(1).map_err(|e| self.err(e))?,
                digest: r.get(2).map_err(|e| self.err(e))?,
                source_type: r.get(3).map_err(|e| self.err(e))?,
                source: r.get(4).map_err(|e| self.err(e))?,
                schema: r.get(5).map_err(|e| self.err(e))?,
                profile: r.get(6).map_err(|e| self.err(e))?,
                tags,
            };
            if let Some(d) = details.get_mut(&run_id) {
                d.datasets.push(input);
            }
        }

        let mut stmt = conn
            .prepare_cached(
                "SELECT run_id, model_id, role, step FROM run_models
                 WHERE run_id IN (SELECT value FROM json_each(?1)) ORDER BY run_id, role, model_id",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([&list]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let run_id: String = r.get(0).map_err(|e| self.err(e))?;
            let role: String = r.get(2).map_err(|e| self.err(e))?;
            let model = ModelIo {
                model_id: r.get(1).map_err(|e| self.err(e))?,
                role: role
                    .parse::<IoRole>()
                    .map_err(|e| self.err(conversion(e)))?,
                step: r.get(3).map_err(|e| self.err(e))?,
            };
            if let Some(d) = details.get_mut(&run_id) {
                d.models.push(model);
            }
        }

        let mut stmt = conn
            .prepare_cached(
                "SELECT run_id, role, path, digest FROM run_io
                 WHERE run_id IN (SELECT value FROM json_each(?1)) ORDER BY run_id, role, path",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([&list]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let run_id: String = r.get(0).map_err(|e| self.err(e))?;
            let role: String = r.get(1).map_err(|e| self.err(e))?;
            let io = RunIo {
                role: role
                    .parse::<IoRole>()
                    .map_err(|e| self.err(conversion(e)))?,
                path: r.get(2).map_err(|e| self.err(e))?,
                digest: parse_digest(r.get(3).map_err(|e| self.err(e))?)
                    .map_err(|e| self.err(e))?,
            };
            if let Some(d) = details.get_mut(&run_id) {
                d.io.push(io);
            }
        }
        Ok(ids.iter().filter_map(|id| details.remove(id)).collect())
    }

    fn pairs_into(
        &self,
        conn: &Connection,
        table: &str,
        list: &str,
        details: &mut HashMap<String, RunDetail>,
        field: impl Fn(&mut RunDetail) -> &mut Vec<(String, String)>,
    ) -> MetaResult<()> {
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT run_id, key, value FROM {table}
                 WHERE run_id IN (SELECT value FROM json_each(?1)) ORDER BY run_id, key"
            ))
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([list]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let run_id: String = r.get(0).map_err(|e| self.err(e))?;
            if let Some(d) = details.get_mut(&run_id) {
                field(d).push((
                    r.get(1).map_err(|e| self.err(e))?,
                    r.get(2).map_err(|e| self.err(e))?,
                ));
            }
        }
        Ok(())
    }

    pub(super) fn metric_history_conn(
        &self,
        conn: &Connection,
        run_id: &str,
        key: &str,
    ) -> MetaResult<Vec<MetricPoint>> {
        let mut stmt = conn
            .prepare_cached(
                "SELECT c.count, c.step, c.timestamp_ms, c.value, c.packed FROM metric_series s
                 JOIN metric_chunks c ON c.series = s.id
                 WHERE s.run_id = ?1 AND s.key = ?2 ORDER BY c.first_seq",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([run_id, key]).map_err(|e| self.err(e))?;
        let mut points = Vec::new();
        let point = |step, timestamp_ms, value| MetricPoint {
            key: key.to_string(),
            value,
            timestamp_ms,
            step,
        };
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let packed: Option<Vec<u8>> = r.get(4).map_err(|e| self.err(e))?;
            match packed {
                None => {
                    let value: Option<f64> = r.get(3).map_err(|e| self.err(e))?;
                    points.push(point(
                        r.get(1).map_err(|e| self.err(e))?,
                        r.get(2).map_err(|e| self.err(e))?,
                        value.unwrap_or(f64::NAN),
                    ));
                }
                Some(bytes) => {
                    let count: i64 = r.get(0).map_err(|e| self.err(e))?;
                    if bytes.len() != count as usize * POINT_BYTES {
                        return Err(MetaError::Corrupt {
                            path: self.path.clone(),
                            detail: format!(
                                "metric chunk of `{key}` (run {run_id}) holds {} bytes for {count} points",
                                bytes.len()
                            ),
                        });
                    }
                    for record in bytes.chunks_exact(POINT_BYTES) {
                        let word = |i: usize| {
                            u64::from_le_bytes(
                                record[i * 8..i * 8 + 8].try_into().expect("8 bytes"),
                            )
                        };
                        points.push(point(
                            word(0) as i64,
                            word(1) as i64,
                            f64::from_bits(word(2)),
                        ));
                    }
                }
            }
        }
        // Points are stored in arrival order; the history is by step, then timestamp, then
        // arrival. Most clients log in step order, so the sort usually finds nothing to do.
        if !points
            .windows(2)
            .all(|w| (w[0].step, w[0].timestamp_ms) <= (w[1].step, w[1].timestamp_ms))
        {
            points.sort_by_key(|p| (p.step, p.timestamp_ms));
        }
        Ok(points)
    }

    pub(super) fn latest_metrics_conn(
        &self,
        conn: &Connection,
        run_id: &str,
    ) -> MetaResult<Vec<MetricPoint>> {
        let mut stmt = conn
            .prepare_cached(
                "SELECT key, last_value, last_ts, last_step, last_is_nan FROM metric_series
                 WHERE run_id = ?1 ORDER BY key",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([run_id]).map_err(|e| self.err(e))?;
        let mut points = Vec::new();
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let key: String = r.get(0).map_err(|e| self.err(e))?;
            let mut point = metric_row(r, 1).map_err(|e| self.err(e))?;
            point.key = key;
            points.push(point);
        }
        Ok(points)
    }

    pub(super) fn artifact_files_tx(
        &self,
        conn: &Connection,
        path: &str,
    ) -> MetaResult<Vec<ArtifactFile>> {
        // `path/` .. `path0` is exactly the range of strings starting with `path/`.
        let (lower, upper) = if path.is_empty() {
            (String::new(), "\u{10ffff}".to_string())
        } else {
            (format!("{path}/"), format!("{path}0"))
        };
        let mut stmt = conn
            .prepare_cached(
                "SELECT path, digest, size, created_ms FROM artifact_files
                 WHERE path = ?1 OR (path >= ?2 AND path < ?3) ORDER BY path",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![path, lower, upper], artifact_file_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    pub(super) fn artifact_file_tx(
        &self,
        conn: &Connection,
        path: &str,
    ) -> MetaResult<Option<ArtifactFile>> {
        conn.prepare_cached(
            "SELECT path, digest, size, created_ms FROM artifact_files WHERE path = ?1",
        )
        .and_then(|mut s| s.query_row([path], artifact_file_row).optional())
        .map_err(|e| self.err(e))
    }

    pub(super) fn logged_model_tx(&self, conn: &Connection, id: &str) -> MetaResult<LoggedModel> {
        let mut models = self.logged_models_where(conn, "id = ?1", &id)?;
        models.pop().ok_or(MetaError::NotFound {
            what: "logged model",
            id: id.to_string(),
        })
    }

    pub(super) fn logged_models_conn(
        &self,
        conn: &Connection,
        experiment_ids: &[i64],
    ) -> MetaResult<Vec<LoggedModel>> {
        self.logged_models_where(
            conn,
            "experiment_id IN (SELECT value FROM json_each(?1))",
            &json_list(experiment_ids),
        )
    }

    fn logged_models_where(
        &self,
        conn: &Connection,
        condition: &str,
        arg: &dyn rusqlite::ToSql,
    ) -> MetaResult<Vec<LoggedModel>> {
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT id, experiment_id, name, source_run_id, model_type, status, created_ms, updated_ms, lifecycle
                 FROM logged_models WHERE {condition} ORDER BY created_ms DESC, id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([arg], |r| {
                Ok(LoggedModel {
                    id: r.get(0)?,
                    experiment_id: r.get(1)?,
                    name: r.get(2)?,
                    source_run_id: r.get(3)?,
                    model_type: r.get(4)?,
                    status: r.get(5)?,
                    created_ms: r.get(6)?,
                    updated_ms: r.get(7)?,
                    lifecycle: r.get(8)?,
                    tags: Vec::new(),
                    params: Vec::new(),
                })
            })
            .map_err(|e| self.err(e))?;
        let mut models: Vec<LoggedModel> = rows
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))?;
        for m in &mut models {
            for (table, target) in [
                ("logged_model_tags", &mut m.tags),
                ("logged_model_params", &mut m.params),
            ] {
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT key, value FROM {table} WHERE model_id = ?1 ORDER BY key"
                    ))
                    .map_err(|e| self.err(e))?;
                let rows = stmt
                    .query_map([&m.id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(|e| self.err(e))?;
                *target = rows
                    .collect::<rusqlite::Result<_>>()
                    .map_err(|e| self.err(e))?;
            }
        }
        Ok(models)
    }
}

/// Most points in one stored chunk.
const CHUNK_POINTS: usize = 1000;
/// Bytes of one packed point: step, timestamp, value bits.
const POINT_BYTES: usize = 24;

/// NaN cannot be stored as a SQLite REAL (it reads back as NULL), so NaN is stored as NULL.
fn stored_value(value: f64) -> Option<f64> {
    (!value.is_nan()).then_some(value)
}

/// Reads `(value, timestamp, step, is_nan)` starting at column `first`.
fn metric_row(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<MetricPoint> {
    let value: Option<f64> = r.get(first)?;
    let is_nan: i64 = r.get(first + 3)?;
    Ok(MetricPoint {
        key: String::new(),
        value: if is_nan != 0 {
            f64::NAN
        } else {
            value.unwrap_or(f64::NAN)
        },
        timestamp_ms: r.get(first + 1)?,
        step: r.get(first + 2)?,
    })
}

fn artifact_file_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ArtifactFile> {
    Ok(ArtifactFile {
        path: r.get(0)?,
        digest: parse_digest(r.get(1)?)?,
        size: r.get::<_, i64>(2)? as u64,
        at_ms: r.get(3)?,
    })
}

fn check_key(what: &str, key: &str) -> MetaResult<()> {
    if key.is_empty() {
        return Err(MetaError::Invalid(format!("{what} key must not be empty")));
    }
    Ok(())
}
