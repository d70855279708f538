"""Build churn features from the validated subscriber snapshot and split train/test.

Step `features` (process) of pipeline `weekly` in churn_scoring.mlspec. Command line
(the script contract; nothing else is read):

    --data  DIR          the validate step's `data` (csv, parquet or jsonl files)
    --train DIR          output: training rows (csv with a header: `outputs = { train = csv, ... }`)
    --test  DIR          output: held-out rows for the evaluate steps
    --window_days 90     churn window (from the spec's `args`)

Subscribers younger than the window are dropped (they cannot have churned within it
yet); the split is by a hash of subscriber_id, so it is stable across runs. Both models
read the same columns: everything numeric except the id and the label.
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import sys

from common import flag, read_table, write_table

LOG = logging.getLogger("features")

LABEL = "churned"
ID_COLUMN = "subscriber_id"
PLANS = ("basic", "plus", "premium")
PLAN_PRICE_RANK = {"basic": 0, "plus": 1, "premium": 2}
TEST_FRACTION = 0.25


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    flag(p, "data", required=True)
    flag(p, "train", required=True)
    flag(p, "test", required=True)
    flag(p, "window_days", type=int, default=90)
    args = p.parse_args(argv)
    if args.window_days < 7:
        p.error("--window_days must be at least 7")
    return args


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


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    raw = read_table(args.data)
    before = len(raw)
    raw = raw.dropna(subset=[ID_COLUMN, LABEL]).drop_duplicates(subset=[ID_COLUMN], keep="last")
    raw = raw[raw["tenure_months"].astype(float) * 30.0 >= args.window_days]
    LOG.info("kept %d of %d subscribers with at least %d days of tenure", len(raw), before, args.window_days)
    table = engineer(raw, args.window_days)
    is_test = table[ID_COLUMN].map(lambda k: in_test_split(k, TEST_FRACTION))
    train, test = table[~is_test], table[is_test]
    if train[LABEL].nunique() < 2 or test[LABEL].nunique() < 2:
        LOG.error("each split needs churned and retained subscribers")
        return 1
    write_table(train, args.train, "train", "csv")
    write_table(test, args.test, "test", "csv")
    LOG.info("train=%d test=%d churn_rate=%.3f", len(train), len(test), float(table[LABEL].mean()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
