"""Local Vertex AI services for `mlspec run --target vertex` (loaded only in step processes).

mlspec's pipeline-task ops (metrics, champion, register in runtime.py) call the Vertex AI SDK.
In a local run, right after ``google.cloud.aiplatform`` is imported, the calls they make are
served from a folder of the run's work dir (MLSPEC_RUN_VERTEX_REGISTRY): experiment runs,
Model Registry versions with aliases, imported model evaluations. Requests are built as the
SDK would send them -- ``aiplatform_v1`` proto-plus messages (UploadModelRequest,
ImportModelEvaluationRequest) -- and the registry's documented rules are applied (label
keys/values, version aliases unique per model, model ids); a request the service would
reject fails the step.
"""
import json
import os
import re
import types

import sitecustomize

ROOT = os.environ.get("MLSPEC_RUN_VERTEX_REGISTRY", "")
_STATE = {"project": "", "location": "", "experiment": None, "run": None}

_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
_ALIAS = re.compile(r"[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]")
_MODEL_ID = re.compile(r"[a-z][a-z0-9_-]{0,62}")


def _path(*parts):
    p = os.path.join(ROOT, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def _load(*parts, default=None):
    p = os.path.join(ROOT, *parts)
    if not os.path.exists(p):
        return default
    with open(p, encoding="utf-8") as f:
        return json.load(f)


def _save(doc, *parts):
    with open(_path(*parts), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, sort_keys=True)


def _invalid(msg):
    from google.api_core import exceptions
    return exceptions.InvalidArgument(msg)


def init(project=None, location=None, experiment=None, **kw):
    _STATE.update(project=project or _STATE["project"], location=location or _STATE["location"],
                  experiment=experiment or _STATE["experiment"])


def start_run(run, **kw):
    if not _STATE["experiment"]:
        raise ValueError("No experiment set: call aiplatform.init(experiment=...) first")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,127}", run):
        raise _invalid(f"experiment run name {run!r}: lower-case letters, digits and hyphens, at most 128")
    _STATE["run"] = run
    _save({"experiment": _STATE["experiment"], "run": run, "params": {}, "metrics": {}}, "experiments", run + ".json")


def _update(key, values):
    if not _STATE["run"]:
        raise ValueError("No run set: call aiplatform.start_run() first")
    doc = _load("experiments", _STATE["run"] + ".json")
    for k, v in values.items():
        if key == "metrics" and not isinstance(v, (int, float)):
            raise TypeError(f"metric {k}: Vertex AI Experiments metrics are numbers, got {type(v).__name__}")
        if key == "params" and not isinstance(v, (int, float, str)):
            raise TypeError(f"param {k}: Vertex AI Experiments params are str, int or float, got {type(v).__name__}")
    doc[key].update(values)
    _save(doc, "experiments", _STATE["run"] + ".json")


def log_params(params):
    _update("params", params)


def log_metrics(metrics):
    _update("metrics", metrics)


def end_run(**kw):
    _STATE["run"] = None


def _model_id(name):
    return name.split("/models/", 1)[-1].split("@", 1)[0]


class _Evaluation:
    """aiplatform.ModelEvaluation: `metrics` and the resource (`gca_resource.metadata`)."""

    def __init__(self, stored):
        import types

        stored = stored if "metrics" in stored else {"metrics": stored}  # registries written before metadata
        self.metrics = stored["metrics"]
        self.gca_resource = types.SimpleNamespace(metadata=stored.get("metadata") or {},
                                                  metrics_schema_uri=stored.get("metrics_schema_uri", ""))


