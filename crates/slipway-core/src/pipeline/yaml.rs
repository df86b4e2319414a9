//! A YAML document as a tree of nodes that remember their line, read with serde-saphyr.
//!
//! The pipeline file, the params file and the lock file are all read into this tree first, so
//! every later check can name the line it is about.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// One YAML node and the 1-based line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub line: u32,
    pub value: Value,
}

/// The value of a node. Mappings keep their keys as nodes (with lines) and their order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A document that is not valid YAML, with the line where the reader gave up (0 if unknown).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct YamlSyntax {
    pub line: u32,
    pub message: String,
}

impl Node {
    pub fn new(line: u32, value: Value) -> Node {
        Node { line, value }
    }

    /// A short name for the node's type, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::UInt(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The text of a scalar (strings as is, numbers and booleans as written in JSON); `None` for
    /// null and collections.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::UInt(u) => Some(u.to_string()),
            Value::Float(_) => Some(self.to_json().to_string()),
            _ => None,
        }
    }

    /// The node as a JSON value. Mapping keys become their scalar text; a later duplicate key
    /// cannot occur because the reader refuses duplicate keys.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::UInt(u) => J::from(*u),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.scalar_text().unwrap_or_default(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Builds a node tree from a JSON value, every node on `line`.
    pub fn from_json(value: &serde_json::Value, line: u32) -> Node {
        use serde_json::Value as J;
        let v = match value {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Value::UInt(u)
                } else if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else {
                    Value::Float(n.as_f64().unwrap_or(0.0))
                }
            }
            J::String(s) => Value::Str(s.clone()),
            J::Array(items) => Value::Seq(items.iter().map(|i| Node::from_json(i, line)).collect()),
            J::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| {
                        (
                            Node::new(line, Value::Str(k.clone())),
                            Node::from_json(v, line),
                        )
                    })
                    .collect(),
            ),
        };
        Node::new(line, v)
    }
}

/// Reads one YAML document. An empty document is a null node on line 1.
pub(crate) fn parse(text: &str) -> Result<Node, YamlSyntax> {
    let mut options = serde_saphyr::Options::default();
    // YAML 1.2 booleans only: `no`, `on`, `y` stay strings (country codes, flags).
    options.strict_booleans = true;
    options.with_snippet = false;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    if text.trim().is_empty() {
        return Ok(Node::new(1, Value::Null));
    }
    let parsed: Result<Option<Node>, _> = serde_saphyr::from_str_with_options(text, options);
    match parsed {
        Ok(Some(node)) => Ok(node),
        Ok(None) => Ok(Node::new(1, Value::Null)),
        Err(err) => {
            let line = err.location().map_or(0, |l| l.line() as u32);
            Err(YamlSyntax {
                line,
                message: clean_message(&err.to_string()),
            })
        }
    }
}

/// The reader's message without its own location suffix, lowercased at the start.
fn clean_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or("").trim();
    let first = match first.find(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    let first = first.trim_end_matches('.');
    if let Some(rest) = first.strip_prefix("duplicate mapping key: ") {
        let key = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest);
        return format!("key '{key}' appears twice in the same map; keep one");
    }
    let mut chars = first.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => "not valid YAML".to_string(),
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        let spanned = Spanned::<Bare>::deserialize(deserializer)?;
        Ok(Node::new(spanned.referenced.line() as u32, spanned.value.0))
    }
}

/// A node's value before its location is attached.
struct Bare(Value);

impl<'de> Deserialize<'de> for Bare {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Bare, D::Error> {
        deserializer.deserialize_any(BareVisitor)
    }
}

struct BareVisitor;

impl<'de> Visitor<'de> for BareVisitor {
    type Value = Bare;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Bare, E> {
        Ok(Bare(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Bare, E> {
        Ok(Bare(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Bare, D::Error> {
        Bare::deserialize(deserializer)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Bare, E> {
        Ok(Bare(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bare, E> {
        Ok(Bare(Value::Int(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bare, E> {
        Ok(Bare(Value::UInt(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Bare, E> {
        Ok(Bare(Value::Float(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Bare, E> {
        Ok(Bare(Value::Str(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Bare, E> {
        Ok(Bare(Value::Str(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bare, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Bare(Value::Seq(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Bare, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Bare(Value::Map(entries)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_remember_lines() {
        let text = "a: 1\nb:\n  - x\n  - {c: 0.5}\n\nd: \"no\"\ne: no\nf: true\n";
        let node = parse(text).unwrap();
        let map = node.as_map().unwrap();
        assert_eq!(map.len(), 5);
        let lines: Vec<u32> = map.iter().map(|(k, _)| k.line).collect();
        assert_eq!(lines, vec![1, 2, 6, 7, 8]);
        let seq = map[1].1.as_seq().unwrap();
        assert_eq!(seq[0].line, 3);
        assert_eq!(seq[1].line, 4);
        assert_eq!(map[0].1.value, Value::UInt(1));
        assert_eq!(map[2].1.value, Value::Str("no".into()));
        assert_eq!(map[3].1.value, Value::Str("no".into()));
        assert_eq!(map[4].1.value, Value::Bool(true));
        let inner = seq[1].as_map().unwrap();
        assert_eq!(inner[0].1.value, Value::Float(0.5));
    }

    #[test]
    fn syntax_errors_have_lines() {
        let err = parse("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(err.line >= 2, "{err:?}");
        let dup = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(dup.line, 3, "{dup:?}");
        assert_eq!(
            dup.message,
            "key 'a' appears twice in the same map; keep one"
        );
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(parse("").unwrap().value, Value::Null);
        assert_eq!(parse("# only a comment\n").unwrap().value, Value::Null);
    }
}
