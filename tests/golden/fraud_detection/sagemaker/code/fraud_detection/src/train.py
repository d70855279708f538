"""Train the gradient-boosted fraud classifier (XGBoost).

Step `train` (train, framework xgboost 1.7) of pipeline `training` in fraud_detection.mlspec.
Command line (the script contract):

    --train DIR        rows written by `prepare` (csv with a header)
    --model DIR        empty directory: receives `model.bst` (the spec's `format = xgboost`)
                       and `features.json` (the feature order the model expects)
    --metrics DIR      receives evaluation.json with the validation AUC
    --eta 0.2  --max_depth 6  --rounds 200   hyperparameters from the spec

Writes one model format: `model.bst`, XGBoost's binary format, which every cloud's
XGBoost server loads.
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import sys

from common import flag, numeric_features, read_table, roc_auc, save_json, write_evaluation

LOG = logging.getLogger("train")

LABEL = "is_fraud"
ID_COLUMN = "transaction_id"
MODEL_FILE = "model.bst"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    flag(p, "train", required=True)
    flag(p, "model", required=True)
    flag(p, "metrics", required=True)
    flag(p, "eta", type=float, default=0.2)
    flag(p, "max_depth", type=int, default=6)
    flag(p, "rounds", type=int, default=200)
    flag(p, "seed", type=int, default=7)
    return p.parse_args(argv)


def feature_spec(df) -> dict:
    """Model features: the numeric columns other than the id and the label, in file order."""
    return {"features": numeric_features(df, (LABEL, ID_COLUMN)), "label": LABEL, "id": ID_COLUMN}


def validation_mask(ids, fraction: float = 0.1):
    """Hash-based validation fold inside the training data (stable across reruns)."""
    return ids.map(lambda k: int(hashlib.md5(str(k).encode()).hexdigest()[:6], 16) / 0xFFFFFF < fraction)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    import xgboost as xgb

    df = read_table(args.train)
    spec = feature_spec(df)
    features = spec["features"]
    is_val = validation_mask(df[ID_COLUMN])
    fit, val = df[~is_val], df[is_val]
    if val[LABEL].nunique() < 2:  # tiny data: validate on the training rows
        val = fit
    positives = int(fit[LABEL].sum())
    if positives == 0:
        LOG.error("no positive (fraud) rows in the training data")
        return 1
    params = {"objective": "binary:logistic", "eval_metric": "auc", "max_depth": args.max_depth,
              "eta": args.eta, "min_child_weight": 1, "tree_method": "hist", "seed": args.seed,
              "scale_pos_weight": (len(fit) - positives) / positives}
    dtrain = xgb.DMatrix(fit[features].astype("float32"), label=fit[LABEL], feature_names=features)
    dval = xgb.DMatrix(val[features].astype("float32"), label=val[LABEL], feature_names=features)
    booster = xgb.train(params, dtrain, num_boost_round=args.rounds, evals=[(dval, "validation")],
                        verbose_eval=False)
    auc = roc_auc(val[LABEL].astype(int).tolist(), booster.predict(dval).tolist())
    LOG.info("trained on %d rows (%d fraud); validation auc %.4f", len(fit), positives, auc)
    import os

    os.makedirs(args.model, exist_ok=True)
    booster.save_model(os.path.join(args.model, MODEL_FILE))
    save_json(spec, args.model, "features.json")
    write_evaluation(args.metrics, {"validation_auc": auc})
    return 0


if __name__ == "__main__":
    sys.exit(main())
