"""Hand-written Azure ML program: identity, workspace, role assignment, endpoint + deployment."""
import pulumi
import pulumi_azure_native as az

ml = az.machinelearningservices
rg = pulumi.Config().require("resourceGroup")
uai = az.managedidentity.UserAssignedIdentity("ws-identity", resource_group_name=rg, resource_name_="ws-id")
sa = az.storage.StorageAccount("mlsa", account_name="mlsa", resource_group_name=rg, kind="StorageV2",
                               sku=az.storage.SkuArgs(name="Standard_LRS"), allow_blob_public_access=False)
ws = ml.Workspace("ws", workspace_name="fraud-ws", resource_group_name=rg, storage_account=sa.id,
                  identity=ml.ManagedServiceIdentityArgs(type="UserAssigned",
                                                         user_assigned_identities=[uai.id]),
                  primary_user_assigned_identity=uai.id, public_network_access="Disabled")
az.authorization.RoleAssignment("ws-blob", principal_id=uai.principal_id, principal_type="ServicePrincipal",
                                scope=sa.id,
                                role_definition_id="/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe")
ep = ml.OnlineEndpoint("scoring", endpoint_name="scoring", resource_group_name=rg, workspace_name=ws.name,
                       identity=ml.ManagedServiceIdentityArgs(type="SystemAssigned"),
                       properties=ml.OnlineEndpointPropertiesArgs(auth_mode="AADToken", public_network_access="Disabled",
                                                                  traffic={"blue": 100}))
ml.OnlineDeployment("scoring-blue", deployment_name="blue", endpoint_name=ep.name, resource_group_name=rg,
                    workspace_name=ws.name,
                    properties=ml.ManagedOnlineDeploymentArgs(endpoint_compute_type="Managed",
                                                              instance_type="Standard_DS3_v2"))
az.authorization.RoleAssignment("ep-reader", principal_id=ep.identity.apply(lambda i: i.principal_id),
                                principal_type="ServicePrincipal", scope=ws.id,
                                role_definition_id="/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7")
pulumi.export("workspace_id", ws.id)
pulumi.export("endpoint_principal", ep.identity.apply(lambda i: i.principal_id))
