"""The example systems' source scripts honour the script contract (docs/ir.md).

The ML frameworks are not installed here, so the scripts are never run end to end.
Instead, for every script each spec in specs/ references:
- it parses, is a real program (argparse, a `__main__` guard) and imports no ML
  library at module level (the import below blocks them);
- its argument parser accepts every option a target passes: `--<input name>` for each
  input, `--<output>` for each declared output, `--model` where a model goes in or out,
  and `--<name> <value>` for each `args` / `hyperparameters` / tuning range entry;
- an evaluate script computes every metric its step declares (its pure-Python
  `compute_metrics` runs on tiny data) and writes `evaluation.json` in the contract's
  shape.
"""
from __future__ import annotations

import ast
import importlib.abc
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from mlspec.compiler import api

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.mlspec"))
ML_LIBS = ("numpy", "pandas", "pyarrow", "sklearn", "xgboost", "torch", "tensorflow", "joblib", "hypertune")


def _irs() -> list[tuple[Path, dict]]:
    out = []
    for spec in SPECS:
        res = api.build_irs(str(spec))
        assert res.ok, f"{spec.name} does not check: {[d.summary for d in res.diagnostics]}"
        out.extend((spec, ir) for ir in res.irs.values())
    return out


IRS = _irs()


def _steps() -> list[tuple[Path, dict]]:
    """Every step with a script, once per (spec, step) across environments."""
    seen: dict[tuple[str, str], tuple[Path, dict]] = {}
    for spec, ir in IRS:
        for p in ir["pipelines"]:
            for s in p["steps"]:
                if s.get("script") or s.get("entry_point"):
                    seen.setdefault((spec.name, s["id"]), (spec, s))
    return [seen[k] for k in sorted(seen)]


STEPS = _steps()
SCRIPTS = sorted({(spec.parent / (s.get("script") or s["entry_point"])) for spec, s in STEPS})


class _BlockML(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ML_LIBS:
            raise ImportError(f"{name} imported at module level")
        return None


def load(path: Path):
    """Import a script as a module while ML libraries are unavailable."""
    blocker = _BlockML()
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k.split(".")[0] in ML_LIBS}
    sys.meta_path.insert(0, blocker)
    try:
        name = "mlspec_example_" + "_".join(path.relative_to(ROOT / "specs").with_suffix("").parts)
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.meta_path.remove(blocker)
        sys.modules.update(saved)


def input_name(ref: str) -> str:
    """The option name a target uses for an input: the referenced output, or the dataset name."""
    return ref.split(".")[-1]


