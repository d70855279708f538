"""AWS baseline rules MLS-AWS-* (SECURITY.md section 2) over pulumi-aws wire inputs and
SageMaker Pipelines definitions. Property names are wire (camelCase) names; the table
names in SECURITY.md are the Terraform/Python snake_case forms of the same properties.
Never imports a cloud SDK.
"""
from __future__ import annotations

import fnmatch
import re
from typing import Any, Iterator

from mlspec.compiler.plan.graph import Graph, as_list, dig, falsy, is_set, policy_statements, rule, truthy, walk
from mlspec.compiler.plan.rules_common import image_problem
from mlspec.targets.sagemaker import artifacts as pipelines
from mlspec.targets.sagemaker import mock_outputs as fabricate

BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
SSE = ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
       "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2")
PAB = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
BUCKET_POLICY = ("aws:s3/bucketPolicy:BucketPolicy",)
VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
LIFECYCLE = ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
             "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2")
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "aws:iam/policy:Policy"
ATTACH = ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/policyAttachment:PolicyAttachment")
PIPELINE = "aws:sagemaker/pipeline:Pipeline"
MONITOR_JOBS = ("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition",
                "aws-native:sagemaker:DataQualityJobDefinition", "aws-native:sagemaker:ModelQualityJobDefinition",
                "aws-native:sagemaker:ModelBiasJobDefinition", "aws-native:sagemaker:ModelExplainabilityJobDefinition")


def bucket_name(b: dict) -> str:
    return b["inputs"].get("bucket") or b["name"]


def bucket_companions(g: Graph, b: dict, types: tuple[str, ...]) -> list[dict]:
    """Resources of ``types`` that configure bucket ``b`` (by the bucket input or a dependency)."""
    name = bucket_name(b)
    return [r for r in g.of(*types) if r["inputs"].get("bucket") == name
            or (b["name"] in (r.get("property_dependencies") or {}).get("bucket", []))]


def role_arn(r: dict) -> str:
    return f"arn:aws:iam::{fabricate.ACCOUNT}:role/{r['inputs'].get('name') or r['name']}"


def role_policies(g: Graph, role: dict) -> list[tuple[dict, Any]]:
    """(resource, policy document) of every inline and attached customer policy of ``role``."""
    rname = role["inputs"].get("name") or role["name"]
    out: list[tuple[dict, Any]] = []
    for ip in role["inputs"].get("inlinePolicies") or []:
        if isinstance(ip, dict):
            out.append((role, ip.get("policy")))
    for rp in g.of(ROLE_POLICY):
        if rp["inputs"].get("role") in (rname, role_arn(role)) or role["name"] in \
                (rp.get("property_dependencies") or {}).get("role", []):
            out.append((rp, rp["inputs"].get("policy")))
    policies = {f"arn:aws:iam::{fabricate.ACCOUNT}:policy/{p['inputs'].get('name') or p['name']}": p for p in g.of(POLICY)}
    for a in g.of(*ATTACH):
        roles = as_list(a["inputs"].get("role")) + as_list(a["inputs"].get("roles"))
        if rname in roles or role_arn(role) in roles:
            p = policies.get(a["inputs"].get("policyArn"))
            if p is not None:
                out.append((p, p["inputs"].get("policy")))
    return out


def all_policy_docs(g: Graph) -> Iterator[tuple[dict, Any]]:
    """(resource, identity-policy document) for inline role policies and customer managed policies."""
    for r in g.of(ROLE):
        for ip in r["inputs"].get("inlinePolicies") or []:
            if isinstance(ip, dict):
                yield r, ip.get("policy")
    for r in g.of(ROLE_POLICY, POLICY, "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy"):
        yield r, r["inputs"].get("policy")


def allows(doc: Any) -> list[dict]:
    return [s for s in policy_statements(doc) if s.get("Effect") == "Allow"]


def actions(s: dict) -> list[str]:
    return [a for a in as_list(s.get("Action")) if isinstance(a, str)]


def resources(s: dict) -> list[str]:
    return [r for r in as_list(s.get("Resource")) if isinstance(r, str)]


def cond_keys(s: dict) -> dict[str, Any]:
    """condition key (lower-case) -> values, across operators."""
    out: dict[str, Any] = {}
    for op, body in (s.get("Condition") or {}).items():
        if isinstance(body, dict):
            for k, v in body.items():
                out[k.lower()] = (op, v)
    return out


def principal_star(s: dict) -> bool:
    p = s.get("Principal")
    if p == "*":
        return True
    if isinstance(p, dict):
        return any(x == "*" for v in p.values() for x in as_list(v))
    return False


# ----------------------------------------------------------------------------- keys


@rule("MLS-AWS-001", cloud="aws", resource="aws.kms.Key", property="enable_key_rotation", default="true",
      external=("CKV_AWS_7", "AWS-0065", "cmk-backing-key-rotation-enabled"))
def check_kms_rotation(g: Graph):
    for k in g.of("aws:kms/key:Key"):
        if not truthy(k["inputs"].get("enableKeyRotation")):
            yield k, "`enableKeyRotation` is not true"


@rule("MLS-AWS-002", cloud="aws", resource="aws.kms.Key", property="policy; is_enabled; bypass lockout check",
      default="no * principal; enabled; lockout safety check not bypassed", external=("CKV_AWS_33", "CKV_AWS_227"))
def check_kms_policy(g: Graph):
    for k in g.of("aws:kms/key:Key"):
        i = k["inputs"]
        if falsy(i.get("isEnabled")):
            yield k, "`isEnabled` is false"
        if truthy(i.get("bypassPolicyLockoutSafetyCheck")):
            yield k, "`bypassPolicyLockoutSafetyCheck` is true"
        for s in allows(i.get("policy")):
            if principal_star(s) and not s.get("Condition"):
                yield k, "key policy allows the `*` principal without a condition"


