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

from typing import Any, Callable

from mlspec.targets.base import local_name

from . import naming

SCHEMA_PIPELINE = "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json"
SCHEMA_COMPONENT = "https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json"
SCHEMA_PIPELINE_COMPONENT = "https://azuremlschemas.azureedge.net/latest/pipelineComponent.schema.json"

#: Base images (Azure ML's published training images on MCR).
IMAGE_CPU = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
IMAGE_GPU = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04:latest"

#: framework -> pip requirement template ({v} = the spec's version)
FRAMEWORK_PACKAGES = {
    "sklearn": ["scikit-learn=={v}.*"],
    "xgboost": ["xgboost=={v}.*", "scikit-learn"],
    "pytorch": ["torch=={v}.*"],
    "tensorflow": ["tensorflow=={v}.*"],
    "huggingface": ["transformers=={v}.*", "torch"],
}
COMMON_PACKAGES = ["mlflow==2.*", "azureml-mlflow==1.*", "pandas==2.*", "pyarrow"]
TOOL_PACKAGES = ["azure-ai-ml==1.*", "azure-identity==1.*", "fairlearn==0.*", "shap==0.*", "scikit-learn"]

HELPER_SCRIPTS = ("_common", "validate_data", "bias_check", "explain", "gate", "register", "batch_score", "approve", "quality_monitor")


