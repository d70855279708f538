"""The shared state of one build (:class:`Ctx`): sink, symbols, environment facts, collected
scripts. Its own module so that ``build`` and the checks it calls (``cron``, ``overlay``,
``pipeline``, ``serving``) import it one way.
"""
from __future__ import annotations

import functools
from pathlib import Path

from mlspec.compiler import ast, baseline
from mlspec.compiler.check.names import Symbols
from mlspec.compiler.check.values import Body
from mlspec.compiler.diagnostics import Sink
from mlspec.compiler.source import SourceFile, Span



@functools.lru_cache(maxsize=1)
def uri_schemes() -> tuple[str, ...]:
    """The schemes a data URI may use: the portable `data://`, then the storage schemes
    (``scheme://``) the registered targets declare in ``Target.uri_schemes`` (each binds a spec
    to one cloud). The core names no cloud's storage itself."""
    from mlspec.targets.base import registered_targets

    out = ["data://"]
    for t in registered_targets():
        out += [p for p in (t.uri_schemes or {}) if p.endswith("://") and p not in out]
    return tuple(out)


@functools.lru_cache(maxsize=1)
def _uri_hint() -> str:
    cloud = [f"`{s}`" for s in uri_schemes()[1:]]
    if not cloud:
        return "write a portable `data://` URI"
    listed = cloud[0] if len(cloud) == 1 else ", ".join(cloud[:-1]) + f" and {cloud[-1]}"
    return f"`data://` is portable; {listed} bind{'s' if len(cloud) == 1 else ''} the spec to one cloud"


class Ctx:
    """Shared state of one build: sink, symbols, environment facts, collected scripts."""

    def __init__(self, sink: Sink, src: SourceFile, root: Path | None, env: str) -> None:
        self.sink = sink
        self.src = src
        self.root = root
        self.env = env
        self.symbols = Symbols(sink)
        self.scripts: dict[str, str] = {}
        self.used: set[str] = set()
        self.scale = 1.0
        self.approval = "required"
        self.waivers: list[dict] = []
        self.datasets_ast: list[ast.Block] = []
        self.value_spans: dict[str, Span] = {}
        self._columns: set[str] | None = None
        self._label: str | None = None

    def text_of(self, span: Span) -> str:
        return " ".join(self.src.text[span.start:span.end].split())

    def scaled(self, n: int, floor: int = 1) -> int:
        if self.scale == 1:
            return max(floor, int(n))
        return max(floor, int(-(-n * self.scale // 1)))

    def all_columns(self) -> set[str]:
        if self._columns is None:
            cols: set[str] = set()
            for b in self.datasets_ast:
                for it in b.items:
                    if isinstance(it, ast.Block) and it.kind == "schema":
                        cols.update(f.name for f in it.items if isinstance(f, ast.FieldDecl))
            self._columns = cols
        return self._columns

    def id_column(self) -> str | None:
        """The first column any dataset schema marks `role = id`."""
        return self._role_column("id")

    def label_column(self) -> str | None:
        return self._role_column("label")

    def _role_column(self, role: str) -> str | None:
        for b in self.datasets_ast:
            for it in b.items:
                if isinstance(it, ast.Block) and it.kind == "schema":
                    for f in it.items:
                        if isinstance(f, ast.FieldDecl):
                            for a in f.items:
                                if isinstance(a, ast.Attribute) and a.name == "role" and \
                                        isinstance(a.value, ast.Ref) and a.value.text == role:
                                    return f.name
        return None

    def read_uri(self, body: Body, attr: str, where: str, required: bool = False, ir_id: str = "") -> str | None:
        if required and not body.has(attr):
            self.sink.error("E303", f"{where} needs `{attr}`", body.span,
                            hint=f'add `{attr} = "data://<path>/"`')
            return None
        v = body.string(attr)
        if v is None:
            return None
        if ir_id:
            # lets target checks (E504) point at the URI itself, not just its declaration
            self.value_spans[ir_id] = body.attrs[attr].value.span
        if not v.startswith(uri_schemes()) or len(v.split("://", 1)[1].strip("/")) == 0:
            self.sink.error("E311", f"`{attr}` in {where} must be a data URI such as `data://fraud/labels/`",
                            body.attrs[attr].value.span,
                            hint=_uri_hint())
            return None
        if ".." in v.split("://", 1)[1].split("/"):
            self.sink.error("E311", f"`{attr}` in {where} contains `..`", body.attrs[attr].value.span)
            return None
        return v

    def read_secret(self, call: ast.Call, where: str) -> str | None:
        if len(call.args) != 1 or not isinstance(call.args[0], ast.Str):
            self.sink.error("E301", f'`secret` in {where} takes one name: `secret("slack-url")`', call.span)
            return None
        name = call.args[0].value
        import re

        if re.match(r"(arn:|projects/|https?://|[a-z][a-z0-9+.-]*://)", name):
            self.sink.error("E311", f"`secret(...)` in {where} takes the secret's name, not an ARN, path or URL",
                            call.args[0].span,
                            detail="mlspec creates or looks up the secret in the store of the cloud it compiles for "
                                   "(Secrets Manager, Secret Manager, Key Vault), so one spec serves every target",
                            hint='write the bare name: `secret("fraud-pagerduty-key")`')
            return None
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,126}", name):
            self.sink.error("E311", f"`{name}` is not a valid secret name in {where}", call.args[0].span,
                            detail="a secret reference names an entry of the cloud secret store",
                            hint="use letters, digits, `-`, `_` and `.`")
            return None
        return name

    def require_waiver(self, rule: str, span: Span, what: str, fix: str) -> None:
        """A baseline downgrade: an error unless the spec waives `rule` (and it may be waived)."""
        if any(w["rule"] == rule for w in self.waivers):
            return
        waivable = baseline.is_waivable(rule)
        self.sink.error("E405", f"{what}, which breaks security rule {rule}", span,
                        detail=baseline.catalogue().get(rule, (False, ""))[1],
                        hint=(f'{fix}, or add `waive "{rule}" {{ reason = "..."  owner = "..."  until = "YYYY-MM-DD" }}`'
                              if waivable else f"{fix}; {rule} cannot be waived"))
