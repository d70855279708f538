"""mlspec's launcher for user scripts on SageMaker (shipped as code/_mlspec/launch.py).

It gives a user script exactly the portable contract's command line (mlspec.compiler.contract:
data inputs, outputs, --model, --metrics, then the parameters sorted by key), runs it with the
step's code folder as working directory and on sys.path, and then prints one
`mlspec-metric <name>=<value>` line per metric of <metrics>/evaluation.json (a tuning job's
MetricDefinitions match these lines).

Processing jobs (process, evaluate) call it with the command line already rendered:
    launch.py --script S --code-dir D [--extract FLAG]... -- --flag /opt/ml/... ...
`--extract model`: the directory of that flag holds model.tar.gz; it is extracted and the
flag points to the extracted directory instead. `--retries N` (training: hyperparameter
`mlspec_retries`): a script that exits non-zero runs again in a fresh process with its output
folders emptied, up to N more times (the step's RetryPolicies rerun the job itself).
`--requirements FILE --index-url URL` (training: `mlspec_requirements`, `mlspec_index_url`):
`pip install -r FILE` from that mirror before the script runs; a failed install fails the job.

Training and tuning jobs run it as `sagemaker_program`; it reads the job's
/opt/ml/input/config/hyperparameters.json: `mlspec_script`, `mlspec_code_dir`,
`mlspec_inputs` (the input flags, comma-separated: each is a channel of that name),
`mlspec_checkpoints` (`spot = true`: the CheckpointConfig LocalPath given as `--checkpoints`;
with `mlspec_checkpoints_per_job`, a tuning trial's sub-folder named after its training job,
env TRAINING_JOB_NAME, the same after a spot restart) and every other
non-`sagemaker_`/`mlspec_` entry as a parameter (a tuning trial's values included).
`mlspec_distribution=data_parallel` (a train/tune step with `distribution` on more than one
instance): every instance runs the script once with the torch.distributed variables
WORLD_SIZE (the number of hosts), RANK (this host's place in `hosts`), LOCAL_RANK 0,
MASTER_ADDR (the first host) and MASTER_PORT (29500), read from SageMaker's
/opt/ml/input/config/resourceconfig.json (`current_host`, `hosts`); variables already set are
kept. Only rank 0's model and metrics are the step's: the other ranks write theirs into
scratch folders, and only rank 0 reports metrics (every rank gets the same `--checkpoints`).
Standard library only.
"""
from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CODE_ROOT = os.path.dirname(HERE)
OPT_ML = os.environ.get("MLSPEC_OPT_ML", "/opt/ml")  # /opt/ml on SageMaker (tests point it elsewhere)
HP_FILE = f"{OPT_ML}/input/config/hyperparameters.json"
RESOURCE_FILE = f"{OPT_ML}/input/config/resourceconfig.json"
MASTER_PORT = "29500"


def extract(directory: str) -> str:
    """The extracted model directory of the tarball(s) in `directory` (or `directory` itself)."""
    tars = sorted(f for f in os.listdir(directory) if f.endswith((".tar.gz", ".tgz")))
    if not tars:
        return directory
    out = tempfile.mkdtemp(prefix="mlspec-model-")
    for t in tars:
        with tarfile.open(os.path.join(directory, t)) as tf:
            if hasattr(tarfile, "data_filter"):
                tf.extractall(out, filter="data")
            else:  # pragma: no cover - Python < 3.12 without the filter backport
                tf.extractall(out)
    return out


def report_metrics(metrics_dir: str | None) -> None:
    path = os.path.join(metrics_dir or "", "evaluation.json")
    if not metrics_dir or not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    for name, m in sorted((doc.get("metrics") or {}).items()):
        value = m.get("value") if isinstance(m, dict) else m
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            print(f"mlspec-metric {name}={value}", flush=True)


def _outputs(argv: list[str]) -> list[str]:
    """The folders the script writes (processing outputs, the model, the metrics)."""
    out = []
    for i in range(0, len(argv) - 1):
        v = argv[i + 1]
        if argv[i].startswith("--") and (v.startswith(f"{OPT_ML}/processing/output/") or v == f"{OPT_ML}/model"
                                         or v.startswith(f"{OPT_ML}/output/data")):
            out.append(v)
    return out


def _empty(folder: str) -> None:
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def install(requirements: str | None, index_url: str | None) -> None:
    """pip-install the step's requirements file (under the code root) from the mirror."""
    if not requirements:
        return
    cmd = [sys.executable, "-m", "pip", "install", "--no-input", "--disable-pip-version-check",
           "-r", os.path.join(CODE_ROOT, requirements)]
    if index_url:
        cmd += ["--index-url", index_url]
    print("mlspec: pip install -r " + requirements, flush=True)
    status = subprocess.call(cmd)
    if status:
        print(f"mlspec: installing {requirements} failed (pip exit status {status})", file=sys.stderr, flush=True)
        sys.exit(status)


