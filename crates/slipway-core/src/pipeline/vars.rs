//! Template variables and `${...}` substitution.
//!
//! Variables come from the params file and from the inline maps under `vars` (DVC's habit);
//! inside `foreach` and `matrix`, `item` (and `key` for a foreach over a map) are added.
//! A string that is exactly one `${name}` takes the variable's value with its type (so
//! `foreach: ${models}` can loop over a list); a placeholder inside a longer string must name a
//! string, number or boolean. `\${` writes a literal `${`.

use super::error::{SpecProblem, nearest};
use super::params::lookup_in_map;
use super::yaml::{Node, Value};
use serde_json::{Map, Value as Json};
use std::rc::Rc;

/// The variables visible to a stage: the global ones plus loop locals.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scope {
    globals: Rc<Map<String, Json>>,
    locals: Map<String, Json>,
}

impl Scope {
    pub fn new(globals: Map<String, Json>) -> Scope {
        Scope {
            globals: Rc::new(globals),
            locals: Map::new(),
        }
    }

    /// The same scope with loop locals (`item`, `key`) set.
    pub fn with_locals(&self, locals: Map<String, Json>) -> Scope {
        Scope {
            globals: Rc::clone(&self.globals),
            locals,
        }
    }

    fn lookup(&self, dotted: &str) -> Option<&Json> {
        let parts: Vec<&str> = dotted.split('.').collect();
        lookup_in_map(&self.locals, &parts).or_else(|| lookup_in_map(&self.globals, &parts))
    }

    fn names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for map in [&self.locals, &*self.globals] {
            for (k, v) in map {
                collect(k.clone(), v, &mut out);
            }
        }
        out
    }
}

fn collect(prefix: String, value: &Json, out: &mut Vec<String>) {
    if let Json::Object(map) = value {
        for (k, v) in map {
            collect(format!("{prefix}.{k}"), v, out);
        }
    }
    out.push(prefix);
}

/// Merges `extra` into `base`; maps merge recursively, any other clash is reported by its dotted
/// name.
pub(crate) fn merge_vars(
    base: &mut Map<String, Json>,
    extra: Map<String, Json>,
    prefix: &str,
    clashes: &mut Vec<String>,
) {
    for (k, v) in extra {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match (base.get_mut(&k), v) {
            (None, v) => {
                base.insert(k, v);
            }
            (Some(Json::Object(inner)), Json::Object(more)) => {
                merge_vars(inner, more, &name, clashes);
            }
            (Some(_), _) => clashes.push(name),
        }
    }
}

/// One piece of a template string.
enum Piece<'a> {
    Text(String),
    Var(&'a str),
}

/// Splits a string into literal text and `${name}` placeholders.
fn pieces(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("\\${") {
            literal.push_str("${");
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                return Err("'${' is not closed by '}'".to_string());
            };
            let name = after[..end].trim();
            if name.is_empty() {
                return Err("'${}' names no variable".to_string());
            }
            if !name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']'))
            {
                return Err(format!(
                    "'{name}' is not a variable name; use letters, digits, '_', '-' and dots"
                ));
            }
            if !literal.is_empty() {
                out.push(Piece::Text(std::mem::take(&mut literal)));
            }
            out.push(Piece::Var(name));
            rest = &after[end + 1..];
        } else {
            let c = rest.chars().next().unwrap_or_default();
            literal.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if !literal.is_empty() {
        out.push(Piece::Text(literal));
    }
    Ok(out)
}

/// `a[0].b` is written as `a.0.b` for lookup.
fn normalise_name(name: &str) -> String {
    name.replace('[', ".").replace(']', "")
}

/// Text of a scalar value for use inside a string.
pub(crate) fn scalar_text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Substitutes the placeholders in one string. `Ok(Json)` when the whole string was a single
/// placeholder (the value keeps its type), `Ok(String)` otherwise.
pub(crate) fn substitute_str(text: &str, scope: &Scope) -> Result<Json, SpecProblem> {
    if !text.contains("${") {
        return Ok(Json::String(text.to_string()));
    }
    let bad = |why: String| SpecProblem::BadInterpolation {
        text: text.to_string(),
        why,
    };
    let parts = pieces(text).map_err(bad)?;
    let resolve = |name: &str| -> Result<&Json, SpecProblem> {
        let dotted = normalise_name(name);
        scope.lookup(&dotted).ok_or_else(|| {
            let names = scope.names();
            let suggestion = nearest(&dotted, names.iter().map(String::as_str)).map(str::to_string);
            SpecProblem::UnknownVariable {
                name: name.to_string(),
                suggestion,
            }
        })
    };
    if let [Piece::Var(name)] = parts.as_slice() {
        return resolve(name).cloned();
    }
    let mut out = String::new();
    for piece in &parts {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(name) => {
                let value = resolve(name)?;
                match scalar_text(value) {
                    Some(t) => out.push_str(&t),
                    None => {
                        let kind = match value {
                            Json::Object(_) => "a map",
                            Json::Array(_) => "a list",
                            _ => "null",
                        };
                        return Err(bad(format!(
                            "'${{{name}}}' is {kind}; only strings, numbers and booleans can go inside a string"
                        )));
                    }
                }
            }
        }
    }
    Ok(Json::String(out))
}

