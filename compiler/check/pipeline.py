"""Pipelines: steps, gates and their dependency graph, AST -> IR.

Input: `pipeline` blocks (after the environment overlay) and the symbol table. Output:
IR pipeline dicts (docs/ir.md) with explicit plus inferred dependencies; reports unknown
references, type errors, cycles (the cycle printed) and gates that read metrics no
step produces. Never raises for user errors.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlspec.compiler import ast
from mlspec.compiler.check import code as codemod, cron as cronmod, policy
from mlspec.compiler.check.names import STEP_OUTPUTS, Symbols
from mlspec.compiler.check.policy import check_script_path
from mlspec.compiler.check.values import Body, did_you_mean
from mlspec.compiler.diagnostics import Label

if TYPE_CHECKING:
    from mlspec.compiler.check.ctx import Ctx

STEP_KINDS = tuple(STEP_OUTPUTS)
COMPUTE_CLASSES = ("cpu.small", "cpu.medium", "cpu.large", "cpu.xlarge", "gpu.small", "gpu.medium",
                   "gpu.large", "memory.large")
FRAMEWORKS = ("sklearn", "xgboost", "pytorch", "tensorflow", "huggingface", "custom")
#: a bias_check's metrics, as SageMaker Clarify defines them (docs/language.md#bias_check):
#: pre-training metrics compare the data's labels across facet values, post-training ones the
#: model's predicted labels
BIAS_LABEL_METRICS = ("dpl", "kl", "js", "lp", "tvd", "ks")
BIAS_PREDICTION_METRICS = ("dppl", "di")
BIAS_METRICS = BIAS_LABEL_METRICS + BIAS_PREDICTION_METRICS
DIRECTIONS = ("maximize", "minimize")
#: formats a step output may declare (csv always has a header row)
OUTPUT_FORMATS = ("parquet", "csv", "jsonl")
#: how a multi-instance train/tune job spreads its work
DISTRIBUTIONS = ("data_parallel",)
#: GPUs per instance a `gpu.*` class may ask for with `accelerators = N`
ACCELERATOR_COUNTS = (1, 2, 4, 8)
MAX_STEPS = 5000


def declare_pipeline(ctx: "Ctx", block: ast.Block) -> None:
    """Phase 1: declare the pipeline, its steps (with outputs) and gates."""
    name = block.label or ""
    ctx.symbols.declare("pipeline", name, block.label_span or block.kind_span, block)
    count = 0
    for it in block.items:
        if isinstance(it, ast.StepDecl):
            count += 1
            outputs: tuple[str, ...] = STEP_OUTPUTS.get(it.kind, ())
            metrics: tuple[str, ...] = ()
            if it.kind == "process":
                outputs = _declared_names(it, "outputs")
            if it.kind == "evaluate":
                metrics = _declared_names(it, "metrics")
            ctx.symbols.declare("step", it.name, it.name_span, it, pipeline=name, step_kind=it.kind,
                                outputs=outputs, metrics=metrics)
        elif isinstance(it, ast.GateDecl):
            ctx.symbols.declare("gate", it.name, it.name_span, it, pipeline=name)
    if count > MAX_STEPS:
        ctx.sink.error("E414", f"pipeline `{name}` has {count} steps; the limit is {MAX_STEPS}",
                       block.label_span or block.kind_span,
                       detail="the clouds cap pipeline size well below this; larger graphs are refused early",
                       hint="split the work into several pipelines")


def _declared_names(step: ast.StepDecl, attr: str) -> tuple[str, ...]:
    for it in step.items:
        if isinstance(it, ast.Attribute) and it.name == attr and isinstance(it.value, ast.List):
            return tuple(v.text for v in it.value.items if isinstance(v, ast.Ref) and len(v.parts) == 1)
        if isinstance(it, ast.Attribute) and it.name == attr and isinstance(it.value, ast.Map):
            return tuple(e.key for e in it.value.entries)  # `outputs = { train = parquet }`
    return ()


def build_pipeline(ctx: "Ctx", block: ast.Block) -> dict | None:
    name = block.label or ""
    where = f"pipeline `{name}`"
    ctx.current_pipeline = name  # type: ignore[attr-defined]
    body = Body(ctx.sink, [i for i in block.items if not isinstance(i, (ast.StepDecl, ast.GateDecl))],
                where, block.label_span or block.kind_span)
    schedule = cronmod.read_schedule(ctx, body, "schedule")
    retrain = []
    for r in body.refs("retrain_on") or []:
        rid = ctx.symbols.resolve(r, ("monitor",), f"`retrain_on` of {where}")
        if rid:
            retrain.append(rid)
    on_failure = []
    for r in body.refs("on_failure") or []:
        rid = ctx.symbols.resolve(r, ("channel",), f"`on_failure` of {where}")
        if rid and rid not in on_failure:
            on_failure.append(rid)
            ctx.used.add(rid)
    body.finish()

    steps: list[dict] = []
    gates: list[dict] = []
    for it in block.items:
        if isinstance(it, ast.StepDecl):
            s = build_step(ctx, it, name)
            if s is not None:
                steps.append(s)
        elif isinstance(it, ast.GateDecl):
            g = build_gate(ctx, it, name)
            if g is not None:
                gates.append(g)
    if not steps:
        ctx.sink.error("E303", f"{where} has no steps", block.label_span or block.kind_span,
                       hint="add `step <name> = <kind> { ... }`")
    _wire_registration(ctx, name, steps, gates)
    _check_cycles(ctx, steps, gates)
    _check_read_formats(ctx, steps)
    return {"id": f"pipeline.{name}", "name": name, "schedule": schedule, "retrain_on": retrain,
            "on_failure": on_failure, "steps": steps, "gates": gates}


# ------------------------------------------------------------------ steps
def _compute(ctx: "Ctx", body: Body, default: str | None = "cpu.medium") -> dict | None:
    cls = body.enum("compute", COMPUTE_CLASSES, default=default)
    count = body.number("instances", default=1, lo=1, hi=100, integer=True)
    acc = accelerators(ctx, body, cls)
    if cls is None:
        return None
    scaled = max(1, int(-(-count * ctx.scale // 1))) if ctx.scale != 1 else int(count)
    return {"class": cls, "instance_count": scaled, "accelerators": acc}


def accelerators(ctx: "Ctx", body: Body, cls: str | None) -> int:
    """GPUs per instance: `accelerators = N` on a `gpu.*` class (default 1); 0 on CPU classes."""
    gpu = bool(cls and cls.startswith("gpu."))
    n = body.number("accelerators", lo=1, hi=8, integer=True)
    if n is None:
        return 1 if gpu else 0
    span = body.attrs["accelerators"].value.span
    if cls is not None and not gpu:
        ctx.sink.error("E313", f"`accelerators` in {body.where} needs a `gpu.*` compute class, not `{cls}`", span,
                       hint="use `compute = gpu.small` (or another `gpu.*` class), or remove `accelerators`")
        return 0
    if n not in ACCELERATOR_COUNTS:
        ctx.sink.error("E302", f"`accelerators` in {body.where} is {n}; it must be 1, 2, 4 or 8", span,
                       detail="every cloud sells GPU machines with 1, 2, 4 or 8 GPUs of one class")
        return 1
    return int(n)


def _in_pipeline(ctx: "Ctx", rid: str | None, ref: ast.Ref, where: str) -> str | None:
    """A step reference must stay inside the current pipeline: pipelines run separately."""
    if not rid or not rid.startswith("step."):
        return rid
    name = rid.split(".")[1]
    sym = ctx.symbols.get("step", name)
    current = getattr(ctx, "current_pipeline", None)
    if sym is not None and current is not None and sym.pipeline != current:
        ctx.sink.error("E410", f"{where} refers to step `{name}` of pipeline `{sym.pipeline}`", ref.span,
                       labels=(Label(sym.span, "declared here"),),
                       detail="each pipeline runs on its own; one cannot wait for or read another's steps",
                       hint="move the step into this pipeline, or read a dataset the other pipeline writes")
        return None
    return rid


def _data_inputs(ctx: "Ctx", body: Body, attr: str, where: str,
                 flags: list[tuple[str, Any, str]] | None = None) -> tuple[list[str], list[str]]:
    """`inputs = [refs]` or `inputs = { name = ref ... }`: (refs, flag names), in declared order.

    `flags` collects (flag name, span, what) for the step's flag-collision check (E211)."""
    from mlspec.compiler.contract import input_name

    v = body.value(attr)
    named: list[tuple[str | None, Any, ast.Ref]] = []
    if isinstance(v, ast.Map):
        seen: dict[str, Any] = {}
        for e in v.entries:
            if e.key in seen:
                ctx.sink.error("E203", f"`{e.key}` is set twice in `{attr}` of {where}", e.key_span,
                               labels=(Label(seen[e.key], "first set here"),), hint="give each input its own name")
                continue
            seen[e.key] = e.key_span
            from mlspec.compiler.check.names import IDENT
            if not IDENT.fullmatch(e.key):
                ctx.sink.error("E206", f"`{e.key}` is not a valid input name in {where}", e.key_span,
                               hint="input names become `--<name>` flags: lower_snake_case, starting with a letter")
                continue
            if not isinstance(e.value, ast.Ref):
                ctx.sink.error("E301", f"input `{e.key}` of {where} expects a reference such as "
                                       f"`step.prepare.outputs.train`, found {ast.describe(e.value)}", e.value.span)
                continue
            named.append((e.key, e.key_span, e.value))
    else:
        named = [(None, r.span, r) for r in body.refs(attr) or []]
    refs: list[str] = []
    names: list[str] = []
    for name, span, r in named:
        rid = _in_pipeline(ctx, ctx.symbols.resolve_data(r, f"`{attr}` of {where}"), r, f"`{attr}` of {where}")
        if rid:
            refs.append(rid)
            names.append(name or input_name(rid))
            if flags is not None:
                flags.append((names[-1], span, f"input `{r.text}`" if name is None else f"input `{name}`"))
    return refs, names


