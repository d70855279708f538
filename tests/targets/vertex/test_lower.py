"""Lowering contract: artifacts and kinds, determinism across runs and PYTHONHASHSEED, no SDK
imported at compile time, refusals and lowering diagnostics, settings variants, rollouts."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fixtures
from buildutil import lower, serialise
from mlspec.compiler.check import capabilities as capcheck
from mlspec.targets.vertex import Vertex

REPO = Path(__file__).resolve().parents[3]
IRS = [fixtures.maximal_ir("dev"), fixtures.maximal_ir("prod")]


def _data(low, env):
    [a] = [a for a in low.artifacts if a.path == f"pulumi/stacks/{env}.json"]
    return a.content


def test_artifact_set_and_kinds():
    low = lower(IRS)
    kinds = {a.path: a.kind for a in low.artifacts}
    assert kinds["pulumi/Pulumi.yaml"] == "pulumi-project"
    assert kinds["pulumi/__main__.py"] == "pulumi-program"
    assert kinds["pulumi/requirements.txt"] == "pulumi-requirements"
    for env in ("dev", "prod"):
        assert kinds[f"pulumi/Pulumi.{env}.yaml"] == "pulumi-stack-config"
        assert kinds[f"pulumi/stacks/{env}.json"] == "pulumi-stack-data"
        assert kinds[f"pipelines/{env}/training.json"] == "kfp-pipeline-spec"
    assert len(kinds) == len(low.artifacts)  # unique paths
    reqs = next(a.content for a in low.artifacts if a.kind == "pulumi-requirements")
    from importlib import metadata

    pins = [line.split("==") for line in reqs.splitlines() if line and not line.startswith("#")]
    assert pins and all(metadata.version(name) == version for name, version in pins)  # tested == pinned
    cfg = next(a.content for a in low.artifacts if a.path == "pulumi/Pulumi.prod.yaml")
    assert cfg["config"]["gcp:project"] == "acme-ml" and cfg["config"]["gcp:region"] == "us-central1"
    assert cfg["config"]["gcp:defaultLabels"]["mlspec-env"] == "prod"


def test_program_is_fixed_and_contains_no_spec_strings():
    low = lower(IRS)
    program = next(a.content for a in low.artifacts if a.kind == "pulumi-program")
    other = lower([fixtures.with_rollout(fixtures.maximal_ir("prod"), "linear")])
    assert program == next(a.content for a in other.artifacts if a.kind == "pulumi-program")
    for word in ("fraud", "acme", "scoring", "oncall"):
        assert word not in program


def _blob(low) -> bytes:
    return b"".join(a.path.encode() + b"\0" + serialise(a) for a in sorted(low.artifacts, key=lambda a: a.path))


def test_deterministic_in_process():
    assert _blob(lower(IRS)) == _blob(lower(copy.deepcopy(IRS)))


def test_deterministic_across_hash_seeds_and_imports_no_sdk():
    code = (
        "import sys, json, hashlib; sys.path.insert(0, %r)\n"
        "import fixtures, buildutil\n"
        "low = buildutil.lower([fixtures.maximal_ir('dev'), fixtures.maximal_ir('prod')])\n"
        "blob = b''.join(a.path.encode() + buildutil.serialise(a) for a in sorted(low.artifacts, key=lambda a: a.path))\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_gcp', 'kfp') "
        "or m.startswith('google.cloud.aiplatform'))\n"
        "print(json.dumps([hashlib.sha256(blob).hexdigest(), bad]))\n" % str(Path(__file__).parent))
    outs = []
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, check=True)
        outs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    assert outs[0][0] == outs[1][0]
    assert outs[0][1] == [] and outs[1][1] == []


def test_no_absolute_paths_or_versions_in_artifacts():
    blob = _blob(lower(IRS)).decode()
    assert str(REPO) not in blob and "/tmp/" not in blob and "0.1.0" not in blob


def test_refusals_are_capability_diagnostics():
    diags, _notes = capcheck.check(fixtures.refused_ir(), Vertex(), {})
    got = sorted((d.code, d.summary.split("(`")[1].split("`")[0]) for d in diags)
    assert got == [("E501", "data.format.delta"), ("E501", "endpoint.auth.key"),
                   ("E501", "tracking.mlflow")]
    assert all(d.hint.startswith("alternatives: ") for d in diags)


def test_emulations_are_reported():
    _diags, notes = capcheck.check(fixtures.maximal_ir(), Vertex(), {})
    text = "\n".join(notes)
    for feature in ("rollout.canary", "rollout.shadow", "rollout.auto_rollback", "monitor.model_quality",
                    "approval.manual", "pipeline.retrain_on"):
        assert f"`{feature}` is emulated" in text
    low_notes = "\n".join(lower(IRS).notes)
    assert "shadow emulated offline" in low_notes and "MLS-G-06 is not met" in low_notes


def test_lowering_diagnostics():
    ir = fixtures.maximal_ir("prod")
    ir["endpoints"][0]["capture"] = None  # model_quality monitor needs capture
    ir["targets"]["vertex"]["project"] = "Bad_Project"
    ir["datasets"][1]["uri"] = "s3://elsewhere/x/"  # the batch input
    ir["pipelines"][0]["steps"][2]["framework"] = {"name": "xgboost", "version": "99.0"}
    codes = sorted({d.code for d in lower([ir, fixtures.maximal_ir("dev")]).diagnostics})
    assert codes == ["E502", "E504", "E505", "W505"]


def test_parquet_batch_is_emulated_by_a_batch_pipeline():
    from kfpcheck import graph_errors

    ir = fixtures.maximal_ir("prod")
    ir["batch"] = ir["batch"][:1]
    ir["batch"][0]["data"] = "dataset.transactions"  # parquet: BatchPredictionJob cannot read it
    low = lower([ir])
    assert not [d for d in low.diagnostics if d.severity == "error"]
    data = _data(low, "prod")
    assert data["batch"] == [] and data["batch_pipelines"][0]["launch"]["schedule"]["cron"] == "0 1 * * *"
    spec = json.loads(serialise(next(a for a in low.artifacts if a.path == "pipelines/prod/batch-nightly.json")))
    assert graph_errors(spec) == []
    assert set(spec["root"]["dag"]["tasks"]) == {"resolve", "score", "importer-transactions"}
    assert "parquet; emulated by a scheduled batch pipeline" in "\n".join(low.notes)


def test_existing_network_key_and_waivers():
    ir = fixtures.maximal_ir("prod")
    ir["targets"]["vertex"].update(network="projects/acme-net/global/networks/ml", project_number="123456789012")
    ir["security"]["kms_key"] = "projects/acme-sec/locations/us-central1/keyRings/r/cryptoKeys/k"
    ir["waivers"] = [{"rule": "MLS-G-06", "reason": "mirrored later", "owner": "ml-platform", "until": "2027-03-01"}]
    low = lower([ir])
    data = _data(low, "prod")
    assert data["network"] == {"create": False, "network": "projects/acme-net/global/networks/ml", "subnet": None}
    assert data["kms"] == {"create": False, "key_name": ir["security"]["kms_key"]}
    assert data["project_number"] == "123456789012" and data["waived"] == ["MLS-G-06"]
    assert data["guardrails"]["key_projects"] == ["under:projects/acme-sec"]  # the existing key's project
    ir["targets"]["vertex"]["project_guardrails"] = False
    assert _data(lower([ir]), "prod")["guardrails"] is None
    notes = "\n".join(low.notes)
    assert "waived rules: MLS-G-06 (mirrored later" in notes and "MLS-G-06 is not met" not in notes
    spec = next(a.content for a in low.artifacts if a.path == "pipelines/prod/training.json")
    assert spec["root"]["inputDefinitions"]["parameters"]["encryption_key"]["defaultValue"] == ir["security"]["kms_key"]


@pytest.mark.parametrize("strategy", sorted(fixtures.ROLLOUTS))
def test_every_rollout_strategy(strategy):
    low = lower([fixtures.with_rollout(fixtures.maximal_ir("prod"), strategy)])
    assert not [d for d in low.diagnostics if d.severity == "error"]
    ep = _data(low, "prod")["endpoints"][0]
    assert ep["rollout"]["strategy"] == strategy
    if strategy == "all_at_once":
        assert ep["progress_workflow"] is None
    else:
        assert ep["progress_workflow"] and ep["rollout"]["interval_s"] > 0
        assert 0 <= ep["rollout"]["initial_percent"] <= 100 and ep["rollout"]["step_percent"] > 0


def test_settings_pattern_accepts_example_values():
    import re

    for key, s in Vertex.settings.items():
        if s.pattern and s.example:
            assert re.fullmatch(s.pattern, s.example), key


def test_labels_and_names_follow_gcp_rules():
    from mlspec.targets.vertex import naming

    data = _data(lower(IRS), "prod")
    for k, v in data["labels"].items():
        assert naming.check(naming.LABEL_KEY_RE, k) and naming.check(naming.LABEL_VALUE_RE, v), (k, v)
    for sa in data["service_accounts"]:
        assert naming.check(naming.SA_ID_RE, sa["account_id"]), sa
    for b in data["buckets"] + [data["log_bucket"]]:
        assert naming.check(naming.BUCKET_RE, b["name"])
    for p in data["pipelines"]:
        assert naming.check(naming.WORKFLOW_RE, p["workflow"])
    long = naming.service_account_id("a_very_long_system_name_indeed", "production", "monitoring")
    assert naming.check(naming.SA_ID_RE, long) and long.endswith("-monitoring")


def test_approval_names_agree_with_mlspec_approve():
    from mlspec.targets.vertex import approvals
    from mlspec.targets.vertex import common

    assert (common.PENDING_ALIAS, common.PRODUCTION_ALIAS) == (approvals.VERTEX_PENDING_ALIAS,
                                                              approvals.VERTEX_APPROVED_ALIAS)
    assert (common.DECISION_LABEL, common.DECIDED_BY_LABEL) == (approvals.VERTEX_LABEL_DECISION,
                                                               approvals.VERTEX_LABEL_BY)


def _images(low) -> set[str]:
    out = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("image_uri", "serving_image", "image") and isinstance(v, str):
                    out.add(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str) and node.startswith("{"):
            try:
                walk(json.loads(node))
            except ValueError:
                pass

    for a in low.artifacts:
        if a.kind == "kfp-pipeline-spec":
            walk(a.content["deploymentSpec"])
    return out


def test_image_digests_pin_every_image(tmp_path):
    from mlspec.compiler.plan import security
    from buildutil import write

    irs = [fixtures.maximal_ir("prod")]
    before = _images(lower(irs))
    assert before and all("@sha256:" not in i for i in before)
    assert "MLS-G-06 is not met for" in "\n".join(lower(irs).notes)
    irs[0]["targets"]["vertex"]["image_digests"] = [f"{i}@sha256:{'a' * 64}" for i in sorted(before)]
    low = lower(irs)
    after = _images(low)
    assert after == {f"{i}@sha256:{'a' * 64}" for i in before}
    assert "MLS-G-06" not in "\n".join(low.notes)
    out = write(low, irs, tmp_path)
    g = security.Graph(resources=[], artifacts=security.load_artifacts(out), ir=irs[0], target="vertex")
    assert security.unwaived(security.evaluate(g, only=["MLS-G-06"])) == []


def test_slack_channel_names_the_notification_channels_slack_channel():
    ir = fixtures.maximal_ir("prod")
    slack = next(ch for ch in ir["channels"] if ch["type"] == "slack")
    assert next(c for c in _data(lower([ir]), "prod")["channels"] if c["key"] == slack["name"])["labels"] == {
        "channel_name": f"#{slack['name']}"}  # default: #<channel name>
    slack["slack_channel"] = "#ml-alerts"
    assert next(c for c in _data(lower([ir]), "prod")["channels"] if c["key"] == slack["name"])["labels"] == {
        "channel_name": "#ml-alerts"}
