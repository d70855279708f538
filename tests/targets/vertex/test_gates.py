"""Gates have the shape the KFP compiler gives ``dsl.If(cond)`` / ``dsl.Else()`` (compiled here
with kfp itself): a `condition-branches` sub-DAG whose two condition sub-DAGs run the gated tasks
when the gate passes and a task that FAILS the run, naming the gate, when it does not."""

import json
import re
import subprocess
import sys

import pytest

import fixtures
from buildutil import lower
from kfpcheck import graph_errors

kfp = pytest.importorskip("kfp")


def _training(ir: dict) -> dict:
    low = lower([ir])
    return json.loads(json.dumps(next(a.content for a in low.artifacts if a.path.endswith("/training.json"))))


def _one_requirement_ir() -> dict:
    ir = fixtures.maximal_ir("prod")
    gate = ir["pipelines"][0]["gates"][0]
    gate["requires"] = gate["requires"][:1]
    gate["uses_champion"] = False
    return ir


def _kfp_reference(tmp_path) -> dict:
    from kfp import compiler, dsl

    @dsl.component(base_image="python:3.11")
    def evaluate_metrics() -> float:
        return 0.9

    @dsl.component(base_image="python:3.11")
    def register(model: str):
        print(model)

    @dsl.container_component
    def gate_failed(message: str):
        return dsl.ContainerSpec(image="python:3.11", command=["python3", "-c", "import sys; sys.exit(sys.argv[1])"],
                                 args=[message])

    @dsl.pipeline(name="gated")
    def gated():
        m = evaluate_metrics()
        with dsl.If(m.output >= 0.95, name="gate-quality"):
            register(model="m")
        with dsl.Else(name="gate-quality-else"):
            gate_failed(message="gate quality failed")

    out = tmp_path / "gated.json"
    compiler.Compiler().compile(gated, str(out))
    return json.loads(out.read_text())


def shape(spec: dict) -> list:
    """The condition structure of a PipelineSpec, channel names abstracted."""
    comps = spec["components"]

    def norm(cond: str) -> str:
        return re.sub(r"pipelinechannel--[A-Za-z0-9_-]+", "CH", cond)

    out = []
    for name, task in sorted(spec["root"]["dag"]["tasks"].items()):
        comp = comps[task["componentRef"]["name"]]
        if "dag" not in comp:
            continue
        assert "triggerPolicy" not in task and task["dependentTasks"]
        branches = []
        for bname, branch in sorted(comp["dag"]["tasks"].items()):
            inner = comps[branch["componentRef"]["name"]]
            assert "dag" in inner, "a condition branch is a sub-DAG"
            for src in branch["inputs"]["parameters"].values():
                assert src["componentInputParameter"] in comp["inputDefinitions"]["parameters"]
            kinds = sorted("dag" if "dag" in comps[t["componentRef"]["name"]] else "container"
                           for t in inner["dag"]["tasks"].values())
            assert all("triggerPolicy" not in t for t in inner["dag"]["tasks"].values())
            branches.append((bname.rsplit("-", 1)[0], norm(branch["triggerPolicy"]["condition"]), len(kinds)))
        out.append((name.rsplit("-", 1)[0], branches))
    return out


def test_gate_matches_the_kfp_compilers_if_else_structure(tmp_path):
    ours, ref = _training(_one_requirement_ir()), _kfp_reference(tmp_path)
    assert graph_errors(ours) == [] and graph_errors(ref) == []
    assert shape(ref) == [("condition-branches", [("condition", "inputs.parameter_values['CH'] >= 0.95", 1),
                                                  ("condition", "!(inputs.parameter_values['CH'] >= 0.95)", 1)])]
    [(kind, branches)] = shape(ours)
    assert kind == "condition-branches"
    assert [(b[0], b[1]) for b in branches] == [(b[0], b[1]) for b in shape(ref)[0][1]]
    # the passing branch holds register, the failing one a single task
    comps = ours["components"]
    assert list(comps["comp-condition-2"]["dag"]["tasks"]) == ["register"]
    assert list(comps["comp-condition-3"]["dag"]["tasks"]) == ["gate-quality-failed"]
    assert "register" not in ours["root"]["dag"]["tasks"]


