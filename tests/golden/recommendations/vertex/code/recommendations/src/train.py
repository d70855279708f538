"""Train the click-through ranker (XGBoost).

Step `train` (train, framework xgboost 1.7) of pipeline `nightly` in recommendations.mlspec.
Command line (the script contract):

    --train DIR      training rows written by `split` (csv with a header)
    --model DIR      empty directory: receives `model.bst` (format xgboost) + `features.json`
    --metrics DIR    receives evaluation.json with the training-window AUC
    --eta 0.1  --max_depth 6  --rounds 300   hyperparameters from the spec

The model scores each (user, item) row with a click probability; items are ranked per
user by it. Its inputs are the numeric feature columns `split` writes, in the order
recorded in `features.json`.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from common import flag, numeric_features, read_table, roc_auc, save_json, write_evaluation

LOG = logging.getLogger("train")

LABEL = "clicked"
MODEL_FILE = "model.bst"
VALIDATION_SHARE = 0.2
EARLY_STOP = 20


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    flag(p, "train", required=True)
    flag(p, "model", required=True)
    flag(p, "metrics", required=True)
    flag(p, "eta", type=float, default=0.1)
    flag(p, "max_depth", type=int, default=6)
    flag(p, "rounds", type=int, default=300)
    flag(p, "seed", type=int, default=7)
    return p.parse_args(argv)


def feature_spec(df) -> dict:
    return {"features": numeric_features(df, (LABEL,)), "label": LABEL, "group": "user_id"}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    import xgboost as xgb

    df = read_table(args.train)
    spec = feature_spec(df)
    if df[LABEL].nunique() < 2:
        LOG.error("the training rows need clicks and non-clicks")
        return 1
    def matrix(rows):
        return xgb.DMatrix(rows[spec["features"]].astype("float32"), label=rows[LABEL].astype(int),
                           feature_names=spec["features"])

    # `rounds` is the most boosting rounds; training stops early when the AUC on the latest
    # VALIDATION_SHARE of the training window (by time) stops improving, so a small window
    # (a staging sample) is not overfitted. The model is then refitted on the whole window.
    df = df.sort_values("ts", kind="stable") if "ts" in df else df
    cut = int(len(df) * (1 - VALIDATION_SHARE))
    params = {"objective": "binary:logistic", "eval_metric": "auc", "eta": args.eta, "max_depth": args.max_depth,
              "tree_method": "hist", "seed": args.seed}
    rounds = args.rounds
    fit, val = df.iloc[:cut], df.iloc[cut:]
    if fit[LABEL].nunique() == 2 and val[LABEL].nunique() == 2:
        probe = xgb.train(params, matrix(fit), num_boost_round=args.rounds, evals=[(matrix(val), "validation")],
                          early_stopping_rounds=EARLY_STOP, verbose_eval=False)
        rounds = probe.best_iteration + 1
    dtrain = matrix(df)
    booster = xgb.train(params, dtrain, num_boost_round=rounds)
    auc = roc_auc(df[LABEL].astype(int).tolist(), booster.predict(dtrain).tolist())
    os.makedirs(args.model, exist_ok=True)
    booster.save_model(os.path.join(args.model, MODEL_FILE))
    save_json(spec, args.model, "features.json")
    write_evaluation(args.metrics, {"train_auc": auc})
    LOG.info("trained on %d rows with %d features for %d rounds; train auc %.4f", len(df), len(spec["features"]),
             rounds, auc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
