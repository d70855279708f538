"""The deploy and batch state machines judged and run by moto's Step Functions interpreter
(the LocalStack-derived ASL parser and executor, `execute_state_machine`), against moto's
SageMaker and S3: every definition parses; the deploy path of every rollout creates the model,
endpoint configuration and endpoint on the first approval, updates them on the next, and
deploys nothing for a package that is not Approved (a rejection, a forged event) or that has
fewer approvals than the model demands (the approval is reverted).

moto 5.x limits worked around here (said where they are):
- UpdateModelPackage drops CustomerMetadataProperties the request omits (AWS keeps them), so
  the approver's call below repeats them;
- the optimised `arn:aws:states:::sagemaker:createTransformJob.sync` integration is not
  implemented by moto's interpreter (it parses; the batch machines are not executed);
- a Wait state really waits: the shadow period is shortened to 0 s before executing;
- moto does not implement UpdateEndpoint: the `update_endpoint` fixture adds it (the request
  validated by botocore's shape, the configuration must exist, the endpoint switches to it).
"""
from __future__ import annotations

import copy
import json
import time

import boto3
import pytest
from moto import mock_aws
from moto.core.responses import ActionResult
from moto.sagemaker.models import FakeEndpoint
from moto.sagemaker.responses import SageMakerResponse
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

from mlspec.targets.sagemaker import SageMaker

from . import fixtures as fx

REGION = "us-east-1"
GROUP = "fraud-detection-prod-fraud-scorer"
EVAL_KEY = "pipelines/training/e1/evaluate/metrics/evaluation.json"


def lowered(irs):
    low = SageMaker().lower(irs, fx.CTX)
    return {a.path: a.content for a in low.artifacts if a.kind == "stepfunctions-definition"}


@pytest.fixture(scope="module")
def machines():
    return lowered(fx.environments())


def states_of(states):
    for name, st in states.items():
        yield name, st
        if st["Type"] == "Map":
            yield from states_of(st["ItemProcessor"]["States"])


def test_every_definition_parses_with_the_asl_interpreter(machines):
    assert len(machines) >= 14
    for path, d in machines.items():
        AmazonStateLanguageParser.parse(json.dumps(d))  # raises on invalid ASL
        for name, st in states_of(d["States"]):
            assert not ("End" in st and "Next" in st), (path, name)


def test_the_parser_rejects_end_and_next():
    """The check above is the vendor's: a state with both End and Next is refused."""
    bad = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "Next": "B"},
                                      "B": {"Type": "Succeed"}}}
    with pytest.raises(Exception, match="redefines"):
        AmazonStateLanguageParser.parse(json.dumps(bad))


# ------------------------------------------------------------------------ executing the deploy path

@pytest.fixture(autouse=True)
def update_endpoint(monkeypatch):
    """UpdateEndpoint for moto (not implemented by moto 5.x)."""
    import botocore.session
    from botocore.validate import ParamValidator

    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model("UpdateEndpoint").input_shape
    calls = []

    def update(self):
        params = json.loads(self.body)
        report = ParamValidator().validate(params, shape)
        assert not report.has_errors(), report.generate_report()
        backend = self.sagemaker_backend
        config = backend.describe_endpoint_config(params["EndpointConfigName"])  # KeyError: no such config
        ep = backend.endpoints[params["EndpointName"]]
        ep.endpoint_config_name = params["EndpointConfigName"]
        ep.production_variants = ep._process_production_variants(config["ProductionVariants"])
        calls.append(params)
        return ActionResult({"EndpointArn": ep.arn})

    monkeypatch.setattr(SageMakerResponse, "update_endpoint", update, raising=False)
    assert FakeEndpoint  # the endpoint model the update mutates
    return calls


