//! `slipway/infra-tests`: the model loads in the serving runtime and answers its signature
//! (and refuses a request that does not fit it); the training stage reproduces — rerun from
//! the lock file in a clean temporary checkout, it gives the same output digests (or, with a
//! tolerance, the same metrics within it); a rollback of a registry slot works in a dry run —
//! the registry's transition function, with the slot's real state and policy, accepts rolling
//! back, and the version it would re-point to has an artifact that verifies, loads in the
//! serving runtime and answers its signature. Nothing in the registry changes.
//!
//! ```yaml
//! infra-tests:
//!   uses: slipway/infra-tests
//!   with:
//!     model: models/model.json
//!     data: data/holdout.parquet         # rows sent to the model
//!     reproduce: {stage: train}          # or {stage: train, tolerance: {auc: 0.01}}
//!     rollback: {model: credit, slot: default}
//! ```

use crate::args;
use crate::holdout;
use slipway_core::reports::{Check, INFRA_TESTS_FORMAT, Level, ModelRef};
use slipway_core::{ArtifactKind, Digest, RelPath};
use slipway_pipeline::builtins::{known_args, path_arg};
use slipway_pipeline::{
    Builtin, BuiltinContext, BuiltinFailure, BuiltinOutput, Declared, Project, RunOptions,
    StageOutcome, run_pipeline,
};
use slipway_store::Workspace;
use slipway_store::hashing::TreeHasher;
use std::collections::BTreeMap;
use std::path::Path;

/// The `slipway/infra-tests` built-in.
pub struct InfraTestsBuiltin;

const ARGS: &[&str] = &[
    "model",
    "data",
    "requests",
    "reproduce",
    "rollback",
    "report",
];

/// The report of `slipway/infra-tests`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InfraTestsReport {
    /// Always [`INFRA_TESTS_FORMAT`].
    pub format: String,
    /// The model tested.
    pub model: ModelRef,
    /// The reproduction, when asked for: stage, locked and rerun digests or metrics.
    pub reproduce: Option<serde_json::Value>,
    /// The checks.
    pub checks: Vec<Check>,
    /// No error-level check failed.
    pub passed: bool,
    /// Checks that did not run, and why.
    pub skipped: Vec<String>,
}

struct Reproduce {
    stage: String,
    tolerance: Option<BTreeMap<String, f64>>,
}

fn reproduce_arg(with: &serde_json::Value) -> Result<Option<Reproduce>, String> {
    let Some(r) = with.get("reproduce") else {
        return Ok(None);
    };
    known_args(r, &["stage", "tolerance"]).map_err(|e| format!("reproduce: {e}"))?;
    let stage = args::required_text(r, "stage", "the training stage to rerun")
        .map_err(|e| format!("reproduce: {e}"))?;
    let tolerance = match r.get("tolerance") {
        None => None,
        Some(_) => Some(args::bounds(r, "tolerance").map_err(|e| format!("reproduce: {e}"))?),
    };
    Ok(Some(Reproduce { stage, tolerance }))
}

