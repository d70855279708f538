"""Azure ML CLI v2 pipeline jobs and command components for the IR's pipelines and batch jobs.

Input: one environment's IR plus the target's resolved settings (``Env``, built in lower.py).
Output: artifact models (YAML as Python data, step config as JSON). No I/O, no SDK imports.

Conventions the generated commands follow (documented in docs/targets/azureml.md):
- user scripts get `--<input> <path>` per input (named after the referenced dataset or step
  output, `<step>_<output>` on a clash), `--<output> <path>` per declared output and
  `--<name> <value>` per arg/hyperparameter (passed as typed component inputs, never inlined);
- mlspec's helper scripts (validate, bias, explain, gate, register, batch scoring) read their
  settings from a JSON config file shipped in the code snapshot, so no spec string is ever
  interpolated into a command line;
- every ordering dependency without data flow is an optional `after_<step>` input bound to the
  predecessor's first output, so Azure ML orders the nodes as the IR says.

Docs: https://learn.microsoft.com/en-us/azure/machine-learning/reference-yaml-job-pipeline
      https://learn.microsoft.com/en-us/azure/machine-learning/reference-yaml-component-command
      https://learn.microsoft.com/en-us/azure/machine-learning/reference-yaml-job-sweep
"""
from __future__ import annotations

import functools
import hashlib
import json
import posixpath
import re
import shlex
from typing import Any, Callable

from mlspec.targets.base import local_name

from mlspec.compiler import contract

from . import naming

def shell_command(argv: list[str]) -> str:
    """A component's `command:` from an argument vector. Azure ML substitutes `${{...}}`
    placeholders into the text and runs it with a shell, so every token is quoted for
    POSIX sh (`shlex.join`): a placeholder's value, a path or a string argument stays one
    argument whatever it holds (the checker keeps `'` and shell syntax out of values)."""
    return shlex.join(argv)


#: pipeline input carrying the spec hash (lineage), and the register step's input bound to it
SPEC_INPUT = "mlspec_spec_sha256"
SPEC_INPUT_STEP = "spec_sha256"

SCHEMA_PIPELINE = "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json"
SCHEMA_COMPONENT = "https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json"
SCHEMA_PIPELINE_COMPONENT = "https://azuremlschemas.azureedge.net/latest/pipelineComponent.schema.json"
SCHEMA_ENVIRONMENT = "https://azuremlschemas.azureedge.net/latest/environment.schema.json"

#: Base images (Azure ML's published training images on MCR).
IMAGE_CPU = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
IMAGE_GPU = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04:latest"

#: framework -> pip requirement template ({v} = the spec's version as a PEP 440 specifier, see pin())
FRAMEWORK_PACKAGES = {
    "sklearn": ["scikit-learn{v}", "joblib"],
    "xgboost": ["xgboost{v}", "scikit-learn"],
    "pytorch": ["torch{v}"],
    "tensorflow": ["tensorflow{v}"],
    "huggingface": ["transformers{v}", "torch"],
}
#: model format -> what loading it needs besides the framework (mlspec's helpers and scoring script)
FORMAT_PACKAGES = {"onnx": ["onnxruntime==1.*"]}
#: FQDN outbound rules the workspace's image builds need under `AllowOnlyApprovedOutbound`: the
#: conda channel (conda-forge is served from conda.anaconda.org) and PyPI (index + files). MCR base
#: images need none: Azure adds the `MicrosoftContainerRegistry` service tag as a required rule.
#: https://learn.microsoft.com/en-us/azure/machine-learning/how-to-managed-network#list-of-required-rules
IMAGE_BUILD_FQDNS = ("conda.anaconda.org", "pypi.org", "files.pythonhosted.org")
SERVING_PACKAGES = ["azureml-inference-server-http==1.*", "azureml-ai-monitoring==1.*"]


def pin(version: str) -> str:
    """A framework version as written in specs -> a valid PEP 440 version specifier.

    "1.2-1" (a SageMaker-style container revision of framework 1.2) -> "==1.2.*"; "1.7" ->
    "==1.7.*"; "2.3.1" -> "==2.3.1"; "1" -> "==1.*". The revision after `-` names a container
    build, not the framework, so it is dropped (never read as a patch release)."""
    m = re.match(r"\s*v?(\d+(?:\.\d+){0,2})", str(version))
    if not m:
        return ""
    parts = m.group(1).split(".")
    return "==" + ".".join(parts) if len(parts) == 3 else "==" + ".".join(parts) + ".*"
COMMON_PACKAGES = ["mlflow==2.*", "azureml-mlflow==1.*", "pandas==2.*", "pyarrow"]
TOOL_PACKAGES = ["azure-ai-ml==1.*", "azure-identity==1.*", "shap==0.*", "scikit-learn"]

HELPER_SCRIPTS = ("_common", "track", "validate_data", "bias_check", "explain", "gate", "register", "batch_score",
                  "approve", "quality_monitor", "score")


def _dirname(path: str) -> str:
    return posixpath.dirname(path) or "."


