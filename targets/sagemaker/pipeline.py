"""IR pipeline -> SageMaker Pipelines definition (Version 2020-12-01), as plain data.

Input: one environment's IR and one of its pipelines, plus the per-environment lowering
context (:class:`mlspec.targets.sagemaker.lower.EnvContext`). Output: the definition dict, the
support files it references (Clarify analysis configs) and diagnostics. Pure; no I/O.

Deploy-time values (bucket names, role ARNs, KMS key, subnets, security groups) are pipeline
*parameters* whose DefaultValue is a `${token}` the Pulumi program resolves when it creates
the `aws.sagemaker.Pipeline`; so the definition written to the build is exactly the deployed
one, up to those defaults, and passes botocore's request shapes as is.

Every job step carries VpcConfig, network isolation (spec steps; see the notes for Clarify),
inter-container traffic encryption and the environment's KMS key on volumes and outputs
(SECURITY.md MLS-AWS-068). Step reference:
https://docs.aws.amazon.com/sagemaker/latest/dg/build-and-manage-steps-types.html
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable

from mlspec.compiler import contract

from mlspec.targets.base import Diagnostic, local_name
from mlspec.targets.sagemaker import images, naming, storage

CODE_DIR = "/opt/ml/processing/input/code"
CONTENT_TYPES = {"csv": "text/csv", "parquet": "application/x-parquet", "jsonl": "application/jsonlines",
                 "tfrecord": "application/x-tfrecord", "delta": "application/x-parquet"}
CONDITIONS = {">=": "GreaterThanOrEqualTo", ">": "GreaterThan", "<=": "LessThanOrEqualTo",
              "<": "LessThan", "==": "Equals"}
PRE_TRAINING_BIAS = {"CI", "DPL", "KL", "JS", "LP", "TVD", "KS", "CDDL"}
#: declared data format -> Clarify's `dataset_type` (JSON Lines must be dense lists for Clarify)
CLARIFY_DATASET_TYPES = {"csv": "text/csv", "parquet": "application/x-parquet"}
#: declared data formats the data-quality baseline helper (_mlspec/baseline_features.py) reads
FEATURE_FORMATS = ("csv", "parquet", "jsonl")
LAUNCHER = "_mlspec/launch.py"
#: pipeline step types that take RetryPolicies (the SDK's ConfigurableRetryStep), and those that
#: run a SageMaker job (SageMakerJobStepRetryPolicy applies)
RETRYABLE = ("Processing", "Training", "Tuning", "Transform", "Model", "RegisterModel")
JOB_STEPS = ("Processing", "Training", "Tuning", "Transform")
#: the container directory SageMaker syncs with CheckpointConfig.S3Uri (its default LocalPath)
CHECKPOINT_DIR = "/opt/ml/checkpoints"
#: the longest MaxWaitTimeInSeconds mlspec asks for: 28 days, SageMaker's MaxRuntimeInSeconds maximum
SPOT_MAX_WAIT_S = 28 * 86400
#: the shortest ResourceLimits.MaxRuntimeInSeconds of a tuning job (botocore: min 120)
TUNING_MIN_RUNTIME_S = 120
#: model format -> the frameworks whose SageMaker serving container has its loader (mlspec's
#: handler loads model.bst with xgboost, model.joblib with joblib); other formats need `serve`
SERVED_FORMATS = {"xgboost": ("xgboost",), "sklearn": ("sklearn",)}
#: serving containers that do not run a model_fn/predict_fn handler module (TensorFlow Serving)
NO_HANDLER_FRAMEWORKS = ("tensorflow",)
#: the handler the serving container runs: `code/` of model.tar.gz (written by the package step)
SERVE_ENV = {"SAGEMAKER_PROGRAM": "mlspec_serve.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
HELPER_SCRIPTS = {"validate": "_mlspec/validate_data.py", "package": "_mlspec/package_model.py", "gate": "_mlspec/gate_values.py",
                  "bias": "_mlspec/bias_limits.py",
                  "drift": "_mlspec/drift_threshold.py", "features": "_mlspec/baseline_features.py"}


def code_dir(step: dict, script: str) -> str:
    """The step's code folder (IR `code_dir`; before IR v2: the script's folder)."""
    return step.get("code_dir") or (script.rsplit("/", 1)[0] if "/" in script else "")


def volume_key(resources: dict, key: Any = None) -> dict:
    """`resources` with the environment's KMS key on the ML storage volume, except on instance
    types with local NVMe storage: the API rejects a VolumeKmsKeyId there (the hardware encrypts
    it; see storage.py)."""
    if not storage.has_local_storage(resources["InstanceType"]):
        resources["VolumeKmsKeyId"] = param("KmsKeyId") if key is None else key
    return resources


def get(path: str) -> dict:
    return {"Get": path}


def param(name: str) -> dict:
    return {"Get": f"Parameters.{name}"}


def join(*values: Any, on: str = "/") -> dict:
    return {"Std:Join": {"On": on, "Values": list(values)}}


def bias_monitor_spec(env: Any, mo: dict, label: str) -> dict:
    """The bias_drift monitor's Clarify analysis config without `headers` (the pipeline's
    baseline_features step adds the columns the endpoint receives, then the label):
    the served model's positive label, the facets and the post-training metric.
    https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-config-json-monitor-bias-parameters.html"""
    ep = env.endpoints.get(mo["endpoint"]) or {}
    served = env.models.get(ep.get("model") or "") or {}
    metric = (mo.get("metric") or "dppl").upper()
    stage = "pre_training_bias" if metric in PRE_TRAINING_BIAS else "post_training_bias"
    positive = served.get("positive_label")
    return {"label": label, "label_values_or_threshold": [1 if positive is None else positive],
            "facet": [{"name_or_index": f} for f in mo.get("facets") or []],
            "methods": {stage: {"methods": [metric]}}}


class PipelineBuilder:
    """Builds one pipeline definition; one `step_<kind>` method per IR step kind (STEP_TABLE)."""

    def __init__(self, env: Any, pipeline: dict):
        self.env = env
        self.ir = env.ir
        self.p = pipeline
        self.name = env.pipeline_name(pipeline)
        self.steps_by_id = {s["id"]: s for s in pipeline["steps"]}
        self.out: dict[str, dict] = {}  # step id -> SageMaker step
        self.extra: dict[str, list[dict]] = {}  # step id -> helper steps emitted after it
        self.packages: dict[str, Any] = {}  # training step id -> packaged model.tar.gz URI (None: raw)
        self.files: list[tuple[str, Any]] = []  # (path under build, json content)
        self.diagnostics: list[Diagnostic] = []
        self.notes: list[str] = []
        self.params: list[dict] = []

    # ------------------------------------------------------------------ helpers
    def sname(self, step_id: str, *suffix: str) -> str:
        return naming.step_name(local_name(step_id), *suffix)

    def diag(self, ir_id: str, summary: str, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic("E505", summary, ir_id, hint))

    def add_param(self, name: str, ptype: str, default: Any) -> None:
        self.params.append({"Name": name, "Type": ptype, "DefaultValue": default})

    def s3(self, *parts: Any) -> dict:
        """An S3 URI under this pipeline's execution folder in the artifacts bucket."""
        # helper steps' ids carry `#` (`step.fairness#limits`): S3 lists `#` among the key
        # characters to avoid (it starts a URL fragment), so it becomes `-` in key parts
        return join("s3:/", param("ArtifactsBucket"), "pipelines", self.name,
                    get("Execution.PipelineExecutionId"), *(p.replace("#", "-") if isinstance(p, str) else p
                                                           for p in parts))

    def code_uri(self, path: str) -> dict:
        return join("s3:/", param("ArtifactsBucket"), "code", path)

    def vpc(self) -> dict:
        return {"SecurityGroupIds": [param(n) for n in self.env.sg_params],
                "Subnets": [param(n) for n in self.env.subnet_params]}

    def network(self, isolate: bool) -> dict:
        return {"EnableInterContainerTrafficEncryption": True, "EnableNetworkIsolation": isolate,
                "VpcConfig": self.vpc()}

    def instance(self, compute: dict | None, api: str = "TrainingInstanceType") -> tuple[str, int]:
        return self.env.instance_type(compute, api), int((compute or {}).get("instance_count") or 1)

    def stopping(self, step: dict, default: int = 86400) -> dict:
        return {"MaxRuntimeInSeconds": int(step.get("max_runtime_s") or default)}

    def spot(self, s: dict, job: dict, per_job: bool) -> None:
        """`spot = true`: managed spot training with checkpoints (docs/targets/sagemaker.md).

        Wait budget: MaxWaitTimeInSeconds (waiting for spot capacity plus running) is twice the
        job's MaxRuntimeInSeconds, at most 28 days, and for a tune step at most its
        `max_total_runtime` (never below MaxRuntimeInSeconds, as SageMaker requires).
        Checkpoints: SageMaker syncs CheckpointConfig.LocalPath with S3Uri, a per-step prefix of
        the pipeline execution's folder, and restores it when a job restarts after an
        interruption. The launcher passes the contract's `--checkpoints` as that LocalPath, a
        tuning trial its own sub-folder named after its training job (``per_job``): trials
        never resume each other's checkpoints."""
        run = job["StoppingCondition"]["MaxRuntimeInSeconds"]
        wait = min(2 * run, SPOT_MAX_WAIT_S)
        if s.get("max_total_runtime_s"):
            wait = min(wait, int(s["max_total_runtime_s"]))
        job["StoppingCondition"]["MaxWaitTimeInSeconds"] = max(run, wait)
        job["EnableManagedSpotTraining"] = True
        job["CheckpointConfig"] = {"S3Uri": self.s3(local_name(s["id"]), "checkpoints"),
                                   "LocalPath": CHECKPOINT_DIR}
        hps = job.get("HyperParameters", job.get("StaticHyperParameters"))
        if hps is not None and "mlspec_script" in hps:
            hps["mlspec_checkpoints"] = CHECKPOINT_DIR
            if per_job:
                hps["mlspec_checkpoints_per_job"] = "true"

    def uri_of(self, ref: str, consumer: dict) -> Any:
        """S3 URI (literal or expression) of a dataset or step output reference."""
        if ref.startswith("dataset."):
            ds = self.env.datasets.get(ref)
            return self.env.dataset_uri(ds) if ds else ""
        parts = ref.split(".")
        sid = ".".join(parts[:2])
        src = self.steps_by_id.get(sid)
        if src is None:
            self.diag(consumer["id"], f"`{ref}` is not a step of pipeline `{self.p['name']}`")
            return ""
        out = parts[-1]
        kind = src["kind"]
        if kind == "validate":
            return self.uri_of(src["data"], consumer)
        if kind in ("train", "tune") and out == "model":
            return self.model_uri(sid)
        if kind == "batch_transform":
            return get(f"Steps.{self.sname(sid)}.TransformOutput.S3OutputPath")
        return get(f"Steps.{self.sname(sid)}.ProcessingOutputConfig.Outputs['{out}'].S3Output.S3Uri")

    def model_uri(self, train_id: str) -> Any:
        src = self.steps_by_id[train_id]
        if src["kind"] == "tune":
            return join("s3:/", param("ArtifactsBucket"), "pipelines", self.name, "tuning",
                        get(f"Steps.{self.sname(train_id)}.TrainingJobSummaries[0].TrainingJobName"),
                        "output", "model.tar.gz")
        return get(f"Steps.{self.sname(train_id)}.ModelArtifacts.S3ModelArtifacts")

    def train_of(self, ref: str) -> dict | None:
        sid = ".".join(ref.split(".")[:2])
        s = self.steps_by_id.get(sid)
        return s if s and s["kind"] in ("train", "tune") else None

    def image_for(self, step: dict, scope: str = "training", gpu: bool | None = None) -> str:
        """Image of a train/tune step (or of the step that trained `step`'s model). `gpu`: whether
        the image runs on a GPU instance (default: the step's own compute; an inference image
        follows the instances that serve the model, not the ones that trained it)."""
        if step.get("image"):
            return step["image"]
        fw = step.get("framework") or {}
        if fw.get("name") == "custom" or not fw:
            self.diag(step["id"], f"step `{step['name']}` needs an `image`")
            return ""
        if gpu is None:
            gpu = self.env.is_gpu(step.get("compute"))
        try:
            uri = images.framework_image(fw["name"], str(fw.get("version") or ""), self.env.region, gpu, scope)
        except images.ImageError as e:
            self.diag(step["id"], str(e), "pick a version listed by SageMaker or give `image`")
            return ""
        if gpu and not images.has_gpu_image(fw["name"], str(fw.get("version") or ""), scope):
            self.diagnostics.append(Diagnostic(
                "W505", f"SageMaker has no GPU {scope} image for `{fw['name']}` {fw.get('version')}; step "
                        f"`{step['name']}` runs the CPU image on its GPU instance", step["id"],
                "use a cpu.* compute class, or set `image` to a GPU image", severity="warning"))
        return uri

    def helper_image(self) -> str:
        try:
            return images.processing_image(self.env.region)
        except images.ImageError as e:
            self.diag(self.p["id"], str(e))
            return ""

    def processing(self, step: dict, image: str, entry: list[str], inputs: list[dict],
                   outputs: list[str], *, isolate: bool | None = None, args: list[str] | None = None,
                   compute: dict | None = None) -> dict:
        itype, icount = self.instance(compute if compute is not None else step.get("compute"),
                                      "ProcessingInstanceType")
        app: dict[str, Any] = {"ImageUri": image, "ContainerEntrypoint": entry}
        if args:
            app["ContainerArguments"] = args
        proc_inputs = []
        for i, (name, uri, local) in enumerate((x["name"], x["uri"], x["local"]) for x in inputs):
            proc_inputs.append({"InputName": name, "AppManaged": False, "S3Input": {
                "S3Uri": uri, "LocalPath": local, "S3DataType": "S3Prefix", "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None"}})
        outs = [{"OutputName": o, "AppManaged": False, "S3Output": {
            "S3Uri": self.s3(local_name(step["id"]), o), "LocalPath": f"/opt/ml/processing/output/{o}",
            "S3UploadMode": "EndOfJob"}} for o in outputs]
        net_iso = step.get("network_isolation", True) if isolate is None else isolate
        return {
            "ProcessingResources": {"ClusterConfig": volume_key({
                "InstanceType": itype, "InstanceCount": icount, "VolumeSizeInGB": 30})},
            "AppSpecification": app,
            "RoleArn": param("JobRoleArn"),
            "ProcessingInputs": proc_inputs,
            "ProcessingOutputConfig": {"Outputs": outs, "KmsKeyId": param("KmsKeyId")},
            "NetworkConfig": self.network(bool(net_iso)),
            "StoppingCondition": self.stopping(step),
            "Environment": {"MLSPEC_STEP": step["name"]},
        }

    def code_input(self, script: str = "") -> dict:
        """The build's whole code tree (user code folders and mlspec's helpers) at CODE_DIR."""
        return {"name": "code", "uri": self.code_uri(""), "local": CODE_DIR}

    def config_input(self, ir_id: str, spec: dict) -> dict:
        """A JSON spec for one of mlspec's helper scripts, uploaded by the program (a folder per step)."""
        folder = f"config/{self.env.env_name}/{self.name}/{ir_id.replace('.', '-').replace('#', '-')}"
        self.files.append((f"{folder}/spec.json", spec))
        return {"name": "config", "uri": join("s3:/", param("ArtifactsBucket"), folder, ""),
                "local": "/opt/ml/processing/input/config"}

    def entry(self, script: str) -> list[str]:
        return ["python3", f"{CODE_DIR}/{script}"]

    def launch(self, s: dict, paths: dict[str, str], script: str) -> tuple[list[str], list[str]]:
        """(entrypoint, arguments) running a user script through mlspec's launcher with the
        contract's command line (compiler.contract.script_argv), paths as the job sees them."""
        argv = contract.script_argv(s, paths)
        extract = [a for f in contract.script_flags(s) if f.role == "model_in" for a in ("--extract", f.name)]
        retry = ["--retries", str(int(s["retries"]))] if s.get("retries") else []
        req = self.requirements(s)
        req = ["--requirements", req[0], "--index-url", req[1]] if req else []
        args = ["--script", script, "--code-dir", code_dir(s, script), *extract, *retry, *req, "--", *argv]
        return self.entry(LAUNCHER), args

    # ------------------------------------------------------------------ step kinds
    def step_validate(self, s: dict) -> dict:
        ds = self.env.datasets.get(s["data"])
        if ds is None:
            self.diag(s["id"], f"unknown dataset `{s['data']}`")
            return {}
        if ds["format"] in ("tfrecord",):
            self.diag(s["id"], f"data checks cannot read `{ds['format']}` data on SageMaker",
                      "convert the dataset to parquet, csv or jsonl, or drop the validate step")
        checks = dict(ds.get("checks") or {})
        checks.update({k: v for k, v in (s.get("checks") or {}).items() if v is not None})
        spec = {"format": ds["format"], "checks": checks, "schema": ds.get("schema") or []}
        args = ["--spec-file", "/opt/ml/processing/input/config/spec.json"]
        script = HELPER_SCRIPTS["validate"]
        a = self.processing(s, self.helper_image(), self.entry(script),
                            [self.code_input(script), self.config_input(s["id"], spec),
                             {"name": "data", "uri": self.env.dataset_uri(ds), "local": "/opt/ml/processing/input/data"}],
                            ["report"], args=args)
        return {"Type": "Processing", "Arguments": a}

    def step_process(self, s: dict) -> dict:
        inputs, paths = [self.code_input()], {}
        for f in contract.script_flags(s):
            if f.role == "input":
                paths[f.name] = f"/opt/ml/processing/input/{f.name}"
                inputs.append({"name": f.name, "uri": self.uri_of(f.ref, s), "local": paths[f.name]})
            elif f.role == "output":
                paths[f.name] = f"/opt/ml/processing/output/{f.name}"
        image = s.get("image") or self.helper_image()
        entry, args = self.launch(s, paths, s["script"])
        a = self.processing(s, image, entry, inputs, list(s.get("outputs") or []), args=args)
        return {"Type": "Processing", "Arguments": a}

    def training_definition(self, s: dict) -> dict:
        itype, icount = self.instance(s.get("compute"))
        entry = s.get("entry_point") or ""
        # parameters as the contract writes them; the launcher passes them on verbatim
        hp = {k: contract.param_text(v) for k, v in sorted((s.get("hyperparameters") or {}).items())}
        channels = []
        flags = contract.script_flags(s) if entry else []
        inputs = [(f.name, f.ref) for f in flags if f.role == "input"] or [
            (contract.input_name(r), r) for r in s.get("inputs") or []]
        if entry:
            # the framework toolkit runs mlspec's launcher from the whole code tree (channel
            # mlspec_code); the launcher gives the entry point the contract's command line
            hp["sagemaker_program"] = json.dumps(LAUNCHER)
            hp["sagemaker_submit_directory"] = json.dumps("/opt/ml/input/data/mlspec_code")
            hp["mlspec_script"] = entry
            hp["mlspec_code_dir"] = code_dir(s, entry)
            hp["mlspec_inputs"] = ",".join(n for n, _ in inputs)
            if s.get("retries"):  # the launcher reruns a failed script (RetryPolicies cover the job)
                hp["mlspec_retries"] = str(int(s["retries"]))
            if s.get("distribution") and icount > 1:  # torch.distributed variables from resourceconfig.json
                hp["mlspec_distribution"] = s["distribution"]
            req = self.requirements(s)
            if req:  # pip-installed by the launcher before the script, from the mirror
                hp["mlspec_requirements"], hp["mlspec_index_url"] = req
            channels.append({"ChannelName": "mlspec_code", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": self.code_uri(""),
                "S3DataDistributionType": "FullyReplicated"}}, "InputMode": "File"})
        for name, ref in inputs:
            ch = {"ChannelName": name, "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": self.uri_of(ref, s),
                "S3DataDistributionType": "FullyReplicated"}}}
            if ref.startswith("dataset.") and ref in self.env.datasets:
                ch["ContentType"] = CONTENT_TYPES[self.env.datasets[ref]["format"]]
            channels.append(ch)
        return {
            "AlgorithmSpecification": {"TrainingImage": self.image_for(s), "TrainingInputMode": "File"},
            "RoleArn": param("JobRoleArn"),
            "HyperParameters": hp,
            "InputDataConfig": channels,
            "OutputDataConfig": {"S3OutputPath": self.s3(local_name(s["id"]), "model"),
                                 "KmsKeyId": param("KmsKeyId")},
            "ResourceConfig": volume_key({"InstanceType": itype, "InstanceCount": icount, "VolumeSizeInGB": 30}),
            "StoppingCondition": self.stopping(s),
            "VpcConfig": self.vpc(),
            "EnableNetworkIsolation": bool(s.get("network_isolation", True)),
            "EnableInterContainerTrafficEncryption": True,
        }

    def step_train(self, s: dict) -> dict:
        a = self.training_definition(s)
        a["Environment"] = {"MLSPEC_STEP": s["name"]}
        if s.get("spot"):
            self.spot(s, a, per_job=False)
        return {"Type": "Training", "Arguments": a}

    def step_tune(self, s: dict) -> dict:
        d = self.training_definition(s)
        static = d.pop("HyperParameters")
        for n in (s.get("ranges") or {}):
            static.pop(n, None)
        d["StaticHyperParameters"] = static
        if s.get("spot"):
            self.spot(s, d, per_job=True)
        d["OutputDataConfig"]["S3OutputPath"] = join("s3:/", param("ArtifactsBucket"), "pipelines",
                                                     self.name, "tuning")
        obj = s.get("objective") or {}
        metric = obj.get("metric", "objective")
        # the launcher prints `mlspec-metric <name>=<value>` from the trial's evaluation.json
        d["AlgorithmSpecification"]["MetricDefinitions"] = [
            {"Name": metric, "Regex": f"mlspec-metric {re.escape(metric)}=([-+0-9.eE]+)"}]
        cont, integ, cat = [], [], []
        for n, r in sorted((s.get("ranges") or {}).items()):
            if r["type"] == "continuous":
                cont.append({"Name": n, "MinValue": str(r["min"]), "MaxValue": str(r["max"])})
            elif r["type"] == "integer":
                integ.append({"Name": n, "MinValue": str(int(r["min"])), "MaxValue": str(int(r["max"]))})
            else:
                cat.append({"Name": n, "Values": [str(v) for v in r.get("values") or []]})
        cfg = {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {
                "Type": "Maximize" if obj.get("direction", "maximize") == "maximize" else "Minimize",
                "MetricName": metric},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": int(s.get("max_trials") or 10),
                               "MaxParallelTrainingJobs": int(s.get("parallel_trials") or 1)},
            "ParameterRanges": {"ContinuousParameterRanges": cont, "IntegerParameterRanges": integ,
                                "CategoricalParameterRanges": cat},
        }
        if s.get("max_total_runtime_s"):
            # the whole tuning job's limit (each trial's is its StoppingCondition); SageMaker's
            # ResourceLimits.MaxRuntimeInSeconds takes 120 s .. 15,768,000 s (182.5 days)
            total = int(s["max_total_runtime_s"])
            cfg["ResourceLimits"]["MaxRuntimeInSeconds"] = max(total, TUNING_MIN_RUNTIME_S)
            if total < TUNING_MIN_RUNTIME_S:
                self.diagnostics.append(Diagnostic(
                    "W505", f"SageMaker limits a tuning job to at least {TUNING_MIN_RUNTIME_S} s; step "
                            f"`{s['name']}`'s max_total_runtime of {total} s becomes {TUNING_MIN_RUNTIME_S} s",
                    s["id"], "set `max_total_runtime` to 2m or more", severity="warning"))
        return {"Type": "Tuning", "Arguments": {"HyperParameterTuningJobConfig": cfg,
                                                "TrainingJobDefinition": d}}

    def step_evaluate(self, s: dict) -> dict:
        train = self.train_of(s["model"])
        image = self.image_for(train) if train else self.helper_image()
        inputs, paths = [self.code_input()], {}
        for f in contract.script_flags(s):
            if f.role == "input":
                paths[f.name] = f"/opt/ml/processing/input/{f.name}"
                inputs.append({"name": f.name, "uri": self.uri_of(f.ref, s), "local": paths[f.name]})
            elif f.role == "model_in":  # model.tar.gz here; the launcher extracts it (--extract model)
                paths[f.name] = "/opt/ml/processing/model"
                inputs.append({"name": "model", "uri": self.uri_of(f.ref, s), "local": paths[f.name]})
            elif f.role == "metrics":
                paths[f.name] = "/opt/ml/processing/output/metrics"
        entry, args = self.launch(s, paths, s["script"])
        a = self.processing(s, image, entry, inputs, ["metrics"], args=args)
        a["Environment"]["MLSPEC_METRICS"] = ",".join(s.get("metrics") or [])
        return {"Type": "Processing", "Arguments": a,
                "PropertyFiles": [{"PropertyFileName": self.property_file(s["id"]),
                                   "OutputName": "metrics", "FilePath": "evaluation.json"}]}

    def property_file(self, step_id: str) -> str:
        return self.sname(step_id, "metrics")

    def model_step(self, s: dict, model_ref: str) -> str:
        """A CreateModel step for Clarify/Transform (one per trained model), placed before `s`."""
        train = self.train_of(model_ref)
        name = self.sname(train["id"] if train else s["id"], "model")
        if name in self.model_steps:
            return name
        self.model_steps.add(name)
        itype, _ = self.instance(s.get("compute"))  # the Transform / Clarify shadow endpoint instance
        container = {"Image": self.image_for(train, "inference", self.env.gpu_instance(itype)) if train else "",
                     "ModelDataUrl": self.uri_of(model_ref, s)}
        packaged = self.package(model_ref, s, serving=True)
        if packaged is not None:  # the model with mlspec's serving handler in code/
            container["ModelDataUrl"], container["Environment"] = packaged, dict(SERVE_ENV)
        step = {"Name": name, "Type": "Model", "Arguments": {
            "ExecutionRoleArn": param("JobRoleArn"), "PrimaryContainer": container,
            "VpcConfig": self.vpc(), "EnableNetworkIsolation": True}}
        self.pre.setdefault(s["id"], []).append(step)
        return name

    def package(self, model_ref: str, consumer: dict, serving: bool) -> Any:
        """The S3 URI of the trained model packaged for SageMaker's serving container (a
        Processing step running `_mlspec/package_model.py` in the serving image: the model files
        plus `code/` with mlspec's handler, the `serve` code and its vendored requirements), or
        None to use the training job's model.tar.gz as is (no spec model, a custom image, or a
        format nothing serves while nothing serves it). `serving`: an endpoint, batch job or
        Clarify shadow endpoint runs the model, so an unservable one is refused (E505)."""
        train = self.train_of(model_ref)
        model = self.model_of(model_ref)
        if train is None or not model or not (train.get("framework") or {}).get("name"):
            return None
        key = train["id"]
        if key in self.packages:
            return self.packages[key]
        fw = train["framework"]["name"]
        serve = model.get("serve")
        fmt = model.get("format")
        if serve:
            if fw in NO_HANDLER_FRAMEWORKS:
                self.diag(model["id"], f"model `{model['name']}` declares `serve`, and SageMaker's `{fw}` serving "
                                       "container (TensorFlow Serving) runs no Python model handler",
                          "train it with a framework whose serving container runs handlers (sklearn, xgboost, "
                          "pytorch, huggingface), or drop `serve`")
                self.packages[key] = None
                return None
        elif fmt not in SERVED_FORMATS or fw not in SERVED_FORMATS[fmt]:
            if serving:
                pairs = "; ".join(f"`{f}` on the {'/'.join(fws)} container" for f, fws in SERVED_FORMATS.items())
                self.diag(model["id"] if consumer["kind"] == "register" else consumer["id"],
                          f"model `{model['name']}` (format `{fmt or 'undeclared'}`, framework `{fw}`) is served, "
                          f"and SageMaker's `{fw}` serving container has no loader for it without serving code",
                          f"SageMaker serves {pairs} without `serve`; write one of them, or add a `serve` block "
                          "(load(model_dir) / predict(model, rows))")
            self.packages[key] = None
            return None
        index = ""
        if serve and serve.get("requirements"):
            index = self.env.settings.get("pip_index_url") or ""
            if not index:
                self.diag(model["id"], f"model `{model['name']}` has serve `requirements`, and SageMaker models run "
                                       "network-isolated on a private network: the packages must be vendored into "
                                       "the model from a mirror",
                          'set `pip_index_url = "https://<mirror>/simple/"` in `target sagemaker` (reachable '
                          "from the private network); the package step downloads the wheels into model.tar.gz")
                self.packages[key] = None
                return None
        train_in = (train.get("inputs") or [None])[0]
        data_fmt = self.data_format(train_in) if train_in else None
        _, ds_label = self.env.headers_for(train_in, self.steps_by_id) if train_in else ([], None)
        spec: dict[str, Any] = {
            "format": fmt, "task": model.get("task"), "positive_label": model.get("positive_label"),
            "prediction": (model.get("prediction") or {}).get("output") or "label",
            "threshold": (model.get("prediction") or {}).get("threshold"),
            "label": model.get("label") or ds_label, "drop": self.id_columns(train_in) if train_in else [],
            "data_format": data_fmt if data_fmt in FEATURE_FORMATS else None}
        if serve:
            entry = serve["entry_point"]
            root = serve.get("code_dir") or entry.rsplit("/", 1)[0]
            rel = entry[len(root) + 1:] if entry.startswith(root + "/") else entry.rsplit("/", 1)[-1]
            spec.update({"handler": rel[:-3].replace("/", ".") if rel.endswith(".py") else rel,
                         "handler_dir": root, "requirements": serve.get("requirements")})
        pstep = {"id": key + "#package", "name": train["name"] + "_package", "compute": None,
                 "max_runtime_s": 3600, "network_isolation": not index}
        if index:
            self.notes.append(f"`{model['id']}`: the package step `{self.sname(key, 'package')}` runs without "
                              "container network isolation (VPC only) to download the `serve` requirements from "
                              "`pip_index_url` into model.tar.gz; the served model stays network-isolated")
        script = HELPER_SCRIPTS["package"]
        cfg = self.config_input(pstep["id"], spec)
        inputs = [self.code_input(script),
                  {"name": "model", "uri": self.model_uri(key), "local": "/opt/ml/processing/input/model"}]
        if spec["data_format"]:
            inputs.append({"name": "data", "uri": self.uri_of(train_in, pstep), "local": "/opt/ml/processing/input/data"})
        a = self.processing(pstep, self.image_for(train, "inference", False), self.entry(script), inputs + [cfg],
                            ["model"], args=["--spec", cfg["local"] + "/spec.json"]
                            + (["--index-url", index] if index else []))
        name = self.sname(key, "package")
        self.extra.setdefault(key, []).append({"Name": name, "Type": "Processing", "Arguments": a})
        uri = join(get(f"Steps.{name}.ProcessingOutputConfig.Outputs['model'].S3Output.S3Uri"), "model.tar.gz")
        self.packages[key] = uri
        return uri

    def data_format(self, ref: str) -> str | None:
        """The declared format of the data behind `ref` (a dataset, or a step's output)."""
        if ref in self.env.datasets:
            return self.env.datasets[ref].get("format")
        parts = ref.split(".")
        st = self.steps_by_id.get(".".join(parts[:2]))
        if st is None:
            return None
        out = parts[-1] if len(parts) > 2 else ((st.get("outputs") or [None])[0])
        fmt = (st.get("output_formats") or {}).get(out)
        if fmt is None and st["kind"] == "validate":  # validate passes its dataset through
            return self.data_format(st.get("data") or "")
        return fmt

    def id_columns(self, ref: str) -> list[str]:
        """`role = id` columns of the dataset behind `ref` (record keys, not features)."""
        seen = set()
        while ref and not ref.startswith("dataset.") and ref not in seen:
            seen.add(ref)
            st = self.steps_by_id.get(".".join(ref.split(".")[:2])) or {}
            ins = [st.get("data")] if st.get("data") else list(st.get("inputs") or [])
            ref = ins[0] if ins else ""
        ds = self.env.datasets.get(ref) or {}
        return [c["name"] for c in ds.get("schema") or [] if c.get("role") == "id"]

    def model_of(self, model_ref: str) -> dict:
        """The spec model trained by the step output `model_ref` ({} when none is declared)."""
        train = self.train_of(model_ref)
        for m in self.env.models.values():
            src = m.get("source") or ""
            if src == model_ref or (train is not None and self.train_of(src) is train):
                return m
        return {}

    def clarify(self, s: dict, check: str, methods: dict, extra_outputs: bool = False) -> dict:
        ds_ref = s["data"]
        model = self.model_of(s["model"])
        _, ds_label = self.env.headers_for(ds_ref, self.steps_by_id)
        fmt = self.data_format(ds_ref)
        if fmt not in CLARIFY_DATASET_TYPES:
            self.diag(s["id"], f"SageMaker Clarify cannot read the `{fmt or 'undeclared'}` data of `{ds_ref}` "
                               f"for step `{s['name']}`",
                      "declare the producing step's `output_format = parquet` (or csv)")
        cfg_path = f"config/{self.env.env_name}/{self.name}/{local_name(s['id'])}/analysis_config.json"
        itype, _ = self.instance(s.get("compute"), "ProductionVariantInstanceType")  # the shadow endpoint
        # column names come from the data itself: the csv header row, the parquet schema
        # (an explicit `headers` list would make Clarify read a csv header row as data)
        cfg: dict[str, Any] = {"dataset_type": CLARIFY_DATASET_TYPES.get(fmt, "text/csv"),
                               "label": s.get("label") or model.get("label") or ds_label, "methods": methods}
        if check in ("DATA_BIAS", "MODEL_BIAS"):
            positive = model.get("positive_label")
            cfg["label_values_or_threshold"] = [1 if positive is None else positive]
            cfg["facet"] = [{"name_or_index": f} for f in s.get("facets") or []]
        step: dict[str, Any] = {}
        if check != "DATA_BIAS":  # post-training bias and SHAP query a shadow endpoint of the model
            model_step_name = self.model_step(s, s["model"])
            cfg["predictor"] = {"instance_type": itype, "initial_instance_count": 1,
                                "content_type": "text/csv", "accept_type": "text/csv"}
            pred = model.get("prediction") or {}
            if pred.get("output") == "probability":
                cfg["probability_threshold"] = float(pred.get("threshold", 0.5))
            step["ModelName"] = get(f"Steps.{model_step_name}.ModelName")
        self.files.append((cfg_path, cfg))
        a = self.processing(
            s, self.env.tool_image("clarify", s["id"], self), [],
            [{"name": "analysis_config", "uri": join("s3:/", param("ArtifactsBucket"), cfg_path),
              "local": "/opt/ml/processing/input/config"},
             {"name": "dataset", "uri": self.uri_of(ds_ref, s), "local": "/opt/ml/processing/input/data"}],
            ["analysis_result"], isolate=None if check == "DATA_BIAS" else False)
        a["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["LocalPath"] = "/opt/ml/processing/output"
        del a["AppSpecification"]["ContainerEntrypoint"]
        step = {"Type": "ClarifyCheck", "Arguments": a, "CheckType": check,
                "ModelPackageGroupName": self.env.group_name_for_pipeline(self.p),
                "SkipCheck": False, "RegisterNewBaseline": True, **step}
        if check != "DATA_BIAS":
            self.notes.append(f"`{s['id']}`: ClarifyCheck jobs run without container network isolation "
                              "(Clarify calls a shadow endpoint through the VPC's SageMaker runtime endpoint); "
                              "VPC, KMS and inter-container encryption stay on")
        return step

    def step_bias_check(self, s: dict) -> dict:
        metric = (s.get("metric") or "dpl").upper()
        methods = ({"pre_training_bias": {"methods": [metric]}} if metric in PRE_TRAINING_BIAS
                   else {"post_training_bias": {"methods": [metric]}})
        # pre-training metrics describe the data (Clarify's DataBias check, no model endpoint);
        # post-training metrics compare the model's predictions (ModelBias, shadow endpoint)
        step = self.clarify(s, "DATA_BIAS" if metric in PRE_TRAINING_BIAS else "MODEL_BIAS", methods)
        if s.get("max_disparity") is not None:
            # the limit: a helper reads Clarify's analysis.json, a Condition compares, Fail names it
            script = HELPER_SCRIPTS["bias"]
            lim_name = self.sname(s["id"], "limits")
            lim_step = {"id": s["id"] + "#limits", "name": s["name"] + "_limits", "compute": None,
                        "max_runtime_s": 3600, "network_isolation": True}
            a = self.processing(
                lim_step, self.helper_image(), self.entry(script),
                [self.code_input(script),
                 {"name": "analysis", "uri": get(f"Steps.{self.sname(s['id'])}.ProcessingOutputConfig."
                                                 "Outputs['analysis_result'].S3Output.S3Uri"),
                  "local": "/opt/ml/processing/input/analysis"}],
                ["limits"], args=["--metric", metric])
            pf = self.sname(s["id"], "limits")
            lim = {"Name": lim_name, "Type": "Processing", "Arguments": a,
                   "PropertyFiles": [{"PropertyFileName": pf, "OutputName": "limits", "FilePath": "limits.json"}]}
            cond = {"Name": self.sname(s["id"], "check"), "Type": "Condition", "Arguments": {
                "Conditions": [{"Type": "LessThanOrEqualTo",
                                "LeftValue": {"Std:JsonGet": {"PropertyFile": get(f"Steps.{lim_name}.PropertyFiles.{pf}"),
                                                              "Path": "max_abs"}},
                                "RightValue": float(s["max_disparity"])}],
                "IfSteps": [],
                "ElseSteps": [{"Name": self.sname(s["id"], "failed"), "Type": "Fail", "Arguments": {
                    "ErrorMessage": f"bias check `{s['name']}` failed: {metric} disparity above "
                                    f"{s['max_disparity']}"}}]}}
            self.extra.setdefault(s["id"], []).append(lim)
            # the limit gates registration like a spec gate (Register sits in its IfSteps)
            self.bias_gates[s["id"] + "#limit"] = (s, cond)
        return step

    def step_explain(self, s: dict) -> dict:
        return self.clarify(s, "MODEL_EXPLAINABILITY",
                            {"shap": {"num_samples": 100, "agg_method": "mean_abs", "use_logit": False}})

    def step_register(self, s: dict) -> dict:
        model = self.env.models.get(s["model"])
        if model is None:
            self.diag(s["id"], f"unknown model `{s['model']}`")
            return {}
        source = s.get("source") or model.get("source") or ""
        train = self.train_of(source)
        if train is None:
            self.diag(s["id"], f"register step `{s['name']}` needs a model trained in this pipeline")
            return {}
        itype = self.env.serving_instance_types(model["id"])
        ttype = self.env.transform_instance_types(model["id"])
        # one container serves every variant: the GPU image only when every instance has a GPU
        # (a GPU-trained model on a CPU instance gets the CPU image of its framework)
        gpu_serving = all(self.env.gpu_instance(t) for t in itype + ttype)
        metrics_from = s.get("metrics_from") or model.get("metrics_from")
        a: dict[str, Any] = {
            "ModelPackageGroupName": self.env.group_name(model),
            "ModelPackageDescription": self.env.package_description(model),
            # a literal, never a pipeline parameter: whoever may start the pipeline could pass Approved
            "ModelApprovalStatus": self.approval_status(model),
            "InferenceSpecification": {
                "Containers": [{"Image": self.image_for(train, "inference", gpu_serving),
                                "ModelDataUrl": self.uri_of(source, s)}],
                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"],
                "SupportedRealtimeInferenceInstanceTypes": itype,
                "SupportedTransformInstanceTypes": ttype},
            "CustomerMetadataProperties": self.env.lineage(model, train),
            "MetadataProperties": {"GeneratedBy": "mlspec", "CommitId": self.ir["code"]["sha256"][:1024],
                                   "ProjectId": naming.kebab(self.ir["system"]["name"])},
        }
        packaged = self.package(source, s, serving=self.env.is_served(model["id"]))
        if packaged is not None:  # endpoints and batch jobs run mlspec's handler from code/
            spec = a["InferenceSpecification"]
            spec["Containers"][0].update({"ModelDataUrl": packaged, "Environment": dict(SERVE_ENV)})
            spec["SupportedContentTypes"] = ["text/csv", "application/json", "application/jsonlines"]
            spec["SupportedResponseMIMETypes"] = ["text/csv", "application/json"]
        if metrics_from and metrics_from in self.steps_by_id:
            uri = get(f"Steps.{self.sname(metrics_from)}.ProcessingOutputConfig.Outputs['metrics'].S3Output.S3Uri")
            a["ModelMetrics"] = {"ModelQuality": {"Statistics": {
                "ContentType": "application/json", "S3Uri": join(uri, "evaluation.json")}}}
            a["CustomerMetadataProperties"]["EvaluationKey"] = join(
                "pipelines", self.name, get("Execution.PipelineExecutionId"), local_name(metrics_from),
                "metrics", "evaluation.json")
        for sid, st in self.steps_by_id.items():
            if st["kind"] == "bias_check" and st["model"] == source or (
                    st["kind"] == "bias_check" and self.train_of(st["model"]) is train):
                pre = (st.get("metric") or "dpl").upper() in PRE_TRAINING_BIAS
                a.setdefault("ModelMetrics", {})["Bias"] = {"PreTrainingReport" if pre else "PostTrainingReport": {
                    "ContentType": "application/json",
                    "S3Uri": join(get(f"Steps.{self.sname(sid)}.ProcessingOutputConfig.Outputs"
                                      "['analysis_result'].S3Output.S3Uri"), "analysis.json")}}
            if st["kind"] == "explain" and self.train_of(st["model"]) is train:
                a.setdefault("ModelMetrics", {})["Explainability"] = {"Report": {
                    "ContentType": "application/json",
                    "S3Uri": join(get(f"Steps.{self.sname(sid)}.ProcessingOutputConfig.Outputs"
                                      "['analysis_result'].S3Output.S3Uri"), "analysis.json")}}
        return {"Type": "RegisterModel", "Arguments": a}

    def approval_status(self, model: dict) -> str:
        """PendingManualApproval where the environment and the model require approval, else Approved."""
        needs = self.ir["environment"]["approval"] == "required" and (model.get("approval") or {}).get("required")
        return "PendingManualApproval" if needs else "Approved"

    def step_batch_transform(self, s: dict) -> dict:
        model_step_name = self.model_step(s, s["model"])
        itype, icount = self.instance(s.get("compute"), "TransformInstanceType")
        out = s.get("output") or ""
        out_uri = self.env.uri(out) if out else self.s3(local_name(s["id"]), "predictions")
        a = {"ModelName": get(f"Steps.{model_step_name}.ModelName"),
             "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                                "S3Uri": self.uri_of(s["data"], s)}},
                                "ContentType": "text/csv", "SplitType": "Line"},
             "TransformOutput": {"S3OutputPath": out_uri, "KmsKeyId": param("KmsKeyId"), "AssembleWith": "Line"},
             "TransformResources": volume_key({"InstanceType": itype, "InstanceCount": icount})}
        return {"Type": "Transform", "Arguments": a}

    def monitor_baselines(self) -> list[dict]:
        """Steps deriving what the monitors of this pipeline's models compare against, from what
        the endpoint receives: the served model's training input without the label and id columns
        (`_mlspec/baseline_features.py`). data_drift: a QualityCheck (DATA_QUALITY) baseline of
        those features; bias_drift: the Clarify monitor's analysis config with those columns as
        `headers` (then the label), written where the monitor's ConfigUri points."""
        models = {s["model"] for s in self.p["steps"] if s["kind"] == "register"}
        steps = []
        for mo in self.ir.get("monitors") or []:
            ep = self.env.endpoints.get(mo["endpoint"])
            ds = self.env.datasets.get(mo.get("baseline") or "")
            if mo["kind"] not in ("data_drift", "bias_drift") or not ep or ep["model"] not in models:
                continue
            if mo["kind"] == "data_drift" and not ds:
                continue
            # the endpoint receives the features the served model was trained on: the baseline is
            # the training step's input in its declared format, without the label (a helper
            # writes it as csv with a header), never the raw dataset read as csv
            model = self.env.models[ep["model"]]
            train = self.train_of(model.get("source") or "")
            train_in = (train.get("inputs") or [None])[0] if train else None
            data_fmt = self.data_format(train_in) if train_in else None
            if data_fmt not in FEATURE_FORMATS:
                self.diag(mo["id"], f"{mo['kind']} monitor `{mo['name']}`: SageMaker cannot derive "
                                    f"{'the baseline' if mo['kind'] == 'data_drift' else 'the columns'} of "
                                    f"what endpoint `{ep['name']}` receives: "
                                    + (f"the training data `{train_in}` of model `{model['name']}` is "
                                       f"`{data_fmt or 'undeclared'}`" if train_in else
                                       f"model `{model['name']}` is not trained by a step of this pipeline"),
                          "declare the producing step's `output_format` (csv, parquet or jsonl)")
                continue
            _, ds_label = self.env.headers_for(train_in, self.steps_by_id)
            label = model.get("label") or ds_label or ""
            fstep = {"id": mo["id"] + "#features", "name": mo["name"] + "_features", "compute": None,
                     "max_runtime_s": 3600, "network_isolation": True}
            script = HELPER_SCRIPTS["features"]
            args = (["--format", data_fmt] + (["--label", label] if label else [])
                    + [a for c in self.id_columns(train_in) for a in ("--drop", c)])
            inputs = [self.code_input(script),
                      {"name": "data", "uri": self.uri_of(train_in, fstep), "local": "/opt/ml/processing/input/data"}]
            prefix = join("s3:/", param("MonitoringBucket"), "baselines", naming.kebab(mo["name"]))
            if mo["kind"] == "bias_drift":
                if not label:
                    self.diag(mo["id"], f"bias_drift monitor `{mo['name']}`: Clarify needs the label column of "
                                        f"model `{model['name']}`", "declare `label` on the model")
                    continue
                cfg = self.config_input(mo["id"] + "#bias", bias_monitor_spec(self.env, mo, label))
                f = self.processing(fstep, self.helper_image(), self.entry(script), inputs + [cfg],
                                    ["analysis_config"],
                                    args=args + ["--bias-config", cfg["local"] + "/spec.json"])
                f["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = prefix
                steps.append({"Name": naming.step_name(mo["name"], "features"), "Type": "Processing",
                              "Arguments": f})
                continue
            f = self.processing(fstep, self.helper_image(), self.entry(script), inputs, ["features"], args=args)
            fname = naming.step_name(mo["name"], "features")
            steps.append({"Name": fname, "Type": "Processing", "Arguments": f})
            fmt = {"header": True}  # features.csv
            hstep = {"id": mo["id"] + "#baseline", "name": mo["name"] + "_baseline", "compute": None,
                     "max_runtime_s": 3600, "network_isolation": True}
            a = self.processing(hstep, self.env.tool_image("model-monitor", mo["id"], self), [],
                                [{"name": "baseline_dataset_input",
                                  "uri": get(f"Steps.{fname}.ProcessingOutputConfig.Outputs['features'].S3Output.S3Uri"),
                                  "local": "/opt/ml/processing/input/baseline_dataset_input"}],
                                ["quality_check_output"])
            del a["AppSpecification"]["ContainerEntrypoint"]
            out = a["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
            out["S3Uri"] = join("s3:/", param("MonitoringBucket"), "baselines", naming.kebab(mo["name"]))
            out["LocalPath"] = "/opt/ml/processing/output"
            a["Environment"] = {"dataset_format": json.dumps({"csv": fmt}, sort_keys=True),
                                "dataset_source": "/opt/ml/processing/input/baseline_dataset_input",
                                "output_path": "/opt/ml/processing/output", "publish_cloudwatch_metrics": "Disabled"}
            bname = naming.step_name(mo["name"], "baseline")
            steps.append({"Name": bname, "Type": "QualityCheck",
                          "Arguments": a, "CheckType": "DATA_QUALITY",
                          "ModelPackageGroupName": self.env.group_name(self.env.models[ep["model"]]),
                          "SkipCheck": True, "RegisterNewBaseline": True})
            above = (mo.get("breach") or {}).get("above")
            if above is not None:
                script = HELPER_SCRIPTS["drift"]
                prefix = join("s3:/", param("MonitoringBucket"), "baselines", naming.kebab(mo["name"]))
                tstep = {"id": mo["id"] + "#threshold", "name": mo["name"] + "_threshold", "compute": None,
                         "max_runtime_s": 1800, "network_isolation": True}
                t = self.processing(tstep, self.helper_image(), self.entry(script),
                                    [self.code_input(script),
                                     {"name": "baseline", "uri": prefix, "local": "/opt/ml/processing/input/baseline"}],
                                    ["baseline"], args=["--threshold", str(float(above))])
                t["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = prefix
                steps.append({"Name": naming.step_name(mo["name"], "threshold"), "Type": "Processing",
                              "Arguments": t, "DependsOn": [bname]})
        return steps

    def track_mlflow(self) -> None:
        """tracking.mlflow: one Lambda step per trained model logs params, lineage and metrics to MLflow.

        A Lambda step (not a SageMaker job) so every job keeps network isolation: the function runs
        in the stack's private subnets and reaches the managed MLflow tracking server through the
        VPC interface endpoint with SigV4-signed REST calls."""
        tracking = self.ir.get("tracking") or {}
        for s in self.p["steps"]:
            if s["kind"] not in ("train", "tune"):
                continue
            evals = [e for e in self.p["steps"] if e["kind"] == "evaluate" and self.train_of(e["model"]) is s]
            after = evals[0] if evals else s
            tags = {"mlspec.spec_sha256": self.ir["source"]["sha256"], "mlspec.code_sha256": self.ir["code"]["sha256"],
                    "mlspec.environment": self.env.env_name, "mlspec.pipeline": self.name,
                    **{f"mlspec.data.{d['name']}": str(d.get("version")) for d in self.env.datasets.values()
                       if d.get("version")}}
            metrics = get(f"Steps.{self.sname(after['id'])}.ProcessingOutputConfig.Outputs['metrics']."
                          "S3Output.S3Uri") if evals else ""
            step = {"Name": self.sname(s["id"], "track"), "Type": "Lambda",
                    "FunctionArn": self.env.tracker_arn(),
                    "Arguments": {
                        "experiment": tracking.get("experiment") or self.ir["system"]["name"],
                        "step": s["name"], "tracking_server": param("MlflowTrackingServer"),
                        "run_name": get("Execution.PipelineExecutionId"), "metrics_uri": metrics,
                        "params": json.dumps(s.get("hyperparameters") or {}, sort_keys=True),
                        "tags": json.dumps(tags, sort_keys=True)},
                    "OutputParameters": [{"OutputName": "run_id", "OutputType": "String"}]}
            if not evals:
                step["DependsOn"] = [self.sname(s["id"])]
            self.extra.setdefault(after["id"], []).append(step)
            self.uses_mlflow = True
        if self.uses_mlflow:
            self.notes.append("tracking.mlflow: a Lambda step per trained model (VPC, KMS) logs parameters, lineage "
                              "and metrics to the SageMaker managed MLflow tracking server; every SageMaker job "
                              "stays network-isolated")

    # ------------------------------------------------------------------ gates
    def operand(self, e: dict, s_pf: Callable[[str], dict]) -> Any:
        if "number" in e:
            return float(e["number"])
        if "metric" in e:
            sid = e["metric"]["step"]
            st = self.steps_by_id.get(sid)
            if st is None or st["kind"] != "evaluate":
                self.diag(self.p["id"], f"gate metric `{sid}.metrics.{e['metric']['name']}` must come "
                          "from an evaluate step")
                return 0.0
            return {"Std:JsonGet": {"PropertyFile": get(f"Steps.{self.sname(sid)}.PropertyFiles."
                                                        f"{self.property_file(sid)}"),
                                    "Path": f"metrics.{e['metric']['name']}.value"}}
        return None  # needs the gate-values helper

    def gate(self, g: dict, model: dict | None) -> tuple[list[dict], dict]:
        """(helper steps, Condition step) for a gate; the caller fills IfSteps."""
        conditions, helpers, computed = [], [], []
        for i, req in enumerate(g["requires"]):
            left, right = self.operand(req["left"], None), self.operand(req["right"], None)
            if left is None or right is None:
                computed.append({"index": i, "op": req["op"], "left": req["left"], "right": req["right"]})
            conditions.append((req, left, right))
        gname = naming.step_name("gate", g["name"])
        vals_name = naming.step_name("gate", g["name"], "values")
        pf = vals_name
        if computed:
            script = HELPER_SCRIPTS["gate"]
            evals = sorted({e for c in computed for e in _metric_steps(c)})
            inputs = [self.code_input(script)]
            for sid in evals:
                inputs.append({"name": f"eval-{local_name(sid)}",
                               "uri": get(f"Steps.{self.sname(sid)}.ProcessingOutputConfig.Outputs['metrics']"
                                          ".S3Output.S3Uri"),
                               "local": f"/opt/ml/processing/input/eval/{local_name(sid)}"})
            if g.get("uses_champion"):
                if model is None:
                    self.diag(g["id"], f"gate `{g['name']}` compares with the champion but the pipeline "
                              "registers no model")
                else:
                    inputs.append({"name": "champion",
                                   "uri": join("s3:/", param("ArtifactsBucket"), "champion",
                                               self.env.group_name(model), ""),
                                   "local": "/opt/ml/processing/input/champion"})
            spec = {"clauses": computed}
            inputs.append(self.config_input(g["id"], spec))
            hstep = {"id": g["id"] + "#values", "name": g["name"] + "_values", "compute": None,
                     "max_runtime_s": 3600, "network_isolation": True}
            a = self.processing(hstep, self.helper_image(), self.entry(script), inputs, ["values"],
                                args=["--spec-file", "/opt/ml/processing/input/config/spec.json"])
            a["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = self.s3("gates", g["name"])
            deps = sorted({self.sname(d) for d in g.get("depends_on") or [] if d in self.steps_by_id})
            h = {"Name": vals_name, "Type": "Processing", "Arguments": a,
                 "PropertyFiles": [{"PropertyFileName": pf, "OutputName": "values", "FilePath": "values.json"}]}
            if deps:
                h["DependsOn"] = deps
            helpers.append(h)
        conds = []
        for i, (req, left, right) in enumerate(conditions):
            if left is None or right is None:
                left = {"Std:JsonGet": {"PropertyFile": get(f"Steps.{vals_name}.PropertyFiles.{pf}"),
                                        "Path": f"clauses.c{i}.left"}}
                right = {"Std:JsonGet": {"PropertyFile": get(f"Steps.{vals_name}.PropertyFiles.{pf}"),
                                         "Path": f"clauses.c{i}.right"}}
            op = req["op"]
            if op == "!=":
                conds.append({"Type": "Not", "Expression": {"Type": "Equals", "LeftValue": left, "RightValue": right}})
            else:
                conds.append({"Type": CONDITIONS[op], "LeftValue": left, "RightValue": right})
        text = "; ".join(r["text"] for r in g["requires"])
        cond = {"Name": gname, "Type": "Condition", "Arguments": {
            "Conditions": conds, "IfSteps": [],
            "ElseSteps": [{"Name": naming.step_name("gate", g["name"], "failed"), "Type": "Fail",
                           "Arguments": {"ErrorMessage": f"gate `{g['name']}` failed: {text}"}}]}}
        deps = sorted({self.sname(d) for d in g.get("depends_on") or [] if d in self.steps_by_id})
        if deps and not helpers:
            cond["DependsOn"] = deps
        return helpers, cond

    # ------------------------------------------------------------------ assembly
    def requirements(self, s: dict) -> tuple[str, str] | None:
        """(requirements file under the code root, pip index) the launcher installs from, or None.
        The network is always private: a network-isolated job reaches no index at all, and a
        job that is not isolated reaches only the mirror named by `pip_index_url` (E505 else)."""
        req = s.get("requirements")
        if not req:
            return None
        if s.get("network_isolation", True):
            self.diag(s["id"], f"step `{s['name']}` has `requirements` but runs network-isolated on SageMaker: "
                               "the container reaches no package index",
                      "set `network_isolation = false` on the step and `pip_index_url` in `target sagemaker` "
                      "(a mirror reachable from the private network), or install the packages in `image`")
            return None
        index = self.env.settings.get("pip_index_url")
        if not index:
            self.diag(s["id"], f"step `{s['name']}` has `requirements`, but jobs run on a private network with "
                               "no route to PyPI",
                      'set `pip_index_url = "https://<mirror>/simple/"` in `target sagemaker` (reachable '
                      "through the network's allowed egress), or install the packages in `image`")
            return None
        return req.lstrip("/"), index

    def retry(self, s: dict, step: dict) -> None:
        """`retries`: the step's RetryPolicies (SageMaker reruns the step after a service fault or
        throttling, and the job after an internal error, missing capacity or a resource limit) and,
        for script steps, the launcher's reruns of a failed script in the same job. Check steps
        (ClarifyCheck, QualityCheck) take no retry policy: W505 says so."""
        n = int(s["retries"])
        if step["Type"] not in RETRYABLE:
            self.diagnostics.append(Diagnostic(
                "W505", f"step `{s['name']}` runs as a SageMaker {step['Type']} step, which takes no retry "
                        f"policy; its `retries = {n}` is not applied", s["id"],
                "remove `retries` from this step", severity="warning"))
            return
        policies = [{"ExceptionType": ["Step.SERVICE_FAULT", "Step.THROTTLING"], "IntervalSeconds": 10,
                     "BackoffRate": 2.0, "MaxAttempts": n}]
        if step["Type"] in JOB_STEPS:
            policies.append({"ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR", "SageMaker.CAPACITY_ERROR",
                                               "SageMaker.RESOURCE_LIMIT"], "IntervalSeconds": 60,
                             "BackoffRate": 2.0, "MaxAttempts": n})
        step["RetryPolicies"] = policies

    def build(self) -> dict:
        self.pre: dict[str, list[dict]] = {}
        self.model_steps: set[str] = set()
        self.bias_gates: dict[str, tuple[dict, dict]] = {}  # pseudo gate id -> (bias step, Condition)
        ir_steps = self.p["steps"]
        gates = self.p.get("gates") or []
        gate_ids = [g["id"] for g in gates]
        reg_model = next((self.env.models.get(s["model"]) for s in ir_steps if s["kind"] == "register"), None)
        self.uses_mlflow = False
        for s in ir_steps:
            fn = STEP_TABLE.get(s["kind"])
            if fn is None:
                self.diag(s["id"], f"step kind `{s['kind']}` is not supported on SageMaker")
                continue
            body = fn(self, s)
            if not body:
                continue
            step = {"Name": self.sname(s["id"]), **body}
            if s.get("retries"):
                self.retry(s, step)
            deps = sorted({self.sname(d) for d in s.get("depends_on") or [] if d in self.steps_by_id})
            if deps:
                step["DependsOn"] = deps
            self.out[s["id"]] = step
        if (self.ir.get("tracking") or {}).get("backend") == "mlflow":
            self.track_mlflow()
        # which gates each step waits for (transitively), gates chained in declaration order
        gated: dict[str, set[str]] = {}

        def gates_of(sid: str, seen: frozenset = frozenset()) -> set[str]:
            if sid in gated:
                return gated[sid]
            st = self.steps_by_id.get(sid)
            res: set[str] = set()
            deps = list((st or {}).get("depends_on") or [])
            if st and st["kind"] == "register":
                m = self.env.models.get(st["model"])
                deps += [g for g in (m or {}).get("gates") or [] if g in gate_ids]
                trained = self.train_of(st.get("source") or (m or {}).get("source") or "")
                deps += [gid for gid, (b, _) in self.bias_gates.items()
                         if trained is not None and self.train_of(b["model"]) is trained]
            for d in deps:
                if d in gate_ids:
                    res.add(d)
                elif d in self.steps_by_id and d not in seen:
                    res |= gates_of(d, seen | {sid})
            gated[sid] = res
            return res

        top: list[dict] = []
        gate_steps: dict[str, dict] = {}
        for gid, (_b, cond) in self.bias_gates.items():
            gate_ids.append(gid)
            gate_steps[gid] = cond
        for g in gates:
            helpers, cond = self.gate(g, reg_model)
            gate_steps[g["id"]] = cond
            for h in helpers:
                h_gates = set()
                for d in g.get("depends_on") or []:
                    h_gates |= gates_of(d) if d in self.steps_by_id else ({d} if d in gate_ids else set())
                self._place(h, h_gates, gate_ids, gate_steps, top)
        for gid in gate_ids:  # a gate sits in the IfSteps of the previous gate (chain)
            prev = [x for x in gate_ids[: gate_ids.index(gid)]]
            self._place(gate_steps[gid], set(prev[-1:]), gate_ids, gate_steps, top)
        for s in ir_steps:
            if s["id"] not in self.out:
                continue
            g = gates_of(s["id"])
            for pre in self.pre.get(s["id"], []):
                self._place(pre, g, gate_ids, gate_steps, top)
            self._place(self.out[s["id"]], g, gate_ids, gate_steps, top)
            for x in self.extra.get(s["id"], []):
                self._place(x, g, gate_ids, gate_steps, top)
        baselines = self.monitor_baselines()
        top.extend(baselines)
        # a Condition cannot DependsOn a step inside its own branches; drop gate-to-gate edges
        for cond in gate_steps.values():
            if "DependsOn" in cond:
                cond["DependsOn"] = [d for d in cond["DependsOn"] if d not in _names(cond)]
                if not cond["DependsOn"]:
                    del cond["DependsOn"]
        self.add_param("ArtifactsBucket", "String", "${bucket:artifacts}")
        self.add_param("DataBucket", "String", "${bucket:data}")
        if baselines:
            self.add_param("MonitoringBucket", "String", "${bucket:monitoring}")
        self.add_param("KmsKeyId", "String", "${kms_key_arn}")
        self.add_param("JobRoleArn", "String", "${role:jobs}")
        for i, n in enumerate(self.env.subnet_params):
            self.add_param(n, "String", f"${{subnet:{i}}}")
        for i, n in enumerate(self.env.sg_params):
            self.add_param(n, "String", f"${{security_group:{i}}}")
        if self.uses_mlflow:
            self.add_param("MlflowTrackingServer", "String", "${mlflow}")
        tracking = self.ir.get("tracking") or {}
        definition = {
            "Version": "2020-12-01",
            "Metadata": {},
            "Parameters": self.params,
            "PipelineExperimentConfig": {
                "ExperimentName": naming.sm_name(tracking.get("experiment") or self.ir["system"]["name"],
                                                 self.env.env_name, limit=120),
                "TrialName": get("Execution.PipelineExecutionId")},
            "Steps": top,
        }
        return definition

    def _place(self, step: dict, gates: set[str], gate_ids: list[str], gate_steps: dict, top: list) -> None:
        if not gates:
            top.append(step)
            return
        last = max(gates, key=gate_ids.index)
        branch = gate_steps[last]["Arguments"]["IfSteps"]
        # steps inside a branch may not DependsOn the Condition that holds them
        if "DependsOn" in step:
            step["DependsOn"] = [d for d in step["DependsOn"] if d != gate_steps[last]["Name"]]
            if not step["DependsOn"]:
                del step["DependsOn"]
        branch.append(step)


def _names(cond: dict) -> set[str]:
    out = set()
    for branch in ("IfSteps", "ElseSteps"):
        for s in cond["Arguments"].get(branch, []):
            out.add(s["Name"])
            if s["Type"] == "Condition":
                out |= _names(s)
    return out


def _metric_steps(clause: dict) -> set[str]:
    out: set[str] = set()

    def walk(e: dict) -> None:
        if "metric" in e:
            out.add(e["metric"]["step"])
        elif "binary" in e:
            walk(e["binary"]["left"])
            walk(e["binary"]["right"])

    walk(clause["left"])
    walk(clause["right"])
    return out


STEP_TABLE: dict[str, Callable[[PipelineBuilder, dict], dict]] = {
    "validate": PipelineBuilder.step_validate,
    "process": PipelineBuilder.step_process,
    "train": PipelineBuilder.step_train,
    "tune": PipelineBuilder.step_tune,
    "evaluate": PipelineBuilder.step_evaluate,
    "bias_check": PipelineBuilder.step_bias_check,
    "explain": PipelineBuilder.step_explain,
    "register": PipelineBuilder.step_register,
    "batch_transform": PipelineBuilder.step_batch_transform,
}
