"""`models[].format` and `models[].serve` on SageMaker (issue 10): the trained model is
packaged for the framework serving container (model files + `code/` with mlspec's handler),
and the packaged archive is loaded through that handler with the framework's own loader
(xgboost, joblib), as the container would load it."""
from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlspec.targets.sagemaker import SageMaker, requests

from . import fixtures as fx
from testkit import wheel_index

SCRIPTS = Path(__file__).resolve().parents[3] / "targets" / "sagemaker" / "templates" / "scripts"


def definitions(low):
    return {a.path: a.content for a in low.artifacts if a.kind == "sagemaker-pipeline"}


def all_steps(definition):
    return {s["Name"]: s for s in requests.steps(definition)}


@pytest.fixture(scope="module")
def lowering():
    return SageMaker().lower(fx.environments(), fx.CTX)


# ----------------------------------------------------------------------------- lowering
def test_registered_and_clarify_models_run_mlspecs_handler(lowering):
    d = definitions(lowering)["pipelines/prod/training.json"]
    steps = all_steps(d)
    pkg = steps["TrainPackage"]["Arguments"]
    ins = {i["InputName"]: i["S3Input"]["S3Uri"] for i in pkg["ProcessingInputs"]}
    assert ins["model"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert ins["data"] == {"Get": "Steps.Prepare.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}
    # the package step runs in the serving image: the framework loader the endpoint will use
    reg = next(s for s in steps.values() if s["Type"] == "RegisterModel")["Arguments"]
    container = reg["InferenceSpecification"]["Containers"][0]
    assert pkg["AppSpecification"]["ImageUri"] == container["Image"] and "xgboost" in container["Image"]
    assert pkg["NetworkConfig"]["EnableNetworkIsolation"] is True
    packaged = {"Std:Join": {"On": "/", "Values": [
        {"Get": "Steps.TrainPackage.ProcessingOutputConfig.Outputs['model'].S3Output.S3Uri"}, "model.tar.gz"]}}
    assert container["ModelDataUrl"] == packaged
    assert container["Environment"] == {"SAGEMAKER_PROGRAM": "mlspec_serve.py",
                                        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
    model = steps["TrainModel"]["Arguments"]  # Clarify's shadow endpoint serves the same archive
    assert model["PrimaryContainer"]["ModelDataUrl"] == packaged
    assert model["PrimaryContainer"]["Environment"] == container["Environment"]
    spec = next(a.content for a in lowering.artifacts
                if a.path == "config/prod/fraud-detection-prod-training/step-train-package/spec.json")
    assert spec == {"format": "xgboost", "task": "binary_classification", "positive_label": 1,
                    "prediction": "probability", "threshold": 0.5, "label": "is_fraud",
                    "drop": ["transaction_id"], "data_format": "csv"}


def test_create_model_and_package_requests_pass_the_service_model(lowering):
    """At botocore's boundary: the CreateModel and CreateModelPackage requests (patterns,
    lengths, the Environment map's key/value patterns and sizes) and the package step's
    CreateProcessingJob."""
    for path, d in definitions(lowering).items():
        assert requests.check_definition(d, path) == []
        resolved = requests.resolve_defaults(d)
        for s in requests.steps(resolved):
            if s["Type"] == "Model":
                env = s["Arguments"]["PrimaryContainer"]["Environment"]
                assert requests.check_request("CreateModel", {"ModelName": "m", **s["Arguments"]}) == []
                assert len(env) <= 100 and all(len(k) <= 1024 and len(v) <= 1024 for k, v in env.items())


def _served(ir, **model):
    m = next(x for x in ir["models"] if x["name"] == "fraud_scorer")
    m.update(model)
    return SageMaker().lower([ir], fx.CTX)


def test_formats_without_a_loader_are_refused_naming_what_sagemaker_serves():
    low = _served(fx.maximal_ir(), format="onnx")
    errs = [d for d in low.diagnostics if d.severity == "error"]
    assert errs and all(d.code == "E505" for d in errs)
    assert "`xgboost` on the xgboost container" in errs[0].hint and "`sklearn` on the sklearn container" in errs[0].hint
    assert "serve" in errs[0].hint
    # an sklearn file on the XGBoost container: the container's framework decides
    assert [d.code for d in _served(fx.maximal_ir(), format="sklearn").diagnostics if d.severity == "error"]


SERVE = {"entry_point": "fraud/src/serve.py", "requirements": "fraud/src/serve-requirements.txt",
         "code_dir": "fraud/src"}


def test_serve_requirements_need_the_mirror(tmp_path):
    low = _served(fx.maximal_ir(), format="onnx", serve=SERVE)
    errs = [d for d in low.diagnostics if d.severity == "error"]
    assert [d.code for d in errs] == ["E505"] and "pip_index_url" in errs[0].hint
    ir = fx.maximal_ir()
    ir["targets"]["sagemaker"]["pip_index_url"] = "https://pypi.mirror.internal/simple/"
    low = _served(ir, format="onnx", serve=SERVE)
    assert not [d for d in low.diagnostics if d.severity == "error"]
    pkg = all_steps(definitions(low)["pipelines/prod/training.json"])["TrainPackage"]["Arguments"]
    # the package step reaches the mirror (VPC, no isolation); the model itself stays isolated
    assert pkg["NetworkConfig"]["EnableNetworkIsolation"] is False
    assert pkg["AppSpecification"]["ContainerArguments"][-2:] == ["--index-url", "https://pypi.mirror.internal/simple/"]


def test_tensorflow_serving_runs_no_handler():
    ir = fx.maximal_ir()
    train = next(s for s in ir["pipelines"][0]["steps"] if s["name"] == "train")
    train["framework"] = {"name": "tensorflow", "version": "2.13"}
    low = _served(ir, serve=dict(SERVE, requirements=None))
    assert any(d.code == "E505" and "TensorFlow Serving" in d.summary for d in low.diagnostics)


# ----------------------------------------------------------------------------- the helper and the handler
def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _package(tmp_path, monkeypatch, model_files: dict, spec: dict, data: pd.DataFrame, code: dict | None = None,
             index_url: str = "") -> tuple[int, Path]:
    """Run package_model.py on a training job's model.tar.gz; returns (exit code, extracted archive)."""
    model_in, code_in, data_in, out = (tmp_path / n for n in ("model_in", "code_in", "data_in", "out"))
    for d in (model_in, code_in / "_mlspec", data_in):
        d.mkdir(parents=True)
    with tarfile.open(model_in / "model.tar.gz", "w:gz") as tar:
        for name, payload in model_files.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    (code_in / "_mlspec" / "serve_adapter.py").write_text((SCRIPTS / "serve_adapter.py").read_text())
    for rel, text in (code or {}).items():
        (code_in / rel).parent.mkdir(parents=True, exist_ok=True)
        (code_in / rel).write_text(text)
    data.to_csv(data_in / "train.csv", index=False)
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    mod = _load(SCRIPTS / "package_model.py", f"package_{tmp_path.name}")
    for k, v in {"IN_MODEL": model_in, "IN_CODE": code_in, "IN_DATA": data_in, "OUT": out}.items():
        monkeypatch.setattr(mod, k, str(v))
    rc = mod.main(["--spec", str(tmp_path / "spec.json")] + (["--index-url", index_url] if index_url else []))
    served = tmp_path / "served"
    if rc == 0:
        with tarfile.open(out / "model.tar.gz") as tar:
            tar.extractall(served)
    return rc, served


def _handler(served: Path):
    """The container's view: /opt/ml/model = the archive, the program from code/."""
    for name in [n for n in sys.modules if n in ("mlspec_serve", "serve")]:
        del sys.modules[name]
    return _load(served / "code" / "mlspec_serve.py", "mlspec_serve")


def _data(n=60):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"transaction_id": [f"t{i}" for i in range(n)], "amount": rng.normal(size=n),
                       "hour": rng.integers(0, 24, n).astype(float), "is_fraud": [i % 2 for i in range(n)]})
    return df


SPEC = {"format": "xgboost", "task": "binary_classification", "positive_label": 1, "prediction": "probability",
        "threshold": 0.5, "label": "is_fraud", "drop": ["transaction_id"], "data_format": "csv"}


@pytest.mark.filterwarnings("ignore:.*(UBJSON|Unknown file format).*:UserWarning")
def test_xgboost_model_loads_and_predicts_through_the_handler(tmp_path, monkeypatch):
    import xgboost as xgb

    df = _data()
    X = df[["amount", "hour"]]
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(X, label=df.is_fraud), 5)
    # what a training script writes (docs/language.md: booster.save_model("model.bst")), and a
    # feature list next to it: sorted first, the file XGBoost's own algorithm-mode server would load
    (tmp_path / "m").mkdir()
    booster.save_model(str(tmp_path / "m" / "model.bst"))
    files = {"model.bst": (tmp_path / "m" / "model.bst").read_bytes(), "features.json": b'["amount", "hour"]'}
    rc, served = _package(tmp_path, monkeypatch, files, SPEC, df)
    assert rc == 0
    assert sorted(p.name for p in served.iterdir()) == ["code", "features.json", "model.bst"]
    cfg = json.loads((served / "code" / "mlspec_serve.json").read_text())
    assert cfg["columns"] == ["amount", "hour"] and cfg["format"] == "xgboost" and "handler" not in cfg
    h = _handler(served)
    model = h.model_fn(str(served))
    assert isinstance(model.model, xgb.Booster)  # XGBoost's own loader read model.bst
    body = "\n".join(f"{a},{b}" for a, b in X.head(4).itertuples(index=False))
    got = h.output_fn(h.predict_fn(h.input_fn(body, "text/csv"), model), "text/csv").splitlines()
    want = booster.predict(xgb.DMatrix(X.head(4)))
    assert [float(v) for v in got] == pytest.approx(want.tolist(), rel=1e-6)
    label = dict(cfg, prediction="label")
    assert h._shape(label, want.tolist()) == [int(p >= 0.5) for p in want]
    js = json.loads(h.output_fn(h.predict_fn(h.input_fn(json.dumps({"instances": [{"amount": 0.1, "hour": 3.0}]}),
                                                         "application/json"), model), "application/json"))
    assert len(js["predictions"]) == 1