# ----------------------------------------------------------------------------- S3


@rule("MLS-AWS-010", cloud="aws", resource="S3 buckets", property="server-side encryption",
      default="aws:kms with the env CMK, bucket key on",
      external=("CKV_AWS_19", "CKV_AWS_145", "AWS-0132",
                "aws-s3-bucket-configure-server-side-encryption-customer-managed-key"))
def check_s3_sse(g: Graph):
    for b in g.of(*BUCKETS):
        rules = []
        for s in bucket_companions(g, b, SSE):
            rules += as_list(s["inputs"].get("rules"))
        inline = dig(b["inputs"], "serverSideEncryptionConfiguration", "rule")
        if inline:
            rules += as_list(inline)
        if not rules:
            yield b, "no server-side encryption configuration"
            continue
        for r in rules:
            d = (r or {}).get("applyServerSideEncryptionByDefault") or {}
            if d.get("sseAlgorithm") not in ("aws:kms", "aws:kms:dsse"):
                yield b, f"SSE algorithm is `{d.get('sseAlgorithm')}`, not aws:kms"
            elif not is_set(d.get("kmsMasterKeyId")):
                yield b, "SSE uses the AWS-managed key: `kmsMasterKeyId` not set to the env CMK"
            if not truthy((r or {}).get("bucketKeyEnabled")):
                yield b, "`bucketKeyEnabled` is not true"


@rule("MLS-AWS-011", cloud="aws", resource="aws.s3.BucketPublicAccessBlock",
      property="block_public_acls, block_public_policy, ignore_public_acls, restrict_public_buckets",
      default="all true", external=("CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56", "CKV2_AWS_6",
                                    "AWS-0086", "AWS-0087", "AWS-0091", "AWS-0093", "AWS-0094"))
def check_s3_public_access_block(g: Graph):
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for b in g.of(*BUCKETS):
        pabs = bucket_companions(g, b, PAB)
        if not pabs:
            yield b, "no public access block"
        for p in pabs:
            off = [k for k in keys if not truthy(p["inputs"].get(k))]
            if off:
                yield b, f"public access block leaves {', '.join(off)} off"


def _tls_deny(s: dict) -> bool:
    if s.get("Effect") != "Deny":
        return False
    ck = cond_keys(s)
    v = ck.get("aws:securetransport")
    return v is not None and str(as_list(v[1])[0]).lower() == "false"


@rule("MLS-AWS-012", cloud="aws", resource="S3 bucket policy", property="statements",
      default="deny requests without TLS; no * principal allow", external=("CKV_AWS_70",))
def check_s3_bucket_policy(g: Graph):
    for b in g.of(*BUCKETS):
        pols = bucket_companions(g, b, BUCKET_POLICY)
        stmts = [s for p in pols for s in policy_statements(p["inputs"].get("policy"))]
        if not any(_tls_deny(s) for s in stmts):
            yield b, "bucket policy does not deny requests without TLS (aws:SecureTransport = false)"
        if any(s.get("Effect") == "Allow" and principal_star(s) for s in stmts):
            yield b, "bucket policy allows the `*` principal"


@rule("MLS-AWS-013", cloud="aws", resource="S3 versioning", property="status", default="Enabled",
      external=("CKV_AWS_21", "AWS-0090"))
def check_s3_versioning(g: Graph):
    for b in g.of(*BUCKETS):
        vs = bucket_companions(g, b, VERSIONING)
        inline = dig(b["inputs"], "versioning", "enabled")
        if inline is True:
            continue
        if not any(dig(v["inputs"], "versioningConfiguration", "status") == "Enabled" for v in vs):
            yield b, "versioning is not Enabled"


def _log_targets(g: Graph) -> set[str]:
    return {l["inputs"].get("targetBucket") for l in g.of(*LOGGING)}


@rule("MLS-AWS-014", cloud="aws", resource="S3 logging", property="target", default="separate log bucket",
      external=("CKV_AWS_18", "AWS-0089"), severity="low")
def check_s3_logging(g: Graph):
    targets = _log_targets(g)
    for b in g.of(*BUCKETS):
        if bucket_name(b) in targets and not bucket_companions(g, b, LOGGING):
            continue  # the log bucket itself
        logs = bucket_companions(g, b, LOGGING)
        if not logs:
            yield b, "no access logging"
        for l in logs:
            if l["inputs"].get("targetBucket") == bucket_name(b):
                yield b, "access logs go to the bucket itself, not a separate log bucket"


@rule("MLS-AWS-015", cloud="aws", resource="S3 lifecycle", property="rules",
      default="expire capture/monitoring data per retention class (prod)", external=("CKV2_AWS_61",), severity="low")
def check_s3_lifecycle(g: Graph):
    if not g.production:
        return
    for b in _capture_buckets(g):
        lcs = bucket_companions(g, b, LIFECYCLE)
        ok = any(isinstance(r, dict) and r.get("status") == "Enabled" and (r.get("expiration") or
                 r.get("noncurrentVersionExpiration")) for lc in lcs for r in as_list(lc["inputs"].get("rules")))
        if not ok:
            yield b, "production capture/monitoring bucket has no enabled expiration lifecycle rule"


def _capture_buckets(g: Graph) -> list[dict]:
    """Buckets holding data capture or monitoring output (by use, or by name)."""
    uris = [str(dig(e["inputs"], "dataCaptureConfig", "destinationS3Uri", default=""))
            for e in g.of("aws:sagemaker/endpointConfiguration:EndpointConfiguration")]
    for d in g.of(*MONITOR_JOBS):
        uris += [str(v) for _, v in walk(d["inputs"]) if isinstance(v, str) and v.startswith("s3://")]
    used = {u[5:].split("/", 1)[0] for u in uris if u.startswith("s3://")}
    return [b for b in g.of(*BUCKETS) if bucket_name(b) in used or
            re.search(r"capture|monitor", f"{b['name']} {bucket_name(b)}")]


