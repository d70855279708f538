"""mlspec batch scoring: score a dataset with a model folder or the latest approved registered model."""
import os
import sys

from _common import load_model, ml_client, parse, read_table, served

args, cfg = parse("model", "data", outputs=("predictions",))
model_path = args.model
if not model_path:
    client = ml_client()
    approved = [m for m in client.models.list(name=cfg["model"])
                if (m.tags or {}).get("mlspec.stage") == cfg.get("model_stage", "approved")]
    if not approved:
        print("mlspec: no approved version of %s" % cfg["model"], file=sys.stderr)
        sys.exit(1)
    best = max(approved, key=lambda m: int(m.version))
    model_path = client.models.download(name=best.name, version=best.version, download_path="model")
    model_path = os.path.join("model", best.name)
df = read_table(args.data, cfg.get("data_format"))
out = df.copy()
out["prediction"] = served(load_model(model_path, cfg.get("model_loading")), df, cfg.get("model_loading"))
os.makedirs(args.predictions, exist_ok=True)
out.to_csv(os.path.join(args.predictions, "predictions.csv"), index=False)  # CSV with a header row
