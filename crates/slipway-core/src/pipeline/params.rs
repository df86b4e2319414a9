//! The params file (`params.yaml`): named values that stages track by dotted key and that
//! templates can read as variables.

use super::error::{SpecError, SpecProblem};
use super::yaml::{self, Value};
use serde_json::{Map, Value as Json};

/// A parsed params file, or the fact that it does not exist.
///
/// Parse it with [`ParamsDoc::parse`] from the text of the file that
/// [`params_file`](super::params_file) names; pass [`ParamsDoc::missing`] when there is no such
/// file (stages that track params then get a clear error).
#[derive(Clone, Debug, PartialEq)]
pub struct ParamsDoc {
    file: String,
    root: Option<Map<String, Json>>,
}

impl ParamsDoc {
    /// Parses the params file's text. An empty file is an empty set of params.
    pub fn parse(file_name: &str, text: &str) -> Result<ParamsDoc, SpecError> {
        let node = yaml::parse(text).map_err(|e| {
            SpecError::new(
                file_name,
                e.line,
                SpecProblem::Syntax { message: e.message },
            )
        })?;
        let root = match &node.value {
            Value::Null => Map::new(),
            Value::Map(_) => match node.to_json() {
                Json::Object(map) => map,
                _ => Map::new(),
            },
            _ => {
                return Err(SpecError::new(
                    file_name,
                    node.line,
                    SpecProblem::ParamsNotMap {
                        found: node.type_name(),
                    },
                ));
            }
        };
        Ok(ParamsDoc {
            file: file_name.to_string(),
            root: Some(root),
        })
    }

    /// A params file that does not exist.
    pub fn missing(file_name: &str) -> ParamsDoc {
        ParamsDoc {
            file: file_name.to_string(),
            root: None,
        }
    }

    /// The file name given when parsing.
    pub fn file_name(&self) -> &str {
        &self.file
    }

    /// Whether the file exists.
    pub fn exists(&self) -> bool {
        self.root.is_some()
    }

    /// The top-level map (empty when the file does not exist).
    pub fn values(&self) -> Map<String, Json> {
        self.root.clone().unwrap_or_default()
    }

    /// The value at a dotted key such as `train.lr` or `train`; list items by index
    /// (`layers.0`). A key that itself contains dots (`"a.b": 1`) is found too.
    pub fn get(&self, dotted: &str) -> Option<&Json> {
        let root = self.root.as_ref()?;
        if dotted.is_empty() {
            return None;
        }
        let parts: Vec<&str> = dotted.split('.').collect();
        lookup_in_map(root, &parts)
    }

    /// Every dotted key (sections and leaves), for suggestions.
    pub fn keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(root) = &self.root {
            for (k, v) in root {
                collect_keys(k.clone(), v, &mut out);
            }
        }
        out
    }
}

/// Looks up `parts` in a map, trying keys that contain dots (`a.b`) as well as nesting.
pub(crate) fn lookup_in_map<'a>(map: &'a Map<String, Json>, parts: &[&str]) -> Option<&'a Json> {
    for take in 1..=parts.len() {
        let key = parts[..take].join(".");
        if let Some(value) = map.get(&key) {
            let rest = &parts[take..];
            if rest.is_empty() {
                return Some(value);
            }
            if let Some(found) = lookup(value, rest) {
                return Some(found);
            }
        }
    }
    None
}

/// Looks up `parts` below a value: maps by key, lists by index.
pub(crate) fn lookup<'a>(value: &'a Json, parts: &[&str]) -> Option<&'a Json> {
    if parts.is_empty() {
        return Some(value);
    }
    match value {
        Json::Object(map) => lookup_in_map(map, parts),
        Json::Array(items) => {
            let index: usize = parts[0].parse().ok()?;
            lookup(items.get(index)?, &parts[1..])
        }
        _ => None,
    }
}

fn collect_keys(prefix: String, value: &Json, out: &mut Vec<String>) {
    if let Json::Object(map) = value {
        for (k, v) in map {
            collect_keys(format!("{prefix}.{k}"), v, out);
        }
    }
    out.push(prefix);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_lookup() {
        let p = ParamsDoc::parse(
            "params.yaml",
            "train:\n  lr: 0.1\n  layers: [8, 4]\n\"a.b\": 1\nprep: {seed: 42}\n",
        )
        .unwrap();
        assert_eq!(p.get("train.lr"), Some(&serde_json::json!(0.1)));
        assert_eq!(p.get("train.layers.1"), Some(&serde_json::json!(4)));
        assert_eq!(p.get("a.b"), Some(&serde_json::json!(1)));
        assert_eq!(p.get("prep"), Some(&serde_json::json!({"seed": 42})));
        assert_eq!(p.get("train.lrr"), None);
        assert!(p.keys().contains(&"train.lr".to_string()));
        assert!(p.keys().contains(&"train".to_string()));
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = ParamsDoc::parse("params.yaml", "- 1\n- 2\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "params.yaml:1: the params file must be a map of names to values at its top level; found a list"
        );
        let err = ParamsDoc::parse("params.yaml", "a: 1\na: 2\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "params.yaml:2: not valid YAML: key 'a' appears twice in the same map; keep one"
        );
        assert!(ParamsDoc::parse("params.yaml", "").unwrap().exists());
        assert!(!ParamsDoc::missing("params.yaml").exists());
    }
}
