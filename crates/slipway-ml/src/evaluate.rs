//! `slipway/evaluate`: a model on a frozen holdout — AUC, accuracy, log loss, calibration ECE,
//! a fairness gap between groups, and p50/p99 latency measured by running the model one
//! request at a time — for built-in and ONNX models alike.
//!
//! ```yaml
//! evaluate:
//!   uses: slipway/evaluate
//!   with:
//!     model: models/model.json          # or .onnx (signature beside it)
//!     holdout: data/holdout.parquet     # its digest is in the report
//!     label: default
//!     group: region                     # optional: fairness and slices
//!     fairness: positive_rate           # or tpr
//!     min: {auc: 0.75}                  # thresholds (checks named threshold:<metric>)
//!     max: {calibration_ece: 0.05, fairness_gap: 0.1, p99_latency_ms: 20}
//!     report: reports/evaluation.json   # default
//! ```

use crate::args;
use crate::holdout::{self, request_row};
use crate::metrics;
use slipway_core::reports::{
    Check, DatasetRef, EVALUATION_FORMAT, EvaluationReport, Fairness, GroupStats, Latency, Level,
    ModelRef,
};
use slipway_core::{ArtifactKind, Digest};
use slipway_pipeline::builtins::{known_args, path_arg};
use slipway_pipeline::{Builtin, BuiltinContext, BuiltinFailure, BuiltinOutput, Declared};
use slipway_serve::Model;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// The `slipway/evaluate` built-in.
pub struct EvaluateBuiltin;

const ARGS: &[&str] = &[
    "model",
    "holdout",
    "label",
    "group",
    "fairness",
    "threshold",
    "latency_samples",
    "min",
    "max",
    "slice_tolerance",
    "report",
];

/// What to evaluate and how.
#[derive(Clone, Debug)]
pub struct Options {
    /// Label column.
    pub label: String,
    /// Group column for fairness and slices.
    pub group: Option<String>,
    /// `positive_rate` or `tpr`.
    pub fairness: String,
    /// Classification threshold.
    pub threshold: f64,
    /// Single-row predictions timed.
    pub latency_samples: usize,
    /// Lower bounds on metrics.
    pub min: BTreeMap<String, f64>,
    /// Upper bounds on metrics.
    pub max: BTreeMap<String, f64>,
    /// Largest accuracy drop of a group below the whole holdout (explicitly set: error level).
    pub slice_tolerance: Option<f64>,
}

impl Options {
    /// Reads the `with:` arguments.
    pub fn from_args(with: &serde_json::Value) -> Result<Options, String> {
        let fairness = args::text(with, "fairness")?.unwrap_or_else(|| "positive_rate".into());
        if fairness != "positive_rate" && fairness != "tpr" {
            return Err(format!(
                "argument 'fairness' is `{fairness}`; valid: positive_rate (demographic parity), tpr (equal opportunity)"
            ));
        }
        let slice_tolerance = match with.get("slice_tolerance") {
            None => None,
            Some(_) => Some(args::number(
                with,
                "slice_tolerance",
                0.1,
                ("a number >= 0", |x| x >= 0.0),
            )?),
        };
        Ok(Options {
            label: args::required_text(with, "label", "the label column of the holdout")?,
            group: args::text(with, "group")?,
            fairness,
            threshold: args::number(
                with,
                "threshold",
                0.5,
                ("a number in (0, 1)", |x| x > 0.0 && x < 1.0),
            )?,
            latency_samples: args::count(with, "latency_samples", 200, 1)? as usize,
            min: args::bounds(with, "min")?,
            max: args::bounds(with, "max")?,
            slice_tolerance,
        })
    }
}

