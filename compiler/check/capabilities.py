"""Capability check: run before lowering, so nothing is ever dropped silently.

Input: an IR and a Target. Output: diagnostics: E501 for a feature the target declares
unsupported (naming the target, the spec line and the alternatives), and report notes
for emulated features. A feature the target does not mention at all is a target bug
(E903), because every target must give a verdict for every feature.
"""
from __future__ import annotations

import re

from mlspec.compiler.diagnostics import Diagnostic
from mlspec.compiler.features import FEATURES, features_used
from mlspec.compiler.source import Span


def _uris(ir: dict):
    """(ir id of the value, where in words, uri) for every location URI in an IR."""
    for d in ir.get("datasets") or []:
        yield f"{d['id']}.uri", f"dataset `{d['name']}`", d.get("uri")
    for m in ir.get("monitors") or []:
        yield f"{m['id']}.ground_truth", f"monitor `{m['name']}`", m.get("ground_truth")
    for b in ir.get("batch") or []:
        yield f"{b['id']}.output", f"batch job `{b['name']}`", b.get("output")
    for p in ir.get("pipelines") or []:
        for s in p.get("steps") or []:
            if isinstance(s.get("output"), str):
                yield f"{s['id']}.output", f"step `{s['name']}`", s["output"]
    t = ir.get("tracking") or {}
    if t.get("uri"):
        yield "tracking", "`tracking`", t["uri"]
    key = (ir.get("security") or {}).get("kms_key")
    if key:
        yield "security.kms_key", "`kms_key` of `security`", key


def _cloud_forms() -> tuple[list[tuple[str, str, str]], list[tuple[re.Pattern, str, str]]]:
    """(URI prefix, owning target, what) and (key pattern, owning target, what) of every
    registered target (``Target.uri_schemes`` and ``Target.key_forms``)."""
    from mlspec.targets.base import available_targets, get_target

    schemes, keys = [], []
    for name in available_targets():
        t = get_target(name)
        schemes += [(prefix, t.name, what) for prefix, what in (t.uri_schemes or {}).items()]
        keys += [(re.compile(pattern), t.name, what) for pattern, what in (t.key_forms or ())]
    return schemes, keys


def check_uris(ir: dict, target, spans: dict[str, Span]) -> list[Diagnostic]:
    """E504: a URI bound to one cloud's storage used while compiling for another target.

    Each target declares the cloud-bound schemes and key forms it reads (``Target.uri_schemes``,
    ``Target.key_forms``); a location another registered target owns is refused."""
    own = tuple(getattr(target, "uri_schemes", None) or ())
    schemes, key_forms = _cloud_forms()
    out = []
    for ir_id, where, uri in _uris(ir):
        if not isinstance(uri, str):
            continue
        if ir_id == "security.kms_key":
            for pattern, owner, what in key_forms:
                if not pattern.match(uri) or owner == target.name:
                    continue
                out.append(Diagnostic(
                    "E504", f"{where} is {what}, which {target.display_name} cannot use",
                    spans.get(ir_id) or spans.get(ir_id.rsplit(".", 1)[0]),
                    detail="a customer-managed key lives in the same cloud (and region) as the data it protects",
                    hint=f"name a key of {target.display_name}, or leave `kms_key` out and mlspec creates one key "
                         "per environment"))
                break
            continue
        for scheme, owner, what in schemes:
            if uri.startswith(scheme) and not uri.startswith(tuple(own)):
                span = spans.get(ir_id) or spans.get(ir_id.rsplit(".", 1)[0])
                out.append(Diagnostic(
                    "E504", f"`{uri}` in {where} is {what}, which {target.display_name} cannot read", span,
                    detail=f"only the `{owner}` target reads `{scheme}` locations",
                    hint=f"use a portable `data://` URI, which every target maps to its own storage, or compile "
                         f"this spec for `{owner}` only"))
                break
    return out


#: feature prefix -> the attribute (or sub-block) of the IR item that uses it, so that a
#: refusal points at `rollout = shadow { ... }` rather than at the endpoint's name
_FEATURE_ATTRS = (
    ("pipeline.schedule", "schedule"), ("pipeline.retrain_on", "retrain_on"), ("rollout.auto_rollback", "rollout"),
    ("rollout.", "rollout"), ("endpoint.autoscale", "autoscale"), ("endpoint.capture", "capture"),
    ("endpoint.auth.", "auth"), ("endpoint.gpu", "compute"), ("explain.", "explain"), ("framework.", "framework"),
    ("data.format.", "format"), ("data.checks", "data"), ("model_card", "card"), ("approval.manual", "approval"),
    ("security.existing_key", "kms_key"), ("security.allowed_egress", "allowed_egress"),
    ("tracking.", "backend"), ("monitor.", "kind"), ("alert.", "metric"), ("channel.", ""),
)


def _feature_span(feature: str, ir_id: str, spans: dict[str, Span]) -> Span | None:
    for prefix, attr in _FEATURE_ATTRS:
        if feature.startswith(prefix):
            if attr and f"{ir_id}.{attr}" in spans:
                return spans[f"{ir_id}.{attr}"]
            break
    return spans.get(ir_id)


def check(ir: dict, target, spans: dict[str, Span]) -> tuple[list[Diagnostic], list[str]]:
    diags: list[Diagnostic] = check_uris(ir, target, spans)
    notes: list[str] = []
    seen_notes: set[str] = set()
    for feature, ir_id in features_used(ir):
        verdict = target.capabilities.get(feature)
        if verdict is None:
            diags.append(Diagnostic("E903", f"target `{target.name}` declares no verdict for feature `{feature}`",
                                    _feature_span(feature, ir_id, spans),
                                    detail="this is a bug in the target: every feature needs a verdict"))
            continue
        if verdict.level == "unsupported":
            alts = "; ".join(verdict.alternatives)
            diags.append(Diagnostic(
                "E501", f"{target.display_name} cannot express {FEATURES.get(feature, feature)} (`{feature}`, "
                        f"used by `{ir_id}`)", _feature_span(feature, ir_id, spans),
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
