"""mlspec fairness step: demographic parity difference per facet (fairlearn)."""
import mlflow
from fairlearn.metrics import demographic_parity_difference

from _common import fail, load_model, parse, predicted_labels, read_table, write_json

args, cfg = parse("model", "data", outputs=("report",))
df = read_table(args.data, cfg.get("data_format"))
y_true = df[cfg["label"]]
scores = load_model(args.model, cfg.get("model_loading")).predict(df.drop(columns=[cfg["label"]]))
y_pred = predicted_labels(scores, cfg.get("model_loading"))
report = {}
for facet in cfg["facets"]:
    d = float(demographic_parity_difference(y_true, y_pred, sensitive_features=df[facet]))
    report[facet] = d
    mlflow.log_metric("disparity_" + facet, d)
write_json(args.report, "bias.json", {"metric": cfg["metric"], "max_disparity": cfg["max_disparity"],
                                      "disparity": report})
worst = {f: d for f, d in report.items() if d > cfg["max_disparity"]}
if worst:
    fail("disparity above %s for %s" % (cfg["max_disparity"], ", ".join(sorted(worst))))
