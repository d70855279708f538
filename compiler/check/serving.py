"""Models, endpoints, rollouts, batch jobs, monitors, alerts and channels: AST -> IR.

Input: the blocks of one system (after the environment overlay) and the symbol table.
Output: IR dicts (docs/ir.md). Checks units per metric (latency takes a duration, error
rate a percentage), ranges (percent 0-100, autoscale min <= max, traffic adding up to
100%), required fields per monitor kind, and that secrets are references, never values.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mlspec.compiler import ast
from mlspec.compiler.check.pipeline import BIAS_LABEL_METRICS, BIAS_PREDICTION_METRICS, COMPUTE_CLASSES, accelerators
from mlspec.compiler.check.values import Body, did_you_mean
from mlspec.compiler.diagnostics import Label

if TYPE_CHECKING:
    from mlspec.compiler.check.ctx import Ctx

ROLLOUTS = ("all_at_once", "canary", "linear", "blue_green", "shadow", "ab_test")
MONITOR_KINDS = ("data_drift", "prediction_drift", "model_quality", "bias_drift", "feature_attribution_drift")
MONITOR_METRICS = {
    "data_drift": ("psi", "jensen_shannon", "wasserstein", "normalized_wasserstein", "chi_squared", "kl_divergence"),
    "prediction_drift": ("psi", "jensen_shannon", "wasserstein", "normalized_wasserstein", "chi_squared"),
    "model_quality": ("accuracy", "f1", "precision", "recall", "auc", "rmse", "mae", "r2"),
    # a monitor sees the endpoint's predictions, not labels: Clarify's prediction metrics, defined as
    # for a bias_check step (compiler/check/pipeline.py BIAS_PREDICTION_METRICS)
    "bias_drift": BIAS_PREDICTION_METRICS,
    "feature_attribution_drift": ("ndcg",),
}
#: label metrics a bias_check step may use; a monitor cannot (it sees predictions), so they get a hint
_BIAS_LABEL_METRICS = BIAS_LABEL_METRICS + ("cddl", "cddpl")
_LOWER_IS_WORSE = ("accuracy", "f1", "precision", "recall", "auc", "r2", "ndcg")
ALERT_METRICS = {
    "latency_p50": "duration", "latency_p99": "duration", "error_rate": "percent",
    "throughput": "number", "cpu": "percent", "memory": "percent",
}
ALERT_UNITS = {"duration": "ms", "percent": "percent", "number": "rps"}
CHANNEL_KINDS = ("email", "slack", "webhook", "pagerduty")
TASKS = ("binary_classification", "multiclass_classification", "regression")
PREDICTIONS = ("label", "probability")
#: model formats: the file layout a training script writes into `--model` (docs/language.md#model)
MODEL_FORMATS = ("xgboost", "sklearn", "mlflow", "torchscript", "onnx")
#: the format a framework's own save writes, used when a model declares none
FRAMEWORK_FORMATS = {"xgboost": "xgboost", "sklearn": "sklearn"}


# ------------------------------------------------------------------ models
def build_model(ctx: "Ctx", b: ast.Block) -> dict:
    name = b.label or ""
    where = f"model `{name}`"
    body = Body(ctx.sink, b.items, where, b.label_span or b.kind_span)
    description = body.string("description", free_text=False, default="")
    approval = {"required": ctx.approval != "none", "approvers": [], "count": 0}
    ab = body.block("approval")
    if ab is not None:
        abody = Body(ctx.sink, ab.items, f"the approval of {where}", ab.kind_span)
        approvers = abody.strings("approvers", required=True) or []
        count = abody.number("required", default=1, lo=1, hi=10, integer=True)
        abody.finish()
        if approvers and count and count > len(approvers) and all("@" in a for a in approvers):
            ctx.sink.error("E302", f"{where} requires {count} approvals but names {len(approvers)} approver(s)",
                           abody.attrs["required"].value.span if "required" in abody.attrs else ab.kind_span)
        if not approvers and ctx.approval != "none" and "approvers" in abody.attrs:
            ctx.sink.error("E303", f"{where} requires approval but `approvers` is empty, so nobody could approve "
                                   "a version", abody.attrs["approvers"].value.span,
                           detail="every environment that does not say `approval = none` waits for a human "
                                  "approval before deploying",
                           hint='name who approves: `approvers = ["<group>"]`')
        approval = {"required": ctx.approval != "none", "approvers": approvers, "count": int(count or 1)}
    elif ctx.approval != "none":
        ctx.sink.error("E303", f"{where} needs an `approval` block", b.label_span or b.kind_span,
                       detail="deployment follows a human approval unless the environment says `approval = none`",
                       hint='add `approval { approvers = ["<group>"]  required = 1 }`')
    explain = body.enum("explain", ("shap", "none"), default="none")
    card = {"intended_use": None, "limitations": None, "ethical_considerations": None}
    cb = body.block("card")
    if cb is not None:
        cbody = Body(ctx.sink, cb.items, f"the card of {where}", cb.kind_span)
        for k in card:
            card[k] = cbody.string(k, free_text=True, max_len=4000)
        cbody.finish()
    task = body.enum("task", TASKS)
    label = None
    if body.has("label"):
        cols = ctx.all_columns()
        if cols:
            label = body.enum("label", sorted(cols))
        else:
            label = body.ident("label")
    label = label or ctx.label_column()
    positive = None
    pv = body.value("positive_label")
    if pv is not None:
        if isinstance(pv, (ast.Num, ast.Str, ast.Bool)):
            positive = pv.value
        else:
            ctx.sink.error("E301", f"`positive_label` in {where} expects a label value such as `1` or `\"yes\"`, "
                                   f"found {ast.describe(pv)}", pv.span)
        if task == "regression":
            ctx.sink.error("E313", f"{where} is a regression model and has no `positive_label`", pv.span,
                           hint="remove `positive_label`, or set the classification `task`")
            positive = None
    prediction = body.enum("prediction", PREDICTIONS, default="label")
    threshold = body.number("threshold", lo=0, hi=1, lo_open=True)
    if prediction == "probability" and task == "regression":
        ctx.sink.error("E313", f"{where} is a regression model and returns no probability",
                       body.attrs["prediction"].value.span, hint="remove `prediction = probability`")
    if threshold is not None and (prediction != "probability" or task not in (None, "binary_classification")):
        ctx.sink.error("E313", f"`threshold` in {where} needs `prediction = probability` on a "
                               "`binary_classification` model", body.attrs["threshold"].name_span,
                       detail="the threshold turns a binary classifier's probability of the positive class into "
                              "a label, for model-quality monitors and evaluations",
                       hint="add `task = binary_classification` and `prediction = probability`, or remove `threshold`")
        threshold = None
    if prediction == "probability" and task in (None, "binary_classification") and threshold is None:
        threshold = 0.5
    fmt = body.enum("format", MODEL_FORMATS)
    serve = None
    sb = body.block("serve")
    if sb is not None:
        from mlspec.compiler.check import code as codemod
        from mlspec.compiler.check.policy import check_script_path

        sbody = Body(ctx.sink, sb.items, f"the serve block of {where}", sb.kind_span)
        ep = sbody.attr("entry_point")
        entry = None
        if ep is None:
            sbody._missing("entry_point", "path", True)
        elif not isinstance(ep.value, ast.Str):
            sbody._wrong("entry_point", ep.value, "string")
        else:
            got = check_script_path(ctx.sink, ep.value, "entry_point", f"the serve block of {where}", ctx.root)
            if got is not None:
                entry = got[0]
                ctx.scripts[entry] = got[1]
        req = codemod.requirements(ctx, sbody, f"the serve block of {where}")
        sbody.finish()
        if entry is not None:
            folder = codemod.code_dir(ctx, entry, ep.value.span)
            if folder is not None:
                serve = {"entry_point": entry, "requirements": req if req is not None else
                         getattr(ctx, "requirements", None), "code_dir": folder}
    body.finish()
    return {"id": f"model.{name}", "name": name, "description": description, "pipeline": None,
            "registered_by": None, "source": None, "framework": None, "approval": approval,
            "explain": None if explain == "none" else explain, "card": card, "metrics_from": None,
            "gates": [], "task": task, "label": label, "positive_label": positive,
            "prediction": {"output": prediction or "label", "threshold": threshold},
            "format": fmt, "serve": serve}


def link_models(ctx: "Ctx", models: list[dict], pipelines: list[dict], used: set[str]) -> None:
    """Fill registration facts from the register steps; a served model must be registered."""
    by_id = {m["id"]: m for m in models}
    for p in pipelines:
        steps = {s["id"]: s for s in p["steps"]}
        for s in p["steps"]:
            if s["kind"] != "register" or not s.get("model") or s["model"] not in by_id:
                continue
            m = by_id[s["model"]]
            if m["registered_by"] is not None:
                sym = ctx.symbols.get("step", s["name"])
                first = ctx.symbols.get("step", m["registered_by"].split(".")[1])
                ctx.sink.error("E205", f"model `{m['name']}` is registered by two steps",
                               sym.span if sym else None,
                               labels=(Label(first.span, "first registered here"),) if first else ())
                continue
            m["registered_by"] = s["id"]
            m["pipeline"] = p["id"]
            m["source"] = s.get("source")
            m["metrics_from"] = s.get("metrics_from")
            m["gates"] = [g["id"] for g in p["gates"]]
            src_step = steps.get(".".join((s.get("source") or "").split(".")[:2]))
            if src_step is not None:
                m["framework"] = src_step.get("framework")
    for m in models:
        if m["registered_by"] is None and m["id"] in used:
            sym = ctx.symbols.get("model", m["name"])
            ctx.sink.error("E411", f"model `{m['name']}` is served but no pipeline registers it",
                           sym.span if sym else None,
                           hint=f"add `step register = register {{ model = model.{m['name']} }}` to a pipeline")


def check_models(ctx: "Ctx", models: list[dict], pipelines: list[dict], endpoints: list[dict],
                 batch: list[dict], monitors: list[dict]) -> None:
    """Defaults and requirements of a model's task, labels and format, once its uses are known.

    - `format` defaults to the trainer's framework format (xgboost, sklearn); a served or
      batch-scored model without one and without `serve` is E303;
    - `task` is required when a bias check, a `model_quality` or a `bias_drift` monitor reads
      the model (E303); a binary classifier's `positive_label` defaults to `1` (or `true`) when
      the label column allows exactly 0/1 (false/true), else it is required there too."""
    by_id = {m["id"]: m for m in models}
    by_source: dict[str, list[dict]] = {}
    for m in models:
        if m["source"]:
            by_source.setdefault(m["source"], []).append(m)
        if m["format"] is None and m["framework"]:
            m["format"] = FRAMEWORK_FORMATS.get(m["framework"]["name"])
        if m["task"] == "binary_classification" and m["positive_label"] is None:
            m["positive_label"] = _binary_positive(ctx, m["label"])
    served: dict[str, str] = {}
    for e in endpoints:
        for mid in [e["model"]] + [v["model"] for v in e["rollout"].get("variants", [])]:
            if mid:
                served.setdefault(mid, f"endpoint `{e['name']}`")
    for b in batch:
        if b["model"]:
            served.setdefault(b["model"], f"batch job `{b['name']}`")
    for mid, user in served.items():
        m = by_id.get(mid)
        if m is not None and m["format"] is None and m["serve"] is None:
            _need(ctx, m, "format", f"{user} serves it and its trainer's framework has no single file format",
                  "add `format = torchscript` (or `onnx`, `mlflow`, `sklearn`, `xgboost`: the layout the training "
                  "script writes into `--model`), or a `serve { entry_point = \"...\" }` block")
    needs: dict[str, str] = {}
    for p in pipelines:
        for s in p["steps"]:
            if s["kind"] == "bias_check" and s.get("model"):
                ref = s["model"]
                for m in ([by_id[ref]] if ref in by_id else by_source.get(ref, [])):
                    needs.setdefault(m["id"], f"bias check `{s['name']}` reads it")
    for mon in monitors:
        if mon["kind"] in ("model_quality", "bias_drift") and mon["endpoint"]:
            e = next((x for x in endpoints if x["id"] == mon["endpoint"]), None)
            if e is None:
                continue
            for mid in [e["model"]] + [v["model"] for v in e["rollout"].get("variants", [])]:
                if mid in by_id:
                    needs.setdefault(mid, f"{mon['kind']} monitor `{mon['name']}` reads it")
    for mid, why in needs.items():
        m = by_id[mid]
        if m["task"] is None:
            _need(ctx, m, "task", why, "add `task = binary_classification` (or `multiclass_classification`, "
                                       "`regression`)")
        elif m["task"] != "regression" and m["positive_label"] is None:
            _need(ctx, m, "positive_label", why, _positive_label_hint(ctx, m["label"]))
        if m["label"] is None:
            _need(ctx, m, "label", why, "add `label = <column>`, or mark the column `role = label` in the "
                                        "dataset's schema")


def _need(ctx: "Ctx", m: dict, attr: str, why: str, hint: str) -> None:
    sym = ctx.symbols.get("model", m["name"])
    ctx.sink.error("E303", f"model `{m['name']}` needs `{attr}`: {why}", sym.span if sym else None,
                   detail="mlspec does not guess a model's task, labels or file layout; each cloud configures "
                          "its monitors, bias checks and servers from them (docs/language.md#model)",
                   hint=hint)


def _label_fields(ctx: "Ctx", label: str | None):
    """Each schema declaration of the label column: (its type, its `allowed` items or None)."""
    for b in ctx.datasets_ast if label else ():
        for it in b.items:
            if isinstance(it, ast.Block) and it.kind == "schema":
                for f in it.items:
                    if isinstance(f, ast.FieldDecl) and f.name == label:
                        allowed = next((a.value.items for a in f.items if isinstance(a, ast.Attribute)
                                        and a.name == "allowed" and isinstance(a.value, ast.List)), None)
                        yield f.type, allowed


def _label_values(ctx: "Ctx", label: str | None) -> list:
    """The `allowed` values of the label column in a dataset schema, as written (else [])."""
    for typ, allowed in _label_fields(ctx, label):
        if typ == "bool":
            return [True, False]
        if allowed is not None:
            return [v.value for v in allowed if isinstance(v, (ast.Num, ast.Str, ast.Bool))]
    return []


def _positive_label_hint(ctx: "Ctx", label: str | None) -> str:
    """A `positive_label` the checker would accept: one of the label column's allowed values."""
    def lit(v) -> str:
        return ("true" if v else "false") if isinstance(v, bool) else json.dumps(v) if isinstance(v, str) else str(v)

    values = _label_values(ctx, label)
    if values:
        rest = ", ".join(f"`{lit(v)}`" for v in values[1:])
        return (f"add `positive_label = {lit(values[0])}`" + (f" (or {rest})" if rest else "")
                + f": the value of `{label}` for the favourable or positive outcome")
    return "add `positive_label = 1` (the label value of the favourable or positive outcome)"


