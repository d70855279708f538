"""`mlspec run --target sagemaker` writes what SageMaker's monitors read: the bias_drift
monitor's Clarify analysis config comes from the served model's training input (issue 12,
item 10), and Clarify's own library accepts it on rows shaped like the monitor's data."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from mlspec.compiler.run import run_spec
from testkit import ROOT

pytestmark = pytest.mark.run_e2e
pytest.importorskip("smclarify")


def test_recommendations_bias_monitor_config_names_what_the_endpoint_receives(tmp_path):
    out = run_spec(str(ROOT / "specs" / "recommendations.mlspec"), "sagemaker", env="staging", workdir=str(tmp_path))
    assert out.report is not None and out.report.status == "succeeded"
    steps = {s.name: s for s in out.report.steps}
    assert steps["ExposureFeatures"].status == "succeeded"
    configs = list(tmp_path.rglob("baselines/exposure/analysis_config.json"))
    assert len(configs) == 1, configs
    cfg = json.loads(configs[0].read_text())
    # what the endpoint receives: split's `train` output without the label and the id column
    (train,) = list(tmp_path.rglob("pipelines/*/*/split/train/train.csv"))
    df = pd.read_csv(train)
    features = [c for c in df.columns if c not in ("clicked", "user_id")]
    assert cfg["headers"] == features + ["clicked"]
    assert cfg["label"] == "clicked" and cfg["facet"] == [{"name_or_index": "age_band"}]
    assert cfg["methods"] == {"post_training_bias": {"methods": ["DPPL"]}}
    # the monitor's rows: the captured request (headerless csv of those features) with the
    # ground-truth label after it; Clarify's loader names them by `headers` and finds the facet
    from smclarify.bias.report import FacetColumn, LabelColumn, StageType, bias_report

    from mlspec.targets.sagemaker import clarify_local

    captured = tmp_path / "captured"
    captured.mkdir()
    df[features + ["clicked"]].to_csv(captured / "rows.csv", header=False, index=False)
    rows = clarify_local.load_dataset({**cfg, "dataset_type": "text/csv"}, captured)
    assert list(rows.columns) == cfg["headers"]
    predicted = (rows["user_ctr"] >= rows["user_ctr"].median()).astype(int)
    report = bias_report(rows.drop(columns=["clicked"]), FacetColumn("age_band"),
                         LabelColumn("clicked", rows["clicked"], [1]), StageType.POST_TRAINING,
                         LabelColumn("predicted", predicted, [1]), metrics=["DPPL"])
    assert report and all(m["metrics"][0]["name"] == "DPPL" for m in report)