class LocalModel:
    """aiplatform.Model over the local registry."""

    def __init__(self, model_name, **kw):
        from google.api_core import exceptions

        mid = _model_id(model_name)
        ref = model_name.split("@", 1)[1] if "@" in model_name else "default"
        doc = _load("models", mid + ".json")
        if doc is None:
            raise exceptions.NotFound(f"Model {model_name} not found")
        version = next((v for v in doc["versions"] if ref in v["aliases"] or v["id"] == ref), None)
        if version is None:
            raise exceptions.NotFound(f"Model {model_name}: no version with alias or id {ref!r}")
        self._doc, self._version = doc, version
        base = f"projects/{_STATE['project']}/locations/{_STATE['location']}/models/{mid}"
        self.resource_name = base
        self.versioned_resource_name = f"{base}@{version['id']}"
        self.version_id = version["id"]
        self.version_aliases = list(version["aliases"])
        self.uri = version["artifact_uri"]
        self.labels = dict(version["labels"])

    def list_model_evaluations(self):
        return [_Evaluation(e) for e in self._version.get("evaluations", [])]

    @classmethod
    def upload(cls, display_name=None, model_id=None, parent_model=None, artifact_uri=None,
               serving_container_image_uri=None, version_aliases=None, is_default_version=True, labels=None,
               encryption_spec_key_name=None, version_description=None, explanation_parameters=None,
               explanation_metadata=None, sync=True, serving_container_command=None, serving_container_args=None,
               serving_container_environment_variables=None, serving_container_ports=None,
               serving_container_predict_route=None, serving_container_health_route=None, **kw):
        from google.cloud.aiplatform_v1 import types as t

        parent = f"projects/{_STATE['project']}/locations/{_STATE['location']}"
        # the ModelContainerSpec Model.upload builds from its serving_container_* arguments
        container = {"image_uri": serving_container_image_uri or "", "command": list(serving_container_command or []),
                     "args": list(serving_container_args or []),
                     "env": [{"name": k, "value": v} for k, v in (serving_container_environment_variables or {}).items()],
                     "ports": [{"container_port": int(p)} for p in serving_container_ports or []],
                     "predict_route": serving_container_predict_route or "",
                     "health_route": serving_container_health_route or ""}
        spec = {"display_name": display_name, "artifact_uri": artifact_uri or "",
                "container_spec": container,
                "labels": labels or {}, "version_aliases": list(version_aliases or []),
                "version_description": version_description or "",
                "encryption_spec": {"kms_key_name": encryption_spec_key_name or ""}}
        if explanation_parameters is not None:
            spec["explanation_spec"] = {"parameters": explanation_parameters, "metadata": explanation_metadata}
        request = t.UploadModelRequest(parent=parent, model=spec, model_id=model_id or "",
                                       parent_model=parent_model or "")
        problems = []
        if not request.model.display_name or len(request.model.display_name) > 128:
            problems.append("display_name must be 1-128 characters")
        for k, v in request.model.labels.items():
            if not re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", k):
                problems.append(f"label key {k!r}")
            if not _LABEL_VALUE.fullmatch(v):
                problems.append(f"label value {v!r} (key {k})")
        for a in request.model.version_aliases:
            if not _ALIAS.fullmatch(a) or a == "default":
                problems.append(f"version alias {a!r}")
        if request.model_id and not _MODEL_ID.fullmatch(request.model_id):
            problems.append(f"model_id {request.model_id!r}")
        cs = request.model.container_spec
        if not cs.image_uri:
            problems.append("container_spec.image_uri is required (ModelContainerSpec: Required. Immutable.)")
        if not request.model.artifact_uri.startswith("gs://"):
            problems.append(f"artifact_uri {request.model.artifact_uri!r} is not a Cloud Storage URI")
        if problems:
            raise _invalid("UploadModel: invalid " + "; ".join(problems))
        mid = _model_id(parent_model) if parent_model else (model_id or display_name)
        doc = _load("models", mid + ".json", default={"id": mid, "display_name": display_name, "versions": []})
        if parent_model is None and doc["versions"]:
            raise _invalid(f"model {mid} already exists; upload a new version with parent_model")
        aliases = list(request.model.version_aliases)
        for v in doc["versions"]:  # an alias names one version: moving it takes it from the old one
            v["aliases"] = [a for a in v["aliases"] if a not in aliases]
            if is_default_version:
                v["aliases"] = [a for a in v["aliases"] if a != "default"]
        vid = str(len(doc["versions"]) + 1)
        doc["versions"].append({"id": vid, "aliases": aliases + (["default"] if is_default_version else []),
                                "artifact_uri": request.model.artifact_uri, "labels": dict(request.model.labels),
                                "image": request.model.container_spec.image_uri,
                                **({"container_spec": {
                                    "command": list(cs.command), "args": list(cs.args),
                                    "env": {e.name: e.value for e in cs.env},
                                    "ports": [pt.container_port for pt in cs.ports],
                                    "predict_route": cs.predict_route, "health_route": cs.health_route}}
                                   if cs.command else {}),
                                "description": request.model.version_description, "evaluations": [],
                                **({"explanation_inputs": list(request.model.explanation_spec.metadata.inputs)}
                                   if explanation_parameters is not None else {})})
        _save(doc, "models", mid + ".json")
        return cls(f"{mid}@{vid}")


