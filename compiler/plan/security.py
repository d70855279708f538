"""Security baseline as code: rules over the mocked resource graph and native pipeline artifacts.

Input: a :class:`Graph` = the resources captured by the mock harness (plain dicts, wire
names) + the native pipeline artifacts of the build (parsed JSON/YAML by relative path) +
the environment-specialised IR (waivers, environment, security block) + the target name.
Output: findings ``{"rule", "severity", "resource", "message", "waived_by"}``, sorted.

Rule ids, waivability and titles live in :mod:`mlspec.compiler.baseline` (the single list
of ids); this module holds the engine, and ``rules_common`` / ``rules_aws`` / ``rules_gcp``
/ ``rules_azure`` register one predicate per id with :func:`rule`, together with the
resource, property, default and the external scanner / cloud-policy ids (SECURITY.md).

Waivers come from the IR: ``{"rule", "reason", "owner", "until"}`` (optional ``resource``:
a glob on the finding's resource, to waive one resource only). A waiver for an unknown or
non-waivable rule, or with a missing reason/owner, or a malformed or past ``until`` date,
is refused: it waives nothing and is itself reported as a finding (rule ``MLS-WAIVER``).

Pure Python: imports no Pulumi or cloud SDK.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import fnmatch
import json
import re
from typing import Any, Callable, Iterable, Iterator

from mlspec.compiler import baseline

#: finding rule id for refused waivers
WAIVER_RULE = "MLS-WAIVER"
SEVERITIES = ("critical", "high", "medium", "low")

#: target name -> cloud key of the rule registry
CLOUD_OF_TARGET = {"sagemaker": "aws", "vertex": "gcp", "azureml": "azure"}


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


#: Approval integrity, the same statement for every cloud; each cloud's rule module adds how its
#: target holds it (THREAT_MODEL[cloud]); both are rendered into docs/security.md.
APPROVAL_INTEGRITY = (
    "In an environment that requires approval, no identity that runs the pipeline or user code (pipeline "
    "orchestrator, training / processing jobs, monitoring, retraining, serving) can mark a model version "
    "approved or deploy one; only the approvers the spec names can approve, and the number of distinct "
    "approvers is checked where the deployment happens.")
THREAT_MODEL: dict[str, str] = {}


def load_rules() -> dict[str, Rule]:
    """Import the rule modules (idempotent) and return the registry."""
    from mlspec.compiler.plan import rules_aws, rules_azure, rules_common, rules_gcp  # noqa: F401

    return REGISTRY


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


# --------------------------------------------------------------------------- waivers


def check_waiver(w: Any, today: _dt.date) -> str | None:
    """Why a waiver is refused, or None when it is valid."""
    if not isinstance(w, dict):
        return "a waiver must be a mapping with rule, reason, owner and until"
    rid = w.get("rule")
    if not isinstance(rid, str) or not baseline.is_known(rid):
        return f"unknown rule `{rid}`"
    if not baseline.is_waivable(rid):
        return f"`{rid}` is non-waivable"
    for field in ("reason", "owner"):
        if not isinstance(w.get(field), str) or not w[field].strip():
            return f"missing {field}"
    until = w.get("until")
    try:
        day = until if isinstance(until, _dt.date) else _dt.date.fromisoformat(str(until))
    except ValueError:
        return f"`until` must be a date such as 2027-03-01, found `{until}`"
    if day < today:
        return f"expired on {day.isoformat()}"
    return None


def _waiver_ref(w: dict) -> dict:
    out = {"rule": w["rule"], "reason": w["reason"], "owner": w["owner"], "until": str(w["until"])}
    if w.get("resource"):
        out["resource"] = w["resource"]
    return out


# --------------------------------------------------------------------------- evaluation


def rules_for(target: str) -> list[Rule]:
    cloud = CLOUD_OF_TARGET.get(target, target)
    return [r for r in sorted(load_rules().values(), key=lambda r: r.id) if r.cloud in ("all", cloud)]


def today() -> _dt.date:
    """Today, pinned by MLSPEC_TODAY exactly as the front end pins it (one implementation)."""
    from mlspec.compiler.check.policy import today as _front_end_today

    return _front_end_today()


_today = today


def evaluate(graph: Graph, today: _dt.date | None = None, only: Iterable[str] | None = None) -> list[dict]:
    """Run every rule of the graph's cloud; return sorted findings (waived ones included).
    ``today`` decides waiver expiry (default: :func:`today`)."""
    today = today or _today()
    wanted = set(only) if only is not None else None
    valid: list[dict] = []
    findings: list[dict] = []
    for w in graph.ir.get("waivers") or []:
        why = check_waiver(w, today)
        if why is None:
            valid.append(w)
        else:
            rid = w.get("rule") if isinstance(w, dict) else None
            findings.append({"rule": WAIVER_RULE, "severity": "high", "resource": f"waiver {rid}",
                             "message": f"waiver refused: {why}", "waived_by": None})
    for r in rules_for(graph.target) if graph.target else sorted(load_rules().values(), key=lambda r: r.id):
        if wanted is not None and r.id not in wanted:
            continue
        seen = set()
        for res, msg in r.check(graph) or ():
            lab = label(res)
            if (lab, msg) in seen:
                continue
            seen.add((lab, msg))
            waiver = next((w for w in valid if w["rule"] == r.id and
                           (not w.get("resource") or fnmatch.fnmatchcase(lab, w["resource"])
                            or fnmatch.fnmatchcase(lab.rsplit("::", 1)[-1], w["resource"]))), None)
            findings.append({"rule": r.id, "severity": r.severity, "resource": lab, "message": msg,
                             "waived_by": _waiver_ref(waiver) if waiver else None})
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (f["waived_by"] is not None, order.get(f["severity"], 9), f["rule"],
                                 f["resource"], f["message"]))
    return findings


def unwaived(findings: Iterable[dict]) -> list[dict]:
    return [f for f in findings if not f.get("waived_by")]


# --------------------------------------------------------------------------- artifacts


_SKIP_DIRS = {"code", "__pycache__", ".venv", "venv"}


def load_artifacts(target_dir) -> dict[str, Any]:
    """Parse every JSON/YAML file under DIR/<target>/ (source scripts excluded) by relative path;
    unparsable files map to their text so rules can still report them."""
    from pathlib import Path

    import yaml

    root = Path(target_dir)
    out: dict[str, Any] = {}
    if not root.is_dir():
        return out
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if not p.is_file() or any(part in _SKIP_DIRS for part in rel.parts[:-1]):
            continue
        if rel.name.startswith("Pulumi.") or p.stat().st_size > 5_000_000:
            continue
        text = None
        if p.suffix == ".json":
            text = p.read_text(encoding="utf-8", errors="replace")
            try:
                out[rel.as_posix()] = json.loads(text)
            except ValueError:
                out[rel.as_posix()] = text
        elif p.suffix in (".yaml", ".yml"):
            text = p.read_text(encoding="utf-8", errors="replace")
            try:
                docs = [d for d in yaml.safe_load_all(text)]
                out[rel.as_posix()] = docs[0] if len(docs) == 1 else docs
            except yaml.YAMLError:
                out[rel.as_posix()] = text
    return out


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

#: values that are references, not literals (secret-manager ids, Key Vault URIs, placeholders)
_REFERENCE = re.compile(r"^(arn:aws:(secretsmanager|ssm):|projects/[^/]+/secrets/|https://[^/]+\.vault\.azure\.net/|"
                        r"\$\{|\{\{|azureml:|\[secret\]$|\[unknown\]$|mlspec-mock-secret$)")


def literal_secret(value: str) -> str | None:
    """The kind of literal secret found in ``value``, or None."""
    for kind, rx in _LITERAL_SECRET:
        if rx.search(value):
            return kind
    return None


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and bool(_REFERENCE.match(value))


# --------------------------------------------------------------------------- docs


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_rules_doc() -> str:
    """docs/security.md: every rule with cloud, resource, property, default, waivability, external
    ids and the check that implements it (tests/plan/test_security_docs.py keeps it current)."""
    rules = load_rules()
    clouds = {"all": "Cross-cloud", "aws": "AWS (SageMaker target)", "gcp": "GCP (Vertex AI target)",
              "azure": "Azure (Azure ML target)"}
    lines = [
        "# Security baseline rules",
        "",
        "Generated from `mlspec.compiler.plan.security` (rule metadata) and `mlspec.compiler.baseline`",
        "(ids, waivability); `pytest tests/plan --update-golden` rewrites this file. The rationale of each",
        "rule is in the design's SECURITY.md; `mlspec plan` evaluates every rule of the target's cloud",
        "plus the cross-cloud ones over the resource graph captured from the generated Pulumi program",
        "(wire/camelCase property names) and over the native pipeline artifacts of the build.",
        "",
        "- **Waivable**: `no` means a `waive` entry for the rule is refused (and reported as `MLS-WAIVER`).",
        "- **Sees**: `graph` = Pulumi resources; `artifacts` = SageMaker pipeline JSON, KFP PipelineSpec /",
        "  CustomJob payloads / PipelineJob submissions, Azure ML job YAML; `ir` = the checked spec.",
        "- **Severity** of a finding: `high` for non-waivable rules, `medium` otherwise, `low` where noted.",
        "",
        f"{len(rules)} rules: " + ", ".join(f"{sum(1 for r in rules.values() if r.cloud == c)} {c}"
                                           for c in ("all", "aws", "gcp", "azure")) + ".",
        "",
    ]
    for cloud, title in clouds.items():
        lines += [f"## {title}", "",
                  "| id | resource | property | default | waivable | severity | sees | external ids | check |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in sorted((r for r in rules.values() if r.cloud == cloud), key=lambda r: r.id):
            lines.append("| " + " | ".join(_cell(x) for x in (
                f"`{r.id}`", r.resource, r.property, r.default, "yes" if r.waivable else "no", r.severity,
                r.sees, ", ".join(r.external), f"`{r.implementation}`")) + " |")
        lines.append("")
    lines += ["## Approval integrity (threat model)", "", APPROVAL_INTEGRITY, ""]
    for cloud, title in clouds.items():
        if cloud in THREAT_MODEL:
            lines += [f"**{title}.** " + THREAT_MODEL[cloud], ""]
    lines += ["## Waivers", "",
              "A spec waives a rule with `rule`, `reason`, `owner` and `until` (an ISO date, inclusive); an",
              "optional `resource` glob limits it to matching findings (`aws:s3/bucket:Bucket::*-scratch` or a",
              "resource name). Unknown, non-waivable, expired or incomplete waivers are refused: the finding",
              "stays and `MLS-WAIVER` is reported. A valid waiver turns a finding into a listed exception",
              "(`waived_by` in `mlspec plan --format json`) and does not fail the plan.", ""]
    return "\n".join(lines)
