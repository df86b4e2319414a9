//! The built-in test stages through the real binary on real files: data validation, the
//! trainer, evaluation (built-in and ONNX models), model tests, infrastructure tests
//! (reproducibility) and `slipway score`.

use crate::util::{Project, text};
use serde_json::Value;
use slipway_core::reports::{EvaluationReport, same_holdout};

/// A deterministic synthetic credit table: `n` rows, label `default` from a logistic model of
/// the features, `region` a group column; `shift` moves `income`.
pub fn credit_csv(n: usize, seed: u64, shift: f64) -> String {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = String::from("id,age,income,debt_ratio,region,default\n");
    for i in 0..n {
        let age = 20 + (uniform() * 50.0) as i64;
        let income = 30.0 + 40.0 * uniform() + shift;
        let debt = uniform();
        let region = ["north", "south", "east"][(uniform() * 3.0) as usize % 3];
        let z = -1.0 + 3.0 * debt - 0.04 * (income - 50.0) + 0.01 * (age as f64 - 45.0);
        let p = 1.0 / (1.0 + (-z).exp());
        let label = u8::from(uniform() < p);
        out.push_str(&format!(
            "{i},{age},{income:.3},{debt:.4},{region},{label}\n"
        ));
    }
    out
}

const SCHEMA: &str = "rows: {min: 100}
columns:
  - {name: id, type: int, nullable: false, unique: true}
  - {name: age, type: int, min: 18, max: 100}
  - {name: income, type: float, min: 0, mean: {min: 30, max: 80}}
  - {name: debt_ratio, type: float, min: 0, max: 1, max_null_fraction: 0.01}
  - {name: region, type: string, allowed: [north, south, east]}
  - {name: default, type: int, allowed: [0, 1]}
";

const PIPELINE: &str = "stages:
  validate:
    uses: slipway/validate
    with: {data: data/train.csv, schema: schema.yaml, reference: data/reference.csv, report: reports/validation.json}
  train:
    uses: slipway/train
    with: {data: data/train.csv, label: default, exclude: [id, region], model: logistic, seed: 7}
  evaluate:
    uses: slipway/evaluate
    with: {model: models/model.json, holdout: data/holdout.csv, label: default, group: region, min: {auc: 0.6}}
  model-tests:
    uses: slipway/model-tests
    with: {model: models/model.json, data: data/holdout.csv, label: default, margin: 0.05}
  infra-tests:
    uses: slipway/infra-tests
    with: {model: models/model.json, data: data/holdout.csv, reproduce: {stage: train}}
";

fn credit_project() -> Project {
    let p = Project::new();
    p.write("data/train.csv", credit_csv(3000, 1, 0.0).as_bytes());
    p.write("data/reference.csv", credit_csv(3000, 2, 0.0).as_bytes());
    p.write("data/holdout.csv", credit_csv(1500, 3, 0.0).as_bytes());
    p.write("schema.yaml", SCHEMA.as_bytes());
    p.write("slipway.yaml", PIPELINE.as_bytes());
    p
}

fn run_json(p: &Project, args: &[&str]) -> (bool, Value, String) {
    let mut full = vec!["--json", "run"];
    full.extend_from_slice(args);
    let out = p.slipway(&full).output().unwrap();
    (
        out.status.success(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        text(&out.stderr),
    )
}

fn read_json(p: &Project, rel: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p.join(rel)).unwrap()).unwrap()
}

fn outcome<'a>(report: &'a Value, stage: &str) -> &'a Value {
    report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == stage)
        .unwrap()
}

