"""Lowering contract: real example specs, determinism, import hygiene, refusals as diagnostics."""
from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlspec.compiler import api
from mlspec.targets.base import get_target
from mlspec.targets.sagemaker import SageMaker

from . import fixtures as fx

ROOT = Path(__file__).resolve().parents[3]
SPECS = sorted(p for p in (ROOT / "specs").glob("*.mlspec") if not p.name.startswith("."))


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_example_spec_compiles(spec):
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        res = api.compile_spec(str(spec.relative_to(ROOT)), ["sagemaker"])
    finally:
        os.chdir(cwd)
    assert res.ok, [f"{d.code} {d.summary}" for d in res.diagnostics]
    files = {p: (k, b) for p, k, b in res.builds["sagemaker"].files}
    kinds = {k for k, _ in files.values()}
    assert {"pulumi-project", "pulumi-program", "pulumi-requirements", "pulumi-stack-config", "pulumi-stack-data",
            "sagemaker-pipeline", "iam-policy", "stepfunctions-definition", "sagemaker-model-card"} <= kinds
    for env in res.irs:
        assert f"pulumi/Pulumi.{env}.yaml" in files and f"pulumi/stacks/{env}.json" in files
    ast.parse(files["pulumi/__main__.py"][1].decode())
    req = files["pulumi/requirements.txt"][1].decode()
    assert "pulumi==" in req and "pulumi-aws==" in req
    for path, (kind, data) in files.items():
        text = data.decode("utf-8", "replace")
        assert "/work/" not in text and "/tmp/" not in text, path  # no absolute machine paths


def test_registry_and_settings():
    t = get_target("sagemaker")
    assert isinstance(t, SageMaker) and t.display_name == "AWS SageMaker"
    assert t.settings["region"].required
    assert {"vpc_id", "subnet_ids", "security_group_ids"} <= set(t.settings)


def test_lowering_is_deterministic_across_hash_seeds():
    code = ("import hashlib, json, sys; sys.path.insert(0, %r); import fixtures as fx; "
            "from mlspec.targets.sagemaker import SageMaker; "
            "low = SageMaker().lower(fx.environments(), fx.CTX); "
            "print(hashlib.sha256(json.dumps([[a.path, a.kind, a.content, a.fmt] for a in low.artifacts] "
            "+ [low.notes], sort_keys=False).encode()).hexdigest())") % str(Path(__file__).parent)
    digests = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        digests.add(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                   check=True).stdout)
    assert len(digests) == 1


def test_lower_imports_no_pulumi_or_cloud_sdk():
    code = ("import sys; sys.path.insert(0, %r); import fixtures as fx; "
            "from mlspec.targets.sagemaker import SageMaker; SageMaker().lower(fx.environments(), fx.CTX); "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pulumi', 'pulumi_aws', 'pulumi_aws_native', 'boto3', 'botocore', 'sagemaker')); "
            "assert not bad, bad") % str(Path(__file__).parent)
    subprocess.run([sys.executable, "-c", code], check=True)


def lower(irs):
    return SageMaker().lower(irs, fx.CTX)


def test_missing_region_is_a_settings_diagnostic():
    ir = fx.maximal_ir()
    ir["targets"] = {"sagemaker": {}}
    d = lower([ir]).diagnostics
    assert [x.code for x in d if "region" in x.summary] == ["E502"]


def test_unknown_framework_version_is_refused():
    ir = fx.maximal_ir()
    ir["pipelines"][0]["steps"][2]["framework"]["version"] = "0.1"
    d = lower([ir]).diagnostics
    assert any(x.code == "E505" and x.ir_id == "step.train" and "not one SageMaker publishes" in x.summary for x in d)


def test_foreign_cloud_uri_is_refused():
    ir = fx.maximal_ir()
    ir["datasets"][0]["uri"] = "gs://bucket/x/"
    d = lower([ir]).diagnostics
    assert any(x.code == "E504" and "gs://bucket/x/" in x.summary for x in d)


def test_prod_endpoint_with_one_instance_needs_a_waiver():
    ir = fx.maximal_ir()
    ir["endpoints"][0]["compute"]["instance_count"] = 1
    assert any(x.code == "E405" and x.ir_id == "endpoint.scoring" for x in lower([ir]).diagnostics)
    ir["waivers"] = [{"rule": "MLS-AWS-065", "reason": "trial", "owner": "ml", "until": "2099-01-01"}]
    low = lower([ir])
    assert not [x for x in low.diagnostics if x.ir_id == "endpoint.scoring"]
    assert any("MLS-AWS-065" in n for n in low.notes)


