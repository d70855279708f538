"""The deploy path and batch inference as AWS Step Functions state machines (ASL, JSONPath).

Input: the EnvContext, an IR endpoint (or batch job) and its stack-model entry.
Output: an Amazon States Language definition (plain data, `${token}`s resolved by the program).
Pure; no I/O.

Deploy: an EventBridge rule on "SageMaker Model Package State Change" to `Approved` starts the
endpoint's state machine with the event. It reads the package, records its evaluation as the
champion (`s3://<artifacts>/champion/<group>/evaluation.json`, read by champion gates), creates
a model (VPC, network isolation) and an endpoint configuration (KMS, data capture), then
creates the endpoint or updates it with the rollout's blue/green DeploymentConfig and
auto-rollback alarms. Shadow rollouts first add a shadow variant, wait the shadow duration and
then promote; A/B rollouts replace the approved model's variants only.
https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html
"""
from __future__ import annotations

from typing import Any

from mlspec.targets.sagemaker import naming
from mlspec.targets.sagemaker.pipeline import volume_key

SDK = "arn:aws:states:::aws-sdk:sagemaker:"
#: what the deploy path reads of DescribeModelPackage (every mlspec package has lineage metadata)
PACKAGE_FIELDS = ("ModelPackageGroupName", "ModelPackageVersion", "ModelApprovalStatus", "CustomerMetadataProperties")
SHORT_ID = "States.ArrayGetItem(States.StringSplit($$.Execution.Name, '-'), 0)"


def _vpc(env: Any) -> dict:
    return {"Subnets": [f"${{subnet:{i}}}" for i in range(len(env.subnet_params))],
            "SecurityGroupIds": [f"${{security_group:{i}}}" for i in range(len(env.sg_params))]}


def _variant(v: dict, model_path: str | None = None) -> dict:
    out = {"VariantName": v["name"], "InstanceType": v["instance_type"],
           "InitialInstanceCount": v["count"], "InitialVariantWeight": v["weight"]}
    if model_path:
        out["ModelName.$"] = model_path
    return out


def _capture(ep: dict) -> dict | None:
    c = ep.get("capture")
    if not c:
        return None
    return {"EnableCapture": True, "InitialSamplingPercentage": c["percent"],
            "DestinationS3Uri": "s3://${bucket:capture}/" + c["prefix"], "KmsKeyId": "${kms_key_arn}",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]}


def _task(resource: str, params: dict, nxt: str | None, result_path: str | None = None,
          catch: str | None = None, keep: dict | None = None) -> dict:
    """A Task state; `keep`: the ResultSelector (only the fields later states read enter the state)."""
    t: dict[str, Any] = {"Type": "Task", "Resource": resource, "Parameters": params}
    if keep:
        t["ResultSelector"] = keep
    t["ResultPath"] = result_path
    if nxt:
        t["Next"] = nxt
    else:
        t["End"] = True
    if catch:
        t["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": catch}]
    return t


def _config(ep: dict, name_path: str, variants: Any, shadow: Any = None) -> dict:
    p: dict[str, Any] = {"EndpointConfigName.$": name_path, "KmsKeyId": "${kms_key_arn}"}
    if isinstance(variants, str):
        p["ProductionVariants.$"] = variants
    else:
        p["ProductionVariants"] = variants
    if shadow:
        p["ShadowProductionVariants"] = shadow
    cap = _capture(ep)
    if cap:
        p["DataCaptureConfig"] = cap
    return p


def required_approvals(env: Any, models: list[dict]) -> int:
    """How many approvals the deploy path demands (1 unless a model asks for more)."""
    if env.ir["environment"]["approval"] != "required":
        return 1
    return max([int((m.get("approval") or {}).get("count") or 1) for m in models
                if (m.get("approval") or {}).get("required")] or [1])


