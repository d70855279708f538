"""A model's `serve { requirements = ... }` file is installed in its Azure ML scoring environment
(issue 14): compiled through the public API, the serving environment's conda file lists the
file's requirements after mlspec's pins, azure-ai-ml loads the environment, `packaging` accepts
every requirement, and the deployments (CLI files and the Pulumi stack data) use that
environment. Lines the image build cannot honour are refused with E505."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

import az_helpers
from mlspec.compiler import api

ROOT = Path(__file__).resolve().parents[3]
SERVE = ('serve { entry_point = "fraud_detection/src/serve.py"  '
         'requirements = "fraud_detection/src/serve-requirements.txt" }\n    approval { approvers')


def _spec(tmp: Path, requirements: str) -> Path:
    shutil.copytree(ROOT / "specs" / "fraud_detection", tmp / "fraud_detection")
    text = (ROOT / "specs" / "fraud_detection.mlspec").read_text()
    assert "approval { approvers" in text
    (tmp / "fraud_detection.mlspec").write_text(text.replace("approval { approvers", SERVE, 1))
    (tmp / "fraud_detection" / "src" / "serve-requirements.txt").write_text(requirements)
    return tmp / "fraud_detection.mlspec"


def test_serve_requirements_are_built_into_the_scoring_environment(tmp_path):
    from packaging.requirements import Requirement

    spec = _spec(tmp_path, "# serving extras\nlightgbm==4.*   # the handler's booster\n\n"
                           "requests>=2.31 ; python_version >= '3.8'\n")
    res = api.compile_spec(str(spec), ["azureml"], env="prod", out=tmp_path / "b")
    assert res.ok, [(d.code, d.summary) for d in res.diagnostics]
    root = tmp_path / "b" / "azureml"
    deployment = yaml.safe_load((root / "prod/endpoints/scoring/blue-deployment.yml").read_text())
    env_ref = deployment["environment"]
    name, version = env_ref[len("azureml:"):].split(":")
    assert "-serve-req-" in name
    conda = yaml.safe_load((root / "environments" / f"{name}.conda.yml").read_text())
    pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    assert pip[-2:] == ["lightgbm==4.*", "requests>=2.31 ; python_version >= '3.8'"]  # after mlspec's pins
    assert "azureml-inference-server-http==1.*" in pip and "xgboost==1.7.*" in pip
    for req in pip:
        Requirement(req)  # what pip (and the image build) accepts
    from azure.ai.ml import load_environment

    with az_helpers.chdir(root / "environments"):
        env = load_environment(f"{name}.yml")
    assert (env.name, env.version) == (name, version) and env.conda_file["dependencies"] == conda["dependencies"]
    stack = json.loads((root / "pulumi/stacks/prod.json").read_text())
    served = [v["environment"] for e in stack["endpoints"] for v in (e["serving"] or {}).values() if v]
    assert served and set(served) == {f"{name}:{version}"}  # what the program deploys
    # the environment's version follows the requirements: another file, another version
    spec2 = _spec(tmp_path / "2", "lightgbm==4.3.0\n")
    res2 = api.compile_spec(str(spec2), ["azureml"], env="prod", out=tmp_path / "b2")
    d2 = yaml.safe_load((tmp_path / "b2/azureml/prod/endpoints/scoring/blue-deployment.yml").read_text())
    assert res2.ok and d2["environment"] != env_ref


@pytest.mark.parametrize("line,why", [("--index-url https://example.org/simple", "pip option"),
                                      ("-r other.txt", "pip option"),
                                      ("foo @ https://example.org/foo.whl", "direct URL"),
                                      ("bad==", "not a valid requirement")])
def test_requirements_the_image_build_cannot_honour_are_refused(tmp_path, line, why):
    spec = _spec(tmp_path, f"lightgbm==4.*\n{line}\n")
    res = api.compile_spec(str(spec), ["azureml"], env="prod", out=tmp_path / "b")
    errors = [d for d in res.diagnostics if d.is_error]
    assert not res.ok and [d.code for d in errors] == ["E505"]
    assert "serve-requirements.txt` line 2" in errors[0].summary and why in errors[0].summary
    assert errors[0].span is not None and errors[0].hint
