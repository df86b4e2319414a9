//! `slipway score`: the ML Test Score from the project's recorded evidence.
//!
//! Evidence is the JSON reports written by the built-in test stages of the pipeline
//! (`slipway/validate`, `slipway/evaluate`, `slipway/model-tests`, `slipway/infra-tests`), as
//! they are in the work tree: each is stored in the object store so its digest stays
//! retrievable, and mapped to the tests it shows (`slipway_core::reports::score_evidence`).
//! Tests run by hand are listed in `mltestscore.yaml` (`manual: {model-1: docs/review.md}`).

use super::Context;
use crate::Outcome;
use crate::cli::ScoreArgs;
use crate::output::{print_json, print_line};
use anyhow::{Context as _, Result, bail};
use slipway_core::ArtifactKind;
use slipway_core::mltestscore::{Section, Status};
use slipway_core::pipeline::Action;
use slipway_core::reports::{ReportHeader, assess, score_evidence};
use slipway_pipeline::Project;
use std::collections::BTreeMap;

const REPORTING: &[&str] = &[
    "slipway/validate",
    "slipway/evaluate",
    "slipway/model-tests",
    "slipway/infra-tests",
];

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ManualFile {
    #[serde(default)]
    manual: BTreeMap<String, String>,
}

/// The evidence of the project's current pipeline: the reports its reporting built-ins wrote.
fn project_evidence(
    ws: &slipway_store::Workspace,
    reports: &mut Vec<(slipway_core::Digest, ReportHeader)>,
    sources: &mut Vec<serde_json::Value>,
) -> Result<()> {
    let project = Project::load_with(ws.root(), &crate::builtins::registry())?;
    for stage in project.pipeline.stages() {
        let Action::Uses { name, .. } = &stage.action else {
            continue;
        };
        if !REPORTING.contains(&name.as_str()) {
            continue;
        }
        for out in stage
            .outputs()
            .filter(|o| o.path.as_str().ends_with(".json"))
        {
            let path = project.path(&out.path);
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Some(header) = ReportHeader::parse(&text) else {
                continue;
            };
            let stored = ws
                .store_path(&path, Some(ArtifactKind::Report), slipway_store::now_ms())
                .with_context(|| format!("storing evidence {}", out.path))?;
            sources.push(serde_json::json!({
                "stage": stage.name,
                "report": out.path.as_str(),
                "digest": stored.artifact.digest,
                "passed": header.passed,
            }));
            reports.push((stored.artifact.digest, header));
        }
    }
    Ok(())
}

/// The evidence recorded for a registered version: the newest report per path among the
/// pipeline runs of its training run's experiment that ran before that training run or at the
/// same commit, read back from the object store (verified).
fn version_evidence(
    ws: &slipway_store::Workspace,
    target: &str,
    reports: &mut Vec<(slipway_core::Digest, ReportHeader)>,
    sources: &mut Vec<serde_json::Value>,
) -> Result<(String, u64)> {
    use slipway_core::tracking::{IoRole, RunOrigin};
    use slipway_store::MetadataStore;
    use slipway_store::objects::ObjectStore;
    use slipway_store::registry::RegistryStore;
    let (name, number) = super::models::model_version(target)?;
    let version = ws.meta().version(&name, number)?;
    let run_id = version
        .run_id
        .clone()
        .ok_or_else(|| anyhow::anyhow!("{target} was registered without a training run, so it has no recorded evidence; register it with --run"))?;
    let train = ws.meta().run(&run_id)?;
    let mut newest: BTreeMap<String, (i64, slipway_core::Digest, String)> = BTreeMap::new();
    for run in ws.meta().runs(train.experiment_id)? {
        // The evidence standing when the version was built: anything written before its
        // training run (a cached validation stays valid) or at the same commit after it.
        let same_commit = run.git_commit.is_some() && run.git_commit == train.git_commit;
        if run.origin != RunOrigin::Pipeline || !(same_commit || run.start_ms <= train.start_ms) {
            continue;
        }
        for io in ws.meta().run_io(&run.id)? {
            if io.role != IoRole::Output || !io.path.ends_with(".json") {
                continue;
            }
            let at = run.end_ms.unwrap_or(run.start_ms);
            if newest.get(&io.path).is_none_or(|(t, _, _)| *t < at) {
                newest.insert(io.path.clone(), (at, io.digest, run.name.clone()));
            }
        }
    }
    for (path, (_, digest, stage)) in newest {
        let Ok(bytes) = ws.objects().read_verified(&digest) else {
            continue;
        };
        let Some(header) = ReportHeader::parse(&String::from_utf8_lossy(&bytes)) else {
            continue;
        };
        sources.push(serde_json::json!({"stage": stage, "report": path, "digest": digest, "passed": header.passed}));
        reports.push((digest, header));
    }
    Ok((name, number))
}

