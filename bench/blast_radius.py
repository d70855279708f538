"""Blast radius of a one-line spec change (issue 16, item 3): how many planned resources and build
files change when one gate threshold of the fraud example changes.

    .venv/bin/python bench/blast_radius.py [--env prod] [--targets sagemaker,vertex,azureml]

For each target: compile and `plan` (mock runtime) the example and the example with
`f1 >= 0.95` -> `f1 >= 0.90`; count resources whose inputs differ (or that appear/disappear) and
build files whose sha256 differs (manifest.json aside), and name them.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _copy(dest: Path, edit: bool) -> Path:
    dest.mkdir(parents=True)
    shutil.copytree(ROOT / "specs" / "fraud_detection", dest / "fraud_detection")
    text = (ROOT / "specs" / "fraud_detection.mlspec").read_text()
    if edit:
        assert "metrics.f1 >= 0.95" in text
        text = text.replace("metrics.f1 >= 0.95", "metrics.f1 >= 0.90", 1)
    (dest / "fraud_detection.mlspec").write_text(text)
    return dest / "fraud_detection.mlspec"


def measure(target: str, env: str, tmp: Path) -> dict:
    from mlspec.compiler import api
    from mlspec.compiler.plan import plan

    out = {}
    for side, edit in (("before", False), ("after", True)):
        spec = _copy(tmp / side, edit)
        res = api.compile_spec(str(spec), [target], env=env, out=tmp / side / "build")
        assert res.ok, res.diagnostics
        man = json.loads((tmp / side / "build" / target / "manifest.json").read_text())
        files = {a["path"]: a["sha256"] for a in man["artifacts"]}
        resources = {(r["type"], r["name"]): json.dumps(r["inputs"], sort_keys=True)
                     for r in plan.run_plan(str(spec), target, env).as_json()["resources"]}
        out[side] = (files, resources)
    (fb, rb), (fa, ra) = out["before"], out["after"]
    changed_files = sorted(p for p in set(fb) | set(fa) if fb.get(p) != fa.get(p))
    changed_res = sorted(f"{t.split(':')[-1]} {n}" for (t, n) in set(rb) | set(ra) if rb.get((t, n)) != ra.get((t, n)))
    return {"target": target, "resources": len(rb), "changed_resources": changed_res,
            "files": len(fb), "changed_files": changed_files}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", default="prod")
    ap.add_argument("--targets", default="sagemaker,vertex,azureml")
    args = ap.parse_args()
    print(f"# Blast radius of `f1 >= 0.95` -> `f1 >= 0.90` (fraud_detection, {args.env})\n")
    print("| target | resources changed | build files changed (manifest aside) |")
    print("| --- | --- | --- |")
    details = []
    for t in args.targets.split(","):
        with tempfile.TemporaryDirectory(prefix="mlspec-blast-") as tmp:
            m = measure(t, args.env, Path(tmp))
        print(f"| {t} | {len(m['changed_resources'])} of {m['resources']} | {len(m['changed_files'])} of {m['files']} |")
        details.append(m)
    for m in details:
        print(f"\n## {m['target']}\n\nresources: " + (", ".join(m["changed_resources"]) or "none"))
        print("\nfiles: " + (", ".join(m["changed_files"]) or "none"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
