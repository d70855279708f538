"""Diagnostics: the one record type for everything the user is told.

A :class:`Diagnostic` has a code (registered in :data:`CODES`, documented in
docs/errors.md), a severity, a one-line summary (lower-case, no final period, spec
names in backticks), a primary span, optional secondary labels, a hint and a detail.
Renderers produce the rustc/HCL-style text form and a JSON form with the same fields.
Secret values never reach a Diagnostic: callers redact before constructing one.
"""
from __future__ import annotations

import dataclasses
import json
import unicodedata
from typing import Iterable, Sequence

from mlspec.compiler.source import SourceFile, Span

ERROR = "error"
WARNING = "warning"
NOTE = "note"

#: Every diagnostic code: code -> short title (the docs/errors.md heading).
#: Never reuse a code; retired codes stay here marked "(retired)".
CODES: dict[str, str] = {
    # E1xx: reading and syntax
    "E101": "cannot read the spec file",
    "E102": "the spec is not valid UTF-8 text",
    "E103": "the spec contains NUL or control characters",
    "E104": "the spec exceeds a size limit",
    "E105": "blocks are nested too deeply",
    "E110": "unexpected token",
    "E111": "unclosed block",
    "E112": "missing `=` after an attribute name",
    "E113": "unterminated string",
    "E114": "unexpected character",
    "E115": "the file looks like YAML or JSON, not mlspec",
    "E116": "the spec is empty",
    # E2xx: names and references
    "E201": "unknown attribute",
    "E202": "unknown block",
    "E203": "duplicate attribute",
    "E204": "unknown reference",
    "E205": "duplicate declaration",
    "E206": "invalid identifier",
    "E207": "reference to the wrong kind of thing",
    "E208": "unknown target",
    "E209": "unknown step output",
    "E210": "unknown metric",
    "E211": "two script flags share a name",
    # E3xx: types, units and values
    "E301": "wrong type of value",
    "E302": "value out of range",
    "E303": "missing required attribute",
    "E304": "unknown option",
    "E305": "invalid cron expression",
    "E306": "autoscale minimum above maximum",
    "E307": "traffic split does not add up to 100%",
    "E308": "invalid date",
    "E309": "forbidden characters in a string",
    "E310": "template expression syntax in a string",
    "E311": "invalid address or URI",
    "E313": "conflicting attributes",
    # E4xx: policy and semantics
    "E401": "dependency cycle",
    "E402": "literal secret in the spec",
    "E403": "secret used where it would be stored in plain text",
    "E404": "invalid script path",
    "E405": "security baseline relaxed without a waiver",
    "E406": "waiver names an unknown rule",
    "E407": "waiver for a rule that cannot be waived",
    "E408": "waiver has expired",
    "E409": "incomplete waiver",
    "E410": "reference to a step of another pipeline",
    "E411": "model is never registered",
    "E414": "the spec exceeds a count limit",
    # E5xx: targets
    "E501": "feature not supported by the target",
    "E502": "invalid target settings",
    "E503": "name not allowed by the target",
    "E504": "cloud-specific URI used with another target",
    "E505": "the target cannot lower this spec",
    # warnings
    "W201": "declared but never used",
    "W401": "waiver expires soon",
    "W505": "the target substituted a nearby version",
    # E9xx: internal
    "E901": "internal compiler error",
    "E902": "the compiler produced invalid IR",
    "E903": "a target failed while lowering",
}

MAX_REPORTED = 50


@dataclasses.dataclass(frozen=True)
class Label:
    span: Span
    message: str


@dataclasses.dataclass(frozen=True)
class Diagnostic:
    code: str
    summary: str
    span: Span | None = None
    hint: str = ""
    detail: str = ""
    labels: tuple[Label, ...] = ()
    severity: str = ""

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unregistered diagnostic code {self.code}")
        if not self.severity:
            object.__setattr__(self, "severity", WARNING if self.code.startswith("W") else ERROR)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def sort_key(self) -> tuple:
        s = self.span
        return (s.file if s else "", s.line if s else 0, s.col if s else 0, self.code, self.summary)

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "summary": self.summary,
            "span": self.span.as_dict() if self.span else None,
            "labels": [{"span": lb.span.as_dict(), "message": lb.message} for lb in self.labels],
            "hint": self.hint or None,
            "detail": self.detail or None,
            "docs": f"docs/errors.md#{self.code.lower()}",
        }


