"""Serving handler for the fraud model: mlspec's one handler contract (docs/language.md#model).

A model's `serve { entry_point = "fraud_detection/src/serve.py" }` makes every target wrap
these two functions in its cloud's server (a SageMaker inference handler, a Vertex AI
custom prediction routine, an Azure ML scoring script):

    load(model_dir)        once, with the extracted model directory (`model.bst`, `features.json`)
    predict(model, rows)   a batch of rows (list of dicts: raw transaction columns) ->
                           one fraud probability per row

The spec does not declare it today (the prebuilt XGBoost server is used); the handler
shows how raw transactions could be scored with the same feature code as training,
imported from `prepare` (the whole folder ships with it).
"""
from __future__ import annotations

import os

from common import load_json


def load(model_dir: str):
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, "model.bst"))
    return {"booster": booster, "spec": load_json(model_dir, "features.json")}


def predict(model, rows: list[dict]) -> list[float]:
    import pandas as pd
    import xgboost as xgb

    from prepare import engineer

    raw = pd.DataFrame(rows)
    if "is_fraud" not in raw.columns:
        raw["is_fraud"] = 0  # engineer() carries the label through; unknown at serving time
    if "transaction_id" not in raw.columns:
        raw["transaction_id"] = [str(i) for i in range(len(raw))]
    features = model["spec"]["features"]
    df = engineer(raw)
    matrix = xgb.DMatrix(df[features].astype("float32"), feature_names=features)
    return [float(p) for p in model["booster"].predict(matrix)]
