"""The example systems' scripts use the script contract and nothing else, and they run.

docs/language.md#the-script-contract; compiler/contract.py is its one implementation.

- Every file in a code folder of specs/*/src is a plain program: a docstring, no ML
  library imported at module level, no cloud environment variable or cloud path.
- Every pipeline of every example runs end to end, locally, the way a cloud runs it:
  each script step is a subprocess `python <script> <argv>` with the argv from
  `compiler.contract.script_argv`, its code folder as working directory and import root,
  and an environment holding no cloud variable, on a small dataset generated from the
  spec's schema. Outputs land in the declared formats, each trained model directory holds
  the one file its model's `format` names, every evaluate step writes each metric it
  declares and a tuning trial writes its objective to `evaluation.json`.
- The metric functions are checked against brute-force definitions, and the fraud
  serving handler follows the serving contract (`load(model_dir)`, `predict(model, rows)`).
"""
from __future__ import annotations

import ast
import datetime
import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlspec.compiler import api
from mlspec.compiler.contract import script_argv, script_flags

ROOT = Path(__file__).resolve().parents[2]
SPECS_DIR = ROOT / "specs"
SPECS = sorted(SPECS_DIR.glob("*.mlspec"))
ML_LIBS = ("numpy", "pandas", "pyarrow", "sklearn", "xgboost", "torch", "tensorflow", "joblib", "hypertune",
           "mlflow", "boto3", "sagemaker", "google", "azure", "azureml")
CLOUD = re.compile(r"os\.environ|getenv|/opt/ml|\bSM_[A-Z_]+|\bAIP_[A-Z_]+|\bAZUREML_[A-Z_]+|/gcs/|CLOUD_ML_")
#: the file a model directory holds per model `format` (docs/language.md#model)
FORMAT_FILES = {"xgboost": "model.bst", "sklearn": "model.joblib", "torchscript": "model.pt", "onnx": "model.onnx",
                "mlflow": "MLmodel"}


def _ir(spec: Path) -> dict:
    res = api.build_irs(str(spec))
    assert res.ok, f"{spec.name} does not check: {[d.summary for d in res.diagnostics]}"
    return res.irs[next(iter(res.irs))]


IRS = {spec.stem: _ir(spec) for spec in SPECS}
CODE_FILES = sorted({SPECS_DIR / f["path"] for ir in IRS.values() for f in ir["code"]["files"]
                     if f["path"].endswith(".py")})


def test_every_spec_ships_code():
    assert len(SPECS) >= 3 and len(CODE_FILES) >= 12


