"""mlspec launcher wrapper: run a spec script in the job's MLflow run, with lineage recorded.

usage: python _mlspec/track.py --config <json> --step <name> <script.py> [script args...]

The script receives exactly the portable contract's command line (compiler/contract.py). Before
it runs, the wrapper
- changes to the step's code folder and puts it, and the script's own folder, on sys.path;
- pip-installs the step's `requirements` file when the spec names one;
- tags the job's MLflow run (code hash, data versions, pipeline, step; the spec hash is on the
  pipeline job, the parent run) and logs the
  step's args / fixed hyperparameters, through MlflowClient and the run id, WITHOUT making a run
  active -- so a script calling `mlflow.start_run()` itself resumes the same run (MLFLOW_RUN_ID)
  instead of failing on an already-active run.
A step with `retries` runs the script again, in a fresh process, up to that many times.
After it returns, every metric of `<metrics>/evaluation.json` is logged to that run, so a sweep
can rank trials by its objective (a printed line is not a logged metric).
"""
import json
import os
import runpy
import shutil
import subprocess
import sys

if len(sys.argv) < 6 or sys.argv[1] != "--config" or sys.argv[3] != "--step":
    raise SystemExit(__doc__)
with open(sys.argv[2], encoding="utf-8") as f:
    cfg = json.load(f)[sys.argv[4]]  # the pipeline's settings file holds every step's, by name

code_root = os.getcwd()
script = os.path.abspath(sys.argv[5])
script_argv = sys.argv[6:]
code_dir = os.path.abspath(os.path.join(code_root, cfg.get("code_dir") or os.path.dirname(sys.argv[5]) or "."))

if cfg.get("requirements"):
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--no-input", "-r",
                           os.path.join(code_root, cfg["requirements"])])

try:
    import mlflow
    from mlflow.tracking import MlflowClient
except ImportError:  # the environment always has mlflow; never block a step on tracking
    mlflow = None


def _run_id():
    """The job's run (Azure ML sets MLFLOW_RUN_ID); outside Azure ML, create one and export it
    so the script's own start_run() / autolog resume it."""
    rid = os.environ.get("MLFLOW_RUN_ID")
    if rid:
        return rid
    client = MlflowClient()
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or "Default"
    exp = client.get_experiment_by_name(name)
    exp_id = exp.experiment_id if exp else client.create_experiment(name)
    rid = client.create_run(exp_id).info.run_id
    os.environ["MLFLOW_RUN_ID"] = rid
    return rid


run_id = None
if mlflow is not None:
    client = MlflowClient()
    run_id = _run_id()
    for k, v in sorted(cfg.get("tags", {}).items()):
        client.set_tag(run_id, k, str(v))
    for k, v in sorted((cfg.get("params") or {}).items()):
        client.log_param(run_id, k, v)
    # no mlflow.autolog(): the contract reports metrics one way (evaluation.json, below), as on
    # the other clouds; autologging re-scored the training data on every fit() (an epoch loop
    # logged each epoch) and made a tuning trial four times slower. A script may call it itself.

os.chdir(code_dir)
for folder in (os.path.dirname(script), code_dir):
    if folder not in sys.path:
        sys.path.insert(0, folder)
retries = int(cfg.get("retries") or 0)
if retries:
    # the step's `retries`: Azure ML command jobs have no retry setting, so the wrapper runs the
    # script again in the same job (a fresh process each attempt, its outputs emptied first); it
    # retries failures of the script, not of the node
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(script), code_dir] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    outputs = [script_argv[i + 1] for i in range(len(script_argv) - 1)
               if script_argv[i][2:] in (cfg.get("outputs") or []) and script_argv[i].startswith("--")]
    for attempt in range(retries + 1):
        if attempt:
            print("mlspec: the script failed (exit %d); attempt %d of %d" % (code, attempt + 1, retries + 1),
                  flush=True)
            for out in outputs:
                for entry in os.listdir(out) if os.path.isdir(out) else []:
                    path = os.path.join(out, entry)
                    shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.remove(path)
        code = subprocess.call([sys.executable, script] + script_argv, cwd=code_dir, env=env)
        if code == 0:
            break
    os.chdir(code_root)
    if code != 0:
        sys.exit(code)
else:
    sys.argv = [script] + script_argv
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        if e.code not in (None, 0):
            raise
    finally:
        os.chdir(code_root)

flag = cfg.get("metrics_flag")
if flag and ("--" + flag) in script_argv:
    folder = script_argv[script_argv.index("--" + flag) + 1]
    path = os.path.join(folder, "evaluation.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            found = json.load(f).get("metrics") or {}
        if mlflow is not None:
            for name, m in sorted(found.items()):
                client.log_metric(run_id, name, float(m["value"]))
        print("mlspec: logged %d metric(s) from %s" % (len(found), path))
if mlflow is not None and mlflow.active_run() is not None and mlflow.active_run().info.run_id == run_id \
        and not os.environ.get("AZUREML_RUN_ID"):
    mlflow.end_run()  # local runs only: Azure ML closes the job's run itself
