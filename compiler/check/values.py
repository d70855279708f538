"""Typed reading of block bodies.

Input: the items of one AST block. Output: Python values of the expected types, with
every problem (unknown or duplicate attribute, wrong type, out of range) reported to
the diagnostics sink with the attribute's span. Readers never raise for user errors;
a bad value reads as ``None`` (or the default) so later passes can go on.
"""
from __future__ import annotations

import difflib
import math
from typing import Any, Iterable, Sequence

from mlspec.compiler import ast
from mlspec.compiler.check import policy
from mlspec.compiler.diagnostics import Label, Sink
from mlspec.compiler.source import Span

_EXPECT = {
    "string": 'a string such as `"text"`',
    "number": "a number such as `0.5`",
    "integer": "a whole number such as `3`",
    "duration": "a duration such as `10m`",
    "percent": "a percentage such as `5%`",
    "size": "a size such as `50GiB`",
    "bool": "`true` or `false`",
    "list": "a list such as `[a, b]`",
    "map": "a map such as `{ key = value }`",
    "name": "a bare name (no quotes, no call)",
    "reference": "a reference such as `dataset.transactions`",
}


def suggest(word: str, options: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, sorted(set(options)), n=1, cutoff=0.7)
    return close[0] if close else None


def did_you_mean(word: str, options: Iterable[str], fmt: str = "`{}`") -> str:
    s = suggest(word, options)
    return f"did you mean {fmt.format(s)}?" if s else ""


