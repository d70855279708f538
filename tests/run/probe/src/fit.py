"""Probe `fit` (train): a scikit-learn model written to --model in the contract's `sklearn`
format (model.joblib), training metrics to --metrics; records its command line."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _record import flags, read_rows, record, write_metrics  # noqa: E402

import joblib  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

f = flags()
rows = read_rows(f["train"])
model = DecisionTreeClassifier(max_depth=int(f.get("depth", 2)), random_state=0)
model.fit([[float(r["x"])] for r in rows], [int(r["label"]) for r in rows])
os.makedirs(f["model"], exist_ok=True)
joblib.dump(model, os.path.join(f["model"], "model.joblib"))
train_accuracy = round(float(model.score([[float(r["x"])] for r in rows], [int(r["label"]) for r in rows])), 6)
write_metrics(f["metrics"], {"rows": len(rows), "train_accuracy": train_accuracy})
record("fit", f["model"], rows=len(rows), train_accuracy=train_accuracy)
