#!/usr/bin/env python3
"""Model and request bodies for the serving benchmark (bench/serving.sh).

    python bench/serving_setup.py WORKDIR      # venv with mlflow, scikit-learn, pandas

One scikit-learn LogisticRegression, written twice so every server scores the identical model:
  WORKDIR/mlruns/, WORKDIR/run_id   logged with mlflow.sklearn (served by MLflow and FastAPI)
  WORKDIR/model.json                the same weights as a `slipway-model/1` document
and the request bodies (one row, the same values in both shapes):
  WORKDIR/single_split.json         {"dataframe_split": ...}  MLflow, FastAPI, Slipway /invocations
  WORKDIR/single_rows.json          {"rows": [...]}           Slipway :predict, bare axum
  WORKDIR/single_expected.json      sklearn's P(label 1) for that row, to eyeball responses
"""
import json
import os
import sys
import warnings

import numpy as np
import pandas as pd

N_ROWS, N_FEATURES, SEED = 20_000, 20, 7
COLUMNS = [f"f{j:02d}" for j in range(N_FEATURES)]


def slipway_document(model):
    # Mirrors slipway_core::model::ModelFile (deny_unknown_fields: no extra keys anywhere).
    return {
        "format": "slipway-model/1",
        "task": "binary_classification",
        "signature": {
            "inputs": [{"name": c, "type": "float"} for c in model.feature_names_in_],
            "outputs": [{"name": "probability", "type": "float"}],
        },
        "model": {
            "kind": "linear",
            "link": "logistic",
            # Python writes the shortest repr that round-trips, and slipway-core parses with
            # serde_json's float_roundtrip, so these are the exact f64 weights.
            "intercept": float(model.intercept_[0]),
            "weights": [float(w) for w in model.coef_[0]],
        },
        "metadata": {"trainer": "sklearn.linear_model.LogisticRegression",
                     "source": "bench/serving_setup.py", "seed": SEED, "rows": N_ROWS},
    }


def slipway_predict(doc, X):
    """What ModelFile::predict_vector computes, from the document alone."""
    names = [f["name"] for f in doc["signature"]["inputs"]]
    assert names == COLUMNS, names
    z = doc["model"]["intercept"] + X @ np.array(doc["model"]["weights"])
    # Same overflow-free split as slipway_core::model::sigmoid.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, separators=(",", ":"))


def main():
    work = os.path.abspath(sys.argv[1])
    os.makedirs(work, exist_ok=True)
    # MLflow 3.x keeps the plain file store behind this opt-in ("maintenance mode").
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    warnings.filterwarnings("ignore")
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(SEED)
    X = pd.DataFrame(rng.standard_normal((N_ROWS, N_FEATURES)), columns=COLUMNS)
    # A fixed rule: alternating-sign weights of decreasing size, plus unit noise; small enough
    # that probabilities are not all saturated near 0 or 1.
    rule = np.array([(-1) ** j * (0.6 - j / 40) for j in range(N_FEATURES)])
    y = (X.to_numpy() @ rule + rng.standard_normal(N_ROWS) > 0).astype(int)
    model = LogisticRegression(max_iter=1000).fit(X, y)

    mlflow.set_tracking_uri("file:" + os.path.join(work, "mlruns"))
    mlflow.set_experiment("serving-bench")
    with mlflow.start_run() as run:
        signature = infer_signature(X.head(5), model.predict(X.head(5)))
        mlflow.sklearn.log_model(model, name="model", signature=signature,
                                 input_example=X.head(2))
    with open(os.path.join(work, "run_id"), "w") as f:
        f.write(run.info.run_id + "\n")

    path = os.path.join(work, "model.json")
    with open(path, "w") as f:
        json.dump(slipway_document(model), f, indent=2)
        f.write("\n")
    with open(path) as f:  # check what was written, not the in-memory dict
        doc = json.load(f)
    check = X.head(100)
    gap = np.max(np.abs(slipway_predict(doc, check.to_numpy()) - model.predict_proba(check)[:, 1]))
    if not gap <= 1e-9:
        sys.exit(f"model.json disagrees with sklearn by {gap:g}")

    # A request row of its own (not training data), 6 decimals: a 351-byte split body, like the
    # reference measurement's.
    row = np.round(np.random.default_rng(SEED + 1).standard_normal(N_FEATURES), 6)
    write_json(os.path.join(work, "single_split.json"),
               {"dataframe_split": {"columns": COLUMNS, "data": [row.tolist()]}})
    write_json(os.path.join(work, "single_rows.json"),
               {"rows": [dict(zip(COLUMNS, row.tolist()))]})
    p = model.predict_proba(pd.DataFrame([row], columns=COLUMNS))[0, 1]
    write_json(os.path.join(work, "single_expected.json"),
               {"probability": float(p), "label": int(p > 0.5)})

    print(f"run {run.info.run_id}: train accuracy {model.score(X, y):.4f}; "
          f"model.json matches predict_proba on 100 rows (max |diff| {gap:.1e}); "
          f"single row P(1) = {p:.6g}")


if __name__ == "__main__":
    main()