class Body:
    """Reads the attributes and sub-blocks of one block, tracking what was asked for."""

    def __init__(self, sink: Sink, items: Sequence[ast.Item], where: str, span: Span,
                 *, allow_blocks: Sequence[str] = (), src_text: str = "", keep_others: bool = False) -> None:
        self.sink = sink
        self.keep_others = keep_others  # the caller reads `others` itself (a gate's `require` lines)
        self.where = where
        self.span = span
        self.attrs: dict[str, ast.Attribute] = {}
        self.blocks: list[ast.Block] = []
        self.others: list[ast.Item] = []
        self.asked: set[str] = set()
        self.asked_blocks: set[str] = set(allow_blocks)
        for it in items:
            if isinstance(it, ast.Attribute):
                first = self.attrs.get(it.name)
                if first is not None:
                    sink.error("E203", f"`{it.name}` is set twice in {where}", it.name_span,
                               labels=(Label(first.name_span, "first set here"),),
                               hint="keep one of them")
                    continue
                self.attrs[it.name] = it
            elif isinstance(it, ast.Block):
                self.blocks.append(it)
            else:
                self.others.append(it)

    # ---------------------------------------------------------------- access
    def has(self, name: str) -> bool:
        self.asked.add(name)
        return name in self.attrs

    def attr(self, name: str) -> ast.Attribute | None:
        self.asked.add(name)
        return self.attrs.get(name)

    def value(self, name: str) -> ast.Value | None:
        a = self.attr(name)
        return a.value if a else None

    def _missing(self, name: str, expect: str, required: bool) -> None:
        if required:
            example = EXAMPLES.get(name, f"<{expect}>")
            self.sink.error("E303", f"{self.where} needs `{name}`", self.span,
                            hint=f"add `{name} = {example}`")

    def _wrong(self, name: str, v: ast.Value, expect: str) -> None:
        hint = detail = ""
        if isinstance(v, ast.Num) and expect == "duration":
            hint = f"write the unit: `{v.text}ms`, `{v.text}s`, `{v.text}m`, `{v.text}h` or `{v.text}d`"
        elif isinstance(v, ast.Num) and expect == "percent":
            hint = f"write `{v.text}%`"
        elif isinstance(v, ast.Num) and expect == "string":
            hint = f'quote it: `"{v.text}"`'
            if "." in v.text and v.text.endswith("0"):
                detail = f"as a number, `{v.text}` would mean `{v.value}`: a version or code written as a number loses information"
        elif isinstance(v, ast.Str) and expect in ("name", "reference"):
            hint = f"drop the quotes: `{v.value}`"
        elif (isinstance(v, ast.Call) and expect == "name" and len(v.args) == 1
              and isinstance(v.args[0], ast.Ref) and len(v.args[0].parts) == 1):
            hint = f"write `{name} = {v.args[0].text}`"
            if v.name in ("maximize", "minimize"):
                hint += f" and `direction = {v.name}`"
        self.sink.error("E301", f"`{name}` in {self.where} expects {_EXPECT.get(expect, expect)}, "
                                f"found {ast.describe(v)}", v.span, hint=hint, detail=detail)

    # ---------------------------------------------------------------- scalars
    def string(self, name: str, *, required: bool = False, default: str | None = None,
               free_text: bool = False, max_len: int = 1024) -> str | None:
        v = self.value(name)
        if v is None:
            self._missing(name, "string", required)
            return default
        if not isinstance(v, ast.Str):
            self._wrong(name, v, "string")
            return default
        if not policy.check_string(self.sink, v, name, self.where, free_text=free_text, max_len=max_len):
            return default
        if required and not v.value.strip():
            self.sink.error("E303", f"`{name}` in {self.where} is empty", v.span, hint=f"write the {name}")
            return default
        return v.value

    def number(self, name: str, *, required: bool = False, default: float | None = None,
               lo: float | None = None, hi: float | None = None, integer: bool = False,
               lo_open: bool = False) -> float | int | None:
        v = self.value(name)
        if v is None:
            self._missing(name, "number", required)
            return default
        if isinstance(v, ast.Num):
            n = v.value
            if isinstance(n, int) and abs(n) > 2 ** 53:
                return default  # reported once for the whole spec (E302, "too large")
            if not math.isfinite(n):
                return default  # reported once for the whole spec (E302, "too large")
            if integer and not isinstance(n, int):
                self._wrong(name, v, "integer")
                return default
            if not self._in_range(name, v, n, lo, hi, lo_open, v.text):
                return default
            return n
        self._wrong(name, v, "integer" if integer else "number")
        return default

    def _in_range(self, name: str, v: Any, n: float, lo: float | None, hi: float | None,
                  lo_open: bool, shown: str) -> bool:
        bad = (lo is not None and (n <= lo if lo_open else n < lo)) or (hi is not None and n > hi)
        if bad:
            unit = "duration" if isinstance(v, ast.Duration) else "percent" if isinstance(v, ast.Percent) else ""
            rng = _range_text(lo, hi, lo_open, unit)
            self.sink.error("E302", f"`{name}` in {self.where} is `{shown}`; it must be {rng}", v.span)
            return False
        return True

    def duration(self, name: str, *, required: bool = False, default: int | None = None,
                 lo: float | None = None, hi: float | None = None) -> int | None:
        v = self.value(name)
        if v is None:
            self._missing(name, "duration", required)
            return default
        if not isinstance(v, ast.Duration):
            self._wrong(name, v, "duration")
            return default
        if not math.isfinite(v.seconds):
            return default  # reported once for the whole spec (E302, "too large")
        if not self._in_range(name, v, v.seconds, lo, hi, False, v.text):
            return default
        secs = v.seconds
        return int(secs) if float(secs).is_integer() else (int(round(secs)) if secs >= 1 else secs)  # type: ignore[return-value]

    def duration_ms(self, name: str) -> float | None:
        v = self.value(name)
        if v is None:
            return None
        if not isinstance(v, ast.Duration):
            self._wrong(name, v, "duration")
            return None
        return round(v.seconds * 1000, 6)

    def percent(self, name: str, *, required: bool = False, default: float | None = None,
                lo: float = 0, hi: float = 100, lo_open: bool = False) -> float | None:
        v = self.value(name)
        if v is None:
            self._missing(name, "percent", required)
            return default
        if not isinstance(v, ast.Percent):
            self._wrong(name, v, "percent")
            return default
        if not self._in_range(name, v, v.value, lo, hi, lo_open, v.text):
            return default
        return float(v.value)

    def boolean(self, name: str, *, default: bool | None = None) -> bool | None:
        v = self.value(name)
        if v is None:
            return default
        if not isinstance(v, ast.Bool):
            self._wrong(name, v, "bool")
            return default
        return v.value

    def enum(self, name: str, options: Sequence[str], *, required: bool = False,
             default: str | None = None) -> str | None:
        """A bare name from a closed set: `format = parquet`."""
        v = self.value(name)
        example = f"`{options[0]}`" if options else "a name"
        if v is None:
            if required:
                self.sink.error("E303", f"{self.where} needs `{name}`", self.span,
                                hint=f"add `{name} = <{' | '.join(options[:4])}{' | ...' if len(options) > 4 else ''}>`")
            return default
        if isinstance(v, ast.Ref):
            word = v.text
            if word in options:
                return word
            self.sink.error("E304", f"`{word}` is not a valid `{name}` in {self.where}", v.span,
                            hint=did_you_mean(word, options) or f"use one of {_list(options)}")
            return default
        if isinstance(v, ast.Str) and v.value in options:
            self.sink.error("E301", f"`{name}` in {self.where} expects a name such as {example}, found "
                                    f"{ast.describe(v)}", v.span, hint=f"drop the quotes: `{name} = {v.value}`")
            return default
        self.sink.error("E301", f"`{name}` in {self.where} expects one of {_list(options)}, found {ast.describe(v)}",
                        v.span)
        return default

    def ident(self, name: str, *, required: bool = False) -> str | None:
        """A single bare name from an open set: `objective = auc`."""
        v = self.value(name)
        if v is None:
            self._missing(name, "name", required)
            return None
        if isinstance(v, ast.Ref) and len(v.parts) == 1:
            return v.text
        self._wrong(name, v, "name")
        return None

    def names(self, name: str, *, required: bool = False) -> list[tuple[str, Span]] | None:
        """A list of bare names: `metrics = [f1, auc]`."""
        v = self.value(name)
        if v is None:
            self._missing(name, "list", required)
            return None
        if not isinstance(v, ast.List):
            self._wrong(name, v, "list")
            return None
        out: list[tuple[str, Span]] = []
        seen: dict[str, Span] = {}
        for it in v.items:
            if isinstance(it, ast.Ref) and len(it.parts) == 1:
                if it.text in seen:
                    self.sink.error("E203", f"`{it.text}` is listed twice in `{name}`", it.span,
                                    labels=(Label(seen[it.text], "first listed here"),))
                    continue
                seen[it.text] = it.span
                out.append((it.text, it.span))
            else:
                self.sink.error("E301", f"`{name}` in {self.where} expects names such as `f1`, "
                                        f"found {ast.describe(it)}", it.span)
        return out

    def strings(self, name: str, *, required: bool = False) -> list[str] | None:
        v = self.value(name)
        if v is None:
            self._missing(name, "list", required)
            return None
        if not isinstance(v, ast.List):
            self._wrong(name, v, "list")
            return None
        out = []
        for it in v.items:
            if isinstance(it, ast.Str):
                if policy.check_string(self.sink, it, name, self.where):
                    out.append(it.value)
            else:
                self.sink.error("E301", f"`{name}` in {self.where} expects strings, found {ast.describe(it)}",
                                it.span)
        return out

    def refs(self, name: str, *, required: bool = False) -> list[ast.Ref] | None:
        v = self.value(name)
        if v is None:
            self._missing(name, "list", required)
            return None
        if not isinstance(v, ast.List):
            if isinstance(v, ast.Ref):
                self.sink.error("E301", f"`{name}` in {self.where} expects a list, found {ast.describe(v)}",
                                v.span, hint=f"write `{name} = [{v.text}]`")
                return None
            self._wrong(name, v, "list")
            return None
        out = []
        for it in v.items:
            if isinstance(it, ast.Ref):
                out.append(it)
            else:
                self.sink.error("E301", f"`{name}` in {self.where} expects references such as "
                                        f"`channel.oncall`, found {ast.describe(it)}", it.span)
        return out

    def ref(self, name: str, *, required: bool = False) -> ast.Ref | None:
        v = self.value(name)
        if v is None:
            self._missing(name, "reference", required)
            return None
        if not isinstance(v, ast.Ref):
            self._wrong(name, v, "reference")
            return None
        return v

    def _unique_entries(self, name: str, plain_keys: bool = False) -> list[ast.MapEntry] | None:
        """The entries of a map attribute, reporting a non-map value and repeated keys (and,
        with `plain_keys`, keys that are not plain names: they reach command lines)."""
        v = self.value(name)
        if v is None:
            return None
        if not isinstance(v, ast.Map):
            self._wrong(name, v, "map")
            return None
        out: list[ast.MapEntry] = []
        first: dict[str, Span] = {}
        for e in v.entries:
            if plain_keys and not policy.check_map_key(self.sink, e, name, self.where):
                continue
            if e.key in first:
                self.sink.error("E203", f"`{e.key}` is set twice in `{name}`", e.key_span,
                                labels=(Label(first[e.key], "first set here"),), hint="keep one of them")
                continue
            first[e.key] = e.key_span
            out.append(e)
        return out

    def scalar_map(self, name: str) -> dict[str, Any] | None:
        """`{ max_depth = 6, eta = 0.2 }`: names to numbers, strings or booleans."""
        entries = self._unique_entries(name, plain_keys=True)
        if entries is None:
            return None
        out: dict[str, Any] = {}
        for e in entries:
            val = e.value
            if isinstance(val, ast.Num):
                out[e.key] = val.value
            elif isinstance(val, ast.Str):
                if policy.check_string(self.sink, val, f"{name}.{e.key}", self.where) and \
                        policy.check_argv_value(self.sink, val, f"{name}.{e.key}", self.where):
                    out[e.key] = val.value
            elif isinstance(val, ast.Bool):
                out[e.key] = val.value
            elif isinstance(val, (ast.Percent, ast.Duration)):
                out[e.key] = val.text
            elif isinstance(val, ast.Call) and val.name == "secret":
                self.sink.error("E403", f"`secret(...)` cannot be used in `{name}`: its values are stored "
                                        "in plain text", val.span,
                                hint="pass secrets to scripts through the cloud's secret store, not as values")
            else:
                self.sink.error("E301", f"`{name}.{e.key}` expects a number, string or `true`/`false`, "
                                        f"found {ast.describe(val)}", val.span)
        return out

    def string_map(self, name: str) -> dict[str, str] | None:
        entries = self._unique_entries(name)
        if entries is None:
            return None
        out: dict[str, str] = {}
        for e in entries:
            if isinstance(e.value, ast.Str) and policy.announces_secret(e.key) and e.value.value:
                self.sink.error("E402", f"`{name}.{e.key}` in {self.where} looks like a credential "
                                        "(value redacted)", e.value.span,
                                detail=f"`{name}` are copied in plain text onto every cloud resource, "
                                       "where anyone who can list resources reads them",
                                hint=f"remove `{e.key}` from `{name}`; keep credentials in the cloud secret store")
                continue
            if isinstance(e.value, ast.Str):
                if policy.check_string(self.sink, e.value, f"{name}.{e.key}", self.where, max_len=256):
                    out[e.key] = e.value.value
            elif isinstance(e.value, ast.Call) and e.value.name == "secret":
                self.sink.error("E403", f"`secret(...)` cannot be used in `{name}`: labels are stored in plain "
                                        "text on every resource", e.value.span, hint="remove the secret")
            else:
                self.sink.error("E301", f"`{name}.{e.key}` expects a string, found {ast.describe(e.value)}",
                                e.value.span)
        return out

    def call(self, name: str, fn: str, *, required: bool = False) -> ast.Call | None:
        v = self.value(name)
        if v is None:
            self._missing(name, f"{fn}(...)", required)
            return None
        if not isinstance(v, ast.Call) or v.name != fn:
            self.sink.error("E301", f"`{name}` in {self.where} expects `{fn}(\"...\")`, found {ast.describe(v)}",
                            v.span, hint=f'write `{name} = {fn}("...")`')
            return None
        return v

    # ---------------------------------------------------------------- blocks
    def block(self, kind: str) -> ast.Block | None:
        """The single anonymous sub-block of a kind (`autoscale { ... }`)."""
        self.asked_blocks.add(kind)
        found = [b for b in self.blocks if b.kind == kind]
        for extra in found[1:]:
            self.sink.error("E205", f"`{kind}` appears twice in {self.where}", extra.kind_span,
                            labels=(Label(found[0].kind_span, "first here"),), hint="merge the two blocks")
        if found and found[0].label is not None:
            self.sink.error("E110", f"`{kind}` takes no name", found[0].label_span, hint=f"write `{kind} {{ ... }}`")
        return found[0] if found else None

    def named_blocks(self, kind: str) -> list[ast.Block]:
        self.asked_blocks.add(kind)
        return [b for b in self.blocks if b.kind == kind]

    def finish(self) -> None:
        """Report attributes and blocks nobody asked for (unknown), with suggestions, and
        steps, gates, requirements or columns written where they do not belong."""
        if not self.keep_others:
            for it in self.others:
                misplaced(self.sink, it, self.where)
        for name, a in self.attrs.items():
            if name not in self.asked:
                hint = did_you_mean(name, self.asked)
                if not hint and name in self.asked_blocks:
                    hint = f"`{name}` is a block: write `{name} {{ ... }}`"
                if not hint and name in BELONGS:
                    hint = f"`{name}` is set on {BELONGS[name]}"
                if not hint and self.asked:
                    hint = f"{self.where} accepts {_list(sorted(self.asked))}"
                self.sink.error("E201", f"unknown attribute `{name}` in {self.where}", a.name_span, hint=hint)
        for b in self.blocks:
            if b.kind not in self.asked_blocks:
                if b.kind in self.asked:
                    hint = f"`{b.kind}` is an attribute: write `{b.kind} = ...`"
                else:
                    hint = did_you_mean(b.kind, self.asked_blocks) or (
                        f"{self.where} accepts the blocks {_list(sorted(self.asked_blocks))}"
                        if self.asked_blocks else f"{self.where} has no sub-blocks")
                self.sink.error("E202", f"unknown block `{b.kind}` in {self.where}", b.kind_span, hint=hint)


