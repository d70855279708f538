"""Azure baseline rules MLS-AZ-* (SECURITY.md section 4) over pulumi-azure-native wire inputs
(ARM camelCase names) and the Azure ML job YAML of the build. Never imports a cloud SDK.
"""
from __future__ import annotations

import re
from typing import Any

from mlspec.compiler.plan.graph import (SECRETISH_NAME, Graph, as_list, dig, falsy, is_reference, is_set,
                                        literal_secret, rule, truthy)
from mlspec.targets.azureml import artifacts as pipelines
from mlspec.targets.azureml import mock_outputs as fabricate
from mlspec.targets.azureml.baseline import high_business_impact

ML = "azure-native:machinelearningservices:"
WORKSPACE = ML + "Workspace"
VAULT = "azure-native:keyvault:Vault"
STORAGE = "azure-native:storage:StorageAccount"
ACR = "azure-native:containerregistry:Registry"
PE = "azure-native:network:PrivateEndpoint"
RA = "azure-native:authorization:RoleAssignment"
UAI = "azure-native:managedidentity:UserAssignedIdentity"

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
USER_ACCESS_ADMIN = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
RBAC_ADMIN = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
AML_DATA_SCIENTIST = "f6c7c914-8db3-469d-8ca1-694a8f32e121"
AML_COMPUTE_OPERATOR = "e503ece1-11d0-4e8e-8e2c-7a6c3bf38815"
FORBIDDEN_ROLES = {OWNER: "Owner", CONTRIBUTOR: "Contributor", USER_ACCESS_ADMIN: "User Access Administrator",
                   RBAC_ADMIN: "Role Based Access Control Administrator"}


def _eq(v: Any, want: str) -> bool:
    return isinstance(v, str) and v.lower() == want.lower()


def private_endpoint_groups(g: Graph, target: dict) -> set[str]:
    """groupIds of private endpoints connected to ``target`` (by service id or dependency)."""
    out: set[str] = set()
    for pe in g.of(PE):
        for c in as_list(pe["inputs"].get("privateLinkServiceConnections")) + \
                as_list(pe["inputs"].get("manualPrivateLinkServiceConnections")):
            if not isinstance(c, dict):
                continue
            sid = str(c.get("privateLinkServiceId", ""))
            if target["name"] in (pe.get("depends_on") or []) and (
                    sid.endswith("/" + str(_own_name(target))) or "[unknown]" in sid or not sid):
                out.update(str(x).lower() for x in as_list(c.get("groupIds")))
            elif sid and sid.endswith("/" + str(_own_name(target))):
                out.update(str(x).lower() for x in as_list(c.get("groupIds")))
    return out


def _own_name(r: dict) -> str:
    return fabricate.az_own_name(r["type"], r["name"], r["inputs"])


def _uai_only(identity: Any) -> bool:
    return isinstance(identity, dict) and _eq(identity.get("type"), "UserAssigned") and \
        is_set(identity.get("userAssignedIdentities"))


# ----------------------------------------------------------------------------- Key Vault


@rule("MLS-AZ-001", cloud="azure", resource="Microsoft.KeyVault/vaults",
      property="enablePurgeProtection; soft delete; publicNetworkAccess; networkAcls.defaultAction; RBAC; "
               "private endpoint", default="true; on; Disabled; Deny; on; yes",
      external=("CKV_AZURE_42", "CKV_AZURE_110", "CKV_AZURE_189", "CKV_AZURE_109", "CKV2_AZURE_32",
                "AZU-0016", "AZU-0013"))
def check_vault(g: Graph):
    for v in g.of(VAULT):
        p = v["inputs"].get("properties") or {}
        if not truthy(p.get("enablePurgeProtection")):
            yield v, "`enablePurgeProtection` is not true"
        if falsy(p.get("enableSoftDelete")):
            yield v, "soft delete is off"
        if not _eq(p.get("publicNetworkAccess"), "Disabled"):
            yield v, "`publicNetworkAccess` is not Disabled"
        if not _eq(dig(p, "networkAcls", "defaultAction"), "Deny"):
            yield v, "`networkAcls.defaultAction` is not Deny"
        if not truthy(p.get("enableRbacAuthorization")):
            yield v, "RBAC authorization is off"
        if "vault" not in private_endpoint_groups(g, v):
            yield v, "no private endpoint (group `vault`)"


