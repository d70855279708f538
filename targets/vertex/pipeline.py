"""One IR pipeline -> a KFP v2 IR PipelineSpec (plain dict) that Vertex AI Pipelines runs.

Input: an :class:`Env` and one `pipelines[]` entry. Output: a PipelineSpec dict (schemaVersion
2.1.0) whose JSON form parses strictly as ``pipeline_spec_pb2.PipelineSpec`` and whose
``deploymentSpec`` parses as ``PipelineDeploymentConfig``; plus diagnostics.

Shape (docs/targets/vertex.md has the full table):
- every dataset a step reads enters through a KFP ``importer`` (lineage in Vertex ML Metadata);
- heavy steps (validate, process, train, tune, evaluate, bias_check, explain, batch_transform)
  are Vertex CustomJobs / HyperparameterTuningJobs started by the google-cloud-pipeline-components
  launchers; the job payload pins the workload service account, the env CMEK key, the private
  network and ``enableWebAccess: false`` (MLS-GCP-051);
- light steps (metrics, champion, register) run the fixed mlspec runtime in the GCPC image under the
  pipeline service account (the PipelineJob's);
- gates are KFP ``triggerPolicy`` conditions (CEL) on the tasks that depend on them; the champion
  side reads the version holding the `production` alias;
- register uploads a new version of the parent model with lineage labels and the `pending` alias
  (or `production` when the environment needs no approval) and stores the model card with it.
Pure: no I/O, no SDK imports.
"""
from __future__ import annotations

import json
import re
from typing import Any

from mlspec.targets.base import Diagnostic
from mlspec.compiler import contract
from mlspec.compiler.ir import data_format
from mlspec.targets.vertex import common, containers, naming
from mlspec.targets.vertex.common import Env

SCHEMA_VERSION = "2.1.0"
#: `sdkVersion` (pipeline_spec.proto: "the version of the sdk, which compiles the spec") names the compiler
#: that wrote the spec: the KFP compiler writes `kfp-<version>`, TFX's Vertex runner `tfx-<version>`;
#: Vertex AI Pipelines reads the IR by `schemaVersion`. mlspec writes its own name, without a version:
#: build artifacts carry no compiler version (a patch release changes no deployed spec, issue 16); the
#: version is in manifest.json and on every PipelineJob as the `mlspec-version` label the launch
#: Workflow sets. Never `kfp-...`: kfp did not compile these specs.
SDK_VERSION = "mlspec"
RUNTIME_OBJECT = "code/_mlspec/runtime.py"
ART = {"model": "system.Model", "metrics": "system.Metrics", "report": "system.Artifact",
       "predictions": "system.Dataset", "dataset": "system.Dataset"}
PLATFORM_HEAVY = ("project", "location", "bucket", "workload_service_account", "encryption_key", "network")
PLATFORM_LIGHT = ("project", "location", "bucket", "experiment", "spec_sha256", "code_version", "data_version")
HEAVY = ("validate", "process", "train", "tune", "evaluate", "bias_check", "explain", "batch_transform")
CEL_OPS = {">=", ">", "<=", "<", "==", "!="}
#: output artifact of a spot train task: the CustomJob's base output directory (AIP_CHECKPOINT_DIR below it)
CHECKPOINTS = "checkpoints"
#: `on_failure`: the exit handler's task writes one entry per failed run to this Cloud Logging log; a
#: log-match alert policy per pipeline (the Pulumi program) notifies the pipeline's channels
FAILURE_LOG = "mlspec-pipeline-failures"
EXIT_HANDLER = "exit-handler-1"
NOTIFY_TASK = "notify-failure"


def _p(name: str) -> str:
    return "{{$.inputs.parameters['%s']}}" % name


def _in_art(name: str) -> str:
    """Local path of an input artifact: Vertex mounts the pipeline root with Cloud Storage FUSE at
    /gcs/, in pipeline tasks and in the CustomJobs they launch alike (docs/ir.md script contract: DIRs)."""
    return "{{$.inputs.artifacts['%s'].path}}" % name


def _out_art(name: str) -> str:
    return "{{$.outputs.artifacts['%s'].path}}" % name


def _out_uri(name: str) -> str:
    return "{{$.outputs.artifacts['%s'].uri}}" % name


def _atype(kind: str) -> dict:
    return {"artifactType": {"schemaTitle": ART[kind], "schemaVersion": "0.0.1"}}


def task_name(step_name: str) -> str:
    return naming.kebab(step_name)


