"""Security baseline as code: the rule engine over the mocked resource graph and native artifacts.

Input: a :class:`Graph` = the resources captured by the mock harness (plain dicts, wire
names) + the native pipeline artifacts of the build (parsed JSON/YAML by relative path) +
the environment-specialised IR (waivers, environment, security block) + the target name.
Output: findings ``{"rule", "severity", "resource", "message", "waived_by"}``, sorted.

Rule ids, waivability and titles live in :mod:`mlspec.compiler.baseline` (the single list
of ids); this module holds the engine. The cross-cloud rules are in ``rules_common``; each
target brings its cloud's rules (``Target.rules()``, ``targets/<cloud>/rules.py``), all
registered with :func:`~mlspec.compiler.plan.graph.rule` together with the resource,
property, default and the external scanner / cloud-policy ids (SECURITY.md).

Waivers come from the IR: ``{"rule", "reason", "owner", "until"}`` (optional ``resource``:
a glob on the finding's resource, to waive one resource only). A waiver for an unknown or
non-waivable rule, or with a missing reason/owner, or a malformed or past ``until`` date,
is refused: it waives nothing and is itself reported as a finding (rule ``MLS-WAIVER``).

Pure Python: imports no Pulumi or cloud SDK, and no target package except through
:mod:`mlspec.targets.base`.
"""
from __future__ import annotations

import datetime as _dt
import fnmatch
import json
from typing import Any, Iterable

from mlspec.compiler import baseline
from mlspec.compiler.plan.graph import (REGISTRY, SECRETISH_NAME, CloudProfile, Graph, Rule, as_list,  # noqa: F401
                                        dig, falsy, is_reference, is_set, label, literal_secret, parse_json,
                                        policy_statements, rule, rules_in, truthy, walk, walk_dicts)

#: finding rule id for refused waivers
WAIVER_RULE = "MLS-WAIVER"
SEVERITIES = ("critical", "high", "medium", "low")


def cloud_of(target: str) -> str:
    """The baseline cloud key of a target (``sagemaker`` -> ``aws``); the name itself when unknown."""
    from mlspec.targets.base import available_targets, get_target

    if target in available_targets():
        return get_target(target).cloud or target
    return target


#: Approval integrity, the same statement for every cloud; each target states how it holds it in
#: its package's threat_model.md (Target.security_sections); both are rendered into docs/security.md.
APPROVAL_INTEGRITY = (
    "In an environment that requires approval, no identity that runs the pipeline or user code (pipeline "
    "orchestrator, training / processing jobs, monitoring, retraining, serving) can mark a model version "
    "approved or deploy one; only the approvers the spec names can approve, and the number of distinct "
    "approvers is checked where the deployment happens.")


def load_rules() -> dict[str, Rule]:
    """Import the cross-cloud rules and every registered target's rules (idempotent); return the registry."""
    from mlspec.compiler.plan import rules_common  # noqa: F401
    from mlspec.targets.base import available_targets, get_target

    for name in available_targets():
        get_target(name).rules()
    return REGISTRY


# --------------------------------------------------------------------------- waivers


def check_waiver(w: Any, today: _dt.date) -> str | None:
    """Why a waiver is refused, or None when it is valid."""
    if not isinstance(w, dict):
        return "a waiver must be a mapping with rule, reason, owner and until"
    rid = w.get("rule")
    if not isinstance(rid, str) or not baseline.is_known(rid):
        return f"unknown rule `{rid}`"
    if not baseline.is_waivable(rid):
        return f"`{rid}` is non-waivable"
    for field in ("reason", "owner"):
        if not isinstance(w.get(field), str) or not w[field].strip():
            return f"missing {field}"
    until = w.get("until")
    try:
        day = until if isinstance(until, _dt.date) else _dt.date.fromisoformat(str(until))
    except ValueError:
        return f"`until` must be a date such as 2027-03-01, found `{until}`"
    if day < today:
        return f"expired on {day.isoformat()}"
    return None


def _waiver_ref(w: dict) -> dict:
    out = {"rule": w["rule"], "reason": w["reason"], "owner": w["owner"], "until": str(w["until"])}
    if w.get("resource"):
        out["resource"] = w["resource"]
    return out


# --------------------------------------------------------------------------- evaluation


def rules_for(target: str) -> list[Rule]:
    cloud = cloud_of(target)
    return [r for r in sorted(load_rules().values(), key=lambda r: r.id) if r.cloud in ("all", cloud)]


def today() -> _dt.date:
    """Today, pinned by MLSPEC_TODAY exactly as the front end pins it (one implementation)."""
    from mlspec.compiler.check.policy import today as _front_end_today

    return _front_end_today()


_today = today


