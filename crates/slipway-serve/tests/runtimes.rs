//! The runtimes on real model files: scikit-learn models converted with skl2onnx predict what
//! scikit-learn predicted (fixtures from `fixtures/make_onnx_fixtures.py`), and requests are
//! checked against the signature.

use serde_json::{Value, json};
use slipway_serve::{BuiltinModel, LoadError, Model, ModelFormat, OnnxModel, PredictError, load};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("onnx_expected.json")).unwrap()).unwrap()
}

fn rows(expected: &Value) -> Vec<Value> {
    let features: Vec<&str> = expected["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    expected["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let map: serde_json::Map<String, Value> = features
                .iter()
                .zip(row.as_array().unwrap())
                .map(|(f, v)| (f.to_string(), v.clone()))
                .collect();
            Value::Object(map)
        })
        .collect()
}

#[test]
fn skl2onnx_models_predict_what_scikit_learn_predicted() {
    let expected = expected();
    let rows = rows(&expected);
    for name in ["logreg", "forest", "linreg"] {
        let model = load(&fixture(&format!("{name}.onnx"))).unwrap();
        assert_eq!(model.format(), ModelFormat::Onnx);
        assert_eq!(model.signature().inputs[1].name, "income");
        let got = model.predict(&rows).unwrap();
        let want: Vec<f64> = expected["predictions"][name]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(got.len(), want.len());
        let worst = got
            .iter()
            .zip(&want)
            .map(|(g, w)| (g - w).abs())
            .fold(0.0, f64::max);
        assert!(worst <= 1e-5, "{name}: max |onnx - sklearn| = {worst}");
        // Not a constant model: the predictions vary.
        assert!(want.iter().any(|w| (w - want[0]).abs() > 1e-3), "{name}");
        // One row at a time gives the same numbers as a batch (symbolic batch dimension).
        let one = model.predict(&rows[3..4]).unwrap();
        assert!((one[0] - got[3]).abs() < 1e-12, "{name}");
    }
}

#[test]
fn onnx_requests_are_checked_against_the_signature() {
    let model = load(&fixture("logreg.onnx")).unwrap();
    let err = model
        .predict(&[json!({"age": 1.0, "income": 2.0, "debt_ratio": 0.1, "tenure": 3})])
        .unwrap_err();
    assert!(
        matches!(&err, PredictError::Request(e) if e.feature() == Some("score")),
        "{err}"
    );
    let err = model
        .predict(&[
            json!({"age": "old", "income": 2.0, "debt_ratio": 0.1, "tenure": 3, "score": 1}),
        ])
        .unwrap_err();
    assert!(
        err.to_string().contains("feature `age` must be a number"),
        "{err}"
    );
}

#[test]
fn without_a_sidecar_the_signature_is_derived_from_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.onnx");
    std::fs::copy(fixture("logreg.onnx"), &path).unwrap();
    let model = OnnxModel::load(&path, None).unwrap();
    let names = model.signature().input_names();
    assert_eq!(names, ["x0", "x1", "x2", "x3", "x4"]);
    assert_eq!(model.signature().outputs[0].name, "probabilities");
    // A signature that does not fit the graph is refused, naming the mismatch.
    std::fs::write(
        dir.path().join("m.onnx.signature.json"),
        r#"{"inputs": [{"name": "a", "type": "float"}], "outputs": [{"name": "probabilities", "type": "float"}]}"#,
    )
    .unwrap();
    let err = OnnxModel::load(&path, None).unwrap_err();
    assert!(matches!(err, LoadError::Signature { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("1 inputs but the graph's input has 5"),
        "{err}"
    );
    std::fs::write(dir.path().join("m.onnx"), b"not onnx").unwrap();
    assert!(matches!(load(&path), Err(LoadError::Onnx { .. })));
}

#[test]
fn builtin_models_load_and_predict() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    std::fs::write(
        &path,
        r#"{"format": "slipway-model/1", "task": "regression",
            "signature": {"inputs": [{"name": "a", "type": "float"}, {"name": "b", "type": "int", "default": 2}],
                          "outputs": [{"name": "prediction", "type": "float"}]},
            "model": {"kind": "linear", "link": "identity", "intercept": 1.0, "weights": [2.0, 10.0]}}"#,
    )
    .unwrap();
    let model = load(&path).unwrap();
    assert_eq!(model.format(), ModelFormat::Builtin);
    let p = model
        .predict(&[json!({"a": 1.5, "b": 1}), json!({"a": 0})])
        .unwrap();
    assert_eq!(p, vec![14.0, 21.0]);
    let err = model.predict(&[json!({"b": 1})]).unwrap_err();
    assert!(err.to_string().contains("missing feature `a`"), "{err}");
    assert!(matches!(
        model.predict_matrix(&[1.0, 2.0, 3.0]),
        Err(PredictError::Shape { .. })
    ));
    std::fs::write(&path, r#"{"format": "slipway-model/1"}"#).unwrap();
    let err = BuiltinModel::load(&path).unwrap_err();
    assert!(err.to_string().contains("model.json"), "{err}");
}
