"""Deploy-path and batch state machines: every SDK task's Parameters match the AWS API shape
(botocore), every transition exists, and the rollout-specific shape is right."""
from __future__ import annotations

import re

import botocore.session
import pytest
from botocore.validate import ParamValidator

from mlspec.targets.sagemaker import SageMaker

from . import fixtures as fx

SESSION = botocore.session.get_session()
TOKEN = re.compile(r"\$\{[^}]+\}")


@pytest.fixture(scope="module")
def machines():
    low = SageMaker().lower(fx.environments(), fx.CTX)
    return {a.path: a.content for a in low.artifacts if a.kind == "stepfunctions-definition"}


def placeholder(shape):
    """A minimal valid value of `shape` (what a JSONPath resolves to at run time)."""
    t = shape.type_name
    lo = int(shape.metadata.get("min", 1) or 1)
    if t == "structure":
        return {m: placeholder(shape.members[m]) for m in shape.required_members}
    if t == "list":
        return [placeholder(shape.member) for _ in range(max(lo, 1))]
    if t == "string" and shape.enum:
        return shape.enum[0]
    return {"string": "x" * lo, "integer": lo, "long": lo, "float": 1.0, "double": 1.0, "boolean": True,
            "map": {}}.get(t, "x")


def concrete(params, shape):
    """`Key.$` (a JSONPath) becomes a placeholder of the member's type; `${token}`s a string."""
    if shape.type_name == "structure" and isinstance(params, dict):
        out = {}
        for k, v in params.items():
            name = k[:-2] if k.endswith(".$") else k
            assert name in shape.members, f"unknown member {name} of {shape.name}"
            m = shape.members[name]
            out[name] = placeholder(m) if k.endswith(".$") else concrete(v, m)
        return out
    if shape.type_name == "list" and isinstance(params, list):
        return [concrete(v, shape.member) for v in params]
    if isinstance(params, str) and TOKEN.search(params):
        return "arn:aws:iam::123456789012:role/placeholder-" + TOKEN.sub("x", params)
    return params


def tasks(states):
    for name, st in states.items():
        yield name, st
        if st["Type"] == "Map":
            yield from tasks(st["ItemProcessor"]["States"])


def test_sdk_parameters_match_the_api(machines):
    checked = 0
    for path, sm in machines.items():
        for name, st in tasks(sm["States"]):
            if st["Type"] != "Task":
                continue
            m = re.match(r"arn:aws:states:::(?:aws-sdk:)?(\w+):(\w+?)(?:\.sync)?$", st["Resource"])
            service, op = m.group(1), m.group(2)
            op = op[0].upper() + op[1:]
            shape = SESSION.get_service_model(service).operation_model(op).input_shape
            report = ParamValidator().validate(concrete(st["Parameters"], shape), shape)
            assert not report.has_errors(), f"{path} {name}: {report.generate_report()}"
            checked += 1
    assert checked > 40


def test_transitions_exist(machines):
    for path, sm in machines.items():
        def check(states):
            for name, st in states.items():
                targets = [st.get("Next"), st.get("Default")] + [c.get("Next") for c in st.get("Choices", [])] + \
                          [c["Next"] for c in st.get("Catch", [])]
                for t in filter(None, targets):
                    assert t in states, (path, name, t)
                if st["Type"] == "Map":
                    check(st["ItemProcessor"]["States"])
        assert sm["StartAt"] in sm["States"]
        check(sm["States"])


def test_rollout_shapes(machines):
    prod = {p.rsplit("/", 1)[1][:-5]: sm for p, sm in machines.items() if "/prod/" in p}
    assert prod["deploy-scoring"]["States"]["UpdateEndpoint"]["Parameters"]["DeploymentConfig"][
        "AutoRollbackConfiguration"]["Alarms"][0]["AlarmName"] == "fraud-detection-prod-latency-alarm"
    lin = prod["deploy-linear"]["States"]["UpdateEndpoint"]["Parameters"]["DeploymentConfig"]
    assert lin["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["LinearStepSize"]["Value"] == 10
    ab = prod["deploy-ab"]["States"]
    assert ab["ReplaceVariants"]["Type"] == "Map" and ab["CreateConfig"]["Parameters"]["ProductionVariants.$"]
    sh = prod["deploy-shadowed"]["States"]
    assert sh["CreateShadowConfig"]["Parameters"]["ShadowProductionVariants"][0]["InitialVariantWeight"] == 0.2
    assert sh["Promote"]["Parameters"]["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    batch = prod["batch-nightly"]["States"]
    assert batch["Transform"]["Resource"].endswith("createTransformJob.sync")
    assert batch["LatestApproved"]["Parameters"]["ModelApprovalStatus"] == "Approved"
