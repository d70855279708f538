"""Train / evaluate / serve framework version skew (issue 13): Vertex's prebuilt training and
prediction containers do not come in the same versions, so the steps that load a trained model and
its serving container ask for the version the model was trained with; where Vertex has none, a newer
loader is a W505 substitution and an older one is refused (E505)."""
from __future__ import annotations

import copy
import json

import fixtures
from buildutil import lower
from mlspec.targets.vertex.pipeline import prebuilt_version


def _pytorch_ir(train_image=None) -> dict:
    ir = copy.deepcopy(fixtures.maximal_ir("prod"))
    for st in ir["pipelines"][0]["steps"]:
        if st["id"] == "step.train":
            st["framework"] = {"name": "pytorch", "version": "2.1"}
            st["compute"] = fixtures.GPU
            st["image"] = train_image
    for m in ir["models"]:
        m["framework"] = {"name": "pytorch", "version": "2.1"}
    return ir


def _images(low) -> dict[str, str]:
    spec = next(a.content for a in low.artifacts if a.path == "pipelines/prod/training.json")
    out = {}
    for name, ex in spec["deploymentSpec"]["executors"].items():
        args = (ex.get("container") or {}).get("args") or []
        for flag in ("--payload", "--config"):
            if flag in args:
                text = args[args.index(flag) + 1]
                doc = json.loads(text)
                if "job_spec" in doc:
                    out[name] = doc["job_spec"]["worker_pool_specs"][0]["container_spec"]["image_uri"]
                elif "serving_image" in doc:
                    out[name] = doc["serving_image"]
    return out


def test_loaders_on_a_cpu_get_the_closest_newer_version_with_a_warning():
    low = lower([_pytorch_ir()])
    images = _images(low)
    assert prebuilt_version(images["exec-train"]) == (2, 1)  # the GPU training container exists for 2.1
    assert prebuilt_version(images["exec-evaluate"]) == (2, 3)  # Vertex's CPU PyTorch training images: 2.3, 2.4
    assert prebuilt_version(images["exec-register"]) == (2, 1)  # a 2.1 prediction container exists
    skew = [d for d in low.diagnostics if "trained with pytorch 2.1" in d.summary]
    assert skew and all(d.code == "W505" and d.severity == "warning" for d in skew)
    assert {d.ir_id for d in skew} >= {"step.evaluate", "step.fairness", "step.explain", "step.score_holdout"}
    assert not any(d.code == "E505" for d in low.diagnostics)


def test_server_follows_the_version_the_model_was_trained_with():
    """sklearn 1.2 has no Vertex training container: training runs 1.3 (W505); the model is then served
    by the 1.3 prediction container, not the 1.2 one the spec names (which could not read it)."""
    ir = copy.deepcopy(fixtures.maximal_ir("prod"))
    for st in ir["pipelines"][0]["steps"]:
        if st["id"] == "step.train":
            st["framework"] = {"name": "sklearn", "version": "1.2"}
            st["compute"] = fixtures.CPU
    for m in ir["models"]:
        m["framework"] = {"name": "sklearn", "version": "1.2"}
    low = lower([ir])
    images = _images(low)
    assert prebuilt_version(images["exec-train"]) == (1, 3)
    assert prebuilt_version(images["exec-register"]) == (1, 3)
    assert not [d for d in low.diagnostics if "trained with" in d.summary]


def test_an_older_server_than_the_trainer_is_refused():
    image = "us-docker.pkg.dev/vertex-ai/training/pytorch-gpu.2-9:latest"  # newer than any prediction container
    low = lower([_pytorch_ir(image)])
    refused = [d for d in low.diagnostics if d.code == "E505" and "trained with pytorch 2.9" in d.summary]
    assert refused and refused[0].ir_id == "model.fraud_scorer"
    assert "serving container" in refused[0].summary and "older pytorch" in refused[0].summary


def _served(fmt, framework, serve=None):
    ir = copy.deepcopy(fixtures.maximal_ir("prod"))
    for st in ir["pipelines"][0]["steps"]:
        if st["id"] == "step.train":
            st["framework"] = framework
    m = ir["models"][0]
    m.update(format=fmt, framework=framework, serve=serve)
    return [d for d in lower([ir]).diagnostics if d.ir_id == m["id"] and d.code == "E505"]


def test_served_formats_need_a_prebuilt_reader_unless_a_serve_handler_serves():
    assert _served("xgboost", {"name": "xgboost", "version": "1.7"}) == []
    assert _served("sklearn", {"name": "xgboost", "version": "1.7"}) == []  # the XGBoost container reads joblib
    [d] = _served("torchscript", {"name": "pytorch", "version": "2.1"})
    assert "format `torchscript`" in d.summary and "`sklearn`, `xgboost`" in d.hint
    # a `serve` handler is run by mlspec's server in the framework's prebuilt prediction image
    # (tests/targets/vertex/test_serve.py): the files it reads are the handler's business
    handler = {"entry_point": "src/serve.py", "requirements": None, "code_dir": "src"}
    assert _served("xgboost", {"name": "xgboost", "version": "1.7"}, serve=handler) == []
    assert _served("torchscript", {"name": "pytorch", "version": "2.1"}, serve=handler) == []
