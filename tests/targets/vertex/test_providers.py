"""The dynamic providers of the generated program (the pulumi-gcp gap fillers), exercised against
an in-memory fake of google-cloud-aiplatform: alias resolution, the approval gate (MLS-GCP-070),
canary / A/B initial traffic, waiting until a version or a deployed model exists."""
from __future__ import annotations

import ast
import json
import sys
import types
from importlib import resources

import pulumi
import pytest
from google.api_core import exceptions
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

SRC = resources.files("mlspec.targets.vertex").joinpath("templates", "pulumi", "__main__.py").read_text()


def _providers() -> dict:
    tree = ast.parse(SRC)
    classes = [n for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))
               and n.name in ("_DeploymentProvider", "_MonitorProvider", "approvers")]
    ns = {"json": __import__("json"), "pulumi": pulumi, "CreateResult": CreateResult, "DiffResult": DiffResult, "UpdateResult": UpdateResult,
          "ResourceProvider": ResourceProvider}
    exec(compile(ast.Module(body=classes, type_ignores=[]), "__main__.py", "exec"), ns)
    return ns


class FakeVertex:
    """Just enough of google.cloud.aiplatform for the providers."""

    def __init__(self):
        self.versions: dict[str, dict] = {}  # "model@alias" -> {"version", "labels"}
        self.deployed: list[dict] = []
        self.traffic: dict[str, int] = {}
        self.monitor_jobs: list[dict] = []
        self.counter = 0
        fake = self

        class Model:
            def __init__(self, name, version=None):
                key = name if version is None else f"{name}@{version}"
                if "@" in key and key not in fake.versions and version is None:
                    raise exceptions.NotFound(key)
                info = fake.versions.get(key, {"version": version or "1", "labels": {}})
                self.resource_name = f"projects/p/locations/r/models/{name.split('@')[0]}"
                self.version_id, self.labels = info["version"], info["labels"]

            def deploy(self, endpoint, traffic_percentage, deployed_model_display_name, **kw):
                # google-cloud-aiplatform's Endpoint._deploy_call: on an endpoint without traffic the
                # new model's share must be 100
                if not fake.traffic and 0 < traffic_percentage < 100:
                    raise ValueError("There are currently no deployed models so the traffic percentage for "
                                     "this deployed model needs to be 100.")
                fake.counter += 1
                dm = types.SimpleNamespace(id=f"dm{fake.counter}", create_time=f"t{fake.counter:04d}",
                                           display=deployed_model_display_name, kw=kw)
                rest = 100 - traffic_percentage
                total = sum(fake.traffic.values()) or 1
                fake.traffic = {k: round(v * rest / total) for k, v in fake.traffic.items()}
                fake.traffic[dm.id] = traffic_percentage
                fake.deployed.append(dm)

        class Endpoint:
            def __init__(self, name):
                self.name = name

            def list_models(self):
                return list(fake.deployed)

            def update(self, traffic_split):
                fake.traffic = dict(traffic_split)

            def undeploy(self, deployed_model_id):
                fake.deployed = [d for d in fake.deployed if d.id != deployed_model_id]
                fake.traffic.pop(deployed_model_id, None)

        class Job:
            @staticmethod
            def create(**kw):
                fake.monitor_jobs.append(kw)
                return types.SimpleNamespace(resource_name="projects/p/locations/r/modelDeploymentMonitoringJobs/1")

        mm = types.SimpleNamespace(**{n: (lambda **kw: kw) for n in (
            "SkewDetectionConfig", "DriftDetectionConfig", "ObjectiveConfig", "ExplanationConfig",
            "RandomSampleConfig", "ScheduleConfig", "EmailAlertConfig")})
        self.module = types.SimpleNamespace(init=lambda **kw: None, Model=Model, Endpoint=Endpoint,
                                            ModelDeploymentMonitoringJob=Job, model_monitoring=mm)


class FakeStorage:
    """google.cloud.storage's Client.list_blobs over an in-memory bucket."""

    def __init__(self):
        self.objects: dict[tuple[str, str], bytes] = {}
        fake = self

        class Blob:
            def __init__(self, name, data):
                self.name, self._data = name, data

            def download_as_bytes(self):
                return self._data

        class Client:
            def list_blobs(self, bucket, prefix=""):
                return [Blob(n, d) for (b, n), d in sorted(fake.objects.items()) if b == bucket and n.startswith(prefix)]

        self.module = types.SimpleNamespace(Client=Client)

    def approve(self, bucket, model, version, email, by=None):
        self.objects[(bucket, f"{model}/{version}/{email}.json")] = json.dumps(
            {"decision": "approved", "by": by or email}).encode()


