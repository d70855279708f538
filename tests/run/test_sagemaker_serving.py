"""`mlspec run --target sagemaker` packages the trained model the way SageMaker's serving
container loads it (issue 10, `format`/`serve`): the pipeline's package step runs locally,
loads the archive through mlspec's handler and scores rows; the archive it uploads is then
loaded here through the same handler with XGBoost's loader, and agrees with the booster."""
from __future__ import annotations

import importlib.util
import json
import sys
import tarfile

import pandas as pd
import pytest

from mlspec.compiler.run import run_spec
from testkit import ROOT

pytestmark = pytest.mark.run_e2e


@pytest.mark.filterwarnings("ignore:.*(UBJSON|Unknown file format).*:UserWarning")
def test_fraud_model_is_packaged_for_the_xgboost_container(tmp_path):
    import xgboost as xgb

    out = run_spec(str(ROOT / "specs" / "fraud_detection.mlspec"), "sagemaker", env="dev", workdir=str(tmp_path))
    assert out.report is not None and out.report.status == "succeeded"
    steps = {s.name: s for s in out.report.steps}
    assert steps["TrainPackage"].status == "succeeded"
    (archive,) = list(tmp_path.rglob("s3/*/pipelines/*/*/train-package/model/model.tar.gz"))
    served = tmp_path / "served"
    with tarfile.open(archive) as tar:
        tar.extractall(served)
    assert (served / "model.bst").is_file() and (served / "code" / "mlspec_serve.py").is_file()
    # the registered package points the container at that archive and handler (moto's registry)
    spec = json.loads((served / "code" / "mlspec_serve.json").read_text())
    assert spec["format"] == "xgboost" and spec["prediction"] == "probability" and spec["columns"]
    sys.modules.pop("mlspec_serve", None)
    mod_spec = importlib.util.spec_from_file_location("mlspec_serve", served / "code" / "mlspec_serve.py")
    handler = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(handler)
    model = handler.model_fn(str(served))
    assert isinstance(model.model, xgb.Booster)
    (train,) = list(tmp_path.rglob("s3/*/pipelines/*/*/prepare/train/*.csv"))
    rows = pd.read_csv(train)[list(model.model.feature_names)].head(20)
    body = rows.to_csv(index=False, header=False)
    got = handler.output_fn(handler.predict_fn(handler.input_fn(body, "text/csv"), model), "text/csv")
    booster = xgb.Booster()
    booster.load_model(str(served / "model.bst"))
    want = booster.predict(xgb.DMatrix(rows))
    assert [float(v) for v in got.splitlines()] == pytest.approx(want.tolist(), rel=1e-6)
