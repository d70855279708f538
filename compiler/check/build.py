"""Check and build: AST -> IR for one environment.

Input: a parsed Module, its SourceFile, the project root (the spec's folder) and an
environment name. Output: ``(ir dict | None, spans: ir id -> Span)``, with every user
error in the sink. Passes: apply the environment overlay (on the AST), declare every
name (phase 1), then build each kind with references resolved (phase 2), then link
(models <- register steps, monitors -> retraining pipelines, alerts -> rollbacks) and
report unused declarations. Never raises for user errors.
"""
from __future__ import annotations

import functools
import hashlib
import math
from pathlib import Path
from typing import Any

from mlspec.compiler import ast, baseline
from mlspec.compiler.check import code as codemod, overlay, pipeline as pipemod, policy, serving
from mlspec.compiler.check.ctx import Ctx, uri_schemes  # noqa: F401 (Ctx: the shared build state)
from mlspec.compiler.check.names import check_identifier
from mlspec.compiler.check.policy import check_string, parse_date, today
from mlspec.compiler.check.values import Body, did_you_mean
from mlspec.compiler.diagnostics import Label, Sink
from mlspec.compiler.source import SourceFile, Span

IR_SCHEMA_VERSION = "2"
FORMATS = ("parquet", "csv", "jsonl", "tfrecord", "delta")
FIELD_TYPES = ("string", "int", "float", "bool", "timestamp", "date", "category")
ROLES = ("feature", "label", "id", "timestamp", "weight")
CLASSIFICATIONS = ("public", "internal", "confidential", "pii", "phi")
SYSTEM_BLOCKS = ("kpi", "dataset", "pipeline", "model", "endpoint", "batch", "monitor", "alert", "channel",
                 "tracking", "security", "waive", "environment", "target")
PRODUCTION_NAMES = ("prod", "production", "prd")


# ------------------------------------------------------------------ entry points
def environments(module: ast.Module) -> list[str]:
    """Declared environment names, in order; ["default"] when none."""
    names = [it.label for it in module.system.items
             if isinstance(it, ast.Block) and it.kind == "environment" and it.label]
    return names or ["default"]


