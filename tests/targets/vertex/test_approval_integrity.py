"""Approval integrity on Vertex (docs/security.md, "Approval integrity (Vertex AI target)"),
checked against the IAM bindings the generated program creates under Pulumi's mock runtime: in an
environment that requires approval, no identity that runs the pipeline or user code can move the
serving alias into effect, forge an approval, or rewrite the code and specs the launcher runs."""
from __future__ import annotations

import json

import pytest

import fixtures
from buildutil import lower, run_env, write

IRS = [fixtures.maximal_ir("dev"), fixtures.maximal_ir("prod")]
AUTOMATION = ("pipeline", "workload", "serving", "monitoring", "launcher")
#: storage roles that include storage.objects.create / update / delete
WRITE = {"roles/storage.objectAdmin", "roles/storage.objectCreator", "roles/storage.objectUser", "roles/storage.admin",
         "roles/storage.legacyBucketWriter", "roles/storage.legacyBucketOwner", "roles/storage.legacyObjectOwner"}


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    low = lower(IRS)
    build = write(low, IRS, tmp_path_factory.mktemp("vertex-approval"))
    res = run_env(str(build), "prod")["resources"]
    return res, json.loads((build / "pulumi" / "stacks" / "prod.json").read_text())


def _by_name(res):
    return {r["name"]: r for r in res}


def _sa_member(data, key):
    return f"serviceAccount:{next(a['email'] for a in data['service_accounts'] if a['key'] == key)}"


def test_automation_identities_hold_no_write_on_code_or_any_access_to_approvals(prod):
    res, data = prod
    buckets = {b["key"]: b["name"] for b in data["buckets"]}
    members = {_sa_member(data, k) for k in AUTOMATION}
    bindings = [r["inputs"] for r in res if r["type"] == "gcp:storage/bucketIAMMember:BucketIAMMember"]
    seen_code = set()
    for b in bindings:
        if b["member"] not in members:
            continue
        assert b["bucket"] != buckets["approvals"], b
        if b["bucket"] == buckets["code"]:
            assert b["role"] not in WRITE, b
            seen_code.add(b["member"])
    assert _sa_member(data, "workload") in seen_code  # it can read the code it runs, nothing more
    # nothing at project level reaches the buckets either
    for r in res:
        if r["type"] == "gcp:projects/iAMMember:IAMMember" and r["inputs"]["member"] in members:
            assert not r["inputs"]["role"].startswith("roles/storage."), r["inputs"]


def test_user_code_identity_has_no_vertex_role(prod):
    res, data = prod
    workload = _sa_member(data, "workload")
    roles = [r["inputs"]["role"] for r in res if r["type"] == "gcp:projects/iAMMember:IAMMember"
             and r["inputs"]["member"] == workload]
    assert roles == []  # no aiplatform.* role: cannot update models, labels or aliases


def test_runtime_user_code_and_specs_live_in_the_read_only_code_bucket(prod):
    res, data = prod
    code = next(b["name"] for b in data["buckets"] if b["key"] == "code")
    objects = [r["inputs"] for r in res if r["type"] == "gcp:storage/bucketObject:BucketObject"]
    names = {o["name"] for o in objects}
    assert {"code/_mlspec/runtime.py", "pipelines/training.json"} <= names
    assert all(o["bucket"] == code for o in objects)
    spec = json.loads((next(r for r in res if r["name"] == "wf-training"))["inputs"]["sourceContents"])
    steps = spec["main"]["steps"]
    assert f"/b/{code}/o/pipelines%2Ftraining.json" in steps[0]["read_spec"]["args"]["url"]  # the launcher reads it there
    assert steps[1]["submit"]["args"]["body"]["runtimeConfig"]["parameterValues"]["bucket"] == code  # runtime, scripts


def test_deployment_trusts_only_approver_records_no_automation_identity_can_write(prod):
    res, data = prod
    gate = _by_name(res)["deploy-scoring"]["inputs"]["approval"]
    assert gate["bucket"] == next(b["name"] for b in data["buckets"] if b["key"] == "approvals")
    assert set(gate["refused"]) == {a["email"] for a in data["service_accounts"]}
    assert gate["required"] >= 1


def test_the_threat_model_cites_tests_that_exist():
    import re
    from importlib import resources
    from pathlib import Path

    doc = resources.files("mlspec.targets.vertex").joinpath("threat_model.md").read_text()
    tests = Path(__file__).resolve().parents[2]
    cited = re.findall(r"`([\w/]+\.py)(?:::(test_\w+))?", doc)
    assert len(cited) >= 8
    for path, name in cited:
        f = tests.parent / path if path.startswith("tests/") else tests / "targets" / "vertex" / path
        assert f.is_file(), path
        if name:
            assert f"def {name}(" in f.read_text(), (path, name)
