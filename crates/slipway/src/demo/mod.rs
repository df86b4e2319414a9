//! `slipway demo`: the bundled example, raw data to a served, monitored, governed model, run
//! with nothing but the binary. It drives the real commands (as a user would type them) and
//! narrates: validate → train → evaluate (pipeline, cached on rerun) → register (medium risk
//! tier) → gate → approve (a second user) → promote → start the gateway → traffic → the
//! population shifts → PSI alert → incident (webhook) → retraining proposal (pipeline, Staging,
//! gate; not promoted) → approve → promote (the gateway swaps) → rollback drill → SLO monitor →
//! model card and audit check.

pub mod data;
mod serving;

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

/// The demo's monitors: input drift on the live slot (baseline: the training data), with a
/// webhook and a retraining proposal on breach.
fn monitors_yaml(webhook: &str) -> String {
    format!(
        "webhook: {webhook}
monitors:
  - name: input-drift
    model: credit-risk
    slot: default
    every: 1m
    cooldown: 1h
    psi:                       # baseline: the live version's stored profile
      window: 1h
      min_rows: 500
    retrain:
      as: ana
      model_file: models/model.json
      report: reports/evaluation.json
      metric: auc
      delta: 0.005
      guardrails: ['p99_latency_ms<=200', 'fairness_gap<=0.2']
      profile: data/train.csv
"
    )
}

