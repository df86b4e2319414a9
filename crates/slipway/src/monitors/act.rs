//! What a new incident sets off: a webhook POST, and — when the monitor says so — a retraining
//! proposal: run the pipeline, register the model it built, put it in Staging in the slot and
//! gate it against the live version on the same frozen holdout. Never a promotion: that stays
//! with people (approvals, the risk tier's policy).

use super::config::{MonitorSpec, RetrainSpec};
use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use slipway_core::tracking::IoRole;
use slipway_store::registry::{Incident, RegistryStore};
use slipway_store::{MetadataStore, TreeHasher, Workspace};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// POSTs a new incident to the webhook; returns what to record (`HTTP 200`, or why it failed).
pub fn notify(url: &str, incident: &Incident, root: &Path) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let body = json!({
        "event": "incident.open",
        "incident": incident.id,
        "monitor": incident.monitor,
        "model": incident.model,
        "slot": incident.slot,
        "summary": incident.summary,
        "details": incident.details,
        "opened_ms": incident.opened_ms,
        "project": root.display().to_string(),
    });
    match agent.post(url).send_json(&body) {
        Ok(r) => format!("HTTP {}", r.status().as_u16()),
        Err(e) => format!("failed: {e}"),
    }
}

/// Runs this binary in the project as `actor`; returns (success, stdout, stderr).
fn slipway(root: &Path, actor: Option<&str>, args: &[&str]) -> Result<(bool, String, String)> {
    let mut cmd = Command::new(std::env::current_exe()?);
    if let Some(a) = actor {
        cmd.args(["--as", a]);
    }
    let out = cmd
        .args(args)
        .current_dir(root)
        .output()
        .with_context(|| format!("cannot run slipway {}", args.join(" ")))?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn must(root: &Path, actor: Option<&str>, args: &[&str]) -> Result<String> {
    let (ok, out, err) = slipway(root, actor, args)?;
    if !ok {
        bail!("slipway {} failed: {}", args.join(" "), err.trim());
    }
    Ok(out)
}

/// The newest run that wrote `digest` at `path`.
fn producing_run(
    ws: &Workspace,
    digest: &slipway_core::Digest,
    path: &str,
) -> Result<Option<String>> {
    let mut runs: Vec<(i64, String)> = Vec::new();
    for (run, io) in ws.meta().runs_touching(digest)? {
        if io.role == IoRole::Output && io.path == path {
            let started = ws.meta().run(&run)?.start_ms;
            runs.push((started, run));
        }
    }
    runs.sort();
    Ok(runs.pop().map(|(_, r)| r))
}

/// The evaluation report (at `report`) of the run that evaluated the artifact `model`: the
/// champion's numbers on the frozen holdout, restored into `dest`.
fn evaluation_of(
    ws: &Workspace,
    model: &slipway_core::Digest,
    report: &str,
    dest: &Path,
) -> Result<bool> {
    for (run, io) in ws.meta().runs_touching(model)? {
        if io.role != IoRole::Input {
            continue;
        }
        if let Some(out) = ws
            .meta()
            .run_io(&run)?
            .into_iter()
            .find(|o| o.role == IoRole::Output && o.path == report)
        {
            ws.restore(&out.digest, dest)?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// Proposes a challenger for the incident's slot; returns what was done, for the incident.
pub fn propose(ws: &Workspace, spec: &MonitorSpec, r: &RetrainSpec) -> Result<Value> {
    let root = ws.root();
    let actor = r.actor.as_deref();
    let live = ws
        .meta()
        .live(&spec.model, &spec.slot, None)?
        .with_context(|| {
            format!(
                "nothing is live in {}/{} to challenge",
                spec.model, spec.slot
            )
        })?;
    must(root, actor, &["--json", "run"])?;
    let model_path = root.join(&r.model_file);
    let digest = TreeHasher::new(ws.meta())
        .hash(&model_path)
        .with_context(|| format!("the pipeline left no {}", r.model_file.display()))?
        .digest();
    let rel = r.model_file.to_string_lossy().to_string();
    if digest == live.version.artifact {
        return Ok(json!({
            "outcome": "unchanged",
            "why": format!("the pipeline rebuilt the live model ({}@{}); a new challenger needs new data or a changed recipe", spec.model, live.number()),
        }));
    }
    let run = producing_run(ws, &digest, &rel)?;
    let mut register = vec![
        "--json",
        "models",
        "register",
        spec.model.as_str(),
        "--artifact",
        rel.as_str(),
    ];
    if let Some(run) = &run {
        register.extend(["--run", run.as_str()]);
    }
    let registered: Value = serde_json::from_str(&must(root, actor, &register)?)?;
    let version = registered["version"]
        .as_u64()
        .context("models register printed no version")?;
    let target = format!("{}@{version}", spec.model);
    must(
        root,
        actor,
        &[
            "models", "stage", &target, "--to", "staging", "--slot", &spec.slot,
        ],
    )?;
    if let Some(data) = &r.profile {
        let data = data.to_string_lossy().to_string();
        must(
            root,
            actor,
            &["monitor", "profile", &data, "--model", &target],
        )?;
    }
    let champion_report =
        ws.dir()
            .join("tmp")
            .join(format!("champion-{}-{}.json", spec.model, live.number()));
    if let Some(parent) = champion_report.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let report_rel = r.report.to_string_lossy().to_string();
    let mut outcome = json!({
        "outcome": "proposed",
        "version": version,
        "run": run,
        "stage": "Staging",
        "slot": spec.slot,
        "champion": live.number(),
        "profiled": r.profile.is_some(),
    });
    if !evaluation_of(ws, &live.version.artifact, &report_rel, &champion_report)? {
        outcome["gate"] = json!(format!(
            "not run: no evaluation report {report_rel} of the live version {}@{} was found",
            spec.model,
            live.number()
        ));
        return Ok(outcome);
    }
    let champion_version = live.number().to_string();
    let version_text = version.to_string();
    let delta = r.delta.to_string();
    let champion_path = champion_report.to_string_lossy().to_string();
    let mut gate = vec![
        "--json",
        "gate",
        "--model",
        spec.model.as_str(),
        "--challenger-version",
        version_text.as_str(),
        "--champion-version",
        champion_version.as_str(),
        "--metric",
        r.metric.as_str(),
        "--champion-report",
        champion_path.as_str(),
        "--challenger-report",
        report_rel.as_str(),
        "--delta",
        delta.as_str(),
    ];
    for g in &r.guardrails {
        gate.extend(["--guardrail", g.as_str()]);
    }
    let (_, out, err) = slipway(root, actor, &gate)?;
    let _ = std::fs::remove_file(&champion_report);
    match serde_json::from_str::<Value>(&out) {
        Ok(decision) => {
            outcome["gate"] = decision["decision"].clone();
            outcome["breaches"] = decision["breaches"].clone();
        }
        Err(_) => outcome["gate"] = json!(format!("failed: {}", err.trim())),
    }
    Ok(outcome)
}
