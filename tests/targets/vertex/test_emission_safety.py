"""SECURITY.md §7.5 for the Vertex target: any text accepted in a free-text field reaches the
artifacts as data (JSON), survives unchanged and never changes their structure."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fixtures
from buildutil import lower, serialise
from kfpcheck import graph_errors

FIXED_PROGRAM = next(a.content for a in lower([fixtures.maximal_ir("prod")]).artifacts if a.kind == "pulumi-program")
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=40)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(description=TEXT, goal=TEXT, intended=TEXT, limitations=TEXT)
def test_free_text_is_data(description, goal, intended, limitations):
    ir = fixtures.maximal_ir("prod")
    ir["kpis"][0]["description"] = description
    ir["kpis"][0]["goal"] = goal
    ir["models"][0]["card"]["intended_use"] = intended
    ir["models"][0]["card"]["limitations"] = limitations
    ir["models"][0]["description"] = description
    low = lower([ir])
    program = next(a.content for a in low.artifacts if a.kind == "pulumi-program")
    assert program == FIXED_PROGRAM  # the program never embeds spec text
    data = json.loads(serialise(next(a for a in low.artifacts if a.path == "pulumi/stacks/prod.json")))
    kpi = [t for t in data["dashboard"]["mosaicLayout"]["tiles"] if t["widget"]["title"] == "KPI fraud_losses"]
    assert kpi[0]["widget"]["text"]["content"] == f"{description}\n\nGoal: {goal}"
    spec = json.loads(serialise(next(a for a in low.artifacts if a.path == "pipelines/prod/training.json")))
    assert graph_errors(spec) == []
    args = spec["deploymentSpec"]["executors"]["exec-register"]["container"]["args"]
    card = json.loads(args[args.index("--config") + 1])["card"]
    assert (card["description"], card["intended_use"], card["limitations"]) == (description, intended, limitations)
