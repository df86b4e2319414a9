//! `slipway/model-tests`: training converged, the model beats a baseline by a margin, its
//! predictions are robust to small noise and to dropped optional features, and no single
//! feature predicts the label suspiciously well (leakage).
//!
//! ```yaml
//! model-tests:
//!   uses: slipway/model-tests
//!   with:
//!     model: models/model.json
//!     data: data/holdout.parquet
//!     label: default
//!     baseline: majority          # majority | mean | a model file (e.g. the champion's)
//!     metric: auc                 # auc | accuracy | log_loss | rmse | mae
//!     margin: 0.02
//!     noise: 0.05                 # noise sd as a share of each float feature's sd
//!     max_change: 0.05            # mean |Δ prediction| allowed under noise or dropped features
//!     leakage_auc: 0.95           # single-feature AUC at or above this is suspicious
//! ```

use crate::args;
use crate::holdout;
use crate::metrics;
use crate::rng::SplitMix64;
use slipway_core::ArtifactKind;
use slipway_core::reports::{Check, Level, MODEL_TESTS_FORMAT, ModelRef};
use slipway_pipeline::builtins::{known_args, path_arg};
use slipway_pipeline::{Builtin, BuiltinContext, BuiltinFailure, BuiltinOutput, Declared};
use slipway_serve::{BuiltinModel, ModelFormat};

/// The `slipway/model-tests` built-in.
pub struct ModelTestsBuiltin;

const ARGS: &[&str] = &[
    "model",
    "data",
    "label",
    "baseline",
    "metric",
    "margin",
    "noise",
    "max_change",
    "leakage_auc",
    "converged_tol",
    "seed",
    "report",
];

/// The report of `slipway/model-tests`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelTestsReport {
    /// Always [`MODEL_TESTS_FORMAT`].
    pub format: String,
    /// The model tested.
    pub model: ModelRef,
    /// The data it was tested on.
    pub data: slipway_core::reports::DatasetRef,
    /// The metric compared with the baseline, and both values.
    pub baseline: serde_json::Value,
    /// Single-feature AUC (or |correlation| for regression) per feature.
    pub single_feature: Vec<(String, f64)>,
    /// The checks.
    pub checks: Vec<Check>,
    /// No error-level check failed.
    pub passed: bool,
    /// Checks that did not apply, and why.
    pub skipped: Vec<String>,
}

fn higher_is_better(metric: &str) -> bool {
    matches!(metric, "auc" | "accuracy" | "r2")
}

