"""Step output formats on Azure ML (issue 10.2, `pipelines[].steps[].output_formats`).

mlspec's helper jobs read a step's output in its declared format -- csv with a header row,
parquet, jsonl -- whatever the part files are called: the bias check, the explanation, batch
scoring (and validate, a dataset in its `format`). Monitors read their baseline as an MLTable
whose read transformation follows the dataset's format. A format a reader cannot read is E505
at compile time. User scripts get the contract's command line unchanged (no format flag: a
script is told the format by its own `args`, docs/language.md "The script contract").

Checked through `mlspec compile` and `mlspec run --target azureml` (azure-ai-ml's loaders judge
the pipeline job), MLTable documents with azure-ai-ml's MLTable loader.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import az_helpers
from mlspec.compiler import contract

SPEC = Path(__file__).with_name("formats") / "formats.mlspec"


def _mlspec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlspec", *args], capture_output=True, text=True,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("formats-build")
    p = _mlspec("compile", str(SPEC), "--target", "azureml", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    return out / "azureml" if (out / "azureml").is_dir() else out


def test_helper_jobs_are_told_the_declared_format(compiled):
    config = json.loads((compiled / "code/_mlspec/config/dev/train.json").read_text())
    assert config["fairness"]["data_format"] == "jsonl"   # step.split.outputs.holdout
    assert config["why"]["data_format"] == "parquet"      # step.split.outputs.train
    assert config["scored"]["data_format"] == "jsonl"
    assert config["validate"]["format"] == "csv"          # the dataset's own format
    # the user scripts get exactly the contract's command line: no format flag is added
    job = yaml.safe_load((compiled / "dev/pipelines/train/components/split.yml").read_text())
    assert "format" not in job["command"]
    ir = json.loads(_mlspec("ir", str(SPEC), "--env", "dev").stdout)
    split = next(s for s in ir["pipelines"][0]["steps"] if s["name"] == "split")
    assert [f.name for f in contract.script_flags(split)] == ["data", "train", "holdout"]
    assert split["output_formats"] == {"train": "parquet", "holdout": "jsonl"}


@pytest.mark.run_e2e
def test_run_reads_parquet_and_jsonl_outputs_in_their_declared_format(tmp_path):
    """split writes `part-00000` files (no extension): parquet to train, JSON lines to holdout;
    fairness and scoring read the jsonl rows, the explanation the parquet rows."""
    work = tmp_path / "w"
    p = _mlspec("run", str(SPEC), "--target", "azureml", "--env", "dev", "--format", "json", "--workdir", str(work))
    assert "Traceback" not in p.stderr, p.stderr
    doc = json.loads(p.stdout)
    assert p.returncode == 0, (doc, p.stderr[-3000:])
    assert {s["name"]: s["status"] for s in doc["steps"]} == {
        n: "succeeded" for n in ("validate", "split", "fit", "score", "fairness", "why", "scored", "good_enough",
                                 "register")}
    steps = work / "azureml/dev/train/work/steps"
    assert sorted(f.name for f in (steps / "split/outputs/holdout").iterdir()) == ["part-00000"]
    bias = json.loads((steps / "fairness/outputs/report/bias.json").read_text())
    assert bias["rows"] == 120 and bias["data_format"] == "jsonl"   # every holdout row (240 rows, every other)
    assert sorted(bias["disparity"]["band"]["values"]) == ["18-34", "35-54", "55+"]
    shap = json.loads((steps / "why/outputs/report/shap.json").read_text())
    assert shap["data_format"] == "parquet" and shap["rows"] == 100   # the explained sample of the train rows
    assert set(shap["mean_abs_shap"]) == {"x1", "x2"} and shap["mean_abs_shap"]["x1"] > 0
    import pandas as pd
    scored = pd.read_csv(steps / "scored/outputs/predictions/predictions.csv")
    assert len(scored) == 120 and set(scored["prediction"]) <= {0, 1}
    assert doc["registered"] == [{"model": "clf", "version": "1", "status": "approved"}]


# ---------------------------------------------------------------- what cannot be read: E505
def _errors(irs: list[dict]) -> list:
    return [d for d in az_helpers.lower(irs).diagnostics if d.code == "E505"]


def test_a_format_the_helpers_cannot_read_is_refused(max_irs):
    irs = copy.deepcopy(max_irs)
    for ir in irs:
        ir["datasets"][0]["format"] = "tfrecord"   # transactions: validate -> prepare; the baseline
        steps = {s["name"]: s for s in ir["pipelines"][0]["steps"]}
        steps["validate"]["output_formats"] = {"data": "tfrecord"}
        steps["fairness"]["data"] = "step.validate.outputs.data"
        steps["prepare"]["output_formats"] = {"train": "parquet", "test": "csv"}
    errs = _errors(irs)
    by_id = {}
    for d in errs:
        by_id.setdefault(d.ir_id, []).append(d.summary)
    assert any("data checks of step `validate`" in s and "`tfrecord`" in s for s in by_id["step.validate"])
    assert any("bias_check step `fairness`" in s and "`step.validate.outputs.data` is `tfrecord`" in s
               for s in by_id["step.fairness"])
    assert any("MLTable" in s and "tfrecord" in s for s in by_id["monitor.input_drift"])
    assert "step.explain" not in by_id and "step.score_holdout" not in by_id  # csv: readable


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl", "delta"])
def test_monitor_reference_mltable_reads_the_baseline_format(max_irs, tmp_path, fmt):
    from azure.ai.ml.entities._data.mltable_metadata import MLTableMetadata

    irs = copy.deepcopy(max_irs)
    for ir in irs:
        ir["datasets"][0]["format"] = fmt
    low = az_helpers.lower(irs)
    assert not [d for d in low.diagnostics if d.code == "E505" and d.ir_id == "monitor.input_drift"]
    build = az_helpers.write(low, irs, tmp_path / "b")
    path = build / "prod/monitors/reference/transactions/MLTable"
    table = MLTableMetadata.load(path)   # azure-ai-ml's MLTable loader (paths + transformations)
    assert [(p.type, p.value) for p in table.paths] == [
        ("folder", "azureml://datastores/workspaceblobstore/paths/fraud/transactions/")]
    expect = {"parquet": "read_parquet", "csv": "read_delimited", "jsonl": "read_json_lines",
              "delta": "read_delta_lake"}[fmt]
    assert [next(iter(t)) for t in table.transformations] == [expect]
    if fmt == "csv":  # csv has a header row in every file
        assert table.transformations[0]["read_delimited"]["header"] == "all_files_same_headers"


def test_read_table_reads_parts_by_declared_format_not_by_name(tmp_path):
    """The helpers' reader (shipped as code/_mlspec/_common.py): every part file in the declared
    format, skipping hidden files, `_SUCCESS` markers and the Delta log."""
    import importlib.util

    import pandas as pd
    from mlspec.targets.azureml.lower import _template

    mod_path = tmp_path / "_common.py"
    mod_path.write_text(_template("code/_mlspec/_common.py"))
    spec = importlib.util.spec_from_file_location("_common_formats", mod_path)
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    for fmt, write in (("parquet", lambda f: frame.to_parquet(f, index=False)),
                       ("csv", lambda f: frame.to_csv(f, index=False)),
                       ("jsonl", lambda f: frame.to_json(f, orient="records", lines=True))):
        folder = tmp_path / fmt
        folder.mkdir()
        write(folder / "part-00000")
        write(folder / "part-00001")
        (folder / "_SUCCESS").write_text("")
        (folder / ".part-00000.crc").write_bytes(b"\0\1")
        got = common.read_table(str(folder), fmt)
        assert got.to_dict("list") == {"a": [1, 2, 3, 1, 2, 3], "b": ["x", "y", "z", "x", "y", "z"]}, fmt
        assert common.read_table(str(folder)).empty   # undeclared: by extension, and these have none
    delta = tmp_path / "delta"
    (delta / "_delta_log").mkdir(parents=True)
    (delta / "_delta_log" / "00000.json").write_text("{}")
    frame.to_parquet(delta / "part-0.snappy.parquet", index=False)
    assert len(common.read_table(str(delta), "delta")) == 3
    with pytest.raises(ValueError, match="tfrecord"):
        common.read_table(str(delta), "tfrecord")
