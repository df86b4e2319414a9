//! Tests of the stage graph: validation messages, order, closures and levels.

use super::*;
use crate::pipeline::{ParamsDoc, parse_pipeline};

fn spec(yaml: &str) -> PipelineSpec {
    parse_pipeline("slipway.yaml", yaml, &ParamsDoc::missing("params.yaml")).unwrap()
}

/// Source files that exist in the test project.
fn exists(path: &RelPath) -> bool {
    path.as_str().starts_with("src") || path.as_str().starts_with("data/raw")
}

fn build(yaml: &str) -> Pipeline {
    Pipeline::new(spec(yaml), &exists).unwrap()
}

fn errors(yaml: &str) -> Vec<String> {
    match Pipeline::new(spec(yaml), &exists) {
        Ok(_) => panic!("expected errors"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn names(p: &Pipeline, ids: &[StageId]) -> Vec<String> {
    ids.iter().map(|id| p.stage(*id).name.clone()).collect()
}

const DIAMOND: &str = "\
stages:
  prepare:
    cmd: p
    deps: [data/raw]
    outs: [data/prepared]
  features:
    cmd: f
    deps: [data/prepared/train.csv]
    outs: [data/features]
  stats:
    cmd: s
    deps: [data]
    outs: [reports/stats.json]
  train:
    cmd: t
    deps: [data/features, src/train.py]
    outs: [models/m.bin]
    metrics: [metrics/train.json]
  evaluate:
    cmd: e
    deps: [models/m.bin, metrics/train.json, data/prepared]
    outs: [reports/eval.json]
  lint:
    cmd: l
    deps: [src]
";

#[test]
fn edges_come_from_paths() {
    let p = build(DIAMOND);
    let id = |n: &str| p.id(n).unwrap();
    // A dep inside an out, equal to an out, and containing outs all make edges.
    assert_eq!(names(&p, p.dependencies(id("features"))), ["prepare"]);
    assert_eq!(
        names(&p, p.dependencies(id("stats"))),
        ["features", "prepare"]
    );
    assert_eq!(
        names(&p, p.dependencies(id("evaluate"))),
        ["prepare", "train"]
    );
    assert_eq!(
        names(&p, p.dependents(id("prepare"))),
        ["evaluate", "features", "stats"]
    );
    assert!(p.dependencies(id("lint")).is_empty());
    assert_eq!(
        p.producer(&RelPath::new("data/prepared/x.csv").unwrap()),
        Some(id("prepare"))
    );
    assert_eq!(p.producer(&RelPath::new("src/x.py").unwrap()), None);
}

#[test]
fn topological_order_breaks_ties_by_name() {
    let p = build(DIAMOND);
    assert_eq!(
        names(&p, p.topo_order()),
        ["lint", "prepare", "features", "stats", "train", "evaluate"]
    );
    let levels: Vec<Vec<String>> = p.levels().iter().map(|l| names(&p, l)).collect();
    assert_eq!(
        levels,
        [
            vec!["lint", "prepare"],
            vec!["features"],
            vec!["stats", "train"],
            vec!["evaluate"]
        ]
    );
    let edges: Vec<(String, String)> = p
        .edges()
        .iter()
        .map(|(a, b)| (p.stage(*a).name.clone(), p.stage(*b).name.clone()))
        .collect();
    assert_eq!(edges.len(), 6);
    assert_eq!(edges[0], ("prepare".into(), "evaluate".into()));
}

#[test]
fn closures() {
    let p = build(DIAMOND);
    let id = |n: &str| p.id(n).unwrap();
    assert_eq!(
        names(&p, &p.downstream_closure(&[id("features")])),
        ["features", "stats", "train", "evaluate"]
    );
    assert_eq!(
        names(&p, &p.downstream_closure(&[id("lint"), id("train")])),
        ["lint", "train", "evaluate"]
    );
    assert_eq!(
        names(&p, &p.upstream_closure(&[id("evaluate")])),
        ["prepare", "features", "train", "evaluate"]
    );
    assert_eq!(
        names(&p, &p.upstream_closure(&[id("prepare")])),
        ["prepare"]
    );
    assert!(p.downstream_closure(&[]).is_empty());
}

#[test]
fn from_yaml_parses_then_checks() {
    let params = ParamsDoc::missing("params.yaml");
    let p = Pipeline::from_yaml("slipway.yaml", DIAMOND, &params, &exists).unwrap();
    assert_eq!(p.len(), 6);
    let err = Pipeline::from_yaml(
        "slipway.yaml",
        "stages:\n  a:\n    cmd: x\n    deps: [nope]\n",
        &params,
        &exists,
    )
    .unwrap_err();
    assert_eq!(
        err[0].to_string(),
        "slipway.yaml:4: stage 'a': deps[0]: dep 'nope' does not exist and no stage writes it; create it or add a stage that lists it in 'outs'"
    );
}

#[test]
fn select_by_name_or_template() {
    let p = build(
        "stages:\n  fe:\n    foreach: [b, a]\n    do:\n      cmd: x ${item}\n      outs: [\"${item}\"]\n  one:\n    cmd: y\n",
    );
    assert_eq!(names(&p, &p.select("fe")), ["fe@a", "fe@b"]);
    assert_eq!(names(&p, &p.select("fe@b")), ["fe@b"]);
    assert_eq!(names(&p, &p.select("one")), ["one"]);
    assert!(p.select("none").is_empty());
}

#[test]
fn cycles_are_printed_as_a_path() {
    assert_eq!(
        errors(
            "\
stages:
  b:
    cmd: b
    deps: [a.txt]
    outs: [b.txt]
  a:
    cmd: a
    deps: [c.txt]
    outs: [a.txt]
  c:
    cmd: c
    deps: [b.txt]
    outs: [c.txt]
  d:
    cmd: d
    deps: [c.txt]
"
        ),
        [
            "slipway.yaml:6: stage 'a': stages form a cycle: a -> b -> c -> a; remove one of these deps"
        ]
    );
    assert_eq!(
        errors(
            "stages:\n  x:\n    cmd: x\n    deps: [y]\n    outs: [x]\n  y:\n    cmd: y\n    deps: [x]\n    outs: [y]\n"
        ),
        ["slipway.yaml:2: stage 'x': stages form a cycle: x -> y -> x; remove one of these deps"]
    );
}

#[test]
fn duplicate_and_nested_outs() {
    assert_eq!(
        errors(
            "stages:\n  a:\n    cmd: a\n    outs: [o.txt]\n  b:\n    cmd: b\n    outs: [o.txt]\n"
        ),
        [
            "slipway.yaml:7: stage 'b': outs[0]: out 'o.txt' is also written by stage 'a' (line 4); each path has one producing stage"
        ]
    );
    assert_eq!(
        errors(
            "stages:\n  a:\n    cmd: a\n    outs: [out]\n  b:\n    cmd: b\n    metrics: [out/m.json]\n"
        ),
        [
            "slipway.yaml:7: stage 'b': metrics[0]: out 'out/m.json' is inside out 'out' of stage 'a' (line 4); outs must not overlap"
        ]
    );
}

#[test]
fn own_out_as_dep_and_missing_dep() {
    assert_eq!(
        errors("stages:\n  a:\n    cmd: a\n    deps: [out/x]\n    outs: [out]\n"),
        [
            "slipway.yaml:4: stage 'a': deps[0]: dep 'out/x' overlaps this stage's own out 'out'; a stage cannot read what it writes"
        ]
    );
    assert_eq!(
        errors("stages:\n  a:\n    cmd: a\n    deps: [data/missing.csv, src/ok.py]\n"),
        [
            "slipway.yaml:4: stage 'a': deps[0]: dep 'data/missing.csv' does not exist and no stage writes it; create it or add a stage that lists it in 'outs'"
        ]
    );
}

#[test]
fn all_graph_problems_at_once() {
    let got = errors(
        "\
stages:
  a:
    cmd: a
    deps: [nowhere]
    outs: [o]
  b:
    cmd: b
    outs: [o]
  c:
    cmd: c
    deps: [c.out]
    outs: [c.out]
",
    );
    assert_eq!(got.len(), 3, "{got:#?}");
    assert!(got[0].starts_with("slipway.yaml:4: stage 'a': deps[0]: dep 'nowhere' does not exist"));
    assert!(
        got[1].starts_with(
            "slipway.yaml:8: stage 'b': outs[0]: out 'o' is also written by stage 'a'"
        )
    );
    assert!(got[2].starts_with("slipway.yaml:11: stage 'c': deps[0]: dep 'c.out' overlaps"));
}

#[test]
fn long_chains_do_not_overflow() {
    let mut yaml = String::from("stages:\n");
    for i in 0..3000 {
        yaml.push_str(&format!(
            "  s{i:05}:\n    cmd: x\n    deps: [f{i}]\n    outs: [f{}]\n",
            i + 1
        ));
    }
    yaml.push_str("  z:\n    cmd: x\n    deps: [f3000]\n    outs: [f0]\n");
    let errs = errors(&yaml);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].contains("stages form a cycle: s00000 -> s00001 -> "),
        "{}",
        &errs[0][..200]
    );
    assert!(errs[0].contains("-> s02999 -> z -> s00000;"));
}
