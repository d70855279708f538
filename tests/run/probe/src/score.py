"""Probe `score` (evaluate): reads the extracted model dir, writes evaluation.json, records all."""
import csv
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _record import flags, listing, record  # noqa: E402

f = flags()
with open(os.path.join(f["model"], "model.json"), encoding="utf-8") as fh:
    threshold = json.load(fh)["threshold"]
rows = []
for p in sorted(glob.glob(os.path.join(f["holdout"], "**", "*.csv"), recursive=True)):
    with open(p, newline="", encoding="utf-8") as fh:
        rows += list(csv.DictReader(fh))
right = sum(1 for r in rows if (float(r["x"]) > threshold) == (r["label"] == "1"))
accuracy = round(right / len(rows), 6)
os.makedirs(f["metrics"], exist_ok=True)
with open(os.path.join(f["metrics"], "evaluation.json"), "w", encoding="utf-8") as fh:
    json.dump({"metrics": {"accuracy": {"value": accuracy}}}, fh)
record("score", f["metrics"], model_dir=listing(f["model"]), threshold=threshold, accuracy=accuracy)
