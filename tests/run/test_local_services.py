"""The local stand-ins for cloud services that step processes talk to (Azure ML workspace,
Vertex AI registry): vendor entities in, the service's rules applied, state kept on disk."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mlspec.compiler.run.engine import RunContext, StepFailed

TARGETS = Path(__file__).resolve().parents[2] / "targets"


def _ctx(tmp_path: Path) -> RunContext:
    return RunContext(workdir=tmp_path / "work", python=sys.executable, spec_dir=tmp_path, build_dir=tmp_path,
                      environment="dev", pipeline="p", ir={}, data={})


def _run(tmp_path, code: str, shim: str, env: dict) -> str:
    script = tmp_path / "step.py"
    script.write_text(code)
    cloud = {"azure_local": "azureml", "vertex_local": "vertex"}[shim]
    env = {**env, "MLSPEC_RUN_SHIMS": shim, "PYTHONPATH": str(TARGETS / cloud / "runshim")}
    return _ctx(tmp_path).exec_script("step", ["python", str(script)], env=env)


AZURE_REGISTER = """
import os
from azure.identity import ManagedIdentityCredential
from azure.ai.ml import MLClient
from azure.ai.ml.entities import Model
c = MLClient(ManagedIdentityCredential(), "sub", "rg", "ws")
print("token", bool(ManagedIdentityCredential().get_token("https://management.azure.com/.default").token))
m = c.models.create_or_update(Model(name="fraud_scorer", path=os.environ["MODEL_DIR"], type="custom_model",
                                    tags={"mlspec.stage": os.environ["STAGE"]}))
print("registered", m.name, m.version)
print("approved", [x.version for x in c.models.list(name="fraud_scorer") if x.tags.get("mlspec.stage") == "approved"])
"""


def test_azure_workspace_registers_model_versions_through_azure_ai_ml(tmp_path):
    pytest.importorskip("azure.ai.ml")
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.bst").write_text("m")
    env = {"MLSPEC_RUN_AZURE_WORKSPACE": str(tmp_path / "ws"), "MODEL_DIR": str(model)}
    out = _run(tmp_path, AZURE_REGISTER, "azure_local", {**env, "STAGE": "pending_approval"})
    assert "token True" in out and "registered fraud_scorer 1" in out and "approved []" in out
    out = _run(tmp_path, AZURE_REGISTER, "azure_local", {**env, "STAGE": "approved"})
    assert "registered fraud_scorer 2" in out and "approved ['2']" in out
    doc = json.loads((tmp_path / "ws/models/fraud_scorer/1.json").read_text())
    assert doc["tags"] == {"mlspec.stage": "pending_approval"}
    assert (Path(doc["path"]) / "model.bst").is_file()


def test_azure_workspace_rejects_what_the_service_would(tmp_path):
    pytest.importorskip("azure.ai.ml")
    code = AZURE_REGISTER.replace('tags={"mlspec.stage": os.environ["STAGE"]}', 'tags={"n": 1}')
    with pytest.raises(StepFailed, match="tags are strings"):
        _run(tmp_path, code, "azure_local", {"MLSPEC_RUN_AZURE_WORKSPACE": str(tmp_path / "ws"),
                                             "MODEL_DIR": str(tmp_path)})


VERTEX_REGISTER = """
import os
from google.api_core import exceptions
from google.cloud import aiplatform
aiplatform.init(project="p", location="us-central1", experiment="exp")
aiplatform.start_run("run-1")
aiplatform.log_params({"eta": 0.2})
aiplatform.log_metrics({"f1": 0.97})
aiplatform.end_run()
try:
    aiplatform.Model("m-1@production")
except exceptions.NotFound:
    print("no champion")
m = aiplatform.Model.upload(display_name="m", model_id="m-1", artifact_uri="gs://b/model",
                            serving_container_image_uri="img", version_aliases=os.environ["ALIASES"].split(","),
                            labels={"env": "dev"}, sync=True)
aiplatform.gapic.ModelServiceClient().import_model_evaluation(parent=m.versioned_resource_name,
    model_evaluation={"display_name": "e", "metrics": {"f1": 0.97}})
champ = aiplatform.Model("m-1@production")
print("champion", champ.version_id, dict(champ.list_model_evaluations()[0].metrics))
"""


def test_vertex_registry_serves_uploads_aliases_and_evaluations(tmp_path):
    pytest.importorskip("google.cloud.aiplatform")
    out = _run(tmp_path, VERTEX_REGISTER, "vertex_local",
               {"MLSPEC_RUN_VERTEX_REGISTRY": str(tmp_path / "reg"), "ALIASES": "pending,production"})
    assert "no champion" in out and "champion 1 {'f1': 0.97}" in out
    exp = json.loads((tmp_path / "reg/experiments/run-1.json").read_text())
    assert exp["params"] == {"eta": 0.2} and exp["metrics"] == {"f1": 0.97}


def test_vertex_registry_rejects_invalid_aliases_and_labels(tmp_path):
    pytest.importorskip("google.cloud.aiplatform")
    code = VERTEX_REGISTER.replace('labels={"env": "dev"}', 'labels={"Env": "Dev Value"}')
    with pytest.raises(StepFailed, match="InvalidArgument|invalid"):
        _run(tmp_path, code, "vertex_local", {"MLSPEC_RUN_VERTEX_REGISTRY": str(tmp_path / "reg"),
                                              "ALIASES": "pending"})
