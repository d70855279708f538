"""A fast YAML writer for what mlspec emits, byte-identical to PyYAML with libyaml's emitter.

``emit.dump_yaml`` used ``yaml.dump`` (block style, keys in insertion order, indent 2, width
4096, unicode allowed, multi-line strings as literal blocks). PyYAML's representer, resolver
and serializer are pure Python even when libyaml emits, and a 1,000-step build holds ~2,600
YAML files, so they were the largest single cost of compiling it. ``dump`` here writes the
same bytes for documents inside a conservative envelope and raises ``Unsupported`` for
anything outside it; the caller then falls back to PyYAML, so output never depends on which
path ran. The envelope:

- containers: ``dict`` with ``str`` keys and ``list``, none of them reached twice (PyYAML
  would write an anchor and an alias);
- scalars: ``None``, ``bool``, ``int``, ``float`` and ``str``;
- a string is printable ASCII; a key is 1-100 characters on one line; a value on one line
  is at most 2,000 characters (so no line reaches the 4,096-column fold); a value with line
  breaks becomes a literal block (``|`` or ``|-``) unless it starts with a space or a line
  break, has a space before a line break or at its end, or ends with two line breaks.

The rules that choose plain, single-quoted and literal style follow the YAML 1.1 emitter
(libyaml's ``yaml_emitter_analyze_scalar`` and ``yaml_emitter_select_scalar_style``) for
that subset; tests/unit/test_emit.py compares this writer with PyYAML on every golden YAML
file, on generated documents, and on every emitted file of a compile.
"""
from __future__ import annotations

import re
from typing import Any


class Unsupported(Exception):
    """The document is outside the envelope: let PyYAML write it."""


#: plain scalars the YAML 1.1 resolver would read as something other than a string (bool,
#: int, float, null, timestamp, merge `<<`, value `=`): such strings are quoted
_RESOLVES = re.compile(r"""(?x)
    (?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)
  | [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
  | \.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
  | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
  | [-+]?\.(?:inf|Inf|INF)
  | \.(?:nan|NaN|NAN)
  | [-+]?0b[0-1_]+
  | [-+]?0[0-7_]+
  | [-+]?(?:0|[1-9][0-9_]*)
  | [-+]?0x[0-9a-fA-F_]+
  | [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+
  | <<
  | ~|null|Null|NULL
  | [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
  | [0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?
    (?:[Tt]|[\ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
    (?:[\ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?
  | =
""")
_ASCII_LINE = re.compile(r"[ -~]*")
_ASCII_TEXT = re.compile(r"[ -~\n]*")
#: indicators that forbid a plain scalar: at its start, anywhere, or before/after a space
_FIRST = frozenset("#,[]{}&*!|>'\"%@`")

_MAX_KEY = 100
_MAX_LINE = 2000
_MAX_INDENT = 1000

_scalars: dict[str, str] = {}


def _line(s: str) -> str:
    """A one-line printable-ASCII string as a plain or single-quoted scalar (block context)."""
    out = _scalars.get(s)
    if out is not None:
        return out
    if len(s) > _MAX_LINE or not _ASCII_LINE.fullmatch(s):
        raise Unsupported(s[:40])
    out = f"'{s.replace(chr(39), chr(39) * 2)}'" if (not s or not _plain(s) or _RESOLVES.fullmatch(s)) else s
    if len(_scalars) < 100_000:
        _scalars[s] = out
    return out


def _plain(s: str) -> bool:
    """True when the emitter allows `s` (non-empty, printable ASCII, one line) as a plain
    scalar in block context."""
    if s[0] == " " or s[-1] == " " or s.startswith("---") or s.startswith("..."):
        return False
    c = s[0]
    n = len(s)
    if c in _FIRST or ((c == "?" or c == ":" or c == "-") and (n == 1 or s[1] == " ")):
        return False
    i = s.find(":", 1)
    while i != -1:  # `: ` or a final `:` would start a mapping value
        if i + 1 == n or s[i + 1] == " ":
            return False
        i = s.find(":", i + 1)
    i = s.find("#", 1)
    while i != -1:  # ` #` would start a comment
        if s[i - 1] == " ":
            return False
        i = s.find("#", i + 1)
    return True


def _literal(s: str, indent: int) -> list[str]:
    """A string with line breaks as a literal block whose lines are indented `indent`."""
    if (not _ASCII_TEXT.fullmatch(s) or s[0] in " \n" or s[-1] == " " or " \n" in s or s.endswith("\n\n")
            or len(s) > 1_000_000):
        raise Unsupported(s[:40])
    pad = " " * indent
    if s[-1] == "\n":
        head, body = "|\n", s[:-1]
    else:
        head, body = "|-\n", s
    return [head] + [f"{pad}{line}\n" if line else "\n" for line in body.split("\n")]


