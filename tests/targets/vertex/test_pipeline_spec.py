"""Every kfp-pipeline-spec artifact: strict protobuf parse (PipelineSpec + PipelineDeploymentConfig),
graph checks (references, cycles, defaults, required inputs), Vertex job payloads parsed by the
Vertex API's own types, and the security settings of every job (MLS-GCP-050/051, MLS-G-09)."""
from __future__ import annotations

import json

import pytest

import fixtures
from buildutil import lower
from kfpcheck import graph_errors

IRS = [fixtures.maximal_ir("dev"), fixtures.maximal_ir("prod")]
LOW = lower(IRS)
SPECS = {a.path: json.loads(json.dumps(a.content)) for a in LOW.artifacts if a.kind == "kfp-pipeline-spec"}
TRAINING = SPECS["pipelines/prod/training.json"]


def test_expected_specs():
    assert sorted(SPECS) == sorted(f"pipelines/{env}/{n}.json" for env in ("dev", "prod") for n in
                                   ("training", "monitor-fairness", "monitor-output-drift", "monitor-quality",
                                    "shadow-shadowed", "batch-weekly"))


@pytest.mark.parametrize("path", sorted(SPECS))
def test_spec_parses_strictly_and_graph_is_sound(path):
    spec = SPECS[path]
    assert spec["schemaVersion"].startswith("2.")
    assert graph_errors(spec) == []


def _payloads(spec):
    for name, ex in spec["deploymentSpec"]["executors"].items():
        args = (ex.get("container") or {}).get("args") or []
        if "--payload" in args:
            yield name, args[args.index("--type") + 1], args[args.index("--payload") + 1]


@pytest.mark.parametrize("path", sorted(SPECS))
def test_every_job_payload_is_a_valid_locked_down_vertex_job(path):
    from google.cloud.aiplatform_v1.types import CustomJob, HyperparameterTuningJob

    for name, kind, payload in _payloads(SPECS[path]):
        job = (CustomJob if kind == "CustomJob" else HyperparameterTuningJob).from_json(payload)
        spec = job.job_spec if kind == "CustomJob" else job.trial_job_spec
        assert spec.service_account == "{{$.inputs.parameters['workload_service_account']}}", name
        assert spec.network == "{{$.inputs.parameters['network']}}", name
        assert spec.enable_web_access is False and spec.enable_dashboard_access is False, name
        assert job.encryption_spec.kms_key_name == "{{$.inputs.parameters['encryption_key']}}", name
        assert all(p.container_spec.image_uri for p in spec.worker_pool_specs), name
        assert job.labels["mlspec-env"] in ("dev", "prod")


def test_root_defaults_point_at_the_stack():
    params = TRAINING["root"]["inputDefinitions"]["parameters"]
    assert params["workload_service_account"]["defaultValue"] == \
        "fraud-detection-prod-workload@acme-ml.iam.gserviceaccount.com"
    assert params["encryption_key"]["defaultValue"] == ("projects/acme-ml/locations/us-central1/keyRings/"
                                                        "fraud-detection-prod-ring/cryptoKeys/fraud-detection-prod-key")
    assert params["bucket"]["defaultValue"] == "acme-ml-fraud-detection-prod-pipeline"
    assert "defaultValue" not in params["network"]  # supplied by the launch Workflow


def test_gate_is_a_condition_with_champion():
    reg = TRAINING["root"]["dag"]["tasks"]["register"]
    cond = reg["triggerPolicy"]["condition"]
    assert "pipelinechannel--evaluate-metrics-f1'] >= 0.95" in cond
    assert "!inputs.parameter_values['pipelinechannel--champion-has_champion'] ||" in cond
    assert "pipelinechannel--champion-f1'] + 0.01" in cond
    champion = TRAINING["deploymentSpec"]["executors"]["exec-champion"]["container"]["args"]
    assert champion[champion.index("--alias") + 1] == "production"
    assert champion[champion.index("--model") + 1].endswith("/models/fraud-detection-prod-fraud-scorer")


def test_register_uploads_version_with_lineage_and_pending_alias():
    def cfg(spec):
        args = spec["deploymentSpec"]["executors"]["exec-register"]["container"]["args"]
        return json.loads(args[args.index("--config") + 1])
    prod, dev = cfg(TRAINING), cfg(SPECS["pipelines/dev/training.json"])
    assert prod["aliases"] == ["pending"] and dev["aliases"] == ["pending", "production"]
    assert prod["labels"]["mlspec-spec-sha"] == "ab" * 16
    assert prod["serving_image"] == "us-docker.pkg.dev/vertex-ai/prediction/xgboost-cpu.1-7:latest"
    assert prod["card"]["approval"]["approvers"] == ["risk-leads@example.com"]
    assert prod["card"]["gates"][0]["requires"][1] == "step.evaluate.metrics.f1 >= champion.f1 + 0.01"
    comp = TRAINING["components"]["comp-register"]["inputDefinitions"]
    assert set(comp["artifacts"]) == {"model", "metrics"}


