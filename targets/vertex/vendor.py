"""Vertex AI's own judgement of a compiled build, at the vendor boundary (used by `mlspec plan`
and the tests; never by `mlspec compile`).

GCPC's ``container.v1.custom_job`` / ``hyperparameter_tuning_job`` launchers receive the job as
the ``--payload`` string (KFP placeholders already substituted), ``json.loads`` it, drop empty
values (``json_util.recursive_remove_empty``), add the pipeline's billing labels and hand the
dict to ``JobServiceClient.create_custom_job(parent=..., custom_job=dict)`` /
``create_hyperparameter_tuning_job``, which coerces it with the proto-plus constructor of
``aiplatform_v1.types.CustomJob`` / ``HyperparameterTuningJob``: only proto field names
(snake_case) are accepted. :func:`launcher_job` replays that path with google-cloud-aiplatform's
types. google-cloud-pipeline-components itself pins ``google-cloud-aiplatform<2`` and so cannot be
installed next to this project's dependencies; the path is replicated, not imported
(docs/targets/vertex.md).

Imports google-cloud-aiplatform inside the functions only.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}")
_ANY_PLACEHOLDER = re.compile(r"\{\{\$[^}]*\}\}")
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


def remove_empty(value: Any) -> Any:
    """GCPC's json_util.recursive_remove_empty: drop None, "", [] and {} (keeping False and 0),
    until nothing changes."""
    def once(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: once(x) for k, x in v.items() if x not in (None, "", [], {})}
        if isinstance(v, list):
            return [once(x) for x in v if x not in (None, "", [], {})]
        return v

    while True:
        stripped = once(value)
        if stripped == value:
            return value
        value = stripped


def substitute(text: str, parameters: dict[str, str]) -> str:
    """What the KFP backend does before the launcher runs: input parameter placeholders become
    their values; any other placeholder (artifact paths and URIs) a representative gs:// / /gcs path."""
    text = _PLACEHOLDER.sub(lambda m: str(parameters.get(m.group(1), f"runtime-{m.group(1)}")), text)
    return _ANY_PLACEHOLDER.sub(lambda m: "gs://pipeline-root/run/task/artifact" if ".uri" in m.group(0)
                                else "/gcs/pipeline-root/run/task/artifact", text)


def launcher_job(kind: str, payload: str, parameters: dict[str, str] | None = None):
    """The proto-plus message GCPC's launcher would send for ``--type kind --payload payload``.
    Raises ValueError / TypeError / KeyError exactly where the launcher would."""
    from google.cloud.aiplatform_v1.types import job_service

    d = remove_empty(json.loads(substitute(payload, parameters or {}), strict=False))
    d.setdefault("labels", {})["vertex-ai-pipelines-run-billing-id"] = "1234567890"  # insert_system_labels
    parent = "projects/p/locations/us-central1"
    if kind == "CustomJob":
        return job_service.CreateCustomJobRequest(parent=parent, custom_job=d).custom_job
    if kind == "HyperparameterTuningJob":
        return job_service.CreateHyperparameterTuningJobRequest(parent=parent, hyperparameter_tuning_job=d) \
            .hyperparameter_tuning_job
    raise ValueError(f"unknown job type {kind!r}")


def semantic_errors(kind: str, job) -> list[str]:
    """What the Vertex API refuses at creation although the message is well formed."""
    errors = []
    spec = job.job_spec if kind == "CustomJob" else job.trial_job_spec
    pools = list(spec.worker_pool_specs)
    if not pools:
        errors.append("no worker pool")
    if pools and pools[0].replica_count != 1:
        errors.append(f"worker pool 0 (the chief) has replica_count {pools[0].replica_count}; Vertex requires 1")
    for i, pool in enumerate(pools):
        image = pool.container_spec.image_uri
        if not image:
            errors.append(f"worker pool {i} has no container image")
        gpu = pool.machine_spec.accelerator_count > 0
        if gpu and re.search(r"/training/[a-z0-9-]*-cpu\.|/prediction/[a-z0-9-]*-cpu\.", image):
            errors.append(f"worker pool {i} attaches {pool.machine_spec.accelerator_type.name} to the CPU-only "
                          f"image {image}")
    if kind == "HyperparameterTuningJob":
        if not spec.base_output_directory.output_uri_prefix:
            errors.append("trials have no base_output_directory (AIP_MODEL_DIR)")
        if not job.study_spec.metrics:
            errors.append("study has no metric")
        if job.max_trial_count < 1 or job.parallel_trial_count < 1:
            errors.append("max_trial_count and parallel_trial_count must be positive")
    for k, v in job.labels.items():
        if not _LABEL_KEY.match(k) or not _LABEL_VALUE.match(v):
            errors.append(f"label {k}={v} is not a valid Google Cloud label")
    if len(job.labels) > 64:
        errors.append("more than 64 labels")
    return errors


def launcher_payloads(spec: dict):
    """(executor, job type, payload text) for every GCPC launcher executor of a PipelineSpec."""
    for name, ex in sorted(((spec.get("deploymentSpec") or {}).get("executors") or {}).items()):
        args = ((ex or {}).get("container") or {}).get("args") or []
        if "--payload" in args and "--type" in args:
            yield name, args[args.index("--type") + 1], args[args.index("--payload") + 1]


def root_defaults(spec: dict) -> dict[str, str]:
    params = ((spec.get("root") or {}).get("inputDefinitions") or {}).get("parameters") or {}
    out = {k: str(v["defaultValue"]) for k, v in params.items() if "defaultValue" in v}
    out.setdefault("network", "projects/123456789012/global/networks/vpc")
    return out


def payload_problems(spec: dict) -> list[tuple[str, str]]:
    """(executor, problem) for every launcher payload Vertex would reject."""
    out = []
    params = root_defaults(spec)
    for name, kind, payload in launcher_payloads(spec):
        try:
            job = launcher_job(kind, payload, params)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            out.append((name, f"{kind} payload rejected by the launcher: {exc}"))
            continue
        out += [(name, f"{kind}: {e}") for e in semantic_errors(kind, job)]
    return out


def program_checks(build: Path, resources: list[dict] | None = None) -> list[dict]:
    """Blocking program checks of `mlspec plan` for a Vertex build (DIR/vertex)."""
    checks = []
    for path in sorted((Path(build) / "pipelines").rglob("*.json")):
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        rel = path.relative_to(build).as_posix()
        for name, problem in payload_problems(spec):
            checks.append({"check": "vertex-job-payload", "where": f"{rel}#{name}: {problem}"})
    return checks


__all__ = ["launcher_job", "semantic_errors", "payload_problems", "program_checks", "remove_empty", "substitute"]
