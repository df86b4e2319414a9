//! Tests of the gate: the seed's two verdicts, the strict margin, direction, guardrail parsing,
//! validation and the decision record's digest.

use super::*;

fn seed_input(p99: f64) -> GateInput {
    GateInput {
        metric: "auc".into(),
        direction: Direction::Higher,
        champion: 0.842,
        challenger: 0.857,
        delta: 0.005,
        guardrails: vec![
            Guardrail::at_most("p99_latency_ms", p99, 200.0),
            Guardrail::at_most("fairness_gap", 0.030, 0.050),
            Guardrail::at_most("calibration_ece", 0.021, 0.040),
        ],
    }
}

#[test]
fn seed_example_promotes() {
    let d = decide(&seed_input(180.0)).unwrap();
    assert_eq!(d.verdict, Verdict::Promote);
    assert!(d.metric_ok);
    assert!(d.breaches.is_empty());
    assert_eq!(d.margin, 0.857 - 0.842);
    assert_eq!(d.reasons.len(), 4);
    assert_eq!(
        d.reasons[0],
        "auc: challenger 0.857 vs champion 0.842 (higher is better): improvement +0.015 exceeds the margin 0.005, so the metric passes"
    );
    assert_eq!(d.reasons[1], "guardrail p99_latency_ms: 180 <= 200 holds");
    assert_eq!(
        d.reasons[3],
        "guardrail calibration_ece: 0.021 <= 0.04 holds"
    );
}

#[test]
fn seed_counterfactual_keeps_and_names_latency() {
    let d = decide(&seed_input(240.0)).unwrap();
    assert_eq!(d.verdict, Verdict::Keep);
    assert!(d.metric_ok, "the AUC win still clears the margin");
    assert_eq!(d.breaches, vec!["p99_latency_ms".to_string()]);
    assert_eq!(
        d.reasons[1],
        "guardrail p99_latency_ms breached: 240 is above the bound 200 (must be <= 200)"
    );
}

#[test]
fn margin_is_strict() {
    // 0.5 - 0.25 is exactly 0.25 in binary floating point.
    let mut input = seed_input(180.0);
    input.champion = 0.25;
    input.challenger = 0.5;
    input.delta = 0.25;
    let d = decide(&input).unwrap();
    assert!(!d.metric_ok);
    assert_eq!(d.verdict, Verdict::Keep);
    assert!(d.reasons[0].contains("does not exceed"), "{}", d.reasons[0]);
    input.delta = 0.249;
    assert_eq!(decide(&input).unwrap().verdict, Verdict::Promote);
}

#[test]
fn lower_is_better_metric() {
    let input = GateInput {
        metric: "log_loss".into(),
        direction: Direction::Lower,
        champion: 0.40,
        challenger: 0.30,
        delta: 0.05,
        guardrails: vec![],
    };
    let d = decide(&input).unwrap();
    assert_eq!(d.verdict, Verdict::Promote);
    assert!((d.margin - 0.10).abs() < 1e-12);
    let worse = GateInput {
        challenger: 0.45,
        ..input
    };
    let d = decide(&worse).unwrap();
    assert_eq!(d.verdict, Verdict::Keep);
    assert!(d.margin < 0.0);
    assert!(
        d.reasons[0].contains("improvement -0.05"),
        "{}",
        d.reasons[0]
    );
}

#[test]
fn at_least_guardrail_and_every_breach_reported() {
    let mut input = seed_input(240.0);
    input.challenger = 0.8; // metric fails too
    input
        .guardrails
        .push(Guardrail::at_least("recall_minority", 0.6, 0.7));
    let d = decide(&input).unwrap();
    assert_eq!(d.verdict, Verdict::Keep);
    assert!(!d.metric_ok);
    assert_eq!(d.breaches, vec!["p99_latency_ms", "recall_minority"]);
    assert_eq!(d.reasons.len(), 5);
    assert_eq!(
        d.reasons[4],
        "guardrail recall_minority breached: 0.6 is below the bound 0.7 (must be >= 0.7)"
    );
    // Equality holds for both comparisons.
    assert!(Guardrail::at_least("x", 1.0, 1.0).holds());
    assert!(Guardrail::at_most("x", 1.0, 1.0).holds());
}

#[test]
fn parses_cli_guardrails() {
    let g: Guardrail = "p99_latency_ms=180<=200".parse().unwrap();
    assert_eq!(g, Guardrail::at_most("p99_latency_ms", 180.0, 200.0));
    let g: Guardrail = " recall = 0.9 >= 0.85 ".parse().unwrap();
    assert_eq!(g, Guardrail::at_least("recall", 0.9, 0.85));
    let g: Guardrail = "fairness_gap=0.030<=0.050".parse().unwrap();
    assert_eq!(g.value, 0.03);
    assert_eq!(g.to_string(), "fairness_gap=0.03<=0.05");
}