def build(module: ast.Module, src: SourceFile, root: Path | None, env: str, sink: Sink,
          spec_path: str | None = None, spec_sha256: str | None = None) -> tuple[dict | None, dict[str, Span]]:
    """Build the IR of one environment and the side table IR id -> Span.

    The IR is None when errors leave no usable IR."""
    ctx = Ctx(sink, src, root, env)
    system = module.system
    # whole-spec screens: their findings do not depend on the environment, so they run once
    # per sink however many environments are built (bench/environments.py)
    screens = sink.once("whole-spec screens", system)
    literals = _literals(system) if screens else []
    _screen_numbers(sink, literals)
    check_identifier(sink, system.name, system.name_span, "system")
    # waivers first: an environment's facts (e.g. production without approval) may need one
    first_waiver: dict[str, ast.Block] = {}
    for b in system.items:
        if not (isinstance(b, ast.Block) and b.kind == "waive" and b.label is not None):
            continue
        if b.label in first_waiver:
            sink.error("E205", f"rule `{b.label}` is waived twice", b.label_span or b.kind_span,
                       labels=(Label(first_waiver[b.label].label_span or first_waiver[b.label].kind_span,
                                     "first waived here"),),
                       hint="keep one waiver per rule, with one reason, owner and expiry")
        else:
            first_waiver[b.label] = b
    ctx.waivers = [w for w in (_waiver(ctx, b) for b in first_waiver.values()) if w]
    items, env_facts = overlay.apply(ctx, system, env)
    body = Body(sink, [i for i in items if not isinstance(i, ast.Block)], f"system `{system.name}`",
                system.name_span, allow_blocks=SYSTEM_BLOCKS)
    blocks = [i for i in items if isinstance(i, ast.Block)]
    for b in blocks:
        if b.kind not in SYSTEM_BLOCKS:
            sink.error("E202", f"unknown block `{b.kind}` in system `{system.name}`", b.kind_span,
                       hint=did_you_mean(b.kind, SYSTEM_BLOCKS) or "see docs/language.md for the blocks a system holds")

    ctx.scale = env_facts["scale"]
    ctx.approval = env_facts["approval"]
    by_kind: dict[str, list[ast.Block]] = {}
    for b in blocks:
        by_kind.setdefault(b.kind, []).append(b)
    for kind in ("kpi", "dataset", "pipeline", "model", "endpoint", "batch", "monitor", "alert", "channel",
                 "waive", "environment", "target"):
        for b in by_kind.get(kind, []):
            if b.label is None:
                sink.error("E303", f"a `{kind}` block needs a name", b.kind_span,
                           hint=f'write `{kind} <name> {{ ... }}`' if kind != "waive"
                           else 'write `waive "MLS-..." { ... }`')
            elif b.label_quoted and kind != "waive":
                sink.error("E206", f'the name of a `{kind}` is not quoted', b.label_span, hint=f"write `{kind} {b.label} {{`")
    for kind in ("tracking", "security"):
        bl = by_kind.get(kind, [])
        for extra in bl[1:]:
            sink.error("E205", f"`{kind}` appears twice", extra.kind_span, labels=(Label(bl[0].kind_span, "first here"),),
                       hint=f"merge the two `{kind}` blocks into one")
        for b in bl:
            if b.label is not None:
                sink.error("E110", f"`{kind}` takes no name", b.label_span, hint=f"write `{kind} {{ ... }}`")

    named = lambda k: [b for b in by_kind.get(k, []) if b.label is not None]  # noqa: E731
    # phase 1: declarations
    ctx.datasets_ast = named("dataset")
    for kind in ("kpi", "dataset", "model", "endpoint", "batch", "monitor", "alert", "channel"):
        for b in named(kind):
            ctx.symbols.declare(kind, b.label, b.label_span, b)
    for b in named("pipeline"):
        pipemod.declare_pipeline(ctx, b)

    # phase 2: build
    owner = body.string("owner", required=True)
    if owner is not None and "@" not in owner:
        pass
    description = body.string("description", default="")
    codemod.read_system(ctx, body)
    labels = body.string_map("labels") or {}
    policy.check_label_count(sink, body.attrs.get("labels"))
    for k, span in ((e.key, e.key_span) for e in _map_entries(body.attrs.get("labels"))):
        if not _LABEL_KEY.fullmatch(k):
            from mlspec.compiler.check.names import _snake
            sink.error("E206", f"`{k}` is not a valid label key", span,
                       detail="every cloud accepts lower-case label keys of letters, digits and `_`, starting "
                              "with a letter (GCP labels are the strictest)",
                       hint=f"write `{_snake(k)[:63]}`" if _snake(k) != k else
                       "label keys are lower-case letters, digits and `_`, starting with a letter")
    body.finish()

    kpis = [_kpi(ctx, b) for b in named("kpi")]
    datasets = [_dataset(ctx, b) for b in named("dataset")]
    pipelines = [p for p in (pipemod.build_pipeline(ctx, b) for b in named("pipeline")) if p]
    models = [serving.build_model(ctx, b) for b in named("model")]
    endpoints = [serving.build_endpoint(ctx, b) for b in named("endpoint")]
    batch = [serving.build_batch(ctx, b) for b in named("batch")]
    monitors = [serving.build_monitor(ctx, b) for b in named("monitor")]
    alerts = [serving.build_alert(ctx, b) for b in named("alert")]
    channels = [serving.build_channel(ctx, b) for b in named("channel")]
    tracking = _tracking(ctx, (by_kind.get("tracking") or [None])[0], system.name)
    security = _security(ctx, (by_kind.get("security") or [None])[0], labels)
    targets = _targets(ctx, named("target"))

    _link(ctx, pipelines, models, endpoints, batch, monitors, alerts)
    serving.link_models(ctx, models, pipelines, ctx.used)
    if not sink.has_errors:
        serving.check_models(ctx, models, pipelines, endpoints, batch, monitors)
    if screens:
        _screen_secrets(sink, literals)
        policy.screen_map_keys(sink, system)
    _record_attribute_spans(ctx, blocks)
    if not sink.has_errors:
        # With errors, a reference that failed to resolve would make its target look
        # unused: the warning would be noise pointing away from the real problem.
        _unused(ctx, datasets, channels, pipelines)

    spans = {f"{kind}.{name}": sym.span for kind, table in ctx.symbols.table.items() for name, sym in table.items()}
    for b in blocks:
        if b.kind in ("tracking", "security") or (b.kind == "target" and b.label):
            spans.setdefault(b.kind if b.kind != "target" else f"target.{b.label}", b.kind_span)
    spans.update(ctx.value_spans)
    spans["system"] = system.name_span
    spans.setdefault("security", system.name_span)
    spans.setdefault("tracking", system.name_span)
    dsets = {d["id"]: d for d in datasets}
    for p in pipelines:
        for s in p["steps"]:
            if s["kind"] == "validate" and s.get("data") in dsets:
                s["checks"] = dict(dsets[s["data"]]["checks"])
                s["output_formats"] = {"data": dsets[s["data"]]["format"]}
    if sink.has_errors:
        return None, spans
    files = [{"path": p, "sha256": ctx.scripts[p]} for p in sorted(ctx.scripts)]
    code_hash = hashlib.sha256("".join(f"{f['path']}\0{f['sha256']}\n" for f in files).encode()).hexdigest()
    env_name = env
    return {
        "schema_version": IR_SCHEMA_VERSION,
        "source": {"path": spec_path or src.path, "sha256": spec_sha256 or hashlib.sha256(src.text.encode()).hexdigest()},
        "system": {"name": system.name, "owner": owner or "", "description": description or "", "labels": labels},
        "environment": {"name": env_name, "production": env_facts["production"], "approval": ctx.approval,
                        "scale": ctx.scale},
        "kpis": kpis, "datasets": datasets, "pipelines": pipelines, "models": models, "endpoints": endpoints,
        "batch": batch, "monitors": monitors, "alerts": alerts, "channels": channels, "tracking": tracking,
        "security": security, "waivers": ctx.waivers, "targets": targets,
        "code": {"sha256": code_hash, "root": ctx.code_root, "requirements": ctx.requirements, "files": files},
    }, spans


