"""mlspec benchmark: cost per stage for generated specs of growing size, and CLI wall time.

    .venv/bin/python bench/bench.py            # writes a Markdown report to stdout
    .venv/bin/python bench/bench.py --quick    # fewer repetitions
    .venv/bin/python bench/bench.py --versus-kfp --kfp-python /tmp/kfpvenv/bin/python --reps 9
                                               # only the side-by-side with the kfp SDK (issue 9)

Measures, for specs with 10, 100 and 1,000 steps (and a tenth as many endpoints):
parse, check+IR (all environments), lowering per target, lines/s, and peak memory
(tracemalloc); then the wall time of `mlspec check` and `mlspec compile --target all`
on the example specs, interpreter start included (median of several runs).
Timing lives here, never in tests.
"""
from __future__ import annotations

import argparse
import gc
import shutil
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def generate(n_steps: int, root: Path) -> Path:
    """A valid spec with `n_steps` pipeline steps and n_steps/10 endpoints."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    for name in ("prep.py", "train.py", "evaluate.py"):
        (root / "src" / name).write_text(f"# {name}\nprint('ok')\n")
    n_proc = max(1, n_steps - 4)
    n_ep = max(1, n_steps // 10)
    lines = [f"system bench_{n_steps} {{", '  owner = "bench@example.com"',
             '  dataset events { uri = "data://bench/events/"  format = parquet  version = "1" }',
             "  pipeline training {", '    schedule = cron("0 3 * * *")',
             "    step validate = validate { data = dataset.events }"]
    prev = "step.validate.data"
    for i in range(n_proc):
        lines.append(f'    step p{i} = process {{ script = "src/prep.py"  inputs = [{prev}]  outputs = [o{i}]  '
                     f"compute = cpu.small }}")
        prev = f"step.p{i}.outputs.o{i}"
    lines += [f'    step train = train {{ framework = xgboost("1.7")  entry_point = "src/train.py"  inputs = [{prev}] }}',
              f'    step evaluate = evaluate {{ script = "src/evaluate.py"  model = step.train.model  data = {prev}  '
              "metrics = [auc] }",
              "    gate quality { require step.evaluate.metrics.auc >= 0.8 }",
              "    step register = register { model = model.m }", "  }",
              '  model m { approval { approvers = ["leads@example.com"]  required = 1 } }',
              '  channel ops { email = "ops@example.com" }']
    for i in range(n_ep):
        lines += [f"  endpoint e{i} {{ model = model.m  compute = cpu.small  instances = 2  "
                  f"rollout = canary {{ initial = 10%  interval = 10m  rollback_on = [alert.lat{i}] }} }}",
                  f"  alert lat{i} {{ endpoint = endpoint.e{i}  metric = latency_p99  above = 200ms  for = 5m  "
                  "notify = [channel.ops] }"]
    lines += ["  environment dev { scale = 0.5  approval = none }", "  environment prod { }",
              '  target sagemaker { region = "us-east-1" }',
              '  target vertex { project = "bench-project"  region = "us-central1" }',
              '  target azureml { subscription = "00000000-0000-0000-0000-000000000000"  resource_group = "rg"  '
              'workspace = "ws"  region = "eastus" }', "}"]
    path = root / f"bench_{n_steps}.mlspec"
    path.write_text("\n".join(lines) + "\n")
    return path


def _time(fn, reps: int):
    best = float("inf")
    result = None
    for _ in range(reps):
        gc.collect()
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def stage_costs(path: Path, reps: int) -> dict:
    from mlspec.compiler import api, parse
    from mlspec.compiler.check import build as buildmod
    from mlspec.compiler.diagnostics import Sink
    from mlspec.targets.base import LowerContext, available_targets, get_target

    data = path.read_bytes()
    text_lines = data.count(b"\n")
    t_parse, (module, src, diags) = _time(lambda: parse.parse_bytes(data, str(path)), reps)
    assert module is not None and not diags, diags

    def check():
        sink = Sink()
        irs = {}
        for env in buildmod.environments(module):
            ir, _ = buildmod.build(module, src, path.parent, env, sink)
            irs[env] = ir
        assert not sink.has_errors, sink.sorted()[:3]
        return irs

    t_check, irs = _time(check, reps)
    from mlspec.compiler import ir as irmod

    t_schema, _ = _time(lambda: [irmod.validation_error(i) for i in irs.values()], reps)
    lower = {}
    ctx = LowerContext(spec_path=path.name, spec_sha256="0" * 64, project_root_rel="code", compiler_version="bench")
    for name in available_targets():
        try:
            target = get_target(name)
            t, _ = _time(lambda: target.lower(list(irs.values()), ctx), reps)
            lower[name] = t
        except Exception as e:  # a target still under construction must not stop the bench
            lower[name] = f"failed: {type(e).__name__}"
    tracemalloc.start()
    try:
        api.compile_spec(str(path), ["all"], out=None)
    except Exception:  # a target under construction: measure the front end alone
        api.build_irs(str(path))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"lines": text_lines, "bytes": len(data), "parse": t_parse, "check": t_check, "schema": t_schema,
            "lower": lower, "peak_mib": peak / 2**20}


def cli_wall(args: list[str], reps: int, cwd: Path) -> float:
    exe = str(Path(sys.executable).parent / "mlspec")
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run([exe, *args], cwd=cwd, capture_output=True, check=False, env=_bench_env())
        times.append(time.perf_counter() - t)
    return statistics.median(times)


#: the yardstick of issue 9: the kfp SDK compiling a 10-step pipeline for one cloud (Vertex)
KFP_PIPELINE = """\
import sys