def _binary_positive(ctx: "Ctx", label: str | None):
    """`1` / `true` when the label column allows exactly {0, 1} / {false, true}; else None."""
    for typ, allowed in _label_fields(ctx, label):
        if typ == "bool":
            return True
        if allowed is not None and len(allowed) == 2 \
                and sorted(v.value for v in allowed if isinstance(v, ast.Num)) == [0, 1]:
            return 1
    return None


# ------------------------------------------------------------------ endpoints and rollouts
def build_endpoint(ctx: "Ctx", b: ast.Block) -> dict:
    name = b.label or ""
    where = f"endpoint `{name}`"
    body = Body(ctx.sink, b.items, where, b.label_span or b.kind_span)
    r = body.ref("model", required=True)
    model = ctx.symbols.resolve(r, ("model",), f"`model` of {where}") if r else None
    if model:
        ctx.used.add(model)
    cls = body.enum("compute", COMPUTE_CLASSES, default="cpu.medium")
    count = body.number("instances", default=1, lo=1, hi=100, integer=True)
    acc = accelerators(ctx, body, cls)
    autoscale = None
    ab = body.block("autoscale")
    if ab is not None:
        abody = Body(ctx.sink, ab.items, f"the autoscale of {where}", ab.kind_span)
        lo = abody.number("min", required=True, lo=0, hi=1000, integer=True)
        hi = abody.number("max", required=True, lo=1, hi=1000, integer=True)
        rps = abody.number("target_rps", lo=0, lo_open=True, hi=1_000_000)
        cpu = abody.percent("target_cpu", lo=1, hi=100)
        abody.finish()
        if lo is not None and hi is not None and lo > hi:
            ctx.sink.error("E306", f"autoscale of {where}: `min` ({lo}) is above `max` ({hi})",
                           abody.attrs["min"].value.span,
                           labels=(Label(abody.attrs["max"].value.span, "maximum set here"),),
                           hint="make `min` at most `max`")
        if rps is None and cpu is None and "target_rps" not in abody.attrs and "target_cpu" not in abody.attrs:
            ctx.sink.error("E303", f"autoscale of {where} needs `target_rps` or `target_cpu`", ab.kind_span)
        if lo is not None and hi is not None:
            autoscale = {"min": ctx.scaled(lo, floor=0), "max": max(ctx.scaled(hi), ctx.scaled(lo, floor=0)),
                         "target_rps": rps, "target_cpu_percent": cpu}
    capture = body.percent("capture", lo=0, hi=100, lo_open=True)
    auth = body.enum("auth", ("iam", "key"), default="iam")
    if auth == "key":
        ctx.require_waiver("MLS-AZ-070", body.attrs["auth"].value.span,
                           f"{where} uses key authentication", "use `auth = iam`")
    rollout = _rollout(ctx, body, where, f"endpoint.{name}")
    body.finish()
    instances = ctx.scaled(int(count or 1))
    if autoscale:
        instances = max(min(instances, autoscale["max"]), max(autoscale["min"], 1))
    return {"id": f"endpoint.{name}", "name": name, "model": model,
            "compute": {"class": cls or "cpu.medium", "instance_count": instances, "accelerators": acc},
            "autoscale": autoscale, "capture": {"percent": capture} if capture else None,
            "auth": auth or "iam", "rollout": rollout}


