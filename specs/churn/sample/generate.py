"""Deterministic sample of subscribers for `mlspec run` (dataset `subscribers`).

    python generate.py OUT_DIR [--rows 50000] [--seed 11]

Churn is driven by first-year tenure, support calls and spend relative to the plan, so the
example's features can learn it. 50000 rows: the dataset's `min_rows` check.
"""
import argparse
import os

import numpy as np
import pandas as pd


def make(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(3, 72, size=rows)
    plan = rng.choice(np.array(["basic", "plus", "premium"]), size=rows, p=[0.5, 0.3, 0.2])
    base = np.select([plan == "basic", plan == "plus"], [10.0, 20.0], 35.0)
    spend = np.round(base * rng.uniform(0.7, 1.6, size=rows), 2)
    calls = rng.poisson(1.2, size=rows)
    risk = 1.5 * (tenure < 12) + 0.8 * (calls >= 3) + 1.2 * (spend > base * 1.3) - 1.6
    churned = (rng.random(rows) < 1 / (1 + np.exp(-3 * risk))).astype("int64")
    return pd.DataFrame({"subscriber_id": [f"s{i:06d}" for i in range(rows)], "tenure_months": tenure.astype("int64"),
                         "monthly_spend": spend, "plan": plan, "support_calls": calls.astype("int64"),
                         "churned": churned})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=11)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    make(a.rows, a.seed).to_parquet(os.path.join(a.out, "subscribers.parquet"), index=False)


if __name__ == "__main__":
    main()
