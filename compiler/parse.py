"""Parse: spec bytes -> AST (mlspec.compiler.ast) or diagnostics.

Input: raw bytes and the path the user gave. Output: ``(Module | None, SourceFile | None,
[Diagnostic])``. Before Lark sees the text, the bytes are screened (size, encoding, NUL,
control and bidi characters, nesting depth) so hostile input fails fast with a clear
message. Syntax errors stop at the first one per file (LALR gives one honest position)
and are turned into plain-language diagnostics. Never raises for bad input.

The Lark parser (LALR, contextual lexer) is built once per process with the AST
Transformer embedded, which builds nodes during the parse instead of building a tree
and transforming it afterwards (about 3x faster); its tables are cached in a private
per-user directory (never the shared temporary directory: see ``_cache_file``).
"""
from __future__ import annotations

import decimal
import functools
import hashlib
import os
import re
import stat
import unicodedata
from importlib import resources
from typing import Any



def _import_lark() -> None:
    """Import lark without its optional accelerators for building grammars: when installed
    (a development environment has them for other reasons) lark imports `regex` and
    `interegular` at import time (~20 ms) although they only matter when a grammar is
    compiled and checked, not when cached tables parse a spec. A compile-only install has
    neither, so both parse alike."""
    import sys

    blocked = [m for m in ("regex", "interegular") if m not in sys.modules]
    for m in blocked:
        sys.modules[m] = None  # type: ignore[assignment]  # `import m` raises ImportError
    try:
        import lark  # noqa: F401
    finally:
        for m in blocked:
            if m in sys.modules and sys.modules[m] is None:
                del sys.modules[m]


def enable_grammar_checks() -> None:
    """Give lark back `interegular` (when installed), which `_import_lark` kept from it: building
    the grammar with ``strict=True`` (tests/unit/test_grammar.py) needs it to find terminal
    collisions."""
    import lark.lexer

    try:
        import interegular
    except ImportError:
        return
    lark.lexer.interegular = interegular  # type: ignore[attr-defined]
    lark.lexer.has_interegular = True  # type: ignore[attr-defined]


_import_lark()
from lark import Lark, Token, Transformer  # noqa: E402
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken  # noqa: E402

from mlspec.compiler import ast
from mlspec.compiler.diagnostics import Diagnostic, Label
from mlspec.compiler.source import SourceFile, Span

MAX_BYTES = 1024 * 1024  # 1 MiB
MAX_DEPTH = 32
#: operators in one gate expression (`a + b * -c` has 3); real gates use a handful, and the
#: checks and targets walk expressions recursively, so thousands would exhaust the stack
MAX_OPERATORS = 64
#: digits of a number literal; longer ones are read as infinity and refused (E302) instead of
#: reaching Python's int-string conversion limit (4,300 digits)
MAX_DIGITS = 400

_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE_UNITS = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
               "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
_DURATION_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w)")
_SIZE_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(KiB|MiB|GiB|TiB|KB|MB|GB|TB)")
# Bidi controls, zero-width characters, BOM, and other invisible format characters
# (Trojan Source, CVE-2021-42574): rejected anywhere in a spec, comments included.
# The class is every format character (Unicode category Cf: bidi controls, zero-width
# space/joiners, soft hyphen, word joiner, invisible operators, the tag block used for
# "ASCII smuggling", interlinear annotations, BOM) plus the characters that render as
# nothing although Unicode calls them letters or marks: Hangul fillers (U+115F, U+1160,
# U+3164, U+FFA0), the braille blank (U+2800), the combining grapheme joiner (U+034F),
# variation selectors (U+180B-U+180F, U+FE00-U+FE0F, U+E0100-U+E01EF), Khmer inherent
# vowels (U+17B4-U+17B5), the Mongolian vowel separator, and the line/paragraph separators.
_INVISIBLE_EXTRA = ("\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2028\u2029\u2800\u3164\ufe00-\ufe0f\uffa0"
                    "\U000e0100-\U000e01ef")


