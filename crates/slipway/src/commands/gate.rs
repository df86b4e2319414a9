//! `slipway gate`: the champion/challenger rule, ad hoc or from evaluation reports, optionally
//! recorded in the registry as the evidence a promotion needs.

use super::Context;
use crate::Outcome;
use crate::cli::{Better, GateArgs};
use crate::output::{print_json, print_line};
use anyhow::{Context as _, Result, anyhow, bail};
use slipway_core::gate::{DecisionRecord, Direction, GateInput, GateSubject, Guardrail, Verdict};
use slipway_core::reports::{EvaluationReport, same_holdout};
use slipway_store::registry::RegistryStore;

fn read_report(path: &std::path::Path) -> Result<EvaluationReport> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not an evaluation report from slipway/evaluate",
            path.display()
        )
    })
}

fn metric(report: &EvaluationReport, name: &str, path: &std::path::Path) -> Result<f64> {
    report.metrics.get(name).copied().ok_or_else(|| {
        anyhow!(
            "{} has no metric `{name}`; it has: {}",
            path.display(),
            report
                .metrics
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// `name=value<=bound`, or `name<=bound` with the value taken from the challenger's report.
fn guardrail(
    text: &str,
    report: Option<(&EvaluationReport, &std::path::Path)>,
) -> Result<Guardrail> {
    if let Ok(g) = text.parse::<Guardrail>() {
        return Ok(g);
    }
    let (name, op, bound) = ["<=", ">="]
        .iter()
        .find_map(|op| text.split_once(op).map(|(n, b)| (n, *op, b)))
        .ok_or_else(|| {
            anyhow!("--guardrail '{text}': write name=value<=bound or name=value>=bound")
        })?;
    if name.contains('=') {
        // It had a value but did not parse: report the parser's own reason.
        return Err(text.parse::<Guardrail>().unwrap_err())
            .with_context(|| format!("--guardrail '{text}'"));
    }
    let (report, path) = report.ok_or_else(|| anyhow!("--guardrail '{text}' has no value; write name=value{op}bound, or give --challenger-report to take the value from it"))?;
    let value = metric(report, name.trim(), path)?;
    format!("{}={value}{op}{}", name.trim(), bound.trim())
        .parse::<Guardrail>()
        .with_context(|| format!("--guardrail '{text}'"))
}

/// The least served predictions a latency guardrail is read from.
const MIN_SERVED: usize = 100;

/// The challenger version's p99 latency (ms) as the gateway served it.
fn served_p99(ctx: &Context, args: &GateArgs) -> Result<f64> {
    let (Some(model), Some(version)) = (&args.model, args.challenger_version) else {
        bail!("--latency-from-log needs --model and --challenger-version");
    };
    let ws = ctx.workspace()?;
    let served = super::monitor::served_latency(&ws, model, Some(version), None)?;
    match served.get(&version) {
        Some(l) if l.count >= MIN_SERVED => Ok(l.p99_ms),
        other => bail!(
            "--latency-from-log: the prediction log has {} prediction(s) of {model}@{version} (at least {MIN_SERVED} needed); serve it first, e.g. `slipway models traffic {model} --shadow {version}`",
            other.map_or(0, |l| l.count)
        ),
    }
}

pub fn run(ctx: &Context, args: GateArgs) -> Result<Outcome> {
    let champion_report = args
        .champion_report
        .as_deref()
        .map(|p| read_report(p).map(|r| (r, p)))
        .transpose()?;
    let challenger_report = args
        .challenger_report
        .as_deref()
        .map(|p| read_report(p).map(|r| (r, p)))
        .transpose()?;
    if let (Some((champ, _)), Some((chal, _))) = (&champion_report, &challenger_report) {
        same_holdout(champ, chal)?;
    }
    let champion = match (&champion_report, args.champion) {
        (Some((r, p)), _) => metric(r, &args.metric, p)?,
        (None, Some(v)) => v,
        (None, None) => bail!("give --champion VALUE or --champion-report FILE"),
    };
    let challenger = match (&challenger_report, args.challenger) {
        (Some((r, p)), _) => metric(r, &args.metric, p)?,
        (None, Some(v)) => v,
        (None, None) => bail!("give --challenger VALUE or --challenger-report FILE"),
    };
    let served = if args.latency_from_log {
        Some(served_p99(ctx, &args)?)
    } else {
        None
    };
    let guardrails = args
        .guardrails
        .iter()
        .map(|g| match (served, g.split_once("<=")) {
            (Some(p99), Some((name, bound))) if name.trim() == "p99_latency_ms" => {
                format!("p99_latency_ms={p99}<={}", bound.trim())
                    .parse::<Guardrail>()
                    .with_context(|| format!("--guardrail '{g}'"))
            }
            _ => guardrail(g, challenger_report.as_ref().map(|(r, p)| (r, *p))),
        })
        .collect::<Result<Vec<_>>>()?;
    let input = GateInput {
        metric: args.metric.clone(),
        direction: match args.better {
            Better::Higher => Direction::Higher,
            Better::Lower => Direction::Lower,
        },
        champion,
        challenger,
        delta: args.delta,
        guardrails,
    };
    let mut subject = GateSubject {
        holdout: challenger_report.as_ref().map(|(r, _)| r.holdout.digest),
        ..GateSubject::default()
    };
    // Recording needs the registry: the subject names the model and both versions.
    let ws = if args.model.is_some() {
        Some(ctx.workspace()?)
    } else {
        None
    };
    if let (Some(ws), Some(model)) = (&ws, &args.model) {
        subject.model = Some(model.clone());
        subject.challenger_version = args.challenger_version;
        subject.champion_version = match args.champion_version {
            Some(v) => Some(v),
            None => ws.meta().live(model, "default", None)?.map(|v| v.number()),
        };
        subject.decided_at_ms = Some(slipway_store::now_ms());
    }
    let record = DecisionRecord::decide(subject, input)?;
    let recorded = match (&ws, &args.model) {
        (Some(ws), Some(_)) => {
            let actor = super::access::actor(ctx, ws)?;
            Some(
                ws.meta()
                    .record_gate_decision(&record, &actor, slipway_store::now_ms())?,
            )
        }
        _ => None,
    };
    let decision = &record.decision;
    if ctx.json {
        print_json(&serde_json::json!({
            "decision": decision.verdict.as_str(),
            "metric_ok": decision.metric_ok,
            "margin": decision.margin,
            "breaches": decision.breaches,
            "reasons": decision.reasons,
            "record_digest": record.digest(),
            "recorded": recorded.is_some(),
            "holdout": record.subject.holdout,
        }))?;
    } else {
        let input = &record.input;
        print_line(format_args!(
            "champion {:<12} {}",
            input.metric, input.champion
        ))?;
        print_line(format_args!(
            "challenger {:<10} {} ({}, margin needed {})",
            input.metric,
            input.challenger,
            signed(decision.margin),
            input.delta
        ))?;
        for reason in &decision.reasons {
            print_line(format_args!("  - {reason}"))?;
        }
        let verdict = match decision.verdict {
            Verdict::Promote => "PROMOTE challenger".to_string(),
            Verdict::Keep if !decision.breaches.is_empty() => {
                format!(
                    "KEEP champion (guardrail breached: {})",
                    decision.breaches.join(", ")
                )
            }
            Verdict::Keep => "KEEP champion (margin not met)".to_string(),
        };
        print_line(format_args!("DECISION: {verdict}"))?;
        if let (Some(digest), Some(model)) = (recorded, &args.model) {
            ctx.messages.say(format_args!(
                "Recorded as gate decision {} for {model}@{}",
                digest.short(12),
                args.challenger_version.unwrap_or(0)
            ));
        }
    }
    Ok(match decision.verdict {
        Verdict::Promote => Outcome::Ok,
        Verdict::Keep => Outcome::No,
    })
}

/// `+0.015` rather than `+0.015000000000000013`: six decimals at most, trailing zeros trimmed.
fn signed(x: f64) -> String {
    let text = format!("{x:+.6}");
    let text = text.trim_end_matches('0');
    text.trim_end_matches('.').to_string()
}