/// Evaluates `model` on the table at `holdout` (named `holdout_ref` in the report).
pub fn evaluate(
    model: &dyn Model,
    model_ref: ModelRef,
    holdout: &Path,
    holdout_name: &str,
    holdout_digest: Digest,
    o: &Options,
) -> Result<EvaluationReport, String> {
    let sig = model.signature();
    let table = holdout::load(holdout, holdout_name, sig, &o.label, o.group.as_deref())?;
    if table.rows == 0 {
        return Err(format!("{holdout_name} has no rows"));
    }
    let p = holdout::predict_all(model, &table.x)?;
    let y = &table.y;
    let classification = y.iter().all(|&v| v == 0.0 || v == 1.0)
        && p.iter().all(|v| (0.0..=1.0).contains(v))
        && sig
            .outputs
            .first()
            .is_none_or(|o| o.name != "prediction" && o.name != "variable");
    let mut m = BTreeMap::new();
    let non_finite = p.iter().filter(|v| !v.is_finite()).count();
    m.insert("non_finite_predictions".to_string(), non_finite as f64);
    if classification {
        if let Some(a) = metrics::auc(y, &p) {
            m.insert("auc".into(), a);
        }
        m.insert("accuracy".into(), metrics::accuracy(y, &p, o.threshold));
        m.insert("log_loss".into(), metrics::log_loss(y, &p));
        m.insert(
            "calibration_ece".into(),
            metrics::calibration_ece(y, &p, 10),
        );
        m.insert(
            "positive_rate".into(),
            metrics::positive_rate(&p, o.threshold),
        );
    } else {
        m.insert("rmse".into(), metrics::rmse(y, &p));
        m.insert("mae".into(), metrics::mae(y, &p));
        m.insert("r2".into(), metrics::r2(y, &p));
    }
    let mut checks = vec![Check::new(
        "finite",
        non_finite == 0,
        Level::Error,
        "every prediction is a finite number",
        format!("{non_finite} non-finite prediction(s)"),
    )];

    let fairness = match (&o.group, &table.groups) {
        (Some(column), Some(groups)) => {
            let mut by: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
            for ((g, &yv), &pv) in groups.iter().zip(y).zip(&p) {
                let e = by.entry(g.clone()).or_default();
                e.0.push(yv);
                e.1.push(pv);
            }
            let mut stats = BTreeMap::new();
            for (g, (gy, gp)) in &by {
                stats.insert(
                    g.clone(),
                    GroupStats {
                        rows: gy.len() as u64,
                        positive_rate: metrics::positive_rate(gp, o.threshold),
                        tpr: metrics::tpr(gy, gp, o.threshold),
                        accuracy: metrics::accuracy(gy, gp, o.threshold),
                    },
                );
            }
            let values: Vec<f64> = stats
                .values()
                .filter_map(|s| {
                    if o.fairness == "tpr" {
                        s.tpr
                    } else {
                        Some(s.positive_rate)
                    }
                })
                .collect();
            let gap = if values.is_empty() {
                0.0
            } else {
                values.iter().copied().fold(f64::MIN, f64::max)
                    - values.iter().copied().fold(f64::MAX, f64::min)
            };
            m.insert("fairness_gap".into(), gap);
            let (bound, level) = match o.max.get("fairness_gap") {
                Some(b) => (*b, Level::Error),
                None => (0.1, Level::Warn),
            };
            checks.push(Check::new(
                "fairness_gap",
                gap <= bound,
                level,
                format!("{} gap between `{column}` groups <= {bound}", o.fairness),
                format!("{gap:.6}"),
            ));
            if classification {
                let overall = m["accuracy"];
                let (tolerance, level) = match o.slice_tolerance {
                    Some(t) => (t, Level::Error),
                    None => (0.1, Level::Warn),
                };
                let worst = stats
                    .iter()
                    .min_by(|a, b| a.1.accuracy.total_cmp(&b.1.accuracy))
                    .map(|(g, s)| (g.clone(), s.accuracy))
                    .expect("at least one group");
                checks.push(Check::new(
                    "slices",
                    overall - worst.1 <= tolerance,
                    level,
                    format!("every `{column}` group's accuracy within {tolerance} of {overall:.4}"),
                    format!("lowest: group `{}` at {:.4}", worst.0, worst.1),
                ));
            }
            Some(Fairness {
                column: column.clone(),
                metric: o.fairness.clone(),
                groups: stats,
                gap,
            })
        }
        _ => None,
    };

    // Latency: single-row requests, checked against the signature as the gateway does.
    let warmup = o.latency_samples.min(10);
    let mut times = Vec::with_capacity(o.latency_samples);
    for i in 0..warmup + o.latency_samples {
        let row = request_row(sig, &table.x, i % table.rows);
        let started = Instant::now();
        model
            .predict(std::slice::from_ref(&row))
            .map_err(|e| e.to_string())?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if i >= warmup {
            times.push(ms);
        }
    }
    let latency = Latency {
        samples: times.len() as u64,
        p50_ms: metrics::percentile(&times, 0.5),
        p99_ms: metrics::percentile(&times, 0.99),
    };
    m.insert("p50_latency_ms".into(), latency.p50_ms);
    m.insert("p99_latency_ms".into(), latency.p99_ms);

    for (name, bound, at_least) in o
        .min
        .iter()
        .map(|(k, v)| (k, v, true))
        .chain(o.max.iter().map(|(k, v)| (k, v, false)))
    {
        if name == "fairness_gap" && fairness.is_some() {
            continue;
        }
        let Some(value) = m.get(name) else {
            return Err(format!(
                "threshold on unknown metric `{name}`; this evaluation has: {}",
                m.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        };
        let ok = if at_least {
            *value >= *bound
        } else {
            *value <= *bound
        };
        checks.push(Check::new(
            format!("threshold:{name}"),
            ok,
            Level::Error,
            format!("{name} {} {bound}", if at_least { ">=" } else { "<=" }),
            format!("{value:.6}"),
        ));
    }
    let passed = checks.iter().all(|c| !c.is_error());
    Ok(EvaluationReport {
        format: EVALUATION_FORMAT.into(),
        model: model_ref,
        holdout: DatasetRef {
            path: holdout_name.to_string(),
            digest: holdout_digest,
            rows: table.rows as u64,
        },
        label: o.label.clone(),
        task: if classification {
            "binary_classification"
        } else {
            "regression"
        }
        .into(),
        metrics: m,
        fairness,
        latency,
        checks,
        passed,
    })
}

impl Builtin for EvaluateBuiltin {
    fn name(&self) -> &'static str {
        "slipway/evaluate"
    }

    fn declare(&self, with: &serde_json::Value) -> Result<Declared, String> {
        known_args(with, ARGS)?;
        Options::from_args(with)?;
        let model = path_arg(with, "model")?;
        let mut deps = vec![model.clone(), path_arg(with, "holdout")?];
        if model.as_str().ends_with(".onnx") {
            let sidecar = format!("{}.signature.json", model.as_str());
            deps.push(slipway_core::RelPath::new(&sidecar).map_err(|e| e.to_string())?);
        }
        Ok(Declared {
            deps,
            outs: vec![(
                args::report_path(with, "reports/evaluation.json")?,
                Some(ArtifactKind::Report),
            )],
        })
    }

    fn run(&self, ctx: &BuiltinContext<'_>) -> Result<BuiltinOutput, BuiltinFailure> {
        let o = Options::from_args(ctx.with)?;
        let model_rel = path_arg(ctx.with, "model")?;
        let holdout_rel = path_arg(ctx.with, "holdout")?;
        let model = slipway_serve::load(&ctx.path(&model_rel))
            .map_err(|e| BuiltinFailure::new(e.to_string()))?;
        let model_ref = ModelRef {
            path: model_rel.to_string(),
            digest: args::digest(ctx, &model_rel)?,
            format: model.format().as_str().into(),
        };
        let holdout_digest = args::digest(ctx, &holdout_rel)?;
        let report = evaluate(
            model.as_ref(),
            model_ref,
            &ctx.path(&holdout_rel),
            holdout_rel.as_str(),
            holdout_digest,
            &o,
        )?;
        let report_rel = args::report_path(ctx.with, "reports/evaluation.json")?;
        args::write(
            ctx,
            &report_rel,
            &(serde_json::to_string_pretty(&report).expect("plain data") + "\n"),
        )?;
        let mut out = BuiltinOutput::default();
        for (k, v) in &report.metrics {
            out.metric(format!("eval.{k}"), *v, 0);
        }
        out.param("eval.holdout_digest", report.holdout.digest);
        out.say(format!(
            "evaluated {model_rel} on {holdout_rel} ({} rows, digest {}): {}",
            report.holdout.rows,
            report.holdout.digest.short(12),
            report
                .metrics
                .iter()
                .map(|(k, v)| format!("{k}={v:.4}"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
        let failed: Vec<String> = report
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| {
                format!(
                    "{}: {}: expected {}, observed {}",
                    c.level.as_str(),
                    c.id,
                    c.expected,
                    c.observed
                )
            })
            .collect();
        // Warnings go to the log; errors are the failure message (which the log also gets).
        for f in failed.iter().filter(|f| f.starts_with("warn")) {
            out.say(f);
        }
        if report.passed {
            Ok(out)
        } else {
            Err(BuiltinFailure::with_output(
                format!(
                    "the evaluation failed its thresholds (report: {report_rel}):\n  {}",
                    failed
                        .iter()
                        .filter(|f| f.starts_with("error"))
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("\n  ")
                ),
                out,
            ))
        }
    }
}
