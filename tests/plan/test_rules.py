"""Every baseline rule: a passing case (the compliant graph), a failing case (one property broken)
and a waived case (waivable: listed exception; non-waivable: waiver refused, finding stays)."""
from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from mlspec.compiler import baseline
from mlspec.compiler.plan import security
from mlspec.compiler.plan.security import Graph

from . import graphs
from .graphs import R, doc, find, stmt

TODAY = dt.date(2026, 11, 26)


def put(g: Graph, name: str, path: str, value) -> None:
    """Set inputs.<path> (dot path; ``-`` deletes) on resource ``name``."""
    cur = find(g, name)["inputs"]
    keys = path.split(".")
    for k in keys[:-1]:
        cur = cur.setdefault(k, {})
    if value == "-":
        cur.pop(keys[-1], None)
    else:
        cur[keys[-1]] = value


def drop(g: Graph, *names: str) -> None:
    g.resources = [r for r in g.resources if r["name"] not in names]


def add(g: Graph, r: dict) -> None:
    g.resources.append(r)


def sm_step(g: Graph, step: str, fn) -> None:
    p = find(g, "training")
    d = json.loads(p["inputs"]["pipelineDefinition"])
    fn(next(s for s in d["Steps"] if s["Name"] == step)["Arguments"])
    p["inputs"]["pipelineDefinition"] = json.dumps(d)


def kfp_payload(g: Graph, fn) -> None:
    args = g.artifacts["pipelines/training.json"]["deploymentSpec"]["executors"]["exec-train"]["container"]["args"]
    payload = json.loads(args[3])
    fn(payload)
    args[3] = json.dumps(payload)


def scheduler_body(g: Graph, fn) -> None:
    ht = find(g, "nightly")["inputs"]["httpTarget"]
    body = json.loads(base64.b64decode(ht["body"]))
    fn(body)
    ht["body"] = base64.b64encode(json.dumps(body).encode()).decode()


def set_ir(g: Graph, path: str, value) -> None:
    cur = g.ir
    keys = path.split(".")
    for k in keys[:-1]:
        cur = cur[k]
    cur[keys[-1]] = value


