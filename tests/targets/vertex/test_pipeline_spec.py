"""Every kfp-pipeline-spec artifact: strict protobuf parse (PipelineSpec + PipelineDeploymentConfig),
graph checks (references, cycles, defaults, required inputs), Vertex job payloads parsed by the
Vertex API's own types, and the security settings of every job (MLS-GCP-050/051, MLS-G-09)."""
from __future__ import annotations

import json

import pytest

import fixtures
from buildutil import lower
from kfpcheck import graph_errors
from launcher import submit

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
def test_every_job_payload_is_accepted_by_the_launcher_and_locked_down(path):
    """Each payload goes the launcher's way (json.loads, empty values dropped, the gapic client's
    proto-plus coercion), which refuses JSON field names, then Vertex's creation-time rules."""
    from mlspec.targets.vertex import vendor

    seen = 0
    params = {"workload_service_account": "W", "network": "N", "encryption_key": "K"}
    for name, kind, payload in _payloads(SPECS[path]):
        job = submit(kind, payload, params)
        assert vendor.semantic_errors(kind, job) == [], name
        spec = job.job_spec if kind == "CustomJob" else job.trial_job_spec
        assert spec.service_account == "W" and spec.network == "N", name
        assert spec.enable_web_access is False and spec.enable_dashboard_access is False, name
        assert job.encryption_spec.kms_key_name == "K", name
        assert all(p.container_spec.image_uri for p in spec.worker_pool_specs), name
        assert job.labels["mlspec-env"] in ("dev", "prod")
        seen += 1
    assert seen or "monitor" in path or "shadow" in path


def test_json_field_names_are_what_the_launcher_refuses():
    """The defect this check exists for: camelCase payloads parse with CustomJob.from_json but the
    launcher's constructor refuses them, and `mlspec plan` reports it as a blocking check."""
    from google.cloud.aiplatform_v1.types import CustomJob

    from mlspec.targets.vertex import vendor

    camel = json.dumps({"displayName": "t", "jobSpec": {"workerPoolSpecs": [{"replicaCount": "1"}]}})
    assert CustomJob.from_json(camel).display_name == "t"
    with pytest.raises(ValueError, match="Unknown field for CustomJob: displayName"):
        submit("CustomJob", camel)
    spec = {"deploymentSpec": {"executors": {"exec-t": {"container": {
        "image": "i", "command": ["python3"], "args": ["--type", "CustomJob", "--payload", camel]}}}}}
    assert vendor.payload_problems(spec) == [
        ("exec-t", "CustomJob payload rejected by the launcher: Unknown field for CustomJob: displayName")]


def test_vertex_creation_rules_catch_multi_replica_chief_and_gpu_on_cpu_image():
    from mlspec.targets.vertex import vendor

    payload = {"display_name": "t", "job_spec": {"worker_pool_specs": [{
        "replica_count": 3, "machine_spec": {"machine_type": "n1-standard-8", "accelerator_type": "NVIDIA_TESLA_T4",
                                             "accelerator_count": 1},
        "container_spec": {"image_uri": "us-docker.pkg.dev/vertex-ai/training/xgboost-cpu.1-7:latest"}}]},
        "labels": {"Owner": "x"}}
    errors = vendor.semantic_errors("CustomJob", submit("CustomJob", json.dumps(payload)))
    assert any("replica_count 3" in e for e in errors)
    assert any("CPU-only image" in e for e in errors)
    assert any("label Owner=x" in e for e in errors)


def test_root_defaults_point_at_the_stack():
    params = TRAINING["root"]["inputDefinitions"]["parameters"]
    assert params["workload_service_account"]["defaultValue"] == \
        "fraud-detection-prod-workload@acme-ml.iam.gserviceaccount.com"
    assert params["encryption_key"]["defaultValue"] == ("projects/acme-ml/locations/us-central1/keyRings/"
                                                        "fraud-detection-prod-ring/cryptoKeys/fraud-detection-prod-key")
    assert params["bucket"]["defaultValue"] == "acme-ml-fraud-detection-prod-code"  # runtime + scripts, read-only
    assert "defaultValue" not in params["network"]  # supplied by the launch Workflow


