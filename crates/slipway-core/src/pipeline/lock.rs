//! The lock file (`slipway.lock`): what each stage last ran with and produced.
//!
//! Written with a fixed layout (stages sorted by name, keys in a fixed order, maps sorted) so
//! that it is byte-stable and diffs well; read back with line-accurate errors.

use super::emit::{self, scalar};
use super::error::{SpecLocation, nearest};
use super::key::MissingState;
use super::spec::{Action, StageSpec};
use super::yaml::{self, Node, Value};
use crate::{Digest, DigestParseError, RelPath, RelPathError};
use serde_json::{Map, Value as Json};
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

const TOP_KEYS: &[&str] = &["schema", "stages"];
const ENTRY_KEYS: &[&str] = &[
    "key", "cmd", "uses", "with", "wdir", "env", "deps", "params", "outs", "metrics",
];
const PATH_KEYS: &[&str] = &["path", "digest", "size", "nfiles"];

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
        let r = Reader { file: file_name };
        let root = yaml::parse(text).map_err(|e| {
            r.err(
                e.line,
                None,
                None,
                LockProblem::Syntax { message: e.message },
            )
        })?;
        let entries = match &root.value {
            Value::Null => return Ok(LockFile::new()),
            Value::Map(entries) => entries,
            _ => return Err(r.wrong(&root, None, None, "a map with 'schema' and 'stages'")),
        };
        r.check_keys(entries, TOP_KEYS, None, None)?;
        match find(entries, "schema") {
            None => {
                return Err(r.err(
                    root.line,
                    None,
                    None,
                    LockProblem::MissingKey { key: "schema" },
                ));
            }
            Some((_, v)) if v.as_str() == Some(LOCK_SCHEMA) => {}
            Some((_, v)) => {
                return Err(r.err(
                    v.line,
                    None,
                    Some("schema"),
                    LockProblem::Schema {
                        found: v.scalar_text().unwrap_or_else(|| v.type_name().to_string()),
                    },
                ));
            }
        }
        let mut lock = LockFile::new();
        if let Some((_, v)) = find(entries, "stages") {
            match &v.value {
                Value::Null => {}
                Value::Map(stages) => {
                    for (k, body) in stages {
                        let name = k.scalar_text().unwrap_or_default();
                        let entry = r.entry(&name, k.line, body)?;
                        lock.stages.insert(name, entry);
                    }
                }
                _ => {
                    return Err(r.wrong(
                        v,
                        None,
                        Some("stages"),
                        "a map of stage names to entries",
                    ));
                }
            }
        }
        Ok(lock)
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

fn find<'a>(entries: &'a [(Node, Node)], key: &str) -> Option<&'a (Node, Node)> {
    entries.iter().find(|(k, _)| k.as_str() == Some(key))
}

struct Reader<'a> {
    file: &'a str,
}

