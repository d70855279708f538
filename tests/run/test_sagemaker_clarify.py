"""The local SageMaker Clarify DataBias job (targets/sagemaker/clarify_local.py): smclarify computes
the pre-training bias metrics from the job's own analysis_config, on the data as Clarify reads
it, and writes analysis.json in Clarify's layout, which mlspec's bias-limits helper reads."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("smclarify")

from mlspec.targets.sagemaker import clarify_local as cl  # noqa: E402

HELPER = Path(cl.__file__).parent / "templates" / "scripts" / "bias_limits.py"

# 120 rows: with fewer, smclarify (like Clarify) reads an integer label with >= 5% distinct
# values as continuous, and [1] as a threshold
ROWS = pd.DataFrame({
    "transaction_id": [f"t{i}" for i in range(120)],
    "country": (["US"] * 6 + ["GB"] * 4 + ["DE"] * 2) * 10,
    "amount": [float(i) for i in range(120)],
    "is_fraud": [1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1] * 10,
})
CONFIG = {"dataset_type": "text/csv", "label": "is_fraud", "label_values_or_threshold": [1],
          "facet": [{"name_or_index": "country"}], "methods": {"pre_training_bias": {"methods": ["DPL"]}}}


def dpl(df: pd.DataFrame, value: str) -> float:
    """Clarify's documented DPL: q_a - q_d, the positive-label proportions outside and inside the facet."""
    inside, outside = df[df.country == value], df[df.country != value]
    return outside.is_fraud.mean() - inside.is_fraud.mean()


def test_dpl_per_facet_value_in_clarifys_layout(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    ROWS.iloc[:70].to_csv(data / "part-0.csv", index=False)  # two parts, each with its header row
    ROWS.iloc[70:].to_csv(data / "part-1.csv", index=False)
    doc = cl.analyze(CONFIG, data, tmp_path / "out")
    facets = doc["pre_training_bias_metrics"]["facets"]["country"]
    got = {f["value_or_threshold"]: f["metrics"][0]["value"] for f in facets}
    assert got == pytest.approx({v: dpl(ROWS, v) for v in ("US", "GB", "DE")})
    assert json.loads((tmp_path / "out" / "analysis.json").read_text()) == doc
    assert doc["pre_training_bias_metrics"]["label"] == "is_fraud"


def test_the_bias_limits_helper_reads_the_analysis(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    ROWS.to_parquet(data / "part-0.parquet")
    cl.analyze({**CONFIG, "dataset_type": "application/x-parquet"}, data, tmp_path / "analysis")
    src = HELPER.read_text().replace("/opt/ml/processing/input/analysis", str(tmp_path / "analysis")) \
        .replace("/opt/ml/processing/output/limits", str(tmp_path / "limits"))
    (tmp_path / "bias_limits.py").write_text(src)
    subprocess.run([sys.executable, str(tmp_path / "bias_limits.py"), "--metric", "DPL"], check=True)
    limits = json.loads((tmp_path / "limits" / "limits.json").read_text())
    assert limits["max_abs"] == pytest.approx(max(abs(dpl(ROWS, v)) for v in ("US", "GB", "DE")))
    # a metric Clarify did not compute never passes a limit
    out = subprocess.run([sys.executable, str(tmp_path / "bias_limits.py"), "--metric", "CI"],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "no value of CI" in out.stderr


def test_what_clarify_would_reject_or_only_sagemaker_runs(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    ROWS.to_csv(data / "part-0.csv", index=False)
    with pytest.raises(cl.ConfigError, match="header row"):  # explicit headers + a header row
        cl.analyze({**CONFIG, "headers": list(ROWS.columns)}, data, tmp_path / "o")
    with pytest.raises(cl.ConfigError, match="`region` is not a column"):
        cl.analyze({**CONFIG, "facet": [{"name_or_index": "region"}]}, data, tmp_path / "o")
    with pytest.raises(cl.Unsupported, match="shadow endpoint"):
        cl.analyze({**CONFIG, "methods": {"post_training_bias": {"methods": ["DPPL"]}}}, data, tmp_path / "o")
    with pytest.raises(cl.Unsupported, match="dataset_type"):
        cl.analyze({**CONFIG, "dataset_type": "application/jsonlines"}, data, tmp_path / "o")
