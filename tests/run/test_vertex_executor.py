"""The Vertex executor on a hand-written PipelineSpec with snake_case launcher payloads (the
form GCPC's launchers accept): tuning trials, placeholders, executor outputs, conditions."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mlspec.compiler.run import engine

pytest.importorskip("google.cloud.aiplatform_v1")

TRIAL = """
import json, os, sys
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
flags = {sys.argv[i][2:]: sys.argv[i + 1] for i in range(1, len(sys.argv) - 1) if sys.argv[i].startswith("--")
         and "=" not in sys.argv[i]}
assert os.path.isdir(flags["train"]), flags
score = 1.0 - abs(float(args["lr"]) - 0.005) + int(args["hidden"]) / 1000.0
with open(os.environ["CLOUD_ML_HP_METRIC_FILE"], "a") as f:
    f.write(json.dumps({"auc": score, "trial": os.environ["CLOUD_ML_TRIAL_ID"]}) + "\\n")
model = os.environ["AIP_MODEL_DIR"].replace("gs://", "/gcs/")
os.makedirs(model, exist_ok=True)
open(os.path.join(model, "model.bst"), "w").write(args["lr"])
"""

PICK = """
import json, sys
from google.cloud import aiplatform
ex = json.loads(sys.argv[sys.argv.index("--executor-input") + 1])
res = json.loads(ex["inputs"]["parameterValues"]["tune_resources"])
job = aiplatform.HyperparameterTuningJob.get(res["resources"][0]["resourceUri"].split("/v1/", 1)[-1])
best = max((t.final_measurement.metrics[0].value, t.id) for t in job.trials)
spec = ex["outputs"]["parameters"]["best"]
open(spec["outputFile"], "w").write(json.dumps(best[0]))
"""


def _payload() -> str:
    return json.dumps({
        "display_name": "tune", "max_trial_count": 4, "parallel_trial_count": 2,
        "study_spec": {"metrics": [{"metric_id": "auc", "goal": "MAXIMIZE"}], "parameters": [
            {"parameter_id": "lr", "double_value_spec": {"min_value": 0.001, "max_value": 0.01}},
            {"parameter_id": "hidden", "integer_value_spec": {"min_value": "8", "max_value": "64"}}]},
        "trial_job_spec": {"base_output_directory": {"output_uri_prefix": "{{$.outputs.artifacts['model'].uri}}"},
                           "worker_pool_specs": [{"container_spec": {
                               "image_uri": "img", "command": ["python", "/gcs/{{$.inputs.parameters['bucket']}}/code/trial.py"],
                               "args": ["--train", "{{$.inputs.artifacts['train'].path}}"]},
                               "machine_spec": {"machine_type": "n1-standard-4"}, "replica_count": "1"}]}})


def _build(root: Path) -> None:
    (root / "pulumi/stacks").mkdir(parents=True)
    (root / "code").mkdir()
    (root / "code/trial.py").write_text(TRIAL)
    (root / "code/pick.py").write_text(PICK)
    (root / "pulumi/stacks/dev.json").write_text(json.dumps({
        "pipelines": [{"key": "p", "display_name": "p", "spec": "../p.json", "root_bucket": "pipeline"}],
        "buckets": [{"key": "pipeline", "name": "pb"}, {"key": "data", "name": "db"}, {"key": "code", "name": "cb"}],
        "code_objects": [{"source": "../code/trial.py", "object": "code/trial.py"},
                         {"source": "../code/pick.py", "object": "code/pick.py"}],
        "network": {}, "project_number": "1"}))
    art = {"artifactType": {"schemaTitle": "system.Dataset", "schemaVersion": "0.0.1"}}
    spec = {
        "root": {"inputDefinitions": {"parameters": {"bucket": {"defaultValue": "cb", "parameterType": "STRING"}}},
                 "dag": {"tasks": {
                     "importer": {"componentRef": {"name": "comp-importer"}, "taskInfo": {"name": "importer"},
                                  "inputs": {"parameters": {"uri": {"runtimeValue": {"constant": "gs://db/rows/"}}}}},
                     "tune": {"componentRef": {"name": "comp-tune"}, "taskInfo": {"name": "tune"},
                              "inputs": {"parameters": {"bucket": {"componentInputParameter": "bucket"}},
                                         "artifacts": {"train": {"taskOutputArtifact": {
                                             "producerTask": "importer", "outputArtifactKey": "artifact"}}}}},
                     "pick": {"componentRef": {"name": "comp-pick"}, "taskInfo": {"name": "pick"},
                              "inputs": {"parameters": {"bucket": {"componentInputParameter": "bucket"},
                                                        "tune_resources": {"taskOutputParameter": {
                                                            "producerTask": "tune", "outputParameterKey": "gcp_resources"}}}}},
                     "gated": {"componentRef": {"name": "comp-pick"}, "taskInfo": {"name": "gated"},
                               "dependentTasks": ["pick"],
                               "triggerPolicy": {"condition": "inputs.parameter_values['pipelinechannel--pick-best'] > 5"},
                               "inputs": {"parameters": {"bucket": {"componentInputParameter": "bucket"},
                                                         "tune_resources": {"taskOutputParameter": {
                                                             "producerTask": "tune", "outputParameterKey": "gcp_resources"}},
                                                         "pipelinechannel--pick-best": {"taskOutputParameter": {
                                                             "producerTask": "pick", "outputParameterKey": "best"}}}}}}}},
        "components": {
            "comp-importer": {"executorLabel": "exec-importer", "outputDefinitions": {"artifacts": {"artifact": art}}},
            "comp-tune": {"executorLabel": "exec-tune", "outputDefinitions": {
                "artifacts": {"model": art}, "parameters": {"gcp_resources": {"parameterType": "STRING"}}}},
            "comp-pick": {"executorLabel": "exec-pick", "outputDefinitions": {
                "parameters": {"best": {"parameterType": "NUMBER_DOUBLE"}}}}},
        "deploymentSpec": {"executors": {
            "exec-importer": {"importer": {"artifactUri": {"runtimeParameter": "uri"},
                                           "typeSchema": {"schemaTitle": "system.Dataset"}}},
            "exec-tune": {"container": {"image": "gcpc", "command": [
                "python3", "-u", "-m", "google_cloud_pipeline_components.container.v1.hyperparameter_tuning_job.launcher"],
                "args": ["--type", "HyperparameterTuningJob", "--payload", _payload(), "--project", "p",
                         "--location", "us-central1", "--gcp_resources",
                         "{{$.outputs.parameters['gcp_resources'].output_file}}"]}},
            "exec-pick": {"container": {"image": "gcpc", "command": [
                "python3", "/gcs/{{$.inputs.parameters['bucket']}}/code/pick.py"], "args": ["--executor-input", "{{$}}"]}}}},
    }
    (root / "p.json").write_text(json.dumps(spec))


def test_tuning_trials_outputs_and_conditions(tmp_path):
    build = tmp_path / "build"
    _build(build)
    data = tmp_path / "rows.csv"
    data.write_text("x\n1\n")
    ctx = engine.RunContext(workdir=tmp_path / "work", python=sys.executable, spec_dir=tmp_path, build_dir=build,
                            environment="dev", pipeline="p", data={"rows": data},
                            ir={"datasets": [{"name": "rows", "uri": "data://rows/"}]})
    from mlspec.targets.vertex.run import run

    report = run(ctx)
    steps = {s.name: s for s in report.steps}
    assert [s.status for s in report.steps] == ["succeeded", "succeeded", "succeeded", "skipped"], report.steps
    assert steps["tune"].reason.startswith("4 trials; best auc=")
    assert "condition false" in steps["gated"].reason and " > 5" in steps["gated"].reason
    trials = json.loads((tmp_path / "work/vertex-registry/tuning/tune.json").read_text())["trials"]
    assert len(trials) == 4 and all(t["value"] is not None for t in trials)
    assert len(list((tmp_path / "work/gcs/pb/root").rglob("model.bst"))) == 4  # one AIP_MODEL_DIR per trial