from kfp import compiler, dsl


@dsl.component(base_image="python:3.11")
def step(x: str) -> str:
    return x + "."


@dsl.pipeline(name="ten-steps")
def pipeline(x: str = "a"):
    t = step(x=x)
    for _ in range(9):
        t = step(x=t.output)


compiler.Compiler().compile(pipeline, sys.argv[1])
"""


def _bench_env() -> dict:
    """As on a user's machine: bytecode caching on (the project's shells may turn it off)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _kfp_python(explicit: str | None) -> str | None:
    for exe in ([explicit] if explicit else []) + [sys.executable]:
        if subprocess.run([exe, "-c", "import kfp"], capture_output=True).returncode == 0:
            return exe
    return None


def versus_kfp(reps: int, kfp_python: str | None, d: Path) -> list[str]:
    """Whole-process wall time, interleaved runs (so load on the machine hits every command alike),
    one warm-up run each (bytecode caches written), median of `reps`; the CPU time (user +
    system) of each process too, which load on a shared machine disturbs less than wall time."""
    exe = str(Path(sys.executable).parent / "mlspec")
    big = generate(1000, d / "kfp-big")
    fresh = iter(range(10**6))
    jobs = {  # a fresh --out per run (a first compile); the last row replaces the previous build
        "mlspec compile fraud_detection --target all": lambda: [
            exe, "compile", "specs/fraud_detection.mlspec", "--target", "all", "--out", str(d / f"k1-{next(fresh)}")],
        "mlspec compile 1,000 steps --target all": lambda: [
            exe, "compile", str(big), "--target", "all", "--out", str(d / f"k2-{next(fresh)}")],
        "mlspec compile 1,000 steps --target all, replacing the previous build": lambda: [
            exe, "compile", str(big), "--target", "all", "--out", str(d / "k3")],
    }
    kfp = _kfp_python(kfp_python)
    if kfp:
        script = d / "kfp_ten_steps.py"
        script.write_text(KFP_PIPELINE)
        jobs["kfp: compile a 10-step pipeline (one cloud)"] = lambda: [kfp, str(script), str(d / "kfp.yaml")]
    times: dict[str, list[float]] = {k: [] for k in jobs}
    cpus: dict[str, list[float]] = {k: [] for k in jobs}
    env = _bench_env()
    for r in range(reps + 1):
        for name, cmd in jobs.items():
            for old in d.glob("k[12]-*"):  # keep the disk small; not timed
                shutil.rmtree(old, ignore_errors=True)
            # not timed: write back what earlier runs wrote and deleted, so no run pays for
            # the previous one's ~42 MB (on a file system mounted with `discard`, deleting
            # thousands of files costs every process that creates files in the next seconds)
            if hasattr(os, "sync"):
                os.sync()
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN) if resource else None
            t = time.perf_counter()
            proc = subprocess.run(cmd(), cwd=ROOT, capture_output=True, env=env)
            dt = time.perf_counter() - t
            if resource:
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
            if proc.returncode != 0:
                raise SystemExit(f"{name} failed: {proc.stderr.decode()[-2000:]}")
            if r:  # the first round writes bytecode caches
                times[name].append(dt)
                if resource:
                    cpus[name].append(cpu)
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpus.items() if v}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    out = ["", f"Side by side with the kfp SDK (median of {reps} interleaved runs, whole process, load average "
               f"{load:.1f}):", "", "| command | wall | vs kfp | CPU (user+sys) | vs kfp |",
           "| --- | ---: | ---: | ---: | ---: |"]
    base = med.get("kfp: compile a 10-step pipeline (one cloud)")
    base_cpu = med_cpu.get("kfp: compile a 10-step pipeline (one cloud)")
    for k, v in med.items():
        c = med_cpu.get(k)
        out.append(f"| {k} | {v * 1000:.0f} ms | " + (f"{v / base:.2f}x |" if base else "n/a |")
                   + (f" {c * 1000:.0f} ms |" if c is not None else " n/a |")
                   + (f" {c / base_cpu:.2f}x |" if c is not None and base_cpu else " n/a |"))
    if not kfp:
        out.append("\n(kfp is not installed: pass --kfp-python an interpreter that has it)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--versus-kfp", action="store_true", help="only the side-by-side with the kfp SDK")
    ap.add_argument("--kfp-python", default=None, help="an interpreter with kfp installed (default: this one)")
    ap.add_argument("--reps", type=int, default=None)
    opts = ap.parse_args()
    reps = opts.reps or (2 if opts.quick else 5)
    if opts.versus_kfp:
        with tempfile.TemporaryDirectory() as d:
            print("\n".join(["# mlspec vs kfp", f"Python {sys.version.split()[0]}, {os.cpu_count()} cores."]
                            + versus_kfp(reps, opts.kfp_python, Path(d))))
        return
    out = ["# mlspec benchmark", "",
           f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; best of {reps} runs in-process.", "",
           "| steps | lines | parse | check + IR (all envs) | schema validation | lower sagemaker | lower vertex | "
           "lower azureml | lines/s (parse+check) | peak memory |",
           "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    with tempfile.TemporaryDirectory() as d:
        for n in (10, 100, 1000):
            path = generate(n, Path(d) / f"s{n}")
            c = stage_costs(path, reps)
            lw = [c["lower"].get(t) for t in ("sagemaker", "vertex", "azureml")]
            fmt = lambda x: f"{x * 1000:.1f} ms" if isinstance(x, float) else str(x)  # noqa: E731
            lps = c["lines"] / (c["parse"] + c["check"])
            out.append(f"| {n} | {c['lines']} | {fmt(c['parse'])} | {fmt(c['check'])} | {fmt(c['schema'])} | "
                       + " | ".join(fmt(x) for x in lw) + f" | {lps:,.0f} | {c['peak_mib']:.1f} MiB |")
        big = generate(1000, Path(d) / "cli")
        out += ["", "Wall time of the CLI, interpreter start included (median):", "",
                "| command | wall |", "| --- | ---: |"]
        runs = [
            (["check", "specs/fraud_detection.mlspec"], ROOT),
            (["compile", "specs/fraud_detection.mlspec", "--target", "all", "--out", str(Path(d) / "o1")], ROOT),
            (["compile", str(big), "--target", "all", "--out", str(Path(d) / "o2")], ROOT),
        ]
        labels = ["`mlspec check` fraud_detection (typical)", "`mlspec compile --target all` fraud_detection",
                  "`mlspec compile --target all`, 1,000 steps"]
        for (args, cwd), label in zip(runs, labels):
            out.append(f"| {label} | {cli_wall(args, reps, cwd) * 1000:.0f} ms |")
        out += versus_kfp(reps, opts.kfp_python, Path(d))
    print("\n".join(out))


if __name__ == "__main__":
    main()