def deploy_definition(env: Any, e: dict, ep: dict) -> dict:
    r = e["rollout"]
    strategy = r["strategy"]
    prefix = naming.sm_name(env.system, env.env_name, e["name"], limit=40)
    group_by_model = {m["name"]: env.group_name(m) for m in env.models.values()}
    states: dict[str, Any] = {}
    states["DescribePackage"] = _task(SDK + "describeModelPackage",
                                      {"ModelPackageName.$": "$.detail.ModelPackageArn"}, "CheckApproved", "$.package",
                                      keep={k + ".$": "$." + k for k in PACKAGE_FIELDS})
    need = required_approvals(env, [m for m in env.models.values() if m["name"] in ep["models"]])
    # the event is only a trigger: the package itself must be Approved now (a replayed or forged
    # event, or a package rejected since, deploys nothing)
    states["CheckApproved"] = {
        "Type": "Choice", "Default": "NotApproved",
        "Choices": [{"Variable": "$.package.ModelApprovalStatus", "StringEquals": "Approved",
                     "Next": "CheckApprovals" if need > 1 else "Names"}]}
    states["NotApproved"] = {"Type": "Fail", "Error": "NotApproved",
                             "Cause": "the model package is not Approved; nothing is deployed"}
    if need > 1:
        # N approvals: approvers 1..N-1 record `mlspec-approval-<i>` on the package, the N-th approves
        states["CheckApprovals"] = {
            "Type": "Choice", "Default": "RevertApproval",
            "Choices": [{"And": [{"Variable": f"$.package.CustomerMetadataProperties.mlspec-approval-{i}",
                                  "IsPresent": True} for i in range(1, need)], "Next": "Names"}]}
        # too few approvals: the package goes back to PendingManualApproval (never stays Approved)
        states["RevertApproval"] = _task(SDK + "updateModelPackage", {
            "ModelPackageArn.$": "$.detail.ModelPackageArn", "ModelApprovalStatus": "PendingManualApproval",
            "ApprovalDescription": f"mlspec: {need} approvals required; approval reverted"},
            "NotEnoughApprovals", None)
        states["NotEnoughApprovals"] = {"Type": "Fail", "Error": "NotEnoughApprovals",
                                        "Cause": f"{need} approvals required: record approvals 1..{need - 1} as "
                                                 "model package metadata mlspec-approval-<i> before approving"}
    states["Names"] = {"Type": "Pass", "ResultPath": "$.names", "Next": "HasEvaluation", "Parameters": {
        "model.$": f"States.Format('{prefix}-v{{}}-{{}}', $.package.ModelPackageVersion, {SHORT_ID})",
        "config.$": f"States.Format('{prefix}-c{{}}-{{}}', $.package.ModelPackageVersion, {SHORT_ID})",
        "promoted.$": f"States.Format('{prefix}-p{{}}-{{}}', $.package.ModelPackageVersion, {SHORT_ID})"}}
    # the champion record is part of the deploy: a failure to write it fails the execution
    # (champion gates would otherwise compare against a stale champion and pass silently)
    states["HasEvaluation"] = {
        "Type": "Choice", "Default": "CreateModel",
        "Choices": [{"Variable": "$.package.CustomerMetadataProperties.EvaluationKey", "IsPresent": True,
                     "Next": "RecordChampion"}]}
    states["RecordChampion"] = _task("arn:aws:states:::aws-sdk:s3:copyObject", {
        "Bucket": "${bucket:artifacts}",
        "Key.$": "States.Format('champion/{}/evaluation.json', $.package.ModelPackageGroupName)",
        "CopySource.$": "States.Format('${bucket:artifacts}/{}', "
                        "$.package.CustomerMetadataProperties.EvaluationKey)",
        "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "${kms_key_arn}"},
        "CreateModel", None)
    states["CreateModel"] = _task(SDK + "createModel", {
        "ModelName.$": "$.names.model", "ExecutionRoleArn": "${role:endpoint}",
        "Containers": [{"ModelPackageName.$": "$.detail.ModelPackageArn"}],
        "VpcConfig": _vpc(env), "EnableNetworkIsolation": True}, "DescribeEndpoint", None)
    states["DescribeEndpoint"] = _task(SDK + "describeEndpoint", {"EndpointName": ep["name"]},
                                       "DescribeCurrentConfig", "$.endpoint", catch="CreateFirstConfig",
                                       keep={"EndpointConfigName.$": "$.EndpointConfigName"})
    first_variants = [_variant(v, "$.names.model") for v in ep["variants"]]
    states["CreateFirstConfig"] = _task(SDK + "createEndpointConfig",
                                        _config(ep, "$.names.config", first_variants), "CreateEndpoint", None)
    states["CreateEndpoint"] = _task(SDK + "createEndpoint", {"EndpointName": ep["name"],
                                                             "EndpointConfigName.$": "$.names.config"}, None,
                                     None)
    after_current = {"shadow": "CreateShadowConfig", "ab_test": "ReplaceVariants"}.get(strategy, "CreateConfig")
    states["DescribeCurrentConfig"] = _task(SDK + "describeEndpointConfig",
                                            {"EndpointConfigName.$": "$.endpoint.EndpointConfigName"},
                                            after_current, "$.current",
                                            keep={"ProductionVariants.$": "$.ProductionVariants"})
    update = {"EndpointName": ep["name"], "EndpointConfigName.$": "$.names.config",
              "DeploymentConfig": ep["deployment"]}
    if strategy == "shadow":
        shadow = [_variant(v, "$.names.model") for v in ep["shadow_variants"]]
        states["CreateShadowConfig"] = _task(SDK + "createEndpointConfig", _config(
            ep, "$.names.config", "$.current.ProductionVariants", shadow), "StartShadow", None)
        states["StartShadow"] = _task(SDK + "updateEndpoint", {"EndpointName": ep["name"],
                                                              "EndpointConfigName.$": "$.names.config"},
                                      "ShadowPeriod", None)
        if r.get("promote"):
            states["ShadowPeriod"] = {"Type": "Wait", "Seconds": int(r["duration_s"]), "Next": "CreatePromotedConfig"}
            states["CreatePromotedConfig"] = _task(SDK + "createEndpointConfig", _config(
                ep, "$.names.promoted", [_variant(v, "$.names.model") for v in ep["variants"]]), "Promote", None)
            states["Promote"] = _task(SDK + "updateEndpoint", {**update, "EndpointConfigName.$": "$.names.promoted"},
                                      None, None)
        else:
            states["ShadowPeriod"] = {"Type": "Succeed", "Comment": "promotion is manual (no `promote`)"}
    elif strategy == "ab_test":
        keep = {"VariantName.$": "$.variant.VariantName", "InstanceType.$": "$.variant.InstanceType",
                "InitialInstanceCount.$": "$.variant.InitialInstanceCount",
                "InitialVariantWeight.$": "$.variant.InitialVariantWeight"}
        states["ReplaceVariants"] = {
            "Type": "Map", "ItemsPath": "$.current.ProductionVariants", "ResultPath": "$.variants",
            "ItemSelector": {"variant.$": "$$.Map.Item.Value", "model.$": "$.names.model",
                             "package.$": "$.package.ModelPackageGroupName"},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Choose", "States": {
                "Choose": {"Type": "Choice", "Choices": [
                    {"And": [{"Variable": "$.package", "StringEquals": group_by_model.get(v["model"], "")},
                             {"Variable": "$.variant.VariantName", "StringEquals": v["name"]}],
                     "Next": "Replace"} for v in ep["variants"]], "Default": "Keep"},
                "Replace": {"Type": "Pass", "Parameters": {**keep, "ModelName.$": "$.model"}, "End": True},
                "Keep": {"Type": "Pass", "Parameters": {**keep, "ModelName.$": "$.variant.ModelName"},
                         "End": True}}},
            "Next": "CreateConfig"}
        states["CreateConfig"] = _task(SDK + "createEndpointConfig", _config(ep, "$.names.config", "$.variants"),
                                       "UpdateEndpoint", None)
        states["UpdateEndpoint"] = _task(SDK + "updateEndpoint", update, None, None)
    else:
        states["CreateConfig"] = _task(SDK + "createEndpointConfig",
                                       _config(ep, "$.names.config", first_variants), "UpdateEndpoint", None)
        states["UpdateEndpoint"] = _task(SDK + "updateEndpoint", update, None, None)
    return {"Comment": f"mlspec deploy path for endpoint `{e['name']}` ({strategy} rollout, "
                       f"environment {env.env_name})",
            "StartAt": "DescribePackage", "States": states}


