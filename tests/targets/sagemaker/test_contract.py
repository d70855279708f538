"""The SageMaker side of the portable script contract (compiler/contract.py): every user script
receives exactly `contract.script_argv`, evaluate gets the extracted model directory, the whole
code folder ships (sibling imports work), declared names are kept, and a tuning job's
MetricDefinitions match what the launcher prints from evaluation.json.

The generated job requests are run through mlspec's launcher (code/_mlspec/launch.py) as the
job would run it, with /opt/ml rooted in a temporary directory (MLSPEC_OPT_ML)."""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from testkit import wheel_index

from mlspec.compiler import contract
from mlspec.targets.sagemaker import SageMaker

from . import fixtures as fx

RECORDER = '''import json, os, sys
from helper import TAG  # a sibling module of the code folder
args = sys.argv[1:]
record = {"argv": args, "cwd": os.getcwd(), "tag": TAG}
if "--model" in args:
    d = args[args.index("--model") + 1]
    record["model_files"] = sorted(os.listdir(d)) if os.path.isdir(d) else None
if "--metrics" in args:
    m = args[args.index("--metrics") + 1]
    with open(os.path.join(m, "evaluation.json"), "w") as f:
        json.dump({"metrics": {"auc": {"value": 0.91}, "f1": {"value": 0.8}}}, f)
with open(os.environ["RECORD"], "w") as f:
    json.dump(record, f)
sys.exit(int(os.environ.get("EXIT", "0")))  # scripts end with sys.exit(main())
'''


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    low = SageMaker().lower([fx.maximal_ir()], fx.CTX)
    root = fx.write_build(low, tmp_path_factory.mktemp("b"), [fx.maximal_ir()])
    for f in ("src/prepare.py", "src/train.py", "src/tune.py", "src/evaluate.py"):
        (root / "code" / f).write_text(RECORDER)
    (root / "code" / "src" / "helper.py").write_text("TAG = 'sibling import ok'\n")
    d = json.loads((root / "pipelines" / "prod" / "training.json").read_text())
    return root, d


def steps(d):
    def walk(items):
        for s in items:
            yield s
            for b in ("IfSteps", "ElseSteps"):
                yield from walk(s["Arguments"].get(b) or [])
    return {s["Name"]: s for s in walk(d["Steps"])}


def ir_step(name):
    return next(s for s in fx.maximal_ir()["pipelines"][0]["steps"] if s["name"] == name)