@pytest.fixture()
def storage(monkeypatch):
    import google.cloud

    fake = FakeStorage()
    monkeypatch.setitem(sys.modules, "google.cloud.storage", fake.module)
    monkeypatch.setattr(google.cloud, "storage", fake.module, raising=False)
    return fake


@pytest.fixture()
def vertex(monkeypatch):
    import google.cloud

    fake = FakeVertex()
    monkeypatch.setitem(sys.modules, "google.cloud.aiplatform", fake.module)
    monkeypatch.setitem(sys.modules, "google.cloud.aiplatform.model_monitoring", fake.module.model_monitoring)
    monkeypatch.setattr(google.cloud, "aiplatform", fake.module, raising=False)
    return fake


def _props(**kw):
    base = {"project": "p", "region": "r", "endpoint": "123", "alias": "production", "strategy": "canary",
            "initial_percent": 5, "machine": {"machineType": "n1-standard-4"}, "min_replicas": 2, "max_replicas": 4,
            "cpu_target": 60, "service_account": "serving@p.iam.gserviceaccount.com",
            "variants": [{"name": "main", "model_id": "m", "percent": 100}],
            "approval": {"label": "mlspec-decision", "value": "approved", "by_label": "mlspec-decided-by",
                         "not_by": "pipeline_sa"}}
    base.update(kw)
    return base


APPROVED = {"mlspec-decision": "approved", "mlspec-decided-by": "alice_example_com"}


def test_waits_for_an_approved_version(vertex):
    prov = _providers()["_DeploymentProvider"]()
    res = prov.create(_props())
    assert res.outs["deployed"] == {} and vertex.deployed == []  # nothing registered yet
    vertex.versions["m@production"] = {"version": "3", "labels": {}}  # not approved
    assert prov._versions(_props()) == {"main": ""}
    vertex.versions["m@production"] = {"version": "3", "labels": {**APPROVED, "mlspec-decided-by": "pipeline_sa"}}
    assert prov._versions(_props()) == {"main": ""}  # the pipeline may not approve itself
    vertex.versions["m@production"] = {"version": "3", "labels": APPROVED}
    assert prov.diff("id", res.outs, _props()).changes is True
    up = prov.update("id", res.outs, _props())
    assert up.outs["deployed"]["main"]["version"].endswith("@3") and vertex.traffic == {"dm1": 100}


def test_canary_starts_at_initial_share_and_keeps_stable(vertex):
    prov = _providers()["_DeploymentProvider"]()
    vertex.versions["m@production"] = {"version": "3", "labels": APPROVED}
    first = prov.create(_props())
    vertex.versions["m@production"] = {"version": "4", "labels": APPROVED}
    second = prov.update("id", first.outs, _props())
    assert vertex.traffic == {"dm1": 95, "dm2": 5}
    assert second.outs["deployed"]["main"]["deployed_model_id"] == "dm2"
    assert vertex.deployed[1].kw["service_account"] == "serving@p.iam.gserviceaccount.com"
    assert prov.diff("id", second.outs, _props()).changes is False  # alias unchanged: nothing to do


def test_ab_test_sets_variant_split_and_no_approval_gate(vertex):
    prov = _providers()["_DeploymentProvider"]()
    vertex.versions["a@production"] = {"version": "1", "labels": {}}
    vertex.versions["b@production"] = {"version": "7", "labels": {}}
    props = _props(strategy="ab_test", approval=None, variants=[{"name": "a", "model_id": "a", "percent": 80},
                                                                {"name": "b", "model_id": "b", "percent": 20}])
    prov.create(props)  # the first variant lands on an empty endpoint at 100%, then the split is set
    assert vertex.traffic == {"dm1": 80, "dm2": 20}


