"""`pipelines[].on_failure` on Vertex: the KFP exit-handler shape (compiled here with kfp's own
``dsl.ExitHandler`` and compared), a task that runs after every run and logs a failed one (not a gate
that did not pass), a log-match alert policy to the pipeline's channels (Pulumi mocks), and the whole
path through `mlspec run`: a failed run writes the entry, a failed gate does not."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

import fixtures
from buildutil import lower, run_env, write
from kfpcheck import graph_errors
from testkit import ROOT

kfp = pytest.importorskip("kfp")
from kfp import compiler, dsl  # noqa: E402


@dsl.container_component
def _work(x: str):
    return dsl.ContainerSpec(image="python:3.11", command=["echo"], args=[x])


@dsl.container_component
def _notify(status: dsl.PipelineTaskFinalStatus, project: str):
    return dsl.ContainerSpec(image="python:3.11", command=["echo"], args=[project])


@dsl.pipeline(name="reference")
def _reference(project: str = "p", x: str = "a"):
    n = _notify(project=project)
    with dsl.ExitHandler(n, name="exit-handler-1"):
        _work(x=x)


def _ir_with_on_failure() -> dict:
    ir = copy.deepcopy(fixtures.maximal_ir("prod"))
    ir["pipelines"][0]["on_failure"] = [ir["channels"][0]["id"]]
    return ir


def _training(ir: dict) -> dict:
    low = lower([ir])
    return json.loads(json.dumps(next(a.content for a in low.artifacts if a.path.endswith("/training.json"))))


def _shape(spec: dict) -> dict:
    root = spec["root"]["dag"]["tasks"]
    comps = spec["components"]
    [handler] = [n for n, t in root.items() if "dag" in comps[t["componentRef"]["name"]]]
    [final] = [n for n in root if n != handler]
    t = root[final]
    [status_key] = [k for k, v in t["inputs"]["parameters"].items() if "taskFinalStatus" in v]
    inner = comps[root[handler]["componentRef"]["name"]]
    return {
        "handler": handler, "strategy": t["triggerPolicy"], "deps": t["dependentTasks"],
        "status": t["inputs"]["parameters"][status_key],
        "status_type": comps[t["componentRef"]["name"]]["inputDefinitions"]["parameters"][status_key],
        "channels_only": all(k.startswith("pipelinechannel--") for k in inner["inputDefinitions"]["parameters"]),
        "handler_inputs_are_root_params": all(
            v == {"componentInputParameter": k[len("pipelinechannel--"):]}
            for k, v in root[handler]["inputs"]["parameters"].items()),
    }


def test_exit_handler_matches_the_kfp_compilers_structure(tmp_path):
    out = tmp_path / "ref.json"
    compiler.Compiler().compile(_reference, str(out))
    ref = json.loads(out.read_text())
    ours = _training(_ir_with_on_failure())
    assert graph_errors(ours) == [] and graph_errors(ref) == []
    assert _shape(ours) == _shape(ref)
    assert _shape(ours)["strategy"] == {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"}
    # everything the pipeline did before now runs inside the handler
    inner = ours["components"]["comp-exit-handler-1"]["dag"]["tasks"]
    assert {"train", "evaluate", "importer-transactions"} <= set(inner)
    # a pipeline without on_failure keeps its flat root DAG
    assert "exit-handler-1" not in _training(fixtures.maximal_ir("prod"))["root"]["dag"]["tasks"]


def test_notify_task_config_names_gates_and_channels():
    ours = _training(_ir_with_on_failure())
    args = ours["deploymentSpec"]["executors"]["exec-notify-failure"]["container"]["args"]
    cfg = json.loads(args[args.index("--config") + 1])
    assert cfg["log"] == "mlspec-pipeline-failures" and cfg["pipeline"] == "training"
    assert cfg["gate_tasks"] == ["gate-quality-failed"] and "gate-quality-failed" in cfg["tasks"]
    assert "train" in cfg["tasks"] and "condition-branches-1" not in cfg["tasks"]


def test_failure_entry_skips_success_and_gates(tmp_path):
    import importlib.util
    from importlib import resources

    src = resources.files("mlspec.targets.vertex").joinpath("templates", "runtime", "mlspec_runtime.py")
    spec = importlib.util.spec_from_file_location("rt_on_failure", str(src))
    rt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rt)
    cfg = {"pipeline": "training", "gate_tasks": ["gate-quality-failed"], "channels": ["oncall"]}
    assert rt.failure_entry(cfg, {"state": "SUCCEEDED"}, [], "job") is None
    assert rt.failure_entry(cfg, {"state": "FAILED"}, ["gate-quality-failed"], "job") is None
    entry = rt.failure_entry(cfg, {"state": "FAILED", "error": {"message": "boom"}}, ["train"], "job")
    assert entry == {"pipeline": "training", "pipeline_job": "job", "state": "FAILED", "failed_tasks": ["train"],
                     "error": "boom", "channels": ["oncall"]}


def test_alert_policy_notifies_the_channels_under_mocks(tmp_path):
    ir = _ir_with_on_failure()
    low = lower([ir])
    assert [d for d in low.diagnostics if d.severity == "error"] == []
    res = run_env(str(write(low, [ir], tmp_path)), "prod")["resources"]
    [policy] = [r for r in res if r["name"] == "alert-failed-training"]
    cond = policy["inputs"]["conditions"][0]["conditionMatchedLog"]["filter"]
    assert 'logs/mlspec-pipeline-failures"' in cond and 'jsonPayload.pipeline="training"' in cond
    assert policy["inputs"]["alertStrategy"]["notificationRateLimit"]["period"] == "300s"
    channel = next(r for r in res if r["name"] == f"channel-{ir['channels'][0]['name']}")
    assert "channel-" + ir["channels"][0]["name"] in policy["depends_on"] or policy["inputs"]["notificationChannels"]
    assert channel
    roles = {(r["inputs"]["role"], r["name"]) for r in res if r["type"].endswith("projects/iAMMember:IAMMember")}
    assert any(role == "roles/logging.logWriter" and "pipeline" in name for role, name in roles)


def _mlspec_run(tmp_path: Path, data: Path) -> tuple[dict, Path]:
    work = tmp_path / "w"
    p = subprocess.run([sys.executable, "-m", "mlspec", "run", str(ROOT / "specs/fraud_detection.mlspec"), "--target",
                        "vertex", "--env", "dev", "--format", "json", "--workdir", str(work),
                        "--data", f"transactions={data}"], capture_output=True, text=True)
    assert "Traceback" not in p.stderr, p.stderr
    return json.loads(p.stdout), work


def _logged(work: Path) -> list[dict]:
    out = []
    for f in work.rglob("logs/mlspec-pipeline-failures.jsonl"):
        out += [json.loads(line) for line in f.read_text().splitlines()]
    return out


def _sample(tmp_path: Path, *args: str) -> Path:
    subprocess.run([sys.executable, str(ROOT / "specs/fraud_detection/sample/generate.py"), str(tmp_path), *args],
                   check=True, capture_output=True)
    return tmp_path / "transactions.parquet"


@pytest.mark.run_e2e
def test_a_failed_run_is_logged_for_the_alert_and_a_failed_gate_is_not(tmp_path):
    doc, work = _mlspec_run(tmp_path / "small", _sample(tmp_path / "small", "--rows", "500"))  # min_rows 10000
    steps = {s["name"]: s for s in doc["steps"]}
    assert doc["status"] == "failed" and steps["validate"]["status"] == "failed"
    assert steps["notify-failure"]["status"] == "succeeded"
    [entry] = _logged(work)
    assert entry["jsonPayload"]["failed_tasks"] == ["validate"] and entry["severity"] == "ERROR"
    assert entry["jsonPayload"]["channels"] == ["oncall"]

    doc, work = _mlspec_run(tmp_path / "noisy", _sample(tmp_path / "noisy", "--noise", "0.15"))
    steps = {s["name"]: s for s in doc["steps"]}
    assert doc["status"] == "failed" and steps["gate-quality-failed"]["status"] == "failed"
    assert steps["notify-failure"]["status"] == "succeeded" and _logged(work) == []
    said = [f for f in work.rglob("*") if f.is_file() and "notify-failure" in str(f)
            and "a gate that does not pass is not a failure" in f.read_text(errors="replace")]
    assert said, "the notify task says why it notified nobody"
