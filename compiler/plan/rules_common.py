"""Cross-cloud baseline rules MLS-G-01..09 (SECURITY.md section 1).

Each check takes a :class:`~mlspec.compiler.plan.graph.Graph` and yields
``(resource or label, message)``; the per-cloud detail lives in each target's ``rules.py``
and these rules catch what is common (keys exist, public flags, secrets, tags, images ...).
What they must know about a cloud (its data-at-rest and key types, identities, images, log
types, registry) comes from the target's :class:`~mlspec.compiler.plan.graph.CloudProfile`
(``Target.cloud_profile()``). Never imports a cloud SDK or a target package.
"""
from __future__ import annotations

import functools
import re
from typing import Any, Iterator

from mlspec.compiler.plan.graph import (SECRETISH_NAME, CloudProfile, Graph, dig, is_reference, is_set,
                                        literal_secret, parse_json, rule, walk)


@functools.lru_cache(maxsize=1)
def _profiles() -> tuple[tuple[str, CloudProfile], ...]:
    """(cloud key, profile) of every registered target that has one."""
    from mlspec.targets.base import available_targets, get_target

    out = []
    for name in available_targets():
        t = get_target(name)
        p = t.cloud_profile()
        if p is not None:
            out.append((t.cloud or t.name, p))
    return tuple(out)


def all_profiles() -> list[CloudProfile]:
    """Every registered target's profile (rules that look at every kind of artifact use all)."""
    return [p for _, p in _profiles()]


def profile_of_cloud(c: str) -> CloudProfile | None:
    return next((p for k, p in _profiles() if k == c), None)


def cloud(g: Graph) -> str:
    """The cloud key of the graph: its target's, else the cloud whose provider packages it uses."""
    from mlspec.targets.base import available_targets, get_target

    if g.target in available_targets():
        t = get_target(g.target)
        return t.cloud or t.name
    pkgs = {r["type"].split(":")[0] for r in g.resources}
    return next((k for k, p in _profiles() if set(p.providers) & pkgs), "")


def profile(g: Graph) -> CloudProfile:
    p = profile_of_cloud(cloud(g))
    return p if p is not None else CloudProfile()


# ----------------------------------------------------------------------------- G-01


def referenced_key(g: Graph) -> bool:
    """The spec names an existing key (IR security.kms_key or a kms key setting of the target)."""
    if is_set(g.security.get("kms_key")):
        return True
    return any(is_set(v) and re.search(r"kms|cmk|key_?(id|arn|uri|name)", k, re.I)
               for k, v in g.target_settings.items())


@rule("MLS-G-01", cloud="all", resource="every data-at-rest resource", property="encryption key",
      default="customer-managed key created or referenced by the stack, one per environment and region",
      external=("see per-cloud rows",))
def check_cmk_exists(g: Graph):
    p = profile(g)
    data = g.of(*p.data_at_rest)
    if data and not g.of(*p.key_types) and not referenced_key(g):
        yield data[0], (f"{len(data)} data-at-rest resource(s) but the stack neither creates nor references a "
                        "customer-managed key")
    managed = [q.managed_key for q in all_profiles() if q.managed_key]
    for r in g.resources:
        for path, v in walk(r["inputs"]):
            if isinstance(v, str):
                for rx, who in managed:
                    if rx.search(v):
                        yield r, f"`{path}` uses the {who} key `{v}`, not the environment CMK"
    if referenced_key(g):
        return  # the spec names an existing key: references to it cannot be matched offline
    own = p.stack_keys(g)
    if not own:
        return
    for r in g.resources:
        if r["type"] in p.key_types:
            continue
        for path, v in walk(r["inputs"]):
            for ref in _key_refs(v, p.key_ref):
                if p.key_id(ref) not in own:
                    yield r, f"`{path}` uses key `{ref}`, which this stack does not create"


def _key_refs(v: Any, rx) -> list[str]:
    if rx is None or not isinstance(v, str):
        return []
    return [m.group(0) for m in rx.finditer(v)]


# ----------------------------------------------------------------------------- G-02

_PUBLIC_FLAGS: list[tuple[str, Any, str]] = [
    # (wire key, bad value or callable, what it means)
    ("publicNetworkAccess", lambda v: isinstance(v, str) and v.lower() == "enabled", "public network access enabled"),
    ("publicNetworkAccessForIngestion", lambda v: isinstance(v, str) and v.lower() == "enabled", "public ingestion"),
    ("publicNetworkAccessForQuery", lambda v: isinstance(v, str) and v.lower() == "enabled", "public query"),
    ("publicEndpointEnabled", lambda v: v is True, "public endpoint enabled"),
    ("directInternetAccess", lambda v: v == "Enabled", "direct internet access"),
    ("appNetworkAccessType", lambda v: v == "PublicInternetOnly", "public internet access"),
    ("mapPublicIpOnLaunch", lambda v: v is True, "public IPs on launch"),
    ("associatePublicIpAddress", lambda v: v is True, "public IP address"),
    ("enableNodePublicIp", lambda v: v is True, "node public IPs"),
    ("allowBlobPublicAccess", lambda v: v is True, "public blob access"),
    ("anonymousPullEnabled", lambda v: v is True, "anonymous pull"),
    ("allowPublicAccessWhenBehindVnet", lambda v: v is True, "public access behind VNet"),
    ("publicAccessPrevention", lambda v: v == "inherited", "public access prevention not enforced"),
    ("acl", lambda v: isinstance(v, str) and v.startswith(("public-", "authenticated-read")), "public ACL"),
    ("disablePublicIp", lambda v: v is False, "public IP"),
]


