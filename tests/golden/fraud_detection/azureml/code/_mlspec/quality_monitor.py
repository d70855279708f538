"""mlspec model-quality / bias monitor over a deployment's collected data; fails the job on a breach.

model_quality: joins collected outputs with ground truth (on the collector's correlation id) and
computes the metric. bias_drift: joins collected inputs and outputs and computes the demographic
parity difference of the predictions across the facets.
"""
import mlflow
from sklearn import metrics as skm

from _common import fail, parse, read_table, write_json

args, cfg = parse("model_inputs", "model_outputs", "ground_truth", outputs=("report",))
outputs = read_table(args.model_outputs, "jsonl")
if cfg["kind"] == "model_quality":
    truth = read_table(args.ground_truth)
    joined = truth.merge(outputs, on="correlationid", how="inner")
    y, p = joined["label"], joined["prediction"]
    funcs = {"f1": skm.f1_score, "precision": skm.precision_score, "recall": skm.recall_score,
             "accuracy": skm.accuracy_score, "auc": skm.roc_auc_score, "mae": skm.mean_absolute_error,
             "rmse": lambda a, b: skm.mean_squared_error(a, b) ** 0.5}
    value = float(funcs[cfg["metric"]](y, p))
else:
    from fairlearn.metrics import demographic_parity_difference
    inputs = read_table(args.model_inputs, "jsonl")
    joined = inputs.merge(outputs, on="correlationid", how="inner")
    value = max(float(demographic_parity_difference(joined["prediction"], joined["prediction"],
                                                    sensitive_features=joined[f])) for f in cfg["facets"])
mlflow.log_metric(cfg["metric"], value)
breach = (cfg["above"] is not None and value > cfg["above"]) or (cfg["below"] is not None and value < cfg["below"])
write_json(args.report, "monitor.json", {"kind": cfg["kind"], "metric": cfg["metric"], "value": value,
                                         "rows": len(joined), "breached": breach})
if breach:
    fail("%s breach on %s: %s = %.4f" % (cfg["kind"], cfg["endpoint"], cfg["metric"], value))
