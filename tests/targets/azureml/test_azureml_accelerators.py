"""compute.accelerators on Azure ML (issue 10 item 4): `accelerators = N` on a gpu class picks the VM
size with N GPUs of the class's kind (training/tune/batch clusters, online deployments), or is
refused with E505 naming the counts Azure sells. YAML checked with azure-ai-ml's loaders."""
from __future__ import annotations

import copy
import json

import yaml

import az_helpers


def _irs(max_irs, train=None, endpoint=None):
    irs = copy.deepcopy(max_irs)
    for ir in irs:
        steps = {s["name"]: s for s in ir["pipelines"][0]["steps"]}
        if train:
            steps["train"]["compute"] = dict(steps["train"]["compute"], **train)
        if endpoint:
            ir["endpoints"][0]["compute"] = dict(ir["endpoints"][0]["compute"], **endpoint)
    return irs


def test_gpu_count_picks_the_machine_with_that_many_gpus(max_irs, tmp_path):
    irs = _irs(max_irs, train={"class": "gpu.large", "accelerators": 4},
               endpoint={"class": "gpu.large", "accelerators": 2, "instance_count": 1})
    low = az_helpers.lower(irs)
    assert [d for d in low.diagnostics if d.code.startswith("E")] == []
    root = az_helpers.write(low, irs, tmp_path)
    pipeline = root / "prod/pipelines/training/pipeline.yml"
    assert yaml.safe_load(pipeline.read_text())["jobs"]["train"]["compute"] == "azureml:gpu-large-4g"
    assert az_helpers.load("azureml-job", pipeline).jobs["train"].compute == "gpu-large-4g"
    clusters = {c["name"]: c for c in json.loads((root / "pulumi/stacks/prod.json").read_text())["computes"]}
    assert clusters["gpu-large-4g"]["vm_size"] == "Standard_NC96ads_A100_v4"
    deployments = sorted((root / "prod/endpoints").glob(f"{irs[0]['endpoints'][0]['name']}/*-deployment.yml"))
    assert deployments
    for path in deployments:
        assert az_helpers.load("azureml-online-deployment", path).instance_type == "Standard_NC48ads_A100_v4"


def test_one_gpu_keeps_the_class_machine(max_irs):
    stack = next(a.content for a in az_helpers.lower(_irs(max_irs)).artifacts if a.path == "pulumi/stacks/prod.json")
    clusters = {c["name"]: c["vm_size"] for c in stack["computes"]}
    assert clusters["gpu-small"] == "Standard_NC4as_T4_v3"  # the fixture's train step: gpu.small, 1 GPU


def test_a_gpu_count_azure_does_not_sell_is_refused(max_irs):
    low = az_helpers.lower(_irs(max_irs, train={"class": "gpu.small", "accelerators": 2},
                                endpoint={"class": "gpu.medium", "accelerators": 2}))
    errors = {(d.ir_id, d.summary, d.hint) for d in low.diagnostics if d.code == "E505" and "GPUs" in d.summary}
    assert sorted(errors) == [
        ("endpoint.scoring", "Azure ML managed online endpoints have no instance type with 2 GPUs of the "
         "`gpu.medium` kind", "use `accelerators` = 1 with `gpu.medium`, or `gpu.large` (1, 2, 4 or 8 A100)"),
        ("step.train", "Azure has no machine with 2 GPUs of the `gpu.small` kind",
         "use `accelerators` = 1 or 4 with `gpu.small`, or `gpu.large` (1, 2, 4 or 8 A100)")], errors
