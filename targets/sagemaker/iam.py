"""Least-privilege IAM for one environment: one role per component, plus the KMS key policy.

Input: the EnvContext and the stack model built so far. Output: `iam-policy` artifacts
(`iam/<env>/<role>.json`, `${token}` placeholders resolved by the program) and the `roles`
entries of the stack model. Pure.

Components (SECURITY.md MLS-G-03, MLS-AWS-050..055): `pipeline` (SageMaker Pipelines
orchestrator, with the MLS-AWS-054 deny guardrails), `jobs` (processing/training/tuning/
transform workloads), `endpoint` (model execution role), `monitoring` (Model Monitor and
Clarify monitors), `deploy` (Step Functions deploy/batch state machines), `events`
(EventBridge rules) and `scheduler` (EventBridge Scheduler). No `*` action; `*` resources
only for actions AWS does not scope (ec2:Describe*, logs delivery); iam:PassRole only for
named role ARNs with `iam:PassedToService`.
https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html
"""
from __future__ import annotations

import json
import re

from typing import Any

from mlspec.targets.sagemaker import storage

SM = "arn:${partition}:sagemaker:${region}:${account}"
KMS_USE = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:ReEncryptFrom",
           "kms:ReEncryptTo"]
JOB_ACTIONS = ["sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob",
               "sagemaker:CreateHyperParameterTuningJob", "sagemaker:CreateTransformJob"]
#: the families of lower.INSTANCE_TYPES (tests/docs/test_compute_classes.py keeps them in step)
ALLOWED_INSTANCE_TYPES = ["ml.g4dn.*", "ml.g5.*", "ml.g6e.*", "ml.m5.*", "ml.r5.*"]
SERVICES = {"pipeline": "sagemaker.amazonaws.com", "jobs": "sagemaker.amazonaws.com",
            "endpoint": "sagemaker.amazonaws.com", "monitoring": "sagemaker.amazonaws.com",
            "deploy": "states.amazonaws.com", "events": "events.amazonaws.com",
            "scheduler": "scheduler.amazonaws.com", "mlflow": "sagemaker.amazonaws.com",
            "tracker": "lambda.amazonaws.com"}


def policy_path(env: Any, name: str) -> str:
    return f"iam/{env.env_name}/{name}.json"


#: IAM quotas: a customer-managed policy document is at most 6,144 characters (whitespace not
#: counted), and a role has at most 10 managed policies attached (default quota)
MANAGED_POLICY_MAX = 6144
MANAGED_POLICIES_PER_ROLE = 10
#: mlspec fills a managed policy to at most this many characters (deploy-time values at their
#: longest, below), leaving room for longer names than the estimate
MANAGED_POLICY_BUDGET = 4500
#: the longest deploy-time value of each `${token}` (ARNs with the longest names AWS allows)
TOKEN_MAX = {"partition": 10, "region": 14, "account": 12, "kms_key_arn": 100, "bucket_arn": 76,
             "role": 100, "subnet": 24, "security_group": 20, "topic": 330, "state_machine": 140,
             "pipeline": 330, "bucket": 63}
_TOKEN = re.compile(r"\$\{([a-z_]+)(?::[A-Za-z0-9_.-]+)?\}")


def policy_size(document: dict) -> int:
    """The document's length as IAM counts it (no whitespace), every `${token}` at its longest."""
    text = json.dumps(document, separators=(",", ":"))
    return len(_TOKEN.sub(lambda m: "x" * TOKEN_MAX.get(m.group(1), 330), text))


def split_policy(document: dict, budget: int = MANAGED_POLICY_BUDGET) -> list[dict]:
    """`document`'s statements in as few policy documents as fit `budget` each (order kept)."""
    parts: list[list[dict]] = [[]]
    for st in document["Statement"]:
        if parts[-1] and policy_size(doc(*parts[-1], st)) > budget:
            parts.append([])
        parts[-1].append(st)
    return [doc(*p) for p in parts]


def stmt(sid: str, actions: list[str], resources: list[str] | str, effect: str = "Allow",
         condition: dict | None = None) -> dict:
    s: dict[str, Any] = {"Sid": sid, "Effect": effect, "Action": sorted(actions),
                         "Resource": resources if isinstance(resources, str) else list(resources)}
    if condition:
        s["Condition"] = condition
    return s


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def bucket(key: str, objects: bool = False) -> str:
    return "${bucket_arn:%s}%s" % (key, "/*" if objects else "")


