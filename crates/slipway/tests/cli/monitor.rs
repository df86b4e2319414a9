//! `slipway monitor slo` reproduces the seed's SLO example (reference/slo.md) exactly.

use crate::util::{Project, text};

fn seed_series() -> String {
    format!(
        "{}/tests/fixtures/seed_daily_accuracy.csv",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn seed_series_alerts_on_day_26() {
    let p = Project::empty();
    let series = seed_series();
    let args = [
        "monitor",
        "slo",
        "--series",
        series.as_str(),
        "--floor",
        "0.88",
        "--window",
        "5",
        "--breaches",
        "3",
    ];
    let out = p.slipway(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "an alert answers no");
    assert!(
        text(&out.stdout).contains("FIRE on day 26"),
        "{}",
        text(&out.stdout)
    );
    let mut json_args = vec!["--json"];
    json_args.extend(args);
    let out = p.slipway(&json_args).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["alert_day"], 26);
    assert_eq!(json["longest_breach"], 6);
    let min = json["min_rolling"].as_f64().unwrap();
    assert!((min - 0.8465663685822675).abs() < 1e-12, "{min}");
}

#[test]
fn lower_floor_does_not_alert() {
    let p = Project::empty();
    let series = seed_series();
    let json = p.json(&[
        "monitor",
        "slo",
        "--series",
        series.as_str(),
        "--floor",
        "0.84",
        "--window",
        "5",
        "--breaches",
        "3",
    ]);
    assert_eq!(json["alert_day"], serde_json::Value::Null);
}

#[test]
fn bad_series_names_the_line() {
    let p = Project::empty();
    p.write("s.csv", b"day,value\n0,0.9\n1,oops\n");
    let out = p
        .slipway(&["monitor", "slo", "--series", "s.csv", "--floor", "0.88"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("s.csv:3: value `oops` is not a number"),
        "{}",
        text(&out.stderr)
    );
    p.write("h.csv", b"date,acc\n");
    let out = p
        .slipway(&["monitor", "slo", "--series", "h.csv", "--floor", "0.88"])
        .output()
        .unwrap();
    assert!(
        text(&out.stderr).contains("expected `day,value`"),
        "{}",
        text(&out.stderr)
    );
}

fn sample(p: &Project, name: &str, shift: f64, categories: &[&str]) {
    let mut state = 0x9e37_79b9_u64;
    let mut text = String::from("x,c\n");
    for i in 0..4000 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (state >> 11) as f64 / (1u64 << 53) as f64;
        text.push_str(&format!(
            "{},{}\n",
            u * 10.0 + shift,
            categories[i % categories.len()]
        ));
    }
    p.write(name, text.as_bytes());
}

#[test]
fn psi_between_files_flags_drift_and_answers_no() {
    let p = Project::empty();
    sample(&p, "base.csv", 0.0, &["a", "b", "c"]);
    sample(&p, "same.csv", 0.0, &["a", "b", "c"]);
    sample(&p, "shifted.csv", 4.0, &["a", "b", "c", "d"]);
    let same = p.json(&[
        "monitor",
        "psi",
        "--baseline",
        "base.csv",
        "--current",
        "same.csv",
    ]);
    assert_eq!(same["drifted"], 0);
    assert!(
        same["features"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["psi"].as_f64().unwrap() < 1e-9 && f["status"] == "stable"),
        "{same}"
    );
    let out = p
        .slipway(&[
            "--json",
            "monitor",
            "psi",
            "--baseline",
            "base.csv",
            "--current",
            "shifted.csv",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "drift answers no");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["drifted"], 2, "{json}");
    let x = json["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "x")
        .unwrap();
    assert_eq!(x["status"], "significant");
    let bad = p
        .slipway(&[
            "monitor",
            "psi",
            "--baseline",
            "base.csv",
            "--current",
            "nope.csv",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("nope.csv"),
        "{}",
        text(&bad.stderr)
    );
}

/// The values of column `x` of a sample written by [`sample`].
fn column_x(p: &Project, name: &str) -> Vec<f64> {
    std::fs::read_to_string(p.join(name))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn evidently_binning_matches_the_in_memory_evidently_computation_and_draws_a_chart() {
    let p = Project::empty();
    sample(&p, "base.csv", 0.0, &["a", "b", "c"]);
    sample(&p, "shifted.csv", 1.5, &["a", "b", "c", "d"]);
    let out = p
        .slipway(&[
            "--json",
            "monitor",
            "psi",
            "--baseline",
            "base.csv",
            "--current",
            "shifted.csv",
            "--binning",
            "evidently",
            "--svg",
            "psi.svg",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let x = json["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "x")
        .unwrap()["psi"]
        .as_f64()
        .unwrap();
    let expected = slipway_core::monitor::psi::evidently::evidently_psi(
        &column_x(&p, "base.csv"),
        &column_x(&p, "shifted.csv"),
    )
    .unwrap()
    .psi;
    assert_eq!(x, expected, "streamed from files == in memory, bit for bit");
    let svg = std::fs::read_to_string(p.join("psi.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("significant 0.25"),
        "{svg}"
    );
}