def _check_flags(ctx: "Ctx", where: str, flags: list[tuple[str, Any, str]],
                 inputs: list[tuple[str, str, bool]]) -> None:
    """Every `--<flag>` of a script's command line is unique and none takes a contract name (E211).

    flags: (name, span, what) in contract order; what is "contract" for the flags the contract
    itself adds (`--model`, `--metrics`, `--checkpoints`). inputs: (name, ref, named explicitly)."""
    from mlspec.compiler.contract import RESERVED_FLAGS

    detail = ("a script receives one `--<name> <value>` per input, output and parameter "
              "(docs/language.md#the-script-contract); two with one name would be ambiguous, and no cloud "
              "may rename one")
    first: dict[str, tuple[Any, str]] = {}
    for name, span, what in flags:
        if what == "contract":
            first.setdefault(name, (None, what))
            continue
        if name in RESERVED_FLAGS:
            summary = f"{what} of {where} would be passed as `--{name}`, a flag the script contract reserves"
            labels: tuple = ()
        elif name in first:
            other_span, other = first[name]
            if other == "contract":
                summary = f"{what} of {where} would be passed as `--{name}`, a flag the script contract reserves"
                labels = ()
            else:
                summary = f"{what} and {other} of {where} would both be passed as `--{name}`"
                labels = (Label(other_span, f"also `--{name}`"),) if other_span is not None else ()
        else:
            first[name] = (span, what)
            continue
        if what.startswith("input") and inputs:
            taken = {n for n, _s, _w in flags if n != name}
            parts = []
            for i, (n, r, _named) in enumerate(inputs):
                if n == name or n in RESERVED_FLAGS:
                    n = r.split(".")[1] + "_" + r.rsplit(".", 1)[-1] if r.startswith("step.") else f"{n}_{i + 1}"
                    while n in taken or n in RESERVED_FLAGS:
                        n = f"{n}_{i + 1}"
                taken.add(n)
                parts.append(f"{n} = {_short(r)}")
            hint = f"name the inputs: `inputs = {{ {', '.join(parts)} }}`"
        elif what.startswith("output"):
            hint = f"rename the output `{name}`"
        else:
            hint = f"rename `{name}`"
            if inputs and any(n == name for n, _r, _named in inputs):
                hint += ", or name the input: `inputs = { <name> = <ref> }`"
        ctx.sink.error("E211", summary, span, labels=labels, detail=detail, hint=hint)


