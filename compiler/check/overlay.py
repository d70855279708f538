"""Environment overlays, applied on the AST before anything is built.

`environment dev { scale = 0.5  approval = none  endpoint scoring { autoscale { max = 2 } } }`
sets environment facts and overrides attributes of named declarations: attributes are
replaced by name, sub-blocks merged recursively, steps merged by name. The merged items
keep the overlay's spans, so errors in an override point at the override.
Input: the System node and an environment name. Output: (items, facts).
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Sequence

from mlspec.compiler import ast
from mlspec.compiler.check.values import Body, did_you_mean
from mlspec.compiler.diagnostics import Label

if TYPE_CHECKING:
    from mlspec.compiler.check.ctx import Ctx

OVERRIDABLE = ("endpoint", "monitor", "alert", "pipeline", "batch", "model", "target", "dataset", "tracking")
PRODUCTION_NAMES = ("prod", "production", "prd")


def apply(ctx: "Ctx", system: ast.System, env: str) -> tuple[tuple[ast.Item, ...], dict]:
    envs = [i for i in system.items if isinstance(i, ast.Block) and i.kind == "environment"]
    seen: dict[str, ast.Block] = {}
    for e in envs:
        if e.label in seen and e.label is not None:
            ctx.sink.error("E205", f"environment `{e.label}` is declared twice", e.label_span,
                           labels=(Label(seen[e.label].label_span, "first declared here"),))
        elif e.label is not None:
            seen[e.label] = e
    base = tuple(i for i in system.items if not (isinstance(i, ast.Block) and i.kind == "environment"))
    facts = {"scale": 1.0, "approval": "required", "production": env in PRODUCTION_NAMES}
    chosen = seen.get(env)
    items = base
    # every environment's own attributes and override targets are checked, whichever is
    # being built: once per sink (the findings are the same for every build), and the chosen
    # environment is read again for its facts and overrides; linear in the environments
    if ctx.sink.once("environment blocks", system):
        for e in seen.values():
            if e is not chosen:
                _read_env(ctx, e, base)
    if chosen is not None:
        facts, overrides = _read_env(ctx, chosen, base)
        for ov in overrides:
            items = _override(items, ov)
    return items, facts


def _read_env(ctx: "Ctx", e: ast.Block, base: Sequence[ast.Item]) -> tuple[dict, list[ast.Block]]:
    from mlspec.compiler.check.names import check_identifier

    name = e.label or ""
    check_identifier(ctx.sink, name, e.label_span or e.kind_span, "environment")
    where = f"environment `{name}`"
    body = Body(ctx.sink, [i for i in e.items if not isinstance(i, ast.Block)], where,
                e.label_span or e.kind_span)
    scale = body.number("scale", default=1.0, lo=0, lo_open=True, hi=10)
    approval = body.enum("approval", ("required", "none"), default="required")
    production = body.boolean("production", default=name in PRODUCTION_NAMES)
    body.finish()
    if production and approval == "none":
        ctx.require_waiver("MLS-G-07", body.attrs["approval"].value.span,
                           f"production {where} deploys without approval", "remove `approval = none`")
    overrides = []
    for b in (i for i in e.items if isinstance(i, ast.Block)):
        if b.kind not in OVERRIDABLE:
            ctx.sink.error("E202", f"`{b.kind}` cannot be overridden in {where}", b.kind_span,
                           hint=did_you_mean(b.kind, OVERRIDABLE) or
                           "environments override " + ", ".join(f"`{k}`" for k in OVERRIDABLE))
            continue
        targets = [x for x in base if isinstance(x, ast.Block) and x.kind == b.kind and x.label == b.label]
        if not targets:
            names = [x.label for x in base if isinstance(x, ast.Block) and x.kind == b.kind and x.label]
            ctx.sink.error("E204", f"{where} overrides {b.kind} `{b.label}`, which is not declared",
                           b.label_span or b.kind_span, hint=did_you_mean(b.label or "", names, f"`{b.kind} {{}}`"))
            continue
        if b.kind == "pipeline":
            base_steps = {it.name: it for t in targets for it in t.items if isinstance(it, ast.StepDecl)}
            bad = False
            for it in b.items:
                if not isinstance(it, ast.StepDecl):
                    continue
                orig = base_steps.get(it.name)
                if orig is None:
                    ctx.sink.error("E204", f"{where} overrides step `{it.name}`, which pipeline `{b.label}` does "
                                           "not declare", it.name_span,
                                   hint=did_you_mean(it.name, base_steps, "`step {}`") or
                                   "environments override steps; they do not add them")
                    bad = True
                elif orig.kind != it.kind:
                    ctx.sink.error("E313", f"{where} changes step `{it.name}` from `{orig.kind}` to `{it.kind}`",
                                   it.kind_span, labels=(Label(orig.kind_span, "declared here"),),
                                   hint=f"an environment overrides a step's attributes; write `step {it.name} = "
                                        f"{orig.kind} {{ ... }}`")
                    bad = True
            if bad:
                continue
        overrides.append(b)
    facts = {"scale": float(scale or 1.0), "approval": approval or "required", "production": bool(production)}
    return facts, overrides


def _override(items: tuple[ast.Item, ...], ov: ast.Block) -> tuple[ast.Item, ...]:
    out = []
    for it in items:
        if isinstance(it, ast.Block) and it.kind == ov.kind and it.label == ov.label:
            it = dataclasses.replace(it, items=merge_items(it.items, ov.items))
        out.append(it)
    return tuple(out)


def _key(it: ast.Item) -> tuple | None:
    if isinstance(it, ast.Attribute):
        return ("attr", it.name)
    if isinstance(it, ast.Block):
        return ("block", it.kind, it.label)
    if isinstance(it, ast.StepDecl):
        return ("step", it.name)
    if isinstance(it, ast.GateDecl):
        return ("gate", it.name)
    return None


def merge_items(base: Sequence[ast.Item], over: Sequence[ast.Item]) -> tuple[ast.Item, ...]:
    index = {_key(o): o for o in over if _key(o) is not None}
    used: set = set()
    out: list[ast.Item] = []
    for it in base:
        k = _key(it)
        o = index.get(k) if k is not None else None
        if o is None:
            out.append(it)
            continue
        used.add(k)
        if isinstance(it, ast.Attribute):
            if isinstance(it.value, ast.Object) and isinstance(o, ast.Attribute) and \
                    isinstance(o.value, ast.Object) and o.value.kind == it.value.kind:
                merged = dataclasses.replace(it.value, items=merge_items(it.value.items, o.value.items))
                out.append(dataclasses.replace(o, value=merged))
            else:
                out.append(o)
        elif isinstance(it, (ast.Block, ast.StepDecl, ast.GateDecl)):
            if isinstance(it, ast.GateDecl):
                out.append(o)
            else:
                out.append(dataclasses.replace(it, items=merge_items(it.items, o.items)))  # type: ignore[arg-type]
    for o in over:
        k = _key(o)
        if k is None or k not in used:
            out.append(o)
    return tuple(out)
