"""The example specs through the real front end (`mlspec compile --target vertex`): each either
builds (vendor-valid PipelineSpecs, program clean under mocks, only the documented baseline gaps)
or is refused with the expected capability diagnostics. Skipped while the front end itself
reports an internal error (E9xx) for a spec."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from buildutil import OVERRIDES
from mlspec.compiler import api
from kfpcheck import graph_errors

REPO = Path(__file__).resolve().parents[3]
SPECS = sorted(p.name for p in (REPO / "specs").glob("*.mlspec"))
#: spec -> features Vertex refuses in it (everything else must compile)
EXPECTED_REFUSALS: dict[str, set[str]] = {}
#: baseline rules the Vertex build is known not to meet by default (documented in docs/targets/vertex.md)
KNOWN_GAPS = {"MLS-G-06"}


@pytest.fixture(scope="module", params=SPECS)
def compiled(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("examples")
    res = api.compile_spec(str(REPO / "specs" / request.param), ["vertex"], out=out)
    internal = [d for d in res.diagnostics if d.code.startswith("E9") and "vertex" not in d.summary]
    if internal:
        pytest.skip(f"front end not ready for {request.param}: {internal[0].code} {internal[0].summary[:80]}")
    return request.param, res, out / "vertex"


def test_builds_or_refuses_as_expected(compiled):
    name, res, out = compiled
    errors = [d for d in res.diagnostics if d.is_error]
    if name in EXPECTED_REFUSALS:
        refused = {d.summary.split("(`")[1].split("`")[0] for d in errors if d.code == "E501"}
        assert refused == EXPECTED_REFUSALS[name] and all(d.code == "E501" for d in errors)
        assert not out.exists()
        return
    assert errors == [], [f"{d.code} {d.summary}" for d in errors]
    manifest = json.loads((out / "manifest.json").read_text())
    specs = [a["path"] for a in manifest["artifacts"] if a["kind"] == "kfp-pipeline-spec"]
    assert specs
    for p in specs:
        assert graph_errors(json.loads((out / p).read_text())) == [], p


def test_program_runs_and_meets_baseline(compiled):
    name, res, out = compiled
    if name in EXPECTED_REFUSALS:
        pytest.skip("refused on Vertex")
    from mlspec.compiler.plan import security
    from mlspec.compiler.plan.harness import duplicate_urns, missing_required, run_program, snake_case_leaks

    for env, ir in res.irs.items():
        r = run_program(out / "pulumi", env, overrides=OVERRIDES)
        assert snake_case_leaks(r["resources"]) == [] and missing_required(r["resources"]) == []
        assert duplicate_urns(r["resources"]) == []
        graph = security.Graph(resources=r["resources"], artifacts=security.load_artifacts(out), ir=ir,
                               target="vertex", config=r.get("config") or {})
        failing = {f["rule"] for f in security.unwaived(security.evaluate(graph))}
        assert failing <= KNOWN_GAPS, failing - KNOWN_GAPS
