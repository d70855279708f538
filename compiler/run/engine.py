"""The neutral part of `mlspec run`: records, work dirs, subprocesses, reporting.

A target's executor (``targets/<cloud>/run.py``, reached through ``Target.runner()``)
interprets the artifact its cloud would receive; everything cloud-neutral lives here:

- :class:`RunContext`: the run's work dir, interpreter, data, progress output;
- :func:`RunContext.exec_script`: one step's process, with the cloud's absolute paths
  (``/opt/ml``, ``/gcs``, ...) remapped under the work dir (command line, environment and,
  for Python code that hard-codes them, the file functions via ``remap/sitecustomize.py``);
- :class:`StepRecord` / :class:`RunReport`: what ``--format json`` prints;
- :func:`dag_order`: a deterministic topological order of a step graph.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

SUCCEEDED, FAILED, SKIPPED, NOT_RUNNABLE = "succeeded", "failed", "skipped", "not_runnable"
STATUSES = (SUCCEEDED, FAILED, SKIPPED, NOT_RUNNABLE)

#: portable registration states (the cloud's own state is mapped onto one of these)
APPROVED, PENDING, REJECTED = "approved", "pending approval", "rejected"

REMAP_DIR = Path(__file__).with_name("remap")


class RunError(Exception):
    """A problem that stops the run before any step (bad data path, missing interpreter)."""


@dataclasses.dataclass
class StepRecord:
    name: str
    status: str
    seconds: float = 0.0
    reason: str = ""

    def as_json(self) -> dict:
        return {"name": self.name, "status": self.status, "seconds": round(self.seconds, 3),
                "reason": self.reason}


@dataclasses.dataclass
class Registered:
    model: str
    version: str
    status: str

    def as_json(self) -> dict:
        return {"model": self.model, "version": self.version, "status": self.status}


@dataclasses.dataclass
class RunReport:
    target: str
    environment: str
    pipeline: str
    steps: list[StepRecord] = dataclasses.field(default_factory=list)
    metrics: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    registered: list[Registered] = dataclasses.field(default_factory=list)
    script_seconds: float = 0.0  # not in the JSON: time inside step processes

    @property
    def status(self) -> str:
        return FAILED if any(s.status == FAILED for s in self.steps) else SUCCEEDED

    @property
    def exit_code(self) -> int:
        return 0 if self.status == SUCCEEDED else 1

    def as_json(self) -> dict:
        return {"target": self.target, "environment": self.environment, "pipeline": self.pipeline,
                "status": self.status, "steps": [s.as_json() for s in self.steps],
                "metrics": self.metrics, "registered": [r.as_json() for r in self.registered]}


class StepFailed(Exception):
    """Raised by an executor's step body: the step failed with this reason."""


class NotRunnable(Exception):
    """Raised by an executor's step body: only the managed service can run this step."""


@dataclasses.dataclass
class RunContext:
    """What an executor may use: a work dir it owns, the interpreter, the data, output."""

    workdir: Path
    python: str
    spec_dir: Path
    build_dir: Path  # DIR/<target>/ of the compiled build
    environment: str
    pipeline: str
    ir: dict
    data: Mapping[str, Path]  # dataset name -> local file or directory
    progress: Callable[[str], None] = lambda line: None
    script_seconds: float = 0.0  # wall time spent inside step processes (bench: runner overhead)

    def step_dir(self, name: str) -> Path:
        d = self.workdir / "steps" / _safe(name)
        d.mkdir(parents=True, exist_ok=True)
        return d

    def log_path(self, name: str) -> Path:
        d = self.workdir / "logs"
        d.mkdir(parents=True, exist_ok=True)
        return d / f"{_safe(name)}.log"

    def exec_script(self, name: str, argv: list[str], *, env: Mapping[str, str] | None = None,
                    cwd: Path | None = None, remap: Mapping[str, Path] | None = None,
                    timeout: float | None = None, readonly: Iterable[Path] = ()) -> str:
        """Run one step's process; returns its output, raises StepFailed on a non-zero exit.

        ``argv[0]`` naming a Python interpreter (``python``, ``python3``) runs ``self.python``.
        ``remap``: cloud absolute path prefix -> local directory; applied to every argument
        and environment value that starts with the prefix, and to file access of Python code
        that hard-codes the cloud path.
        """
        remap = dict(remap or {})
        argv = [_remap_text(a, remap) for a in argv]
        if argv and re.fullmatch(r"python(3(\.\d+)?)?", os.path.basename(argv[0])):
            argv = [self.python] + argv[1:]
        full_env = {k: v for k, v in os.environ.items() if k in _PASS_ENV}
        full_env.update({k: _remap_text(v, remap) for k, v in (env or {}).items()})
        full_env["PYTHONPATH"] = os.pathsep.join(
            [str(REMAP_DIR)] + [p for p in (env or {}).get("PYTHONPATH", "").split(os.pathsep) if p])
        full_env["MLSPEC_RUN_REMAP"] = json.dumps({k: str(v) for k, v in remap.items()})
        full_env["MLSPEC_RUN_READONLY"] = json.dumps([str(p) for p in readonly])
        full_env.setdefault("PYTHONHASHSEED", "0")
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        log = self.log_path(name)
        started = time.perf_counter()
        try:
            proc = subprocess.run(argv, cwd=str(cwd or self.step_dir(name)), env=full_env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        except FileNotFoundError as exc:
            raise StepFailed(f"cannot start `{argv[0]}`: {exc.strerror}") from None
        except subprocess.TimeoutExpired:
            raise StepFailed(f"timed out after {timeout:.0f} s (the step's max runtime)") from None
        finally:
            self.script_seconds += time.perf_counter() - started
        out = proc.stdout.decode("utf-8", "replace")
        with open(log, "a", encoding="utf-8") as f:
            f.write("$ " + " ".join(argv) + "\n" + out + "\n")
        if proc.returncode != 0:
            raise StepFailed(failure_reason(out, proc.returncode, self.python, self.spec_dir))
        return out


_PASS_ENV = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "TZ", "USER", "OMP_NUM_THREADS"}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _remap_text(text: str, remap: Mapping[str, Path]) -> str:
    for prefix in sorted(remap, key=len, reverse=True):
        if text == prefix or text.startswith(prefix.rstrip("/") + "/"):
            return str(remap[prefix]) + text[len(prefix.rstrip("/")):]
    return text