fn metric_value(metric: &str, y: &[f64], p: &[f64]) -> Result<f64, String> {
    Ok(match metric {
        "auc" => metrics::auc(y, p).ok_or("auc needs both classes in the data")?,
        "accuracy" => metrics::accuracy(y, p, 0.5),
        "log_loss" => metrics::log_loss(y, p),
        "rmse" => metrics::rmse(y, p),
        "mae" => metrics::mae(y, p),
        "r2" => metrics::r2(y, p),
        other => {
            return Err(format!(
                "metric `{other}` is not known; valid: auc, accuracy, log_loss, rmse, mae, r2"
            ));
        }
    })
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

fn mean_abs_change(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len().max(1) as f64
}

impl Builtin for ModelTestsBuiltin {
    fn name(&self) -> &'static str {
        "slipway/model-tests"
    }

    fn declare(&self, with: &serde_json::Value) -> Result<Declared, String> {
        known_args(with, ARGS)?;
        args::required_text(with, "label", "the label column")?;
        let mut deps = vec![path_arg(with, "model")?, path_arg(with, "data")?];
        if let Some(b) = args::text(with, "baseline")?
            && b != "majority"
            && b != "mean"
        {
            deps.push(path_arg(with, "baseline")?);
        }
        Ok(Declared {
            deps,
            outs: vec![(
                args::report_path(with, "reports/model-tests.json")?,
                Some(ArtifactKind::Report),
            )],
        })
    }

    fn run(&self, ctx: &BuiltinContext<'_>) -> Result<BuiltinOutput, BuiltinFailure> {
        let with = ctx.with;
        let model_rel = path_arg(with, "model")?;
        let data_rel = path_arg(with, "data")?;
        let label = args::required_text(with, "label", "the label column")?;
        let margin = args::number(with, "margin", 0.0, ("a number >= 0", |x| x >= 0.0))?;
        let noise = args::number(with, "noise", 0.05, ("a number >= 0", |x| x >= 0.0))?;
        let max_change = args::number(with, "max_change", 0.05, ("a number >= 0", |x| x >= 0.0))?;
        let leakage_auc = args::number(
            with,
            "leakage_auc",
            0.95,
            ("a number in (0.5, 1]", |x| x > 0.5 && x <= 1.0),
        )?;
        let tol = args::number(with, "converged_tol", 1e-3, ("a number > 0", |x| x > 0.0))?;
        let seed = args::count(with, "seed", 0, 0)?;
        let fail = |e: String| BuiltinFailure::new(e);
        let model = slipway_serve::load(&ctx.path(&model_rel)).map_err(|e| fail(e.to_string()))?;
        let sig = model.signature().clone();
        let table = holdout::load(&ctx.path(&data_rel), data_rel.as_str(), &sig, &label, None)
            .map_err(fail)?;
        let p = holdout::predict_all(model.as_ref(), &table.x).map_err(fail)?;
        let y = &table.y;
        let classification = y.iter().all(|&v| v == 0.0 || v == 1.0);
        let metric = args::text(with, "metric")?
            .unwrap_or_else(|| if classification { "auc" } else { "rmse" }.to_string());
        let mut checks = Vec::new();
        let mut skipped = Vec::new();

        // Converged: the loss curve the trainer recorded flattens.
        if model.format() == ModelFormat::Builtin {
            let file =
                BuiltinModel::load(&ctx.path(&model_rel)).map_err(|e| fail(e.to_string()))?;
            let loss: Vec<f64> = file
                .file()
                .metadata
                .get("loss")
                .and_then(|l| l.as_array())
                .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
                .unwrap_or_default();
            if loss.len() >= 2 {
                let last = loss[loss.len() - 1];
                let prev = loss[loss.len() - 2];
                let improvement = (prev - last) / prev.abs().max(1e-12);
                let finite = loss.iter().all(|l| l.is_finite());
                let decreased = last < loss[0] || loss[0] == 0.0;
                checks.push(Check::new(
                    "converged",
                    finite && decreased && improvement.abs() <= tol,
                    Level::Error,
                    format!("finite loss that decreased and whose last step improved it by <= {tol} (relative)"),
                    format!(
                        "loss {:.6} -> {:.6} over {} step(s); last step {:.3e}",
                        loss[0],
                        last,
                        loss.len() - 1,
                        improvement
                    ),
                ));
            } else {
                skipped.push("converged: the model records no loss curve".into());
            }
        } else {
            skipped.push("converged: ONNX models carry no training loss curve".into());
        }

        // Beats a baseline.
        let baseline_arg = args::text(with, "baseline")?
            .unwrap_or_else(|| if classification { "majority" } else { "mean" }.to_string());
        let model_value = metric_value(&metric, y, &p).map_err(fail)?;
        let baseline_p: Vec<f64> = match baseline_arg.as_str() {
            "majority" | "mean" => {
                let mean = y.iter().sum::<f64>() / y.len() as f64;
                vec![mean; y.len()]
            }
            _ => {
                let rel = path_arg(with, "baseline")?;
                let champion =
                    slipway_serve::load(&ctx.path(&rel)).map_err(|e| fail(e.to_string()))?;
                let t = holdout::load(
                    &ctx.path(&data_rel),
                    data_rel.as_str(),
                    champion.signature(),
                    &label,
                    None,
                )
                .map_err(fail)?;
                holdout::predict_all(champion.as_ref(), &t.x).map_err(fail)?
            }
        };
        let baseline_value = metric_value(&metric, y, &baseline_p).map_err(fail)?;
        let better = if higher_is_better(&metric) {
            model_value - baseline_value
        } else {
            baseline_value - model_value
        };
        checks.push(Check::new(
            "beats_baseline",
            better > margin,
            Level::Error,
            format!("{metric} better than the {baseline_arg} baseline by more than {margin}"),
            format!("{metric} {model_value:.6} vs baseline {baseline_value:.6} (by {better:.6})"),
        ));

        // Robust to noise on float features.
        let n = sig.inputs.len();
        let mut rng = SplitMix64::new(seed);
        let float_features: Vec<usize> = (0..n)
            .filter(|&j| sig.inputs[j].ty == slipway_core::model::FeatureType::Float)
            .collect();
        let scale = if classification {
            1.0
        } else {
            let m = y.iter().sum::<f64>() / y.len() as f64;
            (y.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / y.len() as f64)
                .sqrt()
                .max(1e-12)
        };
        if float_features.is_empty() {
            skipped.push("robust_noise: the model has no float features".into());
        } else {
            let mut noisy = table.x.clone();
            for &j in &float_features {
                let col: Vec<f64> = (0..table.rows).map(|r| table.x[r * n + j]).collect();
                let m = col.iter().sum::<f64>() / col.len() as f64;
                let sd =
                    (col.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / col.len() as f64).sqrt();
                for r in 0..table.rows {
                    noisy[r * n + j] += noise * sd * rng.normal();
                }
            }
            let pn = holdout::predict_all(model.as_ref(), &noisy).map_err(fail)?;
            let change = mean_abs_change(&p, &pn) / scale;
            checks.push(Check::new(
                "robust_noise",
                change <= max_change,
                Level::Error,
                format!(
                    "mean |change| <= {max_change} under noise of {noise} sd on float features"
                ),
                format!("{change:.6}"),
            ));
        }
        // Robust to dropped optional features (those with a default).
        let optional: Vec<usize> = (0..n)
            .filter(|&j| sig.inputs[j].default.is_some())
            .collect();
        if optional.is_empty() {
            skipped.push("robust_dropped: the model has no optional features".into());
        } else {
            let mut dropped = table.x.clone();
            for &j in &optional {
                let d = sig.inputs[j].default.expect("optional");
                for r in 0..table.rows {
                    dropped[r * n + j] = d;
                }
            }
            let pd = holdout::predict_all(model.as_ref(), &dropped).map_err(fail)?;
            let change = mean_abs_change(&p, &pd) / scale;
            checks.push(Check::new(
                "robust_dropped",
                change <= max_change,
                Level::Error,
                format!(
                    "mean |change| <= {max_change} when the optional features ({}) are dropped",
                    optional
                        .iter()
                        .map(|&j| sig.inputs[j].name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                format!("{change:.6}"),
            ));
        }

        // Leakage: a single feature that predicts the label almost perfectly.
        let mut single = Vec::new();
        for (j, f) in sig.inputs.iter().enumerate() {
            let col: Vec<f64> = (0..table.rows).map(|r| table.x[r * n + j]).collect();
            let s = if classification {
                metrics::auc(y, &col).map(|a| a.max(1.0 - a)).unwrap_or(0.5)
            } else {
                pearson(&col, y).abs()
            };
            single.push((f.name.clone(), s));
        }
        let suspicious: Vec<String> = single
            .iter()
            .filter(|(_, s)| *s >= leakage_auc)
            .map(|(f, s)| format!("{f} ({s:.4})"))
            .collect();
        checks.push(Check::new(
            "leakage",
            suspicious.is_empty(),
            Level::Error,
            format!(
                "no feature alone reaches {} {leakage_auc}",
                if classification {
                    "AUC"
                } else {
                    "|correlation|"
                }
            ),
            if suspicious.is_empty() {
                "none".to_string()
            } else {
                format!("suspicious: {}", suspicious.join(", "))
            },
        ));

        let passed = checks.iter().all(|c| !c.is_error());
        let report = ModelTestsReport {
            format: MODEL_TESTS_FORMAT.into(),
            model: ModelRef {
                path: model_rel.to_string(),
                digest: args::digest(ctx, &model_rel)?,
                format: model.format().as_str().into(),
            },
            data: slipway_core::reports::DatasetRef {
                path: data_rel.to_string(),
                digest: args::digest(ctx, &data_rel)?,
                rows: table.rows as u64,
            },
            baseline: serde_json::json!({"kind": baseline_arg, "metric": metric, "model": model_value, "baseline": baseline_value}),
            single_feature: single,
            checks: checks.clone(),
            passed,
            skipped,
        };
        let report_rel = args::report_path(with, "reports/model-tests.json")?;
        args::write(
            ctx,
            &report_rel,
            &(serde_json::to_string_pretty(&report).expect("plain") + "\n"),
        )?;
        let mut out = BuiltinOutput::default();
        for c in &checks {
            if c.is_error() {
                // Reported in the failure message.
                out.metric(format!("model_tests.{}", c.id), 0.0, 0);
                continue;
            }
            out.metric(
                format!("model_tests.{}", c.id),
                f64::from(u8::from(c.passed)),
                0,
            );
            out.say(format!(
                "{} {}: expected {}, observed {}",
                if c.passed { "pass" } else { "FAIL" },
                c.id,
                c.expected,
                c.observed
            ));
        }
        for s in &report.skipped {
            out.say(format!("skipped {s}"));
        }
        if passed {
            Ok(out)
        } else {
            let failed: Vec<String> = checks
                .iter()
                .filter(|c| c.is_error())
                .map(|c| format!("{}: expected {}, observed {}", c.id, c.expected, c.observed))
                .collect();
            Err(BuiltinFailure::with_output(
                format!(
                    "model tests failed (report: {report_rel}):\n  {}",
                    failed.join("\n  ")
                ),
                out,
            ))
        }
    }
}
