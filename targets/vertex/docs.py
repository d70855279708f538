"""Renders the feature -> mechanism table of docs/targets/vertex.md from capabilities.py
(a test fails when the committed doc differs). Pure."""
from __future__ import annotations

from mlspec.compiler.features import FEATURES
from mlspec.targets.vertex.capabilities import CAPABILITIES


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_mapping_table() -> str:
    rows = ["| feature | verdict | what it becomes on Vertex AI | vendor doc |", "| --- | --- | --- | --- |"]
    for feature in FEATURES:
        v = CAPABILITIES[feature]
        what = v.note
        if v.alternatives:
            what += " — alternatives: " + "; ".join(v.alternatives)
        rows.append(f"| `{feature}` | {v.level} | {_cell(what)} | [doc]({v.doc}) |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render_mapping_table(), end="")