import re as _re  # noqa: E402

_LABEL_KEY = _re.compile(r"[a-z][a-z0-9_]{0,62}")


def _record_attribute_spans(ctx: Ctx, blocks: list[ast.Block]) -> None:
    """`<kind>.<name>.<attribute>` -> span, so that target checks (E501, E504) can point
    at the attribute that uses a feature (`rollout = shadow {...}`), not only at the name."""
    def record(prefix: str, items) -> None:
        for it in items:
            if isinstance(it, ast.Attribute):
                ctx.value_spans.setdefault(f"{prefix}.{it.name}", it.span)
            elif isinstance(it, ast.Block) and it.label is None:
                ctx.value_spans.setdefault(f"{prefix}.{it.kind}", it.kind_span.to(it.span))
            elif isinstance(it, ast.StepDecl):
                record(f"step.{it.name}", it.items)
    for b in blocks:
        if b.label and b.kind in ("dataset", "pipeline", "model", "endpoint", "batch", "monitor", "alert",
                                  "channel"):
            record(f"{b.kind}.{b.label}", b.items)
        elif b.kind in ("tracking", "security") and b.label is None:
            record(b.kind, b.items)


_CONTAINERS = (ast.System, ast.Block, ast.StepDecl, ast.GateDecl, ast.FieldDecl, ast.Object)
_LITERALS = (ast.Str, ast.Num, ast.Duration, ast.Percent, ast.Size)


def _literals(system: ast.System) -> list:
    """Every string and typed literal in the spec, in one iterative pass (no recursion,
    so deep input cannot overflow the stack; no reflection, so it stays cheap)."""
    out: list = []
    stack: list = [system]
    pop, push, add = stack.pop, stack.extend, out.append
    while stack:
        n = pop()
        if isinstance(n, _LITERALS):
            add(n)
        elif isinstance(n, _CONTAINERS):
            push(n.items)
        elif isinstance(n, ast.Attribute):
            stack.append(n.value)
        elif isinstance(n, ast.List):
            push(n.items)
        elif isinstance(n, ast.Call):
            push(n.args)
        elif isinstance(n, ast.Map):
            push(e.value for e in n.entries)
        elif isinstance(n, ast.Require):
            stack.append(n.expr)
        elif isinstance(n, (ast.Compare, ast.Binary)):
            push((n.left, n.right))
        elif isinstance(n, ast.Negate):
            stack.append(n.operand)
    return out


