//! ONNX models through tract (pure Rust, no native runtime, nothing downloaded).
//!
//! Supported graphs take one 2-D float input `[batch, features]` (what skl2onnx writes) and give
//! either a `[batch, 2]` class-probability output (the positive class is column 1) or a
//! `[batch]`/`[batch, 1]` value output. The batch dimension is symbolic, so one plan serves any
//! number of rows. Converters must not add a ZipMap (`options={id(model): {"zipmap": False}}`
//! in skl2onnx): sequences of maps are not tensors.

use crate::{LoadError, Model, ModelFormat, PredictError, check_shape, signature_path};
use slipway_core::model::{FeatureSpec, FeatureType, OutputSpec, Signature};
use std::path::Path;
use std::sync::Arc;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

type Plan = Arc<TypedRunnableModel>;

/// An ONNX model, planned once for any batch size.
pub struct OnnxModel {
    plan: Plan,
    signature: Signature,
    /// Index of the graph output that holds the predictions.
    output: usize,
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel")
            .field("signature", &self.signature)
            .field("output", &self.output)
            .finish()
    }
}

impl OnnxModel {
    /// Loads and plans an ONNX file. The signature is `signature` if given, else
    /// `<file>.signature.json` if it exists, else derived from the graph: features `x0…x{n-1}`
    /// (all float) and the `probabilities` output if there is one, else the first output.
    pub fn load(path: &Path, signature: Option<Signature>) -> Result<OnnxModel, LoadError> {
        let onnx_err = |e: TractError| LoadError::Onnx {
            path: path.to_path_buf(),
            message: format!("{e:#}"),
        };
        let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut model = tract_onnx::onnx()
            .model_for_read(&mut bytes.as_slice())
            .map_err(onnx_err)?;
        if model.input_outlets().map_err(onnx_err)?.len() != 1 {
            return Err(LoadError::Onnx {
                path: path.to_path_buf(),
                message: "the graph must have exactly one input (a [batch, features] float tensor)"
                    .into(),
            });
        }
        let input_fact = model.input_fact(0).map_err(onnx_err)?.clone();
        let width = input_fact
            .shape
            .dims()
            .nth(1)
            .and_then(|d| d.concretize())
            .and_then(|d| d.as_i64())
            .map(|d| d as usize);
        let signature = match signature {
            Some(s) => s,
            None => read_sidecar(path)?.unwrap_or_else(|| derived(width.unwrap_or(0), &model)),
        };
        let n = signature.inputs.len();
        if let Some(w) = width
            && w != n
        {
            return Err(LoadError::Signature {
                path: path.to_path_buf(),
                message: format!(
                    "the signature lists {n} inputs but the graph's input has {w} columns"
                ),
            });
        }
        let output_names: Vec<String> = model
            .output_outlets()
            .map_err(onnx_err)?
            .iter()
            .map(|o| {
                model
                    .outlet_label(*o)
                    .map(str::to_string)
                    .unwrap_or_else(|| model.node(o.node).name.clone())
            })
            .collect();
        let wanted = signature
            .outputs
            .first()
            .map(|o| o.name.clone())
            .unwrap_or_default();
        let output = output_names
            .iter()
            .position(|n| *n == wanted)
            .ok_or_else(|| LoadError::Signature {
                path: path.to_path_buf(),
                message: format!(
                    "output `{wanted}` is not an output of the graph; outputs are: {}",
                    output_names.join(", ")
                ),
            })?;
        let batch = model.sym("batch");
        model
            .set_input_fact(
                0,
                InferenceFact::dt_shape(f32::datum_type(), [batch.to_dim(), (n as i64).to_dim()]),
            )
            .map_err(onnx_err)?;
        let plan = model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(onnx_err)?;
        Ok(OnnxModel {
            plan,
            signature,
            output,
        })
    }
}

fn read_sidecar(path: &Path) -> Result<Option<Signature>, LoadError> {
    let sidecar = signature_path(path);
    match std::fs::read_to_string(&sidecar) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| LoadError::Signature {
                path: path.to_path_buf(),
                message: format!(
                    "{} is not a signature (inputs: [{{name, type}}], outputs: [{{name, type}}]): {e}",
                    sidecar.display()
                ),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LoadError::Io {
            path: sidecar,
            source,
        }),
    }
}

fn derived(width: usize, model: &InferenceModel) -> Signature {
    let outputs: Vec<String> = model
        .output_outlets()
        .map(|outs| {
            outs.iter()
                .map(|o| model.outlet_label(*o).unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    let output = if outputs.iter().any(|o| o == "probabilities") {
        "probabilities".to_string()
    } else {
        outputs.first().cloned().unwrap_or_default()
    };
    Signature {
        inputs: (0..width)
            .map(|i| FeatureSpec::required(&format!("x{i}"), FeatureType::Float))
            .collect(),
        outputs: vec![OutputSpec {
            name: output,
            ty: "float".into(),
        }],
    }
}

impl Model for OnnxModel {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn format(&self) -> ModelFormat {
        ModelFormat::Onnx
    }

    fn predict_matrix(&self, x: &[f64]) -> Result<Vec<f64>, PredictError> {
        let n = self.signature.inputs.len();
        let rows = check_shape(x, n)?;
        let values: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let input = tract_ndarray::Array2::from_shape_vec((rows, n), values)
            .map_err(|e| PredictError::Runtime(e.to_string()))?;
        let outputs = self
            .plan
            .run(tvec!(Tensor::from(input).into()))
            .map_err(|e| PredictError::Runtime(format!("{e:#}")))?;
        let out = outputs[self.output]
            .cast_to::<f64>()
            .map_err(|e| PredictError::Runtime(format!("{e:#}")))?;
        let view = out
            .to_plain_array_view::<f64>()
            .map_err(|e| PredictError::Runtime(format!("{e:#}")))?;
        let shape = view.shape().to_vec();
        let flat: Vec<f64> = view.iter().copied().collect();
        match shape.as_slice() {
            [r] if *r == rows => Ok(flat),
            [r, 1] if *r == rows => Ok(flat),
            [r, 2] if *r == rows => Ok(flat.chunks_exact(2).map(|p| p[1]).collect()),
            other => Err(PredictError::Runtime(format!(
                "output has shape {other:?}; expected [{rows}], [{rows}, 1] or [{rows}, 2] (binary class probabilities)"
            ))),
        }
    }
}
