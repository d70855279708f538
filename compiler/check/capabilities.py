"""Capability check: run before lowering, so nothing is ever dropped silently.

Input: an IR and a Target. Output: diagnostics: E501 for a feature the target declares
unsupported (naming the target, the spec line and the alternatives), and report notes
for emulated features. A feature the target does not mention at all is a target bug
(E903), because every target must give a verdict for every feature.
"""
from __future__ import annotations

from mlspec.compiler.diagnostics import Diagnostic
from mlspec.compiler.features import FEATURES, features_used
from mlspec.compiler.source import Span


def check(ir: dict, target, spans: dict[str, Span]) -> tuple[list[Diagnostic], list[str]]:
    diags: list[Diagnostic] = []
    notes: list[str] = []
    seen_notes: set[str] = set()
    for feature, ir_id in features_used(ir):
        verdict = target.capabilities.get(feature)
        span = spans.get(ir_id)
        if verdict is None:
            diags.append(Diagnostic("E903", f"target `{target.name}` declares no verdict for feature `{feature}`",
                                    span, detail="this is a bug in the target: every feature needs a verdict"))
            continue
        if verdict.level == "unsupported":
            alts = "; ".join(verdict.alternatives)
            diags.append(Diagnostic(
                "E501", f"{target.display_name} cannot express {FEATURES.get(feature, feature)} (`{feature}`, used by "
                        f"`{ir_id}`)", span,
                detail=verdict.note or "", hint=f"alternatives: {alts}" if alts else "compile for another target"))
        elif verdict.level == "emulated":
            note = f"`{feature}` is emulated on {target.display_name}: {verdict.note}"
            if note not in seen_notes:
                seen_notes.add(note)
                notes.append(note)
    return diags, notes


def matrix(targets: list) -> dict[str, dict[str, dict]]:
    """feature -> target name -> {level, note, alternatives, doc} for `mlspec targets`."""
    out: dict[str, dict[str, dict]] = {}
    for feature in FEATURES:
        row = {}
        for t in targets:
            v = t.capabilities.get(feature)
            row[t.name] = ({"level": v.level, "note": v.note, "alternatives": list(v.alternatives), "doc": v.doc}
                           if v else {"level": "undeclared", "note": "", "alternatives": [], "doc": ""})
        out[feature] = row
    return out