@rule("MLS-AZ-002", cloud="azure", resource="Microsoft.KeyVault/vaults/keys", property="key type; expiry/rotation",
      default="RSA-HSM where the SKU allows; expiry + rotation policy set",
      external=("CKV_AZURE_112", "CKV_AZURE_40", "AZU-0014"))
def check_vault_key(g: Graph):
    premium = {_own_name(v) for v in g.of(VAULT) if _eq(dig(v["inputs"], "properties", "sku", "name"), "premium")}
    for k in g.of("azure-native:keyvault:Key"):
        p = k["inputs"].get("properties") or {}
        if k["inputs"].get("vaultName") in premium and p.get("kty") != "RSA-HSM":
            yield k, f"key type `{p.get('kty')}` in a premium vault; use RSA-HSM"
        if not is_set(p.get("rotationPolicy")):
            yield k, "no rotation policy"
        elif not any(isinstance(a, dict) and _eq(dig(a, "action", "type"), "rotate")
                     for a in as_list(dig(p, "rotationPolicy", "lifetimeActions"))):
            yield k, "rotation policy has no rotate action"
        if not is_set(dig(p, "attributes", "expires")) and not is_set(dig(p, "rotationPolicy", "attributes",
                                                                           "expiryTime")):
            yield k, "no expiry"


# ----------------------------------------------------------------------------- Storage


@rule("MLS-AZ-010", cloud="azure", resource="Microsoft.Storage/storageAccounts",
      property="https only; min TLS; publicNetworkAccess; networkRuleSet.defaultAction; allowBlobPublicAccess; "
               "allowSharedKeyAccess; CMK; private endpoints (blob, file, dfs); blob soft delete; infrastructure "
               "encryption",
      default="true; TLS1_2; Disabled; Deny; false; false; env CMK; yes; on; on",
      external=("CKV_AZURE_3", "CKV_AZURE_44", "CKV_AZURE_59", "CKV_AZURE_35", "CKV_AZURE_36", "CKV_AZURE_190",
                "CKV2_AZURE_40", "CKV2_AZURE_47", "CKV2_AZURE_1", "CKV2_AZURE_33", "CKV2_AZURE_38", "AZU-0008",
                "AZU-0011", "AZU-0012", "AZU-0010", "AZU-0007", "AZU-0060", "AZU-0061", "AZU-0056"))
def check_storage(g: Graph):
    blob_services = g.of("azure-native:storage:BlobServiceProperties")
    for s in g.of(STORAGE):
        i = s["inputs"]
        if i.get("enableHttpsTrafficOnly") is not True:
            yield s, "`enableHttpsTrafficOnly` is not true"
        if i.get("minimumTlsVersion") != "TLS1_2":
            yield s, "`minimumTlsVersion` is not TLS1_2"
        if not _eq(i.get("publicNetworkAccess"), "Disabled"):
            yield s, "`publicNetworkAccess` is not Disabled"
        if not _eq(dig(i, "networkRuleSet", "defaultAction"), "Deny"):
            yield s, "`networkRuleSet.defaultAction` is not Deny"
        if i.get("allowBlobPublicAccess") is not False:
            yield s, "`allowBlobPublicAccess` is not false"
        if i.get("allowSharedKeyAccess") is not False:
            yield s, "`allowSharedKeyAccess` is not false"
        enc = i.get("encryption") or {}
        if not _eq(enc.get("keySource"), "Microsoft.Keyvault") or not is_set(enc.get("keyVaultProperties")):
            yield s, "not encrypted with the env CMK (`encryption.keySource` Microsoft.Keyvault + keyVaultProperties)"
        if enc.get("requireInfrastructureEncryption") is not True:
            yield s, "infrastructure encryption is off"
        groups = private_endpoint_groups(g, s)
        missing = [x for x in ("blob", "file", "dfs") if x not in groups]
        if missing:
            yield s, f"no private endpoint for {', '.join(missing)}"
        mine = [b for b in blob_services if b["inputs"].get("accountName") == _own_name(s) or
                s["name"] in (b.get("depends_on") or [])]
        if not any(truthy(dig(b["inputs"], "deleteRetentionPolicy", "enabled")) for b in mine):
            yield s, "blob soft delete is off"


