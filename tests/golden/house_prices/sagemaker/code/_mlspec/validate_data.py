"""mlspec data checks (SageMaker Processing). Generated build support file; do not edit.

Reads the dataset under /opt/ml/processing/input/data, applies the checks given as JSON in
`--spec-file` (null fraction, row count, duplicates, staleness, schema ranges) and exits non-zero
on a violation, which fails the pipeline step. Writes report.json to the `report` output.
"""
import argparse
import glob
import json
import os
import sys
import time

import pandas as pd

DATA = "/opt/ml/processing/input/data"
OUT = "/opt/ml/processing/output/report"
READERS = {"csv": pd.read_csv, "parquet": pd.read_parquet, "delta": pd.read_parquet,
           "jsonl": lambda p: pd.read_json(p, lines=True)}
SUFFIX = {"csv": ".csv", "parquet": ".parquet", "delta": ".parquet", "jsonl": ".jsonl"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec-file", required=True)
    with open(ap.parse_args().spec_file) as f:
        spec = json.load(f)
    fmt, checks = spec["format"], spec["checks"]
    files = sorted(f for f in glob.glob(os.path.join(DATA, "**", "*"), recursive=True)
                   if f.endswith(SUFFIX[fmt]) and "_delta_log" not in f)
    df = pd.concat([READERS[fmt](f) for f in files], ignore_index=True) if files else pd.DataFrame()
    problems = []
    if checks.get("min_rows") is not None and len(df) < checks["min_rows"]:
        problems.append(f"{len(df)} rows, fewer than {checks['min_rows']}")
    if checks.get("max_null_fraction_percent") is not None and len(df):
        worst = float(df.isna().mean().max() * 100)
        if worst > checks["max_null_fraction_percent"]:
            problems.append(f"null fraction {worst:.3f}% above {checks['max_null_fraction_percent']}%")
    if checks.get("max_duplicate_percent") is not None and len(df):
        dup = float(df.duplicated().mean() * 100)
        if dup > checks["max_duplicate_percent"]:
            problems.append(f"duplicates {dup:.3f}% above {checks['max_duplicate_percent']}%")
    if checks.get("max_staleness_s") is not None and files:
        age = time.time() - max(os.path.getmtime(f) for f in files)
        if age > checks["max_staleness_s"]:
            problems.append(f"newest file is {int(age)} s old")
    for col in spec.get("schema") or []:
        name = col["name"]
        if name not in df.columns:
            problems.append(f"column `{name}` missing")
            continue
        s = df[name]
        if col.get("nullable") is False and s.isna().any():
            problems.append(f"column `{name}` has nulls")
        if col.get("min") is not None and (s.dropna() < col["min"]).any():
            problems.append(f"column `{name}` below {col['min']}")
        if col.get("max") is not None and (s.dropna() > col["max"]).any():
            problems.append(f"column `{name}` above {col['max']}")
        if col.get("allowed") is not None and not s.dropna().isin(col["allowed"]).all():
            problems.append(f"column `{name}` has values outside {col['allowed']}")
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "report.json"), "w") as f:
        json.dump({"rows": len(df), "problems": problems}, f, indent=2)
    if problems:
        print("data checks failed: " + "; ".join(problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
