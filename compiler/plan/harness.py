"""Run a generated Pulumi program offline under Pulumi's mock runtime and return its graph.

API (all results are plain JSON-able data)::

    from mlspec.compiler.plan.harness import (
        run_program, ProgramError, snake_case_leaks, missing_required, duplicate_urns)

    result = run_program(Path("build/sagemaker/pulumi"), stack="dev", timeout=300)
    result == {
        "project": "fraud-detection", "stack": "dev",
        "resources": [              # sorted by (type, name); the Stack itself is not listed
            {"urn", "type", "name", "custom",
             "inputs",              # wire (camelCase) names; secrets -> "[secret]", unknowns ->
                                    # "[unknown]", whole floats -> int, dynamic __provider redacted
             "depends_on",          # sorted resource *names* (explicit + implicit dependencies)
             "property_dependencies",  # {wire prop: [names]}
             "parent",              # name of the parent resource, None for the Stack
             "protect", "ignore_changes",
             "required_inputs",     # wire names the SDK's Args class requires (None: not a provider type)
             "tag_property"}],      # "tags" / "labels" when the type takes them, else None
        "outputs": {...},           # stack exports, resolved; secret outputs -> "[secret]"
        "invokes": [{"token", "args"}],
        "config": {...},            # the stack config the program saw; secure values -> "[secret]"
        "missing_secrets": [...],   # secret config keys the program required but the stack file lacks
                                    # (a placeholder secret was supplied so the plan could run)
        "seconds": 1.23,            # wall time of the whole subprocess (import + run)
        "program_seconds": 0.4,     # the program run alone
    }
    snake_case_leaks(result["resources"]) -> ["<type>:<name>.path.key", ...]
    missing_required(result["resources"]) -> ["<type>:<name>.wireProp", ...]  # imports SDKs lazily
    duplicate_urns(result["resources"])   -> [urn, ...]

How: ``python -m mlspec.compiler.plan._mockrun`` in a fresh subprocess (so global Pulumi
state never leaks between runs), cwd = the program directory, config from
``Pulumi.<stack>.yaml`` (``config:``; bare keys are project-namespaced; ``secure:`` values
become the placeholder ``mlspec-mock-secret`` and are marked secret). Computed outputs are
fabricated per provider by :mod:`mlspec.compiler.plan.mocks` from the targets' tables
(``Target.mock_outputs()``, ``targets/<cloud>/mock_outputs.py``; extend them, or pass
``overrides={"resources": {type: {wireKey: "template {name} {id}"}}, "calls": {token: {...}}}``).
A program that raises, or exceeds ``timeout``, gives :class:`ProgramError` carrying the
program's stderr and the traceback. Dynamic resources (``pulumi.dynamic.Resource``) run too:
they show up as ``pulumi-python:dynamic[/module]:Name`` with ``__provider`` redacted.

This module imports no Pulumi/cloud SDK at import time (``mlspec compile`` stays light).
"""
from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

__all__ = ["ProgramError", "run_program", "snake_case_leaks", "missing_required", "duplicate_urns",
           "SECRET", "UNKNOWN"]

SECRET = "[secret]"
UNKNOWN = "[unknown]"


class ProgramError(RuntimeError):
    """The program failed (or timed out) under the mock runtime.

    Attributes: ``pulumi_dir``, ``stack``, ``stderr`` (the program's), ``traceback`` (the
    exception inside the runner, when it got that far).
    """

    def __init__(self, message: str, *, pulumi_dir: Path, stack: str, stderr: str = "", traceback: str = ""):
        self.pulumi_dir, self.stack, self.stderr, self.traceback = pulumi_dir, stack, stderr, traceback
        detail = ""
        if traceback:
            detail += "\n--- traceback ---\n" + traceback.rstrip()
        if stderr.strip():
            detail += "\n--- program stderr ---\n" + _tail(stderr)
        super().__init__(f"{message} ({pulumi_dir}, stack `{stack}`){detail}")


def _tail(text: str, limit: int = 8000) -> str:
    text = text.rstrip()
    return text if len(text) <= limit else "...\n" + text[-limit:]


def run_program(pulumi_dir: Path | str, stack: str, timeout: float = 300,
                overrides: dict | None = None) -> dict:
    """Run ``pulumi_dir/__main__.py`` for ``stack`` under mocks in a subprocess; see module doc."""
    pulumi_dir = Path(pulumi_dir).resolve()
    if not (pulumi_dir / "Pulumi.yaml").is_file():
        raise ProgramError("no Pulumi.yaml", pulumi_dir=pulumi_dir, stack=stack)
    with tempfile.TemporaryDirectory(prefix="mlspec-mockrun-") as tmp:
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "mlspec.compiler.plan._mockrun", str(pulumi_dir), stack, str(result)]
        if overrides:
            ov = Path(tmp) / "overrides.json"
            ov.write_text(json.dumps(overrides), encoding="utf-8")
            cmd.append(str(ov))
        env = dict(os.environ)
        env.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
        # a program must not need (or find) real credentials or the Pulumi engine
        for var in ("PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL"):
            env.pop(var, None)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=str(pulumi_dir), env=env, capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
            raise ProgramError(f"program timed out after {timeout:g} s", pulumi_dir=pulumi_dir, stack=stack,
                               stderr=err) from None
        seconds = time.perf_counter() - t0
        data: dict[str, Any] | None = None
        if result.exists():
            try:
                data = json.loads(result.read_text(encoding="utf-8"))
            except ValueError:
                data = None
        if data is None:
            raise ProgramError(f"mock runner exited with code {proc.returncode} and no result",
                               pulumi_dir=pulumi_dir, stack=stack, stderr=proc.stderr)
        if "error" in data:
            raise ProgramError(f"program failed: {data['error']}", pulumi_dir=pulumi_dir, stack=stack,
                               stderr=proc.stderr, traceback=data.get("traceback", ""))
    data["seconds"] = round(seconds, 3)
    data["stdout"] = proc.stdout
    return data


