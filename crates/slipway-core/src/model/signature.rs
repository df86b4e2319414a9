//! A model's input signature (feature names and types) and output, and the checking of request
//! rows against it: a missing or mistyped feature is an error naming the feature.

use std::fmt;

/// The type of an input feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureType {
    /// A floating-point number (any JSON number).
    #[serde(alias = "double", alias = "float64", alias = "float32")]
    Float,
    /// An integer (a JSON number without a fractional part).
    #[serde(alias = "integer", alias = "int64", alias = "long")]
    Int,
    /// `true` or `false` (1 or 0 to the model).
    #[serde(alias = "boolean")]
    Bool,
}

impl FeatureType {
    /// `float`, `int` or `bool`.
    pub fn as_str(self) -> &'static str {
        match self {
            FeatureType::Float => "float",
            FeatureType::Int => "int",
            FeatureType::Bool => "bool",
        }
    }
}

impl fmt::Display for FeatureType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One input feature.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// Its name in request rows.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: FeatureType,
    /// The value used when a request omits the feature (or sends null). A feature without a
    /// default is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<f64>,
}

impl FeatureSpec {
    /// A required feature.
    pub fn required(name: &str, ty: FeatureType) -> FeatureSpec {
        FeatureSpec {
            name: name.to_string(),
            ty,
            default: None,
        }
    }
}

/// One output of a model.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Its name, e.g. `probability` or `prediction`.
    pub name: String,
    /// Its type (`float` for scores and values).
    #[serde(rename = "type")]
    pub ty: String,
}

/// What a model takes and gives.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// The input features, in the order the model reads them.
    pub inputs: Vec<FeatureSpec>,
    /// The outputs (one per prediction).
    pub outputs: Vec<OutputSpec>,
}

/// A request row that does not fit the signature.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SignatureError {
    /// A required feature is absent (or null).
    #[error("row {row}: missing feature `{feature}` ({ty}); the model needs: {expected}")]
    Missing {
        /// 0-based index of the row in the request.
        row: usize,
        /// The feature.
        feature: String,
        /// Its type.
        ty: FeatureType,
        /// Every input, comma-separated.
        expected: String,
    },
    /// A feature has a value of the wrong type.
    #[error("row {row}: feature `{feature}` must be {expected}, found {found}")]
    WrongType {
        /// 0-based index of the row in the request.
        row: usize,
        /// The feature.
        feature: String,
        /// What would be valid.
        expected: String,
        /// The value sent.
        found: String,
    },
    /// A row is not a JSON object.
    #[error("row {row} must be an object of feature name to value, found {found}")]
    NotAnObject {
        /// 0-based index of the row in the request.
        row: usize,
        /// What was sent.
        found: String,
    },
}

impl SignatureError {
    /// The feature at fault, if any.
    pub fn feature(&self) -> Option<&str> {
        match self {
            SignatureError::Missing { feature, .. } | SignatureError::WrongType { feature, .. } => {
                Some(feature)
            }
            SignatureError::NotAnObject { .. } => None,
        }
    }
}

fn short(value: &serde_json::Value) -> String {
    let text = value.to_string();
    if text.len() > 40 {
        format!("{}…", &text[..text.floor_char_boundary(40)])
    } else {
        text
    }
}

impl Signature {
    /// The input names, in order.
    pub fn input_names(&self) -> Vec<&str> {
        self.inputs.iter().map(|f| f.name.as_str()).collect()
    }

