"""`mlspec fmt`: canonical formatting that keeps every comment and never changes meaning.

Input: a parsed Module and its SourceFile. Output: the canonical text. Rules:
two-space indentation; one item per line; `=` aligned within a run of consecutive
one-line attributes; at most one blank line, kept where the author put one; a block
written on one line stays on one line (items separated by two spaces) unless a comment
lives inside it; strings re-escaped; typed literals kept as written; gate expressions
printed with single spaces and only the parentheses precedence needs. Comments stay
attached to the item they precede or trail. Formatting is idempotent.
"""
from __future__ import annotations

from mlspec.compiler import ast
from mlspec.compiler.source import SourceFile

INDENT = "  "
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


def quote(s: str) -> str:
    out = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return f'"{out}"'


class _Printer:
    def __init__(self, module: ast.Module, src: SourceFile) -> None:
        self.src = src
        self.comments = sorted(module.comments, key=lambda c: c.span.start)
        self.next_comment = 0
        self.lines: list[str] = []

    # comments ------------------------------------------------------------
    def _leading(self, before: int, depth: int) -> None:
        while self.next_comment < len(self.comments) and self.comments[self.next_comment].span.start < before:
            c = self.comments[self.next_comment]
            if self._blank_before(c.span.start) and self.lines and self.lines[-1] != "" \
                    and not self.lines[-1].endswith("{"):
                self.lines.append("")
            self.lines.append(INDENT * depth + c.text.rstrip())
            self.next_comment += 1

    def _trailing(self, line: int, end: int) -> str:
        parts = []
        while self.next_comment < len(self.comments):
            c = self.comments[self.next_comment]
            if c.span.line == line and c.span.start >= end:
                parts.append(c.text.rstrip())
                self.next_comment += 1
            else:
                break
        return ("  " + "  ".join(parts)) if parts else ""

    def _has_comment_within(self, start: int, end: int) -> bool:
        return any(start <= c.span.start < end for c in self.comments[self.next_comment:])

    def _blank_before(self, offset: int) -> bool:
        """True when the source has an empty line between `offset` and the previous token."""
        text = self.src.text
        i = offset - 1
        while i >= 0 and text[i] in " \t":
            i -= 1
        if i < 0 or text[i] != "\n":
            return False
        i -= 1
        while i >= 0 and text[i] in " \t":
            i -= 1
        return i >= 0 and text[i] == "\n"

    # values ----------------------------------------------------------------
    def value(self, v: ast.Value, depth: int) -> str:
        if isinstance(v, ast.Str):
            return quote(v.value)
        if isinstance(v, (ast.Num, ast.Duration, ast.Percent, ast.Size)):
            return v.text
        if isinstance(v, ast.Bool):
            return "true" if v.value else "false"
        if isinstance(v, ast.Ref):
            return v.text
        if isinstance(v, ast.Call):
            return f"{v.name}({', '.join(self.value(a, depth) for a in v.args)})"
        if isinstance(v, ast.List):
            return "[" + ", ".join(self.value(a, depth) for a in v.items) + "]"
        if isinstance(v, ast.Map):
            if not v.entries:
                return "{}"
            inner = ", ".join(f"{quote(e.key) if e.quoted else e.key} = {self.value(e.value, depth)}"
                              for e in v.entries)
            return "{ " + inner + " }"
        if isinstance(v, ast.Object):
            return self._braced(v.kind, v.items, v.span, depth)
        raise TypeError(type(v))

    def expr(self, e: ast.Expr, parent: int = 0, right: bool = False) -> str:
        if isinstance(e, ast.Binary):
            p = _PREC[e.op]
            s = f"{self.expr(e.left, p)} {e.op} {self.expr(e.right, p, True)}"
            return f"({s})" if p < parent or (right and p == parent) else s
        if isinstance(e, ast.Negate):
            inner = self.expr(e.operand, 3)
            return f"-{inner}"
        if isinstance(e, ast.Compare):
            return f"{self.expr(e.left)} {e.op} {self.expr(e.right)}"
        return self.value(e, 0)  # type: ignore[arg-type]

    # items -------------------------------------------------------------------
    def _head(self, it: ast.Item) -> str:
        if isinstance(it, ast.Block):
            label = "" if it.label is None else " " + (quote(it.label) if it.label_quoted else it.label)
            return f"{it.kind}{label}"
        if isinstance(it, ast.StepDecl):
            return f"step {it.name} = {it.kind}"
        if isinstance(it, ast.GateDecl):
            return f"gate {it.name}"
        if isinstance(it, ast.FieldDecl):
            return f"{it.name} : {it.type}"
        raise TypeError(type(it))

    def _items_of(self, it: ast.Item) -> tuple[ast.Item, ...]:
        return getattr(it, "items", ())

    def inline(self, it: ast.Item, depth: int) -> str | None:
        """The one-line form of an item, or None when it must span lines."""
        if isinstance(it, ast.Attribute):
            v = it.value
            if isinstance(v, ast.Object) and not self._one_line(v.items, v.span):
                return None
            return f"{it.name} = {self.value(v, depth)}"
        if isinstance(it, ast.Require):
            return f"require {self.expr(it.expr)}"
        if isinstance(it, ast.FieldDecl) and not it.items:
            return self._head(it)
        if not self._one_line(self._items_of(it), it.span):
            return None
        inner = []
        for x in self._items_of(it):
            s = self.inline(x, depth + 1)
            if s is None:
                return None
            inner.append(s)
        return f"{self._head(it)} {{ {'  '.join(inner)} }}" if inner else f"{self._head(it)} {{}}"

    def _one_line(self, items: tuple[ast.Item, ...], span) -> bool:
        return span.line == span.end_line and not self._has_comment_within(span.start, span.end)

    def _braced(self, head: str, items: tuple[ast.Item, ...], span, depth: int) -> str:
        if self._one_line(items, span):
            inner = [self.inline(x, depth + 1) for x in items]
            if all(s is not None for s in inner):
                return f"{head} {{ {'  '.join(inner)} }}" if inner else f"{head} {{}}"  # type: ignore[arg-type]
        sub = _Printer.__new__(_Printer)
        sub.src, sub.comments, sub.next_comment, sub.lines = self.src, self.comments, self.next_comment, []
        sub.body(items, depth + 1, span.end)
        self.next_comment = sub.next_comment
        return head + " {\n" + "\n".join(sub.lines) + "\n" + INDENT * depth + "}"

    def body(self, items: tuple[ast.Item, ...], depth: int, close: int) -> None:
        """Print items at `depth`; `close` is the offset of the enclosing `}`."""
        rendered: list[tuple[ast.Item, str | None]] = []
        for it in items:
            rendered.append((it, self.inline(it, depth)))
        # alignment runs: consecutive one-line attributes without blank lines between them
        widths: dict[int, int] = {}
        run: list[int] = []

        def flush() -> None:
            if len(run) > 1:
                w = max(len(items[i].name) for i in run)  # type: ignore[union-attr]
                for i in run:
                    widths[i] = w
            run.clear()

        for kind in (ast.Attribute, ast.FieldDecl):
            for i, (it, line) in enumerate(rendered):
                same = isinstance(it, kind) and line is not None and "\n" not in line
                if not same or (run and self._blank_before(it.span.start)) or \
                        (run and self._comment_between(items[run[-1]].span.end, it.span.start)):
                    flush()
                if same:
                    run.append(i)
            flush()
        for i, (it, line) in enumerate(rendered):
            if i > 0 and self._blank_before(self._first_offset(it)):
                self.lines.append("")
            self._leading(it.span.start, depth)
            pad = INDENT * depth
            if line is not None:
                if i in widths:
                    name = it.name  # type: ignore[union-attr]
                    line = name.ljust(widths[i]) + line[len(name):]
                self.lines.append(pad + line + self._trailing(it.span.end_line, it.span.end))
            elif isinstance(it, ast.Attribute):
                text = f"{it.name} = {self.value(it.value, depth)}"
                first, *rest = text.split("\n")
                self.lines.append(pad + first)
                self.lines.extend(rest[:-1])
                self.lines.append(rest[-1] + self._trailing(it.span.end_line, it.span.end))
            else:
                self.lines.append(pad + self._head(it) + " {" + self._trailing(it.span.line, it.span.start))
                self.body(self._items_of(it), depth + 1, it.span.end)
                self.lines.append(pad + "}" + self._trailing(it.span.end_line, it.span.end))
        self._leading(close, depth)

    def _first_offset(self, it: ast.Item) -> int:
        if self.next_comment < len(self.comments) and self.comments[self.next_comment].span.start < it.span.start:
            return self.comments[self.next_comment].span.start
        return it.span.start

    def _comment_between(self, a: int, b: int) -> bool:
        return any(a <= c.span.start < b for c in self.comments[self.next_comment:])

    def module(self, module: ast.Module) -> str:
        s = module.system
        self._leading(s.span.start, 0)
        self.lines.append(f"system {s.name} {{")
        self.body(s.items, 1, s.span.end)
        self.lines.append("}" + self._trailing(s.span.end_line, s.span.end))
        self._leading(len(self.src.text) + 1, 0)
        while self.lines and self.lines[-1] == "":
            self.lines.pop()
        return "\n".join(self.lines) + "\n"


