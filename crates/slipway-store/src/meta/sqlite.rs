//! The embedded metadata backend: one SQLite file in WAL mode.

mod search;
mod tracker;

use super::migrations::{MIGRATIONS, latest_version};
use super::*;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use slipway_core::tracking::{IoRole, RunOrigin};
use slipway_core::{ArtifactKind, ArtifactRef};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// A [`MetadataStore`] in one SQLite file (WAL journal, `synchronous=NORMAL`, foreign keys on,
/// busy timeout), migrated to the latest schema when opened.
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: impl Into<PathBuf>) -> MetaResult<SqliteStore> {
        let path = path.into();
        let conn = Connection::open(&path).map_err(|e| db_error(&path, e))?;
        let store = SqliteStore {
            path,
            conn: Mutex::new(conn),
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets how many WAL pages a commit on this connection may leave before it checkpoints
    /// itself (SQLite's default is 1000). A server that checkpoints from a background thread
    /// with [`SqliteStore::checkpoint`] raises this on its writer, so commits do not stall on
    /// checkpoint I/O; the limit remains a backstop.
    pub fn set_wal_autocheckpoint(&self, pages: u32) -> MetaResult<()> {
        self.lock()
            .query_row(&format!("PRAGMA wal_autocheckpoint = {pages}"), [], |_| {
                Ok(())
            })
            .map_err(|e| self.err(e))
    }

    /// Copies committed pages from the WAL into the database file without blocking writers or
    /// readers (a passive checkpoint); returns how many WAL frames are not yet copied.
    pub fn checkpoint(&self) -> MetaResult<i64> {
        self.lock()
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok(r.get::<_, i64>(1)? - r.get::<_, i64>(2)?)
            })
            .map_err(|e| self.err(e))
    }

    fn configure(&self) -> MetaResult<()> {
        let conn = self.lock();
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| db_error(&self.path, e))?;
        // journal_mode returns a row; it is also the first statement that reads the file header,
        // so a damaged or foreign file is reported here.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(|e| db_error(&self.path, e))?;
        if mode != "wal" {
            return Err(MetaError::Invalid(format!(
                "metadata database {}: cannot enable WAL journal (got `{mode}`)",
                self.path.display()
            )));
        }
        // WAL with synchronous=NORMAL: a committed transaction survives the process being
        // killed (kill -9) and the database is never corrupted; only an OS crash or power loss
        // can roll back the last commits (never half of one). Commits then cost no fsync; the
        // WAL is synced at checkpoints.
        // Checkpoints (which fsync) run every 4,000 pages (16 MiB of WAL) rather than 1,000, so
        // fewer than 1 in 100 commits pays for one: that keeps p99 latencies flat.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 4000;",
        )
            .map_err(|e| db_error(&self.path, e))
    }

    fn migrate(&self) -> MetaResult<()> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| db_error(&self.path, e))?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL)",
        )
        .map_err(|e| db_error(&self.path, e))?;
        let current: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )
            .map_err(|e| db_error(&self.path, e))?;
        if current > latest_version() {
            return Err(MetaError::TooNew {
                path: self.path.clone(),
                found: current,
                known: latest_version(),
            });
        }
        // Applied migrations must be the ones this build knows under the same numbers;
        // otherwise applying "the next one" would run the wrong script.
        let applied: Vec<(i64, String)> = tx
            .prepare("SELECT version, name FROM schema_migrations ORDER BY version")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(|e| db_error(&self.path, e))?;
        for (version, name) in &applied {
            let known = MIGRATIONS.iter().find(|m| m.0 == *version).map(|m| m.1);
            if known != Some(name.as_str()) {
                return Err(MetaError::Invalid(format!(
                    "metadata database {} has migration {version} `{name}`, which this slipway knows as `{}`; it was created by an incompatible build — move it aside and run `slipway init`",
                    self.path.display(),
                    known.unwrap_or("nothing")
                )));
            }
        }
        for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
            tx.execute_batch(sql).map_err(|e| db_error(&self.path, e))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?1, ?2, ?3)",
                params![version, name, crate::now_ms()],
            )
            .map_err(|e| db_error(&self.path, e))?;
        }
        tx.commit().map_err(|e| db_error(&self.path, e))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-applied transaction (rusqlite rolls
        // back on drop), so a poisoned lock is safe to reuse.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> MetaResult<T>,
    ) -> MetaResult<T> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| db_error(&self.path, e))?;
        let value = f(&tx)?;
        tx.commit().map_err(|e| db_error(&self.path, e))?;
        Ok(value)
    }

    pub(crate) fn err(&self, e: rusqlite::Error) -> MetaError {
        db_error(&self.path, e)
    }

    fn require_run(&self, conn: &Connection, run_id: &str) -> MetaResult<()> {
        let found: Option<i64> = conn
            .query_row("SELECT 1 FROM runs WHERE id = ?1", [run_id], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        match found {
            Some(_) => Ok(()),
            None => Err(MetaError::NotFound {
                what: "run",
                id: run_id.to_string(),
            }),
        }
    }
}