# --------------------------------------------------------------------------- graph checks

_SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")

#: wire keys whose children are user-defined map keys (snake_case allowed there)
USER_MAPS = frozenset({
    "tags", "tagsAll", "labels", "userLabels", "dimensions", "environmentVariables", "environment",
    "collections", "signals", "traffic", "mirrorTraffic", "hyperParameters", "hyperparameters",
    "metadata", "properties.tags", "inputs", "outputs", "jobs", "parameters", "annotations",
    "defaultParameters", "settings", "variables", "environmentVars", "parameterValues",
    "userAssignedIdentities", "headers", "customProperties", "extraParameters", "attributes",
    "policyRules", "__provider",
})


def snake_case_leaks(resources: Iterable[dict], user_maps: Iterable[str] = USER_MAPS) -> list[str]:
    """Wire property names are camelCase; a snake_case key usually means the SDK could not
    translate a plain dict (ambiguous discriminated union) or a dict key has a typo.
    Children of user-defined maps (``user_maps``) and of dynamic resources are allowed."""
    allowed = frozenset(user_maps)
    out: list[str] = []

    def walk(v: Any, path: str, parent_key: str | None) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                if _SNAKE.match(k) and parent_key not in allowed:
                    out.append(f"{path}.{k}")
                walk(x, f"{path}.{k}", k)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{path}[{i}]", parent_key)

    for r in resources:
        if r["type"].startswith("pulumi-python:dynamic"):
            continue  # dynamic resource props are the program's own names
        walk(r["inputs"], f"{r['type']}:{r['name']}", None)
    return out


_ARGS_CACHE: dict[str, Any] = {}


def _python_modules() -> dict[str, str]:
    """provider package -> Pulumi Python SDK module, from the targets' mock-output tables."""
    from mlspec.compiler.plan import mocks

    return mocks.load().python_modules


def _required_inputs(token: str) -> list[str] | None:
    """Wire names of the required top-level inputs of a provider resource type (None: unknown type)."""
    if token in _ARGS_CACHE:
        return _ARGS_CACHE[token]
    req: list[str] | None = None
    try:
        pkg, mod, cls = token.split(":")
        mod = mod.split("/")[0]
        py = _python_modules()[pkg]
        m = importlib.import_module(py if mod == "index" else f"{py}.{mod}")
        from pulumi import _types as ptypes

        for n in (f"{cls}InitArgs", f"{cls}Args"):  # InitArgs exists when <cls>Args names a nested type
            a = getattr(m, n, None)
            if a is not None and getattr(getattr(m, cls, None), "pulumi_type", None) == token:
                names = ptypes.input_type_py_to_pulumi_names(a)
                req = [names.get(p.name, p.name) for p in inspect.signature(a.__init__).parameters.values()
                       if p.name not in ("self", "__self__") and p.default is p.empty
                       and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
                break
    except (KeyError, ValueError, ImportError, AttributeError):
        req = None
    _ARGS_CACHE[token] = req
    return req


def missing_required(resources: Iterable[dict]) -> list[str]:
    """Required top-level inputs (per the SDK's ``*Args`` signature) that are absent, None or the
    string "None" on the wire, e.g. because an upstream mocked output was never fabricated.
    Imports the SDK submodule of each type lazily (0.3-0.7 s per cloud service module)."""
    out: list[str] = []
    known = None
    for r in resources:
        if known is None:
            known = _python_modules()
        if r["type"].split(":")[0] not in known:
            continue
        req = r["required_inputs"] if "required_inputs" in r else _required_inputs(r["type"])
        for prop in req or []:
            v = r["inputs"].get(prop)
            if v is None or v == "None" or (isinstance(v, str) and v.startswith("None/")):
                out.append(f"{r['type']}:{r['name']}.{prop}")
    return out


def none_strings(resources: Iterable[dict]) -> list[str]:
    """Input strings that contain a stringified ``None`` (an unfabricated output interpolated)."""
    out: list[str] = []

    def walk(v: Any, path: str) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{path}.{k}")
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{path}[{i}]")
        elif isinstance(v, str) and re.search(r"([/:@]None(\b|$)|(^|\b)None[/:@.])", v):
            out.append(path)

    for r in resources:
        walk(r["inputs"], f"{r['type']}:{r['name']}")
    return out


def duplicate_urns(resources: Iterable[dict]) -> list[str]:
    """URNs registered more than once (the real engine would refuse; the mock monitor does not)."""
    seen: dict[str, int] = {}
    for r in resources:
        seen[r["urn"]] = seen.get(r["urn"], 0) + 1
    return sorted(u for u, n in seen.items() if n > 1)
