"""Score the held-out transactions with the trained fraud model and report the metrics.

Step `evaluate` (evaluate) of pipeline `training` in fraud_detection.mlspec. Command line
(the script contract):

    --test    DIR   held-out rows written by `prepare` (csv with a header)
    --model   DIR   the extracted model directory (`model.bst` + `features.json`)
    --metrics DIR   receives evaluation.json with f1, precision, recall and auc

The decision threshold is the model's declared `threshold = 0.5`: a transaction whose
fraud probability is at least that is flagged. The gate `quality` reads f1.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence

from common import flag, load_json, precision_recall_f1, read_table, roc_auc, write_evaluation

LOG = logging.getLogger("evaluate")

#: every metric this script computes (the spec's evaluate step lists a subset)
METRICS = ("f1", "precision", "recall", "auc")
THRESHOLD = 0.5


def compute_metrics(labels: Sequence[int], scores: Sequence[float], threshold: float = THRESHOLD) -> dict[str, float]:
    """Every metric in METRICS from labels (0/1) and fraud probabilities (0..1)."""
    labels = [int(y) for y in labels]
    scores = [float(s) for s in scores]
    out = precision_recall_f1(labels, [1 if s >= threshold else 0 for s in scores])
    out["auc"] = roc_auc(labels, scores)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    flag(p, "test", required=True)
    flag(p, "model", required=True)
    flag(p, "metrics", required=True)
    return p.parse_args(argv)


def predict(model_dir: str, df) -> list[float]:
    """Fraud probabilities for the rows of `df` from the XGBoost model in `model_dir`."""
    import xgboost as xgb

    spec = load_json(model_dir, "features.json")
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, "model.bst"))
    matrix = xgb.DMatrix(df[spec["features"]].astype("float32"), feature_names=spec["features"])
    return booster.predict(matrix).tolist()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    df = read_table(args.test)
    spec = load_json(args.model, "features.json")
    scores = predict(args.model, df)
    metrics = compute_metrics(df[spec["label"]].tolist(), scores)
    path = write_evaluation(args.metrics, metrics, list(METRICS))
    LOG.info("wrote %s: %s", path, {k: round(v, 4) for k, v in metrics.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
