"""mlspec serving adapter for SageMaker's framework serving containers. Generated build
support file; do not edit.

The container loads this module as its inference handler (SAGEMAKER_PROGRAM=mlspec_serve.py,
SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code: the `code/` folder of model.tar.gz, which
mlspec's package step writes next to the model files). It implements the handler functions
the containers call (model_fn, input_fn, predict_fn, output_fn) on top of mlspec's one
serving contract (docs/language.md, `serve`):

- with a `serve` block: the user's module (`code/handler/<entry>.py`) defines
  `load(model_dir)`, called once, and `predict(model, rows)`, called with a batch of rows
  (`list[dict]`, column name to value) and returning one prediction per row;
- without one, the model's `format`: `xgboost` (`model.bst`, an XGBoost Booster) or `sklearn`
  (`model.joblib`, a scikit-learn estimator), predicted the way the model's `prediction`
  says (the label, or the positive class's probability / one per class).

Requests: `text/csv` (rows without a header, the columns the endpoint receives in training
order; a first line equal to those column names is a header and skipped), `application/json`
(`{"instances": [...]}` or a list; each row a list of values or an object) or
`application/jsonlines` (one row per line). Responses: `text/csv` (one line per row) or
`application/json` (`{"predictions": [...]}`).
https://docs.aws.amazon.com/sagemaker/latest/dg/adapt-inference-container.html
"""
import csv
import importlib
import io
import json
import os
import sys

CONFIG = "mlspec_serve.json"
HERE = os.path.dirname(os.path.abspath(__file__))


def _config():
    with open(os.path.join(HERE, CONFIG), encoding="utf-8") as f:
        return json.load(f)


class Served:
    """What model_fn returns: the loaded model and how to call it."""

    def __init__(self, cfg, model, handler=None):
        self.cfg, self.model, self.handler = cfg, model, handler


def model_fn(model_dir):
    cfg = _config()
    if cfg.get("handler"):
        folder = os.path.join(HERE, "handler")
        if folder not in sys.path:
            sys.path.insert(0, folder)
        module = importlib.import_module(cfg["handler"])
        for fn in ("load", "predict"):
            if not callable(getattr(module, fn, None)):
                raise RuntimeError(f"serving module `{cfg['handler']}` defines no `{fn}` function")
        return Served(cfg, module.load(model_dir), module)
    fmt = cfg["format"]
    if fmt == "xgboost":
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(os.path.join(model_dir, "model.bst"))
        return Served(cfg, booster)
    if fmt == "sklearn":
        import joblib

        return Served(cfg, joblib.load(os.path.join(model_dir, "model.joblib")))
    raise RuntimeError(f"model format `{fmt}` has no built-in loader; declare `serve`")


def _value(text):
    try:
        return float(text)
    except ValueError:
        return text


def input_fn(body, content_type="text/csv"):
    """Rows as a list of lists (csv, lists) or dicts (objects)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    kind = (content_type or "text/csv").split(";")[0].strip().lower()
    if kind == "text/csv":
        rows = [r for r in csv.reader(io.StringIO(body)) if r]
        columns = _config().get("columns") or []
        if rows and columns and [c.strip() for c in rows[0]] == columns:
            rows = rows[1:]
        return [[_value(v) for v in r] for r in rows]
    if kind == "application/json":
        doc = json.loads(body)
        return list(doc["instances"] if isinstance(doc, dict) else doc)
    if kind in ("application/jsonlines", "application/x-jsonlines"):
        return [json.loads(line) for line in body.splitlines() if line.strip()]
    raise ValueError(f"unsupported content type {content_type!r}: use text/csv, application/json "
                     "or application/jsonlines")


def _as_dicts(rows, columns):
    out = []
    for r in rows:
        if isinstance(r, dict):
            out.append(r)
        elif columns and len(r) == len(columns):
            out.append(dict(zip(columns, r)))
        else:
            raise ValueError(f"a row of {len(r)} values, and the endpoint receives {len(columns)} columns "
                             f"({', '.join(columns)})")
    return out


def _matrix(rows, names):
    if rows and isinstance(rows[0], dict):
        if not names:
            raise ValueError("rows given as objects, and the model records no feature names: send lists")
        return [[r[n] for n in names] for r in rows]
    return rows


def _shape(cfg, scores):
    """Scores (probabilities, or values for regression) as the model's `prediction` says."""
    task, pred = cfg.get("task"), cfg.get("prediction") or "label"
    if task == "regression":
        return [float(s) for s in scores]
    first = scores[0] if len(scores) else None
    multi = first is not None and hasattr(first, "__len__")
    if pred == "probability":
        return [[float(x) for x in s] for s in scores] if multi else [float(s) for s in scores]
    if multi:
        return [int(max(range(len(s)), key=lambda i: s[i])) for s in scores]
    if task == "multiclass_classification":  # the model returns class indices already
        return [int(s) for s in scores]
    threshold = float(cfg.get("threshold") if cfg.get("threshold") is not None else 0.5)
    return [1 if float(s) >= threshold else 0 for s in scores]


def predict_fn(rows, served):
    cfg = served.cfg
    if served.handler is not None:
        preds = served.handler.predict(served.model, _as_dicts(rows, cfg.get("columns") or []))
        preds = list(preds)
        if len(preds) != len(rows):
            raise RuntimeError(f"predict returned {len(preds)} predictions for {len(rows)} rows")
        return preds
    m = served.model
    if cfg["format"] == "xgboost":
        import xgboost as xgb

        names = list(m.feature_names or [])
        data = _matrix(rows, names)
        dm = xgb.DMatrix(data, feature_names=names if names and len(names) == len(data[0]) else None)
        return _shape(cfg, m.predict(dm).tolist())
    names = [str(n) for n in getattr(m, "feature_names_in_", [])]
    data = _matrix(rows, names)
    if names:
        import pandas as pd

        data = pd.DataFrame(data, columns=names)
    if cfg.get("task") != "regression" and hasattr(m, "predict_proba") and (
            cfg.get("prediction") == "probability" or cfg.get("threshold") is not None):
        proba = m.predict_proba(data)
        if proba.shape[1] == 2:
            return _shape(cfg, proba[:, 1].tolist())
        return _shape(cfg, proba.tolist())
    return [v.item() if hasattr(v, "item") else v for v in m.predict(data)]


def output_fn(predictions, accept="text/csv"):
    kind = (accept or "text/csv").split(";")[0].strip().lower()
    if kind == "application/json":
        return json.dumps({"predictions": predictions})
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    for p in predictions:
        w.writerow(p if isinstance(p, (list, tuple)) else [p])
    return out.getvalue()
