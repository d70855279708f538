"""Readers for the native pipeline artifacts that IaC scanners cannot see (MLS-G-09).

Input: a :class:`~mlspec.compiler.plan.security.Graph` (captured resources + parsed build
artifacts). Output: normalised views the rules iterate over:

- SageMaker Pipelines definitions (``aws.sagemaker.Pipeline.pipelineDefinition`` inline JSON,
  or a definition JSON file in the build), their job steps, with ``{"Get": "Parameters.X"}``
  resolved to the parameter's DefaultValue;
- Vertex: KFP PipelineSpecs in the build (``pipelineInfo`` + ``root``), the CustomJob /
  HyperparameterTuningJob payloads their GCPC launcher executors carry (``--payload`` JSON,
  ``{{$.inputs.parameters['x']}}`` placeholders resolved to root parameter defaults), and the
  PipelineJob submissions (Cloud Scheduler HTTP bodies, dynamic resources, job JSON files);
- Azure ML: job YAML (CLI v2 ``$schema`` .../pipelineJob, commandJob ...) and ``Job`` resources;
- every container image any of those, or a model/deployment resource, names.

Pure Python, no SDK imports.
"""
from __future__ import annotations

import base64
import json
import re
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:  # pragma: no cover
    from mlspec.compiler.plan.security import Graph

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


# ----------------------------------------------------------------------------- SageMaker

SAGEMAKER_JOB_STEPS = ("Training", "Processing", "Transform", "Tuning")


def _is_sagemaker_definition(d: Any) -> bool:
    return isinstance(d, dict) and isinstance(d.get("Steps"), list) and "Version" in d


def resolve_parameters(definition: dict) -> dict:
    """Replace {"Get": "Parameters.X"} by X's DefaultValue (left as is when it has none)."""
    defaults = {p.get("Name"): p.get("DefaultValue") for p in definition.get("Parameters") or []
                if isinstance(p, dict) and "DefaultValue" in p}

    def sub(v: Any) -> Any:
        if isinstance(v, dict):
            g = v.get("Get")
            if len(v) == 1 and isinstance(g, str) and g.startswith("Parameters."):
                name = g.split(".", 1)[1]
                return defaults.get(name, v)
            return {k: sub(x) for k, x in v.items()}
        if isinstance(v, list):
            return [sub(x) for x in v]
        return v

    return sub(definition)


def sagemaker_steps(definition: Any) -> list[dict]:
    """All steps of a definition (condition-step branches included), parameters resolved."""
    d = _json(definition)
    if not _is_sagemaker_definition(d):
        return []
    d = resolve_parameters(d)
    out: list[dict] = []

    def collect(steps: list) -> None:
        for s in steps:
            if not isinstance(s, dict):
                continue
            out.append(s)
            args = s.get("Arguments") or {}
            for branch in ("IfSteps", "ElseSteps"):
                collect(args.get(branch) or [])

    collect(d["Steps"])
    return out


def sagemaker_step_role(step: dict) -> Any:
    a = step.get("Arguments") or {}
    return a.get("RoleArn") or (a.get("TrainingJobDefinition") or {}).get("RoleArn")


def sagemaker_definition_artifacts(g: "Graph") -> list[tuple[str, dict]]:
    return [(p, d) for p, d in sorted(g.artifacts.items()) if _is_sagemaker_definition(d)]


def sagemaker_definitions(g: "Graph") -> list[tuple[Any, dict]]:
    """(resource or artifact path, definition) -- inline Pipeline definitions first; build files
    whose steps are already inline are skipped (the Pulumi program uploads that same file)."""
    out: list[tuple[Any, dict]] = []
    seen: set[str] = set()
    for p in g.of("aws:sagemaker/pipeline:Pipeline"):
        d = _json(p["inputs"].get("pipelineDefinition"))
        if _is_sagemaker_definition(d):
            out.append((p, d))
            seen.add(json.dumps([s.get("Name") for s in d["Steps"] if isinstance(s, dict)]))
    for path, d in sagemaker_definition_artifacts(g):
        key = json.dumps([s.get("Name") for s in d["Steps"] if isinstance(s, dict)])
        if key not in seen:
            out.append((path, d))
    return out