# ----------------------------------------------------------------------------- ECR, logs, SNS


@rule("MLS-AWS-020", cloud="aws", resource="aws.ecr.Repository", property="image_tag_mutability",
      default="IMMUTABLE", external=("CKV_AWS_51", "AWS-0031", "aws-ecr-repository-disallow-mutable-image"))
def check_ecr_immutable(g: Graph):
    for r in g.of("aws:ecr/repository:Repository"):
        if r["inputs"].get("imageTagMutability") != "IMMUTABLE":
            yield r, "`imageTagMutability` is not IMMUTABLE"


@rule("MLS-AWS-021", cloud="aws", resource="aws.ecr.Repository", property="encryption_configurations",
      default="KMS with env CMK", external=("CKV_AWS_136", "AWS-0033"))
def check_ecr_kms(g: Graph):
    for r in g.of("aws:ecr/repository:Repository"):
        encs = as_list(r["inputs"].get("encryptionConfigurations"))
        if not any(e.get("encryptionType") == "KMS" and is_set(e.get("kmsKey")) for e in encs if isinstance(e, dict)):
            yield r, "not encrypted with KMS and the env CMK"


@rule("MLS-AWS-022", cloud="aws", resource="aws.ecr.Repository", property="image_scanning_configuration.scan_on_push",
      default="true", external=("CKV_AWS_163", "AWS-0030"))
def check_ecr_scan(g: Graph):
    for r in g.of("aws:ecr/repository:Repository"):
        if not truthy(dig(r["inputs"], "imageScanningConfiguration", "scanOnPush")):
            yield r, "`imageScanningConfiguration.scanOnPush` is not true"


@rule("MLS-AWS-023", cloud="aws", resource="ECR repository policy", property="principals", default="no public / *",
      external=("CKV_AWS_32", "AWS-0032"))
def check_ecr_policy(g: Graph):
    for r in g.of("aws:ecr/repositoryPolicy:RepositoryPolicy", "aws:ecr/registryPolicy:RegistryPolicy"):
        if any(principal_star(s) for s in allows(r["inputs"].get("policy"))):
            yield r, "repository policy allows the `*` principal"


@rule("MLS-AWS-030", cloud="aws", resource="aws.cloudwatch.LogGroup", property="kms_key_id", default="env CMK",
      external=("CKV_AWS_158", "AWS-0017"))
def check_log_group_kms(g: Graph):
    for r in g.of("aws:cloudwatch/logGroup:LogGroup"):
        if not is_set(r["inputs"].get("kmsKeyId")):
            yield r, "`kmsKeyId` not set"


@rule("MLS-AWS-031", cloud="aws", resource="aws.cloudwatch.LogGroup", property="retention_in_days",
      default="set; prod >= 365", external=("CKV_AWS_66", "CKV_AWS_338"))
def check_log_group_retention(g: Graph):
    for r in g.of("aws:cloudwatch/logGroup:LogGroup"):
        days = r["inputs"].get("retentionInDays")
        if not isinstance(days, (int, float)) or days <= 0:
            yield r, "`retentionInDays` not set"
        elif g.production and days < 365:
            yield r, f"`retentionInDays` = {days}; production needs >= 365"


@rule("MLS-AWS-032", cloud="aws", resource="aws.sns.Topic", property="kms_master_key_id", default="env CMK",
      external=("CKV_AWS_26",))
def check_sns_kms(g: Graph):
    for r in g.of("aws:sns/topic:Topic"):
        if not is_set(r["inputs"].get("kmsMasterKeyId")):
            yield r, "`kmsMasterKeyId` not set"


# ----------------------------------------------------------------------------- network

OPEN = ("0.0.0.0/0", "::/0")


def _sg_rules(sg: dict) -> Iterator[tuple[str, dict]]:
    for direction in ("ingress", "egress"):
        for r in as_list(sg["inputs"].get(direction)):
            if isinstance(r, dict):
                yield direction, r


@rule("MLS-AWS-040", cloud="aws", resource="VPC / subnets / security groups for SageMaker compute",
      property="subnets, SG rules",
      default="private subnets only; every SG/rule described; no 0.0.0.0/0 ingress; egress limited",
      external=("CKV_AWS_23", "CKV_AWS_382", "CKV_AWS_24", "CKV_AWS_25", "CKV_AWS_260", "CKV_AWS_277"))
def check_network(g: Graph):
    for sn in g.of("aws:ec2/subnet:Subnet"):
        if truthy(sn["inputs"].get("mapPublicIpOnLaunch")):
            yield sn, "subnet maps public IPs on launch (not private)"
    for igw in g.of("aws:ec2/internetGateway:InternetGateway"):
        yield igw, "an internet gateway makes the SageMaker subnets public"
    for sg in g.of("aws:ec2/securityGroup:SecurityGroup"):
        if not is_set(sg["inputs"].get("description")):
            yield sg, "security group has no description"
        for direction, r in _sg_rules(sg):
            if not is_set(r.get("description")):
                yield sg, f"{direction} rule has no description"
            if set(as_list(r.get("cidrBlocks")) + as_list(r.get("ipv6CidrBlocks"))) & set(OPEN):
                yield sg, f"{direction} rule open to the internet"
    for r in g.of("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                  "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "aws:ec2/securityGroupRule:SecurityGroupRule"):
        i = r["inputs"]
        if not is_set(i.get("description")):
            yield r, "rule has no description"
        cidrs = as_list(i.get("cidrIpv4")) + as_list(i.get("cidrIpv6")) + as_list(i.get("cidrBlocks"))
        if set(cidrs) & set(OPEN):
            yield r, "rule open to the internet"


VPC_ENDPOINTS = {"sagemaker.api": "Interface", "sagemaker.runtime": "Interface", "ecr.api": "Interface",
                 "ecr.dkr": "Interface", "logs": "Interface", "sts": "Interface", "kms": "Interface", "s3": "Gateway"}


