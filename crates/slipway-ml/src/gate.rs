//! `slipway/gate`: the champion/challenger rule as a pipeline stage. It reads the two evaluation
//! reports (which must come from the same frozen holdout), decides with the core gate, and
//! writes the decision record as a report artifact. A "keep" is an answer, not a failure: the
//! stage succeeds either way (use `fail_on_keep: true` to stop the pipeline on it), and the
//! decision is logged on the stage's run (`gate.promote` 1 or 0, the margin, each guardrail).

use crate::args;
use slipway_core::ArtifactKind;
use slipway_core::gate::{DecisionRecord, Direction, GateInput, GateSubject, Guardrail, Verdict};
use slipway_core::reports::{EvaluationReport, same_holdout};
use slipway_pipeline::builtins::{known_args, path_arg};
use slipway_pipeline::{
    Builtin, BuiltinContext, BuiltinFailure, BuiltinMetric, BuiltinOutput, Declared,
};

const ARGS: &[&str] = &[
    "champion",
    "challenger",
    "metric",
    "better",
    "delta",
    "guardrails",
    "report",
    "fail_on_keep",
];

/// The `slipway/gate` built-in.
pub struct GateBuiltin;

/// A guardrail as written in `with.guardrails`: `{metric, max}` or `{metric, min}` — its value
/// comes from the challenger's report.
fn guardrails(
    with: &serde_json::Value,
    challenger: &EvaluationReport,
) -> Result<Vec<Guardrail>, String> {
    let Some(items) = with.get("guardrails") else {
        return Ok(Vec::new());
    };
    let items = items.as_array().ok_or_else(|| {
        "argument 'guardrails' must be a list of {metric, max} or {metric, min}".to_string()
    })?;
    items
        .iter()
        .map(|g| {
            let metric = g
                .get("metric")
                .and_then(|m| m.as_str())
                .ok_or_else(|| format!("guardrail {g} needs 'metric'"))?;
            let value = challenger.metrics.get(metric).copied().ok_or_else(|| {
                format!("guardrail '{metric}': the challenger's report has no such metric")
            })?;
            match (
                g.get("max").and_then(|v| v.as_f64()),
                g.get("min").and_then(|v| v.as_f64()),
            ) {
                (Some(bound), None) => Ok(Guardrail::at_most(metric, value, bound)),
                (None, Some(bound)) => Ok(Guardrail::at_least(metric, value, bound)),
                _ => Err(format!(
                    "guardrail '{metric}' needs exactly one of 'max' or 'min'"
                )),
            }
        })
        .collect()
}

fn read_report(ctx: &BuiltinContext<'_>, key: &str) -> Result<EvaluationReport, BuiltinFailure> {
    let rel = path_arg(ctx.with, key)?;
    let text = std::fs::read_to_string(ctx.path(&rel))
        .map_err(|e| BuiltinFailure::new(format!("cannot read {rel}: {e}")))?;
    serde_json::from_str(&text).map_err(|e| {
        BuiltinFailure::new(format!(
            "{rel} is not an evaluation report from slipway/evaluate: {e}"
        ))
    })
}

impl Builtin for GateBuiltin {
    fn name(&self) -> &'static str {
        "slipway/gate"
    }

    fn declare(&self, with: &serde_json::Value) -> Result<Declared, String> {
        known_args(with, ARGS)?;
        args::number(with, "delta", 0.0, ("a number >= 0", |x| x >= 0.0))?;
        if let Some(b) = args::text(with, "better")?
            && b != "higher"
            && b != "lower"
        {
            return Err(format!(
                "argument 'better' must be higher or lower, found '{b}'"
            ));
        }
        Ok(Declared {
            deps: vec![path_arg(with, "champion")?, path_arg(with, "challenger")?],
            outs: vec![(
                args::report_path(with, "reports/gate.json")?,
                Some(ArtifactKind::Report),
            )],
        })
    }

    fn run(&self, ctx: &BuiltinContext<'_>) -> Result<BuiltinOutput, BuiltinFailure> {
        let champion = read_report(ctx, "champion")?;
        let challenger = read_report(ctx, "challenger")?;
        same_holdout(&champion, &challenger).map_err(|e| BuiltinFailure::new(e.to_string()))?;
        let metric = args::text(ctx.with, "metric")?.unwrap_or_else(|| "auc".to_string());
        let value = |r: &EvaluationReport, which: &str| {
            r.metrics.get(&metric).copied().ok_or_else(|| {
                BuiltinFailure::new(format!("the {which}'s report has no metric '{metric}'"))
            })
        };
        let input = GateInput {
            metric: metric.clone(),
            direction: match args::text(ctx.with, "better")?.as_deref() {
                Some("lower") => Direction::Lower,
                _ => Direction::Higher,
            },
            champion: value(&champion, "champion")?,
            challenger: value(&challenger, "challenger")?,
            delta: args::number(ctx.with, "delta", 0.0, ("a number >= 0", |x| x >= 0.0))?,
            guardrails: guardrails(ctx.with, &challenger)?,
        };
        let subject = GateSubject {
            holdout: Some(challenger.holdout.digest),
            ..GateSubject::default()
        };
        let record = DecisionRecord::decide(subject, input)
            .map_err(|e| BuiltinFailure::new(e.to_string()))?;
        let out = args::report_path(ctx.with, "reports/gate.json")?;
        let path = ctx.path(&out);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                BuiltinFailure::new(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        std::fs::write(&path, record.canonical_json())
            .map_err(|e| BuiltinFailure::new(format!("cannot write {out}: {e}")))?;
        let decision = &record.decision;
        let mut output = BuiltinOutput::default();
        for reason in &decision.reasons {
            output.say(reason);
        }
        output.say(format!(
            "decision {} (record {})",
            decision.verdict.as_str().to_uppercase(),
            record.digest()
        ));
        let promote = decision.verdict == Verdict::Promote;
        output.metrics.push(BuiltinMetric {
            key: "gate.promote".into(),
            value: if promote { 1.0 } else { 0.0 },
            step: 0,
        });
        output.metrics.push(BuiltinMetric {
            key: "gate.margin".into(),
            value: decision.margin,
            step: 0,
        });
        output.params.push(("gate.metric".into(), metric));
        let fail_on_keep = ctx
            .with
            .get("fail_on_keep")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if !promote && fail_on_keep {
            return Err(BuiltinFailure {
                message: format!(
                    "the gate keeps the champion: {}",
                    decision.reasons.join("; ")
                ),
                output,
            });
        }
        Ok(output)
    }
}