def _py_type(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    return "string"


def env_name(framework: dict | None, tools: bool = False, gpu: bool = False, serve: bool = False) -> str:
    """Name of the Azure ML environment for a framework and/or mlspec's tools (or serving)."""
    parts = ["mlspec"]
    if framework is not None:
        parts.append(f"{framework['name']}-{framework['version']}".replace(".", "-"))
    if serve:
        parts.append("serve")
    elif framework is None or tools:
        parts.append("tools")
    if gpu:
        parts.append("gpu")
    return "-".join(parts)


def environment(framework: dict | None, tools: bool, gpu: bool, base: str | None = None,
                serve: bool = False, extra: tuple[str, ...] = (),
                requirements: tuple[str, ...] = ()) -> tuple[str, dict, dict]:
    """(name, environment YAML, conda file) -- registered with `az ml environment create`, so the
    workspace builds the image into the stack's private registry and jobs pull it from there.
    `requirements`: the user's (a serve handler's requirements file), after mlspec's pins; the
    name then ends in `-req-<hash>` of them."""
    name = env_name(framework, tools, gpu, serve) + "".join("-" + _dist_name(e) for e in sorted(extra))
    if requirements:
        name += "-req-" + hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:8]
    conda_doc = conda(framework, tools and not serve, serve=serve, extra=extra + tuple(requirements))
    base = base or (IMAGE_GPU if gpu else IMAGE_CPU)
    version = "1-" + hashlib.sha256(json.dumps([base, conda_doc], sort_keys=True).encode()).hexdigest()[:12]
    doc = {"$schema": SCHEMA_ENVIRONMENT, "name": name, "version": version,
           "description": "generated by mlspec: base image + pinned framework, MLflow and "
                          + ("the Azure ML inference server" if serve else "tools"),
           "image": base, "conda_file": f"./{name}.conda.yml"}
    return name, doc, conda_doc


_REQ_NAME_END = re.compile(r"[=<>!~\[; ]")


@functools.lru_cache(maxsize=4096)  # the same few requirements, for every step
def _dist_name(req: str) -> str:
    return _REQ_NAME_END.split(req, maxsplit=1)[0].lower().replace("_", "-")


def conda(framework: dict | None, tools: bool = False, serve: bool = False, extra: tuple[str, ...] = ()) -> dict:
    pkgs = list(COMMON_PACKAGES)
    if framework is not None:
        pkgs += [p.format(v=pin(framework["version"])) for p in FRAMEWORK_PACKAGES[framework["name"]]]
    if serve:
        pkgs += SERVING_PACKAGES
    elif framework is None or tools:
        pkgs += TOOL_PACKAGES
    pkgs += list(extra)
    seen: set[str] = set()
    unique = [p for p in pkgs if _dist_name(p) not in seen and not seen.add(_dist_name(p))]  # first (pinned) wins
    return {"name": "mlspec", "channels": ["conda-forge", "nodefaults"],  # only conda.anaconda.org
            "dependencies": ["python=3.10", "pip", {"pip": unique}]}


