"""`spot = true` on Vertex AI (docs/targets/vertex.md): the CustomJob (a tune step: every trial's
job) gets ``scheduling.strategy = SPOT`` (a field of google-cloud-aiplatform's ``Scheduling``
proto, checked by submitting the payload through the real client), and the script's
``--checkpoints`` is the job's ``AIP_CHECKPOINT_DIR`` under its base output directory, used in
place through Cloud Storage FUSE (a train step gets a ``checkpoints`` output artifact as its
base output directory), so a job restarted after a preemption finds what it wrote."""
from __future__ import annotations

import importlib.util
import json
import os
from importlib import resources

import pytest

import fixtures
from buildutil import lower
from kfpcheck import graph_errors
from launcher import submit

from mlspec.compiler import api, contract
from testkit import ROOT

SRC = resources.files("mlspec.targets.vertex").joinpath("templates", "runtime", "mlspec_runtime.py")
PARAMS = {"workload_service_account": "W", "network": "N", "encryption_key": "K"}


def _payload(spec: dict, task: str) -> tuple[str, dict]:
    args = spec["deploymentSpec"]["executors"][f"exec-{task}"]["container"]["args"]
    return args[args.index("--type") + 1], json.loads(args[args.index("--payload") + 1])


def _wrapper_spec(payload: dict) -> dict:
    js = payload.get("job_spec") or payload["trial_job_spec"]
    a = js["worker_pool_specs"][0]["container_spec"]["args"]
    return json.loads(a[a.index("--spec") + 1])


def test_churn_tune_nn_trials_run_on_spot_vms(tmp_path):
    from google.cloud.aiplatform_v1.types import Scheduling

    from mlspec.targets.vertex import vendor

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        res = api.compile_spec("specs/churn_scoring.mlspec", ["vertex"], out=tmp_path)
    finally:
        os.chdir(cwd)
    assert res.ok
    spec = json.loads((tmp_path / "vertex/pipelines/prod/weekly.json").read_text())
    kind, payload = _payload(spec, "tune-nn")
    job = submit(kind, json.dumps(payload), PARAMS)  # the proto types the launcher builds
    assert vendor.semantic_errors(kind, job) == []
    assert job.trial_job_spec.scheduling.strategy == Scheduling.Strategy.SPOT
    assert job.trial_job_spec.scheduling.timeout.seconds == 3600
    flags = [f for f in _wrapper_spec(payload)["flags"] if f["role"] == "checkpoints"]
    assert flags == [{"name": "checkpoints", "role": "checkpoints", "path": "$AIP_CHECKPOINT_DIR"}]
    kind, payload = _payload(spec, "train-gbm")  # no `spot`: on demand, no --checkpoints
    job = submit(kind, json.dumps(payload), PARAMS)
    assert job.job_spec.scheduling.strategy == Scheduling.Strategy.STRATEGY_UNSPECIFIED
    assert not [f for f in _wrapper_spec(payload)["flags"] if f["role"] == "checkpoints"]


def test_spot_train_job_gets_a_checkpoints_artifact_as_base_output_directory():
    from google.cloud.aiplatform_v1.types import Scheduling

    from mlspec.targets.vertex import vendor

    ir = fixtures.maximal_ir("prod")
    for s in ir["pipelines"][0]["steps"]:
        if s["kind"] in ("train", "tune"):
            s["spot"] = True
    low = lower([ir])
    assert not [d for d in low.diagnostics if d.code.startswith("E")]
    spec = next(a.content for a in low.artifacts if a.path == "pipelines/prod/training.json")
    spec = json.loads(json.dumps(spec))
    assert graph_errors(spec) == []
    for task, field in (("train", "job_spec"), ("tune", "trial_job_spec")):
        kind, payload = _payload(spec, task)
        job = submit(kind, json.dumps(payload), PARAMS)
        assert vendor.semantic_errors(kind, job) == [], task
        assert getattr(job, field).scheduling.strategy == Scheduling.Strategy.SPOT
        step = next(s for s in ir["pipelines"][0]["steps"] if s["name"] == task)
        wrapper = _wrapper_spec(payload)
        assert [f["name"] for f in wrapper["flags"]] == [f.name for f in contract.script_flags(step)]
    _, payload = _payload(spec, "train")
    assert payload["job_spec"]["base_output_directory"] == {
        "output_uri_prefix": "{{$.outputs.artifacts['checkpoints'].uri}}"}
    comp = spec["components"]["comp-train"]["outputDefinitions"]["artifacts"]
    assert set(comp) == {"model", "checkpoints"}
    assert comp["checkpoints"]["artifactType"]["schemaTitle"] == "system.Artifact"


@pytest.fixture(scope="module")
def rt():
    s = importlib.util.spec_from_file_location("mlspec_runtime", str(SRC))
    mod = importlib.util.module_from_spec(s)
    s.loader.exec_module(mod)
    return mod


RESUMING = '''import os, sys
a = sys.argv[1:]
ckpt = a[a.index("--checkpoints") + 1]
p = os.path.join(ckpt, "epochs.txt")
done = int(open(p).read()) if os.path.exists(p) else 0
open(p, "w").write(str(done + 1))
sys.exit(3 if done == 0 else 0)  # preempted on the first run, completes on the restart
'''


def test_wrapper_uses_aip_checkpoint_dir_in_place_across_a_restart(rt, tmp_path, monkeypatch):
    (tmp_path / "s.py").write_text(RESUMING)
    spec = {"entry": str(tmp_path / "s.py"), "code_dir": None, "requirements": None, "objective": None,
            "flags": [{"name": "checkpoints", "role": "checkpoints", "path": "$AIP_CHECKPOINT_DIR"}]}
    ckpt = tmp_path / "base" / "checkpoints"
    monkeypatch.setenv("AIP_CHECKPOINT_DIR", str(ckpt) + "/")
    with pytest.raises(SystemExit) as exc:
        rt.main(["script", "--spec", json.dumps(spec)])
    assert exc.value.code == 3 and (ckpt / "epochs.txt").read_text() == "1"  # kept although the job failed
    rt.main(["script", "--spec", json.dumps(spec)])
    assert (ckpt / "epochs.txt").read_text() == "2"
    monkeypatch.delenv("AIP_CHECKPOINT_DIR")
    with pytest.raises(SystemExit, match="no AIP_CHECKPOINT_DIR"):
        rt.main(["script", "--spec", json.dumps(spec)])
