"""Prepare card transactions for fraud model training.

Step `prepare` (process) of pipeline `training` in fraud_detection.mlspec.

Reads the validated transactions (`--data`, the `data` output of the validate step),
engineers model features and writes a deterministic train/test split as parquet:

    --data  DIR   validated transactions (parquet, csv or jsonl files)
    --train DIR   output: training rows
    --test  DIR   output: held-out rows for the evaluate and bias_check steps
    --test_fraction 0.2   share of rows held out (split by a hash of transaction_id,
                          so a transaction lands on the same side on every run)
    --output_format parquet   or `csv` (with a header) for consumers that only read CSV

Outputs hold data files only: model features are the numeric columns other than the id
and the label (training records their order with the model), and the raw `country`
column is kept for the `fairness` bias check, whose facet it is. Every option also
accepts the dashed spelling (`--test-fraction`) and falls back to the SageMaker
Processing paths.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import logging
import math
import os
import sys

LOG = logging.getLogger("prepare")

LABEL = "is_fraud"
ID_COLUMN = "transaction_id"
COUNTRIES = ("US", "GB", "DE")
# Merchant category code ranges (ISO 18245) that carry distinct fraud risk.
MCC_GROUPS = (
    ("travel", 3000, 3999),
    ("transport", 4000, 4799),
    ("utilities", 4800, 4999),
    ("retail", 5000, 5599),
    ("auto_apparel", 5600, 5999),
    ("digital_goods", 5815, 5818),
    ("cash_like", 6010, 6051),
    ("services", 7000, 8999),
)


def _option(parser: argparse.ArgumentParser, name: str, **kw) -> None:
    """Register `--name` and its dashed spelling (targets differ on the flag style)."""
    flags = [f"--{name}"]
    if "_" in name:
        flags.append(f"--{name.replace('_', '-')}")
    parser.add_argument(*flags, dest=name, **kw)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _option(p, "data", default=os.environ.get("MLSPEC_INPUT_DATA", "/opt/ml/processing/input/0"))
    _option(p, "train", default="/opt/ml/processing/output/train")
    _option(p, "test", default="/opt/ml/processing/output/test")
    _option(p, "test_fraction", type=float, default=0.2)
    _option(p, "output_format", choices=("parquet", "csv"), default="parquet")
    args = p.parse_args(argv)
    if not 0.0 < args.test_fraction < 1.0:
        p.error("--test_fraction must be between 0 and 1")
    return args


def read_table(path: str):
    """Read every parquet/csv/jsonl file under `path` into one DataFrame."""
    import pandas as pd

    if os.path.isfile(path):
        files = [path]
    else:
        files = sorted(f for f in glob.glob(os.path.join(path, "**", "*"), recursive=True) if os.path.isfile(f))
    frames = []
    for f in files:
        if f.endswith((".parquet", ".pq")):
            frames.append(pd.read_parquet(f))
        elif f.endswith(".csv"):
            frames.append(pd.read_csv(f))
        elif f.endswith((".jsonl", ".json")):
            frames.append(pd.read_json(f, lines=True))
    if not frames:
        raise SystemExit(f"no parquet, csv or jsonl files under {path}")
    return pd.concat(frames, ignore_index=True)


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
    LOG.info("read %d transactions from %s", len(raw), args.data)
    raw = raw.dropna(subset=[ID_COLUMN, "amount", LABEL]).drop_duplicates(subset=[ID_COLUMN])
    table = engineer(raw)
    features = [c for c in table.columns if c not in (ID_COLUMN, LABEL, "country")]
    is_test = table[ID_COLUMN].map(lambda k: in_test_split(k, args.test_fraction))
    train, test = table[~is_test], table[is_test]
    if train[LABEL].nunique() < 2 or test[LABEL].nunique() < 2:
        LOG.error("both splits need fraud and non-fraud rows (train: %s, test: %s)",
                  train[LABEL].value_counts().to_dict(), test[LABEL].value_counts().to_dict())
        return 1
    write_table(train, args.train, "train", args.output_format)
    write_table(test, args.test, "test", args.output_format)
    rate = float(table[LABEL].mean())
    LOG.info("train=%d test=%d features=%d fraud_rate=%.4f", len(train), len(test), len(features), rate)
    if math.isnan(rate) or rate == 0:
        LOG.warning("no fraud labels in the data; the model cannot learn")
    return 0


if __name__ == "__main__":
    sys.exit(main())
