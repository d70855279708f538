"""The generated Pulumi program under Pulumi's mock runtime (mlspec.compiler.plan.harness):
resources, wiring and every GCP row of SECURITY.md; no snake_case leaks, no missing required
inputs, unique URNs; dynamic resources included."""
from __future__ import annotations

import base64
import json

import pytest

import fixtures
from buildutil import lower, run_env, write
from mlspec.targets.vertex import common
from mlspec.compiler.plan.harness import duplicate_urns, missing_required, none_strings, snake_case_leaks

IRS = [fixtures.maximal_ir("dev"), fixtures.maximal_ir("prod")]
BASIC = {"roles/owner", "roles/editor", "roles/viewer"}


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    low = lower(IRS)
    assert [d for d in low.diagnostics if d.severity == "error"] == []
    return str(write(low, IRS, tmp_path_factory.mktemp("vertex-build")))


@pytest.fixture(scope="module", params=["dev", "prod"])
def graph(request, build):
    return request.param, run_env(build, request.param)["resources"]


def by_type(res, suffix):
    return [r for r in res if r["type"].endswith(suffix)]


def one(res, name):
    [r] = [r for r in res if r["name"] == name]
    return r


def test_graph_is_clean(graph):
    _env, res = graph
    assert snake_case_leaks(res) == []
    assert missing_required(res) == []
    assert duplicate_urns(res) == []
    assert none_strings(res) == []
    assert len(res) > 80


