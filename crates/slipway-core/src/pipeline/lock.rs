//! The lock file (`slipway.lock`): what each stage last ran with and produced.
//!
//! Written with a fixed layout (stages sorted by name, keys in a fixed order, maps sorted) so
//! that it is byte-stable and diffs well; read back with line-accurate errors.

use super::emit::{self, scalar};
use super::error::SpecLocation;
use super::key::MissingState;
use super::spec::{Action, StageSpec};
use crate::{Digest, DigestParseError, RelPath, RelPathError};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The schema tag written at the top of every lock file.
pub const LOCK_SCHEMA: &str = "slipway-lock/1";

/// The observed state of a file or directory: its digest (a directory's is its manifest's),
/// total size, and for a directory the number of files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathState {
    /// Content digest.
    pub digest: Digest,
    /// Size in bytes (total of all files, for a directory).
    pub size: u64,
    /// Number of files, for a directory; `None` for a file.
    pub nfiles: Option<u64>,
}

/// A path with the state it had when the stage last ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedPath {
    /// Project-relative path.
    pub path: RelPath,
    /// Content digest.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// Number of files, for a directory.
    pub nfiles: Option<u64>,
}

impl LockedPath {
    /// The recorded state without the path.
    pub fn state(&self) -> PathState {
        PathState {
            digest: self.digest,
            size: self.size,
            nfiles: self.nfiles,
        }
    }
}

/// What one stage last ran with.
#[derive(Clone, Debug, PartialEq)]
pub struct LockEntry {
    /// The stage key computed from these inputs.
    pub key: Digest,
    /// The command lines (after substitution), or the built-in and its arguments.
    pub action: Action,
    /// The working directory, if not the project root.
    pub wdir: Option<RelPath>,
    /// The environment pins.
    pub env: BTreeMap<String, String>,
    /// Deps with their digests, sorted by path.
    pub deps: Vec<LockedPath>,
    /// Tracked params with their values.
    pub params: BTreeMap<String, Json>,
    /// Outs with their digests, sorted by path.
    pub outs: Vec<LockedPath>,
    /// Metrics files with their digests, sorted by path.
    pub metrics: Vec<LockedPath>,
}

impl LockEntry {
    /// The entry for a stage that just ran: `deps` and `outputs` hold the states observed
    /// (outputs after the run, covering outs and metrics).
    pub fn new(
        stage: &StageSpec,
        key: Digest,
        deps: &BTreeMap<RelPath, PathState>,
        outputs: &BTreeMap<RelPath, PathState>,
    ) -> Result<LockEntry, MissingState> {
        let pick = |paths: Vec<&RelPath>, states: &BTreeMap<RelPath, PathState>, role| {
            let mut out = Vec::with_capacity(paths.len());
            for path in paths {
                let s = states.get(path).ok_or_else(|| MissingState {
                    stage: stage.name.clone(),
                    role,
                    path: path.clone(),
                })?;
                out.push(LockedPath {
                    path: path.clone(),
                    digest: s.digest,
                    size: s.size,
                    nfiles: s.nfiles,
                });
            }
            out.sort_by(|a, b| a.path.cmp(&b.path));
            Ok(out)
        };
        Ok(LockEntry {
            key,
            action: stage.action.clone(),
            wdir: stage.wdir.clone(),
            env: stage.env.clone(),
            deps: pick(stage.deps.iter().map(|d| &d.path).collect(), deps, "dep")?,
            params: stage
                .params
                .iter()
                .map(|p| (p.key.clone(), p.value.clone()))
                .collect(),
            outs: pick(stage.outs.iter().map(|o| &o.path).collect(), outputs, "out")?,
            metrics: pick(
                stage.metrics.iter().map(|o| &o.path).collect(),
                outputs,
                "out",
            )?,
        })
    }

    /// The recorded dep at `path`.
    pub fn dep(&self, path: &RelPath) -> Option<&LockedPath> {
        self.deps.iter().find(|d| &d.path == path)
    }

    /// The recorded out or metrics file at `path`.
    pub fn output(&self, path: &RelPath) -> Option<&LockedPath> {
        self.outs
            .iter()
            .chain(&self.metrics)
            .find(|o| &o.path == path)
    }
}

/// The whole lock file: one entry per stage that has run successfully.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LockFile {
    /// Entries by stage name.
    pub stages: BTreeMap<String, LockEntry>,
}

/// A lock file that cannot be read.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{at}: {problem}")]
pub struct LockError {
    /// Where: file, line, stage and field (boxed to keep `Result`s small).
    pub at: Box<SpecLocation>,
    /// What is wrong.
    pub problem: LockProblem,
}

