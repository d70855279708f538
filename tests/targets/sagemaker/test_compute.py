"""`compute.accelerators` on SageMaker (issue 10 item 4): N GPUs of the compute class's GPU
model per instance, the instance type taken from vendor data (instance_storage.json: EC2's GPU
facts for botocore's SageMaker instance-type enums), checked against those enums."""
from __future__ import annotations

import json

import botocore.session
import pytest

from mlspec.targets.sagemaker import SageMaker, requests, storage

from . import fixtures as fx

SM = botocore.session.get_session().get_service_model("sagemaker")


def lower(**computes):
    ir = fx.maximal_ir()
    for p in ir["pipelines"]:
        for s in p["steps"]:
            if s["name"] in computes:
                s["compute"] = computes[s["name"]]
    for e in ir["endpoints"]:
        if e["name"] in computes:
            e["compute"] = computes[e["name"]]
    for b in ir["batch"]:
        if b["name"] in computes:
            b["compute"] = computes[b["name"]]
    return SageMaker().lower([ir], fx.CTX)


def gpu(cls, n, count=1):
    return {"class": cls, "instance_count": count, "accelerators": n}


def steps(low):
    d = next(a.content for a in low.artifacts if a.path == "pipelines/prod/training.json")
    return d, {s["Name"]: s for s in requests.steps(d)}


@pytest.mark.parametrize("cls,n,want", [("gpu.small", 4, "ml.g4dn.12xlarge"), ("gpu.medium", 4, "ml.g5.12xlarge"),
                                        ("gpu.medium", 8, "ml.g5.48xlarge"), ("gpu.large", 4, "ml.g6e.12xlarge"),
                                        ("gpu.large", 8, "ml.g6e.48xlarge"), ("gpu.medium", 1, "ml.g5.2xlarge")])
def test_n_gpus_of_the_class_kind(cls, n, want):
    low = lower(train=gpu(cls, n), evaluate=gpu(cls, n), scoring=gpu(cls, n, 2), nightly=gpu(cls, n))
    assert not [d for d in low.diagnostics if d.severity == "error"], low.diagnostics
    d, st = steps(low)
    assert st["Train"]["Arguments"]["ResourceConfig"]["InstanceType"] == want
    assert st["Evaluate"]["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceType"] == want
    # the instance really has N GPUs of the class's model (EC2's facts) and SageMaker's enums take it
    facts = storage.gpu_table()[want]
    assert facts["count"] == n and facts["gpu"] == storage.gpu_table()[
        {"gpu.small": "ml.g4dn.xlarge", "gpu.medium": "ml.g5.2xlarge", "gpu.large": "ml.g6e.2xlarge"}[cls]]["gpu"]
    assert requests.check_definition(d) == []  # TrainingInstanceType / ProcessingInstanceType enums
    stack = next(a.content for a in low.artifacts if a.path == "pulumi/stacks/prod.json")
    ep = next(e for e in stack["endpoints"] if e["key"] == "scoring")
    assert {v["instance_type"] for v in ep["variants"]} == {want}
    assert want in SM.shape_for("ProductionVariantInstanceType").enum
    batch = next(a.content for a in low.artifacts if a.path == "statemachines/prod/batch-nightly.json")
    assert f'"InstanceType": "{want}"' in json.dumps(batch)
    assert want in SM.shape_for("TransformInstanceType").enum


@pytest.mark.parametrize("cls,n,counts", [("gpu.large", 2, "1, 4, 8"), ("gpu.small", 8, "1, 4"),
                                          ("gpu.small", 2, "1, 4")])
def test_counts_without_an_instance_type_are_refused(cls, n, counts):
    low = lower(train=gpu(cls, n), scoring=gpu(cls, n, 2))
    errs = {d.ir_id: d for d in low.diagnostics if d.severity == "error"}
    assert set(errs) == {"step.train", "endpoint.scoring"}
    for d in errs.values():
        assert d.code == "E505" and f"with {n} GPUs" in d.summary and f"have {counts})" in d.summary
        assert d.hint.startswith("use accelerators = " + counts.replace(", ", " or "))
