"""mlspec registration step: register the model version with lineage tags, metrics and model card.

The version is registered with `mlspec.stage=pending_approval` when the environment requires
approval; only approve.py (run by an approver, never by this pipeline's identity) promotes it.
"""
import json
import os
import sys

from _common import credential, ml_client, principal_id, write_json

argv = sys.argv[1:]
paths = {argv[i][2:]: argv[i + 1] for i in range(0, len(argv) - 1, 2) if argv[i].startswith("--")}
with open(paths.pop("config"), encoding="utf-8") as f:
    cfg = json.load(f)
model_dir = paths["model"]
metrics = {}
if "metrics" in paths:
    with open(os.path.join(paths["metrics"], "evaluation.json"), encoding="utf-8") as f:  # script contract
        metrics = {k: v["value"] for k, v in json.load(f)["metrics"].items()}
reports = {}
for name, path in paths.items():
    if name.endswith("_report") or name.startswith("gate_"):
        for fn in sorted(os.listdir(path)):
            if fn.endswith(".json"):
                with open(os.path.join(path, fn), encoding="utf-8") as f:
                    reports[name + "/" + fn] = json.load(f)

card = dict(cfg["card"], metrics=metrics, reports=reports, lineage=cfg["lineage"],
            pipeline_job=os.environ.get("AZUREML_ROOT_RUN_ID", ""))
write_json(model_dir, "model_card.json", card)
with open(os.path.join(model_dir, "MODEL_CARD.md"), "w", encoding="utf-8") as f:
    f.write("# Model card: %s\n\n%s\n\n" % (card["name"], card.get("description") or ""))
    for key in ("intended_use", "limitations", "ethical_considerations"):
        f.write("## %s\n\n%s\n\n" % (key.replace("_", " ").capitalize(), card.get(key) or "not stated"))
    f.write("## Metrics\n\n" + "".join("- %s: %s\n" % kv for kv in sorted(metrics.items())) + "\n")
    f.write("## Gates\n\n" + "".join("- %s\n" % r["text"] for g in card["gates"] for r in g["requires"]) + "\n")
    f.write("## Approvers\n\n" + ", ".join(card["approvers"]) + "\n")

from azure.ai.ml.entities import Model  # noqa: E402

tags = dict(cfg["lineage"])
tags.update({"mlspec.stage": cfg["stage"], "mlspec.approvals_required": str(cfg["approval"]["count"]),
             "mlspec.approvers": ",".join(cfg["approval"]["approvers"]),
             "mlspec.registered_by": principal_id(credential()),
             "mlspec.pipeline_job": os.environ.get("AZUREML_ROOT_RUN_ID", "")})
if cfg["approved_by"]:
    tags["mlspec.approved_by"] = cfg["approved_by"]
tags.update({"mlspec.metric." + k: str(v) for k, v in metrics.items()})
kind = "mlflow_model" if os.path.exists(os.path.join(model_dir, "MLmodel")) else "custom_model"
registered = ml_client().models.create_or_update(Model(
    name=cfg["model"], path=model_dir, type=kind, description=cfg["description"], tags=tags))
print("registered %s:%s as %s" % (registered.name, registered.version, cfg["stage"]))