# rule -> (cloud of the compliant graph, mutation that must make the rule fire)
MUTATIONS = {
    "MLS-G-01": ("aws", lambda g: drop(g, "key")),
    "MLS-G-02": ("azure", lambda g: put(g, "scoring", "properties.publicNetworkAccess", "Enabled")),
    "MLS-G-03": ("aws", lambda g: put(g, "model", "executionRoleArn", graphs.role_arn("orchestrator"))),
    "MLS-G-04": ("aws", lambda g: sm_step(g, "Train", lambda a: a["Environment"].update(DB_PASSWORD="hunter22"))),
    "MLS-G-05": ("azure", lambda g: put(g, "law", "retentionInDays", 30)),
    "MLS-G-06": ("gcp", lambda g: kfp_payload(g, lambda p: p["jobSpec"]["workerPoolSpecs"][0]["containerSpec"].update(
        imageUri="docker.io/library/python:3.11"))),
    "MLS-G-07": ("aws", lambda g: set_ir(g, "environment.approval", "none")),
    "MLS-G-08": ("gcp", lambda g: put(g, "root", "labels", {"owner": "x"})),
    "MLS-G-09": ("aws", lambda g: put(g, "training", "pipelineDefinition", "{not json")),
    "MLS-AWS-001": ("aws", lambda g: put(g, "key", "enableKeyRotation", False)),
    "MLS-AWS-002": ("aws", lambda g: put(g, "key", "policy", doc({"Effect": "Allow", "Principal": "*",
                                                                  "Action": "kms:*", "Resource": "*"}))),
    "MLS-AWS-010": ("aws", lambda g: put(g, "data-sse", "rules", [{"applyServerSideEncryptionByDefault": {
        "sseAlgorithm": "AES256"}, "bucketKeyEnabled": True}])),
    "MLS-AWS-011": ("aws", lambda g: put(g, "data-pab", "restrictPublicBuckets", False)),
    "MLS-AWS-012": ("aws", lambda g: drop(g, "data-policy")),
    "MLS-AWS-013": ("aws", lambda g: put(g, "data-versioning", "versioningConfiguration.status", "Suspended")),
    "MLS-AWS-014": ("aws", lambda g: put(g, "data-logging", "targetBucket", "data-b")),
    "MLS-AWS-015": ("aws", lambda g: drop(g, "data-lifecycle")),
    "MLS-AWS-020": ("aws", lambda g: put(g, "repo", "imageTagMutability", "MUTABLE")),
    "MLS-AWS-021": ("aws", lambda g: put(g, "repo", "encryptionConfigurations", [{"encryptionType": "AES256"}])),
    "MLS-AWS-022": ("aws", lambda g: put(g, "repo", "imageScanningConfiguration.scanOnPush", False)),
    "MLS-AWS-023": ("aws", lambda g: put(g, "repo-policy", "policy", doc({"Effect": "Allow", "Principal": "*",
                                                                          "Action": "ecr:*", "Resource": "*"}))),
    "MLS-AWS-030": ("aws", lambda g: put(g, "pipeline-logs", "kmsKeyId", "-")),
    "MLS-AWS-031": ("aws", lambda g: put(g, "pipeline-logs", "retentionInDays", 30)),
    "MLS-AWS-032": ("aws", lambda g: put(g, "alerts", "kmsMasterKeyId", "-")),
    "MLS-AWS-040": ("aws", lambda g: put(g, "sg", "ingress", [{"description": "ssh", "protocol": "tcp",
                                                              "fromPort": 22, "toPort": 22,
                                                              "cidrBlocks": ["0.0.0.0/0"]}])),
    "MLS-AWS-041": ("aws", lambda g: drop(g, "vpce-sts")),
    "MLS-AWS-050": ("aws", lambda g: put(g, "workload", "assumeRolePolicy", doc(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "*"}}))),
    "MLS-AWS-051": ("aws", lambda g: put(g, "serving-ecr", "policyArn", "arn:aws:iam::aws:policy/AdministratorAccess")),
    "MLS-AWS-052": ("aws", lambda g: put(g, "workload-policy", "policy", doc(stmt("Allow", "sagemaker:*", "*")))),
    "MLS-AWS-053": ("aws", lambda g: put(g, "orchestrator-policy", "policy", doc(
        stmt("Allow", "iam:PassRole", "*"), graphs.GUARDRAIL))),
    "MLS-AWS-054": ("aws", lambda g: put(g, "orchestrator-policy", "policy", doc(
        stmt("Allow", "sagemaker:CreateTrainingJob", "arn:aws:sagemaker:us-east-1:1:training-job/*")))),
    "MLS-AWS-055": ("aws", lambda g: put(g, "workload-policy", "policy", doc(
        stmt("Allow", ["s3:GetObject"], ["arn:aws:s3:::someone-elses-bucket/*"])))),
    "MLS-AWS-060": ("aws", lambda g: put(g, "studio", "appNetworkAccessType", "PublicInternetOnly")),
    "MLS-AWS-061": ("aws", lambda g: put(g, "nb", "rootAccess", "Enabled")),
    "MLS-AWS-062": ("aws", lambda g: put(g, "model", "enableNetworkIsolation", False)),
    "MLS-AWS-063": ("aws", lambda g: put(g, "epc", "kmsKeyArn", "-")),
    "MLS-AWS-064": ("aws", lambda g: put(g, "epc", "dataCaptureConfig", "-")),
    "MLS-AWS-065": ("aws", lambda g: put(g, "epc", "productionVariants", [{"variantName": "main", "modelName": "m",
                                                                           "initialInstanceCount": 1}])),
    "MLS-AWS-066": ("aws", lambda g: put(g, "dq", "networkConfig.enableInterContainerTrafficEncryption", False)),
    "MLS-AWS-067": ("aws", lambda g: put(g, "dq", "networkConfig.enableNetworkIsolation", False)),
    "MLS-AWS-068": ("aws", lambda g: sm_step(g, "Prepare", lambda a: a["NetworkConfig"].pop("VpcConfig"))),
    "MLS-AWS-069": ("aws", lambda g: sm_step(g, "Register", lambda a: a.update(ModelApprovalStatus="Approved"))),
    "MLS-AWS-070": ("aws", lambda g: put(g, "review", "outputConfig.kmsKeyId", "-")),
    "MLS-GCP-001": ("gcp", lambda g: put(g, "key", "rotationPeriod", "31536000s")),
    "MLS-GCP-002": ("gcp", lambda g: drop(g, "key-gcp-sa-aiplatform")),
    "MLS-GCP-010": ("gcp", lambda g: put(g, "root", "publicAccessPrevention", "inherited")),
    "MLS-GCP-011": ("gcp", lambda g: put(g, "root-writer", "member", "allUsers")),
    "MLS-GCP-012": ("gcp", lambda g: put(g, "images", "kmsKeyName", "-")),
    "MLS-GCP-020": ("gcp", lambda g: scheduler_body(g, lambda b: b.update(
        serviceAccount="1234-compute@developer.gserviceaccount.com"))),
    "MLS-GCP-021": ("gcp", lambda g: put(g, "pipeline-aiplatform", "role", "roles/editor")),
    "MLS-GCP-022": ("gcp", lambda g: add(g, R("gcp:projects/iAMMember:IAMMember", "actas-project", {
        "project": "p", "role": "roles/iam.serviceAccountUser", "member": graphs.SA}, tag=None))),
    "MLS-GCP-023": ("gcp", lambda g: add(g, R("gcp:serviceaccount/key:Key", "sa-key", {"serviceAccountId": "x"},
                                            tag=None))),
    "MLS-GCP-030": ("gcp", lambda g: put(g, "subnet", "privateIpGoogleAccess", False)),
    "MLS-GCP-040": ("gcp", lambda g: put(g, "dataset", "encryptionSpec", "-")),
    "MLS-GCP-041": ("gcp", lambda g: drop(g, "metadata")),
    "MLS-GCP-042": ("gcp", lambda g: put(g, "scoring", "network", "-")),
    "MLS-GCP-043": ("gcp", lambda g: put(g, "features", "encryptionSpec", "-")),
    "MLS-GCP-044": ("gcp", lambda g: put(g, "tb", "encryptionSpec", "-")),
    "MLS-GCP-045": ("gcp", lambda g: put(g, "index", "publicEndpointEnabled", True)),
    "MLS-GCP-046": ("gcp", lambda g: put(g, "wb", "gceSetup.shieldedInstanceConfig.enableVtpm", False)),
    "MLS-GCP-050": ("gcp", lambda g: scheduler_body(g, lambda b: b.pop("encryptionSpec"))),
    "MLS-GCP-051": ("gcp", lambda g: kfp_payload(g, lambda p: p["jobSpec"].update(enableWebAccess=True))),
    "MLS-GCP-060": ("gcp", lambda g: add(g, R("gcp:accesscontextmanager/servicePerimeter:ServicePerimeter", "perimeter",
                                            {"title": "x"}, tag=None))),
    "MLS-GCP-070": ("gcp", lambda g: g.artifacts["pipelines/training.json"]["deploymentSpec"]["executors"][
        "exec-register"]["container"].update(args=["--aliases", "pending,production"])),
    "MLS-AZ-001": ("azure", lambda g: put(g, "vault", "properties.enablePurgeProtection", False)),
    "MLS-AZ-002": ("azure", lambda g: put(g, "cmk", "properties.rotationPolicy", "-")),
    "MLS-AZ-010": ("azure", lambda g: put(g, "storage", "allowSharedKeyAccess", True)),
    "MLS-AZ-011": ("azure", lambda g: put(g, "storage", "isLocalUserEnabled", True)),
    "MLS-AZ-020": ("azure", lambda g: put(g, "acr", "adminUserEnabled", True)),
    "MLS-AZ-030": ("azure", lambda g: put(g, "appi", "disableLocalAuth", False)),
    "MLS-AZ-040": ("azure", lambda g: put(g, "compute-acrpull", "scope", "/subscriptions/0000/resourceGroups/rg")),
    "MLS-AZ-041": ("azure", lambda g: put(g, "scientists", "roleDefinitionId",
                                          "/providers/Microsoft.Authorization/roleDefinitions/"
                                          "b24988ac-6180-42a0-ab88-20f7382dd24c")),
    "MLS-AZ-050": ("azure", lambda g: put(g, "ws", "allowPublicAccessWhenBehindVnet", True)),
    "MLS-AZ-051": ("azure", lambda g: put(g, "ws", "managedNetwork.isolationMode", "AllowInternetOutbound")),
    "MLS-AZ-052": ("azure", lambda g: put(g, "ws", "encryption", "-")),
    "MLS-AZ-053": ("azure", lambda g: put(g, "ws", "primaryUserAssignedIdentity", "-")),
    "MLS-AZ-054": ("azure", lambda g: put(g, "ws", "hbiWorkspace", False)),
    "MLS-AZ-055": ("azure", lambda g: put(g, "ws", "systemDatastoresAuthMode", "accessKey")),
    "MLS-AZ-056": ("azure", lambda g: put(g, "ws", "v1LegacyMode", "-")),
    "MLS-AZ-057": ("azure", lambda g: drop(g, "zone-api")),
    "MLS-AZ-058": ("azure", lambda g: drop(g, "ws-diag")),
    "MLS-AZ-059": ("azure", lambda g: drop(g, "link-api")),
    "MLS-AZ-060": ("azure", lambda g: put(g, "cpu", "properties.properties.scaleSettings.minNodeCount", 2)),
    "MLS-AZ-061": ("azure", lambda g: put(g, "dev-box", "properties.properties.sshSettings.sshPublicAccess", "Enabled")),
    "MLS-AZ-070": ("azure", lambda g: put(g, "scoring", "properties.authMode", "Key")),
    "MLS-AZ-071": ("azure", lambda g: put(g, "scoring-blue", "properties.egressPublicNetworkAccess", "Enabled")),
    "MLS-AZ-080": ("azure", lambda g: g.artifacts["pipelines/training.yml"]["settings"].pop("default_compute")),
    "MLS-AZ-090": ("azure", lambda g: put(g, "model-v1", "properties.tags", {"mlspec.stage": "approved"})),
}