def role_arn(env: Any, key: str) -> str:
    return "arn:${partition}:iam::${account}:role/" + _role_name(env, key)


def grant() -> dict:
    return stmt("GrantForSageMaker", ["kms:CreateGrant"], ["${kms_key_arn}"],
                condition={"Bool": {"kms:GrantIsForAWSResource": "true"},
                           "StringEquals": {"kms:ViaService": "sagemaker.${region}.amazonaws.com"}})


def vpc_access() -> list[dict]:
    return [
        stmt("DescribeNetwork", ["ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
                                 "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs"], "*"),
        stmt("JobNetworkInterfaces", ["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
                                      "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission"],
             ["arn:${partition}:ec2:${region}:${account}:network-interface/*",
              "arn:${partition}:ec2:${region}:${account}:subnet/*",
              "arn:${partition}:ec2:${region}:${account}:security-group/*"],
             condition={"StringEquals": {"ec2:Vpc": "arn:${partition}:ec2:${region}:${account}:vpc/${vpc_id}"}}),
    ]


def logs(prefix: str) -> dict:
    return stmt("Logs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                         "logs:DescribeLogStreams"],
                [f"arn:${{partition}}:logs:${{region}}:${{account}}:log-group:{prefix}*"])


def metrics(namespaces: list[str]) -> dict:
    return stmt("PublishMetrics", ["cloudwatch:PutMetricData"], "*",
                condition={"StringLike": {"cloudwatch:namespace": namespaces}})


def pass_role(env: Any, keys: list[str]) -> dict:
    return stmt("PassJobRoles", ["iam:PassRole"], [role_arn(env, k) for k in keys],
                condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}})


def guardrails(env: Any, out: dict) -> list[dict]:
    """MLS-AWS-054: deny job creation without VPC, KMS, isolation and encryption in transit."""
    creates = [f"{SM}:{r}/*" for r in ("processing-job", "training-job", "hyper-parameter-tuning-job",
                                        "transform-job", "model")]
    jobs_vpc = ["sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob",
                "sagemaker:CreateHyperParameterTuningJob", "sagemaker:CreateModel"]
    # Clarify jobs that query a shadow endpoint (SHAP, post-training bias) cannot be isolated:
    # isolation cannot be demanded of CreateProcessingJob when the pipelines contain one (see
    # the compile notes). A pre-training (data) bias check reads only the data and stays isolated.
    from mlspec.targets.sagemaker.pipeline import PRE_TRAINING_BIAS

    clarify = any(s["kind"] == "explain" or (s["kind"] == "bias_check" and (s.get("metric") or "dpl").upper()
                                             not in PRE_TRAINING_BIAS)
                  for p in env.ir.get("pipelines") or [] for s in p["steps"])
    # a model's `serve` requirements are downloaded from the mirror by its package step (a
    # processing job in the VPC, not isolated); the served model itself stays isolated
    vendoring = any((m.get("serve") or {}).get("requirements") for m in env.ir.get("models") or [])
    isolated = ["sagemaker:CreateTrainingJob", "sagemaker:CreateHyperParameterTuningJob", "sagemaker:CreateModel"]
    if not clarify and not vendoring:
        isolated.append("sagemaker:CreateProcessingJob")
    if any(not s.get("network_isolation", True) for p in env.ir.get("pipelines") or [] for s in p["steps"]):
        isolated = ["sagemaker:CreateModel"]
    local = storage.local_storage_patterns(ALLOWED_INSTANCE_TYPES)
    spare_local = {"ForAllValues:StringNotEquals": {"sagemaker:InstanceTypes": local}} if local else {}
    subnets = [f"${{subnet:{i}}}" for i in range(len(env.subnet_params))]
    sgs = [f"${{security_group:{i}}}" for i in range(len(env.sg_params))]
    return [
        stmt("DenyJobsOutsideVpc", jobs_vpc, creates, "Deny",
             {"Null": {"sagemaker:VpcSubnets": "true"}}),
        stmt("DenyJobsInOtherSubnets", jobs_vpc, creates, "Deny",
             {"ForAnyValue:StringNotEquals": {"sagemaker:VpcSubnets": subnets}}),
        stmt("DenyJobsWithOtherSecurityGroups", jobs_vpc, creates, "Deny",
             {"ForAnyValue:StringNotEquals": {"sagemaker:VpcSecurityGroupIds": sgs}}),
        # instance types with local NVMe storage take no volume key (the API rejects one): both
        # volume-key denies spare them (an absent key makes a ...IfExists condition true)
        stmt("DenyJobsWithoutVolumeKey", JOB_ACTIONS[:3], creates, "Deny",
             {"StringNotEqualsIfExists": {"sagemaker:VolumeKmsKey": "${kms_key_arn}"}, **spare_local}),
        stmt("DenyJobsWithoutVolumeKeySet", JOB_ACTIONS[:3], creates, "Deny",
             {"Null": {"sagemaker:VolumeKmsKey": "true"}, **spare_local}),
        stmt("DenyJobsWithoutOutputKey", JOB_ACTIONS, creates, "Deny",
             {"Null": {"sagemaker:OutputKmsKey": "true"}}),
        stmt("DenyJobsWithOtherOutputKey", JOB_ACTIONS, creates, "Deny",
             {"StringNotEqualsIfExists": {"sagemaker:OutputKmsKey": "${kms_key_arn}"}}),
        stmt("DenyJobsWithoutIsolation", isolated, creates, "Deny",
             {"Bool": {"sagemaker:NetworkIsolation": "false"}}),
        stmt("DenyJobsWithoutTransitEncryption", JOB_ACTIONS[:3], creates, "Deny",
             {"Bool": {"sagemaker:InterContainerTrafficEncryption": "false"}}),
        stmt("DenyOtherInstanceTypes", JOB_ACTIONS, creates, "Deny",
             {"ForAnyValue:StringNotLike": {"sagemaker:InstanceTypes": ALLOWED_INSTANCE_TYPES}}),
    ]