class PipelineBuilder:
    """Builds one pipeline job (plus its components) for one environment."""

    def __init__(self, env, pipeline: dict, folder: str):
        self.env = env
        self.ir = env.ir
        self.p = pipeline
        self.folder = folder          # e.g. "prod/pipelines/training"
        self.up = "../" * (folder.count("/") + 1)          # from folder to DIR/azureml/
        self.comp_up = self.up + "../"                    # from folder/components/
        self.steps = {s["id"]: s for s in pipeline["steps"]}
        self.gates = {g["id"]: g for g in pipeline["gates"]}
        self.inputs: dict[str, dict] = {}
        self.jobs: dict[str, dict] = {}
        self.artifacts: list[tuple[str, str, Any, str]] = []
        self.configs: dict[str, dict] = {}   # step name -> its helper/wrapper settings
        self.uses_spec_input = False

    # ------------------------------------------------------------------ references
    def first_output(self, ref_id: str) -> str:
        if ref_id in self.gates:
            return f"${{{{parent.jobs.{local_name(ref_id)}.outputs.decision}}}}"
        step = self.steps[ref_id]
        outs = self.outputs_of(step)
        return f"${{{{parent.jobs.{step['name']}.outputs.{outs[0]}}}}}" if outs else ""

    def bind(self, ref: str) -> str:
        """IR reference -> `${{parent...}}` binding (datasets become pipeline inputs)."""
        if ref.startswith("dataset."):
            ds = self.env.datasets[ref]
            self.inputs[ds["name"]] = self.env.data_input(ds)
            return f"${{{{parent.inputs.{ds['name']}}}}}"
        parts = ref.split(".")
        return f"${{{{parent.jobs.{parts[1]}.outputs.{parts[3]}}}}}"

    def spec_input(self) -> str:
        """The pipeline's `mlspec_spec_sha256` input (the spec hash, lineage): the pipeline job
        binds it to the hash; jobs submitted from the pipeline component (schedules, retraining)
        get it from the Pulumi program, which reads it from the build's manifest."""
        self.uses_spec_input = True
        return f"${{{{parent.inputs.{SPEC_INPUT}}}}}"

    @staticmethod
    def outputs_of(step: dict) -> list[str]:
        return list(step["outputs"])

    # ------------------------------------------------------------------ components
    def framework_of(self, ref: str | None) -> dict | None:
        """The framework of the train/tune step producing `ref` (to load its model), else None."""
        if not ref or not ref.startswith("step."):
            return None
        src = self.steps.get(".".join(ref.split(".")[:2]))
        fw = (src or {}).get("framework")
        return fw if fw and fw["name"] != "custom" else None

    def loading(self, ref: str | None) -> dict:
        """Format + serve handler of the model a step output holds (helpers load by format)."""
        return self.env.loading(self.env.model_for_source(ref), self.framework_of(ref))

    def positive_label(self, ref: str | None) -> Any:
        """The positive (favourable) label of the model a step output holds, else None (1)."""
        return (self.env.model_for_source(ref) or {}).get("positive_label")

    def component(self, step: dict, *, inputs: dict, outputs: list[str], command: str,
                  framework: dict | None, image: str | None, gpu: bool, description: str,
                  tools: bool = False) -> dict:
        env: dict[str, Any] | str
        if image:
            env = {"image": image}
        else:
            env = self.env.register_environment(framework, tools, gpu)
        return {
            "$schema": SCHEMA_COMPONENT,
            "name": naming.asset(self.ir["system"]["name"], self.p["name"], step["name"]),
            "version": "",  # _version_components: its own content
            "display_name": step["name"],
            "description": description,
            "type": "command",
            "tags": {"mlspec-step": step["id"], "mlspec-kind": step["kind"]},
            "inputs": inputs,
            "outputs": {o: {"type": "uri_folder"} for o in outputs},
            "code": self.comp_up + "code",
            "environment": env,
            "command": command,
        }

    @property
    def config_path(self) -> str:
        """One settings file per pipeline and environment, keyed by step name (a file per step
        made thousands of files for a large pipeline; each step reads its own key, `--step`)."""
        return f"_mlspec/config/{self.env.name}/{self.p['name']}.json"

    def helper_command(self, script: str, step: dict, args: list[str]) -> str:
        return shell_command(["python", f"_mlspec/{script}.py", "--config", self.config_path,
                              "--step", step["name"], *args])

    def add_config(self, step_name: str, data: dict) -> None:
        self.configs[step_name] = data

    # ------------------------------------------------------------------ per kind
    def lower_step(self, step: dict) -> None:
        LOWER_STEP[step["kind"]](self, step)

    def _ordering(self, step: dict, bound: dict[str, str]) -> dict[str, str]:
        """`after_<dep>` inputs for dependencies that carry no data into this step."""
        used = " ".join(bound.values())
        out = {}
        for dep in step["depends_on"]:
            dep_name = local_name(dep)
            if f"jobs.{dep_name}." in used:
                continue
            binding = self.first_output(dep)
            if binding:
                out[f"after_{dep_name}"] = binding
        return out

    def _node(self, step: dict, comp_path: str, bound: dict[str, str], *, kind: str = "command",
              outputs: dict | None = None, extra: dict | None = None) -> dict:
        node: dict[str, Any] = {"type": kind}
        node["trial" if kind == "sweep" else "component"] = f"./components/{comp_path}"
        node["compute"] = f"azureml:{self.env.compute_for(step.get('compute'), bool(step.get('spot')))}"
        node["identity"] = {"type": "managed"}  # MLS-AZ-080: the cluster's user-assigned identity
        if bound:
            node["inputs"] = dict(bound)
        if outputs:
            node["outputs"] = outputs
        if step.get("compute") and step["compute"]["instance_count"] > 1 and kind == "command":
            node["resources"] = {"instance_count": step["compute"]["instance_count"]}
            fw = (step.get("framework") or {}).get("name")
            if step["kind"] in ("train", "tune"):  # multi-node training needs a launcher
                node["distribution"] = {"type": {"pytorch": "pytorch", "huggingface": "pytorch",
                                                 "tensorflow": "tensorflow"}.get(fw, "mpi")}
        if step.get("max_runtime_s") and kind == "command":
            node["limits"] = {"timeout": step["max_runtime_s"]}
        node.update(extra or {})
        return node

    def _emit(self, step: dict, comp: dict, node: dict) -> None:
        self.artifacts.append((f"{self.folder}/components/{step['name']}.yml", "azureml-component", comp, "yaml"))
        self.jobs[step["name"]] = node

    def _with_ordering(self, step: dict, bound: dict[str, str], comp_inputs: dict) -> None:
        for name, binding in self._ordering(step, bound).items():
            bound[name] = binding
            comp_inputs[name] = {"type": "uri_folder", "optional": True,
                                 "description": "ordering only: runs after this predecessor"}

    def _user_step(self, step: dict, script: str, framework: dict | None, description: str,
                   ranges: dict | None = None) -> None:
        """A spec script's component: its command line is exactly the portable contract's
        (compiler.contract.script_flags): inputs, outputs, model, metrics, then params sorted by key."""
        range_types = _search_space(ranges)[1] if ranges else {}
        trial = {k: None for k in ranges} if ranges else None
        values = dict(step.get("args") or step.get("hyperparameters") or {})
        bound: dict[str, str] = {}
        comp_inputs: dict[str, Any] = {}
        outputs: list[str] = []
        args: list[str] = []
        metrics_flag = None
        for f in contract.script_flags(step, trial):
            if f.role in ("input", "model_in"):
                bound[f.name] = self.bind(f.ref)
                comp_inputs[f.name] = {"type": "uri_folder"}
                args += [f"--{f.name}", f"${{{{inputs.{f.name}}}}}"]
            elif f.role == "param":
                comp_inputs[f.name] = range_types[f.name] if f.name in range_types else \
                    {"type": _py_type(values[f.name]), "default": values[f.name]}
                args += [f"--{f.name}", f"${{{{inputs.{f.name}}}}}"]
            else:  # output, model_out, metrics, checkpoints: a directory the script writes
                outputs.append(f.name)
                args += [f"--{f.name}", f"${{{{outputs.{f.name}}}}}"]
                if f.role == "metrics":
                    metrics_flag = f.name
        self._with_ordering(step, bound, comp_inputs)   # `after_*` inputs: declared, never on the command line
        lineage = self.env.lineage_tags(self.p)
        self.add_config(step["name"], {  # no spec hash here: it is the pipeline job's (tags, input), so
            # a spec edit rewrites the pipeline definition, not every step's config
            "tags": {**{k: v for k, v in lineage.items() if k != "mlspec-spec-sha256"}, "mlspec-step": step["id"]},
            "params": {k: v for k, v in values.items() if k not in (ranges or {})},
            "script": script,
            "code_dir": step.get("code_dir") or _dirname(script), "requirements": step.get("requirements"),
            "metrics_flag": metrics_flag,
            # `retries`: command jobs have no retry setting; the wrapper reruns the script
            **({"retries": int(step["retries"]), "outputs": outputs} if step.get("retries") else {})})
        comp = self.component(step, inputs=comp_inputs, outputs=outputs,
                              command=shell_command(["python", "_mlspec/track.py", "--config", self.config_path,
                                               "--step", step["name"], script, *args]),
                              framework=framework,
                              image=step.get("image"), gpu=self.env.is_gpu(step.get("compute")),
                              description=description)
        node_outputs = None
        if step.get("spot"):
            # `--checkpoints`: an output at a path fixed by the job's name, read-write mounted, so a
            # job requeued after its low-priority node was preempted finds what it wrote before
            node_outputs = {"checkpoints": {"type": "uri_folder", "mode": "rw_mount", "path": self.env.uri(
                "data://mlspec-checkpoints/" + self.p["name"] + "/" + step["name"] + "/${{name}}/")}}
        self._emit(step, comp, self._node(step, f"{step['name']}.yml", bound, outputs=node_outputs))

    def _helper_step(self, step: dict, script: str, refs: dict[str, str], outputs: list[str],
                     config: dict, description: str, framework: dict | None = None,
                     literals: dict[str, dict] | None = None) -> None:
        """`literals`: typed (non-folder) inputs, e.g. a gate's thresholds or the spec hash; the
        pipeline node binds their values."""
        bound = {name: ref if ref.startswith("${{") else self.bind(ref) for name, ref in refs.items()}
        comp_inputs: dict[str, Any] = {n: literals[n] if n in (literals or {}) else {"type": "uri_folder"}
                                       for n in bound}
        comp_inputs.update({n: t for n, t in (literals or {}).items() if n not in comp_inputs})
        args = [t for n in comp_inputs for t in (f"--{n}", f"${{{{inputs.{n}}}}}")]
        args += [t for o in outputs for t in (f"--{o}", f"${{{{outputs.{o}}}}}")]
        self._with_ordering(step, bound, comp_inputs)
        for n in comp_inputs:
            if n.startswith("after_"):
                comp_inputs[n]["optional"] = True
        self.add_config(step["name"], config)
        comp = self.component(step, inputs=comp_inputs, outputs=outputs,
                              command=self.helper_command(script, step, args), framework=framework,
                              image=None, gpu=False, description=description, tools=True)
        self._emit(step, comp, self._node(step, f"{step['name']}.yml", bound))