class _Builder:
    """Accumulates components, executors and root-DAG tasks in insertion order."""

    def __init__(self, env: Env, pipeline: dict, diagnostics: list[Diagnostic]):
        self.e, self.p, self.diags = env, pipeline, diagnostics
        self.components: dict[str, Any] = {}
        self.executors: dict[str, Any] = {}
        self.tasks: dict[str, Any] = {}
        self.steps = {s["id"]: s for s in pipeline["steps"]}
        self.gates = {g["id"]: g for g in pipeline.get("gates") or []}
        self.datasets = {d["id"]: d for d in env.ir["datasets"]}
        self.imported: dict[str, str] = {}  # dataset id -> importer task
        self.metric_tasks: dict[str, str] = {}  # evaluate step id -> metrics task
        self.champion_metrics: list[str] = []
        self.condition_gates: dict[str, list[dict]] = {}  # CEL condition -> the gates it encodes
        self.trained: dict[str, str] = {}  # train/tune step id -> its image
        self.model_users: dict[str, list[tuple[str, str, str]]] = {}  # step id -> (who, image, diag id)
        self.gate_fail_tasks: list[str] = []  # tasks that fail the run because a gate did not pass

    # ------------------------------------------------------------------ plumbing
    def add(self, name: str, *, inputs: dict, outputs: dict, executor: dict, task_inputs: dict,
            deps: list[str], cache: bool = False, condition: str | None = None, display: str | None = None) -> None:
        comp: dict[str, Any] = {"executorLabel": f"exec-{name}"}
        params_in = {k: v for k, v in inputs.items() if isinstance(v, str)}
        arts_in = {k: _atype(v[1]) for k, v in inputs.items() if isinstance(v, tuple)}
        if arts_in or params_in:
            comp["inputDefinitions"] = {}
            if arts_in:
                comp["inputDefinitions"]["artifacts"] = arts_in
            if params_in:
                comp["inputDefinitions"]["parameters"] = {k: {"parameterType": t} for k, t in params_in.items()}
        params_out = {k: v for k, v in outputs.items() if isinstance(v, str)}
        arts_out = {k: _atype(v[1]) for k, v in outputs.items() if isinstance(v, tuple)}
        if params_out or arts_out:
            comp["outputDefinitions"] = {}
            if arts_out:
                comp["outputDefinitions"]["artifacts"] = arts_out
            if params_out:
                comp["outputDefinitions"]["parameters"] = {k: {"parameterType": t} for k, t in params_out.items()}
        self.components[f"comp-{name}"] = comp
        self.executors[f"exec-{name}"] = executor
        task: dict[str, Any] = {"cachingOptions": {"enableCache": True} if cache else {},
                                "componentRef": {"name": f"comp-{name}"}}
        if deps:
            task["dependentTasks"] = sorted(set(deps))
        ti: dict[str, Any] = {}
        if task_inputs.get("artifacts"):
            ti["artifacts"] = task_inputs["artifacts"]
        if task_inputs.get("parameters"):
            ti["parameters"] = task_inputs["parameters"]
        if ti:
            task["inputs"] = ti
        task["taskInfo"] = {"name": display or name}
        if condition:
            task["triggerPolicy"] = {"condition": condition}
        self.tasks[name] = task

    def platform(self, names: tuple[str, ...]) -> tuple[dict, dict]:
        return ({n: "STRING" for n in names}, {n: {"componentInputParameter": n} for n in names})

    def import_dataset(self, ds_id: str, at: str) -> str:
        if ds_id in self.imported:
            return self.imported[ds_id]
        ds = self.datasets[ds_id]
        uri = self.e.data_uri(ds["uri"])
        if not uri:
            self.diags.append(Diagnostic("E504", f"dataset `{ds['name']}` has a URI Vertex cannot read: `{ds['uri']}`",
                                         ds_id, hint="use a portable `data://` URI or a `gs://` URI"))
        name = f"importer-{naming.kebab(ds['name'])}"
        self.components[f"comp-{name}"] = {
            "executorLabel": f"exec-{name}",
            "inputDefinitions": {"parameters": {"uri": {"parameterType": "STRING"}}},
            "outputDefinitions": {"artifacts": {"artifact": _atype("dataset")}}}
        self.executors[f"exec-{name}"] = {"importer": {
            "artifactUri": {"runtimeParameter": "uri"},
            "typeSchema": {"schemaTitle": "system.Dataset", "schemaVersion": "0.0.1"},
            "metadata": {"mlspec_dataset": ds["name"], "version": ds.get("version") or ""}}}
        # never cached: the importer URI is a constant, so a cached importer (and every task keyed on
        # its output) would hand a scheduled or drift-triggered retrain the previous run's data and model
        self.tasks[name] = {"cachingOptions": {}, "componentRef": {"name": f"comp-{name}"},
                            "inputs": {"parameters": {"uri": {"runtimeValue": {"constant": uri}}}},
                            "taskInfo": {"name": name}}
        self.imported[ds_id] = name
        return name

    def resolve(self, ref: str, at: str) -> tuple[str, str, list[str]]:
        """An IR reference -> (producer task, output key, extra dependencies)."""
        if ref.startswith("dataset."):
            return self.import_dataset(ref, at), "artifact", []
        parts = ref.split(".")
        step = self.steps.get(".".join(parts[:2]))
        if step is None:
            raise KeyError(ref)
        out = parts[3] if len(parts) > 3 else (parts[2] if len(parts) > 2 else "")
        if step["kind"] == "validate":  # validate passes its dataset through unchanged
            return self.import_dataset(step["data"], at), "artifact", [task_name(step["name"])]
        if step["kind"] == "tune" and out == "model":  # the best trial's model, not the tuning root
            return best_task(step), "model", []
        return task_name(step["name"]), out, []

    # ------------------------------------------------------------------ gates
    def condition_for(self, step: dict) -> tuple[str | None, dict, dict, list[str]]:
        """(CEL condition, extra component inputs, extra task inputs, extra deps) from gate deps."""
        parts, comp_in, task_in, deps = [], {}, {}, []
        for dep in step["depends_on"]:
            gate = self.gates.get(dep)
            if gate is None:
                continue
            for req in gate["requires"]:
                cel, uses_champion = self.cel(req, comp_in, task_in, deps, gate["id"])
                if cel is None:
                    continue
                if uses_champion:
                    key = "pipelinechannel--champion-has_champion"
                    comp_in[key] = "BOOLEAN"
                    task_in[key] = {"taskOutputParameter": {"producerTask": "champion", "outputParameterKey": "has_champion"}}
                    cel = f"(!inputs.parameter_values['{key}'] || {cel})"
                parts.append(cel)
        cond = " && ".join(parts) if parts else None
        if cond:
            self.condition_gates[cond] = [self.gates[d] for d in step["depends_on"] if d in self.gates]
        return cond, comp_in, task_in, deps

    def cel(self, req: dict, comp_in: dict, task_in: dict, deps: list, gate_id: str) -> tuple[str | None, bool]:
        used = {"champion": False}

        def expr(node: dict) -> str:
            if "number" in node:
                return json.dumps(float(node["number"]))
            if "metric" in node:
                step_id, metric = node["metric"]["step"], node["metric"]["name"]
                producer = self.metric_tasks.get(step_id)
                if producer is None:
                    raise ValueError(f"`{step_id}` produces no metrics")
                key = f"pipelinechannel--{producer}-{metric}"
                comp_in[key] = "NUMBER_DOUBLE"
                task_in[key] = {"taskOutputParameter": {"producerTask": producer, "outputParameterKey": metric}}
                deps.append(producer)
                return f"inputs.parameter_values['{key}']"
            if "champion" in node:
                used["champion"] = True
                metric = node["champion"]
                if metric not in self.champion_metrics:
                    self.champion_metrics.append(metric)
                key = f"pipelinechannel--champion-{metric}"
                comp_in[key] = "NUMBER_DOUBLE"
                task_in[key] = {"taskOutputParameter": {"producerTask": "champion", "outputParameterKey": metric}}
                deps.append("champion")
                return f"inputs.parameter_values['{key}']"
            if "binary" in node:
                b = node["binary"]
                if b["op"] not in ("+", "-", "*", "/"):
                    raise ValueError(f"operator `{b['op']}`")
                return f"({expr(b['left'])} {b['op']} {expr(b['right'])})"
            raise ValueError(f"expression {sorted(node)}")

        try:
            if req["op"] not in CEL_OPS:
                raise ValueError(f"comparison `{req['op']}`")
            return f"{expr(req['left'])} {req['op']} {expr(req['right'])}", used["champion"]
        except ValueError as exc:
            self.diags.append(Diagnostic("E505", f"gate requirement `{req['text']}` cannot be lowered to a Vertex "
                                                 f"pipeline condition: {exc}", gate_id))
            return None, False


def cpu_only(image: str) -> bool:
    """A Vertex prebuilt CPU container (``.../training/xgboost-cpu.1-7``): no CUDA, a GPU is wasted."""
    return "/vertex-ai/training/" in image and "-cpu." in image or "/vertex-ai/prediction/" in image and "-cpu." in image


def proto_machine(compute: dict | None, image: str = "") -> dict[str, Any]:
    """A MachineSpec in proto field names (what GCPC's launchers hand to the proto-plus constructor).
    No accelerator on a CPU-only prebuilt image (the lowering warned, W505)."""
    wire = common.machine(compute)
    out: dict[str, Any] = {"machine_type": wire["machineType"]}
    if wire.get("acceleratorType") and not cpu_only(image):
        out["accelerator_type"] = wire["acceleratorType"]
        out["accelerator_count"] = int(wire["acceleratorCount"])
    elif wire["machineType"] in common.GPU_BUILT_IN:  # G2/A2 types cannot run without their GPUs
        out["machine_type"] = common.GPU_BUILT_IN[wire["machineType"]]
    return out


def _custom_job_payload(e: Env, display: str, image: str, command: list[str], args: list[str],
                        compute: dict | None, max_runtime_s: int | None, output_dir: str | None,
                        step: str | None = None, spot: bool = False) -> dict:
    """A CustomJob in proto field names: GCPC's launcher json.loads the payload and builds
    ``aiplatform_v1.types.CustomJob`` from the dict, which accepts no JSON (camelCase) names.
    ``step``: the spec's step name, as the job's ``mlspec-step`` label (billing and logs by step;
    `mlspec run` keys the step's metrics by it)."""
    pool: dict[str, Any] = {"machine_spec": proto_machine(compute, image), "replica_count": 1,
                            "disk_spec": {"boot_disk_type": "pd-ssd", "boot_disk_size_gb": 100},
                            "container_spec": {"image_uri": image, "command": command, "args": args}}
    pools = [pool]
    instances = max(1, int((compute or common.DEFAULT_COMPUTE).get("instance_count") or 1))
    if instances > 1:  # Vertex: pool 0 is the single chief; the other replicas are pool 1's workers
        pools.append({**pool, "replica_count": instances - 1})
    spec: dict[str, Any] = {"worker_pool_specs": pools,
                            "service_account": _p("workload_service_account"),
                            "enable_web_access": False,
                            "enable_dashboard_access": False}
    if e.egress_attachment:  # allowed_egress: a PSC interface in the private subnet (Cloud NAT + FQDN firewall)
        spec["psc_interface_config"] = {"network_attachment": e.egress_attachment}
    else:
        spec["network"] = _p("network")
    if max_runtime_s:
        spec["scheduling"] = {"timeout": f"{int(max_runtime_s)}s"}
    if spot:  # `spot = true`: Spot VMs (Scheduling.Strategy.SPOT); a preempted job restarts on Vertex
        spec.setdefault("scheduling", {})["strategy"] = "SPOT"
    if output_dir:
        spec["base_output_directory"] = {"output_uri_prefix": output_dir}
    return {"display_name": display, "job_spec": spec,
            "encryption_spec": {"kms_key_name": _p("encryption_key")},
            "labels": {**e.lineage_labels, **({"mlspec-step": naming.label_value(step)} if step else {})}}


def _launcher(launcher: str, job_type: str, payload: dict) -> dict:
    return {"container": {
        "image": common.GCPC_IMAGE,
        "command": ["python3", "-u", "-m", launcher],
        "args": ["--type", job_type, "--payload", json.dumps(payload, sort_keys=True, separators=(",", ":")),
                 "--project", _p("project"), "--location", _p("location"),
                 "--gcp_resources", "{{$.outputs.parameters['gcp_resources'].output_file}}"]}}


def _runtime(op: str, extra: list[str]) -> dict:
    """A light task: the mlspec runtime in the GCPC image (has google-cloud-aiplatform)."""
    return {"container": {"image": common.GCPC_IMAGE,
                          "command": ["python3", "/gcs/" + _p("bucket") + "/" + RUNTIME_OBJECT, op],
                          "args": ["--executor-input", "{{$}}", "--pipeline-job", "{{$.pipeline_job_name}}", *extra]}}


