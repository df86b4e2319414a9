//! Versioned schema migrations. Each entry runs once, in order, inside a transaction, and the
//! version reached is recorded in `schema_migrations`. Never edit a released migration: add one.

/// `(version, name, SQL)`; versions are consecutive from 1.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "foundation", FOUNDATION),
    (2, "registry", crate::registry::schema::REGISTRY),
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