def test_every_catalogued_rule_has_an_implementation_and_a_case():
    rules = security.load_rules()
    assert sorted(rules) == sorted(baseline.catalogue())
    assert sorted(MUTATIONS) == sorted(baseline.catalogue())


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_compliant_graph_has_zero_findings(cloud):
    assert security.evaluate(graphs.graph(cloud), today=TODAY) == []


def _failing(rule_id: str) -> Graph:
    cloud, mutate = MUTATIONS[rule_id]
    g = graphs.graph(cloud)
    mutate(g)
    return g


@pytest.mark.parametrize("rule_id", sorted(baseline.catalogue()))
def test_rule_passes_on_compliant_graph(rule_id):
    cloud, _ = MUTATIONS[rule_id]
    assert security.evaluate(graphs.graph(cloud), today=TODAY, only=[rule_id]) == []


@pytest.mark.parametrize("rule_id", sorted(baseline.catalogue()))
def test_rule_fails_when_broken(rule_id):
    found = security.evaluate(_failing(rule_id), today=TODAY, only=[rule_id])
    assert found, f"{rule_id} did not fire"
    assert all(f["rule"] == rule_id and f["waived_by"] is None for f in found)
    assert all(set(f) == {"rule", "severity", "resource", "message", "waived_by"} for f in found)