def _short(ref: str) -> str:
    """`step.a.outputs.x` in its short spelling, `step.a.x`."""
    parts = ref.split(".")
    return f"step.{parts[1]}.{parts[3]}" if len(parts) == 4 and parts[0] == "step" else ref


def _param_flags(body: Body, attr: str, flags: list[tuple[str, Any, str]]) -> None:
    what = {"args": "argument", "hyperparameters": "hyperparameter", "ranges": "tuning range"}[attr]
    v = body.attrs.get(attr)
    if v is not None and isinstance(v.value, ast.Map):
        seen: set[str] = set()
        for e in v.value.entries:
            if e.key not in seen:
                seen.add(e.key)
                flags.append((e.key, e.key_span, f"{what} `{e.key}`"))


def _output_formats(ctx: "Ctx", body: Body, where: str, flags: list[tuple[str, Any, str]]) -> dict:
    """`outputs = [train, test]` (+ `output_format = csv`) or `outputs = { train = parquet, test = csv }`."""
    fmt_all = body.enum("output_format", OUTPUT_FORMATS)
    v = body.value("outputs")
    out: dict[str, str | None] = {}
    if isinstance(v, ast.Map):
        if fmt_all is not None:
            ctx.sink.error("E313", f"{where} sets `output_format` and formats per output in `outputs`",
                           body.attrs["output_format"].name_span,
                           hint="keep one: `outputs = [a, b]` with `output_format = csv`, or "
                                "`outputs = { a = csv, b = parquet }`")
        seen: dict[str, Any] = {}
        for e in v.entries:
            if e.key in seen:
                ctx.sink.error("E203", f"`{e.key}` is listed twice in `outputs`", e.key_span,
                               labels=(Label(seen[e.key], "first listed here"),))
                continue
            seen[e.key] = e.key_span
            val = e.value
            if isinstance(val, ast.Ref) and len(val.parts) == 1 and val.text in OUTPUT_FORMATS:
                out[e.key] = val.text
            elif isinstance(val, ast.Ref) and len(val.parts) == 1:
                ctx.sink.error("E304", f"`{val.text}` is not a data format for output `{e.key}` of {where}",
                               val.span, hint=did_you_mean(val.text, OUTPUT_FORMATS) or
                               "use " + ", ".join(f"`{f}`" for f in OUTPUT_FORMATS))
                out[e.key] = None
            else:
                ctx.sink.error("E301", f"output `{e.key}` of {where} expects a data format such as `parquet`, "
                                       f"found {ast.describe(val)}", val.span)
                out[e.key] = None
            flags.append((e.key, e.key_span, f"output `{e.key}`"))
        return out
    for name, span in body.names("outputs") or []:
        out[name] = fmt_all
        flags.append((name, span, f"output `{name}`"))
    if fmt_all is not None and not out:
        ctx.sink.error("E303", f"{where} sets `output_format` but declares no `outputs`",
                       body.attrs["output_format"].name_span, hint="add `outputs = [<name>, ...]`")
    return out


