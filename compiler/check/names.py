"""Names: declarations, identifier rules and reference resolution.

Input: the system's items. Output: a symbol table (kind -> name -> Symbol) and resolved
reference ids (`step.train`, `step.train.outputs.model`), reporting duplicates (both
locations), invalid identifiers, unknown references ("did you mean" from the same
namespace only) and references to the wrong kind of thing.
"""
from __future__ import annotations

import dataclasses
import keyword
import re
from typing import Any

from mlspec.compiler import ast
from mlspec.compiler.check.values import did_you_mean
from mlspec.compiler.diagnostics import Label, Sink
from mlspec.compiler.source import Span

IDENT = re.compile(r"[a-z][a-z0-9_]{0,62}")
# Python's soft keywords as of 3.12, fixed here so the rule does not depend on the interpreter
_SOFT_KEYWORDS = {"_", "case", "match", "type"}
_RESERVED = set(keyword.kwlist) | _SOFT_KEYWORDS | {
    "true", "false", "none", "null", "champion", "step", "gate", "require", "system"}

#: fixed outputs per step kind (process declares its own)
STEP_OUTPUTS = {
    "validate": ("data",), "process": (), "train": ("model",), "tune": ("model",), "evaluate": ("metrics",),
    "bias_check": ("report",), "explain": ("report",), "register": (), "batch_transform": ("predictions",),
}

KIND_WORDS = {
    "dataset": "dataset", "pipeline": "pipeline", "step": "step", "gate": "gate", "model": "model",
    "endpoint": "endpoint", "batch": "batch job", "monitor": "monitor", "alert": "alert",
    "channel": "channel", "kpi": "KPI",
}


@dataclasses.dataclass
class Symbol:
    kind: str
    name: str
    span: Span
    node: Any
    pipeline: str | None = None  # for steps and gates
    step_kind: str | None = None
    outputs: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()