class Sink:
    """Collects diagnostics from every pass; sorted, de-duplicated and capped on output."""

    def __init__(self) -> None:
        self._items: list[Diagnostic] = []
        self._seen: set[tuple] = set()
        self._once: dict[tuple[str, int], object] = {}

    def once(self, what: str, subject: object) -> bool:
        """True the first time this sink is asked about (`what`, `subject`).

        Passes whose diagnostics are the same whichever environment is being built (the
        whole-spec screens, every environment's own attributes) run once per sink instead
        of once per environment built, which made checking N environments quadratic. The
        subject is kept alive so its id cannot be reused by another object."""
        key = (what, id(subject))
        if key in self._once:
            return False
        self._once[key] = subject
        return True

    def add(self, diag: Diagnostic) -> None:
        key = (diag.code, diag.summary, diag.span)
        if key not in self._seen:
            self._seen.add(key)
            self._items.append(diag)

    def error(self, code: str, summary: str, span: Span | None = None, hint: str = "",
              detail: str = "", labels: Sequence[Label] = ()) -> None:
        self.add(Diagnostic(code, summary, span, hint, detail, tuple(labels)))

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        for d in diags:
            self.add(d)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self._items)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self._items, key=Diagnostic.sort_key)

    def __len__(self) -> int:
        return len(self._items)


def _gutter(n: int) -> str:
    return " " * n


def secret_spans(diags: Sequence[Diagnostic]) -> tuple[Span, ...]:
    """Spans whose text is a literal secret: masked in every snippet that shows them."""
    return tuple(d.span for d in diags if d.code == "E402" and d.span is not None)


def render_one(diag: Diagnostic, sources: dict[str, SourceFile], masks: Sequence[Span] = ()) -> str:
    """rustc/HCL-style text: location, code, summary, the source line, a caret, hint.

    Secondary labels follow the primary snippet, underlined with `-` and carrying
    their message; a label in another file is introduced by `::: path:line:col`.
    Every `|` and `=` of one diagnostic sits in the same column.
    """
    out: list[str] = []
    s = diag.span
    loc = f"{_safe(s.file)}:{s.line}:{s.col}: " if s else ""
    if s and s.file not in sources and (s.line, s.col, s.start, s.end) == (1, 1, 0, 0):
        loc = f"{_safe(s.file)}: "  # the whole file (missing, unreadable, too large): no line to point at
    out.append(f"{loc}{diag.severity}[{diag.code}]: {_safe(diag.summary)}")
    src = sources.get(s.file) if s else None
    width = 1
    if s and src is not None:
        width = len(str(max([s.line] + [lb.span.line for lb in diag.labels])))
        out.append(f"{_gutter(width)} |")
        primary = _snippet(src, s, width, "^", "", masks)
        labels = list(diag.labels)
        # A label on the primary line, to the right of the primary span, shares its caret
        # line (rustc style): `^` under the problem, `-` and the message under the label.
        inline = [lb for lb in labels if lb.span.file == s.file and lb.span.line == s.line == s.end_line
                  and lb.span.end_line == lb.span.line and lb.span.col >= s.end_col]
        if len(inline) == 1 and len(src.line_text(s.line)) <= _MAX_SNIPPET:
            lb = inline[0]
            merged = _snippet(src, lb.span, width, "-", lb.message, masks)[1]
            if len(merged) > len(primary[1]):
                primary[1] += merged[len(primary[1]):]
                labels.remove(lb)
        out.extend(primary)
        for lb in labels:
            lsrc = sources.get(lb.span.file)
            if lsrc is None:
                continue
            if lb.span.file != s.file:
                out.append(f"{_gutter(width)} ::: {_safe(lb.span.file)}:{lb.span.line}:{lb.span.col}")
            else:
                out.append(f"{_gutter(width)} |")
            out.extend(_snippet(lsrc, lb.span, width, "-", lb.message, masks))
    pad = _gutter(width)
    if diag.detail:
        out.append(f"{pad} = why: {_safe(diag.detail)}")
    if diag.hint:
        out.append(f"{pad} = hint: {_safe(diag.hint)}")
    out.append(f"{pad} = see: docs/errors.md#{diag.code.lower()}")
    return "\n".join(out)


