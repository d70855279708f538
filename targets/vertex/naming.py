"""GCP and Vertex AI naming rules for the Vertex target.

Input: portable mlspec names (lower_snake identifiers, environment names, GCP project ids).
Output: names that satisfy each GCP service's rule, derived deterministically from the
qualified spec ids (a name never depends on a clock, a uuid or the machine). When a name
must be shortened, a short sha256 suffix of the full name keeps it unique.

Rules (vendor docs):
- labels: https://cloud.google.com/resource-manager/docs/labels-overview#requirements
- service accounts: https://cloud.google.com/iam/docs/service-accounts-create#creating
- buckets: https://cloud.google.com/storage/docs/buckets#naming
- KMS: https://cloud.google.com/kms/docs/resource-hierarchy
- Vertex endpoint ids: https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints/create
- KFP pipeline names: ``^[a-z0-9][a-z0-9-]{0,127}$`` (kfp.dsl.utils.validate_pipeline_name)
- Workflows: https://cloud.google.com/workflows/docs/reference/rest/v1/projects.locations.workflows/create
Pure; imports nothing beyond the standard library.
"""
from __future__ import annotations

import functools
import hashlib
import re

LABEL_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE_RE = re.compile(r"^[a-z0-9_-]{0,63}$")
SA_ID_RE = re.compile(r"^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$")
KMS_RE = re.compile(r"^[a-zA-Z0-9_-]{1,63}$")
PIPELINE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")
WORKFLOW_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
SCHEDULER_RE = re.compile(r"^[a-zA-Z0-9_-]{1,500}$")
PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
REGION_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]$")


def short_hash(text: str, n: int = 6) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


_NOT_KEBAB = re.compile(r"[^a-z0-9]+")
_NOT_LABEL = re.compile(r"[^a-z0-9_-]+")


@functools.lru_cache(maxsize=4096)  # called for every task of every pipeline
def kebab(name: str) -> str:
    """`fraud_detection` -> `fraud-detection` (lower-case, runs of other chars -> `-`)."""
    return _NOT_KEBAB.sub("-", name.lower()).strip("-")


def fit(name: str, limit: int, sep: str = "-") -> str:
    """Shorten `name` to `limit` chars keeping uniqueness with a hash suffix."""
    if len(name) <= limit:
        return name
    h = short_hash(name)
    return name[: limit - len(h) - 1].rstrip(sep + "_") + sep + h


def label_value(text: str) -> str:
    """Any text -> a valid label value (lower-case, [a-z0-9_-], <= 63 chars)."""
    return _label_value(str(text))


@functools.lru_cache(maxsize=8192)  # the same few values on every task and job of a pipeline
def _label_value(text: str) -> str:
    v = _NOT_LABEL.sub("_", text.lower()).strip("_")
    return fit(v, 63, "_")


def label_key(text: str) -> str:
    k = re.sub(r"[^a-z0-9_-]+", "_", str(text).lower()).strip("_")
    if not k or not k[0].isalpha():
        k = "l_" + k
    return fit(k, 63, "_")


def prefix(system: str, env: str) -> str:
    """Resource-name prefix of one system in one environment: `fraud-detection-prod`."""
    return kebab(f"{system}-{env}")


def service_account_id(system: str, env: str, component: str) -> str:
    """6-30 chars, `[a-z][-a-z0-9]*[a-z0-9]`; the component name is always kept whole."""
    comp = kebab(component)
    head = fit(prefix(system, env), 29 - len(comp))
    sid = f"{head}-{comp}"
    if not sid[0].isalpha():
        sid = "m" + sid[1:]
    return sid


def bucket_name(project: str, system: str, env: str, purpose: str) -> str:
    """Globally unique bucket name: the project id makes it unique across GCP."""
    return fit(kebab(f"{project}-{system}-{env}-{purpose}"), 63)


def kfp_pipeline_name(system: str, env: str, pipeline: str) -> str:
    return fit(kebab(f"{system}-{env}-{pipeline}"), 128)


def workflow_name(system: str, env: str, what: str) -> str:
    name = kebab(f"{system}-{env}-{what}")
    if not name[0].isalpha():
        name = "w" + name
    return fit(name, 64)


def numeric_id(*parts: str) -> str:
    """A 10-digit id without a leading zero (Vertex endpoint ids must be numeric)."""
    n = int(hashlib.sha256("/".join(parts).encode("utf-8")).hexdigest(), 16) % 9_000_000_000
    return str(1_000_000_000 + n)


def resource_name(*parts: str, limit: int = 63) -> str:
    """Pulumi logical / GCP resource name from spec names: `scoring-canary`."""
    return fit(kebab("-".join(p for p in parts if p)), limit)


def check(rule: re.Pattern[str], value: str) -> bool:
    return bool(rule.fullmatch(value))
