"""mlspec tracking wrapper: run a spec script inside the job's MLflow run with lineage recorded.

usage: python _mlspec/track.py --config <json> <script.py> [script args...]

Azure ML starts an MLflow run for every job (the workspace is the tracking server). Before the
script runs, this wrapper tags that run with the spec hash, code hash, data versions, pipeline
and step, and logs the step's hyperparameters / args as MLflow params; the script then runs
in-process (`runpy`), so its own MLflow logging and autologging land in the same run.
"""
import json
import os
import runpy
import sys

if len(sys.argv) < 4 or sys.argv[1] != "--config":
    raise SystemExit(__doc__)
with open(sys.argv[2], encoding="utf-8") as f:
    cfg = json.load(f)
try:  # the pipeline's lineage (spec hash), shared by its steps
    with open(os.path.join(os.path.dirname(sys.argv[2]), "_lineage.json"), encoding="utf-8") as f:
        cfg["tags"] = {**json.load(f)["tags"], **cfg["tags"]}
except FileNotFoundError:
    pass
try:
    import mlflow
except ImportError:  # the environment always has mlflow; never block training on tracking
    mlflow = None
if mlflow is not None:
    mlflow.set_tags(cfg["tags"])
    if cfg["params"]:
        mlflow.log_params(cfg["params"])
    if cfg.get("autolog"):
        mlflow.autolog(log_models=True)
script = sys.argv[3]
sys.argv = [script] + sys.argv[4:]
runpy.run_path(script, run_name="__main__")