def _rollout(ctx: "Ctx", body: Body, where: str, where_id: str = "") -> dict:
    v = body.value("rollout")
    if v is None:
        return {"strategy": "all_at_once", "rollback_on": []}
    if isinstance(v, ast.Ref) and len(v.parts) == 1:
        kind, items, span = v.text, (), v.span
    elif isinstance(v, ast.Object):
        kind, items, span = v.kind, v.items, v.kind_span
    else:
        body._wrong("rollout", v, "name")
        return {"strategy": "all_at_once", "rollback_on": []}
    if kind not in ROLLOUTS:
        ctx.sink.error("E304", f"`{kind}` is not a rollout strategy", span,
                       hint=did_you_mean(kind, ROLLOUTS) or "strategies: " + ", ".join(ROLLOUTS))
        return {"strategy": "all_at_once", "rollback_on": []}
    rw = f"the `{kind}` rollout of {where}"
    rb = Body(ctx.sink, items, rw, span)
    out: dict[str, Any] = {"strategy": kind}
    if kind == "canary":
        out["initial_percent"] = rb.percent("initial", required=True, lo=0, lo_open=True, hi=50)
        out["step_percent"] = rb.percent("step", default=None, lo=0, lo_open=True, hi=100)
        out["interval_s"] = rb.duration("interval", required=True, lo=60, hi=86400)
        if out["step_percent"] is None and out["initial_percent"] is not None:
            # no `step`: after one interval the remaining traffic moves at once (classic canary)
            out["step_percent"] = round(100 - out["initial_percent"], 6)
    elif kind == "linear":
        out["step_percent"] = rb.percent("step", required=True, lo=0, lo_open=True, hi=50)
        out["interval_s"] = rb.duration("interval", required=True, lo=60, hi=86400)
    elif kind == "blue_green":
        out["bake_s"] = rb.duration("bake", default=600, lo=0, hi=86400)
    elif kind == "shadow":
        out["sample_percent"] = rb.percent("sample", required=True, lo=0, lo_open=True, hi=100)
        out["duration_s"] = rb.duration("duration", required=True, lo=3600, hi=90 * 86400)
        out["promote"] = rb.enum("promote", ("all_at_once", "blue_green"), default=None)
    elif kind == "ab_test":
        variants = []
        blocks = rb.named_blocks("variant")
        total = 0.0
        shares: list[Label] = []
        seen: dict[str, ast.Block] = {}
        broken = False
        for vb in blocks:
            if vb.label is not None and vb.label in seen:
                broken = True
                first = seen[vb.label]
                ctx.sink.error("E205", f"variant `{vb.label}` is declared twice in {rw}", vb.label_span,
                               labels=(Label(first.label_span or first.kind_span, "first declared here"),),
                               hint="give each variant its own name")
                continue
            if vb.label is None:
                broken = True
                ctx.sink.error("E303", f"a `variant` in {rw} needs a name", vb.kind_span,
                               hint="write `variant <name> { model = model.<name>  traffic = 50% }`")
                continue
            seen[vb.label] = vb
            vw = f"variant `{vb.label}` of {where}"
            vbody = Body(ctx.sink, vb.items, vw, vb.label_span or vb.kind_span)
            mr = vbody.ref("model", required=True)
            mid = ctx.symbols.resolve(mr, ("model",), f"`model` of {vw}") if mr else None
            if mid:
                ctx.used.add(mid)
            pct = vbody.percent("traffic", required=True, lo=0, lo_open=True, hi=100)
            vbody.finish()
            total += pct or 0
            variants.append({"name": vb.label or "", "model": mid, "percent": pct})
            if pct is not None:
                shares.append(Label(vbody.attrs["traffic"].value.span, f"variant `{vb.label}` gets {pct:g}%"))
        if len(blocks) < 2:
            ctx.sink.error("E303", f"{rw} needs at least two `variant` blocks", span,
                           hint="add `variant a { model = model.<name>  traffic = 50% }` for each")
        elif abs(total - 100) > 1e-9 and all(v["percent"] for v in variants) and not broken:
            ctx.sink.error("E307", f"the variants of {rw} get {total:g}% of traffic; they must add up to 100%",
                           span, labels=tuple(shares),
                           hint="change the `traffic` values so that they add up to exactly 100%")
        out["variants"] = variants
    rollback = []
    for r in rb.refs("rollback_on") or []:
        rid = ctx.symbols.resolve(r, ("alert",), f"`rollback_on` of {rw}")
        if rid:
            rollback.append(rid)
            ctx.value_spans[f"{where_id}.rollback_on.{rid}"] = r.span
    out["rollback_on"] = rollback
    rb.finish()
    return out


