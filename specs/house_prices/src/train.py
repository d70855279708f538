"""Train the house-price regressor (scikit-learn gradient boosting).

Step `train` (train, framework sklearn 1.2-1) of pipeline `training` in house_prices.mlspec.
Command line (the script contract):

    --train DIR          rows written by `prepare` (parquet)
    --model DIR          empty directory: receives `model.joblib` (the spec's `format = sklearn`)
    --metrics DIR        receives evaluation.json with the training r2
    --max_depth 4  --n_estimators 150   hyperparameters from the spec
"""
from __future__ import annotations

import argparse
import os

from tables import read_dir, write_metrics

LABEL = "price"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--metrics", required=True)
    p.add_argument("--max_depth", type=int, default=4)
    p.add_argument("--n_estimators", type=int, default=150)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import joblib
    from sklearn.ensemble import GradientBoostingRegressor

    df = read_dir(args.train)
    y = df.pop(LABEL)
    model = GradientBoostingRegressor(n_estimators=args.n_estimators, max_depth=args.max_depth, random_state=0)
    model.fit(df, y)
    joblib.dump(model, os.path.join(args.model, "model.joblib"))
    write_metrics(args.metrics, {"train_r2": model.score(df, y)})
    print(f"train: {len(df)} rows, {df.shape[1]} features")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
