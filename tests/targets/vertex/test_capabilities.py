"""Every IR feature has a Vertex verdict with a vendor doc; refusals name alternatives; the
docs mapping table is generated from capabilities.py and must be current."""
from __future__ import annotations

from pathlib import Path

import pytest

from mlspec.compiler.features import FEATURES, features_used
from mlspec.targets import base
from mlspec.targets.vertex import Vertex
from mlspec.targets.vertex.capabilities import CAPABILITIES
from mlspec.targets.vertex.docs import render_mapping_table

import fixtures

DOC = Path(__file__).resolve().parents[3] / "docs" / "targets" / "vertex.md"


def test_every_feature_has_a_verdict():
    assert set(CAPABILITIES) == set(FEATURES)


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_verdict_is_documented(feature):
    v = CAPABILITIES[feature]
    assert v.doc.startswith("https://"), feature
    assert v.note, feature
    if v.level == base.UNSUPPORTED:
        assert v.alternatives, feature


def test_registered_and_settings():
    t = base.get_target("vertex")
    assert isinstance(t, Vertex) and t.display_name == "Google Vertex AI"
    assert t.settings["project"].required and t.settings["region"].required
    assert not t.settings["network"].required


def test_maximal_fixture_uses_no_refused_feature():
    used = {f for f, _ in features_used(fixtures.maximal_ir())}
    assert not [f for f in used if CAPABILITIES[f].level == base.UNSUPPORTED]


def test_refused_fixture_hits_every_refusal():
    used = {f for f, _ in features_used(fixtures.refused_ir())}
    refused = {f for f, v in CAPABILITIES.items() if v.level == base.UNSUPPORTED}
    assert refused <= used


def test_docs_mapping_table_is_current():
    assert render_mapping_table() in DOC.read_text(encoding="utf-8"), \
        "docs/targets/vertex.md is stale: paste mlspec.targets.vertex.docs.render_mapping_table()"
