//! The stage cache key: a digest of everything that determines what a stage produces.
//!
//! The key covers the command (or the built-in and its arguments), the working directory, the
//! environment pins, each dep path with its digest, each tracked param with its value, and the
//! declared outputs (path, role, kind, cache flag). It leaves out the stage name, `desc`,
//! `frozen` and `always_changed`, so two stages doing the same work share cached results.
//!
//! The encoding is versioned ([`STAGE_KEY_FORMAT`]) and length-prefixed, so no two different
//! inputs encode to the same bytes; changing it changes every key on purpose.

use super::lock::PathState;
use super::spec::{Action, StageSpec};
use crate::{Digest, RelPath};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// The format tag at the start of every encoded key; part of the digest.
pub const STAGE_KEY_FORMAT: &str = "slipway-stage-key/1";

/// A path whose state the caller did not supply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("stage '{stage}': {role} '{path}' has no recorded digest; hash it first (is it missing?)")]
pub struct MissingState {
    /// The stage.
    pub stage: String,
    /// `dep` or `out`.
    pub role: &'static str,
    /// The path.
    pub path: RelPath,
}

/// The stage's cache key, given the digest of each of its deps.
pub fn stage_key(
    stage: &StageSpec,
    deps: &BTreeMap<RelPath, PathState>,
) -> Result<Digest, MissingState> {
    Ok(Digest::of(&stage_key_bytes(stage, deps)?))
}

/// The canonical bytes the stage key is the digest of (for debugging and tests).
pub fn stage_key_bytes(
    stage: &StageSpec,
    deps: &BTreeMap<RelPath, PathState>,
) -> Result<Vec<u8>, MissingState> {
    let mut e = Encoder::default();
    e.str(STAGE_KEY_FORMAT);
    e.str("action");
    match &stage.action {
        Action::Cmd(lines) => {
            e.str("cmd");
            e.len(lines.len());
            for line in lines {
                e.str(line);
            }
        }
        Action::Uses { name, with } => {
            e.str("uses");
            e.str(name);
            e.str(&canonical_json(with));
        }
    }
    e.str("wdir");
    e.str(stage.wdir.as_ref().map_or("", RelPath::as_str));
    e.str("env");
    e.len(stage.env.len());
    for (k, v) in &stage.env {
        e.str(k);
        e.str(v);
    }
    let mut dep_paths: Vec<&RelPath> = stage.deps.iter().map(|d| &d.path).collect();
    dep_paths.sort();
    e.str("deps");
    e.len(dep_paths.len());
    for path in dep_paths {
        let state = deps.get(path).ok_or_else(|| MissingState {
            stage: stage.name.clone(),
            role: "dep",
            path: path.clone(),
        })?;
        e.str(path.as_str());
        e.bytes(state.digest.as_bytes());
    }
    let mut params: Vec<(&str, &Json)> = stage
        .params
        .iter()
        .map(|p| (p.key.as_str(), &p.value))
        .collect();
    params.sort_by(|a, b| a.0.cmp(b.0));
    e.str("params");
    e.len(params.len());
    for (key, value) in params {
        e.str(key);
        e.str(&canonical_json(value));
    }
    let mut outs: Vec<(&RelPath, &str, &str, bool)> = stage
        .outs
        .iter()
        .map(|o| (o, "out"))
        .chain(stage.metrics.iter().map(|o| (o, "metrics")))
        .map(|(o, role)| (&o.path, role, o.kind.map_or("", |k| k.as_str()), o.cache))
        .collect();
    outs.sort();
    e.str("outs");
    e.len(outs.len());
    for (path, role, kind, cache) in outs {
        e.str(path.as_str());
        e.str(role);
        e.str(kind);
        e.bytes(&[u8::from(cache)]);
    }
    Ok(e.0)
}

/// Length-prefixed fields: every string and byte run is preceded by its length (u64, little
/// endian), every count likewise.
#[derive(Default)]
struct Encoder(Vec<u8>);