def _cel(cond: str, values: dict) -> bool:
    """Evaluate the CEL subset the lowering emits."""
    py = re.sub(r"inputs\.parameter_values\['([^']+)'\]", lambda m: repr(values[m.group(1)]), cond)
    py = py.replace("&&", " and ").replace("||", " or ").replace("!(", " not (").replace("!", " not ")
    return bool(eval(py, {}, {}))  # noqa: S307 - the test's own generated expression over literals


def _run_fail_task(spec: dict, values: dict) -> subprocess.CompletedProcess:
    ex = spec["deploymentSpec"]["executors"]["exec-gate-quality-failed"]["container"]
    args = [re.sub(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}", lambda m: json.dumps(values[m.group(1)]), a)
            for a in ex["args"]]
    assert ex["command"][0] == "python3"
    return subprocess.run([sys.executable, *ex["command"][1:], *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("f1,champion,passes", [(0.97, None, True), (0.90, None, False), (0.97, 0.955, True),
                                                (0.97, 0.968, False)])
def test_failed_gate_fails_the_run_naming_the_gate(f1, champion, passes):
    spec = _training(fixtures.maximal_ir("prod"))
    branches = spec["components"]["comp-condition-branches-1"]["dag"]["tasks"]
    values = {"pipelinechannel--evaluate-metrics-f1": f1, "pipelinechannel--champion-f1": champion or 0.0,
              "pipelinechannel--champion-has_champion": champion is not None}
    ran = {name: _cel(t["triggerPolicy"]["condition"], values) for name, t in branches.items()}
    assert ran == {"condition-2": passes, "condition-3": not passes}  # exactly one branch runs
    if not passes:
        done = _run_fail_task(spec, values)
        assert done.returncode != 0
        assert "gate `quality` failed" in done.stderr
        assert f"evaluate-metrics-f1={f1}" in done.stderr


def test_no_task_is_cached():
    """Importer URIs are constants: a cached importer or training task would hand scheduled and
    drift-triggered retrains the previous run's data and model."""
    ir = fixtures.maximal_ir("prod")
    for art in lower([ir]).artifacts:
        if art.kind != "kfp-pipeline-spec":
            continue
        dags = [art.content["root"]["dag"]] + [c["dag"] for c in art.content["components"].values() if "dag" in c]
        for dag in dags:
            for name, task in dag["tasks"].items():
                assert not (task.get("cachingOptions") or {}).get("enableCache"), (art.path, name)


def test_sdk_version_names_the_compiler_and_the_version_is_on_the_job(tmp_path):
    """kfp writes `sdkVersion: kfp-<kfp version>`: the field names the compiler that wrote the spec. Ours
    names mlspec (never kfp, which did not compile it) and carries no version, as no build artifact does;
    the launch Workflow labels every PipelineJob with the mlspec version instead (from the manifest)."""
    from pathlib import Path

    from kfp import __version__ as kfp_version

    from buildutil import run_env, write

    assert _kfp_reference(tmp_path)["sdkVersion"] == f"kfp-{kfp_version}"
    ir = fixtures.maximal_ir("prod")
    low = lower([ir])
    specs = [a.content for a in low.artifacts if a.kind == "kfp-pipeline-spec"]
    assert len(specs) > 3 and {s["sdkVersion"] for s in specs} == {"mlspec"}
    out = write(low, [ir], tmp_path / "build")
    res = run_env(str(out), "prod")["resources"]
    workflows = [r for r in res if r["name"].startswith("wf-") and "pipelineJobs" in r["inputs"]["sourceContents"]]
    assert workflows
    for wf in workflows:
        doc = json.loads(wf["inputs"]["sourceContents"])
        body = doc["main"]["steps"][1]["submit"]["args"]["body"]
        assert body["labels"]["mlspec-version"] == "0_1_0"
    assert Path(out, "manifest.json").is_file()
