"""Mock outputs of the AWS providers (pulumi-aws, pulumi-aws-native) for `mlspec plan`.

Part of ``Target.mock_outputs()`` (see :mod:`mlspec.compiler.plan.mocks`, the engine): plausible
computed outputs for ``aws:*`` and ``aws-native:*`` resources and invokes under Pulumi's mock runtime, so that dependent inputs never resolve
to ``None``. Extend the tables one line per type token / invoke token (wire names); values already
present in the inputs are never overwritten. Deterministic (no clocks, no randomness).
Pure Python; imports no Pulumi module.
"""
from __future__ import annotations

import json
import re
from typing import Any

from mlspec.compiler.plan.mocks import Ctx, MockOutputs, digest, guid, kebab, lcfirst

ACCOUNT = "123456789012"
REGION = "us-east-1"


def configure(config: dict[str, str]) -> None:
    """Take the region from the stack config (`aws:region`, `aws-native:region`)."""
    global REGION
    REGION = config.get("aws:region") or config.get("aws-native:region") or REGION


def _aws_physical(ctx: Ctx) -> str:
    return ctx.get("name", "bucket", "repositoryName", "functionName", "roleName", "pipelineName",
                   "modelPackageGroupName", "endpointName", default=ctx.name)


def _aws_id(ctx: Ctx) -> str:
    special = {
        "kms/key": guid("kms", ctx.name),
        "ec2/vpc": "vpc-" + guid("vpc", ctx.name)[:17].replace("-", ""),
        "ec2/subnet": "subnet-" + guid("subnet", ctx.name)[:17].replace("-", ""),
        "ec2/securityGroup": "sg-" + guid("sg", ctx.name)[:17].replace("-", ""),
        "ec2/vpcEndpoint": "vpce-" + guid("vpce", ctx.name)[:17].replace("-", ""),
        "ec2/routeTable": "rtb-" + guid("rtb", ctx.name)[:17].replace("-", ""),
    }
    return special.get(ctx.typ.split(":")[1], _aws_physical(ctx))


def _aws_default(ctx: Ctx) -> dict:
    svc = ctx.module
    phys = _aws_physical(ctx)
    kind = kebab(ctx.cls)
    out = {"name": phys, "arn": f"arn:aws:{svc}:{REGION}:{ACCOUNT}:{kind}/{phys}",
           "tagsAll": ctx.inputs.get("tags") or {}}
    if svc == "iam":
        out["arn"] = f"arn:aws:iam::{ACCOUNT}:{lcfirst(ctx.cls)}/{phys}"
        out["uniqueId"] = "AROA" + guid("iam", phys)[:17].replace("-", "").upper()
    if svc == "sagemaker":
        kind = {"EndpointConfiguration": "endpoint-config"}.get(ctx.cls, kind)
        out["arn"] = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{phys.lower()}"
    return out


def _aws_s3_bucket(ctx: Ctx) -> dict:
    b = ctx.get("bucket", default=ctx.name)
    return {"bucket": b, "arn": f"arn:aws:s3:::{b}", "bucketDomainName": f"{b}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{b}.s3.{REGION}.amazonaws.com", "region": REGION}


def _aws_kms_key(ctx: Ctx) -> dict:
    return {"keyId": ctx.id, "arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{ctx.id}"}


def _aws_kms_alias(ctx: Ctx) -> dict:
    n = ctx.get("name", default=f"alias/{ctx.name}")
    return {"name": n, "arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:{n}",
            "targetKeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{ctx.get('targetKeyId', default=guid(n))}"}