MAX_EXACT = 2 ** 53  # the largest integer every JSON reader (and every cloud API) keeps exactly
MAX_SECONDS = 100 * 365 * 86400
MAX_BYTES = 2 ** 60


def _screen_numbers(sink: Sink, literals: list) -> None:
    """Literals too large to mean anything (or to survive JSON and cloud APIs) are refused
    once, wherever they are; readers then skip them instead of overflowing."""
    for v in literals:
        if isinstance(v, ast.Str):
            continue
        if isinstance(v, ast.Num):
            bad = (not math.isfinite(v.value)) if isinstance(v.value, float) else abs(v.value) > MAX_EXACT
            limit = "9,007,199,254,740,992 (2^53)"
        elif isinstance(v, ast.Duration):
            bad, limit = not v.seconds <= MAX_SECONDS, "100 years"
        elif isinstance(v, ast.Percent):
            bad, limit = not math.isfinite(v.value) or v.value > MAX_EXACT, "100%"
        else:
            bad, limit = v.bytes > MAX_BYTES, "1 EiB"
        if bad:
            shown = v.text if len(v.text) <= 24 else v.text[:12] + "…" + v.text[-6:]
            sink.error("E302", f"`{shown}` is too large; the limit is {limit}", v.span,
                       detail="larger numbers lose precision in JSON and in the clouds' APIs (or overflow to "
                              "infinity), so the value that reached the cloud would not be the one written",
                       hint="use a realistic value")


def _screen_secrets(sink: Sink, literals: list) -> None:
    """Literal secrets anywhere in the spec, including fields no reader screens (lists,
    call arguments, overrides of environments not being built). Values are never shown."""
    from mlspec.compiler.check.policy import secret_kind

    reported = {d.span for d in sink.sorted() if d.code in ("E402", "E403")}
    for s in literals:
        if not isinstance(s, ast.Str) or s.span in reported:
            continue
        kind = secret_kind(s.value)
        if kind:
            sink.error("E402", f"this string holds what looks like {kind} (value redacted)", s.span,
                       detail="secrets in a spec end up in version control, build artifacts and logs",
                       hint='store it in the cloud secret store and write `secret("<name>")` where a secret is '
                            "accepted (channels)")


def _map_entries(a: ast.Attribute | None) -> list[ast.MapEntry]:
    if a is not None and isinstance(a.value, ast.Map):
        return list(a.value.entries)
    return []


# ------------------------------------------------------------------ small kinds
def _kpi(ctx: Ctx, b: ast.Block) -> dict:
    body = Body(ctx.sink, b.items, f"KPI `{b.label}`", b.label_span)
    d = {"id": f"kpi.{b.label}", "name": b.label, "description": body.string("description", required=True),
         "goal": body.string("goal", required=True)}
    body.finish()
    return d


