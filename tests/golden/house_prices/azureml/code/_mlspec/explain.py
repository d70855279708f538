"""mlspec explanation step: mean |SHAP| per feature on a sample of the data.

The model's own feature columns are explained (the names its format saves). XGBoost models
use XGBoost's exact TreeSHAP (`pred_contribs`), the algorithm of shap's TreeExplainer; other
formats use the shap package's model-agnostic explainer.
"""
from _common import fail, load_model, log_metrics, parse, read_table, write_json

args, cfg = parse("model", "data", outputs=("report",))
df = read_table(args.data, cfg.get("data_format")).head(500)
model = load_model(args.model, cfg.get("model_loading"))
features = model.features or [c for c in df.columns if c != cfg.get("label")]
missing = [c for c in features if c not in df.columns]
if missing:
    fail("the data lacks the model's feature column(s) %s" % ", ".join(missing[:5]))
X = df[features]
sample = X.head(100)
if model.contributions is not None:
    values = model.contributions(sample)
else:
    import shap
    values = shap.Explainer(model.predict, X)(sample).values
importance = {c: float(abs(values[:, i]).mean()) for i, c in enumerate(features)}
log_metrics({"shap_" + c: v for c, v in importance.items()})
write_json(args.report, "shap.json", {"method": cfg["method"], "rows": len(sample),
                                      "data_format": cfg.get("data_format"), "mean_abs_shap": importance})
print("mlspec: mean |SHAP| of %d feature(s) on %d row(s)" % (len(features), len(sample)))
