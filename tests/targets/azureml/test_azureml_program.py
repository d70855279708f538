"""The generated Pulumi program under Pulumi's mock runtime (mlspec.compiler.plan.harness):
resources, wiring, every SECURITY.md Azure row, no snake_case leaks, no missing required inputs,
unique URNs, and the approval gate (deploy only approved, promoted versions)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import az_helpers
from mlspec.compiler.plan.harness import (ProgramError, SECRET, duplicate_urns, missing_required, run_program,
                                          snake_case_leaks)
from mlspec.targets.azureml.lower import FORBIDDEN_ROLES, ROLES
from az_fixtures import SUB

PROJECT = "fraud-detection-azureml"
REL = {"version": "7", "previous": "6", "slot": "green", "phase": "rollout", "approved_by": "alice"}
APPROVER_OID = "22222222-2222-2222-2222-222222222222"  # the fixture's approver_object_ids
USER = {"lastModifiedByType": "User", "lastModifiedBy": "alice@example.com"}


def approved(ids: list[str], names: list[str], system_data: dict = USER) -> dict:
    """A model version as getModelVersion returns it after `mlspec approve` (tags + ARM systemData)."""
    return {"properties": {"tags": {"mlspec.stage": "approved", "mlspec.approvals": ",".join(ids),
                                    "mlspec.approver_names": ",".join(names),
                                    "mlspec.approved_by": ",".join(ids)}},
            "systemData": system_data}


APPROVED = approved(["oid-alice", APPROVER_OID], ["risk-leads", "ml-platform"])
CALLBACK = {"value": "https://prod-00.eastus.logic.azure.com/workflows/x/triggers/manual/paths/invoke?sig=abc"}


def _calls(model_version: dict) -> dict:
    return {"calls": {"azure-native:machinelearningservices:getModelVersion": model_version,
                      "azure-native:logic:listWorkflowTriggerCallbackUrl": CALLBACK}}


def _released_copy(max_build: Path, tmp: Path) -> Path:
    shutil.copytree(max_build, tmp / "build")  # the program reads pipeline_component.yml and the manifest
    pulumi_dir = tmp / "build" / "pulumi"
    az_helpers.add_config(pulumi_dir, "prod", {
        f"{PROJECT}:releases": {"fraud_scorer": REL, "fraud_challenger": dict(REL, version="3", previous=None)},
        f"{PROJECT}:pipelinesRegistered": True,
        **{f"{PROJECT}:secret-{s}": {"secure": "v1:opaque"} for s in ("slack-ml-url", "ops-webhook", "pd-key")}})
    return pulumi_dir


@pytest.fixture(scope="module")
def prod(max_build, tmp_path_factory) -> dict:
    """prod with an approved release of both models and the channel secrets set."""
    return run_program(_released_copy(max_build, tmp_path_factory.mktemp("prod")), "prod", overrides=_calls(APPROVED))


@pytest.fixture(scope="module")
def dev(max_build) -> dict:
    """dev as compiled: nothing released yet, channel secrets not set."""
    return run_program(max_build / "pulumi", "dev", overrides=_calls(APPROVED))


@pytest.fixture(scope="module")
def small_build(tmp_path_factory) -> Path:
    """A prod system with one canary endpoint whose model needs two approvers (fast negative runs)."""
    import az_fixtures

    full = az_fixtures.maximal_ir("prod")
    ir = az_fixtures.minimal_ir("prod")
    ir["environment"] = full["environment"]
    ir["models"][0]["approval"] = {"required": True, "approvers": ["risk-leads"], "count": 2}
    ir["endpoints"] = [full["endpoints"][0]]
    ir["endpoints"][0]["rollout"]["rollback_on"] = []
    build = az_helpers.write(az_helpers.lower([ir]), [ir], tmp_path_factory.mktemp("small"))
    pulumi_dir = build / "pulumi"
    az_helpers.add_config(pulumi_dir, "prod", {f"{PROJECT}:releases": {"fraud_scorer": REL},
                                               f"{PROJECT}:pipelinesRegistered": True})
    return pulumi_dir


def by_type(result: dict, cls: str) -> list[dict]:
    return [r for r in result["resources"] if r["type"].endswith(":" + cls)]


def one(result: dict, cls: str, name: str) -> dict:
    found = [r for r in by_type(result, cls) if r["name"] == name]
    assert len(found) == 1, (cls, name, [r["name"] for r in by_type(result, cls)])
    return found[0]


@pytest.mark.parametrize("run", ["prod", "dev"])
def test_graph_hygiene(run, request):
    res = request.getfixturevalue(run)["resources"]
    assert snake_case_leaks(res) == []
    assert missing_required(res) == []
    assert duplicate_urns(res) == []
    for r in res:  # MLS-G-08: standard tags wherever the type takes tags
        if r["tag_property"] == "tags" and r["type"].split(":")[1] not in ("authorization",):
            tags = r["inputs"].get("tags") or {}
            assert {"owner", "environment", "data-classification"} <= set(tags), r["name"]
            assert "mlspec-spec-sha256" not in tags, r["name"]  # lineage: manifest, pipeline jobs, model versions


def test_key_vault_and_key(prod):  # MLS-AZ-001, MLS-AZ-002
    p = one(prod, "Vault", "key-vault")["inputs"]["properties"]
    assert p["enablePurgeProtection"] is True and p["enableSoftDelete"] is True
    assert p["publicNetworkAccess"] == "Disabled" and p["networkAcls"]["defaultAction"] == "Deny"
    assert p["enableRbacAuthorization"] is True
    k = one(prod, "Key", "cmk")["inputs"]["properties"]
    assert k["kty"] == "RSA-HSM" and k["rotationPolicy"]["attributes"]["expiryTime"] == "P1Y"
    assert {a["action"]["type"] for a in k["rotationPolicy"]["lifetimeActions"]} == {"rotate", "notify"}


def test_storage(prod):  # MLS-AZ-010, MLS-AZ-011, MLS-G-01
    s = one(prod, "StorageAccount", "storage")
    i = s["inputs"]
    assert i["enableHttpsTrafficOnly"] is True and i["minimumTlsVersion"] == "TLS1_2"
    assert i["publicNetworkAccess"] == "Disabled" and i["allowBlobPublicAccess"] is False
    assert i["allowSharedKeyAccess"] is False and i["isLocalUserEnabled"] is False
    assert i["networkRuleSet"] == {"bypass": "AzureServices", "defaultAction": "Deny"}
    assert i["encryption"]["keySource"] == "Microsoft.Keyvault" and i["encryption"]["requireInfrastructureEncryption"]
    assert i["encryption"]["keyVaultProperties"]["keyName"] == "cmk-fraud-detection-prod"
    assert i["sasPolicy"]["expirationAction"] == "Block"
    assert "ra-storage-keyvaultcryptoserviceenc-vault" in s["depends_on"]  # CMK access before the account
    blob = one(prod, "BlobServiceProperties", "blob-service")["inputs"]
    assert blob["deleteRetentionPolicy"] == {"days": 30, "enabled": True} and blob["isVersioningEnabled"] is True
    groups = {r["inputs"]["privateLinkServiceConnections"][0]["groupIds"][0] for r in by_type(prod, "PrivateEndpoint")}
    assert groups == {"vault", "blob", "file", "dfs", "registry", "amlworkspace", "azuremonitor"}  # G-02, AZ-057


def test_registry(prod):  # MLS-AZ-020
    i = one(prod, "Registry", "registry")["inputs"]
    assert i["adminUserEnabled"] is False and i["anonymousPullEnabled"] is False
    assert i["publicNetworkAccess"] == "Disabled" and i["sku"] == {"name": "Premium"}
    assert i["encryption"]["status"] == "enabled" and i["policies"]["retentionPolicy"]["status"] == "enabled"
    assert i["dataEndpointEnabled"] is True


def test_observability(prod):  # MLS-AZ-030, MLS-G-05, MLS-AZ-058
    la = one(prod, "Workspace", "log-analytics")["inputs"]
    assert la["retentionInDays"] == 365 and la["features"]["disableLocalAuth"] is True
    assert la["publicNetworkAccessForIngestion"] == la["publicNetworkAccessForQuery"] == "Disabled"
    ai = one(prod, "Component", "app-insights")["inputs"]
    assert ai["disableLocalAuth"] is True and ai["publicNetworkAccessForQuery"] == "Disabled"
    scope = one(prod, "PrivateLinkScope", "monitor-private-link-scope")["inputs"]["accessModeSettings"]
    assert scope == {"ingestionAccessMode": "PrivateOnly", "queryAccessMode": "PrivateOnly"}
    assert {r["name"] for r in by_type(prod, "PrivateLinkScopedResource")} == {"scoped-log-analytics", "scoped-app-insights"}
    diags = {r["name"] for r in by_type(prod, "DiagnosticSetting")}
    assert {"diag-workspace", "diag-vault", "diag-registry", "diag-endpoint-scoring"} <= diags


def test_identities_and_roles(prod):  # MLS-AZ-040, MLS-AZ-041, MLS-G-03
    idents = {r["name"] for r in by_type(prod, "UserAssignedIdentity")}
    assert {"id-workspace", "id-storage", "id-registry", "id-compute", "id-monitoring", "id-retrain",
            "id-endpoint-scoring", "id-rollout-scoring"} <= idents
    custom = {r["inputs"]["roleName"]: r for r in by_type(prod, "RoleDefinition")}
    allowed = set(ROLES.values()) | {r["inputs"]["roleName"] for r in custom.values()}
    for ra in by_type(prod, "RoleAssignment"):
        role = ra["inputs"]["roleDefinitionId"].rsplit("/", 1)[1]
        assert role not in FORBIDDEN_ROLES, ra["name"]
        assert role in allowed or ra["inputs"]["roleDefinitionId"].startswith("/subscriptions/"), ra["name"]
        scope = ra["inputs"]["scope"]
        assert "/providers/" in scope, (ra["name"], scope)  # a single resource, never a subscription/RG
        assert ra["inputs"]["principalType"] == ("Group" if ra["name"].startswith("ra-approver-") else "ServicePrincipal")
    human = one(prod, "RoleAssignment", "ra-approver-0")["inputs"]
    assert human["roleDefinitionId"].endswith("/f6c7c914-8db3-469d-8ca1-694a8f32e121")  # AzureML Data Scientist
    assert human["scope"].endswith("/workspaces/ml-prod") and human["principalType"] == "Group"
    ra = one(prod, "RoleAssignment", "ra-endpoint-scoring-acrpull-registry")["inputs"]
    assert ra["scope"].endswith("/registries/" + one(prod, "Registry", "registry")["inputs"]["registryName"])
    rollout = one(prod, "RoleDefinition", "role-rollout")["inputs"]
    # Azure RBAC: a custom role's assignableScopes may not be a resource; the assignment still is one
    assert rollout["assignableScopes"] == [rollout["scope"]] == ["/subscriptions/" + SUB + "/resourceGroups/ml-prod"]
    assert all(a.startswith("Microsoft.MachineLearningServices/workspaces/onlineEndpoints/")
               for a in rollout["permissions"][0]["actions"])
    assert one(prod, "RoleAssignment", "ra-rollout-scoring")["inputs"]["scope"].endswith(
        "/onlineEndpoints/" + one(prod, "OnlineEndpoint", "endpoint-scoring")["inputs"]["endpointName"])
    # the Logic Apps PUT an endpoint that names a user-assigned identity: assign/action on it
    assign = one(prod, "RoleAssignment", "ra-rollout-assign-scoring")["inputs"]
    assert assign["roleDefinitionId"].endswith("/f1a07417-d97a-45cb-824c-7a7467783830")  # Managed Identity Operator
    assert assign["scope"].endswith("/userAssignedIdentities/" + one(prod, "UserAssignedIdentity",
                                                                     "id-endpoint-scoring")["inputs"]["resourceName"])


def test_runner_subnet_for_callers_outside_the_private_network(prod, dev):
    """Issue 14 item 13: the path of a CI runner / jump host into the private workspace (MLS-AZ-059)."""
    from az_fixtures import CI_VNET

    for result, cidr in ((prod, "10.42.8.0/24"), (dev, "10.42.1.0/24")):  # dev: the default, next to the PE subnet
        runners = one(result, "Subnet", "subnet-runners")
        i = runners["inputs"]
        assert i["addressPrefix"] == cidr and i["subnetName"] == "runners" and i["defaultOutboundAccess"] is False
        nsg = one(result, "NetworkSecurityGroup", "nsg-runners")
        nat = one(result, "NatGateway", "nat-runners")
        assert {"nsg-runners", "nat-runners", "subnet-pe"} <= set(runners["depends_on"])
        rules = {r["name"]: r for r in nsg["inputs"]["securityRules"]}
        inbound = [r for r in rules.values() if r["direction"] == "Inbound"]
        assert [(r["access"], r["sourceAddressPrefix"]) for r in inbound] == [("Deny", "Internet")]
        assert rules["allow-https-outbound"]["destinationPortRange"] == "443"
        assert rules["deny-internet-outbound"]["access"] == "Deny"
        assert rules["deny-internet-outbound"]["priority"] > rules["allow-https-outbound"]["priority"]
        ip = one(result, "PublicIPAddress", "pip-runners-egress")["inputs"]
        assert ip["sku"]["name"] == "Standard" and ip["publicIPAllocationMethod"] == "Static"
        assert "pip-runners-egress" in nat["depends_on"] and nat["inputs"]["sku"]["name"] == "Standard"
        # every service resolves to its private endpoint from the VNet (and the peered CI network)
        zones = {z["inputs"]["privateZoneName"] for z in by_type(result, "PrivateZone")}
        assert {"privatelink.api.azureml.ms", "privatelink.notebooks.azure.net", "privatelink.blob.core.windows.net",
                "privatelink.azurecr.io", "privatelink.vaultcore.azure.net"} <= zones
        links = by_type(result, "VirtualNetworkLink")
        vnet_links = {lk["inputs"]["privateZoneName"] for lk in links if "vnet" in lk["depends_on"]}
        assert vnet_links == zones and all(lk["inputs"]["registrationEnabled"] is False for lk in links)
        peer_links = {lk["inputs"]["privateZoneName"] for lk in links
                      if lk["inputs"]["virtualNetwork"]["id"] == CI_VNET}
        peerings = by_type(result, "VirtualNetworkPeering")
        if result is prod:
            assert peer_links == zones
            (p,) = peerings
            assert p["inputs"]["remoteVirtualNetwork"]["id"] == CI_VNET
            assert p["inputs"]["allowVirtualNetworkAccess"] is True and p["inputs"]["allowForwardedTraffic"] is False
            assert p["inputs"]["useRemoteGateways"] is False
        else:
            assert not peer_links and not peerings


def test_plan_rules_see_the_runner_path(prod):
    """MLS-AZ-059 passes on the generated program and fails once a zone loses its VNet link."""
    from mlspec.compiler.plan.graph import Graph
    from mlspec.targets.azureml import rules

    g = Graph(prod["resources"], target="azureml")
    assert list(rules.check_runner_path(g)) == []
    unlinked = [r for r in prod["resources"] if not (r["type"].endswith(":VirtualNetworkLink")
                                                     and r["inputs"]["privateZoneName"] == "privatelink.azurecr.io")]
    assert [m for _r, m in rules.check_runner_path(Graph(unlinked, target="azureml"))] == [
        "private DNS zone `privatelink.azurecr.io` is linked to no virtual network: callers resolve public addresses"]
    no_nsg = [dict(r, inputs={k: v for k, v in r["inputs"].items() if k != "networkSecurityGroup"})
              if r["name"] == "subnet-runners" else r for r in prod["resources"]]
    assert [m for _r, m in rules.check_runner_path(Graph(no_nsg, target="azureml"))] == [
        "the runners subnet has no network security group"]


def test_workspace(prod):  # MLS-AZ-050..056
    ws = one(prod, "Workspace", "workspace")
    i = ws["inputs"]
    assert i["publicNetworkAccess"] == "Disabled" and i["allowPublicAccessWhenBehindVnet"] is False
    mn = i["managedNetwork"]
    assert mn["isolationMode"] == "AllowOnlyApprovedOutbound"
    rules = mn["outboundRules"]
    assert {r["destination"]["subresourceTarget"] for r in rules.values() if r["type"] == "PrivateEndpoint"} == \
        {"blob", "file", "dfs", "vault", "registry"}
    assert sorted(r["destination"] for r in rules.values() if r["type"] == "FQDN") == \
        ["conda.anaconda.org", "files.pythonhosted.org", "pypi.org"]  # declared + image-build sources
    assert i["encryption"]["status"] == "Enabled" and i["encryption"]["keyVaultProperties"]["keyIdentifier"]
    assert i["identity"]["type"] == "UserAssigned" and i["primaryUserAssignedIdentity"].endswith("-workspace")
    assert i["hbiWorkspace"] is True and i["systemDatastoresAuthMode"] == "identity" and i["v1LegacyMode"] is False
    for dep in ("storage", "key-vault", "registry", "app-insights"):
        assert dep in ws["depends_on"]


def test_compute(prod):  # MLS-AZ-060
    clusters = {r["inputs"]["computeName"]: r["inputs"] for r in by_type(prod, "Compute")}
    assert set(clusters) == {"cpu-small", "cpu-medium", "cpu-large", "gpu-small"}
    for c in clusters.values():
        p = c["properties"]
        assert p["disableLocalAuth"] is True and p["properties"]["scaleSettings"]["minNodeCount"] == 0
        assert p["properties"]["enableNodePublicIp"] is False and c["identity"]["type"] == "UserAssigned"
    assert clusters["cpu-medium"]["properties"]["properties"]["scaleSettings"]["maxNodeCount"] == 4  # tune parallelism


def test_endpoints_rollouts_and_deployments(prod):  # MLS-AZ-070, MLS-AZ-071, rollouts
    eps = {r["name"]: r["inputs"] for r in by_type(prod, "OnlineEndpoint")}
    for e in eps.values():
        assert e["properties"]["authMode"] == "AADToken" and e["properties"]["publicNetworkAccess"] == "Disabled"
        assert e["identity"]["type"] == "UserAssigned"
    assert eps["endpoint-scoring"]["properties"]["traffic"] == {"blue": 95, "green": 5}          # canary
    assert eps["endpoint-linear"]["properties"]["traffic"] == {"blue": 90, "green": 10}         # linear
    assert eps["endpoint-bluegreen"]["properties"]["traffic"] == {"blue": 100, "green": 0}      # blue/green
    assert eps["endpoint-shadowed"]["properties"]["mirrorTraffic"] == {"green": 20}             # shadow
    assert eps["endpoint-abtest"]["properties"]["traffic"] == {"ab-a": 50, "ab-b": 50}          # A/B
    assert eps["endpoint-simple"]["properties"]["traffic"] == {"green": 100}                    # all at once
    simple = one(prod, "OnlineDeployment", "deployment-simple-green")["inputs"]["properties"]
    assert simple["codeConfiguration"]["scoringScript"] == "_mlspec/score.py"   # sklearn: not an MLflow model
    assert "/codes/fraud_detection_serving/versions/" in simple["codeConfiguration"]["codeId"]
    assert "/environments/mlspec-sklearn-1-5-serve-gpu/versions/" in simple["environmentId"]
    assert simple["environmentVariables"] == {"MLSPEC_SERVE_CONFIG": "_mlspec/config/prod/serving/fraud_challenger.json"}
    green = one(prod, "OnlineDeployment", "deployment-scoring-green")["inputs"]["properties"]
    blue = one(prod, "OnlineDeployment", "deployment-scoring-blue")["inputs"]["properties"]
    assert green["model"].endswith("/models/fraud_scorer/versions/7") and blue["model"].endswith("/versions/6")
    assert green["egressPublicNetworkAccess"] == "Disabled"
    assert green["dataCollector"]["collections"]["model_inputs"] == {"dataCollectionMode": "Enabled", "samplingRate": 0.2}
    ab = one(prod, "OnlineDeployment", "deployment-abtest-ab-b")["inputs"]["properties"]
    assert "/models/fraud_challenger/versions/3" in ab["model"]
    scale = one(prod, "AutoscaleSetting", "autoscale-scoring-green")["inputs"]
    assert scale["profiles"][0]["capacity"] == {"default": "2", "maximum": "10", "minimum": "2"}
    assert {r["metricTrigger"]["metricName"] for r in scale["profiles"][0]["rules"]} == {"RequestsPerMinute"}


def test_canary_stepping_and_rollback(prod):
    step = one(prod, "Workflow", "wf-rollout-scoring")
    params = {k: v["value"] for k, v in step["inputs"]["parameters"].items()}
    assert params["stepPercent"] == 20 and params["newSlot"] == "green" and params["oldSlot"] == "blue"
    assert params["intervalSeconds"] == 600
    assert "Wait_interval" in step["inputs"]["definition"]["actions"]
    assert step["inputs"]["definition"]["triggers"]["recurrence"]["recurrence"] == {"frequency": "Second", "interval": 600}
    assert step["inputs"]["identity"]["type"] == "UserAssigned"
    rollback_group = one(prod, "ActionGroup", "ag-rollback-scoring")
    assert "wf-rollback-scoring" in rollback_group["depends_on"]
    assert rollback_group["inputs"]["logicAppReceivers"] == SECRET  # the signed callback URL taints it secret
    for alert in ("alert-latency",):
        assert "ag-rollback-scoring" in one(prod, "MetricAlert", alert)["depends_on"]
    errors = one(prod, "ScheduledQueryRule", "log-alert-errors")
    assert "ag-rollback-scoring" in errors["depends_on"]
    assert "error_percent" in errors["inputs"]["criteria"]["allOf"][0]["query"]
    assert not [r for r in by_type(prod, "Workflow") if r["name"] == "wf-rollout-abtest"]


def test_alerts_channels_and_secrets(prod):  # MLS-G-04
    hook = one(prod, "ActionGroup", "ag-hook")["inputs"]
    assert hook["webhookReceivers"] == SECRET  # the URL is a Pulumi config secret, never a literal
    assert one(prod, "ActionGroup", "ag-oncall")["inputs"]["emailReceivers"][0]["emailAddress"] == "oncall@example.com"
    metrics = {r["name"]: r["inputs"]["criteria"]["allOf"][0]["metricName"] for r in by_type(prod, "MetricAlert")}
    assert metrics["alert-latency"] == "RequestLatency_P99" and metrics["alert-p50"] == "RequestLatency_P50"
    assert metrics["alert-traffic"] == "RequestsPerMinute"
    assert metrics["alert-cpu-green"] == "CpuUtilizationPercentage"   # per deployment
    assert metrics["alert-memory-blue"] == "MemoryUtilizationPercentage"
    breach = one(prod, "Workflow", "wf-breach-input_drift")["inputs"]
    assert breach["parameters"] == SECRET  # notify URLs are secrets, so the whole parameter map is
    assert "Submit_pipeline_job" in str(breach["definition"])


def test_pipeline_failure_notifies_the_on_failure_channels(prod, max_lowering):
    """`on_failure`: a log alert on failed top-level runs (pipeline jobs) of the pipelines' experiment
    in the workspace's run-status log, whose actions are exactly the channels' action groups."""
    alert = one(prod, "ScheduledQueryRule", "log-alert-pipeline-failed")
    i = alert["inputs"]
    (cond,) = i["criteria"]["allOf"]
    assert cond["query"].startswith("AmlRunStatusChangedEvent | where ExperimentName == 'fraud_detection' and "
                                    "Status == 'Failed' and isempty(ParentRunId)")
    assert cond["metricMeasureColumn"] == "failed" and cond["operator"] == "GreaterThan" and cond["threshold"] == 0
    assert len(i["scopes"]) == 1 and "log-analytics" in alert["depends_on"]  # the Log Analytics workspace
    assert {"ag-oncall", "ag-slack_ml"} == {d for d in alert["depends_on"] if d.startswith("ag-")}
    assert len(i["actions"]["actionGroups"]) == 2
    # the run-status log reaches Log Analytics: the workspace's diagnostic setting sends allLogs
    diag = one(prod, "DiagnosticSetting", "diag-workspace")["inputs"]
    assert diag["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]
    # the batch job shares the experiment: the compile report says its failures notify the same channels
    assert any("`on_failure` of `training`" in n and "`batch_nightly`" in n for n in max_lowering.notes)


def test_monitors_and_retraining(prod):
    schedules = {r["name"]: r["inputs"]["properties"] for r in by_type(prod, "Schedule")
                 if r["name"].startswith("monitor-")}
    assert set(schedules) == {"monitor-input_drift", "monitor-output_drift", "monitor-attribution"}
    drift = schedules["monitor-input_drift"]["action"]["monitorDefinition"]
    sig = drift["signals"]["input_drift"]
    assert sig["signalType"] == "DataDrift" and sig["metricThresholds"][0]["metric"] == "PopulationStabilityIndex"
    assert drift["monitoringTarget"]["deploymentId"].endswith("/onlineEndpoints/scoring-prod-6007/deployments/green")
    assert drift["computeConfiguration"]["computeIdentity"]["computeIdentityType"] == "ManagedIdentity"
    subs = {r["name"]: r["inputs"] for r in by_type(prod, "SystemTopicEventSubscription")}
    keys = {f["key"] for f in subs["breach-input_drift"]["filter"]["advancedFilters"]}
    assert "data.RunTags.azureml_modelmonitor_threshold_breached" in keys
    assert subs["breach-input_drift"]["destination"] == SECRET  # signed Logic App URL
    quality = one(prod, "ScheduledQueryRule", "log-alert-monitor-quality")["inputs"]
    assert "AmlRunStatusChangedEvent" in quality["criteria"]["allOf"][0]["query"]


def test_dashboard(prod):
    wb = one(prod, "Workbook", "workbook")["inputs"]
    assert "fraud_losses" in wb["serializedData"] and "RequestLatency_P99" in wb["serializedData"]


def test_approval_gate_prod(prod):  # MLS-AZ-090, MLS-G-07
    tokens = [i for i in prod["invokes"] if i["token"].endswith("getModelVersion")]
    assert {(i["args"]["name"], i["args"]["version"]) for i in tokens} >= {("fraud_scorer", "7"), ("fraud_scorer", "6")}
    assert prod["outputs"]["approvedBy-scoring-green"] == "risk-leads,ml-platform"
    assert prod["outputs"]["awaitingApproval"] == []


def test_unapproved_version_is_never_deployed(small_build):
    pending = {"properties": {"tags": {"mlspec.stage": "pending_approval"}}}
    with pytest.raises(ProgramError, match="is not approved in the registry"):
        run_program(small_build, "prod", overrides=_calls(pending))


def test_dev_without_release_deploys_nothing(dev):
    assert by_type(dev, "OnlineDeployment") == [] and by_type(dev, "Schedule") == []
    assert sorted(dev["outputs"]["awaitingApproval"]) == ["abtest", "bluegreen", "linear", "scoring", "shadowed",
                                                          "simple"]
    assert one(dev, "Workspace", "log-analytics")["inputs"]["retentionInDays"] == 90
    for e in by_type(dev, "OnlineEndpoint"):
        assert e["inputs"]["properties"]["traffic"] == {}
    # secrets not configured: no webhook receiver is created with a placeholder
    assert "webhookReceivers" not in one(dev, "ActionGroup", "ag-hook")["inputs"]


def test_self_approval_by_the_pipeline_identity_is_refused(small_build, prod):
    """MLS-G-07: the compute identity registers versions; its principal can never be the approver.
    The harness fabricates principal ids deterministically from names, so read it from the prod run."""
    compute = one(prod, "RoleAssignment", "ra-compute-acrpull-registry")["inputs"]["principalId"]
    self_approved = approved([compute, "oid-bob"], ["risk-leads", "risk-leads"])
    with pytest.raises(ProgramError, match="approved by a workload identity"):
        run_program(small_build, "prod", overrides=_calls(self_approved))


def test_too_few_approvers_is_refused(small_build):
    with pytest.raises(ProgramError, match="has 1 approver"):
        run_program(small_build, "prod", overrides=_calls(approved(["oid-alice"], ["risk-leads"])))


def test_approvers_the_spec_does_not_name_are_refused(small_build):
    outsiders = approved(["oid-mallory", "oid-eve"], ["mallory@example.com", "eve@example.com"])
    with pytest.raises(ProgramError, match="not all approvers the spec names"):
        run_program(small_build, "prod", overrides=_calls(outsiders))


@pytest.mark.parametrize("writer", ["ManagedIdentity", "Application"])
def test_tags_rewritten_by_a_workload_identity_are_refused(small_build, writer):
    """The compute identity can write model versions (it registers them); if it (or any non-human
    principal) wrote the version last, its approval tags are not trusted (ARM systemData)."""
    forged = approved(["oid-alice", APPROVER_OID], ["risk-leads", "risk-leads"],
                      {"lastModifiedByType": writer, "lastModifiedBy": "id-compute"})
    with pytest.raises(ProgramError, match="last modified by a " + writer):
        run_program(small_build, "prod", overrides=_calls(forged))


def test_pipeline_schedules_submit_registered_components(prod, dev):
    jobs = {r["name"]: r["inputs"]["properties"] for r in by_type(prod, "Schedule") if r["name"].startswith("schedule-")}
    assert set(jobs) == {"schedule-training", "schedule-batch-nightly", "schedule-monitor-quality",
                         "schedule-monitor-fairness"}
    training = jobs["schedule-training"]
    assert training["trigger"] == {"expression": "0 3 * * MON", "timeZone": "UTC", "triggerType": "Cron"}
    jd = training["action"]["jobDefinition"]
    assert jd["componentId"].endswith("/components/fraud_detection_training_pipeline/versions/"
                                      + jd["componentId"].rsplit("/", 1)[1])
    assert jd["inputs"]["transactions"]["uri"].startswith("azureml://datastores/workspaceblobstore/paths/")
    quality = jobs["schedule-monitor-quality"]
    assert quality["trigger"]["triggerType"] == "Recurrence"
    # REL puts the new version in the `green` slot; the monitor reads that slot's collected data
    assert quality["action"]["jobDefinition"]["inputs"]["model_outputs"]["uri"] == \
        "azureml:scoring-prod-6007-green-model_outputs@latest"
    assert not [r for r in by_type(dev, "Schedule")]  # components not registered yet in dev


@pytest.mark.parametrize("spec", ["churn_scoring", "fraud_detection", "recommendations"])
def test_example_spec_programs_with_a_release(spec, spec_builds, tmp_path):
    """Each example's last environment, with every model released: a clean graph and a deployment
    (and, for two-slot rollouts, both slots) for every endpoint."""
    import json

    import yaml

    root = spec_builds[spec]
    shutil.copytree(root, tmp_path / "build")  # the program reads pipeline_component.yml and the manifest
    pulumi_dir = tmp_path / "build" / "pulumi"
    project = yaml.safe_load((pulumi_dir / "Pulumi.yaml").read_text())["name"]
    env = sorted(p.stem for p in (pulumi_dir / "stacks").glob("*.json"))[-1]
    data = json.loads((pulumi_dir / "stacks" / f"{env}.json").read_text())
    az_helpers.add_config(pulumi_dir, env, {
        f"{project}:releases": {m: {"version": "5", "previous": "4", "slot": "green", "phase": "rollout"}
                                for m in data["model_names"]},
        f"{project}:pipelinesRegistered": True,
        **{f"{project}:secret-{c['secret']}": {"secure": "v1:x"} for c in data["channels"] if c["secret"]}})
    spec_sha = json.loads((tmp_path / "build" / "manifest.json").read_text())["spec_sha256"]
    names = sorted(set.intersection(*(set(a) for a in data["approvers"].values())))
    many = approved([f"oid-{n}" for n in names], names)
    result = run_program(pulumi_dir, env, overrides=_calls(many))
    res = result["resources"]
    assert snake_case_leaks(res) == [] and missing_required(res) == [] and duplicate_urns(res) == []
    deployed = {r["inputs"]["endpointName"] for r in by_type(result, "OnlineDeployment")}
    assert deployed == {e["name"] for e in data["endpoints"]}
    assert result["outputs"]["awaitingApproval"] == []
    deployments = {(r["inputs"]["endpointName"], r["inputs"]["deploymentName"]) for r in by_type(result, "OnlineDeployment")}
    for sched in by_type(result, "Schedule"):  # monitors watch deployments that exist
        target = (sched["inputs"]["properties"]["action"].get("monitorDefinition") or {}).get("monitoringTarget")
        if target:
            ep, dep = target["deploymentId"].split("/onlineEndpoints/")[1].split("/deployments/")
            assert (ep, dep) in deployments, sched["name"]
        job = sched["inputs"]["properties"]["action"].get("jobDefinition") or {}
        for name, inp in (job.get("inputs") or {}).items():
            if inp["jobInputType"] == "literal":  # lineage: the spec hash, read from the build's manifest
                assert name == "mlspec_spec_sha256" and inp["value"] == spec_sha == job["tags"]["mlspec-spec-sha256"]
                continue
            if "-model_" in inp["uri"]:  # emulated monitors read a deployed slot's collected data
                assert any(f"{ep}-{dep}-model_" in inp["uri"] for ep, dep in deployments), sched["name"]