impl Reader<'_> {
    fn err(
        &self,
        line: u32,
        stage: Option<&str>,
        field: Option<&str>,
        problem: LockProblem,
    ) -> LockError {
        LockError {
            at: Box::new(SpecLocation {
                file: self.file.to_string(),
                line,
                stage: stage.map(str::to_string),
                field: field.map(str::to_string),
            }),
            problem,
        }
    }

    fn wrong(
        &self,
        node: &Node,
        stage: Option<&str>,
        field: Option<&str>,
        expected: &'static str,
    ) -> LockError {
        self.err(
            node.line,
            stage,
            field,
            LockProblem::WrongType {
                expected,
                found: node.type_name(),
            },
        )
    }

    fn check_keys(
        &self,
        entries: &[(Node, Node)],
        valid: &'static [&'static str],
        stage: Option<&str>,
        field: Option<&str>,
    ) -> Result<(), LockError> {
        for (k, _) in entries {
            let key = k.scalar_text().unwrap_or_default();
            if !valid.contains(&key.as_str()) {
                let suggestion = nearest(&key, valid.iter().copied()).map(str::to_string);
                return Err(self.err(
                    k.line,
                    stage,
                    field,
                    LockProblem::UnknownKey {
                        key,
                        suggestion,
                        valid,
                    },
                ));
            }
        }
        Ok(())
    }

    fn string(
        &self,
        node: &Node,
        stage: &str,
        field: &str,
        expected: &'static str,
    ) -> Result<String, LockError> {
        node.as_str()
            .map(str::to_string)
            .ok_or_else(|| self.wrong(node, Some(stage), Some(field), expected))
    }

    fn digest(&self, node: &Node, stage: &str, field: &str) -> Result<Digest, LockError> {
        let text = self.string(node, stage, field, "a digest (64 hex characters)")?;
        text.parse().map_err(|error| {
            self.err(
                node.line,
                Some(stage),
                Some(field),
                LockProblem::Digest { error },
            )
        })
    }

    fn path(&self, node: &Node, stage: &str, field: &str) -> Result<RelPath, LockError> {
        let text = self.string(node, stage, field, "a path")?;
        RelPath::new(&text).map_err(|error| {
            self.err(
                node.line,
                Some(stage),
                Some(field),
                LockProblem::Path { error },
            )
        })
    }

    fn u64(&self, node: &Node, stage: &str, field: &str) -> Result<u64, LockError> {
        match node.value {
            Value::UInt(n) => Ok(n),
            _ => Err(self.wrong(
                node,
                Some(stage),
                Some(field),
                "a non-negative whole number",
            )),
        }
    }

    fn entry(&self, name: &str, line: u32, body: &Node) -> Result<LockEntry, LockError> {
        let st = Some(name);
        let Some(entries) = body.as_map() else {
            return Err(self.wrong(body, st, None, "a stage entry (a map)"));
        };
        self.check_keys(entries, ENTRY_KEYS, st, None)?;
        let key = match find(entries, "key") {
            Some((_, v)) => self.digest(v, name, "key")?,
            None => return Err(self.err(line, st, None, LockProblem::MissingKey { key: "key" })),
        };
        let action = match (find(entries, "cmd"), find(entries, "uses")) {
            (Some((_, v)), None) => {
                let Some(items) = v.as_seq() else {
                    return Err(self.wrong(v, st, Some("cmd"), "a list of command lines"));
                };
                let mut lines = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    lines.push(self.string(item, name, &format!("cmd[{i}]"), "a command line")?);
                }
                Action::Cmd(lines)
            }
            (None, Some((_, v))) => Action::Uses {
                name: self.string(v, name, "uses", "a built-in name")?,
                with: match find(entries, "with") {
                    None => Json::Object(Map::new()),
                    Some((_, w)) => w.to_json(),
                },
            },
            _ => return Err(self.err(line, st, None, LockProblem::Action)),
        };
        let wdir = match find(entries, "wdir") {
            Some((_, v)) => Some(self.path(v, name, "wdir")?),
            None => None,
        };
        let mut env = BTreeMap::new();
        if let Some((_, v)) = find(entries, "env") {
            let Some(vars) = v.as_map() else {
                return Err(self.wrong(v, st, Some("env"), "a map of names to values"));
            };
            for (k, val) in vars {
                let k = k.scalar_text().unwrap_or_default();
                let field = format!("env.{k}");
                env.insert(k, self.string(val, name, &field, "a string")?);
            }
        }
        let mut params = BTreeMap::new();
        if let Some((_, v)) = find(entries, "params") {
            let Some(values) = v.as_map() else {
                return Err(self.wrong(v, st, Some("params"), "a map of keys to values"));
            };
            for (k, val) in values {
                params.insert(k.scalar_text().unwrap_or_default(), val.to_json());
            }
        }
        Ok(LockEntry {
            key,
            action,
            wdir,
            env,
            deps: self.paths(entries, name, "deps")?,
            params,
            outs: self.paths(entries, name, "outs")?,
            metrics: self.paths(entries, name, "metrics")?,
        })
    }

    fn paths(
        &self,
        entries: &[(Node, Node)],
        stage: &str,
        key: &str,
    ) -> Result<Vec<LockedPath>, LockError> {
        let Some((_, v)) = find(entries, key) else {
            return Ok(Vec::new());
        };
        let Some(items) = v.as_seq() else {
            return Err(self.wrong(v, Some(stage), Some(key), "a list of paths with digests"));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let field = format!("{key}[{i}]");
            let Some(fields) = item.as_map() else {
                return Err(self.wrong(
                    item,
                    Some(stage),
                    Some(&field),
                    "a map with path, digest and size",
                ));
            };
            self.check_keys(fields, PATH_KEYS, Some(stage), Some(&field))?;
            let get = |k: &'static str| {
                find(fields, k).map(|(_, v)| v).ok_or_else(|| {
                    self.err(
                        item.line,
                        Some(stage),
                        Some(&field),
                        LockProblem::MissingKey { key: k },
                    )
                })
            };
            out.push(LockedPath {
                path: self.path(get("path")?, stage, &format!("{field}.path"))?,
                digest: self.digest(get("digest")?, stage, &format!("{field}.digest"))?,
                size: self.u64(get("size")?, stage, &format!("{field}.size"))?,
                nfiles: match find(fields, "nfiles") {
                    Some((_, n)) => Some(self.u64(n, stage, &format!("{field}.nfiles"))?),
                    None => None,
                },
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "lock_tests.rs"]
mod tests;
