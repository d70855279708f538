"""Every substitution a target makes is a W505 warning that `check` and `compile` print, with
the span of what the spec asked for (issue 10, item 5); never only a line in report.md."""
from __future__ import annotations

import shutil
from pathlib import Path

from mlspec.compiler.api import compile_spec

SPECS = Path(__file__).resolve().parents[2] / "specs"


def _warnings(path: Path, target: str) -> list[str]:
    res = compile_spec(str(path), [target])  # out=None: what `mlspec check` runs
    assert res.ok, [d.summary for d in res.diagnostics if d.is_error]
    return [d.summary for d in res.diagnostics if d.code == "W505"]


def test_vertex_target_rps_becomes_a_cpu_target_with_a_warning():
    found = _warnings(SPECS / "fraud_detection.mlspec", "vertex")
    assert any("cannot autoscale on requests per second" in w and "target_rps 100" in w for w in found), found


def test_sagemaker_gpu_step_on_a_cpu_only_framework_image_warns(tmp_path):
    src = (SPECS / "fraud_detection.mlspec").read_text(encoding="utf-8")
    assert 'framework       = xgboost("1.7")' in src
    spec = tmp_path / "fraud_detection.mlspec"
    spec.write_text(src.replace('framework       = xgboost("1.7")', 'framework       = sklearn("1.2")'),
                    encoding="utf-8")
    shutil.copytree(SPECS / "fraud_detection" / "src", tmp_path / "fraud_detection" / "src")  # its code folder
    found = _warnings(spec, "sagemaker")
    assert any("no GPU training image for `sklearn`" in w for w in found), found
    assert not _warnings(SPECS / "fraud_detection.mlspec", "sagemaker")  # XGBoost's image serves GPUs
