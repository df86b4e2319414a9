//! Reading a table as a model sees it: the signature's inputs (gaps filled with the feature's
//! default, or refused naming row and column), the label, and an optional group column; and
//! turning rows back into request objects.

use slipway_core::model::{FeatureType, Signature};
use slipway_serve::Model;
use std::path::Path;

/// A table loaded for a model.
#[derive(Clone, Debug)]
pub struct Table {
    /// Row-major `rows × inputs`, in signature order.
    pub x: Vec<f64>,
    /// The label of each row.
    pub y: Vec<f64>,
    /// The group of each row, when a group column was asked for.
    pub groups: Option<Vec<String>>,
    /// Rows.
    pub rows: usize,
}

/// Loads `path` for `signature`, with `label` and optionally `group`.
pub fn load(
    path: &Path,
    name: &str,
    signature: &Signature,
    label: &str,
    group: Option<&str>,
) -> Result<Table, String> {
    let mut numeric: Vec<String> = signature.inputs.iter().map(|f| f.name.clone()).collect();
    if !numeric.iter().any(|n| n == label) {
        numeric.push(label.to_string());
    }
    let text: Vec<String> = group.map(|g| vec![g.to_string()]).unwrap_or_default();
    let frame = slipway_data::load_frame(path, &numeric, &text).map_err(|e| e.to_string())?;
    let mut x = Vec::with_capacity(frame.rows * signature.inputs.len());
    let columns: Vec<&[f64]> = signature
        .inputs
        .iter()
        .map(|f| frame.column(&f.name).expect("loaded"))
        .collect();
    for r in 0..frame.rows {
        for (f, col) in signature.inputs.iter().zip(&columns) {
            let v = col[r];
            if v.is_finite() {
                x.push(v);
            } else if let Some(d) = f.default {
                x.push(d);
            } else {
                return Err(format!(
                    "{name}: row {}, feature `{}` is missing and the model has no default for it",
                    r + 1,
                    f.name
                ));
            }
        }
    }
    let y = frame.column(label).expect("loaded").to_vec();
    if let Some(r) = y.iter().position(|v| !v.is_finite()) {
        return Err(format!("{name}: row {}, label `{label}` is missing", r + 1));
    }
    Ok(Table {
        x,
        y,
        groups: group.map(|g| frame.text_column(g).expect("loaded").to_vec()),
        rows: frame.rows,
    })
}

/// Row `r` of `x` as a request object.
pub fn request_row(signature: &Signature, x: &[f64], r: usize) -> serde_json::Value {
    let n = signature.inputs.len();
    let mut map = serde_json::Map::new();
    for (f, &v) in signature.inputs.iter().zip(&x[r * n..(r + 1) * n]) {
        let value = match f.ty {
            FeatureType::Int if v.fract() == 0.0 => serde_json::json!(v as i64),
            FeatureType::Bool => serde_json::json!(v != 0.0),
            _ => serde_json::json!(v),
        };
        map.insert(f.name.clone(), value);
    }
    serde_json::Value::Object(map)
}

/// Predictions for a whole table, in batches.
pub fn predict_all(model: &dyn Model, x: &[f64]) -> Result<Vec<f64>, String> {
    let n = model.signature().inputs.len();
    let mut out = Vec::with_capacity(x.len() / n.max(1));
    for chunk in x.chunks(4096 * n) {
        out.extend(model.predict_matrix(chunk).map_err(|e| e.to_string())?);
    }
    Ok(out)
}
