"""`mlspec lsp`: a language server (pygls, stdio) for editors.

- diagnostics on open, change and save: the checker's own (`mlspec check`), with code, hint
  and a link to docs/errors.md;
- hover over a block, step kind, rollout or attribute: what it accepts, its type, whether it is
  required, an example;
- completion of block kinds, attribute names, enum values and reference names
  (`dataset.<name>`, `step.<name>.outputs.<output>`, ...).

Everything it knows about the language comes from :mod:`mlspec.compiler.vocab`, which records
what the checker asks for; nothing is listed twice. The context of the cursor is found
lexically (:func:`context_at`), so completion works while the text does not parse yet.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from mlspec.compiler import vocab

REF_KINDS = ("dataset", "pipeline", "model", "endpoint", "batch", "monitor", "alert", "channel", "kpi", "step",
             "gate")
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"?|(?:#|//)[^\n]*|[A-Za-z_][A-Za-z0-9_]*|\n|[{}\[\]=:]|\S')


# --------------------------------------------------------------------------- context (no parse needed)


@dataclass
class Context:
    key: str | None  # the block the cursor is in (a vocab key), None in a map or unknown
    path: list[str]  # keys from the outside in
    line_tokens: list[str]  # tokens of the current item before the cursor


def _resolve(kind_tokens: list[str], parent: str | None) -> str | None:
    voc = vocab.vocabulary()
    t = [x for x in kind_tokens if not x.startswith(("#", "//"))]
    if not t:
        return None
    if t[0] == "system":
        return "system"
    if t[0] == "step" and len(t) >= 4 and t[2] == "=":
        return f"step:{t[3]}"
    if t[0] == "gate":
        return "gate"
    if len(t) >= 3 and t[1] == "=":
        return f"{t[0]}:{t[2]}" if re.fullmatch(r"[A-Za-z_]\w*", t[2]) else None
    if len(t) >= 2 and t[1] == "=":
        return None  # a map value
    if len(t) >= 3 and t[1] == ":":
        return "column"
    kind = t[0]
    if kind == "target" and len(t) >= 2:
        return f"target:{t[1]}"
    if parent and parent not in ("system", "environment") and f"{parent}.{kind}" in voc:
        return f"{parent}.{kind}"
    return kind if kind in voc else None


def context_at(text: str, offset: int) -> Context:
    stack: list[str | None] = []
    item: list[str] = []
    for m in _TOKEN.finditer(text, 0, offset):
        tok = m.group(0)
        if tok.startswith(("#", "//")):
            continue
        if tok == "\n":
            if not any(x in item for x in ("[",)) or item.count("[") <= item.count("]"):
                item = []
            continue
        if tok == "{":
            stack.append(_resolve(item, next((k for k in reversed(stack) if k), None)))
            item = []
        elif tok == "}":
            if stack:
                stack.pop()
            item = []
        else:
            item.append(tok)
    return Context(stack[-1] if stack else None, [k for k in stack if k], item)


def declared(text: str) -> dict[str, list[str]]:
    """Names declared in the text by kind (lexically): `dataset transactions {`, `step train =`."""
    out: dict[str, list[str]] = {k: [] for k in REF_KINDS}
    for m in re.finditer(r"^\s*(step|gate|dataset|pipeline|model|endpoint|batch|monitor|alert|channel|kpi)\s+"
                         r"([A-Za-z_]\w*)\s*[={]", text, re.M):
        if m.group(2) not in out[m.group(1)]:
            out[m.group(1)].append(m.group(2))
    return out


def _step_kinds(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"\bstep\s+([A-Za-z_]\w*)\s*=\s*([A-Za-z_]\w*)", text)}


def completions(text: str, offset: int) -> list[tuple[str, str, str]]:
    """(label, kind, detail) for the cursor at `offset`; kind is block|attribute|value|reference|keyword."""
    from mlspec.compiler.check.names import STEP_OUTPUTS
    from mlspec.compiler.check.serving import ROLLOUTS

    voc = vocab.vocabulary()
    line = text[text.rfind("\n", 0, offset) + 1:offset]
    ref = re.search(r"([A-Za-z_][\w.]*)\.([A-Za-z_]\w*)?$", line)
    if ref:
        parts = ref.group(1).split(".")
        names = declared(text)
        if len(parts) == 1 and parts[0] in names:
            return [(n, "reference", f"{parts[0]} {n}") for n in names[parts[0]]]
        if parts[0] == "step" and len(parts) == 2:
            kind = _step_kinds(text).get(parts[1], "")
            return [(x, "reference", "") for x in ("outputs", "model", "metrics", "data")
                    if x == "outputs" or x in STEP_OUTPUTS.get(kind, ())]
        if parts[0] == "step" and len(parts) == 3 and parts[2] == "outputs":
            kind = _step_kinds(text).get(parts[1], "")
            outs = list(STEP_OUTPUTS.get(kind, ()))
            m = re.search(r"\bstep\s+" + re.escape(parts[1]) + r"\s*=\s*\w+\s*\{[^}]*?outputs\s*=\s*\[([^\]]*)\]", text)
            if m:
                outs += [o.strip() for o in m.group(1).split(",") if o.strip()]
            return [(o, "reference", f"output of step {parts[1]}") for o in outs]
        return []
    ctx = context_at(text, offset)
    scope = voc.get(ctx.key) if ctx.key else None
    toks = ctx.line_tokens
    if "=" in toks:  # a value
        attr = toks[toks.index("=") - 1] if toks.index("=") > 0 else ""
        if attr == "rollout":
            return [(r, "value", "rollout strategy") for r in ROLLOUTS]
        if scope and attr in scope.options:
            return [(o, "value", f"{attr}") for o in scope.options[attr]]
        if attr == "kind" and ctx.key == "monitor":
            from mlspec.compiler.check.serving import MONITOR_KINDS

            return [(k, "value", "monitor kind") for k in MONITOR_KINDS]
        if ctx.key == "pipeline" and attr == "step" or (len(toks) >= 3 and toks[0] == "step"):
            from mlspec.compiler.check.pipeline import STEP_KINDS

            return [(k, "value", "step kind") for k in STEP_KINDS]
        return [(f"{k}.", "reference", "reference") for k in REF_KINDS if declared(text)[k]]
    if ctx.key is None and not ctx.path:
        return [("system", "keyword", "system <name> { ... }")]
    if scope is None:
        return []
    out = [(a, "attribute", scope.attrs[a] + (" (required)" if a in scope.required else "")) for a in scope.attrs]
    out += [(b, "block", "block") for b in scope.blocks]
    if ctx.key == "pipeline":
        out += [("step", "keyword", "step <name> = <kind> { ... }"), ("gate", "keyword", "gate <name> { require ... }")]
    if ctx.key == "gate":
        out.append(("require", "keyword", "require <metric> >= <number>"))
    return out


def hover(text: str, offset: int) -> str | None:
    voc = vocab.vocabulary()
    for m in re.finditer(r"[A-Za-z_]\w*", text[max(0, offset - 80):offset + 80]):
        start = max(0, offset - 80) + m.start()
        if start <= offset <= start + len(m.group(0)):
            word, end = m.group(0), start + len(m.group(0))
            break
    else:
        return None
    after = text[end:end + 200].lstrip(" \t")
    before = text[text.rfind("\n", 0, start) + 1:start]
    ctx = context_at(text, start)
    if after.startswith("=") and not after.startswith("=="):
        return vocab.hover_attribute(word, ctx.key, voc.get(ctx.key) if ctx.key else None)
    if re.search(r"\bstep\s+\w+\s*=\s*$", before) and f"step:{word}" in voc:
        return vocab.hover_block(f"step:{word}", voc[f"step:{word}"])
    if re.search(r"\w+\s*=\s*$", before) and after.startswith("{"):
        attr = re.search(r"(\w+)\s*=\s*$", before).group(1)
        key = f"{attr}:{word}"
        return vocab.hover_block(key, voc[key]) if key in voc else None
    if after.startswith("{") or re.match(r'(?:[A-Za-z_]\w*|"[^"\n]*")\s*\{', after):
        tokens = [word] + re.findall(r'[A-Za-z_]\w*|"[^"\n]*"', after.split("{", 1)[0])
        key = _resolve(tokens, ctx.key)
        if key and key in voc:
            return vocab.hover_block(key, voc[key])
    return None


# --------------------------------------------------------------------------- diagnostics


def check(text: str, path: str) -> list[dict]:
    """The checker's diagnostics for `text` (an editor buffer at `path`) as LSP dicts."""
    from mlspec.compiler import api

    try:
        res = api.build_irs(path, validate=False, data=text.encode("utf-8"))
    except api.UsageError as e:
        return [{"range": _range(None), "severity": 1, "source": "mlspec", "message": str(e)}]
    out = []
    for d in res.diagnostics:
        span = d.span if d.span is not None and d.span.file == path else None
        msg = d.summary + (f"\nhint: {d.hint}" if d.hint else "")
        out.append({"range": _range(span), "severity": 1 if d.is_error else 2, "code": d.code, "source": "mlspec",
                    "message": msg + f"\nsee: docs/errors.md#{d.code.lower()}"})
    return out


