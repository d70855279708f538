"""`mlspec run`: compile a spec, then execute one target's generated pipeline locally.

    from mlspec.compiler.run import run_spec
    outcome = run_spec("specs/fraud_detection.mlspec", "sagemaker", env="dev")
    outcome.report.status, outcome.report.metrics

The executor is the target's (``Target.runner()``); it interprets the artifact written by
``compile`` -- not the IR. See docs/run.md for what a local run proves and what it does not.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable, Mapping

from mlspec.compiler.run import engine
from mlspec.compiler.run.engine import RunError, RunReport


@dataclasses.dataclass
class Outcome:
    result: object  # api.Result of the compile (diagnostics)
    report: RunReport | None = None


def pipeline_datasets(ir: dict, pipeline: dict) -> list[str]:
    """Names of the datasets a pipeline's steps read."""
    names: list[str] = []
    for st in pipeline["steps"]:
        refs = [st.get("data")] + list(st.get("inputs") or [])
        for r in refs:
            if isinstance(r, str) and r.startswith("dataset."):
                n = r.split(".", 1)[1]
                if n not in names:
                    names.append(n)
    return names


def resolve_data(ir: dict, pipeline: dict, spec_path: str, given: Mapping[str, str]) -> dict[str, Path]:
    """--data NAME=PATH, else the dataset's `sample` (relative to the spec)."""
    known = {d["name"]: d for d in ir.get("datasets") or []}
    for n in given:
        if n not in known:
            raise RunError(f"--data {n}=...: the spec declares no dataset `{n}` (datasets: {', '.join(known)})")
    out: dict[str, Path] = {}
    for n in pipeline_datasets(ir, pipeline):
        if n in given:
            p = Path(given[n])
        elif known[n].get("sample"):
            p = Path(spec_path).resolve().parent / known[n]["sample"]
        else:
            raise RunError(f"dataset `{n}` has no local data: pass --data {n}=PATH or declare "
                           f"`sample = \"<path>\"` in dataset {n}")
        if not p.exists():
            raise RunError(f"data for dataset `{n}`: `{p}` does not exist")
        out[n] = p
    return out


def run_spec(spec_path: str, target: str, env: str | None = None, pipeline: str | None = None,
             data: Mapping[str, str] | None = None, workdir: str | None = None, python: str | None = None,
             progress: Callable[[str], None] | None = None) -> Outcome:
    """Compile ``spec_path`` for ``target`` and run one pipeline; RunError for usage problems."""
    from mlspec.compiler import api
    from mlspec.targets.base import get_target

    python = python or sys.executable
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        found = shutil.which(python)
        if not found:
            raise RunError(f"--python {python}: no such interpreter")
        python = found
    try:
        tgt = get_target(target)
    except KeyError as exc:
        raise RunError(str(exc.args[0])) from None
    runner = tgt.runner()
    if runner is None:
        raise RunError(f"target `{target}` has no local executor")
    res0 = api.build_irs(spec_path, env)
    if not res0.ok:
        return Outcome(res0)
    env = env or next(iter(res0.irs))
    ir = res0.irs[env]
    pipes = {p["name"]: p for p in ir.get("pipelines") or []}
    if not pipes:
        raise RunError(f"{spec_path} declares no pipeline")
    if pipeline is None:
        if len(pipes) > 1:
            raise RunError(f"{spec_path} declares several pipelines; choose one with --pipeline "
                           f"({', '.join(pipes)})")
        pipeline = next(iter(pipes))
    if pipeline not in pipes:
        raise RunError(f"no pipeline `{pipeline}` in {spec_path} (pipelines: {', '.join(pipes)})")
    data_paths = resolve_data(ir, pipes[pipeline], spec_path, dict(data or {}))

    temp = None
    if workdir:
        root = Path(workdir).resolve() / target / env / pipeline
        if root.exists():
            engine.make_writable(root)
            shutil.rmtree(root)
        root.mkdir(parents=True)
    else:
        temp = tempfile.mkdtemp(prefix="mlspec-run-")
        root = Path(temp)
    try:
        build = root / "build"
        res = api.compile_spec(spec_path, [target], env=env, out=build)
        if not res.ok:
            return Outcome(res)
        ctx = engine.RunContext(workdir=root / "work", python=python, spec_dir=Path(spec_path).resolve().parent,
                                build_dir=build / target, environment=env, pipeline=pipeline, ir=ir,
                                data=data_paths, progress=progress or (lambda line: None))
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        report = runner(ctx)
        report.script_seconds = ctx.script_seconds
        return Outcome(res, report)
    finally:
        if temp:
            engine.make_writable(Path(temp))
            shutil.rmtree(temp, ignore_errors=True)
