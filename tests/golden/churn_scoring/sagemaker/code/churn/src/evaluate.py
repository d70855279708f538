"""Evaluate a churn model on the held-out subscribers.

Steps `eval_gbm` and `eval_nn` (evaluate) of pipeline `weekly` in churn_scoring.mlspec.
Command line (the script contract):

    --test    DIR   held-out rows written by `features` (csv with a header)
    --model   DIR   the extracted model directory (`model.joblib` + `features.json`)
    --metrics DIR   receives evaluation.json

Retention offers go to the riskiest 10% of subscribers, so precision, recall, f1 and
lift are measured at that share (`TARGET_RATE`); auc ranks over everyone.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from common import flag, precision_recall_f1, read_table, roc_auc, write_evaluation
from model_io import churn_probability, load

LOG = logging.getLogger("evaluate")

#: metrics this script computes; a step may ask for any subset
METRICS = ("auc", "precision", "recall", "f1", "lift")
TARGET_RATE = 0.1


def top_share_threshold(scores: Sequence[float], rate: float) -> float:
    """The score above which the top `rate` share of rows lie (at least one row flagged)."""
    ranked = sorted(scores, reverse=True)
    k = max(1, min(len(ranked), int(round(rate * len(ranked)))))
    return ranked[k - 1]


def compute_metrics(labels: Sequence[int], scores: Sequence[float], target_rate: float = TARGET_RATE) -> dict[str, float]:
    labels = [int(y) for y in labels]
    scores = [float(s) for s in scores]
    cut = top_share_threshold(scores, target_rate)
    out = precision_recall_f1(labels, [1 if s >= cut else 0 for s in scores])
    base_rate = sum(labels) / len(labels)
    out["auc"] = roc_auc(labels, scores)
    out["lift"] = out["precision"] / base_rate if base_rate else 0.0
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    flag(p, "test", required=True)
    flag(p, "model", required=True)
    flag(p, "metrics", required=True)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    df = read_table(args.test)
    estimator, spec = load(args.model)
    metrics = compute_metrics(df[spec["label"]].tolist(), churn_probability(estimator, spec, df))
    path = write_evaluation(args.metrics, metrics, list(METRICS))
    LOG.info("wrote %s: %s", path, {k: round(v, 4) for k, v in metrics.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