def _one_data(ctx: "Ctx", body: Body, attr: str, where: str, *, required: bool = True,
              want_model: bool = False) -> str | None:
    r = body.ref(attr, required=required)
    if r is None:
        return None
    rid = ctx.symbols.resolve_data(r, f"`{attr}` of {where}", want_model=want_model, strict_data=attr == "data")
    return _in_pipeline(ctx, rid, r, f"`{attr}` of {where}")


def _script(ctx: "Ctx", body: Body, attr: str, where: str, required: bool = True) -> str | None:
    a = body.attr(attr)
    if a is None:
        if required:
            body._missing(attr, "path", True)
        return None
    if not isinstance(a.value, ast.Str):
        body._wrong(attr, a.value, "string")
        return None
    got = check_script_path(ctx.sink, a.value, attr, where, ctx.root)
    if got is None:
        return None
    path, digest = got
    ctx.scripts[path] = digest
    return path


def _framework(ctx: "Ctx", body: Body, where: str) -> dict | None:
    v = body.value("framework")
    if v is None:
        body._missing("framework", 'framework("version")', True)
        return None
    if isinstance(v, ast.Ref) and len(v.parts) == 1 and v.text == "custom":
        return {"name": "custom", "version": None}
    if isinstance(v, ast.Call):
        if v.name not in FRAMEWORKS or v.name == "custom":
            ctx.sink.error("E304", f"`{v.name}` is not a framework mlspec knows in {where}", v.name_span,
                           hint=did_you_mean(v.name, FRAMEWORKS) or
                           "use sklearn, xgboost, pytorch, tensorflow, huggingface or custom")
            return None
        if len(v.args) != 1 or not isinstance(v.args[0], ast.Str):
            arg = v.args[0] if v.args else None
            hint = f'quote the version: `{v.name}("{arg.text}")`' if isinstance(arg, ast.Num) else \
                f'write `{v.name}("<version>")`'
            ctx.sink.error("E301", f"`framework` in {where} expects a version string such as "
                                   f'`{v.name}("1.7")`', (arg or v).span,
                           detail="a bare number loses information: `1.10` would read as `1.1`", hint=hint)
            return None
        return {"name": v.name, "version": v.args[0].value}
    if isinstance(v, ast.Ref) and v.text in FRAMEWORKS:
        ctx.sink.error("E301", f"`framework` in {where} needs a version", v.span,
                       hint=f'write `framework = {v.text}("<version>")`')
        return None
    ctx.sink.error("E301", f"`framework` in {where} expects a framework such as `xgboost(\"1.7\")`, "
                           f"found {ast.describe(v)}", v.span)
    return None


def _ranges(ctx: "Ctx", body: Body, where: str) -> dict:
    v = body.value("ranges")
    out: dict[str, Any] = {}
    if v is None:
        body._missing("ranges", "map", True)
        return out
    if not isinstance(v, ast.Map):
        body._wrong("ranges", v, "map")
        return out
    first: dict[str, Any] = {}
    for e in v.entries:
        c = e.value
        if e.key in first:
            ctx.sink.error("E203", f"`{e.key}` is set twice in `ranges` of {where}", e.key_span,
                           labels=(Label(first[e.key], "first set here"),), hint="keep one range per hyperparameter")
            continue
        first[e.key] = e.key_span
        if not isinstance(c, ast.Call) or c.name not in ("range", "int_range", "choice"):
            ctx.sink.error("E301", f"range `{e.key}` in {where} expects `range(lo, hi)`, `int_range(lo, hi)` "
                                   f"or `choice(a, b, ...)`, found {ast.describe(c)}", c.span)
            continue
        if c.name == "choice":
            vals = []
            for a in c.args:
                if isinstance(a, ast.Str) and not (  # a trial's value reaches the command line
                        policy.check_string(ctx.sink, a, f"ranges.{e.key}", where)
                        and policy.check_argv_value(ctx.sink, a, f"ranges.{e.key}", where)):
                    continue
                if isinstance(a, (ast.Num, ast.Str)):
                    vals.append(a.value)
                else:
                    ctx.sink.error("E301", f"`choice` in {where} takes numbers or strings", a.span)
            if not vals:
                ctx.sink.error("E303", f"`choice` for `{e.key}` in {where} needs at least one value", c.span)
            out[e.key] = {"type": "categorical", "min": None, "max": None, "values": vals}
            continue
        nums = [a for a in c.args if isinstance(a, ast.Num)]
        if len(c.args) != 2 or len(nums) != 2:
            ctx.sink.error("E301", f"`{c.name}` for `{e.key}` in {where} takes two numbers", c.span)
            continue
        lo, hi = nums[0].value, nums[1].value
        if c.name == "int_range" and not (isinstance(lo, int) and isinstance(hi, int)):
            ctx.sink.error("E301", f"`int_range` for `{e.key}` in {where} takes whole numbers", c.span)
            continue
        if lo >= hi:
            ctx.sink.error("E302", f"range for `{e.key}` in {where} is empty: {nums[0].text} is not below "
                                   f"{nums[1].text}", c.span,
                           hint=f"write the lower bound first: `{c.name}({nums[1].text}, {nums[0].text})`"
                           if lo > hi else "give two different bounds")
            continue
        out[e.key] = {"type": "integer" if c.name == "int_range" else "continuous", "min": lo, "max": hi,
                      "values": None}
    return out