def _flag(name: str) -> str:
    return "--" + name  # the script contract: option names exactly as in the spec


def build_pipeline(e: Env, p: dict, diags: list[Diagnostic]) -> dict:
    """Lower one pipeline; return the PipelineSpec dict."""
    b = _Builder(e, p, diags)
    model_by_step = {m["registered_by"]: m for m in e.ir["models"] if m["pipeline"] == p["id"]}
    metrics_steps = {s["id"] for s in p["steps"] if s["kind"] == "evaluate"}
    for sid in metrics_steps:
        b.metric_tasks[sid] = f"{task_name(b.steps[sid]['name'])}-metrics"
    # first pass: which champion metrics do the gates read (so the champion task can declare them)
    for g in b.gates.values():
        for req in g["requires"]:
            _collect_champion(req["left"], b.champion_metrics)
            _collect_champion(req["right"], b.champion_metrics)

    evaluated = {".".join(b.steps[sid]["model"].split(".")[:2]) for sid in metrics_steps}
    for step in p["steps"]:
        lower_step(b, step, model_by_step)
        if step["id"] in metrics_steps:
            _metrics_task(b, step)
        elif step["kind"] in ("train", "tune") and step["id"] not in evaluated:
            _track_task(b, step)  # every training run is tracked, evaluated or not
    if b.champion_metrics:
        _champion_task(b, p)
    _check_version_skew(b)

    root_params = _root_parameters(e, p)
    _nest_gates(b, root_params)
    if p.get("on_failure"):
        _exit_handler(b, root_params)
    return {
        "components": dict(sorted(b.components.items())),
        "deploymentSpec": {"executors": dict(sorted(b.executors.items()))},
        "pipelineInfo": {"name": naming.kfp_pipeline_name(e.system, e.env, p["name"]),
                         "description": f"{e.system} / {p['name']} ({e.env}), generated by mlspec"},
        "root": {"dag": {"tasks": dict(sorted(b.tasks.items()))},
                 "inputDefinitions": {"parameters": root_params}},
        "schemaVersion": SCHEMA_VERSION,
        "sdkVersion": SDK_VERSION,
    }


def _producers(task: dict) -> set[str]:
    ins = task.get("inputs") or {}
    out = {v["taskOutputParameter"]["producerTask"] for v in (ins.get("parameters") or {}).values()
           if "taskOutputParameter" in v}
    out |= {v["taskOutputArtifact"]["producerTask"] for v in (ins.get("artifacts") or {}).values()
            if "taskOutputArtifact" in v}
    return out | set(task.get("dependentTasks") or [])


def _nest_gates(b: _Builder, root_params: dict) -> None:
    """Gates the way the KFP compiler lowers ``dsl.If(cond) ... dsl.Else()``: a root task
    ``condition-branches-N`` (a sub-DAG) holding two condition tasks, each a sub-DAG with a
    ``triggerPolicy``: ``cond`` runs the gated tasks (and everything downstream of them), ``!(cond)``
    runs a task that fails the run with a message naming the gate and the values it saw. Inputs
    enter the sub-DAGs as ``pipelinechannel--<task>-<output>`` / ``pipelinechannel--<parameter>``."""
    groups: dict[str, list[str]] = {}
    for name, task in b.tasks.items():
        cond = (task.get("triggerPolicy") or {}).get("condition")
        if cond:
            groups.setdefault(cond, []).append(name)
    counter = 0
    for cond, gated in groups.items():
        members = set(gated)
        grew = True
        while grew:  # everything downstream of a gated task waits for the gate too
            grew = False
            for name, task in b.tasks.items():
                if name not in members and _producers(task) & members:
                    other = (task.get("triggerPolicy") or {}).get("condition")
                    if other and other != cond:
                        b.diags.append(Diagnostic(
                            "E505", f"task `{name}` depends on two different gate sets; Vertex lowering nests one "
                                    "gate set per sub-DAG", b.p["id"]))
                    members.add(name)
                    grew = True
        params: dict[str, dict] = {}  # channel -> (definition, source in the parent DAG)
        arts: dict[str, dict] = {}
        cond_channels: list[str] = []
        outer_deps: set[str] = set()
        for name in sorted(members):
            task = b.tasks[name]
            comp = b.components[task["componentRef"]["name"]]
            task.pop("triggerPolicy", None)
            ins = task.get("inputs") or {}
            for key in list((ins.get("parameters") or {})):
                src = ins["parameters"][key]
                if key.startswith("pipelinechannel--") and name in gated:  # only the condition read it
                    del ins["parameters"][key]
                    comp["inputDefinitions"]["parameters"].pop(key, None)
                    channel = key
                    prod = src["taskOutputParameter"]["producerTask"]
                    ptype = b.components[b.tasks[prod]["componentRef"]["name"]]["outputDefinitions"]["parameters"][
                        src["taskOutputParameter"]["outputParameterKey"]]["parameterType"]
                    params[channel] = {"def": {"parameterType": ptype}, "src": src}
                    if channel not in cond_channels:
                        cond_channels.append(channel)
                    outer_deps.add(prod)
                    continue
                if "componentInputParameter" in src:
                    channel = "pipelinechannel--" + src["componentInputParameter"]
                    params[channel] = {"def": {"parameterType": root_params[src["componentInputParameter"]]["parameterType"]},
                                       "src": src}
                elif "taskOutputParameter" in src and src["taskOutputParameter"]["producerTask"] not in members:
                    prod, okey = src["taskOutputParameter"]["producerTask"], src["taskOutputParameter"]["outputParameterKey"]
                    channel = f"pipelinechannel--{prod}-{okey}"
                    ptype = b.components[b.tasks[prod]["componentRef"]["name"]]["outputDefinitions"]["parameters"][okey][
                        "parameterType"]
                    params[channel] = {"def": {"parameterType": ptype}, "src": src}
                    outer_deps.add(prod)
                else:
                    continue
                ins["parameters"][key] = {"componentInputParameter": channel}
            for key, src in (ins.get("artifacts") or {}).items():
                prod, okey = src["taskOutputArtifact"]["producerTask"], src["taskOutputArtifact"]["outputArtifactKey"]
                if prod in members:
                    continue
                channel = f"pipelinechannel--{prod}-{okey}"
                adef = b.components[b.tasks[prod]["componentRef"]["name"]]["outputDefinitions"]["artifacts"][okey]
                arts[channel] = {"def": adef, "src": src}
                ins["artifacts"][key] = {"componentInputArtifact": channel}
                outer_deps.add(prod)
            outside = [d for d in task.get("dependentTasks") or [] if d not in members]
            outer_deps.update(outside)
            inside = sorted(d for d in task.get("dependentTasks") or [] if d in members)
            if inside:
                task["dependentTasks"] = inside
            else:
                task.pop("dependentTasks", None)
        gates = b.condition_gates.get(cond) or []
        label = "-".join(naming.kebab(g["name"]) for g in gates) or "gate"
        counter += 1
        branches, passed, failed = (f"condition-branches-{counter}", f"condition-{counter + 1}",
                                    f"condition-{counter + 2}")
        counter += 2
        fail_task = f"gate-{label}-failed"
        b.gate_fail_tasks.append(fail_task)

        def defs(channels_p, channels_a):
            out: dict[str, Any] = {}
            if channels_a:
                out["artifacts"] = {c: arts[c]["def"] for c in sorted(channels_a)}
            if channels_p:
                out["parameters"] = {c: params[c]["def"] for c in sorted(channels_p)}
            return out

        def passthrough(channels_p, channels_a):
            out: dict[str, Any] = {}
            if channels_a:
                out["artifacts"] = {c: {"componentInputArtifact": c} for c in sorted(channels_a)}
            if channels_p:
                out["parameters"] = {c: {"componentInputParameter": c} for c in sorted(channels_p)}
            return out

        # the failing branch: one task that exits non-zero naming the gate(s) and the values seen
        message = ["mlspec: gate " + ", ".join(f"`{g['name']}`" for g in gates) + " failed:",
                   "; ".join(r["text"] for g in gates for r in g["requires"])]
        message += [f"({c[len('pipelinechannel--'):]}={_p(c)})" for c in cond_channels]
        b.components[f"comp-{fail_task}"] = {"executorLabel": f"exec-{fail_task}",
                                             "inputDefinitions": defs(cond_channels, [])}
        b.executors[f"exec-{fail_task}"] = {"container": {
            "image": common.GCPC_IMAGE, "command": ["python3", "-c", "import sys; sys.exit(' '.join(sys.argv[1:]))"],
            "args": message}}
        b.components[f"comp-{failed}"] = {"dag": {"tasks": {fail_task: {
            "cachingOptions": {}, "componentRef": {"name": f"comp-{fail_task}"},
            "inputs": passthrough(cond_channels, []), "taskInfo": {"name": fail_task}}}},
            "inputDefinitions": defs(cond_channels, [])}
        b.components[f"comp-{passed}"] = {"dag": {"tasks": {n: b.tasks[n] for n in sorted(members)}},
                                          "inputDefinitions": defs(params, arts)}
        b.components[f"comp-{branches}"] = {"dag": {"tasks": {
            passed: {"componentRef": {"name": f"comp-{passed}"}, "inputs": passthrough(params, arts),
                     "taskInfo": {"name": f"gate-{label}"}, "triggerPolicy": {"condition": cond}},
            failed: {"componentRef": {"name": f"comp-{failed}"}, "inputs": passthrough(cond_channels, []),
                     "taskInfo": {"name": f"gate-{label}-else"}, "triggerPolicy": {"condition": f"!({cond})"}}}},
            "inputDefinitions": defs(params, arts)}
        for n in members:
            del b.tasks[n]
        root_inputs: dict[str, Any] = {}
        if arts:
            root_inputs["artifacts"] = {c: arts[c]["src"] for c in sorted(arts)}
        root_inputs["parameters"] = {c: params[c]["src"] for c in sorted(params)}
        b.tasks[branches] = {"componentRef": {"name": f"comp-{branches}"},
                             "dependentTasks": sorted(outer_deps - members), "inputs": root_inputs,
                             "taskInfo": {"name": branches}}


