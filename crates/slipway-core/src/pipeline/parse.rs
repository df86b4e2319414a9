//! Reading `slipway.yaml` into a [`PipelineSpec`], reporting every problem at once.

use super::error::{SpecError, SpecProblem, nearest};
use super::params::ParamsDoc;
use super::paths::{resolve, resolve_wdir};
use super::spec::{Action, DepSpec, OutSpec, ParamSpec, PipelineSpec, StageSpec};
use super::template::{Instance, foreach_instances, matrix_instances};
use super::vars::{Scope, merge_vars, substitute};
use super::yaml::{self, Node, Value};
use crate::{ArtifactKind, RelPath};
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, HashSet};

/// The params file used when the pipeline file does not name one.
pub const DEFAULT_PARAMS_FILE: &str = "params.yaml";

const TOP_KEYS: &[&str] = &["stages", "params", "vars", "experiment"];
const STAGE_KEYS: &[&str] = &[
    "cmd",
    "uses",
    "with",
    "deps",
    "params",
    "outs",
    "metrics",
    "wdir",
    "env",
    "always_changed",
    "frozen",
    "desc",
    "meta",
];
const STAGE_KEYS_WITH_MATRIX: &[&str] = &[
    "cmd",
    "uses",
    "with",
    "deps",
    "params",
    "outs",
    "metrics",
    "wdir",
    "env",
    "always_changed",
    "frozen",
    "desc",
    "meta",
    "matrix",
];
const FOREACH_KEYS: &[&str] = &["foreach", "do"];
const OUT_KEYS: &[&str] = &["kind", "cache"];

/// Words people write for a key, mapped to the key (checked before edit distance).
const SYNONYMS: &[(&str, &str)] = &[
    ("command", "cmd"),
    ("run", "cmd"),
    ("dependencies", "deps"),
    ("inputs", "deps"),
    ("outputs", "outs"),
    ("output", "outs"),
    ("parameters", "params"),
    ("workdir", "wdir"),
    ("working_dir", "wdir"),
    ("cwd", "wdir"),
    ("environment", "env"),
    ("description", "desc"),
    ("always", "always_changed"),
    ("variables", "vars"),
    ("each", "foreach"),
    ("for_each", "foreach"),
    ("type", "kind"),
];

/// The params file a pipeline file names (`params:` at the top level), or `params.yaml`.
///
/// Call this first, read that file if it exists, then call [`parse_pipeline`].
pub fn params_file(file_name: &str, yaml_text: &str) -> Result<RelPath, Vec<SpecError>> {
    let root = yaml::parse(yaml_text).map_err(|e| {
        vec![SpecError::new(
            file_name,
            e.line,
            SpecProblem::Syntax { message: e.message },
        )]
    })?;
    let mut cx = Cx::new(file_name);
    let path = match root.as_map() {
        Some(entries) => cx.params_path(entries),
        None => RelPath::new(DEFAULT_PARAMS_FILE).ok(),
    };
    match (path, cx.errors.is_empty()) {
        (Some(path), true) => Ok(path),
        _ => Err(cx.errors),
    }
}