def _public_exposures(v: Any, path: str = "") -> Iterator[str]:
    if isinstance(v, dict):
        for k, x in v.items():
            p = f"{path}.{k}" if path else k
            for key, bad, what in _PUBLIC_FLAGS:
                if k == key and not isinstance(x, (dict, list)) and bad(x):
                    yield f"`{p}` = {x!r} ({what})"
            if k in ("networkAcls", "networkRuleSet") and isinstance(x, dict) and x.get("defaultAction") == "Allow":
                yield f"`{p}.defaultAction` = 'Allow' (network default allow)"
            if k in ("member", "members") and any(m in ("allUsers", "allAuthenticatedUsers") for m in
                                                  (x if isinstance(x, list) else [x])):
                yield f"`{p}` grants a public principal"
            yield from _public_exposures(x, p)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _public_exposures(x, f"{path}[{i}]")


@rule("MLS-G-02", cloud="all", resource="workspaces, endpoints, registries, storage, key stores",
      property="network exposure", default="private endpoints / VPC-only; no public flag set anywhere",
      external=("see per-cloud rows",))
def check_no_public_exposure(g: Graph):
    for r in g.resources:
        for what in _public_exposures(r["inputs"]):
            yield r, what


# ----------------------------------------------------------------------------- G-03


def component_identities(g: Graph) -> dict[str, set[str]]:
    """identity -> component kinds using it (orchestrator, workload, serving, monitoring)."""
    uses: dict[str, set[str]] = {}

    def add(identity: Any, kind: str) -> None:
        if isinstance(identity, str) and is_set(identity) and not identity.startswith("["):
            uses.setdefault(identity, set()).add(kind)

    for identity, kind in profile(g).identities(g):
        add(identity, kind)
    return uses


@rule("MLS-G-03", cloud="all", resource="identities of pipeline orchestrator, workload, serving, monitoring",
      property="identity per component", default="one least-privilege identity per component",
      external=("see per-cloud rows",))
def check_identity_per_component(g: Graph):
    for ident, kinds in sorted(component_identities(g).items()):
        if len(kinds) > 1:
            yield ident, f"one identity serves several components ({', '.join(sorted(kinds))})"


# ----------------------------------------------------------------------------- G-04

_ENV_MAPS = ("environmentVariables", "Environment", "environment_variables", "env", "environment", "envVars",
             "environmentVars")


def _secret_problems(v: Any, path: str = "", in_env: bool = False) -> Iterator[str]:
    if isinstance(v, dict):
        for k, x in v.items():
            p = f"{path}.{k}" if path else str(k)
            if in_env and isinstance(x, str) and SECRETISH_NAME.search(str(k)) and x and not is_reference(x):
                yield f"`{p}` holds a plaintext value under a secret-looking name"
            yield from _secret_problems(x, p, k in _ENV_MAPS)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _secret_problems(x, f"{path}[{i}]", in_env)
    elif isinstance(v, str):
        kind = literal_secret(v)
        if kind:
            yield f"`{path}` contains a literal {kind}"
        elif len(v) > 2 and v[0] in "{[":  # JSON-in-a-string (policies, pipeline definitions)
            inner = parse_json(v)
            if inner is not None:
                yield from _secret_problems(inner, path, in_env)


@rule("MLS-G-04", cloud="all", resource="every input, tag/label, env var, output and artifact",
      property="secrets", default="references only (secret manager / Key Vault / Pulumi config secret)",
      external=("CKV_SECRET_*",), sees="graph+artifacts")
def check_no_literal_secrets(g: Graph):
    for r in g.resources:
        for problem in _secret_problems(r["inputs"]):
            yield r, problem
    for k, v in sorted(g.outputs.items()):
        if SECRETISH_NAME.search(k) and v not in ("[secret]", None) and not is_reference(v):
            yield f"stack output {k}", f"stack output `{k}` is not a Pulumi secret"
        for problem in _secret_problems({k: v}):
            yield f"stack output {k}", problem
    for path, doc in sorted(g.artifacts.items()):
        for problem in _secret_problems(doc):
            yield path, problem


# ----------------------------------------------------------------------------- G-05

@rule("MLS-G-05", cloud="all", resource="log groups / Log Analytics / log buckets", property="retention, encryption",
      default="retained (prod >= 365 days) and encrypted", external=("CKV_AWS_66", "CKV_AWS_338", "CKV_AWS_158"))