# ------------------------------------------------------------------ batch
def build_batch(ctx: "Ctx", b: ast.Block) -> dict:
    from mlspec.compiler.check import cron as cronmod

    name = b.label or ""
    where = f"batch job `{name}`"
    body = Body(ctx.sink, b.items, where, b.label_span or b.kind_span)
    r = body.ref("model", required=True)
    model = ctx.symbols.resolve(r, ("model",), f"`model` of {where}") if r else None
    if model:
        ctx.used.add(model)
    d = body.ref("data", required=True)
    data = ctx.symbols.resolve(d, ("dataset",), f"`data` of {where}") if d else None
    if data:
        ctx.used.add(data)
    output = ctx.read_uri(body, "output", where, required=True, ir_id=f"batch.{name}.output")
    schedule = cronmod.read_schedule(ctx, body, "schedule")
    cls = body.enum("compute", COMPUTE_CLASSES, default="cpu.large")
    count = body.number("instances", default=1, lo=1, hi=100, integer=True)
    acc = accelerators(ctx, body, cls)
    body.finish()
    return {"id": f"batch.{name}", "name": name, "model": model, "data": data, "output": output,
            "schedule": schedule, "compute": {"class": cls or "cpu.large", "instance_count": ctx.scaled(int(count or 1)),
                                              "accelerators": acc}}