class Symbols:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.table: dict[str, dict[str, Symbol]] = {k: {} for k in KIND_WORDS}

    def declare(self, kind: str, name: str, span: Span, node: Any, **extra: Any) -> Symbol | None:
        check_identifier(self.sink, name, span, KIND_WORDS[kind])
        table = self.table[kind]
        if name in table:
            first = table[name]
            self.sink.error("E205", f"{KIND_WORDS[kind]} `{name}` is declared twice", span,
                            labels=(Label(first.span, "first declared here"),),
                            hint=f"rename one of them; {KIND_WORDS[kind]} names are unique in a system")
            return None
        sym = Symbol(kind, name, span, node, **extra)
        table[name] = sym
        return sym

    def get(self, kind: str, name: str) -> Symbol | None:
        return self.table[kind].get(name)

    # ---------------------------------------------------------------- resolution
    def resolve(self, ref: ast.Ref, allowed: tuple[str, ...], where: str) -> str | None:
        """Resolve `kind.name` where kind is one of `allowed`; returns the id."""
        parts = ref.parts
        head = parts[0]
        if head not in self.table:
            expected = " or ".join(f"`{k}.<name>`" for k in allowed)
            hint = did_you_mean(head, allowed, "`{}.`") or f"write {expected}"
            self.sink.error("E204", f"`{ref.text}` in {where} does not name anything", ref.span, hint=hint)
            return None
        if head not in allowed:
            want = " or ".join(KIND_WORDS[k] for k in allowed)
            self.sink.error("E207", f"{where} expects a {want}, found the {KIND_WORDS[head]} reference `{ref.text}`",
                            ref.span, hint=f"write `{allowed[0]}.<name>`")
            return None
        if len(parts) < 2:
            self.sink.error("E204", f"`{ref.text}` in {where} needs a name", ref.span,
                            hint=f"write `{head}.<name>`")
            return None
        name = parts[1]
        if name not in self.table[head]:
            self._unknown(ref, head, name, where)
            return None
        if len(parts) > 2:
            self.sink.error("E204", f"`{ref.text}` in {where}: a {KIND_WORDS[head]} has no `{'.'.join(parts[2:])}`",
                            ref.span, hint=f"write `{head}.{name}`")
            return None
        return f"{head}.{name}"

    def _unknown(self, ref: ast.Ref, kind: str, name: str, where: str) -> None:
        hint = did_you_mean(name, self.table[kind], f"`{kind}.{{}}`")
        if not hint:
            # the exact name, declared as another kind of thing
            other = next((k for k in self.table if k != kind and name in self.table[k]), None)
            if other is not None:
                hint = f"`{name}` is {_a(KIND_WORDS[other])}, not {_a(KIND_WORDS[kind])}"
                hint += f" (`{other}.{name}`)" if other != "step" else f" (`step.{name}.<output>`)"
        if not hint and not self.table[kind]:
            hint = f"the system declares no {KIND_WORDS[kind]}s"
        self.sink.error("E204", f"unknown {KIND_WORDS[kind]} `{name}` in {where}", ref.prefix_span(2), hint=hint)

    def resolve_data(self, ref: ast.Ref, where: str, *, want_model: bool = False,
                     strict_data: bool = False) -> str | None:
        """A data input: `dataset.x`, `step.s.<output>` or `step.s.outputs.<output>`."""
        parts = ref.parts
        if parts[0] == "dataset" and not want_model:
            return self.resolve(ref, ("dataset",), where)
        if parts[0] == "model" and want_model:
            return self.resolve(ref, ("model",), where)
        if parts[0] != "step":
            allowed = ("model", "step") if want_model else ("dataset", "step")
            return self.resolve(ref, allowed, where)
        if len(parts) < 3:
            if len(parts) == 2 and parts[1] in self.table["step"]:
                sym = self.table["step"][parts[1]]
                outs = sym.outputs
                example = f"step.{parts[1]}.{outs[0]}" if outs else f"step.{parts[1]}.outputs.<name>"
                self.sink.error("E209", f"`{ref.text}` in {where} names a step, not one of its outputs", ref.span,
                                hint=f"write `{example}`")
                return None
            if len(parts) == 2:
                self._unknown(ref, "step", parts[1], where)
                return None
            self.sink.error("E204", f"`{ref.text}` in {where} needs a step name", ref.span)
            return None
        name = parts[1]
        sym = self.table["step"].get(name)
        if sym is None:
            self._unknown(ref, "step", name, where)
            return None
        if parts[2] == "outputs" and len(parts) == 4:
            out = parts[3]
        elif len(parts) == 3:
            out = parts[2]
        else:
            self.sink.error("E209", f"`{ref.text}` in {where} is not a step output", ref.span,
                            hint=f"write `step.{name}.outputs.<name>`")
            return None
        if sym.step_kind not in STEP_OUTPUTS:
            return None  # the step's unknown kind is the error (E304); its outputs are unknowable
        if out not in sym.outputs:
            if not sym.outputs:
                hint = f"a `{sym.step_kind}` step has no outputs"
            else:
                hint = did_you_mean(out, sym.outputs) or \
                    "its outputs are " + ", ".join(f"`{o}`" for o in sym.outputs)
            if sym.step_kind == "process" and not sym.outputs:
                hint = "declare them: `outputs = [train, test]`"
            self.sink.error("E209", f"step `{name}` has no output `{out}`", ref.span, hint=hint)
            return None
        if want_model and out != "model":
            self.sink.error("E207", f"{where} expects a model, found the {out} output `{ref.text}`", ref.span,
                            hint="use a train or tune step's `model` output, or `model.<name>`")
            return None
        if not want_model and (out in ("metrics", "report") or (out == "model" and strict_data)):
            what = {"metrics": "the metrics", "report": "the report", "model": "the model"}[out]
            self.sink.error("E207", f"{where} expects data, found {what} output `{ref.text}`", ref.span,
                            hint="use a dataset or a data output such as `step.<validate step>.data` or a "
                                 "`process` step's declared output")
            return None
        return f"step.{name}.outputs.{out}"


def check_identifier(sink: Sink, name: str, span: Span, what: str) -> bool:
    if not IDENT.fullmatch(name):
        if name.lower() != name:
            hint = f"names are lower_snake_case: `{_snake(name)}`"
        elif name[:1].isdigit():
            hint = "names start with a letter"
        elif len(name) > 63:
            hint = "names are at most 63 characters"
        else:
            hint = "use lower-case letters, digits and `_`"
        sink.error("E206", f"`{name}` is not a valid {what} name", span,
                   detail="names must match `[a-z][a-z0-9_]{0,62}`", hint=hint)
        return False
    if (name.endswith("_") or "__" in name) and what != "column":
        fixed = re.sub(r"_+", "_", name).strip("_") or "name"
        sink.error("E206", f"`{name}` is not a valid {what} name: it {'ends with' if name.endswith('_') and '__' not in name else 'repeats'} `_`",
                   span, detail="names become cloud resource names, where `_` turns into `-`; clouds refuse a "
                                "trailing or doubled `-`, and `a__b` would collide with `a_b`",
                   hint=f"write `{fixed}`")
        return False
    if name in _RESERVED:
        sink.error("E206", f"`{name}` is a reserved word and cannot name a {what}", span,
                   hint=f"pick another name, e.g. `{name}_{what.split()[0].lower()}`")
        return False
    return True


def _a(word: str) -> str:
    """`an endpoint`, `a model`."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _snake(name: str) -> str:
    s = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    s = re.sub(r"[^a-z0-9_]", "_", s)
    return s if s[:1].isalpha() else f"x_{s}"