def build_step(ctx: "Ctx", it: ast.StepDecl, pipeline: str) -> dict | None:
    where = f"step `{it.name}`"
    if it.kind not in STEP_KINDS:
        ctx.sink.error("E304", f"`{it.kind}` is not a step kind", it.kind_span,
                       hint=did_you_mean(it.kind, STEP_KINDS) or "step kinds: " + ", ".join(STEP_KINDS))
        return None
    body = Body(ctx.sink, it.items, where, it.name_span)
    sym = ctx.symbols.get("step", it.name)
    step: dict[str, Any] = {"id": f"step.{it.name}", "name": it.name, "kind": it.kind}
    after = []
    for r in body.refs("after") or []:
        rid = ctx.symbols.resolve(r, ("step", "gate"), f"`after` of {where}")
        if rid == f"step.{it.name}":
            ctx.sink.error("E401", f"step `{it.name}` waits for itself", r.span,
                           detail="a step listed in its own `after` could never start",
                           hint=f"remove `{r.text}` from `after`")
        elif _in_pipeline(ctx, rid, r, f"`after` of {where}"):
            after.append(rid)
    max_runtime = body.duration("max_runtime", lo=60, hi=28 * 86400)
    k = it.kind
    extra: dict[str, Any] = {}
    flags: list[tuple[str, Any, str]] = []  # the script's command line, for E211
    compute_default: str | None = "cpu.medium"
    if k == "validate":
        d = body.ref("data", required=True)
        extra["data"] = ctx.symbols.resolve(d, ("dataset",), f"`data` of {where}") if d else None
        extra["checks"] = None
    elif k == "process":
        extra["script"] = _script(ctx, body, "script", where)
        extra["inputs"], extra["input_names"] = _data_inputs(ctx, body, "inputs", where, flags)
        extra["output_formats"] = _output_formats(ctx, body, where, flags)
        extra["args"] = body.scalar_map("args") or {}
        _param_flags(body, "args", flags)
        extra["image"] = body.string("image")
    elif k in ("train", "tune"):
        extra["framework"] = _framework(ctx, body, where)
        extra["entry_point"] = _script(ctx, body, "entry_point", where)
        extra["inputs"], extra["input_names"] = _data_inputs(ctx, body, "inputs", where, flags)
        extra["hyperparameters"] = body.scalar_map("hyperparameters") or {}
        flags += [("model", None, "contract"), ("metrics", None, "contract")]
        _param_flags(body, "hyperparameters", flags)
        extra["image"] = body.string("image")
        if extra["framework"] and extra["framework"]["name"] == "custom" and not extra["image"]:
            ctx.sink.error("E303", f"{where} uses `framework = custom` and needs `image`", it.name_span,
                           hint='add `image = "<registry>/<repo>@sha256:<digest>"`')
        if k == "tune":
            extra["objective"] = {"metric": body.ident("objective", required=True), "direction": body.enum("direction", DIRECTIONS,
                                                                         default="maximize")}
            extra["ranges"] = _ranges(ctx, body, where)
            _param_flags(body, "ranges", flags)
            extra["max_trials"] = body.number("max_trials", required=True, lo=1, hi=500, integer=True)
            extra["parallel_trials"] = body.number("parallel_trials", default=1, lo=1, hi=100, integer=True)
            if extra["max_trials"] and extra["parallel_trials"] and extra["parallel_trials"] > extra["max_trials"]:
                ctx.sink.error("E302", f"`parallel_trials` in {where} is above `max_trials`",
                               body.attrs["parallel_trials"].value.span)
        compute_default = "cpu.large"
    elif k == "evaluate":
        extra["model"] = _one_data(ctx, body, "model", where, want_model=True)
        extra["data"] = _one_data(ctx, body, "data", where)
        extra["metrics"] = [n for n, _ in body.names("metrics", required=True) or []]
        if not extra["metrics"] and body.has("metrics"):
            ctx.sink.error("E303", f"`metrics` of {where} is empty", body.attrs["metrics"].value.span,
                           hint="list what the script computes, e.g. `metrics = [auc, f1]`")
        extra["script"] = _script(ctx, body, "script", where)
        if extra["data"]:
            from mlspec.compiler.contract import input_name
            extra["input_names"] = [input_name(extra["data"])]
            d = body.attrs["data"].value
            flags += [(extra["input_names"][0], d.span, f"input `{d.text if isinstance(d, ast.Ref) else ''}`"),
                      ("model", None, "contract"), ("metrics", None, "contract")]
    elif k == "bias_check":
        extra["model"] = _one_data(ctx, body, "model", where, want_model=True)
        extra["data"] = _one_data(ctx, body, "data", where)
        facets = body.names("facets", required=True) or []
        columns = ctx.all_columns()
        for f, span in facets:
            if columns and f not in columns:
                ctx.sink.error("E204", f"unknown column `{f}` in `facets` of {where}", span,
                               hint=did_you_mean(f, columns) or "facets name columns of a dataset schema")
        extra["facets"] = [f for f, _ in facets]
        has_label = body.has("label")
        lab = body.enum("label", sorted(columns)) if columns and has_label else None
        if has_label and not columns:
            ctx.sink.error("E204", f"`label` of {where} names a column, but no dataset declares a `schema`",
                           body.attrs["label"].value.span,
                           hint="declare the columns in the dataset's `schema { ... }`")
        extra["label"] = lab or ctx.label_column()
        mv = body.value("metric")
        if isinstance(mv, ast.Ref) and mv.text in ("cddl", "cddpl"):
            ctx.sink.error("E304", f"`{mv.text}` is not a valid `metric` in {where}", mv.span,
                           hint="conditional demographic disparity needs a group variable that a bias_check "
                                "cannot name; use `dpl` (labels) or `dppl` (predictions)")
            extra["metric"] = None
        else:
            extra["metric"] = body.enum("metric", BIAS_METRICS, default="dpl")
        extra["max_disparity"] = body.number("max_disparity", required=True, lo=0, hi=1)
    elif k == "explain":
        extra["model"] = _one_data(ctx, body, "model", where, want_model=True)
        extra["data"] = _one_data(ctx, body, "data", where)
        extra["method"] = body.enum("method", ("shap",), default="shap")
    elif k == "register":
        r = body.ref("model", required=True)
        extra["model"] = ctx.symbols.resolve(r, ("model",), f"`model` of {where}") if r else None
        src = body.ref("source")
        extra["source"] = ctx.symbols.resolve_data(src, f"`source` of {where}", want_model=True) if src else None
        extra["metrics_from"] = None
        compute_default = None
    elif k == "batch_transform":
        extra["model"] = _one_data(ctx, body, "model", where, want_model=True)
        extra["data"] = _one_data(ctx, body, "data", where)
        extra["output"] = ctx.read_uri(body, "output", where, required=True, ir_id=f"step.{it.name}.output")
    if k in ("process", "train", "tune", "evaluate"):
        attr = "entry_point" if k in ("train", "tune") else "script"
        path = extra.get(attr)
        extra["code_dir"] = codemod.code_dir(ctx, path, body.attrs[attr].value.span) if path else None
        req = codemod.requirements(ctx, body, where)
        extra["requirements"] = req if req is not None else getattr(ctx, "requirements", None)
        extra["network_isolation"] = bool(body.boolean("network_isolation", default=True))
    if k in ("train", "tune"):
        extra["spot"] = bool(body.boolean("spot", default=False))
        if extra["spot"]:
            flags.append(("checkpoints", None, "contract"))
        extra["distribution"] = body.enum("distribution", DISTRIBUTIONS)
        raw = body.attrs.get("instances")
        written = raw.value.value if raw is not None and isinstance(raw.value, ast.Num) else 1
        if isinstance(written, int) and written > 1 and extra["distribution"] is None:
            ctx.sink.error("E303", f"{where} runs on {written} instances and needs `distribution`", raw.value.span,
                           detail="without a strategy every instance would train the same model on the same "
                                  "data; mlspec does not guess one",
                           hint="add `distribution = data_parallel` (every instance runs the script with "
                                "WORLD_SIZE, RANK, MASTER_ADDR and MASTER_PORT set), or use `instances = 1`")
    if k == "tune":
        extra["max_total_runtime_s"] = body.duration("max_total_runtime", lo=60, hi=90 * 86400)
        if extra["max_total_runtime_s"] and max_runtime and extra["max_total_runtime_s"] < max_runtime:
            ctx.sink.error("E302", f"`max_total_runtime` of {where} is below its `max_runtime`",
                           body.attrs["max_total_runtime"].value.span,
                           detail="`max_runtime` limits each trial; `max_total_runtime` the whole sweep",
                           hint="raise `max_total_runtime` or lower `max_runtime`")
    retries = body.number("retries", default=0, lo=0, hi=10, integer=True) if k != "register" else 0
    compute = _compute(ctx, body, compute_default) if compute_default else None
    if k in ("process", "train", "tune", "evaluate"):
        named = isinstance(body.value("inputs"), ast.Map)
        ins = [(n, r, named) for n, r in zip(extra.get("input_names") or [], extra.get("inputs") or [])]
        _check_flags(ctx, where, flags, ins)
    body.finish()
    outputs = list(sym.outputs) if sym else list(STEP_OUTPUTS.get(k, ()))
    step.update({"depends_on": sorted(set(after)), "compute": compute, "outputs": outputs,
                 "network_isolation": True, "max_runtime_s": max_runtime, "retries": int(retries or 0)})
    # a script step's own `network_isolation` (extra) overrides the secure default above
    step.update(extra)
    step.setdefault("output_formats", {})
    if k in ("bias_check", "explain", "batch_transform") and step.get("data"):
        from mlspec.compiler.contract import input_name
        step.setdefault("input_names", [input_name(step["data"])])
    step["_after"] = after
    return step