@pytest.mark.parametrize("rule_id", sorted(baseline.catalogue()))
def test_rule_waived(rule_id):
    g = _failing(rule_id)
    waiver = {"rule": rule_id, "reason": "accepted risk for the pilot", "owner": "ml-platform", "until": "2027-03-01"}
    g.ir["waivers"] = [waiver]
    found = security.evaluate(g, today=TODAY, only=[rule_id])
    mine = [f for f in found if f["rule"] == rule_id]
    assert mine
    if baseline.is_waivable(rule_id):
        assert all(f["waived_by"] == waiver for f in mine)
        assert security.unwaived(found) == []
    else:
        assert all(f["waived_by"] is None for f in mine)
        refused = [f for f in found if f["rule"] == security.WAIVER_RULE]
        assert refused and "non-waivable" in refused[0]["message"]


@pytest.mark.parametrize("waiver, why", [
    ({"rule": "MLS-AWS-013", "reason": "r", "owner": "o", "until": "2026-01-01"}, "expired on 2026-01-01"),
    ({"rule": "MLS-AWS-013", "reason": "r", "owner": "o", "until": "next year"}, "must be a date"),
    ({"rule": "MLS-AWS-013", "reason": "", "owner": "o", "until": "2027-01-01"}, "missing reason"),
    ({"rule": "MLS-AWS-013", "reason": "r", "until": "2027-01-01"}, "missing owner"),
    ({"rule": "MLS-AWS-999", "reason": "r", "owner": "o", "until": "2027-01-01"}, "unknown rule"),
    ({"rule": "MLS-AWS-010", "reason": "r", "owner": "o", "until": "2027-01-01"}, "non-waivable"),
    ("MLS-AWS-013", "must be a mapping"),
])
def test_expired_or_malformed_waiver_refused(waiver, why):
    g = _failing("MLS-AWS-013")
    g.ir["waivers"] = [waiver]
    found = security.evaluate(g, today=TODAY)
    refused = [f for f in found if f["rule"] == security.WAIVER_RULE]
    assert len(refused) == 1 and why in refused[0]["message"]
    assert [f for f in found if f["rule"] == "MLS-AWS-013"][0]["waived_by"] is None


