"""The fixed mlspec runtime that Vertex pipeline tasks run: pure parts unit-tested locally
(metrics, drift, NDCG, executor I/O, validate op on real files); cloud calls are not exercised."""
from __future__ import annotations

import importlib.util
import json
import math
from importlib import resources

import pytest

SRC = resources.files("mlspec.targets.vertex").joinpath("templates", "runtime", "mlspec_runtime.py")


@pytest.fixture(scope="module")
def rt():
    spec = importlib.util.spec_from_file_location("mlspec_runtime", str(SRC))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_imports_nothing_heavy_at_module_level():
    import ast

    tree = ast.parse(SRC.read_text())
    top = {a.name.split(".")[0] for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
           for a in (n.names if isinstance(n, ast.Import) else [ast.alias(n.module or "")])}
    assert top <= {"__future__", "argparse", "glob", "json", "math", "os", "random", "sys"}


def test_psi_and_metrics(rt):
    same = [i / 100 for i in range(100)]
    assert rt._psi(same, same) == pytest.approx(0.0, abs=1e-9)
    assert rt._psi(same, [0.99] * 100) > 1.0
    assert rt.classification_metric("f1", [1, 1, 0, 0], [1, 0, 0, 1]) == pytest.approx(0.5)
    assert rt.classification_metric("accuracy", [1, 0], [1, 0]) == 1.0
    assert rt.ndcg({"a": 3, "b": 2, "c": 1}, {"a": 0.9, "b": 0.5, "c": 0.1}) == pytest.approx(1.0)
    assert rt.ndcg({"a": 3, "b": 2, "c": 1}, {"a": 0.1, "b": 0.5, "c": 0.9}) < 0.9


def test_compute_monitor_kinds(rt):
    import pandas as pd

    rows = [({"id": i, "country": "US" if i % 2 else "DE", "amount": float(i)}, 0.9 if i % 2 else 0.1)
            for i in range(40)]
    # Clarify's DPPL of predicted labels (score >= threshold) by facet value: US all 1, DE all 0
    bias = rt.compute_monitor({"kind": "bias_drift", "facets": ["country"], "metric": "dppl",
                               "prediction": "probability", "threshold": 0.5}, rows, [])
    assert bias == pytest.approx(1.0)
    di = rt.compute_monitor({"kind": "bias_drift", "facets": ["country"], "metric": "di",
                             "prediction": "probability", "threshold": 0.5}, rows, [])
    assert di == pytest.approx(1.0)  # |1 - DI|: DE's rate 0 against US's 1
    assert rt.compute_monitor({"kind": "bias_drift", "facets": ["country"], "metric": "dppl",
                               "prediction": "probability", "threshold": 0.95}, rows, []) == 0.0  # nobody positive
    quality = rt.compute_monitor({"kind": "model_quality", "metric": "f1", "join_on": "id"}, rows, [],
                                 truth={i: i % 2 for i in range(40)})
    assert quality == pytest.approx(1.0)
    drift = rt.compute_monitor({"kind": "prediction_drift"}, rows, [(r[0], 0.5) for r in rows])
    assert drift > 0.5
    base = pd.DataFrame({"amount": [float(i) for i in range(40)]})
    assert rt.compute_monitor({"kind": "data_drift"}, rows, [], baseline=base) == pytest.approx(0.0, abs=1e-6)
    attr = rt.compute_monitor({"kind": "feature_attribution_drift"}, rows, [],
                              explain={"baseline": {"a": 1.0, "b": 0.5}, "current": {"a": 1.0, "b": 0.4}})
    assert attr == pytest.approx(1.0)
    assert math.isnan(rt.compute_monitor({"kind": "model_quality", "metric": "f1"}, rows, [], truth={}))


def test_executor_outputs(rt, tmp_path):
    out = tmp_path / "out" / "f1"
    ex = {"inputs": {"parameterValues": {"project": "p"}},
          "outputs": {"parameters": {"f1": {"outputFile": str(out)}}}}
    rt._set_outputs(ex, {"f1": 0.97, "ignored": 1})
    assert json.loads(out.read_text()) == 0.97