#[test]
fn the_full_chain_runs_logs_training_and_scores() {
    let p = credit_project();
    let (ok, report, stderr) = run_json(&p, &[]);
    assert!(ok, "{stderr}\n{report}");
    for stage in [
        "validate",
        "train",
        "evaluate",
        "model-tests",
        "infra-tests",
    ] {
        assert_eq!(
            outcome(&report, stage)["outcome"],
            "ran",
            "{stage}: {report}"
        );
    }
    // Validation report: JSON and Markdown, with the distribution test.
    let v = read_json(&p, "reports/validation.json");
    assert_eq!(v["passed"], true);
    assert_eq!(v["data"]["rows"], 3000);
    assert_eq!(v["distribution"]["columns"].as_array().unwrap().len(), 6);
    assert!(
        std::fs::read_to_string(p.join("reports/validation.md"))
            .unwrap()
            .contains("PASSED")
    );
    // The model: built-in format with its signature, no time stamp.
    let model = read_json(&p, "models/model.json");
    assert_eq!(model["format"], "slipway-model/1");
    let inputs: Vec<&str> = model["signature"]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, ["age", "income", "debt_ratio"]);
    // Training logged the loss per Newton step on the stage's run.
    let run_id = outcome(&report, "train")["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let ws = slipway_store::Workspace::open(p.path()).unwrap();
    use slipway_store::meta::MetadataStore;
    let loss = ws.meta().metric_history(&run_id, "train.loss").unwrap();
    assert!(loss.len() >= 3, "{loss:?}");
    assert!(
        loss.windows(2)
            .all(|w| w[1].step == w[0].step + 1 && w[1].value <= w[0].value)
    );
    let params = ws.meta().params(&run_id).unwrap();
    assert!(
        params.contains(&("model.learner".to_string(), "logistic".to_string())),
        "{params:?}"
    );
    // Evaluation: metrics, fairness, latency, holdout digest.
    let e: EvaluationReport =
        serde_json::from_value(read_json(&p, "reports/evaluation.json")).unwrap();
    assert!(e.metrics["auc"] > 0.6, "{:?}", e.metrics);
    assert!(e.fairness.as_ref().unwrap().groups.len() == 3);
    assert!(e.latency.p99_ms >= e.latency.p50_ms && e.latency.samples == 200);
    assert_eq!(e.holdout.rows, 1500);
    // Model and infrastructure tests.
    let m = read_json(&p, "reports/model-tests.json");
    assert_eq!(m["passed"], true, "{m}");
    let i = read_json(&p, "reports/infra-tests.json");
    assert_eq!(i["passed"], true, "{i}");
    let reproducible = i["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "reproducible")
        .unwrap();
    assert_eq!(reproducible["passed"], true, "{i}");
    assert!(
        i["skipped"][0]
            .as_str()
            .unwrap()
            .starts_with("rollback: no `rollback:"),
        "{i}"
    );

    // The score: evidence per test, with the report digests.
    p.write("mltestscore.yaml", b"manual:\n  model-1: docs/review.md\n");
    let score = p.json(&["score"]);
    let test = |id: &str| {
        score["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap()
            .clone()
    };
    for id in [
        "data-1", "model-5", "model-6", "model-7", "infra-1", "infra-2", "infra-3", "infra-4",
    ] {
        assert_eq!(test(id)["status"], "automated_passing", "{id}: {score}");
        assert_eq!(test(id)["evidence"].as_str().unwrap().len(), 64);
    }
    assert_eq!(test("model-1")["status"], "manual");
    assert_eq!(test("infra-7")["status"], "missing");
    assert_eq!(score["score"], 0.0, "monitoring has no tests yet: {score}");
    let sections = score["sections"].as_array().unwrap();
    assert_eq!(sections[2]["points"], 4.0, "{score}");
    // Evidence is stored: the digest restores the report.
    let d = test("data-1")["evidence"].as_str().unwrap().to_string();
    p.slipway(&["artifacts", "get", &d]).assert().success();
    // A version that is not registered is an error naming it (scoring registered versions is
    // covered by the demo test).
    let out = p.slipway(&["score", "credit@3"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("credit"),
        "{}",
        text(&out.stderr)
    );

    // Nothing changed: everything is cached.
    let (ok, again, _) = run_json(&p, &[]);
    assert!(ok);
    assert_eq!(again["commands_run"], 0, "{again}");
}

#[test]
fn invalid_data_fails_the_stage_naming_every_failure() {
    let p = credit_project();
    let mut data = credit_csv(3000, 1, 0.0);
    data = data.replacen("\n5,", "\n4,", 1); // duplicate id on row 6
    let mut lines: Vec<String> = data.lines().map(str::to_string).collect();
    lines[10] = "9,17,45.0,0.5,west,1".into(); // row 10: age below 18, unknown region
    lines[20] = "19,30,abc,1.5,north,2".into(); // row 20: income not a number, debt > 1, label 2
    p.write("data/train.csv", (lines.join("\n") + "\n").as_bytes());
    let out = p.slipway(&["run", "validate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    for needle in [
        "column `id`, expectation `unique`",
        "rows: 6 (4 (also row 5))",
        "column `age`, expectation `min`",
        "rows: 10 (17)",
        "column `region`, expectation `allowed`",
        "column `income`, expectation `type`",
        "rows: 20 (abc)",
        "column `debt_ratio`, expectation `max`",
        "column `default`, expectation `allowed`",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    // The report is written even though the stage failed.
    let v = read_json(&p, "reports/validation.json");
    assert_eq!(v["passed"], false);
    assert_eq!(v["errors"], 6);
}

#[test]
fn a_drifted_reference_fails_validation() {
    let p = credit_project();
    p.write("data/reference.csv", credit_csv(3000, 2, 25.0).as_bytes());
    let out = p.slipway(&["run", "validate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("column `income`, expectation `psi`"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("column `age`, expectation `psi`"),
        "{stderr}"
    );
}

fn model_digest(p: &Project) -> String {
    let lock = std::fs::read_to_string(p.join("slipway.lock")).unwrap();
    let at = lock.find("models/model.json").unwrap();
    let digest_at = lock[at..].find("digest: ").unwrap() + at + 8;
    lock[digest_at..digest_at + 64].to_string()
}

#[test]
fn training_is_deterministic_and_its_models_score_identically() {
    let trees = "stages:\n  train:\n    uses: slipway/train\n    with: {data: data/train.csv, label: default, exclude: [id, region], model: trees, n_trees: 15, seed: SEED}\n";
    let make = |seed: u64| {
        let p = Project::new();
        p.write("data/train.csv", credit_csv(2000, 1, 0.0).as_bytes());
        p.write("data/holdout.csv", credit_csv(300, 3, 0.0).as_bytes());
        p.write(
            "slipway.yaml",
            trees.replace("SEED", &seed.to_string()).as_bytes(),
        );
        let (ok, _, stderr) = run_json(&p, &[]);
        assert!(ok, "{stderr}");
        p
    };
    let a = make(5);
    let b = make(5);
    let c = make(6);
    assert_eq!(model_digest(&a), model_digest(&b));
    assert_ne!(
        model_digest(&a),
        model_digest(&c),
        "the seed drives the row sampling"
    );
    // Through the serving runtime, both models give the same numbers.
    let rows: Vec<Value> = credit_csv(300, 3, 0.0)
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            serde_json::json!({"age": f[1].parse::<i64>().unwrap(), "income": f[2].parse::<f64>().unwrap(), "debt_ratio": f[3].parse::<f64>().unwrap()})
        })
        .collect();
    let ma = slipway_serve::load(&a.join("models/model.json")).unwrap();
    let mb = slipway_serve::load(&b.join("models/model.json")).unwrap();
    let pa = ma.predict(&rows).unwrap();
    assert_eq!(pa, mb.predict(&rows).unwrap());
    assert!(pa.iter().any(|p| (p - pa[0]).abs() > 1e-3));
}

#[test]
fn the_reproducibility_test_catches_a_stage_that_writes_a_time_stamp() {
    let p = credit_project();
    p.write(
        "slipway.yaml",
        b"stages:
  train:
    cmd: mkdir -p models && date +%s%N > models/stamp.json
    deps: [data/train.csv]
    outs: [models/stamp.json]
  model:
    uses: slipway/train
    with: {data: data/train.csv, label: default, exclude: [id, region], out: models/model.json}
  infra-tests:
    uses: slipway/infra-tests
    with: {model: models/model.json, data: data/holdout.csv, reproduce: {stage: train}, report: reports/infra-stamp.json}
  infra-model:
    uses: slipway/infra-tests
    with: {model: models/model.json, data: data/holdout.csv, reproduce: {stage: model}, report: reports/infra-model.json}
",
    );
    let (ok, report, stderr) = run_json(&p, &["--keep-going"]);
    assert!(!ok, "{stderr}");
    assert!(report.is_object(), "{stderr}");
    assert_eq!(
        outcome(&report, "infra-tests")["outcome"],
        "failed",
        "{report}"
    );
    let detail = outcome(&report, "infra-tests")["detail"].as_str().unwrap();
    assert!(
        detail.contains("reproducible: different bytes: models/stamp.json"),
        "{detail}\n{stderr}"
    );
    // The deterministic trainer reproduces.
    assert_eq!(
        outcome(&report, "infra-model")["outcome"],
        "ran",
        "{report}"
    );
    let r = read_json(&p, "reports/infra-model.json");
    assert_eq!(
        r["reproduce"]["outputs"][0]["locked"],
        r["reproduce"]["outputs"][0]["rerun"]
    );
}

#[test]
fn champion_and_challenger_on_different_holdouts_are_detected() {
    let p = credit_project();
    p.write("data/holdout2.csv", credit_csv(1500, 9, 0.0).as_bytes());
    p.write(
        "slipway.yaml",
        b"stages:
  train:
    uses: slipway/train
    with: {data: data/train.csv, label: default, exclude: [id, region]}
  challenger:
    uses: slipway/train
    with: {data: data/train.csv, label: default, exclude: [id, region], model: trees, n_trees: 10, out: models/challenger.json}
  eval-champion:
    uses: slipway/evaluate
    with: {model: models/model.json, holdout: data/holdout.csv, label: default, report: reports/champion.json}
  eval-challenger:
    uses: slipway/evaluate
    with: {model: models/challenger.json, holdout: data/holdout2.csv, label: default, report: reports/challenger.json}
  eval-challenger-same:
    uses: slipway/evaluate
    with: {model: models/challenger.json, holdout: data/holdout.csv, label: default, report: reports/challenger-same.json}
",
    );
    let (ok, _, stderr) = run_json(&p, &[]);
    assert!(ok, "{stderr}");
    let load =
        |rel: &str| -> EvaluationReport { serde_json::from_value(read_json(&p, rel)).unwrap() };
    let champion = load("reports/champion.json");
    let err = same_holdout(&champion, &load("reports/challenger.json")).unwrap_err();
    assert!(err.to_string().contains("data/holdout2.csv"), "{err}");
    assert!(same_holdout(&champion, &load("reports/challenger-same.json")).is_ok());
}

#[test]
fn onnx_models_are_evaluated_too() {
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../slipway-serve/tests/fixtures");
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("onnx_expected.json")).unwrap(),
    )
    .unwrap();
    let p = Project::new();
    p.write(
        "models/logreg.onnx",
        &std::fs::read(fixtures.join("logreg.onnx")).unwrap(),
    );
    p.write(
        "models/logreg.onnx.signature.json",
        &std::fs::read(fixtures.join("logreg.onnx.signature.json")).unwrap(),
    );
    let mut csv = String::from("age,income,debt_ratio,tenure,score,label\n");
    let preds = expected["predictions"]["logreg"].as_array().unwrap();
    for (i, row) in expected["inputs"].as_array().unwrap().iter().enumerate() {
        let v: Vec<String> = row
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.to_string())
            .collect();
        // Labels: scikit-learn's decision, with every fifth row flipped.
        let mut label = u8::from(preds[i].as_f64().unwrap() >= 0.5);
        if i % 5 == 0 {
            label = 1 - label;
        }
        csv.push_str(&format!("{},{label}\n", v.join(",")));
    }
    p.write("data/holdout.csv", csv.as_bytes());
    p.write(
        "slipway.yaml",
        b"stages:\n  evaluate:\n    uses: slipway/evaluate\n    with: {model: models/logreg.onnx, holdout: data/holdout.csv, label: label, latency_samples: 50}\n",
    );
    let (ok, _, stderr) = run_json(&p, &[]);
    assert!(ok, "{stderr}");
    let e: EvaluationReport =
        serde_json::from_value(read_json(&p, "reports/evaluation.json")).unwrap();
    assert_eq!(e.model.format, "onnx");
    // Four in five labels agree with the model's own decision.
    assert!(
        (e.metrics["accuracy"] - 0.8).abs() < 1e-12,
        "{:?}",
        e.metrics
    );
    assert!(e.latency.samples == 50 && e.latency.p50_ms > 0.0);
}

#[test]
fn a_rollback_dry_run_checks_the_previous_production_version_without_changing_anything() {
    let p = credit_project();
    p.write(
        "slipway.yaml",
        b"stages:
  train:
    uses: slipway/train
    with: {data: data/train.csv, label: default, exclude: [id, region]}
  trees:
    uses: slipway/train
    with: {data: data/train.csv, label: default, exclude: [id, region], model: trees, n_trees: 5, out: models/trees.json}
  infra-tests:
    uses: slipway/infra-tests
    with: {model: models/trees.json, data: data/holdout.csv, rollback: {model: credit}}
",
    );
    let (ok, _, stderr) = run_json(&p, &["train", "trees"]);
    assert!(ok, "{stderr}");
    for (file, version) in [
        ("models/model.json", "credit@1"),
        ("models/trees.json", "credit@2"),
    ] {
        let out = p
            .slipway(&[
                "--as",
                "ana",
                "models",
                "register",
                "credit",
                "--artifact",
                file,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), version);
    }
    // One Production version: there is nothing to roll back to, and the check says why.
    p.slipway(&["models", "promote", "credit@1"])
        .assert()
        .success();
    let (ok, report, _) = run_json(&p, &["infra-tests"]);
    assert!(!ok);
    let detail = outcome(&report, "infra-tests")["detail"].as_str().unwrap();
    assert!(
        detail.contains("rollback: the registry would refuse the rollback"),
        "{detail}"
    );
    // Two: the dry run would go back to version 1, whose artifact loads and answers.
    p.slipway(&["models", "promote", "credit@2"])
        .assert()
        .success();
    let (ok, _, stderr) = run_json(&p, &["infra-tests"]);
    assert!(ok, "{stderr}");
    let r = read_json(&p, "reports/infra-tests.json");
    let rollback = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "rollback")
        .unwrap();
    assert_eq!(rollback["passed"], true, "{r}");
    let observed = rollback["observed"].as_str().unwrap();
    assert!(
        observed.contains("from version 2 to version 1"),
        "{observed}"
    );
    assert!(observed.contains("slipway-model/1 runtime"), "{observed}");
    // Nothing changed in the registry.
    assert_eq!(p.json(&["models", "live", "credit"])["version"], 2);
    // And the score counts infra-7 as automated.
    let score = p.json(&["score"]);
    let infra7 = score["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "infra-7")
        .unwrap();
    assert_eq!(infra7["status"], "automated_passing", "{score}");
}

/// `slipway/gate` as a stage: the demo leaves two evaluation reports on the same holdout.
#[test]
fn gate_builtin_decides_from_two_reports() {
    let p = Project::empty();
    p.json(&["demo", "d"]);
    let pipeline = std::fs::read_to_string(p.join("d/slipway.yaml")).unwrap();
    let gate = "  gate:\n    uses: slipway/gate\n    with:\n      champion: .slipway/demo-v1-evaluation.json\n      challenger: reports/evaluation.json\n      metric: auc\n      delta: 0.005\n      guardrails: [{metric: p99_latency_ms, max: 200}]\n";
    p.write("d/slipway.yaml", format!("{pipeline}{gate}").as_bytes());
    let report = p.json(&["-C", "d", "run", "gate"]);
    assert_eq!(report["failed"], 0, "{report}");
    let decision: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("d/reports/gate.json")).unwrap())
            .unwrap();
    assert_eq!(decision["decision"]["verdict"], "promote", "{decision}");
    let strict = gate.replace("delta: 0.005", "delta: 0.5") + "      fail_on_keep: true\n";
    p.write("d/slipway.yaml", format!("{pipeline}{strict}").as_bytes());
    let out = p.slipway(&["-C", "d", "run", "gate"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a keep with fail_on_keep stops the pipeline"
    );
    assert!(
        text(&out.stderr).contains("keeps the champion"),
        "{}",
        text(&out.stderr)
    );
}
