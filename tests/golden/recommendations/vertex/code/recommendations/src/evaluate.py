"""Evaluate the ranking model on the time-based holdout.

Step `evaluate` (evaluate) of pipeline `nightly` in recommendations.mlspec; it declares
`metrics = [ndcg, recall, auc]`, read by the `ranking_quality` gate (which also compares
`ndcg` with the champion's).

    --model   DIR   SavedModel under <DIR>/1 (from `train`)
    --holdout DIR   holdout interactions from `split` (`--data` is accepted too)
    --metrics DIR   output: evaluation.json = {"metrics": {"<name>": {"value": <float>}}}
    --k 10          cut-off for ndcg@k and recall@k

Ranking metrics are computed per user over the items that user saw in the holdout
(clicked = relevant), then averaged over users; `auc` is the global click AUC. The metric
functions are plain Python and unit-tested without TensorFlow.
"""
from __future__ import annotations

import argparse
import glob
import json
import logging
import math
import os
import sys
from collections import defaultdict
from typing import Hashable, Sequence

LOG = logging.getLogger("evaluate")

#: metrics this script computes
METRICS = ("ndcg", "recall", "auc", "precision", "mrr")


# ------------------------------------------------------------------ metrics (pure Python)
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


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Rank-sum AUC with ties averaged."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for t in range(i, j + 1):
            ranks[order[t]] = (i + j) / 2 + 1
        i = j + 1
    n_pos = sum(1 for y in labels if y)
    n_neg = len(labels) - n_pos
    if not n_pos or not n_neg:
        raise ValueError("AUC needs clicks and non-clicks")
    return (sum(r for r, y in zip(ranks, labels) if y) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


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


def evaluation_document(metrics: dict[str, float], wanted: Sequence[str] | None = None) -> dict:
    names = list(wanted) if wanted else sorted(metrics)
    missing = [n for n in names if n not in metrics]
    if missing:
        raise KeyError(f"the spec asks for metrics this script does not compute: {', '.join(missing)}")
    return {"metrics": {n: {"value": round(float(metrics[n]), 6)} for n in names}}


def write_evaluation(directory: str, metrics: dict[str, float], wanted: Sequence[str] | None = None) -> str:
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "evaluation.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(evaluation_document(metrics, wanted), f, indent=2, sort_keys=True)
    return path


# ------------------------------------------------------------------ job
def _option(parser: argparse.ArgumentParser, name: str, *aliases: str, **kw) -> None:
    flags = [f"--{name}"] + [f"--{a}" for a in aliases]
    if "_" in name:
        flags.append(f"--{name.replace('_', '-')}")
    parser.add_argument(*flags, dest=name, **kw)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _option(p, "model", default="/opt/ml/processing/model")
    _option(p, "holdout", "data", default="/opt/ml/processing/input/data")
    _option(p, "metrics", default="/opt/ml/processing/output/metrics")
    _option(p, "k", type=int, default=10)
    _option(p, "batch_size", type=int, default=8192)
    return p.parse_args(argv)


def _saved_model_dir(model_dir: str) -> str:
    import tarfile

    tgz = os.path.join(model_dir, "model.tar.gz")
    if os.path.exists(tgz):
        with tarfile.open(tgz) as tar:
            for m in tar.getmembers():
                if m.name.startswith("/") or ".." in m.name.split("/"):
                    raise SystemExit(f"unsafe path in model archive: {m.name}")
            tar.extractall(model_dir)
    versions = sorted((d for d in os.listdir(model_dir) if d.isdigit()), key=int)
    if not versions:
        raise SystemExit(f"no SavedModel version directory under {model_dir}")
    return os.path.join(model_dir, versions[-1])


def read_table(path: str):
    """Every parquet or csv file under `path`."""
    import pandas as pd

    files = sorted(f for f in glob.glob(os.path.join(path, "**", "*"), recursive=True) if os.path.isfile(f))
    frames = [pd.read_parquet(f) for f in files if f.endswith((".parquet", ".pq"))]
    frames += [pd.read_csv(f) for f in files if f.endswith(".csv")]
    if not frames:
        raise SystemExit(f"no parquet or csv files under {path}")
    return pd.concat(frames, ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    import tensorflow as tf

    serve = tf.saved_model.load(_saved_model_dir(args.model)).signatures["serving_default"]
    df = read_table(args.holdout)
    scores: list[float] = []
    for start in range(0, len(df), args.batch_size):
        chunk = df.iloc[start:start + args.batch_size]
        out = serve(**{c: tf.constant(chunk[c].astype(str).values) for c in ("user_id", "age_band", "region",
                                                                           "item_id")})
        scores.extend(float(s) for s in out["score"].numpy().reshape(-1))
    metrics = compute_metrics(df["clicked"].astype(int).tolist(), scores, df["user_id"].tolist(), k=args.k)
    wanted = [m for m in os.environ.get("MLSPEC_METRICS", "").split(",") if m] or ["ndcg", "recall", "auc"]
    path = write_evaluation(args.metrics, metrics, wanted)
    for name in wanted:
        print(f"{name}={metrics[name]:.6f}")
    LOG.info("evaluated %d interactions of %d users; wrote %s", len(df), df["user_id"].nunique(), path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
