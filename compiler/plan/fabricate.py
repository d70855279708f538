"""Plausible cloud outputs for resources and invokes under Pulumi's mock runtime.

Input: a resource's type token, logical name and wire (camelCase) inputs.
Output: ``(id, state)`` where state = inputs plus fabricated computed outputs, so that
dependent inputs (``role.arn``, ``sa.email``, ``ws.identity.principal_id`` ...) never
resolve to ``None``.

Extending: target owners add a line to :data:`RESOURCE_OUTPUTS` (exact type token ->
function ``(ctx) -> dict`` of extra outputs, applied after the provider default) or to
:data:`CALL_RESULTS` (invoke token -> function ``(args) -> dict``). Keys are wire names.
Values already present in the inputs are never overwritten (``setdefault`` semantics).
Everything here is deterministic (no clocks, no randomness) so plan output is stable.

Pure Python; imports no Pulumi module (the mock runner in ``_mockrun`` does).
"""
from __future__ import annotations

import dataclasses
import json
import re
import uuid
from typing import Any, Callable

ACCOUNT = "123456789012"
REGION = "us-east-1"
GCP_PROJECT = "mlspec-mock-project"
GCP_PROJECT_NUMBER = "123456789012"
GCP_REGION = "us-central1"
AZ_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
AZ_TENANT = "11111111-1111-1111-1111-111111111111"
AZ_LOCATION = "westeurope"


def configure(config: dict[str, str]) -> None:
    """Take account/project/region defaults from the stack config (`aws:region`, `gcp:project`,
    `gcp:region`, `azure-native:location`, `azure-native:subscriptionId`) so fabricated ids match
    what the program itself builds from config. Called once per mock-runner process."""
    global REGION, GCP_PROJECT, GCP_REGION, AZ_LOCATION, AZ_SUBSCRIPTION
    REGION = config.get("aws:region") or config.get("aws-native:region") or REGION
    GCP_PROJECT = config.get("gcp:project") or GCP_PROJECT
    GCP_REGION = config.get("gcp:region") or GCP_REGION
    AZ_LOCATION = config.get("azure-native:location") or AZ_LOCATION
    AZ_SUBSCRIPTION = config.get("azure-native:subscriptionId") or AZ_SUBSCRIPTION


@dataclasses.dataclass(frozen=True)
class Ctx:
    """What a fabricator sees: type token, logical name, wire inputs, and the derived id."""

    typ: str
    name: str
    inputs: dict
    id: str

    @property
    def module(self) -> str:
        """`sagemaker` for `aws:sagemaker/endpoint:Endpoint`, `machinelearningservices` for azure-native."""
        return self.typ.split(":")[1].split("/")[0] if self.typ.count(":") >= 2 else ""

    @property
    def cls(self) -> str:
        return self.typ.rsplit(":", 1)[-1]

    def get(self, *keys: str, default: Any = None) -> Any:
        for k in keys:
            v = self.inputs.get(k)
            if isinstance(v, str) and v:
                return v
        return default


