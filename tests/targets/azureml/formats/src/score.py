"""Accuracy of the model on the JSON-lines --holdout rows, to --metrics/evaluation.json."""
import argparse
import glob
import json
import os

import pandas as pd
import xgboost as xgb

ap = argparse.ArgumentParser()
for name in ("holdout", "model", "metrics"):
    ap.add_argument("--" + name, required=True)
a = ap.parse_args()
df = pd.concat([pd.read_json(f, lines=True) for f in sorted(glob.glob(os.path.join(a.holdout, "*")))],
               ignore_index=True)
booster = xgb.Booster(model_file=os.path.join(a.model, "model.bst"))
p = booster.predict(xgb.DMatrix(df[["x1", "x2"]]))
accuracy = float(((p >= 0.5).astype(int) == df["label"]).mean())
os.makedirs(a.metrics, exist_ok=True)
with open(os.path.join(a.metrics, "evaluation.json"), "w") as f:
    json.dump({"metrics": {"accuracy": {"value": accuracy}}}, f)