/// Parses a pipeline file: checks every key, substitutes variables, expands `foreach` and
/// `matrix`, resolves paths against `wdir`, and looks up tracked params in `params`.
///
/// Every problem found is returned, each naming the file, line, stage and field.
pub fn parse_pipeline(
    file_name: &str,
    yaml_text: &str,
    params: &ParamsDoc,
) -> Result<PipelineSpec, Vec<SpecError>> {
    let root = yaml::parse(yaml_text).map_err(|e| {
        vec![SpecError::new(
            file_name,
            e.line,
            SpecProblem::Syntax { message: e.message },
        )]
    })?;
    let mut cx = Cx::new(file_name);
    let empty = Vec::new();
    let entries: &[(Node, Node)] = match &root.value {
        Value::Map(entries) => entries,
        Value::Null => &empty,
        _ => {
            cx.push(
                root.line,
                None,
                None,
                SpecProblem::WrongType {
                    expected: "a map with 'stages' (and optionally 'params', 'vars', 'experiment')",
                    found: root.type_name(),
                },
            );
            return Err(cx.errors);
        }
    };
    cx.check_keys(entries, TOP_KEYS, None, None);
    let params_path = cx.params_path(entries).unwrap_or_else(|| {
        RelPath::new(DEFAULT_PARAMS_FILE).expect("default params path is valid")
    });
    let scope = cx.vars(entries, params, params_path.as_str());
    let mut experiment = None;
    if let Some((_, v)) = find(entries, "experiment") {
        match &v.value {
            Value::Str(s) if !s.trim().is_empty() => experiment = Some(s.clone()),
            Value::Null => {}
            _ => cx.push(
                v.line,
                None,
                Some("experiment"),
                SpecProblem::WrongType {
                    expected: "an experiment name (a non-empty string)",
                    found: v.type_name(),
                },
            ),
        }
    }
    let mut stages = Vec::new();
    if let Some((_, v)) = find(entries, "stages") {
        match &v.value {
            Value::Map(defs) => {
                for (name_node, body) in defs {
                    cx.stage_definition(name_node, body, &scope, params, &params_path, &mut stages);
                }
            }
            Value::Null => {}
            _ => cx.push(
                v.line,
                None,
                Some("stages"),
                SpecProblem::WrongType {
                    expected: "a map of stage names to stage definitions",
                    found: v.type_name(),
                },
            ),
        }
    }
    let mut first_line: BTreeMap<&str, u32> = BTreeMap::new();
    let mut duplicates = Vec::new();
    for stage in &stages {
        if let Some(first) = first_line.get(stage.name.as_str()) {
            duplicates.push((stage.line, stage.name.clone(), *first));
        } else {
            first_line.insert(&stage.name, stage.line);
        }
    }
    for (line, name, first) in duplicates {
        cx.push(
            line,
            Some(&name),
            None,
            SpecProblem::DuplicateStage {
                name: name.clone(),
                first_line: first,
            },
        );
    }
    if cx.errors.is_empty() {
        Ok(PipelineSpec {
            file: file_name.to_string(),
            params_file: params_path,
            experiment,
            stages,
        })
    } else {
        Err(cx.finish())
    }
}

fn find<'a>(entries: &'a [(Node, Node)], key: &str) -> Option<&'a (Node, Node)> {
    entries.iter().find(|(k, _)| k.as_str() == Some(key))
}

/// Collects problems for one file.
struct Cx<'a> {
    file: &'a str,
    errors: Vec<SpecError>,
}

impl<'a> Cx<'a> {
    fn new(file: &'a str) -> Cx<'a> {
        Cx {
            file,
            errors: Vec::new(),
        }
    }

    fn push(&mut self, line: u32, stage: Option<&str>, field: Option<&str>, problem: SpecProblem) {
        let mut e = SpecError::new(self.file, line, problem);
        if let Some(stage) = stage {
            e = e.in_stage(stage);
        }
        if let Some(field) = field {
            e = e.in_field(field);
        }
        self.errors.push(e);
    }

    /// Problems sorted by line, with repeats from the instances of one template dropped.
    fn finish(self) -> Vec<SpecError> {
        let mut seen = HashSet::new();
        let mut out: Vec<SpecError> = self
            .errors
            .into_iter()
            .filter(|e| seen.insert((e.at.line, e.at.field.clone(), e.problem.to_string())))
            .collect();
        out.sort_by_key(|e| e.at.line);
        out
    }

    /// Reports every key not in `valid`, suggesting the nearest valid one.
    fn check_keys(
        &mut self,
        entries: &[(Node, Node)],
        valid: &'static [&'static str],
        stage: Option<&str>,
        field: Option<&str>,
    ) {
        for (k, _) in entries {
            let key = k
                .scalar_text()
                .unwrap_or_else(|| format!("<{}>", k.type_name()));
            if valid.contains(&key.as_str()) {
                continue;
            }
            self.push(k.line, stage, field, unknown_key(&key, valid));
        }
    }

