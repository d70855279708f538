"""Probe `split` (process): copies rows to --train and --holdout, records its command line."""
import csv
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _record import flags, record  # noqa: E402

f = flags()
rows = []
for p in sorted(glob.glob(os.path.join(f["data"], "**", "*.csv"), recursive=True)):
    with open(p, newline="", encoding="utf-8") as fh:
        rows += list(csv.DictReader(fh))
for name, part in (("train", rows[::2]), ("holdout", rows[1::2])):
    os.makedirs(f[name], exist_ok=True)
    with open(os.path.join(f[name], f"{name}.csv"), "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "x", "label"])
        w.writeheader()
        w.writerows(part)
record("split", f["train"])