# ----------------------------------------------------------------------------- Vertex / KFP


def _is_kfp(d: Any) -> bool:
    return isinstance(d, dict) and "pipelineInfo" in d and ("root" in d or "deploymentSpec" in d)


def kfp_specs(g: "Graph") -> list[tuple[str, dict]]:
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


def kfp_custom_jobs(g: "Graph") -> list[tuple[str, dict]]:
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

            def get(d: Any, proto: str, camel: str) -> Any:
                # GCPC's launcher takes proto field names (snake_case); read JSON names too, so a
                # rule still sees a payload the vertex-job-payload program check refuses
                d = d if isinstance(d, dict) else {}
                return d.get(proto) if d.get(proto) is not None else d.get(camel)

            job = (get(payload, "job_spec", "jobSpec") or get(payload, "trial_job_spec", "trialJobSpec")) or {}
            pools = get(job, "worker_pool_specs", "workerPoolSpecs") or []
            out.append((f"{path}#{name}", {
                "service_account": get(job, "service_account", "serviceAccount"), "network": job.get("network"),
                "psc": get(job, "psc_interface_config", "pscInterfaceConfig"),
                "kms_key": get(get(payload, "encryption_spec", "encryptionSpec"), "kms_key_name", "kmsKeyName"),
                "enable_web_access": get(job, "enable_web_access", "enableWebAccess"),
                "enable_dashboard_access": get(job, "enable_dashboard_access", "enableDashboardAccess"),
                "images": [get(get(p, "container_spec", "containerSpec"), "image_uri", "imageUri") for p in pools],
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


def vertex_job_specs(g: "Graph") -> list[dict]:
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


# ----------------------------------------------------------------------------- Azure ML


def _is_azureml_job(d: Any) -> bool:
    """A CLI v2 job YAML (pipelineJob / commandJob / sweepJob); component specs are not jobs."""
    schema = str(d.get("$schema", "")).lower() if isinstance(d, dict) else ""
    return "azureml" in schema and "job.schema" in schema and "component" not in schema


def azureml_jobs(g: "Graph") -> list[tuple[str, dict]]:
    """(label, job) for every job YAML in the build and each child job of pipeline jobs; the child
    inherits the pipeline's default compute when it names none."""
    out = []
    for path, d in sorted(g.artifacts.items()):
        if not _is_azureml_job(d):
            continue
        out.append((path, d))
        default_compute = ((d.get("settings") or {}).get("default_compute")) or d.get("compute")
        for name, child in sorted((d.get("jobs") or {}).items()):
            if isinstance(child, dict):
                c = dict(child)
                if not c.get("compute") and default_compute:
                    c["compute"] = default_compute
                c.setdefault("identity", d.get("identity"))
                out.append((f"{path}#jobs.{name}", c))
    return out


# ----------------------------------------------------------------------------- images


def images(g: "Graph") -> list[tuple[Any, str]]:
    """(where, image) for every container image named by the stack or its pipelines."""
    out: list[tuple[Any, str]] = []
    for m in g.of("aws:sagemaker/model:Model"):
        pc = m["inputs"].get("primaryContainer") or {}
        if pc.get("image"):
            out.append((m, pc["image"]))
        for c in m["inputs"].get("containers") or []:
            if isinstance(c, dict) and c.get("image"):
                out.append((m, c["image"]))
    for where, d in sagemaker_definitions(g):
        for s in sagemaker_steps(d):
            a = s.get("Arguments") or {}
            name = f"{where['name'] if isinstance(where, dict) else where}#{s.get('Name')}"
            for img in (
                (a.get("AlgorithmSpecification") or {}).get("TrainingImage"),
                (a.get("AppSpecification") or {}).get("ImageUri"),
                ((a.get("TrainingJobDefinition") or {}).get("AlgorithmSpecification") or {}).get("TrainingImage"),
                (a.get("PrimaryContainer") or {}).get("Image"),
            ):
                if isinstance(img, str):
                    out.append((name, img))
            for c in (a.get("InferenceSpecification") or {}).get("Containers") or []:
                if isinstance(c, dict) and isinstance(c.get("Image"), str):
                    out.append((name, c["Image"]))
    for path, spec in kfp_specs(g):
        for name, ex in sorted((((spec.get("deploymentSpec") or {}).get("executors")) or {}).items()):
            img = ((ex or {}).get("container") or {}).get("image")
            if isinstance(img, str):
                out.append((f"{path}#{name}", img))
    for label, job in kfp_custom_jobs(g):
        for img in job["images"]:
            if isinstance(img, str) and not img.startswith("[runtime:"):
                out.append((label, img))
    for r in g.of("azure-native:machinelearningservices:EnvironmentVersion",
                  "azure-native:machinelearningservices:RegistryEnvironmentVersion"):
        img = (r["inputs"].get("properties") or {}).get("image")
        if isinstance(img, str):
            out.append((r, img))
    for label, job in azureml_jobs(g):
        env = job.get("environment")
        if isinstance(env, dict) and isinstance(env.get("image"), str):
            out.append((label, env["image"]))
        elif isinstance(job.get("image"), str):
            out.append((label, job["image"]))
    for path, d in sorted(g.artifacts.items()):  # Azure ML environment and component YAML
        schema = str(d.get("$schema", "")).lower() if isinstance(d, dict) else ""
        if "azureml" not in schema:
            continue
        if "environment" in schema and isinstance(d.get("image"), str):
            out.append((path, d["image"]))
        elif "component" in schema and isinstance(d.get("environment"), dict) and \
                isinstance(d["environment"].get("image"), str):
            out.append((path, d["environment"]["image"]))
    return out


# ----------------------------------------------------------------------------- SageMaker deploy path

SAGEMAKER_DEPLOY_APIS = ("createModel", "createEndpointConfig", "createEndpoint", "updateEndpoint")


def _strip_paths(v: Any) -> Any:
    """Step Functions parameters: `Key.$` (a JSONPath, decided at run time) -> `Key`."""
    if isinstance(v, dict):
        return {(k[:-2] if k.endswith(".$") else k): _strip_paths(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_strip_paths(x) for x in v]
    return v


def _states(states: Any) -> Iterator[tuple[str, dict]]:
    for name, s in (states or {}).items() if isinstance(states, dict) else []:
        if not isinstance(s, dict):
            continue
        yield name, s
        for b in s.get("Branches") or []:
            yield from _states((b or {}).get("States"))
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(s.get(key), dict):
                yield from _states(s[key].get("States"))


def sagemaker_deploy_calls(g: "Graph") -> list[tuple[str, str, dict]]:
    """(label, api, parameters) of the SageMaker calls Step Functions deploy paths make
    (state machine resources, else state machine definitions in the build)."""
    defs: list[tuple[str, Any]] = []
    for r in g.of("aws:sfn/stateMachine:StateMachine"):
        defs.append((f"{r['type']}::{r['name']}", _json(r["inputs"].get("definition"))))
    if not defs:
        defs = [(p, d) for p, d in sorted(g.artifacts.items())
                if isinstance(d, dict) and "States" in d and "StartAt" in d]
    out = []
    for label, d in defs:
        if not isinstance(d, dict):
            continue
        for name, s in _states(d.get("States")):
            res = str(s.get("Resource", ""))
            api = res.rsplit(":", 1)[-1].split(".")[0]
            if ":sagemaker:" in res and api in SAGEMAKER_DEPLOY_APIS:
                out.append((f"{label}#{name}", api, _strip_paths(s.get("Parameters") or s.get("Arguments") or {})))
    return out
