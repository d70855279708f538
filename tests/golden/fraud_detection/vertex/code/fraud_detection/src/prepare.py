"""Prepare card transactions for fraud model training.

Step `prepare` (process) of pipeline `training` in fraud_detection.mlspec. Command line
(the script contract; nothing else is read):

    --data  DIR   validated transactions (the validate step's `data`: csv, parquet or jsonl files)
    --train DIR   output: training rows (csv with a header, the spec's `output_format`)
    --test  DIR   output: held-out rows for the evaluate and bias_check steps

The split is by a hash of transaction_id, so a transaction lands on the same side on
every run. Model features are the numeric columns other than the id and the label; the
raw `country` column is kept for the `fairness` bias check, whose facet it is.
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import sys

from common import flag, read_table, write_table

LOG = logging.getLogger("prepare")

LABEL = "is_fraud"
ID_COLUMN = "transaction_id"
TEST_FRACTION = 0.2
OUTPUT_FORMAT = "csv"  # as declared in the spec: `output_format = csv`
COUNTRIES = ("US", "GB", "DE")
# Merchant category code ranges (ISO 18245) that carry distinct fraud risk. The first range
# that holds a code wins, so a range nested in another (digital goods 5815-5818 inside
# 5600-5999) comes before it.
MCC_GROUPS = (
    ("travel", 3000, 3999),
    ("transport", 4000, 4799),
    ("utilities", 4800, 4999),
    ("retail", 5000, 5599),
    ("digital_goods", 5815, 5818),
    ("auto_apparel", 5600, 5999),
    ("cash_like", 6010, 6051),
    ("services", 7000, 8999),
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    flag(p, "data", required=True)
    flag(p, "train", required=True)
    flag(p, "test", required=True)
    return p.parse_args(argv)


def mcc_group(mcc: int) -> str:
    for name, lo, hi in MCC_GROUPS:
        if lo <= mcc <= hi:
            return name
    return "other"


def in_test_split(key: str, fraction: float) -> bool:
    """Stable assignment: the same id always falls on the same side of the split."""
    h = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < fraction


def engineer(df):
    """Raw transaction columns -> numeric model features (plus id and label)."""
    import numpy as np
    import pandas as pd

    out = pd.DataFrame({ID_COLUMN: df[ID_COLUMN].astype(str)})
    amount = df["amount"].astype(float).clip(lower=0)
    out["amount"] = amount
    out["log_amount"] = np.log1p(amount)
    # Round amounts (e.g. 100.00) are over-represented in card testing and cash-outs.
    out["is_round_amount"] = ((amount % 10 == 0) & (amount > 0)).astype(int)
    out["card_present"] = df["card_present"].fillna(False).astype(bool).astype(int)
    mcc = df["merchant_mcc"].fillna(-1).astype(int)
    groups = mcc.map(mcc_group)
    for name, _, _ in MCC_GROUPS:
        out[f"mcc_{name}"] = (groups == name).astype(int)
    for c in COUNTRIES:
        out[f"country_{c.lower()}"] = (df["country"] == c).astype(int)
    out["country"] = df["country"].fillna("unknown").astype(str)  # raw facet for the bias check
    # Amount relative to the merchant category's typical ticket size.
    median_by_group = amount.groupby(groups).transform("median").replace(0, np.nan)
    out["amount_vs_mcc_median"] = (amount / median_by_group).fillna(1.0).clip(upper=100)
    # Card-not-present high-ticket digital goods: the classic fraud pattern.
    out["cnp_digital_high"] = ((out["card_present"] == 0) & (groups == "digital_goods")
                               & (amount > amount.quantile(0.9))).astype(int)
    out[LABEL] = df[LABEL].astype(int)
    return out


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    raw = read_table(args.data)
    df = engineer(raw)
    test_mask = df[ID_COLUMN].map(lambda k: in_test_split(k, TEST_FRACTION))
    train, test = df[~test_mask], df[test_mask]
    if train.empty or test.empty:
        LOG.error("the split left an empty side (%d rows in total)", len(df))
        return 1
    write_table(train, args.train, "train", OUTPUT_FORMAT)
    write_table(test, args.test, "test", OUTPUT_FORMAT)
    LOG.info("wrote %d training and %d test rows", len(train), len(test))
    return 0


if __name__ == "__main__":
    sys.exit(main())
