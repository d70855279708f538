"""Per-step `network_isolation` on Azure ML (issue 10): Azure ML command jobs have no network
switch; every job runs in the workspace's managed network (`AllowOnlyApprovedOutbound`). What a
step can reach is therefore the workspace's, and that substitution is a W505 naming exactly the
hosts of the managed network's FQDN rules -- the ones the Pulumi program deploys (checked under
Pulumi mocks) -- and the steps that asked for isolation; never silent. `network_isolation = false`
("reach what the private network reaches") is what Azure ML gives every job: no warning."""
from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path

import az_helpers
from mlspec.compiler.api import compile_spec
from mlspec.compiler.plan.harness import run_program

ROOT = Path(__file__).resolve().parents[3]
SPECS = ROOT / "specs"
PER_JOB = "Azure ML has no per-job network isolation"


def _warned_hosts(summary: str) -> list[str]:
    return re.findall(r"`([a-z0-9.-]+\.[a-z]+)`", summary)


def test_compile_and_check_warn_once_with_the_hosts_jobs_can_reach(tmp_path):
    res = compile_spec(str(SPECS / "churn_scoring.mlspec"), ["azureml"], out=tmp_path)
    assert res.ok
    [w] = [d for d in res.diagnostics if d.code == "W505" and PER_JOB in d.summary]   # once, not per env or step
    assert w.severity == "warning" and w.span is not None
    # churn declares allowed_egress = pypi.org, files.pythonhosted.org; the workspace also builds images
    assert _warned_hosts(w.summary) == ["pypi.org", "files.pythonhosted.org", "conda.anaconda.org"]
    # ... which is what the deployed managed network allows: the program under Pulumi mocks
    result = run_program(tmp_path / "azureml" / "pulumi", "prod")
    [ws] = [r for r in result["resources"] if r["type"] == "azure-native:machinelearningservices:Workspace"]
    mn = ws["inputs"]["managedNetwork"]
    assert mn["isolationMode"] == "AllowOnlyApprovedOutbound"
    assert sorted(r["destination"] for r in mn["outboundRules"].values() if r["type"] == "FQDN") == \
        sorted(_warned_hosts(w.summary))
    # `mlspec check` (compile without writing) prints the same warning
    assert any(PER_JOB in d.summary for d in compile_spec(str(SPECS / "churn_scoring.mlspec"), ["azureml"]).diagnostics)


def test_without_declared_egress_the_image_build_hosts_remain(tmp_path):
    """fraud_detection declares no `allowed_egress`: jobs still reach conda-forge and PyPI, the
    hosts the workspace's image builds need (an FQDN rule applies to the whole managed network)."""
    res = compile_spec(str(SPECS / "fraud_detection.mlspec"), ["azureml"])
    [w] = [d for d in res.diagnostics if d.code == "W505" and PER_JOB in d.summary]
    assert _warned_hosts(w.summary) == ["conda.anaconda.org", "pypi.org", "files.pythonhosted.org"]
    assert not [d for d in compile_spec(str(SPECS / "fraud_detection.mlspec"), ["sagemaker"]).diagnostics
                if PER_JOB in d.summary]   # SageMaker isolates each job (EnableNetworkIsolation)


def test_network_isolation_false_is_what_azure_gives_and_names_only_isolated_steps(max_irs):
    """`network_isolation = false` means "reach what the private network reaches": on Azure ML that
    is the managed network's rules, so no warning for that step; the warning names the steps that
    asked for isolation, and disappears when none does."""
    irs = copy.deepcopy(max_irs)
    for ir in irs:
        next(s for s in ir["pipelines"][0]["steps"] if s["name"] == "prepare")["network_isolation"] = False
    diags = az_helpers.lower(irs).diagnostics
    assert not [d for d in diags if d.ir_id == "step.prepare"]
    [w] = {d.summary for d in diags if PER_JOB in d.summary}   # the same text in every environment
    assert "`train`, `tune`, `evaluate`" in w and "`prepare`" not in w
    for ir in irs:
        for s in ir["pipelines"][0]["steps"]:
            s["network_isolation"] = False
    assert not [d for d in az_helpers.lower(irs).diagnostics if PER_JOB in d.summary]


def test_a_spec_step_with_network_isolation_false_compiles_without_the_warning(tmp_path):
    src = (SPECS / "fraud_detection.mlspec").read_text(encoding="utf-8")
    spec = tmp_path / "fraud_detection.mlspec"
    shutil.copytree(SPECS / "fraud_detection" / "src", tmp_path / "fraud_detection" / "src")
    script_steps = re.findall(r"step (\w+) = (?:process|train|tune|evaluate) \{", src)
    assert script_steps
    for name in script_steps:
        src = re.sub(rf"(step {name} = \w+ \{{)", r"\1\n      network_isolation = false", src, count=1)
    spec.write_text(src, encoding="utf-8")
    res = compile_spec(str(spec), ["azureml"])
    assert res.ok, [d.summary for d in res.diagnostics if d.is_error]
    assert not [d for d in res.diagnostics if PER_JOB in d.summary]


def test_no_steps_no_warning(tmp_path):
    src = (SPECS / "fraud_detection.mlspec").read_text(encoding="utf-8")
    start = src.index("  pipeline training {")
    depth, i = 0, start
    while True:  # drop the pipeline block (and the monitor's retraining of it)
        depth += {"{": 1, "}": -1}.get(src[i], 0)
        i += 1
        if depth == 0 and src[i - 1] == "}":
            break
    spec = tmp_path / "fraud_detection.mlspec"
    spec.write_text(src[:start] + src[i:], encoding="utf-8")
    shutil.copytree(SPECS / "fraud_detection" / "src", tmp_path / "fraud_detection" / "src")
    res = compile_spec(str(spec), ["azureml"])
    assert not [d for d in res.diagnostics if PER_JOB in d.summary]