fn db_error(path: &Path, e: rusqlite::Error) -> MetaError {
    if let rusqlite::Error::SqliteFailure(code, ref message) = e
        && matches!(
            code.code,
            rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
        )
    {
        return MetaError::Corrupt {
            path: path.to_path_buf(),
            detail: message.clone().unwrap_or_else(|| code.to_string()),
        };
    }
    MetaError::Database {
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

fn parse_digest(text: String) -> rusqlite::Result<Digest> {
    text.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn conversion<E: std::error::Error + Send + Sync + 'static>(e: E) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

const RUN_COLUMNS: &str = "id, experiment_id, name, origin, status, start_ms, end_ms, user_name, git_commit, git_dirty, lifecycle";

fn run_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Run> {
    Ok(Run {
        id: row.get(0)?,
        experiment_id: row.get(1)?,
        name: row.get(2)?,
        origin: row
            .get::<_, String>(3)?
            .parse::<RunOrigin>()
            .map_err(conversion)?,
        status: row
            .get::<_, String>(4)?
            .parse::<RunStatus>()
            .map_err(conversion)?,
        start_ms: row.get(5)?,
        end_ms: row.get(6)?,
        user: row.get(7)?,
        git_commit: row.get(8)?,
        git_dirty: row.get::<_, Option<i64>>(9)?.map(|v| v != 0),
        lifecycle: row.get(10)?,
    })
}

fn experiment_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Experiment> {
    Ok(Experiment {
        id: row.get(0)?,
        name: row.get(1)?,
        lifecycle: row.get(2)?,
        created_ms: row.get(3)?,
        updated_ms: row.get(4)?,
    })
}

fn artifact_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ArtifactRecord> {
    Ok(ArtifactRecord {
        artifact: ArtifactRef {
            digest: parse_digest(row.get(0)?)?,
            size: row.get::<_, i64>(1)? as u64,
            kind: row
                .get::<_, String>(2)?
                .parse::<ArtifactKind>()
                .map_err(conversion)?,
            media_type: row.get(3)?,
        },
        source: row.get(4)?,
        created_ms: row.get(5)?,
    })
}

fn run_io_from_row(role: String, path: String, digest: String) -> rusqlite::Result<RunIo> {
    Ok(RunIo {
        digest: parse_digest(digest)?,
        role: role.parse::<IoRole>().map_err(conversion)?,
        path,
    })
}

impl MetadataStore for SqliteStore {
    fn put_artifact(&self, record: &ArtifactRecord) -> MetaResult<()> {
        self.write(|tx| {
            let a = &record.artifact;
            tx.execute(
                "INSERT OR IGNORE INTO artifacts (digest, size, kind, media_type, source, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![a.digest.to_hex(), a.size as i64, a.kind.as_str(), a.media_type, record.source, record.created_ms],
            )
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    fn artifact(&self, digest: &Digest) -> MetaResult<Option<ArtifactRecord>> {
        self.lock()
            .query_row(
                "SELECT digest, size, kind, media_type, source, created_ms FROM artifacts WHERE digest = ?1",
                [digest.to_hex()],
                artifact_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn artifacts(&self) -> MetaResult<Vec<ArtifactRecord>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT digest, size, kind, media_type, source, created_ms FROM artifacts ORDER BY created_ms DESC, digest")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], artifact_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    fn forget_artifacts(&self, digests: &[Digest]) -> MetaResult<()> {
        self.write(|tx| {
            let mut stmt = tx
                .prepare("DELETE FROM artifacts WHERE digest = ?1")
                .map_err(|e| self.err(e))?;
            for d in digests {
                stmt.execute([d.to_hex()]).map_err(|e| self.err(e))?;
            }
            Ok(())
        })
    }

    fn set_ref(&self, name: &str, digest: &Digest, at_ms: i64) -> MetaResult<()> {
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(MetaError::Invalid(format!(
                "reference name `{}` is not valid: use a non-empty name without spaces",
                name.escape_debug()
            )));
        }
        self.write(|tx| {
            tx.execute(
                "INSERT INTO refs (name, digest, updated_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET digest = excluded.digest, updated_ms = excluded.updated_ms",
                params![name, digest.to_hex(), at_ms],
            )
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    fn get_ref(&self, name: &str) -> MetaResult<Option<Digest>> {
        let found: Option<String> = self
            .lock()
            .query_row("SELECT digest FROM refs WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        found
            .map(|d| parse_digest(d).map_err(|e| self.err(e)))
            .transpose()
    }

    fn refs(&self) -> MetaResult<Vec<(String, Digest)>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT name, digest FROM refs ORDER BY name")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, parse_digest(r.get(1)?)?))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    fn delete_ref(&self, name: &str) -> MetaResult<()> {
        self.write(|tx| {
            let n = tx
                .execute("DELETE FROM refs WHERE name = ?1", [name])
                .map_err(|e| self.err(e))?;
            if n == 0 {
                return Err(MetaError::NotFound {
                    what: "reference",
                    id: name.to_string(),
                });
            }
            Ok(())
        })
    }

    fn referenced_digests(&self) -> MetaResult<BTreeSet<Digest>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT digest FROM run_io UNION SELECT digest FROM refs
                 UNION SELECT digest FROM artifact_files UNION SELECT digest FROM artifact_file_history
                 UNION SELECT artifact FROM model_versions
                 UNION SELECT deployment_config FROM model_versions WHERE deployment_config IS NOT NULL",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| parse_digest(r.get(0)?))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    fn stat_entries_under(&self, path: &str) -> MetaResult<Vec<StatEntry>> {
        let conn = self.lock();
        // `path/` .. `path0` is exactly the range of strings starting with `path/` ('0' follows '/').
        let lower = format!("{path}/");
        let upper = format!("{path}0");
        let mut stmt = conn
            .prepare_cached(
                "SELECT path, size, mtime_ns, ctime_ns, inode, digest FROM stat_cache
                 WHERE path = ?1 OR (path >= ?2 AND path < ?3)",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![path, lower, upper], |r| {
                Ok(StatEntry {
                    path: r.get(0)?,
                    size: r.get::<_, i64>(1)? as u64,
                    mtime_ns: r.get(2)?,
                    ctime_ns: r.get(3)?,
                    inode: r.get::<_, i64>(4)? as u64,
                    digest: parse_digest(r.get(5)?)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    fn put_stat_entries(&self, entries: &[StatEntry]) -> MetaResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO stat_cache (path, size, mtime_ns, ctime_ns, inode, digest)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(|e| self.err(e))?;
            for e in entries {
                stmt.execute(params![e.path, e.size as i64, e.mtime_ns, e.ctime_ns, e.inode as i64, e.digest.to_hex()])
                    .map_err(|e| self.err(e))?;
            }
            Ok(())
        })
    }

    fn create_experiment(&self, name: &str, at_ms: i64) -> MetaResult<Experiment> {
        let id = self.write(|tx| self.create_experiment_tx(tx, name, at_ms))?;
        self.experiment(id)
    }

    fn experiment(&self, id: i64) -> MetaResult<Experiment> {
        self.lock()
            .query_row(
                "SELECT id, name, lifecycle, created_ms, updated_ms FROM experiments WHERE id = ?1",
                [id],
                experiment_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or(MetaError::NotFound {
                what: "experiment",
                id: id.to_string(),
            })
    }

    fn experiment_by_name(&self, name: &str) -> MetaResult<Option<Experiment>> {
        self.lock()
            .query_row(
                "SELECT id, name, lifecycle, created_ms, updated_ms FROM experiments WHERE name = ?1",
                [name],
                experiment_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn experiments(&self) -> MetaResult<Vec<Experiment>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT id, name, lifecycle, created_ms, updated_ms FROM experiments ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], experiment_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    fn create_run(&self, run: &NewRun) -> MetaResult<Run> {
        let id = self.write(|tx| self.create_run_tx(tx, run))?;
        self.run(&id)
    }

    fn record_run(&self, record: &RunRecord) -> MetaResult<Run> {
        if !record.status.is_terminal() {
            return Err(MetaError::Invalid(format!(
                "a recorded run must have ended; status {} is not FINISHED, FAILED or KILLED",
                record.status
            )));
        }
        let id = uuid::Uuid::now_v7().simple().to_string();
        let run = &record.run;
        self.write(|tx| {
            let exists: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM experiments WHERE id = ?1",
                    [run.experiment_id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            if exists.is_none() {
                return Err(MetaError::NotFound {
                    what: "experiment",
                    id: run.experiment_id.to_string(),
                });
            }
            tx.execute(
                "INSERT INTO runs (id, experiment_id, name, origin, status, start_ms, end_ms, user_name, git_commit, git_dirty)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    id,
                    run.experiment_id,
                    run.name,
                    run.origin.as_str(),
                    record.status.as_str(),
                    run.start_ms,
                    record.end_ms,
                    run.user,
                    run.git_commit,
                    run.git_dirty.map(i64::from)
                ],
            )
            .map_err(|e| self.err(e))?;
            let mut param = tx
                .prepare_cached("INSERT INTO params (run_id, key, value) VALUES (?1, ?2, ?3)")
                .map_err(|e| self.err(e))?;
            for (key, value) in &record.params {
                param.execute([&id, key, value]).map_err(|e| self.err(e))?;
            }
            self.log_metrics_tx(tx, &id, &record.metrics)?;
            for (key, value) in &record.tags {
                self.set_tag_tx(tx, &id, key, value, run.start_ms)?;
            }
            let payload = serde_json::json!({"experiment_id": run.experiment_id, "name": run.name,
                "origin": run.origin.as_str(), "status": record.status.as_str(), "end_ms": record.end_ms,
                "git_commit": run.git_commit, "git_dirty": run.git_dirty});
            self.audit_tx(tx, &run.user, "run.record", &id, &payload, record.end_ms)?;
            let mut io = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO run_io (run_id, role, path, digest) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(|e| self.err(e))?;
            for item in &record.io {
                io.execute(params![id, item.role.as_str(), item.path, item.digest.to_hex()])
                    .map_err(|e| self.err(e))?;
            }
            Ok(())
        })?;
        self.run(&id)
    }

    fn run(&self, run_id: &str) -> MetaResult<Run> {
        self.lock()
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                [run_id],
                run_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or(MetaError::NotFound {
                what: "run",
                id: run_id.to_string(),
            })
    }

    fn finish_run(&self, run_id: &str, status: RunStatus, end_ms: i64) -> MetaResult<()> {
        if !status.is_terminal() {
            return Err(MetaError::Invalid(format!(
                "cannot finish run {run_id} with status {status}; expected FINISHED, FAILED or KILLED"
            )));
        }
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE runs SET status = ?2, end_ms = ?3 WHERE id = ?1",
                    params![run_id, status.as_str(), end_ms],
                )
                .map_err(|e| self.err(e))?;
            if n == 0 {
                return Err(MetaError::NotFound {
                    what: "run",
                    id: run_id.to_string(),
                });
            }
            Ok(())
        })
    }

    fn runs(&self, experiment_id: i64) -> MetaResult<Vec<Run>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE experiment_id = ?1 ORDER BY start_ms DESC, id DESC"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([experiment_id], run_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    fn log_params(&self, run_id: &str, params: &[(String, String)]) -> MetaResult<()> {
        self.write(|tx| {
            self.require_active_run(tx, run_id)?;
            self.log_params_tx(tx, run_id, params)
        })
    }

    fn params(&self, run_id: &str) -> MetaResult<Vec<(String, String)>> {
        let conn = self.lock();
        self.require_run(&conn, run_id)?;
        let mut stmt = conn
            .prepare("SELECT key, value FROM params WHERE run_id = ?1 ORDER BY key")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    fn log_metrics(&self, run_id: &str, points: &[MetricPoint]) -> MetaResult<()> {
        self.write(|tx| {
            self.require_active_run(tx, run_id)?;
            self.log_metrics_tx(tx, run_id, points)
        })
    }

    fn metric_history(&self, run_id: &str, key: &str) -> MetaResult<Vec<MetricPoint>> {
        let conn = self.lock();
        self.require_run(&conn, run_id)?;
        self.metric_history_conn(&conn, run_id, key)
    }

    fn latest_metrics(&self, run_id: &str) -> MetaResult<Vec<MetricPoint>> {
        let conn = self.lock();
        self.require_run(&conn, run_id)?;
        self.latest_metrics_conn(&conn, run_id)
    }

    fn set_tag(&self, run_id: &str, key: &str, value: &str, at_ms: i64) -> MetaResult<()> {
        if key.is_empty() {
            return Err(MetaError::Invalid("tag key must not be empty".into()));
        }
        self.write(|tx| {
            self.require_active_run(tx, run_id)?;
            self.set_tag_tx(tx, run_id, key, value, at_ms)
        })
    }

    fn delete_tag(&self, run_id: &str, key: &str, at_ms: i64) -> MetaResult<()> {
        self.write(|tx| {
            self.require_active_run(tx, run_id)?;
            self.delete_tag_tx(tx, run_id, key, at_ms)
        })
    }

    fn tags(&self, run_id: &str) -> MetaResult<Vec<(String, String)>> {
        let conn = self.lock();
        self.require_run(&conn, run_id)?;
        let mut stmt = conn
            .prepare("SELECT key, value FROM tags WHERE run_id = ?1 ORDER BY key")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    fn tag_history(&self, run_id: &str) -> MetaResult<Vec<TagChange>> {
        let conn = self.lock();
        self.require_run(&conn, run_id)?;
        let mut stmt = conn
            .prepare("SELECT key, value, at_ms FROM tag_history WHERE run_id = ?1 ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run_id], |r| {
                Ok(TagChange {
                    key: r.get(0)?,
                    value: r.get(1)?,
                    at_ms: r.get(2)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    fn add_run_io(&self, run_id: &str, io: &[RunIo]) -> MetaResult<()> {
        self.write(|tx| {
            self.require_run(tx, run_id)?;
            let mut stmt = tx
                .prepare_cached("INSERT OR REPLACE INTO run_io (run_id, role, path, digest) VALUES (?1, ?2, ?3, ?4)")
                .map_err(|e| self.err(e))?;
            for item in io {
                stmt.execute(params![run_id, item.role.as_str(), item.path, item.digest.to_hex()])
                    .map_err(|e| self.err(e))?;
            }
            Ok(())
        })
    }

    fn run_io(&self, run_id: &str) -> MetaResult<Vec<RunIo>> {
        let conn = self.lock();
        self.require_run(&conn, run_id)?;
        let mut stmt = conn
            .prepare("SELECT role, path, digest FROM run_io WHERE run_id = ?1 ORDER BY role, path")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run_id], |r| {
                run_io_from_row(r.get(0)?, r.get(1)?, r.get(2)?)
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    fn runs_touching(&self, digest: &Digest) -> MetaResult<Vec<(String, RunIo)>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT run_id, role, path, digest FROM run_io WHERE digest = ?1 ORDER BY run_id, role, path")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([digest.to_hex()], |r| {
                Ok((r.get(0)?, run_io_from_row(r.get(1)?, r.get(2)?, r.get(3)?)?))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    fn input_digests_at(&self, path: &str) -> MetaResult<Vec<Digest>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT DISTINCT digest FROM run_io WHERE path = ?1 AND role = 'input' ORDER BY digest")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([path], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.map(|r| {
            let text = r.map_err(|e| self.err(e))?;
            text.parse::<Digest>()
                .map_err(|e| MetaError::Invalid(format!("run_io digest {text}: {e}")))
        })
        .collect()
    }

    fn apply(&self, ops: &[WriteOp]) -> MetaResult<Vec<MetaResult<WriteOutcome>>> {
        self.apply_ops(ops)
    }

    fn experiment_tags(&self, id: i64) -> MetaResult<Vec<(String, String)>> {
        self.experiment_tags_conn(&self.lock(), id)
    }

    fn search_runs(&self, query: &RunQuery) -> MetaResult<Vec<String>> {
        self.search_runs_conn(&self.lock(), query)
    }

    fn run_details(&self, run_ids: &[String]) -> MetaResult<Vec<RunDetail>> {
        self.run_details_conn(&self.lock(), run_ids)
    }

    fn artifact_files(&self, path: &str) -> MetaResult<Vec<ArtifactFile>> {
        self.artifact_files_tx(&self.lock(), path)
    }

    fn artifact_file(&self, path: &str) -> MetaResult<Option<ArtifactFile>> {
        self.artifact_file_tx(&self.lock(), path)
    }

    fn logged_model(&self, id: &str) -> MetaResult<LoggedModel> {
        self.logged_model_tx(&self.lock(), id)
    }

    fn logged_models(&self, experiment_ids: &[i64]) -> MetaResult<Vec<LoggedModel>> {
        self.logged_models_conn(&self.lock(), experiment_ids)
    }

    fn integrity_check(&self) -> MetaResult<()> {
        let result: String = self
            .lock()
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if result == "ok" {
            Ok(())
        } else {
            Err(MetaError::Corrupt {
                path: self.path.clone(),
                detail: result,
            })
        }
    }

    fn schema_version(&self) -> MetaResult<i64> {
        self.lock()
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_temp() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("metadata.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn conformance_suite_passes() {
        let (_dir, store) = open_temp();
        super::super::conformance::run_all(&store);
    }

    #[test]
    fn reopening_keeps_data_and_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.db");
        {
            let s = SqliteStore::open(&path).unwrap();
            s.create_experiment("kept", 1).unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        assert!(s.experiment_by_name("kept").unwrap().is_some());
        assert_eq!(s.schema_version().unwrap(), latest_version());
    }

    #[test]
    fn version_1_metrics_are_migrated_into_series() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.db");
        {
            // A database as the foundation release left it, with metric points in `metrics`.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0].2).unwrap();
            conn.execute_batch(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL);
                 INSERT INTO schema_migrations VALUES (1, 'foundation', 0);
                 INSERT INTO experiments (id, name, created_ms, updated_ms) VALUES (1, 'old', 0, 0);
                 INSERT INTO runs (id, experiment_id, name, origin, status, start_ms, user_name)
                   VALUES ('r1', 1, 'r', 'pipeline', 'FINISHED', 0, 'u');
                 INSERT INTO metrics VALUES ('r1', 'loss', 2, 20, 0, 0.2, 0);
                 INSERT INTO metrics VALUES ('r1', 'loss', 1, 10, 0, 0.5, 0);
                 INSERT INTO metrics VALUES ('r1', 'loss', 1, 10, 1, 0.4, 0);
                 INSERT INTO metrics VALUES ('r1', 'acc', 0, 5, 0, NULL, 1);",
            )
            .unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        let values: Vec<f64> = s
            .metric_history("r1", "loss")
            .unwrap()
            .iter()
            .map(|p| p.value)
            .collect();
        assert_eq!(values, [0.5, 0.4, 0.2]);
        let latest = s.latest_metrics("r1").unwrap();
        assert!(latest[0].value.is_nan(), "acc was NaN");
        assert_eq!((latest[1].value, latest[1].step), (0.2, 2));
        assert_eq!(s.experiment(0).unwrap().name, "Default");
        s.log_metrics(
            "r1",
            &[MetricPoint {
                key: "loss".into(),
                value: 0.1,
                timestamp_ms: 30,
                step: 3,
            }],
        )
        .unwrap();
        assert_eq!(s.metric_history("r1", "loss").unwrap().len(), 4);
    }

    #[test]
    fn background_checkpoint_copies_the_wal() {
        let (_dir, store) = open_temp();
        store.set_wal_autocheckpoint(0).unwrap();
        store.create_experiment("wal", 1).unwrap();
        let other = SqliteStore::open(store.path()).unwrap();
        assert_eq!(other.checkpoint().unwrap(), 0, "everything was copied");
        assert!(other.experiment_by_name("wal").unwrap().is_some());
    }

    #[test]
    fn truncated_database_is_reported_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.db");
        {
            let s = SqliteStore::open(&path).unwrap();
            s.create_experiment("x", 1).unwrap();
            // Fold the WAL into the main file so truncating it loses real pages.
            s.lock()
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                .unwrap();
        }
        let len = std::fs::metadata(&path).unwrap().len();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(len / 3).unwrap();
        drop(file);
        let result = SqliteStore::open(&path).and_then(|s| s.integrity_check().map(|_| s));
        let err = result.expect_err("a truncated database must not open cleanly");
        let text = err.to_string();
        assert!(text.contains("metadata.db"), "{text}");
        assert!(matches!(err, MetaError::Corrupt { .. }), "{err:?}");
    }

    #[test]
    fn foreign_file_is_reported_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.db");
        std::fs::write(&path, vec![b'x'; 8192]).unwrap();
        let err = SqliteStore::open(&path).unwrap_err();
        assert!(matches!(err, MetaError::Corrupt { .. }), "{err:?}");
        assert!(
            err.to_string().contains("restore it from a backup"),
            "{err}"
        );
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.db");
        {
            let s = SqliteStore::open(&path).unwrap();
            s.lock()
                .execute(
                    "INSERT INTO schema_migrations VALUES (999, 'future', 0)",
                    [],
                )
                .unwrap();
        }
        let err = SqliteStore::open(&path).unwrap_err();
        assert!(
            matches!(err, MetaError::TooNew { found: 999, .. }),
            "{err:?}"
        );
    }
}
