//! Versioned schema migrations. Each entry runs once, in order, inside a transaction, and the
//! version reached is recorded in `schema_migrations`. Never edit a released migration: add one.

/// `(version, name, SQL)`; versions are consecutive from 1.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "foundation", FOUNDATION),
    (2, "tracker", TRACKER),
    (3, "registry", crate::registry::schema::REGISTRY),
    (4, "traffic and labels", crate::registry::TRAFFIC),
    (5, "incidents", crate::registry::INCIDENTS),
];

/// The newest schema version this build knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

const FOUNDATION: &str = r#"
CREATE TABLE artifacts (
    digest      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    media_type  TEXT,
    source      TEXT,
    created_ms  INTEGER NOT NULL
);

CREATE TABLE refs (
    name        TEXT PRIMARY KEY,
    digest      TEXT NOT NULL,
    updated_ms  INTEGER NOT NULL
);

CREATE TABLE stat_cache (
    path        TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    ctime_ns    INTEGER NOT NULL,
    inode       INTEGER NOT NULL,
    digest      TEXT NOT NULL
);

CREATE TABLE experiments (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    lifecycle   TEXT NOT NULL DEFAULT 'active' CHECK (lifecycle IN ('active', 'deleted')),
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);

CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    name          TEXT NOT NULL,
    origin        TEXT NOT NULL CHECK (origin IN ('pipeline', 'adhoc')),
    status        TEXT NOT NULL CHECK (status IN ('RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED')),
    start_ms      INTEGER NOT NULL,
    end_ms        INTEGER,
    user_name     TEXT NOT NULL,
    git_commit    TEXT,
    git_dirty     INTEGER,
    lifecycle     TEXT NOT NULL DEFAULT 'active' CHECK (lifecycle IN ('active', 'deleted'))
);
CREATE INDEX runs_by_experiment ON runs(experiment_id, start_ms DESC);

CREATE TABLE params (
    run_id  TEXT NOT NULL REFERENCES runs(id),
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

-- Metric points are appended, never updated: the sequence number keeps duplicates apart.
CREATE TABLE metrics (
    run_id       TEXT NOT NULL REFERENCES runs(id),
    key          TEXT NOT NULL,
    step         INTEGER NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    value        REAL,
    is_nan       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, key, step, timestamp_ms, seq)
) WITHOUT ROWID;

CREATE TABLE tags (
    run_id  TEXT NOT NULL REFERENCES runs(id),
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

CREATE TABLE tag_history (
    id      INTEGER PRIMARY KEY,
    run_id  TEXT NOT NULL REFERENCES runs(id),
    key     TEXT NOT NULL,
    value   TEXT,
    at_ms   INTEGER NOT NULL
);
CREATE INDEX tag_history_by_run ON tag_history(run_id, id);

CREATE TABLE run_io (
    run_id  TEXT NOT NULL REFERENCES runs(id),
    role    TEXT NOT NULL CHECK (role IN ('input', 'output')),
    path    TEXT NOT NULL,
    digest  TEXT NOT NULL,
    PRIMARY KEY (run_id, role, path)
) WITHOUT ROWID;
CREATE INDEX run_io_by_digest ON run_io(digest);
"#;

/// The experiment tracker: MLflow's default experiment, experiment tags, run soft-delete time,
/// metric series (append-only points plus each series' latest value, so search never scans
/// points), datasets, logged models, and the artifact index.
const TRACKER: &str = r#"
INSERT OR IGNORE INTO experiments (id, name, created_ms, updated_ms)
VALUES (0, 'Default', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
                      CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));

CREATE TABLE experiment_tags (
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (experiment_id, key)
) WITHOUT ROWID;

ALTER TABLE runs ADD COLUMN deleted_ms INTEGER;

-- One row per (run, metric key). `points` is the next sequence number; the latest point (by
-- step, then timestamp, then sequence) is kept here so filters and ordering on metrics read one
-- row per run.
CREATE TABLE metric_series (
    id          INTEGER PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs(id),
    key         TEXT NOT NULL,
    points      INTEGER NOT NULL,
    last_step   INTEGER NOT NULL,
    last_ts     INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    last_value  REAL,
    last_is_nan INTEGER NOT NULL DEFAULT 0,
    UNIQUE (run_id, key)
);
-- Covers the metric filter and sort of run search (no lookup of the series row).
CREATE INDEX metric_series_by_key ON metric_series(key, last_value, last_is_nan, run_id);

