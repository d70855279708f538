"""Evaluate a churn model (the GBM or the neural network) on the held-out subscribers.

Steps `eval_gbm` and `eval_nn` (evaluate) of pipeline `weekly` in churn_scoring.mlspec;
both declare `metrics = [auc, precision, recall]`, read by the `minimum_quality` gate.

    --model   DIR   model.joblib (scikit-learn) or model.pt (TorchScript), plus features.json
    --test    DIR   held-out rows from `features` (`--data` is accepted too)
    --metrics DIR   output: evaluation.json = {"metrics": {"<name>": {"value": <float>}}}
    --target_rate 0.1   flag the riskiest 10% as "will churn": retention offers go to a fixed
                        share of subscribers, so precision/recall are measured at that cut-off

Metric code is plain Python and unit-tested without the ML stack.
"""
from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import sys
from typing import Sequence

LOG = logging.getLogger("evaluate")

#: metrics this script computes; a step may ask for any subset
METRICS = ("auc", "precision", "recall", "f1", "lift")


# ------------------------------------------------------------------ metrics (pure Python)
def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Probability that a random churner scores above a random retained subscriber (ties count half)."""
    pos = sorted(s for s, y in zip(scores, labels) if y == 1)
    neg = sorted(s for s, y in zip(scores, labels) if y != 1)
    if not pos or not neg:
        raise ValueError("AUC needs churned and retained subscribers")
    wins = 0.0
    j_lo = j_hi = 0  # neg[:j_lo] < s, neg[:j_hi] <= s
    for s in pos:
        while j_lo < len(neg) and neg[j_lo] < s:
            j_lo += 1
        j_hi = max(j_hi, j_lo)
        while j_hi < len(neg) and neg[j_hi] <= s:
            j_hi += 1
        wins += j_lo + 0.5 * (j_hi - j_lo)
    return wins / (len(pos) * len(neg))


def top_share_threshold(scores: Sequence[float], rate: float) -> float:
    """The score above which the top `rate` share of rows lie (at least one row flagged)."""
    ranked = sorted(scores, reverse=True)
    k = max(1, min(len(ranked), int(round(rate * len(ranked)))))
    return ranked[k - 1]


def compute_metrics(labels: Sequence[int], scores: Sequence[float], target_rate: float = 0.1) -> dict[str, float]:
    labels = [int(y) for y in labels]
    scores = [float(s) for s in scores]
    cut = top_share_threshold(scores, target_rate)
    flagged = [s >= cut for s in scores]
    tp = sum(1 for f, y in zip(flagged, labels) if f and y)
    fp = sum(1 for f, y in zip(flagged, labels) if f and not y)
    fn = sum(1 for f, y in zip(flagged, labels) if not f and y)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    base_rate = sum(labels) / len(labels)
    return {"auc": roc_auc(labels, scores), "precision": precision, "recall": recall, "f1": f1,
            "lift": precision / base_rate if base_rate else 0.0}


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
    _option(p, "test", "data", default="/opt/ml/processing/input/data")
    _option(p, "metrics", default="/opt/ml/processing/output/metrics")
    _option(p, "target_rate", type=float, default=0.1)
    return p.parse_args(argv)


def _unpack(model_dir: str) -> None:
    import tarfile

    tgz = os.path.join(model_dir, "model.tar.gz")
    if os.path.exists(tgz):
        with tarfile.open(tgz) as tar:
            for m in tar.getmembers():
                if m.name.startswith("/") or ".." in m.name.split("/"):
                    raise SystemExit(f"unsafe path in model archive: {m.name}")
            tar.extractall(model_dir)


def load_scorer(model_dir: str):
    """A function DataFrame -> list of churn probabilities, for either model kind."""
    _unpack(model_dir)
    if os.path.exists(os.path.join(model_dir, "model.joblib")):
        import joblib

        model = joblib.load(os.path.join(model_dir, "model.joblib"))
        return lambda X: model.predict_proba(X.astype(float))[:, 1].tolist()
    if os.path.exists(os.path.join(model_dir, "model.pt")):
        import torch

        net = torch.jit.load(os.path.join(model_dir, "model.pt"), map_location="cpu").eval()

        def score(X):
            with torch.no_grad():
                return net(torch.tensor(X.astype("float32").fillna(0.0).to_numpy())).tolist()
        return score
    raise SystemExit(f"no model.joblib or model.pt in {model_dir}")


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
    with open(os.path.join(args.model, "features.json"), encoding="utf-8") as f:
        spec = json.load(f)
    score = load_scorer(args.model)
    df = read_table(args.test)
    scores = score(df[spec["features"]])
    metrics = compute_metrics(df[spec["label"]].astype(int).tolist(), scores, args.target_rate)
    wanted = [m for m in os.environ.get("MLSPEC_METRICS", "").split(",") if m] or ["auc", "precision", "recall"]
    path = write_evaluation(args.metrics, metrics, wanted)
    for name in wanted:
        print(f"{name}={metrics[name]:.6f}")
    LOG.info("evaluated %s model on %d subscribers; wrote %s", spec.get("kind", "?"), len(df), path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
