//! Reading `slipway.yaml` into a [`PipelineSpec`], reporting every problem at once.

use super::error::{SpecError, SpecProblem, nearest};
use super::params::ParamsDoc;
use super::paths::resolve;
use super::spec::{PipelineSpec, StageSpec};
use super::template::{Instance, foreach_instances, matrix_instances};
use super::vars::{Scope, merge_vars, substitute};
use super::yaml::{self, Node, Value};
use crate::RelPath;
use serde_json::Value as Json;
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
pub(super) const OUT_KEYS: &[&str] = &["kind", "cache"];

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

pub(super) fn find<'a>(entries: &'a [(Node, Node)], key: &str) -> Option<&'a (Node, Node)> {
    entries.iter().find(|(k, _)| k.as_str() == Some(key))
}

/// Collects problems for one file.
pub(super) struct Cx<'a> {
    file: &'a str,
    pub(super) errors: Vec<SpecError>,
}

impl<'a> Cx<'a> {
    fn new(file: &'a str) -> Cx<'a> {
        Cx {
            file,
            errors: Vec::new(),
        }
    }

    pub(super) fn push(
        &mut self,
        line: u32,
        stage: Option<&str>,
        field: Option<&str>,
        problem: SpecProblem,
    ) {
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
    pub(super) fn check_keys(
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

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