def _validate(b: PipelineBuilder, s: dict) -> None:
    ds = b.env.datasets[s["data"]]
    # a delta table is read as its Parquet files (the data checks see every part, not the log)
    fmt = b.env.read_format(s["data"], s["id"], f"the data checks of step `{s['name']}`",
                            readable=("csv", "parquet", "jsonl", "delta"))
    b._helper_step(s, "validate_data", {"source": s["data"]}, ["data"],
                   {"dataset": ds["name"], "format": fmt, "version": ds["version"],
                    "schema": ds["schema"], "checks": s["checks"]},
                   f"validate dataset {ds['name']} (schema and checks); passes the data through")


def _process(b: PipelineBuilder, s: dict) -> None:
    b._user_step(s, s["script"], None, f"process step `{s['name']}`")


def _train(b: PipelineBuilder, s: dict) -> None:
    b._user_step(s, s["entry_point"], None if s["framework"]["name"] == "custom" else s["framework"],
                 f"train with {s['framework']['name']} {s['framework']['version']}")


_SWEEP_GOAL = {"maximize": "maximize", "minimize": "minimize"}


def _search_space(ranges: dict) -> tuple[dict, dict]:
    """IR ranges -> (sweep search_space, trial component inputs)."""
    space, inputs = {}, {}
    for name, r in ranges.items():
        if r["type"] == "categorical":
            space[name] = {"type": "choice", "values": list(r["values"])}
            inputs[name] = {"type": _py_type(r["values"][0])}
        elif r["type"] == "integer":
            space[name] = {"type": "choice", "values": list(range(int(r["min"]), int(r["max"]) + 1))} \
                if r["max"] - r["min"] <= 200 else {"type": "quniform", "min_value": r["min"],
                                                    "max_value": r["max"], "q": 1}
            inputs[name] = {"type": "integer"}
        else:
            space[name] = {"type": "uniform", "min_value": r["min"], "max_value": r["max"]}
            inputs[name] = {"type": "number"}
    return space, inputs