def format_module(module: ast.Module, src: SourceFile) -> str:
    return _Printer(module, src).module(module)


# ------------------------------------------------------------------ writing back
class WriteError(Exception):
    """The formatted spec cannot be written back (a clear message; the spec is unchanged)."""


def write_back(path: str, text: str) -> None:
    """Replace the spec's contents with `text` atomically, through symbolic links.

    A spec that is a symbolic link keeps being a link: the file it points to is rewritten
    (a temporary file next to that file, renamed over it, so a failure never leaves half a
    spec) and keeps its permissions. A link loop, a read-only folder or file, or a full
    disk raise WriteError and leave the spec as it was."""
    import errno
    import os
    import stat
    import tempfile

    from mlspec.compiler.emit import shown

    try:
        real = os.path.realpath(path, strict=True)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise WriteError(f"cannot write `{shown(path)}`: it is a symbolic link loop") from None
        raise WriteError(f"cannot write `{shown(path)}`: {exc.strerror or exc}") from None
    folder = os.path.dirname(real)
    try:
        mode = stat.S_IMODE(os.stat(real).st_mode)
        if not os.access(real, os.W_OK):
            raise PermissionError(errno.EACCES, "the file is read-only")
        fd, tmp = tempfile.mkstemp(prefix=".mlspec-fmt-", suffix=".tmp", dir=folder)
    except OSError as exc:
        why = exc.strerror or str(exc)
        if isinstance(exc, PermissionError) and exc.strerror != "the file is read-only":
            why += " (its folder is read-only: fmt writes a temporary file next to the spec and renames it " \
                   "over the spec, so a failure never leaves half a spec)"
        raise WriteError(f"cannot write `{shown(path)}`: {why}; the spec is unchanged") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, real)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise WriteError(f"cannot write `{shown(path)}`: {exc.strerror or exc}; the spec is unchanged") from None