def batch_definition(env: Any, b: dict, model: dict, ds: dict) -> dict:
    prefix = naming.sm_name(env.system, env.env_name, b["name"], limit=40)
    itype = env.instance_type(b.get("compute"), "TransformInstanceType")
    count = int((b.get("compute") or {}).get("instance_count") or 1)
    states = {
        "LatestApproved": _task(SDK + "listModelPackages", {
            "ModelPackageGroupName": env.group_name(model), "ModelApprovalStatus": "Approved",
            "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 1}, "Names", "$.latest"),
        "Names": {"Type": "Pass", "ResultPath": "$.names", "Next": "CreateModel", "Parameters": {
            "model.$": f"States.Format('{prefix}-m-{{}}', {SHORT_ID})",
            "job.$": f"States.Format('{prefix}-{{}}', {SHORT_ID})"}},
        "CreateModel": _task(SDK + "createModel", {
            "ModelName.$": "$.names.model", "ExecutionRoleArn": "${role:endpoint}",
            "Containers": [{"ModelPackageName.$": "$.latest.ModelPackageSummaryList[0].ModelPackageArn"}],
            "VpcConfig": _vpc(env), "EnableNetworkIsolation": True}, "Transform", None),
        "Transform": _task("arn:aws:states:::sagemaker:createTransformJob.sync", {
            "TransformJobName.$": "$.names.job", "ModelName.$": "$.names.model",
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                               "S3Uri": env.token_uri(ds["uri"])}},
                               "ContentType": "text/csv", "SplitType": "Line"},
            "TransformOutput": {"S3OutputPath": env.token_uri(b.get("output") or f"data://batch/{b['name']}/"),
                                "KmsKeyId": "${kms_key_arn}", "AssembleWith": "Line"},
            "TransformResources": volume_key({"InstanceType": itype, "InstanceCount": count},
                                             "${kms_key_arn}")}, None, None),
    }
    return {"Comment": f"mlspec batch inference `{b['name']}` (environment {env.env_name})",
            "StartAt": "LatestApproved", "States": states}
