"""Train the gradient-boosted fraud classifier (XGBoost).

Step `train` (train, framework xgboost 1.7) of pipeline `training` in fraud_detection.mlspec.

    --train DIR         training rows written by `prepare` (default $SM_CHANNEL_TRAIN)
    --model DIR         where the model artifact goes (default $SM_MODEL_DIR)
    --max_depth 6       hyperparameters from the spec's `hyperparameters` map
    --eta 0.2
    --rounds 200
    --early_stopping 20 rounds without improvement on the internal validation fold

Fraud is rare, so positives are up-weighted by the negative/positive ratio
(`scale_pos_weight`) and the model is tuned on area under the precision-recall curve.
The artifact is `xgboost-model` (the name SageMaker's XGBoost container serves) plus
`features.json`, `model.json` (portable copy for Azure ML) and `model.bst` (the file
Vertex AI's prebuilt XGBoost server loads).
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import logging
import os
import sys

LOG = logging.getLogger("train")


def _option(parser: argparse.ArgumentParser, name: str, **kw) -> None:
    flags = [f"--{name}"]
    if "_" in name:
        flags.append(f"--{name.replace('_', '-')}")
    parser.add_argument(*flags, dest=name, **kw)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _option(p, "train", default=os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    _option(p, "model", default=os.environ.get("SM_MODEL_DIR", os.environ.get("AIP_MODEL_DIR", "/opt/ml/model")))
    _option(p, "max_depth", type=int, default=6)
    _option(p, "eta", type=float, default=0.2)
    _option(p, "rounds", type=int, default=200)
    _option(p, "early_stopping", type=int, default=20)
    _option(p, "subsample", type=float, default=0.8)
    _option(p, "colsample_bytree", type=float, default=0.8)
    _option(p, "seed", type=int, default=17)
    args, unknown = p.parse_known_args(argv)
    if unknown:  # SageMaker passes framework-internal hyperparameters (sagemaker_program, ...)
        LOG.info("ignoring arguments %s", " ".join(a for a in unknown if a.startswith("--")))
    return args


LABEL = "is_fraud"
ID_COLUMN = "transaction_id"


def read_table(path: str):
    """Every parquet or csv file under `path` (a channel may hold several parts)."""
    import pandas as pd

    files = sorted(f for f in glob.glob(os.path.join(path, "**", "*"), recursive=True) if os.path.isfile(f))
    frames = [pd.read_parquet(f) for f in files if f.endswith((".parquet", ".pq"))]
    frames += [pd.read_csv(f) for f in files if f.endswith(".csv")]
    if not frames:
        raise SystemExit(f"no parquet or csv files under {path}")
    return pd.concat(frames, ignore_index=True)


def feature_spec(df) -> dict:
    """Model features: the numeric columns other than the id and the label, in file order."""
    from pandas.api.types import is_numeric_dtype

    features = [c for c in df.columns if c not in (LABEL, ID_COLUMN) and is_numeric_dtype(df[c])]
    return {"features": features, "label": LABEL, "id": ID_COLUMN}


def validation_mask(ids, fraction: float = 0.1):
    """Hash-based validation fold inside the training data (stable across reruns)."""
    return ids.map(lambda k: int(hashlib.md5(str(k).encode()).hexdigest()[:6], 16) / 0xFFFFFF < fraction)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    import xgboost as xgb

    df = read_table(args.train)
    spec = feature_spec(df)
    features, label = spec["features"], spec["label"]
    is_val = validation_mask(df[spec["id"]]) if spec["id"] in df.columns else df.index % 10 == 0
    fit, val = df[~is_val], df[is_val]

    positives = int(fit[label].sum())
    negatives = int(len(fit) - positives)
    if positives == 0:
        LOG.error("no positive (fraud) rows in the training data")
        return 1
    params = {
        "objective": "binary:logistic",
        "eval_metric": ["aucpr", "auc", "logloss"],
        "max_depth": args.max_depth,
        "eta": args.eta,
        "subsample": args.subsample,
        "colsample_bytree": args.colsample_bytree,
        "min_child_weight": 5,
        "scale_pos_weight": negatives / positives,
        "tree_method": "hist",
        "seed": args.seed,
    }
    try:  # use the GPU the spec asks for (`compute = gpu.small`) when one is visible
        import subprocess

        subprocess.run(["nvidia-smi"], check=True, capture_output=True)
        params["tree_method"] = "gpu_hist"
    except (OSError, subprocess.CalledProcessError):
        pass
    dtrain = xgb.DMatrix(fit[features].astype("float32"), label=fit[label], feature_names=features)
    dval = xgb.DMatrix(val[features].astype("float32"), label=val[label], feature_names=features)
    LOG.info("training on %d rows (%d fraud), validating on %d; params=%s", len(fit), positives, len(val), params)
    booster = xgb.train(params, dtrain, num_boost_round=args.rounds, evals=[(dtrain, "train"), (dval, "validation")],
                        early_stopping_rounds=args.early_stopping, verbose_eval=25)
    best = booster.best_score if hasattr(booster, "best_score") else None
    LOG.info("best iteration %s, validation aucpr %s", getattr(booster, "best_iteration", None), best)
    # Emitted in `name=value` form so tuning jobs and experiment tracking can scrape it.
    print(f"validation_aucpr={best}")

    os.makedirs(args.model, exist_ok=True)
    booster.save_model(os.path.join(args.model, "xgboost-model"))
    booster.save_model(os.path.join(args.model, "model.json"))
    # Vertex AI's prebuilt XGBoost server loads model.bst (binary), not model.json.
    booster.save_model(os.path.join(args.model, "model.bst"))
    with open(os.path.join(args.model, "features.json"), "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=2)
    importance = booster.get_score(importance_type="gain")
    top = sorted(importance.items(), key=lambda kv: -kv[1])[:10]
    with open(os.path.join(args.model, "training_summary.json"), "w", encoding="utf-8") as f:
        json.dump({"rows": len(fit), "positives": positives, "params": {k: v for k, v in params.items()},
                   "best_iteration": getattr(booster, "best_iteration", None), "validation_aucpr": best,
                   "top_features_by_gain": top}, f, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