@rule("MLS-AWS-041", cloud="aws", resource="VPC endpoints", property="set",
      default="interface: SageMaker API + runtime, ECR api + dkr, CloudWatch Logs, STS, KMS; gateway: S3",
      external=("MLS only",))
def check_vpc_endpoints(g: Graph):
    vpcs = g.of("aws:ec2/vpc:Vpc")
    if not vpcs:
        return  # the spec brings its own network; its endpoints are the network owner's
    have = {}
    for e in g.of("aws:ec2/vpcEndpoint:VpcEndpoint"):
        svc = str(e["inputs"].get("serviceName", ""))
        have[svc.split(".", 3)[-1] if svc.count(".") >= 3 else svc] = e["inputs"].get("vpcEndpointType") or "Gateway"
    for svc, kind in VPC_ENDPOINTS.items():
        if svc not in have:
            yield vpcs[0], f"no {kind} VPC endpoint for `{svc}`"
        elif have[svc] != kind:
            yield vpcs[0], f"VPC endpoint for `{svc}` is {have[svc]}, expected {kind}"


# ----------------------------------------------------------------------------- IAM

SERVICE = re.compile(r"^[a-z0-9.-]+\.amazonaws\.com$")


@rule("MLS-AWS-050", cloud="aws", resource="aws.iam.Role per component", property="assume_role_policy",
      default="only the specific service principal, with aws:SourceAccount / aws:SourceArn conditions",
      external=("CKV_AWS_60", "CKV_AWS_61"))
def check_trust_policy(g: Graph):
    for r in g.of(ROLE):
        stmts = [s for s in policy_statements(r["inputs"].get("assumeRolePolicy")) if s.get("Effect") == "Allow"]
        if not stmts:
            yield r, "no trust policy"
        services = set()
        for s in stmts:
            p = s.get("Principal")
            if not isinstance(p, dict) or set(p) != {"Service"}:
                yield r, "trust policy allows a principal that is not an AWS service"
                continue
            services.update(as_list(p["Service"]))
            ck = cond_keys(s)
            if "aws:sourceaccount" not in ck and "aws:sourcearn" not in ck:
                yield r, "trust policy has no aws:SourceAccount / aws:SourceArn condition (confused deputy)"
        if len(services) > 1:
            yield r, f"role trusts several services ({', '.join(sorted(services))}): one role per component"
        bad = [x for x in services if not SERVICE.match(str(x))]
        if bad:
            yield r, f"unexpected service principal(s) {', '.join(map(str, bad))}"


BROAD_MANAGED = ("AdministratorAccess", "PowerUserAccess", "AmazonSageMakerFullAccess", "AmazonS3FullAccess")


@rule("MLS-AWS-051", cloud="aws", resource="role attachments", property="managed policies",
      default="never AdministratorAccess, PowerUserAccess, AmazonSageMakerFullAccess, AmazonS3FullAccess",
      external=("CKV_AWS_274", "AWS-0345"))
def check_managed_policies(g: Graph):
    for a in g.of(*ATTACH):
        arn = str(a["inputs"].get("policyArn", ""))
        if arn.rsplit("/", 1)[-1] in BROAD_MANAGED and ":aws:policy/" in arn:
            yield a, f"attaches the broad managed policy `{arn.rsplit('/', 1)[-1]}`"
    for r in g.of(ROLE):
        for arn in as_list(r["inputs"].get("managedPolicyArns")):
            if str(arn).rsplit("/", 1)[-1] in BROAD_MANAGED:
                yield r, f"attaches the broad managed policy `{str(arn).rsplit('/', 1)[-1]}`"