def test_every_spec_references_scripts():
    assert len(SPECS) >= 3
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT / "specs")))
def test_script_is_a_real_program(path: Path):
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(path))
    assert ast.get_docstring(tree), "a script opens with a docstring saying what it does"
    assert len(text.splitlines()) >= 60, "still a placeholder?"
    imports = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imports |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert "argparse" in imports
    top_level = {a.name.split(".")[0] for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    top_level |= {n.module.split(".")[0] for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
    assert not top_level & set(ML_LIBS), "ML libraries are imported inside functions, not at module level"
    guards = [n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test)]
    assert guards, "a script runs from an `if __name__ == \"__main__\":` guard"
    mod = load(path)
    assert callable(getattr(mod, "main", None)) and callable(getattr(mod, "parse_args", None))


def _argv(step: dict) -> tuple[list[str], dict[str, str]]:
    """The command line a target builds for a step (docs/ir.md, script contract)."""
    argv: list[str] = []
    expect: dict[str, str] = {}

    def add(name: str, value: str) -> None:
        argv.extend([f"--{name}", value])
        expect[name] = value

    k = step["kind"]
    for ref in step.get("inputs") or []:
        add(input_name(ref), f"/in/{input_name(ref)}")
    if k == "process":
        for out in step["outputs"]:
            add(out, f"/out/{out}")
        for key, v in step["args"].items():
            add(key, str(v))
    if k in ("train", "tune"):
        add("model", "/out/model")
        for key, v in step["hyperparameters"].items():
            add(key, str(v))
    if k == "tune":
        for key, r in step["ranges"].items():
            add(key, str(r["min"] if r["type"] != "categorical" else r["values"][0]))
    if k == "evaluate":
        add("model", "/in/model")
        add(input_name(step["data"]), "/in/data")
        add("metrics", "/out/metrics")
    return argv, expect


@pytest.mark.parametrize("spec,step", STEPS, ids=lambda x: x.name if isinstance(x, Path) else x.get("id"))
def test_script_accepts_the_contract_options(spec: Path, step: dict):
    mod = load(spec.parent / (step.get("script") or step["entry_point"]))
    argv, expect = _argv(step)
    args = mod.parse_args(argv)
    for name, value in expect.items():
        got = getattr(args, name)
        assert str(got) == value or float(got) == float(value), f"--{name}: {got!r} != {value!r}"
    # the dashed spelling works too (targets differ on flag style)
    dashed = [a.replace("_", "-") if a.startswith("--") else a for a in argv]
    mod.parse_args(dashed)


EVALUATE_STEPS = [(spec, s) for spec, s in STEPS if s["kind"] == "evaluate"]


@pytest.mark.parametrize("spec,step", EVALUATE_STEPS, ids=lambda x: x.name if isinstance(x, Path) else x.get("id"))
def test_evaluate_script_writes_every_declared_metric(spec: Path, step: dict, tmp_path: Path):
    mod = load(spec.parent / step["script"])
    declared = step["metrics"]
    assert set(declared) <= set(mod.METRICS)
    labels = [1, 0, 1, 0, 0, 1, 0, 0, 1, 0]
    scores = [0.9, 0.8, 0.7, 0.35, 0.3, 0.6, 0.2, 0.1, 0.4, 0.05]
    metrics = mod.compute_metrics(labels, scores)
    for name in declared:
        assert isinstance(metrics[name], float) and 0.0 <= metrics[name] <= 1.0, (name, metrics[name])
    path = mod.write_evaluation(str(tmp_path / "metrics"), metrics, declared)
    assert Path(path) == tmp_path / "metrics" / "evaluation.json"
    doc = json.loads(Path(path).read_text())
    assert set(doc) == {"metrics"}
    assert sorted(doc["metrics"]) == sorted(declared)
    for name in declared:
        assert set(doc["metrics"][name]) == {"value"} and isinstance(doc["metrics"][name]["value"], float)
    with pytest.raises(KeyError):
        mod.evaluation_document(metrics, declared + ["no_such_metric"])


def _evaluate_module(rel: str):
    return load(ROOT / "specs" / rel)


def test_auc_matches_a_brute_force_count():
    import random

    rng = random.Random(7)
    mods = [_evaluate_module(p) for p in ("fraud_detection/src/evaluate.py", "churn/src/evaluate.py",
                                         "recommendations/src/evaluate.py")]
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


def test_fraud_threshold_metrics():
    m = _evaluate_module("fraud_detection/src/evaluate.py")
    got = m.compute_metrics([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1], threshold=0.5)
    assert got == pytest.approx({"f1": 0.5, "precision": 0.5, "recall": 0.5, "auc": 0.75})


def test_churn_metrics_at_the_targeted_share():
    m = _evaluate_module("churn/src/evaluate.py")
    labels = [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    scores = [0.9, 0.8, 0.7, 0.1, 0.2, 0.3, 0.1, 0.1, 0.05, 0.4]
    got = m.compute_metrics(labels, scores, target_rate=0.3)  # top 3 flagged: 1, 0, 1
    assert got["precision"] == pytest.approx(2 / 3)
    assert got["recall"] == pytest.approx(2 / 3)
    assert got["lift"] == pytest.approx((2 / 3) / 0.3)


def test_ranking_metrics_per_user():
    m = _evaluate_module("recommendations/src/evaluate.py")
    got = m.compute_metrics([1, 0, 0, 1, 0, 1], [0.9, 0.8, 0.1, 0.2, 0.7, 0.3], ["a", "a", "a", "b", "b", "b"], k=2)
    # user a: the click ranks first (ndcg 1, recall 1); user b ranks [0, 1] in its top 2 of two clicks
    b_ndcg = (1 / 1.584962500721156) / (1 + 1 / 1.584962500721156)
    assert got["ndcg"] == pytest.approx((1 + b_ndcg) / 2)
    assert got["recall"] == pytest.approx((1 + 0.5) / 2)
    assert got["mrr"] == pytest.approx((1 + 0.5) / 2)


# ---------------------------------------------------------------- data preparation, end to end (needs pandas)
def _rows(n: int, seed: int):
    import random

    rng = random.Random(seed)
    return rng, n


def test_fraud_prepare_end_to_end(tmp_path: Path):
    pd = pytest.importorskip("pandas")
    rng, n = _rows(300, 1)
    (tmp_path / "in").mkdir()
    pd.DataFrame({
        "transaction_id": [f"t{i}" for i in range(n)],
        "amount": [round(rng.random() * 500, 2) for _ in range(n)],
        "merchant_mcc": [rng.choice([3001, 5816, 6011, 7000, 9999]) for _ in range(n)],
        "country": [rng.choice(["US", "GB", "DE"]) for _ in range(n)],
        "card_present": [rng.choice([True, False]) for _ in range(n)],
        "is_fraud": [int(rng.random() < 0.2) for _ in range(n)],
    }).to_csv(tmp_path / "in" / "part-0.csv", index=False)
    prepare = load(ROOT / "specs/fraud_detection/src/prepare.py")
    train_mod = load(ROOT / "specs/fraud_detection/src/train.py")
    assert prepare.main(["--data", str(tmp_path / "in"), "--train", str(tmp_path / "train"),
                         "--test", str(tmp_path / "test"), "--output-format", "csv"]) == 0
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == ["train.csv"]  # data files only
    train = train_mod.read_table(str(tmp_path / "train"))
    test = train_mod.read_table(str(tmp_path / "test"))
    assert len(train) + len(test) == n and set(train.transaction_id).isdisjoint(test.transaction_id)
    spec = train_mod.feature_spec(train)
    assert {"transaction_id", "is_fraud", "country"}.isdisjoint(spec["features"])
    assert "country" in test.columns, "the bias check's facet column stays in the data"
    assert {"log_amount", "country_us", "mcc_digital_goods"} <= set(spec["features"])


def test_churn_features_end_to_end(tmp_path: Path):
    pd = pytest.importorskip("pandas")
    rng, n = _rows(300, 2)
    (tmp_path / "in").mkdir()
    pd.DataFrame({
        "subscriber_id": [f"s{i}" for i in range(n)],
        "tenure_months": [rng.randint(0, 60) for _ in range(n)],
        "monthly_spend": [rng.random() * 80 for _ in range(n)],
        "plan": [rng.choice(["basic", "plus", "premium"]) for _ in range(n)],
        "support_calls": [rng.randint(0, 6) for _ in range(n)],
        "churned": [rng.randint(0, 1) for _ in range(n)],
    }).to_csv(tmp_path / "in" / "snapshot.csv", index=False)
    features = load(ROOT / "specs/churn/src/features.py")
    gbm = load(ROOT / "specs/churn/src/train_gbm.py")
    nn = load(ROOT / "specs/churn/src/train_nn.py")
    assert features.main(["--data", str(tmp_path / "in"), "--train", str(tmp_path / "train"),
                          "--test", str(tmp_path / "test"), "--window_days", "90", "--output_format", "csv"]) == 0
    train = gbm.read_table(str(tmp_path / "train"))
    assert (train.tenure_months * 30 >= 90).all(), "subscribers younger than the window are dropped"
    spec = gbm.feature_spec(train)
    assert spec == nn.feature_spec(nn.read_table(str(tmp_path / "train"))), "both models see the same columns"
    assert {"plan_basic", "plan_plus", "plan_premium", "support_calls_per_month"} <= set(spec["features"])


def test_recommendations_split_end_to_end(tmp_path: Path):
    pytest.importorskip("pandas")
    import datetime

    rng, n = _rows(2000, 3)
    base = datetime.datetime(2026, 11, 1)
    (tmp_path / "in").mkdir()
    with open(tmp_path / "in" / "events.jsonl", "w", encoding="utf-8") as f:
        for _ in range(n):
            f.write(json.dumps({
                "user_id": f"u{rng.randint(0, 40)}", "item_id": f"i{rng.randint(0, 60)}",
                "age_band": rng.choice(["18-24", "25-34", "35-54", "55+"]), "region": rng.choice(["eu", "us"]),
                "ts": (base + datetime.timedelta(hours=rng.randint(0, 30 * 24))).isoformat(),
                "clicked": int(rng.random() < 0.3)}) + "\n")
    split = load(ROOT / "specs/recommendations/src/split.py")
    evaluate = load(ROOT / "specs/recommendations/src/evaluate.py")
    assert split.main(["--data", str(tmp_path / "in"), "--train", str(tmp_path / "train"),
                       "--holdout", str(tmp_path / "holdout"), "--holdout_days", "7", "--output_format", "csv"]) == 0
    train = evaluate.read_table(str(tmp_path / "train"))
    holdout = evaluate.read_table(str(tmp_path / "holdout"))
    assert train.ts.max() < holdout.ts.min(), "the holdout is strictly later than training"
    assert set(holdout.user_id) <= set(train.user_id) and set(holdout.item_id) <= set(train.item_id)
    per_user = holdout.groupby("user_id").clicked.agg(["sum", "count"])
    assert ((per_user["sum"] > 0) & (per_user["sum"] < per_user["count"])).all(), "every holdout user is rankable"