def _py_type(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    return "string"


def env_file(framework: dict | None, tools: bool = False) -> str:
    """Relative path (under DIR/azureml/) of the conda file: framework and/or mlspec tools."""
    if framework is None:
        return "environments/mlspec-tools.conda.yml"
    suffix = "-tools" if tools else ""
    return f"environments/{framework['name']}-{framework['version']}{suffix}.conda.yml"


def conda(framework: dict | None, tools: bool = False) -> dict:
    pkgs = list(COMMON_PACKAGES)
    if framework is not None:
        pkgs += [p.format(v=framework["version"]) for p in FRAMEWORK_PACKAGES[framework["name"]]]
    if framework is None or tools:
        pkgs += TOOL_PACKAGES
    return {"name": "mlspec", "channels": ["conda-forge"],
            "dependencies": ["python=3.10", "pip", {"pip": pkgs}]}


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

    def component(self, step: dict, *, inputs: dict, outputs: list[str], command: str,
                  framework: dict | None, image: str | None, gpu: bool, description: str,
                  tools: bool = False) -> dict:
        env: dict[str, Any]
        if image:
            env = {"image": image}
        else:
            env = {"image": IMAGE_GPU if gpu else IMAGE_CPU,
                   "conda_file": self.comp_up + env_file(framework, tools)}
            self.env.conda_files[env_file(framework, tools)] = conda(framework, tools)
        return {
            "$schema": SCHEMA_COMPONENT,
            "name": naming.asset(self.ir["system"]["name"], self.p["name"], step["name"]),
            "version": self.env.asset_version,
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

    def helper_command(self, script: str, step: dict, args: list[str]) -> str:
        cfg = f"_mlspec/config/{self.env.name}/{self.p['name']}/{step['name']}.json"
        return " ".join([f"python _mlspec/{script}.py --config {cfg}", *args])

    def add_config(self, step_name: str, data: dict) -> None:
        path = f"code/_mlspec/config/{self.env.name}/{self.p['name']}/{step_name}.json"
        self.artifacts.append((path, "step-config", data, "json"))

    # ------------------------------------------------------------------ per kind
    def lower_step(self, step: dict) -> None:
        LOWER_STEP[step["kind"]](self, step)

    def _ref_inputs(self, refs: list[str]) -> dict[str, str]:
        """Input name -> binding (script contract, docs/ir.md: the referenced output's or dataset's
        name; `<step>_<output>` only when two references share a name)."""
        names: dict[str, str] = {}
        for ref in refs:
            short = ref.split(".")[-1]
            if short in names or short == "config":
                short = "_".join(ref.split(".")[1::2]) if ref.startswith("step.") else short
            names[short] = self.bind(ref)
        return names

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
        node["compute"] = f"azureml:{self.env.compute_for(step.get('compute'))}"
        if bound:
            node["inputs"] = dict(bound)
        if outputs:
            node["outputs"] = outputs
        if step.get("compute") and step["compute"]["instance_count"] > 1 and kind == "command":
            node["resources"] = {"instance_count": step["compute"]["instance_count"]}
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

    def _user_step(self, step: dict, script: str, refs: list[str], scalars: dict, outputs: list[str],
                   framework: dict | None, description: str, kind: str = "command",
                   extra: dict | None = None, extra_inputs: dict | None = None,
                   model: str | None = None) -> None:
        bound = {"model": self.bind(model)} if model else {}
        bound.update(self._ref_inputs(refs))
        comp_inputs: dict[str, Any] = {n: {"type": "uri_folder"} for n in bound}
        for k, v in scalars.items():
            comp_inputs[k] = {"type": _py_type(v), "default": v}
        comp_inputs.update(extra_inputs or {})
        args = [f"--{n} ${{{{inputs.{n}}}}}" for n in comp_inputs]
        args += [f"--{o} ${{{{outputs.{o}}}}}" for o in outputs]
        self._with_ordering(step, bound, comp_inputs)
        comp = self.component(step, inputs=comp_inputs, outputs=outputs,
                              command=" ".join([f"python {script}", *args]), framework=framework,
                              image=step.get("image"), gpu=self.env.is_gpu(step.get("compute")),
                              description=description)
        self._emit(step, comp, self._node(step, f"{step['name']}.yml", bound, kind=kind, extra=extra))

    def _helper_step(self, step: dict, script: str, refs: dict[str, str], outputs: list[str],
                     config: dict, description: str, framework: dict | None = None) -> None:
        bound = {name: ref if ref.startswith("${{") else self.bind(ref) for name, ref in refs.items()}
        comp_inputs: dict[str, Any] = {n: {"type": "uri_folder"} for n in bound}
        args = [f"--{n} ${{{{inputs.{n}}}}}" for n in bound] + [f"--{o} ${{{{outputs.{o}}}}}" for o in outputs]
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
    b._helper_step(s, "validate_data", {"source": s["data"]}, ["data"],
                   {"dataset": ds["name"], "format": ds["format"], "version": ds["version"],
                    "schema": ds["schema"], "checks": s["checks"]},
                   f"validate dataset {ds['name']} (schema and checks); passes the data through")


def _process(b: PipelineBuilder, s: dict) -> None:
    b._user_step(s, s["script"], s["inputs"], s["args"], s["outputs"], None, f"process step `{s['name']}`")


def _train(b: PipelineBuilder, s: dict) -> None:
    b._user_step(s, s["entry_point"], s["inputs"], s["hyperparameters"], ["model"],
                 None if s["framework"]["name"] == "custom" else s["framework"],
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
    """A sweep node wrapped in a pipeline component (so the outer node declares its interface)."""
    space, range_inputs = _search_space(s["ranges"])
    fixed = {k: v for k, v in s["hyperparameters"].items() if k not in s["ranges"]}
    limits: dict[str, Any] = {"max_total_trials": s["max_trials"], "max_concurrent_trials": s["parallel_trials"]}
    if s.get("max_runtime_s"):
        limits["timeout"] = s["max_runtime_s"]
    b._user_step(s, s["entry_point"], s["inputs"], fixed, ["model"],
                 None if s["framework"]["name"] == "custom" else s["framework"],
                 f"trial of the hyperparameter sweep over {', '.join(s['ranges'])}", extra_inputs=range_inputs)
    # the trial component was emitted as components/<name>.yml; wrap it
    trial_path, _kind, trial, _fmt = b.artifacts[-1]
    b.artifacts[-1] = (trial_path.replace(f"/{s['name']}.yml", f"/{s['name']}_trial.yml"), _kind, trial, _fmt)
    node = b.jobs[s["name"]]
    data_inputs = {n: {"type": "uri_folder", **({"optional": True} if n.startswith("after_") else {})}
                   for n in node.get("inputs", {})}
    sweep = {"type": "sweep", "trial": f"./{s['name']}_trial.yml", "compute": node["compute"],
             "inputs": {n: f"${{{{parent.inputs.{n}}}}}" for n in data_inputs},
             "outputs": {"model": "${{parent.outputs.model}}"},
             "sampling_algorithm": "random", "search_space": space,
             "objective": {"goal": _SWEEP_GOAL[s["objective"]["direction"]], "primary_metric": s["objective"]["metric"]},
             "limits": limits}
    wrapper = {"$schema": SCHEMA_PIPELINE_COMPONENT, "type": "pipeline",
               "name": naming.asset(b.ir["system"]["name"], b.p["name"], s["name"]), "version": b.env.asset_version,
               "display_name": s["name"], "description": f"hyperparameter sweep `{s['name']}`",
               "inputs": data_inputs, "outputs": {"model": {"type": "uri_folder"}}, "jobs": {"sweep": sweep}}
    b.artifacts.append((f"{b.folder}/components/{s['name']}.yml", "azureml-component", wrapper, "yaml"))
    node["type"] = "pipeline"
    node.pop("compute", None)


def _evaluate(b: PipelineBuilder, s: dict) -> None:
    b._user_step(s, s["script"], [s["data"]], {}, ["metrics"], b.framework_of(s["model"]),
                 "evaluate the model; writes evaluation.json ({metrics: {name: {value}}})", model=s["model"])


def _bias(b: PipelineBuilder, s: dict) -> None:
    b._helper_step(s, "bias_check", {"model": s["model"], "data": s["data"]}, ["report"],
                   {"facets": s["facets"], "label": s["label"], "metric": s["metric"],
                    "max_disparity": s["max_disparity"]},
                   "fairness check (fairlearn); fails when a facet's disparity exceeds the limit",
                   framework=b.framework_of(s["model"]))


def _explain(b: PipelineBuilder, s: dict) -> None:
    b._helper_step(s, "explain", {"model": s["model"], "data": s["data"]}, ["report"],
                   {"method": s["method"]}, "SHAP explanation of the model", framework=b.framework_of(s["model"]))


def _batch(b: PipelineBuilder, s: dict) -> None:
    b._helper_step(s, "batch_score", {"model": s["model"], "data": s["data"]}, ["predictions"],
                   {"output": s["output"]}, "score a dataset with the trained model",
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
    b._helper_step(s, "register", refs, [], b.env.register_config(model, s, b.p),
                   f"register {model['name']} as pending approval with lineage tags and model card",
                   framework=b.framework_of(s["source"]))


def _gate(b: PipelineBuilder, g: dict) -> None:
    metric_steps = sorted({d for d in g["depends_on"] if d in b.steps and b.steps[d]["kind"] == "evaluate"})
    refs = {f"{local_name(d)}_metrics": f"{d}.outputs.metrics" for d in metric_steps}
    pseudo = {"id": g["id"], "name": g["name"], "kind": "gate",
              "depends_on": [d for d in g["depends_on"] if d not in metric_steps], "compute": None,
              "outputs": ["decision"], "max_runtime_s": None}
    b._helper_step(pseudo, "gate", refs, ["decision"],
                   {"gate": g["name"], "requires": g["requires"], "uses_champion": g["uses_champion"],
                    "champion_model": b.env.champion_model(g), "metric_inputs": sorted(refs)},
                   f"gate `{g['name']}`: " + "; ".join(r["text"] for r in g["requires"]))


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


def lower_pipeline(env, pipeline: dict) -> list[tuple[str, str, Any, str]]:
    """Pipeline job + components + pipeline component (for retraining) + schedule."""
    folder = f"{env.name}/pipelines/{pipeline['name']}"
    b = PipelineBuilder(env, pipeline, folder)
    for kind, item in _topo(pipeline):
        if kind == "gate":
            _gate(b, item)
        else:
            b.lower_step(item)
    header = {"$schema": SCHEMA_PIPELINE, "type": "pipeline", "display_name": pipeline["name"],
              "experiment_name": env.experiment, "description": env.describe(f"pipeline `{pipeline['name']}`"),
              "tags": env.lineage_tags(pipeline)}
    body = {"settings": {"default_compute": f"azureml:{env.compute_for(None)}",
                         "continue_on_step_failure": False},
            "inputs": dict(sorted(b.inputs.items())), "jobs": b.jobs}
    job = {**header, **body}
    b.artifacts.append((f"{folder}/pipeline.yml", "azureml-job", job, "yaml"))
    comp = {"$schema": SCHEMA_PIPELINE_COMPONENT, "type": "pipeline",
            "name": env.pipeline_component_name(pipeline), "version": env.asset_version,
            "display_name": pipeline["name"], "description": header["description"],
            "tags": header["tags"], "jobs": b.jobs}
    b.artifacts.append((f"{folder}/pipeline_component.yml", "azureml-component", comp, "yaml"))
    if pipeline["schedule"]:
        b.artifacts.append((f"{env.name}/schedules/{pipeline['name']}.yml", "azureml-schedule",
                            env.job_schedule(pipeline["name"], pipeline["schedule"],
                                             f"../pipelines/{pipeline['name']}/pipeline.yml"), "yaml"))
    return b.artifacts


def lower_batch(env, batch: dict) -> list[tuple[str, str, Any, str]]:
    """A scheduled batch-scoring pipeline: one helper component scoring `data` with the approved model."""
    name = f"batch_{batch['name']}"
    model = env.models[batch["model"]]
    step = {"id": batch["id"], "name": "score", "kind": "batch_transform", "depends_on": [],
            "compute": batch["compute"], "outputs": ["predictions"], "network_isolation": True,
            "max_runtime_s": None, "model": None, "data": batch["data"], "output": batch["output"]}
    pipeline = {"id": batch["id"], "name": name, "schedule": batch["schedule"], "retrain_on": [],
                "steps": [step], "gates": []}
    folder = f"{env.name}/pipelines/{name}"
    b = PipelineBuilder(env, pipeline, folder)
    b._helper_step(step, "batch_score", {"data": batch["data"]}, ["predictions"],
                   {"output": batch["output"], "model": model["name"], "model_stage": "approved"},
                   f"score {batch['data']} with the latest approved {model['name']}")
    b.jobs["score"]["outputs"] = {"predictions": {"type": "uri_folder", "mode": "rw_mount",
                                                  "path": env.uri(batch["output"])}}
    job = {"$schema": SCHEMA_PIPELINE, "type": "pipeline", "display_name": name,
           "experiment_name": env.experiment, "description": env.describe(f"batch scoring `{batch['name']}`"),
           "tags": env.lineage_tags(pipeline),
           "settings": {"default_compute": f"azureml:{env.compute_for(batch['compute'])}",
                        "continue_on_step_failure": False},
           "inputs": dict(sorted(b.inputs.items())), "jobs": b.jobs}
    b.artifacts.append((f"{folder}/pipeline.yml", "azureml-job", job, "yaml"))
    if batch["schedule"]:
        b.artifacts.append((f"{env.name}/schedules/{name}.yml", "azureml-schedule",
                            env.job_schedule(name, batch["schedule"], f"../pipelines/{name}/pipeline.yml"), "yaml"))
    return b.artifacts