def evaluate(graph: Graph, today: _dt.date | None = None, only: Iterable[str] | None = None) -> list[dict]:
    """Run every rule of the graph's cloud; return sorted findings (waived ones included).
    ``today`` decides waiver expiry (default: :func:`today`)."""
    today = today or _today()
    wanted = set(only) if only is not None else None
    valid: list[dict] = []
    findings: list[dict] = []
    for w in graph.ir.get("waivers") or []:
        why = check_waiver(w, today)
        if why is None:
            valid.append(w)
        else:
            rid = w.get("rule") if isinstance(w, dict) else None
            findings.append({"rule": WAIVER_RULE, "severity": "high", "resource": f"waiver {rid}",
                             "message": f"waiver refused: {why}", "waived_by": None})
    for r in rules_for(graph.target) if graph.target else sorted(load_rules().values(), key=lambda r: r.id):
        if wanted is not None and r.id not in wanted:
            continue
        seen = set()
        for res, msg in r.check(graph) or ():
            lab = label(res)
            if (lab, msg) in seen:
                continue
            seen.add((lab, msg))
            waiver = next((w for w in valid if w["rule"] == r.id and
                           (not w.get("resource") or fnmatch.fnmatchcase(lab, w["resource"])
                            or fnmatch.fnmatchcase(lab.rsplit("::", 1)[-1], w["resource"]))), None)
            findings.append({"rule": r.id, "severity": r.severity, "resource": lab, "message": msg,
                             "waived_by": _waiver_ref(waiver) if waiver else None})
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (f["waived_by"] is not None, order.get(f["severity"], 9), f["rule"],
                                 f["resource"], f["message"]))
    return findings


def unwaived(findings: Iterable[dict]) -> list[dict]:
    return [f for f in findings if not f.get("waived_by")]


# --------------------------------------------------------------------------- artifacts


_SKIP_DIRS = {"code", "__pycache__", ".venv", "venv"}


def load_artifacts(target_dir) -> dict[str, Any]:
    """Parse every JSON/YAML file under DIR/<target>/ (source scripts excluded) by relative path;
    unparsable files map to their text so rules can still report them."""
    from pathlib import Path

    import yaml

    root = Path(target_dir)
    out: dict[str, Any] = {}
    if not root.is_dir():
        return out
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if not p.is_file() or any(part in _SKIP_DIRS for part in rel.parts[:-1]):
            continue
        if rel.name.startswith("Pulumi.") or p.stat().st_size > 5_000_000:
            continue
        text = None
        if p.suffix == ".json":
            text = p.read_text(encoding="utf-8", errors="replace")
            try:
                out[rel.as_posix()] = json.loads(text)
            except ValueError:
                out[rel.as_posix()] = text
        elif p.suffix in (".yaml", ".yml"):
            text = p.read_text(encoding="utf-8", errors="replace")
            try:
                docs = [d for d in yaml.safe_load_all(text)]
                out[rel.as_posix()] = docs[0] if len(docs) == 1 else docs
            except yaml.YAMLError:
                out[rel.as_posix()] = text
    return out


# --------------------------------------------------------------------------- docs


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_rules_doc() -> str:
    """docs/security.md: every rule with cloud, resource, property, default, waivability, external
    ids and the check that implements it (tests/plan/test_security_docs.py keeps it current)."""
    from mlspec.targets.base import available_targets, get_target

    rules = load_rules()
    clouds = {"all": "Cross-cloud"}
    for name in available_targets():
        t = get_target(name)
        clouds.setdefault(t.cloud or t.name, t.cloud_title or f"{t.display_name} target")
    lines = [
        "# Security baseline rules",
        "",
        "Generated from the rules (`mlspec.compiler.plan.rules_common` and each target's `rules.py`, with",
        "their metadata) and `mlspec.compiler.baseline` (ids, waivability); `pytest tests/plan --update-golden`",
        "rewrites this file. The rationale of each",
        "rule is in the design's SECURITY.md; `mlspec plan` evaluates every rule of the target's cloud",
        "plus the cross-cloud ones over the resource graph captured from the generated Pulumi program",
        "(wire/camelCase property names) and over the native pipeline artifacts of the build.",
        "",
        "- **Waivable**: `no` means a `waive` entry for the rule is refused (and reported as `MLS-WAIVER`).",
        "- **Sees**: `graph` = Pulumi resources; `artifacts` = SageMaker pipeline JSON, KFP PipelineSpec /",
        "  CustomJob payloads / PipelineJob submissions, Azure ML job YAML; `ir` = the checked spec.",
        "- **Severity** of a finding: `high` for non-waivable rules, `medium` otherwise, `low` where noted.",
        "",
        f"{len(rules)} rules: " + ", ".join(f"{sum(1 for r in rules.values() if r.cloud == c)} {c}"
                                           for c in clouds) + ".",
        "",
    ]
    for cloud, title in clouds.items():
        lines += [f"## {title}", "",
                  "| id | resource | property | default | waivable | severity | sees | external ids | check |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in sorted((r for r in rules.values() if r.cloud == cloud), key=lambda r: r.id):
            lines.append("| " + " | ".join(_cell(x) for x in (
                f"`{r.id}`", r.resource, r.property, r.default, "yes" if r.waivable else "no", r.severity,
                r.sees, ", ".join(r.external), f"`{r.implementation}`")) + " |")
        lines.append("")
    lines += ["## Approval integrity (threat model)", "", APPROVAL_INTEGRITY, "",
              "Each target's section below states how it holds this, and the tests that prove it.", ""]
    lines += ["## Waivers", "",
              "A spec waives a rule with `rule`, `reason`, `owner` and `until` (an ISO date, inclusive); an",
              "optional `resource` glob limits it to matching findings (`aws:s3/bucket:Bucket::*-scratch` or a",
              "resource name). Unknown, non-waivable, expired or incomplete waivers are refused: the finding",
              "stays and `MLS-WAIVER` is reported. A valid waiver turns a finding into a listed exception",
              "(`waived_by` in `mlspec plan --format json`) and does not fail the plan.", ""]
    # the threat models the targets state and test (hand-written, kept next to their code)
    for name in available_targets():
        lines += [text for text in get_target(name).security_sections()]
    return "\n".join(lines)

