"""One definition of every bias_check metric on every cloud: SageMaker Clarify's.

SageMaker runs Clarify itself; Vertex AI and Azure ML compute the metric in mlspec's own step
code. Here the Vertex runtime's and the Azure ML helper's metric functions are judged against
`smclarify`, the open-source library behind Clarify's bias metrics, on the same rows: labels for
the pre-training metrics, predicted labels for the post-training ones (docs/language.md#bias_check).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from mlspec.compiler.check.pipeline import BIAS_LABEL_METRICS, BIAS_PREDICTION_METRICS

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")
report = pytest.importorskip("smclarify.bias.report")

TARGETS = Path(__file__).resolve().parents[2] / "targets"


def _load(name: str, path: Path, extra_path: Path | None = None):
    if extra_path is not None:
        sys.path.insert(0, str(extra_path))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        if extra_path is not None:
            sys.path.remove(str(extra_path))
    return mod


@pytest.fixture(scope="module")
def implementations():
    vx = _load("mlspec_vx_runtime", TARGETS / "vertex/templates/runtime/mlspec_runtime.py")
    az_dir = TARGETS / "azureml/templates/code/_mlspec"
    az = _load("mlspec_az_bias", az_dir / "bias_check.py", az_dir)

    def vertex(metric, y, in_d, positive):
        return vx.bias_value(metric, list(y), list(in_d), positive), vx.bias_disparity

    def azure(metric, y, in_d, positive):
        return az.metric_value(metric, y, np.asarray(in_d), positive), az.disparity

    return {"vertex": vertex, "azureml": azure}


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(7)
    n = 600
    region = rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2])
    # labels and predictions lean on region, so every metric is far from zero
    base = np.where(region == "east", 0.45, np.where(region == "south", 0.3, 0.2))
    return pd.DataFrame({"region": pd.Series(region, dtype=object),
                         "label": (rng.random(n) < base).astype(int),
                         "pred": (rng.random(n) < base + 0.1).astype(int)})


def _clarify(df, metric: str) -> dict[str, float]:
    """smclarify's value of `metric` per facet value, as Clarify's analysis.json reports it."""
    name = metric.upper()
    label = report.LabelColumn("label", df["label"], [1])
    if metric in BIAS_PREDICTION_METRICS:
        out = report.bias_report(df, report.FacetColumn("region"), label, report.StageType.POST_TRAINING,
                                 predicted_label_column=report.LabelColumn("pred", df["pred"], [1]), metrics=[name])
    else:
        out = report.bias_report(df, report.FacetColumn("region"), label, report.StageType.PRE_TRAINING,
                                 metrics=[name])
    return {str(r["value_or_threshold"]): next(m["value"] for m in r["metrics"] if m["name"] == name) for r in out}


@pytest.mark.parametrize("target", ["vertex", "azureml"])
@pytest.mark.parametrize("metric", BIAS_LABEL_METRICS + BIAS_PREDICTION_METRICS)
def test_metric_equals_clarify(implementations, rows, target, metric):
    expected = _clarify(rows, metric)
    assert set(expected) == {"north", "south", "east"}
    column = "pred" if metric in BIAS_PREDICTION_METRICS else "label"
    for value, want in expected.items():
        got, _ = implementations[target](metric, rows[column], (rows["region"] == value).to_numpy(), 1)
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (metric, value)
    assert max(abs(v) for v in expected.values()) > 0.01  # the rows discriminate


@pytest.mark.parametrize("target", ["vertex", "azureml"])
def test_disparity_is_distance_from_parity(implementations, rows, target):
    """DI is a ratio whose parity is 1 (the SageMaker limit step uses |1 - DI| as well); the
    differences and divergences have parity 0."""
    _, disparity = implementations[target]("dpl", rows["label"], (rows["region"] == "east").to_numpy(), 1)
    assert disparity("di", 1.0) == 0.0
    assert disparity("di", 0.8) == pytest.approx(0.2)
    assert disparity("di", 1.25) == pytest.approx(0.25)
    assert disparity("dpl", -0.3) == pytest.approx(0.3)


def test_sagemaker_limit_step_reads_di_as_distance_from_parity(tmp_path, monkeypatch):
    """The SageMaker limit script (reading Clarify's analysis.json) applies the same rule."""
    import json
    import runpy

    analysis = {"post_training_bias_metrics": {"facets": {"region": [
        {"value_or_threshold": "east", "metrics": [{"name": "DI", "value": 0.7}]},
        {"value_or_threshold": "north", "metrics": [{"name": "DI", "value": 1.1}]}]}}}
    script = TARGETS / "sagemaker/templates/scripts/bias_limits.py"
    src = script.read_text(encoding="utf-8")
    src = src.replace('"/opt/ml/processing/input/analysis/analysis.json"', repr(str(tmp_path / "analysis.json")))
    src = src.replace('"/opt/ml/processing/output/limits"', repr(str(tmp_path / "limits")))
    (tmp_path / "analysis.json").write_text(json.dumps(analysis))
    (tmp_path / "bias_limits.py").write_text(src)
    monkeypatch.setattr(sys, "argv", ["bias_limits.py", "--metric", "DI"])
    runpy.run_path(str(tmp_path / "bias_limits.py"), run_name="__main__")
    limits = json.loads((tmp_path / "limits" / "limits.json").read_text())
    assert limits["max_abs"] == pytest.approx(0.3) and limits["count"] == 2


# ------------------------------------------------------------------ bias_drift monitors

def _clarify_disparity(df, metric: str) -> float:
    """The monitor's value as Clarify defines it: the largest distance from parity over the facet's values."""
    values = _clarify(df, metric)
    return max(abs(1.0 - v) if metric == "di" else abs(v) for v in values.values())


@pytest.mark.parametrize("metric", BIAS_PREDICTION_METRICS)
def test_vertex_bias_drift_monitor_is_clarifys_metric_on_served_predictions(rows, metric):
    from mlspec.compiler.check.serving import MONITOR_METRICS

    assert MONITOR_METRICS["bias_drift"] == BIAS_PREDICTION_METRICS  # a monitor sees predictions only
    vx = _load("mlspec_vx_runtime_monitor", TARGETS / "vertex/templates/runtime/mlspec_runtime.py")
    # logged (instance, score) pairs; the model answers probabilities, thresholded at 0.5
    logged = [({"region": r}, 0.8 if p else 0.2) for r, p in zip(rows["region"], rows["pred"])]
    got = vx.compute_monitor({"kind": "bias_drift", "metric": metric, "facets": ["region"],
                              "prediction": "probability", "threshold": 0.5}, logged, [])
    assert got == pytest.approx(_clarify_disparity(rows, metric), rel=1e-9)
    assert got > 0.01


@pytest.mark.parametrize("metric", BIAS_PREDICTION_METRICS)
def test_azure_bias_drift_monitor_is_clarifys_metric_on_collected_predictions(rows, metric, tmp_path):
    """quality_monitor.py over the data collector's nested JSON lines (inputs and outputs joined
    on correlationid and row), run as the pipeline job runs it."""
    import json
    import os
    import shutil
    import subprocess

    pytest.importorskip("mlflow")
    code = tmp_path / "code" / "_mlspec"
    shutil.copytree(TARGETS / "azureml/templates/code/_mlspec", code)
    inputs, outputs = tmp_path / "inputs" / "2026" / "12", tmp_path / "outputs" / "2026" / "12"
    inputs.mkdir(parents=True)
    outputs.mkdir(parents=True)
    chunks = [rows.iloc[i:i + 50] for i in range(0, len(rows), 50)]  # 50 rows per request
    (inputs / "data.jsonl").write_text("".join(
        json.dumps({"correlationid": f"req-{n}", "data": [{"region": r} for r in c["region"]]}) + "\n"
        for n, c in enumerate(chunks)))
    (outputs / "data.jsonl").write_text("".join(
        json.dumps({"correlationid": f"req-{n}", "data": [0.8 if p else 0.2 for p in c["pred"]]}) + "\n"
        for n, c in enumerate(chunks)))
    cfg = {"kind": "bias_drift", "metric": metric, "facets": ["region"], "above": 10.0, "below": None,
           "monitor": "exposure", "endpoint": "ranking-prod", "label": "label", "positive_label": None,
           "model_loading": {"format": "sklearn", "prediction": "probability", "threshold": 0.5}}
    (tmp_path / "code" / "cfg.json").write_text(json.dumps(cfg))
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "MLFLOW_TRACKING_URI": (tmp_path / "mlruns").as_uri(),
           "MLFLOW_ALLOW_FILE_STORE": "true"}
    out = subprocess.run([sys.executable, "_mlspec/quality_monitor.py", "--config", "cfg.json",
                          "--model_inputs", str(tmp_path / "inputs"), "--model_outputs", str(tmp_path / "outputs"),
                          "--report", str(tmp_path / "report")],
                         cwd=tmp_path / "code", capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads((tmp_path / "report" / "monitor.json").read_text())
    assert report["rows"] == len(rows)
    assert report["value"] == pytest.approx(_clarify_disparity(rows, metric), rel=1e-9)
