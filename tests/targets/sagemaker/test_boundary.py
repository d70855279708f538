"""`mlspec plan --target sagemaker` reports what AWS would reject at deploy or run time as
blocking program checks (targets/sagemaker/boundary.py): requests botocore's model refuses,
state machines moto's ASL parser refuses, and a security group that cannot reach S3."""
from __future__ import annotations

import copy
import json
import os

import pytest

from mlspec.compiler.plan import plan
from mlspec.targets.sagemaker import boundary

from testkit import ROOT


@pytest.fixture(scope="module")
def planned():
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return plan.run_plan("specs/fraud_detection.mlspec", "sagemaker", "prod")
    finally:
        os.chdir(cwd)


def of(resources, typ):
    return [r for r in resources if r["type"] == typ]


def test_example_plan_has_no_blocking_checks_and_reaches_s3(planned):
    assert planned.blocking_checks == []
    sg = of(planned.resources, "aws:ec2/securityGroup:SecurityGroup")[0]
    s3 = [r for r in of(planned.resources, "aws:ec2/vpcEndpoint:VpcEndpoint")
          if r["inputs"]["vpcEndpointType"] == "Gateway"][0]
    assert s3["inputs"]["serviceName"].endswith(".s3")
    rule = [e for e in sg["inputs"]["egress"] if e.get("prefixListIds")][0]
    assert rule["protocol"] == "tcp" and rule["fromPort"] == 443 == rule["toPort"]
    assert rule["prefixListIds"][0].startswith("pl-")
    assert s3["name"] in sg["depends_on"]  # the prefix list is the gateway endpoint's output


def test_security_group_without_s3_egress_blocks(planned):
    res = copy.deepcopy(planned.resources)
    sg = of(res, "aws:ec2/securityGroup:SecurityGroup")[0]
    sg["inputs"]["egress"] = [e for e in sg["inputs"]["egress"] if not e.get("prefixListIds")]
    checks, _ = boundary.program_checks(res)
    assert [c["check"] for c in checks] == ["s3-unreachable"]
    assert "s3-unreachable" in plan.blocking_checks()


def test_invalid_state_machine_blocks(planned):
    res = copy.deepcopy(planned.resources)
    sm = of(res, "aws:sfn/stateMachine:StateMachine")[0]
    d = json.loads(sm["inputs"]["definition"])
    d["States"]["DescribeCurrentConfig"]["End"] = True  # the old End + Next defect
    sm["inputs"]["definition"] = json.dumps(d)
    checks, _ = boundary.program_checks(res)
    assert checks and all(c["check"] == "invalid-state-machine" for c in checks)
    assert "redefines" in checks[0]["where"]


def test_rejected_request_blocks(planned):
    res = copy.deepcopy(planned.resources)
    p = of(res, "aws:sagemaker/pipeline:Pipeline")[0]
    d = json.loads(p["inputs"]["pipelineDefinition"])

    def walk(steps):
        for s in steps:
            yield s
            for b in ("IfSteps", "ElseSteps"):
                yield from walk(s["Arguments"].get(b) or [])
    reg = [s for s in walk(d["Steps"]) if s["Type"] == "RegisterModel"][0]
    reg["Arguments"]["CustomerMetadataProperties"]["hp:objective"] = '"reg:squarederror"'
    p["inputs"]["pipelineDefinition"] = json.dumps(d)
    checks, _ = boundary.program_checks(res)
    assert [c["check"] for c in checks] == ["aws-request-rejected"]
    assert "CreateModelPackage" in checks[0]["where"] and "pattern" in checks[0]["where"]