impl Builtin for InfraTestsBuiltin {
    fn name(&self) -> &'static str {
        "slipway/infra-tests"
    }

    fn declare(&self, with: &serde_json::Value) -> Result<Declared, String> {
        known_args(with, ARGS)?;
        reproduce_arg(with)?;
        args::count(with, "requests", 20, 1)?;
        rollback_arg(with)?;
        let model = path_arg(with, "model")?;
        let mut deps = vec![model.clone(), path_arg(with, "data")?];
        if model.as_str().ends_with(".onnx") {
            let sidecar = format!("{}.signature.json", model.as_str());
            deps.push(RelPath::new(&sidecar).map_err(|e| e.to_string())?);
        }
        Ok(Declared {
            deps,
            outs: vec![(
                args::report_path(with, "reports/infra-tests.json")?,
                Some(ArtifactKind::Report),
            )],
        })
    }

    fn run(&self, ctx: &BuiltinContext<'_>) -> Result<BuiltinOutput, BuiltinFailure> {
        let with = ctx.with;
        let model_rel = path_arg(with, "model")?;
        let data_rel = path_arg(with, "data")?;
        let requests = args::count(with, "requests", 20, 1)? as usize;
        let mut checks = Vec::new();
        let mut skipped = Vec::new();
        let mut out = BuiltinOutput::default();

        // Servable: loads in the gateway's runtime, answers its signature, refuses a bad request.
        let servable = servable(ctx, &model_rel, &data_rel, requests);
        let format = servable
            .as_ref()
            .map(|(f, _)| f.clone())
            .unwrap_or_default();
        checks.push(match &servable {
            Ok((_, observed)) => Check::new(
                "servable",
                true,
                Level::Error,
                "loads in the serving runtime, answers its signature, refuses a request missing a feature",
                observed.clone(),
            ),
            Err(message) => Check::new(
                "servable",
                false,
                Level::Error,
                "loads in the serving runtime, answers its signature, refuses a request missing a feature",
                message.clone(),
            ),
        });

        let mut reproduce_detail = None;
        if let Some(r) = reproduce_arg(with)? {
            out.say(format!(
                "rerunning stage `{}` in a clean checkout…",
                r.stage
            ));
            let (check, detail) = match reproduce(ctx, &r) {
                Ok(x) => x,
                Err(message) => (
                    Check::new(
                        "reproducible",
                        false,
                        Level::Error,
                        "the stage reruns",
                        message,
                    ),
                    serde_json::Value::Null,
                ),
            };
            checks.push(check);
            reproduce_detail = Some(detail);
        } else {
            skipped.push("reproducible: no `reproduce: {stage: …}` given".into());
        }

        match rollback_arg(with)? {
            Some((model, slot)) => {
                let check = match rollback_dry_run(ctx, &model, &slot, &data_rel, requests) {
                    Ok(observed) => {
                        Check::new("rollback", true, Level::Error, ROLLBACK_EXPECTED, observed)
                    }
                    Err(message) => {
                        Check::new("rollback", false, Level::Error, ROLLBACK_EXPECTED, message)
                    }
                };
                checks.push(check);
            }
            None => skipped.push("rollback: no `rollback: {model: …, slot: …}` given".into()),
        }

        let passed = checks.iter().all(|c| !c.is_error());
        let report = InfraTestsReport {
            format: INFRA_TESTS_FORMAT.into(),
            model: ModelRef {
                path: model_rel.to_string(),
                digest: args::digest(ctx, &model_rel)?,
                format,
            },
            reproduce: reproduce_detail,
            checks: checks.clone(),
            passed,
            skipped: skipped.clone(),
        };
        let report_rel = args::report_path(with, "reports/infra-tests.json")?;
        args::write(
            ctx,
            &report_rel,
            &(serde_json::to_string_pretty(&report).expect("plain") + "\n"),
        )?;
        for c in &checks {
            if c.is_error() {
                // Reported in the failure message.
                out.metric(format!("infra_tests.{}", c.id), 0.0, 0);
                continue;
            }
            out.metric(
                format!("infra_tests.{}", c.id),
                f64::from(u8::from(c.passed)),
                0,
            );
            out.say(format!(
                "{} {}: {}",
                if c.passed { "pass" } else { "FAIL" },
                c.id,
                c.observed
            ));
        }
        for s in &skipped {
            out.say(format!("skipped {s}"));
        }
        if passed {
            Ok(out)
        } else {
            let failed: Vec<String> = checks
                .iter()
                .filter(|c| c.is_error())
                .map(|c| format!("{}: {}", c.id, c.observed))
                .collect();
            Err(BuiltinFailure::with_output(
                format!(
                    "infrastructure tests failed (report: {report_rel}):\n  {}",
                    failed.join("\n  ")
                ),
                out,
            ))
        }
    }
}

const ROLLBACK_EXPECTED: &str = "the registry would roll the slot back, and the version it re-points to verifies, loads and answers its signature";

fn rollback_arg(with: &serde_json::Value) -> Result<Option<(String, String)>, String> {
    let Some(r) = with.get("rollback") else {
        return Ok(None);
    };
    known_args(r, &["model", "slot"]).map_err(|e| format!("rollback: {e}"))?;
    let model = args::required_text(r, "model", "the registered model")
        .map_err(|e| format!("rollback: {e}"))?;
    let slot = args::text(r, "slot")
        .map_err(|e| format!("rollback: {e}"))?
        .unwrap_or_else(|| "default".into());
    Ok(Some((model, slot)))
}