# ------------------------------------------------------------------ monitors, alerts, channels
def _notify(ctx: "Ctx", body: Body, where: str) -> list[str]:
    out = []
    for r in body.refs("notify") or []:
        rid = ctx.symbols.resolve(r, ("channel",), f"`notify` of {where}")
        if rid:
            out.append(rid)
            ctx.used.add(rid)
    return out


def _endpoint_ref(ctx: "Ctx", body: Body, where: str) -> str | None:
    r = body.ref("endpoint", required=True)
    return ctx.symbols.resolve(r, ("endpoint",), f"`endpoint` of {where}") if r else None


def build_monitor(ctx: "Ctx", b: ast.Block) -> dict:
    name = b.label or ""
    where = f"monitor `{name}`"
    body = Body(ctx.sink, b.items, where, b.label_span or b.kind_span)
    endpoint = _endpoint_ref(ctx, body, where)
    kind = body.enum("kind", MONITOR_KINDS, required=True)
    baseline = None
    br = body.ref("baseline", required=kind in ("data_drift", "prediction_drift", "bias_drift",
                                                 "feature_attribution_drift"))
    if br is not None:
        baseline = ctx.symbols.resolve(br, ("dataset",), f"`baseline` of {where}")
        if baseline:
            ctx.used.add(baseline)
    ground_truth = ctx.read_uri(body, "ground_truth", where, required=kind == "model_quality",
                                ir_id=f"monitor.{name}.ground_truth")
    metrics = MONITOR_METRICS.get(kind or "", ())
    mv = body.value("metric")
    if kind == "bias_drift" and isinstance(mv, ast.Ref) and mv.text in _BIAS_LABEL_METRICS:
        counterpart = "`dppl`" if mv.text == "dpl" else "`dppl` or `di`"
        ctx.sink.error("E304", f"`{mv.text}` is not a valid `metric` in {where}", mv.span,
                       hint=f"`{mv.text}` measures labels, and a bias_drift monitor sees the endpoint's "
                            f"predictions: use {counterpart} (Clarify's metrics on predicted labels)")
        metric = None
    else:
        metric = body.enum("metric", metrics, default=metrics[0] if metrics else None) if metrics else None
    if not metrics:
        body.asked.add("metric")  # with an unknown `kind` (E304) the metric cannot be judged
    facet_spans = body.names("facets", required=kind == "bias_drift") or []
    facets = [f for f, _ in facet_spans]
    # attributes that only one kind reads: accepting them elsewhere would silently drop them
    join_on = None
    if body.has("join_on"):
        cols = ctx.all_columns()
        join_on = body.enum("join_on", sorted(cols)) if cols else body.ident("join_on")
    elif kind == "model_quality":
        join_on = ctx.id_column()
    for attr, only in (("facets", "bias_drift"), ("ground_truth", "model_quality"), ("join_on", "model_quality")):
        if kind and kind != only and attr in body.attrs:
            ctx.sink.error("E313", f"`{attr}` only applies to `kind = {only}`; {where} is `{kind}`",
                           body.attrs[attr].name_span, hint=f"remove `{attr}`, or declare a `{only}` monitor")
    for f, fspan in facet_spans:
        ctx.value_spans.setdefault(f"monitor.{name}.facet.{f}", fspan)
    threshold = body.number("threshold", lo=0)
    lo = body.number("min")
    hi = body.number("max")
    if lo is not None and hi is not None and lo > hi:
        ctx.sink.error("E302", f"{where}: `min` ({lo:g}) is above `max` ({hi:g}), so every value is a breach",
                       body.attrs["min"].value.span, labels=(Label(body.attrs["max"].value.span, "maximum set here"),),
                       hint="make `min` at most `max`")
    if threshold is not None and hi is not None:
        ctx.sink.error("E313", f"{where} sets both `threshold` and `max`", body.attrs["max"].name_span,
                       labels=(Label(body.attrs["threshold"].name_span, "threshold set here"),),
                       hint="`threshold` means `max`; keep one")
    above = threshold if threshold is not None else hi
    below = lo
    if above is None and below is None and kind:
        if metric in _LOWER_IS_WORSE:
            ctx.sink.error("E303", f"{where} needs `min` (alert when `{metric}` drops below it)",
                           b.label_span or b.kind_span, hint="add `min = <number>`")
        else:
            ctx.sink.error("E303", f"{where} needs `threshold` (alert when `{metric}` rises above it)",
                           b.label_span or b.kind_span, hint="add `threshold = <number>`")
    every = body.duration("every", default=3600, lo=3600, hi=7 * 86400)
    if every and every % 3600:
        ctx.sink.error("E302", f"`every` in {where} must be a whole number of hours",
                       body.attrs["every"].value.span, hint="monitoring jobs run at most hourly")
    notify = _notify(ctx, body, where)
    body.finish()
    return {"id": f"monitor.{name}", "name": name, "endpoint": endpoint, "kind": kind, "baseline": baseline,
            "ground_truth": ground_truth, "join_on": join_on, "metric": metric, "facets": facets,
            "breach": {"above": above, "below": below}, "every_s": every, "notify": notify, "retrains": []}


