"""docs/security.md lists every rule of compiler/baseline.py with its implementation, and is current."""
from __future__ import annotations

import re

from testkit import ROOT, assert_golden
from mlspec.compiler import baseline
from mlspec.compiler.plan import security


def test_every_catalogued_rule_is_implemented_and_documented():
    rules = security.load_rules()
    missing_impl = sorted(set(baseline.catalogue()) - set(rules))
    assert not missing_impl, f"rules without an implementation: {missing_impl}"
    documented = set(re.findall(r"^\| `(MLS-[A-Z]+-\d+)` \|", (ROOT / "docs" / "security.md").read_text(), re.M))
    assert sorted(set(baseline.catalogue()) - documented) == [], "rules missing from docs/security.md"
    assert sorted(documented - set(baseline.catalogue())) == [], "docs/security.md lists unknown rules"


def test_rule_metadata_is_complete():
    for r in security.load_rules().values():
        assert r.resource and r.property and r.default and r.external, r.id
        assert r.cloud in ("all", "aws", "gcp", "azure") and r.severity in security.SEVERITIES, r.id
        assert r.id.startswith({"all": "MLS-G-", "aws": "MLS-AWS-", "gcp": "MLS-GCP-", "azure": "MLS-AZ-"}[r.cloud])


def test_security_doc_is_current(update_golden):
    assert_golden(ROOT / "docs" / "security.md", security.render_rules_doc(), update_golden)
