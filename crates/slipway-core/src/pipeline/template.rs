//! `foreach` and `matrix`: one stage definition expanded into several named instances.

use super::error::SpecProblem;
use super::vars::{Scope, scalar_text, substitute};
use super::yaml::{Node, Value};
use serde_json::{Map, Value as Json};

/// One generated stage: its name suffix (after `@`) and its loop variables.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Instance {
    pub suffix: String,
    pub locals: Map<String, Json>,
}

/// The instances of `foreach: LIST | MAP | ${var}`.
///
/// Over a list, scalar items name the instance (`fe@a`) and other items use their index
/// (`fe@0`); `${item}` is the item. Over a map, the key names the instance (`fe@us`), `${key}` is
/// the key and `${item}` the value.
pub(crate) fn foreach_instances(
    node: &Node,
    scope: &Scope,
) -> Result<Vec<Instance>, Vec<(u32, SpecProblem)>> {
    let mut problems = Vec::new();
    let node = substitute(node, scope, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    let instances: Vec<Instance> = match &node.value {
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let item = item.to_json();
                let suffix = scalar_text(&item).unwrap_or_else(|| i.to_string());
                let mut locals = Map::new();
                locals.insert("item".to_string(), item);
                Instance { suffix, locals }
            })
            .collect(),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| {
                let key = k.scalar_text().unwrap_or_default();
                let mut locals = Map::new();
                locals.insert("key".to_string(), Json::String(key.clone()));
                locals.insert("item".to_string(), v.to_json());
                Instance {
                    suffix: key,
                    locals,
                }
            })
            .collect(),
        _ => {
            return Err(vec![(
                node.line,
                SpecProblem::WrongType {
                    expected: "a list or a map to loop over (or '${name}' naming one)",
                    found: node.type_name(),
                },
            )]);
        }
    };
    if instances.is_empty() {
        return Err(vec![(
            node.line,
            SpecProblem::EmptyLoop {
                what: "foreach".to_string(),
            },
        )]);
    }
    Ok(instances)
}

/// The instances of `matrix: {axis: [values], ...}`: the cartesian product, first axis slowest.
///
/// Each instance is named by its values joined with `-` (`mx@1-x`); a value that is a list or a
/// map is named `AXISINDEX` instead. `${item.AXIS}` is the value on each axis.
pub(crate) fn matrix_instances(
    node: &Node,
    scope: &Scope,
) -> Result<Vec<Instance>, Vec<(u32, SpecProblem)>> {
    let mut problems = Vec::new();
    let node = substitute(node, scope, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    let Some(entries) = node.as_map() else {
        return Err(vec![(
            node.line,
            SpecProblem::WrongType {
                expected: "a map of names to lists of values",
                found: node.type_name(),
            },
        )]);
    };
    let mut axes: Vec<(String, Vec<(String, Json)>)> = Vec::new();
    for (k, v) in entries {
        let axis = k.scalar_text().unwrap_or_default();
        let Some(values) = v.as_seq() else {
            problems.push((
                v.line,
                SpecProblem::WrongType {
                    expected: "a list of values (or '${name}' naming one)",
                    found: v.type_name(),
                },
            ));
            continue;
        };
        if values.is_empty() {
            problems.push((
                v.line,
                SpecProblem::EmptyLoop {
                    what: format!("matrix.{axis}"),
                },
            ));
            continue;
        }
        let named = values
            .iter()
            .enumerate()
            .map(|(i, value)| {
                let value = value.to_json();
                let name = scalar_text(&value).unwrap_or_else(|| format!("{axis}{i}"));
                (name, value)
            })
            .collect();
        axes.push((axis, named));
    }
    if entries.is_empty() {
        problems.push((
            node.line,
            SpecProblem::EmptyLoop {
                what: "matrix".to_string(),
            },
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut combos: Vec<(Vec<String>, Map<String, Json>)> = vec![(Vec::new(), Map::new())];
    for (axis, values) in &axes {
        let mut next = Vec::with_capacity(combos.len() * values.len());
        for (names, item) in &combos {
            for (name, value) in values {
                let mut names = names.clone();
                names.push(name.clone());
                let mut item = item.clone();
                item.insert(axis.clone(), value.clone());
                next.push((names, item));
            }
        }
        combos = next;
    }
    Ok(combos
        .into_iter()
        .map(|(names, item)| {
            let mut locals = Map::new();
            locals.insert("item".to_string(), Json::Object(item));
            Instance {
                suffix: names.join("-"),
                locals,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::yaml;
    use serde_json::json;

    fn scope() -> Scope {
        let Json::Object(map) = json!({"models": {"us": {"lr": 0.1}, "eu": {"lr": 0.2}}}) else {
            unreachable!()
        };
        Scope::new(map)
    }

    #[test]
    fn foreach_list_and_map() {
        let node = yaml::parse("[a, b, {x: 1}]").unwrap();
        let got = foreach_instances(&node, &scope()).unwrap();
        let names: Vec<&str> = got.iter().map(|i| i.suffix.as_str()).collect();
        assert_eq!(names, ["a", "b", "2"]);
        assert_eq!(got[2].locals["item"], json!({"x": 1}));

        let node = yaml::parse("'${models}'").unwrap();
        let got = foreach_instances(&node, &scope()).unwrap();
        let names: Vec<&str> = got.iter().map(|i| i.suffix.as_str()).collect();
        assert_eq!(names, ["eu", "us"]);
        assert_eq!(got[1].locals["key"], json!("us"));
        assert_eq!(got[1].locals["item"], json!({"lr": 0.1}));
    }

    #[test]
    fn matrix_is_a_cartesian_product() {
        let node = yaml::parse("{m: [1, 2], n: [x, y], o: [[1], true]}").unwrap();
        let got = matrix_instances(&node, &scope()).unwrap();
        let names: Vec<&str> = got.iter().map(|i| i.suffix.as_str()).collect();
        assert_eq!(
            names,
            [
                "1-x-o0", "1-x-true", "1-y-o0", "1-y-true", "2-x-o0", "2-x-true", "2-y-o0",
                "2-y-true"
            ]
        );
        assert_eq!(got[0].locals["item"], json!({"m": 1, "n": "x", "o": [1]}));
    }

    #[test]
    fn empty_loops_are_refused() {
        let node = yaml::parse("[]").unwrap();
        let err = foreach_instances(&node, &scope()).unwrap_err();
        assert_eq!(
            err[0].1.to_string(),
            "'foreach' has no items; give a non-empty list or map"
        );
        let node = yaml::parse("{m: []}").unwrap();
        let err = matrix_instances(&node, &scope()).unwrap_err();
        assert_eq!(
            err[0].1.to_string(),
            "'matrix.m' has no items; give a non-empty list or map"
        );
    }
}