def _range(span) -> dict:
    if span is None:
        return {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}
    return {"start": {"line": span.line - 1, "character": span.col - 1},
            "end": {"line": span.end_line - 1, "character": span.end_col - 1}}


def uri_to_path(uri: str) -> str:
    u = urlparse(uri)
    return unquote(u.path) if u.scheme == "file" else uri


def offset_of(text: str, line: int, character: int) -> int:
    lines = text.split("\n")
    return sum(len(x) + 1 for x in lines[:line]) + min(character, len(lines[line]) if line < len(lines) else 0)


# --------------------------------------------------------------------------- the server


def make_server():
    from lsprotocol import types as T
    from pygls.lsp.server import LanguageServer

    from mlspec.compiler import __version__

    server = LanguageServer("mlspec", __version__)
    kinds = {"block": T.CompletionItemKind.Module, "attribute": T.CompletionItemKind.Property,
             "value": T.CompletionItemKind.EnumMember, "reference": T.CompletionItemKind.Reference,
             "keyword": T.CompletionItemKind.Keyword}

    def publish(uri: str) -> None:
        doc = server.workspace.get_text_document(uri)
        diags = [T.Diagnostic(range=T.Range(T.Position(**d["range"]["start"]), T.Position(**d["range"]["end"])),
                              message=d["message"], severity=T.DiagnosticSeverity(d["severity"]),
                              code=d.get("code"), source="mlspec")
                 for d in check(doc.source, uri_to_path(uri))]
        server.text_document_publish_diagnostics(T.PublishDiagnosticsParams(uri=uri, diagnostics=diags,
                                                                             version=doc.version))

    @server.feature(T.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls, params: T.DidOpenTextDocumentParams):
        publish(params.text_document.uri)

    @server.feature(T.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls, params: T.DidChangeTextDocumentParams):
        publish(params.text_document.uri)

    @server.feature(T.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls, params: T.DidSaveTextDocumentParams):
        publish(params.text_document.uri)

    @server.feature(T.TEXT_DOCUMENT_HOVER)
    def on_hover(ls, params: T.HoverParams):
        doc = server.workspace.get_text_document(params.text_document.uri)
        text = hover(doc.source, offset_of(doc.source, params.position.line, params.position.character))
        if text is None:
            return None
        return T.Hover(contents=T.MarkupContent(kind=T.MarkupKind.Markdown, value=text))

    @server.feature(T.TEXT_DOCUMENT_COMPLETION, T.CompletionOptions(trigger_characters=["."]))
    def on_completion(ls, params: T.CompletionParams):
        doc = server.workspace.get_text_document(params.text_document.uri)
        items = completions(doc.source, offset_of(doc.source, params.position.line, params.position.character))
        return T.CompletionList(is_incomplete=False, items=[
            T.CompletionItem(label=label, kind=kinds[kind], detail=detail or None) for label, kind, detail in items])

    return server


def serve() -> None:  # pragma: no cover - exercised over a pipe by tests/review/test_lsp.py
    make_server().start_io()


def textmate_json() -> str:
    return vocab.textmate_json()
