"""mlspec's Azure ML step scripts run as the components run them (`python _mlspec/<x>.py --config ...`
from the code snapshot), on tiny local data: the gate decides from evaluation.json, the data
validator passes and fails the way the spec's checks say. No cloud access."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlspec.targets.azureml.lower import _template

SCRIPTS = ("_common", "gate", "validate_data")


@pytest.fixture
def snapshot(tmp_path) -> Path:
    code = tmp_path / "code"
    (code / "_mlspec").mkdir(parents=True)
    for s in SCRIPTS:
        (code / "_mlspec" / f"{s}.py").write_text(_template(f"code/_mlspec/{s}.py"))
    return code


def _run(code: Path, script: str, config: dict, *args: str) -> subprocess.CompletedProcess:
    (code / "cfg.json").write_text(json.dumps(config))
    return subprocess.run([sys.executable, f"_mlspec/{script}.py", "--config", "cfg.json", *args],
                          cwd=code, capture_output=True, text=True, timeout=120)


def _evaluation(folder: Path, **metrics: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "evaluation.json").write_text(json.dumps({"metrics": {k: {"value": v} for k, v in metrics.items()}}))
    return folder


GATE = {"gate": "quality", "uses_champion": False, "champion_model": None, "metric_inputs": ["evaluate_metrics"],
        "requires": [{"text": "step.evaluate.metrics.f1 >= 0.95", "op": ">=",
                      "left": {"metric": {"step": "step.evaluate", "name": "f1"}}, "right": {"number": 0.95}},
                     {"text": "step.evaluate.metrics.auc >= 0.9 + 0.01", "op": ">=",
                      "left": {"metric": {"step": "step.evaluate", "name": "auc"}},
                      "right": {"binary": {"op": "+", "left": {"number": 0.9}, "right": {"number": 0.01}}}}]}


def test_gate_passes_and_records_the_decision(snapshot, tmp_path):
    metrics = _evaluation(tmp_path / "m", f1=0.97, auc=0.93)
    out = _run(snapshot, "gate", GATE, "--evaluate_metrics", str(metrics), "--decision", str(tmp_path / "d"))
    assert out.returncode == 0, out.stderr
    decision = json.loads((tmp_path / "d" / "decision.json").read_text())
    assert decision["passed"] is True and [r["passed"] for r in decision["results"]] == [True, True]


def test_gate_fails_the_job(snapshot, tmp_path):
    metrics = _evaluation(tmp_path / "m", f1=0.90, auc=0.95)
    out = _run(snapshot, "gate", GATE, "--evaluate_metrics", str(metrics), "--decision", str(tmp_path / "d"))
    assert out.returncode == 1 and "step.evaluate.metrics.f1 >= 0.95" in out.stderr


def test_gate_thresholds_are_inputs(snapshot, tmp_path):
    """As compiled: the config holds the requirements' shape, the pipeline binds the thresholds."""
    from mlspec.targets.azureml.jobs import gate_parameters

    requires, values = gate_parameters({"requires": GATE["requires"] + [
        {"text": "-step.evaluate.metrics.loss > -(0.5 - 0.25)", "op": ">",
         "left": {"negate": {"metric": {"step": "step.evaluate", "name": "loss"}}},
         "right": {"negate": {"binary": {"op": "-", "left": {"number": 0.5}, "right": {"number": 0.25}}}}}]})
    assert values == {"threshold_1": 0.95, "threshold_2": 0.9, "threshold_3": 0.01, "threshold_4": 0.5,
                      "threshold_5": 0.25}
    assert [r["text"] for r in requires] == ["step.evaluate.metrics.f1 >= {threshold_1}",
                                             "step.evaluate.metrics.auc >= {threshold_2} + {threshold_3}",
                                             "-step.evaluate.metrics.loss > -({threshold_4} - {threshold_5})"]
    cfg = dict(GATE, requires=requires, thresholds=sorted(values))
    metrics = _evaluation(tmp_path / "m", f1=0.93, auc=0.95, loss=0.2)
    args = [t for k, v in values.items() for t in (f"--{k}", str(v))]
    out = _run(snapshot, "gate", cfg, "--evaluate_metrics", str(metrics), *args, "--decision", str(tmp_path / "d"))
    decision = json.loads((tmp_path / "d" / "decision.json").read_text())
    assert out.returncode == 1 and "step.evaluate.metrics.f1 >= 0.95" in out.stderr  # 0.93 < 0.95
    assert [r["passed"] for r in decision["results"]] == [False, True, True]
    assert decision["results"][2]["require"] == "-step.evaluate.metrics.loss > -(0.5 - 0.25)"
    args[1] = "0.9"  # a threshold edit changes only the value the pipeline binds
    out = _run(snapshot, "gate", cfg, "--evaluate_metrics", str(metrics), *args, "--decision", str(tmp_path / "e"))
    assert out.returncode == 0, out.stderr


CHECKS = {"dataset": "t", "format": "csv", "version": "1",
          "schema": [{"name": "amount", "type": "float", "nullable": False, "role": "feature", "min": 0,
                      "max": None, "allowed": None},
                     {"name": "label", "type": "int", "nullable": False, "role": "label", "min": None,
                      "max": None, "allowed": [0, 1]}],
          "checks": {"max_null_fraction_percent": 1.0, "min_rows": 3, "max_duplicate_percent": None,
                     "max_staleness_s": None}}


@pytest.mark.parametrize("rows,ok", [("1.0,0\n2.0,1\n3.5,0\n", True), ("1.0,0\n-2.0,1\n3.5,0\n", False),
                                     ("1.0,0\n2.0,7\n", False)])
def test_validate_data(snapshot, tmp_path, rows, ok):
    src = tmp_path / "src"
    src.mkdir()
    (src / "part.csv").write_text("amount,label\n" + rows)
    out = _run(snapshot, "validate_data", CHECKS, "--source", str(src), "--data", str(tmp_path / "out"))
    assert (out.returncode == 0) is ok, out.stderr
    if ok:
        assert (tmp_path / "out" / "part.csv").is_file()


def test_track_wrapper_runs_the_script_with_its_arguments(snapshot, tmp_path):
    (snapshot / "_mlspec" / "track.py").write_text(_template("code/_mlspec/track.py"))
    (snapshot / "src").mkdir()
    (snapshot / "src" / "train.py").write_text(
        "import json, sys\nif __name__ == '__main__':\n    json.dump(sys.argv, open('argv.json', 'w'))\n")
    cfg = {"tags": {"mlspec-code-sha256": "cd"}, "params": {"eta": 0.2}, "autolog": False, "code_dir": "src"}
    (snapshot / "cfg.json").write_text(json.dumps({"other": {}, "train": cfg}))  # the pipeline's file, by step
    out = subprocess.run([sys.executable, "_mlspec/track.py", "--config", "cfg.json", "--step", "train", "src/train.py",
                          "--train", "/data", "--eta", "0.2"], cwd=snapshot, capture_output=True, text=True,
                         timeout=120, env={"PATH": "/usr/bin:/bin", "MLFLOW_TRACKING_URI": f"file://{tmp_path}/mlruns",
                                              "MLFLOW_ALLOW_FILE_STORE": "true", "HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    argv = json.loads((snapshot / "src" / "argv.json").read_text())   # cwd = the step's code folder
    assert argv[1:] == ["--train", "/data", "--eta", "0.2"] and argv[0].endswith("src/train.py")