@rule("MLS-AZ-011", cloud="azure", resource="Microsoft.Storage/storageAccounts", property="SAS expiration policy; "
      "local users", default="set; disabled", external=("CKV2_AZURE_41", "CKV_AZURE_244"))
def check_storage_sas(g: Graph):
    for s in g.of(STORAGE):
        if not is_set(dig(s["inputs"], "sasPolicy", "sasExpirationPeriod")):
            yield s, "no SAS expiration policy"
        if s["inputs"].get("isLocalUserEnabled") is not False:
            yield s, "local users are not disabled"


# ----------------------------------------------------------------------------- registry, observability


@rule("MLS-AZ-020", cloud="azure", resource="Microsoft.ContainerRegistry/registries",
      property="adminUserEnabled; anonymous pull; publicNetworkAccess; SKU; CMK; retention; data endpoints; "
               "created by mlspec", default="false; off; Disabled; Premium; env CMK; on; on; never auto-created",
      external=("CKV_AZURE_137", "CKV_AZURE_138", "CKV_AZURE_139", "CKV_AZURE_167", "CKV_AZURE_237"))
def check_acr(g: Graph):
    for r in g.of(ACR):
        i = r["inputs"]
        if i.get("adminUserEnabled") is not False:
            yield r, "`adminUserEnabled` is not false"
        if truthy(i.get("anonymousPullEnabled")):
            yield r, "anonymous pull is on"
        if not _eq(i.get("publicNetworkAccess"), "Disabled"):
            yield r, "`publicNetworkAccess` is not Disabled"
        if not _eq(dig(i, "sku", "name"), "Premium"):
            yield r, "SKU is not Premium (needed for private link and CMK)"
        if not _eq(dig(i, "encryption", "status"), "enabled") or not is_set(dig(i, "encryption", "keyVaultProperties")):
            yield r, "not encrypted with the env CMK"
        if not _eq(dig(i, "policies", "retentionPolicy", "status"), "enabled"):
            yield r, "retention policy is off"
        if not truthy(i.get("dataEndpointEnabled")):
            yield r, "dedicated data endpoints are off"
    for w in g.of(WORKSPACE):
        if not is_set(w["inputs"].get("containerRegistry")):
            yield w, "no `containerRegistry`: Azure ML would auto-create one outside the baseline"


@rule("MLS-AZ-030", cloud="azure", resource="Application Insights / Log Analytics",
      property="publicNetworkAccessForIngestion/Query; local auth", default="Disabled; off", external=("MLS only",))
def check_observability(g: Graph):
    for r in g.of("azure-native:applicationinsights:Component", "azure-native:operationalinsights:Workspace"):
        i = r["inputs"]
        for k in ("publicNetworkAccessForIngestion", "publicNetworkAccessForQuery"):
            if not _eq(i.get(k), "Disabled"):
                yield r, f"`{k}` is not Disabled"
        local_off = i.get("disableLocalAuth") if r["type"].endswith("Component") else dig(i, "features",
                                                                                            "disableLocalAuth")
        if local_off is not True:
            yield r, "local (key) authentication is not disabled"


# ----------------------------------------------------------------------------- identities and roles

COMPONENTS = (WORKSPACE, ML + "Compute", ML + "OnlineEndpoint", ML + "BatchEndpoint")