@pytest.mark.parametrize("path", CODE_FILES, ids=lambda p: str(p.relative_to(SPECS_DIR)))
def test_code_is_plain_and_cloud_free(path: Path):
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(path))
    assert ast.get_docstring(tree), "a module opens with a docstring saying what it does"
    top = {a.name.split(".")[0] for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    top |= {n.module.split(".")[0] for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
    assert not top & set(ML_LIBS), "ML and cloud libraries are imported inside functions, not at module level"
    tree.body = tree.body[1:]  # the module docstring may mention clouds in prose; the code may not
    hit = CLOUD.search(ast.unparse(tree))
    assert hit is None, f"reads a cloud environment variable or path: {hit.group(0)}"


def _script_steps():
    out = []
    for name, ir in IRS.items():
        for p in ir["pipelines"]:
            for s in p["steps"]:
                if s["kind"] in ("process", "train", "tune", "evaluate"):
                    out.append((name, s))
    return out


@pytest.mark.parametrize("spec,step", _script_steps(), ids=lambda x: x if isinstance(x, str) else x["name"])
def test_entry_script_is_a_program(spec: str, step: dict):
    path = SPECS_DIR / (step.get("script") or step["entry_point"])
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert {"main", "parse_args"} <= names
    assert any(isinstance(n, ast.If) and "__main__" in ast.unparse(n.test) for n in tree.body)
    assert (SPECS_DIR / step["code_dir"]) in path.parents, "the script lies inside its code folder"


# ---------------------------------------------------------------- data generation
def _value(rng: random.Random, col: dict, n: int):
    t, allowed = col["type"], col["allowed"]
    if allowed:
        return rng.choice(allowed)
    lo = col["min"] if col["min"] is not None else 0
    if t == "int":
        return rng.randint(int(lo), int(col["max"] if col["max"] is not None else lo + 60))
    if t == "float":
        return round(rng.uniform(lo, col["max"] if col["max"] is not None else lo + 500), 2)
    if t == "bool":
        return rng.random() < 0.5
    if t in ("timestamp", "date"):
        when = datetime.datetime(2026, 10, 1) + datetime.timedelta(hours=rng.randint(0, 30 * 24))
        return when.isoformat() if t == "timestamp" else when.date().isoformat()
    if t == "category":
        return rng.choice(["eu", "us", "apac"])
    return f"{col['name']}{rng.randint(0, max(2, n // 20))}"  # ids and strings repeat, like users do


def write_dataset(ds: dict, directory: Path, n: int = 1200, seed: int = 11) -> None:
    """`n` rows from the dataset's schema; the label column leans on the first numeric feature so
    the models have something to learn. parquet datasets are written as csv here (no pyarrow
    in the test environment); the scripts read any of csv, parquet and jsonl."""
    rng = random.Random(seed)
    cols = ds["schema"]
    label = next((c for c in cols if c["role"] == "label"), None)
    signal = next((c["name"] for c in cols if c["type"] in ("int", "float") and c["role"] == "feature"), None)
    rows = []
    for _ in range(n):
        row = {c["name"]: _value(rng, c, n) for c in cols}
        if label is not None and signal is not None:
            span = next(c for c in cols if c["name"] == signal)
            hi = span["max"] if span["max"] is not None else (span["min"] or 0) + 500
            share = (row[signal] - (span["min"] or 0)) / max(1e-9, hi - (span["min"] or 0))
            row[label["name"]] = int(rng.random() < 0.1 + 0.5 * share)
        rows.append(row)
    directory.mkdir(parents=True)
    if ds["format"] == "jsonl":
        with open(directory / "part-0.jsonl", "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    else:
        import csv

        with open(directory / "part-0.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=[c["name"] for c in cols])
            w.writeheader()
            w.writerows(rows)


# ---------------------------------------------------------------- running a pipeline like a cloud does
def _order(steps: list[dict]) -> list[dict]:
    done: set[str] = set()
    out: list[dict] = []
    while len(out) < len(steps):
        for s in steps:
            if s["id"] not in done and all(d in done or d.startswith("gate.") for d in s["depends_on"]):
                out.append(s)
                done.add(s["id"])
    return out


def _trial(step: dict) -> dict:
    return {k: (r["values"][0] if r["type"] == "categorical" else r["min"]) for k, r in step["ranges"].items()}


def run_script(step: dict, paths: dict[str, str], trial: dict | None = None) -> subprocess.CompletedProcess:
    """What every target's launcher does: cwd and import root = the code folder, contract argv."""
    code_dir = SPECS_DIR / step["code_dir"]
    script = os.path.relpath(SPECS_DIR / (step.get("script") or step["entry_point"]), code_dir)
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(code_dir), "HOME": os.environ.get("HOME", "/tmp"),
           "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, script] + script_argv(step, paths, trial)
    return subprocess.run(argv, cwd=code_dir, env=env, capture_output=True, text=True, timeout=600)


def run_pipeline(ir: dict, pipeline: dict, work: Path) -> dict[str, Path]:
    """Run every script step of `pipeline`; returns ref -> local directory of each output."""
    data: dict[str, Path] = {}
    datasets = {d["id"]: d for d in ir["datasets"]}
    models = {m["source"]: m for m in ir["models"] if m["source"]}
    for s in _order(pipeline["steps"]):
        if s["kind"] == "validate":
            src = work / "datasets" / s["data"]
            if not src.exists():
                write_dataset(datasets[s["data"]], src)
            data[f"{s['id']}.outputs.data"] = src
            continue
        if s["kind"] not in ("process", "train", "tune", "evaluate"):
            continue  # bias checks, explanations and registration run the clouds' own tooling
        paths: dict[str, str] = {}
        for f in script_flags(s, _trial(s) if s["kind"] == "tune" else None):
            if f.role == "input":
                paths[f.name] = str(data[f.ref])
            elif f.role == "model_in":
                paths[f.name] = str(data[f.ref])
            elif f.role in ("output", "model_out", "metrics", "checkpoints"):
                out = work / "runs" / s["name"] / f.name
                out.mkdir(parents=True)
                paths[f.name] = str(out)
        proc = run_script(s, paths, _trial(s) if s["kind"] == "tune" else None)
        assert proc.returncode == 0, f"{s['id']} failed:\n{proc.stdout}\n{proc.stderr}"
        for f in script_flags(s):
            if f.role == "output":
                files = sorted(os.listdir(paths[f.name]))
                fmt = s["output_formats"].get(f.name)
                assert files and (fmt is None or all(x.endswith("." + fmt) for x in files)), (s["id"], f.name, files)
                data[f"{s['id']}.outputs.{f.name}"] = Path(paths[f.name])
        if s["kind"] in ("train", "tune"):
            model_dir = Path(paths["model"])
            data[f"{s['id']}.outputs.model"] = model_dir
            model = models.get(f"{s['id']}.outputs.model")
            assert model is not None and model["format"], f"{s['id']}: its model declares a format"
            want = FORMAT_FILES[model["format"]]
            held = sorted(os.listdir(model_dir))
            assert want in held, (s["id"], held)
            others = [h for h in held if h in FORMAT_FILES.values() and h != want]
            assert not others, f"{s['id']} writes one model format, not also {others}"
        if s["kind"] in ("evaluate", "tune"):
            doc = json.loads((Path(paths["metrics"]) / "evaluation.json").read_text())
            wanted = s["metrics"] if s["kind"] == "evaluate" else [s["objective"]["metric"]]
            for m in wanted:
                v = doc["metrics"][m]["value"]
                assert isinstance(v, (int, float)) and 0.0 <= v <= 1.0, (s["id"], m, v)
    return data


PIPELINES = [(name, p["name"]) for name, ir in IRS.items() for p in ir["pipelines"]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, dict[str, Path]]:
    pytest.importorskip("pandas")
    pytest.importorskip("sklearn")
    pytest.importorskip("xgboost")
    out = {}
    for name, pipe in PIPELINES:
        ir = IRS[name]
        p = next(x for x in ir["pipelines"] if x["name"] == pipe)
        out[f"{name}/{pipe}"] = run_pipeline(ir, p, tmp_path_factory.mktemp(f"{name}-{pipe}"))
    return out


@pytest.mark.parametrize("name,pipe", PIPELINES)
def test_pipeline_runs_end_to_end_with_the_contract_argv(runs, name: str, pipe: str):
    outputs = runs[f"{name}/{pipe}"]
    ir = IRS[name]
    p = next(x for x in ir["pipelines"] if x["name"] == pipe)
    scripted = [s for s in p["steps"] if s["kind"] in ("process", "train", "tune")]
    for s in scripted:
        for o in s["outputs"]:
            assert f"{s['id']}.outputs.{o}" in outputs


def test_a_script_rejects_a_flag_outside_the_contract(tmp_path: Path):
    name, step = next((n, s) for n, s in _script_steps() if s["kind"] == "evaluate")
    paths = {f.name: str(tmp_path) for f in script_flags(step) if f.is_path}
    code_dir = SPECS_DIR / step["code_dir"]
    proc = subprocess.run([sys.executable, os.path.relpath(SPECS_DIR / step["script"], code_dir)]
                          + script_argv(step, paths) + ["--surprise", "1"], cwd=code_dir,
                          env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(code_dir)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--surprise" in proc.stderr


def test_spot_trial_resumes_from_its_checkpoint(tmp_path: Path):
    """`spot = true`: the trial keeps its state in --checkpoints and resumes from it."""
    pytest.importorskip("sklearn")
    ir = IRS["churn_scoring"]
    p = ir["pipelines"][0]
    tune = next(s for s in p["steps"] if s["kind"] == "tune")
    assert tune["spot"] and "checkpoints" in [f.name for f in script_flags(tune)]
    data = run_pipeline(ir, {**p, "steps": [s for s in p["steps"] if s["kind"] in ("validate", "process")]}, tmp_path)
    ckpt = tmp_path / "ckpt"
    paths = {"train": str(data["step.features.outputs.train"]), "checkpoints": str(ckpt)}
    for n in ("model", "metrics"):
        paths[n] = str(tmp_path / f"a-{n}")
    first = run_script(tune, paths, _trial(tune))
    assert first.returncode == 0, first.stderr
    assert (ckpt / "mlp.joblib").exists()
    for n in ("model", "metrics"):
        paths[n] = str(tmp_path / f"b-{n}")
    again = run_script(tune, paths, _trial(tune))
    assert again.returncode == 0 and "resuming from" in again.stderr


# ---------------------------------------------------------------- modules, imported from their code folder
def load(rel: str):
    path = SPECS_DIR / rel
    sys.path.insert(0, str(path.parent))
    try:
        for mod in ("common", "model_io", "prepare"):
            sys.modules.pop(mod, None)
        spec = importlib.util.spec_from_file_location("mlspec_example_" + rel.replace("/", "_")[:-3], path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(path.parent))


def test_auc_matches_a_brute_force_count():
    rng = random.Random(7)
    mods = [load(f"{d}/src/common.py") for d in ("fraud_detection", "churn", "recommendations")]
    for _ in range(100):
        n = rng.randint(2, 25)
        labels = [rng.randint(0, 1) for _ in range(n)]
        if len(set(labels)) < 2:
            continue
        scores = [rng.choice([0.1, 0.5, 0.9, rng.random()]) for _ in range(n)]
        pos = [s for s, y in zip(scores, labels) if y]
        neg = [s for s, y in zip(scores, labels) if not y]
        expected = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg) / (len(pos) * len(neg))
        for m in mods:
            assert m.roc_auc(labels, scores) == pytest.approx(expected)


def test_evaluation_document_shape(tmp_path: Path):
    common = load("fraud_detection/src/common.py")
    path = common.write_evaluation(str(tmp_path / "m"), {"f1": 0.5, "auc": 0.75}, ["auc"])
    assert json.loads(Path(path).read_text()) == {"metrics": {"auc": {"value": 0.75}}}
    with pytest.raises(KeyError):
        common.evaluation_document({"f1": 0.5}, ["f1", "no_such_metric"])


def test_fraud_threshold_metrics():
    m = load("fraud_detection/src/evaluate.py")
    got = m.compute_metrics([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1], threshold=0.5)
    assert got == pytest.approx({"f1": 0.5, "precision": 0.5, "recall": 0.5, "auc": 0.75})


def test_churn_metrics_at_the_targeted_share():
    m = load("churn/src/evaluate.py")
    labels = [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    scores = [0.9, 0.8, 0.7, 0.1, 0.2, 0.3, 0.1, 0.1, 0.05, 0.4]
    got = m.compute_metrics(labels, scores, target_rate=0.3)  # top 3 flagged: 1, 0, 1
    assert got["precision"] == pytest.approx(2 / 3)
    assert got["recall"] == pytest.approx(2 / 3)
    assert got["lift"] == pytest.approx((2 / 3) / 0.3)


def test_fraud_mcc_groups_reach_every_group():
    """A range nested in another (digital goods inside 5600-5999) is matched, not shadowed."""
    m = load("fraud_detection/src/prepare.py")
    assert [m.mcc_group(c) for c in (5814, 5815, 5818, 5819, 5651)] == \
        ["auto_apparel", "digital_goods", "digital_goods", "auto_apparel", "auto_apparel"]
    for name, lo, hi in m.MCC_GROUPS:
        assert m.mcc_group(lo) == name and m.mcc_group(hi) == name, name


def test_data_files_skip_bookkeeping(tmp_path: Path):
    """A tool's metadata next to the data (`.mlspec/validation.json`, `_SUCCESS`) is not read as data."""
    common = load("recommendations/src/common.py")
    (tmp_path / ".mlspec").mkdir()
    (tmp_path / ".mlspec" / "validation.json").write_text("{}")
    (tmp_path / "_SUCCESS").write_text("")
    (tmp_path / "part").mkdir()
    (tmp_path / "part" / "a.jsonl").write_text('{"ts": 1767225600, "clicked": 1}\n')
    (tmp_path / "b.csv").write_text("ts,clicked\n1767225601,0\n")
    assert [Path(f).relative_to(tmp_path).as_posix() for f in common.data_files(str(tmp_path))] == \
        ["b.csv", "part/a.jsonl"]
    assert len(common.read_table(str(tmp_path))) == 2


def test_ranking_metrics_per_user():
    m = load("recommendations/src/evaluate.py")
    got = m.compute_metrics([1, 0, 0, 1, 0, 1], [0.9, 0.8, 0.1, 0.2, 0.7, 0.3], ["a", "a", "a", "b", "b", "b"], k=2)
    b_ndcg = (1 / 1.584962500721156) / (1 + 1 / 1.584962500721156)
    assert got["ndcg"] == pytest.approx((1 + b_ndcg) / 2)
    assert got["recall"] == pytest.approx((1 + 0.5) / 2)
    assert got["mrr"] == pytest.approx((1 + 0.5) / 2)


def test_fraud_serving_handler_follows_the_serving_contract(runs, tmp_path: Path):
    """`load(model_dir)` once, `predict(model, rows)` -> one probability per row."""
    model_dir = runs["fraud_detection/training"]["step.train.outputs.model"]
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    serve = load("fraud_detection/src/serve.py")
    sys.path.insert(0, str(SPECS_DIR / "fraud_detection/src"))
    try:
        model = serve.load(str(copy))
        rows = [{"transaction_id": "t1", "amount": 12.5, "merchant_mcc": 5816, "country": "US", "card_present": False},
                {"transaction_id": "t2", "amount": 900.0, "merchant_mcc": 3001, "country": "DE", "card_present": True}]
        got = serve.predict(model, rows)
    finally:
        sys.path.remove(str(SPECS_DIR / "fraud_detection/src"))
        sys.modules.pop("prepare", None)
    assert len(got) == 2 and all(isinstance(p, float) and 0.0 <= p <= 1.0 for p in got)


def test_the_examples_share_one_common_module():
    """Each example ships its own `src/common.py` (its code folder is self-contained, so a user can
    copy one example), but the three are one module: a fix made in one must reach the others."""
    texts = {d: (SPECS_DIR / d / "src" / "common.py").read_bytes() for d in ("fraud_detection", "churn", "recommendations")}
    assert len(set(texts.values())) == 1, "specs/*/src/common.py differ: copy the fixed one to the other examples"
