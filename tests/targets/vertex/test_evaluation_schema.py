"""Register imports the evaluate step's metrics as a Vertex ModelEvaluation with the metrics schema of
the model's `task` (issue 13: regression metrics were imported with the classification schema).
Checked at the vendor's boundary: the schema URIs are GCPC's evaluation importer's, the field names
are those google-cloud-aiplatform's `google.ClassificationMetrics` / `google.RegressionMetrics`
artifacts write, and the request parses as `ImportModelEvaluationRequest`."""
from __future__ import annotations

import copy
import importlib.util
import json
from importlib import resources

import pytest

import fixtures
from buildutil import lower

aiplatform_types = pytest.importorskip("google.cloud.aiplatform_v1.types")
artifact_schema = pytest.importorskip("google.cloud.aiplatform.metadata.schema.google.artifact_schema")

SRC = resources.files("mlspec.targets.vertex").joinpath("templates", "runtime", "mlspec_runtime.py")


@pytest.fixture(scope="module")
def rt():
    spec = importlib.util.spec_from_file_location("mlspec_runtime_eval", str(SRC))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _register_config(ir: dict) -> dict:
    low = lower([ir])
    spec = next(a.content for a in low.artifacts if a.path.endswith("/training.json"))
    args = spec["deploymentSpec"]["executors"]["exec-register"]["container"]["args"]
    return json.loads(args[args.index("--config") + 1])


def _with(task: str | None, metrics: list[str]) -> dict:
    ir = copy.deepcopy(fixtures.maximal_ir("prod"))
    for m in ir["models"]:
        m["task"] = task
    for st in ir["pipelines"][0]["steps"]:
        if st["kind"] == "evaluate":
            st["metrics"] = metrics
    for g in ir["pipelines"][0]["gates"]:  # gates read f1; keep them on a declared metric
        for r in g["requires"]:
            r["left"] = {"metric": {"step": "step.evaluate", "name": metrics[0]}}
            if "binary" in r["right"]:
                r["right"]["binary"]["left"] = {"champion": metrics[0]}
    return ir


def _schema_keys(cls, **values) -> set[str]:
    """The metric fields google-cloud-aiplatform's artifact schema class writes for these values."""
    art = cls(**values)
    return set(art.metadata)


@pytest.mark.parametrize("task,problem", [("regression", "regression"), ("binary_classification", "classification"),
                                          ("multiclass_classification", "classification")])
def test_register_imports_with_the_schema_of_the_models_task(task, problem):
    metrics = ["rmse", "mae", "r2"] if problem == "regression" else ["f1", "auc", "precision"]
    ev = _register_config(_with(task, metrics))["evaluation"]
    assert ev["problem_type"] == problem
    assert ev["schema_uri"] == f"gs://google-cloud-aiplatform/schema/modelevaluation/{problem}_metrics_1.0.0.yaml"
    assert sorted(ev["fields"]) == sorted(metrics)


def test_without_a_task_regression_metrics_choose_the_regression_schema():
    assert _register_config(_with(None, ["rmse", "mae"]))["evaluation"]["problem_type"] == "regression"
    assert _register_config(_with(None, ["f1", "rmse"]))["evaluation"]["problem_type"] == "classification"


def test_schema_field_names_are_the_ones_aiplatform_writes():
    from mlspec.targets.vertex.pipeline import SCHEMA_FIELDS

    snake = {"auRoc": "au_roc", "auPrc": "au_prc", "logLoss": "log_loss", "precision": "precision",
             "recall": "recall", "f1Score": "f1_score", "accuracy": "accuracy",
             "rootMeanSquaredError": "root_mean_squared_error", "meanAbsoluteError": "mean_absolute_error",
             "meanAbsolutePercentageError": "mean_absolute_percentage_error", "rSquared": "r_squared",
             "rootMeanSquaredLogError": "root_mean_squared_log_error"}
    for problem, cls in (("classification", artifact_schema.ClassificationMetrics),
                         ("regression", artifact_schema.RegressionMetrics)):
        fields = set(SCHEMA_FIELDS[problem].values())
        assert fields <= _schema_keys(cls, **{snake[f]: 0.5 for f in fields})


def test_the_import_request_parses_and_keeps_every_spec_metric(rt):
    ev = _register_config(_with("regression", ["rmse", "r2", "pinball"]))["evaluation"]
    body = rt.evaluation_request({"rmse": 1.5, "r2": 0.7, "pinball": 0.2}, ev)
    req = aiplatform_types.ImportModelEvaluationRequest(
        parent="projects/p/locations/us-central1/models/m@1", model_evaluation=body)
    got = req.model_evaluation
    assert got.metrics_schema_uri.endswith("/regression_metrics_1.0.0.yaml")
    assert dict(got.metrics) == {"rootMeanSquaredError": 1.5, "rSquared": 0.7}  # only the schema's fields
    assert dict(got.metadata["mlspec_metrics"]) == {"rmse": 1.5, "r2": 0.7, "pinball": 0.2}
    # the champion side of gates reads the spec names back from the evaluation resource
    assert rt.evaluation_metrics(type("E", (), {"gca_resource": got, "metrics": got.metrics})()) == {
        "rmse": 1.5, "r2": 0.7, "pinball": 0.2}
