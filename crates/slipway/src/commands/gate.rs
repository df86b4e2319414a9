//! `slipway gate`: the champion/challenger rule, ad hoc.

use super::Context;
use crate::Outcome;
use crate::cli::{Better, GateArgs};
use crate::output::{print_json, print_line};
use anyhow::{Context as _, Result};
use slipway_core::gate::{DecisionRecord, Direction, GateInput, GateSubject, Guardrail, Verdict};

pub fn run(ctx: &Context, args: GateArgs) -> Result<Outcome> {
    let guardrails = args
        .guardrails
        .iter()
        .map(|g| {
            g.parse::<Guardrail>()
                .with_context(|| format!("--guardrail '{g}'"))
        })
        .collect::<Result<Vec<_>>>()?;
    let input = GateInput {
        metric: args.metric,
        direction: match args.better {
            Better::Higher => Direction::Higher,
            Better::Lower => Direction::Lower,
        },
        champion: args.champion,
        challenger: args.challenger,
        delta: args.delta,
        guardrails,
    };
    let record = DecisionRecord::decide(
        GateSubject {
            decided_at_ms: None,
            ..GateSubject::default()
        },
        input,
    )?;
    let decision = &record.decision;
    if ctx.json {
        print_json(&serde_json::json!({
            "decision": decision.verdict.as_str(),
            "metric_ok": decision.metric_ok,
            "margin": decision.margin,
            "breaches": decision.breaches,
            "reasons": decision.reasons,
            "record_digest": record.digest(),
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
