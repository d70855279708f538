"""Probe `fit` (train): a threshold model written to --model, records its command line."""
import csv
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _record import flags, record  # noqa: E402

f = flags()
rows = []
for p in sorted(glob.glob(os.path.join(f["train"], "**", "*.csv"), recursive=True)):
    with open(p, newline="", encoding="utf-8") as fh:
        rows += list(csv.DictReader(fh))
pos = [float(r["x"]) for r in rows if r["label"] == "1"]
neg = [float(r["x"]) for r in rows if r["label"] == "0"]
threshold = (min(pos) + max(neg)) / 2 if pos and neg else 0.5
os.makedirs(f["model"], exist_ok=True)
with open(os.path.join(f["model"], "model.json"), "w", encoding="utf-8") as fh:
    json.dump({"threshold": threshold}, fh)
record("fit", f["model"])
if "metrics" in f:
    os.makedirs(f["metrics"], exist_ok=True)
    with open(os.path.join(f["metrics"], "evaluation.json"), "w", encoding="utf-8") as fh:
        json.dump({"metrics": {"rows": {"value": len(rows)}}}, fh)
