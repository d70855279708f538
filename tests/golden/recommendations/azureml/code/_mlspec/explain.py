"""mlspec explanation step: mean |SHAP| per feature on a sample of the data."""
import mlflow
import shap

from _common import load_model, parse, read_table, write_json

args, cfg = parse("model", "data", outputs=("report",))
df = read_table(args.data, cfg.get("data_format")).head(500)
model = load_model(args.model, cfg.get("model_loading"))
explainer = shap.Explainer(model.predict, df)
values = explainer(df.head(100))
importance = {c: float(abs(values.values[:, i]).mean()) for i, c in enumerate(df.columns)}
for c, v in importance.items():
    mlflow.log_metric("shap_" + c, v)
write_json(args.report, "shap.json", {"method": cfg["method"], "mean_abs_shap": importance})