def _tune(b: PipelineBuilder, s: dict) -> None:
    """A sweep node wrapped in a pipeline component (so the outer node declares its interface).

    `max_runtime_s` is per trial (`limits.trial_timeout`), `max_total_runtime_s` the whole sweep
    (`limits.timeout`); neither is written on the pipeline-type node (azure-ai-ml: unknown field)."""
    space, _range_inputs = _search_space(s["ranges"])
    limits: dict[str, Any] = {"max_total_trials": s["max_trials"], "max_concurrent_trials": s["parallel_trials"]}
    if s.get("max_runtime_s"):
        limits["trial_timeout"] = s["max_runtime_s"]
    if s.get("max_total_runtime_s"):
        limits["timeout"] = s["max_total_runtime_s"]
    b._user_step(s, s["entry_point"], None if s["framework"]["name"] == "custom" else s["framework"],
                 f"trial of the hyperparameter sweep over {', '.join(s['ranges'])}", ranges=s["ranges"])
    # the trial component was emitted as components/<name>.yml; wrap it
    trial_path, _kind, trial, _fmt = b.artifacts[-1]
    b.artifacts[-1] = (trial_path.replace(f"/{s['name']}.yml", f"/{s['name']}_trial.yml"), _kind, trial, _fmt)
    node = b.jobs[s["name"]]
    data_inputs = {n: {"type": "uri_folder", **({"optional": True} if n.startswith("after_") else {})}
                   for n in node.get("inputs", {})}
    sweep = {"type": "sweep", "trial": f"./{s['name']}_trial.yml", "compute": node["compute"],
             "identity": {"type": "managed"},
             "inputs": {n: f"${{{{parent.inputs.{n}}}}}" for n in data_inputs},
             "outputs": {"model": "${{parent.outputs.model}}",
                         # spot: each trial's checkpoints at its own job's path, read-write mounted
                         **({"checkpoints": {"type": "uri_folder", "mode": "rw_mount"}} if s.get("spot") else {})},
             "sampling_algorithm": "random", "search_space": space,
             "objective": {"goal": _SWEEP_GOAL[s["objective"]["direction"]], "primary_metric": s["objective"]["metric"]},
             "limits": limits}
    wrapper = {"$schema": SCHEMA_PIPELINE_COMPONENT, "type": "pipeline",
               "name": naming.asset(b.ir["system"]["name"], b.p["name"], s["name"]), "version": "",
               "display_name": s["name"], "description": f"hyperparameter sweep `{s['name']}`",
               "inputs": data_inputs, "outputs": {"model": {"type": "uri_folder"}}, "jobs": {"sweep": sweep}}
    b.artifacts.append((f"{b.folder}/components/{s['name']}.yml", "azureml-component", wrapper, "yaml"))
    node["type"] = "pipeline"
    for key in ("compute", "identity", "limits", "resources", "distribution", "outputs"):
        node.pop(key, None)  # pipeline-type nodes take none of these (they are on the sweep / trial)


def _evaluate(b: PipelineBuilder, s: dict) -> None:
    b._user_step(s, s["script"], b.framework_of(s["model"]),
                 "evaluate the model; writes evaluation.json ({metrics: {name: {value}}})")