def build_alert(ctx: "Ctx", b: ast.Block) -> dict:
    name = b.label or ""
    where = f"alert `{name}`"
    body = Body(ctx.sink, b.items, where, b.label_span or b.kind_span)
    endpoint = _endpoint_ref(ctx, body, where)
    metric = body.enum("metric", tuple(ALERT_METRICS), required=True)
    unit_kind = ALERT_METRICS.get(metric or "", "number")
    has_above, has_below = body.has("above"), body.has("below")
    if has_above and has_below:
        ctx.sink.error("E313", f"{where} sets both `above` and `below`", body.attrs["below"].name_span,
                       labels=(Label(body.attrs["above"].name_span, "`above` set here"),),
                       hint="declare two alerts")
    comparison = "below" if has_below and not has_above else "above"
    value: float | None = None
    if not has_above and not has_below:
        ctx.sink.error("E303", f"{where} needs `above` or `below`", b.label_span or b.kind_span,
                       hint="for example `above = 200ms`" if unit_kind == "duration" else "for example `above = 1%`")
    elif metric:
        if unit_kind == "duration":
            value = body.duration_ms(comparison)
        elif unit_kind == "percent":
            value = body.percent(comparison, lo=0, hi=100)
        else:
            value = body.number(comparison, lo=0)
    body.asked.update({"above", "below"})
    for_s = body.duration("for", default=300, lo=60, hi=86400)
    notify = _notify(ctx, body, where)
    body.finish()
    return {"id": f"alert.{name}", "name": name, "endpoint": endpoint, "metric": metric,
            "comparison": comparison, "value": value, "unit": ALERT_UNITS[unit_kind], "for_s": for_s,
            "notify": notify, "rollback_for": []}