/// What is wrong with a lock file.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LockProblem {
    /// Not valid YAML.
    #[error("not valid YAML: {message}")]
    Syntax {
        /// The reader's explanation.
        message: String,
    },
    /// A value of the wrong type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What the format wants.
        expected: &'static str,
        /// What was found.
        found: &'static str,
    },
    /// A key the format does not have.
    #[error("unknown key '{key}'; {}", match .suggestion { Some(s) => format!("did you mean '{s}'?"), None => format!("valid keys here are {}", .valid.join(", ")) })]
    UnknownKey {
        /// The key.
        key: String,
        /// The nearest valid key.
        suggestion: Option<String>,
        /// The valid keys.
        valid: &'static [&'static str],
    },
    /// A required key is absent.
    #[error("missing key '{key}'")]
    MissingKey {
        /// The key.
        key: &'static str,
    },
    /// A schema this version does not read.
    #[error(
        "unsupported schema '{found}'; this version of slipway reads '{LOCK_SCHEMA}' (delete the lock file to start over)"
    )]
    Schema {
        /// The schema written.
        found: String,
    },
    /// An entry with both or neither of `cmd` and `uses`.
    #[error("an entry needs exactly one of 'cmd' and 'uses'")]
    Action,
    /// A malformed digest.
    #[error("{error}")]
    Digest {
        /// Why.
        error: DigestParseError,
    },
    /// A malformed path.
    #[error("{error}")]
    Path {
        /// Why.
        error: RelPathError,
    },
}

impl LockFile {
    /// An empty lock file.
    pub fn new() -> LockFile {
        LockFile::default()
    }

    /// The entry of a stage.
    pub fn entry(&self, stage: &str) -> Option<&LockEntry> {
        self.stages.get(stage)
    }

    /// Records (or replaces) a stage's entry.
    pub fn record(&mut self, stage: &str, entry: LockEntry) {
        self.stages.insert(stage.to_string(), entry);
    }

    /// Drops the entries of stages for which `keep` is false (e.g. stages no longer in the
    /// pipeline). Returns the names dropped.
    pub fn retain_stages(&mut self, keep: impl Fn(&str) -> bool) -> Vec<String> {
        let dropped: Vec<String> = self.stages.keys().filter(|k| !keep(k)).cloned().collect();
        for name in &dropped {
            self.stages.remove(name);
        }
        dropped
    }

    /// The file's text: byte-stable for equal contents.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# slipway.lock: what each stage last ran with; written by slipway, do not edit\n",
        );
        let _ = writeln!(out, "schema: {LOCK_SCHEMA}");
        if self.stages.is_empty() {
            out.push_str("stages: {}\n");
            return out;
        }
        out.push_str("stages:\n");
        for (name, entry) in &self.stages {
            out.push_str(&entry_yaml(name, entry));
        }
        out
    }

    /// Reads a lock file; an empty text is an empty lock file. The first problem is returned
    /// with its line.
    pub fn parse(file_name: &str, text: &str) -> Result<LockFile, LockError> {
        super::lock_read::read(file_name, text)
    }
}

/// One stage's entry, as it appears under `stages:` (indented by two).
pub fn entry_yaml(name: &str, entry: &LockEntry) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "  {}:", scalar(name));
    let _ = writeln!(out, "    key: {}", entry.key);
    match &entry.action {
        Action::Cmd(lines) => {
            let lines = Json::Array(lines.iter().cloned().map(Json::String).collect());
            emit::entry(&mut out, 4, "cmd", &lines);
        }
        Action::Uses { name, with } => {
            let _ = writeln!(out, "    uses: {}", scalar(name));
            if !matches!(with, Json::Object(m) if m.is_empty()) {
                emit::entry(&mut out, 4, "with", with);
            }
        }
    }
    if let Some(wdir) = &entry.wdir {
        let _ = writeln!(out, "    wdir: {}", scalar(wdir.as_str()));
    }
    if !entry.env.is_empty() {
        out.push_str("    env:\n");
        for (k, v) in &entry.env {
            let _ = writeln!(out, "      {}: {}", scalar(k), scalar(v));
        }
    }
    paths_yaml(&mut out, "deps", &entry.deps);
    if !entry.params.is_empty() {
        out.push_str("    params:\n");
        for (k, v) in &entry.params {
            emit::entry(&mut out, 6, k, v);
        }
    }
    paths_yaml(&mut out, "outs", &entry.outs);
    paths_yaml(&mut out, "metrics", &entry.metrics);
    out
}

fn paths_yaml(out: &mut String, key: &str, paths: &[LockedPath]) {
    if paths.is_empty() {
        return;
    }
    let _ = writeln!(out, "    {key}:");
    let mut sorted: Vec<&LockedPath> = paths.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    for p in sorted {
        let _ = writeln!(out, "    - path: {}", scalar(p.path.as_str()));
        let _ = writeln!(out, "      digest: {}", p.digest);
        let _ = writeln!(out, "      size: {}", p.size);
        if let Some(n) = p.nfiles {
            let _ = writeln!(out, "      nfiles: {n}");
        }
    }
}

#[cfg(test)]
#[path = "lock_tests.rs"]
mod tests;