#: example values for the hint of a missing required attribute
EXAMPLES = {
    "owner": '"team@example.com"', "version": '"2026-11-01"', "description": '"..."', "goal": '">= 4%"',
    "reason": '"..."', "until": '"2027-03-01"', "script": '"src/prepare.py"', "entry_point": '"src/train.py"',
    "data": "dataset.<name>", "model": "model.<name>", "endpoint": "endpoint.<name>", "metrics": "[f1, auc]",
    "facets": "[<column>]", "max_disparity": "0.1", "max_trials": "20", "objective": "auc",
    "initial": "5%", "step": "20%", "interval": "10m", "sample": "10%", "duration": "1d", "traffic": "50%",
    "min": "1", "max": "4", "approvers": '["<group>"]', "output": '"data://<path>/"',
    "baseline": "dataset.<name>", "framework": 'xgboost("1.7")', "ranges": "{ lr = range(0.001, 0.1) }",
}


#: attributes that are often written in the wrong block, and where they belong
BELONGS = {
    "schedule": "a pipeline (`pipeline <name> { schedule = cron(\"...\") }`) or a batch job",
    "retrain_on": "a pipeline (`pipeline <name> { retrain_on = [monitor.<name>] }`)",
    "approval": "a model (`model <name> { approval { approvers = [...] } }`)",
    "autoscale": "an endpoint (`endpoint <name> { autoscale { min = 1  max = 4  target_rps = 100 } }`)",
    "rollout": "an endpoint (`endpoint <name> { rollout = canary { ... } }`)",
    "capture": "an endpoint (`endpoint <name> { capture = 10% }`)",
    "auth": "an endpoint (`endpoint <name> { auth = iam }`)",
    "notify": "a monitor or an alert (`notify = [channel.<name>]`)",
    "owner": "the system (`system <name> { owner = \"team@example.com\" }`) or a waiver",
    "labels": "the system (`system <name> { labels = { team = \"risk\" } }`)",
    "explain": "a model (`model <name> { explain = shap }`)",
    "encryption": "`security { encryption = customer_managed }`",
    "network": "`security { network = private }`",
    "region": "a target block (`target sagemaker { region = \"us-east-1\" }`)",
    "scale": "an environment (`environment dev { scale = 0.5 }`)",
    "metrics": "an `evaluate` step (`metrics = [f1, auc]`)",
    "threshold": "a monitor (`threshold = 0.2`) or a model with `prediction = probability`",
    "timeout": "a step as `max_runtime`, the timeout of each job (`max_runtime = 2h`)",
    "max_total_runtime": "a `tune` step (`max_total_runtime = 12h`, the limit of the whole sweep)",
    "task": "a model (`model <name> { task = binary_classification }`)",
    "on_failure": "a pipeline (`pipeline <name> { on_failure = [channel.<name>] }`)",
}


