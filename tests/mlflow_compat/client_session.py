"""Drives a Slipway tracker with the real `mlflow` client, as a user's script would.

Usage: MLFLOW_TRACKING_URI=http://127.0.0.1:PORT python client_session.py
Optional: PIPELINE_RUN_ID (a run recorded by `slipway run` / the store) is checked for
visibility. Prints one line per check and a closing "N passed, N failed"; exits 1 on any failure.
"""

import os
import sys
import tempfile
import traceback

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except MlflowException as e:
        assert e.error_code == code, f"expected {code}, got {e.error_code}: {e}"
        return e
    raise AssertionError(f"expected MlflowException {code}, nothing was raised")


STATE = {}


@check
def typical_training_script():
    exp = mlflow.set_experiment("compat-typical")
    STATE["experiment_id"] = exp.experiment_id
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"depth": 3, "seed": 7})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"auc": 0.91, "f1": 0.8})
        mlflow.log_metric("weird", float("nan"))
        mlflow.set_tag("team", "risk")
        mlflow.set_tags({"purpose": "compat", "owner": "alice"})
        with tempfile.TemporaryDirectory() as d:
            notes = os.path.join(d, "notes.txt")
            with open(notes, "w") as f:
                f.write("hello slipway")
            mlflow.log_artifact(notes)
            plots = os.path.join(d, "plots")
            os.makedirs(os.path.join(plots, "sub"))
            with open(os.path.join(plots, "a.txt"), "w") as f:
                f.write("A")
            with open(os.path.join(plots, "sub", "b.txt"), "w") as f:
                f.write("B" * 100_000)
            mlflow.log_artifacts(plots, artifact_path="plots")
        mlflow.log_dict({"layers": [64, 32], "act": "relu"}, "config/model.json")
        mlflow.log_text("free text", "notes/readme.md")
        df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
        dataset = mlflow.data.from_pandas(df, name="train-set", targets="y")
        mlflow.log_input(dataset, context="training")
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("child_metric", 1.5)
    STATE["parent"] = parent.info.run_id
    STATE["child"] = child.info.run_id

    client = MlflowClient()
    run = client.get_run(parent.info.run_id)
    assert run.info.status == "FINISHED", run.info.status
    assert run.info.end_time is not None
    assert run.info.run_name == "parent"
    assert run.data.params == {"lr": "0.01", "depth": "3", "seed": "7"}, run.data.params
    assert run.data.metrics["loss"] == 0.2
    assert run.data.metrics["auc"] == 0.91
    assert run.data.metrics["weird"] != run.data.metrics["weird"], "NaN survives"
    assert run.data.tags["team"] == "risk"
    assert run.data.tags["owner"] == "alice"
    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1 and inputs[0].dataset.name == "train-set", inputs
    assert any(t.key == "mlflow.data.context" and t.value == "training" for t in inputs[0].tags)
    child_run = client.get_run(child.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id


@check
def metric_history_in_order():
    client = MlflowClient()
    history = client.get_metric_history(STATE["parent"], "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4], history
    assert [round(m.value, 4) for m in history] == [1.0, 0.5, 0.3333, 0.25, 0.2]


@check
def artifacts_list_and_download():
    client = MlflowClient()
    run_id = STATE["parent"]
    top = sorted((a.path, a.is_dir) for a in client.list_artifacts(run_id))
    assert top == [("config", True), ("notes", True), ("notes.txt", False), ("plots", True)], top
    plots = sorted((a.path, a.is_dir, a.file_size) for a in client.list_artifacts(run_id, "plots"))
    assert plots == [("plots/a.txt", False, 1), ("plots/sub", True, None)], plots
    with tempfile.TemporaryDirectory() as d:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=d)
        with open(os.path.join(local, "notes.txt")) as f:
            assert f.read() == "hello slipway"
        with open(os.path.join(local, "plots", "sub", "b.txt")) as f:
            assert f.read() == "B" * 100_000
    run = client.get_run(run_id)
    loaded = mlflow.artifacts.load_dict(run.info.artifact_uri + "/config/model.json")
    assert loaded == {"layers": [64, 32], "act": "relu"}, loaded
    assert mlflow.artifacts.load_text(run.info.artifact_uri + "/notes/readme.md") == "free text"


@check
def search_with_filters_and_order():
    exp_id = STATE["experiment_id"]
    client = MlflowClient()
    for i, (lr, auc) in enumerate([("0.01", 0.7), ("0.1", 0.95), ("0.01", 0.99), ("0.01", 0.4)]):
        with mlflow.start_run(run_name=f"grid-{i}"):
            mlflow.log_param("lr", lr)
            mlflow.log_metric("auc", auc)
            mlflow.set_tag("grid", "yes")
    found = client.search_runs(
        [exp_id],
        "metrics.auc > 0.5 and params.lr = '0.01' and tags.grid = 'yes'",
        order_by=["metrics.auc DESC"],
    )
    assert [r.data.metrics["auc"] for r in found] == [0.99, 0.7], found
    df = mlflow.search_runs(
        experiment_ids=[exp_id],
        filter_string="attributes.run_name LIKE 'grid-%'",
        order_by=["params.lr ASC", "metrics.auc ASC"],
    )
    assert list(df["metrics.auc"]) == [0.4, 0.7, 0.99, 0.95], list(df["metrics.auc"])
    page = client.search_runs([exp_id], "tags.grid = 'yes'", max_results=3)
    assert len(page) == 3 and page.token, page.token
    rest = client.search_runs([exp_id], "tags.grid = 'yes'", max_results=3, page_token=page.token)
    assert len(rest) == 1 and not rest.token
    expect_error("INVALID_PARAMETER_VALUE", client.search_runs, [exp_id], "metrics.auc >>> 1")
    by_key = client.search_runs([exp_id], "tags.`team` = 'risk'")
    assert [r.info.run_id for r in by_key] == [STATE["parent"]]


@check
def batch_nan_and_terminated():
    client = MlflowClient()
    run = client.create_run(STATE["experiment_id"], run_name="batch")
    run_id = run.info.run_id
    client.log_batch(
        run_id,
        metrics=[Metric("m", float(i), 1700000000000 + i, i) for i in range(1000)],
        params=[Param("p", "1")],
        tags=[RunTag("t", "v")],
    )
    client.log_metric(run_id, "inf", float("inf"))
    client.set_terminated(run_id, status="FAILED")
    got = client.get_run(run_id)
    assert got.info.status == "FAILED"
    assert got.data.metrics["m"] == 999.0
    assert got.data.metrics["inf"] == float("inf")
    assert len(client.get_metric_history(run_id, "m")) == 1000
    client.delete_tag(run_id, "t")
    assert "t" not in client.get_run(run_id).data.tags


@check
def params_are_immutable():
    client = MlflowClient()
    run_id = client.create_run(STATE["experiment_id"]).info.run_id
    client.log_param(run_id, "alpha", "1")
    client.log_param(run_id, "alpha", "1")  # same value: fine
    expect_error("INVALID_PARAMETER_VALUE", client.log_param, run_id, "alpha", "2")
    assert client.get_run(run_id).data.params["alpha"] == "1"


@check
def delete_and_restore():
    client = MlflowClient()
    run_id = client.create_run(STATE["experiment_id"], run_name="doomed").info.run_id
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    active = client.search_runs([STATE["experiment_id"]], "attributes.run_name = 'doomed'")
    assert len(active) == 0
    deleted = client.search_runs(
        [STATE["experiment_id"]], "attributes.run_name = 'doomed'", run_view_type=mlflow.entities.ViewType.DELETED_ONLY
    )
    assert len(deleted) == 1
    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    exp_id = client.create_experiment("compat-temp", tags={"k": "v"})
    client.set_experiment_tag(exp_id, "k2", "v2")
    client.rename_experiment(exp_id, "compat-temp-renamed")
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    client.restore_experiment(exp_id)
    e = client.get_experiment_by_name("compat-temp-renamed")
    assert e.tags == {"k": "v", "k2": "v2"}, e.tags
    names = [e.name for e in client.search_experiments(filter_string="name LIKE 'compat-%'")]
    assert "compat-temp-renamed" in names and "compat-typical" in names, names
    expect_error("RESOURCE_ALREADY_EXISTS", client.create_experiment, "compat-temp-renamed")


@check
def unknown_things_raise_resource_does_not_exist():
    client = MlflowClient()
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_run, "0" * 32)
    expect_error("RESOURCE_DOES_NOT_EXIST", client.log_metric, "0" * 32, "x", 1.0)
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_experiment, "987654")
    assert client.get_experiment_by_name("no-such-experiment") is None
    assert client.get_experiment("0").name == "Default"