#: what writes the model registry (create a version, change its approval or metadata)
REGISTRY_WRITES = ["sagemaker:CreateModelPackage", "sagemaker:UpdateModelPackage",
                   "sagemaker:DeleteModelPackage", "sagemaker:PutModelPackageGroupPolicy"]


def approval_groups(env: Any) -> list[str]:
    """Model package groups whose versions need a human approval in this environment."""
    if env.ir["environment"]["approval"] != "required":
        return []
    return sorted(env.group_name(m) for m in env.models.values() if (m.get("approval") or {}).get("required"))


def register_only_pending(env: Any) -> list[dict]:
    """Approval integrity: where approval is required, a version can only be registered as
    PendingManualApproval, whatever the request says (an absent status is denied too: the
    pipeline always writes the literal)."""
    groups = approval_groups(env)
    if not groups:
        return []
    return [stmt("DenyRegisteringApproved", ["sagemaker:CreateModelPackage"],
                 [f"{SM}:model-package/{g}/*" for g in groups] + [f"{SM}:model-package-group/{g}" for g in groups],
                 "Deny", {"StringNotEqualsIfExists": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}})]


def approver_policy(env: Any) -> dict:
    """The managed policy the stack creates for human approvers (attach it to their group or
    role): read the registry, approve or reject versions and record approvals as metadata."""
    groups = sorted(env.group_name(m) for m in env.models.values())
    pkg = [f"{SM}:model-package/{g}/*" for g in groups] or [f"{SM}:model-package/none"]
    return doc(
        stmt("ListPackages", ["sagemaker:ListModelPackages", "sagemaker:ListModelPackageGroups"], "*"),
        stmt("ReviewPackages", ["sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup"],
             pkg + [f"{SM}:model-package-group/{g}" for g in groups]),
        stmt("ApproveOrReject", ["sagemaker:UpdateModelPackage"], pkg),
        stmt("ReadEvidence", ["s3:GetObject"], [bucket("artifacts", True)]),
        stmt("UseEnvKey", ["kms:Decrypt", "kms:DescribeKey"], ["${kms_key_arn}"]),
    )