pub fn run(ctx: &Context, args: ScoreArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let mut reports = Vec::new();
    let mut sources = Vec::new();
    let version = match &args.target {
        Some(target) => Some(version_evidence(&ws, target, &mut reports, &mut sources)?),
        None => {
            project_evidence(&ws, &mut reports, &mut sources)?;
            None
        }
    };
    let manual_path = args
        .manual
        .clone()
        .unwrap_or_else(|| ws.root().join("mltestscore.yaml"));
    let manual = match std::fs::read_to_string(&manual_path) {
        Ok(text) => {
            let file: ManualFile = serde_saphyr::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", manual_path.display()))?;
            file.manual
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && args.manual.is_none() => {
            BTreeMap::new()
        }
        Err(e) => bail!("cannot read {}: {e}", manual_path.display()),
    };
    let evidence = score_evidence(&reports);
    let assessment = assess(&evidence, &manual)
        .map_err(|e| anyhow::anyhow!("{}: {e}", manual_path.display()))?;
    let report = assessment.score();
    if let Some((name, number)) = &version {
        // The registry's policy can require a minimum score: record it on the version.
        use slipway_store::registry::RegistryStore;
        let update = slipway_store::registry::VersionUpdate {
            ml_test_score: Some(report.score),
            ..Default::default()
        };
        let actor = super::access::actor(ctx, &ws)?;
        ws.meta()
            .update_version(name, *number, &update, &actor, slipway_store::now_ms())?;
    }
    if ctx.json {
        print_json(&serde_json::json!({
            "score": report.score,
            "passing_score": report.passing_score,
            "interpretation": report.interpretation(),
            "sections": report.sections,
            "tests": report.rows,
            "weakest": report.weakest,
            "failing": report.failing,
            "evidence": sources,
        }))?;
    } else {
        for section in Section::ALL {
            let points = report
                .sections
                .iter()
                .find(|s| s.section == section)
                .map(|s| s.points)
                .unwrap_or(0.0);
            print_line(format_args!("{} ({points} / 7)", section.title()))?;
            for row in report.rows.iter().filter(|r| r.section == section) {
                let status = match row.status {
                    Status::AutomatedPassing => "automated, passing",
                    Status::AutomatedFailing => "automated, FAILING",
                    Status::Manual => "manual",
                    Status::Missing => "missing",
                };
                let evidence = row
                    .evidence
                    .as_deref()
                    .map(|e| {
                        if row.status == Status::Manual {
                            e.to_string()
                        } else {
                            e.chars().take(12).collect()
                        }
                    })
                    .unwrap_or_default();
                print_line(format_args!(
                    "  {:<10} {:<19} {:<4} {:<13} {}",
                    row.id, status, row.points, evidence, row.title
                ))?;
            }
        }
        print_line(format_args!(
            "\nML Test Score: {} (minimum over the sections; {} counting failing tests as nothing): {}",
            report.score,
            report.passing_score,
            report.interpretation()
        ))?;
        if sources.is_empty() {
            ctx.messages.say(format_args!(
                "no evidence found: run the pipeline's slipway/validate, evaluate, model-tests or infra-tests stages first"
            ));
        }
    }
    Ok(match args.min {
        Some(min) if report.score < min => Outcome::No,
        _ => Outcome::Ok,
    })
}
