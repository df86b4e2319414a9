//! Reading `slipway.lock` back, with the line of the first problem.

use super::error::{SpecLocation, nearest};
use super::lock::{LOCK_SCHEMA, LockEntry, LockError, LockFile, LockProblem, LockedPath};
use super::spec::Action;
use super::yaml::{self, Node, Value};
use crate::{Digest, RelPath};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

const TOP_KEYS: &[&str] = &["schema", "stages"];
const ENTRY_KEYS: &[&str] = &[
    "key", "cmd", "uses", "with", "wdir", "env", "deps", "params", "outs", "metrics",
];
const PATH_KEYS: &[&str] = &["path", "digest", "size", "nfiles"];

/// Reads a lock file (see [`LockFile::parse`]).
pub(super) fn read(file_name: &str, text: &str) -> Result<LockFile, LockError> {
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
                return Err(r.wrong(v, None, Some("stages"), "a map of stage names to entries"));
            }
        }
    }
    Ok(lock)
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
