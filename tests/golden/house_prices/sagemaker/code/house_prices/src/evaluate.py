"""Score the held-out sales and report rmse, mae and r2.

Step `evaluate` (evaluate) of pipeline `training` in house_prices.mlspec. Command line (the
script contract):

    --test DIR      rows written by `prepare` (parquet)
    --model DIR     the trained model directory, extracted (holds model.joblib)
    --metrics DIR   receives evaluation.json with every metric the step declares

The metrics are computed here from their definitions (no metrics library needed).
"""
from __future__ import annotations

import argparse
import math
import os

from tables import read_dir, write_metrics

LABEL = "price"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--test", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--metrics", required=True)
    return p.parse_args(argv)


def regression_metrics(actual: list[float], predicted: list[float]) -> dict[str, float]:
    """rmse, mae and r2 (1 - residual sum of squares / total sum of squares)."""
    n = len(actual)
    if n == 0:
        raise SystemExit("evaluate: no rows to score")
    errors = [a - p for a, p in zip(actual, predicted)]
    mean = sum(actual) / n
    total = sum((a - mean) ** 2 for a in actual)
    residual = sum(e * e for e in errors)
    return {"rmse": math.sqrt(residual / n), "mae": sum(abs(e) for e in errors) / n,
            "r2": 1 - residual / total if total else 0.0}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import joblib

    df = read_dir(args.test)
    actual = df.pop(LABEL).tolist()
    model = joblib.load(os.path.join(args.model, "model.joblib"))
    values = regression_metrics(actual, [float(v) for v in model.predict(df)])
    write_metrics(args.metrics, values)
    print("evaluate: " + ", ".join(f"{k}={v:.4g}" for k, v in sorted(values.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