def test_waiver_scoped_to_one_resource():
    g = graphs.graph("aws")
    put(g, "data-versioning", "versioningConfiguration.status", "Suspended")
    put(g, "logs-versioning", "versioningConfiguration.status", "Suspended")
    g.ir["waivers"] = [{"rule": "MLS-AWS-013", "reason": "scratch", "owner": "o", "until": "2027-01-01",
                        "resource": "logs"}]
    found = {f["resource"]: f["waived_by"] for f in security.evaluate(g, today=TODAY, only=["MLS-AWS-013"])}
    assert found["aws:s3/bucket:Bucket::logs"] is not None
    assert found["aws:s3/bucket:Bucket::data"] is None


def test_waiver_until_today_is_still_valid():
    assert security.check_waiver({"rule": "MLS-AWS-013", "reason": "r", "owner": "o", "until": "2026-11-26"},
                                 TODAY) is None


def test_per_step_network_isolation_opt_out_comes_from_the_ir():
    g = graphs.graph("aws")
    sm_step(g, "Train", lambda a: a.update(EnableNetworkIsolation=False))
    assert security.evaluate(g, today=TODAY, only=["MLS-AWS-068"])
    g.ir["pipelines"][0]["steps"][0]["network_isolation"] = False
    assert security.evaluate(g, today=TODAY, only=["MLS-AWS-068"]) == []


