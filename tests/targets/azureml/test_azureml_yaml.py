"""Every Azure ML CLI v2 YAML the target writes loads with azure-ai-ml's own loaders, as written,
from its folder; pipeline bindings name existing jobs/outputs; code paths resolve to the build."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import az_helpers


def _yaml_artifacts(root: Path) -> list[dict]:
    return [a for a in az_helpers.artifacts(root) if a["kind"] in az_helpers.YAML_KINDS]


def _check_build(root: Path) -> list[str]:
    problems = []
    for a in _yaml_artifacts(root):
        path = root / a["path"]
        try:
            entity = az_helpers.load(a["kind"], path)
        except Exception as e:  # noqa: BLE001 - report every file, not just the first
            problems.append(f"{a['path']}: {type(e).__name__}: {str(e)[:400]}")
            continue
        with az_helpers.chdir(path.parent):  # relative code paths resolve from the file's folder
            problems += [f"{a['path']}: {p}" for p in az_helpers.validation_problems(entity)]
        if a["kind"] == "azureml-job" and type(entity).__name__ == "PipelineJob":
            problems += [f"{a['path']}: {p}" for p in az_helpers.binding_problems(path, entity)]
    return problems


def test_maximal_fixture_yaml_loads(max_build):
    assert len(_yaml_artifacts(max_build)) > 60
    assert _check_build(max_build) == []


def test_example_specs_yaml_loads(spec_builds):
    assert spec_builds, "no example specs"
    for name, root in spec_builds.items():
        assert _yaml_artifacts(root), name
        assert _check_build(root) == [], name


def test_every_kind_is_emitted(max_build):
    kinds = {a["kind"] for a in az_helpers.artifacts(max_build)}
    assert set(az_helpers.YAML_KINDS) <= kinds
    assert {"pulumi-project", "pulumi-program", "pulumi-requirements", "pulumi-stack-config",
            "pulumi-stack-data", "helper-script", "step-config", "conda-environment"} <= kinds


def test_code_paths_resolve_inside_the_build(max_build):
    for a in _yaml_artifacts(max_build):
        doc = yaml.safe_load((max_build / a["path"]).read_text())
        for key in ("code",):
            if key in doc:
                target = (max_build / a["path"]).parent / doc[key]
                assert target.resolve() == (max_build / "code").resolve(), a["path"]
        env = doc.get("environment")
        conda = env.get("conda_file") if isinstance(env, dict) else None
        if conda:
            assert ((max_build / a["path"]).parent / conda).is_file(), a["path"]


def test_scripts_referenced_by_commands_exist(max_build):
    for a in _yaml_artifacts(max_build):
        doc = yaml.safe_load((max_build / a["path"]).read_text())
        if doc.get("type") == "command":
            for script in [t for t in doc["command"].split() if t.endswith(".py")]:
                assert (max_build / "code" / script).is_file(), (a["path"], script)
            config = doc["command"].split("--config ")[1].split()[0] if "--config" in doc["command"] else None
            if config:
                assert (max_build / "code" / config).is_file(), (a["path"], config)


def _docs(root: Path, prefix: str) -> dict[str, dict]:
    return {a["path"]: yaml.safe_load((root / a["path"]).read_text())
            for a in az_helpers.artifacts(root) if a["path"].startswith(prefix)}


def test_pipeline_shape(max_build):
    job = yaml.safe_load((max_build / "prod/pipelines/training/pipeline.yml").read_text())
    jobs = job["jobs"]
    assert list(jobs) == ["validate", "prepare", "train", "tune", "evaluate", "fairness", "explain",
                          "score_holdout", "quality", "register"]
    assert jobs["tune"]["type"] == "pipeline"  # sweep wrapped in a pipeline component
    assert jobs["train"]["compute"] == "azureml:gpu-small"
    assert job["settings"]["default_compute"] == "azureml:cpu-small"
    assert job["experiment_name"] == "fraud_detection"
    assert job["tags"]["mlspec-spec-sha256"] == "ab" * 32 and job["tags"]["mlspec-data-transactions"] == "2026-11-01"
    # gate consumes evaluate's metrics; register waits for the gate and gets the reports for the card
    assert jobs["quality"]["inputs"]["evaluate_metrics"] == "${{parent.jobs.evaluate.outputs.metrics}}"
    # the gate's thresholds are values the pipeline binds; the gate component declares number inputs
    assert {k: v for k, v in jobs["quality"]["inputs"].items() if k.startswith("threshold_")} == \
        {"threshold_1": 0.95, "threshold_2": 0.01}
    gate = yaml.safe_load((max_build / "prod/pipelines/training/components/quality.yml").read_text())
    assert gate["inputs"]["threshold_1"] == {"type": "number"} and "0.95" not in json.dumps(gate)
    # lineage: the spec hash is the pipeline job's input, bound to the register step (model tags);
    # the pipeline component declares the input and carries no spec hash
    assert job["inputs"]["mlspec_spec_sha256"] == "ab" * 32
    assert jobs["register"]["inputs"]["spec_sha256"] == "${{parent.inputs.mlspec_spec_sha256}}"
    comp = yaml.safe_load((max_build / "prod/pipelines/training/pipeline_component.yml").read_text())
    assert comp["inputs"]["mlspec_spec_sha256"]["type"] == "string" and "ab" * 32 not in json.dumps(comp)
    reg = jobs["register"]["inputs"]
    assert reg["gate_quality"] == "${{parent.jobs.quality.outputs.decision}}"
    assert reg["model"] == "${{parent.jobs.train.outputs.model}}"
    assert {"fairness_report", "explain_report", "metrics"} <= set(reg)
    # hyperparameters are typed component inputs, never inlined into the command
    train = yaml.safe_load((max_build / "prod/pipelines/training/components/train.yml").read_text())
    assert train["inputs"]["max_depth"] == {"type": "integer", "default": 6}
    assert "--max_depth '${{inputs.max_depth}}'" in train["command"]  # quoted for the shell
    assert train["command"].startswith("python _mlspec/track.py --config _mlspec/config/prod/training.json "
                                       "--step train src/train.py ")
    sweep = yaml.safe_load((max_build / "prod/pipelines/training/components/tune.yml").read_text())
    s = sweep["jobs"]["sweep"]
    assert s["objective"] == {"goal": "maximize", "primary_metric": "auc"}
    # max_runtime is per trial; the whole sweep has its own limit; the pipeline-type node has none
    assert s["limits"] == {"max_total_trials": 20, "max_concurrent_trials": 4, "trial_timeout": 1800,
                           "timeout": 7200}
    assert "limits" not in jobs["tune"]
    assert s["search_space"]["criterion"] == {"type": "choice", "values": ["gini", "entropy"]}


def test_schedules_and_monitors(max_build):
    docs = _docs(max_build, "prod/")
    cron = docs["prod/schedules/training.yml"]
    assert cron["trigger"] == {"type": "cron", "expression": "0 3 * * MON", "time_zone": "UTC"}
    assert cron["create_job"] == "../pipelines/training/pipeline.yml"
    drift = docs["prod/monitors/input_drift.yml"]["create_monitor"]
    sig = drift["monitoring_signals"]["input_drift"]
    assert sig["type"] == "data_drift"
    assert sig["metric_thresholds"] == {"numerical": {"population_stability_index": 0.2}}
    assert drift["alert_notification"] == {"emails": ["oncall@example.com"]}
    # reference data is a table (MLTable over the baseline), the deployment is the released slot
    assert sig["reference_data"]["input_data"] == {"path": "./reference/transactions", "type": "mltable"}
    mltable = yaml.safe_load((max_build / "prod/monitors/reference/transactions/MLTable").read_text())
    assert mltable["paths"] == [{"folder": "azureml://datastores/workspaceblobstore/paths/fraud/transactions/"}]
    assert mltable["transformations"] == [{"read_parquet": {"include_path_column": False}}]
    assert drift["monitoring_target"]["endpoint_deployment_id"].endswith(":blue")
    fa = docs["prod/monitors/attribution.yml"]["create_monitor"]["monitoring_signals"]["attribution"]
    assert fa["metric_thresholds"] == {"normalized_discounted_cumulative_gain": 0.9}
    # model_quality and bias_drift have no Azure signal: scheduled evaluation pipelines
    assert "prod/schedules/monitor_quality.yml" in docs and "prod/schedules/monitor_fairness.yml" in docs
    assert docs["prod/schedules/batch_nightly.yml"]["trigger"]["expression"] == "0 1 * * *"


def test_endpoints_and_deployments(max_build):
    docs = _docs(max_build, "prod/endpoints/")
    ep = docs["prod/endpoints/scoring/endpoint.yml"]
    assert ep["auth_mode"] == "aad_token" and ep["public_network_access"] == "disabled"
    assert ep["identity"]["type"] == "user_assigned"
    assert "traffic" not in ep  # created before any deployment exists
    assert docs["prod/endpoints/scoring/traffic.yml"]["traffic"] == {"blue": 100}  # a first release
    ab = docs["prod/endpoints/abtest/traffic.yml"]
    assert ab["traffic"] == {"ab-a": 50, "ab-b": 50}
    dep = docs["prod/endpoints/scoring/blue-deployment.yml"]
    assert dep["data_collector"]["sampling_rate"] == 0.2
    assert dep["egress_public_network_access"] == "disabled"
    assert docs["prod/endpoints/simple/blue-deployment.yml"]["instance_type"] == "Standard_NC4as_T4_v3"


def test_endpoint_traffic_names_only_deployments_of_the_release(max_build, spec_builds):
    """Azure rejects traffic to a deployment that does not exist: endpoint.yml (created first)
    names none; traffic.yml (applied after the deployments) names only deployment files beside it."""
    for root in [max_build, *spec_builds.values()]:
        for a in az_helpers.artifacts(root):
            path = root / a["path"]
            if path.name == "endpoint.yml":
                assert "traffic" not in yaml.safe_load(path.read_text()), a["path"]
            if path.name == "traffic.yml":
                doc = yaml.safe_load(path.read_text())
                deployed = {yaml.safe_load(p.read_text())["name"] for p in path.parent.glob("*-deployment.yml")}
                assert set(doc["traffic"]) <= deployed and set(doc.get("mirror_traffic") or {}) <= deployed, a["path"]


def test_deployments_pin_no_floating_model_and_custom_models_have_a_scoring_script(max_build, spec_builds):
    for root in [max_build, *spec_builds.values()]:
        for a in az_helpers.artifacts(root):
            if a["kind"] != "azureml-online-deployment":
                continue
            text = (root / a["path"]).read_text()
            assert "@latest" not in text, a["path"]   # the approved version is pinned at deploy time
            dep = az_helpers.load(a["kind"], root / a["path"])
            assert dep.model is None, a["path"]
            assert dep.environment and dep.code_configuration, a["path"]  # not MLflow models
            script = (root / a["path"]).parent / dep.code_configuration.code / dep.code_configuration.scoring_script
            assert script.is_file(), a["path"]
            cfg = (root / "code" / dep.environment_variables["MLSPEC_SERVE_CONFIG"])
            assert json.loads(cfg.read_text())["model_loading"]["format"] in ("xgboost", "sklearn", None), a["path"]


def test_no_secrets_in_yaml(max_build):
    """MLS-G-04 / MLS-AZ-080: channel secret references never reach job YAML or env vars."""
    text = "".join((max_build / a["path"]).read_text() for a in _yaml_artifacts(max_build))
    for ref in ("slack-ml-url", "ops-webhook", "pd-key"):
        assert ref not in text
    for a in _yaml_artifacts(max_build):
        doc = yaml.safe_load((max_build / a["path"]).read_text())
        allowed = {"MLSPEC_SERVE_CONFIG"} if a["kind"] == "azureml-online-deployment" else set()
        assert set(doc.get("environment_variables") or {}) <= allowed, a["path"]  # a file path, no secret


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_step_configs_are_json_data(max_lowering, env):
    configs = [a for a in max_lowering.artifacts if a.kind == "step-config" and f"/config/{env}/" in a.path]
    # one settings file per pipeline, keyed by step (not one file per step: a 1,000-step pipeline
    # made thousands of files)
    training = next(a.content for a in configs if a.path == f"code/_mlspec/config/{env}/training.json")
    assert set(training) == {
        "validate", "prepare", "train", "tune", "evaluate", "fairness", "explain",
        "score_holdout", "quality", "register"}
    assert not any("/training/" in a.path for a in configs)
    # no config holds the spec hash (it is the pipeline job's, issue 16): a spec edit rewrites the
    # pipeline definition, not the code snapshot
    assert not any("ab" * 32 in json.dumps(a.content) for a in configs)
    train = training["train"]
    assert train["params"] == {"max_depth": 6, "eta": 0.2, "rounds": 200, "objective": "binary:logistic"}
    assert train["tags"]["mlspec-code-sha256"] == "cd" * 32 and "autolog" not in train
    reg = training["register"]
    assert reg["stage"] == ("pending_approval" if env == "prod" else "approved")
    assert reg["lineage"]["mlspec.code_sha256"] == "cd" * 32
    assert "gates" not in reg["card"]  # the card's gates are the gate steps' decisions (register.py)
    gate = training["quality"]
    assert "number" not in json.dumps(gate["requires"]) and gate["thresholds"]  # values: the pipeline's
    assert reg["card"]["intended_use"] == "Real-time card fraud scoring"


def test_environments_load_and_components_reference_them(max_build):
    from azure.ai.ml import load_environment

    envs = [a for a in az_helpers.artifacts(max_build) if a["kind"] == "environment-definition"]
    assert {a["path"] for a in envs} >= {"environments/mlspec-tools.yml", "environments/mlspec-xgboost-1-7-gpu.yml"}
    refs = set()
    for a in envs:
        with az_helpers.chdir((max_build / a["path"]).parent):
            e = load_environment(Path(a["path"]).name)
        refs.add(f"azureml:{e.name}:{e.version}")
        assert e.conda_file["dependencies"][-1]["pip"][0].startswith("mlflow==")
    for a in _yaml_artifacts(max_build):
        doc = yaml.safe_load((max_build / a["path"]).read_text())
        if doc.get("type") == "command":
            assert doc["environment"] in refs, a["path"]


def test_jobs_run_with_the_cluster_identity(max_build):
    """MLS-AZ-080: every command/sweep node names a stack cluster and the managed identity."""
    for a in _yaml_artifacts(max_build):
        doc = yaml.safe_load((max_build / a["path"]).read_text())
        for name, node in (doc.get("jobs") or {}).items():
            if node["type"] in ("command", "sweep"):
                assert node["identity"] == {"type": "managed"}, (a["path"], name)
                assert node["compute"].startswith("azureml:"), (a["path"], name)


def test_base_image_setting(max_irs):
    import copy
    irs = copy.deepcopy(max_irs)
    img = "crcorp.azurecr.io/base/ubuntu@sha256:" + "0" * 64
    for ir in irs:
        ir["targets"]["azureml"]["base_image"] = img
    low = az_helpers.lower(irs)
    tools = next(a.content for a in low.artifacts if a.path == "environments/mlspec-tools.yml")
    assert tools["image"] == img
    assert not any("MLS-G-06" in n for n in low.notes)


def test_multi_node_training_gets_a_distribution(max_irs, tmp_path):
    import copy
    irs = copy.deepcopy(max_irs)
    for ir in irs:
        train = ir["pipelines"][0]["steps"][2]
        train["framework"] = {"name": "pytorch", "version": "2.3"}
        train["compute"] = {"class": "gpu.large", "instance_count": 2, "accelerators": 4}
    root = az_helpers.write(az_helpers.lower(irs), irs, tmp_path)
    path = root / "prod/pipelines/training/pipeline.yml"
    node = yaml.safe_load(path.read_text())["jobs"]["train"]
    assert node["distribution"] == {"type": "pytorch"} and node["resources"] == {"instance_count": 2}
    job = az_helpers.load("azureml-job", path)
    assert type(job.jobs["train"].distribution).__name__ == "PyTorchDistribution"
