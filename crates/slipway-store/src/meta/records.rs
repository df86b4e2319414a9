//! The records a metadata store keeps.

use slipway_core::tracking::{IoRole, MetricPoint, RunOrigin, RunStatus};
use slipway_core::{ArtifactRef, Digest};

/// An artifact's description: what the bytes at a digest are, and when they were first recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactRecord {
    /// Digest, size, kind, media type.
    pub artifact: ArtifactRef,
    /// When first recorded (ms since the epoch).
    pub created_ms: i64,
    /// Where it came from, for people (e.g. the original path).
    pub source: Option<String>,
}

/// One stat-cache entry: a file's identity at hashing time, and the digest computed then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatEntry {
    /// Absolute path of the file.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
    /// Status-change time, ns since the epoch (cannot be set by users, so it catches
    /// edits that restore the old mtime).
    pub ctime_ns: i64,
    /// Inode number.
    pub inode: u64,
    /// Digest of the content.
    pub digest: Digest,
}

/// An experiment: a named group of runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Experiment {
    /// Numeric id (MLflow exposes it as a string).
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// `active` or `deleted`.
    pub lifecycle: String,
    /// Creation time, ms.
    pub created_ms: i64,
    /// Last update time, ms.
    pub updated_ms: i64,
}

/// What is needed to create a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRun {
    /// The experiment it belongs to.
    pub experiment_id: i64,
    /// Display name.
    pub name: String,
    /// Pipeline stage or ad-hoc.
    pub origin: RunOrigin,
    /// Initial status (usually `Running`).
    pub status: RunStatus,
    /// Start time, ms.
    pub start_ms: i64,
    /// Who started it.
    pub user: String,
    /// Git commit of the code, if known.
    pub git_commit: Option<String>,
    /// Whether the work tree had uncommitted changes.
    pub git_dirty: Option<bool>,
}

/// A run as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// 32 lowercase hex characters (a UUIDv7, so ids sort by creation time).
    pub id: String,
    /// The experiment it belongs to.
    pub experiment_id: i64,
    /// Display name.
    pub name: String,
    /// Pipeline stage or ad-hoc.
    pub origin: RunOrigin,
    /// Current status.
    pub status: RunStatus,
    /// Start time, ms.
    pub start_ms: i64,
    /// End time, ms, once finished.
    pub end_ms: Option<i64>,
    /// Who started it.
    pub user: String,
    /// Git commit of the code, if known.
    pub git_commit: Option<String>,
    /// Whether the work tree had uncommitted changes.
    pub git_dirty: Option<bool>,
    /// `active` or `deleted` (deletes are soft).
    pub lifecycle: String,
}

/// An artifact a run consumed or produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunIo {
    /// The artifact's digest.
    pub digest: Digest,
    /// Input or output.
    pub role: IoRole,
    /// The path it had in the project (or under the run's artifacts).
    pub path: String,
}

/// One change of a run tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagChange {
    /// The tag key.
    pub key: String,
    /// The new value, or `None` when deleted.
    pub value: Option<String>,
    /// When, ms.
    pub at_ms: i64,
}

/// A finished run recorded in one transaction: what a pipeline stage produces when it ends.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    /// The run as it started.
    pub run: NewRun,
    /// Its terminal status.
    pub status: RunStatus,
    /// When it ended, ms.
    pub end_ms: i64,
    /// Params, by key.
    pub params: Vec<(String, String)>,
    /// Metric points.
    pub metrics: Vec<MetricPoint>,
    /// Tags, by key.
    pub tags: Vec<(String, String)>,
    /// Inputs and outputs.
    pub io: Vec<RunIo>,
}
