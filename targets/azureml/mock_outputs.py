"""Mock outputs of the Azure provider (pulumi-azure-native) for `mlspec plan`.

Part of ``Target.mock_outputs()`` (see :mod:`mlspec.compiler.plan.mocks`, the engine): plausible
computed outputs for ``azure-native:*`` resources and invokes under Pulumi's mock runtime, so that dependent inputs never resolve
to ``None``. Extend the tables one line per type token / invoke token (wire names); values already
present in the inputs are never overwritten. Deterministic (no clocks, no randomness).
Pure Python; imports no Pulumi module.
"""
from __future__ import annotations

from typing import Any

from mlspec.compiler.plan.mocks import Ctx, MockOutputs, guid, lcfirst

AZ_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
AZ_TENANT = "11111111-1111-1111-1111-111111111111"
AZ_LOCATION = "westeurope"


def configure(config: dict[str, str]) -> None:
    """Take location and subscription from the stack config (`azure-native:location`,
    `azure-native:subscriptionId`)."""
    global AZ_LOCATION, AZ_SUBSCRIPTION
    AZ_LOCATION = config.get("azure-native:location") or AZ_LOCATION
    AZ_SUBSCRIPTION = config.get("azure-native:subscriptionId") or AZ_SUBSCRIPTION


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
    seg = lcfirst(ctx.cls)
    seg = seg[:-1] + "ies" if seg.endswith("y") else seg + ("es" if seg.endswith("s") else "s")
    return seg, f"{lcfirst(ctx.cls)}Name"


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




#: exact type token -> extra outputs (wire names); extend freely, one line per type
RESOURCE_OUTPUTS = {
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
}

#: invoke token -> result (wire names); extend freely
CALL_RESULTS = {
    "azure-native:containerregistry:getRegistry": lambda a: {
        "loginServer": f"{str(a.get('registryName')).lower()}.azurecr.io", "name": a.get("registryName")},
    "azure-native:authorization:getClientConfig": lambda a: {
        "clientId": guid("client", "caller"), "objectId": guid("principal", "caller"),
        "subscriptionId": AZ_SUBSCRIPTION, "tenantId": AZ_TENANT},
}

MOCK_OUTPUTS = MockOutputs(
    providers={"azure-native": (_az_id, _az_default)}, resources=RESOURCE_OUTPUTS, calls=CALL_RESULTS,
    configure=configure, python_modules={"azure-native": "pulumi_azure_native"},
)
