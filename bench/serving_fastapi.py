#!/usr/bin/env python3
"""Hand-written FastAPI server for the serving benchmark: what a team would write instead of
`mlflow models serve`, on the same estimator and the same MLflow request body.

    MLFLOW_TRACKING_URI=file:WORKDIR/mlruns python bench/serving_fastapi.py PORT runs:/RUN_ID/model

POST /invocations {"dataframe_split": {"columns": [...], "data": [[...]]}}
  -> {"predictions": [P(label 1), ...]}
GET /ping -> 200 once the model is loaded.
"""
import sys
import warnings

import mlflow.sklearn
import numpy as np
import uvicorn
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

# The estimator was fitted on a DataFrame; scoring a plain ndarray (in its column order) is
# the point, so sklearn's per-call "no feature names" warning is noise.
warnings.filterwarnings("ignore", message="X does not have valid feature names")

PORT, MODEL_URI = int(sys.argv[1]), sys.argv[2]
MODEL = mlflow.sklearn.load_model(MODEL_URI)
FEATURES = list(MODEL.feature_names_in_)


class DataframeSplit(BaseModel):
    columns: list[str]
    data: list[list[float]]


class Invocation(BaseModel):
    dataframe_split: DataframeSplit


app = FastAPI()


@app.get("/ping")
def ping():
    return {}


# A plain `def`: FastAPI runs it in its thread pool, as MLflow runs predict off the event loop.
@app.post("/invocations")
def invocations(body: Invocation):
    split = body.dataframe_split
    if set(split.columns) != set(FEATURES) or len(split.columns) != len(FEATURES):
        raise HTTPException(400, f"columns must be exactly {FEATURES}")
    x = np.asarray(split.data, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(FEATURES):
        raise HTTPException(400, f"each row needs {len(FEATURES)} values")
    if split.columns != FEATURES:
        x = x[:, [split.columns.index(f) for f in FEATURES]]
    return {"predictions": MODEL.predict_proba(x)[:, 1].tolist()}


if __name__ == "__main__":
    # One worker like `mlflow models serve -w 1`. No access log: the hand-written server is
    # meant as the lean Python option (MLflow's uvicorn keeps its default access log).
    uvicorn.run(app, host="127.0.0.1", port=PORT, workers=1, log_level="warning",
                access_log=False)