def _role_guid(ra: dict) -> str:
    return str(ra["inputs"].get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower()


@rule("MLS-AZ-040", cloud="azure", resource="Microsoft.ManagedIdentity/userAssignedIdentities",
      property="per component (workspace, compute, endpoint); role assignment scope",
      default="created by mlspec; role assignments scoped to the single target resource",
      external=("AZR-000407", "Azure Policy 5f0c7d88"))
def check_identities(g: Graph):
    uai_ids = {f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{_own_name(u)}" for u in g.of(UAI)}
    for r in g.of(*COMPONENTS):
        ident = r["inputs"].get("identity")
        if not _uai_only(ident):
            yield r, "does not use a user-assigned identity"
            continue
        for k in (ident.get("userAssignedIdentities") or {}):
            if not any(str(k).endswith(x) for x in uai_ids) and "[unknown]" not in str(k):
                yield r, f"user-assigned identity `{k}` is not created by the stack"
    for ra in g.of(RA):
        scope = str(ra["inputs"].get("scope", ""))
        if "/providers/" not in scope or re.fullmatch(r"/subscriptions/[^/]+(/resourceGroups/[^/]+)?/?", scope):
            yield ra, f"role assignment at subscription / resource-group scope `{scope}`"


@rule("MLS-AZ-041", cloud="azure", resource="Microsoft.Authorization/roleAssignments for humans / CI",
      property="role", default="AzureML Data Scientist at workspace scope (Compute Operator if declared); never "
      "Owner / Contributor / User Access Administrator; no custom owner roles", external=("CKV_AZURE_39",))
def check_role_assignments(g: Graph):
    for ra in g.of(RA):
        guid = _role_guid(ra)
        if guid in FORBIDDEN_ROLES:
            yield ra, f"assigns `{FORBIDDEN_ROLES[guid]}`"
        if ra["inputs"].get("principalType") in ("User", "Group") and guid not in (AML_DATA_SCIENTIST,
                                                                                   AML_COMPUTE_OPERATOR):
            yield ra, "humans / CI get a role other than AzureML Data Scientist / Compute Operator"
    for rd in g.of("azure-native:authorization:RoleDefinition"):
        for p in as_list(rd["inputs"].get("permissions")):
            if isinstance(p, dict) and "*" in as_list(p.get("actions")):
                yield rd, "custom role with `*` actions (an owner role)"


# ----------------------------------------------------------------------------- workspace


@rule("MLS-AZ-050", cloud="azure", resource="Microsoft.MachineLearningServices/workspaces",
      property="publicNetworkAccess; allowPublicAccessWhenBehindVnet", default="Disabled; false",
      external=("CKV_AZURE_144", "CKV2_AZURE_49", "Azure Policy 438c38d2", "AZR-000406"))
def check_workspace_public(g: Graph):
    for w in g.of(WORKSPACE):
        if not _eq(w["inputs"].get("publicNetworkAccess"), "Disabled"):
            yield w, "`publicNetworkAccess` is not Disabled"
        if w["inputs"].get("allowPublicAccessWhenBehindVnet") is not False:
            yield w, "`allowPublicAccessWhenBehindVnet` is not false"


@rule("MLS-AZ-051", cloud="azure", resource="Microsoft.MachineLearningServices/workspaces",
      property="managedNetwork.isolationMode; managedNetwork.outboundRules",
      default="AllowOnlyApprovedOutbound; private-endpoint rules to the stack's storage, vault, registry "
              "(+ FQDN rules only if declared, and the image-build sources conda.anaconda.org, pypi.org, "
              "files.pythonhosted.org)", external=("CKV_AZURE_243", "Azure Policy 6ddb1705"))
def check_managed_network(g: Graph):
    from mlspec.targets.azureml.jobs import IMAGE_BUILD_FQDNS  # documented image-build egress (no SDK)

    declared = [str(x).lower() for x in as_list(g.security.get("allowed_egress"))] + list(IMAGE_BUILD_FQDNS)
    for w in g.of(WORKSPACE):
        mn = w["inputs"].get("managedNetwork") or {}
        if mn.get("isolationMode") != "AllowOnlyApprovedOutbound":
            yield w, "`managedNetwork.isolationMode` is not AllowOnlyApprovedOutbound"
        rules = mn.get("outboundRules") or {}
        rule_list = list(rules.values()) if isinstance(rules, dict) else as_list(rules)
        for r in g.of(ML + "ManagedNetworkSettingsRule", ML + "OutboundRule"):
            rule_list.append(r["inputs"].get("properties") or {})
        pe_targets = " ".join(str(dig(r, "destination", "serviceResourceId") or "") for r in rule_list
                              if isinstance(r, dict) and r.get("type") == "PrivateEndpoint")
        for t, what in ((STORAGE, "storage"), (VAULT, "key vault"), (ACR, "container registry")):
            for x in g.of(t):
                if ("/" + _own_name(x)) not in pe_targets and "[unknown]" not in pe_targets:
                    yield w, f"no private-endpoint outbound rule to the {what} `{_own_name(x)}`"
        for r in rule_list:
            if isinstance(r, dict) and r.get("type") == "FQDN":
                dest = str(r.get("destination", "")).lower()
                if dest not in declared:
                    yield w, f"FQDN outbound rule `{dest}` is not declared in the spec's allowed_egress"


@rule("MLS-AZ-052", cloud="azure", resource="Microsoft.MachineLearningServices/workspaces",
      property="encryption.status + encryption.keyVaultProperties", default="Enabled with env CMK",
      external=("Azure Policy 7f40cee6",))
def check_workspace_cmk(g: Graph):
    for w in g.of(WORKSPACE):
        enc = w["inputs"].get("encryption") or {}
        if not _eq(enc.get("status"), "Enabled"):
            yield w, "`encryption.status` is not Enabled"
        kv = enc.get("keyVaultProperties") or {}
        if not is_set(kv.get("keyIdentifier")) or not is_set(kv.get("keyVaultArmId")):
            yield w, "`encryption.keyVaultProperties` (keyIdentifier, keyVaultArmId) not set"


@rule("MLS-AZ-053", cloud="azure", resource="Microsoft.MachineLearningServices/workspaces",
      property="identity + primaryUserAssignedIdentity", default="UserAssigned",
      external=("Azure Policy 5f0c7d88", "AZR-000407"))
def check_workspace_identity(g: Graph):
    for w in g.of(WORKSPACE):
        if not _uai_only(w["inputs"].get("identity")):
            yield w, "workspace identity is not UserAssigned"
        if not is_set(w["inputs"].get("primaryUserAssignedIdentity")):
            yield w, "`primaryUserAssignedIdentity` not set"


@rule("MLS-AZ-054", cloud="azure", resource="Microsoft.MachineLearningServices/workspaces", property="hbiWorkspace",
      default="true unless data classification is public or internal", external=("CKV2_AZURE_50",))
def check_hbi(g: Graph):
    if not high_business_impact(g.security.get("data_classification")):
        return
    for w in g.of(WORKSPACE):
        if w["inputs"].get("hbiWorkspace") is not True:
            yield w, "`hbiWorkspace` is not true"


@rule("MLS-AZ-055", cloud="azure", resource="Microsoft.MachineLearningServices/workspaces",
      property="systemDatastoresAuthMode", default="identity", external=("MLS only",))
def check_datastore_auth(g: Graph):
    for w in g.of(WORKSPACE):
        if not _eq(w["inputs"].get("systemDatastoresAuthMode"), "identity"):
            yield w, "`systemDatastoresAuthMode` is not identity"


@rule("MLS-AZ-056", cloud="azure", resource="Microsoft.MachineLearningServices/workspaces", property="v1LegacyMode",
      default="false (documented deviation from Azure Policy e413671a)", external=("Azure Policy e413671a",),
      severity="low")
def check_v1_legacy(g: Graph):
    for w in g.of(WORKSPACE):
        if w["inputs"].get("v1LegacyMode") is not False:
            yield w, "`v1LegacyMode` is not explicitly false"


@rule("MLS-AZ-057", cloud="azure", resource="Microsoft.MachineLearningServices/workspaces",
      property="private endpoint + private DNS zones", default="created", external=("Azure Policy 40cec1dd",))
def check_workspace_private_endpoint(g: Graph):
    zones = {str(z["inputs"].get("privateZoneName", "")).lower() for z in g.of("azure-native:privatedns:PrivateZone",
                                                                                "azure-native:network:PrivateZone")}
    for w in g.of(WORKSPACE):
        if "amlworkspace" not in private_endpoint_groups(g, w):
            yield w, "no private endpoint (group `amlworkspace`)"
        for z in ("privatelink.api.azureml.ms", "privatelink.notebooks.azure.net"):
            if z not in zones:
                yield w, f"no private DNS zone `{z}`"


@rule("MLS-AZ-058", cloud="azure", resource="Microsoft.MachineLearningServices/workspaces",
      property="diagnostic settings", default="to Log Analytics", external=("Azure Policy AuditDiagnosticLog",),
      severity="low")
def check_workspace_diagnostics(g: Graph):
    settings = g.of("azure-native:monitor:DiagnosticSetting", "azure-native:insights:DiagnosticSetting")
    for w in g.of(WORKSPACE):
        mine = [d for d in settings if w["name"] in (d.get("depends_on") or [])
                or str(d["inputs"].get("resourceUri", "")).endswith("/workspaces/" + _own_name(w))]
        if not any(is_set(d["inputs"].get("workspaceId")) for d in mine):
            yield w, "no diagnostic setting sending logs to Log Analytics"


SUBNET = "azure-native:network:Subnet"
NSG = "azure-native:network:NetworkSecurityGroup"
_ANY_SOURCE = ("internet", "*", "0.0.0.0/0", "any")


@rule("MLS-AZ-059", cloud="azure", resource="Microsoft.Network subnets, NSGs, private DNS zone links",
      property="path of callers outside the private network (CI runner, jump host)",
      default="`runners` subnet with an NSG denying inbound from the Internet; every private DNS zone linked to "
              "the VNet", external=("CKV_AZURE_160", "Azure Policy e71308d3"))
def check_runner_path(g: Graph):
    private = [w for w in g.of(WORKSPACE) if _eq(w["inputs"].get("publicNetworkAccess"), "Disabled")]
    if not private:
        return
    runners = [s for s in g.of(SUBNET) if s["inputs"].get("subnetName") == "runners"]
    if not runners:
        yield private[0], "no `runners` subnet: CI runners and `mlspec apply` cannot reach the private workspace"
    for s in runners:
        if not is_set(dig(s["inputs"], "networkSecurityGroup", "id")):
            yield s, "the runners subnet has no network security group"
    for n in g.of(NSG):
        rules = as_list(n["inputs"].get("securityRules"))
        for r in rules:
            if isinstance(r, dict) and _eq(r.get("direction"), "Inbound") and _eq(r.get("access"), "Allow") and \
                    str(r.get("sourceAddressPrefix", "")).lower() in _ANY_SOURCE:
                yield n, f"security rule `{r.get('name')}` allows inbound traffic from the Internet"
        if not any(isinstance(r, dict) and _eq(r.get("direction"), "Inbound") and _eq(r.get("access"), "Deny")
                   and str(r.get("sourceAddressPrefix", "")).lower() in _ANY_SOURCE for r in rules):
            yield n, "no rule denying inbound traffic from the Internet"
    links = {str(lk["inputs"].get("privateZoneName", "")).lower()
             for lk in g.of("azure-native:privatedns:VirtualNetworkLink")}
    for z in g.of("azure-native:privatedns:PrivateZone"):
        name = str(z["inputs"].get("privateZoneName", "")).lower()
        if name not in links:
            yield z, f"private DNS zone `{name}` is linked to no virtual network: callers resolve public addresses"


# ----------------------------------------------------------------------------- compute, endpoints


def _compute_kind(c: dict) -> str:
    return str(dig(c["inputs"], "properties", "computeType", default=""))


def _managed_network_ws(g: Graph) -> bool:
    return any(dig(w["inputs"], "managedNetwork", "isolationMode") in ("AllowOnlyApprovedOutbound",
                                                                        "AllowInternetOutbound")
               for w in g.of(WORKSPACE))


@rule("MLS-AZ-060", cloud="azure", resource=".../workspaces/computes (AmlCompute)",
      property="disableLocalAuth; scaleSettings.minNodeCount; subnet / managed network; node public IP; identity",
      default="true; 0; set; off; UserAssigned",
      external=("CKV_AZURE_142", "CKV_AZURE_150", "Azure Policy e96a9a5f", "Azure Policy 7804b5c7", "AZR-000404",
                "AZR-000405"))
def check_aml_compute(g: Graph):
    managed = _managed_network_ws(g)
    for c in g.of(ML + "Compute"):
        if _compute_kind(c) != "AmlCompute":
            continue
        p = c["inputs"].get("properties") or {}
        pp = p.get("properties") or {}
        if p.get("disableLocalAuth") is not True:
            yield c, "`disableLocalAuth` is not true"
        mn = dig(pp, "scaleSettings", "minNodeCount")
        if mn not in (0, None) or dig(pp, "scaleSettings") is None:
            yield c, f"`scaleSettings.minNodeCount` is {mn}; expected 0"
        if not is_set(pp.get("subnet")) and not managed:
            yield c, "neither a subnet nor the workspace managed network"
        if pp.get("enableNodePublicIp") is not False:
            yield c, "`enableNodePublicIp` is not false"
        if not _uai_only(c["inputs"].get("identity")):
            yield c, "compute identity is not UserAssigned"


@rule("MLS-AZ-061", cloud="azure", resource="ComputeInstance", property="as MLS-AZ-060 + idleTimeBeforeShutdown; SSH",
      default="set; disabled", external=("AZR-000403",))
def check_compute_instance(g: Graph):
    managed = _managed_network_ws(g)
    for c in g.of(ML + "Compute"):
        if _compute_kind(c) != "ComputeInstance":
            continue
        p = c["inputs"].get("properties") or {}
        pp = p.get("properties") or {}
        if p.get("disableLocalAuth") is not True:
            yield c, "`disableLocalAuth` is not true"
        if not is_set(pp.get("subnet")) and not managed:
            yield c, "neither a subnet nor the workspace managed network"
        if pp.get("enableNodePublicIp") is not False:
            yield c, "`enableNodePublicIp` is not false"
        if not is_set(pp.get("idleTimeBeforeShutdown")):
            yield c, "`idleTimeBeforeShutdown` not set"
        if not _eq(dig(pp, "sshSettings", "sshPublicAccess"), "Disabled"):
            yield c, "SSH public access is not Disabled"
        if not _uai_only(c["inputs"].get("identity")):
            yield c, "compute identity is not UserAssigned"


@rule("MLS-AZ-070", cloud="azure", resource=".../onlineEndpoints", property="authMode; publicNetworkAccess; identity",
      default="AADToken; Disabled; UserAssigned", external=("MLS only",))
def check_online_endpoint(g: Graph):
    for e in g.of(ML + "OnlineEndpoint"):
        p = e["inputs"].get("properties") or {}
        if p.get("authMode") != "AADToken":
            yield e, f"`authMode` is {p.get('authMode')!r}, not AADToken"
        if not _eq(p.get("publicNetworkAccess"), "Disabled"):
            yield e, "`publicNetworkAccess` is not Disabled"
        if not _uai_only(e["inputs"].get("identity")):
            yield e, "endpoint identity is not UserAssigned"


@rule("MLS-AZ-071", cloud="azure", resource=".../onlineEndpoints/deployments", property="egress; data collection",
      default="via the workspace managed network; collected data to CMK storage", external=("MLS only",))
def check_online_deployment(g: Graph):
    for d in g.of(ML + "OnlineDeployment"):
        p = d["inputs"].get("properties") or {}
        if not _eq(p.get("egressPublicNetworkAccess"), "Disabled"):
            yield d, "`egressPublicNetworkAccess` is not Disabled"
        for name, c in ((dig(p, "dataCollector", "collections") or {}).items()):
            if isinstance(c, dict) and _eq(c.get("dataCollectionMode"), "Enabled") and \
                    str(c.get("dataId", "")).startswith(("https://", "wasbs://")):
                yield d, f"collection `{name}` writes to a raw storage URL instead of a CMK datastore"


def _job_problems(job: dict, computes: set[str]) -> list[str]:
    out = []
    compute = job.get("compute") or job.get("computeId")
    t = job.get("type") or job.get("jobType")
    if t not in ("pipeline", "Pipeline"):
        if not is_set(compute):
            out.append("no compute: the job would run on serverless compute outside the private cluster")
        elif computes and not any(str(compute).rstrip("/").endswith(c) for c in computes) and \
                "${{" not in str(compute):
            out.append(f"compute `{compute}` is not a cluster of the stack")
    ident = job.get("identity")
    itype = (ident or {}).get("type") or (ident or {}).get("identityType") if isinstance(ident, dict) else None
    if t not in ("pipeline", "Pipeline") and str(itype or "").lower() not in ("managed", "managed_identity",
                                                                              "user_identity", "useridentity"):
        out.append(f"identity is {itype or 'not set (AML token)'}; use the managed identity")
    env = job.get("environment_variables") or job.get("environmentVariables") or {}
    for k, v in (env.items() if isinstance(env, dict) else []):
        if isinstance(v, str) and (literal_secret(v) or (SECRETISH_NAME.search(k) and v and not is_reference(v))):
            out.append(f"environment variable `{k}` holds a plaintext secret")
    for name, inp in ((job.get("inputs") or {}).items() if isinstance(job.get("inputs"), dict) else []):
        path = inp.get("path") if isinstance(inp, dict) else inp
        if isinstance(path, str) and re.match(r"^(https://|wasbs?://|abfss?://)", path) and "sig=" in path:
            out.append(f"input `{name}` uses a SAS URL instead of an identity-based datastore")
    return out


@rule("MLS-AZ-080", cloud="azure", resource="generated job / pipeline YAML or SDK code",
      property="compute; identity; datastores; env vars",
      default="private cluster (MLS-AZ-060); managed/user identity; identity-based datastores; no secrets in "
              "environment_variables", external=("MLS only",), sees="graph+artifacts")
def check_jobs(g: Graph):
    computes = {"/computes/" + _own_name(c) for c in g.of(ML + "Compute")} | \
               {"azureml:" + _own_name(c) for c in g.of(ML + "Compute")} | \
               {_own_name(c) for c in g.of(ML + "Compute")}
    computes = {c for c in computes if c}
    for label, job in pipelines.azureml_jobs(g):
        for problem in _job_problems(job, {c.split(":")[-1].split("/")[-1] for c in computes}):
            yield label, problem
    for r in g.of(ML + "Job"):
        for problem in _job_problems(r["inputs"].get("properties") or {}, {c.split("/")[-1] for c in computes}):
            yield r, problem
    for ds in g.of(ML + "Datastore"):
        cred = dig(ds["inputs"], "properties", "credentials", "credentialsType")
        if cred not in (None, "None"):
            yield ds, f"datastore uses `{cred}` credentials instead of identity-based access"


@rule("MLS-AZ-090", cloud="azure", resource="model registration / promotion", property="approval",
      default="promotion to prod only through an approval-protected stage set by an approver identity",
      external=("MLS only",), sees="graph+artifacts")
def check_azure_approval(g: Graph):
    """A model version the stack registers must not already carry the approved stage in an
    environment that requires approval (only `mlspec approve` sets it)."""
    if g.environment.get("approval", "required") != "required":
        return
    from mlspec.targets.azureml import approvals

    for r in g.of(ML + "ModelVersion", ML + "RegistryModelVersion"):
        p = r["inputs"].get("properties") or {}
        if str(p.get("stage", "")).lower() == approvals.AZURE_APPROVED_STAGE.lower():
            yield r, f"the stack registers the version with stage `{p.get('stage')}` itself (needs an approver)"
        tags = p.get("tags") or {}
        if str(tags.get(approvals.AZURE_APPROVAL_TAG, "")).lower() == approvals.APPROVED:
            yield r, f"the stack sets `{approvals.AZURE_APPROVAL_TAG}={approvals.APPROVED}` itself"
