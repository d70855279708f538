"""mlspec's helper scripts (run inside SageMaker jobs), executed here on local files."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[3] / "targets" / "sagemaker" / "templates" / "scripts"


def load(name: str, monkeypatch, **paths):
    spec = importlib.util.spec_from_file_location(f"mlspec_helper_{name}", SCRIPTS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for k, v in paths.items():
        monkeypatch.setattr(mod, k, str(v))
    return mod


def write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


CLAUSES = {"clauses": [
    {"index": 1, "op": ">=", "left": {"metric": {"step": "step.evaluate", "name": "f1"}},
     "right": {"binary": {"op": "+", "left": {"champion": "f1"}, "right": {"number": 0.01}}}},
    {"index": 2, "op": "<", "left": {"metric": {"step": "step.evaluate", "name": "loss"}},
     "right": {"champion": "loss"}}]}


@pytest.mark.parametrize("champion,expect", [
    (None, {"c1": {"left": 0.0, "right": 0.0}, "c2": {"left": 0.0, "right": 1.0}}),  # first model passes
    ({"f1": {"value": 0.9}, "loss": {"value": 0.5}}, {"c1": {"left": 0.93, "right": 0.91}, "c2": {"left": 0.2, "right": 0.5}}),
])
def test_gate_values_reads_the_champion(tmp_path, monkeypatch, champion, expect):
    write(tmp_path / "eval" / "evaluate" / "evaluation.json", {"metrics": {"f1": {"value": 0.93}, "loss": {"value": 0.2}}})
    if champion is not None:
        write(tmp_path / "champion" / "evaluation.json", {"metrics": champion})
    (tmp_path / "champion").mkdir(exist_ok=True)
    write(tmp_path / "spec.json", CLAUSES)
    mod = load("gate_values", monkeypatch, EVAL=tmp_path / "eval", CHAMPION=tmp_path / "champion",
               OUT=tmp_path / "out")
    monkeypatch.setattr(sys, "argv", ["gate_values.py", "--spec-file", str(tmp_path / "spec.json")])
    mod.main()
    got = json.loads((tmp_path / "out" / "values.json").read_text())
    assert got["champion"] is (champion is not None)
    for k, v in expect.items():
        assert got["clauses"][k] == pytest.approx(v)


def test_bias_limits_takes_the_largest_disparity(tmp_path, monkeypatch):
    write(tmp_path / "analysis.json", {"post_training_bias_metrics": {"facets": {"country": [
        {"value_or_threshold": "US", "metrics": [{"name": "DPPL", "value": -0.12}]},
        {"value_or_threshold": "GB", "metrics": [{"name": "DPPL", "value": 0.05}]}]}}})
    mod = load("bias_limits", monkeypatch, IN=tmp_path / "analysis.json", OUT=tmp_path / "out")
    monkeypatch.setattr(sys, "argv", ["bias_limits.py", "--metric", "DPPL"])
    mod.main()
    got = json.loads((tmp_path / "out" / "limits.json").read_text())
    assert got == {"metric": "DPPL", "max_abs": 0.12, "count": 2}


def test_drift_threshold_rewrites_constraints(tmp_path, monkeypatch):
    write(tmp_path / "constraints.json", {"version": 0.0, "features": [], "monitoring_config": {
        "distribution_constraints": {"comparison_threshold": 0.1}}})
    mod = load("drift_threshold", monkeypatch, IN=tmp_path / "constraints.json", OUT=tmp_path / "out")
    monkeypatch.setattr(sys, "argv", ["drift_threshold.py", "--threshold", "0.2"])
    mod.main()
    got = json.loads((tmp_path / "out" / "constraints.json").read_text())
    assert got["monitoring_config"]["distribution_constraints"] == {"comparison_threshold": 0.2,
                                                                    "perform_comparison": "Enabled"}


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_baseline_features_are_the_training_columns_without_the_label(tmp_path, monkeypatch, fmt):
    import pandas as pd

    df = pd.DataFrame({"tx": ["a", "b", "c"], "amount_log": [0.1, 0.2, 0.3], "is_fraud": [0, 1, 0],
                       "mcc_bucket": [1, 2, 3]})
    src = tmp_path / "in" / "part"
    src.mkdir(parents=True)
    {"csv": lambda p: df.to_csv(p, index=False), "parquet": df.to_parquet,
     "jsonl": lambda p: df.to_json(p, orient="records", lines=True)}[fmt](src / f"0.{fmt}")
    (tmp_path / "in" / "_SUCCESS").write_text("")
    mod = load("baseline_features", monkeypatch, IN=tmp_path / "in", OUT=tmp_path / "out")
    assert mod.main(["--format", fmt, "--label", "is_fraud", "--drop", "tx", "--drop", "absent"]) == 0
    got = pd.read_csv(tmp_path / "out" / "features.csv")
    assert list(got.columns) == ["amount_log", "mcc_bucket"] and len(got) == 3
    assert mod.main(["--format", fmt, "--label", "missing"]) == 1


def test_baseline_features_write_the_bias_monitors_analysis_config(tmp_path, monkeypatch):
    """Issue 12: a bias_drift monitor's `headers` are the columns the endpoint receives (the
    training input without label and id columns, in training order), then the label; a facet
    the endpoint does not receive fails the step instead of a monitor that can never run."""
    import pandas as pd

    df = pd.DataFrame({"tx": ["a", "b"], "amount_log": [0.1, 0.2], "country": ["US", "GB"], "is_fraud": [0, 1],
                       "mcc_bucket": [1, 2]})
    (tmp_path / "in").mkdir()
    df.to_parquet(tmp_path / "in" / "0.parquet")
    spec = {"label": "is_fraud", "label_values_or_threshold": [1], "facet": [{"name_or_index": "country"}],
            "methods": {"post_training_bias": {"methods": ["DPPL"]}}}
    write(tmp_path / "spec.json", spec)
    mod = load("baseline_features", monkeypatch, IN=tmp_path / "in", OUT=tmp_path / "out",
               OUT_CONFIG=tmp_path / "cfg")
    args = ["--format", "parquet", "--label", "is_fraud", "--drop", "tx", "--bias-config", str(tmp_path / "spec.json")]
    assert mod.main(args) == 0
    got = json.loads((tmp_path / "cfg" / "analysis_config.json").read_text())
    assert got == {**spec, "headers": ["amount_log", "country", "mcc_bucket", "is_fraud"]}
    assert not (tmp_path / "out").exists()  # no features.csv: the config is all the monitor needs
    write(tmp_path / "spec.json", {**spec, "facet": [{"name_or_index": "tx"}]})  # an id column: not received
    assert mod.main(args) == 1


def test_validate_data_applies_the_checks(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "part-0.csv").write_text("amount,country\n1.5,US\n-2,GB\n,US\n")
    spec = {"format": "csv", "checks": {"min_rows": 10, "max_null_fraction_percent": 1.0},
            "schema": [{"name": "amount", "nullable": True, "min": 0, "max": None, "allowed": None},
                       {"name": "country", "nullable": False, "min": None, "max": None, "allowed": ["US", "GB"]},
                       {"name": "missing", "nullable": True, "min": None, "max": None, "allowed": None}]}
    write(tmp_path / "spec.json", spec)
    mod = load("validate_data", monkeypatch, DATA=tmp_path / "data", OUT=tmp_path / "out")
    monkeypatch.setattr(sys, "argv", ["validate_data.py", "--spec-file", str(tmp_path / "spec.json")])
    with pytest.raises(SystemExit) as e:
        mod.main()
    assert e.value.code == 1
    problems = json.loads((tmp_path / "out" / "report.json").read_text())["problems"]
    assert any("fewer than 10" in p for p in problems)
    assert any("null fraction" in p for p in problems)
    assert any("`amount` below 0" in p for p in problems)
    assert any("`missing` missing" in p for p in problems)
    assert not any("country" in p for p in problems)


def test_mlflow_tracker_logs_params_tags_and_metrics(monkeypatch):
    import io

    mod = load("track_mlflow", monkeypatch)

    class FakeS3:
        def get_object(self, Bucket, Key):
            assert (Bucket, Key) == ("bkt", "pipelines/x/evaluate/metrics/evaluation.json")
            return {"Body": io.BytesIO(json.dumps({"metrics": {"auc": {"value": 0.91}}}).encode())}

    class FakeSession:
        def client(self, name):
            assert name == "s3"
            return FakeS3()

    class FakeClient:
        def __init__(self):
            self.calls = []

        def call(self, method, path, body=None):
            self.calls.append((method, path, body))
            if path.startswith("experiments/get-by-name"):
                raise RuntimeError("RESOURCE_DOES_NOT_EXIST")
            if path == "experiments/create":
                return {"experiment_id": "7"}
            if path == "runs/create":
                return {"run": {"info": {"run_id": "r1"}}}
            return {}

    c = FakeClient()
    out = mod.handler({"experiment": "churn weekly", "step": "train_gbm", "tracking_server": "https://x",
                       "run_name": "exec1", "metrics_uri": "s3://bkt/pipelines/x/evaluate/metrics",
                       "params": json.dumps({"n_estimators": 300}), "tags": json.dumps({"mlspec.spec_sha256": "ab"})},
                      client=c, session=FakeSession())
    assert out == {"run_id": "r1"}
    paths = [p for _, p, _ in c.calls]
    assert paths == ["experiments/get-by-name?experiment_name=churn%20weekly", "experiments/create", "runs/create",
                     "runs/log-batch", "runs/update"]
    batch = c.calls[3][2]
    assert batch["metrics"][0]["key"] == "auc" and batch["metrics"][0]["value"] == 0.91
    assert batch["params"] == [{"key": "n_estimators", "value": "300"}]
    assert batch["tags"] == [{"key": "mlspec.spec_sha256", "value": "ab"}]
