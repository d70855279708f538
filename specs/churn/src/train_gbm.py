"""Train the gradient-boosted churn classifier (scikit-learn).

Step `train_gbm` (train, framework sklearn 1.2-1) of pipeline `weekly` in churn_scoring.mlspec.
Command line (the script contract):

    --train DIR             features written by `features` (csv with a header)
    --model DIR             empty directory: receives `model.joblib` + `features.json` (format sklearn)
    --metrics DIR           receives evaluation.json with the validation AUC
    --learning_rate 0.05  --n_estimators 300   hyperparameters from the spec

The model is a Pipeline (median imputer + GradientBoostingClassifier); the evaluate step
and every cloud's scikit-learn server load it with joblib.
"""
from __future__ import annotations

import argparse
import logging
import sys

from common import flag, read_table, roc_auc, write_evaluation
from model_io import LABEL, churn_probability, feature_spec, holdout_mask, save

LOG = logging.getLogger("train_gbm")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    flag(p, "train", required=True)
    flag(p, "model", required=True)
    flag(p, "metrics", required=True)
    flag(p, "n_estimators", type=int, default=300)
    flag(p, "learning_rate", type=float, default=0.05)
    flag(p, "max_depth", type=int, default=3)
    flag(p, "seed", type=int, default=7)
    return p.parse_args(argv)


def build(args):
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    return Pipeline([("impute", SimpleImputer(strategy="median")),
                     ("gbm", GradientBoostingClassifier(n_estimators=args.n_estimators,
                                                        learning_rate=args.learning_rate,
                                                        max_depth=args.max_depth, subsample=0.8,
                                                        random_state=args.seed))])


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    df = read_table(args.train)
    spec = feature_spec(df)
    val_mask = holdout_mask(df[spec["id"]])
    fit, val = df[~val_mask], df[val_mask]
    if fit[LABEL].nunique() < 2:
        LOG.error("the training rows need churned and retained subscribers")
        return 1
    if val[LABEL].nunique() < 2:
        val = fit
    model = build(args).fit(fit[spec["features"]].astype("float64"), fit[LABEL].astype(int))
    auc = roc_auc(val[LABEL].astype(int).tolist(), churn_probability(model, spec, val))
    path = save(model, spec, args.model)
    write_evaluation(args.metrics, {"validation_auc": auc})
    LOG.info("wrote %s (validation auc %.4f)", path, auc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