/// Substitutes every string in a node tree (values and map keys), collecting problems with the
/// line of the string at fault. A failed substitution leaves the string as it was.
pub(crate) fn substitute(
    node: &Node,
    scope: &Scope,
    problems: &mut Vec<(u32, SpecProblem)>,
) -> Node {
    match &node.value {
        Value::Str(s) => match substitute_str(s, scope) {
            Ok(Json::String(t)) => Node::new(node.line, Value::Str(t)),
            Ok(other) => Node::from_json(&other, node.line),
            Err(p) => {
                problems.push((node.line, p));
                node.clone()
            }
        },
        Value::Seq(items) => Node::new(
            node.line,
            Value::Seq(
                items
                    .iter()
                    .map(|i| substitute(i, scope, problems))
                    .collect(),
            ),
        ),
        Value::Map(entries) => Node::new(
            node.line,
            Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| {
                        (
                            substitute_key(k, scope, problems),
                            substitute(v, scope, problems),
                        )
                    })
                    .collect(),
            ),
        ),
        _ => node.clone(),
    }
}

/// Keys are always strings after substitution.
fn substitute_key(key: &Node, scope: &Scope, problems: &mut Vec<(u32, SpecProblem)>) -> Node {
    let Value::Str(s) = &key.value else {
        return key.clone();
    };
    match substitute_str(s, scope) {
        Ok(value) => match scalar_text(&value) {
            Some(t) => Node::new(key.line, Value::Str(t)),
            None => {
                problems.push((
                    key.line,
                    SpecProblem::BadInterpolation {
                        text: s.clone(),
                        why: "a map key must be a string, number or boolean".to_string(),
                    },
                ));
                key.clone()
            }
        },
        Err(p) => {
            problems.push((key.line, p));
            key.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> Scope {
        let Json::Object(map) = json!({
            "prefix": "out",
            "model": {"size": 3, "name": "m"},
            "models": ["a", "b"],
            "lr": 0.1,
            "flag": true
        }) else {
            unreachable!()
        };
        Scope::new(map)
    }

    #[test]
    fn substitutes_inside_strings() {
        let s = scope();
        assert_eq!(
            substitute_str("echo ${model.size} > ${prefix}_x.txt", &s).unwrap(),
            json!("echo 3 > out_x.txt")
        );
        assert_eq!(
            substitute_str("lr=${lr} ${ flag }", &s).unwrap(),
            json!("lr=0.1 true")
        );
        assert_eq!(substitute_str("${models[1]}", &s).unwrap(), json!("b"));
        assert_eq!(
            substitute_str("cost \\${HOME}", &s).unwrap(),
            json!("cost ${HOME}")
        );
    }

    #[test]
    fn whole_placeholder_keeps_type() {
        let s = scope();
        assert_eq!(substitute_str("${models}", &s).unwrap(), json!(["a", "b"]));
        assert_eq!(substitute_str("${lr}", &s).unwrap(), json!(0.1));
    }

    #[test]
    fn errors_explain() {
        let s = scope();
        let e = substitute_str("echo ${prefx}", &s).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown variable '${prefx}'; did you mean '${prefix}'?"
        );
        let e = substitute_str("echo ${model}", &s).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot substitute 'echo ${model}': '${model}' is a map; only strings, numbers and booleans can go inside a string"
        );
        let e = substitute_str("echo ${model", &s).unwrap_err();
        assert!(e.to_string().contains("not closed"), "{e}");
    }

    #[test]
    fn merge_reports_clashes() {
        let Json::Object(mut base) = json!({"a": {"x": 1}, "b": 2}) else {
            unreachable!()
        };
        let Json::Object(extra) = json!({"a": {"y": 2, "x": 3}, "c": 4}) else {
            unreachable!()
        };
        let mut clashes = Vec::new();
        merge_vars(&mut base, extra, "", &mut clashes);
        assert_eq!(clashes, vec!["a.x".to_string()]);
        assert_eq!(base["a"]["y"], json!(2));
        assert_eq!(base["c"], json!(4));
    }
}
