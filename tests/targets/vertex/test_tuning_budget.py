"""Tune steps on Vertex: `max_total_runtime` is the study's stopping rule (Vizier
`study_stopping_config.maximum_runtime_constraint`, stopping running trials as soon as it is met),
submitted the way GCPC's launcher submits it; `mlspec run` runs trials `parallel_trials` at a time
with the same results as one at a time, and starts no trial after the budget."""
from __future__ import annotations

import copy
import json
import sys

import pytest

import fixtures
from buildutil import lower
from launcher import submit
from mlspec.compiler.run import engine

pytest.importorskip("google.cloud.aiplatform_v1")


def _tune_payload(ir: dict) -> str:
    spec = next(a.content for a in lower([ir]).artifacts if a.path == "pipelines/prod/training.json")
    args = spec["deploymentSpec"]["executors"]["exec-tune"]["container"]["args"]
    return args[args.index("--payload") + 1]


def test_max_total_runtime_is_the_studys_runtime_constraint():
    ir = copy.deepcopy(fixtures.maximal_ir("prod"))
    tune = next(s for s in ir["pipelines"][0]["steps"] if s["id"] == "step.tune")
    tune["max_total_runtime_s"] = 6 * 3600
    job = submit("HyperparameterTuningJob", _tune_payload(ir),
                 {"workload_service_account": "W", "network": "N", "encryption_key": "K"})
    stop = job.study_spec.study_stopping_config
    assert stop.maximum_runtime_constraint.max_duration.total_seconds() == 6 * 3600
    assert stop.should_stop_asap is True
    assert job.trial_job_spec.scheduling.timeout.total_seconds() == 3600  # max_runtime: each trial
    tune["max_total_runtime_s"] = None
    job = submit("HyperparameterTuningJob", _tune_payload(ir),
                 {"workload_service_account": "W", "network": "N", "encryption_key": "K"})
    assert "study_stopping_config" not in type(job.study_spec).to_dict(job.study_spec) or \
        not job.study_spec.study_stopping_config.maximum_runtime_constraint.max_duration


TRIAL = """
import json, os, sys
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
with open(os.environ["CLOUD_ML_HP_METRIC_FILE"], "a") as f:
    f.write(json.dumps({"auc": float(args["lr"]), "trial": os.environ["CLOUD_ML_TRIAL_ID"]}) + "\\n")
"""


def _build(root, parallel: int, budget: str | None) -> None:
    (root / "pulumi/stacks").mkdir(parents=True)
    (root / "code").mkdir()
    (root / "code/trial.py").write_text(TRIAL)
    (root / "pulumi/stacks/dev.json").write_text(json.dumps({
        "pipelines": [{"key": "p", "display_name": "p", "spec": "../p.json", "root_bucket": "pipeline"}],
        "buckets": [{"key": "pipeline", "name": "pb"}, {"key": "code", "name": "cb"}],
        "code_objects": [{"source": "../code/trial.py", "object": "code/trial.py"}], "network": {}}))
    study = {"metrics": [{"metric_id": "auc", "goal": "MAXIMIZE"}],
             "parameters": [{"parameter_id": "lr", "double_value_spec": {"min_value": 0.001, "max_value": 0.5}}]}
    if budget:
        study["study_stopping_config"] = {"maximum_runtime_constraint": {"max_duration": budget},
                                          "should_stop_asap": True}
    payload = json.dumps({"display_name": "tune", "max_trial_count": 6, "parallel_trial_count": parallel,
                          "study_spec": study, "trial_job_spec": {"worker_pool_specs": [{
                              "container_spec": {"image_uri": "img", "command": [
                                  "python", "/gcs/{{$.inputs.parameters['bucket']}}/code/trial.py"]},
                              "machine_spec": {"machine_type": "n1-standard-4"}, "replica_count": "1"}]}})
    (root / "p.json").write_text(json.dumps({
        "root": {"inputDefinitions": {"parameters": {"bucket": {"defaultValue": "cb", "parameterType": "STRING"}}},
                 "dag": {"tasks": {"tune": {"componentRef": {"name": "comp-tune"}, "taskInfo": {"name": "tune"},
                                            "inputs": {"parameters": {"bucket": {"componentInputParameter": "bucket"}}}}}}},
        "components": {"comp-tune": {"executorLabel": "exec-tune",
                                     "inputDefinitions": {"parameters": {"bucket": {"parameterType": "STRING"}}},
                                     "outputDefinitions": {"parameters": {"gcp_resources": {"parameterType": "STRING"}}}}},
        "deploymentSpec": {"executors": {"exec-tune": {"container": {"image": "gcpc", "command": [
            "python3", "-u", "-m", "google_cloud_pipeline_components.container.v1.hyperparameter_tuning_job.launcher"],
            "args": ["--type", "HyperparameterTuningJob", "--payload", payload, "--project", "p",
                     "--location", "us-central1", "--gcp_resources",
                     "{{$.outputs.parameters['gcp_resources'].output_file}}"]}}}},
    }))


def _run(tmp_path, parallel: int, budget: str | None = None) -> tuple[engine.StepRecord, list[dict]]:
    from mlspec.targets.vertex.run import run

    build = tmp_path / f"build-{parallel}-{budget}"
    _build(build, parallel, budget)
    work = tmp_path / f"work-{parallel}-{budget}"
    ctx = engine.RunContext(workdir=work, python=sys.executable, spec_dir=tmp_path, build_dir=build,
                            environment="dev", pipeline="p", data={}, ir={"datasets": []})
    [rec] = run(ctx).steps
    return rec, json.loads((work / "vertex-registry/tuning/tune.json").read_text())["trials"]


def test_parallel_trials_give_the_same_trials_as_sequential_ones(tmp_path):
    one, trials_one = _run(tmp_path, 1)
    three, trials_three = _run(tmp_path, 3)
    assert one.status == three.status == engine.SUCCEEDED
    assert trials_one == trials_three and [t["id"] for t in trials_three] == ["1", "2", "3", "4", "5", "6"]
    assert one.reason == three.reason and one.reason.startswith("6 trials; best auc=")


def test_no_trial_starts_after_the_studys_runtime_budget(tmp_path):
    rec, trials = _run(tmp_path, 1, "0.001s")  # spent once the first trial (which always starts) has run
    assert rec.status == engine.SUCCEEDED and [t["id"] for t in trials] == ["1"]
    assert "the study stopped after 0.001 s (maximum_runtime_constraint): 5 trials not started" in rec.reason