def distributed_env(environ) -> dict:
    """WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR, MASTER_PORT from resourceconfig.json (one
    process per host; hosts ranked in the order SageMaker lists them, the first is rank 0)."""
    with open(RESOURCE_FILE, encoding="utf-8") as f:
        rc = json.load(f)
    hosts = list(rc.get("hosts") or [])
    current = rc.get("current_host")
    if not hosts or current not in hosts:
        raise SystemExit(f"mlspec: {RESOURCE_FILE} names no host list with the current host {current!r}")
    out = {"WORLD_SIZE": str(len(hosts)), "RANK": str(hosts.index(current)), "LOCAL_RANK": "0",
           "MASTER_ADDR": hosts[0], "MASTER_PORT": MASTER_PORT}
    return {k: environ.get(k) or v for k, v in out.items()}


def run(script: str, code_dir: str, argv: list[str], retries: int = 0, report: bool = True) -> None:
    code = os.path.join(CODE_ROOT, code_dir)
    entry = os.path.join(CODE_ROOT, script)
    metrics = argv[argv.index("--metrics") + 1] if "--metrics" in argv else None
    for folder in _outputs(argv) + ([metrics] if metrics else []):
        os.makedirs(folder, exist_ok=True)
    os.chdir(code)
    print("mlspec: " + " ".join([os.path.relpath(entry, CODE_ROOT)] + argv), flush=True)
    if retries:
        # `retries = N`: a failed script runs again in a fresh process, its outputs emptied
        # (checkpoints kept), up to N more times; the job fails with the last exit status
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [code, os.environ.get("PYTHONPATH")])))
        for attempt in range(retries + 1):
            if attempt:
                for folder in _outputs(argv):
                    _empty(folder)
                print(f"mlspec: attempt {attempt + 1} of {retries + 1}", flush=True)
            status = subprocess.call([sys.executable, entry] + argv, cwd=code, env=env)
            if status == 0:
                break
        else:
            sys.exit(status)
    else:
        sys.path.insert(0, code)
        sys.argv = [entry] + argv
        try:
            runpy.run_path(entry, run_name="__main__")
        except SystemExit as exc:  # `sys.exit(main())`: a script's normal ending
            if exc.code not in (None, 0):
                raise  # the job fails with the script's exit status; nothing is reported
    if report:
        report_metrics(metrics)


def processing(args: list[str]) -> None:
    sep = args.index("--")
    opts, argv = args[:sep], args[sep + 1:]
    script = opts[opts.index("--script") + 1]
    code_dir = opts[opts.index("--code-dir") + 1]
    to_extract = {opts[i + 1] for i, a in enumerate(opts) if a == "--extract"}
    retries = int(opts[opts.index("--retries") + 1]) if "--retries" in opts else 0
    install(opts[opts.index("--requirements") + 1] if "--requirements" in opts else None,
            opts[opts.index("--index-url") + 1] if "--index-url" in opts else None)
    for i in range(0, len(argv) - 1):
        if argv[i].startswith("--") and argv[i][2:] in to_extract:
            argv[i + 1] = extract(argv[i + 1])
    for i in range(0, len(argv) - 1):  # outputs and the metrics folder exist before the script runs
        if argv[i].startswith("--") and argv[i + 1].startswith(f"{OPT_ML}/processing/output/"):
            os.makedirs(argv[i + 1], exist_ok=True)
    run(script, code_dir, argv, retries)


def _text(v: object) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def training() -> None:
    with open(HP_FILE, encoding="utf-8") as f:
        hps = {k: _text(v) for k, v in json.load(f).items()}
    argv: list[str] = []
    for name in filter(None, hps.get("mlspec_inputs", "").split(",")):
        argv += [f"--{name}", f"{OPT_ML}/input/data/{name}"]
    argv += ["--model", f"{OPT_ML}/model", "--metrics", f"{OPT_ML}/output/data/metrics"]
    if hps.get("mlspec_checkpoints"):  # spot = true: CheckpointConfig.LocalPath, kept across interruptions
        ckpt = hps["mlspec_checkpoints"]
        if ckpt.startswith("/opt/ml/"):
            ckpt = OPT_ML + ckpt[len("/opt/ml"):]
        if hps.get("mlspec_checkpoints_per_job") == "true":  # a tuning trial: its own folder
            ckpt = os.path.join(ckpt, os.environ.get("TRAINING_JOB_NAME") or "job")
        os.makedirs(ckpt, exist_ok=True)
        argv += ["--checkpoints", ckpt]
    for k in sorted(hps):
        if not k.startswith(("mlspec_", "sagemaker_", "_")):
            argv += [f"--{k}", hps[k]]
    install(hps.get("mlspec_requirements"), hps.get("mlspec_index_url"))
    chief = True
    if hps.get("mlspec_distribution") == "data_parallel":
        env = distributed_env(os.environ)
        os.environ.update(env)
        print("mlspec: " + " ".join(f"{k}={v}" for k, v in sorted(env.items())), flush=True)
        chief = env["RANK"] == "0"
        if not chief:  # only rank 0's model, metrics and checkpoints are the step's
            scratch = tempfile.mkdtemp(prefix=f"mlspec-rank{env['RANK']}-")
            for flag in ("--model", "--metrics"):
                argv[argv.index(flag) + 1] = os.path.join(scratch, flag[2:])
                os.makedirs(os.path.join(scratch, flag[2:]))
    run(hps["mlspec_script"], hps["mlspec_code_dir"], argv, int(hps.get("mlspec_retries") or 0), report=chief)


def main(args: list[str]) -> None:
    if "--" in args:
        processing(args)
    else:
        training()


if __name__ == "__main__":
    main(sys.argv[1:])
