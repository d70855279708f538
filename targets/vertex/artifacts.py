"""Readers for the native Vertex AI artifacts that IaC scanners cannot see (MLS-G-09), and the
Vertex target's :class:`~mlspec.compiler.plan.graph.CloudProfile` for the cross-cloud rules.

Input: a :class:`~mlspec.compiler.plan.graph.Graph` (captured resources + parsed build
artifacts). Output: KFP PipelineSpecs in the build (``pipelineInfo`` + ``root``), the CustomJob /
HyperparameterTuningJob payloads their GCPC launcher executors carry (``--payload`` JSON,
``{{$.inputs.parameters['x']}}`` placeholders resolved to root parameter defaults), the
PipelineJob submissions (Cloud Scheduler HTTP bodies, dynamic resources, job JSON files), and
every container image they name.

Pure Python, no SDK imports.
"""
from __future__ import annotations

import base64
import json
import re
from typing import Any, Iterator

from mlspec.compiler.plan.graph import CloudProfile, Graph, dig, parse_json

_PLACEHOLDER = re.compile(r"^\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}$")


def _json(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return v
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return None
    return None




def _is_kfp(d: Any) -> bool:
    return isinstance(d, dict) and "pipelineInfo" in d and ("root" in d or "deploymentSpec" in d)


def kfp_specs(g: Graph) -> list[tuple[str, dict]]:
    """(artifact path, PipelineSpec) for every KFP spec in the build (also one nested in a job JSON)."""
    out = []
    for path, d in sorted(g.artifacts.items()):
        if _is_kfp(d):
            out.append((path, d))
        elif isinstance(d, dict) and _is_kfp(d.get("pipelineSpec")):
            out.append((path, d["pipelineSpec"]))
    return out


def _root_defaults(spec: dict) -> dict:
    params = (((spec.get("root") or {}).get("inputDefinitions") or {}).get("parameters")) or {}
    return {k: v.get("defaultValue") for k, v in params.items() if isinstance(v, dict)}


def _resolve(v: Any, defaults: dict) -> Any:
    if isinstance(v, str):
        m = _PLACEHOLDER.match(v)
        if m:
            name = m.group(1)
            return defaults.get(name) if defaults.get(name) not in (None, "") else f"[runtime:{name}]"
        return v
    if isinstance(v, dict):
        return {k: _resolve(x, defaults) for k, x in v.items()}
    if isinstance(v, list):
        return [_resolve(x, defaults) for x in v]
    return v


def _get(d: Any, proto: str, camel: str) -> Any:
    """GCPC's launcher takes proto field names (snake_case); JSON names are read too, so a rule still
    sees a payload that the blocking `vertex-job-payload` program check refuses."""
    d = d if isinstance(d, dict) else {}
    return d.get(proto) if d.get(proto) is not None else d.get(camel)


def kfp_custom_jobs(g: Graph) -> list[tuple[str, dict]]:
    """(label, job) for every CustomJob / HPT job a launcher executor submits. job keys:
    service_account, network, kms_key, enable_web_access, images (placeholders resolved)."""
    out = []
    for path, spec in kfp_specs(g):
        defaults = _root_defaults(spec)
        executors = ((spec.get("deploymentSpec") or {}).get("executors")) or {}
        for name, ex in sorted(executors.items()):
            args = ((ex or {}).get("container") or {}).get("args") or []
            payload = None
            for i, a in enumerate(args[:-1]):
                if a == "--payload":
                    payload = _json(args[i + 1])
            if not isinstance(payload, dict):
                continue
            payload = _resolve(payload, defaults)
            job = (_get(payload, "job_spec", "jobSpec") or _get(payload, "trial_job_spec", "trialJobSpec")) or {}
            pools = _get(job, "worker_pool_specs", "workerPoolSpecs") or []
            out.append((f"{path}#{name}", {
                "service_account": _get(job, "service_account", "serviceAccount"), "network": job.get("network"),
                "psc": _get(job, "psc_interface_config", "pscInterfaceConfig"),
                "kms_key": _get(_get(payload, "encryption_spec", "encryptionSpec"), "kms_key_name", "kmsKeyName"),
                "enable_web_access": _get(job, "enable_web_access", "enableWebAccess"),
                "enable_dashboard_access": _get(job, "enable_dashboard_access", "enableDashboardAccess"),
                "images": [_get(_get(p, "container_spec", "containerSpec"), "image_uri", "imageUri") for p in pools],
            }))
    return out


def _job_view(label: Any, d: dict) -> dict:
    """Normalise a PipelineJob submission (REST camelCase, SDK snake_case or mlspec's own keys)."""
    def first(*keys: str) -> Any:
        for k in keys:
            cur: Any = d
            for part in k.split("."):
                cur = cur.get(part) if isinstance(cur, dict) else None
            if cur not in (None, ""):
                return cur
        return None

    return {"label": label,
            "service_account": first("serviceAccount", "service_account"),
            "kms_key": first("encryptionSpec.kmsKeyName", "encryption_spec.kms_key_name", "encryption_spec_key_name",
                             "encryptionSpecKeyName", "kmsKeyName"),
            "network": first("network", "pscInterfaceConfig", "psc_interface_config"),
            "pipeline_root": first("runtimeConfig.gcsOutputDirectory", "pipeline_root", "pipelineRoot",
                                   "gcsOutputDirectory"),
            "raw": d}


def _looks_like_job(d: Any) -> bool:
    if not isinstance(d, dict):
        return False
    keys = set(d)
    return bool(keys & {"templateUri", "template_path", "templatePath", "pipelineSpec"}) or (
        bool(keys & {"serviceAccount", "service_account"}) and bool(keys & {"runtimeConfig", "pipeline_root",
                                                                          "pipelineRoot"}))


def vertex_job_specs(g: Graph) -> list[dict]:
    """PipelineJob submissions: Cloud Scheduler bodies, dynamic resources, job files in the build."""
    out = []
    for r in g.of("gcp:cloudscheduler/job:Job"):
        ht = r["inputs"].get("httpTarget") or {}
        if "pipelineJobs" not in str(ht.get("uri", "")):
            continue
        body = ht.get("body")
        try:
            d = json.loads(base64.b64decode(body).decode()) if isinstance(body, str) else None
        except (ValueError, UnicodeDecodeError):
            d = _json(body)
        out.append(_job_view(r, d if isinstance(d, dict) else {}))
    for r in g.of("gcp:workflows/workflow:Workflow"):  # a Workflow step POSTing to .../pipelineJobs
        src = r["inputs"].get("sourceContents")
        doc = _json(src)
        if doc is None and isinstance(src, str):
            import yaml

            try:
                doc = yaml.safe_load(src)
            except yaml.YAMLError:
                doc = None
        for d in _walk_dicts(doc):
            if "pipelineJobs" in str(d.get("url", "")) and isinstance(d.get("body"), dict):
                out.append(_job_view(r, d["body"]))
    for r in g.of("pulumi-python:dynamic*"):
        for d in _walk_dicts(r["inputs"]):
            if _looks_like_job(d):
                out.append(_job_view(r, d))
                break
    for path, d in sorted(g.artifacts.items()):
        if _looks_like_job(d) and not _is_kfp(d):
            out.append(_job_view(path, d))
    return out


def _walk_dicts(v: Any) -> Iterator[dict]:
    if isinstance(v, dict):
        yield v
        for x in v.values():
            yield from _walk_dicts(x)
    elif isinstance(v, list):
        for x in v:
            yield from _walk_dicts(x)




# ----------------------------------------------------------------------------- images


def images(g: Graph) -> list[tuple[Any, str]]:
    """(where, image) for every container image the KFP specs and the jobs they launch name."""
    out: list[tuple[Any, str]] = []
    for path, spec in kfp_specs(g):
        for name, ex in sorted((((spec.get("deploymentSpec") or {}).get("executors")) or {}).items()):
            img = ((ex or {}).get("container") or {}).get("image")
            if isinstance(img, str):
                out.append((f"{path}#{name}", img))
    for label, job in kfp_custom_jobs(g):
        for img in job["images"]:
            if isinstance(img, str) and not img.startswith("[runtime:"):
                out.append((label, img))
    return out


# ----------------------------------------------------------------------------- profile


def identities(g: Graph) -> list[tuple[Any, str]]:
    """(identity, component kind): PipelineJob service accounts and launched-job service accounts."""
    out: list[tuple[Any, str]] = []
    for job in vertex_job_specs(g):
        out.append((job.get("service_account"), "orchestrator"))
    for _, ex in kfp_custom_jobs(g):
        out.append((ex.get("service_account"), "workload"))
    return out


KEY_TYPES = ("gcp:kms/cryptoKey:CryptoKey",)


def stack_keys(g: Graph) -> set[str]:
    """Names of the Cloud KMS crypto keys the stack creates, as the mock outputs fabricate them."""
    out: set[str] = set()
    for k in g.of(*KEY_TYPES):
        ring, name = k["inputs"].get("keyRing"), k["inputs"].get("name") or k["name"]
        if isinstance(ring, str):
            out.add(f"{ring}/cryptoKeys/{name}")
    return out


def default_tags(g: Graph) -> dict:
    """Provider-level default labels (stack config `gcp:defaultLabels` or explicit provider resources)."""
    out: dict = {}
    v = parse_json(g.config.get("gcp:defaultLabels"))
    if isinstance(v, dict):
        out.update(v)
    for p in g.of("pulumi:providers:gcp"):
        v = dig(p["inputs"], "defaultTags", "tags") or parse_json(p["inputs"].get("defaultTags")) or {}
        if isinstance(v, dict):
            out.update(v.get("tags", v) if "tags" in v else v)
        v = parse_json(p["inputs"].get("defaultLabels")) or {}
        if isinstance(v, dict):
            out.update(v)
    return out


PROFILE = CloudProfile(
    providers=("gcp",),
    data_at_rest=("gcp:storage/bucket:Bucket", "gcp:artifactregistry/repository:Repository", "gcp:vertex/*",
                  "gcp:bigquery/dataset:Dataset", "gcp:pubsub/topic:Topic"),
    key_types=KEY_TYPES,
    key_ref=re.compile(r"projects/[^/\s\"]+/locations/[^/\s\"]+/keyRings/[^/\s\"]+/cryptoKeys/[^/\s\"@]+"),
    stack_keys=stack_keys,
    identities=identities,
    log_types={"gcp:logging/projectBucketConfig:ProjectBucketConfig": ("retentionDays", "cmekSettings")},
    private_registry=re.compile(r"^([a-z0-9-]+-docker\.pkg\.dev|([a-z]+\.)?gcr\.io)/"),
    images=images,
    default_tags=default_tags,
)


#: (type-token prefix, concern or ``(resource) -> concern``) for the `mlspec plan` table, first
#: match wins (``Target.resource_concerns()``); keys and registries sit with storage
RESOURCE_CONCERNS = [
    ("pulumi-python:dynamic/vertex:Model", "registry and approval"), ("gcp:vertex/aiEndpoint", "serving"),
    ("gcp:vertex/aiDeploymentResourcePool", "serving"), ("gcp:vertex/aiMetadataStore", "monitoring"),
    ("gcp:vertex/aiTensorboard", "monitoring"), ("gcp:logging", "monitoring"),
    ("gcp:monitoring/dashboard", "monitoring"), ("gcp:bigquery", "monitoring"),
    ("gcp:monitoring/alertPolicy", "alerting"), ("gcp:monitoring/metricDescriptor", "alerting"), ("gcp:monitoring/notificationChannel", "alerting"),
    ("gcp:pubsub", "alerting"), ("gcp:cloudscheduler", "pipeline"), ("gcp:workflows", "pipeline"),
    ("gcp:storage/bucketObject", "pipeline"), ("gcp:cloudfunctions", "pipeline"), ("gcp:eventarc", "pipeline"),
    ("gcp:serviceaccount", "identity"), ("gcp:projects/iAM", "identity"),
    ("gcp:projects/serviceIdentity", "identity"), ("gcp:kms/cryptoKeyIAM", "identity"),
    ("gcp:storage/bucketIAM", "identity"), ("gcp:artifactregistry/repositoryIam", "identity"),
    ("gcp:vertex/aiEndpointIam", "identity"), ("gcp:orgpolicy", "identity"), ("gcp:compute", "network"),
    ("gcp:servicenetworking", "network"), ("gcp:networkconnectivity", "network"), ("gcp:dns", "network"), ("gcp:storage", "storage"),
    ("gcp:kms", "storage"), ("gcp:artifactregistry", "storage"), ("gcp:vertex/aiDataset", "storage"),
    ("gcp:vertex/aiFeature", "storage"),
]
