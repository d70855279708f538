"""Probe `score` (evaluate): loads the extracted model dir, writes evaluation.json, records
what it received: its command line, the model directory's contents and the metrics it wrote
(which mlspec then reads for the gate)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _record import flags, listing, read_rows, record, write_metrics  # noqa: E402

import joblib  # noqa: E402

f = flags()
model = joblib.load(os.path.join(f["model"], "model.joblib"))
rows = read_rows(f["holdout"])
predicted = model.predict([[float(r["x"])] for r in rows])
accuracy = round(sum(int(p) == int(r["label"]) for p, r in zip(predicted, rows)) / len(rows), 6)
write_metrics(f["metrics"], {"accuracy": accuracy})
with open(os.path.join(f["metrics"], "evaluation.json"), encoding="utf-8") as fh:
    written = json.load(fh)
record("score", f["metrics"], model_dir=listing(f["model"]), rows=len(rows), accuracy=accuracy,
       evaluation=written)