@pytest.mark.parametrize("classification", ["public", "internal", "confidential", "pii", "phi", None])
def test_hbi_rule_and_lowering_agree_on_every_classification(classification):
    """MLS-AZ-054 asks for `hbiWorkspace` exactly where the Azure ML lowering sets it."""
    from mlspec.targets.azureml.baseline import high_business_impact

    g = graphs.graph("azure")
    g.ir["security"]["data_classification"] = classification
    put(g, "ws", "hbiWorkspace", high_business_impact(classification))
    assert security.evaluate(g, today=TODAY, only=["MLS-AZ-054"]) == []
    put(g, "ws", "hbiWorkspace", not high_business_impact(classification))
    assert bool(security.evaluate(g, today=TODAY, only=["MLS-AZ-054"])) is high_business_impact(classification)


def test_findings_are_sorted_unwaived_first_and_by_severity():
    g = _failing("MLS-AWS-013")
    mutate = MUTATIONS["MLS-AWS-010"][1]
    mutate(g)
    g.ir["waivers"] = [{"rule": "MLS-AWS-013", "reason": "r", "owner": "o", "until": "2027-01-01"}]
    found = security.evaluate(g, today=TODAY)
    assert [f["rule"] for f in found] == ["MLS-AWS-010", "MLS-AWS-013"]
    assert found[-1]["waived_by"] is not None


def test_literal_secret_detection_covers_common_kinds():
    for value in ("AKIAABCDEFGHIJKLMNOP", "-----BEGIN RSA PRIVATE KEY-----",
                  "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abcdefghijklmnopqrstuvwxyz012345==",
                  "https://x.blob.core.windows.net/c?sv=2020&sig=abcdefghijklmnopqrstuvwxyz0123",
                  "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"):
        assert security.literal_secret(value), value
    assert security.literal_secret("arn:aws:secretsmanager:us-east-1:1:secret:x") is None


def test_pipeline_job_submitted_by_a_workflow_is_checked():
    g = graphs.graph("gcp")
    body = {"displayName": "t", "serviceAccount": "pipeline@p.iam.gserviceaccount.com",
            "network": "projects/1/global/networks/ml", "pipelineSpec": "${spec.body}",
            "runtimeConfig": {"gcsOutputDirectory": "gs://root-b/root"}}
    src = {"main": {"steps": [{"submit": {"call": "http.post", "args": {
        "url": "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/europe-west4/pipelineJobs",
        "body": body}}}]}}
    add(g, R("gcp:workflows/workflow:Workflow", "wf", {"sourceContents": json.dumps(src)}, tag="labels"))
    found = security.evaluate(g, today=TODAY, only=["MLS-GCP-050"])
    assert [f["message"] for f in found] == ["no CMEK (`encryptionSpec.kmsKeyName`)"]
    assert found[0]["resource"] == "gcp:workflows/workflow:Workflow::wf"


@pytest.mark.parametrize("rule_id, state, key, value, message", [
    ("MLS-AWS-062", "CreateModel", "EnableNetworkIsolation", False, "CreateModel without EnableNetworkIsolation"),
    ("MLS-AWS-062", "CreateModel", "VpcConfig", None, "CreateModel without VpcConfig"),
    ("MLS-AWS-063", "Config", "KmsKeyId", None, "CreateEndpointConfig without KmsKeyId"),
    ("MLS-AWS-064", "Config", "DataCaptureConfig", None, "no DataCaptureConfig"),
    ("MLS-AWS-065", "Config", "ProductionVariants", [{"VariantName": "primary", "InitialInstanceCount": 1}],
     "has 1 instance(s)"),
])
def test_sagemaker_deploy_path_state_machine_is_checked(rule_id, state, key, value, message):
    g = graphs.graph("aws")
    d = graphs.deploy_definition()
    params = d["States"][state]["Parameters"]
    if value is None:
        params.pop(key)
    else:
        params[key] = value
    put(g, "deploy", "definition", json.dumps(d))
    found = security.evaluate(g, today=TODAY, only=[rule_id])
    assert found and message in found[0]["message"] and found[0]["resource"].endswith(f"::deploy#{state}")