def build_channel(ctx: "Ctx", b: ast.Block) -> dict:
    name = b.label or ""
    where = f"channel `{name}`"
    body = Body(ctx.sink, b.items, where, b.label_span or b.kind_span)
    present = [k for k in CHANNEL_KINDS if body.has(k)]
    kind = present[0] if present else None
    address = secret = None
    if len(present) > 1:
        ctx.sink.error("E313", f"{where} sets {', '.join(f'`{k}`' for k in present)}; a channel has one",
                       body.attrs[present[1]].name_span, hint="declare one channel per destination")
    if not present:
        ctx.sink.error("E303", f"{where} needs one of `email`, `slack`, `webhook`, `pagerduty`",
                       b.label_span or b.kind_span, hint='for example `email = "oncall@example.com"`')
    elif kind == "email" and isinstance(body.value("email"), ast.Call) and body.value("email").name == "secret":
        ctx.sink.error("E301", f"`email` in {where} is an address, not a secret", body.attrs["email"].value.span,
                       hint='write the address: `email = "oncall@example.com"`; `secret(...)` is for Slack, webhook '
                            "and PagerDuty credentials")
    elif kind == "email":
        address = body.string("email")
        if address is not None and not _EMAIL.fullmatch(address):
            ctx.sink.error("E311", f"`{address}` is not an email address", body.attrs["email"].value.span)
            address = None
    else:
        v = body.value(kind)  # type: ignore[arg-type]
        if isinstance(v, ast.Call) and v.name == "secret":
            secret = ctx.read_secret(v, where)
        elif isinstance(v, ast.Str):
            from mlspec.compiler.check.policy import secret_kind
            what = secret_kind(v.value) or f"a literal {kind} credential"
            ctx.sink.error("E402", f"`{kind}` in {where} is a literal; it looks like {what} (value redacted)",
                           v.span, detail="channel URLs and keys grant access and must not live in the spec",
                           hint=f'store it in the secret store and write `{kind} = secret("<name>")`')
        elif v is not None:
            body._wrong(kind, v, 'secret("name")')  # type: ignore[arg-type]
    slack_channel = body.string("slack_channel")
    if slack_channel is not None and kind != "slack":
        ctx.sink.error("E313", f"`slack_channel` in {where} needs `slack = secret(\"...\")`",
                       body.attrs["slack_channel"].name_span, hint="remove `slack_channel`")
        slack_channel = None
    elif slack_channel is not None and not _SLACK_CHANNEL.fullmatch(slack_channel):
        ctx.sink.error("E311", f"`{slack_channel}` is not a Slack channel name", body.attrs["slack_channel"].value.span,
                       hint='write it with its `#`, e.g. `slack_channel = "#ml-alerts"`')
        slack_channel = None
    body.finish()
    return {"id": f"channel.{name}", "name": name, "type": kind or "email", "address": address, "secret": secret,
            "slack_channel": slack_channel}


import re as _re  # noqa: E402

_SLACK_CHANNEL = _re.compile(r"#[a-z0-9][a-z0-9_-]{0,79}")
_EMAIL = _re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