def _bias(b: PipelineBuilder, s: dict) -> None:
    b._helper_step(s, "bias_check", {"model": s["model"], "data": s["data"]}, ["report"],
                   {"facets": s["facets"], "label": s["label"], "metric": s["metric"],
                    "max_disparity": s["max_disparity"], "positive_label": b.positive_label(s["model"]),
                    "data_format": b.env.read_format(s["data"], s["id"], f"bias_check step `{s['name']}`"),
                    **({"model_loading": b.loading(s["model"])} if s["metric"] in ("dppl", "di") else {})},
                   "fairness check (Clarify's bias metric per facet value); fails above the limit",
                   framework=b.framework_of(s["model"]))


def _explain(b: PipelineBuilder, s: dict) -> None:
    b._helper_step(s, "explain", {"model": s["model"], "data": s["data"]}, ["report"],
                   {"method": s["method"], "label": (b.env.model_for_source(s["model"]) or {}).get("label"),
                    "model_loading": b.loading(s["model"]),
                    "data_format": b.env.read_format(s["data"], s["id"], f"explain step `{s['name']}`")},
                   "SHAP explanation of the model", framework=b.framework_of(s["model"]))


def _batch(b: PipelineBuilder, s: dict) -> None:
    b._helper_step(s, "batch_score", {"model": s["model"], "data": s["data"]}, ["predictions"],
                   {"output": s["output"], "model_loading": b.loading(s["model"]),
                    "data_format": b.env.read_format(s["data"], s["id"], f"batch_transform step `{s['name']}`")},
                   "score a dataset with the trained model",
                   framework=b.framework_of(s["model"]))
    b.jobs[s["name"]]["outputs"] = {"predictions": {"type": "uri_folder", "mode": "rw_mount",
                                                    "path": b.env.uri(s["output"])}}


def _register(b: PipelineBuilder, s: dict) -> None:
    model = b.env.models[s["model"]]
    refs = {"model": s["source"]}
    if s.get("metrics_from"):
        refs["metrics"] = f"{s['metrics_from']}.outputs.metrics"
    for g in model["gates"]:
        refs[f"gate_{local_name(g)}"] = f"${{{{parent.jobs.{local_name(g)}.outputs.decision}}}}"
    for other in b.p["steps"]:
        if other["kind"] in ("bias_check", "explain") and other["model"] == s["source"]:
            refs[f"{other['name']}_report"] = f"{other['id']}.outputs.report"
    refs[SPEC_INPUT_STEP] = b.spec_input()
    b._helper_step(s, "register", refs, [], b.env.register_config(model, s, b.p),
                   f"register {model['name']} as pending approval with lineage tags and model card",
                   framework=b.framework_of(s["source"]), literals={SPEC_INPUT_STEP: {"type": "string"}})


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


def _parametrise(expr: dict, names: list[str], values: list[float]) -> tuple[dict, str, int]:
    """A gate expression with every number literal replaced by a component input
    (`{"input": "threshold_<n>"}`), its text with `{threshold_<n>}` placeholders, and its precedence.
    The literals become the gate node's input values in the pipeline definition, so a threshold
    edit changes the pipeline, not the gate component or its config (issue 16, blast radius)."""
    if "number" in expr:
        name = f"threshold_{len(names) + 1}"
        names.append(name)
        values.append(expr["number"])
        return {"input": name}, "{" + name + "}", 3
    if "metric" in expr:
        m = expr["metric"]
        return dict(expr), f"{m['step']}.metrics.{m['name']}", 3
    if "champion" in expr:
        return dict(expr), f"champion.{expr['champion']}", 3
    if "negate" in expr:
        inner, text, prec = _parametrise(expr["negate"], names, values)
        return {"negate": inner}, "-" + (text if prec == 3 else f"({text})"), 3
    b = expr["binary"]
    prec = _PRECEDENCE[b["op"]]
    left, lt, lp = _parametrise(b["left"], names, values)
    right, rt, rp = _parametrise(b["right"], names, values)
    lt = lt if lp >= prec else f"({lt})"
    rt = rt if rp > prec or (rp == prec and b["op"] in "+*") else f"({rt})"
    return {"binary": {"op": b["op"], "left": left, "right": right}}, f"{lt} {b['op']} {rt}", prec


def gate_parameters(g: dict) -> tuple[list[dict], dict[str, float]]:
    """(requirements with inputs for their number literals, {input: value}) of a gate."""
    names: list[str] = []
    values: list[float] = []
    requires = []
    for r in g["requires"]:
        left, lt, _ = _parametrise(r["left"], names, values)
        right, rt, _ = _parametrise(r["right"], names, values)
        requires.append({"text": f"{lt} {r['op']} {rt}", "op": r["op"], "left": left, "right": right})
    return requires, dict(zip(names, values))


