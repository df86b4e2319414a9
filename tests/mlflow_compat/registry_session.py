"""Drives Slipway's model registry with the real `mlflow` client, unchanged.

Usage: MLFLOW_TRACKING_URI=http://127.0.0.1:PORT [MLFLOW_TRACKING_TOKEN=slw_…] python registry_session.py
Optional: GUARDED_MODEL names a medium-tier model whose promotion must be refused with a clear
error. Prints one line per check and "N passed, N failed"; exits 1 on any failure.
"""

import os
import sys
import traceback

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

CHECKS = []
STATE = {}


def check(fn):
    CHECKS.append(fn)
    return fn


class AddOne(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input["x"] + 1


@check
def log_and_register_two_versions():
    mlflow.set_experiment("registry-compat")
    client = MlflowClient()
    for i in range(2):
        with mlflow.start_run(run_name=f"train-{i}") as run:
            mlflow.log_param("i", i)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=AddOne(),
                registered_model_name="adder",
                input_example=pd.DataFrame({"x": [1.0]}),
            )
            STATE[f"run{i}"] = run.info.run_id
            STATE[f"model_uri{i}"] = info.model_uri
    versions = sorted(int(v.version) for v in client.search_model_versions("name = 'adder'"))
    assert versions == [1, 2], versions
    rm = client.get_registered_model("adder")
    assert rm.name == "adder"


@check
def create_version_from_runs_uri():
    client = MlflowClient()
    client.create_registered_model("from-run", tags={"team": "risk"}, description="by runs:/")
    mv = client.create_model_version("from-run", f"runs:/{STATE['run0']}/model", run_id=STATE["run0"])
    assert mv.version == "1", mv
    assert mv.current_stage == "None"
    got = client.get_model_version("from-run", "1")
    assert got.run_id == STATE["run0"]
    assert client.get_registered_model("from-run").tags == {"team": "risk"}


@check
def aliases_set_get_load_and_delete():
    client = MlflowClient()
    client.set_registered_model_alias("adder", "champion", "1")
    mv = client.get_model_version_by_alias("adder", "champion")
    assert mv.version == "1", mv
    model = mlflow.pyfunc.load_model("models:/adder@champion")
    out = model.predict(pd.DataFrame({"x": [41.0]}))
    assert list(out) == [42.0], out
    client.set_registered_model_alias("adder", "champion", "2")
    assert client.get_model_version_by_alias("adder", "champion").version == "2"
    client.delete_registered_model_alias("adder", "champion")
    try:
        client.get_model_version_by_alias("adder", "champion")
    except MlflowException as e:
        assert e.error_code == "INVALID_PARAMETER_VALUE", e.error_code
    else:
        raise AssertionError("a deleted alias must not resolve")


@check
def stage_transitions_keep_one_production():
    client = MlflowClient()
    client.transition_model_version_stage("adder", "1", "Production")
    client.transition_model_version_stage("adder", "2", "Production")
    stages = {v.version: v.current_stage for v in client.search_model_versions("name = 'adder'")}
    assert stages == {"1": "Archived", "2": "Production"}, stages
    latest = client.get_latest_versions("adder", stages=["Production"])
    assert [v.version for v in latest] == ["2"], latest
    client.transition_model_version_stage("adder", "1", "Staging")
    assert client.get_model_version("adder", "1").current_stage == "Staging"
    model = mlflow.pyfunc.load_model("models:/adder/2")
    assert list(model.predict(pd.DataFrame({"x": [1.0]}))) == [2.0]


@check
def tags_descriptions_search_and_download_uri():
    client = MlflowClient()
    client.set_model_version_tag("adder", "2", "validated", "yes")
    assert client.get_model_version("adder", "2").tags == {"validated": "yes"}
    client.update_model_version("adder", "2", description="second")
    assert client.get_model_version("adder", "2").description == "second"
    client.update_registered_model("adder", description="adds one")
    names = [m.name for m in client.search_registered_models()]
    assert "adder" in names and "from-run" in names, names
    only = client.search_registered_models(filter_string="name = 'from-run'")
    assert [m.name for m in only] == ["from-run"]
    uri = client.get_model_version_download_uri("adder", "2")
    assert uri.startswith("mlflow-artifacts:/") or uri.startswith("runs:/"), uri


@check
def errors_are_mlflow_shaped():
    client = MlflowClient()
    for fn, args in [(client.get_registered_model, ("nope",)), (client.get_model_version, ("adder", "99"))]:
        try:
            fn(*args)
        except MlflowException as e:
            assert e.error_code == "RESOURCE_DOES_NOT_EXIST", e.error_code
        else:
            raise AssertionError(f"{fn.__name__} should fail")
    try:
        client.create_registered_model("adder")
    except MlflowException as e:
        assert e.error_code == "RESOURCE_ALREADY_EXISTS", e.error_code
    else:
        raise AssertionError("duplicate model must fail")


@check
def guarded_model_refuses_promotion_listing_what_is_missing():
    name = os.environ.get("GUARDED_MODEL")
    if not name:
        return
    client = MlflowClient()
    try:
        client.transition_model_version_stage(name, "1", "Production")
    except MlflowException as e:
        message = str(e).lower()
        assert e.error_code in ("INVALID_PARAMETER_VALUE", "PERMISSION_DENIED"), e.error_code
        for needle in ("gate", "approval"):
            assert needle in message, message
    else:
        raise AssertionError("a medium-tier promotion without evidence must be refused")
    try:
        client.set_registered_model_alias(name, "champion", "1")
    except MlflowException as e:
        assert e.error_code == "PERMISSION_DENIED", e.error_code
    else:
        raise AssertionError("the protected alias must not move outside a gated promotion")


def main():
    passed = failed = 0
    for fn in CHECKS:
        try:
            fn()
            print(f"ok      {fn.__name__}")
            passed += 1
        except Exception:
            print(f"FAILED  {fn.__name__}")
            traceback.print_exc()
            failed += 1
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