def test_validate_op_on_files(rt, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "part-0.csv").write_text("amount,country\n1.0,US\n2.0,DE\n3.0,US\n")
    cfg = {"checks": {"min_rows": 3, "max_null_fraction_percent": 0.0}, "format": "csv",
           "schema": [{"name": "amount", "nullable": False, "min": 0, "max": None, "allowed": None},
                      {"name": "country", "nullable": False, "min": None, "max": None, "allowed": ["US", "DE"]}]}
    rt.main(["validate", "--data", str(data), "--config", json.dumps(cfg)])
    cfg["checks"]["min_rows"] = 10
    with pytest.raises(SystemExit, match="min_rows"):
        rt.main(["validate", "--data", str(data), "--config", json.dumps(cfg)])
    cfg["checks"]["min_rows"] = 1
    cfg["schema"][1]["allowed"] = ["US"]
    with pytest.raises(SystemExit, match="outside"):
        rt.main(["validate", "--data", str(data), "--config", json.dumps(cfg)])


def test_reads_evaluation_json_of_the_script_contract(rt, tmp_path):
    (tmp_path / "evaluation.json").write_text(json.dumps({"metrics": {"f1": {"value": 0.96}, "auc": {"value": 0.99}}}))
    assert rt._read_metrics(str(tmp_path)) == {"f1": 0.96, "auc": 0.99}


# ------------------------------------------------------------ the contract wrapper (`script` op)
def _lowered_wrapper_spec(step_name: str) -> tuple[dict, dict]:
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    import fixtures
    from buildutil import lower

    ir = fixtures.maximal_ir("prod")
    spec = next(a.content for a in lower([ir]).artifacts if a.path == "pipelines/prod/training.json")
    args = spec["deploymentSpec"]["executors"][f"exec-{step_name}"]["container"]["args"]
    job = json.loads(args[args.index("--payload") + 1])
    pool = (job.get("job_spec") or job["trial_job_spec"])["worker_pool_specs"][0]
    step = next(s for s in ir["pipelines"][0]["steps"] if s["name"] == step_name)
    return json.loads(pool["container_spec"]["args"][1]), step


@pytest.mark.parametrize("name", ["prepare", "train", "tune", "evaluate"])
def test_wrapper_renders_exactly_the_portable_contract(rt, name):
    from mlspec.compiler import contract

    spec, step = _lowered_wrapper_spec(name)
    paths = {f["name"]: f"/local/{f['name']}" for f in spec["flags"] if f["role"] != "param"}
    assert rt.contract_argv(spec, paths) == contract.script_argv(step, paths)
    if name == "tune":
        trial = {"alpha": "0.25", "depth": "4", "loss": "hinge"}
        got = rt.contract_argv(spec, paths, rt.trial_values(["--alpha=0.25", "--depth=4", "--loss", "hinge"]))
        assert got == contract.script_argv(step, paths, trial)


SCRIPT = '''
import argparse, json, os, sys
ap = argparse.ArgumentParser()
for f in ("train", "model", "metrics", "cv", "alpha", "depth", "loss"):
    ap.add_argument("--" + f, required=True)
a = ap.parse_args()
assert sorted(os.listdir(a.model)) == [] and not a.model.startswith("gs://")
open(os.path.join(a.model, "model.joblib"), "w").write(open(os.path.join(a.train, "rows.csv")).read())
json.dump({"metrics": {"auc": {"value": 0.5 + float(a.alpha)}}}, open(os.path.join(a.metrics, "evaluation.json"), "w"))
print("argv", sys.argv[1:])
'''


def test_tune_trial_runs_the_script_with_local_dirs_and_reports_the_objective(rt, tmp_path, monkeypatch):
    spec, _step = _lowered_wrapper_spec("tune")
    (tmp_path / "code" / "src").mkdir(parents=True)
    (tmp_path / "code" / "src" / "tune.py").write_text(SCRIPT)
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "rows.csv").write_text("a,b\n1,2\n")
    spec["entry"] = str(tmp_path / "code" / "src" / "tune.py")
    for f in spec["flags"]:
        if f["role"] == "input":
            f["path"] = str(tmp_path / "train")
    trial_dir = tmp_path / "root" / "7"
    monkeypatch.setenv("AIP_MODEL_DIR", str(trial_dir / "model"))
    monkeypatch.setenv("CLOUD_ML_TRIAL_ID", "7")
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(tmp_path / "hypertune" / "output.metrics"))
    rt.main(["script", "--spec", json.dumps(spec), "--alpha=0.25", "--depth=4", "--loss=hinge"])
    assert (trial_dir / "model" / "model.joblib").read_text() == "a,b\n1,2\n"
    assert json.loads((trial_dir / "metrics" / "evaluation.json").read_text())["metrics"]["auc"]["value"] == 0.75
    [line] = (tmp_path / "hypertune" / "output.metrics").read_text().splitlines()
    reported = json.loads(line)
    assert reported["auc"] == "0.75" and reported["trial"] == "7"