-- Points are appended in chunks and never updated: one row holds the points one call logged for
-- one key, numbered from `first_seq`. A single point uses the scalar columns (`value` NULL means
-- NaN); a chunk of several packs them into `packed` as 24-byte little-endian records
-- (step i64, timestamp i64, value f64 bits, NaN included), so a 1,000-point batch is one row
-- per key instead of 1,000. A series is one contiguous range of the primary key. No foreign key
-- on `series`: rows are only written by the code that created the series, in one transaction.
CREATE TABLE metric_chunks (
    series       INTEGER NOT NULL,
    first_seq    INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    step         INTEGER,
    timestamp_ms INTEGER,
    value        REAL,
    packed       BLOB,
    PRIMARY KEY (series, first_seq)
) WITHOUT ROWID;

INSERT INTO metric_series (run_id, key, points, last_step, last_ts, last_seq, last_value, last_is_nan)
SELECT run_id, key, COUNT(*), 0, 0, 0, NULL, 0 FROM metrics GROUP BY run_id, key;
INSERT INTO metric_chunks (series, first_seq, count, step, timestamp_ms, value)
SELECT s.id,
       ROW_NUMBER() OVER (PARTITION BY m.run_id, m.key ORDER BY m.step, m.timestamp_ms, m.seq) - 1,
       1, m.step, m.timestamp_ms, CASE WHEN m.is_nan != 0 THEN NULL ELSE m.value END
FROM metrics m JOIN metric_series s ON s.run_id = m.run_id AND s.key = m.key;
UPDATE metric_series SET (last_step, last_ts, last_seq, last_value, last_is_nan) =
    (SELECT step, timestamp_ms, first_seq, value, value IS NULL FROM metric_chunks c
     WHERE c.series = metric_series.id ORDER BY step DESC, timestamp_ms DESC, first_seq DESC LIMIT 1);
DROP TABLE metrics;

CREATE TABLE datasets (
    id            INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    name          TEXT NOT NULL,
    digest        TEXT NOT NULL,
    source_type   TEXT NOT NULL,
    source        TEXT NOT NULL,
    schema        TEXT,
    profile       TEXT,
    UNIQUE (experiment_id, name, digest)
);

CREATE TABLE run_datasets (
    run_id     TEXT NOT NULL REFERENCES runs(id),
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    tags       TEXT NOT NULL,
    PRIMARY KEY (run_id, dataset_id)
) WITHOUT ROWID;

CREATE TABLE run_models (
    run_id   TEXT NOT NULL REFERENCES runs(id),
    role     TEXT NOT NULL CHECK (role IN ('input', 'output')),
    model_id TEXT NOT NULL,
    step     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, role, model_id)
) WITHOUT ROWID;

CREATE TABLE logged_models (
    id            TEXT PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    name          TEXT NOT NULL,
    source_run_id TEXT,
    model_type    TEXT,
    status        TEXT NOT NULL,
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL,
    lifecycle     TEXT NOT NULL DEFAULT 'active' CHECK (lifecycle IN ('active', 'deleted'))
);
CREATE INDEX logged_models_by_experiment ON logged_models(experiment_id, created_ms DESC);

CREATE TABLE logged_model_tags (
    model_id TEXT NOT NULL REFERENCES logged_models(id),
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
) WITHOUT ROWID;

CREATE TABLE logged_model_params (
    model_id TEXT NOT NULL REFERENCES logged_models(id),
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
) WITHOUT ROWID;

-- The artifact index: a path under the artifact root names stored bytes. Replaced and deleted
-- entries move to the history, whose digests stay gc roots: nothing logged is lost.
CREATE TABLE artifact_files (
    path       TEXT PRIMARY KEY,
    digest     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE artifact_file_history (
    id       INTEGER PRIMARY KEY,
    path     TEXT NOT NULL,
    digest   TEXT NOT NULL,
    size     INTEGER NOT NULL,
    replaced_ms INTEGER NOT NULL
);
"#;