impl Encoder {
    fn len(&mut self, n: usize) {
        self.0.extend_from_slice(&(n as u64).to_le_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }

    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
}

/// Canonical JSON: no whitespace, object keys sorted by their UTF-8 bytes, numbers as serde_json
/// prints them (integers without a fraction, floats in shortest round-trip form), strings with
/// serde_json's escaping. Independent of map insertion order.
pub fn canonical_json(value: &Json) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Json, out: &mut String) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(&n.to_string()),
        Json::String(s) => out.push_str(&Json::String(s.clone()).to_string()),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Json::Object(map) => {
            let mut entries: Vec<(&String, &Json)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Json::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ArtifactKind;
    use crate::pipeline::spec::{DepSpec, OutSpec, ParamSpec};
    use serde_json::json;

    fn rp(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }

    fn stage() -> StageSpec {
        StageSpec {
            name: "train".into(),
            template: None,
            line: 1,
            action: Action::Cmd(vec!["python3 train.py".into(), "echo done".into()]),
            wdir: None,
            deps: vec![
                DepSpec {
                    path: rp("train.py"),
                    line: 2,
                },
                DepSpec {
                    path: rp("data/prepared"),
                    line: 2,
                },
            ],
            params: vec![
                ParamSpec {
                    key: "train.lr".into(),
                    value: json!(0.1),
                    line: 3,
                },
                ParamSpec {
                    key: "train.layers".into(),
                    value: json!({"b": [8, 4], "a": "relu"}),
                    line: 3,
                },
            ],
            outs: vec![OutSpec {
                path: rp("models/model.onnx"),
                kind: Some(ArtifactKind::Model),
                cache: true,
                line: 4,
            }],
            metrics: vec![OutSpec {
                path: rp("metrics.json"),
                kind: Some(ArtifactKind::Report),
                cache: false,
                line: 5,
            }],
            env: BTreeMap::from([("SEED".to_string(), "1".to_string())]),
            always_changed: false,
            frozen: false,
            desc: None,
        }
    }

    fn deps() -> BTreeMap<RelPath, PathState> {
        BTreeMap::from([
            (
                rp("train.py"),
                PathState {
                    digest: Digest::of(b"train.py"),
                    size: 8,
                    nfiles: None,
                },
            ),
            (
                rp("data/prepared"),
                PathState {
                    digest: Digest::of(b"prepared"),
                    size: 100,
                    nfiles: Some(2),
                },
            ),
        ])
    }

    /// Pins the encoding: if this changes, every cached result is invalidated. Bump
    /// STAGE_KEY_FORMAT on purpose and update the vector, never by accident.
    #[test]
    fn key_test_vector() {
        assert_eq!(
            stage_key(&stage(), &deps()).unwrap().to_hex(),
            "f16b1c197370a82c5e8a2ab52335baf28ea541cd094b28ee665f2f2d3dd1f843"
        );
    }

    #[test]
    fn canonical_json_sorts_keys() {
        assert_eq!(
            canonical_json(&json!({"b": [1, 2.5, "x\n"], "a": {"z": null, "y": true}})),
            r#"{"a":{"y":true,"z":null},"b":[1,2.5,"x\n"]}"#
        );
        assert_eq!(canonical_json(&json!(1.0)), "1.0");
    }

    #[test]
    fn key_ignores_order_and_presentation() {
        let base = stage_key(&stage(), &deps()).unwrap();
        let mut s = stage();
        s.deps.reverse();
        s.params.reverse();
        s.name = "other".into();
        s.desc = Some("words".into());
        s.always_changed = true;
        s.frozen = true;
        s.line = 99;
        assert_eq!(stage_key(&s, &deps()).unwrap(), base);
        // Sizes are not part of the key; digests are.
        let mut d = deps();
        d.get_mut(&rp("train.py")).unwrap().size = 9;
        assert_eq!(stage_key(&stage(), &d).unwrap(), base);
    }

    type Change = dyn Fn(&mut StageSpec, &mut BTreeMap<RelPath, PathState>);

    #[test]
    fn every_input_changes_the_key() {
        let base = stage_key(&stage(), &deps()).unwrap();
        let changes: Vec<Box<Change>> = vec![
            Box::new(|s, _| s.action = Action::Cmd(vec!["python3 train.py".into()])),
            Box::new(|s, _| s.action = Action::Cmd(vec!["python3 train.py\necho done".into()])),
            Box::new(|s, _| {
                s.action = Action::Uses {
                    name: "slipway/copy".into(),
                    with: json!({}),
                }
            }),
            Box::new(|s, _| s.wdir = Some(rp("sub"))),
            Box::new(|s, _| {
                s.env.insert("SEED".into(), "2".into());
            }),
            Box::new(|s, _| {
                s.env.insert("OTHER".into(), "".into());
            }),
            Box::new(|_, d| d.get_mut(&rp("train.py")).unwrap().digest = Digest::of(b"edited")),
            Box::new(|s, d| {
                s.deps.push(DepSpec {
                    path: rp("extra"),
                    line: 1,
                });
                d.insert(
                    rp("extra"),
                    PathState {
                        digest: Digest::of(b""),
                        size: 0,
                        nfiles: None,
                    },
                );
            }),
            Box::new(|s, _| s.params[0].value = json!(0.01)),
            Box::new(|s, _| s.params[1].value = json!({"b": [8, 4], "a": "tanh"})),
            Box::new(|s, _| s.params[0].key = "train.lr2".into()),
            Box::new(|s, _| s.outs[0].path = rp("models/other.onnx")),
            Box::new(|s, _| s.outs[0].kind = None),
            Box::new(|s, _| s.outs[0].cache = false),
            Box::new(|s, _| {
                let m = s.metrics.remove(0);
                s.outs.push(m);
            }),
        ];
        let mut seen = std::collections::BTreeSet::from([base]);
        for (i, change) in changes.iter().enumerate() {
            let (mut s, mut d) = (stage(), deps());
            change(&mut s, &mut d);
            let key = stage_key(&s, &d).unwrap();
            assert!(seen.insert(key), "change {i} did not give a new key");
        }
    }

    #[test]
    fn missing_dep_state_is_an_error() {
        let mut d = deps();
        d.remove(&rp("train.py"));
        let err = stage_key(&stage(), &d).unwrap_err();
        assert_eq!(
            err.to_string(),
            "stage 'train': dep 'train.py' has no recorded digest; hash it first (is it missing?)"
        );
    }
}