def test_failing_script_fails_the_job_and_copies_nothing(rt, tmp_path):
    (tmp_path / "bad.py").write_text("import sys; sys.exit(3)\n")
    out = tmp_path / "out"
    spec = {"entry": str(tmp_path / "bad.py"), "flags": [{"name": "clean", "role": "output", "path": str(out)}],
            "code_dir": None, "requirements": None, "objective": None}
    with pytest.raises(SystemExit) as exc:
        rt.main(["script", "--spec", json.dumps(spec)])
    assert exc.value.code == 3 and not out.exists()


def test_string_outputs_are_written_raw(rt, tmp_path):
    """KFP reads a STRING output parameter file as is: JSON quotes would become part of the value."""
    files = {n: tmp_path / n for n in ("model_version", "value", "has_champion")}
    ex = {"outputs": {"parameters": {n: {"outputFile": str(f)} for n, f in files.items()}}}
    rt._set_outputs(ex, {"model_version": "projects/p/locations/l/models/m@3", "value": 0.5, "has_champion": False})
    assert files["model_version"].read_text() == "projects/p/locations/l/models/m@3"
    assert json.loads(files["value"].read_text()) == 0.5
    assert files["has_champion"].read_text() == "false"


def _frame():
    import pandas as pd

    return pd.DataFrame({"id": [f"t{i}" for i in range(40)], "a": [float(i % 7) for i in range(40)],
                         "b": [float((3 * i) % 5) for i in range(40)], "country": ["US", "DE"] * 20,
                         "y": [int(i % 7 > 3) for i in range(40)]})


def test_model_features_are_the_columns_the_model_was_fitted_on(rt, tmp_path):
    """A prebuilt container receives exactly the fitted features: ids, strings and the label are
    not fed to the model (XGBoost refuses str columns), whatever order the file has."""
    xgb = pytest.importorskip("xgboost")
    df = _frame()
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(df[["b", "a"]], label=df["y"],
                                                                        feature_names=["b", "a"]), 3)
    (tmp_path / "model").mkdir()
    booster.save_model(str(tmp_path / "model" / "model.bst"))
    model = rt.load_model(str(tmp_path / "model"))
    assert list(rt.model_features(model, df).columns) == ["b", "a"]
    scores = rt._predict(model, df)
    assert len(scores) == 40 and all(0.0 <= s <= 1.0 for s in scores)
    with pytest.raises(SystemExit, match="no column"):
        rt.model_features(model, df.drop(columns=["a"]))


def test_bias_op_feeds_the_model_its_features(rt, tmp_path):
    xgb = pytest.importorskip("xgboost")
    df = _frame()
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(df[["a", "b"]], label=df["y"]), 3)
    (tmp_path / "model").mkdir()
    booster.save_model(str(tmp_path / "model" / "model.bst"))
    (tmp_path / "data").mkdir()
    df.to_csv(tmp_path / "data" / "part.csv", index=False)
    # dppl compares predicted labels: the model is fed its own columns (a, b), not country or y
    cfg = {"label": "y", "facets": ["country"], "metric": "dppl", "max_disparity": 1.0,
           "prediction": "probability", "threshold": 0.5}
    rt.main(["bias", "--model", str(tmp_path / "model"), "--data", str(tmp_path / "data"),
             "--report", str(tmp_path / "report"), "--config", json.dumps(cfg)])
    report = json.loads((tmp_path / "report" / "bias.json").read_text())
    assert set(report["facets"]["country"]["values"]) == {"US", "DE"}
    pred = [1 if p >= 0.5 else 0 for p in booster.predict(xgb.DMatrix(df[["a", "b"]]))]
    rate = {c: sum(p for p, k in zip(pred, df["country"]) if k == c) / sum(1 for k in df["country"] if k == c)
            for c in ("US", "DE")}
    assert report["facets"]["country"]["values"]["US"] == pytest.approx(rate["DE"] - rate["US"])