def launch(root: Path, opt: Path, args: list[str], tmp: Path, exit_code: int = 0) -> tuple[dict, str]:
    rec = tmp / "record.json"
    env = {"MLSPEC_OPT_ML": str(opt), "RECORD": str(rec), "PATH": "/usr/bin:/bin", "EXIT": str(exit_code)}
    out = subprocess.run([sys.executable, str(root / "code" / "_mlspec" / "launch.py"), *args], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == exit_code, out.stderr
    return json.loads(rec.read_text()), out.stdout


def localise(args: list[str], opt: Path) -> list[str]:
    return [a.replace("/opt/ml", str(opt)) for a in args]


def test_process_step_gets_the_contract_argv(build, tmp_path):
    root, d = build
    a = steps(d)["Prepare"]["Arguments"]
    assert a["AppSpecification"]["ContainerEntrypoint"][-1].endswith("/_mlspec/launch.py")
    # the whole code tree ships; inputs and outputs keep their declared names
    code = [i for i in a["ProcessingInputs"] if i["InputName"] == "code"][0]
    assert code["S3Input"]["S3Uri"]["Std:Join"]["Values"][-2:] == ["code", ""]
    assert [i["InputName"] for i in a["ProcessingInputs"]][1:] == ["data"]
    assert [o["OutputName"] for o in a["ProcessingOutputConfig"]["Outputs"]] == ["train", "test"]
    opt = tmp_path / "opt"
    rec, _ = launch(root, opt, localise(a["AppSpecification"]["ContainerArguments"], opt), tmp_path)
    paths = {"data": f"{opt}/processing/input/data", "train": f"{opt}/processing/output/train",
             "test": f"{opt}/processing/output/test"}
    assert rec["argv"] == contract.script_argv(ir_step("prepare"), paths)
    assert rec["cwd"] == str(root / "code" / "src") and rec["tag"] == "sibling import ok"


def test_evaluate_gets_the_extracted_model(build, tmp_path):
    root, d = build
    a = steps(d)["Evaluate"]["Arguments"]
    opt = tmp_path / "opt"
    model_dir = opt / "processing" / "model"
    model_dir.mkdir(parents=True)
    with tarfile.open(model_dir / "model.tar.gz", "w:gz") as tf:
        data = b"booster"
        info = tarfile.TarInfo("model.bst")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    rec, stdout = launch(root, opt, localise(a["AppSpecification"]["ContainerArguments"], opt), tmp_path)
    assert rec["model_files"] == ["model.bst"]  # extracted, not model.tar.gz
    model_path = rec["argv"][rec["argv"].index("--model") + 1]
    assert model_path != str(model_dir)
    expected = contract.script_argv(ir_step("evaluate"), {"test": f"{opt}/processing/input/test",
                                                          "model": model_path,
                                                          "metrics": f"{opt}/processing/output/metrics"})
    assert rec["argv"] == expected
    assert "mlspec-metric auc=0.91" in stdout
    # the evaluation.json lands where the property file reads it
    assert json.loads((opt / "processing" / "output" / "metrics" / "evaluation.json").read_text())["metrics"]
    prop = steps(d)["Evaluate"]["PropertyFiles"][0]
    assert prop["OutputName"] == "metrics" and prop["FilePath"] == "evaluation.json"


@pytest.mark.parametrize("step", ["Train", "Tune"])
def test_training_and_tuning_get_the_contract_argv(build, tmp_path, step):
    root, d = build
    a = steps(d)[step]["Arguments"]
    job = a if step == "Train" else a["TrainingJobDefinition"]
    hps = dict(job["HyperParameters"] if step == "Train" else job["StaticHyperParameters"])
    channels = [c["ChannelName"] for c in job["InputDataConfig"]]
    ir = ir_step(step.lower())
    assert channels == ["mlspec_code"] + [f.name for f in contract.script_flags(ir) if f.role == "input"]
    trial = {}
    if step == "Tune":  # a trial's sampled values arrive among the hyperparameters
        trial = {"alpha": "0.05", "depth": "4", "kernel": "b"}
        hps.update(trial)
    opt = tmp_path / "opt"
    (opt / "input" / "config").mkdir(parents=True)
    (opt / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hps))
    # what the framework toolkit runs: sagemaker_program from the copied code tree
    assert json.loads(hps["sagemaker_program"]) == "_mlspec/launch.py"
    rec, stdout = launch(root, opt, [], tmp_path)
    paths = {f.name: f"{opt}/input/data/{f.name}" for f in contract.script_flags(ir) if f.role == "input"}
    paths.update({"model": f"{opt}/model", "metrics": f"{opt}/output/data/metrics"})
    assert rec["argv"] == contract.script_argv(ir, paths, trial or None)
    if step == "Tune":
        regex = job["AlgorithmSpecification"]["MetricDefinitions"][0]["Regex"]
        assert [m.group(1) for m in map(re.compile(regex).search, stdout.splitlines()) if m] == ["0.91"]


def test_a_failing_trial_fails_the_job_and_reports_no_metric(build, tmp_path):
    """A script that exits non-zero fails the job with its status; the launcher reports nothing
    (a tuning job must not rank a failed trial)."""
    root, d = build
    job = steps(d)["Tune"]["Arguments"]["TrainingJobDefinition"]
    opt = tmp_path / "opt"
    (opt / "input" / "config").mkdir(parents=True)
    (opt / "input" / "config" / "hyperparameters.json").write_text(json.dumps(job["StaticHyperParameters"]))
    _, stdout = launch(root, opt, [], tmp_path, exit_code=3)
    assert "mlspec-metric" not in stdout


FLAKY = '''import os, sys
args = sys.argv[1:]
model = args[args.index("--model") + 1]
counter = os.environ["COUNTER"]
n = int(open(counter).read()) if os.path.exists(counter) else 0
open(counter, "w").write(str(n + 1))
seen = sorted(os.listdir(model))
with open(os.path.join(model, f"attempt-{n}"), "w") as f:
    f.write(",".join(seen))  # what this attempt found in the model folder
sys.exit(0 if n + 1 >= int(os.environ["SUCCEED_ON"]) else 1)
'''


@pytest.fixture(scope="module")
def retried(tmp_path_factory):
    ir = fx.maximal_ir()
    for s in ir["pipelines"][0]["steps"]:
        if s["name"] in ("train", "prepare", "fairness"):
            s["retries"] = 2
    low = SageMaker().lower([ir], fx.CTX)
    root = fx.write_build(low, tmp_path_factory.mktemp("r"), [ir])
    (root / "code" / "src" / "train.py").write_text(FLAKY)
    return root, json.loads((root / "pipelines" / "prod" / "training.json").read_text()), low


