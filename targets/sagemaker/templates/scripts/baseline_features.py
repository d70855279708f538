"""mlspec baseline features (SageMaker Processing). Generated build support file; do not edit.

A Model Monitor job compares what the endpoint receives with a baseline. The endpoint
receives the features the served model was trained on (the training step's input, in its
declared format), without the label, as csv rows. This step reads exactly that table
(training column order, label and record-id columns dropped) and writes, for the monitor
that asked for it:

- data-quality (data_drift): features.csv (header row) for Model Monitor's baseline job, so
  the baseline and the captured requests describe the same columns;
  https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-create-baseline.html
- bias drift (`--bias-config <spec.json>`): the Clarify monitor's analysis_config.json, the
  compiled spec (label, label_values_or_threshold, facet, methods) plus `headers`: the
  feature columns in the order the endpoint receives them, then the label (Clarify merges
  the ground truth label after the captured features). Every facet must be one of those
  columns, or the monitor could not find it in the captured data.
  https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-config-json-monitor-bias-parameters.html
"""
import argparse
import glob
import json
import os
import sys

import pandas as pd

IN = "/opt/ml/processing/input/data"
OUT = "/opt/ml/processing/output/features"
OUT_CONFIG = "/opt/ml/processing/output/analysis_config"
READERS = {"csv": pd.read_csv, "parquet": pd.read_parquet, "jsonl": lambda p: pd.read_json(p, lines=True)}


def fail(message: str) -> int:
    print(f"baseline features: {message}", file=sys.stderr)
    return 1


def bias_config(spec: dict, columns: list, label: str) -> tuple[dict | None, str]:
    """The monitor's analysis config for these feature columns, or (None, why not)."""
    if not label:
        return None, "a bias monitor needs the label column (declare `label` on the model or the dataset)"
    missing = [f["name_or_index"] for f in spec.get("facet") or [] if f["name_or_index"] not in columns]
    if missing:
        return None, (f"facet {', '.join(f'`{m}`' for m in missing)} is not a column the endpoint receives "
                      f"(columns: {', '.join(map(str, columns))})")
    return {**spec, "headers": [str(c) for c in columns] + [label], "label": label}, ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--format", required=True, choices=sorted(READERS))
    ap.add_argument("--label", default="")
    ap.add_argument("--drop", action="append", default=[], help="id columns, dropped when present")
    ap.add_argument("--bias-config", default="", help="the bias monitor's compiled analysis config spec "
                                                      "(writes analysis_config.json instead of features.csv)")
    a = ap.parse_args(argv)
    files = sorted(f for f in glob.glob(os.path.join(IN, "**", "*"), recursive=True)
                   if os.path.isfile(f) and not os.path.basename(f).startswith(("_", ".")))
    if not files:
        return fail(f"no {a.format} files under {IN}")
    # the analysis config needs the column names only: the first file has them
    data = pd.concat([READERS[a.format](f) for f in (files[:1] if a.bias_config else files)], ignore_index=True)
    if a.label:
        if a.label not in data.columns:
            return fail(f"the training data has no label column `{a.label}` "
                        f"(columns: {', '.join(map(str, data.columns))})")
        data = data.drop(columns=[a.label])
    data = data.drop(columns=[c for c in a.drop if c in data.columns])
    if a.bias_config:
        with open(a.bias_config, encoding="utf-8") as f:
            cfg, why = bias_config(json.load(f), list(data.columns), a.label)
        if cfg is None:
            return fail(why)
        os.makedirs(OUT_CONFIG, exist_ok=True)
        with open(os.path.join(OUT_CONFIG, "analysis_config.json"), "w", encoding="utf-8") as f:
            json.dump(cfg, f, indent=2, sort_keys=True)
        print(f"baseline features: bias monitor analysis config with {len(cfg['headers'])} headers")
        return 0
    os.makedirs(OUT, exist_ok=True)
    data.to_csv(os.path.join(OUT, "features.csv"), index=False)
    print(f"baseline features: {len(data)} rows, {len(data.columns)} columns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
