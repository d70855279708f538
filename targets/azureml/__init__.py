"""Azure Machine Learning target: a Pulumi program (pulumi-azure-native) plus Azure ML CLI v2 YAML.

Input: one checked IR per environment (docs/ir.md). Output: a Lowering (see lower.py).
Never imports Pulumi, pulumi_azure_native or azure.* -- only the generated program does.
Mapping of every construct: docs/targets/azureml.md.
"""
from __future__ import annotations

from typing import Sequence

from mlspec.targets.base import Lowering, LowerContext, Setting, Target

from .capabilities import CAPABILITIES

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

SETTINGS = {
    "subscription": Setting("string", True, "Azure subscription id", _GUID, "00000000-0000-0000-0000-000000000000"),
    "resource_group": Setting("string", True, "existing resource group the stack deploys into",
                              r"[-\w\._\(\)]{1,90}", "ml-prod"),
    "workspace": Setting("string", True, "workspace base name (the environment is appended)",
                         r"[a-zA-Z0-9][a-zA-Z0-9_-]{1,25}", "ml"),
    "region": Setting("string", True, "Azure region", r"[a-z0-9]{3,30}", "eastus"),
    "datastore": Setting("string", False, "datastore for data:// URIs (default: workspaceblobstore)",
                         r"[a-z0-9_]{1,255}", "workspaceblobstore"),
    "key_vault_id": Setting("string", False, "resource id of the vault holding `security.kms_key`",
                            r"/subscriptions/.+/providers/Microsoft\.KeyVault/vaults/[-a-zA-Z0-9]{3,24}"),
    "base_image": Setting("string", False, "CPU base image of the step environments (MLS-G-06: the stack's "
                          "registry, pinned by digest)", r"[a-z0-9]+\.azurecr\.io/[-a-z0-9_./]+@sha256:[0-9a-f]{64}"),
    "gpu_base_image": Setting("string", False, "GPU base image of the step environments",
                              r"[a-z0-9]+\.azurecr\.io/[-a-z0-9_./]+@sha256:[0-9a-f]{64}"),
    "approver_object_ids": Setting("list", False, "Entra ID object ids (groups) of the model approvers; they "
                                   "get `AzureML Data Scientist` on the workspace (MLS-AZ-041)"),
    "vnet_cidr": Setting("string", False, "address space of the generated virtual network",
                         r"\d+\.\d+\.\d+\.\d+/\d+", "10.42.0.0/16"),
    "subnet_cidr": Setting("string", False, "private-endpoint subnet", r"\d+\.\d+\.\d+\.\d+/\d+", "10.42.0.0/24"),
    "runner_subnet_cidr": Setting("string", False, "the `runners` subnet (default: the /24 after `subnet_cidr`): "
                                  "callers outside Azure (self-hosted CI runner, jump host) reach the private "
                                  "workspace, registry, vault and storage from there through the stack's private "
                                  "endpoints and DNS zones; NSG without inbound from the Internet, NAT gateway for "
                                  "outbound HTTPS", r"\d+\.\d+\.\d+\.\d+/\d+", "10.42.1.0/24"),
    "peer_vnet_ids": Setting("list", False, "resource ids of existing virtual networks (a CI or corporate network) "
                             "peered with the stack's VNet and linked to its private DNS zones; the remote side "
                             "peers back (docs/targets/azureml.md)"),
}


class AzureML(Target):
    name = "azureml"
    display_name = "Azure Machine Learning"
    uri_schemes = {"azureml://": "an Azure ML datastore URI"}
    key_forms = ((r"https://[a-z0-9-]+\.vault\.azure\.net/keys/", "an Azure Key Vault key"),)
    tracking_uri_forms = ("azureml://",)  # a workspace's MLflow tracking URI
    reference_forms = (r"https://[^/]+\.vault\.azure\.net/", r"azureml:")  # Key Vault; registered assets
    cloud = "azure"
    cloud_title = "Azure (Azure ML target)"
    capabilities = CAPABILITIES
    settings = SETTINGS

    def runner(self):  # `mlspec run` (targets/azureml/run.py)
        from mlspec.targets.azureml.run import run

        return run

    def lower(self, irs: Sequence[dict], ctx: LowerContext) -> Lowering:
        from .lower import lower  # keep `import mlspec.targets.azureml` light
        return lower(irs, ctx)

    # ---- hooks of `mlspec plan | apply | approve` (lazy imports: compile never loads them)

    def baseline_rules(self):
        from mlspec.targets.azureml.baseline import RULES

        return RULES

    def rules(self):
        from mlspec.compiler.plan.graph import rules_in
        from mlspec.targets.azureml import rules

        return rules_in(rules)

    def cloud_profile(self):
        from mlspec.targets.azureml.artifacts import PROFILE

        return PROFILE

    def resource_concerns(self):
        from mlspec.targets.azureml.artifacts import RESOURCE_CONCERNS

        return RESOURCE_CONCERNS

    def mock_outputs(self):
        from mlspec.targets.azureml.mock_outputs import MOCK_OUTPUTS

        return MOCK_OUTPUTS

    def approval_backend(self):
        from mlspec.targets.azureml.approvals import AzureBackend

        return AzureBackend()

    def ci_auth(self):
        from mlspec.targets.base import CiAuth

        return CiAuth(
            name="Azure",
            github_secrets={"AZURE_CLIENT_ID": "app registration with a federated credential",
                            "AZURE_TENANT_ID": "tenant id", "AZURE_SUBSCRIPTION_ID": "subscription id"},
            github_env='      ARM_USE_OIDC: "true"\n'
                       "      ARM_CLIENT_ID: ${{ secrets.AZURE_CLIENT_ID }}\n"
                       "      ARM_TENANT_ID: ${{ secrets.AZURE_TENANT_ID }}\n"
                       "      ARM_SUBSCRIPTION_ID: ${{ secrets.AZURE_SUBSCRIPTION_ID }}\n",
            github_steps="      - uses: azure/login@v2\n"
                         "        with:\n"
                         "          client-id: ${{ secrets.AZURE_CLIENT_ID }}\n"
                         "          tenant-id: ${{ secrets.AZURE_TENANT_ID }}\n"
                         "          subscription-id: ${{ secrets.AZURE_SUBSCRIPTION_ID }}\n",
            gitlab_variables="#   ARM_CLIENT_ID, ARM_TENANT_ID, ARM_SUBSCRIPTION_ID  Azure: app registration with a "
                             "federated credential\n",
            gitlab_id_tokens={"AZURE_OIDC_TOKEN": "api://AzureADTokenExchange"},
            gitlab_script='    - export ARM_USE_OIDC=true ARM_OIDC_TOKEN="$AZURE_OIDC_TOKEN"\n')

    def credentials(self):
        from mlspec.targets.azureml.approvals import CREDENTIALS

        return CREDENTIALS

    def deploy_hooks(self):
        """Register components, environments, serving code and monitor tables around the update
        and set pipelinesRegistered (targets/azureml/assets.py)."""
        from mlspec.targets.azureml import assets

        return assets

    def program_checks(self, resources, build=None):
        """Deploy-time failures found in the plan's resources and the build (targets/azureml/checks.py);
        each is marked blocking."""
        from mlspec.targets.azureml import checks

        return checks.program_checks(list(resources), build), []
