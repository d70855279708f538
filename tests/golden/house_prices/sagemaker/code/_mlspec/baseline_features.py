"""mlspec baseline features (SageMaker Processing). Generated build support file; do not edit.

A data-quality monitor compares what the endpoint receives with a baseline. The endpoint
receives the features the served model was trained on (the training step's input, in its
declared format), without the label, as csv rows. This step writes exactly that table
(features.csv, header row, training column order, label and record-id columns dropped) for Model Monitor's
baseline job, so the baseline and the captured requests describe the same columns.
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-create-baseline.html
"""
import argparse
import glob
import os
import sys

import pandas as pd

IN = "/opt/ml/processing/input/data"
OUT = "/opt/ml/processing/output/features"
READERS = {"csv": pd.read_csv, "parquet": pd.read_parquet, "jsonl": lambda p: pd.read_json(p, lines=True)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--format", required=True, choices=sorted(READERS))
    ap.add_argument("--label", default="")
    ap.add_argument("--drop", action="append", default=[], help="id columns, dropped when present")
    a = ap.parse_args(argv)
    files = sorted(f for f in glob.glob(os.path.join(IN, "**", "*"), recursive=True)
                   if os.path.isfile(f) and not os.path.basename(f).startswith(("_", ".")))
    if not files:
        print(f"baseline features: no {a.format} files under {IN}", file=sys.stderr)
        return 1
    data = pd.concat([READERS[a.format](f) for f in files], ignore_index=True)
    if a.label:
        if a.label not in data.columns:
            print(f"baseline features: the training data has no label column `{a.label}` "
                  f"(columns: {', '.join(map(str, data.columns))})", file=sys.stderr)
            return 1
        data = data.drop(columns=[a.label])
    data = data.drop(columns=[c for c in a.drop if c in data.columns])
    os.makedirs(OUT, exist_ok=True)
    data.to_csv(os.path.join(OUT, "features.csv"), index=False)
    print(f"baseline features: {len(data)} rows, {len(data.columns)} columns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