def _gate(b: PipelineBuilder, g: dict) -> None:
    """A gate: mlspec's gate.py over the metric steps' evaluation.json. Its thresholds (every number
    literal of its requirements) are number inputs whose values the pipeline definition binds: the
    component and its config carry the requirements' shape only."""
    metric_steps = sorted({d for d in g["depends_on"] if d in b.steps and b.steps[d]["kind"] == "evaluate"})
    refs = {f"{local_name(d)}_metrics": f"{d}.outputs.metrics" for d in metric_steps}
    requires, thresholds = gate_parameters(g)
    pseudo = {"id": g["id"], "name": g["name"], "kind": "gate",
              "depends_on": [d for d in g["depends_on"] if d not in metric_steps], "compute": None,
              "outputs": ["decision"], "max_runtime_s": None}
    b._helper_step(pseudo, "gate", refs, ["decision"],
                   {"gate": g["name"], "requires": requires, "uses_champion": g["uses_champion"],
                    "champion_model": b.env.champion_model(g), "metric_inputs": sorted(refs),
                    "thresholds": sorted(thresholds)},
                   f"gate `{g['name']}`: " + "; ".join(r["text"] for r in requires),
                   literals={n: {"type": "number"} for n in thresholds})
    b.jobs[g["name"]].setdefault("inputs", {}).update(thresholds)


#: IR step kind -> lowering function (one per kind, STYLE §4)
LOWER_STEP: dict[str, Callable[[PipelineBuilder, dict], None]] = {
    "validate": _validate, "process": _process, "train": _train, "tune": _tune, "evaluate": _evaluate,
    "bias_check": _bias, "explain": _explain, "batch_transform": _batch, "register": _register,
}


def _topo(pipeline: dict) -> list[tuple[str, dict]]:
    """Steps and gates in an order where every dependency comes first (declaration order otherwise)."""
    items = [("step", s) for s in pipeline["steps"]] + [("gate", g) for g in pipeline["gates"]]
    done: set[str] = set()
    out: list[tuple[str, dict]] = []
    pending = list(items)
    while pending:
        progressed = False
        for item in list(pending):
            if all(d in done for d in item[1]["depends_on"]):
                out.append(item)
                done.add(item[1]["id"])
                pending.remove(item)
                progressed = True
        if not progressed:  # cycle: the front end rejects these; keep declaration order
            out.extend(pending)
            break
    return out


_INPUT_MODES = {"ro_mount": "ReadOnlyMount", "rw_mount": "ReadWriteMount", "download": "Download"}


def content_version(doc: dict, *salt: str) -> str:
    """An asset version that follows the asset's own content (plus `salt`: the scripts it runs,
    the versions of the components it calls), so a spec change re-versions only what it touches."""
    body = json.dumps({k: v for k, v in doc.items() if k != "version"}, sort_keys=True, default=str)
    return "1-" + hashlib.sha256("\n".join((body,) + salt).encode()).hexdigest()[:12]


def _version_components(env, b: PipelineBuilder) -> list[str]:
    """Give this pipeline's components content versions (command components and sweep trials
    first, then sweep wrappers with their trial's); returns every version, by path."""
    code = env.ir["code"]["sha256"]
    comps = [(path, doc) for path, kind, doc, _fmt in b.artifacts
             if kind == "azureml-component" and isinstance(doc, dict) and "version" in doc]
    versions: dict[str, str] = {}
    for path, doc in comps:
        if doc.get("type") != "pipeline":
            # the step's settings (its key of the pipeline's config file) are part of its content
            stem = path.rsplit("/", 1)[-1][:-len(".yml")]
            settings = b.configs.get(stem, b.configs.get(stem.removesuffix("_trial")))
            salt = (json.dumps(settings, sort_keys=True, default=str),) if settings is not None else ()
            doc["version"] = versions[path] = content_version(doc, code, *salt)
    for path, doc in comps:
        if doc.get("type") == "pipeline":
            trial = (doc.get("jobs", {}).get("sweep") or {}).get("trial", "")
            trial_path = path.rsplit("/", 1)[0] + "/" + trial[2:] if trial.startswith("./") else ""
            doc["version"] = versions[path] = content_version(doc, code, versions.get(trial_path, ""))
    return [versions[p] for p in sorted(versions)]