    fn params_path(&mut self, entries: &[(Node, Node)]) -> Option<RelPath> {
        let Some((_, v)) = find(entries, "params") else {
            return RelPath::new(DEFAULT_PARAMS_FILE).ok();
        };
        let Some(text) = v.as_str() else {
            self.push(
                v.line,
                None,
                Some("params"),
                SpecProblem::WrongType {
                    expected: "the path of the params file",
                    found: v.type_name(),
                },
            );
            return None;
        };
        match resolve(None, text) {
            Ok(path) => Some(path),
            Err(problem) => {
                self.push(v.line, None, Some("params"), problem);
                None
            }
        }
    }

    /// The global variables: the params file's values, merged with each inline `vars` map.
    fn vars(&mut self, entries: &[(Node, Node)], params: &ParamsDoc, params_path: &str) -> Scope {
        let mut globals = params.values();
        let Some((_, v)) = find(entries, "vars") else {
            return Scope::new(globals);
        };
        let items: Vec<&Node> = match &v.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Map(_) => vec![v],
            Value::Null => Vec::new(),
            _ => {
                self.push(
                    v.line,
                    None,
                    Some("vars"),
                    SpecProblem::WrongType {
                        expected: "a list of maps of variables",
                        found: v.type_name(),
                    },
                );
                Vec::new()
            }
        };
        for (i, item) in items.iter().enumerate() {
            let field = format!("vars[{i}]");
            match &item.value {
                Value::Map(_) => {
                    let Json::Object(map) = item.to_json() else {
                        continue;
                    };
                    let mut clashes = Vec::new();
                    merge_vars(&mut globals, map, "", &mut clashes);
                    for name in clashes {
                        self.push(
                            item.line,
                            None,
                            Some(&field),
                            SpecProblem::VarConflict {
                                name,
                                first: format!("{} or an earlier vars entry", params.file_name()),
                                second: field.clone(),
                            },
                        );
                    }
                }
                Value::Str(s) if s == params_path || s == params.file_name() => {}
                Value::Str(s) => self.push(
                    item.line,
                    None,
                    Some(&field),
                    SpecProblem::VarsFile {
                        file: s.clone(),
                        params_file: params_path.to_string(),
                    },
                ),
                _ => self.push(
                    item.line,
                    None,
                    Some(&field),
                    SpecProblem::WrongType {
                        expected: "a map of variables",
                        found: item.type_name(),
                    },
                ),
            }
        }
        Scope::new(globals)
    }

    /// One entry under `stages`: a plain stage, a `foreach`, or a `matrix`.
    fn stage_definition(
        &mut self,
        name_node: &Node,
        body: &Node,
        scope: &Scope,
        params: &ParamsDoc,
        params_path: &RelPath,
        out: &mut Vec<StageSpec>,
    ) {
        let name = name_node.scalar_text().unwrap_or_default();
        let line = name_node.line;
        if !valid_stage_name(&name) {
            self.push(
                line,
                None,
                None,
                SpecProblem::BadStageName { name: name.clone() },
            );
            return;
        }
        let Some(entries) = body.as_map() else {
            self.push(
                body.line,
                Some(&name),
                None,
                SpecProblem::WrongType {
                    expected: "a stage definition (a map with 'cmd' or 'uses')",
                    found: body.type_name(),
                },
            );
            return;
        };
        let foreach = find(entries, "foreach");
        let matrix = find(entries, "matrix");
        let do_ = find(entries, "do");
        let mut bad_shape = false;
        if let (Some(_), Some((k, _))) = (foreach, matrix) {
            self.push(k.line, Some(&name), None, SpecProblem::ForeachAndMatrix);
            bad_shape = true;
        }
        if let Some((fk, fv)) = foreach {
            // Only `foreach` and `do` at this level; the stage goes inside `do`.
            for (k, _) in entries {
                let key = k.scalar_text().unwrap_or_default();
                if FOREACH_KEYS.contains(&key.as_str()) || key == "matrix" {
                    continue;
                }
                let problem = if STAGE_KEYS.contains(&key.as_str()) {
                    SpecProblem::KeyBesideDo { key }
                } else {
                    unknown_key(&key, FOREACH_KEYS)
                };
                self.push(k.line, Some(&name), None, problem);
            }
            let Some((dk, dv)) = do_ else {
                self.push(fk.line, Some(&name), None, SpecProblem::ForeachWithoutDo);
                return;
            };
            let Some(do_entries) = dv.as_map() else {
                self.push(
                    dv.line,
                    Some(&name),
                    Some("do"),
                    SpecProblem::WrongType {
                        expected: "a stage definition (a map with 'cmd' or 'uses')",
                        found: dv.type_name(),
                    },
                );
                return;
            };
            self.check_keys(do_entries, STAGE_KEYS, Some(&name), None);
            if bad_shape {
                return;
            }
            match foreach_instances(fv, scope) {
                Ok(instances) => self.instances(
                    &name,
                    dk.line,
                    do_entries,
                    &instances,
                    scope,
                    params,
                    params_path,
                    out,
                ),
                Err(problems) => {
                    for (l, p) in problems {
                        self.push(l, Some(&name), Some("foreach"), p);
                    }
                }
            }
            return;
        }
        if let Some((dk, _)) = do_ {
            self.push(dk.line, Some(&name), None, SpecProblem::DoWithoutForeach);
        }
        let body_entries: Vec<(Node, Node)> = entries
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), Some("matrix" | "do")))
            .cloned()
            .collect();
        if let Some((_, mv)) = matrix {
            self.check_keys(&body_entries, STAGE_KEYS_WITH_MATRIX, Some(&name), None);
            match matrix_instances(mv, scope) {
                Ok(instances) => self.instances(
                    &name,
                    line,
                    &body_entries,
                    &instances,
                    scope,
                    params,
                    params_path,
                    out,
                ),
                Err(problems) => {
                    for (l, p) in problems {
                        self.push(l, Some(&name), Some("matrix"), p);
                    }
                }
            }
            return;
        }
        self.check_keys(&body_entries, STAGE_KEYS, Some(&name), None);
        let mut problems = Vec::new();
        let body = substitute(
            &Node::new(body.line, Value::Map(body_entries)),
            scope,
            &mut problems,
        );
        for (l, p) in problems {
            self.push(l, Some(&name), None, p);
        }
        if let Some(stage) = self.stage(&name, None, line, &body, params, params_path) {
            out.push(stage);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn instances(
        &mut self,
        base: &str,
        line: u32,
        body: &[(Node, Node)],
        instances: &[Instance],
        scope: &Scope,
        params: &ParamsDoc,
        params_path: &RelPath,
        out: &mut Vec<StageSpec>,
    ) {
        let template = Node::new(line, Value::Map(body.to_vec()));
        for instance in instances {
            let name = format!("{base}@{}", instance.suffix);
            let local = scope.with_locals(instance.locals.clone());
            let mut problems = Vec::new();
            let body = substitute(&template, &local, &mut problems);
            for (l, p) in problems {
                self.push(l, Some(&name), None, p);
            }
            if let Some(stage) = self.stage(&name, Some(base), line, &body, params, params_path) {
                out.push(stage);
            }
        }
    }

    /// Builds one stage from its (substituted) body. Unknown keys were reported already.
    fn stage(
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

fn wrong(expected: &'static str, found: &Node) -> SpecProblem {
    SpecProblem::WrongType {
        expected,
        found: found.type_name(),
    }
}

fn unknown_key(key: &str, valid: &'static [&'static str]) -> SpecProblem {
    let synonym = SYNONYMS
        .iter()
        .find(|(word, target)| word.eq_ignore_ascii_case(key) && valid.contains(target))
        .map(|(_, target)| *target);
    let suggestion = synonym
        .or_else(|| nearest(key, valid.iter().copied()))
        .or_else(|| nearest(&key.to_ascii_lowercase(), valid.iter().copied()))
        .map(str::to_string);
    SpecProblem::UnknownKey {
        key: key.to_string(),
        suggestion,
        valid,
    }
}

fn valid_stage_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
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

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
