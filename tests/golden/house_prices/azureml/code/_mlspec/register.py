"""mlspec registration step: register the model version with lineage tags, metrics and model card.

The model input is a read-only mount, so nothing is written into it: the version is assembled in
a temporary folder (a copy of the model plus MODEL_CARD.md / model_card.json) and registered from
there. The asset type follows the spec's model `format`: `mlflow_model` only for an MLflow model
directory, else `custom_model` (served with mlspec's scoring script, docs/targets/azureml.md).

The version is registered with `mlspec.stage=pending_approval` when the environment requires
approval; only an approver (never this pipeline's identity) promotes it, and the deployment checks
who wrote the approval (docs/security.md, Azure threat model).
"""
import json
import os
import shutil
import sys
import tempfile

from _common import MODEL_FILES, credential, load_config, ml_client, model_dir, principal_id, write_json

argv = sys.argv[1:]
paths = {argv[i][2:]: argv[i + 1] for i in range(0, len(argv) - 1, 2) if argv[i].startswith("--")}
cfg = load_config(paths.pop("config"), paths.pop("step", None))
# lineage: the spec hash is the pipeline job's `mlspec_spec_sha256` input, bound to this step
lineage = dict(cfg["lineage"])
spec_sha256 = paths.pop("spec_sha256", "")
if spec_sha256:
    lineage = {"mlspec.spec_sha256": spec_sha256, **lineage}
loading = cfg.get("model_loading") or {}
fmt = loading.get("format")
source = paths["model"]
if fmt in MODEL_FILES:
    try:
        source = model_dir(paths["model"], fmt)
    except FileNotFoundError as exc:
        if cfg.get("format_required"):  # an endpoint or batch job loads it: refuse a broken version
            print("mlspec: %s" % exc, file=sys.stderr)
            sys.exit(1)
        print("mlspec: warning: %s; registering the folder as written (the model is not served)" % exc)
        fmt = None
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

# the card's gates are what the gate steps decided (requirements with the thresholds they used)
gates = [dict(doc, name=doc.get("gate", key.split("/")[0][len("gate_"):])) for key, doc in sorted(reports.items())
         if key.startswith("gate_") and key.endswith("/decision.json")]
card = dict(cfg["card"], gates=gates, metrics=metrics, reports=reports, lineage=lineage,
            pipeline_job=os.environ.get("AZUREML_ROOT_RUN_ID", ""), format=fmt)
staging = tempfile.mkdtemp(prefix="mlspec-register-")
version_dir = os.path.join(staging, cfg["model"])
shutil.copytree(source, version_dir)          # the model input stays untouched (read-only mount)
write_json(version_dir, "model_card.json", card)
with open(os.path.join(version_dir, "MODEL_CARD.md"), "w", encoding="utf-8") as f:
    f.write("# Model card: %s\n\n%s\n\n" % (card["name"], card.get("description") or ""))
    for key in ("intended_use", "limitations", "ethical_considerations"):
        f.write("## %s\n\n%s\n\n" % (key.replace("_", " ").capitalize(), card.get(key) or "not stated"))
    f.write("## Metrics\n\n" + "".join("- %s: %s\n" % kv for kv in sorted(metrics.items())) + "\n")
    f.write("## Gates\n\n" + "".join("- %s: %s (%s)\n" % (g["name"], r["require"], "passed" if r["passed"] else "failed")
                                      for g in gates for r in g.get("results") or []) + "\n")
    f.write("## Approvers\n\n" + ", ".join(card["approvers"]) + "\n")

from azure.ai.ml.entities import Model  # noqa: E402

tags = dict(lineage)
tags.update({"mlspec.stage": cfg["stage"], "mlspec.approvals_required": str(cfg["approval"]["count"]),
             "mlspec.approvers": ",".join(cfg["approval"]["approvers"]),
             "mlspec.format": fmt or "", "mlspec.registered_by": principal_id(credential()),
             "mlspec.pipeline_job": os.environ.get("AZUREML_ROOT_RUN_ID", "")})
if cfg["approved_by"]:
    tags["mlspec.approved_by"] = cfg["approved_by"]
tags.update({"mlspec.metric." + k: str(v) for k, v in metrics.items()})
kind = "mlflow_model" if fmt == "mlflow" else "custom_model"
if kind == "mlflow_model" and not os.path.exists(os.path.join(version_dir, "MLmodel")):
    print("mlspec: the model format is mlflow but %s has no MLmodel file" % paths["model"], file=sys.stderr)
    sys.exit(1)
try:
    registered = ml_client().models.create_or_update(Model(
        name=cfg["model"], path=version_dir, type=kind, description=cfg["description"], tags=tags))
finally:
    shutil.rmtree(staging, ignore_errors=True)
print("registered %s:%s as %s (%s)" % (registered.name, registered.version, cfg["stage"], kind))
