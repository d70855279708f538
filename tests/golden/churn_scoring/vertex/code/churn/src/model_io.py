"""The churn models' one file format, shared by both trainers and the evaluate step.

Both models declare `format = sklearn`: the model directory holds `model.joblib`, a
fitted scikit-learn estimator whose `predict_proba(X)[:, 1]` is the churn probability,
plus `features.json` (the column order it was fitted on). Nothing else is written.
"""
from __future__ import annotations

import os

from common import load_json, numeric_features, save_json

LABEL = "churned"
ID_COLUMN = "subscriber_id"
MODEL_FILE = "model.joblib"


def feature_spec(df) -> dict:
    """Model features: the numeric columns other than the id and the label, in file order."""
    return {"features": numeric_features(df, (LABEL, ID_COLUMN)), "label": LABEL, "id": ID_COLUMN}


def save(estimator, spec: dict, model_dir: str) -> str:
    import joblib

    os.makedirs(model_dir, exist_ok=True)
    path = os.path.join(model_dir, MODEL_FILE)
    joblib.dump(estimator, path)
    save_json(spec, model_dir, "features.json")
    return path


def load(model_dir: str):
    """(estimator, feature spec) from an extracted model directory."""
    import joblib

    return joblib.load(os.path.join(model_dir, MODEL_FILE)), load_json(model_dir, "features.json")


def churn_probability(estimator, spec: dict, df) -> list[float]:
    return [float(p) for p in estimator.predict_proba(df[spec["features"]].astype("float64"))[:, 1]]


def holdout_mask(ids, fraction: float = 0.2):
    """A stable validation fold inside the training rows (by a hash of the id)."""
    import hashlib

    return ids.map(lambda k: int(hashlib.md5(str(k).encode()).hexdigest()[:6], 16) / 0xFFFFFF < fraction)
