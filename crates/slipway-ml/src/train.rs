//! `slipway/train`: the built-in trainer for tabular binary classification and regression.
//!
//! ```yaml
//! train:
//!   uses: slipway/train
//!   with:
//!     data: data/train.parquet
//!     label: default                  # 0/1 for classification
//!     model: logistic                 # logistic | linear | trees
//!     exclude: [customer_id]          # features: every other column (or list `features:`)
//!     optional: [tenure]              # may be missing in requests: defaults to the training mean
//!     seed: 7
//!     out: models/model.json          # default
//! ```
//! Logs `train.loss` per step (Newton iteration or tree) on the stage's run, and the options as
//! params. Same data, options and seed ⇒ the same model bytes.

use crate::args;
use crate::linear::{LinearOptions, fit_linear, fit_logistic};
use crate::trees::{TreeOptions, fit_trees};
use slipway_core::model::{
    FeatureSpec, FeatureType, MODEL_FORMAT, ModelFile, OutputSpec, Signature, Task,
};
use slipway_core::{ArtifactKind, RelPath};
use slipway_data::table::{DataType, TableFormat, file_schema};
use slipway_pipeline::builtins::{known_args, opt_path_arg, path_arg};
use slipway_pipeline::{Builtin, BuiltinContext, BuiltinFailure, BuiltinOutput, Declared};
use std::collections::BTreeMap;

/// The `slipway/train` built-in.
pub struct TrainBuiltin;

const ARGS: &[&str] = &[
    "data",
    "label",
    "features",
    "exclude",
    "optional",
    "model",
    "seed",
    "l2",
    "max_iter",
    "tol",
    "n_trees",
    "max_depth",
    "learning_rate",
    "subsample",
    "bins",
    "out",
];

/// Which learner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Learner {
    /// Logistic regression (classification).
    Logistic,
    /// Linear regression.
    Linear,
    /// Gradient-boosted trees (classification when the label is 0/1, else regression).
    Trees,
}

fn learner(with: &serde_json::Value) -> Result<Learner, String> {
    match args::text(with, "model")?.as_deref() {
        None | Some("logistic") => Ok(Learner::Logistic),
        Some("linear") => Ok(Learner::Linear),
        Some("trees") => Ok(Learner::Trees),
        Some(other) => Err(format!(
            "argument 'model' is `{other}`; valid models are: logistic, linear, trees"
        )),
    }
}

fn out_path(with: &serde_json::Value) -> Result<RelPath, String> {
    Ok(opt_path_arg(with, "out")?
        .unwrap_or_else(|| RelPath::new("models/model.json").expect("valid")))
}

/// Everything `slipway/train` was asked to do, checked.
struct Plan {
    learner: Learner,
    seed: u64,
    linear: LinearOptions,
    trees: TreeOptions,
}

fn plan(with: &serde_json::Value) -> Result<Plan, String> {
    let learner = learner(with)?;
    let seed = args::count(with, "seed", 0, 0)?;
    let positive = ("a number > 0", (|x: f64| x > 0.0) as fn(f64) -> bool);
    let non_negative = ("a number >= 0", (|x: f64| x >= 0.0) as fn(f64) -> bool);
    let linear = LinearOptions {
        l2: args::number(with, "l2", LinearOptions::default().l2, non_negative)?,
        max_iter: args::count(with, "max_iter", 50, 1)? as usize,
        tol: args::number(with, "tol", LinearOptions::default().tol, positive)?,
    };
    let d = TreeOptions::default();
    let trees = TreeOptions {
        n_trees: args::count(with, "n_trees", d.n_trees as u64, 1)? as usize,
        max_depth: args::count(with, "max_depth", d.max_depth as u64, 1)? as usize,
        learning_rate: args::number(with, "learning_rate", d.learning_rate, positive)?,
        subsample: args::number(
            with,
            "subsample",
            d.subsample,
            ("a number in (0, 1]", |x| x > 0.0 && x <= 1.0),
        )?,
        bins: args::count(with, "bins", d.bins as u64, 2)?.min(255) as usize,
        l2: args::number(with, "l2", d.l2, non_negative)?,
        min_leaf: d.min_leaf,
        seed,
    };
    Ok(Plan {
        learner,
        seed,
        linear,
        trees,
    })
}

