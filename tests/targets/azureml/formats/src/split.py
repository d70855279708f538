"""Writes half the rows to --train as parquet and half to --holdout as JSON lines, each as
one part file without an extension (the declared format says how to read it)."""
import argparse
import glob
import os

import pandas as pd

ap = argparse.ArgumentParser()
for name in ("data", "train", "holdout"):
    ap.add_argument("--" + name, required=True)
a = ap.parse_args()
files = [f for f in sorted(glob.glob(os.path.join(a.data, "**", "*"), recursive=True))
         if os.path.isfile(f) and not os.path.basename(f).startswith((".", "_"))]
rows = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
os.makedirs(a.train, exist_ok=True)
os.makedirs(a.holdout, exist_ok=True)
rows.iloc[0::2].to_parquet(os.path.join(a.train, "part-00000"), index=False)
rows.iloc[1::2].to_json(os.path.join(a.holdout, "part-00000"), orient="records", lines=True)