def _all_metric_names(ctx: "Ctx", pipeline: str) -> list[str]:
    out: list[str] = []
    for s in ctx.symbols.table["step"].values():
        if s.pipeline == pipeline:
            out.extend(m for m in s.metrics if m not in out)
    return out


# ------------------------------------------------------------------ gates
def build_gate(ctx: "Ctx", it: ast.GateDecl, pipeline: str) -> dict | None:
    where = f"gate `{it.name}`"
    body = Body(ctx.sink, it.items, where, it.name_span, keep_others=True)
    body.finish()
    requires = []
    deps: set[str] = set()
    uses_champion = False
    for r in body.others:
        if not isinstance(r, ast.Require):
            from mlspec.compiler.check.values import misplaced
            misplaced(ctx.sink, r, where)
            continue
        e = r.expr
        left = _expr(ctx, e.left, where, pipeline, deps)
        right = _expr(ctx, e.right, where, pipeline, deps)
        if left is None or right is None:
            continue
        uses_champion = uses_champion or _has_champion(left) or _has_champion(right)
        if not (_has_metric(left) or _has_metric(right)):
            ctx.sink.error("E301", f"this requirement in {where} compares no step metric", e.span,
                           hint="compare a metric, e.g. `require step.evaluate.metrics.f1 >= 0.9`")
            continue
        requires.append({"text": ctx.text_of(r.span).removeprefix("require").strip(), "op": e.op, "left": left, "right": right})
    if not requires and not body.others:
        ctx.sink.error("E303", f"{where} has no `require` line", it.name_span,
                       hint="add `require step.<evaluate step>.metrics.<metric> >= <number>`")
    return {"id": f"gate.{it.name}", "name": it.name, "depends_on": sorted(deps), "requires": requires,
            "uses_champion": uses_champion}


