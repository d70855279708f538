"""Evaluate the ranker on the time-based holdout.

Step `evaluate` (evaluate) of pipeline `nightly` in recommendations.mlspec; it declares
`metrics = [ndcg, recall, auc]`, read by the `ranking_quality` gate (which also compares
`ndcg` with the champion's). Command line (the script contract):

    --holdout DIR   holdout rows written by `split` (csv with a header)
    --model   DIR   the extracted model directory (`model.bst` + `features.json`)
    --metrics DIR   receives evaluation.json

Ranking metrics are computed per user over the items that user saw in the holdout
(clicked = relevant) at a cut-off of K items, then averaged over users; `auc` is the
global click AUC.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections import defaultdict
from typing import Hashable, Sequence

from common import flag, load_json, read_table, roc_auc, write_evaluation

LOG = logging.getLogger("evaluate")

#: metrics this script computes
METRICS = ("ndcg", "recall", "auc", "precision", "mrr")
K = 10


def dcg(relevances: Sequence[int]) -> float:
    return sum(rel / math.log2(pos + 2) for pos, rel in enumerate(relevances))


def ndcg_at_k(labels: Sequence[int], scores: Sequence[float], k: int) -> float:
    ranked = [y for _, y in sorted(zip(scores, labels), key=lambda p: -p[0])][:k]
    ideal = sorted(labels, reverse=True)[:k]
    best = dcg(ideal)
    return dcg(ranked) / best if best > 0 else 0.0


def recall_at_k(labels: Sequence[int], scores: Sequence[float], k: int) -> float:
    relevant = sum(labels)
    if relevant == 0:
        return 0.0
    top = [y for _, y in sorted(zip(scores, labels), key=lambda p: -p[0])][:k]
    return sum(top) / relevant


def precision_at_k(labels: Sequence[int], scores: Sequence[float], k: int) -> float:
    top = [y for _, y in sorted(zip(scores, labels), key=lambda p: -p[0])][:k]
    return sum(top) / len(top) if top else 0.0


def reciprocal_rank(labels: Sequence[int], scores: Sequence[float]) -> float:
    for pos, (_, y) in enumerate(sorted(zip(scores, labels), key=lambda p: -p[0]), start=1):
        if y:
            return 1.0 / pos
    return 0.0


def compute_metrics(labels: Sequence[int], scores: Sequence[float], groups: Sequence[Hashable] | None = None,
                    k: int = 10) -> dict[str, float]:
    """Per-group (user) ranking metrics averaged over groups with at least one click, plus global AUC."""
    labels = [1 if y else 0 for y in labels]
    scores = [float(s) for s in scores]
    if groups is None:
        groups = [0] * len(labels)
    by_group: dict[Hashable, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
    for g, y, s in zip(groups, labels, scores):
        by_group[g][0].append(y)
        by_group[g][1].append(s)
    rankable = [(ys, ss) for ys, ss in by_group.values() if sum(ys) > 0]
    if not rankable:
        raise ValueError("no user has a click in the holdout")
    n = len(rankable)
    return {
        "ndcg": sum(ndcg_at_k(ys, ss, k) for ys, ss in rankable) / n,
        "recall": sum(recall_at_k(ys, ss, k) for ys, ss in rankable) / n,
        "precision": sum(precision_at_k(ys, ss, k) for ys, ss in rankable) / n,
        "mrr": sum(reciprocal_rank(ys, ss) for ys, ss in rankable) / n,
        "auc": roc_auc(labels, scores),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    flag(p, "holdout", required=True)
    flag(p, "model", required=True)
    flag(p, "metrics", required=True)
    return p.parse_args(argv)


def predict(model_dir: str, df) -> list[float]:
    import xgboost as xgb

    spec = load_json(model_dir, "features.json")
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, "model.bst"))
    return booster.predict(xgb.DMatrix(df[spec["features"]].astype("float32"),
                                       feature_names=spec["features"])).tolist()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    df = read_table(args.holdout)
    scores = predict(args.model, df)
    metrics = compute_metrics(df["clicked"].astype(int).tolist(), scores, df["user_id"].astype(str).tolist(), k=K)
    path = write_evaluation(args.metrics, metrics, list(METRICS))
    LOG.info("wrote %s: %s", path, {k: round(v, 4) for k, v in metrics.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
