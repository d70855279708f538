"""Build churn features from the subscriber snapshot.

Step `features` (process) of pipeline `weekly` in churn_scoring.mlspec.

    --data  DIR        validated subscriber snapshot (the validate step's `data` output)
    --train DIR        output: training rows
    --test  DIR        output: held-out rows for both evaluate steps
    --window_days 90   observation window of `support_calls` and `churned`; subscribers
                       younger than the window are dropped (their label is censored)
    --test_fraction 0.2
    --output_format parquet  (or `csv` with a header)

Plans are one-hot encoded in a fixed order so the GBM, the neural network and the
nightly batch scoring see identical columns. Outputs hold data files only; the model
features are the numeric columns other than the id and the label.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import logging
import os
import sys

LOG = logging.getLogger("features")

LABEL = "churned"
ID_COLUMN = "subscriber_id"
PLANS = ("basic", "plus", "premium")
PLAN_PRICE_RANK = {"basic": 0, "plus": 1, "premium": 2}


def _option(parser: argparse.ArgumentParser, name: str, **kw) -> None:
    flags = [f"--{name}"]
    if "_" in name:
        flags.append(f"--{name.replace('_', '-')}")
    parser.add_argument(*flags, dest=name, **kw)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _option(p, "data", default="/opt/ml/processing/input/0")
    _option(p, "train", default="/opt/ml/processing/output/train")
    _option(p, "test", default="/opt/ml/processing/output/test")
    _option(p, "window_days", type=int, default=90)
    _option(p, "test_fraction", type=float, default=0.2)
    _option(p, "output_format", choices=("parquet", "csv"), default="parquet")
    args = p.parse_args(argv)
    if args.window_days < 7:
        p.error("--window_days must be at least 7")
    return args


def read_table(path: str):
    import pandas as pd

    files = sorted(f for f in glob.glob(os.path.join(path, "**", "*"), recursive=True) if os.path.isfile(f))
    frames = [pd.read_parquet(f) for f in files if f.endswith((".parquet", ".pq"))]
    frames += [pd.read_csv(f) for f in files if f.endswith(".csv")]
    if not frames:
        raise SystemExit(f"no parquet or csv files under {path}")
    return pd.concat(frames, ignore_index=True)


def in_test_split(key: str, fraction: float) -> bool:
    h = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < fraction


def engineer(df, window_days: int):
    import numpy as np
    import pandas as pd

    months_in_window = window_days / 30.0
    out = pd.DataFrame({ID_COLUMN: df[ID_COLUMN].astype(str)})
    tenure = df["tenure_months"].astype(float).clip(lower=0)
    spend = df["monthly_spend"].astype(float).clip(lower=0)
    calls = df["support_calls"].fillna(0).astype(float).clip(lower=0)
    out["tenure_months"] = tenure
    out["log_tenure"] = np.log1p(tenure)
    out["is_first_year"] = (tenure < 12).astype(int)
    out["monthly_spend"] = spend
    out["log_spend"] = np.log1p(spend)
    out["support_calls_per_month"] = calls / months_in_window
    out["heavy_support"] = (calls >= 3).astype(int)
    plan = df["plan"].fillna("basic").astype(str)
    for p in PLANS:
        out[f"plan_{p}"] = (plan == p).astype(int)
    # Spend above the plan's median suggests add-ons; far below suggests a downgrade risk.
    plan_median = spend.groupby(plan).transform("median").replace(0, np.nan)
    out["spend_vs_plan_median"] = (spend / plan_median).fillna(1.0).clip(upper=10)
    out["plan_rank"] = plan.map(PLAN_PRICE_RANK).fillna(0).astype(int)
    out["calls_x_first_year"] = out["support_calls_per_month"] * out["is_first_year"]
    out[LABEL] = df[LABEL].astype(int)
    return out


def write_table(df, directory: str, name: str, fmt: str) -> str:
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{name}.{fmt}")
    if fmt == "csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return path


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    raw = read_table(args.data)
    before = len(raw)
    raw = raw.dropna(subset=[ID_COLUMN, LABEL]).drop_duplicates(subset=[ID_COLUMN], keep="last")
    # Subscribers who joined inside the window cannot have churned "within the window" yet.
    raw = raw[raw["tenure_months"].astype(float) * 30.0 >= args.window_days]
    LOG.info("kept %d of %d subscribers with at least %d days of tenure", len(raw), before, args.window_days)
    table = engineer(raw, args.window_days)
    features = [c for c in table.columns if c not in (ID_COLUMN, LABEL)]
    is_test = table[ID_COLUMN].map(lambda k: in_test_split(k, args.test_fraction))
    train, test = table[~is_test], table[is_test]
    if train[LABEL].nunique() < 2 or test[LABEL].nunique() < 2:
        LOG.error("each split needs churned and retained subscribers")
        return 1
    write_table(train, args.train, "train", args.output_format)
    write_table(test, args.test, "test", args.output_format)
    LOG.info("train=%d test=%d features=%d churn_rate=%.3f", len(train), len(test), len(features),
             float(table[LABEL].mean()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
