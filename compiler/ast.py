"""The mlspec syntax tree: frozen dataclasses that mirror the grammar.

Input: built by mlspec.compiler.parse from Lark's LALR parse. Output: consumed by the
checks (mlspec.compiler.check) and the formatter. Every node has a ``span``; typed
literals keep their original ``text`` for messages and formatting. The AST is syntax
only: nothing here is resolved or checked.
"""
from __future__ import annotations

import dataclasses
from typing import Union

from mlspec.compiler.source import Span


# ------------------------------------------------------------------ values
@dataclasses.dataclass(frozen=True)
class Str:
    value: str
    span: Span


@dataclasses.dataclass(frozen=True)
class Num:
    value: float | int
    text: str
    span: Span


@dataclasses.dataclass(frozen=True)
class Duration:
    seconds: float
    text: str
    span: Span


@dataclasses.dataclass(frozen=True)
class Percent:
    value: float  # 0-100 as written
    text: str
    span: Span


@dataclasses.dataclass(frozen=True)
class Size:
    bytes: int
    text: str
    span: Span


@dataclasses.dataclass(frozen=True)
class Bool:
    value: bool
    span: Span


@dataclasses.dataclass(frozen=True)
class Ref:
    parts: tuple[str, ...]
    span: Span
    part_spans: tuple[Span, ...] = dataclasses.field(default=(), compare=False, repr=False)

    @property
    def text(self) -> str:
        return ".".join(self.parts)

    def prefix_span(self, n: int) -> Span:
        """The span of the first `n` parts (`step.trian` of `step.trian.model`)."""
        if len(self.part_spans) >= n >= 1:
            return self.part_spans[0].to(self.part_spans[n - 1])
        return self.span


@dataclasses.dataclass(frozen=True)
class Call:
    name: str
    args: tuple["Value", ...]
    span: Span
    name_span: Span


@dataclasses.dataclass(frozen=True)
class Object:
    kind: str
    items: tuple["Item", ...]
    span: Span
    kind_span: Span


@dataclasses.dataclass(frozen=True)
class List:
    items: tuple["Value", ...]
    span: Span


@dataclasses.dataclass(frozen=True)
class MapEntry:
    key: str
    value: "Value"
    key_span: Span
    quoted: bool


@dataclasses.dataclass(frozen=True)
class Map:
    entries: tuple[MapEntry, ...]
    span: Span


Value = Union[Str, Num, Duration, Percent, Size, Bool, Ref, Call, Object, List, Map]


# ------------------------------------------------------------------ gate expressions
@dataclasses.dataclass(frozen=True)
class Binary:
    op: str
    left: "Expr"
    right: "Expr"
    span: Span


@dataclasses.dataclass(frozen=True)
class Negate:
    operand: "Expr"
    span: Span


@dataclasses.dataclass(frozen=True)
class Compare:
    op: str
    left: "Expr"
    right: "Expr"
    span: Span


Expr = Union[Num, Percent, Duration, Ref, Binary, Negate]


# ------------------------------------------------------------------ items
@dataclasses.dataclass(frozen=True)
class Attribute:
    name: str
    value: Value
    span: Span
    name_span: Span


@dataclasses.dataclass(frozen=True)
class Block:
    kind: str
    label: str | None
    label_quoted: bool
    items: tuple["Item", ...]
    span: Span
    kind_span: Span
    label_span: Span | None


@dataclasses.dataclass(frozen=True)
class StepDecl:
    name: str
    kind: str
    items: tuple["Item", ...]
    span: Span
    name_span: Span
    kind_span: Span


@dataclasses.dataclass(frozen=True)
class GateDecl:
    name: str
    items: tuple["Item", ...]
    span: Span
    name_span: Span


@dataclasses.dataclass(frozen=True)
class Require:
    expr: Compare
    span: Span


@dataclasses.dataclass(frozen=True)
class FieldDecl:
    name: str
    type: str
    items: tuple["Item", ...]
    span: Span
    name_span: Span
    type_span: Span
    has_body: bool


Item = Union[Attribute, Block, StepDecl, GateDecl, Require, FieldDecl]


@dataclasses.dataclass(frozen=True)
class System:
    name: str
    items: tuple[Item, ...]
    span: Span
    name_span: Span


@dataclasses.dataclass(frozen=True)
class Comment:
    text: str
    span: Span


@dataclasses.dataclass(frozen=True)
class Module:
    """One parsed spec file."""

    system: System
    comments: tuple[Comment, ...]


def value_span(v: Value | Expr) -> Span:
    return v.span


def describe(v: Value | Expr) -> str:
    """How a value reads in a message: 'the number `10`', 'the reference `a.b`'."""
    if isinstance(v, Str):
        shown = v.value if len(v.value) <= 40 else v.value[:37] + "..."
        return f'the string `"{shown}"`'
    if isinstance(v, Num):
        return f"the number `{v.text}`"
    if isinstance(v, Duration):
        return f"the duration `{v.text}`"
    if isinstance(v, Percent):
        return f"the percentage `{v.text}`"
    if isinstance(v, Size):
        return f"the size `{v.text}`"
    if isinstance(v, Bool):
        return f"`{'true' if v.value else 'false'}`"
    if isinstance(v, Ref):
        return f"`{v.text}`"
    if isinstance(v, Call):
        return f"the call `{v.name}(...)`"
    if isinstance(v, Object):
        return f"the block value `{v.kind} {{ ... }}`"
    if isinstance(v, List):
        return "a list"
    if isinstance(v, Map):
        return "a map"
    return "an expression"
