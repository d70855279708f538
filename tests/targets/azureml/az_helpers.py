"""Test helpers for the Azure ML target: lower an IR into a real build directory, load its
Azure ML YAML with the azure-ai-ml loaders, and check `${{parent...}}` bindings.

Offline; never reads ../shared. The loaders are imported lazily (they are slow to import).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path

import yaml

from mlspec.compiler import emit
from mlspec.targets.base import LowerContext, Lowering, get_target

CTX = LowerContext(spec_path="specs/fraud_detection.mlspec", spec_sha256="ab" * 32,
                   project_root_rel="../..", compiler_version="0.0.0-test")
YAML_KINDS = ("azureml-job", "azureml-component", "azureml-online-endpoint", "azureml-online-deployment",
              "azureml-schedule")
BIND = re.compile(r"\$\{\{\s*parent\.(?:(inputs|outputs)\.(\w+)|jobs\.(\w+)\.outputs\.(\w+))\s*\}\}")


def lower(irs: list[dict], ctx: LowerContext = CTX) -> Lowering:
    return get_target("azureml").lower(irs, ctx)


def write(low: Lowering, irs: list[dict], out: Path) -> Path:
    """Write the lowering as the compiler's writer would (plus the spec's scripts, as the front end copies)."""
    files = [(a.path, a.kind, emit.serialise(a.content, a.fmt)) for a in low.artifacts]
    for f in irs[0]["code"]["files"]:
        files.append((f"code/{f['path']}", "source-script", b"print('user script')\n"))
    manifest = emit.manifest(files, spec_sha256=CTX.spec_sha256, compiler_version=CTX.compiler_version,
                             target="azureml", environment="all")
    return emit.write_build(out, "azureml", files, manifest)


def artifacts(root: Path) -> list[dict]:
    return json.loads((root / "manifest.json").read_text())["artifacts"]


@contextlib.contextmanager
def chdir(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def load(kind: str, path: Path):
    """Load one Azure ML YAML with the azure-ai-ml loader for its kind (relative paths resolve
    from the file's folder, as `az ml ... --file` does)."""
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.CRITICAL)
    from azure.ai.ml import load_component, load_job, load_online_deployment, load_online_endpoint
    from azure.ai.ml.entities._load_functions import load_schedule

    loader = {"azureml-job": load_job, "azureml-component": load_component,
              "azureml-online-endpoint": load_online_endpoint,
              "azureml-online-deployment": load_online_deployment, "azureml-schedule": load_schedule}[kind]
    with chdir(path.parent):
        return loader(path.name)


def validation_problems(entity) -> list[str]:
    """azure-ai-ml's own validation of a loaded entity: errors AND warnings (an unknown field such
    as `limits` on a pipeline-type node is only a warning locally, a rejection by the service)."""
    validate = getattr(entity, "_validate", None)
    if validate is None:
        return []
    try:
        result = validate()
    except NotImplementedError:  # monitor schedules: the loader's schema already raised on unknown fields
        return []
    if result is None:  # entities whose _validate only raises (deployments, endpoints)
        return []
    out = [f"error at {k}: {v}" for k, v in sorted((result.error_messages or {}).items())]
    out += [f"warning at {w.yaml_path}: {w.message}" for w in result._warnings]
    return out


def binding_problems(path: Path, job) -> list[str]:
    """Every `${{parent...}}` names an existing pipeline input/output or job output, and every
    node input/output is declared by its component (sweep trials and pipeline components too)."""
    raw = yaml.safe_load(path.read_text())
    p_in, p_out = set(raw.get("inputs") or {}), set(raw.get("outputs") or {})
    errs = []
    for jname, node in (raw.get("jobs") or {}).items():
        comp = job.jobs[jname].component
        if type(job.jobs[jname]).__name__ == "Sweep":
            comp = job.jobs[jname].trial
        for section in ("inputs", "outputs"):
            declared = None if isinstance(comp, str) else set(getattr(comp, section) or {})
            for key, val in (node.get(section) or {}).items():
                where = f"jobs.{jname}.{section}.{key}"
                if declared is not None and key not in declared:
                    errs.append(f"{where}: component declares no {section[:-1]} {key!r}")
                for m in BIND.finditer(str(val)):
                    kind, name, src_job, src_out = m.groups()
                    if kind == "inputs" and name not in p_in:
                        errs.append(f"{where}: pipeline has no input {name!r}")
                    elif kind == "outputs" and name not in p_out:
                        errs.append(f"{where}: pipeline has no output {name!r}")
                    elif src_job is not None and src_job not in raw["jobs"]:
                        errs.append(f"{where}: no job {src_job!r}")
                    elif src_job is not None:
                        src = job.jobs[src_job].component
                        if not isinstance(src, str) and src_out not in (src.outputs or {}):
                            errs.append(f"{where}: job {src_job!r} has no output {src_out!r}")
    return errs


def stack_data(low: Lowering, env: str) -> dict:
    return next(a.content for a in low.artifacts if a.path == f"pulumi/stacks/{env}.json")


def add_config(pulumi_dir: Path, env: str, values: dict) -> None:
    """Add stack config (e.g. a release, channel secrets) the way `pulumi config set` would."""
    f = pulumi_dir / f"Pulumi.{env}.yaml"
    doc = yaml.safe_load(f.read_text())  # (the generated comments are dropped in the copy)
    doc["config"].update(values)
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