def test_gate_is_a_condition_with_champion():
    branch = TRAINING["components"]["comp-condition-branches-1"]["dag"]["tasks"]["condition-2"]
    assert branch["taskInfo"]["name"] == "gate-quality"
    assert "register" in TRAINING["components"]["comp-condition-2"]["dag"]["tasks"]
    cond = branch["triggerPolicy"]["condition"]
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
            "score-holdout", "condition-branches-1", "importer-transactions", "tune-track", "tune-best"} <= set(tasks)
    assert "train-track" not in tasks  # train is tracked by evaluate-metrics (with its metrics)
    importer = TRAINING["deploymentSpec"]["executors"]["exec-importer-transactions"]["importer"]
    assert importer["typeSchema"]["schemaTitle"] == "system.Dataset"
    uri = tasks["importer-transactions"]["inputs"]["parameters"]["uri"]["runtimeValue"]["constant"]
    assert uri == "gs://acme-ml-fraud-detection-prod-data/fraud/transactions/"
    # prepare reads validate's data: the imported dataset, after validate ran
    assert set(tasks["prepare"]["dependentTasks"]) >= {"validate", "importer-transactions"}


def _pool(spec, executor):
    args = spec["deploymentSpec"]["executors"][executor]["container"]["args"]
    job = json.loads(args[args.index("--payload") + 1])
    return job, (job.get("job_spec") or job["trial_job_spec"])["worker_pool_specs"]


def _wrapper_spec(pool):
    args = pool["container_spec"]["args"]
    assert args[0] == "--spec" and len(args) == 2
    return json.loads(args[1])


def test_train_runs_the_script_behind_the_contract_wrapper():
    job, pools = _pool(TRAINING, "exec-train")
    [pool] = pools
    # no GPU xgboost training container exists: the step runs on the CPU image without the T4 (W505)
    assert pool["machine_spec"] == {"machine_type": "n1-standard-4"}
    assert pool["replica_count"] == 1
    assert any(d.code == "W505" and "no GPU training container" in d.summary for d in LOW.diagnostics)
    assert pool["container_spec"]["image_uri"].startswith("us-docker.pkg.dev/vertex-ai/training/xgboost-cpu")
    assert pool["container_spec"]["command"] == ["python", "/gcs/{{$.inputs.parameters['bucket']}}/code/_mlspec/runtime.py",
                                                 "script"]
    spec = _wrapper_spec(pool)
    assert spec["entry"] == "/gcs/{{$.inputs.parameters['bucket']}}/code/src/train.py"
    assert [f["name"] for f in spec["flags"]] == ["train", "model", "metrics", "eta", "max_depth", "rounds"]
    assert spec["flags"][1]["path"] == "{{$.outputs.artifacts['model'].path}}"


def test_multi_instance_jobs_have_one_chief_and_a_worker_pool():
    ir = fixtures.maximal_ir("prod")
    train = next(s for s in ir["pipelines"][0]["steps"] if s["name"] == "train")
    train["compute"] = {**train["compute"], "class": "cpu.large", "instance_count": 3}
    spec = next(a.content for a in lower([ir]).artifacts if a.path == "pipelines/prod/training.json")
    _job, pools = _pool(spec, "exec-train")
    assert [p["replica_count"] for p in pools] == [1, 2]


def test_tune_study_and_trials_get_the_contract():
    job, [pool] = _pool(TRAINING, "exec-tune")
    assert job["study_spec"]["metrics"] == [{"metric_id": "auc", "goal": "MAXIMIZE"}]
    assert [p["parameter_id"] for p in job["study_spec"]["parameters"]] == ["alpha", "depth", "loss"]
    assert job["max_trial_count"] == 8 and job["parallel_trial_count"] == 2
    spec = _wrapper_spec(pool)
    assert spec["objective"] == "auc"
    flags = {f["name"]: f for f in spec["flags"]}
    assert flags["model"] == {"name": "model", "role": "model_out", "path": "$AIP_MODEL_DIR"}
    assert job["trial_job_spec"]["base_output_directory"]["output_uri_prefix"] == "{{$.outputs.artifacts['model'].uri}}"


