"""Approval integrity (docs/security.md): in an environment that requires approval, no identity
that runs the pipeline or user code can make a model deployable; a human approver can.

The generated IAM policies of every role are evaluated (policy_eval.py: AWS's evaluation
logic; moto's IAM enforcement ignores Resource and Condition) against each bypass path, with
the condition keys SageMaker puts in the request context (sagemaker:ModelApprovalStatus on
CreateModelPackage / UpdateModelPackage, Service Authorization Reference). The paths that are
not IAM decisions are asserted on the artifacts: the approval status is a literal, not a
pipeline parameter; the deploy path re-reads the package and deploys only an Approved one
(executed under moto in test_deploy_moto.py)."""
from __future__ import annotations

import json
import re

import pytest

from mlspec.targets.sagemaker import SageMaker

from . import fixtures as fx
from .policy_eval import decide

ACCOUNT, REGION = "123456789012", "us-east-1"
SM = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
GROUP = "fraud-detection-prod-fraud-scorer"
PACKAGE = f"{SM}:model-package/{GROUP}/7"
GROUP_ARN = f"{SM}:model-package-group/{GROUP}"


def resolve(doc: dict) -> dict:
    def token(m):
        k = m.group(1)
        fixed = {"partition": "aws", "region": REGION, "account": ACCOUNT, "vpc_id": "vpc-0abc",
                 "kms_key_arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k"}
        if k in fixed:
            return fixed[k]
        kind, _, arg = k.partition(":")
        return {"bucket_arn": f"arn:aws:s3:::{arg}-bucket", "bucket": f"{arg}-bucket", "subnet": f"subnet-{arg}",
                "security_group": f"sg-{arg}", "role": f"arn:aws:iam::{ACCOUNT}:role/{arg}"}[kind]
    return json.loads(re.sub(r"\$\{([^}]+)\}", token, json.dumps(doc)))


@pytest.fixture(scope="module")
def built():
    low = SageMaker().lower([fx.maximal_ir("prod", production=True, approval="required")], fx.CTX)
    arts = {a.path: a.content for a in low.artifacts}
    stack = arts["pulumi/stacks/prod.json"]
    # a role's customer-managed policies evaluate together: one document of all their statements
    roles = {r["key"]: resolve({"Version": "2012-10-17", "Statement": [
        st for path in r["policies"] for st in arts[path[3:]]["Statement"]]}) for r in stack["roles"]}
    approver = resolve(arts[stack["approver_policy"]["policy"][3:]])
    return arts, roles, approver


#: identities that run the pipeline or code the spec supplies (user scripts, model containers)
#: or react to events; none of them may make a model deployable
AUTOMATION = ("pipeline", "jobs", "endpoint", "monitoring", "deploy", "events", "scheduler")


def test_every_generated_identity_is_covered(built):
    _, roles, _ = built
    assert set(AUTOMATION) <= set(roles)