def test_explain_is_exact_sampled_shapley_on_a_linear_model(rt, tmp_path):
    """For f(x) = w.x every ordering gives phi_c = w_c (x_c - baseline_c): the op must report the
    mean |phi| per feature (not the mean of |marginal steps|), from the fitted features only."""
    import joblib
    from sklearn.linear_model import LinearRegression

    df = _frame()
    model = LinearRegression().fit(df[["a", "b"]], 2.0 * df["a"] - 3.0 * df["b"])
    (tmp_path / "model").mkdir()
    joblib.dump(model, tmp_path / "model" / "model.joblib")
    (tmp_path / "data").mkdir()
    df.to_csv(tmp_path / "data" / "part.csv", index=False)
    rt.main(["explain", "--model", str(tmp_path / "model"), "--data", str(tmp_path / "data"),
             "--report", str(tmp_path / "report"), "--samples", "3"])
    got = json.loads((tmp_path / "report" / "shap.json").read_text())["mean_abs_attribution"]
    rows = df[["a", "b"]].sample(n=40, random_state=0)
    want = {c: float((w * (rows[c] - df[c].median())).abs().mean()) for c, w in (("a", 2.0), ("b", -3.0))}
    assert set(got) == {"a", "b"}
    assert got["a"] == pytest.approx(want["a"], rel=1e-6) and got["b"] == pytest.approx(want["b"], rel=1e-6)


def test_monitors_use_the_models_positive_label_threshold_and_task(rt):
    """models[].positive_label / prediction / threshold / task reach the monitor pipeline's config and
    decide what a class is (issue 10: no more `score >= 0.5` and label 1 for every model)."""
    import copy

    import fixtures
    from buildutil import lower

    rows = [({"id": i}, 0.6) for i in range(10)]
    truth = {i: "fraud" if i < 5 else "ok" for i in range(10)}
    cfg = {"kind": "model_quality", "metric": "recall", "join_on": "id", "positive_label": "fraud",
           "prediction": "probability", "threshold": 0.7}
    assert rt.compute_monitor(cfg, rows, [], truth=truth) == 0.0  # 0.6 < 0.7: nothing predicted positive
    assert rt.compute_monitor({**cfg, "threshold": 0.5}, rows, [], truth=truth) == 1.0
    labelled = [({"id": i}, "fraud" if i < 5 else "ok") for i in range(10)]
    assert rt.compute_monitor({**cfg, "prediction": "label", "metric": "accuracy"}, labelled, [], truth=truth) == 1.0
    reg = {"kind": "model_quality", "metric": "mae", "join_on": "id", "task": "regression"}
    assert rt.compute_monitor(reg, [({"id": 1}, 3.0), ({"id": 2}, 5.0)], [], truth={1: 2.0, 2: 5.0}) == 0.5
    bias = {"kind": "bias_drift", "facets": ["g"], "prediction": "probability", "threshold": 0.8}
    assert rt.compute_monitor(bias, [({"g": "a"}, 0.9), ({"g": "b"}, 0.75)], []) == 1.0

    ir = copy.deepcopy(fixtures.maximal_ir("prod"))
    model = ir["models"][0]
    model.update(task="binary_classification", positive_label="fraud", label="is_fraud",
                 prediction={"output": "probability", "threshold": 0.7})
    low = lower([ir])
    spec = next(a.content for a in low.artifacts if a.path == "pipelines/prod/monitor-quality.json")
    args = spec["deploymentSpec"]["executors"]["exec-monitor"]["container"]["args"]
    got = json.loads(args[args.index("--config") + 1])
    assert {k: got[k] for k in ("task", "positive_label", "prediction", "threshold", "label_column")} == {
        "task": "binary_classification", "positive_label": "fraud", "prediction": "probability", "threshold": 0.7,
        "label_column": "is_fraud"}