def test_ab_test_waits_with_the_split_until_every_variant_has_a_version(vertex):
    prov = _providers()["_DeploymentProvider"]()
    vertex.versions["a@production"] = {"version": "1", "labels": {}}
    props = _props(strategy="ab_test", approval=None, variants=[{"name": "a", "model_id": "a", "percent": 50},
                                                                {"name": "b", "model_id": "b", "percent": 50}])
    first = prov.create(props)
    assert vertex.traffic == {"dm1": 100}
    vertex.versions["b@production"] = {"version": "2", "labels": {}}
    prov.update("id", first.outs, props)
    assert vertex.traffic == {"dm1": 50, "dm2": 50}


def test_monitor_waits_for_a_deployed_model(vertex):
    prov = _providers()["_MonitorProvider"]()
    props = {"project": "p", "region": "r", "endpoint": "123", "display_name": "mon", "kind": "data_drift",
             "features": ["amount"], "threshold": 0.2, "baseline": None, "baseline_format": "csv",
             "target_field": None, "interval_hours": 1, "emails": [], "kms_key_name": "k", "labels": {}}
    res = prov.create(props)
    assert res.outs["job"] == "" and prov.diff("id", res.outs, props).changes is True
    vertex.deployed.append(types.SimpleNamespace(id="dm1", create_time="t0"))
    up = prov.update("id", res.outs, props)
    assert up.outs["job"].endswith("/1")
    assert vertex.monitor_jobs[0]["encryption_spec_key_name"] == "k"
    assert prov.diff("id", up.outs, props).changes is False


def test_all_at_once_keeps_the_previous_version_for_rollback(vertex):
    prov = _providers()["_DeploymentProvider"]()
    props = _props(strategy="all_at_once", approval=None, keep_previous=True)
    vertex.versions["m@production"] = {"version": "1", "labels": {}}
    first = prov.create(props)
    vertex.versions["m@production"] = {"version": "2", "labels": {}}
    second = prov.update("id", first.outs, props)
    vertex.versions["m@production"] = {"version": "3", "labels": {}}
    prov.update("id", second.outs, props)
    assert [d.id for d in vertex.deployed] == ["dm2", "dm3"]  # v1 undeployed, v2 kept for rollback
    assert vertex.traffic == {"dm3": 100, "dm2": 0}
    props["keep_previous"] = False
    vertex.versions["m@production"] = {"version": "4", "labels": {}}
    prov.update("id", {**second.outs, "deployed": {"main": {"version": "x@3", "deployed_model_id": "dm3"}}}, props)
    assert [d.id for d in vertex.deployed] == ["dm4"]


def test_monitoring_alert_filter_names_the_job_in_resource_labels():
    tree = ast.parse(SRC)
    [fn] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "monitoring_job_filter"]
    ns = {"REGION": "us-central1"}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), "__main__.py", "exec"), ns)
    got = ns["monitoring_job_filter"]("projects/p/locations/us-central1/modelDeploymentMonitoringJobs/987")
    assert got == ('resource.type="aiplatform.googleapis.com/ModelDeploymentMonitoringJob" '
                   'AND resource.labels.location="us-central1" '
                   'AND resource.labels.model_deployment_monitoring_job_id="987"')


GATE = {"label": "mlspec-decision", "value": "approved", "by_label": "mlspec-decided-by", "not_by": "pipeline_sa",
        "bucket": "approvals", "required": 2,
        "refused": ["pipeline@p.iam.gserviceaccount.com", "workload@p.iam.gserviceaccount.com"]}


def test_labels_and_alias_alone_deploy_nothing_the_approvers_records_decide(vertex, storage):
    """The pipeline's identity can move the alias and write labels; it cannot write the approvals
    bucket, and its own records (were one planted) do not count; `required` distinct approvers."""
    prov = _providers()["_DeploymentProvider"]()
    props = _props(approval=GATE)
    vertex.versions["m@production"] = {"version": "3", "labels": APPROVED}
    assert prov._versions(props) == {"main": ""}  # labels + alias, no approver record
    storage.approve("approvals", "m", "3", "pipeline@p.iam.gserviceaccount.com")
    storage.approve("approvals", "m", "3", "alice@example.com")
    assert prov._versions(props) == {"main": ""}  # one approver of two; the pipeline SA does not count
    storage.approve("approvals", "m", "3", "bob@example.com", by="alice@example.com")  # forged name inside
    assert prov._versions(props) == {"main": ""}
    storage.approve("approvals", "m", "3", "bob@example.com")
    assert prov._versions(props)["main"].endswith("@3")
