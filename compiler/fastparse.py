"""A hand-written parser for well-formed specs: the same AST as the Lark parser, or nothing.

``mlspec.compiler.parse`` parses with Lark (grammar/mlspec.lark: LALR, contextual lexer).
Lark's lexer and parser are pure Python and cost about 0.2 s for a 1,000-step spec, plus
~30 ms to import lark and load its tables on every run. This recursive-descent parser
reads the same language about four times faster and imports nothing but the AST, but it
only *accepts*: on anything it does not expect it gives up (``parse`` returns None) and
``parse`` runs Lark, which parses the spec or words the syntax error exactly as before.
So diagnostics come from one place, and a spec this parser accepts gets the very nodes
and spans Lark's parser builds (tests/unit/test_fastparse.py compares both on every spec,
golden case and thousands of mutated specs).

How it matches the contextual lexer: each position reads only the terminals Lark's parser
state accepts there, in Lark's order (priority, then width):

- a value (after `=`, `[`, `(`, `,`): DURATION, SIZE, PERCENT, then SIGNED_NUMBER, STRING,
  `true`/`false` (TRUE/FALSE win over NAME only here), NAME, `[`, `{`;
- an expression atom: DURATION, PERCENT, SIGNED_NUMBER (so `-5` is a number), then NAME,
  `(`, `-` (negation); after an operand `-` is the binary operator;
- an item: `step`, `gate` and `require` are keywords (STEP/GATE/REQUIRE win over NAME)
  at the start of an item, and also right after any value (Lark's LALR states after a
  value accept the next item's first tokens in every context), so a map key right after a
  value without a comma cannot be one of them; `system` is a keyword only at the start of
  the file;
- whitespace and `#`/`//` comments between any two tokens.
"""
from __future__ import annotations

import decimal
import re
from bisect import bisect_right

from mlspec.compiler import ast
from mlspec.compiler.source import Span

MAX_DEPTH = 32
#: operators in one gate expression (`a + b * -c` has 3); real gates use a handful, and the
#: checks and targets walk expressions recursively, so thousands would exhaust the stack
MAX_OPERATORS = 64
#: digits of a number literal; longer ones are read as infinity and refused (E302) instead of
#: reaching Python's int-string conversion limit (4,300 digits)
MAX_DIGITS = 400

DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
SIZE_UNITS = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
              "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
DURATION_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w)")
SIZE_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(KiB|MiB|GiB|TiB|KB|MB|GB|TB)")
INTEGER_RE = re.compile(r"-?[0-9]+")

#: the grammar's terminals (grammar/mlspec.lark; tests/unit/test_fastparse.py checks they are the same)
TERMINALS = {
    "DURATION": r"[0-9]+(\.[0-9]+)?(ms|s|m|h|d|w)(?![A-Za-z0-9_])",
    "SIZE": r"[0-9]+(\.[0-9]+)?(KiB|MiB|GiB|TiB|KB|MB|GB|TB)(?![A-Za-z0-9_])",
    "PERCENT": r"[0-9]+(\.[0-9]+)?%",
    "SIGNED_NUMBER": r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?(?![A-Za-z0-9_%.])",
    "NAME": r"[A-Za-z_][A-Za-z0-9_]*",
    "STRING": r'"([^"\\\n]|\\.)*"',
    "COMMENT": r"(#|\/\/)[^\n]*",
}
_DURATION = re.compile(TERMINALS["DURATION"]).match
_SIZE = re.compile(TERMINALS["SIZE"]).match
_PERCENT = re.compile(TERMINALS["PERCENT"]).match
_NUMBER = re.compile(TERMINALS["SIGNED_NUMBER"]).match
_NAME = re.compile(TERMINALS["NAME"]).match
_STRING = re.compile(TERMINALS["STRING"]).match
_COMPARE = re.compile(r">=|<=|==|!=|>|<").match
#: ignored text: common.WS and COMMENT
_SKIP = re.compile(r"(?:[ \t\f\r\n]+|(?:#|//)[^\n]*)*").match

_ITEM_KEYWORDS = frozenset(("step", "gate", "require"))

_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}


def unescape(s: str) -> str:
    if "\\" not in s:
        return s
    out = []
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def number(text: str, span: Span) -> ast.Num:
    value: float | int
    if len(text) > MAX_DIGITS:  # refused as too large by the checks (E302)
        value = float("-inf") if text.startswith("-") else float("inf")
    elif INTEGER_RE.fullmatch(text):
        value = int(text)
    else:
        value = float(text)
    return ast.Num(value, text, span)


def duration(text: str, span: Span) -> ast.Duration:
    m = DURATION_RE.match(text)
    return ast.Duration(float(m.group(1)) * DURATION_UNITS[m.group(2)], text, span)


def size(text: str, span: Span) -> ast.Size:
    m = SIZE_RE.match(text)
    # exact decimal arithmetic: a huge size stays a (huge) int instead of overflowing;
    # the checks then report it as out of range
    return ast.Size(int(decimal.Decimal(m.group(1)) * SIZE_UNITS[m.group(2)]), text, span)


