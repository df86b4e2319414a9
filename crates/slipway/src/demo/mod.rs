//! `slipway demo`: the bundled example, raw data to a served-ready, governed model, run with
//! nothing but the binary. It drives the real commands (as a user would type them) and narrates:
//! validate → train → evaluate (pipeline, cached on rerun) → register (medium risk tier) → gate
//! → approve (a second user) → promote → retrain a challenger → gate against the champion →
//! promote → rollback drill → SLO monitor on the live accuracy → model card and audit check.

pub mod data;

use crate::Outcome;
use crate::cli::DemoArgs;
use crate::commands::Context;
use anyhow::{Context as _, Result, bail};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Rows of the training population generated for the example.
pub const TRAINING_ROWS: usize = 20_000;

const SCHEMA: &str = "rows: {min: 1000}\nextra_columns: error\ncolumns:
  - {name: applicant_id, type: int, nullable: false, unique: true}
  - {name: age, type: float, min: 18, max: 90}
  - {name: income, type: float, min: 0}
  - {name: debt_ratio, type: float, min: 0, max: 1.5}
  - {name: credit_lines, type: float, min: 0}
  - {name: delinquencies, type: float, min: 0}
  - {name: employment_years, type: float, min: 0}
  - {name: loan_amount, type: float, min: 0}
  - {name: region, type: string, allowed: [north, south, east, west]}
  - {name: default, type: int, allowed: [0, 1]}
";

const PIPELINE: &str = "experiment: credit-risk
stages:
  validate:
    uses: slipway/validate
    with:
      data: data/train.csv
      schema: schema.yaml
      reference: data/reference.csv
      psi: {columns: [age, income, debt_ratio, credit_lines, delinquencies, employment_years, loan_amount, region]}
  train:
    uses: slipway/train
    deps: [reports/validation.json]   # train only on data that passed its tests
    with:
      data: data/train.csv
      label: default
      exclude: [applicant_id, region]
      model: ${train.model}
      seed: ${train.seed}
      n_trees: ${train.n_trees}
      max_depth: ${train.max_depth}
  evaluate:
    uses: slipway/evaluate
    with: {model: models/model.json, holdout: data/holdout.csv, label: default, group: region}
";

/// Runs this binary in the demo project, as a user would; returns stdout.
struct Driver {
    exe: PathBuf,
    root: PathBuf,
}

impl Driver {
    fn output(&self, args: &[&str]) -> Result<std::process::Output> {
        Command::new(&self.exe)
            .args(args)
            .current_dir(&self.root)
            .output()
            .with_context(|| format!("cannot run slipway {}", args.join(" ")))
    }

