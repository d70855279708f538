"""Every substitution a target makes is a W505 warning that `check` and `compile` print, with
the span of what the spec asked for (issue 10, item 5); never only a line in report.md."""
from __future__ import annotations

import re
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
    # the model's format follows its framework (SageMaker's scikit-learn container has no XGBoost loader: E505)
    spec.write_text(src.replace('framework       = xgboost("1.7")', 'framework       = sklearn("1.2")')
                    .replace("format      = xgboost", "format      = sklearn"), encoding="utf-8")
    shutil.copytree(SPECS / "fraud_detection" / "src", tmp_path / "fraud_detection" / "src")  # its code folder
    found = _warnings(spec, "sagemaker")
    assert any("no GPU training image for `sklearn`" in w for w in found), found
    # XGBoost's image serves GPUs
    assert not [w for w in _warnings(SPECS / "fraud_detection.mlspec", "sagemaker") if "GPU" in w]


def _fraud_with(tmp_path: Path, old: str, new: str) -> Path:
    src = (SPECS / "fraud_detection.mlspec").read_text(encoding="utf-8")
    assert old in src
    tmp_path.mkdir(parents=True, exist_ok=True)
    spec = tmp_path / "fraud_detection.mlspec"
    spec.write_text(src.replace(old, new, 1), encoding="utf-8")
    shutil.copytree(SPECS / "fraud_detection" / "src", tmp_path / "fraud_detection" / "src")
    return spec


def test_azureml_normalizes_wasserstein_with_a_warning(tmp_path):
    spec = _fraud_with(tmp_path, "metric    = psi", "metric    = wasserstein")
    found = _warnings(spec, "azureml")
    assert any("normalized Wasserstein distance" in w for w in found), found


def test_azureml_refusal_suggests_only_metrics_that_would_pass(tmp_path):
    """A drift metric Azure ML does not compute is refused; the hint names only metrics the
    language accepts for the monitor's kind and Azure ML computes (not `js` or `ks`, which the
    checker refuses for data drift)."""
    from mlspec.compiler.check.serving import MONITOR_METRICS

    spec = _fraud_with(tmp_path, "metric    = psi", "metric    = chi_squared")
    res = compile_spec(str(spec), ["azureml"])
    [d] = [d for d in res.diagnostics if d.code == "E505" and "no metric `chi_squared`" in d.summary]
    named = re.findall(r"`(\w+)`", d.hint)
    assert named and set(named) <= set(MONITOR_METRICS["data_drift"]) and "psi" in named
    for metric in named:  # and each suggestion compiles
        again = _fraud_with(tmp_path / metric, "metric    = psi", f"metric    = {metric}")
        assert compile_spec(str(again), ["azureml"]).ok, metric


def test_vertex_training_container_of_a_nearby_version_warns():
    """Vertex has sklearn training containers 1.0 and 1.3: `sklearn("1.2-1")` trains on 1.3 and
    says so at the step; an exact version (XGBoost 1.7) says nothing."""
    found = _warnings(SPECS / "house_prices.mlspec", "vertex")
    assert any("no prebuilt training container for sklearn 1.2-1" in w and "sklearn-cpu.1-3" in w
               and "step `train`" in w for w in found), found
    assert not any("no prebuilt training container for xgboost" in w
                   for w in _warnings(SPECS / "fraud_detection.mlspec", "vertex"))


def test_sagemaker_model_quality_join_is_on_the_inference_id_and_says_so():
    """SageMaker merges ground truth on the request's inference id, not on `join_on`'s column:
    a W505 at the monitor tells the user what callers and the ground truth must carry."""
    found = [w for w in _warnings(SPECS / "house_prices.mlspec", "sagemaker") if "model_quality monitor" in w]
    assert len(found) == 1, found
    assert "not on the column `sale_id`" in found[0] and "InferenceId=<sale_id value>" in found[0]
    assert not any("inference id" in w for w in _warnings(SPECS / "house_prices.mlspec", "vertex"))
