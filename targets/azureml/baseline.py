"""The baseline rule ids of Azure (Azure ML target): MLS-AZ-*: waivability and short title (SECURITY.md).

Returned by ``Target.baseline_rules()`` and merged into ``mlspec.compiler.baseline.catalogue()``,
which the front end (waivers) and `mlspec plan` (rules.py registers one check per id) read.
Pure data; imports nothing.
"""
from __future__ import annotations

#: data classifications (security.data_classification) whose workspace is not a high
#: business impact one (MLS-AZ-054): read by the lowering, which sets `hbiWorkspace`, and by
#: the plan rule that checks it, so the two cannot disagree.
NOT_HIGH_BUSINESS_IMPACT = ("public", "internal")


def high_business_impact(classification: str | None) -> bool:
    """True when a workspace holding data of this classification must be `hbiWorkspace`
    (no classification counts as `confidential`, the language's default)."""
    return (classification or "confidential").lower() not in NOT_HIGH_BUSINESS_IMPACT

#: rule id -> (waivable, short title)
RULES: dict[str, tuple[bool, str]] = {
    "MLS-AZ-001": (False, "Microsoft.KeyVault/vaults (CMK + secrets): enablePurgeProtection; soft delete; publicNetworkAccess; networkAcls.defaultAction; RBAC authorization; private endpoint -> true; on; Disabled; Deny; on; yes"),
    "MLS-AZ-002": (True, "Microsoft.KeyVault/vaults/keys: key type; expiry/rotation -> RSA-HSM where SKU allows; expiry + rotation policy set"),
    "MLS-AZ-010": (False, "Microsoft.Storage/storageAccounts (workspace default + data): supportsHttpsTrafficOnly; minimumTlsVersion; publicNetworkAccess; networkAcls.defaultAction; allowBlobPublicAccess; allowSharedKeyAccess; CMK encryption; private endpoints (blob, file, dfs); blob soft delete; infrastructure encryption -> true; TLS1_2; Disabled; Deny (trusted services bypass); false; false; env CMK; yes; on; on"),
    "MLS-AZ-011": (True, "same: SAS expiration policy; local users -> set; disabled"),
    "MLS-AZ-020": (False, "Microsoft.ContainerRegistry/registries (created by mlspec, never auto-created): adminUserEnabled; anonymous pull; publicNetworkAccess; SKU; CMK; retention policy; data endpoints -> false; off; Disabled; Premium (needed for private link/CMK); env CMK; on; on"),
    "MLS-AZ-030": (True, "Application Insights / Log Analytics: ingestion/query over private link; local auth off -> private; off"),
    "MLS-AZ-040": (False, "Microsoft.ManagedIdentity/userAssignedIdentities: per component: workspace, compute, endpoint -> created by mlspec; role assignments scoped to the single target resource (storage container / vault / registry), e.g. AcrPull for compute and endpoint identities, Storage Blob Data Reader/Contributor on the needed containers; workspace identity gets only the roles Microsoft lists for UAMI workspaces"),
    "MLS-AZ-041": (False, "Microsoft.Authorization/roleAssignments for humans / CI: role -> AzureML Data Scientist (f6c7c914-8db3-469d-8ca1-694a8f32e121) at workspace scope; AzureML Compute Operator only if declared; never Owner / Contributor / User Access Administrator from mlspec; no custom owner roles"),
    "MLS-AZ-050": (False, "Microsoft.MachineLearningServices/workspaces: publicNetworkAccess; allowPublicAccessWhenBehindVnet -> Disabled; false"),
    "MLS-AZ-051": (False, "same: managedNetwork.isolationMode; managedNetwork.outboundRules -> AllowOnlyApprovedOutbound; private-endpoint rules to the stack's storage, vault, registry (+ FQDN rules only if declared)"),
    "MLS-AZ-052": (False, "same: encryption.status + encryption.keyVaultProperties -> Enabled with env CMK"),
    "MLS-AZ-053": (True, "same: identity + primaryUserAssignedIdentity -> UserAssigned (MLS-AZ-040)"),
    "MLS-AZ-054": (True, "same: hbiWorkspace -> true unless data classification is public or internal"),
    "MLS-AZ-055": (True, "same: systemDatastoresAuthMode -> identity-based (enables MLS-AZ-010 shared-key off)"),
    "MLS-AZ-056": (True, "same: v1LegacyMode -> false; documented deviation from Azure Policy e413671a (v2 pipelines require it)"),
    "MLS-AZ-057": (True, "same: private endpoint + private DNS zones for the workspace -> created"),
    "MLS-AZ-058": (True, "same: diagnostic settings -> to Log Analytics"),
    "MLS-AZ-059": (True, "Microsoft.Network: the path of callers outside the private network (CI runner, jump host): a `runners` subnet with an NSG denying inbound from the Internet, every private DNS zone linked to the VNet -> created; linked"),
    "MLS-AZ-060": (False, ".../workspaces/computes (AmlCompute): disableLocalAuth; scaleSettings.minNodeCount; subnet / managed network; node public IP; identity -> true; 0; set; off ; UserAssigned"),
    "MLS-AZ-061": (True, "ComputeInstance (discouraged; only if spec asks): as MLS-AZ-060 + idleTimeBeforeShutdown; SSH -> set; disabled"),
    "MLS-AZ-070": (False, ".../onlineEndpoints: authMode; publicNetworkAccess; identity -> AADToken; Disabled; UserAssigned"),
    "MLS-AZ-071": (True, ".../onlineEndpoints/deployments: egress; data collection -> via workspace managed network; collected data to CMK storage"),
    "MLS-AZ-080": (False, "generated job / pipeline YAML or SDK code: compute; identity; datastores; env vars -> private cluster (MLS-AZ-060); managed/user identity; identity-based datastores; no secrets in environment_variables"),
    "MLS-AZ-090": (True, "model registration / promotion: approval -> promotion to prod only through an approval-protected CI environment or registry stage set by an approver identity"),
}