class AddOne(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input["x"] + 1


@check
def pyfunc_log_model_and_load_model():
    mlflow.set_experiment("compat-models")
    example = pd.DataFrame({"x": [1.0, 2.0]})
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=AddOne(),
            input_example=example,
            pip_requirements=["mlflow==3.17.2"],
        )
    assert info.model_id.startswith("m-"), info.model_id
    by_id = mlflow.pyfunc.load_model(info.model_uri)
    assert list(by_id.predict(example)) == [2.0, 3.0]
    by_run = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert list(by_run.predict(pd.DataFrame({"x": [10.0]}))) == [11.0]
    outputs = MlflowClient().get_run(run.info.run_id).outputs.model_outputs
    assert [o.model_id for o in outputs] == [info.model_id], outputs


@check
def pipeline_run_is_visible():
    run_id = os.environ.get("PIPELINE_RUN_ID")
    if not run_id:
        print("  (no PIPELINE_RUN_ID given; skipped)")
        return
    client = MlflowClient()
    run = client.get_run(run_id)
    assert run.data.params.get("train.lr") == "0.05", run.data.params
    assert run.data.metrics.get("accuracy") == 0.875, run.data.metrics
    assert run.data.tags.get("slipway.origin") == "pipeline", run.data.tags
    assert run.data.tags.get("mlflow.source.git.commit") == "0123abcd", run.data.tags
    names = sorted(a.path for a in client.list_artifacts(run_id))
    assert names == ["model.json", "reports"], names
    with tempfile.TemporaryDirectory() as d:
        path = client.download_artifacts(run_id, "reports", d)
        with open(os.path.join(path, "eval.txt")) as f:
            assert f.read() == "accuracy 0.875\n"
    found = client.search_runs([run.info.experiment_id], "metrics.accuracy > 0.8")
    assert run_id in [r.info.run_id for r in found]


def main():
    passed = failed = 0
    for fn in CHECKS:
        try:
            fn()
            passed += 1
            print(f"ok    {fn.__name__}", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL  {fn.__name__}", flush=True)
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