def test_monitor_pipeline_reads_capture_table():
    spec = SPECS["pipelines/prod/monitor-quality.json"]
    args = spec["deploymentSpec"]["executors"]["exec-monitor"]["container"]["args"]
    cfg = json.loads(args[args.index("--config") + 1])
    assert cfg["log_table"] == "acme-ml.fraud_detection_prod_capture.scoring"
    assert cfg["ground_truth"] == "gs://acme-ml-fraud-detection-prod-data/fraud/labels/"


def test_evaluate_follows_the_script_contract():
    _job, [pool] = _pool(TRAINING, "exec-evaluate")
    spec = _wrapper_spec(pool)
    assert spec["entry"].endswith("/code/src/evaluate.py")
    assert [(f["name"], f["role"], f.get("path")) for f in spec["flags"]] == [
        ("test", "input", "{{$.inputs.artifacts['test'].path}}"),
        ("model", "model_in", "{{$.inputs.artifacts['model'].path}}"),
        ("metrics", "metrics", "{{$.outputs.artifacts['metrics'].path}}")]


def test_readers_of_a_tuned_model_get_the_best_trial():
    ir = fixtures.maximal_ir("prod")
    steps = ir["pipelines"][0]["steps"]
    reg = next(s for s in steps if s["kind"] == "register")
    reg["source"] = "step.tune.outputs.model"
    ev = next(s for s in steps if s["kind"] == "evaluate")
    ev["model"] = "step.tune.outputs.model"
    spec = json.loads(json.dumps(next(a.content for a in lower([ir]).artifacts if a.path == "pipelines/prod/training.json")))
    assert graph_errors(spec) == []
    tasks = spec["root"]["dag"]["tasks"]
    best = tasks["tune-best"]
    assert best["inputs"]["parameters"]["tune_resources"] == {
        "taskOutputParameter": {"producerTask": "tune", "outputParameterKey": "gcp_resources"}}
    assert best["inputs"]["artifacts"]["tuning"]["taskOutputArtifact"]["producerTask"] == "tune"
    assert tasks["evaluate"]["inputs"]["artifacts"]["model"] == {
        "taskOutputArtifact": {"producerTask": "tune-best", "outputArtifactKey": "model"}}
    branches = tasks["condition-branches-1"]["inputs"]["artifacts"]
    assert branches["pipelinechannel--tune-best-model"] == {
        "taskOutputArtifact": {"producerTask": "tune-best", "outputArtifactKey": "model"}}


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
    pool = json.loads(train_args[train_args.index("--payload") + 1])["job_spec"]["worker_pool_specs"][0]
    assert pool["container_spec"]["image_uri"] == train["image"]


def test_gpu_only_machine_types_fall_back_to_a_cpu_machine_on_a_cpu_image():
    """G2 and A2 machine types are sold with their GPUs: a step on a CPU-only image (W505) gets
    the CPU machine of the same vCPUs instead of a G2/A2 without its accelerator."""
    from mlspec.targets.vertex.pipeline import proto_machine

    cpu_image = "us-docker.pkg.dev/vertex-ai/training/xgboost-cpu.1-7:latest"
    gpu_image = "us-docker.pkg.dev/vertex-ai/training/pytorch-gpu.2-1:latest"
    assert proto_machine({"class": "gpu.medium", "accelerators": 1}, cpu_image) == {"machine_type": "n2-standard-8"}
    assert proto_machine({"class": "gpu.large", "accelerators": 1}, cpu_image) == {"machine_type": "n2-standard-16"}
    assert proto_machine({"class": "gpu.medium", "accelerators": 1}, gpu_image) == {
        "machine_type": "g2-standard-8", "accelerator_type": "NVIDIA_L4", "accelerator_count": 1}