def _dataset(ctx: Ctx, b: ast.Block) -> dict:
    where = f"dataset `{b.label}`"
    body = Body(ctx.sink, b.items, where, b.label_span)
    uri = ctx.read_uri(body, "uri", where, required=True, ir_id=f"dataset.{b.label}.uri")
    fmt = body.enum("format", FORMATS, required=True)
    version = body.string("version", required=True)
    sample = body.string("sample")  # local sample data for `mlspec run` (path relative to the spec)
    schema = []
    sb = body.block("schema")
    if sb is not None:
        sbody = Body(ctx.sink, [], f"the schema of {where}", sb.kind_span)
        seen: dict[str, Span] = {}
        for f in sb.items:
            if not isinstance(f, ast.FieldDecl):
                ctx.sink.error("E110", f"the schema of {where} holds fields such as `amount : float`", f.span,
                               hint="write `<column> : <type>`")
                continue
            if f.name in seen:
                ctx.sink.error("E205", f"column `{f.name}` is declared twice in {where}", f.name_span,
                               labels=(Label(seen[f.name], "first declared here"),))
                continue
            seen[f.name] = f.name_span
            check_identifier(ctx.sink, f.name, f.name_span, "column")
            schema.append(_field(ctx, f, where))
        sbody.finish()
    checks = {"max_null_fraction_percent": None, "min_rows": None, "max_duplicate_percent": None,
              "max_staleness_s": None}
    cb = body.block("checks")
    if cb is not None:
        cbody = Body(ctx.sink, cb.items, f"the checks of {where}", cb.kind_span)
        checks = {"max_null_fraction_percent": cbody.percent("max_null_fraction"),
                  "min_rows": cbody.number("min_rows", lo=0, integer=True),
                  "max_duplicate_percent": cbody.percent("max_duplicates"),
                  "max_staleness_s": cbody.duration("max_staleness", lo=60)}
        cbody.finish()
    body.finish()
    labels = [c["name"] for c in schema if c["role"] == "label"]
    if len(labels) > 1:
        ctx.sink.error("E313", f"{where} has {len(labels)} label columns; a dataset has at most one",
                       b.label_span)
    d = {"id": f"dataset.{b.label}", "name": b.label, "uri": uri, "format": fmt, "version": version,
         "schema": schema, "checks": checks}
    if sample is not None:
        d["sample"] = sample
    return d


def _field(ctx: Ctx, f: ast.FieldDecl, where: str) -> dict:
    if f.type not in FIELD_TYPES:
        ctx.sink.error("E304", f"`{f.type}` is not a column type", f.type_span,
                       hint=did_you_mean(f.type, FIELD_TYPES) or "types: " + ", ".join(FIELD_TYPES))
    body = Body(ctx.sink, f.items, f"column `{f.name}` of {where}", f.name_span)
    lo = body.number("min")
    hi = body.number("max")
    if lo is not None and hi is not None and lo > hi:
        ctx.sink.error("E302", f"column `{f.name}`: `min` is above `max`", body.attrs["min"].value.span)
    allowed = None
    av = body.value("allowed")
    if av is not None:
        if isinstance(av, ast.List) and all(isinstance(x, (ast.Str, ast.Num)) for x in av.items) and av.items:
            allowed = [x.value for x in av.items]
            # the values reach step configs and job payloads: the string screen (control
            # characters, template syntax such as KFP's `{{$...}}`, secrets) applies
            if not all([policy.check_string(ctx.sink, x, "allowed", f"column `{f.name}`", max_len=256)
                        for x in av.items if isinstance(x, ast.Str)]):
                allowed = None
        else:
            ctx.sink.error("E301", f"`allowed` of column `{f.name}` expects a non-empty list of strings or numbers",
                           av.span)
    role = body.enum("role", ROLES, default="feature")
    nullable = body.boolean("nullable", default=False)
    body.finish()
    return {"name": f.name, "type": f.type, "nullable": nullable, "role": role, "min": lo, "max": hi,
            "allowed": allowed}


@functools.lru_cache(maxsize=1)
def _tracking_forms() -> tuple[str, ...]:
    """An MLflow tracking `uri`: an https URL, or a managed tracking server id of a registered
    target (``Target.tracking_uri_forms``)."""
    from mlspec.targets.base import registered_targets

    return ("https://",) + tuple(f for t in registered_targets() for f in (t.tracking_uri_forms or ()))


def _tracking(ctx: Ctx, b: ast.Block | None, system: str) -> dict:
    if b is None:
        return {"backend": "native", "experiment": system, "uri": None}
    body = Body(ctx.sink, b.items, "`tracking`", b.kind_span)
    backend = body.enum("backend", ("native", "mlflow"), default="native")
    experiment = body.string("experiment", default=system)
    uri = body.string("uri")
    if uri is not None and backend != "mlflow":
        ctx.sink.error("E313", "`uri` in `tracking` only applies to `backend = mlflow`", body.attrs["uri"].name_span)
    if uri is not None and not uri.startswith(_tracking_forms()):
        ctx.sink.error("E311", "the MLflow tracking `uri` must be an https URL or a managed tracking server id",
                       body.attrs["uri"].value.span)
    body.finish()
    return {"backend": backend, "experiment": experiment, "uri": uri}


