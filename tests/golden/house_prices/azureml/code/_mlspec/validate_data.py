"""mlspec data validation step: schema, null fraction, row count, duplicates, staleness.

The output `data` is the validated data and nothing else (the next step reads every file in
it); the validation report goes to the job's log.
"""
import json
import os
import shutil

from _common import fail, parse, read_table

args, cfg = parse("source", outputs=("data",))
df = read_table(args.source, cfg["format"])
problems = []
checks = cfg["checks"] or {}
for col in cfg["schema"]:
    if col["name"] not in df.columns:
        problems.append("missing column " + col["name"])
        continue
    s = df[col["name"]]
    if not col["nullable"] and s.isna().any():
        problems.append(col["name"] + " has nulls")
    if col.get("min") is not None and (s.dropna() < col["min"]).any():
        problems.append(col["name"] + " below min")
    if col.get("max") is not None and (s.dropna() > col["max"]).any():
        problems.append(col["name"] + " above max")
    if col.get("allowed") is not None and not s.dropna().isin(col["allowed"]).all():
        problems.append(col["name"] + " has values outside the allowed set")
if checks.get("min_rows") is not None and len(df) < checks["min_rows"]:
    problems.append("rows %d < %d" % (len(df), checks["min_rows"]))
if checks.get("max_null_fraction_percent") is not None and len(df):
    worst = float(df.isna().mean().max() * 100)
    if worst > checks["max_null_fraction_percent"]:
        problems.append("null fraction %.3f%% > %s%%" % (worst, checks["max_null_fraction_percent"]))
if checks.get("max_duplicate_percent") is not None and len(df):
    dup = float(df.duplicated().mean() * 100)
    if dup > checks["max_duplicate_percent"]:
        problems.append("duplicates %.3f%% > %s%%" % (dup, checks["max_duplicate_percent"]))
if checks.get("max_staleness_s") is not None:
    ts = [c["name"] for c in cfg["schema"] if c["role"] == "timestamp"]
    if ts:
        import pandas as pd
        age = (pd.Timestamp.now(tz="UTC") - pd.to_datetime(df[ts[0]], utc=True).max()).total_seconds()
        if age > checks["max_staleness_s"]:
            problems.append("newest row is %ds old" % age)
print("mlspec validation: " + json.dumps({"dataset": cfg["dataset"], "rows": len(df), "problems": problems}))
if problems:
    fail("dataset %s failed validation: %s" % (cfg["dataset"], "; ".join(problems)))
src = args.source
if os.path.isdir(src):
    shutil.copytree(src, args.data, dirs_exist_ok=True)
else:
    shutil.copy(src, args.data)
