"""`monitors[].join_on` on Vertex: a model_quality monitor joins the endpoint's captured requests
with the ground-truth rows on the spec's join column (default: the schema's `role = id` column).
Compiled through the public API, the monitor pipeline's config carries the column; the runtime's
`monitor` op then reads a small ground-truth table whose join column is not its first column,
joins the captured requests on it and writes the metric (Cloud Monitoring call captured)."""
from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from mlspec.compiler import api
from testkit import ROOT

RUNTIME = ROOT / "targets/vertex/templates/runtime/mlspec_runtime.py"


def _spec(tmp: Path, join_on: str | None) -> Path:
    shutil.copytree(ROOT / "specs" / "fraud_detection", tmp / "fraud_detection")
    text = (ROOT / "specs" / "fraud_detection.mlspec").read_text()
    if join_on:
        text = text.replace("      card_present   : bool\n",
                            "      card_present   : bool\n      request_id     : string\n", 1)
        text = text.replace('ground_truth = "data://fraud/labels/"',
                            f'ground_truth = "data://fraud/labels/"\n    join_on      = {join_on}', 1)
    (tmp / "fraud_detection.mlspec").write_text(text)
    return tmp / "fraud_detection.mlspec"


def _monitor_config(tmp: Path, join_on: str | None) -> dict:
    res = api.compile_spec(str(_spec(tmp, join_on)), ["vertex"], env="prod", out=tmp / "b")
    assert res.ok, [(d.code, d.summary) for d in res.diagnostics if d.is_error]
    spec = json.loads((tmp / "b/vertex/pipelines/prod/monitor-quality.json").read_text())
    args = spec["deploymentSpec"]["executors"]["exec-monitor"]["container"]["args"]
    return json.loads(args[args.index("--config") + 1])


def test_join_on_reaches_the_monitor_config_and_defaults_to_the_id_column(tmp_path):
    cfg = _monitor_config(tmp_path / "a", "request_id")
    assert (cfg["join_on"], cfg["label_column"]) == ("request_id", "is_fraud")
    default = _monitor_config(tmp_path / "b", None)
    assert default["join_on"] == "transaction_id"  # the schema's `role = id` column


@pytest.fixture()
def rt():
    spec = importlib.util.spec_from_file_location("mlspec_vertex_runtime_join", RUNTIME)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_monitor_op_joins_ground_truth_on_the_join_column(tmp_path, rt, monkeypatch):
    import pandas as pd

    cfg = _monitor_config(tmp_path / "c", "request_id")
    truth_dir = tmp_path / "labels"
    truth_dir.mkdir()
    # the join column last; transaction ids that would join other rows if the id column were used
    pd.DataFrame({"is_fraud": [1, 0, 1, 0], "transaction_id": ["t4", "t3", "t2", "t1"],
                  "request_id": ["r1", "r2", "r3", "r4"]}).to_csv(truth_dir / "part-0.csv", index=False)
    cfg["ground_truth"] = str(truth_dir)
    captured = [({"request_id": "r1", "transaction_id": "t1", "amount": 10.0}, 0.9),   # truth 1, predicted 1
                ({"request_id": "r2", "transaction_id": "t2", "amount": 11.0}, 0.2),   # truth 0, predicted 0
                ({"request_id": "r3", "transaction_id": "t3", "amount": 12.0}, 0.3),   # truth 1, predicted 0
                ({"request_id": "r4", "transaction_id": "t4", "amount": 13.0}, 0.8),   # truth 0, predicted 1
                ({"request_id": "r9", "transaction_id": "t9", "amount": 14.0}, 0.8)]   # no ground truth yet
    monkeypatch.setattr(rt, "_logged", lambda project, table, start, end: captured)
    posted = []

    class Session:
        def __init__(self, creds):
            pass

        def post(self, url, json=None, **kw):
            posted.append((url, json))
            return type("R", (), {"raise_for_status": lambda self: None})()

    monkeypatch.setattr("google.auth.default", lambda scopes=None: (None, "acme-ml"))
    monkeypatch.setattr("google.auth.transport.requests.AuthorizedSession", Session)
    out = tmp_path / "value"
    ex = {"inputs": {"parameterValues": {"project": "acme-ml"}},
          "outputs": {"parameters": {"value": {"outputFile": str(out)}}}}
    rt.op_monitor(argparse.Namespace(executor_input=json.dumps(ex), config=json.dumps(cfg)))
    # f1 over the four joined rows: tp 1 (r1), fp 1 (r4), fn 1 (r3) -> 0.5; joined on transaction_id it
    # would be 0.0 (every prediction against the opposite label)
    assert json.loads(out.read_text()) == pytest.approx(0.5)
    [(url, body)] = posted
    assert url.endswith("/projects/acme-ml/timeSeries")
    point = body["timeSeries"][0]
    assert point["metric"]["labels"] == {"monitor": "quality"} and point["points"][0]["value"]["doubleValue"] == 0.5


def test_ground_truth_without_the_join_column_is_a_clear_failure(rt):
    import pandas as pd

    frame = pd.DataFrame({"is_fraud": [1], "transaction_id": ["t1"]})
    with pytest.raises(SystemExit, match="no column\\(s\\) request_id.*join column `request_id`"):
        rt.ground_truth(frame, {"monitor": "quality", "join_on": "request_id", "label_column": "is_fraud"})