def misplaced(sink: Sink, it: ast.Item, where: str) -> None:
    """A step, gate, `require` line or column declaration in a block that cannot hold it."""
    if isinstance(it, ast.StepDecl):
        sink.error("E110", f"step `{it.name}` is written in {where}; steps belong in a `pipeline`", it.name_span,
                   hint="move it into `pipeline <name> { ... }`")
    elif isinstance(it, ast.GateDecl):
        sink.error("E110", f"gate `{it.name}` is written in {where}; gates belong in a `pipeline`", it.name_span,
                   hint="move it into the pipeline whose steps it checks")
    elif isinstance(it, ast.Require):
        sink.error("E110", f"a `require` line is written in {where}; requirements belong in a `gate`", it.span,
                   hint="wrap it: `gate <name> { require ... }`")
    elif isinstance(it, ast.FieldDecl):
        sink.error("E110", f"the column declaration `{it.name} : {it.type}` is written in {where}; columns belong "
                           "in a dataset's `schema { ... }`", it.name_span.to(it.type_span),
                   hint="move it into `schema { ... }`; to set an attribute, write `name = value`")


def duration_text(seconds: float) -> str:
    """Seconds as the largest exact mlspec duration: 60 -> `1m`, 86400 -> `1d`, 0.5 -> `500ms`."""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds // size)}{unit}"
    if seconds == 0:
        return "0s"
    ms = seconds * 1000
    return f"{int(ms)}ms" if float(ms).is_integer() else f"{seconds:g}s"


def _list(options: Iterable[str]) -> str:
    opts = [f"`{o}`" for o in options]
    if len(opts) > 12:
        opts = opts[:12] + ["…"]
    return ", ".join(opts)


def _range_text(lo: float | None, hi: float | None, lo_open: bool, unit: str = "") -> str:
    def fmt(x: float) -> str:
        if unit == "duration":
            return f"`{duration_text(x)}`"
        text = str(int(x)) if float(x).is_integer() else str(x)
        return f"`{text}%`" if unit == "percent" else text
    if lo is not None and hi is not None:
        if not lo_open:
            return f"between {fmt(lo)} and {fmt(hi)}"
        return f"above {fmt(lo)} and at most {fmt(hi)}"
    if lo is not None:
        return f"{'above' if lo_open else 'at least'} {fmt(lo)}"
    return f"at most {fmt(hi)}"  # type: ignore[arg-type]
