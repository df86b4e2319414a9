//! A small YAML writer with a fixed layout, so that the same value always gives the same bytes.
//!
//! Strings are written plain only when no YAML reader could take them for anything else;
//! otherwise double-quoted with escapes. Maps are written with sorted keys.

use serde_json::Value as Json;
use std::fmt::Write;

/// Words some YAML readers take for booleans or null.
const RESERVED: &[&str] = &["true", "false", "null", "yes", "no", "on", "off", "y", "n"];

/// A string as a YAML scalar: plain when safe, double-quoted otherwise.
pub(crate) fn scalar(s: &str) -> String {
    if is_plain_safe(s) {
        s.to_string()
    } else {
        quoted(s)
    }
}

fn is_plain_safe(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    first.is_ascii_alphabetic()
        && !s.ends_with(' ')
        && chars.all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '_' | '.' | '/' | '@' | '+' | '-' | '=' | ',' | ' ')
        })
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str())
        && s.parse::<f64>().is_err()
}

/// A double-quoted YAML string.
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (0x80..0xa0).contains(&(c as u32))
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{85}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON value that fits on one line: scalars and empty collections.
fn inline(value: &Json) -> Option<String> {
    Some(match value {
        Json::Null => "null".to_string(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => scalar(s),
        Json::Array(items) if items.is_empty() => "[]".to_string(),
        Json::Object(map) if map.is_empty() => "{}".to_string(),
        _ => return None,
    })
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn sorted(map: &serde_json::Map<String, Json>) -> Vec<(&String, &Json)> {
    let mut entries: Vec<(&String, &Json)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    entries
}

/// Writes `value` right after `key:` of a mapping entry at column `indent`, through the end of
/// its last line. Nested maps go two columns further in; list items start at the key's column.
pub(crate) fn value_after_key(out: &mut String, indent: usize, value: &Json) {
    if let Some(text) = inline(value) {
        out.push(' ');
        out.push_str(&text);
        out.push('\n');
        return;
    }
    out.push('\n');
    match value {
        Json::Object(map) => {
            for (k, v) in sorted(map) {
                pad(out, indent + 2);
                out.push_str(&scalar(k));
                out.push(':');
                value_after_key(out, indent + 2, v);
            }
        }
        Json::Array(items) => {
            for item in items {
                pad(out, indent);
                out.push('-');
                list_item(out, indent, item);
            }
        }
        _ => unreachable!("scalars are inline"),
    }
}

/// Writes a list item right after its `-` at column `indent`.
fn list_item(out: &mut String, indent: usize, value: &Json) {
    if let Some(text) = inline(value) {
        out.push(' ');
        out.push_str(&text);
        out.push('\n');
        return;
    }
    match value {
        Json::Object(map) => {
            for (i, (k, v)) in sorted(map).into_iter().enumerate() {
                if i == 0 {
                    out.push(' ');
                } else {
                    pad(out, indent + 2);
                }
                out.push_str(&scalar(k));
                out.push(':');
                value_after_key(out, indent + 2, v);
            }
        }
        Json::Array(items) => {
            out.push('\n');
            for item in items {
                pad(out, indent + 2);
                out.push('-');
                list_item(out, indent + 2, item);
            }
        }
        _ => unreachable!("scalars are inline"),
    }
}

/// Writes `key: value` at column `indent`.
pub(crate) fn entry(out: &mut String, indent: usize, key: &str, value: &Json) {
    pad(out, indent);
    out.push_str(&scalar(key));
    out.push(':');
    value_after_key(out, indent, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::yaml;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn quoting() {
        assert_eq!(scalar("data/raw.csv"), "data/raw.csv");
        assert_eq!(scalar("train@lr-0.1"), "train@lr-0.1");
        assert_eq!(
            scalar("python3 train.py --lr=0.1"),
            "python3 train.py --lr=0.1"
        );
        for needs_quotes in [
            "", "yes", "No", "null", "1.5", "inf", "nan", "2024/x", ".hidden", "a b ", "a: b",
            "echo > x", "#x", "-x", "x\ny", "é",
        ] {
            assert!(scalar(needs_quotes).starts_with('"'), "{needs_quotes:?}");
        }
        assert_eq!(quoted("a\"b\\c\n\u{1}\u{85}"), r#""a\"b\\c\n\x01\u0085""#);
    }

    #[test]
    fn layout() {
        let mut out = String::new();
        entry(
            &mut out,
            0,
            "k",
            &json!({"b": [1, {"w": 2, "v": []}, [3, [4]]], "a": {}}),
        );
        assert_eq!(
            out,
            "k:\n  a: {}\n  b:\n  - 1\n  - v: []\n    w: 2\n  -\n    - 3\n    -\n      - 4\n"
        );
    }

    fn json_value() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i64>().prop_map(Json::from),
            any::<u64>().prop_map(Json::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
            prop_oneof![
                "[a-z0-9 ._/@:#\"'\\\\-]{0,12}",
                any::<String>(),
                Just("yes".to_string()),
                Just("1.0".to_string()),
                Just("~".to_string()),
            ]
            .prop_map(Json::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Json::Array),
                proptest::collection::btree_map("[a-zA-Z0-9 ._:-]{0,8}|.{0,4}", inner, 0..5)
                    .prop_map(|m| Json::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Whatever the value, the YAML we write reads back as the same value.
        #[test]
        fn written_yaml_reads_back(value in json_value()) {
            let mut out = String::new();
            entry(&mut out, 0, "v", &value);
            let node = yaml::parse(&out).map_err(|e| TestCaseError::fail(format!("{e:?} in\n{out}")))?;
            let back = node.to_json();
            prop_assert_eq!(&back["v"], &value, "{}", out);
        }
    }
}
