"""Vertex finding (register's explanation metadata): the inputs of a model version's explanation
spec are the features the model was fitted on, as training wrote them (the booster's feature
names, the same list the fraud example's training script writes to features.json), not the
dataset schema's columns; a model served by its `serve` handler receives request columns, so its
inputs stay the schema's features (tests/targets/vertex/test_serve.py). Through `mlspec run`:
the training wrapper records the fitted names next to the model directory (never inside it), and
`register` uploads with them (the local Model Registry parses the request as UploadModelRequest)."""
from __future__ import annotations

import json

from mlspec.compiler.run import run_spec
from testkit import ROOT

SCHEMA_FEATURES = {"amount", "merchant_mcc", "country", "card_present"}


def test_explanation_inputs_are_the_features_training_fitted(tmp_path):
    out = run_spec(str(ROOT / "specs/fraud_detection.mlspec"), "vertex", env="dev", workdir=str(tmp_path / "w"))
    assert out.report is not None and out.report.status == "succeeded"
    registry = next((tmp_path / "w").rglob("vertex-registry"))
    version = json.loads(next((registry / "models").glob("*.json")).read_text())["versions"][-1]
    model_dir = registry.parent / "gcs" / version["artifact_uri"][len("gs://"):]
    written = json.loads((model_dir / "features.json").read_text())["features"]  # the training script's own list
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(str(model_dir / "model.bst"))
    assert booster.feature_names == written
    assert set(version["explanation_inputs"]) == set(written) != SCHEMA_FEATURES
    assert "merchant_mcc" not in version["explanation_inputs"]  # a raw column the model never saw
    # the record sits next to the model directory: what later steps receive is what the script wrote
    record = json.loads(model_dir.with_name(model_dir.name + ".mlspec-features.json").read_text())
    assert record == {"features": written}
    assert sorted(p.name for p in model_dir.iterdir()) == ["features.json", "model.bst", "model_card.json"]
