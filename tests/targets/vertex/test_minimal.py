"""The smallest system (no endpoints, monitors, alerts, channels, batch, gates or schedule):
the spec and the program still come out valid, and nothing optional is created."""
from __future__ import annotations

import json

import fixtures
from buildutil import lower, run_env, write
from mlspec.compiler.features import features_used
from mlspec.compiler.plan.harness import duplicate_urns, missing_required, snake_case_leaks
from kfpcheck import graph_errors


def test_minimal_system(tmp_path):
    ir = fixtures.minimal_ir()
    assert {f for f, _ in features_used(ir)} >= {"step.train", "step.register"}
    low = lower([ir])
    assert [d for d in low.diagnostics if d.severity == "error"] == []
    spec = json.loads(json.dumps(next(a.content for a in low.artifacts if a.kind == "kfp-pipeline-spec")))
    assert graph_errors(spec) == []
    assert "triggerPolicy" not in spec["root"]["dag"]["tasks"]["register"]
    assert "train-track" in spec["root"]["dag"]["tasks"]  # tracked although nothing evaluates it
    out = write(low, [ir], tmp_path)
    res = run_env(str(out), "dev")["resources"]
    assert snake_case_leaks(res) == [] and missing_required(res) == [] and duplicate_urns(res) == []
    types = {r["type"].split(":")[-1] for r in res}
    assert {"AiEndpoint", "Dashboard", "AlertPolicy", "Job", "Trigger", "Dataset"}.isdisjoint(types)
    assert {"Workflow", "Bucket", "CryptoKey", "AiMetadataStore", "Account"} <= types