@pytest.mark.parametrize("role", AUTOMATION)
def test_no_automation_identity_can_approve(built, role):
    _, roles, _ = built
    pol = [roles[role]]
    # set a version Approved, or register one as Approved
    assert decide(pol, "sagemaker:UpdateModelPackage", PACKAGE, {"sagemaker:ModelApprovalStatus": "Approved"}) != "Allow"
    for res in (PACKAGE, GROUP_ARN):
        assert decide(pol, "sagemaker:CreateModelPackage", res,
                      {"sagemaker:ModelApprovalStatus": "Approved"}) != "Allow", res
    # forge the approvals the multi-approval emulation counts (metadata only, no status)
    assert decide(pol, "sagemaker:UpdateModelPackage", PACKAGE, {}) != "Allow"
    # open the registry to another account, or delete the evidence
    assert decide(pol, "sagemaker:PutModelPackageGroupPolicy", GROUP_ARN, {}) != "Allow"
    # serve a model without the deploy path: create or update the production endpoint
    for action in ("sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint"):
        d = decide(pol, action, f"{SM}:endpoint/fraud-detection-prod-scoring", {})
        assert d != "Allow" or role == "deploy", (role, action)
    # start the deploy path with a forged event (only EventBridge's rule may)
    if role != "events":
        assert decide(pol, "states:StartExecution",
                      f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:fraud-detection-prod-scoring-deploy", {}) != "Allow"


def test_pipeline_and_job_roles_are_denied_explicitly(built):
    """Explicit denies: no other policy attached later can grant the bypass."""
    _, roles, _ = built
    ctx = {"sagemaker:ModelApprovalStatus": "Approved"}
    for role in ("pipeline", "jobs"):
        assert decide([roles[role]], "sagemaker:CreateModelPackage", PACKAGE, ctx) == "ExplicitDeny"
        assert decide([roles[role]], "sagemaker:UpdateModelPackage", PACKAGE, ctx) == "ExplicitDeny"
    # even with an extra policy granting everything on the registry
    grant_all = {"Statement": [{"Effect": "Allow", "Action": "sagemaker:*", "Resource": "*"}]}
    assert decide([roles["pipeline"], grant_all], "sagemaker:CreateModelPackage", PACKAGE, ctx) == "ExplicitDeny"
    assert decide([roles["jobs"], grant_all], "sagemaker:CreateModelPackage", PACKAGE,
                  {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}) == "ExplicitDeny"


def test_the_pipeline_registers_pending_versions(built):
    arts, roles, _ = built
    pol = [roles["pipeline"]]
    assert decide(pol, "sagemaker:CreateModelPackage", PACKAGE,
                  {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}) == "Allow"
    # without a status (IfExists: an absent key makes the condition true): denied too, the
    # pipeline always writes the literal
    assert decide(pol, "sagemaker:CreateModelPackage", PACKAGE, {}) == "ExplicitDeny"
    d = arts["pipelines/prod/training.json"]
    assert "ModelApprovalStatus" not in {p["Name"] for p in d["Parameters"]}
    text = json.dumps(d)
    assert text.count('"ModelApprovalStatus": "PendingManualApproval"') == 1 and "Approved\"" not in text


def test_the_deploy_path_may_only_revert(built):
    _, roles, _ = built
    pol = [roles["deploy"]]
    assert decide(pol, "sagemaker:UpdateModelPackage", PACKAGE,
                  {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}) == "Allow"
    for status in ("Approved", "Rejected"):
        assert decide(pol, "sagemaker:UpdateModelPackage", PACKAGE,
                      {"sagemaker:ModelApprovalStatus": status}) == "ExplicitDeny"
    assert decide(pol, "sagemaker:UpdateModelPackage", PACKAGE, {}) == "ExplicitDeny"


def test_the_human_approver_can_approve_and_reject(built):
    _, _, approver = built
    for status in ("Approved", "Rejected"):
        assert decide([approver], "sagemaker:UpdateModelPackage", PACKAGE,
                      {"sagemaker:ModelApprovalStatus": status}) == "Allow"
    assert decide([approver], "sagemaker:UpdateModelPackage", PACKAGE, {}) == "Allow"  # record approval i
    assert decide([approver], "sagemaker:DescribeModelPackage", PACKAGE, {}) == "Allow"
    assert decide([approver], "s3:GetObject", "arn:aws:s3:::artifacts-bucket/pipelines/x/evaluation.json") == "Allow"
    # but not another system's registry, nor registering models itself
    assert decide([approver], "sagemaker:UpdateModelPackage", f"{SM}:model-package/other-group/1",
                  {"sagemaker:ModelApprovalStatus": "Approved"}) == "ImplicitDeny"
    assert decide([approver], "sagemaker:CreateModelPackage", PACKAGE, {}) == "ImplicitDeny"


def test_the_deploy_path_checks_the_package_itself(built):
    arts, _, _ = built
    for path, d in arts.items():
        if path.startswith("statemachines/prod/deploy-"):
            check = d["States"]["CheckApproved"]
            assert d["States"]["DescribePackage"]["Next"] == "CheckApproved"
            assert check["Choices"][0] == {**check["Choices"][0], "Variable": "$.package.ModelApprovalStatus",
                                           "StringEquals": "Approved"}
            assert d["States"][check["Default"]]["Type"] == "Fail"


def test_nvme_jobs_pass_the_volume_key_guardrails(built):
    """A job on an instance type with local storage sends no volume key (the API refuses one);
    the pipeline role's volume-key denies spare exactly those types."""
    _, roles, _ = built
    pol = [roles["pipeline"]]
    job = f"{SM}:training-job/x"
    base = {"sagemaker:VpcSubnets": ["subnet-0", "subnet-1"], "sagemaker:VpcSecurityGroupIds": ["sg-0"],
            "sagemaker:OutputKmsKey": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k", "sagemaker:NetworkIsolation": True,
            "sagemaker:InterContainerTrafficEncryption": True}
    assert decide(pol, "sagemaker:CreateTrainingJob", job, {**base, "sagemaker:InstanceTypes": ["ml.g5.xlarge"]}) == "Allow"
    assert decide(pol, "sagemaker:CreateTrainingJob", job,
                  {**base, "sagemaker:InstanceTypes": ["ml.m5.xlarge"]}) == "ExplicitDeny"
    assert decide(pol, "sagemaker:CreateTrainingJob", job, {**base, "sagemaker:InstanceTypes": ["ml.m5.xlarge"],
                                                            "sagemaker:VolumeKmsKey": base["sagemaker:OutputKmsKey"]}) == "Allow"


def test_evaluator_semantics():
    """The evaluator itself, on the cases the tests above depend on."""
    deny_unless_pending = {"Statement": [
        {"Effect": "Allow", "Action": "sagemaker:CreateModelPackage", "Resource": "*"},
        {"Effect": "Deny", "Action": "sagemaker:CreateModelPackage", "Resource": "*",
         "Condition": {"StringNotEqualsIfExists": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}}]}
    # "...IfExists: if the key is not present, evaluate the condition element as true" (AWS docs)
    assert decide([deny_unless_pending], "sagemaker:CreateModelPackage", "x", {}) == "ExplicitDeny"
    assert decide([deny_unless_pending], "sagemaker:CreateModelPackage", "x",
                  {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}) == "Allow"
    assert decide([deny_unless_pending], "SageMaker:createmodelpackage", "x",
                  {"sagemaker:ModelApprovalStatus": "Approved"}) == "ExplicitDeny"
    spare = {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {
        "Null": {"k": "true"}, "ForAllValues:StringNotEquals": {"t": ["ml.g5.xlarge"]}}}]}
    assert decide([spare], "a", "r", {"t": ["ml.g5.xlarge"]}) == "ImplicitDeny"
    assert decide([spare], "a", "r", {"t": ["ml.m5.xlarge"]}) == "ExplicitDeny"
    assert decide([spare], "a", "r", {"t": ["ml.m5.xlarge"], "k": "key"}) == "ImplicitDeny"


def test_the_threat_model_names_tests_that_exist():
    """docs/security.md's approval-integrity table cites tests; each cited test exists."""
    from testkit import ROOT

    text = (ROOT / "docs" / "security.md").read_text()
    section = text[text.index("## Approval integrity (SageMaker target)"):]
    nxt = section.find("\n## ", 3)  # up to the next section (other targets' threat models follow)
    section = section if nxt < 0 else section[:nxt]
    assert "no identity that runs the pipeline or user code can make a model deployable" in " ".join(section.split())
    here = ROOT / "tests" / "targets" / "sagemaker"
    sources = {p.name: p.read_text() for p in here.glob("test_*.py")}
    cited = re.findall(r"`(?:(test_\w+\.py)::)?(test_\w+)`", section)
    assert len(cited) >= 8
    for file, name in cited:
        files = [file] if file else list(sources)
        assert any(f"def {name}(" in sources.get(f, "") for f in files), name
