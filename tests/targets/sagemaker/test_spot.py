"""`spot = true` on SageMaker: managed spot training with checkpoints (docs/targets/sagemaker.md).

A spot train/tune step's job request has EnableManagedSpotTraining, a MaxWaitTimeInSeconds
(twice MaxRuntimeInSeconds, at most 28 days, for tuning at most `max_total_runtime`) and a
CheckpointConfig (S3 prefix of the step under the pipeline execution, LocalPath
/opt/ml/checkpoints); botocore's service model accepts the requests; mlspec's launcher gives the
script `--checkpoints` = that LocalPath (a tuning trial: its training job's sub-folder); and
`mlspec run --target sagemaker` restores and saves that folder through the local S3, so a
second attempt of the step in the same execution resumes from what the first one wrote."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from mlspec.compiler import api, contract
from mlspec.compiler.run import engine
from mlspec.targets.sagemaker import SageMaker, requests
from mlspec.targets.sagemaker.run import SageMakerRun, LocalS3

from . import fixtures as fx
from testkit import ROOT


def _steps(d: dict) -> dict[str, dict]:
    return {s["Name"]: s for s in requests.steps(d)}


def _spot_irs(total: int | None = None) -> list[dict]:
    irs = fx.environments()
    for ir in irs:
        for s in ir["pipelines"][0]["steps"]:
            if s["kind"] in ("train", "tune"):
                s["spot"] = True
            if s["kind"] == "tune":
                s["max_runtime_s"] = 3600
                s["max_total_runtime_s"] = total
    return irs


def _definitions(irs) -> dict[str, dict]:
    low = SageMaker().lower(irs, fx.CTX)
    assert not [d for d in low.diagnostics if d.code.startswith("E")], low.diagnostics
    return {a.path: a.content for a in low.artifacts if a.kind == "sagemaker-pipeline"}


def test_churn_tune_nn_is_managed_spot_with_checkpoints_and_botocore_accepts_it(tmp_path):
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        res = api.compile_spec("specs/churn_scoring.mlspec", ["sagemaker"], out=tmp_path)
    finally:
        os.chdir(cwd)
    assert res.ok
    d = json.loads((tmp_path / "sagemaker/pipelines/prod/weekly.json").read_text())
    assert requests.check_definition(d, "weekly.json") == []
    by = _steps(d)
    job = by["TuneNn"]["Arguments"]["TrainingJobDefinition"]
    assert job["EnableManagedSpotTraining"] is True
    stop = job["StoppingCondition"]
    assert stop == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}  # max_runtime = 1h
    ck = job["CheckpointConfig"]
    assert ck["LocalPath"] == "/opt/ml/checkpoints"
    parts = ck["S3Uri"]["Std:Join"]["Values"]
    # under this execution's folder of the artifacts bucket, one prefix per step
    assert parts[:3] == ["s3:/", {"Get": "Parameters.ArtifactsBucket"}, "pipelines"]
    assert {"Get": "Execution.PipelineExecutionId"} in parts and parts[-2:] == ["tune_nn", "checkpoints"]
    hps = job["StaticHyperParameters"]
    assert hps["mlspec_checkpoints"] == "/opt/ml/checkpoints" and hps["mlspec_checkpoints_per_job"] == "true"
    # train_gbm has no `spot`: on-demand, no checkpoints, no --checkpoints
    gbm = by["TrainGbm"]["Arguments"]
    assert "EnableManagedSpotTraining" not in gbm and "CheckpointConfig" not in gbm
    assert "MaxWaitTimeInSeconds" not in gbm["StoppingCondition"]
    assert not any(k.startswith("mlspec_checkpoints") for k in gbm["HyperParameters"])


@pytest.mark.parametrize("total,wait", [(None, 7200), (5400, 5400), (1800, 3600)])
def test_wait_budget_and_requests_of_spot_train_and_tune(total, wait):
    """Tune: 2 x the trial's max_runtime, at most max_total_runtime, never below max_runtime;
    train: 2 x max_runtime (the fixture's 7200 s), at most 28 days."""
    for path, d in _definitions(_spot_irs(total)).items():
        assert requests.check_definition(d, path) == []
        by = _steps(d)
        train = by["Train"]["Arguments"]
        assert train["EnableManagedSpotTraining"] is True
        assert train["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200, "MaxWaitTimeInSeconds": 14400}
        assert train["CheckpointConfig"]["S3Uri"]["Std:Join"]["Values"][-2:] == ["train", "checkpoints"]
        assert "mlspec_checkpoints_per_job" not in train["HyperParameters"]
        tune = by["Tune"]["Arguments"]["TrainingJobDefinition"]
        assert tune["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": wait}


def test_wait_is_capped_at_28_days():
    irs = _spot_irs()
    for ir in irs:
        next(s for s in ir["pipelines"][0]["steps"] if s["kind"] == "train")["max_runtime_s"] = 20 * 86400
    for path, d in _definitions(irs).items():
        stop = _steps(d)["Train"]["Arguments"]["StoppingCondition"]
        assert stop == {"MaxRuntimeInSeconds": 20 * 86400, "MaxWaitTimeInSeconds": 28 * 86400}
        assert requests.check_definition(d, path) == []


def test_the_model_would_reject_a_wait_below_one_second():
    """The checks above are not vacuous: the same validator rejects a broken spot request."""
    problems = requests.check_request("CreateTrainingJob", {
        "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": "i"},
        "RoleArn": "arn:aws:iam::123456789012:role/r", "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60, "MaxWaitTimeInSeconds": 0},
        "EnableManagedSpotTraining": True, "CheckpointConfig": {"S3Uri": "ftp://b/c"}},
        skip_required=("TrainingJobName",))
    text = "\n".join(problems)
    assert "MaxWaitTimeInSeconds" in text and "S3Uri" in text


RECORDER = '''import json, os, sys
args = sys.argv[1:]
with open(os.environ["RECORD"], "w") as f:
    json.dump({"argv": args}, f)
'''


@pytest.mark.parametrize("step", ["Train", "Tune"])
def test_launcher_passes_the_checkpoint_folder(tmp_path, step):
    irs = _spot_irs()
    low = SageMaker().lower([irs[1]], fx.CTX)
    root = fx.write_build(low, tmp_path / "b", [irs[1]])
    entry = "src/train.py" if step == "Train" else "src/tune.py"
    (root / "code" / entry).write_text(RECORDER)
    d = json.loads((root / "pipelines/prod/training.json").read_text())
    a = _steps(d)[step]["Arguments"]
    job = a if step == "Train" else a["TrainingJobDefinition"]
    hps = dict(job.get("HyperParameters") or job["StaticHyperParameters"])
    trial = {"alpha": "0.05", "depth": "4", "kernel": "b"} if step == "Tune" else {}
    hps.update(trial)  # a trial's sampled values arrive among the hyperparameters
    opt = tmp_path / "opt"
    (opt / "input/config").mkdir(parents=True)
    (opt / "input/config/hyperparameters.json").write_text(json.dumps(hps))
    rec = tmp_path / "record.json"
    env = {"MLSPEC_OPT_ML": str(opt), "RECORD": str(rec), "PATH": "/usr/bin:/bin",
           "TRAINING_JOB_NAME": "tune-trial-007"}
    out = subprocess.run([sys.executable, str(root / "code/_mlspec/launch.py")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    ir = next(s for s in irs[1]["pipelines"][0]["steps"] if s["name"] == step.lower())
    ckpt = f"{opt}/checkpoints" + ("/tune-trial-007" if step == "Tune" else "")
    paths = {f.name: f"{opt}/input/data/{f.name}" for f in contract.script_flags(ir) if f.role == "input"}
    paths.update({"model": f"{opt}/model", "metrics": f"{opt}/output/data/metrics", "checkpoints": ckpt})
    argv = json.loads(rec.read_text())["argv"]
    assert argv == contract.script_argv(ir, paths, trial or None)
    assert "--checkpoints" in argv and Path(ckpt).is_dir()


ATTEMPT = '''import os, sys
d = "/opt/ml/checkpoints"  # CheckpointConfig.LocalPath, as the container sees it
os.makedirs(d, exist_ok=True)
p = os.path.join(d, "attempts.txt")
n = len(open(p).read().split()) if os.path.exists(p) else 0
with open(p, "a") as f:
    f.write(os.environ["TRAINING_JOB_NAME"] + "\\n")
open("/opt/ml/model/model.txt", "w").write(str(n + 1))
sys.exit(1 if n == 0 else 0)  # interrupted on the first attempt, resumes on the second
'''


def test_local_runner_keeps_checkpoints_across_attempts_of_a_step(tmp_path):
    """The local runner emulates SageMaker's checkpoint sync: the first attempt fails after
    writing a checkpoint, the second attempt of the same step (same execution) finds it."""
    ctx = engine.RunContext(workdir=tmp_path / "w", python=sys.executable, spec_dir=tmp_path, build_dir=tmp_path,
                            environment="prod", pipeline="training", ir={}, data={})
    runner = SageMakerRun.__new__(SageMakerRun)
    runner.ctx, runner.s3, runner.unwritten = ctx, LocalS3(tmp_path / "s3"), {}
    (tmp_path / "s3/bucket").mkdir(parents=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = ATTEMPT.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    runner.s3.put_bytes("s3://bucket/code/sourcedir.tar.gz", buf.getvalue())
    ckpt = "s3://bucket/pipelines/p/local0000001/train/checkpoints"
    args = {"AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/pipelines/p/local0000001/train/model"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 1200},
            "EnableManagedSpotTraining": True,
            "CheckpointConfig": {"S3Uri": ckpt, "LocalPath": "/opt/ml/checkpoints"}}
    hyper = {"sagemaker_program": json.dumps("train.py"),
             "sagemaker_submit_directory": json.dumps("s3://bucket/code/sourcedir.tar.gz")}
    with pytest.raises(engine.StepFailed):
        runner._training_job("Train", "job-attempt-1", args, hyper)
    saved = runner.s3.path(ckpt + "/attempts.txt")
    assert saved.read_text().split() == ["job-attempt-1"]  # synced to S3 although the job failed
    uri, _ = runner._training_job("Train", "job-attempt-2", args, hyper)
    assert saved.read_text().split() == ["job-attempt-1", "job-attempt-2"]
    with tarfile.open(runner.s3.path(uri)) as tar:
        assert tar.extractfile("model.txt").read() == b"2"  # the second attempt resumed
    # without a CheckpointConfig nothing is kept: every attempt starts empty
    plain = {k: v for k, v in args.items() if k not in ("CheckpointConfig", "EnableManagedSpotTraining")}
    with pytest.raises(engine.StepFailed):
        runner._training_job("Other", "other-1", plain, hyper)
    with pytest.raises(engine.StepFailed):
        runner._training_job("Other", "other-2", plain, hyper)