def lower_roles(env: Any, out: dict, low: Any) -> None:
    groups = [g["name"] for g in out["model_package_groups"]]
    pipelines = [p["name"] for p in out["pipelines"]]
    endpoints = [e["name"] for e in out["endpoints"]]
    deploy_sms = [s["name"] for s in out["state_machines"] if not s["key"].startswith("batch-")]
    batch_sms = [s["name"] for s in out["state_machines"] if s["key"].startswith("batch-")]
    pkg = [f"{SM}:model-package/{g}/*" for g in groups] + [f"{SM}:model-package-group/{g}" for g in groups]
    pkg_versions = [f"{SM}:model-package/{g}/*" for g in groups]
    exp = [f"{SM}:experiment/*", f"{SM}:experiment-trial/*", f"{SM}:experiment-trial-component/*"]
    policies: dict[str, dict] = {}

    policies["pipeline"] = doc(
        stmt("RunJobs", JOB_ACTIONS + ["sagemaker:CreateModel", "sagemaker:AddTags"],
             [f"{SM}:{r}/*" for r in ("processing-job", "training-job", "hyper-parameter-tuning-job",
                                      "transform-job", "model")]),
        stmt("WatchJobs", ["sagemaker:DescribeProcessingJob", "sagemaker:DescribeTrainingJob",
                           "sagemaker:DescribeHyperParameterTuningJob", "sagemaker:DescribeTransformJob",
                           "sagemaker:StopProcessingJob", "sagemaker:StopTrainingJob",
                           "sagemaker:StopHyperParameterTuningJob", "sagemaker:StopTransformJob",
                           "sagemaker:ListTrainingJobsForHyperParameterTuningJob", "sagemaker:DescribeModel",
                           "sagemaker:ListTags"],
             [f"{SM}:{r}/*" for r in ("processing-job", "training-job", "hyper-parameter-tuning-job",
                                      "transform-job", "model")]),
        stmt("RegisterModels", ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage",
                                "sagemaker:DescribeModelPackageGroup", "sagemaker:ListModelPackages",
                                "sagemaker:AddTags"], pkg or [f"{SM}:model-package/none"]),
        # MLS-G-07: approval is a state change by a principal other than the pipeline
        stmt("DenySelfApproval", ["sagemaker:UpdateModelPackage"], f"{SM}:model-package/*", "Deny"),
        *register_only_pending(env),
        stmt("TrackExperiments", ["sagemaker:CreateExperiment", "sagemaker:CreateTrial",
                                  "sagemaker:CreateTrialComponent", "sagemaker:AssociateTrialComponent",
                                  "sagemaker:DescribeExperiment", "sagemaker:DescribeTrial",
                                  "sagemaker:DescribeTrialComponent", "sagemaker:UpdateTrialComponent",
                                  "sagemaker:AddTags"], exp),
        pass_role(env, ["jobs"]),
        stmt("Artifacts", ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
             [bucket("artifacts"), bucket("artifacts", True)]),
        stmt("UseEnvKey", KMS_USE, ["${kms_key_arn}"]),
        grant(),
        *guardrails(env, out),
    )
    policies["jobs"] = doc(
        # user code runs as this role: it never writes the registry (docs/security.md, approval integrity)
        stmt("DenyRegistryWrites", REGISTRY_WRITES, "*", "Deny"),
        stmt("ReadData", ["s3:GetObject", "s3:ListBucket"], [bucket("data"), bucket("data", True)]),
        stmt("WriteMonitorBaselines", ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
             [bucket("monitoring"), "${bucket_arn:monitoring}/baselines/*"]),
        stmt("Artifacts", ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
             [bucket("artifacts"), bucket("artifacts", True)]),
        stmt("UseEnvKey", KMS_USE, ["${kms_key_arn}"]),
        grant(),
        logs("/aws/sagemaker/"),
        metrics(["/aws/sagemaker/*"]),
        stmt("ClarifyShadowEndpoints", ["sagemaker:CreateEndpoint", "sagemaker:CreateEndpointConfig",
                                        "sagemaker:DeleteEndpoint", "sagemaker:DeleteEndpointConfig",
                                        "sagemaker:DescribeEndpoint", "sagemaker:DescribeModel",
                                        "sagemaker:InvokeEndpoint", "sagemaker:AddTags"],
             [f"{SM}:endpoint/sm-clarify-*", f"{SM}:endpoint-config/sm-clarify-*", f"{SM}:model/*"]),
        *vpc_access(),
    )
    policies["endpoint"] = doc(
        stmt("ModelArtifacts", ["s3:GetObject"], [bucket("artifacts", True)]),
        stmt("UseEnvKey", ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"], ["${kms_key_arn}"]),
        logs("/aws/sagemaker/Endpoints/"),
        metrics(["/aws/sagemaker/*", "AWS/SageMaker"]),
        *vpc_access(),
    )
    policies["monitoring"] = doc(
        stmt("ReadCaptureAndTruth", ["s3:GetObject", "s3:ListBucket"],
             [bucket("capture"), bucket("capture", True), bucket("data"), bucket("data", True),
              bucket("artifacts"), bucket("artifacts", True)]),
        stmt("WriteReports", ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
             [bucket("monitoring"), bucket("monitoring", True)]),
        stmt("UseEnvKey", KMS_USE, ["${kms_key_arn}"]),
        grant(),
        logs("/aws/sagemaker/"),
        metrics(["aws/sagemaker/*", "/aws/sagemaker/*"]),
        stmt("ClarifyShadowEndpoints", ["sagemaker:CreateEndpoint", "sagemaker:CreateEndpointConfig",
                                        "sagemaker:DeleteEndpoint", "sagemaker:DeleteEndpointConfig",
                                        "sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint",
                                        "sagemaker:AddTags"],
             [f"{SM}:endpoint/sm-clarify-*", f"{SM}:endpoint-config/sm-clarify-*"]),
        *vpc_access(),
    )
    policies["deploy"] = doc(
        stmt("ReadApprovedPackages", ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages",
                                      "sagemaker:DescribeModelPackageGroup"], pkg or [f"{SM}:model-package/none"]),
        stmt("Deploy", ["sagemaker:CreateModel", "sagemaker:CreateEndpointConfig", "sagemaker:CreateEndpoint",
                        "sagemaker:UpdateEndpoint", "sagemaker:DescribeEndpoint",
                        "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel", "sagemaker:AddTags",
                        "sagemaker:CreateTransformJob", "sagemaker:DescribeTransformJob",
                        "sagemaker:StopTransformJob"],
             [f"{SM}:model/{env.name()}*", f"{SM}:endpoint-config/{env.name()}*",
              *[f"{SM}:endpoint/{e}" for e in endpoints], f"{SM}:transform-job/{env.name()}*"]),
        # the deploy path only ever sets a package back to PendingManualApproval (too few approvals)
        stmt("RevertApprovals", ["sagemaker:UpdateModelPackage"], pkg_versions or [f"{SM}:model-package/none"]),
        stmt("DenyApprovingPackages", ["sagemaker:UpdateModelPackage"], f"{SM}:model-package/*", "Deny",
             {"StringNotEqualsIfExists": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}),
        stmt("DenyPackageUpdatesWithoutStatus", ["sagemaker:UpdateModelPackage"], f"{SM}:model-package/*", "Deny",
             {"Null": {"sagemaker:ModelApprovalStatus": "true"}}),
        stmt("DenyRegistering", ["sagemaker:CreateModelPackage"], "*", "Deny"),
        stmt("Tracing", ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                         "xray:GetSamplingTargets"], "*"),
        stmt("PassServingRole", ["iam:PassRole"], [role_arn(env, "endpoint")],
             condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}),
        stmt("ChampionRecord", ["s3:GetObject", "s3:PutObject"], [bucket("artifacts", True)]),
        stmt("UseEnvKey", KMS_USE, ["${kms_key_arn}"]),
        stmt("SyncTransformJobs", ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
             ["arn:${partition}:events:${region}:${account}:rule/StepFunctionsGetEventsForSageMakerTransformJobsRule"]),
        stmt("LogDelivery", ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                             "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                             "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"], "*"),
    )
    policies["events"] = doc(
        stmt("StartDeploys", ["states:StartExecution"],
             ["arn:${partition}:states:${region}:${account}:stateMachine:" + n for n in deploy_sms]
             or ["arn:${partition}:states:${region}:${account}:stateMachine:none"]),
        stmt("StartPipelines", ["sagemaker:StartPipelineExecution"],
             [f"{SM}:pipeline/{p}" for p in pipelines] or [f"{SM}:pipeline/none"]),
        stmt("UseEnvKey", ["kms:Decrypt", "kms:GenerateDataKey"], ["${kms_key_arn}"]),
    )
    policies["scheduler"] = doc(
        stmt("StartPipelines", ["sagemaker:StartPipelineExecution"],
             [f"{SM}:pipeline/{p}" for p in pipelines] or [f"{SM}:pipeline/none"]),
        stmt("StartBatch", ["states:StartExecution"],
             ["arn:${partition}:states:${region}:${account}:stateMachine:" + n for n in batch_sms]
             or ["arn:${partition}:states:${region}:${account}:stateMachine:none"]),
        stmt("UseEnvKey", ["kms:Decrypt", "kms:GenerateDataKey"], ["${kms_key_arn}"]),
    )
    if out.get("mlflow") is not None:
        server = f"{SM}:mlflow-tracking-server/*"
        tracker = "arn:${partition}:lambda:${region}:${account}:function:" + out["mlflow"]["tracker"]["name"]
        policies["pipeline"]["Statement"].append(stmt("InvokeMlflowTracker", ["lambda:InvokeFunction"], [tracker]))
        policies["tracker"] = doc(
            stmt("TrackMlflow", ["sagemaker:DescribeMlflowTrackingServer", "sagemaker-mlflow:CreateExperiment",
                                 "sagemaker-mlflow:GetExperimentByName", "sagemaker-mlflow:CreateRun",
                                 "sagemaker-mlflow:LogBatch", "sagemaker-mlflow:UpdateRun", "sagemaker-mlflow:SetTag"],
                 [server]),
            stmt("ReadMetrics", ["s3:GetObject"], [bucket("artifacts", True)]),
            stmt("UseEnvKey", ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"], ["${kms_key_arn}"]),
            logs("/aws/lambda/" + out["mlflow"]["tracker"]["name"]),
            # the function runs with active X-Ray tracing (its segments are written as this role)
            stmt("Tracing", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*"),
            stmt("DescribeNetwork", ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
                                     "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs"], "*"),
            stmt("LambdaNetworkInterfaces", ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
                                             "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
                 ["arn:${partition}:ec2:${region}:${account}:network-interface/*",
                  "arn:${partition}:ec2:${region}:${account}:subnet/*",
                  "arn:${partition}:ec2:${region}:${account}:security-group/*"]))
        policies["mlflow"] = doc(
            stmt("ArtifactStore", ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation"],
                 [bucket("artifacts"), bucket("artifacts", True)]),
            stmt("UseEnvKey", KMS_USE, ["${kms_key_arn}"]),
            stmt("DenySelfApproval", ["sagemaker:UpdateModelPackage"], f"{SM}:model-package/*", "Deny"))
    for key, pol in policies.items():
        # customer-managed policies attached to the role (an inline policy shares one 10,240-character
        # budget per role; a managed policy has 6,144 each, up to 10 per role): split by statement
        parts = split_policy(pol)
        if len(parts) > MANAGED_POLICIES_PER_ROLE:
            env.diag("system", f"the `{key}` role needs {len(parts)} managed policies; IAM attaches at most "
                               f"{MANAGED_POLICIES_PER_ROLE} to a role", "split the system into smaller specs",
                     "E505")
        paths = []
        for i, part in enumerate(parts, 1):
            path = policy_path(env, key if len(parts) == 1 else f"{key}-{i}")
            low.add(path, "iam-policy", part, "json")
            paths.append("../" + path)
        out["roles"].append({"key": key, "name": _role_name(env, key), "service": SERVICES[key],
                             "policies": paths})
    low.add(policy_path(env, "kms-key"), "iam-policy", key_policy(env), "json")
    low.add(policy_path(env, "approver"), "iam-policy", approver_policy(env), "json")
    out["approver_policy"] = {"name": _role_name(env, "approver"), "policy": "../" + policy_path(env, "approver")}


def _role_name(env: Any, key: str) -> str:
    from mlspec.targets.sagemaker import naming
    return naming.role_name(env.system, env.env_name, key)


def key_policy(env: Any) -> dict:
    """MLS-AWS-002: no `*` principal; services only through kms:ViaService or their service principal."""
    via = [f"{s}.${{region}}.amazonaws.com" for s in ("sagemaker", "s3", "sns", "states", "logs", "ec2")]
    return doc(
        stmt("AccountAdministers", ["kms:*"], "*") | {"Principal": {"AWS": "arn:${partition}:iam::${account}:root"}},
        stmt("ServicesThroughAccountPrincipals", KMS_USE + ["kms:CreateGrant"], "*",
             condition={"StringEquals": {"kms:ViaService": via, "kms:CallerAccount": "${account}"}})
        | {"Principal": {"AWS": "arn:${partition}:iam::${account}:root"}},
        stmt("ServicePrincipals", ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt", "kms:DescribeKey"], "*",
             condition={"StringEquals": {"aws:SourceAccount": "${account}"}})
        | {"Principal": {"Service": sorted(["cloudwatch.amazonaws.com", "events.amazonaws.com",
                                            "logs.${region}.amazonaws.com", "logging.s3.amazonaws.com",
                                            "scheduler.amazonaws.com",
                                            "sns.amazonaws.com", "states.amazonaws.com"])}},
    )