def _float(v: float) -> str:
    if v != v:
        return ".nan"
    if v == float("inf"):
        return ".inf"
    if v == float("-inf"):
        return "-.inf"
    text = repr(v).lower()
    if "." not in text and "e" in text:
        text = text.replace("e", ".0e", 1)
    return text


def _scalar(v: Any, indent: int) -> list[str] | str:
    """The text after `key:` / `-`: ' value' for a one-line scalar; a list of lines for a
    literal block (continuation lines at `indent`)."""
    t = type(v)
    if t is str:
        if "\n" in v:
            return _literal(v, indent)
        return _line(v)
    if v is None:
        return "null"
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        return _float(v)
    raise Unsupported(t.__name__)


_keys: dict[str, str] = {}


def _key(k: Any) -> str:
    """A mapping key as written (checked once per distinct key)."""
    out = _keys.get(k) if type(k) is str else None
    if out is not None:
        return out
    if type(k) is not str or not k or len(k) > _MAX_KEY or "\n" in k:
        raise Unsupported(repr(k)[:40])
    out = _line(k)
    if len(_keys) < 100_000:
        _keys[k] = out
    return out


class _Writer:
    """Block-style writer. The loops of ``mapping`` and ``sequence`` write the common
    scalars (one-line strings, ints, booleans, None) themselves; everything else goes
    through ``value``, which writes exactly the same text for them."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.seen: set[int] = set()

    def _enter(self, node: Any) -> None:
        i = id(node)
        if i in self.seen:
            raise Unsupported("a container reached twice (PyYAML writes an alias)")
        self.seen.add(i)

    def value(self, lead: str, v: Any, indent: int) -> None:
        """`lead` (e.g. `  key:` or `- `'s dash) followed by `v`; `indent` is the column of the
        container `lead` belongs to (mapping keys or sequence dashes)."""
        t = type(v)
        if t is dict:
            self._enter(v)
            if not v:
                self.out.append(lead + " {}\n")
            elif lead.endswith("-"):  # a mapping as a sequence item: its first key on the dash's line
                self.mapping(v, indent + 2, lead + " ")
            else:
                self.out.append(lead + "\n")
                self.mapping(v, indent + 2, " " * (indent + 2))
        elif t is list:
            self._enter(v)
            if not v:
                self.out.append(lead + " []\n")
            elif lead.endswith("-"):  # a sequence as a sequence item: its first dash on the same line
                self.sequence(v, indent + 2, lead + " ")
            else:  # a sequence as a mapping value: not indented (PyYAML's "indentless" sequence)
                self.out.append(lead + "\n")
                self.sequence(v, indent, " " * indent)
        else:
            s = _scalar(v, indent + 2)
            if type(s) is str:
                self.out.append(f"{lead} {s}\n")
            else:
                self.out.append(f"{lead} {s[0]}")
                self.out.extend(s[1:])

    def mapping(self, d: dict, indent: int, first: str) -> None:
        if indent > _MAX_INDENT:
            raise Unsupported("deep")
        prefix = first
        pad = " " * indent
        out = self.out
        scalars = _scalars
        for k, v in d.items():
            t = type(v)
            if t is str and "\n" not in v:
                s = scalars.get(v)
                out.append(f"{prefix}{_key(k)}: {s if s is not None else _line(v)}\n")
            elif t is int:
                out.append(f"{prefix}{_key(k)}: {v}\n")
            elif t is bool:
                out.append(f"{prefix}{_key(k)}: {'true' if v else 'false'}\n")
            elif v is None:
                out.append(f"{prefix}{_key(k)}: null\n")
            else:
                self.value(f"{prefix}{_key(k)}:", v, indent)
            prefix = pad

    def sequence(self, items: list, indent: int, first: str) -> None:
        if indent > _MAX_INDENT:
            raise Unsupported("deep")
        prefix = first
        pad = " " * indent
        out = self.out
        scalars = _scalars
        for v in items:
            if type(v) is str and "\n" not in v:
                s = scalars.get(v)
                out.append(f"{prefix}- {s if s is not None else _line(v)}\n")
            else:
                self.value(prefix + "-", v, indent)
            prefix = pad


def dump(data: Any) -> str:
    """`data` as YAML, exactly as ``emit.dump_yaml``'s PyYAML call writes it; raises
    ``Unsupported`` when it is outside the envelope."""
    w = _Writer()
    t = type(data)
    if t is dict and data:
        w._enter(data)
        w.mapping(data, 0, "")
    elif t is list and data:
        w._enter(data)
        w.sequence(data, 0, "")
    else:
        raise Unsupported("a document that is not a non-empty mapping or sequence")
    return "".join(w.out)