/// Asks the registry's transition function what a rollback of `model` in `slot` would do,
/// without applying it, then checks the version it would re-point to.
fn rollback_dry_run(
    ctx: &BuiltinContext<'_>,
    model: &str,
    slot: &str,
    data_rel: &RelPath,
    requests: usize,
) -> Result<String, String> {
    use slipway_core::registry::{
        Action, Actor, Effect, Evidence, Request, Role, Stage, transition,
    };
    use slipway_store::registry::RegistryStore;
    let registry = ctx.workspace.meta();
    let state = registry
        .slot_state(model, slot)
        .map_err(|e| e.to_string())?;
    let policy = registry.policy().map_err(|e| e.to_string())?;
    let current = state.production();
    let request = Request {
        actor: Actor::new("slipway/infra-tests (dry run)", Role::Deployer),
        time_ms: slipway_store::now_ms(),
        action: Action::Rollback {
            to: None,
            reason: "infra-tests dry run".into(),
        },
    };
    let effects = transition(&state, &request, &policy, &Evidence::default())
        .map_err(|refusal| format!("the registry would refuse the rollback: {refusal}"))?;
    let target = effects
        .iter()
        .find_map(|e| match e {
            Effect::SetStage {
                version,
                to: Stage::Production,
                ..
            } => Some(*version),
            _ => None,
        })
        .ok_or_else(|| "the rollback would make no version Production".to_string())?;
    let entry = state
        .versions
        .get(&target)
        .ok_or_else(|| format!("version {target} is not in the slot's state"))?;
    let digest = entry.version.artifact;
    let tmp = tempfile::Builder::new()
        .prefix("slipway-rollback-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let restored = tmp.path().join("artifact");
    ctx.workspace.restore(&digest, &restored).map_err(|e| {
        format!(
            "version {target}'s artifact {} cannot be restored: {e}",
            digest.short(12)
        )
    })?;
    let file = slipway_serve::model_file(&restored).ok_or_else(|| {
        format!(
            "version {target}'s artifact {} holds no model file (.json or .onnx)",
            digest.short(12)
        )
    })?;
    let loaded = slipway_serve::load(&file).map_err(|e| format!("version {target}: {e}"))?;
    let sig = loaded.signature().clone();
    let names: Vec<String> = sig.inputs.iter().map(|f| f.name.clone()).collect();
    let frame = slipway_data::load_frame(&ctx.path(data_rel), &names, &[])
        .map_err(|e| format!("version {target} needs columns the data lacks: {e}"))?;
    let n = requests.min(frame.rows);
    let x = frame.row_major(&names);
    let rows: Vec<serde_json::Value> = (0..n).map(|r| holdout::request_row(&sig, &x, r)).collect();
    let predictions = loaded
        .predict(&rows)
        .map_err(|e| format!("version {target} failed a valid request: {e}"))?;
    if predictions.iter().any(|p| !p.is_finite()) {
        return Err(format!("version {target} gave a non-finite prediction"));
    }
    Ok(format!(
        "rolling back {model} in slot {slot} would re-point it from version {} to version {target}; its artifact {} verifies, loads in the {} runtime and answered {n} request(s); nothing was changed",
        current.map_or("none".into(), |v| v.to_string()),
        digest.short(12),
        loaded.format().as_str()
    ))
}

fn servable(
    ctx: &BuiltinContext<'_>,
    model_rel: &RelPath,
    data_rel: &RelPath,
    requests: usize,
) -> Result<(String, String), String> {
    let model = slipway_serve::load(&ctx.path(model_rel)).map_err(|e| e.to_string())?;
    let sig = model.signature().clone();
    let format = model.format().as_str().to_string();
    // Rows as requests: only the signature's inputs (no label needed).
    let frame = slipway_data::load_frame(
        &ctx.path(data_rel),
        &sig.input_names()
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
        &[],
    )
    .map_err(|e| e.to_string())?;
    let n = requests.min(frame.rows);
    if n == 0 {
        return Err(format!("{data_rel} has no rows to send"));
    }
    let x = frame.row_major(
        &sig.inputs
            .iter()
            .map(|f| f.name.clone())
            .collect::<Vec<_>>(),
    );
    let rows: Vec<serde_json::Value> = (0..n).map(|r| holdout::request_row(&sig, &x, r)).collect();
    let predictions = model
        .predict(&rows)
        .map_err(|e| format!("a valid request failed: {e}"))?;
    if predictions.len() != n {
        return Err(format!("{n} rows gave {} predictions", predictions.len()));
    }
    if let Some(i) = predictions.iter().position(|p| !p.is_finite()) {
        return Err(format!("row {} gave a non-finite prediction", i + 1));
    }
    // A request missing a required feature must be refused, naming it.
    if let Some(required) = sig.inputs.iter().find(|f| f.default.is_none()) {
        let mut bad = rows[0].clone();
        bad.as_object_mut().expect("object").remove(&required.name);
        match model.predict(&[bad]) {
            Ok(_) => {
                return Err(format!(
                    "a request without `{}` was answered instead of refused",
                    required.name
                ));
            }
            Err(e) if !e.to_string().contains(&required.name) => {
                return Err(format!(
                    "a request without `{}` was refused without naming it: {e}",
                    required.name
                ));
            }
            Err(_) => {}
        }
    }
    Ok((
        format.clone(),
        format!(
            "{format} model with {} inputs answered {n} request(s); a request missing a feature was refused naming it",
            sig.inputs.len()
        ),
    ))
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(from, to).map(|_| ())
    }
}

