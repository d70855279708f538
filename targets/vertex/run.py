"""`mlspec run --target vertex`: execute the KFP PipelineSpec (pipelines/<env>/<p>.json) locally.

Interprets the PipelineSpec Vertex AI Pipelines would receive, the way the KFP v2 backend
and launcher run it:

- the deploy's code uploads (pulumi/stacks/<env>.json ``code_objects``) are placed in a
  local Cloud Storage tree; ``gs://b/k`` is ``<work>/gcs/b/k`` and the Cloud Storage FUSE
  path ``/gcs/b/k`` is remapped to the same folder;
- root parameters take their defaults (a required parameter without one is an error, as a
  job submission without it would be);
- tasks run in dependency order (``dependentTasks`` and the tasks their inputs read);
  ``triggerPolicy.condition`` is evaluated over the task's resolved parameters (false: the
  task and the tasks that depend on it are skipped);
- ``importer`` executors produce their artifact from ``artifactUri``;
- container executors get their placeholders resolved (``{{$}}`` executor input,
  ``{{$.inputs.parameters['x']}}``, ``{{$.inputs.artifacts['x'].path|uri}}``,
  ``{{$.outputs.artifacts['x'].path|uri}}``, ``{{$.outputs.parameters['x'].output_file}}``,
  ``{{$.pipeline_job_name}}``) and output parameters are read back from the executor output;
- GCPC's CustomJob launcher (``google_cloud_pipeline_components.container.v1.custom_job
  .launcher``) is not run: its payload is parsed exactly as that launcher parses it
  (``json.loads`` without empty fields, then the ``aiplatform_v1`` ``CustomJob`` proto-plus
  message of the create request), and the job it describes runs locally: each worker
  pool's container command with ``AIP_*`` variables from ``baseOutputDirectory``.

Not runnable locally: worker pools with a ``pythonPackageSpec`` or more than one replica,
and any other GCPC launcher (batch prediction, model evaluation, ...).
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from mlspec.compiler.run import engine
from mlspec.compiler.run.engine import NotRunnable, StepFailed, StepRecord

_PLACEHOLDER = re.compile(r"\{\{\$(?:\.([^}]*))?\}\}")
CUSTOM_JOB_LAUNCHER = "google_cloud_pipeline_components.container.v1.custom_job.launcher"
TUNING_JOB_LAUNCHER = "google_cloud_pipeline_components.container.v1.hyperparameter_tuning_job.launcher"


def remove_empty(value: Any) -> Any:
    """What GCPC's json_util.recursive_remove_empty does to a payload before parsing it."""
    if isinstance(value, dict):
        out = {k: remove_empty(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        out = [remove_empty(v) for v in value]
        return [v for v in out if v not in (None, "", [], {})]
    return value


def parse_custom_job(payload: str, project: str, location: str):
    """The launcher's parse: json.loads(strict=False) -> empty fields removed -> CustomJob proto."""
    from google.cloud.aiplatform_v1.types import CreateCustomJobRequest

    try:
        spec = remove_empty(json.loads(payload, strict=False))
    except ValueError as exc:
        raise StepFailed(f"the CustomJob launcher cannot read its payload: {exc}") from None
    try:
        return CreateCustomJobRequest(parent=f"projects/{project}/locations/{location}", custom_job=spec).custom_job
    except (ValueError, TypeError, KeyError) as exc:
        raise StepFailed(f"the CustomJob launcher rejects the payload: {exc}") from None


class VertexRun:
    def __init__(self, ctx: engine.RunContext) -> None:
        self.ctx = ctx
        self.stack = self._json(f"pulumi/stacks/{ctx.environment}.json")
        item = next((p for p in self.stack["pipelines"] if p["key"] == ctx.pipeline), None)
        if item is None:
            raise engine.RunError(f"no Vertex pipeline `{ctx.pipeline}` in this build")
        self.spec = self._json(os.path.normpath(os.path.join("pulumi", item["spec"])))
        self.job_name = f"{item['display_name']}-local0001"[:128]
        self.gcs = ctx.workdir / "gcs"
        self.buckets = {b["key"]: b["name"] for b in self.stack["buckets"]}
        self.root_uri = f"gs://{self.buckets.get(item.get('root_bucket', 'pipeline'), 'pipeline')}/root/{self.job_name}"
        self.report = engine.RunReport("vertex", ctx.environment, ctx.pipeline)
        self.status: dict[str, str] = {}
        self.out_params: dict[str, dict[str, Any]] = {}
        self.out_artifacts: dict[str, dict[str, dict]] = {}
        self.registry = ctx.workdir / "vertex-registry"
        # the launcher's proto types take seconds to import: load them while the first tasks run
        import threading

        threading.Thread(target=_prefetch_protos, daemon=True).start()

    def _json(self, rel: str) -> Any:
        try:
            return json.loads((self.ctx.build_dir / rel).read_text(encoding="utf-8"))
        except OSError as exc:
            raise engine.RunError(f"cannot read the Vertex artifact `{rel}`: {exc.strerror}") from None

    # ------------------------------------------------------------------ storage
    def local(self, uri: str) -> Path:
        if not uri.startswith("gs://"):
            raise StepFailed(f"`{uri}` is not a Cloud Storage URI")
        return self.gcs / uri[len("gs://"):]

    def deploy(self) -> None:
        # the Pulumi program uploads code_objects into the read-only `code` bucket
        code_bucket = self.buckets["code"]
        pulumi_dir = self.ctx.build_dir / "pulumi"
        for obj in self.stack.get("code_objects") or []:
            dest = self.gcs / code_bucket / obj["object"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile((pulumi_dir / obj["source"]).resolve(), dest)
        for b in self.buckets.values():
            (self.gcs / b).mkdir(parents=True, exist_ok=True)
        for ds in self.ctx.ir.get("datasets") or []:
            src = self.ctx.data.get(ds["name"])
            if src is None:
                continue
            uri = ds["uri"]
            if uri.startswith("data://"):
                uri = f"gs://{self.buckets['data']}/{uri[len('data://'):]}"
            engine.copy_data(src, self.local(uri.rstrip("/") + "/"))

    # ------------------------------------------------------------------ run
    def run(self) -> engine.RunReport:
        self.deploy()
        root = self.spec["root"]
        params = {}
        for name, d in ((root.get("inputDefinitions") or {}).get("parameters") or {}).items():
            if "defaultValue" in d:
                params[name] = d["defaultValue"]
            elif not d.get("isOptional"):
                params[name] = self._runtime_parameter(name)
        self.root_params = params
        self._stopped = ""
        self._dag(root["dag"], params, {}, "")
        self._registered()
        return self.report

    def _dag(self, dag: dict, scope_params: dict[str, Any], scope_arts: dict[str, dict], skip: str) -> None:
        """Run one DAG (the root, or a sub-DAG such as a condition branch) in dependency order.

        ``skip``: why every task of this DAG is skipped (its DAG task's condition was false, or
        a task it depends on was skipped); the tasks are still listed, as the Vertex console
        lists the nodes of a branch that did not run."""
        tasks = dag["tasks"]
        deps = {}
        for n, t in tasks.items():
            d = set(t.get("dependentTasks") or [])
            for kind in ("parameters", "artifacts"):
                for v in ((t.get("inputs") or {}).get(kind) or {}).values():
                    ref = v.get("taskOutputParameter") or v.get("taskOutputArtifact")
                    if ref:
                        d.add(ref["producerTask"])
            deps[n] = d
        scope = (scope_params, scope_arts)
        for name in engine.dag_order(list(tasks), deps):
            t = tasks[name]
            comp = self.spec["components"][t["componentRef"]["name"]]
            clock = engine.Clock()
            # an exit handler's task (KFP: ALL_UPSTREAM_TASKS_COMPLETED) runs whatever its upstream did
            finally_task = (t.get("triggerPolicy") or {}).get("strategy") == "ALL_UPSTREAM_TASKS_COMPLETED"
            why = skip
            if not why and self._stopped and not finally_task:
                why = f"not started: task {self._stopped} failed"
            rec = None
            if finally_task and not why:
                for d in sorted(deps[name]):
                    if self.status.get(d) == engine.NOT_RUNNABLE:
                        rec = StepRecord(name, engine.NOT_RUNNABLE, reason=f"depends on {d}, which cannot run locally")
            elif not why:
                for d in sorted(deps[name]):
                    st = self.status.get(d)
                    if st == engine.SKIPPED:
                        why = f"depends on skipped task {d}"
                    elif st == engine.NOT_RUNNABLE:
                        rec = StepRecord(name, engine.NOT_RUNNABLE, reason=f"depends on {d}, which cannot run locally")
                    if why or rec:
                        break
            if not why and rec is None:
                try:
                    params, arts = self._inputs(t, scope)
                    cond = (t.get("triggerPolicy") or {}).get("condition")
                    if cond:
                        value, text = evaluate_condition(cond, params)
                        if not value:
                            why = f"condition false ({t.get('taskInfo', {}).get('name', name)}): {text}"
                except NotRunnable as exc:
                    rec = StepRecord(name, engine.NOT_RUNNABLE, clock.seconds, str(exc))
                except StepFailed as exc:
                    rec = StepRecord(name, engine.FAILED, clock.seconds, str(exc))
            if "dag" in comp and rec is None:
                # a DAG task is not a step: its tasks are (the run fails or succeeds with them)
                self._dag(comp["dag"], *(({}, {}) if why else (params, arts)), why)
                sub = [self.status.get(n) for n in comp["dag"]["tasks"]]
                self.status[name] = (engine.FAILED if engine.FAILED in sub else engine.SKIPPED if why
                                     else engine.NOT_RUNNABLE if engine.NOT_RUNNABLE in sub else engine.SUCCEEDED)
                self._dag_outputs(name, comp, scope)
                continue
            if rec is None and why:
                rec = StepRecord(name, engine.SKIPPED, 0.0, why)
            if rec is None:
                # retryPolicy: the backend runs a failed task again, up to maxRetryCount times
                retries = int((t.get("retryPolicy") or {}).get("maxRetryCount") or 0)
                failures: list[str] = []
                while rec is None:
                    try:
                        note = self._task(name, t, comp, params, arts) or ""
                        if failures:
                            note = (f"succeeded on attempt {len(failures) + 1} of {retries + 1} (retryPolicy; "
                                    f"attempt 1 failed: {failures[0][:200]})" + (f"; {note}" if note else ""))
                        rec = StepRecord(name, engine.SUCCEEDED, 0.0, note)
                    except NotRunnable as exc:
                        rec = StepRecord(name, engine.NOT_RUNNABLE, 0.0, str(exc))
                    except StepFailed as exc:
                        failures.append(str(exc))
                        if len(failures) > retries:
                            rec = StepRecord(name, engine.FAILED, 0.0, str(exc) + (
                                f" (failed {len(failures)} times: retryPolicy allows {retries} retries)"
                                if retries else ""))
                        else:
                            self.ctx.progress(f"  {name}: attempt {len(failures)} failed; retrying "
                                              f"({len(failures)} of {retries} retries)")
                rec.seconds = clock.seconds
            self.status[name] = rec.status
            self.report.steps.append(rec)
            self.ctx.progress(engine.render_text_line(rec))
            if rec.status == engine.FAILED and not self._stopped:
                self._stopped = name

    def _dag_outputs(self, name: str, comp: dict, scope) -> None:
        """A DAG component's outputs (dag.outputs selectors) as its task's outputs."""
        outs = (comp["dag"].get("outputs") or {})
        self.out_params[name] = {}
        self.out_artifacts[name] = {}
        for k, sel in (outs.get("parameters") or {}).items():
            ref = sel.get("valueFromParameter") or {}
            value = self.out_params.get(ref.get("producerSubtask"), {}).get(ref.get("outputParameterKey"))
            if value is not None:
                self.out_params[name][k] = value
        for k, sel in (outs.get("artifacts") or {}).items():
            for ref in sel.get("artifactSelectors") or []:
                art = self.out_artifacts.get(ref.get("producerSubtask"), {}).get(ref.get("outputArtifactKey"))
                if art is not None:
                    self.out_artifacts[name][k] = art

    def _registered(self) -> None:
        """Model versions the run's register tasks uploaded, with their approval state (aliases:
        ``pending`` waits for approvers, ``production`` is deployable)."""
        from mlspec.targets.vertex.approvals import VERTEX_APPROVED_ALIAS, VERTEX_PENDING_ALIAS

        for outs in self.out_params.values():
            ref = outs.get("model_version")
            if not isinstance(ref, str) or "/models/" not in ref:
                continue
            mid, _, vid = ref.rsplit("/", 1)[-1].partition("@")
            path = self.registry / "models" / f"{mid}.json"
            if not path.exists():
                raise engine.RunError(f"register reported {ref}, which the local Model Registry does not hold")
            doc = json.loads(path.read_text(encoding="utf-8"))
            version = next(v for v in doc["versions"] if v["id"] == vid)
            status = (engine.APPROVED if VERTEX_APPROVED_ALIAS in version["aliases"] else
                      engine.PENDING if VERTEX_PENDING_ALIAS in version["aliases"] else "registered")
            self.report.registered.append(engine.Registered(mid, vid, status))

    _TASK_STATES = {engine.SUCCEEDED: "SUCCEEDED", engine.FAILED: "FAILED", engine.SKIPPED: "SKIPPED",
                    engine.NOT_RUNNABLE: "NOT_TRIGGERED"}

    def _final_status(self, producer: str) -> dict[str, Any]:
        """A ``PipelineTaskFinalStatus`` of a DAG task, as Vertex hands it to an exit handler's task; the
        run's task details are recorded for ``PipelineJob.get`` (runshim) at the same time."""
        job = f"projects/{self.stack.get('project')}/locations/{self.stack.get('region')}/pipelineJobs/{self.job_name}"
        failed = [r.name for r in self.report.steps if r.status == engine.FAILED]
        state = "FAILED" if self.status.get(producer) == engine.FAILED else "SUCCEEDED"
        doc = {"name": job, "task_details": [{"task_name": r.name, "state": self._TASK_STATES[r.status]}
                                             for r in self.report.steps]}
        path = self.registry / "pipeline_jobs" / f"{self.job_name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2, sort_keys=True), encoding="utf-8")
        out: dict[str, Any] = {"state": state, "pipelineJobResourceName": job, "pipelineTaskName": producer}
        if failed:
            out["error"] = {"code": 9, "message": "The DAG failed because some tasks failed. The failed tasks are: "
                                                  f"[{', '.join(failed)}]."}
        return out

    def _runtime_parameter(self, name: str) -> Any:
        net = self.stack.get("network") or {}
        if name == "network" and isinstance(net, dict) and net.get("network"):
            # what the deploy's launch workflow passes (runtimeConfig.parameterValues)
            return f"projects/{self.stack.get('project_number')}/global/networks/{net['network'].rsplit('/', 1)[-1]}"
        raise engine.RunError(f"the pipeline's required parameter `{name}` has no default; the job that "
                              "submits it must pass a value (a local run has none)")

    # ------------------------------------------------------------------ one task
    def _inputs(self, t: dict, scope) -> tuple[dict[str, Any], dict[str, dict]]:
        scope_params, scope_arts = scope
        params: dict[str, Any] = {}
        arts: dict[str, dict] = {}
        spec_in = t.get("inputs") or {}
        for k, v in (spec_in.get("parameters") or {}).items():
            if "componentInputParameter" in v:
                if v["componentInputParameter"] not in scope_params:
                    raise StepFailed(f"input `{k}`: the enclosing DAG has no input parameter "
                                     f"`{v['componentInputParameter']}`")
                params[k] = scope_params[v["componentInputParameter"]]
            elif "taskOutputParameter" in v:
                ref = v["taskOutputParameter"]
                outs = self.out_params.get(ref["producerTask"], {})
                if ref["outputParameterKey"] not in outs:
                    raise StepFailed(f"input `{k}`: task {ref['producerTask']} produced no parameter "
                                     f"`{ref['outputParameterKey']}`")
                params[k] = outs[ref["outputParameterKey"]]
            elif "runtimeValue" in v:
                params[k] = v["runtimeValue"].get("constant")
            elif "taskFinalStatus" in v:
                params[k] = self._final_status(v["taskFinalStatus"]["producerTask"])
            else:
                raise NotRunnable(f"input parameter `{k}` uses {', '.join(v)}")
        for k, v in (spec_in.get("artifacts") or {}).items():
            if "componentInputArtifact" in v:
                if v["componentInputArtifact"] not in scope_arts:
                    raise StepFailed(f"input `{k}`: the enclosing DAG has no input artifact "
                                     f"`{v['componentInputArtifact']}`")
                arts[k] = scope_arts[v["componentInputArtifact"]]
                continue
            ref = v.get("taskOutputArtifact")
            if not ref:
                raise NotRunnable(f"input artifact `{k}` uses {', '.join(v)}")
            outs = self.out_artifacts.get(ref["producerTask"], {})
            if ref["outputArtifactKey"] not in outs:
                raise StepFailed(f"input `{k}`: task {ref['producerTask']} produced no artifact `{ref['outputArtifactKey']}`")
            arts[k] = outs[ref["outputArtifactKey"]]
        return params, arts

    def _task(self, name: str, t: dict, comp: dict, params: dict[str, Any], arts: dict[str, dict]) -> str:
        executor = self.spec["deploymentSpec"]["executors"][comp["executorLabel"]]
        outdefs = comp.get("outputDefinitions") or {}
        out_arts = {}
        for k, d in (outdefs.get("artifacts") or {}).items():
            uri = f"{self.root_uri}/{name}/{k}"
            out_arts[k] = {"name": k, "type": d.get("artifactType", {}), "uri": uri, "metadata": {}}
        if "importer" in executor:
            imp = executor["importer"]
            src = imp.get("artifactUri", {})
            uri = params.get(src["runtimeParameter"]) if "runtimeParameter" in src else src.get("constant")
            if not isinstance(uri, str) or not self.local(uri).exists():
                raise StepFailed(f"importer: `{uri}` does not exist")
            self.out_artifacts[name] = {"artifact": {"name": "artifact", "type": imp.get("typeSchema", {}), "uri": uri,
                                                     "metadata": imp.get("metadata") or {}}}
            self.out_params[name] = {}
            return ""
        if "container" not in executor:
            raise NotRunnable(f"executor kind {', '.join(executor)}")
        tdir = self.ctx.step_dir(name)
        out_files = {k: tdir / "outputs" / f"{k}.txt" for k in (outdefs.get("parameters") or {})}
        (tdir / "outputs").mkdir(parents=True, exist_ok=True)
        executor_output = tdir / "executor_output.json"
        if executor_output.exists():
            executor_output.unlink()
        for a in out_arts.values():
            self.local(a["uri"]).mkdir(parents=True, exist_ok=True)
        ex_input = {
            "inputs": {"parameterValues": params,
                       "artifacts": {k: {"artifacts": [a]} for k, a in arts.items()}},
            "outputs": {"parameters": {k: {"outputFile": str(p)} for k, p in out_files.items()},
                        "artifacts": {k: {"artifacts": [a]} for k, a in out_arts.items()},
                        "outputFile": str(executor_output)},
        }
        ctr = executor["container"]
        argv = [self._fill(x, params, arts, out_arts, out_files, ex_input) for x in
                list(ctr.get("command") or []) + list(ctr.get("args") or [])]
        remap = {"/gcs": self.gcs}
        env = {e["name"]: e.get("value", "") for e in ctr.get("env") or []}
        note = ""
        self._job_step = None
        if len(argv) >= 4 and argv[:4] == ["python3", "-u", "-m", CUSTOM_JOB_LAUNCHER]:
            self._custom_job(name, argv[4:], remap)
        elif len(argv) >= 4 and argv[:4] == ["python3", "-u", "-m", TUNING_JOB_LAUNCHER]:
            note = self._tuning_job(name, argv[4:], remap)
        elif any(a == "-m" for a in argv[:3]) and any("google_cloud_pipeline_components" in a for a in argv[:4]):
            raise NotRunnable(f"GCPC launcher {next(a for a in argv if 'google_cloud_pipeline_components' in a)} "
                              "calls a managed Vertex AI service")
        else:
            env.update({"MLSPEC_RUN_SHIMS": "vertex_local", "MLSPEC_RUN_VERTEX_REGISTRY": str(self.registry),
                        "PYTHONPATH": str(Path(__file__).with_name("runshim"))})
            self.ctx.exec_script(name, argv, env=env, remap=remap, cwd=tdir)
        outs: dict[str, Any] = {}
        if executor_output.exists():
            doc = json.loads(executor_output.read_text(encoding="utf-8"))
            outs.update(doc.get("parameterValues") or {})
        ptypes = {k: d.get("parameterType", "STRING") for k, d in (outdefs.get("parameters") or {}).items()}
        for k, p in out_files.items():
            if k not in outs and p.exists():
                text = p.read_text(encoding="utf-8")
                if ptypes.get(k) == "STRING":  # the file's text is the value, as the KFP launcher reads it
                    outs[k] = text
                    continue
                try:
                    outs[k] = json.loads(text)
                except ValueError:
                    raise StepFailed(f"output parameter `{k}` ({ptypes.get(k)}) holds {text[:80]!r}, "
                                     "which is not JSON") from None
        self.out_params[name] = outs
        self.out_artifacts[name] = out_arts
        self._collect_metrics(self._job_step or name, out_arts)
        return note

    def _fill(self, text: str, params, arts, out_arts, out_files, ex_input) -> str:
        def sub(m):
            expr = m.group(1)
            if expr is None:
                return json.dumps(ex_input)
            if expr == "pipeline_job_name":
                return self.job_name
            if expr == "pipeline_job_uuid":
                return "00000000-0000-0000-0000-000000000001"
            mm = re.fullmatch(r"inputs\.parameters\['([^']+)'\]", expr)
            if mm:
                if mm.group(1) not in params:
                    raise StepFailed(f"placeholder {m.group(0)}: the task has no input parameter `{mm.group(1)}`")
                v = params[mm.group(1)]
                return v if isinstance(v, str) else json.dumps(v)
            mm = re.fullmatch(r"(inputs|outputs)\.artifacts\['([^']+)'\]\.(path|uri)", expr)
            if mm:
                pool = arts if mm.group(1) == "inputs" else out_arts
                if mm.group(2) not in pool:
                    raise StepFailed(f"placeholder {m.group(0)}: no {mm.group(1)[:-1]} artifact `{mm.group(2)}`")
                uri = pool[mm.group(2)]["uri"]
                return uri if mm.group(3) == "uri" else "/gcs/" + uri[len("gs://"):]
            mm = re.fullmatch(r"outputs\.parameters\['([^']+)'\]\.output_file", expr)
            if mm:
                if mm.group(1) not in out_files:
                    raise StepFailed(f"placeholder {m.group(0)}: no output parameter `{mm.group(1)}`")
                out_files[mm.group(1)].parent.mkdir(parents=True, exist_ok=True)
                return str(out_files[mm.group(1)])
            raise StepFailed(f"placeholder {m.group(0)} is not one the KFP launcher resolves")
        return _PLACEHOLDER.sub(sub, text)

    def _custom_job(self, name: str, args: list[str], remap: dict[str, Path]) -> None:
        opts = {args[i][2:]: args[i + 1] for i in range(0, len(args) - 1, 2) if args[i].startswith("--")}
        if opts.get("type") != "CustomJob":
            raise NotRunnable(f"launcher type {opts.get('type')}")
        job = parse_custom_job(opts.get("payload", ""), opts.get("project", ""), opts.get("location", ""))
        self._job_step = job.labels.get("mlspec-step")  # the spec's step name (metrics are keyed by it)
        spec = job.job_spec
        env = {}
        base = spec.base_output_directory.output_uri_prefix if spec.base_output_directory else ""
        if base:
            env.update({"AIP_MODEL_DIR": base.rstrip("/") + "/model/",
                        "AIP_CHECKPOINT_DIR": base.rstrip("/") + "/checkpoints/",
                        "AIP_TENSORBOARD_LOG_DIR": base.rstrip("/") + "/logs/"})
        timeout = spec.scheduling.timeout.total_seconds() if spec.scheduling and spec.scheduling.timeout else None
        for i, pool in enumerate(spec.worker_pool_specs):
            if not pool.container_spec.image_uri:
                raise NotRunnable("worker pool with a Python package spec")
            if pool.replica_count > 1:
                raise NotRunnable(f"worker pool {i} has {pool.replica_count} replicas (distributed training)")
            c = pool.container_spec
            penv = dict(env)
            penv.update({e.name: e.value for e in c.env})
            penv["CLOUD_ML_JOB_ID"] = job.display_name
            self.ctx.exec_script(name, list(c.command) + list(c.args), env=penv, remap=remap,
                                 cwd=self.ctx.step_dir(name), timeout=timeout or None)
        gcp = opts.get("gcp_resources")
        if gcp:
            Path(gcp).parent.mkdir(parents=True, exist_ok=True)
            Path(gcp).write_text(json.dumps({"resources": [{"resourceType": "CustomJob", "resourceUri":
                                 f"local://customJobs/{job.display_name}"}]}), encoding="utf-8")

    def _tuning_job(self, name: str, args: list[str], remap: dict[str, Path]) -> str:
        """GCPC's HyperparameterTuningJob launcher: the payload parsed into the aiplatform_v1
        message, then the declared trials run, up to ``parallel_trial_count`` at once (at most one per
        CPU), with values drawn in trial order (the same whatever order they finish in); no trial starts
        after the study's ``maximum_runtime_constraint``; each trial gets its values as
        ``--<parameter_id>=<value>`` and reports the metric through cloudml-hypertune's file."""
        from google.cloud.aiplatform_v1.types import CreateHyperparameterTuningJobRequest

        opts = {args[i][2:]: args[i + 1] for i in range(0, len(args) - 1, 2) if args[i].startswith("--")}
        parent = f"projects/{opts.get('project', '')}/locations/{opts.get('location', '')}"
        try:
            spec = remove_empty(json.loads(opts.get("payload", ""), strict=False))
            job = CreateHyperparameterTuningJobRequest(parent=parent, hyperparameter_tuning_job=spec
                                                       ).hyperparameter_tuning_job
        except (ValueError, TypeError, KeyError) as exc:
            raise StepFailed(f"the HyperparameterTuningJob launcher rejects the payload: {exc}") from None
        metric = job.study_spec.metrics[0]
        maximize = metric.goal.name == "MAXIMIZE"
        import random

        rng = random.Random(0)
        base = job.trial_job_spec.base_output_directory.output_uri_prefix.rstrip("/")
        sampled = []  # every trial's values, drawn in trial order whatever order the trials run in
        for i in range(job.max_trial_count or 1):
            values = []
            for p in job.study_spec.parameters:
                if p.double_value_spec.max_value or p.double_value_spec.min_value:
                    v = repr(round(rng.uniform(p.double_value_spec.min_value, p.double_value_spec.max_value), 6))
                elif p.integer_value_spec.max_value or p.integer_value_spec.min_value:
                    v = str(rng.randint(p.integer_value_spec.min_value, p.integer_value_spec.max_value))
                elif p.categorical_value_spec.values:
                    v = rng.choice(list(p.categorical_value_spec.values))
                elif p.discrete_value_spec.values:
                    v = repr(rng.choice(list(p.discrete_value_spec.values)))
                else:
                    raise StepFailed(f"parameter {p.parameter_id}: no value spec")
                values.append((p.parameter_id, v))
            sampled.append((str(i + 1), values))
        for pool in job.trial_job_spec.worker_pool_specs:
            if not pool.container_spec.image_uri:
                raise NotRunnable("trial worker pool with a Python package spec")
        stopping = job.study_spec.study_stopping_config
        budget = (stopping.maximum_runtime_constraint.max_duration.total_seconds()
                  if stopping and stopping.maximum_runtime_constraint and stopping.maximum_runtime_constraint.max_duration
                  else None)
        clock = engine.Clock()

        def trial(tid: str, values: list[tuple[str, str]]) -> dict:
            if budget is not None and tid != "1" and clock.seconds > budget:  # the study stopped: no new trial
                return {"id": tid, "value": None, "parameters": dict(values), "stopped": True}
            metric_file = self.ctx.step_dir(name) / f"trial-{tid}" / "output.metrics"
            metric_file.parent.mkdir(parents=True, exist_ok=True)
            env = {"CLOUD_ML_HP_METRIC_FILE": str(metric_file), "CLOUD_ML_TRIAL_ID": tid}
            if base:
                env.update({"AIP_MODEL_DIR": f"{base}/{tid}/model/", "AIP_CHECKPOINT_DIR": f"{base}/{tid}/checkpoints/",
                            "AIP_TENSORBOARD_LOG_DIR": f"{base}/{tid}/logs/"})
            for pool in job.trial_job_spec.worker_pool_specs:
                c = pool.container_spec
                argv = list(c.command) + list(c.args) + [f"--{k}={v}" for k, v in values]
                self.ctx.exec_script(name, argv, env={**env, **{e.name: e.value for e in c.env}}, remap=remap,
                                     cwd=self.ctx.step_dir(name))
            reported = None
            if metric_file.exists():
                for line in metric_file.read_text(encoding="utf-8").splitlines():
                    try:
                        doc = json.loads(line)
                    except ValueError:
                        continue
                    if metric.metric_id in doc:
                        reported = float(doc[metric.metric_id])
            return {"id": tid, "value": reported, "parameters": dict(values)}

        # up to parallel_trial_count trials at once, as Vertex runs them (bounded by this machine's CPUs);
        # the results are recorded in trial order
        workers = max(1, min(int(job.parallel_trial_count or 1), os.cpu_count() or 1, len(sampled)))
        if workers == 1:
            trials = [trial(tid, values) for tid, values in sampled]
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=workers) as pool_:
                futures = [pool_.submit(trial, tid, values) for tid, values in sampled]
                trials = []
                for f in futures:
                    trials.append(f.result())  # the first failed trial (in trial order) fails the job
        stopped = [t for t in trials if t.pop("stopped", False)]
        trials = [t for t in trials if t not in stopped]
        measured = [t for t in trials if t["value"] is not None]
        if not measured:
            raise StepFailed(f"no trial reported `{metric.metric_id}` through cloudml-hypertune "
                             "(CLOUD_ML_HP_METRIC_FILE); Vertex marks every trial infeasible and fails the job")
        resource = f"{parent}/hyperparameterTuningJobs/{job.display_name}"
        doc = {"name": resource, "metric_id": metric.metric_id, "goal": metric.goal.name, "trials": trials}
        out = self.registry / "tuning" / f"{job.display_name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=2), encoding="utf-8")
        gcp = opts.get("gcp_resources")
        if gcp:
            Path(gcp).parent.mkdir(parents=True, exist_ok=True)
            Path(gcp).write_text(json.dumps({"resources": [{"resourceType": "HyperparameterTuningJob", "resourceUri":
                                 f"https://{opts.get('location')}-aiplatform.googleapis.com/v1/{resource}"}]}),
                                 encoding="utf-8")
        best = (max if maximize else min)(measured, key=lambda t: t["value"])
        return (f"{len(trials)} trials; best {metric.metric_id}={best['value']:g} (trial {best['id']})"
                + (f"; the study stopped after {budget:g} s (maximum_runtime_constraint): {len(stopped)} trials "
                   "not started" if stopped else ""))

    def _collect_metrics(self, name: str, out_arts: dict[str, dict]) -> None:
        for a in out_arts.values():
            ms = engine.read_metrics(self.local(a["uri"]) / "evaluation.json")
            if ms is not None:
                self.report.metrics[name] = ms


def _prefetch_protos() -> None:
    try:
        import google.cloud.aiplatform_v1.types  # noqa: F401
    except ImportError:
        pass


def evaluate_condition(cond: str, params: dict[str, Any]) -> tuple[bool, str]:
    """A KFP triggerPolicy condition (the CEL subset KFP emits) over the task's parameters."""
    shown = cond
    for k, v in params.items():
        shown = shown.replace(f"inputs.parameter_values['{k}']", json.dumps(v))
    py = re.sub(r"inputs\.parameter_values\['([^']+)'\]", lambda m: f"P[{m.group(1)!r}]", cond)
    py = py.replace("&&", " and ").replace("||", " or ")
    py = re.sub(r"!(?!=)", " not ", py)
    py = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", py))
    try:
        value = bool(eval(py, {"__builtins__": {}}, {"P": params}))  # noqa: S307 - generated CEL subset only
    except KeyError as exc:
        raise StepFailed(f"condition reads parameter {exc} that the task does not have") from None
    except Exception as exc:
        raise StepFailed(f"condition `{cond}` cannot be evaluated: {exc}") from None
    return value, shown


def run(ctx: engine.RunContext) -> engine.RunReport:
    return VertexRun(ctx).run()