def guid(*parts: str) -> str:
    """A stable GUID derived from the parts (principal ids, key ids)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "mlspec-mock/" + "/".join(parts)))


def _kebab(s: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", s).lower()


def _lcfirst(s: str) -> str:
    return s[:1].lower() + s[1:]


# --------------------------------------------------------------------------- aws

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
    kind = _kebab(ctx.cls)
    out = {"name": phys, "arn": f"arn:aws:{svc}:{REGION}:{ACCOUNT}:{kind}/{phys}",
           "tagsAll": ctx.inputs.get("tags") or {}}
    if svc == "iam":
        out["arn"] = f"arn:aws:iam::{ACCOUNT}:{_lcfirst(ctx.cls)}/{phys}"
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
    kind = _lcfirst(ctx.cls)
    phys = ctx.get(f"{kind}Name", "jobDefinitionName", "name", default=ctx.name)
    arn = f"arn:aws:{ctx.module}:{REGION}:{ACCOUNT}:{_kebab(ctx.cls)}/{str(phys).lower()}"
    out: dict[str, Any] = {"arn": arn}
    words = re.findall(r"[A-Z][a-z0-9]*", ctx.cls)
    for i in range(len(words)):  # ModelQualityJobDefinition -> modelQualityJobDefinitionArn ... jobDefinitionArn
        stem = _lcfirst("".join(words[i:]))
        out[f"{stem}Arn"] = arn
        out[f"{stem}Name"] = phys
    return out


def _awsn_id(ctx: Ctx) -> str:
    return str(ctx.get(f"{_lcfirst(ctx.cls)}Name", "jobDefinitionName", "name", default=ctx.name))


# --------------------------------------------------------------------------- gcp

def _gcp_project(ctx: Ctx) -> str:
    return ctx.get("project", default=GCP_PROJECT)


def _gcp_location(ctx: Ctx) -> str:
    return ctx.get("location", "region", default=GCP_REGION)


def _gcp_id(ctx: Ctx) -> str:
    name = ctx.get("name", "accountId", default=ctx.name)
    if ctx.typ == "gcp:kms/keyRing:KeyRing":
        return f"projects/{_gcp_project(ctx)}/locations/{_gcp_location(ctx)}/keyRings/{name}"
    if ctx.typ == "gcp:kms/cryptoKey:CryptoKey" and ctx.get("keyRing"):
        return f"{ctx.get('keyRing')}/cryptoKeys/{name}"
    if ctx.typ == "gcp:serviceaccount/account:Account":
        return f"projects/{_gcp_project(ctx)}/serviceAccounts/{name}@{_gcp_project(ctx)}.iam.gserviceaccount.com"
    plural = _lcfirst(ctx.cls) + "s"
    return f"projects/{_gcp_project(ctx)}/locations/{_gcp_location(ctx)}/{plural}/{name}"


def _gcp_default(ctx: Ctx) -> dict:
    return {"name": ctx.get("name", default=ctx.name), "project": _gcp_project(ctx),
            "selfLink": f"https://www.googleapis.com/{ctx.module}/v1/{ctx.id}",
            "effectiveLabels": ctx.inputs.get("labels") or {}, "etag": "BwYmock="}


def _gcp_sa(ctx: Ctx) -> dict:
    acct = ctx.get("accountId", default=ctx.name)
    email = f"{acct}@{_gcp_project(ctx)}.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}", "uniqueId": guid("sa", acct)[:21],
            "name": f"projects/{_gcp_project(ctx)}/serviceAccounts/{email}", "accountId": acct}


def _gcp_bucket(ctx: Ctx) -> dict:
    n = ctx.get("name", default=ctx.name)
    return {"name": n, "url": f"gs://{n}", "selfLink": f"https://www.googleapis.com/storage/v1/b/{n}"}


def _gcp_keyring(ctx: Ctx) -> dict:
    n = ctx.get("name", default=ctx.name)
    return {"name": n}


def _gcp_cryptokey(ctx: Ctx) -> dict:
    return {"name": ctx.get("name", default=ctx.name)}


def _gcp_ar_repo(ctx: Ctx) -> dict:
    rid = ctx.get("repositoryId", default=ctx.name)
    loc = _gcp_location(ctx)
    return {"name": rid, "repositoryId": rid,
            "registryUri": f"{loc}-docker.pkg.dev/{_gcp_project(ctx)}/{rid}"}


def _gcp_numeric_name(ctx: Ctx) -> dict:
    # Vertex resources are named by server-assigned numeric ids.
    n = ctx.get("name", default=str(int(guid("vertex", ctx.name)[:8], 16)))
    return {"name": n}


def _gcp_pubsub_topic(ctx: Ctx) -> dict:
    n = ctx.get("name", default=ctx.name)
    return {"name": n}


def _gcp_notification_channel(ctx: Ctx) -> dict:
    return {"name": f"projects/{_gcp_project(ctx)}/notificationChannels/{int(guid('nc', ctx.name)[:8], 16)}"}


def _gcp_service_identity(ctx: Ctx) -> dict:
    svc = ctx.get("service", default="aiplatform.googleapis.com").split(".")[0]
    email = f"service-{GCP_PROJECT_NUMBER}@gcp-sa-{svc}.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}"}


def _gcp_project_res(ctx: Ctx) -> dict:
    return {"number": GCP_PROJECT_NUMBER, "projectId": ctx.get("projectId", default=GCP_PROJECT)}


# --------------------------------------------------------------------------- azure-native

#: azure-native module -> ARM resource-provider namespace (the default is Microsoft.<Module>)
AZ_NAMESPACES = {
    "machinelearningservices": "Microsoft.MachineLearningServices",
    "storage": "Microsoft.Storage", "keyvault": "Microsoft.KeyVault",
    "authorization": "Microsoft.Authorization", "managedidentity": "Microsoft.ManagedIdentity",
    "containerregistry": "Microsoft.ContainerRegistry", "network": "Microsoft.Network",
    "applicationinsights": "Microsoft.Insights", "insights": "Microsoft.Insights",
    "monitor": "Microsoft.Insights", "operationalinsights": "Microsoft.OperationalInsights",
    "resources": "Microsoft.Resources", "privatedns": "Microsoft.Network",
    "eventgrid": "Microsoft.EventGrid", "logic": "Microsoft.Logic", "web": "Microsoft.Web",
}

#: class -> (ARM type segment, input holding its own name) where the heuristics miss
AZ_TYPES = {
    "StorageAccount": ("storageAccounts", "accountName"),
    "Vault": ("vaults", "vaultName"),
    "Key": ("keys", "keyName"),
    "Secret": ("secrets", "secretName"),
    "UserAssignedIdentity": ("userAssignedIdentities", "resourceName"),
    "Component": ("components", "resourceName"),
    "Registry": ("registries", "registryName"),
    "OnlineEndpoint": ("onlineEndpoints", "endpointName"),
    "BatchEndpoint": ("batchEndpoints", "endpointName"),
    "OnlineDeployment": ("deployments", "deploymentName"),
    "BatchDeployment": ("deployments", "deploymentName"),
    "Compute": ("computes", "computeName"),
    "Job": ("jobs", "id"),
    "ModelContainer": ("models", "name"),
    "ModelVersion": ("versions", "version"),
    "RoleAssignment": ("roleAssignments", "roleAssignmentName"),
    "RoleDefinition": ("roleDefinitions", "roleDefinitionId"),
    "PrivateEndpoint": ("privateEndpoints", "privateEndpointName"),
    "PrivateZone": ("privateDnsZones", "privateZoneName"),
    "MetricAlert": ("metricAlerts", "ruleName"),
    "ActionGroup": ("actionGroups", "actionGroupName"),
    "ScheduledQueryRule": ("scheduledQueryRules", "ruleName"),
    "DiagnosticSetting": ("diagnosticSettings", "name"),
}

#: parent-name inputs -> ARM parent type segment, outermost first
AZ_PARENTS = [("workspaceName", "workspaces"), ("registryName", "registries"),
              ("vaultName", "vaults"), ("accountName", "storageAccounts"),
              ("endpointName", "onlineEndpoints"), ("name", "models")]


def _az_type_and_key(ctx: Ctx) -> tuple[str, str]:
    if ctx.cls in AZ_TYPES:
        return AZ_TYPES[ctx.cls]
    seg = _lcfirst(ctx.cls)
    seg = seg[:-1] + "ies" if seg.endswith("y") else seg + ("es" if seg.endswith("s") else "s")
    return seg, f"{_lcfirst(ctx.cls)}Name"


def _az_own_name(ctx: Ctx) -> str:
    _, key = _az_type_and_key(ctx)
    own = ctx.inputs.get(key)
    if isinstance(own, (str, int, float)) and own != "":
        return str(own)
    return ctx.name


def az_own_name(typ: str, name: str, inputs: dict) -> str:
    """The ARM name of an azure-native resource (its own name input, else the logical name)."""
    return _az_own_name(Ctx(typ, name, inputs, ""))


def _az_id(ctx: Ctx) -> str:
    name = _az_own_name(ctx)
    if ctx.cls == "ResourceGroup":
        return f"/subscriptions/{AZ_SUBSCRIPTION}/resourceGroups/{ctx.get('resourceGroupName', default=name)}"
    seg, own_key = _az_type_and_key(ctx)
    ns = AZ_NAMESPACES.get(ctx.module, "Microsoft." + ctx.module.capitalize())
    if ctx.cls == "RoleAssignment":
        scope = ctx.get("scope", default=f"/subscriptions/{AZ_SUBSCRIPTION}")
        return f"{scope}/providers/Microsoft.Authorization/roleAssignments/{guid('ra', ctx.name)}"
    if ctx.cls in ("DiagnosticSetting",):
        scope = ctx.get("resourceUri", default=f"/subscriptions/{AZ_SUBSCRIPTION}")
        return f"{scope}/providers/Microsoft.Insights/diagnosticSettings/{name}"
    rg = ctx.get("resourceGroupName", default="rg")
    path = f"/subscriptions/{AZ_SUBSCRIPTION}/resourceGroups/{rg}/providers/{ns}"
    for key, pseg in AZ_PARENTS:
        if key != own_key and isinstance(ctx.inputs.get(key), str) and ctx.inputs[key]:
            if key == "name" and ctx.cls != "ModelVersion":
                continue
            if key == "endpointName" and ctx.cls not in ("OnlineDeployment", "BatchDeployment"):
                continue
            if key == "endpointName" and ctx.cls == "BatchDeployment":
                pseg = "batchEndpoints"
            path += f"/{pseg}/{ctx.inputs[key]}"
    return f"{path}/{seg}/{name}"


def _az_identity(identity: Any, name: str) -> Any:
    if not isinstance(identity, dict):
        return identity
    out = dict(identity)
    typ = str(identity.get("type", ""))
    if "SystemAssigned" in typ:
        out.setdefault("principalId", guid("principal", name))
        out.setdefault("tenantId", AZ_TENANT)
    uai = identity.get("userAssignedIdentities")
    if isinstance(uai, dict):
        out["userAssignedIdentities"] = {
            k: {"principalId": guid("principal", k), "clientId": guid("client", k)} for k in uai}
    elif isinstance(uai, list):  # some API versions take a list of ids
        out["userAssignedIdentities"] = {
            k: {"principalId": guid("principal", k), "clientId": guid("client", k)} for k in uai if isinstance(k, str)}
    return out


def _az_default(ctx: Ctx) -> dict:
    seg, _ = _az_type_and_key(ctx)
    ns = AZ_NAMESPACES.get(ctx.module, "Microsoft." + ctx.module.capitalize())
    out: dict[str, Any] = {"name": _az_own_name(ctx), "type": f"{ns}/{seg}",
                           "azureApiVersion": "2025-01-01"}
    if "identity" in ctx.inputs:
        out["identity"] = _az_identity(ctx.inputs["identity"], ctx.name)
    out.setdefault("location", ctx.inputs.get("location") or AZ_LOCATION)
    return out


def _az_uai(ctx: Ctx) -> dict:
    return {"principalId": guid("principal", ctx.id), "clientId": guid("client", ctx.id), "tenantId": AZ_TENANT}


def _az_vault(ctx: Ctx) -> dict:
    props = dict(ctx.inputs.get("properties") or {})
    props.setdefault("vaultUri", f"https://{_az_own_name(ctx)}.vault.azure.net/")
    return {"properties": props}


def _az_key(ctx: Ctx) -> dict:
    vault = ctx.get("vaultName", default="vault")
    uri = f"https://{vault}.vault.azure.net/keys/{_az_own_name(ctx)}"
    return {"keyUri": uri, "keyUriWithVersion": f"{uri}/0123456789abcdef0123456789abcdef"}


def _az_storage(ctx: Ctx) -> dict:
    n = _az_own_name(ctx)
    return {"primaryEndpoints": {s: f"https://{n}.{s}.core.windows.net/" for s in ("blob", "dfs", "file", "queue", "table", "web")}}


def _az_acr(ctx: Ctx) -> dict:
    return {"loginServer": f"{_az_own_name(ctx).lower()}.azurecr.io"}


def _az_workspace(ctx: Ctx) -> dict:
    return {"workspaceId": guid("ws", ctx.id),
            "discoveryUrl": f"https://{AZ_LOCATION}.api.azureml.ms/discovery",
            "mlFlowTrackingUri": f"azureml://{AZ_LOCATION}.api.azureml.ms/mlflow/v1.0{ctx.id}"}


def _az_app_insights(ctx: Ctx) -> dict:
    key = guid("appi", ctx.id)
    return {"instrumentationKey": key, "appId": guid("appid", ctx.id),
            "connectionString": f"InstrumentationKey={key};IngestionEndpoint=https://{AZ_LOCATION}.in.applicationinsights.azure.com/"}


def _az_log_analytics(ctx: Ctx) -> dict:
    return {"customerId": guid("law", ctx.id)} if ctx.module == "operationalinsights" else {}


def _az_online_endpoint(ctx: Ctx) -> dict:
    props = dict(ctx.inputs.get("properties") or {})
    n = _az_own_name(ctx)
    props.setdefault("scoringUri", f"https://{n}.{AZ_LOCATION}.inference.ml.azure.com/score")
    props.setdefault("swaggerUri", f"https://{n}.{AZ_LOCATION}.inference.ml.azure.com/swagger.json")
    return {"properties": props}


def _az_private_endpoint(ctx: Ctx) -> dict:
    return {"customDnsConfigs": [], "networkInterfaces": [{"id": f"{ctx.id}/nic"}]}


# --------------------------------------------------------------------------- tables

#: provider package -> (id function, default outputs)
PROVIDERS: dict[str, tuple[Callable[[Ctx], str], Callable[[Ctx], dict]]] = {
    "aws": (_aws_id, _aws_default),
    "aws-native": (_awsn_id, _awsn_default),
    "gcp": (_gcp_id, _gcp_default),
    "azure-native": (_az_id, _az_default),
}

#: exact type token -> extra outputs (wire names); extend freely, one line per type
RESOURCE_OUTPUTS: dict[str, Callable[[Ctx], dict]] = {
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
    "gcp:serviceaccount/account:Account": _gcp_sa,
    "gcp:storage/bucket:Bucket": _gcp_bucket,
    "gcp:kms/keyRing:KeyRing": _gcp_keyring,
    "gcp:kms/cryptoKey:CryptoKey": _gcp_cryptokey,
    "gcp:artifactregistry/repository:Repository": _gcp_ar_repo,
    "gcp:vertex/aiEndpoint:AiEndpoint": _gcp_numeric_name,
    "gcp:vertex/aiTensorboard:AiTensorboard": _gcp_numeric_name,
    "gcp:vertex/aiDataset:AiDataset": _gcp_numeric_name,
    "gcp:vertex/aiIndexEndpoint:AiIndexEndpoint": _gcp_numeric_name,
    "gcp:pubsub/topic:Topic": _gcp_pubsub_topic,
    "gcp:monitoring/notificationChannel:NotificationChannel": _gcp_notification_channel,
    "gcp:projects/serviceIdentity:ServiceIdentity": _gcp_service_identity,
    "gcp:organizations/project:Project": _gcp_project_res,
    "azure-native:managedidentity:UserAssignedIdentity": _az_uai,
    "azure-native:keyvault:Vault": _az_vault,
    "azure-native:keyvault:Key": _az_key,
    "azure-native:storage:StorageAccount": _az_storage,
    "azure-native:containerregistry:Registry": _az_acr,
    "azure-native:machinelearningservices:Workspace": _az_workspace,
    "azure-native:applicationinsights:Component": _az_app_insights,
    "azure-native:operationalinsights:Workspace": _az_log_analytics,
    "azure-native:machinelearningservices:OnlineEndpoint": _az_online_endpoint,
    "azure-native:network:PrivateEndpoint": _az_private_endpoint,
    # a StackReference to a stack that does not exist offline: no outputs (get_output -> None)
    "pulumi:pulumi:StackReference": lambda ctx: {"outputs": {}, "secretOutputNames": []},
}


def _digest(*parts: Any) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()


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


#: invoke token -> result (wire names); extend freely
CALL_RESULTS: dict[str, Callable[[dict], dict]] = {
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
        "imageDigest": _digest(a.get("registryId"), a.get("repositoryName"), a.get("imageTag")),
        "imageTag": a.get("imageTag"), "registryId": a.get("registryId") or ACCOUNT,
        "repositoryName": a.get("repositoryName"), "imageTags": [a.get("imageTag")],
        "imageUri": f"{a.get('registryId') or ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{a.get('repositoryName')}"
                    f"@{_digest(a.get('registryId'), a.get('repositoryName'), a.get('imageTag'))}",
        "id": _digest(a.get("registryId"), a.get("repositoryName"), a.get("imageTag"))},
    "gcp:artifactregistry/getDockerImage:getDockerImage": lambda a: {
        "name": f"projects/{a.get('project') or GCP_PROJECT}/locations/{a.get('location')}/repositories/"
                f"{a.get('repositoryId')}/dockerImages/{a.get('imageName')}",
        "selfLink": f"{a.get('location')}-docker.pkg.dev/{a.get('project') or GCP_PROJECT}/{a.get('repositoryId')}/"
                    f"{str(a.get('imageName')).split(':')[0].split('@')[0]}"
                    f"@{_digest(a.get('location'), a.get('repositoryId'), a.get('imageName'))}",
        "tags": [str(a.get("imageName")).split(":")[-1]], "id": "mock"},
    "azure-native:containerregistry:getRegistry": lambda a: {
        "loginServer": f"{str(a.get('registryName')).lower()}.azurecr.io", "name": a.get("registryName")},
    "gcp:organizations/getProject:getProject": lambda a: {
        "projectId": a.get("projectId") or GCP_PROJECT, "number": GCP_PROJECT_NUMBER,
        "name": a.get("projectId") or GCP_PROJECT, "id": f"projects/{a.get('projectId') or GCP_PROJECT}"},
    "gcp:organizations/getClientConfig:getClientConfig": lambda a: {
        "project": GCP_PROJECT, "region": GCP_REGION, "zone": f"{GCP_REGION}-a", "accessToken": "mock-token",
        "id": "mock"},
    "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": lambda a: {
        "emailAddress": f"service-{GCP_PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com",
        "member": f"serviceAccount:service-{GCP_PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com",
        "project": GCP_PROJECT, "id": "mock"},
    "azure-native:authorization:getClientConfig": lambda a: {
        "clientId": guid("client", "caller"), "objectId": guid("principal", "caller"),
        "subscriptionId": AZ_SUBSCRIPTION, "tenantId": AZ_TENANT},
}


def fabricate_resource(typ: str, name: str, inputs: dict, overrides: dict | None = None) -> tuple[str, dict]:
    """Return (id, state) for a mocked resource. ``overrides``: {type token: {wire key: template}},
    templates formatted with ``{name}`` and ``{id}`` (JSON-able extension passed by callers)."""
    pkg = typ.split(":")[0]
    state = dict(inputs)
    id_fn, default_fn = PROVIDERS.get(pkg, (None, None))
    if id_fn is None:
        rid = f"{name}-id"
        ctx = Ctx(typ, name, inputs, rid)
        extra: dict = {}
    else:
        rid = id_fn(Ctx(typ, name, inputs, ""))
        ctx = Ctx(typ, name, inputs, rid)
        extra = default_fn(ctx)
    fn = RESOURCE_OUTPUTS.get(typ)
    if fn is not None:
        extra.update(fn(ctx))
    for k, v in ((overrides or {}).get(typ) or {}).items():
        extra[k] = v.format(name=name, id=rid) if isinstance(v, str) else v
    for k, v in extra.items():
        if k == "identity" or k == "properties":
            state[k] = v  # merged copies of the inputs with outputs added
        elif state.get(k) in (None, ""):
            state[k] = v
    return rid, state


def fabricate_call(token: str, args: dict, overrides: dict | None = None) -> dict:
    """Result of a mocked invoke; unknown tokens get ``{}`` (their outputs resolve to None)."""
    if overrides and token in overrides:
        return dict(overrides[token])
    fn = CALL_RESULTS.get(token)
    return fn(args) if fn else {}