def test_tfrecord_cannot_be_validated():
    ir = fx.maximal_ir()
    ir["datasets"][0]["format"] = "tfrecord"
    assert any(x.ir_id == "step.validate" and "tfrecord" in x.summary for x in lower([ir]).diagnostics)


def test_waived_bucket_rules_are_honoured():
    ir = fx.maximal_ir()
    ir["waivers"] = [{"rule": r, "reason": "x", "owner": "o", "until": "2099-01-01"}
                     for r in ("MLS-AWS-013", "MLS-AWS-014")]
    stack = next(a.content for a in lower([ir]).artifacts if a.kind == "pulumi-stack-data")
    assert all(not b["versioning"] and not b["access_logging"] for b in stack["buckets"])


def test_multi_approver_emulation():
    ir = fx.maximal_ir()
    ir["models"][0]["approval"]["count"] = 2
    low = lower([ir])
    sm = next(a.content for a in low.artifacts if a.path.endswith("deploy-scoring.json"))
    assert sm["States"]["CheckApproved"]["Choices"][0]["Next"] == "CheckApprovals"
    assert sm["States"]["CheckApprovals"]["Default"] == "RevertApproval"
    assert sm["States"]["NotEnoughApprovals"]["Type"] == "Fail"
    assert any("2 approvals emulated" in n for n in low.notes)


def test_mlflow_tracking_adds_track_steps():
    ir = fx.maximal_ir()
    ir["tracking"] = {"backend": "mlflow", "experiment": "x", "uri": None}
    low = lower([ir])
    assert not [d for d in low.diagnostics if "inference id" not in d.summary]  # the join_on W505
    d = next(a.content for a in low.artifacts if a.kind == "sagemaker-pipeline")
    names = json.dumps(d)
    assert '"TrainTrack"' in names and '"TuneTrack"' in names and "MlflowTrackingServer" in names
    track = [s for s in d["Steps"] if s["Name"] == "TrainTrack"]
    track = track or [s for g in d["Steps"] if g["Type"] == "Condition" for s in g["Arguments"]["IfSteps"]
                      if s["Name"] == "TrainTrack"]
    assert track[0]["Type"] == "Lambda" and ":function:fraud-detection-prod-mlflow-tracker" in track[0]["FunctionArn"]
    stack = next(a.content for a in low.artifacts if a.kind == "pulumi-stack-data")
    assert stack["mlflow"]["name"] and stack["network"]["aws_interface_endpoints"] == ["experiments"]
    # X-Ray: every role running something with active tracing (the tracker Lambda, the deploy
    # state machines) may write trace segments
    arts = {a.path: a.content for a in low.artifacts}
    for key in ("tracker", "deploy"):
        role = next(r for r in stack["roles"] if r["key"] == key)
        actions = {a for p in role["policies"] for st in arts[p[3:]]["Statement"] if st["Effect"] == "Allow"
                   for a in st["Action"]}
        assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= actions, key


def test_helper_scripts_and_program_are_valid_python():
    low = lower(fx.environments())
    for a in low.artifacts:
        if a.path.endswith(".py"):
            ast.parse(a.content, filename=a.path)
    assert hashlib.sha256(next(a.content for a in low.artifacts if a.kind == "pulumi-program").encode())


