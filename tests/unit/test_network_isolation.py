"""`network_isolation` on a script step: secure by default, relaxed only where the spec says so.

A job runs network-isolated unless its step says `network_isolation = false`, which is what a
step that installs `requirements` from a package mirror needs on SageMaker. The relaxation is
in the IR, lowered per job, and `mlspec diff` calls it a security change.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from mlspec.compiler import api
from mlspec.compiler.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
MIRROR = "https://acme-123456789012.d.codeartifact.eu-west-1.amazonaws.com/pypi/pypi/simple/"


def _spec(tmp_path: Path, *, isolation: str | None) -> Path:
    shutil.copytree(ROOT / "specs" / "house_prices", tmp_path / "house_prices")
    (tmp_path / "house_prices" / "src" / "requirements.txt").write_text("scikit-learn==1.2.1\n")
    src = (ROOT / "specs" / "house_prices.mlspec").read_text(encoding="utf-8")
    extra = '      requirements    = "house_prices/src/requirements.txt"\n'
    if isolation is not None:
        extra += f"      network_isolation = {isolation}\n"
    src = src.replace('      max_runtime     = 1h\n', '      max_runtime     = 1h\n' + extra, 1)
    src = src.replace('target sagemaker { region = "eu-west-1" }',
                      f'target sagemaker {{ region = "eu-west-1"  pip_index_url = "{MIRROR}" }}')
    spec = tmp_path / "house_prices.mlspec"
    spec.write_text(src, encoding="utf-8")
    return spec


def _steps(ir: dict) -> dict[str, dict]:
    return {s["name"]: s for s in ir["pipelines"][0]["steps"]}


def test_steps_are_isolated_unless_the_spec_says_otherwise(tmp_path):
    res = api.build_irs(str(_spec(tmp_path, isolation="false")), "prod")
    assert res.ok, [d.summary for d in res.diagnostics]
    steps = _steps(res.irs["prod"])
    assert steps["train"]["network_isolation"] is False
    assert all(s["network_isolation"] is True for n, s in steps.items() if n != "train")


def test_sagemaker_requirements_need_the_step_relaxed_and_the_hint_says_how(tmp_path, capsys):
    spec = _spec(tmp_path / "a", isolation=None)
    assert cli(["check", str(spec), "--target", "sagemaker"]) == 1
    err = capsys.readouterr().err
    assert "error[E505]" in err and "set `network_isolation = false` on the step" in err, err
    # following the hint passes, and only that job leaves isolation
    spec = _spec(tmp_path / "b", isolation="false")
    out = tmp_path / "build"
    assert cli(["compile", str(spec), "--target", "sagemaker", "--env", "prod", "--out", str(out)]) == 0
    doc = json.loads((out / "sagemaker" / "pipelines" / "prod" / "training.json").read_text())
    iso = {s["Name"]: (s["Arguments"].get("EnableNetworkIsolation")
                       if "EnableNetworkIsolation" in s["Arguments"]
                       else s["Arguments"].get("NetworkConfig", {}).get("EnableNetworkIsolation"))
           for s in doc["Steps"] if s["Type"] in ("Processing", "Training")}
    assert iso.pop("Train") is False
    assert iso and all(v is True for v in iso.values()), iso


def test_diff_calls_leaving_isolation_a_security_change(tmp_path, capsys):
    old = _spec(tmp_path / "old", isolation="true")
    new = _spec(tmp_path / "new", isolation="false")
    code = cli(["diff", str(old), str(new), "--env", "prod", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1, doc
    assert "network_isolation" in json.dumps(doc) and "security" in json.dumps(doc)
