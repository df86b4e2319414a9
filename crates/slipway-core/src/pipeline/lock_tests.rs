//! Tests of the lock file: the exact layout, errors with lines, and a round-trip property.

use super::*;
use proptest::prelude::*;
use serde_json::json;

fn rp(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

fn sample() -> LockFile {
    let mut lock = LockFile::new();
    lock.record(
        "train",
        LockEntry {
            key: Digest::of(b"key"),
            action: Action::Cmd(vec![
                "python3 train.py --lr=0.1".into(),
                "echo 'done' > log".into(),
            ]),
            wdir: None,
            env: BTreeMap::from([("SEED".into(), "1".into())]),
            deps: vec![LockedPath {
                path: rp("data/prepared"),
                digest: Digest::of(b"d"),
                size: 10,
                nfiles: Some(2),
            }],
            params: BTreeMap::from([
                ("train.lr".into(), json!(0.1)),
                (
                    "train.opt".into(),
                    json!({"name": "adam", "betas": [0.9, 0.999]}),
                ),
            ]),
            outs: vec![LockedPath {
                path: rp("models/m.onnx"),
                digest: Digest::of(b"m"),
                size: 3,
                nfiles: None,
            }],
            metrics: vec![LockedPath {
                path: rp("metrics.json"),
                digest: Digest::of(b"j"),
                size: 12,
                nfiles: None,
            }],
        },
    );
    lock.record(
        "check",
        LockEntry {
            key: Digest::of(b"key2"),
            action: Action::Uses {
                name: "slipway/validate".into(),
                with: json!({"data": "data/prepared", "rows": 10}),
            },
            wdir: Some(rp("sub")),
            env: BTreeMap::new(),
            deps: Vec::new(),
            params: BTreeMap::new(),
            outs: Vec::new(),
            metrics: Vec::new(),
        },
    );
    lock
}

#[test]
fn layout_is_fixed() {
    let text = sample().to_yaml();
    let expected = format!(
        "\
# slipway.lock: what each stage last ran with; written by slipway, do not edit
schema: slipway-lock/1
stages:
  check:
    key: {k2}
    uses: slipway/validate
    with:
      data: data/prepared
      rows: 10
    wdir: sub
  train:
    key: {k1}
    cmd:
    - python3 train.py --lr=0.1
    - \"echo 'done' > log\"
    env:
      SEED: \"1\"
    deps:
    - path: data/prepared
      digest: {d}
      size: 10
      nfiles: 2
    params:
      train.lr: 0.1
      train.opt:
        betas:
        - 0.9
        - 0.999
        name: adam
    outs:
    - path: models/m.onnx
      digest: {m}
      size: 3
    metrics:
    - path: metrics.json
      digest: {j}
      size: 12
",
        k1 = Digest::of(b"key"),
        k2 = Digest::of(b"key2"),
        d = Digest::of(b"d"),
        m = Digest::of(b"m"),
        j = Digest::of(b"j"),
    );
    assert_eq!(text, expected);
    assert_eq!(LockFile::parse("slipway.lock", &text).unwrap(), sample());
    assert_eq!(LockFile::new().to_yaml().lines().last(), Some("stages: {}"));
    assert_eq!(
        LockFile::parse("slipway.lock", "").unwrap(),
        LockFile::new()
    );
}

fn parse_err(text: &str) -> String {
    LockFile::parse("slipway.lock", text)
        .unwrap_err()
        .to_string()
}

#[test]
fn errors_name_the_line() {
    let good = sample().to_yaml();
    assert_eq!(
        parse_err(&good.replace("schema: slipway-lock/1", "schema: dvc-2.0")),
        "slipway.lock:2: schema: unsupported schema 'dvc-2.0'; this version of slipway reads 'slipway-lock/1' (delete the lock file to start over)"
    );
    assert_eq!(
        parse_err(&good.replace("      size: 10\n", "      size: ten\n")),
        "slipway.lock:21: stage 'train': deps[0].size: expected a non-negative whole number, found a string"
    );
    assert_eq!(
        parse_err(&good.replace("      size: 10\n", "")),
        "slipway.lock:19: stage 'train': deps[0]: missing key 'size'"
    );
    assert_eq!(
        parse_err(&good.replace(&format!("digest: {}", Digest::of(b"m")), "digest: abc")),
        "slipway.lock:32: stage 'train': outs[0].digest: digest `abc` has 3 characters; a digest is 64 lowercase hex characters"
    );
    assert_eq!(
        parse_err(&good.replace("    wdir: sub\n", "    wdir: ../up\n")),
        "slipway.lock:10: stage 'check': wdir: path `../up` contains `..` and would escape the project root"
    );
    assert_eq!(
        parse_err(&good.replace("    env:\n", "    evn:\n")),
        "slipway.lock:16: stage 'train': unknown key 'evn'; did you mean 'env'?"
    );
    assert_eq!(
        parse_err(&good.replace("    uses: slipway/validate\n", "")),
        "slipway.lock:4: stage 'check': an entry needs exactly one of 'cmd' and 'uses'"
    );
    assert_eq!(
        parse_err("schema: slipway-lock/1\nstages:\n  a: [1]\n"),
        "slipway.lock:3: stage 'a': expected a stage entry (a map), found a list"
    );
    assert_eq!(
        parse_err("stages: {}\n"),
        "slipway.lock:1: missing key 'schema'"
    );
    assert!(parse_err("schema: [\n").starts_with("slipway.lock:"));
}

#[test]
fn entry_from_observed_states() {
    use crate::pipeline::spec::{DepSpec, OutSpec};
    let stage = StageSpec {
        name: "s".into(),
        template: None,
        line: 1,
        action: Action::Cmd(vec!["x".into()]),
        wdir: None,
        deps: vec![
            DepSpec {
                path: rp("b"),
                line: 1,
            },
            DepSpec {
                path: rp("a"),
                line: 1,
            },
        ],
        params: Vec::new(),
        outs: vec![OutSpec {
            path: rp("o"),
            kind: None,
            cache: true,
            line: 1,
        }],
        metrics: vec![OutSpec {
            path: rp("m.json"),
            kind: None,
            cache: true,
            line: 1,
        }],
        env: BTreeMap::new(),
        always_changed: false,
        frozen: false,
        desc: None,
    };
    let st = |b: &[u8]| PathState {
        digest: Digest::of(b),
        size: b.len() as u64,
        nfiles: None,
    };
    let deps = BTreeMap::from([(rp("a"), st(b"a")), (rp("b"), st(b"b"))]);
    let outs = BTreeMap::from([(rp("o"), st(b"o")), (rp("m.json"), st(b"{}"))]);
    let entry = LockEntry::new(&stage, Digest::of(b"k"), &deps, &outs).unwrap();
    assert_eq!(entry.deps[0].path, rp("a"));
    assert_eq!(entry.output(&rp("m.json")).unwrap().size, 2);
    assert_eq!(entry.dep(&rp("b")).unwrap().digest, Digest::of(b"b"));
    let missing = LockEntry::new(&stage, Digest::of(b"k"), &deps, &BTreeMap::new()).unwrap_err();
    assert_eq!(
        missing.to_string(),
        "stage 's': out 'o' has no recorded digest; hash it first (is it missing?)"
    );
}

fn locked_paths() -> impl Strategy<Value = Vec<LockedPath>> {
    proptest::collection::btree_map(
        "[a-z0-9_]{1,4}(/[a-zA-Z0-9 ._-]{1,5}){0,2}",
        (
            any::<[u8; 32]>(),
            any::<u64>(),
            proptest::option::of(any::<u64>()),
        ),
        0..4,
    )
    .prop_map(|m| {
        m.into_iter()
            .filter_map(|(p, (d, size, nfiles))| {
                Some(LockedPath {
                    path: RelPath::new(&p).ok()?,
                    digest: Digest::from_bytes(d),
                    size,
                    nfiles,
                })
            })
            .collect()
    })
}

fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
        any::<String>().prop_map(Json::String),
        "[a-z0-9 .:#'\"-]{0,8}".prop_map(Json::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            proptest::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

fn lock_entry() -> impl Strategy<Value = LockEntry> {
    let action = prop_oneof![
        proptest::collection::vec(any::<String>(), 0..3).prop_map(Action::Cmd),
        (
            "slipway/[a-z]{1,6}",
            proptest::collection::btree_map("[a-z]{1,5}", json_value(), 0..3)
        )
            .prop_map(|(name, with)| Action::Uses {
                name,
                with: Json::Object(with.into_iter().collect())
            }),
    ];
    (
        any::<[u8; 32]>(),
        action,
        proptest::option::of("[a-z]{1,4}(/[a-z]{1,4})?"),
        proptest::collection::btree_map("[A-Z_]{1,5}", any::<String>(), 0..3),
        locked_paths(),
        proptest::collection::btree_map(any::<String>(), json_value(), 0..3),
        locked_paths(),
        locked_paths(),
    )
        .prop_map(
            |(key, action, wdir, env, deps, params, outs, metrics)| LockEntry {
                key: Digest::from_bytes(key),
                action,
                wdir: wdir.map(|w| RelPath::new(&w).unwrap()),
                env,
                deps,
                params,
                outs,
                metrics,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Writing then reading gives back the same lock; writing again gives the same bytes.
    #[test]
    fn round_trip(stages in proptest::collection::btree_map("[a-z][a-z0-9_.-]{0,6}(@[a-z0-9.-]{1,5})?", lock_entry(), 0..4)) {
        let lock = LockFile { stages };
        let text = lock.to_yaml();
        let back = LockFile::parse("slipway.lock", &text)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back, &lock, "{}", text);
        prop_assert_eq!(back.to_yaml(), text);
    }
}
