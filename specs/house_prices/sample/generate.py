"""Deterministic sample of house sales for `mlspec run` (dataset `sales`).

    python generate.py OUT_DIR [--rows 3000] [--noise 20000] [--seed 5]

The price follows floor area, rooms and region plus Gaussian noise (`--noise`, in the
price's unit), so a regressor can learn it; a large `--noise` makes the model miss the
`quality` gate (r2 >= 0.8).
"""
import argparse
import os

import numpy as np
import pandas as pd

REGION_PREMIUM = {"north": 40000.0, "south": -20000.0, "east": 5000.0, "west": 0.0}


def make(rows: int, noise: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sqft = np.round(rng.uniform(400, 4000, size=rows), 1)
    rooms = rng.integers(1, 8, size=rows)
    region = rng.choice(np.array(sorted(REGION_PREMIUM)), size=rows)
    premium = np.array([REGION_PREMIUM[r] for r in region])
    price = 50000 + 150 * sqft + 10000 * rooms + premium + rng.normal(0, noise, size=rows)
    return pd.DataFrame({"sale_id": [f"h{i:06d}" for i in range(rows)], "sqft": sqft,
                         "rooms": rooms.astype("int64"), "region": region,
                         "price": np.round(np.maximum(price, 1000.0), 0)})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--noise", type=float, default=20000.0)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    make(a.rows, a.noise, a.seed).to_csv(os.path.join(a.out, "sales.csv"), index=False)


if __name__ == "__main__":
    main()