@pytest.mark.parametrize("rollout,routing", [
    ({"strategy": "canary", "initial_percent": 5.0, "step_percent": 20.0, "interval_s": 600, "rollback_on": []},
     {"Type": "CANARY", "WaitIntervalInSeconds": 600, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 5}}),
    ({"strategy": "canary", "initial_percent": 10.0, "step_percent": 10.0, "interval_s": 300, "rollback_on": []},
     {"Type": "LINEAR", "WaitIntervalInSeconds": 300, "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 10}}),
    ({"strategy": "linear", "step_percent": 25.0, "interval_s": 120, "rollback_on": []},
     {"Type": "LINEAR", "WaitIntervalInSeconds": 120, "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25}}),
    ({"strategy": "blue_green", "bake_s": 900, "rollback_on": []},
     {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 900}),
    ({"strategy": "all_at_once", "rollback_on": []}, {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}),
])
def test_rollout_traffic_routing(rollout, routing):
    from mlspec.targets.sagemaker.lower import EnvContext, deployment_config

    ir = fx.maximal_ir()
    e = dict(ir["endpoints"][0], rollout=rollout)
    cfg = deployment_config(EnvContext(ir, fx.CTX, {"region": "us-east-1"}, [], []), e)
    assert cfg["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == routing
    assert "AutoRollbackConfiguration" not in cfg


def test_lowering_needs_no_sagemaker_core(monkeypatch):
    """Image URIs come from the packaged images.json (a copy of sagemaker-core's configuration),
    so a compile-only install without sagemaker-core lowers the same (issue 9)."""
    from mlspec.targets.sagemaker import images

    monkeypatch.setattr(images, "config_dir", lambda: None)
    images._data.cache_clear()
    try:
        d = lower([fx.maximal_ir()]).diagnostics
    finally:
        images._data.cache_clear()
    assert [x for x in d if x.code == "E505"] == []


def _quality(ir, task, metric, prediction=None):
    model = ir["models"][0]
    model["task"], model["prediction"] = task, prediction
    mq = next(m for m in ir["monitors"] if m["kind"] == "model_quality")
    mq["metric"] = metric
    return lower([ir])


def test_model_quality_monitor_follows_the_models_task():
    """Issue 12 item 8: the problem type, the constraints section and the prediction attribute
    come from the served model's task and prediction settings."""
    low = _quality(fx.maximal_ir(), "regression", "rmse")
    assert not [d for d in low.diagnostics if "inference id" not in d.summary]  # the join_on W505
    files = {a.path: a.content for a in low.artifacts}
    cons = next(v for k, v in files.items() if k.endswith("constraints.json") and "/monitors/" in k)
    assert set(cons) == {"version", "regression_constraints"} and "rmse" in cons["regression_constraints"]
    stack = next(a.content for a in low.artifacts if a.path.startswith("pulumi/stacks/"))
    mq = next(m for m in stack["monitors"] if m["kind"] == "model_quality")
    assert mq["problem_type"] == "Regression" and mq["inference_attribute"] == "0"
    assert mq["probability_attribute"] is None
    # a metric Model Monitor does not compute for the problem type, or a task it cannot measure
    bad = _quality(fx.maximal_ir(), "regression", "f1")
    errors = [d for d in bad.diagnostics if d.severity == "error"]
    assert [(d.code, d.ir_id) for d in errors] == [("E505", "monitor.model_quality")]
    assert "rmse" in errors[0].hint
    undeclared = _quality(fx.maximal_ir(), None, "f1")
    assert any("task = binary_classification" in d.hint for d in undeclared.diagnostics)


def test_feature_attribution_monitor_has_a_predictor():
    """Issue 12 item 9: Clarify's SHAP analysis queries a shadow endpoint of the model, so the
    monitor's analysis config names the predictor; the model's name is known at deploy time only,
    so the program writes it (tests/targets/sagemaker/test_program.py::test_monitors), and the
    job is not network-isolated (it must reach the shadow endpoint)."""
    low = lower([fx.maximal_ir()])
    files = {a.path: a.content for a in low.artifacts}
    path, cfg = next((k, v) for k, v in files.items() if "/monitors/feature-attribution-drift/" in k)
    assert cfg["methods"]["shap"] and cfg["predictor"]["instance_type"].startswith("ml.")
    assert cfg["predictor"]["content_type"] == "text/csv" and "model_name" not in cfg["predictor"]
    assert cfg["predictor"]["probability"] == 0  # the model predicts a probability
    # no raw-dataset headers (the endpoint receives the prepared features) and no dataset_type
    assert "headers" not in cfg and "dataset_type" not in cfg
    stack = files["pulumi/stacks/prod.json"]
    mon = next(m for m in stack["monitors"] if m["kind"] == "feature_attribution_drift")
    assert mon["predictor_model"] and mon["network_isolation"] is False and mon["analysis_config"] == path
    assert path not in [f["key"] for f in stack["files"]]  # the program uploads it with the model name
    assert all(m["network_isolation"] for m in stack["monitors"] if m is not mon)
