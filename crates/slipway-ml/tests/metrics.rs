//! The metrics against values scikit-learn computed on the same inputs
//! (`fixtures/make_metrics_fixtures.py`, run once; its output is checked in).

use serde_json::Value;
use slipway_ml::metrics;

fn fixture() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/metrics_expected.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(name: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-12,
        "{name}: slipway {got} vs scikit-learn {want}"
    );
}

#[test]
fn classification_metrics_match_scikit_learn() {
    let f = fixture();
    for (i, case) in f["classification"].as_array().unwrap().iter().enumerate() {
        let y = floats(&case["labels"]);
        let p = floats(&case["scores"]);
        let groups: Vec<&str> = case["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap())
            .collect();
        close(
            &format!("auc[{i}]"),
            metrics::auc(&y, &p).unwrap(),
            case["auc"].as_f64().unwrap(),
        );
        close(
            &format!("accuracy[{i}]"),
            metrics::accuracy(&y, &p, 0.5),
            case["accuracy"].as_f64().unwrap(),
        );
        close(
            &format!("log_loss[{i}]"),
            metrics::log_loss(&y, &p),
            case["log_loss"].as_f64().unwrap(),
        );
        close(
            &format!("ece[{i}]"),
            metrics::calibration_ece(&y, &p, 10),
            case["calibration_ece"].as_f64().unwrap(),
        );
        let mut pos = Vec::new();
        let mut tprs = Vec::new();
        for g in ["a", "b", "c"] {
            let idx: Vec<usize> = (0..y.len()).filter(|&k| groups[k] == g).collect();
            let gy: Vec<f64> = idx.iter().map(|&k| y[k]).collect();
            let gp: Vec<f64> = idx.iter().map(|&k| p[k]).collect();
            pos.push(metrics::positive_rate(&gp, 0.5));
            tprs.push(metrics::tpr(&gy, &gp, 0.5).unwrap());
        }
        let gap = |v: &[f64]| {
            v.iter().copied().fold(f64::MIN, f64::max) - v.iter().copied().fold(f64::MAX, f64::min)
        };
        close(
            &format!("positive_rate_gap[{i}]"),
            gap(&pos),
            case["positive_rate_gap"].as_f64().unwrap(),
        );
        close(
            &format!("tpr_gap[{i}]"),
            gap(&tprs),
            case["tpr_gap"].as_f64().unwrap(),
        );
    }
    // The second case has ties (scores rounded to 2 decimals, some on bin edges).
    let tied = floats(&f["classification"][1]["scores"]);
    assert!(tied.iter().any(|&s| s == 0.3 || s == 0.5 || s == 0.7));
}

#[test]
fn regression_metrics_match_scikit_learn() {
    let f = &fixture()["regression"];
    let y = floats(&f["targets"]);
    let p = floats(&f["predictions"]);
    close("rmse", metrics::rmse(&y, &p), f["rmse"].as_f64().unwrap());
    close("mae", metrics::mae(&y, &p), f["mae"].as_f64().unwrap());
    close("r2", metrics::r2(&y, &p), f["r2"].as_f64().unwrap());
}