class GiveUp(Exception):
    """Not a spec this parser accepts: Lark decides."""


def parse(text: str, file: str) -> ast.System | None:
    """The system a well-formed spec declares, exactly as the Lark parser builds it; None when
    the text is anything else (Lark then parses it and words the error)."""
    try:
        return _Parser(text, file).system()
    except Exception:  # GiveUp, or input this parser was not written for (deep nesting...)
        return None


class _Parser:
    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.pos = 0
        starts = [0]
        find = text.find
        i = find("\n")
        while i != -1:
            starts.append(i + 1)
            i = find("\n", i + 1)
        self.starts = starts

    # tokens ------------------------------------------------------------------
    def span(self, a: int, b: int) -> Span:
        """A token's span (tokens hold no line break): 1-based line and columns, as Lark counts."""
        line = bisect_right(self.starts, a)
        col = a - self.starts[line - 1] + 1
        return Span(self.file, line, col, line, col + b - a, a, b)

    def peek(self) -> str:
        """Skip ignored text; the next character ('' at the end)."""
        p = self.pos = _SKIP(self.text, self.pos).end()
        return self.text[p:p + 1]

    def punct(self, ch: str) -> Span:
        if self.peek() != ch:
            raise GiveUp(ch)
        p = self.pos
        self.pos = p + 1
        return self.span(p, p + 1)

    def name(self) -> tuple[str, Span]:
        self.peek()
        m = _NAME(self.text, self.pos)
        if m is None:
            raise GiveUp("name")
        a, b = m.span()
        self.pos = b
        return m.group(), self.span(a, b)

    # file and items ------------------------------------------------------------
    def system(self) -> ast.System:
        kw, _ = self.name()
        if kw != "system":
            raise GiveUp("system")
        name, name_span = self.name()
        self.punct("{")
        items = self.items()
        end = self.punct("}")
        if self.peek() != "":
            raise GiveUp("after the system")
        return ast.System(name, items, name_span.to(end), name_span)

    def body(self) -> tuple[tuple, Span]:
        """`{ items }`: the items and the span of the closing brace."""
        self.punct("{")
        items = self.items()
        return items, self.punct("}")

    def items(self) -> tuple:
        out = []
        text = self.text
        while True:
            c = self.peek()
            if c == "}":
                return tuple(out)
            m = _NAME(text, self.pos)
            if m is None:
                raise GiveUp("item")
            word = m.group()
            a, b = m.span()
            self.pos = b
            sp = self.span(a, b)
            if word == "gate":
                name, name_span = self.name()
                items, end = self.body()
                out.append(ast.GateDecl(name, items, sp.to(end), name_span))
                continue
            if word == "require":
                expr = self.comparison()
                out.append(ast.Require(expr, sp.to(expr.span)))
                continue
            c = self.peek()
            if c == "=":  # an attribute (`step = ...` too: attribute takes NAME or STEP)
                self.pos += 1
                value = self.value()
                out.append(ast.Attribute(word, value, sp.to(value.span), sp))
            elif word == "step":
                name, name_span = self.name()
                self.punct("=")
                kind, kind_span = self.name()
                items, end = self.body()
                out.append(ast.StepDecl(name, kind, items, sp.to(end), name_span, kind_span))
            elif c == ":":
                self.pos += 1
                typ, typ_span = self.name()
                if self.peek() == "{":
                    items, end = self.body()
                    out.append(ast.FieldDecl(word, typ, items, sp.to(end), sp, typ_span, True))
                else:
                    out.append(ast.FieldDecl(word, typ, (), sp.to(typ_span), sp, typ_span, False))
            elif c == "{":
                items, end = self.body()
                out.append(ast.Block(word, None, False, items, sp.to(end), sp, None))
            elif c == '"':
                p = self.pos
                m = _STRING(text, p)
                if m is None:
                    raise GiveUp("label")
                self.pos = m.end()
                items, end = self.body()
                out.append(ast.Block(word, unescape(m.group()[1:-1]), True, items, sp.to(end), sp,
                                     self.span(p, m.end())))
            else:
                label, label_span = self.name()
                items, end = self.body()
                out.append(ast.Block(word, label, False, items, sp.to(end), sp, label_span))

    # values ------------------------------------------------------------------
    def value(self):
        c = self.peek()
        text = self.text
        p = self.pos
        if c == '"':
            m = _STRING(text, p)
            if m is None:
                raise GiveUp("string")
            self.pos = m.end()
            return ast.Str(unescape(m.group()[1:-1]), self.span(p, m.end()))
        if "0" <= c <= "9" or c == "-":
            m = _DURATION(text, p)
            if m is not None:
                self.pos = m.end()
                return duration(m.group(), self.span(p, m.end()))
            m = _SIZE(text, p)
            if m is not None:
                self.pos = m.end()
                return size(m.group(), self.span(p, m.end()))
            m = _PERCENT(text, p)
            if m is not None:
                self.pos = m.end()
                return ast.Percent(float(m.group()[:-1]), m.group(), self.span(p, m.end()))
            m = _NUMBER(text, p)
            if m is not None:
                self.pos = m.end()
                return number(m.group(), self.span(p, m.end()))
            raise GiveUp("number")
        if c == "[":
            self.pos = p + 1
            items, end = self.values("]")
            return ast.List(items, self.span(p, p + 1).to(end))
        if c == "{":
            return self.map()
        m = _NAME(text, p)
        if m is None:
            raise GiveUp("value")
        word = m.group()
        self.pos = m.end()
        sp = self.span(p, m.end())
        if word == "true" or word == "false":
            return ast.Bool(word == "true", sp)
        c = self.peek()
        if c == "(":
            self.pos += 1
            args, end = self.values(")")
            return ast.Call(word, args, sp.to(end), sp)
        if c == "{":
            items, end = self.body()
            return ast.Object(word, items, sp.to(end), sp)
        return self.reference(word, sp)

    def values(self, close: str) -> tuple[tuple, Span]:
        """`value, value, ...` up to `close` (a trailing comma allowed), after the opener."""
        out = []
        if self.peek() != close:
            out.append(self.value())
            while True:
                c = self.peek()
                if c == ",":
                    self.pos += 1
                    if self.peek() == close:
                        break
                    out.append(self.value())
                elif c == close:
                    break
                else:
                    raise GiveUp(close)
        return tuple(out), self.punct(close)

    def map(self) -> ast.Map:
        start = self.punct("{")
        text = self.text
        entries = []
        comma = True
        while True:
            c = self.peek()
            if c == "}":
                break
            p = self.pos
            if c == '"':
                m = _STRING(text, p)
                quoted = True
            else:
                m = _NAME(text, p)
                quoted = False
                # right after a value (no comma), Lark's state also accepts the next item's
                # keywords, so it reads `step`, `gate`, `require` as those (and fails)
                if m is not None and not comma and m.group() in _ITEM_KEYWORDS:
                    raise GiveUp("keyword after a map value")
            if m is None:
                raise GiveUp("map key")
            self.pos = m.end()
            key = unescape(m.group()[1:-1]) if quoted else m.group()
            key_span = self.span(p, m.end())
            self.punct("=")
            entries.append(ast.MapEntry(key, self.value(), key_span, quoted))
            comma = self.peek() == ","
            if comma:
                self.pos += 1
        return ast.Map(tuple(entries), start.to(self.punct("}")))

    def reference(self, first: str, sp: Span) -> ast.Ref:
        parts = [first]
        spans = [sp]
        while self.peek() == ".":
            self.pos += 1
            name, name_span = self.name()
            parts.append(name)
            spans.append(name_span)
        return ast.Ref(tuple(parts), sp.to(spans[-1]), tuple(spans))

    # gate expressions ------------------------------------------------------------
    def comparison(self) -> ast.Compare:
        left, _ = self.sum()
        self.peek()
        m = _COMPARE(self.text, self.pos)
        if m is None:
            raise GiveUp("comparison")
        self.pos = m.end()
        right, _ = self.sum()
        return ast.Compare(m.group(), left, right, left.span.to(right.span))

    def sum(self):
        left, n = self.product()
        while True:
            c = self.peek()
            if c != "+" and c != "-":
                return left, n
            self.pos += 1
            right, k = self.product()
            n = n + k + 1
            if n > MAX_OPERATORS:
                raise GiveUp("operators")
            left = ast.Binary(c, left, right, left.span.to(right.span))

    def product(self):
        left, n = self.atom()
        while True:
            c = self.peek()
            if c != "*" and c != "/":
                return left, n
            self.pos += 1
            right, k = self.atom()
            n = n + k + 1
            if n > MAX_OPERATORS:
                raise GiveUp("operators")
            left = ast.Binary(c, left, right, left.span.to(right.span))

    def atom(self):
        c = self.peek()
        text = self.text
        p = self.pos
        if "0" <= c <= "9" or c == "-":
            m = _DURATION(text, p)
            if m is not None:
                self.pos = m.end()
                return duration(m.group(), self.span(p, m.end())), 0
            m = _PERCENT(text, p)
            if m is not None:
                self.pos = m.end()
                return ast.Percent(float(m.group()[:-1]), m.group(), self.span(p, m.end())), 0
            m = _NUMBER(text, p)
            if m is not None:
                self.pos = m.end()
                return number(m.group(), self.span(p, m.end())), 0
            if c != "-":
                raise GiveUp("number")
            self.pos = p + 1
            operand, n = self.atom()
            if n + 1 > MAX_OPERATORS:
                raise GiveUp("operators")
            return ast.Negate(operand, self.span(p, p + 1).to(operand.span)), n + 1
        if c == "(":
            self.pos = p + 1
            inner, n = self.sum()
            self.punct(")")
            return inner, n
        m = _NAME(text, p)
        if m is None:
            raise GiveUp("atom")
        self.pos = m.end()
        return self.reference(m.group(), self.span(p, m.end())), 0
