"""Deterministic sample of card transactions for `mlspec run` (dataset `transactions`).

    python generate.py OUT_DIR [--rows 12000] [--noise 0.0] [--seed 7]

Fraud is card-not-present cash-like (MCC 6011) with a high amount (the pattern the
example's features capture); `--noise` flips that share of labels (a model trained on
noisy labels fails the `quality` gate: the gate-fail path of the tests).
"""
import argparse
import os

import numpy as np
import pandas as pd


def make(rows: int, noise: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    mcc_choices = np.array([3005, 4111, 4900, 5411, 5651, 5816, 6011, 7011, 5999])
    mcc = rng.choice(mcc_choices, size=rows)
    card_present = rng.random(rows) < 0.7
    amount = np.round(rng.lognormal(3.5, 1.0, size=rows), 2)
    country = rng.choice(np.array(["US", "GB", "DE"]), size=rows, p=[0.5, 0.3, 0.2])
    fraud = (~card_present) & (mcc == 6011) & (amount > 60)
    flip = rng.random(rows) < noise
    label = np.where(flip, ~fraud, fraud).astype("int64")
    return pd.DataFrame({
        "transaction_id": [f"t{i:06d}" for i in range(rows)],
        "amount": amount,
        "merchant_mcc": mcc.astype("int64"),
        "country": country,
        "card_present": card_present,
        "is_fraud": label,
    })


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=12000)
    ap.add_argument("--noise", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    make(a.rows, a.noise, a.seed).to_parquet(os.path.join(a.out, "transactions.parquet"), index=False)


if __name__ == "__main__":
    main()