def _security(ctx: Ctx, b: ast.Block | None, labels: dict[str, str]) -> dict:
    default_class = labels.get("data_class") if labels.get("data_class") in CLASSIFICATIONS else "confidential"
    out = {"encryption": "customer_managed", "network": "private", "kms_key": None, "allowed_egress": [],
           "data_classification": default_class}
    if b is None:
        return out
    body = Body(ctx.sink, b.items, "`security`", b.kind_span)
    enc = body.enum("encryption", ("customer_managed", "provider_managed"), default="customer_managed")
    if enc == "provider_managed":
        ctx.require_waiver("MLS-G-01", body.attrs["encryption"].value.span,
                           "`encryption = provider_managed` turns off customer-managed keys",
                           "use `encryption = customer_managed`")
    net = body.enum("network", ("private", "public"), default="private")
    if net == "public":
        ctx.require_waiver("MLS-G-02", body.attrs["network"].value.span,
                           "`network = public` exposes workspaces, endpoints and storage",
                           "use `network = private`")
    out["kms_key"] = body.string("kms_key")
    if "kms_key" in body.attrs:
        ctx.value_spans["security.kms_key"] = body.attrs["kms_key"].value.span
    egress = body.strings("allowed_egress") or []
    for host in egress:
        if not _re.fullmatch(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", host):
            ctx.sink.error("E311", f"`{host}` in `allowed_egress` is not a host name",
                           body.attrs["allowed_egress"].value.span, hint="for example `pypi.org`")
    out["allowed_egress"] = egress
    cls = body.enum("data_classification", CLASSIFICATIONS, default=default_class)
    out["data_classification"] = cls
    body.finish()
    out["encryption"] = "customer_managed"
    out["network"] = "private"
    return out


def _waiver(ctx: Ctx, b: ast.Block) -> dict | None:
    rule = b.label or ""
    where = f'waiver `{rule}`'
    body = Body(ctx.sink, b.items, where, b.label_span or b.kind_span)
    reason = body.string("reason")
    owner = body.string("owner")
    until = body.string("until")
    body.finish()
    span = b.label_span or b.kind_span
    if not b.label_quoted:
        ctx.sink.error("E301", "a waiver names its rule as a string", span, hint=f'write `waive "{rule}" {{`')
        return None
    if not baseline.is_known(rule):
        upper = rule.strip().upper()
        ctx.sink.error("E406", f"`{rule}` is not a security rule mlspec knows", span,
                       hint=(f"rule ids are written in capitals: `{upper}`" if baseline.is_known(upper) else
                             did_you_mean(rule, baseline.catalogue()) or "see docs/security.md for the rule ids"))
        return None
    if not baseline.is_waivable(rule):
        ctx.sink.error("E407", f"security rule {rule} cannot be waived", span,
                       detail=baseline.catalogue()[rule][1], hint="remove the waiver and meet the rule")
        return None
    missing = [k for k, v in (("reason", reason), ("owner", owner), ("until", until)) if not v]
    if missing:
        need = [f"`{m}`" for m in missing]
        ctx.sink.error("E409", f"{where} needs {' and '.join([', '.join(need[:-1]), need[-1]] if len(need) > 1 else need)}", span,
                       hint='a waiver says why, who owns it and until when: `reason = "..."  owner = "team"  '
                            'until = "YYYY-MM-DD"`')
        return None
    date = parse_date(until)  # type: ignore[arg-type]
    if date is None:
        ctx.sink.error("E308", f"`until` in {where} must be a date such as `\"2027-03-01\"`",
                       body.attrs["until"].value.span)
        return None
    t = today()
    if date < t:
        ctx.sink.error("E408", f"{where} expired on {until}", body.attrs["until"].value.span,
                       hint="renew it with a new date and reason, or meet the rule")
        return None
    if (date - t).days <= 30:
        ctx.sink.error("W401", f"{where} expires on {until}, in {(date - t).days} days",
                       body.attrs["until"].value.span, hint="plan the fix or renew the waiver")
    return {"rule": rule, "reason": reason, "owner": owner, "until": until}


def _targets(ctx: Ctx, blocks: list[ast.Block]) -> dict[str, dict]:
    from mlspec.targets.base import available_targets

    known = available_targets()
    out: dict[str, dict] = {}
    for b in blocks:
        name = b.label or ""
        if name not in known:
            ctx.sink.error("E208", f"unknown target `{name}`", b.label_span,
                           hint=did_you_mean(name, known) or "targets: " + ", ".join(known))
            continue
        if name in out:
            ctx.sink.error("E205", f"target `{name}` is configured twice", b.label_span)
            continue
        settings: dict[str, Any] = {}
        body = Body(ctx.sink, b.items, f"target `{name}`", b.label_span)
        for key, a in body.attrs.items():
            v = a.value
            if isinstance(v, ast.Str):
                if check_string(ctx.sink, v, key, f"target `{name}`"):
                    settings[key] = v.value
            elif isinstance(v, ast.Num):
                settings[key] = v.value
            elif isinstance(v, ast.Bool):
                settings[key] = v.value
            elif isinstance(v, ast.List) and all(isinstance(x, ast.Str) for x in v.items):
                settings[key] = [x.value for x in v.items]
            else:
                ctx.sink.error("E301", f"`{key}` in target `{name}` expects a string, number, `true`/`false` "
                                       f"or a list of strings, found {ast.describe(v)}", v.span)
            body.asked.add(key)
            # lets target-settings checks (E502) point at the setting, not just the block
            ctx.value_spans[f"target.{name}.{key}"] = a.name_span
        body.finish()
        out[name] = dict(sorted(settings.items()))
    return out


# ------------------------------------------------------------------ linking
def _link(ctx: Ctx, pipelines, models, endpoints, batch, monitors, alerts) -> None:
    mon = {m["id"]: m for m in monitors}
    for p in pipelines:
        for mid in p["retrain_on"]:
            if mid in mon and p["id"] not in mon[mid]["retrains"]:
                mon[mid]["retrains"].append(p["id"])
    al = {a["id"]: a for a in alerts}
    for e in endpoints:
        for aid in e["rollout"].get("rollback_on", []):
            if aid in al and e["id"] not in al[aid]["rollback_for"]:
                al[aid]["rollback_for"].append(e["id"])
            if aid in al and al[aid]["endpoint"] not in (None, e["id"]):
                sym = ctx.symbols.get("alert", aid.split(".")[1])
                at = ctx.value_spans.get(f"{e['id']}.rollback_on.{aid}") or (sym.span if sym else None)
                ctx.sink.error("E207", f"endpoint `{e['name']}` rolls back on alert `{al[aid]['name']}`, which "
                                       f"watches endpoint `{al[aid]['endpoint'].split('.', 1)[1]}`", at,
                               labels=(Label(sym.span, "the alert is declared here"),) if sym and at != sym.span else (),
                               hint="roll back on alerts of the same endpoint")
    for m in monitors:
        if m["kind"] == "bias_drift" and m["facets"]:
            cols = ctx.all_columns()
            for f in m["facets"]:
                if cols and f not in cols:
                    sym = ctx.symbols.get("monitor", m["name"])
                    at = ctx.value_spans.get(f"monitor.{m['name']}.facet.{f}") or (sym.span if sym else None)
                    ctx.sink.error("E204", f"unknown column `{f}` in `facets` of monitor `{m['name']}`", at,
                                   hint=did_you_mean(f, cols) or "facets name columns of a dataset schema")


def _unused(ctx: Ctx, datasets, channels, pipelines) -> None:
    referenced: set[str] = set(ctx.used)
    for p in pipelines:
        for s in p["steps"]:
            for key in ("data",):
                if isinstance(s.get(key), str):
                    referenced.add(s[key])
            for ref in s.get("inputs", []) or []:
                referenced.add(ref)
    for d in datasets:
        if d["id"] not in referenced:
            sym = ctx.symbols.get("dataset", d["name"])
            ctx.sink.error("W201", f"dataset `{d['name']}` is never used", sym.span if sym else None,
                           hint="reference it from a step, batch job or monitor, or remove it")
    for c in channels:
        if c["id"] not in referenced:
            sym = ctx.symbols.get("channel", c["name"])
            ctx.sink.error("W201", f"channel `{c['name']}` is never notified", sym.span if sym else None,
                           hint="add it to a monitor's or alert's `notify`, or remove it")
