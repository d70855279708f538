"""docs/targets/ir-fields.md says, for every property of the IR schema, what it becomes on
each cloud (issue 10: the per-cloud mapping covers every IR field). A new schema property
without a row, a row naming a property the schema no longer has, or an empty cell fails."""
from __future__ import annotations

import re

from mlspec.compiler import irschema
from testkit import ROOT

DOC = ROOT / "docs" / "targets" / "ir-fields.md"
CLOUDS = ("SageMaker", "Vertex AI", "Azure ML")
#: objects whose properties are listed one by one (a row naming only the object is not enough)
ONE_BY_ONE = {"pipelines", "pipelines[]", "pipelines[].steps", "pipelines[].steps[]", "models", "models[]",
              "monitors", "monitors[]", "channels", "channels[]", "code", "pipelines[].steps[].compute",
              "endpoints[].compute", "batch[].compute", "models[].serve", "models[].prediction"}


def schema_paths() -> set[str]:
    paths: set[str] = set()

    def walk(sch, prefix: str) -> None:
        if not isinstance(sch, dict) or "$ref" in sch:
            return
        for alt in ("anyOf", "oneOf"):
            for a in sch.get(alt, []):
                walk(a, prefix)
        for k, v in (sch.get("properties") or {}).items():
            p = f"{prefix}.{k}" if prefix else k
            paths.add(p)
            walk(v, p)
        if isinstance(sch.get("items"), dict):
            walk(sch["items"], prefix + "[]")
        if isinstance(sch.get("additionalProperties"), dict):
            walk(sch["additionalProperties"], prefix + ".*")

    walk(irschema.build(), "")
    return paths


def rows() -> list[list[str]]:
    out = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            out.append(cells)
    return out


def ancestors(path: str) -> list[str]:
    out = []
    p = path
    while True:
        cut = max(p.rfind("."), p.rfind("[]"))
        if cut <= 0:
            break
        p = p[:cut]
        out.append(p)
        if p.endswith("[]"):
            out.append(p[:-2])
    return out


def test_every_ir_property_has_a_row_for_every_cloud():
    documented: set[str] = set()
    for cells in rows():
        assert len(cells) == 1 + len(CLOUDS) and all(cells), cells
        documented |= set(re.findall(r"`([^`]+)`", cells[0]))
    schema = schema_paths()
    assert len(schema) > 200  # the walk really reads the schema
    missing = sorted(p for p in schema
                     if p not in documented and not any(a in documented and a not in ONE_BY_ONE for a in ancestors(p)))
    assert not missing, f"docs/targets/ir-fields.md has no row for: {missing}"
    stale = sorted(documented - schema)
    assert not stale, f"docs/targets/ir-fields.md names fields the IR schema does not have: {stale}"


def test_the_doc_names_the_fields_the_brief_lists():
    text = DOC.read_text(encoding="utf-8")
    for field in ("input_names", "output_formats", "code_dir", "requirements", "code.root", "spot", "distribution",
                  "retries", "max_runtime_s", "max_total_runtime_s", "accelerators", "on_failure", "models[].task",
                  "models[].label", "positive_label", "models[].prediction", "models[].format", "models[].serve",
                  "join_on", "slack_channel", "`targets`"):
        assert field in text, field