_FORMAT_CHARS = (  # Unicode category Cf (format), as of Unicode 14.0.0; tests/robustness check it
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f")
_INVISIBLE = re.compile("[" + _FORMAT_CHARS + _INVISIBLE_EXTRA + "]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


# ------------------------------------------------------------------ the transformer
class _TooManyOperators(Exception):
    def __init__(self, span: Span) -> None:
        super().__init__("too many operators")
        self.span = span


class _Builder(Transformer):
    """Builds AST nodes while Lark parses (embedded transformer: no parse tree)."""

    def __init__(self) -> None:
        super().__init__(visit_tokens=False)
        self.file = "<spec>"
        self.ops: dict[int, int] = {}  # id(expression node) -> operators in it (reset per parse)

    def _count(self, node: Any, *parts: Any) -> Any:
        n = 1 + sum(self.ops.get(id(p), 0) for p in parts)
        if n > MAX_OPERATORS:
            raise _TooManyOperators(node.span)
        self.ops[id(node)] = n
        return node

    # spans ----------------------------------------------------------------
    def _tok(self, t: Token) -> Span:
        return Span(self.file, t.line, t.column, t.end_line, t.end_column, t.start_pos, t.end_pos)

    def _span(self, first: Any, last: Any) -> Span:
        a = self._tok(first) if isinstance(first, Token) else first.span
        b = self._tok(last) if isinstance(last, Token) else last.span
        return a.to(b)

    # values ----------------------------------------------------------------
    def string(self, c):
        t = c[0]
        return ast.Str(_unescape(t.value[1:-1]), self._tok(t))

    def number(self, c):
        t = c[0]
        text = t.value
        value: float | int
        if len(text) > MAX_DIGITS:  # refused as too large by the checks (E302)
            value = float("-inf") if text.startswith("-") else float("inf")
        elif re.fullmatch(r"-?[0-9]+", text):
            value = int(text)
        else:
            value = float(text)
        return ast.Num(value, text, self._tok(t))

    def duration(self, c):
        t = c[0]
        m = _DURATION_RE.match(t.value)
        return ast.Duration(float(m.group(1)) * _DURATION_UNITS[m.group(2)], t.value, self._tok(t))

    def percent(self, c):
        t = c[0]
        return ast.Percent(float(t.value[:-1]), t.value, self._tok(t))

    def size(self, c):
        t = c[0]
        m = _SIZE_RE.match(t.value)
        # exact decimal arithmetic: a huge size stays a (huge) int instead of overflowing;
        # the checks then report it as out of range
        return ast.Size(int(decimal.Decimal(m.group(1)) * _SIZE_UNITS[m.group(2)]), t.value, self._tok(t))

    def true(self, c):
        return ast.Bool(True, self._tok(c[0]))

    def false(self, c):
        return ast.Bool(False, self._tok(c[0]))

    def reference(self, c):
        return ast.Ref(tuple(t.value for t in c), self._span(c[0], c[-1]), tuple(self._tok(t) for t in c))

    def call(self, c):
        name, args = c[0], c[2:-1]
        return ast.Call(name.value, tuple(args), self._span(name, c[-1]), self._tok(name))

    def object(self, c):
        kind = c[0]
        return ast.Object(kind.value, tuple(c[2:-1]), self._span(kind, c[-1]), self._tok(kind))

    def list(self, c):
        return ast.List(tuple(c[1:-1]), self._span(c[0], c[-1]))

    def map_entry(self, c):
        k = c[0]
        quoted = k.type == "STRING"
        key = _unescape(k.value[1:-1]) if quoted else k.value
        return ast.MapEntry(key, c[1], self._tok(k), quoted)

    def map(self, c):
        return ast.Map(tuple(c[1:-1]), self._span(c[0], c[-1]))

    # expressions -------------------------------------------------------------
    def compare(self, c):
        left, op, right = c
        return ast.Compare(op.value, left, right, left.span.to(right.span))

    def binary(self, c):
        left, op, right = c
        return self._count(ast.Binary(op.value, left, right, left.span.to(right.span)), left, right)

    def negate(self, c):
        return self._count(ast.Negate(c[1], self._span(c[0], c[1])), c[1])

    def paren(self, c):
        return c[1]

    # items -------------------------------------------------------------------
    def attribute(self, c):
        name, value = c
        return ast.Attribute(name.value, value, self._span(name, value), self._tok(name))

    def block(self, c):
        kind = c[0]
        label = None
        label_span = None
        quoted = False
        rest = c[1:]
        if isinstance(rest[0], Token) and rest[0].type in ("NAME", "STRING"):
            tok = rest[0]
            quoted = tok.type == "STRING"
            label = _unescape(tok.value[1:-1]) if quoted else tok.value
            label_span = self._tok(tok)
            rest = rest[1:]
        items = tuple(rest[1:-1])
        return ast.Block(kind.value, label, quoted, items, self._span(kind, rest[-1]),
                         self._tok(kind), label_span)

    def step_decl(self, c):
        kw, name, kind = c[0], c[1], c[2]
        return ast.StepDecl(name.value, kind.value, tuple(c[4:-1]), self._span(kw, c[-1]),
                            self._tok(name), self._tok(kind))

    def gate_decl(self, c):
        kw, name = c[0], c[1]
        return ast.GateDecl(name.value, tuple(c[3:-1]), self._span(kw, c[-1]), self._tok(name))

    def require(self, c):
        return ast.Require(c[1], self._span(c[0], c[1]))

    def field_decl(self, c):
        name, typ = c[0], c[1]
        items = tuple(c[3:-1]) if len(c) > 2 else ()
        return ast.FieldDecl(name.value, typ.value, items, self._span(name, c[-1]),
                             self._tok(name), self._tok(typ), len(c) > 2)

    def system_decl(self, c):
        name = c[0]
        return ast.System(name.value, tuple(c[2:-1]), self._span(name, c[-1]), self._tok(name))

    def start(self, c):
        return c[0]


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}


def _unescape(s: str) -> str:
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


@functools.lru_cache(maxsize=1)
def _parser() -> tuple[Lark, _Builder]:
    grammar = grammar_text()
    builder = _Builder()
    options = dict(parser="lalr", lexer="contextual", transformer=builder, maybe_placeholders=False)
    cache = _cache_file(grammar)
    if cache is not None:
        try:
            if os.path.exists(cache):
                return Lark(grammar, cache=cache, **options), builder
            # first use: Lark writes the tables to a fresh private name, then the file is
            # renamed into place, so a concurrent reader never sees half a file
            tmp = f"{cache}.{os.getpid()}.tmp"
            parser = Lark(grammar, cache=tmp, **options)
            os.replace(tmp, cache)
            return parser, builder
        except Exception:  # an unusable cache must not stop a compile
            pass
    return Lark(grammar, **options), builder


def _private_dir(path: str) -> bool:
    """True when `path` is a real directory (not a link) owned by this user that nobody
    else can write to; mlspec only reads pickled parser tables from such a directory."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022)


def _cache_file(grammar: str) -> str | None:
    """The parser-table cache file in a private per-user directory, or None (no cache).

    Lark's own default cache lives in the shared temporary directory under a predictable
    name and is unpickled before its checksum is compared, so anyone who can write to
    /tmp could run code as the next user of mlspec. mlspec never uses it: the cache lives
    in ``$XDG_CACHE_HOME/mlspec`` (default ``~/.cache/mlspec``), created 0700, and is used
    only while that directory and the file are owned by the current user and writable by
    nobody else. Anything else (another owner, loose permissions, a symlink, no home, a
    platform without POSIX owners) means no cache: the tables are built in memory."""
    if os.environ.get("MLSPEC_NO_PARSER_CACHE") or not hasattr(os, "getuid"):
        return None
    import lark
    import sys

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    folder = os.path.join(base, "mlspec")
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    if not _private_dir(folder):
        return None
    key = hashlib.sha256(f"{grammar}\0{lark.__version__}\0{sys.version_info[:2]}".encode()).hexdigest()[:32]
    path = os.path.join(folder, f"parser-{key}.lark")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        return None
    return path


def grammar_text() -> str:
    return resources.files("mlspec.grammar").joinpath("mlspec.lark").read_text(encoding="utf-8")


# ------------------------------------------------------------------ screening
def decode(data: bytes, path: str) -> tuple[SourceFile | None, list[Diagnostic]]:
    """Bytes -> SourceFile, refusing what is not a small, clean UTF-8 text file."""
    if len(data) > MAX_BYTES:
        return None, [Diagnostic("E104", f"the spec is {len(data):,} bytes; the limit is {MAX_BYTES:,} bytes",
                                 _file_span(path), hint="split the system into several specs")]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, [Diagnostic("E102", "the spec is UTF-16 encoded; mlspec reads UTF-8 only",
                                 _file_span(path), hint="re-save the file as UTF-8")]
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    nul = data.find(b"\x00")
    if nul != -1 and _looks_like_utf16(data):
        return None, [Diagnostic("E102", "the spec looks like UTF-16 text without a byte-order mark; mlspec reads "
                                         "UTF-8 only", _file_span(path),
                                 detail="every other byte is NUL, as in UTF-16 text (Windows \"Unicode\")",
                                 hint="re-save the file as UTF-8")]
    if nul != -1:
        shown, span = _byte_span(data, nul, path)
        return shown, [Diagnostic("E103", f"NUL byte at byte offset {nul}; this looks like a binary file, not a spec",
                                  span, hint="mlspec specs are plain UTF-8 text")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        shown, span = _byte_span(data, e.start, path)
        return shown, [Diagnostic("E102", f"invalid UTF-8 byte 0x{data[e.start]:02X} at byte offset {e.start}", span,
                                  detail="mlspec reads specs as UTF-8 only; this file may be in another encoding "
                                         "(Latin-1, Windows-1252) or not be text at all",
                                  hint="re-save the file as UTF-8")]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    src = SourceFile(path, text)
    diags: list[Diagnostic] = []
    for k, m in enumerate(_INVISIBLE.finditer(text)):
        if k == 100:  # enough to show the pattern; the renderer caps the output anyway
            break
        name = unicodedata.name(m.group(), f"U+{ord(m.group()):04X}")
        diags.append(Diagnostic("E309", f"invisible or bidirectional control character U+{ord(m.group()):04X} ({name.lower()})",
                                src.span(m.start(), m.end()),
                                detail="such characters can make code read differently from how it runs (Trojan Source)",
                                hint="delete the character; mlspec refuses it everywhere, comments included"))
    for k, m in enumerate(_CONTROL.finditer(text)):
        if k == 100:
            break
        diags.append(Diagnostic("E103", f"control character U+{ord(m.group()):04X} in the spec",
                                src.span(m.start(), m.end()), hint="delete the character"))
    return src, diags


def _looks_like_utf16(data: bytes) -> bool:
    """True when the first KiB has NUL in most even or most odd positions and decodes as
    UTF-16 to printable text (ASCII-range UTF-16 without a byte-order mark)."""
    head = data[:1024]
    if len(head) < 4:
        return False
    head = head[:len(head) - len(head) % 2]
    for zeros, codec in ((head[1::2], "utf-16-le"), (head[0::2], "utf-16-be")):
        if zeros.count(0) >= 0.9 * len(zeros):
            try:
                text = head.decode(codec)
            except UnicodeDecodeError:
                continue
            if sum(ch.isprintable() or ch in "\n\r\t" for ch in text) >= 0.9 * len(text):
                return True
    return False


def _byte_span(data: bytes, at: int, path: str) -> tuple[SourceFile | None, Span]:
    """A display-only source (undecodable bytes shown as U+FFFD) and the span of byte `at`.

    Only the offending line is decoded for display, so a binary file never floods the
    terminal; the returned SourceFile is never parsed."""
    line_no = data.count(b"\n", 0, at) + 1
    start = data.rfind(b"\n", 0, at) + 1
    end = data.find(b"\n", at)
    end = len(data) if end == -1 else end
    if end - start > 4096:  # a huge binary "line": no snippet, just the position
        return None, Span(path, line_no, 1, line_no, 1, 0, 0)
    before = data[start:at].decode("utf-8", "replace")
    line = data[start:end].decode("utf-8", "replace")
    text = "\n" * (line_no - 1) + line
    col = len(before) + 1
    off = line_no - 1 + len(before)
    return SourceFile(path, text), Span(path, line_no, col, line_no, col + 1, off, off + 1)


def _file_span(path: str, line: int = 1) -> Span:
    return Span(path, line, 1, line, 1, 0, 0)


# strings (possibly unterminated), comments, and the brackets outside them
_BRACKETS = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|//[^\n]*|[{}\[\]()]')


def _scan_nesting(src: SourceFile) -> tuple[list[Diagnostic], list[int]]:
    """Check bracket depth outside strings and comments; return open-brace offsets at EOF."""
    stack: list[int] = []
    for m in _BRACKETS.finditer(src.text):
        ch = m.group()
        if ch in "{[(":
            i = m.start()
            stack.append(i)
            if len(stack) > MAX_DEPTH:
                return [Diagnostic("E105", f"blocks and values are nested {len(stack)} levels deep here; the limit is "
                                           f"{MAX_DEPTH}", src.span(i, i + 1),
                                   detail="real specs nest a few levels; deep nesting is refused before parsing so "
                                          "that hostile input cannot exhaust the parser",
                                   hint="flatten the structure")], stack
        elif ch in "}])":
            if stack:
                stack.pop()
    return [], stack


_PAIRS = {"{": "}", "[": "]", "(": ")"}


def _mismatch(text: str, pos: int) -> int | None:
    """The offset of the opener that the closer at `pos` fails to match, or None."""
    stack: list[int] = []
    for m in _BRACKETS.finditer(text, 0, pos):
        ch = m.group()
        if ch in _PAIRS:
            stack.append(m.start())
        elif ch in "}])" and stack:
            stack.pop()
    if pos < len(text) and text[pos] in "}])" and stack and _PAIRS[text[stack[-1]]] != text[pos]:
        return stack[-1]
    return None


def _end_span(src: SourceFile) -> Span:
    """Where the file visibly ends: just after its last non-blank character."""
    n = len(src.text.rstrip())
    return src.span(n, n)


# ------------------------------------------------------------------ syntax errors
_WORDS = {
    "NAME": "a name", "STRING": "a string", "SIGNED_NUMBER": "a number",
    "DURATION": "a duration such as `10m`", "PERCENT": "a percentage such as `5%`",
    "SIZE": "a size such as `50GiB`", "LBRACE": "`{`", "RBRACE": "`}`", "LSQB": "`[`",
    "RSQB": "`]`", "LPAR": "`(`", "RPAR": "`)`", "EQUAL": "`=`", "COLON": "`:`", "COMMA": "`,`",
    "DOT": "`.`", "TRUE": "`true`", "FALSE": "`false`", "STEP": "`step`", "GATE": "`gate`",
    "REQUIRE": "`require`", "SYSTEM": "`system`", "COMPARE": "a comparison such as `>=`",
    "ADD_OP": "`+` or `-`", "MUL_OP": "`*` or `/`", "MINUS": "`-`", "$END": "the end of the file",
    "<END-OF-FILE>": "the end of the file",
}


def _words(expected: set[str]) -> str:
    names = sorted({_WORDS.get(e, f"`{e.lower()}`") for e in expected})
    if len(names) > 6:
        names = names[:6] + ["…"]
    return ", ".join(names)


def _looks_like_data(text: str) -> str | None:
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return "JSON"
    for line in stripped.splitlines()[:5]:
        if line.startswith("---") or re.match(r"^[A-Za-z_][\w.-]*:(\s|$)", line):
            return "YAML"
    return None


def _token_text(tok: Token) -> str:
    v = str(tok.value)
    return v if len(v) <= 30 else v[:27] + "..."


def _syntax_diagnostic(e: UnexpectedInput, src: SourceFile, open_braces: list[int]) -> Diagnostic:
    text = src.text
    kind = _looks_like_data(text)
    if kind and not re.search(r"^[ \t]*system[ \t]+[A-Za-z_]\w*[ \t]*\{", text, re.MULTILINE):
        return Diagnostic("E115", f"this file looks like {kind}, not an mlspec spec",
                          src.span(0, min(len(text), len(text.splitlines()[0]) if text else 0)),
                          hint="an mlspec file starts with `system <name> {`; see docs/language.md")
    if isinstance(e, UnexpectedCharacters):
        pos = e.pos_in_stream
        ch = text[pos] if pos < len(text) else ""
        span = src.span(pos, pos + 1)
        if ch == '"':
            end = text.find("\n", pos)
            end = len(text) if end == -1 else end
            return Diagnostic("E113", "unterminated string", src.span(pos, end),
                              hint='close the string with `"` on the same line; write a newline as `\\n`')
        if ch.isdigit() or (ch == "-" and text[pos + 1:pos + 2].isdigit()):
            dotted = re.match(r"-?[0-9]+(\.[0-9]+){2,}", text[pos:])
            if dotted:
                num = dotted.group()
                return Diagnostic("E110", f"`{_short(num)}` is not a number", src.span(pos, pos + len(num)),
                                  hint=f'write versions and other dotted codes as strings: `"{_short(num)}"`')
        if ch.isdigit():
            m = re.match(r"[0-9.]+[A-Za-z_%]+", text[pos:])
            if m:
                return Diagnostic("E114", f"`{m.group()}` is not a number or a unit mlspec knows",
                                  src.span(pos, pos + len(m.group())),
                                  hint="durations use ms, s, m, h, d, w (`10m`); sizes use KiB, MiB, GiB, TiB, "
                                       "KB, MB, GB, TB (`50GiB`); percentages use `%`")
        if ch == ";":
            return Diagnostic("E114", "unexpected `;`", span,
                              hint="mlspec needs no `;`: end an attribute with a new line or a space")
        if ch in "'\u2018\u2019\u201c\u201d":
            return Diagnostic("E114", f"unexpected character `{ch}`", span,
                              hint='strings use straight double quotes: `"text"`')
        if ch.isalpha() and not ch.isascii():
            return _non_ascii_name(src, pos)
        shown = repr(ch)[1:-1] if ch else "end of file"
        return Diagnostic("E114", f"unexpected character `{shown}`", span,
                          hint=f"expected {_words(set(e.allowed or ()))}" if e.allowed else "")
    if isinstance(e, (UnexpectedEOF,)) or (isinstance(e, UnexpectedToken) and e.token.type == "$END"):
        if open_braces:
            at = open_braces[-1]
            span = src.span(at, at + 1)
            return Diagnostic("E111", "this `{` is never closed", span,
                              labels=(Label(_end_span(src), "the file ends here"),),
                              hint="add the missing `}`")
        if not text.strip() or not _has_code(text):
            return Diagnostic("E116", "the spec is empty", src.span(0, 0),
                              hint="a spec starts with `system <name> { ... }`")
        return Diagnostic("E110", "unexpected end of file", _end_span(src),
                          hint=f"expected {_words(set(getattr(e, 'expected', ()) or ()))}")
    assert isinstance(e, UnexpectedToken)
    tok = e.token
    span = Span(src.path, tok.line, tok.column, tok.end_line, tok.end_column, tok.start_pos, tok.end_pos)
    expected = set(e.expected or ())
    prev = _previous_token(text, tok.start_pos)
    opener = _mismatch(text, tok.start_pos) if tok.type in ("RBRACE", "RSQB", "RPAR") else None
    if opener is not None:
        return Diagnostic("E111", f"this `{text[opener]}` is never closed", src.span(opener, opener + 1),
                          labels=(Label(span, f"`{tok.value}` found here"),),
                          hint=f"add the missing `{_PAIRS[text[opener]]}` before `{tok.value}`")
    # Look back over a bounded window only: a regex over the whole prefix of a
    # multi-megabyte line would be quadratic.
    base = max(0, tok.start_pos - 2048)
    before = text[base:tok.start_pos]
    m = re.search(r'([A-Za-z_]\w*)[ \t]+("(?:[^"\\\n]|\\.)*"|-?[0-9][\w.%]*)[ \t]*\n?[ \t]*$', before)
    if "LBRACE" in expected and m and tok.type != "LBRACE" and m.group(1) not in ("step", "gate", "system"):
        name, val = m.group(1), m.group(2)
        return Diagnostic("E112", f"missing `=` after `{name}`", src.span(base + m.start(2), base + m.end(2)),
                          hint=f"write `{name} = {_short(val)}`")
    if prev == "=" and tok.type in ("RBRACE", "RSQB", "RPAR", "$END", "NAME") and expected & _VALUE_STARTS:
        m2 = re.search(r'([A-Za-z_]\w*)\s*=\s*$', before)
        what = f"`{m2.group(1)} =`" if m2 else "`=`"
        at = text.rfind("=", 0, tok.start_pos)
        return Diagnostic("E110", f"missing a value after {what}", src.span(at, at + 1),
                          hint='write a value such as `"text"`, `10m`, `5%`, `[a, b]` or `{ key = value }`')
    if tok.type == "STRING" and re.match(r'\s*=', text[tok.end_pos:tok.end_pos + 2048]):
        return Diagnostic("E110", "attribute names are not quoted", span,
                          hint=f"write `{_unescape(tok.value[1:-1])} = ...`, without quotes around the name")
    if text[:tok.start_pos].rstrip().endswith(":") and "NAME" in expected and tok.type != "NAME":
        return Diagnostic("E110", f"unexpected `{_token_text(tok)}` after `:`", span,
                          hint="set an attribute with `=` (`owner = \"team@example.com\"`); `name : type` "
                               "declares a column inside `schema { ... }`")
    if tok.type == "SYSTEM":
        return Diagnostic("E110", "a second `system` in one file", span,
                          hint="a spec holds one `system`; put each system in its own file")
    # ---- the writer's common slips, in words (checked before the generic messages)
    if re.search(r"\bstep\s+[A-Za-z_]\w*\s*$", before) and tok.type == "LBRACE":
        name = before.split()[-1]
        return Diagnostic("E112", f"missing `= <kind>` after `step {name}`", span,
                          hint=f"a step is written `step {name} = <kind> {{ ... }}`, e.g. `step {name} = train {{ ... }}`")
    if re.search(r"\bstep\s+[A-Za-z_]\w*\s*=\s*[A-Za-z_]\w*\s*$", before) and tok.type == "LPAR":
        return Diagnostic("E110", "a step's settings go in a `{ ... }` block, not in `( ... )`", span,
                          hint="write `step <name> = <kind> { key = value  ... }`")
    if tok.type == "LBRACE" and "NAME" in expected and prev and re.fullmatch(r"[a-z_]+", prev):
        return Diagnostic("E110", f"missing a name after `{prev}`", span,
                          hint=f"write `{prev} <name> {{ ... }}`")
    if expected and expected <= {"COMPARE", "ADD_OP", "MUL_OP"}:
        r = before.rfind("require")
        if r != -1:
            span = src.span(base + r, base + len(before.rstrip()))
        return Diagnostic("E110", "this requirement has no comparison", span,
                          hint="a requirement compares a metric with a value: "
                               "`require step.evaluate.metrics.f1 >= 0.9`")
    if tok.type == "COMMA" and "RBRACE" in expected:
        return Diagnostic("E110", "unexpected `,`: attributes in a block are not separated by commas", span,
                          hint="put each attribute on its own line, or separate them with spaces; commas "
                               "separate the items of lists `[a, b]` and maps `{ a = 1, b = 2 }`")
    if "COMMA" in expected and "RSQB" in expected and tok.type in _VALUE_STARTS:
        return Diagnostic("E110", "missing `,` between list items", span,
                          hint=f"write `, {_token_text(tok)}`")
    if tok.type in ("DOT", "NAME") and re.search(r"[0-9]\.[0-9]+$", before) and tok.value.startswith("."):
        m3 = re.search(r"[0-9][0-9.]*$", before)
        num = (m3.group() if m3 else "") + text[tok.start_pos:tok.start_pos + 20].split()[0]
        at = base + (m3.start() if m3 else len(before))
        return Diagnostic("E110", f"`{_short(num)}` is not a number", src.span(at, at + len(num)),
                          hint=f'write versions and other dotted codes as strings: `"{_short(num)}"`')
    if expected == {"LBRACE"} and prev:
        at = base + len(before.rstrip())
        return Diagnostic("E110", f"missing `{{` after `{_short(prev)}`", src.span(at, at + 1),
                          hint="a block opens with `{` on the same line as its name")
    if "EQUAL" in expected and prev and re.fullmatch(r"[A-Za-z_]\w*", prev):
        return Diagnostic("E112", f"missing `=` after `{prev}`", span,
                          hint=f"write `{prev} = <value>`, or `{prev} {{ ... }}` for a block")
    if tok.type == "RBRACE" and not open_braces_before(text, tok.start_pos):
        return Diagnostic("E110", "unexpected `}` with no block open", span, hint="delete the extra `}`")
    if tok.type == "EQUAL" and prev and prev.endswith('"'):
        return Diagnostic("E110", "unexpected `=`: attribute names are not quoted", span,
                          hint="write `name = value`, without quotes around the name")
    what = f"`{_token_text(tok)}`"
    hint = f"expected {_words(expected)}" if expected else ""
    if text[:tok.start_pos].strip() == "" and tok.value != "system":
        hint = "a spec starts with `system <name> {`"
    elif tok.type == "NAME" and tok.value == "system":
        hint = "a spec holds one `system`; put each system in its own file"
    return Diagnostic("E110", f"unexpected {what}", span, hint=hint)


_VALUE_STARTS = {"STRING", "SIGNED_NUMBER", "DURATION", "PERCENT", "SIZE", "NAME", "LSQB", "LBRACE"}


def _short(v: str) -> str:
    return v if len(v) <= 30 else v[:27] + "..."


# Letters from other scripts that render like ASCII ones (Unicode confusables, the
# common subset): a name that mixes them reads like one name and is another.
_CONFUSABLE = dict(zip("\u0430\u0435\u0456\u0458\u043e\u0440\u0441\u0442\u0443\u0445\u0455"
                       "\u03b1\u03bf\u03c1\u03ba\u03bd\u03c5\u0391\u0392\u0395\u0397\u0399\u039a\u039c\u039d\u039f\u03a1"
                       "\u03a4\u03a7\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0425",
                       "aeijopctyxsaopkvuABEHIKMNOPTXABEKMHOPCTX"))


def _non_ascii_name(src: SourceFile, pos: int) -> Diagnostic:
    text = src.text
    a = pos
    while a > 0 and (text[a - 1].isalnum() or text[a - 1] == "_"):
        a -= 1
    b = pos
    while b < len(text) and (text[b].isalnum() or text[b] == "_"):
        b += 1
    word = text[a:b]
    ch = text[pos]
    name = unicodedata.name(ch, "").lower()
    looks = _CONFUSABLE.get(ch) or unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    ascii_word = "".join(_CONFUSABLE.get(c) or unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode()
                         or "_" for c in word)
    summary = f"`{word}` is not a valid name: it contains U+{ord(ch):04X} ({name})"
    if looks and ch in _CONFUSABLE:
        detail = (f"U+{ord(ch):04X} looks like the ASCII `{looks}`, so `{word}` would read like another name "
                  "(a confusable)")
    else:
        detail = "names are ASCII so that every reader, tool and cloud sees the same name"
    return Diagnostic("E206", summary, src.span(a, b), detail=detail,
                      hint=f"use ASCII letters, digits and `_`: `{ascii_word.lower()}`")


def _has_code(text: str) -> bool:
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("#") and not s.startswith("//"):
            return True
    return False


def open_braces_before(text: str, pos: int) -> bool:
    return text.count("{", 0, pos) > text.count("}", 0, pos)


def _previous_token(text: str, pos: int) -> str | None:
    m = re.search(r'(\S+)\s*$', text[max(0, pos - 2048):pos])
    return m.group(1) if m else None


# ------------------------------------------------------------------ entry point
def parse_source(src: SourceFile) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse already-screened source text."""
    if not _has_code(src.text):
        return None, [Diagnostic("E116", "the spec is empty", src.span(0, 0),
                                 hint="a spec starts with `system <name> { ... }`")]
    depth_diags, open_braces = _scan_nesting(src)
    if depth_diags:
        return None, depth_diags
    parser, builder = _parser()
    builder.file = src.path
    builder.ops = {}
    comments: list[ast.Comment] = []
    try:
        system = _parse_collecting(parser, src, comments)
    except UnexpectedInput as e:
        return None, [_syntax_diagnostic(e, src, open_braces)]
    except _TooManyOperators as e:
        return None, [Diagnostic("E105", f"this expression has more than {MAX_OPERATORS} operators", e.span,
                                 detail="a gate compares a few metrics; longer expressions are refused so that "
                                        "hostile input cannot exhaust the checker",
                                 hint="simplify the expression, or split it into several `require` lines")]
    except RecursionError:
        return None, [Diagnostic("E105", "the spec is nested too deeply to parse", src.span(0, 0))]
    finally:
        builder.ops = {}
    return ast.Module(system, tuple(comments)), []


def _parse_collecting(parser: Lark, src: SourceFile, comments: list) -> ast.System:
    # Comments are ignored by the grammar; collect them from the text for the formatter.
    result = parser.parse(src.text)
    for m in _COMMENT_RE.finditer(_mask_strings(src.text)):
        comments.append(ast.Comment(src.text[m.start():m.end()], src.span(m.start(), m.end())))
    return result


_COMMENT_RE = re.compile(r"(#|//)[^\n]*")


def _mask_strings(text: str) -> str:
    """Replace string contents with spaces so comment markers inside strings are ignored."""
    return re.sub(r'"([^"\\\n]|\\.)*"', lambda m: " " * len(m.group()), text)


def parse_bytes(data: bytes, path: str) -> tuple[ast.Module | None, SourceFile | None, list[Diagnostic]]:
    src, diags = decode(data, path)
    if src is None or any(d.is_error for d in diags):
        return None, src, diags
    module, more = parse_source(src)
    return module, src, diags + more
