"""`mlspec plan`: compile in memory, run the generated Pulumi program under the mock runtime,
group what would be created by concern and check it against the security baseline.

Input: a spec path, a target and (optionally) an environment. Output: a :class:`PlanResult`
whose :meth:`PlanResult.as_json` is the documented stable JSON (docs/cli-plan.md)::

    {"target", "environment",
     "resources": [{"type", "name", "concern", "inputs", "depends_on"}],   # sorted by type, name
     "findings": [{"rule", "severity", "resource", "message", "waived_by"}],
     "program_checks": [{"check", "where"}]}

No credentials, no network, no Pulumi CLI: the program runs in a subprocess under Pulumi's mock
runtime (:mod:`mlspec.compiler.plan.harness`). Nothing is written outside a temporary directory.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from mlspec.compiler.plan import security

CONCERNS = ("storage", "identity", "network", "pipeline", "registry and approval", "serving", "monitoring",
            "alerting", "other")

#: cloud-neutral (type-token prefix, concern); the targets' own come first
#: (``Target.resource_concerns()``), first match wins
CONCERN_PREFIXES: list[tuple[str, Any]] = [
    ("pulumi-python:dynamic", "pipeline"),
]


def _concern_table(target: str | None) -> list[tuple[str, Any]]:
    from mlspec.targets.base import available_targets, get_target

    names = [target] if target in available_targets() else list(available_targets())
    table: list[tuple[str, Any]] = []
    for n in names:
        table.extend(get_target(n).resource_concerns() or ())
    return table + CONCERN_PREFIXES


def concern_of(r: dict, target: str | None = None) -> str:
    """The concern a resource is grouped under (``target``: whose table to use; default: all)."""
    t = r["type"]
    for prefix, concern in _concern_table(target):
        if t.startswith(prefix):
            return concern(r) if callable(concern) else concern
    return "other"


class PlanError(Exception):
    """Plan could not run. ``exit_code`` 1 (spec errors, diagnostics attached) or 3 (internal)."""

    def __init__(self, message: str, exit_code: int, diagnostics=None, sources=None, detail: str = ""):
        super().__init__(message)
        self.exit_code, self.diagnostics, self.sources, self.detail = exit_code, diagnostics or [], sources or {}, detail


@dataclasses.dataclass
class PlanResult:
    target: str
    environment: str
    resources: list[dict]
    findings: list[dict]
    program_checks: list[dict]
    outputs: dict
    missing_secrets: list[str]
    seconds: float
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def unwaived(self) -> list[dict]:
        return security.unwaived(self.findings)

    @property
    def blocking_checks(self) -> list[dict]:
        blocking = blocking_checks()
        return [c for c in self.program_checks if c["check"] in blocking or c.get("blocking")]

    @property
    def exit_code(self) -> int:
        return 1 if self.unwaived or self.blocking_checks else 0

    def as_json(self) -> dict:
        return {"target": self.target, "environment": self.environment,
                "resources": [{"type": r["type"], "name": r["name"], "concern": concern_of(r, self.target),
                               "inputs": r["inputs"], "depends_on": r["depends_on"]} for r in self.resources],
                "findings": self.findings, "program_checks": self.program_checks,
                "secrets": [{"config": k, "env": _secret_env(k)} for k in self.missing_secrets]}


def secret_env_var(key: str) -> str:
    """`mlspec:fraud-pagerduty-key` -> MLSPEC_SECRET_FRAUD_PAGERDUTY_KEY (where `mlspec apply`
    reads it)."""
    import re

    return "MLSPEC_SECRET_" + re.sub(r"[^A-Z0-9]", "_", key.split(":", 1)[-1].upper())


_secret_env = secret_env_var


#: harness checks that make a plan fail (the real engine would refuse the program)
BLOCKING_CHECKS = ("duplicate-urn", "missing-required-input")


def blocking_checks() -> tuple[str, ...]:
    """The harness's blocking checks plus every target's (``Target.blocking_checks``)."""
    from mlspec.targets.base import available_targets, get_target

    return BLOCKING_CHECKS + tuple(c for n in available_targets() for c in get_target(n).blocking_checks)


def today() -> _dt.date:
    return security.today()


def filter_artifacts(artifacts: dict[str, Any], env: str, envs: list[str]) -> dict[str, Any]:
    """Keep the artifacts of ``env`` and the shared ones: drop any path with a directory or file
    stem naming another environment of the spec (``pipelines/dev/...``, ``stacks/dev.json``)."""
    others = {e for e in envs if e != env}
    out = {}
    for path, doc in artifacts.items():
        parts = path.split("/")
        names = parts[:-1] + [parts[-1].rsplit(".", 1)[0]]
        if any(p in others for p in names) or path == "manifest.json":
            continue
        out[path] = doc
    return out


def choose_environment(spec: str, env: str | None) -> tuple[str, list[str]]:
    """(environment to plan, all environments of the spec); the first declared when not given."""
    from mlspec.compiler import api

    res = api.build_irs(spec)
    if not res.ok:
        raise PlanError("the spec has errors", res.exit_code, res.diagnostics, res.sources)
    envs = list(res.irs)
    if env is None:
        return envs[0], envs
    if env not in envs:
        raise api.UsageError(f"the spec declares no environment `{env}`; it declares {', '.join(envs)}")
    return env, envs


def compile_to(spec: str, target: str, env: str, out: Path):
    """Compile one target and environment into ``out/<target>/``; returns (ir, build dir)."""
    from mlspec.compiler import api

    res = api.compile_spec(spec, [target], env=env, out=out)
    if not res.ok or target not in res.builds:
        code = res.exit_code if res.exit_code else 1
        raise PlanError("the spec does not compile for this target", code, res.diagnostics, res.sources,
                        detail=res.debug_traceback)
    return res.irs[env], res.builds[target].written_to or out / target, res.builds[target].notes


def run_plan(spec: str, target: str, env: str | None = None, timeout: float = 300,
             build_dir: Path | None = None) -> PlanResult:
    """Compile, run under mocks, evaluate the baseline. ``build_dir``: an existing compiled
    DIR/<target>/ to plan instead of compiling into a temporary directory (apply uses this)."""
    from mlspec.compiler.plan import harness

    env, envs = choose_environment(spec, env)
    try:
        if build_dir is not None:
            from mlspec.compiler import api

            res = api.build_irs(spec, env)
            return _plan_build(target, env, envs, res.irs[env], Path(build_dir), timeout, [])
        with tempfile.TemporaryDirectory(prefix="mlspec-plan-") as tmp:
            ir, tdir, notes = compile_to(spec, target, env, Path(tmp))
            return _plan_build(target, env, envs, ir, tdir, timeout, notes)
    except harness.ProgramError as e:
        raise PlanError(f"the {target} program failed under the mock runtime: {str(e).splitlines()[0]}", 3,
                        detail=str(e)) from None


def _plan_build(target: str, env: str, envs: list[str], ir: dict, tdir: Path, timeout: float,
                notes: list[str]) -> PlanResult:
    from mlspec.compiler.plan import harness

    run = harness.run_program(tdir / "pulumi", env, timeout=timeout)
    resources = run["resources"]
    artifacts = filter_artifacts(security.load_artifacts(tdir), env, envs)
    graph = security.Graph(resources, target=target, ir=ir, artifacts=artifacts, config=run["config"],
                           outputs=run["outputs"])
    findings = security.evaluate(graph, today=today())
    checks = ([{"check": "duplicate-urn", "where": u} for u in harness.duplicate_urns(resources)]
              + [{"check": "missing-required-input", "where": w} for w in harness.missing_required(resources)]
              + [{"check": "snake-case-leak", "where": w} for w in harness.snake_case_leaks(resources)]
              + [{"check": "none-in-string", "where": w} for w in harness.none_strings(resources)])
    # what the cloud would reject at deploy or run time, judged by the vendors' code (target hook)
    from mlspec.targets.base import available_targets, get_target

    if target in available_targets():
        more, skipped = get_target(target).program_checks(resources, build=tdir)
        checks += more
        notes = list(notes) + list(skipped)
    return PlanResult(target, env, resources, findings, checks, run["outputs"], run["missing_secrets"],
                      run["seconds"], notes)


# --------------------------------------------------------------------------- rendering


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    s = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    return s if len(s) <= 48 else s[:45] + "..."


def key_settings(r: dict, limit: int = 4) -> str:
    """A few top-level scalar inputs, for the table (tags/labels and long JSON left out)."""
    parts = []
    for k, v in sorted(r["inputs"].items()):
        if k in ("tags", "labels", "__provider") or isinstance(v, (dict, list)) or v in (None, ""):
            continue
        if isinstance(v, str) and v[:1] in "{[" and len(v) > 48:
            continue
        parts.append(f"{k}={_scalar(v)}")
        if len(parts) == limit:
            break
    return ", ".join(parts)


def render_table(p: PlanResult) -> str:
    lines = [f"mlspec plan: {p.target}, environment `{p.environment}` -- {len(p.resources)} resources "
             f"(mock runtime, {p.seconds:.1f} s)", ""]
    groups: dict[str, list[dict]] = {c: [] for c in CONCERNS}
    for r in p.resources:
        groups[concern_of(r, p.target)].append(r)
    for concern, rs in groups.items():
        if not rs:
            continue
        lines.append(f"{concern} ({len(rs)})")
        for r in rs:
            short = r["type"].split(":", 1)[-1]
            lines.append(f"  + {short}  {r['name']}")
            ks = key_settings(r)
            if ks:
                lines.append(f"      {ks}")
            if r["depends_on"]:
                lines.append(f"      depends on: {', '.join(r['depends_on'])}")
        lines.append("")
    unwaived = p.unwaived
    waived = [f for f in p.findings if f.get("waived_by")]
    if unwaived:
        lines.append(f"security findings ({len(unwaived)} unwaived)")
        for f in unwaived:
            lines.append(f"  {f['severity']:<8} {f['rule']:<12} {f['resource']}: {f['message']}")
        lines.append("")
    if waived:
        lines.append(f"waived ({len(waived)})")
        for f in waived:
            w = f["waived_by"]
            lines.append(f"  {f['rule']:<12} {f['resource']}: {f['message']} "
                         f"[waived: {w['reason']}; owner {w['owner']}; until {w['until']}]")
        lines.append("")
    if p.program_checks:
        lines.append(f"program checks ({len(p.program_checks)})")
        for c in p.program_checks:
            lines.append(f"  {c['check']}: {c['where']}")
        lines.append("")
    if p.missing_secrets:
        lines.append("secrets to set before apply: " + ", ".join(p.missing_secrets))
        lines.append("")
    verdict = "FAIL" if p.exit_code else "ok"
    lines.append(f"{verdict}: {len(unwaived)} unwaived finding(s), {len(waived)} waived, "
                 f"{len(p.blocking_checks)} blocking program check(s)")
    return "\n".join(lines) + "\n"


def render_json(p: PlanResult) -> str:
    return json.dumps(p.as_json(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"