def test_retries_are_retry_policies_and_launcher_reruns(retried, tmp_path):
    """issue 10 `retries` on SageMaker: the step's RetryPolicies rerun it after service faults,
    throttling, internal errors and missing capacity (MaxAttempts = retries); the launcher reruns
    a failed script up to `retries` more times in a fresh process with its outputs emptied."""
    root, d, low = retried
    st = steps(d)
    for name in ("Train", "Prepare"):
        pol = st[name]["RetryPolicies"]
        assert [p["ExceptionType"] for p in pol] == [
            ["Step.SERVICE_FAULT", "Step.THROTTLING"],
            ["SageMaker.JOB_INTERNAL_ERROR", "SageMaker.CAPACITY_ERROR", "SageMaker.RESOURCE_LIMIT"]]
        assert all(p["MaxAttempts"] == 2 and 1 <= p["IntervalSeconds"] <= 300 and p["BackoffRate"] >= 0
                   for p in pol)
    assert "--retries" in st["Prepare"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert "RetryPolicies" not in st["Evaluate"]
    # a ClarifyCheck step takes no retry policy: said, not silently dropped
    assert "RetryPolicies" not in st["Fairness"]
    assert [(d.code, d.ir_id) for d in low.diagnostics if d.code == "W505" and "retr" in d.summary] == [
        ("W505", "step.fairness")]
    hps = st["Train"]["Arguments"]["HyperParameters"]
    assert hps["mlspec_retries"] == "2"
    for succeed_on, status in ((3, 0), (4, 1)):
        opt = tmp_path / f"opt{succeed_on}"
        (opt / "input" / "config").mkdir(parents=True)
        (opt / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hps))
        counter = tmp_path / f"count{succeed_on}"
        env = {"MLSPEC_OPT_ML": str(opt), "PATH": "/usr/bin:/bin", "COUNTER": str(counter),
               "SUCCEED_ON": str(succeed_on)}
        out = subprocess.run([sys.executable, str(root / "code" / "_mlspec" / "launch.py")], env=env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == status, out.stderr
        assert counter.read_text() == "3"  # the first run and two retries, never more
        if status == 0:  # each retry started from an emptied model folder
            assert sorted(p.name for p in (opt / "model").iterdir()) == ["attempt-2"]
            assert (opt / "model" / "attempt-2").read_text() == ""
            assert "attempt 3 of 3" in out.stdout


def test_requirements_are_installed_from_the_mirror_before_the_script(tmp_path):
    """issue 10 `requirements` on SageMaker: the launcher pip-installs the step's requirements
    from `pip_index_url` before the script; an isolated step, or one without a mirror, is E505
    (the network is private: nothing else is reachable)."""
    ir = fx.maximal_ir()
    train = next(s for s in ir["pipelines"][0]["steps"] if s["name"] == "train")
    train["requirements"] = "src/requirements.txt"
    low = SageMaker().lower([ir], fx.CTX)
    assert [(d.code, d.ir_id) for d in low.diagnostics if d.severity == "error"] == [("E505", "step.train")]
    assert "network_isolation = false" in [d for d in low.diagnostics if d.severity == "error"][0].hint
    train["network_isolation"] = False
    low = SageMaker().lower([ir], fx.CTX)
    assert [d.code for d in low.diagnostics if d.severity == "error"] == ["E505"]
    assert "pip_index_url" in [d for d in low.diagnostics if d.severity == "error"][0].hint
    wheel_index(tmp_path)
    index = (tmp_path / "simple").as_uri()
    ir["targets"]["sagemaker"]["pip_index_url"] = index
    low = SageMaker().lower([ir], fx.CTX)
    assert not [d for d in low.diagnostics if d.severity == "error"]
    root = fx.write_build(low, tmp_path / "b", [ir])
    (root / "code" / "src" / "requirements.txt").write_text("mlspec-probe==1.0\n")
    (root / "code" / "src" / "train.py").write_text(
        "import os, sys\nassert os.path.isfile(os.path.join(os.environ['PIP_TARGET'], 'mlspec_probe.py'))\n")
    d = json.loads((root / "pipelines" / "prod" / "training.json").read_text())
    hps = steps(d)["Train"]["Arguments"]["HyperParameters"]
    assert hps["mlspec_requirements"] == "src/requirements.txt" and hps["mlspec_index_url"] == index
    opt = tmp_path / "opt"
    (opt / "input" / "config").mkdir(parents=True)
    (opt / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hps))
    target = tmp_path / "site"
    env = {"MLSPEC_OPT_ML": str(opt), "PATH": "/usr/bin:/bin", "PIP_TARGET": str(target),
           "PIP_NO_CACHE_DIR": "1", "PIP_NO_BUILD_ISOLATION": "0", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, str(root / "code" / "_mlspec" / "launch.py")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (target / "mlspec_probe.py").read_text() == "VALUE = 42\n"
    assert out.stdout.index("pip install -r src/requirements.txt") < out.stdout.index("mlspec: src/train.py")