    /// The position of an input by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|f| f.name == name)
    }

    /// Converts one request row (an object of feature name to value) into the model's input
    /// vector, appended to `out`. Extra keys are ignored; a missing or null feature takes its
    /// default or is an error; a value of the wrong type is an error naming the feature.
    pub fn vectorize_into(
        &self,
        row_index: usize,
        row: &serde_json::Value,
        out: &mut Vec<f64>,
    ) -> Result<(), SignatureError> {
        let Some(map) = row.as_object() else {
            return Err(SignatureError::NotAnObject {
                row: row_index,
                found: short(row),
            });
        };
        for feature in &self.inputs {
            let value = map.get(&feature.name).filter(|v| !v.is_null());
            let Some(value) = value else {
                match feature.default {
                    Some(d) => {
                        out.push(d);
                        continue;
                    }
                    None => {
                        return Err(SignatureError::Missing {
                            row: row_index,
                            feature: feature.name.clone(),
                            ty: feature.ty,
                            expected: self
                                .inputs
                                .iter()
                                .map(|f| format!("{} ({})", f.name, f.ty))
                                .collect::<Vec<_>>()
                                .join(", "),
                        });
                    }
                }
            };
            let wrong = |expected: &str| SignatureError::WrongType {
                row: row_index,
                feature: feature.name.clone(),
                expected: expected.to_string(),
                found: short(value),
            };
            let x = match feature.ty {
                FeatureType::Float => value.as_f64().ok_or_else(|| wrong("a number"))?,
                FeatureType::Int => match (value.as_i64(), value.as_f64()) {
                    (Some(i), _) => i as f64,
                    (None, Some(f)) if f.fract() == 0.0 && f.is_finite() => f,
                    _ => return Err(wrong("an integer")),
                },
                FeatureType::Bool => match value.as_bool() {
                    Some(b) => f64::from(u8::from(b)),
                    None => return Err(wrong("true or false")),
                },
            };
            out.push(x);
        }
        Ok(())
    }

    /// Converts request rows into a row-major matrix (`rows × inputs`).
    pub fn vectorize(&self, rows: &[serde_json::Value]) -> Result<Vec<f64>, SignatureError> {
        let mut out = Vec::with_capacity(rows.len() * self.inputs.len());
        for (i, row) in rows.iter().enumerate() {
            self.vectorize_into(i, row, &mut out)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sig() -> Signature {
        Signature {
            inputs: vec![
                FeatureSpec::required("age", FeatureType::Int),
                FeatureSpec::required("income", FeatureType::Float),
                FeatureSpec {
                    name: "member".into(),
                    ty: FeatureType::Bool,
                    default: Some(0.0),
                },
            ],
            outputs: vec![OutputSpec {
                name: "probability".into(),
                ty: "float".into(),
            }],
        }
    }

    #[test]
    fn rows_become_vectors_in_signature_order() {
        let m = sig()
            .vectorize(&[
                json!({"income": 1.5, "age": 30, "member": true, "extra": "x"}),
                json!({"income": 2, "age": 40.0}),
            ])
            .unwrap();
        assert_eq!(m, vec![30.0, 1.5, 1.0, 40.0, 2.0, 0.0]);
    }

    #[test]
    fn missing_and_mistyped_features_are_named() {
        let err = sig().vectorize(&[json!({"income": 1.0})]).unwrap_err();
        assert_eq!(err.feature(), Some("age"));
        assert!(
            err.to_string().contains("missing feature `age` (int)"),
            "{err}"
        );
        let err = sig()
            .vectorize(&[
                json!({"age": 1, "income": 1.0}),
                json!({"age": "x", "income": 1}),
            ])
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("row 1: feature `age` must be an integer, found \"x\""),
            "{err}"
        );
        let err = sig()
            .vectorize(&[json!({"age": 1.5, "income": 1})])
            .unwrap_err();
        assert_eq!(err.feature(), Some("age"));
        let err = sig()
            .vectorize(&[json!({"age": 1, "income": 1, "member": 1})])
            .unwrap_err();
        assert!(err.to_string().contains("true or false"), "{err}");
        assert!(matches!(
            sig().vectorize(&[json!([1, 2])]),
            Err(SignatureError::NotAnObject { row: 0, .. })
        ));
    }

    #[test]
    fn type_aliases_parse() {
        let f: FeatureSpec = serde_json::from_str(r#"{"name": "a", "type": "double"}"#).unwrap();
        assert_eq!(f.ty, FeatureType::Float);
        assert!(serde_json::from_str::<FeatureSpec>(r#"{"name": "a", "type": "text"}"#).is_err());
    }
}