    /// Runs a command whose "no" answer is part of the story; returns (success, stdout).
    fn run(&self, args: &[&str]) -> Result<(bool, String)> {
        let out = self.output(args)?;
        Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ))
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> Result<String> {
        let out = self.output(args)?;
        if !out.status.success() {
            bail!(
                "slipway {} failed:\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn json(&self, args: &[&str]) -> Result<Value> {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        Ok(serde_json::from_str(&self.ok(&full)?)?)
    }

    fn git(&self, args: &[&str]) -> bool {
        Command::new("git")
            .args([
                "-c",
                "user.email=demo@slipway.invalid",
                "-c",
                "user.name=demo",
            ])
            .args(args)
            .current_dir(&self.root)
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

fn params(model: &str, n_trees: u32, max_depth: u32) -> String {
    format!("train:\n  model: {model}\n  seed: 7\n  n_trees: {n_trees}\n  max_depth: {max_depth}\n")
}

fn stage_run_id(report: &Value, stage: &str) -> Option<String> {
    report["stages"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == stage)?["run_id"]
        .as_str()
        .map(str::to_string)
}

fn auc(root: &Path) -> Result<f64> {
    let report: Value =
        serde_json::from_str(&fs::read_to_string(root.join("reports/evaluation.json"))?)?;
    report["metrics"]["auc"]
        .as_f64()
        .context("evaluation report has no auc")
}

pub fn run(ctx: &Context, args: DemoArgs) -> Result<Outcome> {
    let say = |line: String| ctx.messages.say(line);
    let started = Instant::now();
    let root = &args.dir;
    if root.join(".slipway").exists() {
        bail!(
            "{} already holds a slipway project; give another directory (slipway demo DIR)",
            root.display()
        );
    }
    fs::create_dir_all(root.join("data"))
        .with_context(|| format!("cannot create {}", root.display()))?;
    let root = crate::commands::absolute(root)?;
    let d = Driver {
        exe: std::env::current_exe()?,
        root: root.clone(),
    };

    // 1. Data and recipe.
    fs::write(
        root.join("data/train.csv"),
        data::credit_risk_csv(TRAINING_ROWS, 42, 0.0),
    )?;
    fs::write(
        root.join("data/holdout.csv"),
        data::credit_risk_csv(TRAINING_ROWS / 4, 4242, 0.0),
    )?;
    fs::write(
        root.join("data/reference.csv"),
        data::credit_risk_csv(TRAINING_ROWS / 4, 777, 0.0),
    )?;
    fs::write(root.join("schema.yaml"), SCHEMA)?;
    fs::write(root.join("slipway.yaml"), PIPELINE)?;
    fs::write(root.join("params.yaml"), params("trees", 5, 2))?;
    fs::write(root.join("deploy.yaml"), "replicas: 2\nslot: default\n")?;
    d.ok(&["init"])?;
    let git = d.git(&["init", "-q"])
        && d.git(&["add", "-A"])
        && d.git(&["commit", "-qm", "credit-risk recipe"]);
    say(format!(
        "1. Project {} with a deterministic synthetic credit-risk dataset ({TRAINING_ROWS} applications, a frozen holdout and a reference sample){}",
        root.display(),
        if git {
            "; recipe committed to git"
        } else {
            " (git not found: runs will have no commit)"
        }
    ));

    // 2. Pipeline: validate -> train -> evaluate; a rerun is a cache hit.
    let t = Instant::now();
    let first = d.json(&["run"])?;
    let auc1 = auc(&root)?;
    say(format!(
        "2. Pipeline ran {} stages in {:.1?} (data tests passed, a small tree ensemble trained, evaluated on the holdout: AUC {auc1:.4})",
        first["ran"],
        t.elapsed()
    ));
    let again = d.json(&["run"])?;
    say(format!(
        "   Ran it again: {} commands executed — change nothing and the whole pipeline is a cache hit",
        again["commands_run"]
    ));
    fs::copy(
        root.join("reports/evaluation.json"),
        root.join(".slipway/demo-v1-evaluation.json"),
    )?;

    // 3. People: an admin, a deployer who builds models, a validator who signs them off.
    d.ok(&["--as", "admin", "users", "add", "admin", "--role", "admin"])?;
    d.ok(&["--as", "admin", "users", "add", "ana", "--role", "deployer"])?;
    d.ok(&[
        "--as",
        "admin",
        "users",
        "add",
        "val",
        "--role",
        "validator",
    ])?;
    let train_run = stage_run_id(&first, "train").context("train stage has no run")?;
    d.ok(&[
        "--as",
        "ana",
        "models",
        "register",
        "credit-risk",
        "--artifact",
        "models/model.json",
        "--run",
        &train_run,
        "--tier",
        "medium",
        "--owner",
        "credit-risk-team",
        "--intended-use",
        "consumer credit pre-screening",
        "--limitations",
        "synthetic data; not validated for small-business loans",
    ])?;
    say("3. Registered credit-risk@1 (medium risk tier) from the pipeline's train run; users admin, ana (deployer), val (validator)".into());

    // 4. Gate against the no-skill baseline, approve, promote.
    let (refused, _) = d.run(&["--as", "ana", "models", "promote", "credit-risk@1"])?;
    say(format!(
        "4. A promotion without evidence is {}: the medium tier needs a gate decision, an approval and a pinned config",
        if refused { "accepted (?)" } else { "refused" }
    ));
    d.ok(&[
        "--as",
        "ana",
        "gate",
        "--model",
        "credit-risk",
        "--challenger-version",
        "1",
        "--metric",
        "auc",
        "--champion",
        "0.5",
        "--challenger-report",
        "reports/evaluation.json",
        "--delta",
        "0.005",
        "--guardrail",
        "p99_latency_ms<=200",
        "--guardrail",
        "fairness_gap<=0.2",
    ])?;
    d.ok(&[
        "--as",
        "ana",
        "models",
        "pin-config",
        "credit-risk@1",
        "deploy.yaml",
    ])?;
    d.ok(&[
        "--as",
        "val",
        "models",
        "approve",
        "credit-risk@1",
        "--comment",
        "demo validation",
    ])?;
    d.ok(&[
        "--as",
        "ana",
        "models",
        "promote",
        "credit-risk@1",
        "--alias",
        "champion",
    ])?;
    say(format!(
        "   Gate PROMOTE (AUC {auc1:.4} vs baseline 0.5), approved by val, promoted by ana: credit-risk@1 is live"
    ));

    // 5. A challenger: logistic regression; only train and evaluate rerun.
    fs::write(root.join("params.yaml"), params("logistic", 5, 2))?;
    if git {
        // Commit the recipe change (and the .gitignore files slipway wrote for the outputs), so
        // the challenger is built from a clean commit: the promotion boundary checks it.
        d.git(&["add", "-A"]);
        d.git(&["commit", "-qm", "try logistic regression"]);
    }
    let second = d.json(&["run"])?;
    let auc2 = auc(&root)?;
    let rerun: Vec<String> = second["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["outcome"] == "ran")
        .filter_map(|s| s["name"].as_str().map(str::to_string))
        .collect();
    say(format!(
        "5. Changed train.model to logistic: reran only [{}] (validate stayed cached); holdout AUC {auc2:.4}",
        rerun.join(", ")
    ));
    let run2 = stage_run_id(&second, "train").context("train stage has no run")?;
    d.ok(&[
        "--as",
        "ana",
        "models",
        "register",
        "credit-risk",
        "--artifact",
        "models/model.json",
        "--run",
        &run2,
    ])?;
    let (promote, gate_out) = d.run(&[
        "--as",
        "ana",
        "gate",
        "--model",
        "credit-risk",
        "--challenger-version",
        "2",
        "--metric",
        "auc",
        "--champion-report",
        ".slipway/demo-v1-evaluation.json",
        "--challenger-report",
        "reports/evaluation.json",
        "--delta",
        "0.005",
        "--guardrail",
        "p99_latency_ms<=200",
        "--guardrail",
        "fairness_gap<=0.2",
    ])?;
    let verdict = gate_out
        .lines()
        .find(|l| l.starts_with("DECISION"))
        .unwrap_or("DECISION: ?")
        .to_string();
    say(format!(
        "6. Champion/challenger on the same frozen holdout: {auc1:.4} vs {auc2:.4} → {verdict}"
    ));
    if promote {
        d.ok(&[
            "--as",
            "ana",
            "models",
            "pin-config",
            "credit-risk@2",
            "deploy.yaml",
        ])?;
        d.ok(&["--as", "val", "models", "approve", "credit-risk@2"])?;
        d.ok(&[
            "--as",
            "ana",
            "models",
            "promote",
            "credit-risk@2",
            "--alias",
            "champion",
        ])?;
        // 7. Rollback drill: back to v1 in one command, then forward again.
        d.ok(&[
            "--as",
            "ana",
            "models",
            "rollback",
            "credit-risk",
            "--reason",
            "rollback drill",
        ])?;
        let during = d.json(&["--as", "ana", "models", "live", "credit-risk"])?;
        d.ok(&[
            "--as",
            "ana",
            "models",
            "promote",
            "credit-risk@2",
            "--alias",
            "champion",
        ])?;
        say(format!(
            "7. Promoted credit-risk@2; rollback drill: rolled back to v{} in one command, then promoted v2 again",
            during["version"]
        ));
    } else {
        say("7. The champion stays; nothing to promote".into());
    }

    // 8. Monitoring: a sustained-breach SLO on daily accuracy.
    let mut series = String::from("day,value\n");
    let mut rng = data::Rng::new(11);
    for day in 0..30 {
        let base = if day < 18 {
            0.91
        } else {
            0.91 - 0.006 * (day - 18) as f64
        };
        series.push_str(&format!(
            "{day},{:.4}\n",
            (base + 0.012 * rng.normal()).clamp(0.0, 1.0)
        ));
    }
    fs::write(root.join(".slipway/demo-daily-accuracy.csv"), series)?;
    let slo = d.run(&[
        "--json",
        "monitor",
        "slo",
        "--series",
        ".slipway/demo-daily-accuracy.csv",
        "--floor",
        "0.88",
        "--window",
        "5",
        "--breaches",
        "3",
    ])?;
    let slo: Value = serde_json::from_str(&slo.1)?;
    say(format!(
        "8. SLO monitor (floor 0.88, 5-day rolling mean, 3 consecutive breaches): alert on day {}, longest breach {} days",
        slo["alert_day"], slo["longest_breach"]
    ));

    // 9. Governance by-products.
    let live = d.json(&["--as", "ana", "models", "live", "credit-risk"])?;
    let version = live["version"].as_u64().unwrap_or(1).to_string();
    let target = format!("credit-risk@{version}");
    d.ok(&["--as", "ana", "card", &target, "-o", "model-card.md"])?;
    let audit = d.json(&["--as", "admin", "audit", "verify"])?;
    say(format!(
        "9. Live: {target}. Model card written to model-card.md; audit chain intact: {} ({} entries)",
        audit["ok"], audit["entries"]
    ));
    say(format!(
        "Done in {:.1?}. Explore: cd {} && slipway models history credit-risk && slipway lineage {target} && slipway runs list",
        started.elapsed(),
        root.display()
    ));
    if ctx.json {
        crate::output::print_json(&serde_json::json!({
            "root": root.display().to_string(),
            "live": live["version"],
            "auc": [auc1, auc2],
            "slo_alert_day": slo["alert_day"],
            "audit_ok": audit["ok"],
        }))?;
    }
    Ok(Outcome::Ok)
}
