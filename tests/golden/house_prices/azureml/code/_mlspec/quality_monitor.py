"""mlspec model-quality / bias monitor over a deployment's collected data; fails the job on a breach.

The data collector writes JSON lines, one per request, with the rows nested under `data` (a list
of row objects, or of scalars for model outputs) next to `correlationid`; they are flattened to
one row per prediction, numbered within the request. model_quality pairs each prediction with
its request row (correlationid, row) and joins the ground truth on the monitor's `join_on` column
(input `--join_on`: a column of the request rows and of the ground truth; a key answered twice
keeps its latest prediction); without `join_on` it joins the ground truth on (correlationid, row)
-- ground truth without a `row` column joins on the request. It compares the model's label column
(config `label`) with the prediction. bias_drift joins
collected inputs and outputs and computes the spec's metric (dppl or di, SageMaker Clarify's
definition, the same code as the bias_check step) of the predicted labels for every facet value;
the monitor's value is the largest disparity.
"""
import json
import os

import mlflow
import pandas as pd
from sklearn import metrics as skm

from _common import fail, parse, read_table, write_json

args, cfg = parse("model_inputs", "model_outputs", "ground_truth", "join_on", outputs=("report",))


def collected(folder, value_name):
    """Flatten the collector's JSON lines into rows: correlationid, row, <columns...>."""
    rows = []
    files = [os.path.join(r, f) for r, _, fs in sorted(os.walk(folder)) for f in sorted(fs)
             if f.endswith((".jsonl", ".json"))]
    for path in files:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                event = json.loads(line)
                data = event.get("data")
                if isinstance(data, str):
                    data = json.loads(data)
                if isinstance(data, dict):  # a dataframe in "split" / "columns" form
                    data = pd.DataFrame(**data).to_dict(orient="records") if "columns" in data \
                        else pd.DataFrame(data).to_dict(orient="records")
                for i, item in enumerate(data or []):
                    row = dict(item) if isinstance(item, dict) else {value_name: item}
                    row.update({"correlationid": event.get("correlationid"), "row": i})
                    rows.append(row)
    return pd.DataFrame(rows)


def prediction_column(frame):
    if "prediction" in frame.columns:
        return frame["prediction"]
    values = [c for c in frame.columns if c not in ("correlationid", "row")]
    return frame[values[0]]


outputs = collected(args.model_outputs, "prediction")
outputs["prediction"] = prediction_column(outputs)
label = cfg.get("label") or "label"
if cfg["kind"] == "model_quality":
    truth = read_table(args.ground_truth)
    if label not in truth.columns:
        fail("the ground truth has no label column %s" % label)
    key = args.join_on
    if key:
        if key not in truth.columns:
            fail("the ground truth has no join column %s (the monitor's join_on)" % key)
        inputs = collected(args.model_inputs, "value")
        if key not in inputs.columns:
            fail("the collected requests of %s have no column %s (the monitor's join_on): send it in every "
                 "request row" % (cfg["endpoint"], key))
        served_rows = inputs[["correlationid", "row", key]].merge(
            outputs[["correlationid", "row", "prediction"]], on=["correlationid", "row"], how="inner")
        served_rows["_key"] = served_rows[key].astype(str)
        served_rows = served_rows.drop_duplicates(subset="_key", keep="last")
        truth = truth.assign(_key=truth[key].astype(str))
        joined = truth.merge(served_rows[["_key", "prediction"]], on="_key", how="inner")
    else:
        keys = ["correlationid", "row"] if "row" in truth.columns else ["correlationid"]
        joined = truth.merge(outputs[["correlationid", "row", "prediction"]], on=keys, how="inner")
    y, p = joined[label], joined["prediction"]
    if cfg.get("positive_label") is not None:
        y = (y == cfg["positive_label"]).astype(int)
    funcs = {"f1": skm.f1_score, "precision": skm.precision_score, "recall": skm.recall_score,
             "accuracy": skm.accuracy_score, "auc": skm.roc_auc_score, "mae": skm.mean_absolute_error,
             "rmse": lambda a, b: skm.mean_squared_error(a, b) ** 0.5}
    if cfg["metric"] in ("f1", "precision", "recall", "accuracy") and p.dtype.kind == "f":
        p = (p >= 0.5).astype(int)  # probability outputs of a binary classifier
    value = float(funcs[cfg["metric"]](y, p)) if len(joined) else float("nan")
else:
    # Clarify's metric on the served predictions, exactly as the bias_check step computes it
    from bias_check import facet_disparities, predicted_positive
    from _common import predicted_labels
    inputs = collected(args.model_inputs, "value")
    joined = inputs.merge(outputs[["correlationid", "row", "prediction"]], on=["correlationid", "row"], how="inner")
    loading = cfg.get("model_loading") or {}
    y = pd.Series(predicted_labels(joined["prediction"], loading), index=joined.index)
    report = facet_disparities(cfg["metric"], y, joined, cfg["facets"],
                               predicted_positive(loading, cfg.get("positive_label")), "the collected inputs")
    value = max((r["max_abs"] for r in report.values()), default=0.0)
mlflow.log_metric(cfg["metric"], value)
breach = (cfg["above"] is not None and value > cfg["above"]) or (cfg["below"] is not None and value < cfg["below"])
write_json(args.report, "monitor.json", {"kind": cfg["kind"], "metric": cfg["metric"], "value": value,
                                         "rows": len(joined), "breached": bool(breach)})
if len(joined) == 0:
    fail("no collected predictions joined the %s data for %s" % (
        "ground truth" if cfg["kind"] == "model_quality" else "input", cfg["endpoint"]))
if breach:
    fail("%s breach on %s: %s = %.4f" % (cfg["kind"], cfg["endpoint"], cfg["metric"], value))
