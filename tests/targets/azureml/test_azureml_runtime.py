"""mlspec's Azure ML helper scripts and environments at the vendor boundaries, run locally:

- register.py never writes into its model input (Azure ML mounts it read-only) and registers an
  `azure.ai.ml.entities.Model` of the type the model format calls for;
- track.py lets a script own its MLflow run (real mlflow, file store), puts the script's folder on
  sys.path and logs evaluation.json metrics to the run a sweep ranks;
- models load by format (xgboost model.bst, sklearn model.joblib) with the frameworks' own loaders;
- every pip requirement of every generated environment parses with `packaging`.
No cloud access: the workspace client is replaced in-process, nothing else is faked.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import az_helpers
from mlspec.targets.azureml import jobs
from mlspec.targets.azureml.lower import _template

HELPERS = ("_common", "track", "register", "batch_score")


@pytest.fixture
def code(tmp_path) -> Path:
    root = tmp_path / "code"
    (root / "_mlspec").mkdir(parents=True)
    for s in HELPERS:
        (root / "_mlspec" / f"{s}.py").write_text(_template(f"code/_mlspec/{s}.py"))
    return root


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# A runner that stands in for the workspace (MLClient) and for the read-only mount: any write
# under the model input raises EROFS, as Azure ML's ro_mount does (the tests run as root, so
# chmod alone would not stop a write).
_RUNNER = r'''
import builtins, errno, json, os, runpy, sys
ro = os.path.realpath(sys.argv[1]); record = sys.argv[2]; sys.argv = ["register.py"] + sys.argv[3:]
_open, _makedirs = builtins.open, os.makedirs
def _guard(path):
    if os.path.realpath(str(path)).startswith(ro):
        raise OSError(errno.EROFS, "Read-only file system", str(path))
def ro_open(file, mode="r", *a, **k):
    if any(c in mode for c in "wax+"):
        _guard(file)
    return _open(file, mode, *a, **k)
def ro_makedirs(name, *a, **k):
    _guard(name); return _makedirs(name, *a, **k)
builtins.open, os.makedirs = ro_open, ro_makedirs
sys.path.insert(0, os.path.join(os.getcwd(), "_mlspec"))
import _common
class Models:
    def create_or_update(self, model):
        files = sorted(os.path.relpath(os.path.join(r, f), model.path) for r, _, fs in os.walk(model.path) for f in fs)
        with _open(record, "w") as fh:
            with _open(os.path.join(model.path, "model_card.json")) as card:
                json.dump({"name": model.name, "type": model.type, "files": files, "tags": model.tags,
                           "card": json.load(card)}, fh)
        model.version = "1"; return model
class Client: models = Models()
_common.ml_client = lambda: Client()
_common.credential = lambda: None
_common.principal_id = lambda cred: "compute-oid"
runpy.run_path("_mlspec/register.py", run_name="__main__")
'''


def _register_config(fmt: str) -> dict:
    return {"model": "fraud_scorer", "description": "d", "framework": {"name": "sklearn", "version": "1.5"},
            "stage": "pending_approval", "approved_by": None,
            "approval": {"required": True, "approvers": ["risk-leads"], "count": 1},
            "card": {"name": "fraud_scorer", "description": "d", "intended_use": "x", "limitations": None,
                     "ethical_considerations": None, "approvers": ["risk-leads"]},
            "lineage": {"mlspec.code_sha256": "cd"}, "metrics_from": None,
            "model_loading": {"format": fmt, "serve": None}}


@pytest.mark.parametrize("fmt,files,kind", [("sklearn", {"model.joblib": b"x"}, "custom_model"),
                                            ("mlflow", {"MLmodel": b"flavors: {}\n", "model.pkl": b"x"},
                                             "mlflow_model")])
def test_register_never_writes_into_the_read_only_model_input(code, tmp_path, fmt, files, kind):
    model = tmp_path / "model_input"
    model.mkdir()
    for name, data in files.items():
        (model / name).write_bytes(data)
    before = _tree(model)
    for p in [model, *model.iterdir()]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    (code / "cfg.json").write_text(json.dumps(_register_config(fmt)))
    (code / "runner.py").write_text(_RUNNER)
    record = tmp_path / "registered.json"
    decision = tmp_path / "decision"
    decision.mkdir()
    (decision / "decision.json").write_text(json.dumps({"gate": "quality", "passed": True, "results": [
        {"require": "step.evaluate.metrics.f1 >= 0.9", "left": 0.97, "right": 0.9, "passed": True}]}))
    out = subprocess.run([sys.executable, "runner.py", str(model), str(record), "--config", "cfg.json",
                          "--model", str(model), "--gate_quality", str(decision), "--spec_sha256", "ab" * 32],
                         cwd=code, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert _tree(model) == before                     # the input is untouched
    got = json.loads(record.read_text())
    # lineage: the spec hash arrives as the step's input (the pipeline job's), not from the config
    assert got["tags"]["mlspec.spec_sha256"] == "ab" * 32 and got["tags"]["mlspec.code_sha256"] == "cd"
    # the card's gates are what the gate step decided, with the thresholds it used
    assert [(g["name"], [r["require"] for r in g["results"]]) for g in got["card"]["gates"]] == \
        [("quality", ["step.evaluate.metrics.f1 >= 0.9"])]
    assert got["type"] == kind                          # mlflow_model only for the mlflow format
    assert set(got["files"]) == set(files) | {"MODEL_CARD.md", "model_card.json"}
    assert got["tags"]["mlspec.stage"] == "pending_approval" and got["tags"]["mlspec.format"] == fmt
    assert got["tags"]["mlspec.registered_by"] == "compute-oid"
    from azure.ai.ml.entities import Model   # the vendor entity accepts what register.py builds
    assert Model(name=got["name"], path=str(model), type=got["type"]).type == kind


# ------------------------------------------------------------------ tracking wrapper (real mlflow)

SCRIPT_OWNS_ITS_RUN = '''
import argparse, json, os
import mlflow
from helper import FACTOR           # a module next to the script: the folder is on sys.path
ap = argparse.ArgumentParser()
ap.add_argument("--train"); ap.add_argument("--model"); ap.add_argument("--metrics"); ap.add_argument("--eta", type=float)
a = ap.parse_args()
with mlflow.start_run() as run:    # the script's own run must not clash with the wrapper
    mlflow.log_param("factor", FACTOR)
    os.makedirs(a.metrics, exist_ok=True)
    json.dump({"metrics": {"auc": {"value": 0.5 + a.eta * FACTOR}}}, open(os.path.join(a.metrics, "evaluation.json"), "w"))
    json.dump({"run": run.info.run_id, "cwd": os.getcwd()}, open(os.path.join(a.model, "run.json"), "w"))
'''


@pytest.mark.parametrize("style", ["start_run", "no_run"])
def test_track_wrapper_keeps_the_scripts_run_and_logs_the_objective(code, tmp_path, style):
    pytest.importorskip("mlflow")
    src = code / "proj" / "src"
    src.mkdir(parents=True)
    (src / "helper.py").write_text("FACTOR = 2\n")
    script = SCRIPT_OWNS_ITS_RUN if style == "start_run" else SCRIPT_OWNS_ITS_RUN.replace(
        "with mlflow.start_run() as run:", "if True:\n    run = mlflow.active_run() or mlflow.start_run()\nif True:")
    (src / "train.py").write_text(script)
    cfg = {"tags": {"mlspec-step": "step.train", "mlspec-code-sha256": "cd"}, "params": {"eta": 0.1},
           "autolog": False, "script": "proj/src/train.py", "code_dir": "proj/src", "requirements": None,
           "metrics_flag": "metrics"}
    (code / "cfg.json").write_text(json.dumps({"train": cfg}))
    model, metrics = tmp_path / "model", tmp_path / "metrics"
    model.mkdir()
    store = tmp_path / "mlruns"
    env = {"PATH": os.environ["PATH"], "MLFLOW_TRACKING_URI": store.as_uri(), "HOME": str(tmp_path),
           "MLFLOW_ALLOW_FILE_STORE": "true"}
    out = subprocess.run([sys.executable, "_mlspec/track.py", "--config", "cfg.json", "--step", "train",
                          "proj/src/train.py",
                          "--train", str(tmp_path), "--model", str(model), "--metrics", str(metrics),
                          "--eta", "0.1"], cwd=code, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads((model / "run.json").read_text())
    assert Path(info["cwd"]) == src                       # the step runs in its code folder
    import mlflow
    from mlflow.tracking import MlflowClient
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    mlflow.set_tracking_uri(store.as_uri())
    run = MlflowClient().get_run(info["run"])
    assert run.data.metrics["auc"] == pytest.approx(0.7)  # the objective a sweep ranks trials by
    assert run.data.tags["mlspec-step"] == "step.train"    # lineage tags on the script's own run
    assert run.data.params["eta"] == "0.1" and run.data.params["factor"] == "2"


# ------------------------------------------------------------------ models load by format


def _xgboost_model(folder: Path):
    import numpy as np
    import pandas as pd
    import xgboost
    x = pd.DataFrame({"amount": np.arange(40, dtype=float), "age": np.arange(40, dtype=float) % 7})
    y = (x["amount"] > 20).astype(int)
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 2}, xgboost.DMatrix(x, label=y), 5)
    booster.save_model(str(folder / "model.bst"))
    return x


def _sklearn_model(folder: Path):
    import joblib
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    x = pd.DataFrame({"amount": np.arange(40, dtype=float), "age": np.arange(40, dtype=float) % 7})
    joblib.dump(LogisticRegression().fit(x, (x["amount"] > 20).astype(int)), folder / "model.joblib")
    return x


@pytest.mark.parametrize("fmt,make", [("xgboost", _xgboost_model), ("sklearn", _sklearn_model)])
def test_batch_scoring_loads_the_model_by_format(code, tmp_path, fmt, make):
    model = tmp_path / "model" / "fraud_scorer"      # as a registry download nests it
    model.mkdir(parents=True)
    x = make(model)
    data = tmp_path / "data"
    data.mkdir()
    x.to_csv(data / "part-0.csv", index=False)
    (code / "cfg.json").write_text(json.dumps({"output": "data://x/", "data_format": "csv",
                                               "model_loading": {"format": fmt, "serve": None}}))
    out = subprocess.run([sys.executable, "_mlspec/batch_score.py", "--config", "cfg.json", "--model",
                          str(tmp_path / "model"), "--data", str(data), "--predictions", str(tmp_path / "p")],
                         cwd=code, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    import pandas as pd
    pred = pd.read_csv(tmp_path / "p" / "predictions.csv")
    assert len(pred) == 40 and pred["prediction"].between(0, 1).all()


# ------------------------------------------------------------------ pip requirements (packaging)


@pytest.mark.parametrize("version,spec", [("1.2-1", "==1.2.*"), ("1.7", "==1.7.*"), ("2.3.1", "==2.3.1"),
                                          ("1", "==1.*"), ("0.23-1", "==0.23.*")])
def test_framework_versions_become_pep440_pins(version, spec):
    from packaging.specifiers import SpecifierSet
    assert jobs.pin(version) == spec
    assert str(SpecifierSet(spec)) == spec


def _requirements(root: Path) -> list[tuple[str, str]]:
    out = []
    for a in az_helpers.artifacts(root):
        path = root / a["path"]
        if a["kind"] == "conda-environment":
            doc = yaml.safe_load(path.read_text())
            for dep in doc["dependencies"]:
                if isinstance(dep, dict):
                    out += [(a["path"], r) for r in dep.get("pip", [])]
        elif path.name == "requirements.txt":
            out += [(a["path"], line.strip()) for line in path.read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    return out


def _requirement_problems(root: Path) -> list[str]:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    problems = []
    reqs = _requirements(root)
    assert reqs, root
    for where, text in reqs:
        try:
            req = Requirement(text)
            SpecifierSet(str(req.specifier))
        except (InvalidRequirement, InvalidSpecifier) as e:
            problems.append(f"{where}: {text!r}: {e}")
    return problems


def test_every_pip_requirement_is_valid_pep440(max_build, spec_builds):
    assert _requirement_problems(max_build) == []
    for name, root in spec_builds.items():
        assert _requirement_problems(root) == [], name


def test_sklearn_framework_revision_pins_the_framework_minor(spec_builds):
    conda = yaml.safe_load((spec_builds["churn_scoring"] / "environments/mlspec-sklearn-1-2-1.conda.yml").read_text())
    pip = conda["dependencies"][-1]["pip"]
    assert "scikit-learn==1.2.*" in pip and not any(p.startswith("scikit-learn==1.2-1") for p in pip)


# ------------------------------------------------------------------ scoring script (online deployments)

SERVE_HANDLER = '''
import joblib, os
def load(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
def predict(model, rows):
    return [int(p) * 10 for p in model.predict([[r["amount"], r["age"]] for r in rows])]
'''


@pytest.mark.parametrize("serve", [None, {"entry_point": "src/serve.py", "code_dir": "src"}])
def test_scoring_script_serves_a_non_mlflow_model(code, tmp_path, serve):
    (code / "_mlspec" / "score.py").write_text(_template("code/_mlspec/score.py"))
    (code / "src").mkdir()
    (code / "src" / "serve.py").write_text(SERVE_HANDLER)
    model = tmp_path / "azureml-models" / "fraud_challenger" / "3" / "fraud_challenger"
    model.mkdir(parents=True)
    _sklearn_model(model)
    (code / "_mlspec" / "serving.json").write_text(json.dumps(
        {"model": "fraud_challenger", "model_loading": {"format": "sklearn", "serve": serve}}))
    probe = ("import json, score\nscore.init()\n"
             "print(json.dumps(score.run(json.dumps({'input_data': {'columns': ['amount', 'age'], "
             "'data': [[1.0, 1.0], [39.0, 4.0]]}}))))\n"
             "print(json.dumps(score.run(json.dumps({'data': [{'amount': 39.0, 'age': 4.0}]}))))\n")
    env = dict(os.environ, AZUREML_MODEL_DIR=str(tmp_path / "azureml-models" / "fraud_challenger" / "3"),
               MLSPEC_SERVE_CONFIG="_mlspec/serving.json")
    out = subprocess.run([sys.executable, "-c", probe], cwd=code / "_mlspec", capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    first, second = (json.loads(line) for line in out.stdout.strip().splitlines())
    scale = 10 if serve else 1
    assert first == {"predictions": [0, scale]} and second == {"predictions": [scale]}


@pytest.mark.parametrize("fmt,make,prediction,expect", [
    # XGBoost binary:logistic yields probabilities: `label` thresholds them, `probability` keeps them
    ("xgboost", _xgboost_model, "label", lambda p: p == [0, 1]),
    ("xgboost", _xgboost_model, "probability", lambda p: 0 < p[0] < 0.5 < p[1] < 1),
    # scikit-learn: predict() labels, predict_proba() for `probability`
    ("sklearn", _sklearn_model, "label", lambda p: p == [0, 1]),
    ("sklearn", _sklearn_model, "probability", lambda p: 0 < p[0] < 0.5 < p[1] < 1),
])
def test_scoring_script_returns_what_prediction_says(code, tmp_path, fmt, make, prediction, expect):
    """models[].prediction (issue 10): the served output per row is the label or the probability."""
    (code / "_mlspec" / "score.py").write_text(_template("code/_mlspec/score.py"))
    model = tmp_path / "azureml-models" / "fraud_scorer" / "7" / "fraud_scorer"
    model.mkdir(parents=True)
    make(model)
    (code / "_mlspec" / "serving.json").write_text(json.dumps({"model": "fraud_scorer", "model_loading": {
        "format": fmt, "serve": None, "prediction": prediction, "threshold": None,
        "task": "binary_classification"}}))
    probe = ("import json, score\nscore.init()\n"
             "print(json.dumps(score.run(json.dumps({'input_data': {'columns': ['amount', 'age'], "
             "'data': [[1.0, 1.0], [39.0, 4.0]]}}))))\n")
    env = dict(os.environ, AZUREML_MODEL_DIR=str(tmp_path / "azureml-models" / "fraud_scorer" / "7"),
               MLSPEC_SERVE_CONFIG="_mlspec/serving.json")
    out = subprocess.run([sys.executable, "-c", probe], cwd=code / "_mlspec", capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    predictions = json.loads(out.stdout.strip().splitlines()[-1])["predictions"]
    assert expect(predictions), predictions


# ------------------------------------------------------------------ emulated quality monitor

def test_quality_monitor_reads_the_collectors_nested_rows_and_the_models_label(code, tmp_path):
    pytest.importorskip("mlflow")
    (code / "_mlspec" / "quality_monitor.py").write_text(_template("code/_mlspec/quality_monitor.py"))
    outputs = tmp_path / "outputs" / "2026" / "12" / "04" / "10"
    outputs.mkdir(parents=True)
    events = [{"specversion": "1.0", "id": "a", "correlationid": "req-1", "data": [1, 0, 1]},
              {"specversion": "1.0", "id": "b", "correlationid": "req-2", "data": [{"prediction": 0}]}]
    (outputs / "data.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    truth = tmp_path / "truth"
    truth.mkdir()
    (truth / "labels.csv").write_text("correlationid,row,is_fraud\nreq-1,0,1\nreq-1,1,0\nreq-1,2,0\nreq-2,0,0\n")
    cfg = {"kind": "model_quality", "metric": "accuracy", "facets": [], "above": None, "below": 0.9,
           "monitor": "quality", "endpoint": "scoring-prod", "label": "is_fraud", "positive_label": None}
    (code / "cfg.json").write_text(json.dumps(cfg))
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "MLFLOW_TRACKING_URI": (tmp_path / "mlruns").as_uri(),
           "MLFLOW_ALLOW_FILE_STORE": "true"}
    out = subprocess.run([sys.executable, "_mlspec/quality_monitor.py", "--config", "cfg.json",
                          "--model_inputs", str(tmp_path / "inputs"), "--model_outputs", str(tmp_path / "outputs"),
                          "--ground_truth", str(truth), "--report", str(tmp_path / "report")],
                         cwd=code, capture_output=True, text=True, timeout=300, env=env)
    report = json.loads((tmp_path / "report" / "monitor.json").read_text())
    assert report["rows"] == 4 and report["value"] == pytest.approx(0.75)   # 3 of 4 rows right
    assert out.returncode == 1 and "accuracy = 0.7500" in out.stderr        # below 0.9: a breach