impl Builtin for TrainBuiltin {
    fn name(&self) -> &'static str {
        "slipway/train"
    }

    fn declare(&self, with: &serde_json::Value) -> Result<Declared, String> {
        known_args(with, ARGS)?;
        args::required_text(with, "label", "the column to predict")?;
        args::list(with, "features")?;
        args::list(with, "exclude")?;
        args::list(with, "optional")?;
        plan(with)?;
        Ok(Declared {
            deps: vec![path_arg(with, "data")?],
            outs: vec![(out_path(with)?, Some(ArtifactKind::Model))],
        })
    }

    fn run(&self, ctx: &BuiltinContext<'_>) -> Result<BuiltinOutput, BuiltinFailure> {
        let with = ctx.with;
        let plan = plan(with)?;
        let data_rel = path_arg(with, "data")?;
        let data = ctx.path(&data_rel);
        let label = args::required_text(with, "label", "the column to predict")?;
        let fail = |e: &dyn std::fmt::Display| BuiltinFailure::new(e.to_string());
        let schema = file_schema(&data).map_err(|e| fail(&e))?;
        let exclude = args::list(with, "exclude")?.unwrap_or_default();
        let columns_in_file: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
        for e in &exclude {
            if !columns_in_file.contains(&e) {
                return Err(BuiltinFailure::new(format!(
                    "argument 'exclude' names `{e}`, which is not a column of {data_rel}; columns are: {}",
                    columns_in_file
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let features: Vec<String> = match args::list(with, "features")? {
            Some(f) => f,
            None => schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .filter(|n| *n != label && !exclude.contains(n))
                .collect(),
        };
        if features.is_empty() {
            return Err(BuiltinFailure::new(format!(
                "{data_rel} has no feature columns besides the label `{label}`"
            )));
        }
        let optional = args::list(with, "optional")?.unwrap_or_default();
        for o in &optional {
            if !features.contains(o) {
                return Err(BuiltinFailure::new(format!(
                    "argument 'optional' names `{o}`, which is not a feature; features are: {}",
                    features.join(", ")
                )));
            }
        }
        let mut wanted = features.clone();
        wanted.push(label.clone());
        let frame = slipway_data::load_frame(&data, &wanted, &[]).map_err(|e| fail(&e))?;
        let n = frame.rows;
        if n < 2 {
            return Err(BuiltinFailure::new(format!(
                "{data_rel} has {n} row(s); training needs at least 2"
            )));
        }
        let y = frame.column(&label).expect("loaded").to_vec();
        if let Some(row) = y.iter().position(|v| !v.is_finite()) {
            return Err(BuiltinFailure::new(format!(
                "{data_rel}: row {}, label `{label}` is missing or not finite; every row needs a label",
                row + 1
            )));
        }
        let binary = y.iter().all(|&v| v == 0.0 || v == 1.0);
        let classification = match plan.learner {
            Learner::Logistic => {
                if let Some(row) = y.iter().position(|&v| v != 0.0 && v != 1.0) {
                    return Err(BuiltinFailure::new(format!(
                        "{data_rel}: row {}, label `{label}` is {}; logistic regression needs 0/1 labels (use model: linear for a real-valued target)",
                        row + 1,
                        y[row]
                    )));
                }
                true
            }
            Learner::Linear => false,
            Learner::Trees => binary,
        };
        // Impute optional features with their training mean; any other gap is an error.
        let mut defaults = BTreeMap::new();
        let mut columns: Vec<Vec<f64>> = Vec::with_capacity(features.len());
        for f in &features {
            let mut col = frame.column(f).expect("loaded").to_vec();
            let finite: Vec<f64> = col.iter().copied().filter(|v| v.is_finite()).collect();
            if optional.contains(f) {
                let mean = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
                for v in col.iter_mut().filter(|v| !v.is_finite()) {
                    *v = mean;
                }
                defaults.insert(f.clone(), mean);
            } else if let Some(row) = col.iter().position(|v| !v.is_finite()) {
                return Err(BuiltinFailure::new(format!(
                    "{data_rel}: row {}, feature `{f}` is missing or not finite; fill it, exclude the column, or list it under 'optional' (imputed with the training mean)",
                    row + 1
                )));
            }
            columns.push(col);
        }
        let d = features.len();
        let mut x = Vec::with_capacity(n * d);
        for r in 0..n {
            for c in &columns {
                x.push(c[r]);
            }
        }
        drop(columns);
        let started = std::time::Instant::now();
        let fitted = match plan.learner {
            Learner::Logistic => fit_logistic(&x, &y, d, &plan.linear),
            Learner::Linear => fit_linear(&x, &y, d, &plan.linear),
            Learner::Trees => fit_trees(&x, &y, d, classification, &plan.trees),
        };
        let seconds = started.elapsed().as_secs_f64();
        let parquet = TableFormat::of_path(&data) == TableFormat::Parquet;
        let inputs = features
            .iter()
            .map(|f| {
                let ty = if parquet {
                    let dt = schema
                        .field_with_name(f)
                        .map(|fl| fl.data_type().clone())
                        .ok();
                    match dt {
                        Some(t) if t.is_integer() => FeatureType::Int,
                        Some(DataType::Boolean) => FeatureType::Bool,
                        _ => FeatureType::Float,
                    }
                } else {
                    FeatureType::Float
                };
                FeatureSpec {
                    name: f.clone(),
                    ty,
                    default: defaults.get(f).copied(),
                }
            })
            .collect();
        let (kind, params) = match plan.learner {
            Learner::Logistic => (
                "logistic",
                serde_json::json!({"l2": plan.linear.l2, "max_iter": plan.linear.max_iter, "tol": plan.linear.tol}),
            ),
            Learner::Linear => ("linear", serde_json::json!({"l2": plan.linear.l2})),
            Learner::Trees => (
                "trees",
                serde_json::json!({
                    "n_trees": plan.trees.n_trees, "max_depth": plan.trees.max_depth,
                    "learning_rate": plan.trees.learning_rate, "subsample": plan.trees.subsample,
                    "bins": plan.trees.bins, "l2": plan.trees.l2,
                }),
            ),
        };
        let data_digest = args::digest(ctx, &data_rel)?;
        let mut metadata = BTreeMap::new();
        metadata.insert("trainer".into(), serde_json::json!("slipway/train"));
        metadata.insert("learner".into(), serde_json::json!(kind));
        metadata.insert("params".into(), params.clone());
        metadata.insert("seed".into(), serde_json::json!(plan.seed));
        metadata.insert("label".into(), serde_json::json!(label));
        metadata.insert("rows".into(), serde_json::json!(n));
        metadata.insert(
            "training_data".into(),
            serde_json::json!({"path": data_rel.as_str(), "digest": data_digest.to_hex()}),
        );
        metadata.insert("loss".into(), serde_json::json!(fitted.loss));
        metadata.insert("converged".into(), serde_json::json!(fitted.converged));
        let model = ModelFile {
            format: MODEL_FORMAT.into(),
            task: if classification {
                Task::BinaryClassification
            } else {
                Task::Regression
            },
            signature: Signature {
                inputs,
                outputs: vec![OutputSpec {
                    name: if classification {
                        "probability"
                    } else {
                        "prediction"
                    }
                    .into(),
                    ty: "float".into(),
                }],
            },
            model: fitted.body,
            metadata,
        };
        model
            .check()
            .map_err(|e| BuiltinFailure::new(format!("the trained model is not valid: {e}")))?;
        let out_rel = out_path(with)?;
        args::write(ctx, &out_rel, &model.to_json())?;

        let mut out = BuiltinOutput::default();
        out.param("model.learner", kind);
        out.param("model.seed", plan.seed);
        out.param("model.label", &label);
        out.param("model.features", features.join(","));
        if let Some(map) = params.as_object() {
            for (k, v) in map {
                out.param(format!("model.{k}"), v);
            }
        }
        for (step, l) in fitted.loss.iter().enumerate() {
            out.metric("train.loss", *l, step as i64);
        }
        out.metric("train.rows", n as f64, 0);
        out.metric("train.seconds", seconds, 0);
        out.say(format!(
            "trained {kind} on {n} rows x {d} features in {seconds:.3} s; loss {:.6} -> {:.6} over {} step(s){}; wrote {out_rel}",
            fitted.loss[0],
            fitted.loss[fitted.loss.len() - 1],
            fitted.loss.len() - 1,
            if fitted.converged { " (converged)" } else { " (step limit reached)" }
        ));
        Ok(out)
    }
}
