"""mlspec scoring script for Azure ML managed online deployments of non-MLflow models.

Azure ML calls init() once and run(raw) per request. The model is loaded by the spec's model
format (xgboost model.bst, sklearn model.joblib, torchscript model.pt, onnx model.onnx) or by the
model's `serve` handler (`load(model_dir)` / `predict(model, rows)`), never as an MLflow model.
Settings come from the JSON file named by MLSPEC_SERVE_CONFIG (relative to the code folder).
Requests: {"input_data": {"columns": [...], "data": [[...]]}} (the MLflow shape),
{"data": [{...}, ...]} or a bare list of row objects. Response: {"predictions": [...]}.
Inputs and outputs go to the deployment's data collector (azureml-ai-monitoring) when present.
"""
import json
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
MODEL = None
COLLECT = None


def _config():
    with open(os.path.join(os.path.dirname(_HERE), os.environ["MLSPEC_SERVE_CONFIG"]), encoding="utf-8") as f:
        return json.load(f)


def init():
    global MODEL, COLLECT
    from _common import load_model
    cfg = _config()
    MODEL = (load_model(os.environ.get("AZUREML_MODEL_DIR", "."), cfg.get("model_loading")), cfg.get("model_loading"))
    try:
        from azureml.ai.monitoring import Collector
        COLLECT = (Collector(name="model_inputs"), Collector(name="model_outputs"))
    except ImportError:  # data collection off for this deployment
        COLLECT = None


def frame(payload):
    import pandas as pd
    if isinstance(payload, str):
        payload = json.loads(payload)
    if isinstance(payload, dict) and isinstance(payload.get("input_data"), dict):
        d = payload["input_data"]
        return pd.DataFrame(d["data"], columns=d.get("columns"))
    if isinstance(payload, dict):
        payload = payload.get("data", payload.get("input_data"))
    return pd.DataFrame(list(payload))


def run(raw):
    import pandas as pd
    df = frame(raw)
    context = COLLECT[0].collect(df) if COLLECT else None
    from _common import served
    predictions = served(MODEL[0], df, MODEL[1])  # the spec's `prediction`: label or probability
    if COLLECT:
        COLLECT[1].collect(pd.DataFrame({"prediction": predictions}), context)
    return {"predictions": predictions}