class LocalModelServiceClient:
    def __init__(self, *a, **kw):
        pass

    def import_model_evaluation(self, parent=None, model_evaluation=None, **kw):
        from google.cloud.aiplatform_v1 import types as t
        from google.protobuf import json_format

        req = t.ImportModelEvaluationRequest(parent=parent, model_evaluation=model_evaluation)
        mid, _, vid = _model_id(req.parent), None, req.parent.rsplit("@", 1)[-1]
        doc = _load("models", mid + ".json")
        if doc is None:
            from google.api_core import exceptions
            raise exceptions.NotFound(f"Model {req.parent} not found")
        pb = t.ModelEvaluation.pb(req.model_evaluation)
        stored = {"metrics": json_format.MessageToDict(pb.metrics), "metadata": json_format.MessageToDict(pb.metadata),
                  "metrics_schema_uri": pb.metrics_schema_uri}
        for v in doc["versions"]:
            if v["id"] == vid:
                v["evaluations"].insert(0, stored)
        _save(doc, "models", mid + ".json")
        return req.model_evaluation


class LocalHyperparameterTuningJob:
    """aiplatform.HyperparameterTuningJob.get over the trials `mlspec run` recorded."""

    def __init__(self, doc):
        from google.cloud.aiplatform_v1 import types as t

        goal = t.StudySpec.MetricSpec.GoalType[doc["goal"]]
        self.gca_resource = t.HyperparameterTuningJob(
            name=doc["name"], study_spec={"metrics": [{"metric_id": doc["metric_id"], "goal": goal}]})
        self.trials = [t.Trial(id=tr["id"], final_measurement=(
            {"metrics": [{"metric_id": doc["metric_id"], "value": tr["value"]}]} if tr["value"] is not None else None))
            for tr in doc["trials"]]

    @classmethod
    def get(cls, resource_name, **kw):
        from google.api_core import exceptions

        doc = _load("tuning", resource_name.rsplit("/", 1)[-1] + ".json")
        if doc is None:
            raise exceptions.NotFound(f"HyperparameterTuningJob {resource_name} not found")
        return cls(doc)


class LocalPipelineJob:
    """aiplatform.PipelineJob.get over the task states `mlspec run` recorded for the run."""

    def __init__(self, doc):
        from google.cloud.aiplatform_v1 import types as t

        self.resource_name = doc["name"]
        self.task_details = [t.PipelineTaskDetail(task_name=d["task_name"],
                                                  state=t.PipelineTaskDetail.State[d["state"]])
                             for d in doc["task_details"]]

    @classmethod
    def get(cls, resource_name, **kw):
        from google.api_core import exceptions

        doc = _load("pipeline_jobs", resource_name.rsplit("/", 1)[-1] + ".json")
        if doc is None:
            raise exceptions.NotFound(f"PipelineJob {resource_name} not found")
        return cls(doc)


class _Response:
    status_code = 200

    def raise_for_status(self):
        return None


class LocalAuthorizedSession:
    """google.auth's AuthorizedSession in a local run: Cloud Logging writes land in the registry's
    logs/<log>.jsonl (each entry checked as the API would: a project log name, a resource, a payload);
    nothing else is served (a local run has no network)."""

    def __init__(self, credentials=None, **kw):
        pass

    def post(self, url, json=None, **kw):
        import json as _json

        if url != "https://logging.googleapis.com/v2/entries:write":
            raise RuntimeError(f"mlspec run: no local service for {url}")
        for e in (json or {}).get("entries") or []:
            m = re.fullmatch(r"projects/[^/]+/logs/([A-Za-z0-9_.\-/]{1,512})", e.get("logName") or "")
            if not m or not (e.get("resource") or {}).get("type") or not e.get("jsonPayload"):
                raise RuntimeError(f"entries.write: invalid entry {e!r}")
            with open(_path("logs", m.group(1) + ".jsonl"), "a", encoding="utf-8") as f:
                f.write(_json.dumps(e, sort_keys=True) + "\n")
        return _Response()


def _patch_auth(mod):
    mod.default = lambda scopes=None, **kw: (None, _STATE["project"] or None)


def _patch_requests(mod):
    mod.AuthorizedSession = LocalAuthorizedSession


def _patch(mod):
    for name in ("init", "start_run", "log_params", "log_metrics", "end_run"):
        setattr(mod, name, globals()[name])
    mod.Model = LocalModel
    mod.HyperparameterTuningJob = LocalHyperparameterTuningJob
    mod.PipelineJob = LocalPipelineJob
    mod.gapic = types.SimpleNamespace(ModelServiceClient=LocalModelServiceClient)


sitecustomize.after_import("google.cloud.aiplatform", _patch)
sitecustomize.after_import("google.auth", _patch_auth)
sitecustomize.after_import("google.auth.transport.requests", _patch_requests)
