"""Probe `split` (process): copies rows to --train and --holdout, records its command line."""
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _record import flags, read_rows, record  # noqa: E402

f = flags()
rows = read_rows(f["data"])
# rows alternate labels: pairs of rows go to each side, so both sides hold both labels
parts = {"train": [r for i, r in enumerate(rows) if i % 4 < 2], "holdout": [r for i, r in enumerate(rows) if i % 4 >= 2]}
for name, part in parts.items():
    os.makedirs(f[name], exist_ok=True)
    with open(os.path.join(f[name], f"{name}.csv"), "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "x", "label"])
        w.writeheader()
        w.writerows(part)
record("split", f["train"], rows=len(rows))