_MAX_SNIPPET = 160


def _shown(ch: str) -> str:
    """How one source character is displayed: invisible and control characters are made
    visible (`<U+202E>`), so a snippet never reorders or hides text in the terminal."""
    if ch == "\t":
        return " "
    o = ord(ch)
    if o < 0x20 or o == 0x7F or 0x80 <= o < 0xA0 or unicodedata.category(ch) in ("Cf", "Cs", "Co", "Zl", "Zp"):
        return f"<U+{o:04X}>"
    return ch


def _safe(text: str) -> str:
    """User text inside a message (names, paths, values) stays on one line and cannot
    carry terminal escapes or bidi controls."""
    return "".join(_shown(c) if c != "\t" else c for c in text)


def _cells(text: str) -> int:
    """Terminal columns a displayed string takes (wide East Asian characters count 2)."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 0 if unicodedata.combining(c) else 1
               for c in text)


def _snippet(src: SourceFile, span: Span, width: int, mark: str, message: str,
             masks: Sequence[Span] = ()) -> list[str]:
    line = src.line_text(span.line)
    start = max(0, min(span.col - 1, len(line)))
    if span.end_line == span.line:
        stop = max(start + 1, min(span.end_col - 1, len(line)))
    else:
        stop = max(start + 1, len(line))
    # Keep very long lines readable: show a window of the line around the span.
    lo, hi = 0, len(line)
    if len(line) > _MAX_SNIPPET:
        lo = max(0, start - 40)
        hi = min(len(line), lo + _MAX_SNIPPET)
        stop = min(stop, max(hi, start + 1))
    pieces = [_shown(c) for c in line[lo:hi]]
    for m in masks:  # never echo a secret: its text shows as `"<redacted>"`
        if m.file == span.file and m.line == span.line == m.end_line:
            a, b = max(m.col - 1, lo), min(m.end_col - 1, hi)
            if a < b:
                pieces[a - lo] = '"<redacted>"' if line[m.col - 1:m.col] == '"' else "<redacted>"
                for k in range(a + 1, b):
                    pieces[k - lo] = ""
    before = "".join(pieces[:start - lo])
    under = "".join(pieces[start - lo:stop - lo]) or " "
    text = ("…" if lo else "") + "".join(pieces) + ("…" if hi < len(line) else "")
    indent = _cells(before) + (1 if lo else 0)
    caret = " " * indent + mark * max(1, _cells(under))
    if message:
        caret += " " + _safe(message)
    return [f"{str(span.line).rjust(width)} | {text}".rstrip(), f"{_gutter(width)} | {caret}"]


def render_text(diags: Sequence[Diagnostic], sources: dict[str, SourceFile],
                cap: int = MAX_REPORTED) -> str:
    shown = list(diags)[:cap]
    masks = secret_spans(diags)
    parts = [render_one(d, sources, masks) for d in shown]
    more = len(diags) - len(shown)
    if more > 0:
        parts.append(f"… and {more} more")
    errors = sum(1 for d in diags if d.is_error)
    warnings = sum(1 for d in diags if d.severity == WARNING)
    if diags:
        summary = []
        if errors:
            summary.append(f"{errors} error{'s' if errors != 1 else ''}")
        if warnings:
            summary.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
        parts.append(", ".join(summary))
    return "\n\n".join(parts) + ("\n" if parts else "")


def render_json(diags: Sequence[Diagnostic], cap: int = MAX_REPORTED) -> str:
    shown = list(diags)[:cap]
    doc = {"diagnostics": [d.as_dict() for d in shown], "omitted": max(0, len(diags) - len(shown))}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
