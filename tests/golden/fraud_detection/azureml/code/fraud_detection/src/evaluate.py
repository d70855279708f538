"""Evaluate the fraud classifier on the held-out split.

Step `evaluate` (evaluate) of pipeline `training` in fraud_detection.mlspec; its
`metrics = [f1, precision, recall, auc]` feed the `quality` gate.

    --model   DIR   the trained model (`xgboost-model` + `features.json`)
    --test    DIR   held-out rows from `prepare` (`--data` is accepted too)
    --metrics DIR   output: evaluation.json = {"metrics": {"<name>": {"value": <float>}}}
    --threshold 0.5 decision threshold for precision/recall/f1

The metric functions are plain Python (no NumPy) so they are unit-tested without the
ML stack; only `main` imports pandas and xgboost.
"""
from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import sys
from typing import Iterable, Sequence

LOG = logging.getLogger("evaluate")

#: every metric this script can compute (the spec's evaluate step lists a subset)
METRICS = ("f1", "precision", "recall", "auc")


# ------------------------------------------------------------------ metrics (pure Python)
def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve via the rank-sum (Mann-Whitney U) statistic, ties averaged."""
    pairs = sorted(zip(scores, labels), key=lambda p: p[0])
    n_pos = sum(1 for y in labels if y == 1)
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both positive and negative labels")
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        avg_rank = (i + j) / 2 + 1  # ranks are 1-based
        rank_sum += avg_rank * sum(1 for k in range(i, j + 1) if pairs[k][1] == 1)
        i = j + 1
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def confusion(labels: Iterable[int], scores: Iterable[float], threshold: float) -> tuple[int, int, int, int]:
    tp = fp = tn = fn = 0
    for y, s in zip(labels, scores):
        pred = 1 if s >= threshold else 0
        if pred and y:
            tp += 1
        elif pred:
            fp += 1
        elif y:
            fn += 1
        else:
            tn += 1
    return tp, fp, tn, fn


def compute_metrics(labels: Sequence[int], scores: Sequence[float], threshold: float = 0.5) -> dict[str, float]:
    """Every metric in METRICS from labels (0/1) and fraud scores (0..1)."""
    labels = [int(y) for y in labels]
    scores = [float(s) for s in scores]
    tp, fp, _tn, fn = confusion(labels, scores, threshold)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall, "auc": roc_auc(labels, scores)}


def evaluation_document(metrics: dict[str, float], wanted: Sequence[str] | None = None) -> dict:
    """The evaluation.json document the pipeline gates read."""
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
    _option(p, "test", "data", default="/opt/ml/processing/input/data")
    _option(p, "metrics", default="/opt/ml/processing/output/metrics")
    _option(p, "threshold", type=float, default=0.5)
    return p.parse_args(argv)


def _extract(model_dir: str) -> None:
    """SageMaker hands the model over as model.tar.gz; unpack it in place."""
    import tarfile

    tgz = os.path.join(model_dir, "model.tar.gz")
    if os.path.exists(tgz):
        with tarfile.open(tgz) as tar:
            for member in tar.getmembers():  # refuse absolute paths and `..` (older Pythons lack filters)
                if member.name.startswith("/") or ".." in member.name.split("/"):
                    raise SystemExit(f"unsafe path in model archive: {member.name}")
            tar.extractall(model_dir)


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
    import xgboost as xgb

    _extract(args.model)
    with open(os.path.join(args.model, "features.json"), encoding="utf-8") as f:
        spec = json.load(f)
    booster = xgb.Booster()
    booster.load_model(os.path.join(args.model, "xgboost-model"))
    df = read_table(args.test)
    features, label = spec["features"], spec["label"]
    scores = booster.predict(xgb.DMatrix(df[features].astype("float32"), feature_names=features))
    metrics = compute_metrics(df[label].astype(int).tolist(), scores.tolist(), args.threshold)
    wanted = [m for m in os.environ.get("MLSPEC_METRICS", "").split(",") if m] or list(METRICS)
    path = write_evaluation(args.metrics, metrics, wanted)
    for name in wanted:
        print(f"{name}={metrics[name]:.6f}")
    LOG.info("evaluated %d rows; wrote %s", len(df), path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