def _has_champion(e: dict) -> bool:
    if "champion" in e:
        return True
    if "binary" in e:
        return _has_champion(e["binary"]["left"]) or _has_champion(e["binary"]["right"])
    if "negate" in e:
        return _has_champion(e["negate"])
    return False


def _has_metric(e: dict) -> bool:
    if "metric" in e:
        return True
    if "binary" in e:
        return _has_metric(e["binary"]["left"]) or _has_metric(e["binary"]["right"])
    if "negate" in e:
        return _has_metric(e["negate"])
    return False


def _expr(ctx: "Ctx", e: ast.Expr, where: str, pipeline: str, deps: set[str]) -> dict | None:
    if isinstance(e, ast.Num):
        return {"number": e.value}
    if isinstance(e, ast.Percent):
        return {"number": round(e.value / 100, 10)}
    if isinstance(e, ast.Duration):
        ctx.sink.error("E301", f"{where} compares metrics, which have no unit; found {ast.describe(e)}", e.span)
        return None
    if isinstance(e, ast.Negate):
        inner = _expr(ctx, e.operand, where, pipeline, deps)
        return {"negate": inner} if inner is not None else None
    if isinstance(e, ast.Binary):
        left = _expr(ctx, e.left, where, pipeline, deps)
        right = _expr(ctx, e.right, where, pipeline, deps)
        if left is None or right is None:
            return None
        return {"binary": {"op": e.op, "left": left, "right": right}}
    assert isinstance(e, ast.Ref)
    parts = e.parts
    metrics = _all_metric_names(ctx, pipeline)
    if parts[0] == "champion":
        if len(parts) != 2:
            ctx.sink.error("E204", f"`{e.text}` in {where}: write `champion.<metric>`", e.span)
            return None
        if parts[1] not in metrics:
            ctx.sink.error("E210", f"the champion has no metric `{parts[1]}` in {where}", e.span,
                           hint=did_you_mean(parts[1], metrics) or
                           "the champion's metrics are those the pipeline's evaluate step computes")
            return None
        return {"champion": parts[1]}
    if parts[0] != "step" or len(parts) != 4 or parts[2] != "metrics":
        ctx.sink.error("E204", f"`{e.text}` in {where} is not a metric", e.span,
                       hint="write `step.<evaluate step>.metrics.<metric>` or `champion.<metric>`")
        return None
    sym = ctx.symbols.get("step", parts[1])
    if sym is None:
        ctx.symbols._unknown(e, "step", parts[1], where)
        return None
    if sym.pipeline != pipeline:
        ctx.sink.error("E410", f"{where} reads step `{parts[1]}` of pipeline `{sym.pipeline}`", e.span,
                       labels=(Label(sym.span, "declared here"),),
                       hint="a gate can only read steps of its own pipeline")
        return None
    if sym.step_kind != "evaluate":
        ctx.sink.error("E210", f"step `{parts[1]}` is a `{sym.step_kind}` step and produces no metrics", e.span,
                       hint="read metrics from an `evaluate` step")
        return None
    if parts[3] not in sym.metrics:
        ctx.sink.error("E210", f"step `{parts[1]}` does not compute `{parts[3]}`", e.span,
                       hint=did_you_mean(parts[3], sym.metrics) or
                       (f"it computes {', '.join(f'`{m}`' for m in sym.metrics)}; " if sym.metrics else "")
                       + f"add `{parts[3]}` to its `metrics`")
        return None
    deps.add(f"step.{parts[1]}")
    return {"metric": {"step": f"step.{parts[1]}", "name": parts[3]}}