def check_logs_retained(g: Graph):
    log_types = {t: keys for p in all_profiles() for t, keys in p.log_types.items()}
    for t, (ret_key, kms_key) in log_types.items():
        for r in g.of(t):
            days = r["inputs"].get(ret_key)
            if not isinstance(days, (int, float)):
                yield r, f"`{ret_key}` not set"
            elif g.production and 0 < days < 365:
                yield r, f"`{ret_key}` = {days}; production needs >= 365"
            if kms_key and not is_set(r["inputs"].get(kms_key)):
                yield r, f"`{kms_key}` not set (logs not encrypted with the environment CMK)"


# ----------------------------------------------------------------------------- G-06

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def image_problem(image: Any, c: str) -> str | None:
    """Why ``image`` breaks MLS-G-06 for cloud ``c`` (a cloud key such as ``aws``), or None."""
    if not isinstance(image, str) or not image or image.startswith("[") or not c:
        return None
    if any(image.startswith(p.registered_images) for p in all_profiles() if p.registered_images):
        return None  # a registered environment (e.g. Azure ML `azureml:`), not a raw image
    problems = []
    p = profile_of_cloud(c)
    rx = p.private_registry if p is not None else None
    if rx and not rx.match(image):
        problems.append("not from a private registry")
    if not DIGEST.search(image):
        problems.append("not pinned by digest")
    return f"image `{image}` is {' and '.join(problems)}" if problems else None


@rule("MLS-G-06", cloud="all", resource="container images of steps, models, deployments", property="image",
      default="private registry, pinned by @sha256 digest", external=("MLS only",), sees="graph+artifacts")
def check_images_pinned(g: Graph):
    c = cloud(g)
    for where, image in (x for p in all_profiles() for x in p.images(g)):
        why = image_problem(image, c)
        if why:
            yield where, why


# ----------------------------------------------------------------------------- G-07


@rule("MLS-G-07", cloud="all", resource="models deployed to production", property="approval",
      default="explicit approval state change by an approver (not the pipeline identity) before prod",
      external=("MLS only",), sees="ir")
def check_prod_approval(g: Graph):
    if not g.production:
        return
    if g.environment.get("approval") not in (None, "required"):
        yield f"environment {g.environment.get('name')}", "production environment does not require approval"
    for m in g.ir.get("models") or []:
        if not dig(m, "approval", "required", default=True):
            yield m.get("id", "model"), "model is deployed to production without a required approval"


# ----------------------------------------------------------------------------- G-08

TAG_KEYS = {
    "owner": ("owner",),
    "environment": ("environment", "env"),
    "data classification": ("dataclassification", "dataclass", "classification"),
    # the compiler version is kept out of artifacts (deterministic output, STYLE.md); the IR schema
    # version the build was made from stands in for it
    "mlspec version": ("mlspecversion", "compilerversion", "irschema", "schemaversion"),
    # the system names the spec a resource comes from; the spec *hash* is lineage, recorded in the
    # manifest, on pipeline runs and on registered model versions, not on every resource: a tag
    # that changes with every edit would rewrite the whole stack for a one-line change (issue 16)
    "system": ("mlspecsystem",),
}


def _norm(k: str) -> str:
    return re.sub(r"[^a-z0-9]", "", k.lower())


def missing_tags(tags: Any) -> list[str]:
    keys = [_norm(k) for k in (tags or {})] if isinstance(tags, dict) else []
    return [name for name, tokens in TAG_KEYS.items() if not any(k.endswith(t) for k in keys for t in tokens)]


def default_tags(g: Graph) -> dict:
    """Provider-level default tags/labels (stack config or explicit provider resources)."""
    out: dict = {}
    for p in all_profiles():
        out.update(p.default_tags(g))
    return out


@rule("MLS-G-08", cloud="all", resource="every taggable resource", property="tags / labels",
      default="owner, environment, data classification, mlspec version, mlspec system (the spec hash is lineage: "
              "manifest, pipeline runs, model versions)", external=("MLS only",),
      severity="low")
def check_standard_tags(g: Graph):
    defaults = default_tags(g)
    for r in g.resources:
        prop = r.get("tag_property")
        if not prop:
            continue
        tags = dict(defaults)
        own = r["inputs"].get(prop)
        if isinstance(own, list) and all(isinstance(t, dict) and "key" in t for t in own):
            own = {t["key"]: t.get("value") for t in own}  # a list of {key, value} (aws-native)
        if isinstance(own, dict):
            tags.update(own)
        elif own not in (None, "[unknown]"):
            yield r, f"`{prop}` is not a map"
            continue
        missing = missing_tags(tags)
        if missing:
            yield r, f"`{prop}` lacks {', '.join(missing)}"


# ----------------------------------------------------------------------------- G-09


@rule("MLS-G-09", cloud="all", resource="native pipeline definitions", property="step security settings",
      default="every pipeline definition is visible to the checks (inline or in the build) and parses",
      external=("see MLS-AWS-054, MLS-GCP-050, MLS-AZ-080",), sees="graph+artifacts")
def check_pipelines_visible(g: Graph):
    for p in all_profiles():
        yield from p.hidden_pipelines(g)
    for path, doc in sorted(g.artifacts.items()):
        if isinstance(doc, str) and path.endswith((".json", ".yaml", ".yml")):
            yield path, "artifact does not parse: its security settings cannot be checked"