def _leaf_tasks(b: _Builder, tasks: dict) -> list[str]:
    """Every container task of a DAG and its sub-DAGs."""
    out = []
    for name, task in tasks.items():
        comp = b.components[task["componentRef"]["name"]]
        out += _leaf_tasks(b, comp["dag"]["tasks"]) if "dag" in comp else [name]
    return out


def _exit_handler(b: _Builder, root_params: dict) -> None:
    """`on_failure`: the way the KFP compiler lowers ``with dsl.ExitHandler(notify): ...``: the
    pipeline's tasks move into the sub-DAG ``exit-handler-1`` (root parameters enter it as
    ``pipelinechannel--<name>``), and ``notify-failure`` runs after it whatever its outcome
    (``ALL_UPSTREAM_TASKS_COMPLETED``), reading its ``PipelineTaskFinalStatus``. When the run failed
    for another reason than a gate that did not pass (docs/language.md: not a failure), the task
    writes an entry to the `mlspec-pipeline-failures` log, which a log-match alert policy of the stack
    turns into a notification to the pipeline's channels."""
    used: set[str] = set()
    for task in b.tasks.values():
        for key, src in ((task.get("inputs") or {}).get("parameters") or {}).items():
            if "componentInputParameter" in src:
                used.add(src["componentInputParameter"])
                task["inputs"]["parameters"][key] = {"componentInputParameter": "pipelinechannel--"
                                                     + src["componentInputParameter"]}
    leaves = sorted(_leaf_tasks(b, b.tasks))
    b.components[f"comp-{EXIT_HANDLER}"] = {
        "dag": {"tasks": dict(sorted(b.tasks.items()))},
        "inputDefinitions": {"parameters": {f"pipelinechannel--{n}": {"parameterType": root_params[n]["parameterType"]}
                                            for n in sorted(used)}}}
    config = {"pipeline": b.p["name"], "log": FAILURE_LOG, "tasks": leaves, "gate_tasks": sorted(b.gate_fail_tasks),
              "channels": [c.split(".", 1)[-1] for c in b.p["on_failure"]]}
    plat_in, plat_task = b.platform(PLATFORM_LIGHT)
    b.components[f"comp-{NOTIFY_TASK}"] = {
        "executorLabel": f"exec-{NOTIFY_TASK}",
        "inputDefinitions": {"parameters": {**{k: {"parameterType": t} for k, t in plat_in.items()},
                                            "status": {"isOptional": True, "parameterType": "TASK_FINAL_STATUS"}}}}
    b.executors[f"exec-{NOTIFY_TASK}"] = _runtime("notify_failure", ["--config", json.dumps(config, sort_keys=True)])
    b.tasks = {
        EXIT_HANDLER: {"componentRef": {"name": f"comp-{EXIT_HANDLER}"},
                       "inputs": {"parameters": {f"pipelinechannel--{n}": {"componentInputParameter": n}
                                                 for n in sorted(used)}},
                       "taskInfo": {"name": EXIT_HANDLER}},
        NOTIFY_TASK: {"cachingOptions": {}, "componentRef": {"name": f"comp-{NOTIFY_TASK}"},
                      "dependentTasks": [EXIT_HANDLER],
                      "inputs": {"parameters": {**plat_task, "status": {"taskFinalStatus": {"producerTask": EXIT_HANDLER}}}},
                      "taskInfo": {"name": NOTIFY_TASK},
                      "triggerPolicy": {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"}},
    }


def _collect_champion(node: dict, out: list[str]) -> None:
    if "champion" in node and node["champion"] not in out:
        out.append(node["champion"])
    if "binary" in node:
        _collect_champion(node["binary"]["left"], out)
        _collect_champion(node["binary"]["right"], out)


def data_version(e: Env) -> str:
    return ",".join(f"{d['name']}={d.get('version') or 'unversioned'}" for d in e.ir["datasets"])


def _root_parameters(e: Env, p: dict) -> dict:
    tracking = e.ir["tracking"]
    defaults = {
        "project": e.project, "location": e.region, "bucket": e.bucket("code"),  # code, runtime: read-only
        "workload_service_account": e.sa_email("workload"), "encryption_key": e.kms_key_name,
        "experiment": naming.fit(naming.kebab(f"{tracking.get('experiment') or e.system}-{e.env}"), 128),
        "spec_sha256": e.ir["source"]["sha256"], "code_version": (e.ir.get("code") or {}).get("sha256") or "",
        "data_version": data_version(e),
    }
    out = {k: {"defaultValue": v, "isOptional": True, "parameterType": "STRING"} for k, v in defaults.items()}
    # the network needs the project *number*, known only when the stack runs: the launcher supplies it
    out["network"] = {"parameterType": "STRING"}
    return dict(sorted(out.items()))


# ---------------------------------------------------------------------- per step kind

def _image_for(b: _Builder, step: dict, framework: dict | None) -> str:
    if step.get("image"):
        return step["image"]
    gpu = bool(step.get("compute") and step["compute"]["class"].startswith("gpu."))
    fw = framework or {"name": "sklearn", "version": "1.0"}
    if fw["name"] == "custom":
        b.diags.append(Diagnostic("E505", f"step `{step['name']}` uses framework `custom` without an `image`",
                                  step["id"], hint="set `image` on the step"))
        return ""
    uri = containers.training_image(fw["name"], str(fw.get("version") or "0"), b.e.region, gpu)
    if uri is not None and gpu and cpu_only(uri):
        b.diags.append(Diagnostic("W505", f"Vertex has no GPU training container for `{fw['name']}`; step "
                                          f"`{step['name']}` runs `{uri}` on {proto_machine(step['compute'], uri)['machine_type']} "
                                          "without an accelerator", step["id"],
                                  hint="use a cpu.* compute class, or set `image` to a GPU image", severity="warning"))
    if uri is None:
        uri = containers.newest_training_image(fw["name"], b.e.region, gpu)
        if uri is None:
            b.diags.append(Diagnostic("E505", f"Vertex has no prebuilt training container for `{fw['name']}`",
                                      step["id"], hint="set `image` on the step"))
            return ""
        b.diags.append(Diagnostic("W505", f"Vertex has no prebuilt training container for `{fw['name']}` "
                                          f"{fw.get('version')} or newer; using `{uri}`", step["id"],
                                  hint=f"set `image` on the step, or pick a version listed at {containers.TRAINING_DOC}",
                                  severity="warning"))
    return uri


def _model_framework(b: _Builder, ref: str) -> dict | None:
    step = b.steps.get(".".join(ref.split(".")[:2]))
    return step.get("framework") if step else None


def _trained_framework(b: _Builder, ref: str, framework: dict | None = None) -> dict | None:
    """The framework a model was trained with, at the version of the prebuilt container that trained
    it (which may be a nearby one, W505), so the steps that load it and its server ask for that one."""
    fw = framework or _model_framework(b, ref)
    version = prebuilt_version(b.trained.get(".".join(ref.split(".")[:2]), ""))
    if fw and version and fw.get("name") == (_model_framework(b, ref) or {}).get("name"):
        return {**fw, "version": f"{version[0]}.{version[1]}"}
    return fw


def _model_image(b: _Builder, step: dict, ref: str) -> str:
    """Image for a step that loads a trained model: the training step's own image when it has one
    (a custom framework lives there), else the framework's prebuilt training container."""
    source = b.steps.get(".".join(ref.split(".")[:2])) or {}
    if source.get("image"):
        return source["image"]
    image = _image_for(b, {**step, "image": None}, _trained_framework(b, ref))
    b.model_users.setdefault(source.get("id", ""), []).append((f"step `{step['name']}`", image, step["id"]))
    return image


#: the framework version of a Vertex prebuilt image: `.../training/pytorch-gpu.2-1:latest` -> (2, 1)
_PREBUILT_VERSION = re.compile(r"/vertex-ai/(?:training|prediction)/[a-z0-9-]+?-(?:cpu|gpu)\.(\d+)-(\d+)")


def prebuilt_version(image: str) -> tuple[int, int] | None:
    m = _PREBUILT_VERSION.search(image or "")
    return (int(m[1]), int(m[2])) if m else None


def _check_version_skew(b: _Builder) -> None:
    """Every step that loads a trained model and its serving container run the framework version the
    model was trained with. The prebuilt training and prediction containers do not come in the same
    versions (a version without one is replaced by the closest higher one), so a model trained on
    PyTorch 2.1 could be evaluated on 2.3 and served on 2.2. Frameworks read the formats of older
    versions but not reliably those of newer ones (a scikit-learn pickle, an XGBoost UBJSON model, a
    TorchScript archive): a loader older than the trainer is refused (E505); a newer one is a
    substitution (W505)."""
    for sid, users in sorted(b.model_users.items()):
        trained = prebuilt_version(b.trained.get(sid, ""))
        if trained is None:
            continue
        train_name = b.steps[sid]["name"]
        for who, image, diag_id in users:
            used = prebuilt_version(image)
            if used is None or used == trained:
                continue
            tv, uv = ".".join(map(str, trained)), ".".join(map(str, used))
            fw = (b.steps[sid].get("framework") or {}).get("name", "the framework")
            if used < trained:
                b.diags.append(Diagnostic(
                    "E505", f"{who} would load the model of `{train_name}` (trained with {fw} {tv}) with {fw} {uv} "
                            f"(`{image}`): an older {fw} cannot be trusted to read a newer model", diag_id,
                    hint=f"pick a {fw} version that has Vertex training and prediction containers "
                         f"({containers.TRAINING_DOC}, {containers.DOC}), or set `image` on the training step"))
            else:
                b.diags.append(Diagnostic(
                    "W505", f"{who} loads the model of `{train_name}` (trained with {fw} {tv}) with {fw} {uv} "
                            f"(`{image}`): Vertex has no {fw} {tv} container for it", diag_id,
                    hint=f"pick a {fw} version that has Vertex training and prediction containers "
                         f"({containers.TRAINING_DOC}, {containers.DOC})", severity="warning"))


def _inputs(b: _Builder, step: dict, refs: dict[str, str]) -> tuple[dict, dict, list[str], list[str]]:
    """refs {arg name: IR ref} -> (component inputs, task artifact inputs, args, deps)."""
    comp_in, arts, args, deps = {}, {}, [], []
    for arg, ref in refs.items():
        try:
            producer, key, extra = b.resolve(ref, step["id"])
        except KeyError:
            b.diags.append(Diagnostic("E505", f"step `{step['name']}` reads `{ref}`, which the Vertex lowering "
                                              "cannot resolve", step["id"]))
            continue
        kind = "model" if key == "model" else "metrics" if key == "metrics" else "dataset"
        comp_in[arg] = ("artifact", kind)
        arts[arg] = {"taskOutputArtifact": {"producerTask": producer, "outputArtifactKey": key}}
        args += [_flag(arg), _in_art(arg)]
        deps += [producer, *extra]
    return comp_in, arts, args, deps


def lower_step(b: _Builder, step: dict, model_by_step: dict) -> None:
    LOWER_STEP[step["kind"]](b, step, model_by_step)


def _heavy(b: _Builder, step: dict, *, refs: dict[str, str], outputs: dict[str, str], image: str,
           command: list[str], extra_args: list[str], output_dir_key: str | None = None, tune: dict | None = None,
           script_args: bool = False) -> None:
    """A CustomJob / HyperparameterTuningJob task. ``script_args``: ``extra_args`` is the whole
    command line (a user script behind mlspec's wrapper), else the inputs/outputs are passed as
    ``--<name> <path>`` to a runtime op before ``extra_args``."""
    name = task_name(step["name"])
    comp_in, arts, args, deps = _inputs(b, step, refs)
    if script_args:
        args = []
    else:
        for out_key in outputs:
            args += [_flag(out_key), _out_art(out_key)]
    args += extra_args
    deps += [task_name(b.steps[d]["name"]) for d in step["depends_on"] if d in b.steps]
    cond, c_in, t_in, c_deps = b.condition_for(step)
    display = f"{b.e.prefix}-{b.p['name']}-{name}"
    payload = _custom_job_payload(b.e, display, image, command, args, step.get("compute"), step.get("max_runtime_s"),
                                  _out_uri(output_dir_key) if output_dir_key else None, step["name"],
                                  spot=bool(step.get("spot")))
    if tune is not None:
        job_spec = payload.pop("job_spec")
        payload = {"display_name": display, "study_spec": tune["study"], "max_trial_count": tune["max_trials"],
                   "parallel_trial_count": tune["parallel"], "trial_job_spec": job_spec, **payload}
        executor = _launcher(common.HPT_LAUNCHER, "HyperparameterTuningJob", payload)
    else:
        executor = _launcher(common.CUSTOM_JOB_LAUNCHER, "CustomJob", payload)
    plat_in, plat_task = b.platform(PLATFORM_HEAVY)
    inputs = {**comp_in, **plat_in, **c_in}
    outs: dict[str, Any] = {k: ("artifact", v) for k, v in outputs.items()}
    outs["gcp_resources"] = "STRING"
    b.add(name, inputs=inputs, outputs=outs, executor=executor,
          task_inputs={"artifacts": arts, "parameters": {**plat_task, **t_in}}, deps=deps + c_deps, condition=cond)
    if step.get("retries"):
        b.tasks[name]["retryPolicy"] = retry_policy(int(step["retries"]))


def retry_policy(retries: int) -> dict:
    """`retries` -> the task's PipelineTaskSpec.RetryPolicy, as kfp's ``task.set_retry(num_retries=N)``
    writes it: Vertex runs the task (its CustomJob / tuning job) again up to N times, immediately, before
    the task fails (backoff doubling from 0 s, at most an hour)."""
    return {"backoffDuration": "0s", "backoffFactor": 2.0, "backoffMaxDuration": "3600s", "maxRetryCount": retries}


#: the hosts pip needs to install from PyPI itself
PYPI_HOSTS = ("pypi.org", "files.pythonhosted.org")


def _step_index(b: _Builder, step: dict) -> str | None:
    """Where a script step's `requirements` install from. Custom jobs run in the private subnet,
    which reaches the internet only through the Cloud NAT the stack builds for `allowed_egress`:
    the `pip_index_url` mirror, else PyPI when both of its hosts are allowed, else E505."""
    index = b.e.settings.get("pip_index_url")
    egress = set((b.e.ir.get("security") or {}).get("allowed_egress") or [])
    if not index and not set(PYPI_HOSTS) <= egress:
        b.diags.append(Diagnostic(
            "E505", f"step `{step['name']}` has `requirements` (`{step['requirements']}`), but Vertex custom jobs "
                    "run in a private subnet that reaches no package index", step["id"],
            hint='set `pip_index_url = "https://<mirror>/simple/"` in `target vertex` (e.g. an Artifact Registry '
                 "Python repository), or allow `pypi.org` and `files.pythonhosted.org` in "
                 "`security { allowed_egress }`"))
    return index


def _script_step(b: _Builder, step: dict, *, outputs: dict[str, str], image: str, tune: dict | None = None) -> None:
    """A user script (process / train / tune / evaluate) run by the runtime's `script` wrapper with
    exactly the portable contract's command line (compiler.contract.script_flags): input artifacts
    by their FUSE paths, local directories for what it writes (copied to the output artifacts, or
    to the trial's AIP_MODEL_DIR), and for a tune trial the sampled values, sorted with the fixed
    ones, plus the objective reported to Vertex from evaluation.json."""
    refs: dict[str, str] = {}
    flags: list[dict[str, Any]] = []
    for f in contract.script_flags(step):
        if f.role == "input":
            refs[f.name] = f.ref or ""
            flags.append({"name": f.name, "role": f.role, "path": _in_art(f.name)})
        elif f.role == "model_in":
            refs["model"] = f.ref or ""
            flags.append({"name": f.name, "role": f.role, "path": _in_art("model")})
        elif f.role == "output":
            flags.append({"name": f.name, "role": f.role, "path": _out_art(f.name)})
        elif f.role == "model_out":
            flags.append({"name": f.name, "role": f.role, "path": "$AIP_MODEL_DIR" if tune else _out_art("model")})
        elif f.role == "metrics":
            dest = _out_art("metrics") if step["kind"] == "evaluate" else "$AIP_TRIAL_DIR/metrics" if tune else ""
            flags.append({"name": f.name, "role": f.role, "path": dest})
        elif f.role == "checkpoints":
            # `spot = true`: the job's AIP_CHECKPOINT_DIR (<base output directory>/checkpoints, a
            # trial's <base>/<trial id>/checkpoints), used in place through Cloud Storage FUSE, so
            # a job restarted after a preemption finds what it wrote
            flags.append({"name": f.name, "role": f.role, "path": "$AIP_CHECKPOINT_DIR"})
        else:
            flags.append({"name": f.name, "role": f.role, "value": f.value})
    code = "/gcs/" + _p("bucket") + "/code/"
    entry = step.get("script") or step.get("entry_point") or ""
    spec = {"entry": code + entry.lstrip("/"), "flags": flags,
            "code_dir": code + step["code_dir"].strip("/") if step.get("code_dir") else None,
            "requirements": code + step["requirements"].lstrip("/") if step.get("requirements") else None,
            "objective": step["objective"]["metric"] if tune else None}
    if step.get("requirements"):
        spec["pip_index_url"] = _step_index(b, step)
    if step.get("distribution"):
        spec["distribution"] = step["distribution"]
    out_dir = "model" if tune else None
    if step.get("spot") and not tune:
        # a train job's base output directory: its own `checkpoints` artifact (per run and step),
        # which gives the job AIP_CHECKPOINT_DIR; the model still goes to the `model` artifact
        outputs = {**outputs, CHECKPOINTS: "report"}
        out_dir = CHECKPOINTS
    _heavy(b, step, refs=refs, outputs=outputs, image=image, command=_runtime_command(b, "script"),
           extra_args=["--spec", json.dumps(spec, sort_keys=True)], output_dir_key=out_dir,
           tune=tune, script_args=True)


def _runtime_command(b: _Builder, op: str) -> list[str]:
    return ["python", "/gcs/" + _p("bucket") + "/" + RUNTIME_OBJECT, op]


def lower_validate(b: _Builder, step: dict, _m: dict) -> None:
    ds = b.datasets.get(step["data"])
    checks = step.get("checks") or (ds or {}).get("checks") or {}
    config = {"checks": checks, "schema": (ds or {}).get("schema") or [], "format": (ds or {}).get("format")}
    _heavy(b, step, refs={"data": step["data"]}, outputs={}, image=_image_for(b, step, None),
           command=_runtime_command(b, "validate"), extra_args=["--config", json.dumps(config, sort_keys=True)])


def lower_process(b: _Builder, step: dict, _m: dict) -> None:
    _script_step(b, step, outputs={o: "dataset" for o in step["outputs"]}, image=_image_for(b, step, None))


def _trainer_image(b: _Builder, step: dict) -> str:
    """The training image of a train/tune step. Vertex publishes prebuilt training containers for
    some framework versions only; a version without one runs on the closest newer container, a
    substitution the user is told about (W505), not only the report."""
    image = _image_for(b, step, step["framework"])
    fw = step.get("framework") or {}
    used = prebuilt_version(image) if not step.get("image") else None
    wanted = tuple(int(x) for x in re.findall(r"\d+", str(fw.get("version") or ""))[:2])
    if used is not None and len(wanted) == 2 and used != wanted:
        uv = ".".join(map(str, used))
        b.diags.append(Diagnostic(
            "W505", f"Vertex has no prebuilt training container for {fw['name']} {fw['version']}; step "
                    f"`{step['name']}` trains with {fw['name']} {uv} (`{image}`), the closest newer one",
            step["id"], hint=f"pick a version listed at {containers.TRAINING_DOC}, or set `image` on the step",
            severity="warning"))
    return image


def lower_train(b: _Builder, step: dict, _m: dict) -> None:
    b.trained[step["id"]] = image = _trainer_image(b, step)
    _script_step(b, step, outputs={"model": "model"}, image=image)


def _study(step: dict) -> dict:
    """StudySpec in proto field names (see _custom_job_payload)."""
    params = []
    for name, r in step["ranges"].items():
        if r["type"] == "continuous":
            params.append({"parameter_id": name, "double_value_spec": {"min_value": float(r["min"]),
                                                                       "max_value": float(r["max"])}})
        elif r["type"] == "integer":
            params.append({"parameter_id": name, "integer_value_spec": {"min_value": int(r["min"]),
                                                                        "max_value": int(r["max"])}})
        else:
            params.append({"parameter_id": name, "categorical_value_spec": {"values": [str(v) for v in r["values"]]}})
    goal = "MAXIMIZE" if step["objective"]["direction"] == "maximize" else "MINIMIZE"
    study: dict[str, Any] = {"metrics": [{"metric_id": step["objective"]["metric"], "goal": goal}], "parameters": params}
    if step.get("max_total_runtime_s"):
        # the sweep's limit (`max_runtime` limits each trial): Vizier stops the study once it has run this
        # long and, with should_stop_asap, stops the trials still running
        limit = f"{int(step['max_total_runtime_s'])}s"
        study["study_stopping_config"] = {"maximum_runtime_constraint": {"max_duration": limit}, "should_stop_asap": True}
    return study


def best_task(step: dict) -> str:
    return f"{task_name(step['name'])}-best"


def lower_tune(b: _Builder, step: dict, _m: dict) -> None:
    b.trained[step["id"]] = image = _trainer_image(b, step)
    _script_step(b, step, outputs={"model": "model"}, image=image,
                 tune={"study": _study(step), "max_trials": int(step["max_trials"]),
                       "parallel": int(step.get("parallel_trials") or 1)})
    # the study's best trial: its model (<tuning root>/<trial id>/model) becomes this task's artifact,
    # which evaluate, register and every other reader of the tune step's model receive
    producer = task_name(step["name"])
    plat_in, plat_task = b.platform(PLATFORM_LIGHT)
    b.add(best_task(step), inputs={"tuning": ("artifact", "model"), "tune_resources": "STRING", **plat_in},
          outputs={"model": ("artifact", "model"), "trial_id": "STRING"}, executor=_runtime("best_trial", []),
          task_inputs={"artifacts": {"tuning": {"taskOutputArtifact": {"producerTask": producer,
                                                                       "outputArtifactKey": "model"}}},
                       "parameters": {**plat_task, "tune_resources": {"taskOutputParameter": {
                           "producerTask": producer, "outputParameterKey": "gcp_resources"}}}},
          deps=[producer])


def lower_evaluate(b: _Builder, step: dict, _m: dict) -> None:
    if step.get("script"):  # the spec's script, with the contract's command line
        _script_step(b, step, outputs={"metrics": "metrics"}, image=_model_image(b, step, step["model"]))
        return
    _heavy(b, step, refs={"model": step["model"], "data": step["data"]}, outputs={"metrics": "metrics"},
           image=_model_image(b, step, step["model"]), command=_runtime_command(b, "evaluate"),
           extra_args=["--metric-names", ",".join(step["metrics"])])


def serve_bundle(e: Env, model: dict, diags: list[Diagnostic] | None = None) -> dict | None:
    """A model's `serve` handler as the register task ships it (paths under the code root) and the
    server installs it: `requirements` come from the `pip_index_url` mirror (the network is
    private), else E505 (reported once, by the register step that uploads the model)."""
    serve = model.get("serve")
    if not serve:
        return None
    index = e.settings.get("pip_index_url")
    if serve.get("requirements") and not index and diags is not None:
        diags.append(Diagnostic(
            "E505", f"model `{model['name']}` is served by its `serve` handler with `requirements` "
                    f"(`{serve['requirements']}`), but Vertex prediction nodes run on a private network with no "
                    "route to PyPI", model["id"],
            hint='set `pip_index_url = "https://<mirror>/simple/"` in `target vertex` (a PyPI mirror reachable '
                 "from the network, e.g. an Artifact Registry Python repository), or drop the requirements the "
                 "prebuilt prediction image already has"))
    return {"entry_point": serve["entry_point"].lstrip("/"),
            "code_dir": (serve.get("code_dir") or "").strip("/") or None,
            "requirements": serve["requirements"].lstrip("/") if serve.get("requirements") else None,
            "pip_index_url": index if serve.get("requirements") else None}


def _step_model(b: _Builder, ref: str) -> dict:
    """The registry model a step's `model` reference (step.<train>.model) is registered as."""
    return next((m for m in b.e.ir["models"] if m.get("source") == ref), None) or {}


def serve_for_ops(b: _Builder, model: dict, drop: list[str] | None = None) -> dict | None:
    """What a runtime op (bias, explain, predict) loads a `serve` model with: the handler in the code
    bucket (FUSE paths), as the server would; `drop`: columns of the data no request carries."""
    bundle = serve_bundle(b.e, model)
    if bundle is None:
        return None
    code = "/gcs/" + _p("bucket") + "/code/"
    return {"entry": code + bundle["entry_point"],
            "code_dir": code + (bundle["code_dir"] or bundle["entry_point"].rsplit("/", 1)[0]),
            "requirements": code + bundle["requirements"] if bundle["requirements"] else None,
            "pip_index_url": bundle["pip_index_url"], "drop": drop or []}


def _label_columns(b: _Builder, model: dict, label: str | None = None) -> list[str]:
    """The label columns (the datasets' `role = label`, the model's and the step's `label`): a request
    row carries every other column (the id too: monitors join ground truth on it)."""
    cols = {c["name"] for d in b.e.ir["datasets"] for c in d.get("schema") or [] if c.get("role") == "label"}
    return sorted(cols | {x for x in (label, model.get("label")) if x})


def lower_bias_check(b: _Builder, step: dict, _m: dict) -> None:
    model = _step_model(b, step["model"])
    prediction = model.get("prediction") or {}
    config = {"facets": step["facets"], "label": step.get("label"), "metric": step.get("metric") or "dpl",
              "max_disparity": step.get("max_disparity"), "positive_label": model.get("positive_label"),
              "prediction": prediction.get("output") or "label", "threshold": prediction.get("threshold"),
              "format": data_format(b.e.ir, step["data"])}
    serve = serve_for_ops(b, model, _label_columns(b, model, step.get("label")))
    if serve:
        config["serve"] = serve
    refs = {"model": step["model"]}
    if step.get("data"):
        refs["data"] = step["data"]
    _heavy(b, step, refs=refs, outputs={"report": "report"}, image=_model_image(b, step, step["model"]),
           command=_runtime_command(b, "bias"), extra_args=["--config", json.dumps(config, sort_keys=True)])


def _serve_args(b: _Builder, step: dict) -> list[str]:
    model = _step_model(b, step["model"])
    serve = serve_for_ops(b, model, _label_columns(b, model))
    return ["--serve", json.dumps(serve, sort_keys=True)] if serve else []


def lower_explain(b: _Builder, step: dict, _m: dict) -> None:
    _heavy(b, step, refs={"model": step["model"], "data": step["data"]}, outputs={"report": "report"},
           image=_model_image(b, step, step["model"]), command=_runtime_command(b, "explain"),
           extra_args=["--method", step.get("method") or "shap", "--samples", "25", *_serve_args(b, step)])


def lower_batch_transform(b: _Builder, step: dict, _m: dict) -> None:
    out_uri = b.e.data_uri(step.get("output") or "")
    _heavy(b, step, refs={"model": step["model"], "data": step["data"]}, outputs={"predictions": "predictions"},
           image=_model_image(b, step, step["model"]), command=_runtime_command(b, "predict"),
           extra_args=["--destination", out_uri, *_serve_args(b, step)])


def _metrics_task(b: _Builder, step: dict) -> None:
    """Reads evaluate's metrics.json, exposes each metric as an output parameter, logs the run to
    Vertex AI Experiments (hyperparameters, code/data versions, spec hash, metrics)."""
    name = b.metric_tasks[step["id"]]
    producer = task_name(step["name"])
    model_step = b.steps.get(".".join(step["model"].split(".")[:2])) or {}
    params = {**(model_step.get("hyperparameters") or {})}
    plat_in, plat_task = b.platform(PLATFORM_LIGHT)
    b.add(name, inputs={"metrics": ("artifact", "metrics"), **plat_in},
          outputs={m: "NUMBER_DOUBLE" for m in step["metrics"]},
          executor=_runtime("metrics", ["--metric-names", ",".join(step["metrics"]),
                                        "--run-name", f"{b.p['name']}-{producer}",
                                        "--params", json.dumps(params, sort_keys=True)]),
          task_inputs={"artifacts": {"metrics": {"taskOutputArtifact": {"producerTask": producer,
                                                                        "outputArtifactKey": "metrics"}}},
                       "parameters": plat_task},
          deps=[producer])


def _track_task(b: _Builder, step: dict) -> None:
    """Logs a training run that no evaluate step measures to Vertex AI Experiments (hyperparameters,
    code/data versions, spec hash)."""
    producer = task_name(step["name"])
    plat_in, plat_task = b.platform(PLATFORM_LIGHT)
    b.add(f"{producer}-track", inputs=plat_in, outputs={},
          executor=_runtime("metrics", ["--metric-names", "", "--run-name", f"{b.p['name']}-{producer}",
                                        "--params", json.dumps(step.get("hyperparameters") or {}, sort_keys=True)]),
          task_inputs={"parameters": plat_task}, deps=[producer])


def _champion_task(b: _Builder, p: dict) -> None:
    """Reads the metrics of the version holding the `production` alias of the pipeline's model."""
    models = [m for m in b.e.ir["models"] if m["pipeline"] == p["id"]]
    parent = b.e.model_resource(models[0]["name"]) if models else ""
    plat_in, plat_task = b.platform(PLATFORM_LIGHT)
    outs: dict[str, Any] = {"has_champion": "BOOLEAN", **{m: "NUMBER_DOUBLE" for m in b.champion_metrics}}
    b.add("champion", inputs=plat_in, outputs=outs,
          executor=_runtime("champion", ["--model", parent, "--alias", common.PRODUCTION_ALIAS,
                                         "--metric-names", ",".join(b.champion_metrics)]),
          task_inputs={"parameters": plat_task}, deps=[], cache=False)


#: model task -> Vertex's evaluation metrics schema (the problem types of GCPC's evaluation importer,
#: `container/_implementation/model_evaluation/import_model_evaluation.py`)
EVALUATION_SCHEMAS = {
    "classification": "gs://google-cloud-aiplatform/schema/modelevaluation/classification_metrics_1.0.0.yaml",
    "regression": "gs://google-cloud-aiplatform/schema/modelevaluation/regression_metrics_1.0.0.yaml",
}
PROBLEM_TYPES = {"binary_classification": "classification", "multiclass_classification": "classification",
                 "regression": "regression"}
#: metric names evaluate steps commonly declare -> the field of the problem type's metrics schema
#: (google-cloud-aiplatform's `google.ClassificationMetrics` / `google.RegressionMetrics` artifacts)
SCHEMA_FIELDS = {
    "classification": {"auc": "auRoc", "roc_auc": "auRoc", "auroc": "auRoc", "auprc": "auPrc", "pr_auc": "auPrc",
                       "log_loss": "logLoss", "logloss": "logLoss", "precision": "precision", "recall": "recall",
                       "f1": "f1Score", "f1_score": "f1Score", "accuracy": "accuracy"},
    "regression": {"rmse": "rootMeanSquaredError", "mae": "meanAbsoluteError", "mape": "meanAbsolutePercentageError",
                   "r2": "rSquared", "r_squared": "rSquared", "rmsle": "rootMeanSquaredLogError"},
}


def evaluation_import(model: dict, metric_names: list[str]) -> dict:
    """How register imports the evaluate step's metrics as a Vertex ModelEvaluation: the schema of the
    model's `task` (without one: regression when every declared metric is a regression metric, else
    classification) and the declared metrics that schema has, under its field names. Every declared
    metric is also kept, by its spec name, in the evaluation's metadata (`mlspec_metrics`), which the
    champion side of gates reads."""
    problem = PROBLEM_TYPES.get(model.get("task") or "")
    if problem is None:
        regression = SCHEMA_FIELDS["regression"]
        problem = "regression" if metric_names and all(m in regression for m in metric_names) else "classification"
    fields = {m: SCHEMA_FIELDS[problem][m] for m in metric_names if m in SCHEMA_FIELDS[problem]}
    return {"problem_type": problem, "schema_uri": EVALUATION_SCHEMAS[problem], "fields": fields}


def model_card(e: Env, model: dict, gates: list[dict]) -> dict:
    return {"name": model["name"], "description": model.get("description") or "",
            "intended_use": (model.get("card") or {}).get("intended_use"),
            "limitations": (model.get("card") or {}).get("limitations"),
            "ethical_considerations": (model.get("card") or {}).get("ethical_considerations"),
            "framework": model.get("framework"),
            "gates": [{"name": g["name"], "requires": [r["text"] for r in g["requires"]]} for g in gates],
            "approval": model.get("approval"), "environment": e.env, "system": e.system}


#: model formats Vertex's prebuilt prediction containers load, by the container's framework
#: (https://cloud.google.com/vertex-ai/docs/predictions/pre-built-containers: XGBoost reads model.bst,
#: model.joblib or model.pkl; scikit-learn model.joblib or model.pkl; PyTorch a TorchServe model.mar)
PREBUILT_FORMATS = {"xgboost": ("xgboost", "sklearn"), "sklearn": ("sklearn",)}


def _check_serving_format(b: _Builder, model: dict, fw: dict) -> None:
    """A served or batch-scored model needs a server that reads its `format`: Vertex's prebuilt
    XGBoost and scikit-learn containers, else refused (E505). A model with a `serve` handler is served
    by mlspec's server in the framework's prebuilt image, whatever files its directory holds."""
    ir = b.e.ir
    used = any(ep["model"] == model["id"] or any(v.get("model") == model["id"]
                                                  for v in (ep.get("rollout") or {}).get("variants") or [])
               for ep in ir["endpoints"]) or any(bj["model"] == model["id"] for bj in ir["batch"])
    if model.get("serve"):
        return  # mlspec's server runs the handler in the prebuilt image (serve_bundle), whatever the files
    fmt = model.get("format")
    if not used or fmt is None or fw["name"] == "custom":
        return
    if fmt not in PREBUILT_FORMATS.get(fw["name"], ()):
        readers = sorted({f for fs in PREBUILT_FORMATS.values() for f in fs})
        b.diags.append(Diagnostic(
            "E505", f"model `{model['name']}` (format `{fmt}`, framework `{fw['name']}`) is served or batch-scored, "
                    f"and no Vertex prebuilt prediction container for `{fw['name']}` reads format `{fmt}`", model["id"],
            hint="Vertex's prebuilt containers serve formats " + ", ".join(f"`{f}`" for f in readers)
                 + " (XGBoost or scikit-learn models); write one of them"))


def lower_register(b: _Builder, step: dict, model_by_step: dict) -> None:
    name = task_name(step["name"])
    model = next((m for m in b.e.ir["models"] if m["id"] == step["model"]), None)
    if model is None:
        b.diags.append(Diagnostic("E505", f"register step `{step['name']}` names an unknown model", step["id"]))
        return
    comp_in, arts, _args, deps = _inputs(b, step, {"model": step["source"]})
    metric_params: dict[str, Any] = {}
    metrics_from = step.get("metrics_from")
    metric_names: list[str] = []
    if metrics_from and metrics_from in b.metric_tasks:
        mt = b.metric_tasks[metrics_from]
        metric_names = list(b.steps[metrics_from]["metrics"])
        arts["metrics"] = {"taskOutputArtifact": {"producerTask": task_name(b.steps[metrics_from]["name"]),
                                                  "outputArtifactKey": "metrics"}}
        comp_in["metrics"] = ("artifact", "metrics")
        deps += [mt, task_name(b.steps[metrics_from]["name"])]
    deps += [task_name(b.steps[d]["name"]) for d in step["depends_on"] if d in b.steps]
    cond, c_in, t_in, c_deps = b.condition_for(step)
    fw = model.get("framework") or _model_framework(b, step["source"]) or {"name": "custom", "version": ""}
    gpu = any(e["model"] == model["id"] and e["compute"]["class"].startswith("gpu.") for e in b.e.ir["endpoints"])
    served = _trained_framework(b, step["source"], fw) or fw
    serving = containers.serving_image(fw["name"], str(served.get("version") or ""), b.e.region, gpu)
    source_image = (b.steps.get(".".join(step["source"].split(".")[:2])) or {}).get("image")
    if fw["name"] == "custom" and source_image:
        # a custom image serves itself; it must implement Vertex's custom-container contract (AIP_* routes)
        serving = source_image
    elif serving is None:
        serving = containers.newest_serving_image(fw["name"], b.e.region, gpu)
        if serving is None:
            b.diags.append(Diagnostic("E505", f"Vertex has no prebuilt serving container for `{fw['name']}` "
                                              f"(model `{model['name']}`)", model["id"],
                                      hint=f"use one of the frameworks listed at {containers.DOC}"))
            serving = ""
        else:
            b.diags.append(Diagnostic("W505", f"Vertex has no prebuilt serving container for `{fw['name']}` "
                                              f"{fw.get('version')} or newer; using `{serving}`", model["id"],
                                      hint=f"pick a version listed at {containers.DOC}", severity="warning"))
    _check_serving_format(b, model, fw)
    if serving and not (fw["name"] == "custom" and source_image):
        b.model_users.setdefault(".".join(step["source"].split(".")[:2]), []).append(
            (f"the serving container of model `{model['name']}`", serving, model["id"]))
    gates = [b.gates[g] for g in model.get("gates") or [] if g in b.gates]
    shadowed = any(ep["model"] == model["id"] and ep["rollout"]["strategy"] == "shadow" for ep in b.e.ir["endpoints"])
    # a shadowed model is promoted by the shadow pipeline after `duration`, never straight at registration
    approval_auto = (not model["approval"]["required"] or b.e.ir["environment"]["approval"] == "none") and not shadowed
    aliases = [common.PENDING_ALIAS] + ([common.PRODUCTION_ALIAS] if approval_auto else [])
    config = {"model_id": b.e.model_id(model["name"]), "display_name": f"{b.e.prefix}-{model['name']}",
              "serving_image": serving, "aliases": aliases, "metric_names": metric_names,
              "explain": model.get("explain"), "card": model_card(b.e, model, gates),
              "evaluation": evaluation_import(model, metric_names),
              "labels": b.e.lineage_labels, "service_account": b.e.sa_email("serving"),
              "features": [{"name": c["name"]} for d in b.e.ir["datasets"] for c in d.get("schema") or []
                           if c.get("role") == "feature"]}
    serve = serve_bundle(b.e, model, b.diags)
    if serve:
        config["serve"] = serve
    plat_in, plat_task = b.platform(PLATFORM_LIGHT + ("encryption_key",))
    b.add(name, inputs={**comp_in, **plat_in, **c_in}, outputs={"model_version": "STRING"},
          executor=_runtime("register", ["--config", json.dumps(config, sort_keys=True)]),
          task_inputs={"artifacts": arts, "parameters": {**plat_task, **t_in, **metric_params}},
          deps=deps + c_deps, cache=False, condition=cond)


LOWER_STEP = {
    "validate": lower_validate,
    "process": lower_process,
    "train": lower_train,
    "tune": lower_tune,
    "evaluate": lower_evaluate,
    "bias_check": lower_bias_check,
    "explain": lower_explain,
    "register": lower_register,
    "batch_transform": lower_batch_transform,
}

#: the string values of `image_uri` / `serving_image` keys in compact or spaced JSON text
_IMAGE_VALUES = re.compile(r'"(?:image_uri|serving_image)": ?("(?:[^"\\]|\\.)*")')


def pin_images(e: Env, spec: dict) -> tuple[dict, list[str]]:
    """Pin every image of a PipelineSpec (executor images, CustomJob / HPT payload images, the
    serving image handed to register) by the digests of the `image_digests` setting; return the
    spec and the images left unpinned."""
    unpinned: set[str] = set()

    def pin(image: str) -> str:
        out = e.pin(image)
        if "@sha256:" not in out:
            unpinned.add(out)
        return out

    def walk_payload(node) -> bool:
        """Pin the payload's images in place; True when one changed."""
        changed = False
        for k, v in (node.items() if isinstance(node, dict) else enumerate(node)):
            if k in ("image_uri", "serving_image") and isinstance(v, str) and v:
                out = pin(v)
                if out != v:
                    node[k] = out
                    changed = True
            elif isinstance(v, (dict, list)):
                changed = walk_payload(v) or changed
        return changed

    for ex in spec["deploymentSpec"]["executors"].values():
        c = ex.get("container")
        if not c:
            continue
        c["image"] = pin(c["image"])
        args = c.get("args") or []
        for flag in ("--payload", "--config"):
            if flag in args:
                i = args.index(flag) + 1
                # the images the payload names, read from its JSON text (a key is the only string
                # followed by `:`); it was written with these settings (_launcher, the runtime
                # tasks' --config), so it is parsed and re-serialised only when a pin changes one
                images = [v for v in map(json.loads, _IMAGE_VALUES.findall(args[i])) if v]
                if any(e.pin(v) != v for v in images):
                    doc = json.loads(args[i])
                    walk_payload(doc)
                    args[i] = json.dumps(doc, sort_keys=True,
                                         separators=(",", ":") if flag == "--payload" else (", ", ": "))
                else:
                    for v in images:
                        pin(v)
    return spec, sorted(unpinned)


__all__ = ["build_pipeline", "pin_images", "LOWER_STEP", "model_card", "data_version"]
