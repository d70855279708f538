"""`distribution = data_parallel` on Vertex: a chief pool plus a worker pool (checked by the launcher's
parse path), and every replica's script gets WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT
(the contract's torch.distributed variables) derived from the CLUSTER_SPEC Vertex sets in each replica;
only rank 0's outputs become the step's outputs."""
from __future__ import annotations

import copy
import importlib.util
import json
from importlib import resources

import pytest

import fixtures
from buildutil import lower
from launcher import submit

SRC = resources.files("mlspec.targets.vertex").joinpath("templates", "runtime", "mlspec_runtime.py")


@pytest.fixture(scope="module")
def rt():
    spec = importlib.util.spec_from_file_location("rt_distribution", str(SRC))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _cluster(task_type: str, index: int) -> str:
    return json.dumps({"cluster": {"workerpool0": ["chief-0:2222"], "workerpool1": ["w-0:2222", "w-1:2222"]},
                       "environment": "cloud", "task": {"type": task_type, "index": index}})


def test_train_step_has_a_chief_and_workers_and_the_wrapper_knows_the_strategy():
    pytest.importorskip("google.cloud.aiplatform_v1")
    ir = copy.deepcopy(fixtures.maximal_ir("prod"))
    train = next(s for s in ir["pipelines"][0]["steps"] if s["id"] == "step.train")
    train.update(distribution="data_parallel", compute={**fixtures.GPU, "instance_count": 3})
    spec = next(a.content for a in lower([ir]).artifacts if a.path == "pipelines/prod/training.json")
    args = spec["deploymentSpec"]["executors"]["exec-train"]["container"]["args"]
    job = submit("CustomJob", args[args.index("--payload") + 1],
                 {"workload_service_account": "W", "network": "N", "encryption_key": "K"})
    pools = job.job_spec.worker_pool_specs
    assert [p.replica_count for p in pools] == [1, 2]
    wrapper = json.loads(pools[0].container_spec.args[1])
    assert wrapper["distribution"] == "data_parallel"


@pytest.mark.parametrize("task,index,rank", [("workerpool0", 0, 0), ("workerpool1", 0, 1), ("workerpool1", 1, 2)])
def test_ranks_follow_the_worker_pools(rt, task, index, rank):
    env = rt.torch_distributed_env({"CLUSTER_SPEC": _cluster(task, index)})
    assert env == {"WORLD_SIZE": "3", "RANK": str(rank), "LOCAL_RANK": "0", "MASTER_ADDR": "chief-0",
                   "MASTER_PORT": "2222"}
    assert rt.torch_distributed_env({})["WORLD_SIZE"] == "1"
    assert rt.torch_distributed_env({"CLUSTER_SPEC": _cluster(task, index), "MASTER_PORT": "23456"})[
        "MASTER_PORT"] == "23456"  # what the container already set wins


SCRIPT = '''
import argparse, json, os
ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
a = ap.parse_args()
keys = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
json.dump({k: os.environ[k] for k in keys}, open(os.path.join(a.model, "env.json"), "w"))
'''


@pytest.mark.parametrize("task,index", [("workerpool0", 0), ("workerpool1", 1)])
def test_every_replica_runs_the_script_with_the_variables_and_rank_0_writes_the_output(rt, tmp_path, monkeypatch,
                                                                                        task, index):
    (tmp_path / "train.py").write_text(SCRIPT)
    out = tmp_path / "model-artifact"
    spec = {"entry": str(tmp_path / "train.py"), "flags": [{"name": "model", "role": "model_out", "path": str(out)}],
            "code_dir": None, "requirements": None, "objective": None, "distribution": "data_parallel"}
    monkeypatch.setenv("CLUSTER_SPEC", _cluster(task, index))
    rt.main(["script", "--spec", json.dumps(spec)])
    if task == "workerpool0":
        assert json.loads((out / "env.json").read_text())["RANK"] == "0"
    else:
        assert not out.exists()  # a worker's model directory is not the step's