# ------------------------------------------------------------------ wiring and graph
def _ref_step(ref: str | None) -> str | None:
    if ref and ref.startswith("step."):
        return ".".join(ref.split(".")[:2])
    return None


def _wire_registration(ctx: "Ctx", pipeline: str, steps: list[dict], gates: list[dict]) -> None:
    """Infer dependencies from references; registration waits for every gate and bias check."""
    trainers = [s for s in steps if s["kind"] in ("train", "tune")]
    for s in steps:
        deps = set(s.pop("_after"))
        for key in ("data", "model", "source"):
            d = _ref_step(s.get(key) if isinstance(s.get(key), str) else None)
            if d:
                deps.add(d)
        for ref in s.get("inputs", []) or []:
            d = _ref_step(ref)
            if d:
                deps.add(d)
        if s["kind"] == "register":
            if s.get("source") is None:
                if len(trainers) == 1:
                    s["source"] = f"{trainers[0]['id']}.outputs.model"
                elif trainers:
                    sym = ctx.symbols.get("step", s["name"])
                    ctx.sink.error("E303", f"step `{s['name']}` must say which model it registers: the pipeline "
                                           "trains several", sym.span if sym else None,
                                   hint=f"add `source = step.{trainers[0]['name']}.model`")
                elif all(sym.step_kind in STEP_KINDS for sym in ctx.symbols.table["step"].values()
                         if sym.pipeline == pipeline):  # a misspelt kind (E304) is not "no trainer"
                    sym = ctx.symbols.get("step", s["name"])
                    ctx.sink.error("E303", f"step `{s['name']}` registers a model but pipeline `{pipeline}` "
                                           "trains none", sym.span if sym else None,
                                   hint="add a `train` or `tune` step")
            src = _ref_step(s.get("source"))
            if src:
                deps.add(src)
                evals = [e for e in steps if e["kind"] == "evaluate" and _ref_step(e.get("model")) == src]
                if evals:
                    s["metrics_from"] = evals[0]["id"]
            deps.update(g["id"] for g in gates)
            deps.update(b["id"] for b in steps if b["kind"] == "bias_check")
        if s["id"] in deps:
            sym = ctx.symbols.get("step", s["name"])
            ctx.sink.error("E401", f"step `{s['name']}` reads its own output", sym.span if sym else None,
                           detail="a step's outputs exist only after it has run",
                           hint="read the output of an earlier step")
        deps.discard(s["id"])
        s["depends_on"] = sorted(deps)


def _check_read_formats(ctx: "Ctx", steps: list[dict]) -> None:
    """Bias checks and explanations run the cloud's own tooling over the data, which must be
    told its format: a process output they read needs a declared format (E303)."""
    by_id = {s["id"]: s for s in steps}
    for s in steps:
        if s["kind"] not in ("bias_check", "explain") or not s.get("data") or not s["data"].startswith("step."):
            continue
        _, producer, _, out = s["data"].split(".")
        p = by_id.get(f"step.{producer}")
        if p is None or p["kind"] != "process" or p["output_formats"].get(out) is not None:
            continue
        sym = ctx.symbols.get("step", s["name"])
        psym = ctx.symbols.get("step", producer)
        ctx.sink.error("E303", f"step `{s['name']}` reads `step.{producer}.{out}`, whose data format is not declared",
                       sym.span if sym else None,
                       labels=(Label(psym.span, "declared here"),) if psym else (),
                       detail="the clouds' bias and explanation tools must be told how to read the data",
                       hint=f"add `output_format = csv` (or `parquet`, `jsonl`) to step `{producer}`, or write "
                            f"`outputs = {{ {out} = csv, ... }}`")


def _check_cycles(ctx: "Ctx", steps: list[dict], gates: list[dict]) -> None:
    nodes = {n["id"]: n for n in steps + gates}
    state: dict[str, int] = {}
    reported: set[frozenset] = set()

    def visit(start: str) -> None:
        stack = [(start, iter(sorted(nodes[start]["depends_on"])))]
        path = [start]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            if nxt not in nodes:
                continue
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    sym = ctx.symbols.get(nxt.split(".")[0], nxt.split(".")[1])
                    order = list(reversed(cycle))
                    shown = " -> ".join(f"`{c}`" for c in order)
                    labels = []
                    for before, after in zip(order[1:-1], order[2:]):
                        other = ctx.symbols.get(before.split(".")[0], before.split(".")[1])
                        if other is not None:
                            labels.append(Label(other.span, f"runs before `{after}`"))
                    ctx.sink.error("E401", f"dependency cycle: {shown}", sym.span if sym else None,
                                   labels=tuple(labels),
                                   detail="`a -> b` means `b` waits for `a`, so no step of a cycle can ever start",
                                   hint="remove one of the references (or `after`) that close the cycle")
                continue
            if state.get(nxt) is None:
                state[nxt] = 1
                stack.append((nxt, iter(sorted(nodes[nxt]["depends_on"]))))
                path.append(nxt)

    for n in sorted(nodes):
        if state.get(n) is None:
            visit(n)
