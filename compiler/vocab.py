"""The language's vocabulary, read from the checker itself: which blocks, attributes and values
each block accepts, and what type each attribute takes.

The checker has no separate table of attributes: each block's reader (mlspec.compiler.check)
asks its :class:`~mlspec.compiler.check.values.Body` for the attributes it understands. This
module records those questions while the checker reads a *probe* spec that opens every block,
step kind and rollout once (:func:`vocabulary`), so editors (the TextMate grammar in
editors/, `mlspec lsp`) offer exactly what `mlspec check` accepts: one source of truth.

Output: ``{key: Scope}`` where key names a block context (``system``, ``endpoint``,
``endpoint.autoscale``, ``step:train``, ``rollout:canary``, ``column``, ``target:vertex``...).
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import re
from pathlib import Path
from typing import Iterator

from mlspec.compiler import ast
from mlspec.compiler.check.values import EXAMPLES, BELONGS, Body

#: Body readers and the type they read, as shown in hover text
READERS = {
    "string": "string", "number": "number", "duration": "duration", "duration_ms": "duration",
    "percent": "percentage", "boolean": "boolean", "enum": "name", "ident": "name", "names": "list of names",
    "strings": "list of strings", "refs": "list of references", "ref": "reference", "scalar_map": "map",
    "string_map": "map of strings", "call": "call",
}


@dataclasses.dataclass
class Scope:
    where: str  # as the checker names it in messages ("endpoint `e`")
    attrs: dict[str, str]  # attribute -> type text ("percentage", "one of `parquet`, `csv`")
    blocks: list[str]  # sub-block kinds
    required: set[str] = dataclasses.field(default_factory=set)
    options: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # enum attribute -> values


@contextlib.contextmanager
def recording() -> Iterator[list[tuple[Body, dict]]]:
    """While active, every Body the checker finishes is recorded with the types asked of it."""
    seen: list[tuple[Body, dict]] = []
    originals = {name: getattr(Body, name) for name in list(READERS) + ["finish"]}

    def wrap(name: str, fn):
        @functools.wraps(fn)
        def reader(self, attr, *args, **kwargs):
            info = self.__dict__.setdefault("_vocab", {"types": {}, "required": set(), "options": {}})
            if attr not in info["types"]:
                kind = READERS[name]
                if name == "enum":
                    opts = list(args[0] if args else kwargs.get("options", ()))
                    info["options"][attr] = opts
                    kind = "one of " + ", ".join(f"`{o}`" for o in opts)
                elif name == "call":
                    kind = f"`{args[0] if args else kwargs.get('fn')}(...)`"
                info["types"][attr] = kind
            if kwargs.get("required"):
                info["required"].add(attr)
            return fn(self, attr, *args, **kwargs)
        return reader

    def finish(self):
        seen.append((self, self.__dict__.get("_vocab", {"types": {}, "required": set(), "options": {}})))
        return originals["finish"](self)

    try:
        for name in READERS:
            setattr(Body, name, wrap(name, originals[name]))
        Body.finish = finish  # type: ignore[method-assign]
        yield seen
    finally:
        for name, fn in originals.items():
            setattr(Body, name, fn)


# --------------------------------------------------------------------------- block contexts


def containers(system: ast.System) -> Iterator[tuple[str, Span_, object]]:
    """(key, the span the checker names the block by, node) for every block-like node."""
    yield "system", system.name_span, system
    yield from _walk(system.items, "system")


Span_ = object


def _key(parent: str, kind: str) -> str:
    return kind if parent in ("system", "environment") or parent.startswith("environment") else f"{parent}.{kind}"


def _walk(items, parent: str):
    for it in items:
        if isinstance(it, ast.Block):
            if it.kind == "target" and it.label:
                key = f"target:{it.label}"
            elif parent == "system" or parent == "environment":
                key = it.kind
            else:
                key = f"{_base(parent)}.{it.kind}"
            yield key, it.label_span or it.kind_span, it
            yield from _walk(it.items, key)
        elif isinstance(it, ast.StepDecl):
            key = f"step:{it.kind}"
            yield key, it.name_span, it
            yield from _walk(it.items, key)
        elif isinstance(it, ast.GateDecl):
            yield "gate", it.name_span, it
        elif isinstance(it, ast.FieldDecl):
            yield "column", it.name_span, it
            yield from _walk(it.items, "column")
        elif isinstance(it, ast.Attribute) and isinstance(it.value, ast.Object):
            key = f"{it.name}:{it.value.kind}"
            yield key, it.value.kind_span, it.value
            yield from _walk(it.value.items, key)


def _base(key: str) -> str:
    return key


def probe_text() -> str:
    """A spec that opens every block, step kind, rollout and target once (values left out, so
    the readers ask for everything they know)."""
    from mlspec.compiler.check.build import SYSTEM_BLOCKS
    from mlspec.compiler.check.pipeline import STEP_KINDS
    from mlspec.compiler.check.serving import ROLLOUTS, MONITOR_KINDS
    from mlspec.targets.base import available_targets

    lines = ["system probe {", '  owner = "a@example.com"']
    for kind in SYSTEM_BLOCKS:
        if kind in ("pipeline", "endpoint", "environment", "target", "waive", "dataset", "monitor", "model"):
            continue
        lines.append(f"  {kind} {'' if kind in ('tracking', 'security') else 'x_' + kind + ' '}{{}}")
    lines.append('  waive "MLS-G-06" {}')
    lines.append("  dataset d { schema { c : string {} } checks {} }")
    lines.append("  model m { approval {} card {} }")
    lines.append("  pipeline p {")
    for kind in STEP_KINDS:
        lines.append(f"    step s_{kind} = {kind} {{}}")
    lines.append("    gate g {}")
    lines.append("  }")
    for r in ROLLOUTS:
        body = " variant v {} " if r == "ab_test" else ""
        lines.append(f"  endpoint e_{r} {{ autoscale {{}}  rollout = {r} {{{body}}} }}")
    for k in MONITOR_KINDS:
        lines.append(f"  monitor mo_{k} {{ kind = {k} }}")
    lines.append("  environment dev {}")
    for t in available_targets():
        lines.append(f"  target {t} {{}}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def record(text: str, path: str = "probe.mlspec", root: Path | None = None) -> tuple[dict[str, Scope], list]:
    """Run the checker over `text` recording its questions; (scopes by key, diagnostics)."""
    from mlspec.compiler import api

    with recording() as seen:
        res = api.build_irs(path, validate=False, data=text.encode())
    scopes: dict[str, Scope] = {}
    module = getattr(res, "_module", None)
    if module is None:
        from mlspec.compiler.parse import parse_bytes

        module, _, _ = parse_bytes(text.encode(), path)
    if module is None:
        return scopes, res.diagnostics
    by_span = {}
    for key, span, _node in containers(module.system):
        by_span.setdefault((span.start, span.end), key)
    for body, info in seen:
        key = by_span.get((body.span.start, body.span.end))
        if key is None:
            continue
        sc = scopes.setdefault(key, Scope(body.where, {}, []))
        for a in sorted(body.asked):
            sc.attrs.setdefault(a, info["types"].get(a, "value"))
        for b in sorted(body.asked_blocks):
            if b not in sc.blocks:
                sc.blocks.append(b)
        sc.required |= info["required"]
        sc.options.update(info["options"])
    return scopes, res.diagnostics


@functools.lru_cache(maxsize=1)
def vocabulary() -> dict[str, Scope]:
    """Every block context the checker knows, with its attributes and sub-blocks."""
    from mlspec.compiler.check.overlay import OVERRIDABLE
    from mlspec.targets.base import available_targets, get_target

    scopes, _ = record(probe_text())
    # target settings are data on each target (checked by api._check_settings), not Body questions
    for name in available_targets():
        t = get_target(name)
        sc = scopes.setdefault(f"target:{name}", Scope(f"target `{name}`", {}, []))
        for k, st in t.settings.items():
            sc.attrs[k] = st.kind + (f": {st.description}" if st.description else "")
            if st.required:
                sc.required.add(k)
    if "environment" in scopes:  # an environment overlays these blocks (check/overlay.py)
        scopes["environment"].blocks = sorted(set(scopes["environment"].blocks) | set(OVERRIDABLE))
    return dict(sorted(scopes.items()))


def describe_key(key: str) -> str:
    """`step:train` -> "a `train` step", `endpoint.autoscale` -> "the `autoscale` block of an endpoint"."""
    if ":" in key:
        a, _, b = key.partition(":")
        if "." in b:
            b, _, sub = b.partition(".")
            return f"a `{sub}` of a `{b}` {a}"
        return f"`target {b}`" if a == "target" else f"a `{b}` {a}"
    if "." in key:
        parent, _, kind = key.rpartition(".")
        return f"the `{kind}` block of {describe_key(parent)}"
    if key == "column":
        return "a dataset column"
    return "the system" if key == "system" else f"`{key}`"


def hover_attribute(name: str, key: str | None, scope: Scope | None) -> str:
    lines = [f"**`{name}`**" + (f" ({scope.attrs[name]})" if scope and name in scope.attrs else "")]
    if scope is not None and key and name in scope.attrs:
        lines.append(f"Attribute of {describe_key(key)}" + (" (required)." if name in scope.required else "."))
    elif name in BELONGS:
        lines.append(f"Set on {BELONGS[name]}.")
    if name in EXAMPLES:
        lines.append(f"Example: `{name} = {EXAMPLES[name]}`")
    return "\n\n".join(lines)


def hover_block(key: str, scope: Scope) -> str:
    attrs = ", ".join(f"`{a}`" + ("*" if a in scope.required else "") for a in scope.attrs) or "none"
    out = [f"**{describe_key(key)}**", f"Attributes: {attrs}" + (" (* required)" if scope.required else "")]
    if scope.blocks:
        out.append("Blocks: " + ", ".join(f"`{b}`" for b in scope.blocks))
    return "\n\n".join(out)


# --------------------------------------------------------------------------- TextMate grammar


def _terminal(name: str) -> str:
    """A terminal's regular expression, read from grammar/mlspec.lark (the parser's own)."""
    from mlspec.grammar import __file__ as gfile

    text = (Path(gfile).parent / "mlspec.lark").read_text()
    m = re.search(rf"^{name}(?:\.\d+)?:\s*/(.*)/\s*$", text, re.M)
    if not m:
        raise KeyError(name)
    return m.group(1)


def _words(words) -> str:
    return "\\b(?:" + "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w))) + ")\\b"


def textmate() -> dict:
    """The TextMate grammar (editors/mlspec.tmLanguage.json) built from :func:`vocabulary`."""
    from mlspec.compiler.check.build import SYSTEM_BLOCKS
    from mlspec.compiler.check.pipeline import STEP_KINDS
    from mlspec.compiler.check.serving import ROLLOUTS

    voc = vocabulary()
    blocks = set(SYSTEM_BLOCKS) | {b for s in voc.values() for b in s.blocks} | {"system", "step", "gate", "require"}
    attrs = {a for s in voc.values() for a in s.attrs}
    values = {o for s in voc.values() for opts in s.options.values() for o in opts}
    kinds = set(STEP_KINDS) | set(ROLLOUTS)
    calls = {t.strip("`").split("(")[0] for s in voc.values() for t in s.attrs.values() if t.endswith("(...)`")}
    calls |= {"secret", "range", "int_range", "choice", "sklearn", "xgboost", "pytorch", "tensorflow", "huggingface"}
    return {
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
        "name": "mlspec",
        "scopeName": "source.mlspec",
        "fileTypes": ["mlspec"],
        "comment": "Generated by `mlspec lsp --grammar` from the checker's vocabulary; do not edit.",
        "patterns": [{"include": f"#{n}"} for n in
                     ("comment", "string", "step-decl", "block-kind", "attribute", "call", "kind", "constant",
                      "number", "reference", "operator")],
        "repository": {
            "comment": {"name": "comment.line.mlspec", "match": "(?:#|//).*$"},
            "string": {"name": "string.quoted.double.mlspec", "begin": '"', "end": '"|$',
                       "patterns": [{"name": "constant.character.escape.mlspec", "match": r"\\."}]},
            "step-decl": {"match": r"\b(step)\s+([A-Za-z_][A-Za-z0-9_]*)\s*(=)\s*([A-Za-z_][A-Za-z0-9_]*)",
                          "captures": {"1": {"name": "keyword.other.mlspec"}, "2": {"name": "entity.name.function.mlspec"},
                                       "3": {"name": "keyword.operator.mlspec"}, "4": {"name": "support.type.mlspec"}}},
            "block-kind": {"match": _words(blocks) + r"(?=\s*(?:[A-Za-z_\"][^={]*)?\{)|\b(?:system|gate|require)\b",
                           "name": "keyword.other.mlspec"},
            "attribute": {"match": _words(attrs) + r"(?=\s*=)", "name": "variable.other.property.mlspec"},
            "call": {"match": _words(calls) + r"(?=\s*\()", "name": "support.function.mlspec"},
            "kind": {"match": _words(kinds) + r"(?=\s*\{)", "name": "support.type.mlspec"},
            "constant": {"match": _words(values | {"true", "false"}), "name": "constant.language.mlspec"},
            "number": {"patterns": [{"name": "constant.numeric.mlspec", "match": _terminal(t)}
                                    for t in ("DURATION", "SIZE", "PERCENT", "SIGNED_NUMBER")]},
            "reference": {"match": r"\b[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+\b",
                          "name": "variable.other.reference.mlspec"},
            "operator": {"match": r">=|<=|==|!=|>|<|[+\-*/=]", "name": "keyword.operator.mlspec"},
        },
    }


def textmate_json() -> str:
    return json.dumps(textmate(), indent=2, ensure_ascii=False) + "\n"