/// Reruns `r.stage` from its lock entry in a fresh temporary project and compares.
fn reproduce(
    ctx: &BuiltinContext<'_>,
    r: &Reproduce,
) -> Result<(Check, serde_json::Value), String> {
    let lock = slipway_pipeline::lockfile::read(ctx.root, ctx.workspace.dir())
        .map_err(|e| e.to_string())?;
    let entry = lock.entry(&r.stage).ok_or_else(|| {
        format!(
            "stage `{}` is not in slipway.lock; run it first (stages locked: {})",
            r.stage,
            lock.stages.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })?;
    let project = Project::load_with(ctx.root, ctx.builtins).map_err(|e| e.to_string())?;
    let tmp = tempfile::Builder::new()
        .prefix("slipway-reproduce-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary checkout: {e}"))?;
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    // The checkout holds the params file, the stage's locked deps and a pipeline of that one
    // stage, written from its lock entry (so other stages' inputs need not exist).
    let params_file = project.pipeline.spec().params_file.to_string();
    let from = ctx.root.join(&params_file);
    if from.exists() {
        copy_tree(&from, &tmp.path().join(&params_file)).map_err(|e| io(&params_file, e))?;
    }
    let single = one_stage_pipeline(&r.stage, entry, &params_file);
    std::fs::write(
        tmp.path().join(slipway_pipeline::project::PIPELINE_FILE),
        single,
    )
    .map_err(|e| io("pipeline file", e))?;
    let hasher = TreeHasher::new(ctx.workspace.meta());
    for dep in &entry.deps {
        let from = ctx.root.join(dep.path.as_str());
        let to = tmp.path().join(dep.path.as_str());
        let now = hasher.hash(&from).map(|h| h.digest()).ok();
        if now == Some(dep.digest) {
            copy_tree(&from, &to).map_err(|e| io(dep.path.as_str(), e))?;
        } else if ctx.workspace.restore(&dep.digest, &to).is_err() {
            return Err(format!(
                "dep `{}` changed since slipway.lock was written (locked {}, now {}) and the locked bytes are not in the store",
                dep.path,
                dep.digest.short(12),
                now.map(|d| d.short(12)).unwrap_or_else(|| "missing".into())
            ));
        }
    }
    let (ws, _) = Workspace::init(tmp.path()).map_err(|e| e.to_string())?;
    let opts = RunOptions {
        targets: vec![REPRODUCED.to_string()],
        jobs: 1,
        force: true,
        only_targets: true,
        builtins: ctx.builtins.clone(),
        ..RunOptions::default()
    };
    let summary = run_pipeline(&ws, &opts, ctx.cancel, &|_| {}).map_err(|e| e.to_string())?;
    if let Some(failed) = summary
        .stages
        .iter()
        .find(|s| !matches!(s.outcome, StageOutcome::Ran { .. }))
    {
        return Err(format!(
            "the rerun of `{}` did not complete: {:?}",
            failed.name, failed.outcome
        ));
    }
    let rerun_hasher = TreeHasher::new(ws.meta());
    let mut outputs = Vec::new();
    let mut differing = Vec::new();
    for out in entry.outs.iter().chain(&entry.metrics) {
        let got: Option<Digest> = rerun_hasher
            .hash(&tmp.path().join(out.path.as_str()))
            .map(|h| h.digest())
            .ok();
        if got != Some(out.digest) {
            differing.push(format!(
                "{} (locked {}, rerun {})",
                out.path,
                out.digest.short(12),
                got.map(|d| d.short(12)).unwrap_or_else(|| "missing".into())
            ));
        }
        outputs.push(
            serde_json::json!({"path": out.path.as_str(), "locked": out.digest, "rerun": got}),
        );
    }
    let detail =
        serde_json::json!({"stage": r.stage, "outputs": outputs, "tolerance": r.tolerance});
    let check = match &r.tolerance {
        None => Check::new(
            "reproducible",
            differing.is_empty(),
            Level::Error,
            format!(
                "rerunning `{}` from the lock in a clean checkout gives the same output digests",
                r.stage
            ),
            if differing.is_empty() {
                format!("{} output(s) identical", outputs.len())
            } else {
                format!(
                    "different bytes: {}; the stage is not deterministic (a time stamp, an unseeded random number, an unordered map?)",
                    differing.join(", ")
                )
            },
        ),
        Some(tolerance) => {
            let locked = metric_values(ctx.root, &entry.metrics)?;
            let rerun = metric_values(tmp.path(), &entry.metrics)?;
            let mut problems = Vec::new();
            for (key, tol) in tolerance {
                match (locked.get(key), rerun.get(key)) {
                    (Some(a), Some(b)) if (a - b).abs() <= *tol => {}
                    (Some(a), Some(b)) => {
                        problems.push(format!("{key}: {a} vs {b} (tolerance {tol})"))
                    }
                    _ => problems.push(format!("{key}: not in the stage's metrics files")),
                }
            }
            Check::new(
                "reproducible",
                problems.is_empty(),
                Level::Error,
                format!(
                    "rerunning `{}` gives metrics within {:?}",
                    r.stage, tolerance
                ),
                if problems.is_empty() {
                    "metrics within tolerance".to_string()
                } else {
                    problems.join("; ")
                },
            )
        }
    };
    Ok((check, detail))
}

