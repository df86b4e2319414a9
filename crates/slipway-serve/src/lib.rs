//! Slipway's model runtimes: one [`Model`] trait over the built-in JSON format
//! ([`BuiltinModel`], pure arithmetic from `slipway_core::model`) and ONNX ([`OnnxModel`],
//! through the pure-Rust tract runtime).
//!
//! Every model has an input [`Signature`] (feature names and types) and one output. Requests
//! are rows (JSON objects of feature name to value); [`Model::predict`] checks each row against
//! the signature first, so a missing or mistyped feature is an error naming the feature
//! ([`PredictError::Request`]), never a wrong number. [`load`] picks the runtime from the file.
//!
//! This crate exists on its own so that tract, the heaviest dependency, is compiled once and
//! rarely again: nothing here changes when the pipeline, the store or the server change.
#![deny(missing_docs)]

mod builtin;
mod onnx;

pub use builtin::BuiltinModel;
pub use onnx::OnnxModel;
pub use slipway_core::model::{FeatureSpec, FeatureType, OutputSpec, Signature, SignatureError};

use std::path::{Path, PathBuf};

/// Which runtime a model runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelFormat {
    /// Slipway's JSON format (`slipway-model/1`).
    Builtin,
    /// ONNX, run by tract.
    Onnx,
}

impl ModelFormat {
    /// `slipway-model/1` or `onnx`: the name reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelFormat::Builtin => slipway_core::model::MODEL_FORMAT,
            ModelFormat::Onnx => "onnx",
        }
    }

    /// The format of a model file, by its name: `.onnx` is ONNX, anything else the built-in
    /// JSON format.
    pub fn of_path(path: &Path) -> ModelFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("onnx") => ModelFormat::Onnx,
            _ => ModelFormat::Builtin,
        }
    }
}

/// A loaded model, ready to predict. Safe to share between threads.
pub trait Model: Send + Sync {
    /// What it takes and gives.
    fn signature(&self) -> &Signature;

    /// Its runtime.
    fn format(&self) -> ModelFormat;

    /// Predictions for a row-major matrix of `rows × inputs` values in signature order: the
    /// probability of the positive class for classifiers, the value for regressors.
    fn predict_matrix(&self, x: &[f64]) -> Result<Vec<f64>, PredictError>;

    /// Predictions for request rows, each checked against the signature.
    fn predict(&self, rows: &[serde_json::Value]) -> Result<Vec<f64>, PredictError> {
        let x = self.signature().vectorize(rows)?;
        self.predict_matrix(&x)
    }
}

/// Why a prediction failed.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// A request row does not fit the signature (names the row and feature): the caller's
    /// fault (HTTP 400).
    #[error(transparent)]
    Request(#[from] SignatureError),
    /// The input matrix does not have `inputs` columns.
    #[error("input has {values} values, not a multiple of the model's {inputs} inputs")]
    Shape {
        /// Values given.
        values: usize,
        /// Inputs per row.
        inputs: usize,
    },
    /// The runtime failed (the model's fault, HTTP 500).
    #[error("the model failed to run: {0}")]
    Runtime(String),
}

/// Why a model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read model {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid built-in model document.
    #[error("model {}: {source}", .path.display())]
    Builtin {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: slipway_core::model::ModelError,
    },
    /// tract could not load or plan the ONNX graph.
    #[error("ONNX model {}: {message}", .path.display())]
    Onnx {
        /// The file.
        path: PathBuf,
        /// What tract reported, and what to do.
        message: String,
    },
    /// The signature file is missing pieces or does not fit the graph.
    #[error("signature of {}: {message}", .path.display())]
    Signature {
        /// The model file.
        path: PathBuf,
        /// What is wrong and what would be valid.
        message: String,
    },
}

/// Loads a model file with the runtime its name implies ([`ModelFormat::of_path`]). An ONNX
/// model's signature is read from `<file>.signature.json` beside it when present (see
/// [`OnnxModel::load`]).
pub fn load(path: &Path) -> Result<Box<dyn Model>, LoadError> {
    match ModelFormat::of_path(path) {
        ModelFormat::Builtin => Ok(Box::new(BuiltinModel::load(path)?)),
        ModelFormat::Onnx => Ok(Box::new(OnnxModel::load(path, None)?)),
    }
}

/// The model file in a restored artifact: the file itself (named for its runtime by sniffing
/// its first byte: `{` is the built-in JSON format, anything else ONNX), or in a directory the
/// first `.onnx` or `.json` file (signature sidecars excluded). A bare file is renamed to carry
/// the extension its runtime needs.
pub fn model_file(restored: &Path) -> Option<PathBuf> {
    if restored.is_file() {
        let first = std::fs::read(restored)
            .ok()?
            .into_iter()
            .find(|b| !b.is_ascii_whitespace());
        let named = restored.with_extension(if first == Some(b'{') { "json" } else { "onnx" });
        std::fs::rename(restored, &named).ok()?;
        return Some(named);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(restored)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.to_string_lossy();
            !name.ends_with(".signature.json")
                && (name.ends_with(".onnx") || name.ends_with(".json"))
        })
        .collect();
    files.sort();
    files.into_iter().next()
}

/// The sidecar signature file of an ONNX model: `<file>.signature.json`.
pub fn signature_path(model: &Path) -> PathBuf {
    let mut name = model.as_os_str().to_owned();
    name.push(".signature.json");
    PathBuf::from(name)
}

fn check_shape(x: &[f64], inputs: usize) -> Result<usize, PredictError> {
    if inputs == 0 || !x.len().is_multiple_of(inputs) {
        return Err(PredictError::Shape {
            values: x.len(),
            inputs,
        });
    }
    Ok(x.len() / inputs)
}