def finish_pipeline(env, b: PipelineBuilder, *, name: str, description: str, tags: dict, experiment: str,
                    default_compute: str, trigger: dict | None) -> tuple[list, dict]:
    """Write the pipeline job, the same pipeline as a pipeline component, and its schedule.

    Returns (artifacts, runnable): runnable is what the Pulumi program (job schedules) and the
    retraining workflow need to submit the registered pipeline component as a job."""
    folder = b.folder
    if b.configs:
        b.artifacts.append(("code/" + b.config_path, "step-config", dict(sorted(b.configs.items())), "json"))
    inputs = dict(sorted(b.inputs.items()))
    # lineage: the spec hash is pipeline-job metadata (tags, and the input the register step
    # records on the model version); the pipeline component is versioned by its own content
    job_inputs: dict[str, Any] = dict(inputs)
    comp_inputs: dict[str, Any] = {k: {"type": v["type"]} for k, v in inputs.items()}
    if b.uses_spec_input:
        job_inputs[SPEC_INPUT] = env.ir["source"]["sha256"]
        comp_inputs[SPEC_INPUT] = {"type": "string", "description": "sha256 of the spec (lineage, recorded on "
                                                                    "the registered model version)"}
    job = {"$schema": SCHEMA_PIPELINE, "type": "pipeline", "display_name": name, "experiment_name": experiment,
           "description": description, "tags": tags,
           "settings": {"default_compute": f"azureml:{default_compute}", "continue_on_step_failure": False},
           "inputs": dict(sorted(job_inputs.items())), "jobs": b.jobs}
    b.artifacts.append((f"{folder}/pipeline.yml", "azureml-job", job, "yaml"))
    comp_name = naming.asset(env.system, name, "pipeline")
    children = _version_components(env, b)
    content_tags = {k: v for k, v in tags.items() if k != "mlspec-spec-sha256"}
    comp = {"$schema": SCHEMA_PIPELINE_COMPONENT, "type": "pipeline", "name": comp_name,
            "version": "", "display_name": name, "description": description, "tags": content_tags,
            "inputs": dict(sorted(comp_inputs.items())), "jobs": b.jobs}
    comp["version"] = content_version(comp, *children)
    comp_path = f"{folder}/pipeline_component.yml"
    b.artifacts.append((comp_path, "azureml-component", comp, "yaml"))
    # the Pulumi program reads the component's version from `component_file` and the spec hash
    # from the manifest, so neither is copied into the stack data (a pipeline edit rewrites the
    # pipeline's files, not the stack's)
    runnable = {"name": naming.kebab(name), "component": comp_name, "component_file": comp_path,
                "experiment": experiment, "compute": default_compute, "tags": content_tags,
                "spec_input": SPEC_INPUT if b.uses_spec_input else None,
                "inputs": {k: {"jobInputType": v["type"], "uri": v["path"],
                               "mode": _INPUT_MODES[v.get("mode", "ro_mount")]} for k, v in inputs.items()}}
    if trigger:
        sched_name = naming.asset(env.prefix_snake, name, "schedule")
        doc = {"$schema": "https://azuremlschemas.azureedge.net/latest/schedule.schema.json",
               "name": sched_name, "display_name": f"{name} ({env.name})",
               "description": env.describe(f"schedule of `{name}`"), "trigger": trigger,
               "create_job": f"../pipelines/{name}/pipeline.yml"}
        b.artifacts.append((f"{env.name}/schedules/{name}.yml", "azureml-schedule", doc, "yaml"))
        runnable["schedule"] = {"name": sched_name, "display_name": doc["display_name"],
                                "description": doc["description"], "trigger": trigger}
    return b.artifacts, runnable


def cron_trigger(schedule: dict | None) -> dict | None:
    if not schedule:
        return None
    return {"type": "cron", "expression": schedule["cron"], "time_zone": schedule["timezone"]}


def lower_pipeline(env, pipeline: dict) -> tuple[list, dict]:
    """Pipeline job + components + pipeline component (retraining, Pulumi schedules) + schedule."""
    folder = f"{env.name}/pipelines/{pipeline['name']}"
    b = PipelineBuilder(env, pipeline, folder)
    for kind, item in _topo(pipeline):
        if kind == "gate":
            _gate(b, item)
        else:
            b.lower_step(item)
    return finish_pipeline(env, b, name=pipeline["name"], description=env.describe(f"pipeline `{pipeline['name']}`"),
                           tags=env.lineage_tags(pipeline), experiment=env.experiment,
                           default_compute=env.compute_for(None), trigger=cron_trigger(pipeline["schedule"]))


def lower_batch(env, batch: dict) -> tuple[list, dict]:
    """A scheduled batch-scoring pipeline: one helper component scoring `data` with the approved model."""
    name = f"batch_{batch['name']}"
    model = env.models[batch["model"]]
    step = {"id": batch["id"], "name": "score", "kind": "batch_transform", "depends_on": [],
            "compute": batch["compute"], "outputs": ["predictions"], "network_isolation": True,
            "max_runtime_s": None, "model": None, "data": batch["data"], "output": batch["output"]}
    pipeline = {"id": batch["id"], "name": name, "schedule": batch["schedule"], "retrain_on": [],
                "steps": [step], "gates": []}
    b = PipelineBuilder(env, pipeline, f"{env.name}/pipelines/{name}")
    b._helper_step(step, "batch_score", {"data": batch["data"]}, ["predictions"],
                   {"output": batch["output"], "model": env.model_name(model["name"]), "model_stage": "approved",
                    "model_loading": env.loading(model),
                    "data_format": env.read_format(batch["data"], batch["id"], f"batch `{batch['name']}`")},
                   f"score {batch['data']} with the latest approved {model['name']}",
                   framework=model["framework"] if model["framework"]["name"] != "custom" else None)
    b.jobs["score"]["outputs"] = {"predictions": {"type": "uri_folder", "mode": "rw_mount",
                                                  "path": env.uri(batch["output"])}}
    return finish_pipeline(env, b, name=name, description=env.describe(f"batch scoring `{batch['name']}`"),
                           tags=env.lineage_tags(pipeline), experiment=env.experiment,
                           default_compute=env.compute_for(batch["compute"]), trigger=cron_trigger(batch["schedule"]))