/// The name of the rerun stage in the temporary checkout.
const REPRODUCED: &str = "reproduce";

/// A pipeline file (JSON, which YAML reads) with one stage: `entry`'s action, deps, params,
/// outs, metrics, env and working directory.
fn one_stage_pipeline(
    name: &str,
    entry: &slipway_core::pipeline::LockEntry,
    params_file: &str,
) -> String {
    let mut stage = serde_json::Map::new();
    match &entry.action {
        slipway_core::pipeline::Action::Cmd(lines) => {
            stage.insert("cmd".into(), serde_json::json!(lines));
        }
        slipway_core::pipeline::Action::Uses { name, with } => {
            stage.insert("uses".into(), serde_json::json!(name));
            stage.insert("with".into(), with.clone());
        }
    }
    let paths = |list: &[slipway_core::pipeline::LockedPath]| -> Vec<String> {
        list.iter().map(|p| p.path.to_string()).collect()
    };
    stage.insert("deps".into(), serde_json::json!(paths(&entry.deps)));
    if !entry.params.is_empty() {
        stage.insert(
            "params".into(),
            serde_json::json!(entry.params.keys().collect::<Vec<_>>()),
        );
    }
    stage.insert("outs".into(), serde_json::json!(paths(&entry.outs)));
    if !entry.metrics.is_empty() {
        stage.insert("metrics".into(), serde_json::json!(paths(&entry.metrics)));
    }
    if !entry.env.is_empty() {
        stage.insert("env".into(), serde_json::json!(entry.env));
    }
    if let Some(w) = &entry.wdir {
        stage.insert("wdir".into(), serde_json::json!(w.as_str()));
    }
    stage.insert(
        "desc".into(),
        serde_json::json!(format!("stage `{name}` rerun from slipway.lock")),
    );
    let doc = serde_json::json!({
        "params": params_file,
        "stages": {REPRODUCED: stage},
    });
    serde_json::to_string_pretty(&doc).expect("plain data") + "\n"
}

fn metric_values(
    root: &Path,
    files: &[slipway_core::pipeline::LockedPath],
) -> Result<BTreeMap<String, f64>, String> {
    let mut out = BTreeMap::new();
    for f in files {
        let path = root.join(f.path.as_str());
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        if let Some(map) = value.as_object() {
            for (k, v) in map {
                if let Some(x) = v.as_f64() {
                    out.insert(k.clone(), x);
                }
            }
        }
    }
    Ok(out)
}