def test_kms_key_ring_key_rotation_and_agents(graph):  # MLS-G-01, MLS-GCP-001/002
    _env, res = graph
    key = one(res, "key")
    assert key["protect"] is True
    assert int(key["inputs"]["rotationPeriod"].rstrip("s")) <= 90 * 86400
    grants = by_type(res, ":CryptoKeyIAMMember")
    assert {g["name"] for g in grants} == {"key-vertex", "key-storage", "key-pubsub", "key-workflows", "key-bigquery"}
    for g in grants:
        assert g["inputs"]["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
        assert "key" in g["depends_on"]  # on the key, not the project
    assert one(res, "key-vertex")["inputs"]["member"].endswith("@gcp-sa-aiplatform.iam.gserviceaccount.com")


def test_buckets(graph):  # MLS-GCP-010/011
    env, res = graph
    buckets = by_type(res, "storage/bucket:Bucket")
    assert {b["name"] for b in buckets} == {"bucket-logs", "bucket-pipeline", "bucket-data", "bucket-monitoring",
                                            "bucket-code", "bucket-approvals"}
    for b in buckets:
        i = b["inputs"]
        assert i["uniformBucketLevelAccess"] is True and i["publicAccessPrevention"] == "enforced"
        assert i["encryption"]["defaultKmsKeyName"] and i["versioning"]["enabled"] is True
        assert i["labels"]["mlspec-env"] == env and i["labels"]["owner"]
        assert "mlspec-spec-sha" not in i["labels"]  # lineage lives on pipeline runs and model versions (issue 16)
        assert i["labels"]["mlspec-version"] == "0_1_0"  # from manifest.json at run time, never in artifacts
        if b["name"] != "bucket-logs":
            assert i["logging"]["logBucket"] == f"acme-ml-fraud-detection-{env}-logs"
    for m in by_type(res, "BucketIAMMember"):
        assert m["inputs"]["member"] not in ("allUsers", "allAuthenticatedUsers")


def test_identities_and_roles(graph):  # MLS-GCP-020/021/022/023
    _env, res = graph
    accounts = {a["name"] for a in by_type(res, "serviceaccount/account:Account")}
    assert accounts == {f"sa-{c}" for c in ("pipeline", "workload", "serving", "monitoring", "launcher")}
    for m in by_type(res, "projects/iAMMember:IAMMember"):
        role = m["inputs"]["role"]
        assert role not in BASIC and not role.endswith("Admin") and role != "roles/iam.serviceAccountUser"
        assert "compute@developer" not in m["inputs"]["member"]
    actas = by_type(res, "serviceaccount/iAMMember:IAMMember")
    assert actas and all(a["inputs"]["role"] == "roles/iam.serviceAccountUser" and
                         a["inputs"]["serviceAccountId"].startswith("projects/acme-ml/serviceAccounts/") for a in actas)
    assert not [r for r in res if "serviceAccountKey" in r["type"] or r["type"].endswith(":Key")]


def test_network(graph):  # MLS-G-02, MLS-GCP-030
    _env, res = graph
    sub = one(res, "subnet")["inputs"]
    assert sub["privateIpGoogleAccess"] is True and sub["logConfig"]
    assert one(res, "vertex-peering")["inputs"]["service"] == "servicenetworking.googleapis.com"


def test_metadata_store_and_endpoints(graph):  # MLS-GCP-041/042
    env, res = graph
    assert one(res, "metadata-store")["inputs"]["encryptionSpec"]["kmsKeyName"]
    for ep in by_type(res, "aiEndpoint:AiEndpoint"):
        assert ep["inputs"]["encryptionSpec"]["kmsKeyName"]
        psc = ep["inputs"]["privateServiceConnectConfig"]
        assert "network" not in ep["inputs"]  # PSC, not a peering endpoint (those cannot split traffic)
        assert psc["enablePrivateServiceConnect"] is True and psc["projectAllowlists"] == ["acme-ml"]
        assert psc["pscAutomationConfigs"][0]["network"].endswith(f"/global/networks/fraud-detection-{env}-vpc")
    cap = one(res, "endpoint-scoring")["inputs"]["predictRequestResponseLoggingConfig"]
    assert cap["samplingRate"] == 0.2 and cap["bigqueryDestination"]["outputUri"].startswith("bq://acme-ml.")
    ds = one(res, "capture-dataset")["inputs"]
    assert ds["defaultEncryptionConfiguration"]["kmsKeyName"]


def _workflow(res, name):
    return json.loads(one(res, name)["inputs"]["sourceContents"])


def test_launch_workflow_submits_locked_down_pipeline_job(graph):  # MLS-GCP-050
    env, res = graph
    wf = one(res, "wf-training")["inputs"]
    assert wf["cryptoKeyName"] and wf["serviceAccount"].startswith(f"fraud-detection-{env}-launcher@")
    steps = _workflow(res, "wf-training")["main"]["steps"]
    body = steps[1]["submit"]["args"]["body"]
    assert body["serviceAccount"] == f"fraud-detection-{env}-pipeline@acme-ml.iam.gserviceaccount.com"
    assert body["encryptionSpec"]["kmsKeyName"] and body["network"].endswith(f"fraud-detection-{env}-vpc")
    assert body["runtimeConfig"]["gcsOutputDirectory"].startswith(f"gs://acme-ml-fraud-detection-{env}-pipeline/")
    assert body["runtimeConfig"]["parameterValues"]["network"] == body["network"]
    assert steps[1]["submit"]["args"]["url"].endswith("/projects/acme-ml/locations/us-central1/pipelineJobs")
    spec_obj = one(res, "obj-pipelines-training.json")["inputs"]
    assert spec_obj["contentType"] == "application/json" and spec_obj["kmsKeyName"]


def test_schedules_and_retraining(graph):
    env, res = graph
    job = one(res, "schedule-training")["inputs"]
    assert job["schedule"] == "0 3 * * MON" and job["timeZone"] == "UTC"
    assert job["httpTarget"]["oauthToken"]["serviceAccountEmail"].startswith(f"fraud-detection-{env}-launcher@")
    assert job["httpTarget"]["uri"].endswith(f"/workflows/fraud-detection-{env}-launch-training/executions")
    assert json.loads(base64.b64decode(job["httpTarget"]["body"]))["argument"]
    trig = one(res, "retrain-training")
    assert "wf-training" in trig["depends_on"]
    assert trig["inputs"]["transport"]["pubsub"]["topic"].endswith(f"fraud-detection-{env}-retrain-training")
    drift_alert = one(res, "alert-monitor-input_drift")
    assert "channel-pubsub-fraud-detection-%s-retrain-training" % env in drift_alert["depends_on"]
    assert one(res, f"topic-fraud-detection-{env}-retrain-training")["inputs"]["kmsKeyName"]


def test_rollout_and_rollback(graph):
    env, res = graph
    dep = one(res, "deploy-scoring")
    assert dep["type"] == "pulumi-python:dynamic/vertex:ModelDeployment"
    if env == "prod":  # MLS-GCP-070: only an approver-labelled version is served
        gate = dict(dep["inputs"]["approval"])
        emails = {a["inputs"]["accountId"] + "@acme-ml.iam.gserviceaccount.com"
                  for a in by_type(res, "serviceaccount/account:Account")}
        assert set(gate.pop("refused")) == emails and len(emails) == len(common.COMPONENTS)
        assert gate == {"label": "mlspec-decision", "value": "approved", "by_label": "mlspec-decided-by",
                        "not_by": "fraud-detection-prod-pipeline_acme-ml_iam_gserviceaccount_com",
                        "bucket": "acme-ml-fraud-detection-prod-approvals", "required": 1}
    else:
        assert dep["inputs"].get("approval") is None
    assert dep["inputs"]["alias"] == "production" and dep["inputs"]["initial_percent"] == 5
    assert dep["inputs"]["service_account"].startswith(f"fraud-detection-{env}-serving@")
    assert one(res, "rollout-scoring")["inputs"]["schedule"] == "*/10 * * * *"
    wf = _workflow(res, "wf-rollout-scoring")
    assert "+ 20}" in json.dumps(wf)
    assert one(res, "rollback-scoring")["inputs"]["destination"]["workflow"]
    latency = one(res, "alert-latency")
    assert f"channel-pubsub-fraud-detection-{env}-rollback-scoring" in latency["depends_on"]
    ab = one(res, "deploy-experiment")["inputs"]
    assert [v["percent"] for v in ab["variants"]] == [80, 20] and ab["strategy"] == "ab_test"


def test_monitors(graph):
    _env, res = graph
    assert one(res, "monitor-input_drift")["type"] == "pulumi-python:dynamic/vertex:ModelMonitor"
    drift = one(res, "monitor-input_drift")["inputs"]
    assert drift["kind"] == "data_drift" and drift["kms_key_name"] and drift["emails"] == ["oncall@example.com"]
    assert one(res, "monitor-attribution")["inputs"]["kind"] == "feature_attribution_drift"
    # anomaly entries carry the job in resource.labels; the filter names it (none yet under mocks)
    log = one(res, "alert-monitor-input_drift")["inputs"]["conditions"][0]["conditionMatchedLog"]["filter"]
    assert log.startswith('resource.type="aiplatform.googleapis.com/ModelDeploymentMonitoringJob" ')
    assert 'resource.labels.model_deployment_monitoring_job_id="' in log and "mlspec-monitor" not in log
    quality = one(res, "alert-monitor-quality")["inputs"]["conditions"][0]["conditionThreshold"]
    assert quality["comparison"] == "COMPARISON_LT" and quality["thresholdValue"] == 0.93


def test_first_deploy_on_a_fresh_project(graph):
    """Issue 13 item 5: what a first `pulumi up` needs to exist before it is used. The custom
    metric's descriptor precedes the alert policies on it; service agents are created (or looked
    up) before they are granted anything; private endpoints' PSC automation has its policy."""
    _env, res = graph
    [desc] = by_type(res, "metricDescriptor:MetricDescriptor")
    assert desc["inputs"]["type"] == "custom.googleapis.com/mlspec/monitor_value"
    assert desc["inputs"]["metricKind"] == "GAUGE" and desc["inputs"]["valueType"] == "DOUBLE"
    assert [lab["key"] for lab in desc["inputs"]["labels"]] == ["monitor"]
    custom = [r for r in by_type(res, "alertPolicy:AlertPolicy")
              if "custom.googleapis.com/mlspec/monitor_value" in json.dumps(r["inputs"])]
    assert custom and all(desc["name"] in r["depends_on"] for r in custom)
    # the Pub/Sub publisher grant goes to the monitoring agent the program created, not a guessed email
    agent = one(res, "agent-monitoring")
    assert agent["inputs"]["service"] == "monitoring.googleapis.com"
    for grant in [r for r in by_type(res, "topicIAMMember:TopicIAMMember") if r["name"].endswith("-monitoring")]:
        assert grant["inputs"]["member"].endswith("@gcp-sa-monitoring-notification.iam.gserviceaccount.com")
        assert "agent-monitoring" in grant["depends_on"]
    # the BigQuery encryption agent comes from the provider's look-up (which creates it)
    assert one(res, "key-bigquery")["inputs"]["member"].endswith("@bigquery-encryption.iam.gserviceaccount.com")
    [policy] = by_type(res, "serviceConnectionPolicy:ServiceConnectionPolicy")
    assert policy["inputs"]["serviceClass"] == "gcp-vertexai"
    assert policy["inputs"]["pscConfig"]["subnetworks"] and "subnet" in policy["depends_on"]
    for ep in by_type(res, "aiEndpoint:AiEndpoint"):
        assert policy["name"] in ep["depends_on"]


def test_alerts(graph):
    _env, res = graph
    lat = one(res, "alert-latency")["inputs"]["conditions"][0]["conditionThreshold"]
    assert 'metric.type = "aiplatform.googleapis.com/prediction/online/prediction_latencies"' in lat["filter"]
    assert lat["aggregations"][0]["perSeriesAligner"] == "ALIGN_PERCENTILE_99" and lat["thresholdValue"] == 200
    err = one(res, "alert-errors")["inputs"]["conditions"][0]["conditionThreshold"]
    assert err["thresholdValue"] == 0.01 and "prediction_count" in err["denominatorFilter"]
    assert len(by_type(res, "alertPolicy:AlertPolicy")) == 7 + 5


def test_channels_keep_secrets_secret(graph):  # MLS-G-04
    _env, res = graph
    assert one(res, "channel-slack_ml")["inputs"]["sensitiveLabels"] == "[secret]"
    assert one(res, "channel-pager")["inputs"]["sensitiveLabels"] == "[secret]"
    assert one(res, "channel-hook")["inputs"]["labels"] in ("[secret]", {"url": "[secret]"})
    assert "mock-secret-value" not in json.dumps(res)


def test_dashboard_and_code_upload(graph):
    _env, res = graph
    dash = json.loads(one(res, "dashboard")["inputs"]["dashboardJson"])
    titles = [t["widget"]["title"] for t in dash["mosaicLayout"]["tiles"]]
    assert "scoring: latency p99 (ms)" in titles and "KPI fraud_losses" in titles
    objects = {o["inputs"]["name"] for o in by_type(res, "bucketObject:BucketObject")}
    assert {"code/src/train.py", "code/_mlspec/runtime.py", "pipelines/training.json"} <= objects


def test_batch_workflow(graph):
    env, res = graph
    body = _workflow(res, "wf-batch-nightly")["main"]["steps"][0]["submit"]["args"]["body"]
    assert body["model"].endswith(f"/models/fraud-detection-{env}-fraud-scorer@production")
    assert body["encryptionSpec"]["kmsKeyName"] and body["serviceAccount"].startswith(f"fraud-detection-{env}-workload@")
    assert body["inputConfig"]["instancesFormat"] == "csv"


def test_shadow_is_emulated_offline(graph):
    env, res = graph
    dep = one(res, "deploy-shadowed")["inputs"]
    assert dep["strategy"] == "blue_green" and dep["initial_percent"] == 0
    cap = one(res, "endpoint-shadowed")["inputs"]["predictRequestResponseLoggingConfig"]
    assert cap["samplingRate"] == 0.25  # max(capture 5%, shadow sample 25%)
    job = one(res, "schedule-shadow-shadowed")["inputs"]
    assert job["schedule"] == "0 * * * *"
    body = _workflow(res, "wf-shadow-shadowed")["main"]["steps"][1]["submit"]["args"]["body"]
    assert body["serviceAccount"].startswith("fraud-detect") and "-monitoring@" in body["serviceAccount"]
    assert body["runtimeConfig"]["gcsOutputDirectory"].startswith(f"gs://acme-ml-fraud-detection-{env}-monitoring/")
    assert "rollback-shadowed" in {r["name"] for r in res}


def test_security_baseline_rules_pass(graph, build):
    """mlspec's own baseline rules (mlspec.compiler.plan.security) over the graph and the build:
    only the documented default gaps remain (MLS-G-06 image digests, MLS-G-08 tag heuristics)."""
    from pathlib import Path

    from mlspec.compiler.plan import security

    env, res = graph
    ir = fixtures.maximal_ir(env)
    g = security.Graph(resources=res, artifacts=security.load_artifacts(Path(build)), ir=ir, target="vertex",
                       config=run_env(build, env).get("config") or {})
    failing = {f["rule"] for f in security.unwaived(security.evaluate(g))}
    assert failing <= {"MLS-G-06"}, failing


def test_parquet_batch_pipeline_is_launchable(graph):
    env, res = graph
    body = _workflow(res, "wf-batch-weekly")["main"]["steps"][1]["submit"]["args"]["body"]
    assert body["serviceAccount"].startswith(f"fraud-detection-{env}-pipeline@") and body["encryptionSpec"]
    assert "schedule-batch-weekly" not in {r["name"] for r in res}  # no schedule: on demand


def _check_workflow_shape(doc: dict) -> None:
    """Structural check of a Cloud Workflows definition (JSON syntax): one `main` with params and
    named steps, each step a single action, every `${...}` closed."""
    steps = doc["main"]["steps"]
    actions = {"call", "assign", "switch", "for", "return", "next", "args", "result", "steps", "raise"}
    for step in steps:
        assert len(step) == 1
        body = next(iter(step.values()))
        assert set(body) <= actions, body.keys()

    def strings(node):
        if isinstance(node, dict):
            for k, v in node.items():
                yield k
                yield from strings(v)
        elif isinstance(node, list):
            for v in node:
                yield from strings(v)
        elif isinstance(node, str):
            yield node

    for text in strings(doc):
        if "${" in text:  # a Workflows expression is the whole value, braces balanced
            assert text.startswith("${") and text.endswith("}"), text
            depth = 0
            for ch in text:
                depth += {"{": 1, "}": -1}.get(ch, 0)
                assert depth >= 0, text
            assert depth == 0, text


def test_workflow_bodies_are_valid_vertex_requests(graph, build):
    """The REST bodies the Workflows POST parse as the Vertex API's own PipelineJob /
    BatchPredictionJob messages (with the compiled spec in place of the Workflows expression)."""
    from google.cloud.aiplatform_v1.types import BatchPredictionJob, PipelineJob
    from pathlib import Path

    env, res = graph
    for wf in by_type(res, "workflows/workflow:Workflow"):
        doc = json.loads(wf["inputs"]["sourceContents"])
        _check_workflow_shape(doc)
        for step in doc["main"]["steps"]:
            call = step.get("submit")
            if not call:
                continue
            body = dict(call["args"]["body"])
            if call["args"]["url"].endswith("/pipelineJobs"):
                key = wf["name"].removeprefix("wf-")
                spec_path = next(o["inputs"]["source"] for o in by_type(res, "bucketObject:BucketObject")
                                 if o["inputs"]["name"] == f"pipelines/{key}.json")
                assert body.pop("pipelineSpec") == "${spec.body}"
                job = PipelineJob.from_json(json.dumps(body))
                assert job.service_account and job.encryption_spec.kms_key_name and job.network
                assert spec_path  # the compiled spec is uploaded next to it
            else:
                job = BatchPredictionJob.from_json(json.dumps(body))
                assert job.encryption_spec.kms_key_name and job.service_account


def test_org_policy_guardrails(graph):  # MLS-G-09 run-time backing
    _env, res = graph
    pol = {r["name"]: r["inputs"] for r in by_type(res, "orgpolicy/policy:Policy")}
    assert pol["guardrail-non-cmek"]["name"] == "projects/acme-ml/policies/gcp.restrictNonCmekServices"
    assert "aiplatform.googleapis.com" in pol["guardrail-non-cmek"]["spec"]["rules"][0]["values"]["deniedValues"]
    assert pol["guardrail-key-projects"]["spec"]["rules"][0]["values"]["allowedValues"] == ["under:projects/acme-ml"]


@pytest.mark.parametrize("strategy", ["all_at_once", "linear", "blue_green"])
def test_other_rollouts_run_under_mocks(strategy, tmp_path):
    ir = fixtures.with_rollout(fixtures.maximal_ir("prod"), strategy)
    if strategy == "all_at_once":
        ir["endpoints"][0]["rollout"]["rollback_on"] = ["alert.errors"]
    out = write(lower([ir]), [ir], tmp_path)
    res = run_env(str(out), "prod")["resources"]
    assert snake_case_leaks(res) == [] and missing_required(res) == [] and duplicate_urns(res) == []
    dep = one(res, "deploy-scoring")["inputs"]
    assert dep["strategy"] == strategy
    names = {r["name"] for r in res}
    assert ("rollout-scoring" in names) == (strategy != "all_at_once")  # progression only when progressive
    assert "rollback-scoring" in names and "wf-rollout-scoring" in names
    if strategy == "all_at_once":
        assert dep["keep_previous"] is True


class _Endpoint:
    """A simulated Vertex endpoint behind the rollout workflow's HTTP calls."""

    def __init__(self, models: dict[str, str], split: dict[str, int]):
        self.models, self.split, self.undeployed = dict(models), dict(split), []

    def http(self, call: str, args: dict):
        if call == "http.get":
            return {"body": {"deployedModels": [{"id": i, "createTime": t} for i, t in self.models.items()],
                             "trafficSplit": dict(self.split)}}
        if call == "http.patch":
            assert sum(args["body"]["trafficSplit"].values()) == 100
            self.split = {k: v for k, v in args["body"]["trafficSplit"].items() if v}
            return {"body": {}}
        if call == "http.post" and args["url"].endswith(":undeployModel"):
            dm = args["body"]["deployedModelId"]
            assert not self.split.get(dm), "Vertex refuses to undeploy a model that carries traffic"
            self.undeployed.append(dm)
            self.models.pop(dm)
            return {"body": {}}
        raise AssertionError(call)


def test_rollout_shifts_from_the_model_carrying_traffic_and_retires_the_old_ones(graph):
    from workflows_sim import run

    _env, res = graph
    wf = _workflow(res, "wf-rollout-scoring")
    # an old version left at 0%, the stable one at 100%, the new candidate just deployed at 0%
    ep = _Endpoint({"old": "2026-01-01T00:00:00Z", "stable": "2026-02-01T00:00:00Z",
                    "cand": "2026-03-01T00:00:00Z"}, {"stable": 100})
    run(wf, {"mode": "advance"}, ep.http)
    assert ep.split == {"stable": 80, "cand": 20}  # step 20, taken from the model carrying the traffic
    for _ in range(3):
        run(wf, {"mode": "advance"}, ep.http)
    assert ep.split == {"stable": 20, "cand": 80} and ep.undeployed == []
    run(wf, {"mode": "advance"}, ep.http)
    # the candidate carries everything: the models it replaced are undeployed
    assert ep.split == {"cand": 100} and sorted(ep.undeployed) == ["old", "stable"]
    assert run(wf, {"mode": "advance"}, ep.http) == "single deployed model"


def test_rollout_rollback_returns_all_traffic_to_the_stable_model(graph):
    from workflows_sim import run

    _env, res = graph
    wf = _workflow(res, "wf-rollout-scoring")
    ep = _Endpoint({"old": "2026-01-01T00:00:00Z", "stable": "2026-02-01T00:00:00Z",
                    "cand": "2026-03-01T00:00:00Z"}, {"stable": 60, "cand": 40})
    run(wf, {}, ep.http)  # an alert event: no mode
    assert ep.split == {"stable": 100} and ep.undeployed == []


@pytest.mark.parametrize("mode", ["import", "existing"])
def test_metadata_store_can_be_adopted_or_left_alone(mode, tmp_path):
    """A project that already has its `default` ML Metadata store: `import` adopts it (same CMEK inputs,
    Pulumi import id, kept on destroy), `existing` creates nothing and MLS-GCP-041 says so."""
    from mlspec.compiler.plan import security

    ir = fixtures.maximal_ir("prod")
    ir["targets"]["vertex"]["metadata_store"] = mode
    low = lower([ir])
    assert [d for d in low.diagnostics if d.severity == "error"] == []
    out = write(low, [ir], tmp_path)
    run = run_env(str(out), "prod")
    res = run["resources"]
    stores = [r for r in res if r["name"] == "metadata-store"]
    notes = "\n".join(low.notes)
    g = security.Graph(resources=res, artifacts=security.load_artifacts(out.parent), ir=ir, target="vertex",
                       config=run.get("config") or {})
    failing = {f["rule"] for f in security.unwaived(security.evaluate(g))}
    if mode == "import":
        [store] = stores
        assert store["inputs"]["encryptionSpec"]["kmsKeyName"]
        assert store["import_id"] == "projects/acme-ml/locations/us-central1/metadataStores/default"
        assert store["retain_on_delete"] is True
        assert "adopts the project's existing `default`" in notes and "MLS-GCP-041" not in failing
    else:
        assert stores == []
        assert "MLS-GCP-041 fails" in notes and "MLS-GCP-041" in failing
    assert missing_required(res) == [] and duplicate_urns(res) == []