def test_all_step_kinds_and_importers_present():
    tasks = TRAINING["root"]["dag"]["tasks"]
    assert {"validate", "prepare", "train", "tune", "evaluate", "evaluate-metrics", "champion", "fairness", "explain",
            "score-holdout", "register", "importer-transactions", "tune-track"} <= set(tasks)
    assert "train-track" not in tasks  # train is tracked by evaluate-metrics (with its metrics)
    importer = TRAINING["deploymentSpec"]["executors"]["exec-importer-transactions"]["importer"]
    assert importer["typeSchema"]["schemaTitle"] == "system.Dataset"
    uri = tasks["importer-transactions"]["inputs"]["parameters"]["uri"]["runtimeValue"]["constant"]
    assert uri == "gs://acme-ml-fraud-detection-prod-data/fraud/transactions/"
    # prepare reads validate's data: the imported dataset, after validate ran
    assert set(tasks["prepare"]["dependentTasks"]) >= {"validate", "importer-transactions"}


def test_train_uses_prebuilt_gpu_container_and_script_from_code_bucket():
    args = TRAINING["deploymentSpec"]["executors"]["exec-train"]["container"]["args"]
    job = json.loads(args[args.index("--payload") + 1])
    pool = job["jobSpec"]["workerPoolSpecs"][0]
    assert pool["machineSpec"] == {"machineType": "n1-standard-8", "acceleratorType": "NVIDIA_TESLA_T4",
                                   "acceleratorCount": 1}
    assert pool["containerSpec"]["imageUri"].startswith("us-docker.pkg.dev/vertex-ai/training/xgboost-")
    assert pool["containerSpec"]["command"] == ["python", "/gcs/{{$.inputs.parameters['bucket']}}/code/src/train.py"]
    assert pool["containerSpec"]["args"] == [  # docs/ir.md script contract: local DIRs, option names as in the spec
        "--train", "{{$.inputs.artifacts['train'].path}}", "--model", "{{$.outputs.artifacts['model'].path}}",
        "--max_depth", "6", "--eta", "0.2", "--rounds", "200"]
    assert job["jobSpec"]["baseOutputDirectory"]["outputUriPrefix"] == "{{$.outputs.artifacts['model'].uri}}"


def test_tune_study():
    args = TRAINING["deploymentSpec"]["executors"]["exec-tune"]["container"]["args"]
    job = json.loads(args[args.index("--payload") + 1])
    assert job["studySpec"]["metrics"] == [{"metricId": "auc", "goal": "MAXIMIZE"}]
    assert [p["parameterId"] for p in job["studySpec"]["parameters"]] == ["alpha", "depth", "loss"]
    assert job["maxTrialCount"] == 8 and job["parallelTrialCount"] == 2


def test_monitor_pipeline_reads_capture_table():
    spec = SPECS["pipelines/prod/monitor-quality.json"]
    args = spec["deploymentSpec"]["executors"]["exec-monitor"]["container"]["args"]
    cfg = json.loads(args[args.index("--config") + 1])
    assert cfg["log_table"] == "acme-ml.fraud_detection_prod_capture.scoring"
    assert cfg["ground_truth"] == "gs://acme-ml-fraud-detection-prod-data/fraud/labels/"


def test_evaluate_follows_the_script_contract():
    args = TRAINING["deploymentSpec"]["executors"]["exec-evaluate"]["container"]["args"]
    pool = json.loads(args[args.index("--payload") + 1])["jobSpec"]["workerPoolSpecs"][0]["containerSpec"]
    assert pool["command"][-1].endswith("/code/src/evaluate.py")
    assert pool["args"] == ["--model", "{{$.inputs.artifacts['model'].path}}", "--test",
                            "{{$.inputs.artifacts['test'].path}}", "--metrics", "{{$.outputs.artifacts['metrics'].path}}"]


def test_register_of_a_tuned_model_reads_the_best_trial():
    ir = fixtures.maximal_ir("prod")
    reg = next(s for s in ir["pipelines"][0]["steps"] if s["kind"] == "register")
    reg["source"] = "step.tune.outputs.model"
    spec = json.loads(json.dumps(next(a.content for a in lower([ir]).artifacts if a.path == "pipelines/prod/training.json")))
    task = spec["root"]["dag"]["tasks"]["register"]
    assert task["inputs"]["parameters"]["tune_resources"] == {
        "taskOutputParameter": {"producerTask": "tune", "outputParameterKey": "gcp_resources"}}
    assert graph_errors(spec) == []


def test_custom_framework_serves_its_own_image():
    ir = fixtures.maximal_ir("prod")
    train = next(s for s in ir["pipelines"][0]["steps"] if s["name"] == "train")
    train["framework"] = {"name": "custom", "version": ""}
    train["image"] = "us-central1-docker.pkg.dev/acme-ml/ml/fraud@sha256:" + "0" * 64
    ir["models"][0]["framework"] = train["framework"]
    low = lower([ir])
    assert [d for d in low.diagnostics if d.severity == "error"] == []
    spec = next(a.content for a in low.artifacts if a.path == "pipelines/prod/training.json")
    args = spec["deploymentSpec"]["executors"]["exec-register"]["container"]["args"]
    assert json.loads(args[args.index("--config") + 1])["serving_image"] == train["image"]
    train_args = spec["deploymentSpec"]["executors"]["exec-train"]["container"]["args"]
    pool = json.loads(train_args[train_args.index("--payload") + 1])["jobSpec"]["workerPoolSpecs"][0]
    assert pool["containerSpec"]["imageUri"] == train["image"]