def test_sklearn_model_loads_and_predicts_through_the_handler(tmp_path, monkeypatch):
    import joblib
    from sklearn.linear_model import LogisticRegression

    df = _data()
    est = LogisticRegression().fit(df[["amount", "hour"]], df.is_fraud)
    buf = io.BytesIO()
    joblib.dump(est, buf)
    rc, served = _package(tmp_path, monkeypatch, {"model.joblib": buf.getvalue()}, dict(SPEC, format="sklearn"), df)
    assert rc == 0
    h = _handler(served)
    model = h.model_fn(str(served))
    assert type(model.model).__name__ == "LogisticRegression"  # joblib's loader
    rows = df[["amount", "hour"]].head(3)
    got = h.predict_fn(h.input_fn(rows.to_csv(index=False, header=False), "text/csv"), model)
    assert got == pytest.approx(est.predict_proba(rows)[:, 1].tolist())


def test_the_model_file_the_format_names_must_exist(tmp_path, monkeypatch, capsys):
    rc, _ = _package(tmp_path, monkeypatch, {"model.json": b"{}"}, SPEC, _data())
    assert rc == 1 and "format `xgboost` needs `model.bst`" in capsys.readouterr().err


def test_serve_handler_with_vendored_requirements(tmp_path, monkeypatch):
    """The `serve` contract: load(model_dir) once, predict(model, rows) with rows as dicts; the
    requirements are downloaded from the mirror into code/wheels, and code/requirements.txt
    installs only from them (the serving container has no network)."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    df = _data()
    est = LogisticRegression().fit(df[["amount", "hour"]], df.is_fraud)
    buf = io.BytesIO()
    joblib.dump(est, buf)
    handler = ("import os, joblib\nfrom helpers import columns\n"
               "def load(model_dir):\n    return joblib.load(os.path.join(model_dir, 'model.onnx.joblib'))\n"
               "def predict(model, rows):\n"
               "    import pandas as pd\n"
               "    return model.predict_proba(pd.DataFrame(rows)[columns()])[:, 1].tolist()\n")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    wheel_index(mirror)
    spec = dict(SPEC, format="onnx", handler="serve", handler_dir="fraud/src",
                requirements="fraud/src/serve-requirements.txt")
    rc, served = _package(tmp_path, monkeypatch, {"model.onnx.joblib": buf.getvalue()}, spec, df,
                          code={"fraud/src/serve.py": handler,
                                "fraud/src/helpers.py": "def columns():\n    return ['amount', 'hour']\n",
                                "fraud/src/serve-requirements.txt": "mlspec-probe==1.0\n"},
                          index_url=(mirror / "simple").as_uri())
    assert rc == 0
    code = served / "code"
    assert (code / "handler" / "serve.py").exists() and (code / "handler" / "helpers.py").exists()
    assert [p.name for p in (code / "wheels").iterdir()] == ["mlspec_probe-1.0-py3-none-any.whl"]
    assert (code / "requirements.txt").read_text() == "--no-index\n--find-links wheels\nmlspec-probe==1.0\n"
    # what the container does at start-up: pip install -r code/requirements.txt, offline
    target = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--target",
                          str(target), "-r", str(code / "requirements.txt")], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert (target / "mlspec_probe.py").exists()
    h = _handler(served)
    model = h.model_fn(str(served))
    rows = df[["amount", "hour"]].head(3)
    got = h.predict_fn(h.input_fn(rows.to_csv(index=False, header=False), "text/csv"), model)
    assert got == pytest.approx(est.predict_proba(rows)[:, 1].tolist())
    sys.path.remove(str(code / "handler"))


def test_vendoring_lifts_only_the_processing_isolation_deny():
    """The pipeline role's guardrail denies non-isolated jobs; the package step that downloads
    `serve` requirements must be allowed, while CreateModel stays denied without isolation."""
    for with_reqs in (False, True):
        ir = fx.maximal_ir()
        ir["targets"]["sagemaker"]["pip_index_url"] = "https://pypi.mirror.internal/simple/"
        for p in ir["pipelines"]:  # no Clarify shadow endpoint: processing jobs must be isolated
            p["steps"] = [s for s in p["steps"] if s["kind"] != "explain"]
            for s in p["steps"]:
                s["depends_on"] = [d for d in s.get("depends_on") or [] if d != "step.explain"]
        low = _served(ir, serve=dict(SERVE, requirements=SERVE["requirements"] if with_reqs else None))
        assert not [d for d in low.diagnostics if d.severity == "error"], low.diagnostics
        pols = [a.content for a in low.artifacts if a.path.startswith("iam/prod/pipeline")]
        deny = next(st for p in pols for st in p["Statement"] if st.get("Sid") == "DenyJobsWithoutIsolation")
        assert "sagemaker:CreateModel" in deny["Action"]
        assert ("sagemaker:CreateProcessingJob" in deny["Action"]) is (not with_reqs)
        assert any("TrainPackage" in n and "network isolation" in n for n in low.notes) is with_reqs
