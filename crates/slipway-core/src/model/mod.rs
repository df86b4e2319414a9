//! Slipway's built-in model format: the linear models and tree ensembles its own trainer
//! produces, as a JSON document with the model's input signature, and their inference.
//!
//! The format is pure data and its inference pure arithmetic, so the trainer, the evaluator and
//! the serving gateway share one definition without an ONNX runtime. A document is checked
//! completely when parsed ([`ModelFile::parse`]): weights match the inputs, every tree node
//! points forward to an existing node and reads an existing feature. Prediction is then
//! infallible on a vector in signature order ([`ModelFile::predict_vector`]).
//!
//! ```json
//! {"format": "slipway-model/1", "task": "binary_classification",
//!  "signature": {"inputs": [{"name": "age", "type": "float"}],
//!                "outputs": [{"name": "probability", "type": "float"}]},
//!  "model": {"kind": "linear", "link": "logistic", "intercept": -1.2, "weights": [0.03]},
//!  "metadata": {"trainer": "slipway/train", "seed": 7}}
//! ```
//! The document holds no time stamp, so the same training inputs give the same bytes.

pub mod signature;

pub use signature::{FeatureSpec, FeatureType, OutputSpec, Signature, SignatureError};

use std::collections::BTreeMap;

/// The format tag of a built-in model document.
pub const MODEL_FORMAT: &str = "slipway-model/1";

/// What a model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// The probability of the positive class (label 1).
    BinaryClassification,
    /// A real value.
    Regression,
}

impl Task {
    /// `binary_classification` or `regression`.
    pub fn as_str(self) -> &'static str {
        match self {
            Task::BinaryClassification => "binary_classification",
            Task::Regression => "regression",
        }
    }
}

/// How the raw score becomes the prediction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// The score itself.
    Identity,
    /// `1 / (1 + e^-score)`.
    Logistic,
}

impl Link {
    /// Applies the link to a raw score.
    pub fn apply(self, score: f64) -> f64 {
        match self {
            Link::Identity => score,
            Link::Logistic => sigmoid(score),
        }
    }
}

/// The logistic function, computed without overflow for large |z|.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// One node of a regression tree: a split (go `left` when `x[feature] <= threshold`) or a leaf.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Node {
    /// An internal node.
    Split {
        /// Index of the input feature it reads.
        feature: usize,
        /// Values at or below go left.
        threshold: f64,
        /// Index of the left child (greater than this node's index).
        left: usize,
        /// Index of the right child (greater than this node's index).
        right: usize,
    },
    /// A leaf: its contribution to the score.
    Leaf {
        /// The value added to the score.
        value: f64,
    },
}

/// A regression tree; node 0 is the root.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tree {
    /// The nodes; children always come after their parent.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// The leaf value `x` lands in.
    pub fn eval(&self, x: &[f64]) -> f64 {
        let mut i = 0;
        loop {
            match &self.nodes[i] {
                Node::Leaf { value } => return *value,
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    i = if x[*feature] <= *threshold {
                        *left
                    } else {
                        *right
                    };
                }
            }
        }
    }
}

/// The model proper.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelBody {
    /// `link(intercept + Σ weights[i] · x[i])`.
    Linear {
        /// How the score becomes the prediction.
        link: Link,
        /// The intercept.
        intercept: f64,
        /// One weight per input.
        weights: Vec<f64>,
    },
    /// `link(base_score + Σ tree(x))`: boosted trees whose leaves already include the learning
    /// rate.
    TreeEnsemble {
        /// How the score becomes the prediction.
        link: Link,
        /// The starting score.
        base_score: f64,
        /// The trees.
        trees: Vec<Tree>,
    },
}

/// A built-in model document.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// Always [`MODEL_FORMAT`].
    pub format: String,
    /// What it predicts.
    pub task: Task,
    /// What it takes and gives.
    pub signature: Signature,
    /// The model.
    pub model: ModelBody,
    /// Free-form facts (trainer, params, seed, label, training rows); never a time stamp.
    #[serde(default)]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

