//! `slipway gate` reproduces the seed's champion/challenger example exactly.

use crate::util::{Project, text};

const SEED: &[&str] = &[
    "gate",
    "--metric",
    "auc",
    "--champion",
    "0.842",
    "--challenger",
    "0.857",
    "--delta",
    "0.005",
    "--guardrail",
    "p99_latency_ms=180<=200",
    "--guardrail",
    "fairness_gap=0.030<=0.050",
    "--guardrail",
    "calibration_ece=0.021<=0.040",
];

#[test]
fn seed_example_promotes() {
    let p = Project::empty();
    let out = p.slipway(SEED).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("(+0.015, margin needed 0.005)"), "{stdout}");
    assert!(
        stdout.ends_with("DECISION: PROMOTE challenger\n"),
        "{stdout}"
    );
    let json = p.json(SEED);
    assert_eq!(json["decision"], "promote");
    assert_eq!(json["metric_ok"], true);
    assert_eq!(json["breaches"].as_array().unwrap().len(), 0);
}

#[test]
fn seed_counterfactual_keeps_the_champion_naming_the_guardrail() {
    let p = Project::empty();
    let args: Vec<&str> = SEED
        .iter()
        .map(|a| {
            if *a == "p99_latency_ms=180<=200" {
                "p99_latency_ms=240<=200"
            } else {
                a
            }
        })
        .collect();
    let out = p.slipway(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "keep answers no");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("DECISION: KEEP champion (guardrail breached: p99_latency_ms)"),
        "{stdout}"
    );
    let mut json_args = vec!["--json"];
    json_args.extend(args);
    let out = p.slipway(&json_args).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["decision"], "keep");
    assert_eq!(json["metric_ok"], true);
    assert_eq!(json["breaches"], serde_json::json!(["p99_latency_ms"]));
}

#[test]
fn margin_is_strict() {
    let p = Project::empty();
    let out = p
        .slipway(&[
            "--json",
            "gate",
            "--champion",
            "0.8",
            "--challenger",
            "0.85",
            "--delta",
            "0.05",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "an improvement equal to delta is not enough"
    );
    let lower = p
        .slipway(&[
            "gate",
            "--metric",
            "logloss",
            "--better",
            "lower",
            "--champion",
            "0.40",
            "--challenger",
            "0.30",
            "--delta",
            "0.05",
        ])
        .output()
        .unwrap();
    assert_eq!(lower.status.code(), Some(0));
}

#[test]
fn malformed_guardrail_is_a_usage_error_naming_it() {
    let p = Project::empty();
    let out = p
        .slipway(&[
            "gate",
            "--champion",
            "0.8",
            "--challenger",
            "0.9",
            "--guardrail",
            "latency<200",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("latency<200"),
        "{}",
        text(&out.stderr)
    );
}
