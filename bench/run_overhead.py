"""mlspec run: the runner's own overhead per step (issue 11 goal: under 1 s per step).

    .venv/bin/python bench/run_overhead.py            # Markdown table on stdout

For each (spec, target), runs `run_spec` once (compile included) and reports the wall time,
the time spent inside the step processes (the scripts, interpreter start included, i.e. what
running the same scripts directly in sequence costs), and the difference per step that ran
(succeeded or failed). Timing lives here, never in tests.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = [("specs/fraud_detection.mlspec", "sagemaker", "dev"),
         ("specs/fraud_detection.mlspec", "azureml", "dev"),
         ("specs/fraud_detection.mlspec", "vertex", "dev"),
         ("tests/run/probe/probe.mlspec", "sagemaker", "prod"),
         ("tests/run/probe/probe.mlspec", "azureml", "prod"),
         ("tests/run/probe/probe.mlspec", "vertex", "prod")]


def main() -> None:
    from mlspec.compiler.run import run_spec

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rows = []
    for spec, target, env in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            out = run_spec(str(ROOT / spec), target, env=env, workdir=tmp)
            wall = time.perf_counter() - t0
        rep = out.report
        ran = [s for s in rep.steps if s.status in ("succeeded", "failed")]
        over = wall - rep.script_seconds
        rows.append((Path(spec).stem, target, env, rep.status, len(rep.steps), len(ran), wall, rep.script_seconds,
                     over, over / max(1, len(ran))))
    print("| spec | target | env | status | steps | ran | wall s | in scripts s | overhead s | overhead s/step |")
    print("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} | {r[6]:.1f} | {r[7]:.1f} | {r[8]:.1f} | {r[9]:.2f} |")


if __name__ == "__main__":
    main()
