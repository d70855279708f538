"""`mlspec run --target azureml`: execute the Azure ML pipeline job YAML locally.

Interprets what ``az ml job create`` would submit (<env>/pipelines/<pipeline>/pipeline.yml
and the component YAML it names), the way the Azure ML service runs it:

- the job and component files are loaded with azure-ai-ml's own loaders first
  (``load_job`` / ``load_component``): what the service would reject is a failed run;
- jobs run in the order their ``${{parent.jobs.<job>.outputs.<o>}}`` bindings imply;
  ``continue_on_step_failure: false`` stops the run at the first failed job;
- a command job runs the component's ``command`` with ``${{inputs.x}}``,
  ``${{outputs.x}}`` (and ``$[[...]]`` optional sections) resolved, in a copy of the
  component's ``code`` snapshot as working directory; every input is a local folder, made
  read-only (chmod) when its mode is ``ro_mount`` (the default for inputs), every output an
  empty writable folder; literal inputs take the job's value or the component default;
- every job is an MLflow run on the workspace's tracking server, as on Azure ML: the executor
  creates the job's run and gives the process ``MLFLOW_TRACKING_URI`` / ``MLFLOW_RUN_ID``; the
  server is the MLflow REST API answered from the runner's process (``run_tracking.py``);
- sweep jobs run the declared number of trials in sequence (sampled from the search space)
  and pick the best by the primary metric each trial logged to its own MLflow run;
- registration and champion lookup in mlspec's own step scripts call azure-ai-ml's
  ``MLClient``; it is served by a local workspace registry (``runshim/azure_local.py``) that
  takes the ``Model`` entities azure-ai-ml builds and checks them with azure-ai-ml's own
  REST conversion.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

from mlspec.compiler.run import engine
from mlspec.compiler.run.engine import NotRunnable, StepFailed, StepRecord

SHIM_DIR = Path(__file__).with_name("runshim")
_BIND = re.compile(r"\$\{\{\s*([\w.]+)\s*\}\}")
_OPTIONAL = re.compile(r"\$\[\[(.*?)\]\]", re.S)


class AzureMLRun:
    def __init__(self, ctx: engine.RunContext) -> None:
        import yaml

        self.ctx = ctx
        self.pipe_dir = ctx.build_dir / ctx.environment / "pipelines" / ctx.pipeline
        path = self.pipe_dir / "pipeline.yml"
        try:
            self.job = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError:
            raise engine.RunError(f"no Azure ML pipeline job `{ctx.environment}/pipelines/{ctx.pipeline}/pipeline.yml` "
                                  "in this build") from None
        self.report = engine.RunReport("azureml", ctx.environment, ctx.pipeline)
        self.outputs: dict[str, dict[str, Path]] = {}  # job -> output -> folder
        self.status: dict[str, str] = {}
        self.run_ids: dict[str, str] = {}  # job (or trial) -> its MLflow run
        self._validator = None
        self.registry = ctx.workdir / "workspace"
        self.registry.mkdir(parents=True, exist_ok=True)
        settings = ((ctx.ir.get("targets") or {}).get("azureml") or {})
        self.arm = {"AZUREML_ARM_SUBSCRIPTION": str(settings.get("subscription", "00000000-0000-0000-0000-000000000000")),
                    "AZUREML_ARM_RESOURCEGROUP": str(settings.get("resource_group", "rg")),
                    "AZUREML_ARM_WORKSPACE_NAME": str(settings.get("workspace", "ws")),
                    "AZUREML_ROOT_RUN_ID": f"local-{ctx.pipeline}-0001"}

    # ------------------------------------------------------------------ vendor loaders
    def start_validation(self) -> None:
        """azure-ai-ml's loaders judge the pipeline job and every component it uses, in a process
        of their own started now (``run_validate.py``), so importing azure-ai-ml overlaps with the
        first job; :meth:`validation_verdict` waits for it before any step is reported."""
        import subprocess
        import sys

        self._validator = subprocess.Popen(
            [sys.executable, "-m", "mlspec.targets.azureml.run_validate", str(self.pipe_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONHASHSEED": "0"})

    def validation_verdict(self) -> None:
        """Raise RunError when azure-ai-ml rejected the artifact (what the service would reject)."""
        proc, self._validator = self._validator, None
        if proc is None:
            return
        out = proc.communicate()[0].decode("utf-8", "replace").strip()
        if proc.returncode != 0:
            raise engine.RunError(out.splitlines()[-1] if out else f"azure-ai-ml's loaders exited {proc.returncode}")

    def validate_artifact(self) -> None:
        """The same verdict, in this process (for callers that want it before anything runs)."""
        from mlspec.targets.azureml.run_validate import validate

        reason = validate(self.pipe_dir)
        if reason:
            raise engine.RunError(reason)

    # ------------------------------------------------------------------ graph
    def run(self) -> engine.RunReport:
        from mlspec.targets.azureml.run_tracking import TrackingServer

        self.start_validation()
        try:
            with TrackingServer(self.ctx.workdir / "mlartifacts") as self.tracking:
                self.experiment_id = self.tracking.store.experiment(str(self.job.get("experiment_name") or "Default"))
                return self._run_graph()
        finally:
            if self._validator is not None:
                self._validator.kill()
                self._validator.wait()

    def _run_graph(self) -> engine.RunReport:
        jobs = self.job.get("jobs") or {}
        deps = {n: {m.group(1).split(".")[2] for m in _BIND.finditer(json.dumps(j.get("inputs") or {}))
                    if m.group(1).startswith("parent.jobs.")} for n, j in jobs.items()}
        order = engine.dag_order(list(jobs), deps)
        parent_inputs = self._parent_inputs()
        stop_on_failure = not ((self.job.get("settings") or {}).get("continue_on_step_failure") or False)
        stopped = ""
        for name in order:
            j = jobs[name]
            clock = engine.Clock()
            if stopped:
                rec = StepRecord(name, engine.SKIPPED, reason=f"not started: job {stopped} failed")
            elif any(self.status.get(d) != engine.SUCCEEDED for d in deps[name]):
                bad = sorted(d for d in deps[name] if self.status.get(d) != engine.SUCCEEDED)
                st = engine.NOT_RUNNABLE if any(self.status.get(d) == engine.NOT_RUNNABLE for d in bad) else engine.SKIPPED
                rec = StepRecord(name, st, reason=f"reads the outputs of {', '.join(bad)}, which did not run")
            else:
                try:
                    reason = self._run_job(name, j, parent_inputs) or ""
                    rec = StepRecord(name, engine.SUCCEEDED, clock.seconds, reason)
                except NotRunnable as exc:
                    rec = StepRecord(name, engine.NOT_RUNNABLE, clock.seconds, str(exc))
                except StepFailed as exc:
                    rec = StepRecord(name, engine.FAILED, clock.seconds, str(exc))
            self.validation_verdict()  # no step is reported before azure-ai-ml accepted the artifact
            self.status[name] = rec.status
            self.report.steps.append(rec)
            self.ctx.progress(engine.render_text_line(rec))
            if rec.status == engine.FAILED and stop_on_failure and not stopped:
                stopped = name
        self._collect_registry()
        return self.report

    def _parent_inputs(self) -> dict[str, Any]:
        """Pipeline-level inputs: data assets placed where the datastore path points."""
        out: dict[str, Any] = {}
        datasets = {d["name"]: d for d in self.ctx.ir.get("datasets") or []}
        for name, spec in (self.job.get("inputs") or {}).items():
            if not isinstance(spec, dict) or spec.get("type") not in ("uri_folder", "uri_file", "mltable"):
                out[name] = spec.get("default", spec.get("value")) if isinstance(spec, dict) else spec
                continue
            path = str(spec.get("path", ""))
            m = re.match(r"azureml://datastores/([^/]+)/paths/(.*)$", path)
            if not m:
                raise engine.RunError(f"pipeline input `{name}` reads `{path}`, which a local run cannot place")
            local = self.ctx.workdir / "datastores" / m.group(1) / m.group(2)
            ds = next((d for d in datasets.values()
                       if d["uri"].startswith("data://") and d["uri"][len("data://"):] == m.group(2)), None)
            if ds is not None and ds["name"] in self.ctx.data:
                engine.copy_data(self.ctx.data[ds["name"]], local)
            if not local.exists() or not any(local.iterdir()):
                raise engine.RunError(f"pipeline input `{name}` ({path}) has no local data")
            out[name] = {"path": local, "mode": spec.get("mode", "ro_mount")}
        return out

    # ------------------------------------------------------------------ jobs
    def _component(self, rel: str, base: Path) -> tuple[dict, Path]:
        import yaml

        path = (base / rel).resolve()
        return yaml.safe_load(path.read_text(encoding="utf-8")), path.parent

    def _bind(self, value: Any, parent_inputs: dict[str, Any]) -> Any:
        """A job input value: a literal, or a ${{parent...}} binding to a folder/value."""
        if not isinstance(value, str):
            return value
        m = _BIND.fullmatch(value.strip())
        if not m:
            return value
        parts = m.group(1).split(".")
        if parts[:2] == ["parent", "inputs"]:
            if parts[2] not in parent_inputs:
                raise StepFailed(f"binding {value}: the pipeline has no input `{parts[2]}`")
            return parent_inputs[parts[2]]
        if parts[:2] == ["parent", "jobs"] and len(parts) == 5 and parts[3] == "outputs":
            outs = self.outputs.get(parts[2], {})
            if parts[4] not in outs:
                raise StepFailed(f"binding {value}: job `{parts[2]}` has no output `{parts[4]}`")
            return {"path": outs[parts[4]], "mode": None}
        raise StepFailed(f"binding {value} is not one Azure ML resolves in a pipeline job")

    def _run_job(self, name: str, j: dict, parent_inputs: dict[str, Any]) -> str:
        kind = j.get("type", "command")
        bound = {k: self._bind(v, parent_inputs) for k, v in (j.get("inputs") or {}).items()}
        if kind == "command":
            comp, comp_dir = self._component(j["component"], self.pipe_dir)
            outs = self._command(name, comp, comp_dir, bound, j)
            self.outputs[name] = outs
            self._collect_metrics(comp, outs)
            return ""
        if kind == "pipeline":
            return self._sub_pipeline(name, j, bound)
        raise NotRunnable(f"{kind} jobs run only in the Azure ML service")

    def _command(self, name: str, comp: dict, comp_dir: Path, bound: dict[str, Any], job: dict,
                 trial: dict[str, Any] | None = None) -> dict[str, Path]:
        jdir = self.ctx.step_dir(name)
        for sub in ("inputs", "outputs", "code"):
            p = jdir / sub
            if p.exists():
                engine.make_writable(p)
                shutil.rmtree(p)
        values: dict[str, str] = {}
        readonly: list[Path] = []
        for iname, spec in (comp.get("inputs") or {}).items():
            t = spec.get("type")
            given = (trial or {}).get(iname, bound.get(iname))
            if t in ("uri_folder", "uri_file", "mlflow_model", "custom_model", "mltable"):
                if given is None:
                    if spec.get("optional"):
                        continue
                    raise StepFailed(f"input `{iname}` is required by the component and not bound")
                src = Path(given["path"])
                mode = (job.get("inputs") or {}).get(iname, {}) if isinstance((job.get("inputs") or {}).get(iname), dict) else {}
                mode = (mode.get("mode") if isinstance(mode, dict) else None) or spec.get("mode") or given.get("mode") or "ro_mount"
                local = jdir / "inputs" / iname
                if mode == "download" or mode == "ro_mount" or mode == "rw_mount":
                    shutil.copytree(src, local) if src.is_dir() else (local.mkdir(parents=True), shutil.copy2(src, local))
                else:
                    raise NotRunnable(f"input `{iname}`: mode {mode} runs only in Azure ML")
                if mode == "ro_mount":
                    engine.make_readonly(local)
                    readonly.append(local)
                values[f"inputs.{iname}"] = str(local)
            else:
                v = given if given is not None else spec.get("default")
                if v is None:
                    if spec.get("optional"):
                        continue
                    raise StepFailed(f"input `{iname}` has no value and no default")
                values[f"inputs.{iname}"] = _literal(v)
        outs: dict[str, Path] = {}
        for oname in (comp.get("outputs") or {}):
            p = jdir / "outputs" / oname
            p.mkdir(parents=True)
            outs[oname] = p
            values[f"outputs.{oname}"] = str(p)
        command = _OPTIONAL.sub(lambda m: m.group(1) if all(b in values for b in _BIND.findall(m.group(1))) else "",
                                comp["command"])

        def sub(m):
            key = m.group(1)
            if key not in values:
                raise StepFailed(f"command uses ${{{{{key}}}}}, which the component does not declare")
            return values[key]
        command = _BIND.sub(sub, command)
        code = comp.get("code")
        cwd = jdir / "code"
        if code:
            shutil.copytree((comp_dir / code).resolve(), cwd)
        else:
            cwd.mkdir(parents=True)
        import shlex

        env = dict(self.arm)
        env.update({str(k): str(v) for k, v in (comp.get("environment_variables") or {}).items()})
        env.update({str(k): str(v) for k, v in (job.get("environment_variables") or {}).items()})
        env["PYTHONPATH"] = os.pathsep.join([str(SHIM_DIR)])
        env["MLSPEC_RUN_SHIMS"] = "azure_local"
        env["MLSPEC_RUN_AZURE_WORKSPACE"] = str(self.registry)
        # the job's MLflow run on the workspace's tracking server (Azure ML creates it per job)
        run_id = self.tracking.store.create_run(self.experiment_id, name, {
            **{str(k): str(v) for k, v in (self.job.get("tags") or {}).items()},
            **{str(k): str(v) for k, v in (job.get("tags") or {}).items()}})
        self.run_ids[name] = run_id
        env["MLFLOW_TRACKING_URI"] = self.tracking.uri
        env["MLFLOW_EXPERIMENT_ID"] = self.experiment_id
        env["MLFLOW_RUN_ID"] = run_id
        env["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"  # the local server has no UI to link to
        timeout = ((job.get("limits") or {}).get("timeout"))
        self.ctx.exec_script(name, shlex.split(command), env=env, cwd=cwd, timeout=timeout, readonly=readonly)
        return outs

    def _collect_metrics(self, comp: dict, outs: dict[str, Path]) -> None:
        if (comp.get("tags") or {}).get("mlspec-kind") != "evaluate":
            return
        for p in outs.values():
            ms = engine.read_metrics(p / "evaluation.json")
            if ms is not None:
                step = str(comp["tags"].get("mlspec-step", comp.get("name"))).split(".", 1)[-1]
                self.report.metrics[step] = ms

    def _sub_pipeline(self, name: str, j: dict, bound: dict[str, Any]) -> str:
        comp, comp_dir = self._component(j["component"], self.pipe_dir)
        inner = comp.get("jobs") or {}
        if len(inner) != 1 or next(iter(inner.values())).get("type") != "sweep":
            raise NotRunnable("nested pipeline components other than a single sweep")
        sname, sweep = next(iter(inner.items()))
        trial_comp, trial_dir = self._component(sweep["trial"], comp_dir)
        sweep_inputs = {}
        for k, v in (sweep.get("inputs") or {}).items():
            m = _BIND.fullmatch(str(v).strip())
            if m and m.group(1).startswith("parent.inputs."):
                sweep_inputs[k] = bound.get(m.group(1).split(".")[2])
            else:
                sweep_inputs[k] = v
        n = int((sweep.get("limits") or {}).get("max_total_trials") or 1)
        objective = sweep["objective"]
        rng = random.Random(0)
        results = []
        for i in range(n):
            trial = _sample(sweep.get("search_space") or {}, rng)
            tname = f"{name}_trial_{i + 1:03d}"
            outs = self._command(tname, trial_comp, trial_dir, sweep_inputs, dict(sweep),
                                 trial={k: v for k, v in trial.items()})
            value = self.tracking.store.metric(self.run_ids[tname], objective["primary_metric"])
            if value is None:
                raise StepFailed(f"trial {i + 1}: the primary metric `{objective['primary_metric']}` was not logged "
                                 "to the job's MLflow run; Azure ML sweeps read only MLflow metrics")
            results.append((value, i, outs, trial))
        best = (max if objective.get("goal", "maximize") == "maximize" else min)(results, key=lambda r: (r[0], -r[1]))
        self.outputs[name] = {o: best[2][o] for o in (comp.get("outputs") or {}) if o in best[2]}
        return f"{n} trials; best {objective['primary_metric']}={best[0]:g}"

    def _collect_registry(self) -> None:
        for f in sorted(self.registry.glob("models/*/*.json")):
            doc = json.loads(f.read_text(encoding="utf-8"))
            stage = (doc.get("tags") or {}).get("mlspec.stage", "")
            status = {"approved": engine.APPROVED, "pending_approval": engine.PENDING,
                      "rejected": engine.REJECTED}.get(stage, stage or "registered")
            self.report.registered.append(engine.Registered(doc["name"], str(doc["version"]), status))


def _literal(v: Any) -> str:
    if isinstance(v, bool):
        return "True" if v else "False"
    return str(v)


def _sample(space: dict, rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, d in space.items():
        t = d.get("type")
        if t == "choice":
            out[name] = rng.choice(list(d["values"]))
        elif t == "uniform":
            out[name] = round(rng.uniform(float(d["min_value"]), float(d["max_value"])), 6)
        elif t == "quniform":
            q = float(d.get("q", 1))
            v = round(rng.uniform(float(d["min_value"]), float(d["max_value"])) / q) * q
            out[name] = int(v) if q == int(q) else v
        elif t == "randint":
            out[name] = rng.randrange(int(d["upper"]))
        elif t == "loguniform":
            import math
            out[name] = round(math.exp(rng.uniform(float(d["min_value"]), float(d["max_value"]))), 8)
        else:
            raise StepFailed(f"search space `{name}`: distribution {t} is not one Azure ML sweeps know")
    return out


def run(ctx: engine.RunContext) -> engine.RunReport:
    return AzureMLRun(ctx).run()