class World:
    """moto's SageMaker, S3, IAM, KMS and Step Functions with the deploy machines created."""

    def __init__(self, definitions: dict):
        self.sm = boto3.client("sagemaker", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        self.s3.create_bucket(Bucket="artifacts")
        role = iam.create_role(RoleName="deploy", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        self.tokens = {"bucket:artifacts": "artifacts", "kms_key_arn": key, "role:endpoint": role,
                       "subnet:0": "subnet-1", "subnet:1": "subnet-2", "security_group:0": "sg-1",
                       "bucket:capture": "capture"}
        self.arns = {}
        for path, d in definitions.items():
            text = json.dumps(d)
            for k, v in self.tokens.items():
                text = text.replace("${" + k + "}", v)
            assert "${" not in text, path
            name = path.rsplit("/", 1)[1][:-5]
            self.arns[name] = self.sfn.create_state_machine(name=name, definition=text, roleArn=role)["stateMachineArn"]
        self.sm.create_model_package_group(ModelPackageGroupName=GROUP)
        self.sm.create_model_package_group(ModelPackageGroupName="fraud-detection-prod-challenger")
        self.s3.put_object(Bucket="artifacts", Key=EVAL_KEY, Body=b'{"metrics": {"f1": {"value": 0.97}}}')
        self.n = 0

    def package(self, group=GROUP, status="PendingManualApproval", metadata=None) -> str:
        md = {"EvaluationKey": EVAL_KEY, **(metadata or {})}
        return self.sm.create_model_package(
            ModelPackageGroupName=group, ModelApprovalStatus=status, CustomerMetadataProperties=md,
            InferenceSpecification={"Containers": [{"Image": "img", "ModelDataUrl": "s3://artifacts/m.tar.gz"}],
                                    "SupportedContentTypes": ["text/csv"],
                                    "SupportedResponseMIMETypes": ["text/csv"]})["ModelPackageArn"]

    def approve(self, arn: str, metadata=None, status="Approved") -> None:
        """The human approver's call (metadata repeated: moto drops omitted metadata)."""
        md = {"EvaluationKey": EVAL_KEY, **(metadata or {})}
        self.sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status,
                                     CustomerMetadataProperties=md)

    def run(self, machine: str, package_arn: str) -> dict:
        """Start the machine with the EventBridge event of a package state change; wait for the end."""
        self.n += 1
        event = {"source": "aws.sagemaker", "detail-type": "SageMaker Model Package State Change",
                 "detail": {"ModelPackageArn": package_arn, "ModelApprovalStatus": "Approved"}}
        ex = self.sfn.start_execution(stateMachineArn=self.arns[machine], name=f"run{self.n:04d}-event",
                                      input=json.dumps(event))["executionArn"]
        for _ in range(600):
            st = self.sfn.describe_execution(executionArn=ex)
            if st["status"] != "RUNNING":
                return st
            time.sleep(0.05)
        raise AssertionError("execution did not finish")

    def snapshot(self) -> tuple:
        eps = {e["EndpointName"]: self.sm.describe_endpoint(EndpointName=e["EndpointName"])["EndpointConfigName"]
               for e in self.sm.list_endpoints()["Endpoints"]}
        return (sorted(m["ModelName"] for m in self.sm.list_models()["Models"]),
                sorted(c["EndpointConfigName"] for c in self.sm.list_endpoint_configs()["EndpointConfigs"]), eps)


def prod_machines(machines, approvals: int = 1):
    out = {}
    for path, d in machines.items():
        if "/prod/deploy-" not in path:
            continue
        d = copy.deepcopy(d)
        if "ShadowPeriod" in d["States"] and d["States"]["ShadowPeriod"]["Type"] == "Wait":
            d["States"]["ShadowPeriod"]["Seconds"] = 0
        out[path] = d
    return out


ROLLOUTS = ["deploy-once", "deploy-scoring", "deploy-linear", "deploy-bluegreen", "deploy-shadowed", "deploy-ab"]


@pytest.mark.parametrize("machine", ROLLOUTS)
def test_first_approval_creates_second_updates_rejection_changes_nothing(machines, machine):
    endpoint = "fraud-detection-prod-" + machine.split("-", 1)[1]
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        w = World(prod_machines(machines))
        # first approval: model, endpoint configuration and endpoint are created
        v1 = w.package()
        w.approve(v1)
        res = w.run(machine, v1)
        assert res["status"] == "SUCCEEDED", res.get("cause")
        models, configs, eps = w.snapshot()
        assert len(models) == 1 and "-v1-" in models[0] and len(configs) == 1
        assert eps[endpoint] == configs[0]
        champion = w.s3.get_object(Bucket="artifacts", Key=f"champion/{GROUP}/evaluation.json")["Body"].read()
        assert json.loads(champion)["metrics"]["f1"]["value"] == 0.97
        # second approval: a new model and configuration, the endpoint updated to it
        v2 = w.package()
        w.approve(v2)
        res = w.run(machine, v2)
        assert res["status"] == "SUCCEEDED", res.get("cause")
        models2, configs2, eps2 = w.snapshot()
        assert len(models2) == 2 and any("-v2-" in m for m in models2)
        assert eps2[endpoint] not in configs and eps2[endpoint] in configs2
        if machine == "deploy-ab":  # only the approved model's variant changes model
            cfg = w.sm.describe_endpoint_config(EndpointConfigName=eps2[endpoint])
            by_variant = {v["VariantName"]: v["ModelName"] for v in cfg["ProductionVariants"]}
            assert "-v2-" in by_variant["a"] and "-v1-" in by_variant["b"]
        # a rejected package (or a forged / replayed event for it) deploys nothing
        before = w.snapshot()
        v3 = w.package()
        w.approve(v3, status="Rejected")
        res = w.run(machine, v3)
        assert res["status"] == "FAILED" and res["error"] == "NotApproved"
        pending = w.package()
        res = w.run(machine, pending)
        assert res["status"] == "FAILED" and res["error"] == "NotApproved"
        assert w.snapshot() == before


def test_champion_record_failure_fails_the_deploy(machines):
    """A failure to record the champion is not swallowed (the champion gate would pass silently)."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        w = World(prod_machines(machines))
        v1 = w.package(metadata={"EvaluationKey": "pipelines/missing/evaluation.json"})
        w.sm.update_model_package(ModelPackageArn=v1, ModelApprovalStatus="Approved",
                                  CustomerMetadataProperties={"EvaluationKey": "pipelines/missing/evaluation.json"})
        res = w.run("deploy-once", v1)
        assert res["status"] == "FAILED"
        assert w.snapshot() == ([], [], {})


def test_too_few_approvals_revert_the_package_and_deploy_nothing():
    irs = fx.environments()
    for m in irs[1]["models"]:
        m["approval"]["count"] = 2
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        w = World(prod_machines(lowered(irs)))
        v1 = w.package()
        w.approve(v1)  # the second approver approves without the first approval recorded
        res = w.run("deploy-once", v1)
        assert res["status"] == "FAILED" and res["error"] == "NotEnoughApprovals"
        assert w.sm.describe_model_package(ModelPackageName=v1)["ModelApprovalStatus"] == "PendingManualApproval"
        assert w.snapshot() == ([], [], {})
        # with approval 1 recorded, the approval deploys
        w.approve(v1, {"mlspec-approval-1": "alice"})
        res = w.run("deploy-once", v1)
        assert res["status"] == "SUCCEEDED", res.get("cause")
        assert w.snapshot()[2]