/// Sends one request until the gateway answers with `version`; returns the milliseconds it took.
fn wait_for_version(url: &str, token: &str, row: &[Value], version: &str) -> Result<u128> {
    let t = Instant::now();
    while t.elapsed() < std::time::Duration::from_secs(10) {
        if serving::send(url, token, row, 1)?
            .last()
            .map(String::as_str)
            == Some(version)
        {
            return Ok(t.elapsed().as_millis());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    bail!("the gateway did not serve version {version} within 10 s")
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

    // The champion's evaluation, kept for comparisons (e.g. a `slipway/gate` stage).
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
    let profile = d.json(&[
        "--as",
        "ana",
        "monitor",
        "profile",
        "data/train.csv",
        "--model",
        "credit-risk@1",
    ])?;
    say(format!(
        "3. Registered credit-risk@1 (medium risk tier) from the pipeline's train run, with a baseline profile of its {} inputs and its predictions on the training data (artifact {}); users admin, ana (deployer), val (validator)",
        profile["features"]
            .as_array()
            .map_or(0, |f| f.len().saturating_sub(1)),
        &profile["profile"].as_str().unwrap_or("?")[..12]
    ));

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

    // 5. The gateway serves v1; client traffic; the drift monitor sees nothing wrong.
    d.ok(&["--as", "admin", "users", "add", "app", "--role", "viewer"])?;
    let token: Value = d.json(&[
        "--as",
        "admin",
        "tokens",
        "create",
        "--user",
        "app",
        "--description",
        "the loan application frontend",
    ])?;
    let token = token["token"].as_str().context("no token")?.to_string();
    let (webhook, delivered) = serving::webhook_receiver()?;
    fs::write(root.join("monitors.yaml"), monitors_yaml(&webhook))?;
    let gateway = serving::Gateway::start(&d.exe, &root)?;
    let predict = format!(
        "{}/v1/models/credit-risk/slots/default:predict",
        gateway.url
    );
    let t = Instant::now();
    let steady = serving::rows(&data::credit_risk_csv(1_000, 9_001, 0.0));
    serving::send(&predict, &token, &steady, 10)?;
    let first_check = d.json(&["monitor", "run", "input-drift"]);
    let first_check = first_check
        .ok()
        .and_then(|v| v["monitors"][0]["summary"].as_str().map(str::to_string))
        .unwrap_or_default();
    say(format!(
        "5. Gateway up at {}: 1,000 applications scored in {:.1?} (every prediction logged); drift monitor: {first_check}",
        gateway.url,
        t.elapsed()
    ));

    // 6. The population shifts; the monitor opens an incident, notifies, proposes a challenger.
    //    Meanwhile the team had committed a logistic-regression recipe: retraining builds it.
    fs::write(root.join("params.yaml"), params("logistic", 5, 2))?;
    if git {
        // Commit the recipe change (and the .gitignore files slipway wrote for the outputs), so
        // the challenger is built from a clean commit: the promotion boundary checks it.
        d.git(&["add", "-A"]);
        d.git(&["commit", "-qm", "logistic regression recipe; drift monitor"]);
    }
    let shifted = serving::rows(&data::credit_risk_csv(2_000, 9_002, 1.0));
    serving::send(&predict, &token, &shifted, 10)?;
    let (_, out) = d.run(&["--json", "monitor", "run", "input-drift"])?;
    let check: Value = serde_json::from_str(&out).context("monitor run printed no JSON")?;
    let m = &check["monitors"][0];
    if m["state"] != "breach" {
        bail!("the drift monitor did not fire on shifted traffic: {m}");
    }
    let mut drifted: Vec<(String, f64)> = m["details"]["features"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["status"] == "significant")
        .filter_map(|f| Some((f["name"].as_str()?.to_string(), f["psi"].as_f64()?)))
        .collect();
    drifted.sort_by(|a, b| b.1.total_cmp(&a.1));
    let hook = delivered.join().ok().flatten();
    say(format!(
        "6. Traffic shifted (2,000 applications from a younger, poorer, more indebted population): PSI alert on {} → incident #{} opened; webhook {} ({})",
        drifted
            .iter()
            .map(|(n, v)| format!("{n} {v:.2}"))
            .collect::<Vec<_>>()
            .join(", "),
        m["incident"]["id"],
        m["notified"].as_str().unwrap_or("not called"),
        if hook.is_some() {
            "the receiver got the incident"
        } else {
            "nothing received"
        }
    ));
    let proposal = &m["proposal"];
    let auc2 = auc(&root)?;
    say(format!(
        "   Retraining proposal: the pipeline reran at the current commit (logistic recipe), credit-risk@{} registered and put in Staging; gate vs v1 on the same frozen holdout ({auc1:.4} vs {auc2:.4}): {} — proposed, not promoted",
        proposal["version"],
        proposal["gate"].as_str().unwrap_or("?").to_uppercase()
    ));

    // 7. People promote it; the gateway swaps; rollback drill.
    let promote = proposal["gate"] == "promote";
    if promote {
        d.ok(&[
            "--as",
            "ana",
            "models",
            "pin-config",
            "credit-risk@2",
            "deploy.yaml",
        ])?;
        d.ok(&[
            "--as",
            "val",
            "models",
            "approve",
            "credit-risk@2",
            "--comment",
            "drift incident: retrained challenger",
        ])?;
        d.ok(&[
            "--as",
            "ana",
            "models",
            "promote",
            "credit-risk@2",
            "--alias",
            "champion",
        ])?;
        let swap = wait_for_version(&predict, &token, &shifted[..1], "2")?;
        d.ok(&[
            "--as",
            "ana",
            "models",
            "rollback",
            "credit-risk",
            "--reason",
            "rollback drill",
        ])?;
        let back = wait_for_version(&predict, &token, &shifted[..1], "1")?;
        d.ok(&[
            "--as",
            "ana",
            "models",
            "promote",
            "credit-risk@2",
            "--alias",
            "champion",
        ])?;
        wait_for_version(&predict, &token, &shifted[..1], "2")?;
        d.ok(&[
            "--as",
            "ana",
            "monitor",
            "resolve",
            &m["incident"]["id"].to_string(),
            "--reason",
            "retrained on the new recipe; credit-risk@2 promoted",
        ])?;
        say(format!(
            "7. Approved by val, promoted by ana: the gateway served v2 {swap} ms later; rollback drill: v1 back in traffic after {back} ms, then v2 promoted again; incident resolved"
        ));
    } else {
        say("7. The gate kept the champion; nothing to promote".into());
    }
    gateway.stop()?;

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
            "incident": m["incident"]["id"],
            "proposal": proposal,
            "slo_alert_day": slo["alert_day"],
            "audit_ok": audit["ok"],
        }))?;
    }
    Ok(Outcome::Ok)
}
