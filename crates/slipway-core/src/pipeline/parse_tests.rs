//! Tests of `parse_pipeline`: one per kind of problem, asserting on the message with file:line.

use super::*;
use crate::ArtifactKind;
use crate::pipeline::spec::{Action, DepSpec};
use serde_json::json;

fn params() -> ParamsDoc {
    ParamsDoc::parse(
        "params.yaml",
        "train:\n  lr: 0.1\n  epochs: 3\nprepare:\n  seed: 42\n  split: 0.2\nmodels: [small, large]\n",
    )
    .unwrap()
}

fn parse(yaml: &str) -> Result<PipelineSpec, Vec<SpecError>> {
    parse_pipeline("slipway.yaml", yaml, &params())
}

/// The messages of a failed parse.
fn errors(yaml: &str) -> Vec<String> {
    match parse(yaml) {
        Ok(spec) => panic!("expected errors, parsed {spec:#?}"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn rp(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

#[test]
fn design_example_parses() {
    let spec = parse(
        "\
params: params.yaml
stages:
  prepare:
    cmd: python3 prepare.py
    deps: [prepare.py, data/raw]
    params: [prepare.split, prepare.seed]
    outs: [data/prepared]
  train:
    cmd: python3 train.py
    deps: [train.py, data/prepared]
    params: [train]
    outs:
      - models/model.onnx: {kind: model}
    metrics: [metrics/train.json]
  validate:
    uses: slipway/validate
    with: {data: data/prepared, schema: schema.yaml}
",
    )
    .unwrap();
    assert_eq!(spec.params_file, rp("params.yaml"));
    assert_eq!(spec.stages.len(), 3);
    let prepare = &spec.stages[0];
    assert_eq!(prepare.line, 3);
    assert_eq!(
        prepare.action,
        Action::Cmd(vec!["python3 prepare.py".into()])
    );
    assert_eq!(prepare.deps[1].path, rp("data/raw"));
    assert_eq!(prepare.deps[1].line, 5);
    assert_eq!(prepare.param("prepare.seed"), Some(&json!(42)));
    let train = &spec.stages[1];
    assert_eq!(train.param("train"), Some(&json!({"lr": 0.1, "epochs": 3})));
    assert_eq!(train.outs[0].kind, Some(ArtifactKind::Model));
    assert!(train.outs[0].cache);
    assert_eq!(train.outs[0].line, 13);
    assert_eq!(train.metrics[0].path, rp("metrics/train.json"));
    assert_eq!(train.metrics[0].kind, Some(ArtifactKind::Report));
    let validate = &spec.stages[2];
    assert_eq!(
        validate.action,
        Action::Uses {
            name: "slipway/validate".into(),
            with: json!({"data": "data/prepared", "schema": "schema.yaml"})
        }
    );
}

#[test]
fn cmd_forms() {
    let spec = parse(
        "\
stages:
  a:
    cmd: |
      mkdir -p out

      echo hi > out/x
  b:
    cmd: [echo one, echo two]
  c:
    cmd: >-
      python3 train.py
      --lr 0.1
",
    )
    .unwrap();
    assert_eq!(
        spec.stages[0].action,
        Action::Cmd(vec!["mkdir -p out".into(), "echo hi > out/x".into()])
    );
    assert_eq!(
        spec.stages[1].action,
        Action::Cmd(vec!["echo one".into(), "echo two".into()])
    );
    assert_eq!(
        spec.stages[2].action,
        Action::Cmd(vec!["python3 train.py --lr 0.1".into()])
    );
    assert!(spec.stages[0].is_callback());
}

#[test]
fn unknown_keys_suggest_the_nearest() {
    assert_eq!(
        errors("stages:\n  train:\n    cmd: x\n    dep: [a]\n"),
        ["slipway.yaml:4: stage 'train': unknown key 'dep'; did you mean 'deps'?"]
    );
    assert_eq!(
        errors("stage:\n  train:\n    cmd: x\n"),
        ["slipway.yaml:1: unknown key 'stage'; did you mean 'stages'?"]
    );
    assert_eq!(
        errors("stages:\n  t:\n    command: x\n"),
        [
            "slipway.yaml:2: stage 't': stage has nothing to run; add 'cmd' (a shell command) or 'uses' (a built-in such as slipway/copy)",
            "slipway.yaml:3: stage 't': unknown key 'command'; did you mean 'cmd'?",
        ]
    );
    assert_eq!(
        errors("stages:\n  t:\n    cmd: x\n    zzzzzz: 1\n"),
        [
            "slipway.yaml:4: stage 't': unknown key 'zzzzzz'; valid keys here are cmd, uses, with, deps, params, outs, metrics, wdir, env, always_changed, frozen, desc, meta"
        ]
    );
    assert_eq!(
        errors("stages:\n  t:\n    cmd: x\n    outs:\n      - m.pkl: {knd: model}\n"),
        ["slipway.yaml:5: stage 't': outs[0]: unknown key 'knd'; did you mean 'kind'?"]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let got = errors(
        "\
stages:
  a:
    cmd: x
    dep: [a]
  b:
    cmd: y
    deps: [../outside]
    outs: [/abs]
  c:
    uses: copy
  d:
    cmd: z
    params: [train.lrr]
    frozen: yes
",
    );
    assert_eq!(
        got,
        [
            "slipway.yaml:4: stage 'a': unknown key 'dep'; did you mean 'deps'?",
            "slipway.yaml:7: stage 'b': deps[0]: path '../outside' leaves the project root through '..'; keep paths inside the project",
            "slipway.yaml:8: stage 'b': outs[0]: path '/abs' is absolute; write it relative to the project root (or to 'wdir')",
            "slipway.yaml:10: stage 'c': uses: 'uses' must name a built-in as 'slipway/NAME' (e.g. slipway/copy); found 'copy'",
            "slipway.yaml:13: stage 'd': params[0]: param 'train.lrr' is not in params.yaml; did you mean 'train.lr'?",
            "slipway.yaml:14: stage 'd': frozen: expected true or false, found a string",
        ]
    );
}

#[test]
fn action_rules() {
    assert_eq!(
        errors("stages:\n  a:\n    cmd: x\n    uses: slipway/copy\n"),
        ["slipway.yaml:3: stage 'a': 'cmd' and 'uses' cannot both be given; keep one"]
    );
    assert_eq!(
        errors("stages:\n  a:\n    cmd: x\n    with: {a: 1}\n"),
        [
            "slipway.yaml:4: stage 'a': 'with' passes arguments to a built-in and needs 'uses'; remove it or add 'uses'"
        ]
    );
    assert_eq!(
        errors("stages:\n  a:\n    cmd: \"  \\n \"\n"),
        ["slipway.yaml:3: stage 'a': cmd: command is empty; give at least one non-empty line"]
    );
    assert_eq!(
        errors("stages:\n  a:\n    cmd: [echo, 3]\n"),
        ["slipway.yaml:3: stage 'a': cmd[1]: expected a command line (a string), found a number"]
    );
    assert_eq!(
        errors("stages:\n  a:\n    desc: nothing\n"),
        [
            "slipway.yaml:2: stage 'a': stage has nothing to run; add 'cmd' (a shell command) or 'uses' (a built-in such as slipway/copy)"
        ]
    );
}

#[test]
fn wdir_resolves_paths() {
    let spec = parse(
        "\
stages:
  a:
    wdir: sub/dir
    cmd: make
    deps: [../shared/x.csv, in.txt]
    outs: [out/]
",
    )
    .unwrap();
    let a = &spec.stages[0];
    assert_eq!(a.wdir, Some(rp("sub/dir")));
    assert_eq!(a.deps[0].path, rp("sub/shared/x.csv"));
    assert_eq!(a.deps[1].path, rp("sub/dir/in.txt"));
    assert_eq!(a.outs[0].path, rp("sub/dir/out"));
    assert_eq!(
        errors("stages:\n  a:\n    wdir: sub\n    cmd: make\n    deps: [../../x]\n"),
        [
            "slipway.yaml:5: stage 'a': deps[0]: path '../../x' leaves the project root through '..'; keep paths inside the project"
        ]
    );
    assert_eq!(
        errors("stages:\n  a:\n    wdir: ..\n    cmd: make\n"),
        [
            "slipway.yaml:3: stage 'a': wdir: path '..' leaves the project root through '..'; keep paths inside the project"
        ]
    );
    assert_eq!(
        errors("stages:\n  a:\n    cmd: make\n    outs: [.]\n"),
        [
            "slipway.yaml:4: stage 'a': outs[0]: path '.' is the project root itself; name a file or directory inside it"
        ]
    );
}

#[test]
fn outs_options_env_and_flags() {
    let spec = parse(
        "\
experiment: churn
stages:
  a:
    cmd: make
    outs:
      - logs/: {cache: false}
      - data/x.parquet: {kind: dataset}
      - plain.txt
      - bare.bin:
    env: {SEED: 1, MODE: fast, ON: true}
    always_changed: true
    desc: builds things
",
    )
    .unwrap();
    assert_eq!(spec.experiment.as_deref(), Some("churn"));
    let a = &spec.stages[0];
    assert!(!a.outs[0].cache);
    assert_eq!(a.outs[0].path, rp("logs"));
    assert_eq!(a.outs[1].kind, Some(ArtifactKind::Dataset));
    assert_eq!(a.outs[2].kind, None);
    assert_eq!(a.outs[3].path, rp("bare.bin"));
    assert_eq!(a.env["SEED"], "1");
    assert_eq!(a.env["ON"], "true");
    assert!(a.always_changed && !a.frozen);
    assert_eq!(a.desc.as_deref(), Some("builds things"));

    assert_eq!(
        errors("stages:\n  a:\n    cmd: x\n    outs:\n      - m: {kind: weights}\n"),
        [
            "slipway.yaml:5: stage 'a': outs[0].kind: unknown kind 'weights'; expected one of dataset, features, model, report, file"
        ]
    );
    assert_eq!(
        errors("stages:\n  a:\n    cmd: x\n    outs:\n      - m: {kind: directory}\n"),
        [
            "slipway.yaml:5: stage 'a': outs[0].kind: unknown kind 'directory'; expected one of dataset, features, model, report, file"
        ]
    );
    assert_eq!(
        errors("stages:\n  a:\n    cmd: x\n    env:\n      1BAD: x\n      OK: [1]\n"),
        [
            "slipway.yaml:5: stage 'a': env.1BAD: environment variable name '1BAD' is not valid; use letters, digits and '_', not starting with a digit",
            "slipway.yaml:6: stage 'a': env.OK: expected a string value, found a list",
        ]
    );
    assert_eq!(
        errors("stages:\n  a:\n    cmd: x\n    outs: [m]\n    metrics: [m]\n"),
        [
            "slipway.yaml:5: stage 'a': metrics[0]: out 'm' is listed twice (first at line 4); list it once"
        ]
    );
    assert_eq!(
        errors("stages:\n  a:\n    cmd: x\n    deps:\n      - a\n      - ./a\n"),
        [
            "slipway.yaml:6: stage 'a': deps[1]: dep 'a' is listed twice (first at line 5); list it once"
        ]
    );
}

#[test]
fn params_rules() {
    let spec = parse(
        "stages:\n  a:\n    cmd: x\n    params:\n      - params.yaml: [train.lr]\n      - prepare\n",
    )
    .unwrap();
    let keys: Vec<&str> = spec.stages[0]
        .params
        .iter()
        .map(|p| p.key.as_str())
        .collect();
    assert_eq!(keys, ["train.lr", "prepare"]);
    assert_eq!(
        errors("stages:\n  a:\n    cmd: x\n    params:\n      - other.yaml: [a]\n"),
        [
            "slipway.yaml:5: stage 'a': params[0]: params from another file ('other.yaml') are not supported; list dotted keys of params.yaml"
        ]
    );
    assert_eq!(
        errors("stages:\n  a:\n    cmd: x\n    params: [train.lr, train.lr]\n"),
        [
            "slipway.yaml:4: stage 'a': params[1]: param 'train.lr' is listed twice (first at line 4); list it once"
        ]
    );
    let missing = parse_pipeline(
        "slipway.yaml",
        "stages:\n  a:\n    cmd: x\n    params: [train.lr]\n",
        &ParamsDoc::missing("params.yaml"),
    )
    .unwrap_err();
    assert_eq!(
        missing[0].to_string(),
        "slipway.yaml:4: stage 'a': params[0]: param 'train.lr' is not in params.yaml (the file does not exist)"
    );
    assert_eq!(
        errors("stages:\n  a:\n    cmd: x\n    params: [nothing.like.it]\n"),
        [
            "slipway.yaml:4: stage 'a': params[0]: param 'nothing.like.it' is not in params.yaml; add it there or remove it from the stage"
        ]
    );
}

#[test]
fn params_file_is_named_at_top_level() {
    assert_eq!(
        params_file("slipway.yaml", "stages: {}\n").unwrap(),
        rp("params.yaml")
    );
    assert_eq!(
        params_file("slipway.yaml", "params: conf/params.yaml\n").unwrap(),
        rp("conf/params.yaml")
    );
    let err = params_file("slipway.yaml", "params: ../p.yaml\n").unwrap_err();
    assert_eq!(
        err[0].to_string(),
        "slipway.yaml:1: params: path '../p.yaml' leaves the project root through '..'; keep paths inside the project"
    );
}

#[test]
fn vars_and_params_substitute() {
    let spec = parse(
        "\
vars:
  - prefix: out
    model: {size: 3}
  - params.yaml
stages:
  a:
    cmd: echo ${model.size} ${train.lr} > ${prefix}_a.txt
    outs: [\"${prefix}_a.txt\"]
    env: {LR: '${train.lr}'}
",
    )
    .unwrap();
    let a = &spec.stages[0];
    assert_eq!(a.action, Action::Cmd(vec!["echo 3 0.1 > out_a.txt".into()]));
    assert_eq!(a.outs[0].path, rp("out_a.txt"));
    assert_eq!(a.env["LR"], "0.1");
    assert_eq!(
        errors("vars:\n  - train: {lr: 1}\nstages:\n  a:\n    cmd: x\n"),
        [
            "slipway.yaml:2: vars[0]: variable 'train.lr' is defined twice (params.yaml or an earlier vars entry and vars[0]); rename one"
        ]
    );
    assert_eq!(
        errors("vars:\n  - other.yaml\nstages:\n  a:\n    cmd: x\n"),
        [
            "slipway.yaml:2: vars[0]: vars from a file ('other.yaml') are not supported; write the values inline or in params.yaml"
        ]
    );
    assert_eq!(
        errors("stages:\n  a:\n    cmd: echo ${trian.lr}\n"),
        ["slipway.yaml:3: stage 'a': unknown variable '${trian.lr}'; did you mean '${train.lr}'?"]
    );
}

#[test]
fn foreach_over_list_and_map() {
    let spec = parse(
        "\
vars:
  - regions: {us: {lr: 0.1}, eu: {lr: 0.2}}
stages:
  fe:
    foreach: [a, b]
    do:
      cmd: echo ${item} > ${item}.txt
      outs: [\"${item}.txt\"]
  reg:
    foreach: ${regions}
    do:
      cmd: train --lr ${item.lr} --region ${key}
      outs: [\"model_${key}.bin\"]
  sized:
    foreach: ${models}
    do:
      cmd: build ${item}
",
    )
    .unwrap();
    let names: Vec<&str> = spec.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "fe@a",
            "fe@b",
            "reg@eu",
            "reg@us",
            "sized@small",
            "sized@large"
        ]
    );
    let fe_b = &spec.stages[1];
    assert_eq!(fe_b.template.as_deref(), Some("fe"));
    assert_eq!(fe_b.line, 6);
    assert_eq!(fe_b.outs[0].path, rp("b.txt"));
    let us = spec.stage("reg@us").unwrap();
    assert_eq!(
        us.action,
        Action::Cmd(vec!["train --lr 0.1 --region us".into()])
    );
}

#[test]
fn matrix_expands_to_the_product() {
    let spec = parse(
        "\
stages:
  mx:
    matrix:
      m: [1, 2]
      n: [x, y]
    cmd: echo ${item.m}${item.n} > mx_${item.m}_${item.n}.txt
    outs: [\"mx_${item.m}_${item.n}.txt\"]
",
    )
    .unwrap();
    let names: Vec<&str> = spec.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["mx@1-x", "mx@1-y", "mx@2-x", "mx@2-y"]);
    assert_eq!(spec.stages[1].outs[0].path, rp("mx_1_y.txt"));
    assert_eq!(spec.stages[1].line, 2);
}

#[test]
fn template_errors() {
    assert_eq!(
        errors("stages:\n  fe:\n    foreach: [a]\n    cmd: x\n"),
        [
            "slipway.yaml:3: stage 'fe': 'foreach' needs a 'do' map holding the stage to repeat",
            "slipway.yaml:4: stage 'fe': key 'cmd' must go inside 'do' when 'foreach' is used",
        ]
    );
    assert_eq!(
        errors("stages:\n  fe:\n    foreach: [a]\n    matrix: {x: [1]}\n    do: {cmd: x}\n"),
        ["slipway.yaml:4: stage 'fe': 'foreach' and 'matrix' cannot be combined; use one of them"]
    );
    assert_eq!(
        errors("stages:\n  fe:\n    do: {cmd: x}\n    cmd: y\n"),
        ["slipway.yaml:3: stage 'fe': 'do' is only valid together with 'foreach'"]
    );
    // A typo inside `do` is reported once, not once per item.
    assert_eq!(
        errors("stages:\n  fe:\n    foreach: [a, b, c]\n    do:\n      cmd: echo ${itme}\n"),
        ["slipway.yaml:5: stage 'fe@a': unknown variable '${itme}'; did you mean '${item}'?"]
    );
    assert_eq!(
        errors("stages:\n  fe:\n    foreach: [a, a]\n    do: {cmd: x}\n"),
        [
            "slipway.yaml:4: stage 'fe@a': stage 'fe@a' is defined twice (first at line 4); stage names must be unique"
        ]
    );
    assert_eq!(
        errors("stages:\n  fe:\n    foreach: 3\n    do: {cmd: x}\n"),
        [
            "slipway.yaml:3: stage 'fe': foreach: expected a list or a map to loop over (or '${name}' naming one), found a number"
        ]
    );
    assert_eq!(
        errors("stages:\n  fe:\n    foreach: [a]\n    do:\n      cmd: x\n      outz: [y]\n"),
        ["slipway.yaml:6: stage 'fe': unknown key 'outz'; did you mean 'outs'?"]
    );
}

#[test]
fn names_and_shapes() {
    assert_eq!(
        errors("stages:\n  a@b:\n    cmd: x\n"),
        [
            "slipway.yaml:2: stage name 'a@b' is not valid; use letters, digits, '_', '-' and '.' ('@' is added by foreach and matrix)"
        ]
    );
    assert_eq!(
        errors("stages:\n  a: echo hi\n"),
        [
            "slipway.yaml:2: stage 'a': expected a stage definition (a map with 'cmd' or 'uses'), found a string"
        ]
    );
    assert_eq!(
        errors("stages: [a, b]\n"),
        [
            "slipway.yaml:1: stages: expected a map of stage names to stage definitions, found a list"
        ]
    );
    assert_eq!(
        errors("stages:\n  a:\n    cmd: x\n  a:\n    cmd: y\n"),
        ["slipway.yaml:4: not valid YAML: key 'a' appears twice in the same map; keep one"]
    );
    assert!(parse("").unwrap().stages.is_empty());
    assert!(parse("stages:\n").unwrap().stages.is_empty());
}

#[test]
fn remaining_problems_name_file_and_line() {
    assert_eq!(
        errors("stages:\n  a:\n    cmd: x\n    deps: ['a\\b']\n"),
        [
            "slipway.yaml:4: stage 'a': deps[0]: path `a\\\\b` contains a backslash, which is not allowed in a stored path"
        ]
    );
    assert_eq!(
        errors("stages:\n  a:\n    cmd: echo ${train\n"),
        ["slipway.yaml:3: stage 'a': cannot substitute 'echo ${train': '${' is not closed by '}'"]
    );
    assert_eq!(
        errors("stages:\n  a:\n    cmd: echo ${train}\n"),
        [
            "slipway.yaml:3: stage 'a': cannot substitute 'echo ${train}': '${train}' is a map; only strings, numbers and booleans can go inside a string"
        ]
    );
    assert_eq!(
        errors("stages:\n  mx:\n    matrix:\n      m: []\n    cmd: x\n"),
        [
            "slipway.yaml:4: stage 'mx': matrix: 'matrix.m' has no items; give a non-empty list or map"
        ]
    );
    assert_eq!(
        errors("stages:\n  fe:\n    foreach: ${nothing}\n    do: {cmd: x}\n"),
        [
            "slipway.yaml:3: stage 'fe': foreach: unknown variable '${nothing}'; variables come from 'vars', the params file, and 'item'/'key' inside foreach and matrix"
        ]
    );
    assert_eq!(
        errors("experiment: [a]\nstages: {}\n"),
        [
            "slipway.yaml:1: experiment: expected an experiment name (a non-empty string), found a list"
        ]
    );
    assert_eq!(
        errors("stages:\n  a:\n    uses: slipway/copy\n    with: [1]\n"),
        ["slipway.yaml:4: stage 'a': with: expected a map of arguments, found a list"]
    );
    assert_eq!(
        errors("- a\n"),
        [
            "slipway.yaml:1: expected a map with 'stages' (and optionally 'params', 'vars', 'experiment'), found a list"
        ]
    );
    assert_eq!(
        errors("stages:\n  a:\n    cmd: x\n    outs:\n      - {a: 1, b: 2}\n"),
        [
            "slipway.yaml:5: stage 'a': outs[0]: expected a path, or 'path: {kind: ..., cache: ...}', found a map"
        ]
    );
}

#[test]
fn anchors_and_merge_keys_work() {
    let spec = parse(
        "\
stages:
  a:
    cmd: x
    deps: &common [src/a.py, src/b.py]
    outs: [a.out]
  b: &base
    cmd: y
    deps: *common
    outs: [b.out]
  c:
    <<: *base
    outs: [c.out]
",
    )
    .unwrap();
    assert_eq!(
        spec.stages[1].deps,
        spec.stages[0]
            .deps
            .iter()
            .map(|d| DepSpec {
                path: d.path.clone(),
                line: 8
            })
            .collect::<Vec<_>>()
    );
    let c = spec.stage("c").unwrap();
    assert_eq!(c.action, Action::Cmd(vec!["y".into()]));
    assert_eq!(c.outs[0].path, rp("c.out"));
}
