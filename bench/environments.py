"""How `mlspec check` scales with the number of environments (issue 15 item 9).

    .venv/bin/python bench/environments.py            # 10, 25, 50 environments (the E414 cap)
    .venv/bin/python bench/environments.py --beyond   # also 100, 200, 400 (cap lifted in-process)

A fixed system (a 12-step pipeline, 3 endpoints with alerts, a monitor) with N environments,
each overriding an endpoint, a step and a dataset check. For each N it prints the time of the
front end (`api.build_irs`: parse, check and IR of every environment) and of the whole
`mlspec check` (front end + every declared target's settings, verdicts and lowering), and the
time per environment: linear work keeps the per-environment figure flat as N grows.
Timing lives here, never in tests.
"""
from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def generate(n_envs: int, root: Path) -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    for name in ("prep.py", "train.py", "evaluate.py"):
        (root / "src" / name).write_text(f"# {name}\nprint('ok')\n")
    lines = ["system envbench {", '  owner = "bench@example.com"',
             '  dataset events { uri = "data://bench/events/"  format = parquet  version = "1"',
             "    checks { min_rows = 1000  max_null_fraction = 1% } }",
             "  pipeline training {", '    schedule = cron("0 3 * * *")',
             "    step validate = validate { data = dataset.events }"]
    prev = "step.validate.data"
    for i in range(8):
        lines.append(f'    step p{i} = process {{ script = "src/prep.py"  inputs = [{prev}]  outputs = [o{i}]  '
                     "compute = cpu.small }")
        prev = f"step.p{i}.outputs.o{i}"
    lines += [f'    step train = train {{ framework = xgboost("1.7")  entry_point = "src/train.py"  inputs = [{prev}] }}',
              f'    step evaluate = evaluate {{ script = "src/evaluate.py"  model = step.train.model  data = {prev}  '
              "metrics = [auc] }",
              "    gate quality { require step.evaluate.metrics.auc >= 0.8 }",
              "    step register = register { model = model.m }", "  }",
              '  model m { approval { approvers = ["leads@example.com"]  required = 1 } }',
              '  channel ops { email = "ops@example.com" }']
    for i in range(3):
        lines += [f"  endpoint e{i} {{ model = model.m  compute = cpu.small  instances = 2  "
                  f"rollout = canary {{ initial = 10%  interval = 10m  rollback_on = [alert.lat{i}] }} }}",
                  f"  alert lat{i} {{ endpoint = endpoint.e{i}  metric = latency_p99  above = 200ms  for = 5m  "
                  "notify = [channel.ops] }"]
    for i in range(n_envs):
        lines += [f"  environment env{i} {{",
                  f"    scale = {1 + i % 3}",
                  "    approval = required",
                  f"    endpoint e{i % 3} {{ instances = {1 + i % 4} }}",
                  f"    pipeline training {{ step train = train {{ compute = cpu.{('small', 'medium', 'large')[i % 3]} }} }}",
                  f"    dataset events {{ checks {{ min_rows = {100 + i} }} }}",
                  "  }"]
    lines += ['  target sagemaker { region = "us-east-1" }',
              '  target vertex { project = "bench-project"  region = "us-central1" }',
              '  target azureml { subscription = "00000000-0000-0000-0000-000000000000"  resource_group = "rg"  '
              'workspace = "ws"  region = "eastus" }', "}"]
    path = root / f"envs_{n_envs}.mlspec"
    path.write_text("\n".join(lines) + "\n")
    return path


def best_of(fn, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        gc.collect()
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--beyond", action="store_true", help="also 100, 200, 400 environments (E414 cap lifted)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--front-end-only", action="store_true", help="skip the targets' lowering")
    a = ap.parse_args()
    from mlspec.compiler import api

    sizes = [10, 25, 50] + ([100, 200, 400] if a.beyond else [])
    if a.beyond:
        api.MAX_ENVIRONMENTS = max(sizes)
    print("| environments | front end (s) | per env (ms) | check with targets (s) | per env (ms) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = generate(n, Path(tmp) / str(n))
            res = api.build_irs(str(path), validate=False)
            assert res.ok and len(res.irs) == n, [d.summary for d in res.diagnostics][:3]
            front = best_of(lambda: api.build_irs(str(path), validate=False), a.reps)
            if a.front_end_only:
                full = float("nan")
            else:
                full = front + best_of(lambda: api.compile_spec(str(path), ["sagemaker", "vertex", "azureml"],
                                                                env=None, out=None), a.reps)
            print(f"| {n} | {front:.2f} | {1000 * front / n:.1f} | {full:.2f} | {1000 * full / n:.1f} |", flush=True)


if __name__ == "__main__":
    main()
