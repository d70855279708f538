"""A small, faithful evaluator of IAM identity policies, for the approval-integrity tests.

Why not moto: moto 5.x's IAM enforcement (`INITIAL_NO_AUTH_ACTION_COUNT`) matches actions only;
its identity-policy code says "TODO add support for the Resource and Condition parts of IAM
policies" (moto/iam/access_control.py) and knows only the sts:ExternalId condition key, so it
cannot judge a deny on `sagemaker:ModelApprovalStatus`. This follows AWS's documented logic for
one account and identity-based policies
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluationlogic.html):
an explicit Deny wins, else an Allow, else the implicit deny; Action/NotAction and
Resource/NotResource with `*`/`?` wildcards (actions case-insensitive); every condition
operator of a statement must hold (AND), any value of one operator may match (OR); `...IfExists`
holds when the key is absent; negated operators hold when the key is absent; `Null`;
`ForAnyValue:` / `ForAllValues:` over multi-valued keys.
"""
from __future__ import annotations

import re
from typing import Any


def _list(v: Any) -> list:
    return v if isinstance(v, list) else [v]


def _glob(pattern: str, value: str, case: bool = True) -> bool:
    rx = "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"
    return re.match(rx, value, 0 if case else re.IGNORECASE) is not None


def _match_one(op: str, want: str, have: Any) -> bool:
    have = str(have).lower() if isinstance(have, bool) else str(have)
    if op in ("StringEquals", "ArnEquals"):
        return have == want
    if op == "StringEqualsIgnoreCase":
        return have.lower() == want.lower()
    if op in ("StringLike", "ArnLike"):
        return _glob(want, have)
    if op == "Bool":
        return have.lower() == str(want).lower()
    if op == "NumericEquals":
        return float(have) == float(want)
    raise NotImplementedError(op)


NEGATED = {"StringNotEquals": "StringEquals", "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals",
           "ArnNotLike": "ArnLike", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase"}


def _condition(op: str, key: str, wanted: Any, ctx: dict) -> bool:
    wanted = [str(w) if not isinstance(w, bool) else str(w).lower() for w in _list(wanted)]
    qualifier = None
    if ":" in op and op.split(":", 1)[0] in ("ForAnyValue", "ForAllValues"):
        qualifier, op = op.split(":", 1)
    if_exists = op.endswith("IfExists")
    op = op[: -len("IfExists")] if if_exists else op
    present = key in ctx
    if op == "Null":
        return (not present) == (wanted[0] == "true")
    if not present:
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return if_exists or op in NEGATED
    values = _list(ctx[key])
    negated = op in NEGATED
    base = NEGATED.get(op, op)

    def holds(v: Any) -> bool:
        hit = any(_match_one(base, w, v) for w in wanted)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(holds(v) for v in values)
    if qualifier == "ForAnyValue":
        return any(holds(v) for v in values)
    return holds(values[0])


def _applies(s: dict, action: str, resource: str, ctx: dict) -> bool:
    if "Action" in s:
        if not any(_glob(a, action, case=False) for a in _list(s["Action"])):
            return False
    elif any(_glob(a, action, case=False) for a in _list(s.get("NotAction", []))):
        return False
    if "Resource" in s:
        if not any(_glob(r, resource) for r in _list(s["Resource"])):
            return False
    elif any(_glob(r, resource) for r in _list(s.get("NotResource", []))):
        return False
    for op, keys in (s.get("Condition") or {}).items():
        for key, wanted in keys.items():
            if not _condition(op, key, wanted, ctx):
                return False
    return True


def decide(policies: list[dict], action: str, resource: str, ctx: dict | None = None) -> str:
    """"Allow", "ExplicitDeny" or "ImplicitDeny" for one request under identity policies."""
    ctx = ctx or {}
    allowed = False
    for p in policies:
        for s in _list(p.get("Statement") or []):
            if _applies(s, action, resource, ctx):
                if s["Effect"] == "Deny":
                    return "ExplicitDeny"
                allowed = True
    return "Allow" if allowed else "ImplicitDeny"