def failure_reason(output: str, code: int, python: str, spec_dir: Path | None = None) -> str:
    """A short reason for a failed script: a missing module by name, else the error line."""
    m = re.search(r"ModuleNotFoundError: No module named '([^']+)'", output)
    if m:
        top = m.group(1).split(".")[0]
        if spec_dir is not None and (any(spec_dir.rglob(f"{top}.py")) or any(spec_dir.rglob(f"{top}/__init__.py"))):
            return (f"module `{top}` is in the spec's code folder but the artifact did not ship it "
                    "with the step's code")
        return (f"framework `{top}` is not installed in {python} "
                "(install the framework the spec declares, or pass --python)")
    lines = [ln.strip() for ln in output.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"^[\w.]*(Error|Exception|Exit)\b[^ ]*:", ln)]
    last = errors[-1] if errors else (lines[-1] if lines else "")
    return f"exit code {code}" + (f": {last[:300]}" if last else "")


def dag_order(nodes: Iterable[str], deps: Mapping[str, Iterable[str]],
              late: Iterable[str] = ()) -> list[str]:
    """Topological order; ties broken by declaration order, ``late`` nodes (conditions,
    fail steps) after every other ready node, as if the others had started in parallel.
    Raises RunError on a cycle."""
    order = list(nodes)
    late = set(late)
    index = {n: (n in late, i) for i, n in enumerate(order)}
    pending = {n: {d for d in deps.get(n, ()) if d in index and d != n} for n in order}
    done: list[str] = []
    while pending:
        ready = sorted((n for n, d in pending.items() if not d), key=index.__getitem__)
        if not ready:
            raise RunError(f"the artifact's steps form a cycle: {', '.join(sorted(pending))}")
        n = ready[0]
        done.append(n)
        del pending[n]
        for d in pending.values():
            d.discard(n)
    return done


def copy_data(src: Path, dest_dir: Path) -> None:
    """Place a dataset (a file or a directory of files) in ``dest_dir``."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dest_dir, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dest_dir / src.name)


def read_metrics(path: Path) -> dict[str, float] | None:
    """The metrics of an ``evaluation.json`` (the portable contract's format), or None."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return {k: float(v["value"]) for k, v in doc["metrics"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def make_readonly(root: Path) -> None:
    """chmod a-w on a tree (a read-only mount)."""
    for dirpath, dirnames, filenames in os.walk(root):
        for f in filenames:
            p = os.path.join(dirpath, f)
            os.chmod(p, os.stat(p).st_mode & ~0o222)
    for dirpath, dirnames, _ in os.walk(root, topdown=False):
        os.chmod(dirpath, os.stat(dirpath).st_mode & ~0o222)
    os.chmod(root, os.stat(root).st_mode & ~0o222)


def make_writable(root: Path) -> None:
    if not root.exists():
        return
    os.chmod(root, os.stat(root).st_mode | 0o700)
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | 0o600 | (0o100 if os.path.isdir(p) else 0))


class Clock:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.t0


def render_text_line(rec: StepRecord) -> str:
    mark = {SUCCEEDED: "ok", FAILED: "FAILED", SKIPPED: "skipped", NOT_RUNNABLE: "not runnable"}[rec.status]
    line = f"  {rec.name:<28} {mark:<12} {rec.seconds:6.2f}s"
    return line + (f"  {rec.reason}" if rec.reason else "")


def render_summary(report: RunReport) -> str:
    lines = []
    for step, ms in report.metrics.items():
        lines.append(f"metrics {step}: " + ", ".join(f"{k}={v:g}" for k, v in ms.items()))
    for r in report.registered:
        lines.append(f"registered {r.model} version {r.version}: {r.status}")
    lines.append(f"run {report.status}: {report.target} {report.environment} {report.pipeline} "
                 f"({sum(1 for s in report.steps if s.status == SUCCEEDED)} of {len(report.steps)} steps succeeded)")
    return "\n".join(lines) + "\n"


def dumps(report: RunReport) -> str:
    return json.dumps(report.as_json(), indent=2) + "\n"
