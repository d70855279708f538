"""XGBoost on the parquet --train rows; the model in the `xgboost` format (model.bst)."""
import argparse
import glob
import os

import pandas as pd
import xgboost as xgb

ap = argparse.ArgumentParser()
for name in ("train", "model", "metrics", "rounds"):
    ap.add_argument("--" + name, required=True)
a = ap.parse_args()
df = pd.concat([pd.read_parquet(f) for f in sorted(glob.glob(os.path.join(a.train, "*")))], ignore_index=True)
X = df[["x1", "x2"]]
booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
                    xgb.DMatrix(X, label=df["label"], feature_names=list(X.columns)), int(a.rounds))
os.makedirs(a.model, exist_ok=True)
booster.save_model(os.path.join(a.model, "model.bst"))
