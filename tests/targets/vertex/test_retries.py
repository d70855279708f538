"""`retries` on Vertex: the task's PipelineTaskSpec.retryPolicy exactly as kfp's ``set_retry`` writes it
(compiled here with kfp), parsed strictly by kfp-pipeline-spec's proto, and honoured by `mlspec run`
(a task that fails once succeeds on its retry; without retries it fails the run)."""

import copy
import json
import sys

import pytest

import fixtures
from buildutil import lower
from mlspec.compiler.run import engine

kfp = pytest.importorskip("kfp")
from google.protobuf import json_format  # noqa: E402
from kfp import compiler, dsl  # noqa: E402
from kfp.pipeline_spec import pipeline_spec_pb2  # noqa: E402


@dsl.container_component
def _work(x: str):
    return dsl.ContainerSpec(image="python:3.11", command=["echo"], args=[x])


@dsl.pipeline(name="reference")
def _reference(x: str = "a"):
    _work(x=x).set_retry(num_retries=3)


def _training(ir: dict) -> dict:
    low = lower([ir])
    return json.loads(json.dumps(next(a.content for a in low.artifacts if a.path.endswith("/training.json"))))


def test_retry_policy_is_kfps_and_parses_as_pipeline_task_spec(tmp_path):
    out = tmp_path / "ref.json"
    compiler.Compiler().compile(_reference, str(out))
    ref = json.loads(out.read_text())["root"]["dag"]["tasks"]["work"]["retryPolicy"]
    ir = copy.deepcopy(fixtures.maximal_ir("prod"))
    for st in ir["pipelines"][0]["steps"]:
        st["retries"] = 3 if st["id"] in ("step.train", "step.tune") else 0
    spec = _training(ir)
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["train"]["retryPolicy"] == ref and tasks["tune"]["retryPolicy"] == ref
    assert "retryPolicy" not in tasks["prepare"]
    msg = json_format.ParseDict(tasks["train"], pipeline_spec_pb2.PipelineTaskSpec())
    assert msg.retry_policy.max_retry_count == 3
    json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())  # the whole spec stays strict


FLAKY = """
import os, sys
counter = sys.argv[1]
n = int(open(counter).read()) if os.path.exists(counter) else 0
open(counter, "w").write(str(n + 1))
if n == 0:
    sys.exit("transient failure")
print("ok on attempt", n + 1)
"""


def _build(root, retries: int, counter) -> None:
    (root / "pulumi/stacks").mkdir(parents=True)
    (root / "code").mkdir()
    (root / "code/flaky.py").write_text(FLAKY)
    (root / "pulumi/stacks/dev.json").write_text(json.dumps({
        "pipelines": [{"key": "p", "display_name": "p", "spec": "../p.json", "root_bucket": "pipeline"}],
        "buckets": [{"key": "pipeline", "name": "pb"}, {"key": "code", "name": "cb"}],
        "code_objects": [{"source": "../code/flaky.py", "object": "code/flaky.py"}], "network": {}}))
    task = {"componentRef": {"name": "comp-flaky"}, "taskInfo": {"name": "flaky"},
            "inputs": {"parameters": {"bucket": {"componentInputParameter": "bucket"}}}}
    if retries:
        from mlspec.targets.vertex.pipeline import retry_policy

        task["retryPolicy"] = retry_policy(retries)
    (root / "p.json").write_text(json.dumps({
        "root": {"inputDefinitions": {"parameters": {"bucket": {"defaultValue": "cb", "parameterType": "STRING"}}},
                 "dag": {"tasks": {"flaky": task}}},
        "components": {"comp-flaky": {"executorLabel": "exec-flaky",
                                      "inputDefinitions": {"parameters": {"bucket": {"parameterType": "STRING"}}}}},
        "deploymentSpec": {"executors": {"exec-flaky": {"container": {
            "image": "gcpc", "command": ["python3", "/gcs/{{$.inputs.parameters['bucket']}}/code/flaky.py", str(counter)]}}}},
    }))


@pytest.mark.parametrize("retries", [0, 2])
def test_mlspec_run_retries_a_failed_task(tmp_path, retries):
    from mlspec.targets.vertex.run import run

    build, counter = tmp_path / "build", tmp_path / "attempts"
    _build(build, retries, counter)
    ctx = engine.RunContext(workdir=tmp_path / "work", python=sys.executable, spec_dir=tmp_path, build_dir=build,
                            environment="dev", pipeline="p", data={}, ir={"datasets": []})
    [rec] = run(ctx).steps
    if retries:
        assert rec.status == engine.SUCCEEDED and "succeeded on attempt 2 of 3" in rec.reason
        assert counter.read_text() == "2"
    else:
        assert rec.status == engine.FAILED and "transient failure" in rec.reason
        assert counter.read_text() == "1"