/// Why a model document is not valid.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// Not JSON, or not the shape of a model document.
    #[error("not a slipway model document: {0}")]
    Syntax(String),
    /// The format tag is not one this build reads.
    #[error("model format `{found}` is not supported; this slipway reads `{MODEL_FORMAT}`")]
    Format {
        /// The tag found.
        found: String,
    },
    /// The document is well-formed JSON but inconsistent.
    #[error("invalid model: {0}")]
    Invalid(String),
}

impl ModelFile {
    /// Parses and checks a model document.
    pub fn parse(text: &str) -> Result<ModelFile, ModelError> {
        let model: ModelFile =
            serde_json::from_str(text).map_err(|e| ModelError::Syntax(e.to_string()))?;
        model.check()?;
        Ok(model)
    }

    /// Checks the document's consistency (what [`ModelFile::parse`] does after reading).
    pub fn check(&self) -> Result<(), ModelError> {
        if self.format != MODEL_FORMAT {
            return Err(ModelError::Format {
                found: self.format.clone(),
            });
        }
        let n = self.signature.inputs.len();
        if n == 0 {
            return Err(ModelError::Invalid(
                "the signature has no inputs; a model needs at least one feature".into(),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for f in &self.signature.inputs {
            if !names.insert(f.name.as_str()) {
                return Err(ModelError::Invalid(format!(
                    "input `{}` appears twice in the signature",
                    f.name
                )));
            }
            if f.default.is_some_and(|d| !d.is_finite()) {
                return Err(ModelError::Invalid(format!(
                    "input `{}` has a non-finite default",
                    f.name
                )));
            }
        }
        if self.signature.outputs.len() != 1 {
            return Err(ModelError::Invalid(format!(
                "the signature must have exactly one output, found {}",
                self.signature.outputs.len()
            )));
        }
        match &self.model {
            ModelBody::Linear {
                weights, intercept, ..
            } => {
                if weights.len() != n {
                    return Err(ModelError::Invalid(format!(
                        "{} weights for {n} inputs; a linear model needs one weight per input",
                        weights.len()
                    )));
                }
                if !intercept.is_finite() || weights.iter().any(|w| !w.is_finite()) {
                    return Err(ModelError::Invalid(
                        "weights and intercept must be finite numbers".into(),
                    ));
                }
            }
            ModelBody::TreeEnsemble {
                trees, base_score, ..
            } => {
                if !base_score.is_finite() {
                    return Err(ModelError::Invalid("base_score must be finite".into()));
                }
                for (t, tree) in trees.iter().enumerate() {
                    check_tree(t, tree, n)?;
                }
            }
        }
        Ok(())
    }

    /// The prediction for one input vector in signature order (length = number of inputs).
    pub fn predict_vector(&self, x: &[f64]) -> f64 {
        match &self.model {
            ModelBody::Linear {
                link,
                intercept,
                weights,
            } => {
                let mut z = *intercept;
                for (w, v) in weights.iter().zip(x) {
                    z += w * v;
                }
                link.apply(z)
            }
            ModelBody::TreeEnsemble {
                link,
                base_score,
                trees,
            } => {
                let mut z = *base_score;
                for tree in trees {
                    z += tree.eval(x);
                }
                link.apply(z)
            }
        }
    }

    /// Predictions for a row-major matrix (`rows × inputs`).
    pub fn predict_matrix(&self, x: &[f64]) -> Vec<f64> {
        let n = self.signature.inputs.len();
        x.chunks_exact(n)
            .map(|row| self.predict_vector(row))
            .collect()
    }

    /// The document as pretty JSON with a trailing newline: the bytes a trainer writes. Equal
    /// models give equal bytes.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a model is plain data");
        text.push('\n');
        text
    }
}

fn check_tree(t: usize, tree: &Tree, n_inputs: usize) -> Result<(), ModelError> {
    let bad = |message: String| Err(ModelError::Invalid(format!("tree {t}: {message}")));
    if tree.nodes.is_empty() {
        return bad("has no nodes".into());
    }
    for (i, node) in tree.nodes.iter().enumerate() {
        match node {
            Node::Split {
                feature,
                threshold,
                left,
                right,
            } => {
                if *feature >= n_inputs {
                    return bad(format!(
                        "node {i} reads feature {feature}, but there are {n_inputs} inputs"
                    ));
                }
                if threshold.is_nan() {
                    return bad(format!("node {i} has a NaN threshold"));
                }
                for child in [left, right] {
                    if *child <= i || *child >= tree.nodes.len() {
                        return bad(format!(
                            "node {i} points to node {child}; children must come after their parent and exist"
                        ));
                    }
                }
            }
            Node::Leaf { value } => {
                if !value.is_finite() {
                    return bad(format!("leaf {i} is not finite"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear() -> ModelFile {
        ModelFile {
            format: MODEL_FORMAT.into(),
            task: Task::BinaryClassification,
            signature: Signature {
                inputs: vec![
                    FeatureSpec::required("a", FeatureType::Float),
                    FeatureSpec::required("b", FeatureType::Float),
                ],
                outputs: vec![OutputSpec {
                    name: "probability".into(),
                    ty: "float".into(),
                }],
            },
            model: ModelBody::Linear {
                link: Link::Logistic,
                intercept: 0.5,
                weights: vec![1.0, -2.0],
            },
            metadata: BTreeMap::new(),
        }
    }

    #[test]
    fn linear_prediction_and_round_trip() {
        let m = linear();
        let p = m.predict_vector(&[1.0, 1.0]);
        assert_eq!(p, sigmoid(-0.5));
        let again = ModelFile::parse(&m.to_json()).unwrap();
        assert_eq!(again, m);
        assert_eq!(again.to_json(), m.to_json());
        assert_eq!(
            m.predict_matrix(&[1.0, 1.0, 0.0, 0.0]),
            vec![p, sigmoid(0.5)]
        );
    }

    #[test]
    fn trees_follow_their_splits() {
        let mut m = linear();
        m.task = Task::Regression;
        m.model = ModelBody::TreeEnsemble {
            link: Link::Identity,
            base_score: 1.0,
            trees: vec![Tree {
                nodes: vec![
                    Node::Split {
                        feature: 1,
                        threshold: 0.5,
                        left: 1,
                        right: 2,
                    },
                    Node::Leaf { value: -1.0 },
                    Node::Leaf { value: 2.0 },
                ],
            }],
        };
        assert_eq!(m.predict_vector(&[9.0, 0.5]), 0.0);
        assert_eq!(m.predict_vector(&[9.0, 0.6]), 3.0);
        let text = m.to_json();
        assert_eq!(ModelFile::parse(&text).unwrap(), m);
    }

    #[test]
    fn inconsistent_documents_are_refused() {
        let mut m = linear();
        m.model = ModelBody::Linear {
            link: Link::Identity,
            intercept: 0.0,
            weights: vec![1.0],
        };
        let err = ModelFile::parse(&m.to_json()).unwrap_err();
        assert!(err.to_string().contains("1 weights for 2 inputs"), "{err}");
        let mut m = linear();
        m.model = ModelBody::TreeEnsemble {
            link: Link::Identity,
            base_score: 0.0,
            trees: vec![Tree {
                nodes: vec![Node::Split {
                    feature: 0,
                    threshold: 0.0,
                    left: 0,
                    right: 1,
                }],
            }],
        };
        let err = ModelFile::parse(&m.to_json()).unwrap_err();
        assert!(
            err.to_string().contains("tree 0: node 0 points to node 0"),
            "{err}"
        );
        let err =
            ModelFile::parse(&linear().to_json().replace("slipway-model/1", "x/2")).unwrap_err();
        assert!(matches!(err, ModelError::Format { .. }));
        assert!(matches!(ModelFile::parse("{"), Err(ModelError::Syntax(_))));
    }

    #[test]
    fn sigmoid_is_stable_at_the_extremes() {
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert_eq!(sigmoid(0.0), 0.5);
    }
}
