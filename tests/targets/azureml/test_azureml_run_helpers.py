"""What `mlspec run --target azureml` found in mlspec's Azure ML helpers, checked at the boundaries:

- the workspace's MLflow tracking server, answered locally (``run_tracking.py``), speaks the
  protocol of the real MLflow client: a job's run is created by the service and handed over in
  ``MLFLOW_RUN_ID``; the tracking wrapper logs the step's evaluation.json to it (what a sweep ranks);
  an API the server does not serve fails the step instead of passing;
- the validate step passes on the data and nothing else (the next step reads every file);
- the fairness step computes the spec's metric as SageMaker Clarify defines it (pre-training,
  on labels, per facet value; the largest absolute value is compared with the limit);
- helpers give a model only the columns it was trained on (its own saved feature names) and
  explain XGBoost models with XGBoost's exact TreeSHAP;
- registration keeps a model that is not served even when its folder lacks the format's file,
  and refuses it when an endpoint or batch job will load it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlspec.targets.azureml.lower import _template
from mlspec.targets.azureml.run_tracking import TrackingServer

HELPERS = ("_common", "track", "register", "validate_data", "bias_check", "explain")


@pytest.fixture
def code(tmp_path) -> Path:
    root = tmp_path / "code"
    (root / "_mlspec").mkdir(parents=True)
    for s in HELPERS:
        (root / "_mlspec" / f"{s}.py").write_text(_template(f"code/_mlspec/{s}.py"))
    return root


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONHASHSEED": "0", **extra}


# ------------------------------------------------------------------ the tracking server (real MLflow client)

TRAIN = '''
import argparse, json, os
import mlflow
ap = argparse.ArgumentParser()
ap.add_argument("--model"); ap.add_argument("--metrics")
a = ap.parse_args()
with mlflow.start_run() as run:          # resumes the job's run (MLFLOW_RUN_ID), as on Azure ML
    mlflow.log_param("depth", 3)
    mlflow.set_tag("script", "yes")
json.dump({"metrics": {"auc": {"value": 0.75}, "f1": {"value": 0.5}}},
          open(os.path.join(a.metrics, "evaluation.json"), "w"))
json.dump({"run": run.info.run_id}, open(os.path.join(a.model, "run.json"), "w"))
'''


def test_job_run_is_the_services_and_the_wrapper_logs_the_objective_to_it(code, tmp_path):
    pytest.importorskip("mlflow")
    (code / "src").mkdir()
    (code / "src" / "train.py").write_text(TRAIN)
    (code / "cfg.json").write_text(json.dumps({"train": {
        "tags": {"mlspec-step": "step.train"}, "params": {"eta": 0.1}, "autolog": False, "code_dir": "src",
        "requirements": None, "metrics_flag": "metrics"}}))
    model, metrics = tmp_path / "model", tmp_path / "metrics"
    model.mkdir()
    metrics.mkdir()
    with TrackingServer(tmp_path / "artifacts") as srv:
        exp = srv.store.experiment("fraud-detection")
        rid = srv.store.create_run(exp, "train", {"mlspec-pipeline": "pipeline.training"})
        out = subprocess.run([sys.executable, "_mlspec/track.py", "--config", "cfg.json", "--step", "train",
                              "src/train.py",
                              "--model", str(model), "--metrics", str(metrics)], cwd=code, capture_output=True,
                             text=True, timeout=300,
                             env=_env(tmp_path, MLFLOW_TRACKING_URI=srv.uri, MLFLOW_RUN_ID=rid,
                                      MLFLOW_EXPERIMENT_ID=exp))
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
        assert json.loads((model / "run.json").read_text())["run"] == rid   # one run per job
        assert srv.store.metric(rid, "auc") == 0.75                           # what a sweep ranks
        tags = srv.store.tags(rid)
        assert tags["mlspec-step"] == "step.train" and tags["script"] == "yes"
        assert tags["mlspec-pipeline"] == "pipeline.training"                # the job's own tags
        assert srv.store.runs[rid]["params"] == {"eta": "0.1", "depth": "3"}


def test_an_api_the_local_server_does_not_serve_fails_the_step(tmp_path):
    pytest.importorskip("mlflow")
    script = ("import mlflow\nmlflow.set_experiment('x')\n"
              "mlflow.MlflowClient().create_registered_model('m')\n")   # the workspace registry is not MLflow's here
    with TrackingServer(tmp_path / "artifacts") as srv:
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                             env=_env(tmp_path, MLFLOW_TRACKING_URI=srv.uri))
    assert out.returncode != 0
    assert "ENDPOINT_NOT_FOUND" in out.stderr and "not served by the local Azure ML tracking server" in out.stderr


def test_params_are_immutable_as_on_the_server(tmp_path):
    with TrackingServer(tmp_path / "a") as srv:
        rid = srv.store.create_run(srv.store.experiment("e"))
        code, _ = srv.store.handle("POST", "/api/2.0/mlflow/runs/log-parameter", {"run_id": rid, "key": "k", "value": "1"})
        assert code == 200
        code, doc = srv.store.handle("POST", "/api/2.0/mlflow/runs/log-parameter",
                                     {"run_id": rid, "key": "k", "value": "2"})
        assert code == 400 and "immutable" in doc["message"]
        code, doc = srv.store.handle("GET", "/api/2.0/mlflow/runs/get", {"run_id": "nope"})
        assert code == 404 and doc["error_code"] == "RESOURCE_DOES_NOT_EXIST"


# ------------------------------------------------------------------ validate: the data and nothing else


def test_validate_passes_on_only_the_data(code, tmp_path):
    import pandas as pd
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    pd.DataFrame({"x": [1.0, 2.0, 3.0]}).to_parquet(src / "part-0.parquet")
    (code / "cfg.json").write_text(json.dumps({"dataset": "rows", "format": "parquet", "checks": {"min_rows": 2},
                                               "schema": [{"name": "x", "nullable": False, "role": "feature"}]}))
    p = subprocess.run([sys.executable, "_mlspec/validate_data.py", "--config", "cfg.json", "--source", str(src),
                        "--data", str(out)], cwd=code, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert sorted(str(f.relative_to(out)) for f in out.rglob("*")) == ["part-0.parquet"]
    assert '"problems": []' in p.stdout                           # the report is in the job's log


# ------------------------------------------------------------------ fairness: Clarify's definitions


def _bias(code: Path, tmp_path: Path, metric: str, limit: float, rows: list[tuple[str, int]]):
    import pandas as pd
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    pd.DataFrame(rows, columns=["region", "label"]).to_csv(data / "holdout.csv", index=False)
    (code / "cfg.json").write_text(json.dumps({"facets": ["region"], "label": "label", "metric": metric,
                                               "max_disparity": limit, "positive_label": 1, "data_format": "csv"}))
    p = subprocess.run([sys.executable, "_mlspec/bias_check.py", "--config", "cfg.json", "--model", str(tmp_path),
                        "--data", str(data), "--report", str(tmp_path / "report")], cwd=code, capture_output=True,
                       text=True, timeout=120, env=_env(tmp_path))
    report = tmp_path / "report" / "bias.json"
    return p, (json.loads(report.read_text()) if report.exists() else None)


# east: 3 of 4 positive (0.75); west: 1 of 4 (0.25)
ROWS = [("east", 1), ("east", 1), ("east", 1), ("east", 0), ("west", 1), ("west", 0), ("west", 0), ("west", 0)]


@pytest.mark.parametrize("metric,east,west", [
    ("dpl", 0.25 - 0.75, 0.75 - 0.25),          # q_a - q_d, facet d = the value, a = the rest
    ("tvd", 0.5, 0.5),                          # half the L1 distance of the label distributions
    ("ks", 0.5, 0.5),
])
def test_fairness_computes_clarifys_pretraining_metric_per_facet_value(code, tmp_path, metric, east, west):
    p, doc = _bias(code, tmp_path, metric, 10.0, ROWS)
    assert p.returncode == 0, p.stdout + p.stderr
    values = doc["disparity"]["region"]["values"]
    assert values["east"] == pytest.approx(east) and values["west"] == pytest.approx(west)
    assert doc["disparity"]["region"]["max_abs"] == pytest.approx(max(abs(east), abs(west)))


def test_fairness_fails_above_the_limit_with_the_facet_and_value(code, tmp_path):
    p, doc = _bias(code, tmp_path, "dpl", 0.4, ROWS)
    assert p.returncode == 1 and "dpl above 0.4 for region (0.5000)" in p.stderr
    p, _ = _bias(code, tmp_path, "dpl", 0.5, ROWS)
    assert p.returncode == 0


def test_fairness_refuses_a_metric_it_cannot_compute(code, tmp_path):
    p, _ = _bias(code, tmp_path, "cddl", 0.5, ROWS)
    assert p.returncode == 1 and "is not one of dpl, kl, js, lp, tvd, ks, dppl, di" in p.stderr


# ------------------------------------------------------------------ the model's own columns; TreeSHAP


def _xgb_with_extra_columns(model: Path, data: Path):
    import numpy as np
    import pandas as pd
    import xgboost
    x = pd.DataFrame({"amount": np.arange(60, dtype=float), "age": np.arange(60, dtype=float) % 7})
    y = (x["amount"] > 30).astype(int)
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 2}, xgboost.DMatrix(x, label=y), 5)
    booster.save_model(str(model / "model.bst"))
    frame = x.assign(transaction_id=[f"t{i}" for i in range(60)], country="US", is_fraud=y)
    frame = frame[["transaction_id", "age", "country", "amount", "is_fraud"]]   # other order, extra columns
    frame.to_csv(data / "test.csv", index=False)
    return booster, x


def test_explain_uses_the_models_features_and_xgboost_treeshap(code, tmp_path):
    import numpy as np
    import xgboost
    model, data = tmp_path / "model", tmp_path / "data"
    model.mkdir()
    data.mkdir()
    booster, x = _xgb_with_extra_columns(model, data)
    (code / "cfg.json").write_text(json.dumps({"method": "shap", "label": "is_fraud", "data_format": "csv",
                                               "model_loading": {"format": "xgboost", "serve": None}}))
    p = subprocess.run([sys.executable, "_mlspec/explain.py", "--config", "cfg.json", "--model", str(model),
                        "--data", str(data), "--report", str(tmp_path / "r")], cwd=code, capture_output=True,
                       text=True, timeout=300, env=_env(tmp_path))
    assert p.returncode == 0, p.stdout + p.stderr
    got = json.loads((tmp_path / "r" / "shap.json").read_text())["mean_abs_shap"]
    want = np.abs(booster.predict(xgboost.DMatrix(x), pred_contribs=True)[:, :-1]).mean(axis=0)
    assert set(got) == {"amount", "age"}                  # not the id, country or label columns
    assert [got["amount"], got["age"]] == pytest.approx(want.tolist(), rel=1e-5)


def test_probability_models_are_thresholded_for_label_metrics(code):
    sys.path.insert(0, str(code / "_mlspec"))
    try:
        import _common
        loading = {"format": "xgboost", "prediction": "probability", "threshold": 0.7}
        assert _common.predicted_labels([0.1, 0.7, 0.9], loading) == [0, 1, 1]
        assert _common.predicted_labels([0, 1], {"prediction": "label"}) == [0, 1]
    finally:
        sys.path.remove(str(code / "_mlspec"))
        sys.modules.pop("_common", None)


# ------------------------------------------------------------------ registration of a non-served model

_REGISTER = r'''
import json, os, runpy, sys
sys.path.insert(0, os.path.join(os.getcwd(), "_mlspec"))
import _common
record = sys.argv[1]
class Models:
    def create_or_update(self, model):
        files = sorted(os.listdir(model.path))
        json.dump({"files": files, "tags": model.tags}, open(record, "w"))
        model.version = "1"; return model
class Client: models = Models()
_common.ml_client = lambda: Client()
_common.credential = lambda: None
_common.principal_id = lambda cred: "oid"
sys.argv = ["register.py"] + sys.argv[2:]
runpy.run_path("_mlspec/register.py", run_name="__main__")
'''


@pytest.mark.parametrize("served", [False, True])
def test_register_needs_the_format_file_only_for_a_served_model(code, tmp_path, served):
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.json").write_text("{}")   # the trainer wrote its own layout, not model.joblib
    cfg = {"model": "probe_model", "description": "d", "stage": "pending_approval", "approved_by": None,
           "approval": {"required": True, "approvers": ["a@example.com"], "count": 1},
           "card": {"name": "probe_model", "description": "d", "gates": [], "approvers": ["a@example.com"]},
           "lineage": {"mlspec.spec_sha256": "ab"}, "model_loading": {"format": "sklearn", "serve": None},
           "format_required": served}
    (code / "cfg.json").write_text(json.dumps(cfg))
    (code / "runner.py").write_text(_REGISTER)
    record = tmp_path / "registered.json"
    p = subprocess.run([sys.executable, "runner.py", str(record), "--config", "cfg.json", "--model", str(model)],
                       cwd=code, capture_output=True, text=True, timeout=120)
    if served:
        assert p.returncode == 1 and "no model.joblib" in p.stderr and not record.exists()
    else:
        assert p.returncode == 0, p.stderr
        got = json.loads(record.read_text())
        assert "model.json" in got["files"] and got["tags"]["mlspec.format"] == ""
        assert "registering the folder as written" in p.stdout


# ------------------------------------------------------------------ azure-ai-ml judges the artifact first


def test_a_job_azure_ml_would_reject_fails_the_run_before_any_step_is_reported(tmp_path):
    """The loaders run in their own process while the first job runs; a rejection is a RunError
    and no step is reported (as the service would not have started the pipeline)."""
    import yaml

    from mlspec.compiler import api
    from mlspec.compiler.run import engine
    from mlspec.targets.azureml.run import AzureMLRun
    from testkit import ROOT

    spec = ROOT / "tests/run/probe/probe.mlspec"
    res = api.compile_spec(str(spec), ["azureml"], env="prod", out=tmp_path / "build")
    assert res.ok
    comp = tmp_path / "build/azureml/prod/pipelines/train/components/split.yml"
    doc = yaml.safe_load(comp.read_text())
    doc["inputs"]["seed"]["type"] = "tensor"           # not an input type azure-ai-ml knows
    comp.write_text(yaml.safe_dump(doc))
    ir = api.build_irs(str(spec), "prod").irs["prod"]
    ctx = engine.RunContext(workdir=tmp_path / "w", python=sys.executable, spec_dir=spec.parent,
                            build_dir=tmp_path / "build/azureml", environment="prod", pipeline="train", ir=ir,
                            data={"rows": spec.parent / "sample/rows.csv"})
    ctx.workdir.mkdir()
    runner = AzureMLRun(ctx)
    with pytest.raises(engine.RunError, match=r"^azure-ai-ml rejects "):
        runner.run()
    assert runner.report.steps == []


# ------------------------------------------------------------------ retries (emulated by the wrapper)

FLAKY_SPLIT = '''
import os, sys
marker = os.path.join(os.getcwd(), ".attempted")        # the job's code folder: survives a retry
f = dict(zip(sys.argv[1::2], sys.argv[2::2]))
if not os.path.exists(marker):
    open(marker, "w").write("1")
    open(os.path.join(f["--train"], "partial.csv"), "w").write("half written")
    sys.exit(3)                                          # the first attempt fails
exec(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "split_real.py")).read())
'''


@pytest.mark.parametrize("retries", [0, 1])
def test_step_retries_rerun_the_script_in_the_same_job(tmp_path, retries):
    """`retries` through `mlspec run --target azureml`: the component has no retry setting
    (azure-ai-ml command jobs have none); the wrapper reruns the script with emptied outputs."""
    import shutil

    import yaml

    from mlspec.compiler.run import run_spec
    from testkit import ROOT

    probe = tmp_path / "probe"
    shutil.copytree(ROOT / "tests/run/probe", probe)
    (probe / "src/split_real.py").write_text((probe / "src/split.py").read_text())
    (probe / "src/split.py").write_text(FLAKY_SPLIT)
    spec = probe / "probe.mlspec"
    text = spec.read_text().replace('args    = { seed = 7 }', f'args    = {{ seed = 7 }}\n      retries = {retries}')
    spec.write_text(text)
    out = run_spec(str(spec), "azureml", env="prod", workdir=str(tmp_path / "w"))
    assert out.report is not None, [str(d) for d in out.result.diagnostics]
    steps = {s.name: s for s in out.report.steps}
    build = tmp_path / "w/azureml/prod/train/build/azureml"
    comp = yaml.safe_load((build / "prod/pipelines/train/components/split.yml").read_text())
    assert "retry_settings" not in comp and "retry" not in json.dumps(comp)
    if retries == 0:
        assert steps["split"].status == "failed" and "exit code 3" in steps["split"].reason
        return
    assert out.report.status == "succeeded", [(s.name, s.status, s.reason) for s in out.report.steps]
    cfg = json.loads((build / "code/_mlspec/config/prod/train.json").read_text())["split"]
    assert cfg["retries"] == 1 and cfg["outputs"] == ["train", "holdout"]
    log = (tmp_path / "w/azureml/prod/train/work/logs/split.log").read_text()
    assert "the script failed (exit 3); attempt 2 of 2" in log
    train_out = tmp_path / "w/azureml/prod/train/work/steps/split/outputs/train"
    assert "train.csv" in os.listdir(train_out) and "partial.csv" not in os.listdir(train_out)  # emptied