def test_aws_native_monitoring_job_definitions_are_checked():
    g = graphs.graph("aws")
    job = R("aws-native:sagemaker:ModelQualityJobDefinition", "quality", {
        "jobDefinitionName": "quality", "roleArn": graphs.role_arn("monitoring"),
        "networkConfig": {"enableInterContainerTrafficEncryption": True, "enableNetworkIsolation": True,
                          "vpcConfig": graphs.VPC},
        "modelQualityJobOutputConfig": {"kmsKeyId": graphs.KEY_ARN},
        "jobResources": {"clusterConfig": {"volumeKmsKeyId": graphs.KEY_ARN}},
        "tags": [{"key": k, "value": v} for k, v in graphs.TAGS.items()]})
    add(g, job)
    assert security.evaluate(g, today=TODAY) == []
    job["inputs"]["modelQualityJobOutputConfig"] = {}
    found = security.evaluate(g, today=TODAY, only=["MLS-AWS-066"])
    assert [f["message"] for f in found] == ["monitoring output `kmsKeyId` not set"]


@pytest.mark.parametrize("rule_id", ["MLS-AWS-015", "MLS-AWS-031", "MLS-AWS-065", "MLS-G-05", "MLS-G-07"])
def test_production_only_defaults_do_not_apply_to_dev(rule_id):
    g = _failing(rule_id)
    g.ir["environment"] = {"name": "dev", "production": False, "approval": "none"}
    assert security.evaluate(g, today=TODAY, only=[rule_id]) == []


@pytest.mark.parametrize("cloud, name, path, foreign", [
    ("aws", "alerts", "kmsMasterKeyId", "arn:aws:kms:us-east-1:123456789012:key/0000-other-env"),
    ("gcp", "dataset", "encryptionSpec.kmsKeyName", "projects/p/locations/europe-west4/keyRings/dev/cryptoKeys/k"),
])
def test_cmk_must_be_the_stack_own_key(cloud, name, path, foreign):
    g = graphs.graph(cloud)
    put(g, name, path, foreign)
    found = security.evaluate(g, today=TODAY, only=["MLS-G-01"])
    assert found and "which this stack does not create" in found[0]["message"]
    g.ir["security"]["kms_key"] = "existing-key"  # a referenced key cannot be matched offline
    assert security.evaluate(g, today=TODAY, only=["MLS-G-01"]) == []


def test_only_the_shap_monitor_may_reach_the_network():
    """Issue 12 item 9: Clarify SHAP (ModelExplainability) creates and queries a shadow endpoint,
    so that job definition alone may run without network isolation; VPC, encryption and keys
    are still demanded of it, and any other monitoring job without isolation is a finding."""
    g = graphs.graph("aws")

    def job(kind, name, isolated):
        return R(f"aws-native:sagemaker:{kind}JobDefinition", name, {
            "jobDefinitionName": name, "roleArn": graphs.role_arn("monitoring"),
            "networkConfig": {"enableInterContainerTrafficEncryption": True, "enableNetworkIsolation": isolated,
                              "vpcConfig": graphs.VPC},
            f"{kind[0].lower()}{kind[1:]}JobOutputConfig": {"kmsKeyId": graphs.KEY_ARN},
            "jobResources": {"clusterConfig": {"volumeKmsKeyId": graphs.KEY_ARN}},
            "tags": [{"key": k, "value": v} for k, v in graphs.TAGS.items()]})
    shap = job("ModelExplainability", "shap", False)
    add(g, shap)
    assert security.evaluate(g, today=TODAY, only=["MLS-AWS-066", "MLS-AWS-067"]) == []
    shap["inputs"]["networkConfig"]["vpcConfig"] = None
    assert [f["message"] for f in security.evaluate(g, today=TODAY, only=["MLS-AWS-066"])] == [
        "`networkConfig.vpcConfig` not set"]
    add(g, job("ModelBias", "bias", False))
    found = security.evaluate(g, today=TODAY, only=["MLS-AWS-066"])
    assert "`networkConfig.enableNetworkIsolation` is not true" in [f["message"] for f in found]
