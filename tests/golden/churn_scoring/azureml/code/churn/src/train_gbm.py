"""Train the gradient-boosted churn classifier (scikit-learn).

Step `train_gbm` (train, framework sklearn 1.2-1) of pipeline `weekly` in churn_scoring.mlspec.

    --train DIR            features written by `features` (default $SM_CHANNEL_TRAIN)
    --model DIR            artifact directory (default $SM_MODEL_DIR)
    --n_estimators 300     hyperparameters from the spec
    --learning_rate 0.05
    --max_depth 3
    --subsample 0.8

Writes `model.joblib` (a fitted Pipeline: imputer + GradientBoostingClassifier) and
`features.json`. `model_fn` / `predict_fn` let SageMaker's scikit-learn container and
the nightly batch job serve the artifact unchanged.
"""
from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import sys

LOG = logging.getLogger("train_gbm")


def _option(parser: argparse.ArgumentParser, name: str, **kw) -> None:
    flags = [f"--{name}"]
    if "_" in name:
        flags.append(f"--{name.replace('_', '-')}")
    parser.add_argument(*flags, dest=name, **kw)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _option(p, "train", default=os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    _option(p, "model", default=os.environ.get("SM_MODEL_DIR", os.environ.get("AIP_MODEL_DIR", "/opt/ml/model")))
    _option(p, "n_estimators", type=int, default=300)
    _option(p, "learning_rate", type=float, default=0.05)
    _option(p, "max_depth", type=int, default=3)
    _option(p, "subsample", type=float, default=0.8)
    _option(p, "seed", type=int, default=7)
    args, unknown = p.parse_known_args(argv)
    if unknown:
        LOG.info("ignoring arguments %s", " ".join(a for a in unknown if a.startswith("--")))
    return args


LABEL = "churned"
ID_COLUMN = "subscriber_id"


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


def build_model(args: argparse.Namespace):
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    return Pipeline([
        ("impute", SimpleImputer(strategy="median")),
        ("gbm", GradientBoostingClassifier(n_estimators=args.n_estimators, learning_rate=args.learning_rate,
                                           max_depth=args.max_depth, subsample=args.subsample,
                                           validation_fraction=0.1, n_iter_no_change=25,
                                           random_state=args.seed)),
    ])


# ------------------------------------------------------------------ serving hooks (SageMaker sklearn container)
def model_fn(model_dir: str):
    import joblib

    return joblib.load(os.path.join(model_dir, "model.joblib"))


def predict_fn(data, model):
    """Churn probability per row (column order from features.json is enforced upstream)."""
    return model.predict_proba(data)[:, 1]


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    import joblib
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_score

    df = read_table(args.train)
    spec = feature_spec(df)
    X, y = df[spec["features"]].astype(float), df[spec["label"]].astype(int)
    model = build_model(args)
    cv = cross_val_score(model, X, y, cv=3, scoring="roc_auc")
    LOG.info("3-fold CV AUC %.4f +/- %.4f", cv.mean(), cv.std())
    model.fit(X, y)
    train_auc = roc_auc_score(y, model.predict_proba(X)[:, 1])
    print(f"cv_auc={cv.mean():.6f}")
    print(f"train_auc={train_auc:.6f}")

    os.makedirs(args.model, exist_ok=True)
    joblib.dump(model, os.path.join(args.model, "model.joblib"))
    with open(os.path.join(args.model, "features.json"), "w", encoding="utf-8") as f:
        json.dump({**spec, "kind": "sklearn"}, f, indent=2)
    gbm = model.named_steps["gbm"]
    ranked = sorted(zip(spec["features"], gbm.feature_importances_), key=lambda kv: -kv[1])
    with open(os.path.join(args.model, "training_summary.json"), "w", encoding="utf-8") as f:
        json.dump({"rows": int(len(df)), "cv_auc": float(cv.mean()), "train_auc": float(train_auc),
                   "estimators_used": int(gbm.n_estimators_),
                   "feature_importance": [[k, float(v)] for k, v in ranked]}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
