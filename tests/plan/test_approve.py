"""approve / reject / status.

SageMaker: real boto3 over HTTP against a moto server the test starts on 127.0.0.1.
Vertex AI and Azure ML: at the SDK-call boundary with FAKE SDK objects (no cloud, no network).
"""
from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from types import SimpleNamespace

import pytest

from testkit import ROOT
from mlspec.compiler import cli
from mlspec.compiler.plan import approve
from mlspec.targets.azureml import approvals as AZ
from mlspec.targets.sagemaker import approvals as SM
from mlspec.targets.vertex import approvals as VX

SPEC = str(ROOT / "specs" / "fraud_detection.mlspec")


def mlspec(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


# --------------------------------------------------------------------------- moto server


@pytest.fixture(scope="module")
def moto_server():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto server did not start")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def aws(moto_server, monkeypatch):
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                 "AWS_ENDPOINT_URL": moto_server, "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    import boto3

    return boto3.session.Session(region_name="us-east-1")


def make_group(session, name: str, versions: int = 2) -> None:
    sm = session.client("sagemaker")
    try:
        sm.create_model_package_group(ModelPackageGroupName=name)
    except sm.exceptions.ClientError:
        pass
    for _ in range(versions):
        sm.create_model_package(
            ModelPackageGroupName=name, ModelApprovalStatus=SM.SAGEMAKER_PENDING,
            InferenceSpecification={"Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"}],
                                    "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]})


def describe(session, group: str, version: int) -> dict:
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{group}/{version}"
    return session.client("sagemaker").describe_model_package(ModelPackageName=arn)


def test_sagemaker_approve_and_status_over_http_moto(aws):
    make_group(aws, "churn")
    code, out, err = mlspec("status", "churn", "--target", "sagemaker", "--region", "us-east-1", "--format", "json")
    assert code == 0, err
    assert [r["version"] for r in json.loads(out)["pending"]] == ["1", "2"]
    code, out, err = mlspec("approve", "churn", "2", "--target", "sagemaker", "--region", "us-east-1",
                            "--reason", "beats the champion by 2 points of F1")
    assert code == 0, err
    assert "churn version 2: Approved (by arn:aws:sts::123456789012:user/moto)" in out
    d = describe(aws, "churn", 2)
    assert d["ModelApprovalStatus"] == "Approved"
    assert d["ApprovalDescription"].startswith("approved by arn:aws:sts::123456789012:user/moto at ")
    assert d["ApprovalDescription"].endswith(": beats the champion by 2 points of F1")
    code, out, _ = mlspec("status", "--target", "sagemaker", "--region", "us-east-1")
    assert code == 0 and "churn  version 1  PendingManualApproval" in out and "version 2" not in out


def test_sagemaker_reject_needs_reason_and_refuses_repeats_over_http_moto(aws):
    make_group(aws, "fraud", versions=1)
    code, _, err = mlspec("reject", "fraud", "1", "--target", "sagemaker", "--region", "us-east-1")
    assert code == 2 and "--reason" in err
    code, out, err = mlspec("reject", "fraud", "1", "--target", "sagemaker", "--region", "us-east-1",
                            "--reason", "drifted on holdout", "--by", "alice", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["status"] == "Rejected" and describe(aws, "fraud", 1)["ModelApprovalStatus"] == "Rejected"
    assert "rejected by alice (as arn:aws:sts::123456789012:user/moto)" in describe(aws, "fraud", 1)["ApprovalDescription"]
    code, _, err = mlspec("reject", "fraud", "1", "--target", "sagemaker", "--region", "us-east-1", "--reason", "x")
    assert code == 1 and "already Rejected" in err
    code, _, err = mlspec("approve", "fraud", "9", "--target", "sagemaker", "--region", "us-east-1")
    assert code == 1 and "no version 9" in err


def test_sagemaker_spec_names_and_pipeline_role_refused_over_http_moto(aws, monkeypatch):
    group = "fraud-detection-prod-fraud-scorer"
    make_group(aws, group, versions=1)
    creds = aws.client("sts").assume_role(RoleArn="arn:aws:iam::123456789012:role/fraud-detection-prod-pipeline",
                                          RoleSessionName="pipeline")["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", creds["SessionToken"])
    code, _, err = mlspec("approve", "fraud_scorer", "1", "--target", "sagemaker", "--spec", SPEC, "--env", "prod")
    assert code == 1 and "pipeline identity `fraud-detection-prod-pipeline`" in err
    for k in ("AWS_SESSION_TOKEN",):
        monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    code, out, err = mlspec("approve", "fraud_scorer", "1", "--target", "sagemaker", "--spec", SPEC, "--env", "prod",
                            "--reason", "risk review 2026-11")
    assert code == 0, err
    assert describe(aws, group, 1)["ModelApprovalStatus"] == "Approved"


def test_sagemaker_unreachable_endpoint_is_an_operation_failure(monkeypatch):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there
    for k, v in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                 "AWS_MAX_ATTEMPTS": "1", "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(k, v)
    code, _, err = mlspec("status", "--target", "sagemaker", "--region", "us-east-1")
    assert code == 5 and "the cloud call failed" in err and "Traceback" not in err


def test_missing_settings_are_usage_errors(monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert mlspec("approve", "m", "1", "--target", "sagemaker")[0] == 2
    code, _, err = mlspec("status", "--target", "vertex")
    assert code == 2 and "--project" in err
    code, _, err = mlspec("approve", "m", "1", "--target", "azureml", "--subscription", "s")
    assert code == 2 and "--resource-group" in err and "--workspace" in err


# --------------------------------------------------------------------------- Vertex (fake SDK)


class FakeVertex:
    """The slice of google.cloud.aiplatform that VertexBackend calls, recording every call."""

    def __init__(self, versions: dict[str, list[str]]):
        self.versions = versions  # version id -> aliases
        self.labels: dict[str, dict] = {}
        self.calls: list = []
        fake = self

        class ModelRegistry:
            def __init__(self, model, project=None, location=None):
                fake.calls.append(("ModelRegistry", model, project, location))

            def get_version_info(self, version):
                return SimpleNamespace(version_id=version, version_aliases=list(fake.versions[version]))

            def list_versions(self):
                return [SimpleNamespace(version_id=v, version_aliases=a, model_resource_name="m",
                                        version_create_time=None) for v, a in sorted(fake.versions.items())]

            def add_version_aliases(self, new_aliases, version):
                fake.calls.append(("add_version_aliases", new_aliases, version))
                for v in fake.versions.values():  # an alias names one version at a time
                    for a in new_aliases:
                        if a in v:
                            v.remove(a)
                fake.versions[version] += new_aliases

            def remove_version_aliases(self, target_aliases, version):
                fake.calls.append(("remove_version_aliases", target_aliases, version))
                fake.versions[version] = [a for a in fake.versions[version] if a not in target_aliases]

        class Model:
            def __init__(self, model_name, project=None, location=None):
                self.name = model_name
                self.labels = dict(fake.labels.get(model_name, {"mlspec-system": "fraud"}))

            def update(self, labels=None, description=None):
                fake.calls.append(("Model.update", self.name, labels, description))
                fake.labels[self.name] = labels

        self.models = SimpleNamespace(ModelRegistry=ModelRegistry)
        self.Model = Model

    def init(self, project=None, location=None):
        self.calls.append(("init", project, location))


class FakeGCS:
    """The slice of google.cloud.storage.Client that VertexBackend uses (create-only uploads)."""

    def __init__(self):
        self.objects: dict[tuple[str, str], bytes] = {}
        gcs = self

        class Blob:
            def __init__(self, bucket, name):
                self.bucket, self.name = bucket, name

            def upload_from_string(self, data, content_type=None, if_generation_match=None):
                if if_generation_match == 0 and (self.bucket, self.name) in gcs.objects:
                    raise RuntimeError("412 precondition failed")
                gcs.objects[(self.bucket, self.name)] = data.encode() if isinstance(data, str) else data

            def download_as_bytes(self):
                return gcs.objects[(self.bucket, self.name)]

        self._blob = Blob

    def bucket(self, name):
        return SimpleNamespace(blob=lambda n: self._blob(name, n))

    def list_blobs(self, bucket, prefix=""):
        return [self._blob(b, n) for (b, n) in sorted(self.objects) if b == bucket and n.startswith(prefix)]


@pytest.fixture
def vertex(monkeypatch):
    fake = FakeVertex({"1": [VX.VERTEX_APPROVED_ALIAS, "default"], "2": [VX.VERTEX_PENDING_ALIAS]})
    who = {"email": "Lead@Example.com"}
    fake.gcs = FakeGCS()
    fake.who = who
    monkeypatch.setitem(approve.BACKENDS, "vertex", VX.VertexBackend(aiplatform=fake, storage=fake.gcs,
                                                                          whoami=lambda: who["email"]))
    return fake


def test_vertex_approval_records_the_callers_identity_and_refuses_pipeline_identities(vertex):
    base = ["--target", "vertex", "--spec", SPEC, "--env", "prod", "--reason", "ok"]
    code, _, err = mlspec("approve", "fraud_scorer", "2", *base, "--by", "someone-else")
    assert code == 2 and "--by is not accepted" in err
    for component in ("pipeline", "workload"):
        vertex.who["email"] = f"fraud-detection-prod-{component}@acme-ml.iam.gserviceaccount.com"
        code, _, err = mlspec("approve", "fraud_scorer", "2", *base)
        assert code == 1 and "cannot approve" in err
    assert vertex.gcs.objects == {} and vertex.versions["2"] == [VX.VERTEX_PENDING_ALIAS]
    vertex.who["email"] = "alice@example.com"
    code, _, err = mlspec("approve", "fraud_scorer", "2", *base)
    assert code == 0, err
    [(bucket, name)] = vertex.gcs.objects
    assert bucket == "acme-ml-fraud-detection-prod-approvals"
    assert name == "fraud-detection-prod-fraud-scorer/2/alice@example.com.json"
    assert json.loads(vertex.gcs.objects[(bucket, name)])["by"] == "alice@example.com"


def test_vertex_required_approvals_are_distinct_callers(vertex, monkeypatch):
    real = approve.resolve

    def two_required(args):
        w = real(args)
        w.approvals_required = 2
        return w

    monkeypatch.setattr(approve, "resolve", two_required)
    base = ["--target", "vertex", "--spec", SPEC, "--env", "prod", "--reason", "ok"]
    vertex.who["email"] = "alice@example.com"
    code, out, err = mlspec("approve", "fraud_scorer", "2", *base)
    assert code == 0 and "1 of 2 approvals" in out, err
    assert vertex.versions["2"] == [VX.VERTEX_PENDING_ALIAS]
    code, _, err = mlspec("approve", "fraud_scorer", "2", *base)  # the same approver again
    assert code == 1 and "already approved" in err and vertex.versions["2"] == [VX.VERTEX_PENDING_ALIAS]
    vertex.who["email"] = "bob@example.com"
    code, out, err = mlspec("approve", "fraud_scorer", "2", *base)
    assert code == 0, err
    assert vertex.versions["2"] == [VX.VERTEX_APPROVED_ALIAS]


def test_vertex_approve_moves_production_alias_with_fake_sdk(vertex):
    code, out, err = mlspec("approve", "fraud_scorer", "2", "--target", "vertex", "--spec", SPEC, "--env", "prod",
                            "--reason", "passes the quality gate")
    assert code == 0, err
    resource = "projects/acme-ml/locations/us-central1/models/fraud-detection-prod-fraud-scorer"
    assert ("init", "acme-ml", "us-central1") in vertex.calls
    assert ("ModelRegistry", resource, "acme-ml", "us-central1") in vertex.calls
    assert ("add_version_aliases", [VX.VERTEX_APPROVED_ALIAS], "2") in vertex.calls
    assert ("remove_version_aliases", [VX.VERTEX_PENDING_ALIAS], "2") in vertex.calls
    assert vertex.versions == {"1": ["default"], "2": [VX.VERTEX_APPROVED_ALIAS]}
    (_, name, labels, desc), = [c for c in vertex.calls if c[0] == "Model.update"]
    assert name == f"{resource}@2" and labels[VX.VERTEX_LABEL_DECISION] == "approved"
    assert labels[VX.VERTEX_LABEL_BY] == "lead_example_com" and labels["mlspec-system"] == "fraud"
    assert desc.startswith("approved by Lead@Example.com at ") and desc.endswith(": passes the quality gate")


def test_vertex_reject_status_and_refusal_with_fake_sdk(vertex):
    args = ["--target", "vertex", "--project", "p", "--region", "europe-west4"]
    code, out, _ = mlspec("status", "projects/p/locations/europe-west4/models/m", *args, "--format", "json")
    assert code == 0 and [r["version"] for r in json.loads(out)["pending"]] == ["2"]
    code, _, err = mlspec("approve", "projects/p/locations/europe-west4/models/m", "1", *args)
    assert code == 1 and "not pending approval" in err
    code, _, err = mlspec("reject", "projects/p/locations/europe-west4/models/m", "2", *args, "--reason", "bias")
    assert code == 0, err
    assert vertex.versions["2"] == [] and vertex.labels["projects/p/locations/europe-west4/models/m@2"][
        VX.VERTEX_LABEL_DECISION] == "rejected"


# --------------------------------------------------------------------------- Azure ML (fake SDK)


class FakeMLClient:
    def __init__(self, versions: dict[str, dict]):
        self.store = {v: SimpleNamespace(name="fraud_scorer", version=v, tags=dict(t), id=f"azureml:fraud_scorer:{v}")
                      for v, t in versions.items()}
        self.saved: list = []
        self.models = self

    def get(self, name, version=None):
        return self.store[version]

    def list(self, name=None):
        return list(self.store.values())

    def create_or_update(self, model):
        self.saved.append((model.version, dict(model.tags)))
        self.store[model.version] = model
        return model


@pytest.fixture
def azure(monkeypatch):
    pending = {AZ.AZURE_STAGE_TAG: AZ.AZURE_PENDING_STAGE, "mlspec.registered_by": "pipeline-oid",
               "mlspec.approvals_required": "2"}
    client = FakeMLClient({"3": pending, "4": dict(pending, **{"mlspec.approvals_required": "1"}),
                           "5": {AZ.AZURE_STAGE_TAG: AZ.AZURE_APPROVED_STAGE}})
    who = {"id": ("alice-oid", "alice@example.com")}
    seen = []
    backend = AZ.AzureBackend(client_factory=lambda w: seen.append(w) or client, whoami=lambda: who["id"])
    monkeypatch.setitem(approve.BACKENDS, "azureml", backend)
    return client, who, seen


def test_azure_approval_counts_distinct_approvers_with_fake_sdk(azure):
    client, who, seen = azure
    args = ["--target", "azureml", "--subscription", "sub", "--resource-group", "rg", "--workspace", "ws"]
    code, out, err = mlspec("approve", "fraud_scorer", "3", *args, "--reason", "ok")
    assert code == 0 and "pending_approval" in out, err  # 1 of 2 approvals
    who["id"] = ("bob-oid", "bob@example.com")
    code, out, err = mlspec("approve", "fraud_scorer", "3", *args, "--reason", "ok too")
    assert code == 0 and ": approved" in out, err
    tags = client.store["3"].tags
    assert tags[AZ.AZURE_STAGE_TAG] == AZ.AZURE_APPROVED_STAGE
    assert tags[AZ.AZURE_APPROVED_BY_TAG] == "alice-oid,bob-oid" and tags["mlspec.approvals"] == "alice-oid,bob-oid"
    assert tags[AZ.AZURE_REASON_TAG].endswith(": ok too")
    assert (seen[0].subscription, seen[0].resource_group, seen[0].workspace) == ("sub", "rg", "ws")


def test_azure_refuses_pipeline_identity_and_non_pending_with_fake_sdk(azure):
    client, who, _ = azure
    args = ["--target", "azureml", "--subscription", "sub", "--resource-group", "rg", "--workspace", "ws"]
    who["id"] = ("pipeline-oid", "pipeline")
    code, _, err = mlspec("approve", "fraud_scorer", "4", *args)
    assert code == 1 and "pipeline identity" in err and client.saved == []
    who["id"] = ("carol-oid", "carol")
    code, _, err = mlspec("approve", "fraud_scorer", "5", *args)
    assert code == 1 and "not pending_approval" in err
    code, _, _ = mlspec("reject", "fraud_scorer", "4", *args, "--reason", "fails fairness")
    assert code == 0 and client.store["4"].tags[AZ.AZURE_STAGE_TAG] == AZ.AZURE_REJECTED_STAGE
    code, out, _ = mlspec("status", *args, "--format", "json")
    assert [r["version"] for r in json.loads(out)["pending"]] == ["3"]


def test_mechanism_names_agree_with_the_targets():
    from mlspec.targets.vertex import common

    assert (common.PENDING_ALIAS, common.PRODUCTION_ALIAS) == (VX.VERTEX_PENDING_ALIAS, VX.VERTEX_APPROVED_ALIAS)
    script = (ROOT / "targets" / "azureml" / "templates" / "code" / "_mlspec" / "approve.py").read_text()
    for name in (AZ.AZURE_STAGE_TAG, AZ.AZURE_PENDING_STAGE, AZ.AZURE_APPROVED_STAGE, AZ.AZURE_REJECTED_STAGE,
                 AZ.AZURE_APPROVED_BY_TAG, AZ.AZURE_REASON_TAG):
        assert name in script, name


def test_vertex_status_lists_every_model_of_the_spec_with_fake_sdk(vertex):
    code, out, err = mlspec("status", "--target", "vertex", "--spec", SPEC, "--env", "prod", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["pending"]
    assert [(r["model"], r["version"]) for r in rows] == [
        ("projects/acme-ml/locations/us-central1/models/fraud-detection-prod-fraud-scorer", "2")]
