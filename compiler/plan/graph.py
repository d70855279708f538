"""The vocabulary of baseline rules: the resource :class:`Graph` rules see, the :func:`rule`
registry, helpers for rule predicates, and :class:`CloudProfile` (what a target tells the
cross-cloud rules about its cloud).

Imported by the engine (:mod:`mlspec.compiler.plan.security`), the cross-cloud rules
(:mod:`mlspec.compiler.plan.rules_common`) and each target's ``rules.py`` /
``artifacts.py``; imports nothing of theirs, so imports run one way. Pure Python.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import re
from typing import Any, Callable, Iterable, Iterator

from mlspec.compiler import baseline

@dataclasses.dataclass(frozen=True)
class Rule:
    """One baseline rule implementation (metadata mirrors SECURITY.md)."""

    id: str
    cloud: str  # aws | gcp | azure | all
    resource: str
    property: str
    default: str
    external: tuple[str, ...]
    severity: str
    check: Callable[["Graph"], Iterable[tuple[Any, str]]]
    sees: str = "graph"  # graph | artifacts | graph+artifacts | ir

    @property
    def waivable(self) -> bool:
        return baseline.is_waivable(self.id)

    @property
    def implementation(self) -> str:
        return f"{self.check.__module__}.{self.check.__name__}"


REGISTRY: dict[str, Rule] = {}


def rule(rule_id: str, *, cloud: str, resource: str, property: str, default: str,
         external: Iterable[str] = (), severity: str | None = None, sees: str = "graph"):
    """Register ``fn(graph) -> iterable of (resource or label, message)`` as the check of ``rule_id``."""
    if not baseline.is_known(rule_id):
        raise ValueError(f"{rule_id} is not in compiler/baseline.py")

    def deco(fn):
        sev = severity or ("high" if not baseline.is_waivable(rule_id) else "medium")
        if rule_id in REGISTRY:
            raise ValueError(f"{rule_id} registered twice")
        REGISTRY[rule_id] = Rule(rule_id, cloud, resource, property, default, tuple(external), sev, fn, sees)
        return fn

    return deco




def rules_in(module: Any) -> list[Rule]:
    """The rules whose checks are defined in ``module`` (a target's ``rules.py``), by id."""
    name = module if isinstance(module, str) else module.__name__
    return [r for _, r in sorted(REGISTRY.items()) if r.check.__module__ == name]


# --------------------------------------------------------------------------- graph


@dataclasses.dataclass
class Graph:
    """What rules see. ``resources``: harness resources; ``artifacts``: {relative path: parsed
    JSON/YAML or text}; ``ir``: the environment-specialised IR (may be empty in unit tests)."""

    resources: list[dict]
    target: str = ""
    ir: dict = dataclasses.field(default_factory=dict)
    artifacts: dict[str, Any] = dataclasses.field(default_factory=dict)
    config: dict[str, str] = dataclasses.field(default_factory=dict)
    outputs: dict[str, Any] = dataclasses.field(default_factory=dict)

    def of(self, *types: str) -> list[dict]:
        """Resources whose type token is one of ``types`` (exact) or, for an entry ending in
        ``*``, starts with it."""
        out = []
        for r in self.resources:
            t = r["type"]
            if any(t == x or (x.endswith("*") and t.startswith(x[:-1])) for x in types):
                out.append(r)
        return out

    def named(self, name: str) -> list[dict]:
        return [r for r in self.resources if r["name"] == name]

    def deps(self, r: dict, *types: str) -> list[dict]:
        """Resources of ``types`` that ``r`` depends on."""
        names = set(r.get("depends_on") or [])
        return [x for x in self.of(*types) if x["name"] in names]

    def dependents(self, r: dict, *types: str) -> list[dict]:
        """Resources of ``types`` that depend on ``r``."""
        return [x for x in self.of(*types) if r["name"] in (x.get("depends_on") or [])]

    @property
    def environment(self) -> dict:
        return self.ir.get("environment") or {}

    @property
    def production(self) -> bool:
        return bool(self.environment.get("production"))

    @property
    def security(self) -> dict:
        return self.ir.get("security") or {}

    @property
    def target_settings(self) -> dict:
        return (self.ir.get("targets") or {}).get(self.target) or {}

    def pipeline_steps_ir(self) -> dict[str, dict]:
        """IR steps by local name (for per-step choices such as network_isolation)."""
        out = {}
        for p in self.ir.get("pipelines") or []:
            for s in p.get("steps") or []:
                out[s["name"]] = s
        return out


def label(r: Any) -> str:
    """The finding's `resource` text: `<type>::<name>` for resources, the string otherwise."""
    if isinstance(r, dict) and "type" in r:
        return f"{r['type']}::{r['name']}"
    return str(r)


# --------------------------------------------------------------------------- helpers for rules


def dig(obj: Any, *path: str | int, default: Any = None) -> Any:
    """Nested get: dig(r["inputs"], "properties", "authMode")."""
    cur = obj
    for p in path:
        if isinstance(p, int):
            if not isinstance(cur, list) or len(cur) <= p:
                return default
            cur = cur[p]
        else:
            if not isinstance(cur, dict) or p not in cur:
                return default
            cur = cur[p]
    return default if cur is None else cur


def is_set(v: Any) -> bool:
    """A value that is present: non-empty (a secret or an unknown counts as set)."""
    return v not in (None, "", [], {}, "None")


def parse_json(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return v
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return None
    return None


def as_list(v: Any) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def policy_statements(doc: Any) -> list[dict]:
    """Statements of an IAM policy document (JSON string or dict)."""
    d = parse_json(doc)
    if not isinstance(d, dict):
        return []
    return [s for s in as_list(d.get("Statement")) if isinstance(s, dict)]


def walk(v: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, leaf) over nested dicts/lists; keys included in the path."""
    if isinstance(v, dict):
        for k, x in v.items():
            yield from walk(x, f"{path}.{k}" if path else str(k))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from walk(x, f"{path}[{i}]")
    else:
        yield path, v


def walk_dicts(v: Any) -> Iterator[dict]:
    """Every dict nested in v (v included)."""
    if isinstance(v, dict):
        yield v
        for x in v.values():
            yield from walk_dicts(x)
    elif isinstance(v, list):
        for x in v:
            yield from walk_dicts(x)


def truthy(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.lower() == "true")


def falsy(v: Any) -> bool:
    return v is False or (isinstance(v, str) and v.lower() == "false")


SECRETISH_NAME = re.compile(r"(passw(or)?d|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
                            r"connection[_-]?string|credential|sas)", re.I)
_LITERAL_SECRET = [
    ("AWS access key id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("Azure storage account key", re.compile(r"AccountKey=[A-Za-z0-9+/=]{20,}")),
    ("SAS token", re.compile(r"[?&]sig=[A-Za-z0-9%+/=]{20,}")),
    ("password in a connection string", re.compile(r"(?i)(password|pwd)=[^;\s\"']{3,}")),
    ("JWT", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b")),
    ("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b")),
    ("Slack token or webhook", re.compile(r"(xox[abpr]-[A-Za-z0-9-]{10,}|hooks\.slack\.com/services/[A-Za-z0-9/]+)")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
]

#: values that are references, not literals, on every cloud: placeholders and masked values
_PLACEHOLDERS = (r"\$\{", r"\{\{", r"\[secret\]$", r"\[unknown\]$", r"mlspec-mock-secret$")


@functools.lru_cache(maxsize=1)
def _reference() -> re.Pattern:
    """References, not literals: each registered target's secret-store ids and registered assets
    (``Target.reference_forms``), then the placeholders."""
    from mlspec.targets.base import registered_targets

    forms = [f for t in registered_targets() for f in (t.reference_forms or ())]
    return re.compile("^(" + "|".join(forms + list(_PLACEHOLDERS)) + ")")


def literal_secret(value: str) -> str | None:
    """The kind of literal secret found in ``value``, or None."""
    for kind, rx in _LITERAL_SECRET:
        if rx.search(value):
            return kind
    return None


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and bool(_reference().match(value))




# --------------------------------------------------------------------------- cloud profiles


def _no_keys(g: Graph) -> set[str]:
    return set()


def _nothing(g: Graph) -> list:
    return []


def _no_tags(g: Graph) -> dict:
    return {}


@dataclasses.dataclass(frozen=True)
class CloudProfile:
    """What the cross-cloud rules (MLS-G-*) need to know about one cloud: a target returns it
    from ``Target.cloud_profile()`` (``targets/<cloud>/artifacts.py``), so the rules in
    :mod:`mlspec.compiler.plan.rules_common` name no cloud.

    providers: Pulumi provider packages of the cloud (``aws``, ``aws-native``), to tell the cloud
      of a graph that names no target;
    data_at_rest / key_types: type tokens (a trailing ``*`` matches a prefix) of resources holding
      data at rest and of customer-managed keys (MLS-G-01);
    key_ref: regex finding key references in inputs; managed_key: (regex, "AWS-managed") finding a
      provider-managed key used instead of the CMK; key_id: reference -> the id
      ``stack_keys`` returns; stack_keys: ids of the keys the stack creates, as mocked (MLS-G-01);
    identities: ``(graph) -> [(identity, component kind)]`` for orchestrator / workload / serving /
      monitoring identities (MLS-G-03), read from resources and native pipeline artifacts;
    log_types: log resource type -> (retention input, encryption input or None) (MLS-G-05);
    private_registry: regex an image of the stack's private registry matches (MLS-G-06);
    registered_images: prefixes of references to registered environments, not raw images
      (``azureml:``) (MLS-G-06);
    images: ``(graph) -> [(where, image)]`` every container image the stack and its native
      pipeline artifacts name (MLS-G-06);
    default_tags: ``(graph) -> {key: value}`` provider-level default tags (MLS-G-08);
    hidden_pipelines: ``(graph) -> [(resource or label, message)]`` pipeline definitions the
      checks cannot see (MLS-G-09).
    """

    providers: tuple[str, ...] = ()
    data_at_rest: tuple[str, ...] = ()
    key_types: tuple[str, ...] = ()
    key_ref: Any = None
    managed_key: tuple[Any, str] | None = None
    key_id: Callable[[str], str] = lambda ref: ref
    stack_keys: Callable[[Graph], set[str]] = _no_keys
    identities: Callable[[Graph], list[tuple[Any, str]]] = _nothing
    log_types: dict[str, tuple[str, str | None]] = dataclasses.field(default_factory=dict)
    private_registry: Any = None
    registered_images: tuple[str, ...] = ()
    images: Callable[[Graph], list[tuple[Any, str]]] = _nothing
    default_tags: Callable[[Graph], dict] = _no_tags
    hidden_pipelines: Callable[[Graph], list[tuple[Any, str]]] = _nothing

