"""mlspec run: the neutral engine and the executors' vendor-judged pieces (fast, no pipeline)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlspec.compiler.run import engine
from mlspec.compiler.run.engine import RunContext, StepFailed
from testkit import ROOT

MLSPEC = [sys.executable, "-m", "mlspec"]


def _ctx(tmp_path: Path) -> RunContext:
    return RunContext(workdir=tmp_path / "work", python=sys.executable, spec_dir=tmp_path, build_dir=tmp_path,
                      environment="dev", pipeline="p", ir={}, data={})


def test_dag_order_declaration_order_late_nodes_and_cycles():
    deps = {"b": {"a"}, "c": {"a"}, "fail": {"a"}, "d": {"b"}}
    assert engine.dag_order(["a", "fail", "b", "c", "d"], deps) == ["a", "fail", "b", "c", "d"]
    assert engine.dag_order(["a", "fail", "b", "c", "d"], deps, late=["fail"]) == ["a", "b", "c", "d", "fail"]
    with pytest.raises(engine.RunError, match="cycle"):
        engine.dag_order(["x", "y"], {"x": {"y"}, "y": {"x"}})


def test_cloud_paths_are_remapped_in_argv_env_and_hard_coded_python(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(
        "import os, sys, glob\n"
        "open(sys.argv[1] + '/from_argv.txt', 'w').write(os.environ['OUT'])\n"
        "os.makedirs('/opt/ml/processing/output/x', exist_ok=True)\n"
        "open('/opt/ml/processing/output/x/hard.txt', 'w').write('hard-coded')\n"
        "print(sorted(os.path.basename(p) for p in glob.glob('/opt/ml/processing/output/**/*', recursive=True)))\n")
    ctx = _ctx(tmp_path)
    root = tmp_path / "container"
    (root / "out").mkdir(parents=True)
    out = ctx.exec_script("s", ["python3", str(script), "/opt/ml/out"], env={"OUT": "/opt/ml/out/f"},
                          remap={"/opt/ml": root})
    assert (root / "out/from_argv.txt").read_text() == str(root / "out/f")
    assert (root / "processing/output/x/hard.txt").read_text() == "hard-coded"
    assert "['hard.txt', 'x']" in out


def test_parquet_and_xgboost_native_io_are_remapped(tmp_path):
    pytest.importorskip("pyarrow")
    script = tmp_path / "s.py"
    script.write_text(
        "import pandas as pd\n"
        "pd.DataFrame({'a': [1, 2]}).to_parquet('/gcs/b/t.parquet')\n"
        "print(len(pd.read_parquet('/gcs/b/t.parquet')))\n")
    (tmp_path / "gcs/b").mkdir(parents=True)
    out = _ctx(tmp_path).exec_script("s", ["python", str(script)], remap={"/gcs": tmp_path / "gcs"})
    assert (tmp_path / "gcs/b/t.parquet").is_file() and out.strip().endswith("2")


def test_processes_a_step_starts_see_the_mount_and_copytree_works(tmp_path):
    """A FUSE mount is visible to every process of the container: a child started with a cloud
    path as its program, cwd, argument or PYTHONPATH entry runs against the local copy; shutil
    copies a mounted tree (stat, xattr and utime calls go through the mapping)."""
    gcs = tmp_path / "gcs"
    (gcs / "b/code").mkdir(parents=True)
    (gcs / "b/code/helper.py").write_text("VALUE = 'from-helper'\n")
    (gcs / "b/code/child.py").write_text(
        "import os, sys, helper\nprint(helper.VALUE, os.getcwd() == sys.argv[1], open(sys.argv[2]).read())\n")
    (gcs / "b/in").mkdir()
    (gcs / "b/in/x.txt").write_text("payload")
    parent = tmp_path / "parent.py"
    parent.write_text(
        "import os, shutil, subprocess, sys\n"
        "env = dict(os.environ, PYTHONPATH='/gcs/b/code' + os.pathsep + os.environ['PYTHONPATH'])\n"
        "out = subprocess.run([sys.executable, '/gcs/b/code/child.py', os.path.realpath('" + str(gcs / "b/code") + "'),"
        " '/gcs/b/in/x.txt'], cwd='/gcs/b/code', env=env, capture_output=True, text=True, check=True).stdout\n"
        "shutil.copytree('/gcs/b/in', '/gcs/b/out', dirs_exist_ok=True)\n"
        "print(out.strip())\n")
    out = _ctx(tmp_path).exec_script("s", ["python", str(parent)], remap={"/gcs": gcs})
    assert out.strip().endswith("from-helper True payload")
    assert (gcs / "b/out/x.txt").read_text() == "payload"


def test_read_only_mount_refuses_writes_even_for_root(tmp_path):
    ro = tmp_path / "in"
    ro.mkdir()
    (ro / "model.bin").write_text("m")
    engine.make_readonly(ro)
    script = tmp_path / "w.py"
    script.write_text("import sys\nopen(sys.argv[1] + '/card.json', 'w').write('{}')\n")
    with pytest.raises(StepFailed, match="Read-only file system"):
        _ctx(tmp_path).exec_script("w", ["python", str(script), str(ro)], readonly=[ro])
    engine.make_writable(ro)
    assert not (ro / "card.json").exists()


def test_failure_reasons_name_a_missing_framework_or_an_unshipped_module(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src/helpers.py").write_text("")
    py = tmp_path / "m.py"
    py.write_text("import not_a_framework_xyz\n")
    with pytest.raises(StepFailed, match=r"framework `not_a_framework_xyz` is not installed"):
        _ctx(tmp_path).exec_script("m", ["python", str(py)])
    py.write_text("import helpers\n")
    with pytest.raises(StepFailed, match=r"module `helpers` is in the spec's code folder but the artifact did not ship"):
        _ctx(tmp_path).exec_script("m", ["python", str(py)])
    py.write_text("raise ValueError('bad column')\n")
    with pytest.raises(StepFailed, match=r"exit code 1: ValueError: bad column"):
        _ctx(tmp_path).exec_script("m", ["python", str(py)])


def test_report_json_shape_and_exit_code():
    r = engine.RunReport("sagemaker", "dev", "training")
    r.steps = [engine.StepRecord("A", engine.SUCCEEDED, 1.23456), engine.StepRecord("B", engine.NOT_RUNNABLE, 0, "why")]
    r.metrics = {"evaluate": {"f1": 0.9}}
    r.registered = [engine.Registered("m", "1", engine.PENDING)]
    doc = r.as_json()
    assert list(doc) == ["target", "environment", "pipeline", "status", "steps", "metrics", "registered"]
    assert doc["status"] == "succeeded" and r.exit_code == 0
    assert doc["steps"][0] == {"name": "A", "status": "succeeded", "seconds": 1.235, "reason": ""}
    assert doc["registered"] == [{"model": "m", "version": "1", "status": "pending approval"}]
    r.steps.append(engine.StepRecord("C", engine.FAILED, 0, "boom"))
    assert r.as_json()["status"] == "failed" and r.exit_code == 1


@pytest.mark.parametrize("args, message", [
    (["--data", "nonsense"], "expected NAME=PATH"),
    (["--data", "nosuch=/tmp"], "the spec declares no dataset `nosuch`"),
    (["--data", "rows=/does/not/exist"], "does not exist"),
    (["--pipeline", "nosuch"], "no pipeline `nosuch`"),
    (["--python", "/no/such/python"], "no such interpreter"),
])
def test_cli_usage_errors_exit_2_without_traceback(args, message):
    spec = str(ROOT / "tests/run/probe/probe.mlspec")
    p = subprocess.run(MLSPEC + ["run", spec, "--target", "sagemaker", *args], capture_output=True, text=True)
    assert p.returncode == 2, p.stderr
    assert message in p.stderr and "Traceback" not in p.stderr


def test_cli_unknown_target_is_a_usage_error():
    p = subprocess.run(MLSPEC + ["run", str(ROOT / "tests/run/probe/probe.mlspec"), "--target", "sagemakr"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "did you mean `sagemaker`" in p.stderr


def test_cli_spec_errors_are_diagnostics(tmp_path):
    bad = tmp_path / "bad.mlspec"
    bad.write_text("system x { nonsense = 1 }\n")
    p = subprocess.run(MLSPEC + ["run", str(bad), "--target", "sagemaker"], capture_output=True, text=True)
    assert p.returncode == 1 and "bad.mlspec:1:" in p.stderr and "Traceback" not in p.stderr


# ----------------------------------------------------------------------------- vendor judges
def test_vertex_custom_job_payload_is_parsed_as_gcpc_launcher_parses_it():
    pytest.importorskip("google.cloud.aiplatform_v1")
    from mlspec.targets.vertex.run import parse_custom_job

    good = {"display_name": "j", "job_spec": {"worker_pool_specs": [{"container_spec": {
        "image_uri": "i", "command": ["python"], "args": []}, "machine_spec": {"machine_type": "n1-standard-4"},
        "replica_count": "1"}], "network": ""}}
    job = parse_custom_job(json.dumps(good), "p", "l")
    assert job.display_name == "j" and job.job_spec.worker_pool_specs[0].replica_count == 1
    assert "network" not in type(job.job_spec).to_dict(job.job_spec, including_default_value_fields=False)
    with pytest.raises(StepFailed, match="Unknown field for CustomJob: displayName"):
        parse_custom_job(json.dumps({"displayName": "j"}), "p", "l")


def test_vertex_trigger_conditions():
    from mlspec.targets.vertex.run import evaluate_condition

    cond = ("inputs.parameter_values['a'] >= 0.95 && (!inputs.parameter_values['has'] || "
            "inputs.parameter_values['a'] >= (inputs.parameter_values['c'] + 0.01))")
    assert evaluate_condition(cond, {"a": 0.97, "has": False, "c": 0.99})[0] is True
    ok, text = evaluate_condition(cond, {"a": 0.97, "has": True, "c": 0.99})
    assert ok is False and "0.97 >= 0.95" in text


def test_sagemaker_requests_are_checked_against_the_service_model_patterns():
    from mlspec.targets.sagemaker.run import check_request, moto_server

    with moto_server() as m:
        sm = m.client("sagemaker", "us-east-1")
        check_request(sm, "CreateModelPackage", {"ModelPackageGroupName": "g-1",
                                                 "CustomerMetadataProperties": {"mlspec:spec": "abc"}})
        with pytest.raises(StepFailed, match="does not match the pattern"):
            check_request(sm, "CreateModelPackage", {"ModelPackageGroupName": "g_1 bad!"})
        with pytest.raises(StepFailed, match="more than 256"):
            check_request(sm, "CreateModelPackage", {"ModelPackageGroupName": "g",
                                                     "CustomerMetadataProperties": {"k": "v" * 300}})


def test_sagemaker_s3_prefix_semantics(tmp_path):
    from mlspec.targets.sagemaker.run import LocalS3

    s3 = LocalS3(tmp_path / "s3")
    for key in ("code/a/x.py", "out/train/part-0.csv", "out/train/sub/p.csv", "out/training/z.csv"):
        s3.put_bytes(f"s3://b/{key}", b"1")
    s3.download_prefix("s3://b/code/a/x.py", tmp_path / "one")
    assert engine.RunContext and [p.name for p in (tmp_path / "one").iterdir()] == ["x.py"]
    s3.download_prefix("s3://b/out/train", tmp_path / "dir")
    got = sorted(p.relative_to(tmp_path / "dir").as_posix() for p in (tmp_path / "dir").rglob("*") if p.is_file())
    assert got == ["part-0.csv", "sub/p.csv", "training/z.csv"]
