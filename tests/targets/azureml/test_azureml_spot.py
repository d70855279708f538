"""`spot = true` on Azure ML (issue 10 item 4): the step runs on a low-priority AmlCompute cluster of
its compute class (a separate cluster, since a cluster has one VM priority), and the contract's
`--checkpoints` directory is an output at a path fixed by the job's name, read-write mounted, so a
job requeued after preemption finds what it wrote. Checked with azure-ai-ml's loaders and the
Pulumi program under mocks."""
from __future__ import annotations

import copy
import json
import shlex

import pytest
import yaml

import az_helpers
from mlspec.compiler import contract
from mlspec.compiler.plan.harness import run_program


@pytest.fixture(scope="module")
def spot_build(max_irs, tmp_path_factory):
    irs = copy.deepcopy(max_irs)
    for ir in irs:
        steps = {s["name"]: s for s in ir["pipelines"][0]["steps"]}
        steps["train"]["spot"] = True   # gpu.small
        steps["tune"]["spot"] = True    # cpu.medium, 4 parallel trials
    return az_helpers.write(az_helpers.lower(irs), irs, tmp_path_factory.mktemp("spot"))


def test_spot_steps_run_on_the_low_priority_cluster_of_their_class(spot_build):
    path = spot_build / "prod/pipelines/training/pipeline.yml"
    raw = yaml.safe_load(path.read_text())
    assert raw["jobs"]["train"]["compute"] == "azureml:gpu-small-lp"
    assert raw["jobs"]["evaluate"]["compute"] == "azureml:cpu-medium"  # not spot: the dedicated cluster
    job = az_helpers.load("azureml-job", path)
    assert job.jobs["train"].compute == "gpu-small-lp"
    sweep_path = spot_build / "prod/pipelines/training/components/tune.yml"
    sweep = yaml.safe_load(sweep_path.read_text())["jobs"]["sweep"]
    assert sweep["compute"] == "azureml:cpu-medium-lp"
    assert az_helpers.load("azureml-component", sweep_path).jobs["sweep"].compute == "cpu-medium-lp"
    stack = json.loads((spot_build / "pulumi/stacks/prod.json").read_text())
    clusters = {c["name"]: c for c in stack["computes"]}
    assert clusters["gpu-small-lp"]["priority"] == "LowPriority" and clusters["gpu-small-lp"]["vm_size"] == \
        clusters.get("gpu-small", {"vm_size": "Standard_NC4as_T4_v3"})["vm_size"]
    assert clusters["cpu-medium-lp"]["priority"] == "LowPriority" and clusters["cpu-medium-lp"]["max_nodes"] == 4
    assert clusters["cpu-medium"]["priority"] == "Dedicated"
    assert all(len(n) <= 16 for n in clusters)  # AmlCompute name limit


def test_checkpoints_are_a_resumable_output(spot_build):
    path = spot_build / "prod/pipelines/training/pipeline.yml"
    raw = yaml.safe_load(path.read_text())
    out = raw["jobs"]["train"]["outputs"]["checkpoints"]
    assert out["mode"] == "rw_mount" and out["path"].endswith("/mlspec-checkpoints/training/train/${{name}}/")
    job = az_helpers.load("azureml-job", path)
    loaded = job.jobs["train"].outputs["checkpoints"]
    assert loaded.mode == "rw_mount" and "${{name}}" in loaded.path
    with az_helpers.chdir(path.parent):
        assert az_helpers.validation_problems(job) == []
    assert az_helpers.binding_problems(path, job) == []
    # the script receives --checkpoints <that directory>, in contract order
    comp = yaml.safe_load((spot_build / "prod/pipelines/training/components/train.yml").read_text())
    argv = shlex.split(comp["command"])
    argv = argv[argv.index("src/train.py") + 1:]
    step = next(s for s in _spot_ir()["pipelines"][0]["steps"] if s["name"] == "train")
    assert [a[2:] for a in argv if a.startswith("--")] == [f.name for f in contract.script_flags(step)]
    assert argv[argv.index("--checkpoints") + 1] == "${{outputs.checkpoints}}"
    assert comp["outputs"]["checkpoints"] == {"type": "uri_folder"}
    # tune: each trial's checkpoints, read-write mounted at its own job's path
    sweep = yaml.safe_load((spot_build / "prod/pipelines/training/components/tune.yml").read_text())["jobs"]["sweep"]
    assert sweep["outputs"]["checkpoints"] == {"type": "uri_folder", "mode": "rw_mount"}
    trial = yaml.safe_load((spot_build / "prod/pipelines/training/components/tune_trial.yml").read_text())
    assert "--checkpoints" in shlex.split(trial["command"])


def _spot_ir():
    import az_fixtures

    ir = az_fixtures.maximal_ir("prod")
    for s in ir["pipelines"][0]["steps"]:
        if s["name"] in ("train", "tune"):
            s["spot"] = True
    return ir


def test_pulumi_creates_low_priority_clusters(spot_build):
    res = run_program(spot_build / "pulumi", "dev")
    computes = {r["inputs"]["computeName"]: r["inputs"]["properties"]["properties"]
                for r in res["resources"] if r["type"].endswith(":Compute")}
    assert computes["gpu-small-lp"]["vmPriority"] == "LowPriority"
    assert computes["cpu-medium-lp"]["vmPriority"] == "LowPriority"
    assert computes["cpu-medium"]["vmPriority"] == "Dedicated"
    for c in computes.values():  # MLS-AZ-060 holds for the spot clusters too
        assert c["enableNodePublicIp"] is False and c["scaleSettings"]["minNodeCount"] == 0