def _aws_ecr_repo(ctx: Ctx) -> dict:
    n = ctx.get("name", default=ctx.name)
    return {"repositoryUrl": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{n}", "registryId": ACCOUNT,
            "arn": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{n}"}


def _aws_log_group(ctx: Ctx) -> dict:
    n = ctx.get("name", default=ctx.name)
    return {"arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{n}"}


def _aws_sns_topic(ctx: Ctx) -> dict:
    n = ctx.get("name", default=ctx.name)
    return {"arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:{n}"}


def _aws_lambda(ctx: Ctx) -> dict:
    n = ctx.get("name", default=ctx.name)
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{n}"
    return {"arn": arn, "qualifiedArn": f"{arn}:1", "version": "1",
            "invokeArn": f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}/invocations"}


def _aws_event_rule(ctx: Ctx) -> dict:
    n = ctx.get("name", default=ctx.name)
    return {"arn": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{n}"}


def _aws_alarm(ctx: Ctx) -> dict:
    n = ctx.get("name", default=ctx.name)
    return {"arn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{n}"}


def _aws_mpg(ctx: Ctx) -> dict:
    n = ctx.get("modelPackageGroupName", default=ctx.name)
    return {"modelPackageGroupName": n,
            "arn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/{n.lower()}"}


def _aws_vpc_endpoint(ctx: Ctx) -> dict:
    out = {"arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-endpoint/{ctx.id}",
           "dnsEntries": [{"dnsName": f"{ctx.id}.{REGION}.vpce.amazonaws.com", "hostedZoneId": "Z1"}]}
    if ctx.get("vpcEndpointType") == "Gateway":  # the managed prefix list of the service (S3, DynamoDB)
        out["prefixListId"] = "pl-" + guid("prefix-list", ctx.get("serviceName", default=""))[:8]
    return out


def _aws_sg(ctx: Ctx) -> dict:
    return {"arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{ctx.id}", "ownerId": ACCOUNT}


def _awsn_default(ctx: Ctx) -> dict:
    """aws-native (Cloud Control): `<type>Arn` / `<type>Name` outputs besides `arn`."""
    kind = lcfirst(ctx.cls)
    phys = ctx.get(f"{kind}Name", "jobDefinitionName", "name", default=ctx.name)
    arn = f"arn:aws:{ctx.module}:{REGION}:{ACCOUNT}:{kebab(ctx.cls)}/{str(phys).lower()}"
    out: dict[str, Any] = {"arn": arn}
    words = re.findall(r"[A-Z][a-z0-9]*", ctx.cls)
    for i in range(len(words)):  # ModelQualityJobDefinition -> modelQualityJobDefinitionArn ... jobDefinitionArn
        stem = lcfirst("".join(words[i:]))
        out[f"{stem}Arn"] = arn
        out[f"{stem}Name"] = phys
    return out


def _awsn_id(ctx: Ctx) -> str:
    return str(ctx.get(f"{lcfirst(ctx.cls)}Name", "jobDefinitionName", "name", default=ctx.name))



def _policy_document(args: dict) -> dict:
    stmts = []
    for s in args.get("statements") or []:
        st: dict[str, Any] = {"Effect": s.get("effect", "Allow")}
        if s.get("sid"):
            st["Sid"] = s["sid"]
        for k, wire in (("actions", "Action"), ("notActions", "NotAction"), ("resources", "Resource"),
                        ("notResources", "NotResource")):
            if s.get(k):
                st[wire] = s[k]
        for k, wire in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            if s.get(k):
                st[wire] = {p["type"]: p["identifiers"] for p in s[k]}
        if s.get("conditions"):
            cond: dict[str, dict] = {}
            for c in s["conditions"]:
                cond.setdefault(c["test"], {})[c["variable"]] = c["values"]
            st["Condition"] = cond
        stmts.append(st)
    doc = json.dumps({"Version": "2012-10-17", "Statement": stmts})
    return {"json": doc, "minifiedJson": doc, "id": guid("policy", doc)}



#: exact type token -> extra outputs (wire names); extend freely, one line per type
RESOURCE_OUTPUTS = {
    "aws:s3/bucket:Bucket": _aws_s3_bucket,
    "aws:s3/bucketV2:BucketV2": _aws_s3_bucket,
    "aws:kms/key:Key": _aws_kms_key,
    "aws:kms/alias:Alias": _aws_kms_alias,
    "aws:ecr/repository:Repository": _aws_ecr_repo,
    "aws:cloudwatch/logGroup:LogGroup": _aws_log_group,
    "aws:sns/topic:Topic": _aws_sns_topic,
    "aws:lambda/function:Function": _aws_lambda,
    "aws:cloudwatch/eventRule:EventRule": _aws_event_rule,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _aws_alarm,
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": _aws_mpg,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _aws_vpc_endpoint,
    "aws:ec2/securityGroup:SecurityGroup": _aws_sg,
}

#: invoke token -> result (wire names); extend freely
CALL_RESULTS = {
    "aws:index/getCallerIdentity:getCallerIdentity": lambda a: {
        "accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/mlspec-mock", "userId": "AIDAMOCK", "id": ACCOUNT},
    "aws:index/getRegion:getRegion": lambda a: {
        "name": REGION, "region": REGION, "id": REGION, "endpoint": f"ec2.{REGION}.amazonaws.com",
        "description": "US East (N. Virginia)"},
    "aws:index/getPartition:getPartition": lambda a: {
        "partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws"},
    "aws:iam/getPolicyDocument:getPolicyDocument": _policy_document,
    "aws:index/getAvailabilityZones:getAvailabilityZones": lambda a: {
        "names": [f"{REGION}a", f"{REGION}b", f"{REGION}c"], "zoneIds": ["use1-az1", "use1-az2", "use1-az4"],
        "id": REGION},
    "aws:sagemaker/getPrebuiltEcrImage:getPrebuiltEcrImage": lambda a: {
        "registryPath": f"683313688378.dkr.ecr.{REGION}.amazonaws.com/{a.get('repositoryName', 'image')}:{a.get('imageTag', '1')}",
        "registryId": "683313688378", "id": "683313688378"},
    # image digests (lets a program pin framework images by digest at deploy time: MLS-G-06)
    "aws:ecr/getImage:getImage": lambda a: {
        "imageDigest": digest(a.get("registryId"), a.get("repositoryName"), a.get("imageTag")),
        "imageTag": a.get("imageTag"), "registryId": a.get("registryId") or ACCOUNT,
        "repositoryName": a.get("repositoryName"), "imageTags": [a.get("imageTag")],
        "imageUri": f"{a.get('registryId') or ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{a.get('repositoryName')}"
                    f"@{digest(a.get('registryId'), a.get('repositoryName'), a.get('imageTag'))}",
        "id": digest(a.get("registryId"), a.get("repositoryName"), a.get("imageTag"))},
}

MOCK_OUTPUTS = MockOutputs(
    providers={"aws": (_aws_id, _aws_default), "aws-native": (_awsn_id, _awsn_default)},
    resources=RESOURCE_OUTPUTS, calls=CALL_RESULTS, configure=configure,
    python_modules={"aws": "pulumi_aws", "aws-native": "pulumi_aws_native"},
)
