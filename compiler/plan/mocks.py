"""Plausible cloud outputs for resources and invokes under Pulumi's mock runtime: the engine.

Input: a resource's type token, logical name and wire (camelCase) inputs.
Output: ``(id, state)`` where state = inputs plus fabricated computed outputs, so that
dependent inputs (``role.arn``, ``sa.email``, ``ws.identity.principal_id`` ...) never
resolve to ``None``.

The tables live with the clouds: every target returns a :class:`MockOutputs` from
``Target.mock_outputs()`` (``targets/<cloud>/mock_outputs.py``): per provider package an id
function and default outputs, per exact type token extra outputs, per invoke token a result.
:func:`load` merges the tables of every registered target (a program may use several
providers). Values already present in the inputs are never overwritten (``setdefault``
semantics). Everything is deterministic (no clocks, no randomness) so plan output is stable.

Pure Python; imports no Pulumi module (the mock runner in ``_mockrun`` does) and no target
package except through :mod:`mlspec.targets.base`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
import uuid
from typing import Any, Callable, Iterable


@dataclasses.dataclass(frozen=True)
class Ctx:
    """What a fabricator sees: type token, logical name, wire inputs, and the derived id."""

    typ: str
    name: str
    inputs: dict
    id: str

    @property
    def module(self) -> str:
        """`sagemaker` for `aws:sagemaker/endpoint:Endpoint`, `machinelearningservices` for azure-native."""
        return self.typ.split(":")[1].split("/")[0] if self.typ.count(":") >= 2 else ""

    @property
    def cls(self) -> str:
        return self.typ.rsplit(":", 1)[-1]

    def get(self, *keys: str, default: Any = None) -> Any:
        for k in keys:
            v = self.inputs.get(k)
            if isinstance(v, str) and v:
                return v
        return default


def guid(*parts: str) -> str:
    """A stable GUID derived from the parts (principal ids, key ids)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "mlspec-mock/" + "/".join(parts)))


def kebab(s: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", s).lower()


def lcfirst(s: str) -> str:
    return s[:1].lower() + s[1:]


def digest(*parts: Any) -> str:
    """A stable fake image digest (``sha256:<hex>``) derived from the parts."""
    return "sha256:" + hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()


IdFn = Callable[[Ctx], str]
OutputsFn = Callable[[Ctx], dict]


@dataclasses.dataclass
class MockOutputs:
    """One target's mock-output tables (``Target.mock_outputs()``).

    providers: provider package (``aws``) -> (id function, default outputs function);
    resources: exact type token -> extra outputs ``(ctx) -> dict`` (wire names), applied after
      the provider default; extend freely, one line per type;
    calls: invoke token -> result ``(args) -> dict`` (wire names);
    configure: called once per mock run with the stack config (``{"aws:region": ...}``) so
      fabricated ids match what the program builds from config;
    python_modules: provider package -> its Pulumi Python SDK module (``pulumi_aws``), used to
      read required inputs and the tag property from the SDK's ``*Args`` classes;
    tag_property: provider package -> ``(wire input names) -> "tags" | "labels" | None``, which
      input holds the user's tag map (default: ``tags`` when the type takes it).
    """

    providers: dict[str, tuple[IdFn, OutputsFn]] = dataclasses.field(default_factory=dict)
    resources: dict[str, OutputsFn] = dataclasses.field(default_factory=dict)
    calls: dict[str, Callable[[dict], dict]] = dataclasses.field(default_factory=dict)
    configure: Callable[[dict], None] | None = None
    python_modules: dict[str, str] = dataclasses.field(default_factory=dict)
    tag_property: dict[str, Callable[[set], str | None]] = dataclasses.field(default_factory=dict)


#: cloud-neutral entries (Pulumi's own types)
NEUTRAL = MockOutputs(resources={
    # a StackReference to a stack that does not exist offline: no outputs (get_output -> None)
    "pulumi:pulumi:StackReference": lambda ctx: {"outputs": {}, "secretOutputNames": []},
})


def merge(tables: Iterable[MockOutputs]) -> MockOutputs:
    """One table from several (later tables win on a duplicate key)."""
    out = MockOutputs()
    configures = []
    for t in tables:
        out.providers.update(t.providers)
        out.resources.update(t.resources)
        out.calls.update(t.calls)
        out.python_modules.update(t.python_modules)
        out.tag_property.update(t.tag_property)
        if t.configure is not None:
            configures.append(t.configure)

    def configure(config: dict) -> None:
        for fn in configures:
            fn(config)

    out.configure = configure
    return out


def load() -> MockOutputs:
    """The merged tables of every registered target (a target without tables contributes none)."""
    from mlspec.targets.base import available_targets, get_target

    tables = [NEUTRAL]
    for name in available_targets():
        t = get_target(name).mock_outputs()
        if t is not None:
            tables.append(t)
    return merge(tables)


def fabricate_resource(table: MockOutputs, typ: str, name: str, inputs: dict,
                       overrides: dict | None = None) -> tuple[str, dict]:
    """Return (id, state) for a mocked resource. ``overrides``: {type token: {wire key: template}},
    templates formatted with ``{name}`` and ``{id}`` (JSON-able extension passed by callers)."""
    pkg = typ.split(":")[0]
    state = dict(inputs)
    id_fn, default_fn = table.providers.get(pkg, (None, None))
    if id_fn is None:
        rid = f"{name}-id"
        ctx = Ctx(typ, name, inputs, rid)
        extra: dict = {}
    else:
        rid = id_fn(Ctx(typ, name, inputs, ""))
        ctx = Ctx(typ, name, inputs, rid)
        extra = default_fn(ctx)
    fn = table.resources.get(typ)
    if fn is not None:
        extra.update(fn(ctx))
    for k, v in ((overrides or {}).get(typ) or {}).items():
        extra[k] = v.format(name=name, id=rid) if isinstance(v, str) else v
    for k, v in extra.items():
        if k == "identity" or k == "properties":
            state[k] = v  # merged copies of the inputs with outputs added
        elif state.get(k) in (None, ""):
            state[k] = v
    return rid, state


def fabricate_call(table: MockOutputs, token: str, args: dict, overrides: dict | None = None) -> dict:
    """Result of a mocked invoke; unknown tokens get ``{}`` (their outputs resolve to None)."""
    if overrides and token in overrides:
        return dict(overrides[token])
    fn = table.calls.get(token)
    return fn(args) if fn else {}
