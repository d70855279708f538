"""`monitors[].join_on` on Azure ML (model_quality; issue 10).

Azure ML has no monitor signal mlspec uses for model quality (docs/targets/azureml.md): the
monitor is a scheduled pipeline whose `check` job (`_mlspec/quality_monitor.py`) joins the
deployment's collected requests and predictions with the ground truth. `join_on` (default: the
schema's `role = id` column) is a string input of that job, bound on the pipeline node, and the
job joins the ground truth to each prediction's request row on that column.
Checked with azure-ai-ml's loaders (the value survives `load_job`) and by running the job script.
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import az_helpers
from mlspec.targets.azureml.lower import _template


def _check_node(build: Path, env: str = "prod"):
    path = build / f"{env}/pipelines/monitor_quality/pipeline.yml"
    job = az_helpers.load("azureml-job", path)
    with az_helpers.chdir(path.parent):
        assert az_helpers.validation_problems(job) == []
    assert az_helpers.binding_problems(path, job) == []
    return path, job


def test_default_join_column_is_the_schemas_id_column(spec_builds):
    """fraud_detection's `quality` monitor names no `join_on`: the id column `transaction_id`."""
    path, job = _check_node(spec_builds["fraud_detection"])
    assert job.jobs["check"].inputs["join_on"]._data == "transaction_id"
    comp = az_helpers.load("azureml-component", path.parent / "components/check.yml")
    assert comp.inputs["join_on"].type == "string"
    assert "--join_on '${{inputs.join_on}}'" in comp.command
    # the registered pipeline component the Pulumi schedule runs binds it too
    pc = az_helpers.load("azureml-component", path.parent / "pipeline_component.yml")
    assert pc.jobs["check"].inputs["join_on"]._data == "transaction_id"


def test_declared_join_column_reaches_the_check_job(max_irs, tmp_path):
    irs = copy.deepcopy(max_irs)
    for ir in irs:
        next(m for m in ir["monitors"] if m["kind"] == "model_quality")["join_on"] = "account_id"
    build = az_helpers.write(az_helpers.lower(irs), irs, tmp_path / "b")
    _path, job = _check_node(build)
    assert job.jobs["check"].inputs["join_on"]._data == "account_id"
    # no join column (no id column anywhere): the correlation id join, no input
    irs = copy.deepcopy(max_irs)
    for ir in irs:
        next(m for m in ir["monitors"] if m["kind"] == "model_quality")["join_on"] = None
    build = az_helpers.write(az_helpers.lower(irs), irs, tmp_path / "c")
    raw = yaml.safe_load((build / "prod/pipelines/monitor_quality/pipeline.yml").read_text())
    assert "join_on" not in raw["jobs"]["check"]["inputs"]


# ------------------------------------------------------------------ the check job itself
def _monitor(tmp_path: Path, truth_csv: str, join_on: str | None, requests: list[dict]) -> tuple[int, str, dict]:
    pytest.importorskip("mlflow")
    code = tmp_path / "code"
    (code / "_mlspec").mkdir(parents=True)
    for s in ("_common", "quality_monitor", "bias_check"):
        (code / "_mlspec" / f"{s}.py").write_text(_template(f"code/_mlspec/{s}.py"))
    day = Path("2026/12/04/10")
    ins, outs = tmp_path / "inputs" / day, tmp_path / "outputs" / day
    ins.mkdir(parents=True)
    outs.mkdir(parents=True)
    # the data collector: one event per request, rows under `data`, answers share the correlation id
    (ins / "data.jsonl").write_text("".join(
        json.dumps({"correlationid": r["id"], "data": r["rows"]}) + "\n" for r in requests))
    (outs / "data.jsonl").write_text("".join(
        json.dumps({"correlationid": r["id"], "data": [{"prediction": p} for p in r["predictions"]]}) + "\n"
        for r in requests))
    truth = tmp_path / "truth"
    truth.mkdir()
    (truth / "labels.csv").write_text(truth_csv)
    cfg = {"kind": "model_quality", "metric": "accuracy", "facets": [], "above": None, "below": 0.9,
           "monitor": "quality", "endpoint": "scoring-prod", "label": "is_fraud", "positive_label": None}
    (code / "cfg.json").write_text(json.dumps(cfg))
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "MLFLOW_TRACKING_URI": (tmp_path / "mlruns").as_uri(),
           "MLFLOW_ALLOW_FILE_STORE": "true"}
    argv = [sys.executable, "_mlspec/quality_monitor.py", "--config", "cfg.json",
            "--model_inputs", str(tmp_path / "inputs"), "--model_outputs", str(tmp_path / "outputs"),
            "--ground_truth", str(truth), "--report", str(tmp_path / "report")]
    if join_on:
        argv += ["--join_on", join_on]
    out = subprocess.run(argv, cwd=code, capture_output=True, text=True, timeout=300, env=env)
    report_path = tmp_path / "report" / "monitor.json"
    return out.returncode, out.stderr, json.loads(report_path.read_text()) if report_path.exists() else {}


REQUESTS = [
    {"id": "req-1", "rows": [{"amount": 10.0, "transaction_id": "t1"}, {"amount": 99.0, "transaction_id": "t2"}],
     "predictions": [0, 1]},
    {"id": "req-2", "rows": [{"amount": 5.0, "transaction_id": "t3"}], "predictions": [0]},
    # t3 scored again later: the latest answer counts
    {"id": "req-3", "rows": [{"amount": 5.0, "transaction_id": "t3"}], "predictions": [1]},
]


def test_check_job_joins_ground_truth_on_the_join_column(tmp_path):
    # the join column is not the first column; t9 was never scored; label of t3 is 1
    truth = "is_fraud,region,transaction_id\n0,eu,t1\n0,us,t2\n1,eu,t3\n1,eu,t9\n"
    code, err, report = _monitor(tmp_path, truth, "transaction_id", REQUESTS)
    assert report["rows"] == 3                                   # t1, t2, t3 (once)
    assert report["value"] == pytest.approx(2 / 3)               # t1 right, t2 wrong, t3 right (latest)
    assert code == 1 and "accuracy = 0.6667" in err             # below 0.9: a breach


def test_check_job_says_which_side_lacks_the_join_column(tmp_path):
    code, err, _ = _monitor(tmp_path / "a", "is_fraud,id\n0,t1\n", "transaction_id", REQUESTS)
    assert code == 1 and "ground truth has no join column transaction_id" in err
    requests = [{"id": "req-1", "rows": [{"amount": 1.0}], "predictions": [0]}]
    code, err, _ = _monitor(tmp_path / "b", "transaction_id,is_fraud\nt1,0\n", "transaction_id", requests)
    assert code == 1 and "have no column transaction_id" in err and "send it in every request row" in err
