//! Building one stage from its definition, after variable substitution: the action, paths
//! resolved against `wdir`, params looked up, outs with their options, env and flags.

use super::error::{SpecProblem, nearest};
use super::params::ParamsDoc;
use super::parse::{Cx, OUT_KEYS, find};
use super::paths::{resolve, resolve_wdir};
use super::spec::{Action, DepSpec, OutSpec, ParamSpec, StageSpec};
use super::yaml::{Node, Value};
use crate::{ArtifactKind, RelPath};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

impl Cx<'_> {
    /// Builds one stage from its (substituted) body. Unknown keys were reported already.
    pub(super) fn stage(
        &mut self,
        name: &str,
        template: Option<&str>,
        line: u32,
        body: &Node,
        params: &ParamsDoc,
        params_path: &RelPath,
    ) -> Option<StageSpec> {
        let entries = body.as_map().unwrap_or_default();
        let errors_before = self.errors.len();
        let st = Some(name);
        let mut stage = StageSpec {
            name: name.to_string(),
            template: template.map(str::to_string),
            line,
            action: Action::Cmd(Vec::new()),
            wdir: None,
            deps: Vec::new(),
            params: Vec::new(),
            outs: Vec::new(),
            metrics: Vec::new(),
            env: BTreeMap::new(),
            always_changed: false,
            frozen: false,
            desc: None,
        };
        if let Some((_, v)) = find(entries, "wdir") {
            match v.as_str().map(resolve_wdir) {
                Some(Ok(wdir)) => stage.wdir = wdir,
                Some(Err(p)) => self.push(v.line, st, Some("wdir"), p),
                None => self.push(v.line, st, Some("wdir"), wrong("a directory path", v)),
            }
        }
        let wdir = stage.wdir.clone();
        let cmd = find(entries, "cmd");
        let uses = find(entries, "uses");
        let with = find(entries, "with");
        match (cmd, uses) {
            (Some((ck, _)), Some(_)) => self.push(ck.line, st, None, SpecProblem::CmdAndUses),
            (None, None) => self.push(line, st, None, SpecProblem::NoAction),
            (Some((_, v)), None) => {
                if let Some(lines) = self.command(v, name) {
                    stage.action = Action::Cmd(lines);
                }
            }
            (None, Some((_, v))) => {
                let with_value = match with {
                    None => Json::Object(Map::new()),
                    Some((_, w)) => match &w.value {
                        Value::Map(_) => w.to_json(),
                        Value::Null => Json::Object(Map::new()),
                        _ => {
                            self.push(w.line, st, Some("with"), wrong("a map of arguments", w));
                            Json::Object(Map::new())
                        }
                    },
                };
                match v.as_str() {
                    Some(s) if valid_uses(s) => {
                        stage.action = Action::Uses {
                            name: s.to_string(),
                            with: with_value,
                        }
                    }
                    Some(s) => self.push(
                        v.line,
                        st,
                        Some("uses"),
                        SpecProblem::BadUses {
                            name: s.to_string(),
                        },
                    ),
                    None => self.push(
                        v.line,
                        st,
                        Some("uses"),
                        wrong("a built-in name such as slipway/copy", v),
                    ),
                }
            }
        }
        if let (Some((wk, _)), None) = (with, uses) {
            self.push(wk.line, st, None, SpecProblem::WithWithoutUses);
        }
        if let Some((_, v)) = find(entries, "deps") {
            let mut first: BTreeMap<RelPath, u32> = BTreeMap::new();
            for (i, item) in self
                .list(v, name, "deps", "a list of paths")
                .iter()
                .enumerate()
            {
                let field = format!("deps[{i}]");
                let Some(text) = item.as_str() else {
                    self.push(item.line, st, Some(&field), wrong("a path", item));
                    continue;
                };
                match resolve(wdir.as_ref(), text) {
                    Ok(path) => {
                        if let Some(l) = first.get(&path) {
                            self.push(
                                item.line,
                                st,
                                Some(&field),
                                SpecProblem::DuplicateEntry {
                                    what: "dep",
                                    value: path.to_string(),
                                    first_line: *l,
                                },
                            );
                            continue;
                        }
                        first.insert(path.clone(), item.line);
                        stage.deps.push(DepSpec {
                            path,
                            line: item.line,
                        });
                    }
                    Err(p) => self.push(item.line, st, Some(&field), p),
                }
            }
        }
        if let Some((_, v)) = find(entries, "params") {
            self.params(v, name, params, params_path, &mut stage.params);
        }
        let mut first_out: BTreeMap<RelPath, u32> = BTreeMap::new();
        for (key, metrics) in [("outs", false), ("metrics", true)] {
            if let Some((_, v)) = find(entries, key) {
                let found = self.outs(v, name, key, wdir.as_ref(), metrics, &mut first_out);
                if metrics {
                    stage.metrics = found;
                } else {
                    stage.outs = found;
                }
            }
        }
        if let Some((_, v)) = find(entries, "env") {
            self.env(v, name, &mut stage.env);
        }
        for (key, slot) in [
            ("always_changed", &mut stage.always_changed),
            ("frozen", &mut stage.frozen),
        ] {
            if let Some((_, v)) = find(entries, key) {
                match v.value {
                    Value::Bool(b) => *slot = b,
                    _ => self.push(v.line, st, Some(key), wrong("true or false", v)),
                }
            }
        }
        if let Some((_, v)) = find(entries, "desc") {
            match &v.value {
                Value::Str(s) => stage.desc = Some(s.clone()),
                Value::Null => {}
                _ => self.push(
                    v.line,
                    st,
                    Some("desc"),
                    wrong("a description (a string)", v),
                ),
            }
        }
        (self.errors.len() == errors_before).then_some(stage)
    }

    /// `cmd`: a string (split into lines) or a list of strings.
    fn command(&mut self, v: &Node, stage: &str) -> Option<Vec<String>> {
        let mut lines = Vec::new();
        match &v.value {
            Value::Str(s) => lines.extend(
                s.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_string),
            ),
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    match &item.value {
                        Value::Str(s) => lines.extend(
                            s.lines()
                                .filter(|l| !l.trim().is_empty())
                                .map(str::to_string),
                        ),
                        _ => {
                            self.push(
                                item.line,
                                Some(stage),
                                Some(&format!("cmd[{i}]")),
                                wrong("a command line (a string)", item),
                            );
                            return None;
                        }
                    }
                }
            }
            _ => {
                self.push(
                    v.line,
                    Some(stage),
                    Some("cmd"),
                    wrong("a command (a string or a list of strings)", v),
                );
                return None;
            }
        }
        if lines.is_empty() {
            self.push(v.line, Some(stage), Some("cmd"), SpecProblem::EmptyCommand);
            return None;
        }
        Some(lines)
    }

    /// A list-valued key; `null` is an empty list.
    fn list(&mut self, v: &Node, stage: &str, key: &str, expected: &'static str) -> Vec<Node> {
        match &v.value {
            Value::Seq(items) => items.clone(),
            Value::Null => Vec::new(),
            _ => {
                self.push(v.line, Some(stage), Some(key), wrong(expected, v));
                Vec::new()
            }
        }
    }

    fn params(
        &mut self,
        v: &Node,
        stage: &str,
        params: &ParamsDoc,
        params_path: &RelPath,
        out: &mut Vec<ParamSpec>,
    ) {
        let st = Some(stage);
        let mut wanted: Vec<(String, u32, String)> = Vec::new();
        for (i, item) in self
            .list(v, stage, "params", "a list of dotted keys such as train.lr")
            .iter()
            .enumerate()
        {
            let field = format!("params[{i}]");
            match &item.value {
                Value::Str(s) => wanted.push((s.clone(), item.line, field)),
                // DVC's `- params.yaml: [keys]` form, for the params file in use.
                Value::Map(entries) if entries.len() == 1 => {
                    let (fk, fv) = &entries[0];
                    let file = fk.scalar_text().unwrap_or_default();
                    let same = file == params_path.as_str()
                        || file == params.file_name()
                        || resolve(None, &file).is_ok_and(|p| &p == params_path);
                    if !same {
                        self.push(
                            fk.line,
                            st,
                            Some(&field),
                            SpecProblem::OtherParamsFile {
                                file,
                                params_file: params_path.to_string(),
                            },
                        );
                        continue;
                    }
                    match &fv.value {
                        Value::Null => {
                            for key in params.values().keys() {
                                wanted.push((key.clone(), fk.line, field.clone()));
                            }
                        }
                        Value::Seq(keys) => {
                            for (j, key) in keys.iter().enumerate() {
                                match key.as_str() {
                                    Some(k) => wanted.push((
                                        k.to_string(),
                                        key.line,
                                        format!("{field}[{j}]"),
                                    )),
                                    None => self.push(
                                        key.line,
                                        st,
                                        Some(&format!("{field}[{j}]")),
                                        wrong("a dotted key", key),
                                    ),
                                }
                            }
                        }
                        _ => self.push(
                            fv.line,
                            st,
                            Some(&field),
                            wrong("a list of dotted keys", fv),
                        ),
                    }
                }
                _ => self.push(
                    item.line,
                    st,
                    Some(&field),
                    wrong("a dotted key such as train.lr", item),
                ),
            }
        }
        let mut first: BTreeMap<String, u32> = BTreeMap::new();
        for (key, line, field) in wanted {
            if let Some(l) = first.get(&key) {
                self.push(
                    line,
                    st,
                    Some(&field),
                    SpecProblem::DuplicateEntry {
                        what: "param",
                        value: key,
                        first_line: *l,
                    },
                );
                continue;
            }
            first.insert(key.clone(), line);
            match params.get(&key) {
                Some(value) => out.push(ParamSpec {
                    key,
                    value: value.clone(),
                    line,
                }),
                None => {
                    let keys = params.keys();
                    let suggestion =
                        nearest(&key, keys.iter().map(String::as_str)).map(str::to_string);
                    self.push(
                        line,
                        st,
                        Some(&field),
                        SpecProblem::MissingParam {
                            key,
                            params_file: params.file_name().to_string(),
                            suggestion,
                            file_missing: !params.exists(),
                        },
                    );
                }
            }
        }
    }

    /// `outs` or `metrics`: paths, or single-key maps `path: {kind, cache}`.
    fn outs(
        &mut self,
        v: &Node,
        stage: &str,
        key: &str,
        wdir: Option<&RelPath>,
        metrics: bool,
        first: &mut BTreeMap<RelPath, u32>,
    ) -> Vec<OutSpec> {
        let st = Some(stage);
        let mut found = Vec::new();
        for (i, item) in self
            .list(v, stage, key, "a list of paths")
            .iter()
            .enumerate()
        {
            let field = format!("{key}[{i}]");
            let default_kind = metrics.then_some(ArtifactKind::Report);
            let (text, line, options) = match &item.value {
                Value::Str(s) => (s.clone(), item.line, None),
                Value::Map(entries) if entries.len() == 1 => {
                    let (pk, pv) = &entries[0];
                    match pk.as_str() {
                        Some(s) => (s.to_string(), pk.line, Some(pv)),
                        None => {
                            self.push(pk.line, st, Some(&field), wrong("a path", pk));
                            continue;
                        }
                    }
                }
                _ => {
                    self.push(
                        item.line,
                        st,
                        Some(&field),
                        wrong("a path, or 'path: {kind: ..., cache: ...}'", item),
                    );
                    continue;
                }
            };
            let mut out = OutSpec {
                path: match resolve(wdir, &text) {
                    Ok(p) => p,
                    Err(p) => {
                        self.push(line, st, Some(&field), p);
                        continue;
                    }
                },
                kind: default_kind,
                cache: true,
                line,
            };
            if let Some(opts) = options {
                match &opts.value {
                    Value::Null => {}
                    Value::Map(entries) => {
                        self.check_keys(entries, OUT_KEYS, st, Some(&field));
                        for (ok, ov) in entries {
                            match ok.as_str() {
                                Some("kind") => match ov.as_str().map(str::parse::<ArtifactKind>) {
                                    Some(Ok(k)) if k != ArtifactKind::Directory => {
                                        out.kind = Some(k)
                                    }
                                    Some(_) => self.push(
                                        ov.line,
                                        st,
                                        Some(&format!("{field}.kind")),
                                        SpecProblem::UnknownKind {
                                            kind: ov.as_str().unwrap_or_default().to_string(),
                                        },
                                    ),
                                    None => self.push(
                                        ov.line,
                                        st,
                                        Some(&format!("{field}.kind")),
                                        wrong("a kind name", ov),
                                    ),
                                },
                                Some("cache") => match ov.value {
                                    Value::Bool(b) => out.cache = b,
                                    _ => self.push(
                                        ov.line,
                                        st,
                                        Some(&format!("{field}.cache")),
                                        wrong("true or false", ov),
                                    ),
                                },
                                _ => {}
                            }
                        }
                    }
                    _ => {
                        self.push(
                            opts.line,
                            st,
                            Some(&field),
                            wrong("a map with 'kind' and/or 'cache'", opts),
                        );
                        continue;
                    }
                }
            }
            if let Some(l) = first.get(&out.path) {
                self.push(
                    line,
                    st,
                    Some(&field),
                    SpecProblem::DuplicateEntry {
                        what: "out",
                        value: out.path.to_string(),
                        first_line: *l,
                    },
                );
                continue;
            }
            first.insert(out.path.clone(), line);
            found.push(out);
        }
        found
    }

    fn env(&mut self, v: &Node, stage: &str, out: &mut BTreeMap<String, String>) {
        let st = Some(stage);
        let entries = match &v.value {
            Value::Map(entries) => entries,
            Value::Null => return,
            _ => {
                self.push(
                    v.line,
                    st,
                    Some("env"),
                    wrong("a map of variable names to values", v),
                );
                return;
            }
        };
        for (k, val) in entries {
            let name = k.scalar_text().unwrap_or_default();
            let field = format!("env.{name}");
            if !valid_env_name(&name) {
                self.push(k.line, st, Some(&field), SpecProblem::BadEnvName { name });
                continue;
            }
            match (&val.value, val.scalar_text()) {
                (Value::Seq(_) | Value::Map(_) | Value::Null, _) | (_, None) => {
                    self.push(val.line, st, Some(&field), wrong("a string value", val))
                }
                (_, Some(text)) => {
                    out.insert(name, text);
                }
            }
        }
    }
}

pub(super) fn wrong(expected: &'static str, found: &Node) -> SpecProblem {
    SpecProblem::WrongType {
        expected,
        found: found.type_name(),
    }
}

fn valid_uses(name: &str) -> bool {
    match name.strip_prefix("slipway/") {
        Some(rest) => {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
        }
        None => false,
    }
}

fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
