"""Train one trial of the neural-network churn challenger (scikit-learn MLP).

Step `tune_nn` (tune, framework sklearn 1.2-1) of pipeline `weekly` in churn_scoring.mlspec.
Each tuning trial runs this script once. Command line (the script contract):

    --train DIR          features written by `features` (csv with a header)
    --model DIR          empty directory: receives `model.joblib` + `features.json` (format sklearn)
    --metrics DIR        receives evaluation.json with `auc`, the step's `objective`:
                         mlspec's launcher reports it to each cloud's tuner
    --checkpoints DIR    kept across spot interruptions (`spot = true`): the network is
                         trained in epochs and resumes from the last checkpoint
    --alpha --hidden --lr   the trial's values of the spec's `ranges`

The model is a Pipeline (imputer + scaler + MLPClassifier), saved with joblib.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from common import flag, read_table, roc_auc, write_evaluation
from model_io import LABEL, churn_probability, feature_spec, holdout_mask, save

LOG = logging.getLogger("train_nn")
CHECKPOINT = "mlp.joblib"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    flag(p, "train", required=True)
    flag(p, "model", required=True)
    flag(p, "metrics", required=True)
    flag(p, "checkpoints", default=None)
    flag(p, "lr", type=float, default=0.001)
    flag(p, "hidden", type=int, default=64)
    flag(p, "alpha", type=float, default=0.0001)
    flag(p, "epochs", type=int, default=30)
    flag(p, "seed", type=int, default=7)
    return p.parse_args(argv)


def build(args):
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()),
                     ("mlp", MLPClassifier(hidden_layer_sizes=(args.hidden,), alpha=args.alpha,
                                           learning_rate_init=args.lr, max_iter=1, warm_start=True,
                                           random_state=args.seed))])


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    import warnings

    import joblib
    from sklearn.exceptions import ConvergenceWarning

    df = read_table(args.train)
    spec = feature_spec(df)
    val_mask = holdout_mask(df[spec["id"]])
    fit, val = df[~val_mask], df[val_mask]
    if fit[LABEL].nunique() < 2:
        LOG.error("the training rows need churned and retained subscribers")
        return 1
    if val[LABEL].nunique() < 2:
        val = fit
    X, y = fit[spec["features"]].astype("float64"), fit[LABEL].astype(int)
    ckpt = os.path.join(args.checkpoints, CHECKPOINT) if args.checkpoints else None
    model, done = build(args), 0
    if ckpt and os.path.exists(ckpt):
        model, done = joblib.load(ckpt)
        LOG.info("resuming from %s after %d epochs", ckpt, done)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # one epoch per fit() call, on purpose
        for epoch in range(done, args.epochs):
            model.fit(X, y)
            if ckpt:
                os.makedirs(args.checkpoints, exist_ok=True)
                joblib.dump((model, epoch + 1), ckpt)
    auc = roc_auc(val[LABEL].astype(int).tolist(), churn_probability(model, spec, val))
    save(model, spec, args.model)
    write_evaluation(args.metrics, {"auc": auc})
    LOG.info("trial lr=%s hidden=%s alpha=%s: auc %.4f", args.lr, args.hidden, args.alpha, auc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