#: actions that do not support resource-level permissions (Resource "*" is the only option)
STAR_RESOURCE_OK = ("ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", "cloudwatch:GetMetricData",
                    "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics", "logs:DescribeLogGroups",
                    "ec2:Describe*", "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission", "sagemaker:List*",
                    "sagemaker:Search", "sts:GetCallerIdentity", "s3:ListAllMyBuckets", "kms:ListAliases",
                    "servicecatalog:List*", "iam:ListRoles", "xray:Put*", "xray:Get*",
                    # CloudWatch Logs vended log delivery (Step Functions / EventBridge logging) only takes "*"
                    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                    "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                    "logs:DescribeResourcePolicies")
ESCALATION = re.compile(r"^iam:(?!PassRole$|Get|List)|^lambda:(UpdateFunctionCode|CreateFunction)$|^organizations:|"
                        r"^kms:(PutKeyPolicy|ScheduleKeyDeletion|DisableKey)$|^s3:PutBucket(Policy|Acl)$|"
                        r"^ec2:(AuthorizeSecurityGroup|CreateVpcPeering)", re.I)
# credential-exposure / exfiltration actions (ssm:GetParameter*, secretsmanager:GetSecretValue, s3:GetObject,
# sts:AssumeRole ...) are findings only on Resource "*" (CKV_AWS_288/290): the `*` resource check above


def _star_ok(action: str) -> bool:
    return any(fnmatch.fnmatchcase(action, p) for p in STAR_RESOURCE_OK)


@rule("MLS-AWS-052", cloud="aws", resource="inline / customer policies", property="statements",
      default="no * action; no * resource for restrictable actions; no escalation / exfiltration patterns",
      external=("CKV_AWS_62", "CKV_AWS_63", "CKV_AWS_355", "CKV_AWS_286", "CKV_AWS_287", "CKV_AWS_288",
                "CKV_AWS_289", "CKV_AWS_290", "CKV2_AWS_68"))
def check_policy_statements(g: Graph):
    for r, doc in all_policy_docs(g):
        for s in allows(doc):
            acts = actions(s)
            if "NotAction" in s:
                yield r, "Allow with NotAction grants everything else"
            for a in acts:
                if a == "*" or a.endswith(":*"):
                    yield r, f"wildcard action `{a}`"
                elif "*" in resources(s) and not _star_ok(a) and a != "iam:PassRole":
                    yield r, f"`{a}` on Resource `*`"
                if ESCALATION.search(a) and a != "iam:PassRole":
                    yield r, f"privilege-escalation / credential-exposure action `{a}`"


@rule("MLS-AWS-053", cloud="aws", resource="iam:PassRole", property="resource / condition",
      default="only named role ARNs, iam:PassedToService = sagemaker.amazonaws.com", external=("AWS-0342",))
def check_pass_role(g: Graph):
    for r, doc in all_policy_docs(g):
        for s in allows(doc):
            if not any(a in ("iam:PassRole", "iam:*", "*") or fnmatch.fnmatchcase("iam:PassRole", a) for a in actions(s)):
                continue
            res = resources(s)
            if not res or any("*" in x for x in res):
                yield r, "iam:PassRole on a wildcard resource"
            if any(not x.startswith("arn:aws:iam::") or ":role/" not in x for x in res if "*" not in x):
                yield r, "iam:PassRole on something other than role ARNs"
            if "iam:passedtoservice" not in cond_keys(s):
                yield r, "iam:PassRole without an iam:PassedToService condition"


GUARDRAIL_KEYS = ("sagemaker:vpcsubnets", "sagemaker:vpcsecuritygroupids", "sagemaker:volumekmskey",
                  "sagemaker:outputkmskey", "sagemaker:networkisolation", "sagemaker:intercontainertrafficencryption",
                  "sagemaker:instancetypes")


@rule("MLS-AWS-054", cloud="aws", resource="pipeline-orchestrator role",
      property="deny guardrails on sagemaker:Create*Job*, CreateModel",
      default="deny without VPC subnets/SGs, volume/output KMS key, network isolation, inter-container "
              "encryption; instance type allowlist", external=("MLS only",))
def check_orchestrator_guardrails(g: Graph):
    roles = {role_arn(r): r for r in g.of(ROLE)}
    for p in g.of(PIPELINE):
        role = roles.get(p["inputs"].get("roleArn"))
        if role is None:
            continue  # a role from outside the stack: MLS-AWS-068 reports the missing role
        keys: set[str] = set()
        for _, doc in role_policies(g, role):
            for s in policy_statements(doc):
                if s.get("Effect") == "Deny" and any(
                        fnmatch.fnmatchcase(x, "sagemaker:Create*") or x in ("sagemaker:*", "*") for x in actions(s)):
                    keys.update(cond_keys(s))
        missing = [k for k in GUARDRAIL_KEYS if k not in keys]
        if missing:
            yield role, f"orchestrator role lacks deny guardrails on {', '.join(missing)}"


S3_KMS_ACTIONS = re.compile(r"^(s3|kms):", re.I)


@rule("MLS-AWS-055", cloud="aws", resource="S3 / KMS permissions", property="resources",
      default="only mlspec buckets/prefixes and env keys; kms:CreateGrant only for AWS resources via SageMaker",
      external=("CKV_AWS_355", "CKV_AWS_290"))
def check_s3_kms_scope(g: Graph):
    buckets = {bucket_name(b) for b in g.of(*BUCKETS)}
    for r, doc in all_policy_docs(g):
        for s in allows(doc):
            acts = [a for a in actions(s) if S3_KMS_ACTIONS.match(a) and not _star_ok(a)]
            if not acts:
                continue
            for res in resources(s):
                if res.startswith("arn:aws:s3:::"):
                    b = res[len("arn:aws:s3:::"):].split("/", 1)[0]
                    if buckets and b not in buckets and "*" not in b:
                        yield r, f"S3 access to a bucket outside the stack (`{b}`)"
                    elif "*" in b:
                        yield r, f"S3 access to a wildcard bucket `{res}`"
            if any(a.lower() == "kms:creategrant" or a.lower() == "kms:*" for a in acts):
                ck = cond_keys(s)
                if "kms:grantisforawsresource" not in ck or "kms:viaservice" not in ck:
                    yield r, "kms:CreateGrant without kms:GrantIsForAWSResource and kms:ViaService conditions"


# ----------------------------------------------------------------------------- SageMaker resources


@rule("MLS-AWS-060", cloud="aws", resource="aws.sagemaker.Domain",
      property="kms_key_id; app_network_access_type; vpc_id/subnet_ids", default="CMK; VpcOnly; private subnets",
      external=("CKV_AWS_187", "sagemaker-domain-in-vpc"))
def check_domain(g: Graph):
    for d in g.of("aws:sagemaker/domain:Domain"):
        i = d["inputs"]
        if not is_set(i.get("kmsKeyId")):
            yield d, "`kmsKeyId` not set"
        if i.get("appNetworkAccessType") != "VpcOnly":
            yield d, "`appNetworkAccessType` is not VpcOnly"
        if not is_set(i.get("vpcId")) or not is_set(i.get("subnetIds")):
            yield d, "`vpcId` / `subnetIds` not set"


@rule("MLS-AWS-061", cloud="aws", resource="aws.sagemaker.NotebookInstance",
      property="kms_key_id; direct_internet_access; subnet_id + security_groups; root_access; IMDS version",
      default="CMK; Disabled; set; Disabled; 2",
      external=("CKV_AWS_22", "CKV_AWS_187", "CKV_AWS_122", "CKV_AWS_306", "CKV_AWS_307", "CKV_AWS_371",
                "SageMaker.1", "SageMaker.2", "SageMaker.3"))
def check_notebook(g: Graph):
    for n in g.of("aws:sagemaker/notebookInstance:NotebookInstance"):
        i = n["inputs"]
        if not is_set(i.get("kmsKeyId")):
            yield n, "`kmsKeyId` not set"
        if i.get("directInternetAccess") != "Disabled":
            yield n, "`directInternetAccess` is not Disabled"
        if not is_set(i.get("subnetId")) or not is_set(i.get("securityGroups")):
            yield n, "`subnetId` / `securityGroups` not set"
        if i.get("rootAccess") != "Disabled":
            yield n, "`rootAccess` is not Disabled"
        if str(dig(i, "instanceMetadataServiceConfiguration", "minimumInstanceMetadataServiceVersion")) != "2":
            yield n, "IMDSv2 is not required"


def _vpc_ok(vpc: Any) -> bool:
    return isinstance(vpc, dict) and is_set(vpc.get("subnets") or vpc.get("Subnets")) and \
        is_set(vpc.get("securityGroupIds") or vpc.get("SecurityGroupIds"))


@rule("MLS-AWS-062", cloud="aws", resource="aws.sagemaker.Model",
      property="enable_network_isolation; vpc_config; primary_container.image",
      default="true (waivable per model); set; private ECR by digest",
      external=("CKV_AWS_370", "SageMaker.5", "sagemaker-model-isolation-enabled", "sagemaker-model-in-vpc"))
def check_model(g: Graph):
    for m in g.of("aws:sagemaker/model:Model"):
        i = m["inputs"]
        if not truthy(i.get("enableNetworkIsolation")):
            yield m, "`enableNetworkIsolation` is not true"
        if not _vpc_ok(i.get("vpcConfig")):
            yield m, "`vpcConfig` (subnets + security groups) not set"
        for c in [i.get("primaryContainer")] + as_list(i.get("containers")):
            if isinstance(c, dict) and c.get("image"):
                why = image_problem(c["image"], "aws")
                if why:
                    yield m, why
    for label, api, p in pipelines.sagemaker_deploy_calls(g):  # models the deploy path creates
        if api != "createModel":
            continue
        if not truthy(p.get("EnableNetworkIsolation")):
            yield label, "CreateModel without EnableNetworkIsolation = true"
        if not _vpc_ok(p.get("VpcConfig")):
            yield label, "CreateModel without VpcConfig (Subnets + SecurityGroupIds)"
        for c in [p.get("PrimaryContainer")] + as_list(p.get("Containers")):
            if isinstance(c, dict) and isinstance(c.get("Image"), str):
                why = image_problem(c["Image"], "aws")
                if why:
                    yield label, why


@rule("MLS-AWS-063", cloud="aws", resource="aws.sagemaker.EndpointConfiguration", property="kms_key_arn",
      default="env CMK", external=("CKV_AWS_98",))
def check_endpoint_config_kms(g: Graph):
    for e in g.of("aws:sagemaker/endpointConfiguration:EndpointConfiguration"):
        variants = as_list(e["inputs"].get("productionVariants"))
        serverless_only = variants and all(isinstance(v, dict) and v.get("serverlessConfig") for v in variants)
        if not is_set(e["inputs"].get("kmsKeyArn")) and not serverless_only:
            yield e, "`kmsKeyArn` not set"
    for label, api, p in _endpoint_configs(g):
        variants = as_list(p.get("ProductionVariants"))
        serverless_only = variants and all(isinstance(v, dict) and v.get("ServerlessConfig") for v in variants)
        if not is_set(p.get("KmsKeyId")) and not serverless_only:
            yield label, "CreateEndpointConfig without KmsKeyId"


def _endpoint_configs(g: Graph) -> list[tuple[str, str, dict]]:
    return [c for c in pipelines.sagemaker_deploy_calls(g) if c[1] == "createEndpointConfig"]


def _monitored_endpoints(g: Graph) -> bool:
    return bool(g.ir.get("monitors")) or bool(g.of("aws:sagemaker/monitoringSchedule:MonitoringSchedule"))


@rule("MLS-AWS-064", cloud="aws", resource="aws.sagemaker.EndpointConfiguration", property="data_capture_config",
      default="enabled when monitoring is requested; kms_key_id = env CMK; destination = baseline bucket",
      external=("MLS only",))
def check_data_capture(g: Graph):
    monitored = _monitored_endpoints(g)
    for e in g.of("aws:sagemaker/endpointConfiguration:EndpointConfiguration"):
        dc = e["inputs"].get("dataCaptureConfig")
        if not isinstance(dc, dict):
            if monitored:
                yield e, "monitoring is requested but data capture is not configured"
            continue
        if monitored and falsy(dc.get("enableCapture")):
            yield e, "data capture is disabled although monitoring is requested"
        if not is_set(dc.get("kmsKeyId")):
            yield e, "captured data not encrypted with the env CMK (`dataCaptureConfig.kmsKeyId`)"
        dest = str(dc.get("destinationS3Uri", ""))
        buckets = {bucket_name(b) for b in g.of(*BUCKETS)}
        if buckets and dest.startswith("s3://") and dest[5:].split("/", 1)[0] not in buckets:
            yield e, f"capture destination `{dest}` is not a bucket of the stack"
    for label, _, p in _endpoint_configs(g):
        dc = p.get("DataCaptureConfig")
        if not isinstance(dc, dict):
            if monitored:
                yield label, "monitoring is requested but CreateEndpointConfig has no DataCaptureConfig"
            continue
        if monitored and falsy(dc.get("EnableCapture")):
            yield label, "data capture is disabled although monitoring is requested"
        if not is_set(dc.get("KmsKeyId")):
            yield label, "captured data not encrypted with the env CMK (`DataCaptureConfig.KmsKeyId`)"


@rule("MLS-AWS-065", cloud="aws", resource="aws.sagemaker.EndpointConfiguration",
      property="production_variants[*].initial_instance_count", default="prod >= 2",
      external=("SageMaker.4", "sagemaker-endpoint-config-prod-instance-count"))
def check_prod_instances(g: Graph):
    if not g.production:
        return
    for e in g.of("aws:sagemaker/endpointConfiguration:EndpointConfiguration"):
        for v in as_list(e["inputs"].get("productionVariants")):
            if isinstance(v, dict) and not v.get("serverlessConfig"):
                n = v.get("initialInstanceCount")
                if not isinstance(n, (int, float)) or n < 2:
                    yield e, f"variant `{v.get('variantName')}` has {n} instance(s); production needs >= 2"
    for label, _, p in _endpoint_configs(g):
        for v in as_list(p.get("ProductionVariants")):
            if isinstance(v, dict) and not v.get("ServerlessConfig"):
                n = v.get("InitialInstanceCount")
                if isinstance(n, (int, float)) and n < 2:
                    yield label, f"variant `{v.get('VariantName')}` has {n} instance(s); production needs >= 2"


@rule("MLS-AWS-066", cloud="aws", resource="aws.sagemaker.DataQualityJobDefinition (and model quality/bias/"
      "explainability job definitions)",
      property="network_config (inter-container encryption, network isolation, vpc_config); output kms_key_id; "
               "cluster volume_kms_key_id",
      default="true; true (not the explainability job: Clarify SHAP queries a shadow endpoint); set; CMK; CMK",
      external=("CKV_AWS_367", "CKV_AWS_368", "CKV_AWS_369", "SageMaker.9", "SageMaker.10", "SageMaker.11",
                "SageMaker.12", "SageMaker.13", "SageMaker.15"))
def check_monitor_job_definitions(g: Graph):
    defs = [(r, r["inputs"]) for r in g.of(*MONITOR_JOBS)]
    for s in g.of("aws:sagemaker/monitoringSchedule:MonitoringSchedule"):
        inline = dig(s["inputs"], "monitoringScheduleConfig", "monitoringJobDefinition")
        if isinstance(inline, dict):
            defs.append((s, inline))
    for r, i in defs:
        nc = i.get("networkConfig") or {}
        if not truthy(nc.get("enableInterContainerTrafficEncryption")):
            yield r, "`networkConfig.enableInterContainerTrafficEncryption` is not true"
        if not truthy(nc.get("enableNetworkIsolation")) and not _shap_monitor(r):
            yield r, "`networkConfig.enableNetworkIsolation` is not true"
        if not _vpc_ok(nc.get("vpcConfig")):
            yield r, "`networkConfig.vpcConfig` not set"
        out = next((v for k, v in i.items() if k.endswith("JobOutputConfig") and isinstance(v, dict)), None) \
            or i.get("monitoringOutputConfig") or {}
        if not is_set(out.get("kmsKeyId")):
            yield r, "monitoring output `kmsKeyId` not set"
        cc = dig(i, "jobResources", "clusterConfig") or dig(i, "monitoringResources", "clusterConfig") or {}
        if not is_set(cc.get("volumeKmsKeyId")):
            yield r, "`clusterConfig.volumeKmsKeyId` not set"


@rule("MLS-AWS-067", cloud="aws", resource="aws.sagemaker.MonitoringSchedule", property="network isolation",
      default="enabled (via the job definition; not for ModelExplainability, whose SHAP queries a shadow endpoint)", external=("SageMaker.14",))
def check_monitoring_schedule(g: Graph):
    defs = {}
    for r in g.of(*MONITOR_JOBS):
        defs[r["inputs"].get("name") or r["inputs"].get("jobDefinitionName") or r["name"]] = r
    for s in g.of("aws:sagemaker/monitoringSchedule:MonitoringSchedule"):
        cfg = s["inputs"].get("monitoringScheduleConfig") or {}
        inline = cfg.get("monitoringJobDefinition")
        if isinstance(inline, dict):
            nc = inline.get("networkConfig") or {}
        else:
            d = defs.get(cfg.get("monitoringJobDefinitionName"))
            if d is None:
                deps = g.deps(s, *MONITOR_JOBS)
                d = deps[0] if deps else None
            if d is None:
                yield s, "the monitoring job definition is not in the stack: network isolation cannot be shown"
                continue
            nc = d["inputs"].get("networkConfig") or {}
        if not truthy(nc.get("enableNetworkIsolation")) and not (
                cfg.get("monitoringType") == "ModelExplainability" and not isinstance(inline, dict)
                and _shap_monitor(d)):
            yield s, "monitoring jobs run without network isolation"


#: the one monitoring job that may not be isolated: Clarify SHAP creates and queries a shadow
#: endpoint of the served model (a container without network cannot call it). It keeps the VPC,
#: inter-container encryption and KMS keys, which the checks above still demand.
SHAP_MONITOR = "aws-native:sagemaker:ModelExplainabilityJobDefinition"


def _shap_monitor(r: dict) -> bool:
    return r.get("type") == SHAP_MONITOR


def _step_label(where: Any, step: dict) -> str:
    base = f"{where['type']}::{where['name']}" if isinstance(where, dict) else str(where)
    return f"{base}#{step.get('Name')}"


@rule("MLS-AWS-068", cloud="aws", resource="aws.sagemaker.Pipeline",
      property="role_arn; pipeline_definition job steps",
      default="orchestrator role; every Training/Processing/Transform/Tuning step: VpcConfig, network isolation "
              "(waivable per step), inter-container encryption, volume + output KMS key, private ECR images, "
              "no plaintext secrets in Environment",
      external=("MLS only",), sees="graph+artifacts")
def check_pipeline_steps(g: Graph):
    ir_steps = g.pipeline_steps_ir()
    for p in g.of(PIPELINE):
        if not is_set(p["inputs"].get("roleArn")):
            yield p, "`roleArn` not set"
    for where, d in pipelines.sagemaker_definitions(g):
        for s in pipelines.sagemaker_steps(d):
            kind = s.get("Type")
            if kind not in pipelines.SAGEMAKER_JOB_STEPS:
                continue
            a = s.get("Arguments") or {}
            lab = _step_label(where, s)
            isolation_waived = _isolation_opted_out(s, ir_steps)
            for problem in _job_step_problems(kind, a, isolation_waived):
                yield lab, problem


def _isolation_opted_out(step: dict, ir_steps: dict) -> bool:
    """The IR step (matched by name, case-insensitively, ignoring -/_) says network_isolation false."""
    norm = re.sub(r"[^a-z0-9]", "", str(step.get("Name", "")).lower())
    for name, s in ir_steps.items():
        if re.sub(r"[^a-z0-9]", "", name.lower()) == norm and s.get("network_isolation") is False:
            return True
    return False


def _hardware_encrypted(instance_type: Any) -> str | None:
    """Instance types with local NVMe storage: encrypted by the instance's hardware module, and
    the API refuses a VolumeKmsKeyId there (mlspec.targets.sagemaker.storage)."""
    from mlspec.targets.sagemaker import storage

    return "hardware" if isinstance(instance_type, str) and storage.has_local_storage(instance_type) else None


def _job_step_problems(kind: str, a: dict, isolation_waived: bool) -> Iterator[str]:
    if kind == "Tuning":
        a = a.get("TrainingJobDefinition") or {}
        kind = "Training"
    if kind == "Training":
        vpc, iso, ice = a.get("VpcConfig"), a.get("EnableNetworkIsolation"), a.get("EnableInterContainerTrafficEncryption")
        vol = dig(a, "ResourceConfig", "VolumeKmsKeyId") or _hardware_encrypted(dig(a, "ResourceConfig", "InstanceType"))
        out = dig(a, "OutputDataConfig", "KmsKeyId")
        image = dig(a, "AlgorithmSpecification", "TrainingImage")
    elif kind == "Processing":
        nc = a.get("NetworkConfig") or {}
        vpc, iso, ice = nc.get("VpcConfig"), nc.get("EnableNetworkIsolation"), nc.get("EnableInterContainerTrafficEncryption")
        vol = dig(a, "ProcessingResources", "ClusterConfig", "VolumeKmsKeyId") or _hardware_encrypted(
            dig(a, "ProcessingResources", "ClusterConfig", "InstanceType"))
        out = dig(a, "ProcessingOutputConfig", "KmsKeyId")
        if not dig(a, "ProcessingOutputConfig", "Outputs"):
            out = out or "n/a"
        image = dig(a, "AppSpecification", "ImageUri")
    else:  # Transform: network settings come from the model
        vpc, iso, ice = "n/a", True, True
        vol = dig(a, "TransformResources", "VolumeKmsKeyId") or _hardware_encrypted(
            dig(a, "TransformResources", "InstanceType"))
        out = dig(a, "TransformOutput", "KmsKeyId")
        image = None
    if vpc != "n/a" and not (isinstance(vpc, dict) and is_set(vpc.get("Subnets")) and is_set(vpc.get("SecurityGroupIds"))):
        yield "no VpcConfig (Subnets + SecurityGroupIds)"
    if not isolation_waived and not truthy(iso) and not isinstance(iso, dict):
        yield "EnableNetworkIsolation is not true"
    if not truthy(ice) and not isinstance(ice, dict):
        yield "EnableInterContainerTrafficEncryption is not true"
    if not is_set(vol):
        yield "no volume KMS key (VolumeKmsKeyId)"
    if not is_set(out):
        yield "no output KMS key (KmsKeyId)"
    if isinstance(image, str):
        if not pipelines.PROFILE.private_registry.match(image):
            yield f"image `{image}` is not from a private ECR registry"
    from mlspec.compiler.plan.graph import SECRETISH_NAME, is_reference, literal_secret

    for k, v in (a.get("Environment") or {}).items():
        if isinstance(v, str) and (literal_secret(v) or (SECRETISH_NAME.search(k) and v and not is_reference(v))):
            yield f"Environment `{k}` holds a plaintext secret"


def _raw_steps(steps: list) -> list[dict]:
    """Every step of a definition (condition branches included), parameters left as written."""
    out: list[dict] = []
    for st in steps:
        if isinstance(st, dict):
            out.append(st)
            args = st.get("Arguments") or {}
            for branch in ("IfSteps", "ElseSteps"):
                out += _raw_steps(args.get(branch) or [])
    return out


@rule("MLS-AWS-069", cloud="aws", resource="aws.sagemaker.ModelPackageGroup + register step", property="approval",
      default="registered as PendingManualApproval; deploy only on approval; no group policy unless cross-account",
      external=("MLS only",), sees="graph+artifacts")
def check_model_registry_approval(g: Graph):
    needs_approval = g.environment.get("approval", "required") == "required"
    for where, d in pipelines.sagemaker_definitions(g):
        raw = {s.get("Name"): s for s in _raw_steps(d.get("Steps") or [])}
        for s in pipelines.sagemaker_steps(d):
            if s.get("Type") != "RegisterModel":
                continue
            # the status as written (a pipeline parameter could be overridden at start time)
            status = ((raw.get(s.get("Name")) or s).get("Arguments") or {}).get("ModelApprovalStatus")
            if needs_approval and status != "PendingManualApproval":
                shown = status if isinstance(status, str) else "a pipeline parameter"
                yield _step_label(where, s), f"registers models as `{shown}`, not the literal PendingManualApproval"
    cross = bool(g.target_settings.get("cross_account") or g.target_settings.get("registry_accounts"))
    for p in g.of("aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy"):
        if not cross:
            yield p, "model package group resource policy without a declared cross-account registry"


@rule("MLS-AWS-070", cloud="aws", resource="aws.sagemaker.FlowDefinition", property="output_config.kms_key_id",
      default="env CMK", external=("CKV_AWS_372",))
def check_flow_definition(g: Graph):
    for f in g.of("aws:sagemaker/flowDefinition:FlowDefinition"):
        if not is_set(dig(f["inputs"], "outputConfig", "kmsKeyId")):
            yield f, "`outputConfig.kmsKeyId` not set"