#[test]
fn guardrail_parse_errors_name_the_problem() {
    let err = |s: &str| s.parse::<Guardrail>().unwrap_err();
    assert!(matches!(
        err("p99_latency_ms<=200"),
        GuardrailParseError::MissingEquals { .. }
    ));
    assert!(matches!(err("=1<=2"), GuardrailParseError::Name { .. }));
    assert!(matches!(err("a b=1<=2"), GuardrailParseError::Name { .. }));
    assert!(matches!(
        err("lat=180<200"),
        GuardrailParseError::Comparison { .. }
    ));
    assert!(matches!(
        err("lat=1<=2>=3"),
        GuardrailParseError::Comparison { .. }
    ));
    assert!(matches!(
        err("lat=fast<=200"),
        GuardrailParseError::Number { field: "value", .. }
    ));
    assert!(matches!(
        err("lat=1<=inf"),
        GuardrailParseError::Number { field: "bound", .. }
    ));
    let msg = err("lat=180<200").to_string();
    assert!(msg.contains("`<=` or `>=`"), "{msg}");
    assert!(msg.starts_with("guardrail `lat=180<200`"), "{msg}");
    let msg = err("lat=fast<=200").to_string();
    assert_eq!(
        msg,
        "guardrail `lat=fast<=200`: value `fast` is not a finite number"
    );
}

#[test]
fn invalid_input_lists_every_problem() {
    let mut input = seed_input(f64::NAN);
    input.challenger = f64::INFINITY;
    input.delta = -0.1;
    input
        .guardrails
        .push(Guardrail::at_most("fairness_gap", 0.0, 1.0));
    let err = decide(&input).unwrap_err();
    assert_eq!(err.problems.len(), 4, "{err}");
    let msg = err.to_string();
    assert!(msg.contains("challenger value inf"), "{msg}");
    assert!(msg.contains("delta -0.1"), "{msg}");
    assert!(
        msg.contains("`fairness_gap` is given more than once"),
        "{msg}"
    );
    assert!(msg.contains("`p99_latency_ms` value NaN"), "{msg}");
}

#[test]
fn number_formatting() {
    assert_eq!(fmt_num(0.857 - 0.842), "0.015");
    assert_eq!(fmt_num(200.0), "200");
    assert_eq!(fmt_num(-0.05), "-0.05");
    assert_eq!(fmt_num(1.5e-7), "1.5e-7");
    assert_eq!(fmt_num(0.0), "0");
    assert_eq!(fmt_signed(0.015), "+0.015");
}

fn seed_record(p99: f64) -> DecisionRecord {
    DecisionRecord::decide(
        GateSubject {
            model: Some("credit-risk".into()),
            champion_version: Some(3),
            challenger_version: Some(4),
            holdout: Some(Digest::of(b"holdout")),
            decided_at_ms: Some(1_700_000_000_000),
        },
        seed_input(p99),
    )
    .unwrap()
}

#[test]
fn decision_record_round_trips_and_its_digest_is_pinned() {
    let record = seed_record(180.0);
    let json = record.canonical_json();
    assert!(
        json.starts_with(
            r#"{"decision":{"breaches":[],"margin":0.015000000000000013,"metric_ok":true,"#
        ),
        "{json}"
    );
    assert!(json.contains(r#""comparison":"<=""#), "{json}");
    assert!(json.contains(r#""verdict":"promote""#), "{json}");
    let back = DecisionRecord::from_json(&json).unwrap();
    assert_eq!(back, record);
    assert_eq!(back.digest(), record.digest());
    // Pinned: a change here changes the identity of every recorded decision, which
    // invalidates approvals bound to them. Change DECISION_FORMAT if it is deliberate.
    assert_eq!(
        record.digest().to_hex(),
        "c021ea5c6624f7cf59d7d14150f86b26f8b5b498e18da1cf8e1708855602e9aa"
    );
}

#[test]
fn different_numbers_give_a_different_digest() {
    let a = seed_record(180.0);
    let b = seed_record(181.0);
    assert_ne!(a.digest(), b.digest());
    let mut c = seed_record(180.0);
    c.subject.challenger_version = Some(5);
    assert_ne!(a.digest(), c.digest());
}

#[test]
fn edited_record_is_refused() {
    let record = seed_record(240.0);
    let json = record
        .canonical_json()
        .replace(r#""verdict":"keep""#, r#""verdict":"promote""#);
    assert!(matches!(
        DecisionRecord::from_json(&json),
        Err(DecisionRecordError::Inconsistent {
            recorded: Verdict::Promote,
            recomputed: Verdict::Keep
        })
    ));
    let json = record
        .canonical_json()
        .replace(DECISION_FORMAT, "slipway-gate-decision/9");
    let err = DecisionRecord::from_json(&json).unwrap_err();
    assert!(err.to_string().contains("slipway-gate-decision/9"), "{err}");
}

#[test]
fn direction_names() {
    assert_eq!("lower".parse::<Direction>().unwrap(), Direction::Lower);
    let err = "up".parse::<Direction>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown metric direction `up`; expected `higher` or `lower`"
    );
}
