"""Helpers shared by this example's scripts (shipped with them: the whole folder is the code).

Everything here follows mlspec's script contract (docs/language.md#the-script-contract):
directories arrive as `--<name> <dir>` flags, data is every csv / parquet / jsonl file in
an input directory, and metrics are reported by writing `<--metrics>/evaluation.json`.
Nothing reads a cloud environment variable or a cloud path. Only the standard library
is imported at module level; pandas is imported where a table is read or written.
"""
from __future__ import annotations

import argparse
import json
import math
import os
from typing import Iterable, Sequence

METRICS_FILE = "evaluation.json"


def flag(parser: argparse.ArgumentParser, name: str, **kw) -> None:
    """`--<name>`, exactly as the contract passes it (names keep their underscores)."""
    parser.add_argument(f"--{name}", dest=name, **kw)


def data_files(directory: str) -> list[str]:
    """The data files of an input directory, in a stable order (any part layout).

    Hidden and underscore-prefixed files and folders (`.mlspec/`, `_SUCCESS`, `.crc`) are
    bookkeeping that tools leave next to data, not data.
    """
    out = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        out += [os.path.join(root, f) for f in sorted(files)
                if not f.startswith((".", "_")) and f.endswith((".csv", ".parquet", ".pq", ".jsonl", ".json"))]
    return out


def read_table(directory: str):
    """Every csv (with a header), parquet or jsonl file under `directory`, as one DataFrame."""
    import pandas as pd

    frames = []
    for f in data_files(directory):
        if f.endswith(".csv"):
            frames.append(pd.read_csv(f))
        elif f.endswith((".parquet", ".pq")):
            frames.append(pd.read_parquet(f))
        else:
            frames.append(pd.read_json(f, lines=True))
    if not frames:
        raise SystemExit(f"no csv, parquet or jsonl files under {directory}")
    return pd.concat(frames, ignore_index=True)


def write_table(df, directory: str, name: str, fmt: str = "csv") -> str:
    """Write one part file in the format the spec declares for the output (csv has a header)."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{name}.{fmt}")
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "parquet":
        df.to_parquet(path, index=False)
    elif fmt == "jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        raise ValueError(f"unknown data format {fmt!r}")
    return path


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


def confusion(labels: Iterable[int], predicted: Iterable[int]) -> tuple[int, int, int, int]:
    tp = fp = tn = fn = 0
    for y, p in zip(labels, predicted):
        if p and y:
            tp += 1
        elif p:
            fp += 1
        elif y:
            fn += 1
        else:
            tn += 1
    return tp, fp, tn, fn


def precision_recall_f1(labels: Sequence[int], predicted: Sequence[int]) -> dict[str, float]:
    tp, fp, _tn, fn = confusion(labels, predicted)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def evaluation_document(metrics: dict[str, float], wanted: Sequence[str] | None = None) -> dict:
    """`{"metrics": {"<name>": {"value": <number>}}}`, the one shape every cloud reads."""
    names = list(wanted) if wanted else sorted(metrics)
    missing = [n for n in names if n not in metrics]
    if missing:
        raise KeyError(f"metrics this script does not compute: {', '.join(missing)}")
    out = {}
    for n in names:
        v = float(metrics[n])
        if not math.isfinite(v):
            raise ValueError(f"metric {n} is {v}")
        out[n] = {"value": round(v, 6)}
    return {"metrics": out}


def write_evaluation(directory: str, metrics: dict[str, float], wanted: Sequence[str] | None = None) -> str:
    """Write `<directory>/evaluation.json`; mlspec's launcher reports it to the cloud."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, METRICS_FILE)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(evaluation_document(metrics, wanted), f, indent=2, sort_keys=True)
    return path


def numeric_features(df, exclude: Iterable[str]) -> list[str]:
    """The numeric columns other than `exclude`, in file order: the model's inputs."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    skip = set(exclude)
    return [c for c in df.columns if c not in skip and (is_numeric_dtype(df[c]) or is_bool_dtype(df[c]))]


def save_json(obj, directory: str, name: str) -> str:
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)
    return path


def load_json(directory: str, name: str):
    with open(os.path.join(directory, name), encoding="utf-8") as f:
        return json.load(f)
