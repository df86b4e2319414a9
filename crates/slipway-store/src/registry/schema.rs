//! The registry's tables (a migration of the metadata store).

/// Models, versions, per-slot stages with the one-Production-per-slot constraint, live history
/// (for "what was live at time T"), aliases and their history, transitions, approvals, gate
/// decisions, policies, users, API tokens and the audit chain.
pub const REGISTRY: &str = r#"
CREATE TABLE registered_models (
    name          TEXT PRIMARY KEY,
    owner         TEXT,
    risk_tier     TEXT NOT NULL DEFAULT 'low' CHECK (risk_tier IN ('low', 'medium', 'high')),
    intended_use  TEXT,
    limitations   TEXT,
    description   TEXT,
    created_by    TEXT NOT NULL,
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL
);

CREATE TABLE registered_model_tags (
    model  TEXT NOT NULL REFERENCES registered_models(name) ON UPDATE CASCADE ON DELETE CASCADE,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (model, key)
) WITHOUT ROWID;

CREATE TABLE model_versions (
    model              TEXT NOT NULL REFERENCES registered_models(name) ON UPDATE CASCADE ON DELETE CASCADE,
    version            INTEGER NOT NULL,
    artifact           TEXT NOT NULL,
    source             TEXT,
    run_id             TEXT,
    run_author         TEXT,
    run_origin         TEXT,
    run_commit         TEXT,
    run_dirty          INTEGER,
    components         TEXT,
    deployment_config  TEXT,
    ml_test_score      REAL,
    description        TEXT,
    created_by         TEXT NOT NULL,
    created_ms         INTEGER NOT NULL,
    updated_ms         INTEGER NOT NULL,
    PRIMARY KEY (model, version)
) WITHOUT ROWID;
CREATE INDEX model_versions_by_run ON model_versions(run_id);
CREATE INDEX model_versions_by_artifact ON model_versions(artifact);

CREATE TABLE model_version_tags (
    model    TEXT NOT NULL,
    version  INTEGER NOT NULL,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model, version, key),
    FOREIGN KEY (model, version) REFERENCES model_versions(model, version) ON UPDATE CASCADE ON DELETE CASCADE
) WITHOUT ROWID;

-- A version's stage in a deployment slot. Absent = None.
CREATE TABLE slot_stages (
    model    TEXT NOT NULL,
    slot     TEXT NOT NULL,
    version  INTEGER NOT NULL,
    stage    TEXT NOT NULL CHECK (stage IN ('None', 'Staging', 'Production', 'Archived')),
    PRIMARY KEY (model, slot, version),
    FOREIGN KEY (model, version) REFERENCES model_versions(model, version) ON UPDATE CASCADE ON DELETE CASCADE
) WITHOUT ROWID;
-- Invariant 1, enforced by the database as well as by the transition function.
CREATE UNIQUE INDEX one_production_per_slot ON slot_stages(model, slot) WHERE stage = 'Production';

CREATE TABLE slots (
    model           TEXT NOT NULL REFERENCES registered_models(name) ON UPDATE CASCADE ON DELETE CASCADE,
    slot            TEXT NOT NULL,
    rollback_stack  TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (model, slot)
) WITHOUT ROWID;

-- Which version was live in a slot over which interval: answers "what was live at time T".
CREATE TABLE live_history (
    model    TEXT NOT NULL,
    slot     TEXT NOT NULL,
    version  INTEGER NOT NULL,
    from_ms  INTEGER NOT NULL,
    to_ms    INTEGER
);
CREATE INDEX live_history_by_slot ON live_history(model, slot, from_ms);

CREATE TABLE aliases (
    model    TEXT NOT NULL REFERENCES registered_models(name) ON UPDATE CASCADE ON DELETE CASCADE,
    alias    TEXT NOT NULL,
    version  INTEGER NOT NULL,
    PRIMARY KEY (model, alias)
) WITHOUT ROWID;

CREATE TABLE alias_history (
    id            INTEGER PRIMARY KEY,
    model         TEXT NOT NULL,
    alias         TEXT NOT NULL,
    from_version  INTEGER,
    to_version    INTEGER,
    actor         TEXT NOT NULL,
    at_ms         INTEGER NOT NULL
);

CREATE TABLE transitions (
    id       INTEGER PRIMARY KEY,
    model    TEXT NOT NULL,
    slot     TEXT NOT NULL,
    version  INTEGER,
    action   TEXT NOT NULL,
    actor    TEXT NOT NULL,
    at_ms    INTEGER NOT NULL,
    record   TEXT NOT NULL
);
CREATE INDEX transitions_by_model ON transitions(model, slot, id);

CREATE TABLE approvals (
    id            INTEGER PRIMARY KEY,
    model         TEXT NOT NULL,
    version       INTEGER NOT NULL,
    approver      TEXT NOT NULL,
    at_ms         INTEGER NOT NULL,
    binding       TEXT NOT NULL,
    binding_digest TEXT NOT NULL,
    comment       TEXT
);
CREATE INDEX approvals_by_version ON approvals(model, version);

CREATE TABLE gate_decisions (
    digest              TEXT PRIMARY KEY,
    model               TEXT,
    champion_version    INTEGER,
    challenger_version  INTEGER,
    verdict             TEXT NOT NULL,
    record              TEXT NOT NULL,
    created_ms          INTEGER NOT NULL
);
CREATE INDEX gate_decisions_by_challenger ON gate_decisions(model, challenger_version, created_ms);

CREATE TABLE policies (
    version     INTEGER PRIMARY KEY,
    document    TEXT NOT NULL,
    digest      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);

CREATE TABLE users (
    name         TEXT PRIMARY KEY,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'contributor', 'validator', 'deployer', 'admin')),
    created_ms   INTEGER NOT NULL,
    disabled_ms  INTEGER
);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    user_name    TEXT NOT NULL REFERENCES users(name),
    secret_hash  TEXT NOT NULL,
    description  TEXT,
    created_ms   INTEGER NOT NULL,
    revoked_ms   INTEGER
);

-- The tamper-evident audit chain: each entry's hash covers the previous entry's hash.
CREATE TABLE audit_log (
    seq           INTEGER PRIMARY KEY,
    time_ms       INTEGER NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    payload       TEXT NOT NULL,
    payload_digest TEXT NOT NULL,
    hash          TEXT NOT NULL
);
"#;
