"""`distribution = data_parallel` on SageMaker (issue 10 item 4): a training job on N instances
runs mlspec's launcher on every host, which sets the torch.distributed variables from SageMaker's
resourceconfig.json (as the Vertex runtime wrapper does from CLUSTER_SPEC); only rank 0's model
and metrics are the step's."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from mlspec.targets.sagemaker import SageMaker, requests

from . import fixtures as fx

LAUNCH = Path(__file__).resolve().parents[3] / "targets" / "sagemaker" / "templates" / "scripts" / "launch.py"
SCRIPT = """import argparse, json, os
p = argparse.ArgumentParser()
for f in ("train", "model", "metrics", "max_depth"):
    p.add_argument("--" + f)
a = p.parse_args()
env = {k: os.environ.get(k) for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
open(os.path.join(a.model, "rank.json"), "w").write(json.dumps(env))
open(os.path.join(a.metrics, "evaluation.json"), "w").write(json.dumps({"metrics": {"auc": {"value": 0.9}}}))
"""


def test_two_instances_pass_the_distribution_to_the_launcher():
    ir = fx.maximal_ir()
    train = next(s for s in ir["pipelines"][0]["steps"] if s["name"] == "train")
    train["compute"] = {"class": "gpu.medium", "instance_count": 2, "accelerators": 1}
    train["distribution"] = "data_parallel"
    low = SageMaker().lower([ir], fx.CTX)
    assert not [d for d in low.diagnostics if d.severity == "error"]
    d = next(a.content for a in low.artifacts if a.path == "pipelines/prod/training.json")
    job = next(s for s in requests.steps(d) if s["Name"] == "Train")["Arguments"]
    assert job["ResourceConfig"]["InstanceCount"] == 2
    assert job["HyperParameters"]["mlspec_distribution"] == "data_parallel"
    assert job["EnableInterContainerTrafficEncryption"] is True
    assert requests.check_definition(d) == []


def _host(tmp_path: Path, host: str) -> subprocess.CompletedProcess:
    """One SageMaker training host: its /opt/ml (config, channels, model) and the build's code tree."""
    opt = tmp_path / host / "opt"
    code = tmp_path / host / "code"
    (code / "_mlspec").mkdir(parents=True)
    shutil.copyfile(LAUNCH, code / "_mlspec" / "launch.py")
    (code / "src").mkdir()
    (code / "src" / "train.py").write_text(SCRIPT)
    (opt / "input" / "config").mkdir(parents=True)
    (opt / "input" / "data" / "train").mkdir(parents=True)
    (opt / "input" / "config" / "hyperparameters.json").write_text(json.dumps({
        "mlspec_script": "src/train.py", "mlspec_code_dir": "src", "mlspec_inputs": "train",
        "mlspec_distribution": "data_parallel", "max_depth": "6", "sagemaker_program": "_mlspec/launch.py"}))
    (opt / "input" / "config" / "resourceconfig.json").write_text(json.dumps({
        "current_host": host, "hosts": ["algo-1", "algo-2"], "current_group_name": "homogeneousCluster",
        "network_interface_name": "eth0"}))
    env = {"MLSPEC_OPT_ML": str(opt), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, str(code / "_mlspec" / "launch.py")], env=env, capture_output=True,
                          text=True, timeout=60)


def test_launcher_sets_the_torch_distributed_variables_from_resourceconfig(tmp_path):
    ranks = {}
    for host in ("algo-1", "algo-2"):
        out = _host(tmp_path, host)
        assert out.returncode == 0, out.stdout + out.stderr
        ranks[host] = out
    model1 = tmp_path / "algo-1" / "opt" / "model"
    assert json.loads((model1 / "rank.json").read_text()) == {
        "WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "algo-1", "MASTER_PORT": "29500"}
    assert "mlspec-metric auc=0.9" in ranks["algo-1"].stdout
    # rank 1 ran with the same world, but its model and metrics are not the step's
    assert "RANK=1" in ranks["algo-2"].stdout and "WORLD_SIZE=2" in ranks["algo-2"].stdout
    assert not list((tmp_path / "algo-2" / "opt" / "model").glob("*"))
    assert "mlspec-metric" not in ranks["algo-2"].stdout


def test_a_host_missing_from_the_resource_config_fails(tmp_path):
    out = _host(tmp_path, "algo-3")
    assert out.returncode != 0 and "resourceconfig.json" in out.stderr
