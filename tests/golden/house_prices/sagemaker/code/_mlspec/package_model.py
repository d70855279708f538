"""mlspec model packaging (SageMaker Processing, in the model's serving image). Generated build
support file; do not edit.

SageMaker's framework serving containers load `model.tar.gz` into /opt/ml/model and run the
inference handler named by SAGEMAKER_PROGRAM from SAGEMAKER_SUBMIT_DIRECTORY. Models run
network-isolated, so the handler cannot be downloaded at start-up: as the SageMaker SDK does
when it repacks a model, this step writes it into the archive, next to the model files the
training script wrote:

    model.tar.gz
      <the training script's model directory, unchanged: model.bst / model.joblib / ...>
      code/mlspec_serve.py      mlspec's adapter (model_fn, input_fn, predict_fn, output_fn)
      code/mlspec_serve.json    format, task, prediction, threshold, the columns the endpoint
                                receives (the training input without label and id columns)
      code/handler/...          the `serve` block's code folder (when the model declares one)
      code/requirements.txt     the `serve` block's requirements, installed by the container
      code/wheels/...           at start-up from these wheels (downloaded here from the
                                `pip_index_url` mirror; the serving container has no network)

Then it loads the packaged model through the adapter, exactly as the container will, and
scores a few rows of the training input: a model the server could not load fails here, in
the pipeline, not at deployment.
https://docs.aws.amazon.com/sagemaker/latest/dg/adapt-inference-container.html
"""
import argparse
import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

IN_MODEL = "/opt/ml/processing/input/model"
IN_CODE = "/opt/ml/processing/input/code"
IN_DATA = "/opt/ml/processing/input/data"
OUT = "/opt/ml/processing/output/model"
ADAPTER = "_mlspec/serve_adapter.py"
#: the file each built-in format must hold (docs/language.md, model formats)
FORMAT_FILES = {"xgboost": "model.bst", "sklearn": "model.joblib"}
SMOKE_ROWS = 5


def fail(message: str) -> int:
    print(f"package model: {message}", file=sys.stderr)
    return 1


def extract(archive: str, dest: str) -> None:
    with tarfile.open(archive) as tar:
        for m in tar.getmembers():
            target = os.path.realpath(os.path.join(dest, m.name))
            if not target.startswith(os.path.realpath(dest) + os.sep) and target != os.path.realpath(dest):
                raise ValueError(f"model.tar.gz member {m.name!r} escapes the model directory")
            if m.issym() or m.islnk():
                raise ValueError(f"model.tar.gz member {m.name!r} is a link")
        tar.extractall(dest)


def read_rows(data_dir: str, fmt: str, label: str, drop: list):
    import pandas as pd

    readers = {"csv": pd.read_csv, "parquet": pd.read_parquet, "jsonl": lambda p: pd.read_json(p, lines=True)}
    files = sorted(f for f in glob.glob(os.path.join(data_dir, "**", "*"), recursive=True)
                   if os.path.isfile(f) and not os.path.basename(f).startswith(("_", ".")))
    if not files or fmt not in readers:
        return None
    df = readers[fmt](files[0])
    return df.drop(columns=[c for c in [label, *drop] if c and c in df.columns])


def vendor_requirements(req: str, code: str, index_url: str) -> None:
    """Wheels for the requirements, and a requirements.txt that installs only from them."""
    wheels = os.path.join(code, "wheels")
    os.makedirs(wheels, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-input",
                    "--index-url", index_url, "--dest", wheels, "-r", req], check=True)
    with open(req, encoding="utf-8") as f:
        lines = [ln.strip() for ln in f if ln.strip() and not ln.strip().startswith(("#", "-"))]
    with open(os.path.join(code, "requirements.txt"), "w", encoding="utf-8") as f:
        # pip reads a relative --find-links next to the requirements file
        f.write("--no-index\n--find-links wheels\n" + "".join(ln + "\n" for ln in lines))


def add_tree(tar: tarfile.TarFile, root: str) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            info = tar.gettarinfo(path, arcname=os.path.relpath(path, root))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with open(path, "rb") as f:
                tar.addfile(info, f)


def smoke(code: str, model_dir: str, rows) -> str:
    """Load the packaged model through the adapter as the container does; score a few rows."""
    spec = importlib.util.spec_from_file_location("mlspec_serve", os.path.join(code, "mlspec_serve.py"))
    adapter = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(adapter)
    served = adapter.model_fn(model_dir)
    if rows is None or not len(rows):
        return "loaded (no training rows to score)"
    sample = rows.head(SMOKE_ROWS)
    if served.handler is None:
        names = list(getattr(served.model, "feature_names", None) or
                     [str(n) for n in getattr(served.model, "feature_names_in_", [])])
        if not names:
            return "loaded (the model records no feature names, so no rows were scored)"
        missing = [n for n in names if n not in sample.columns]
        if missing:
            raise RuntimeError(f"the model reads columns the endpoint does not receive: {', '.join(missing)}")
    records = json.loads(sample.to_json(orient="records"))
    body = adapter.output_fn(adapter.predict_fn(adapter.input_fn(json.dumps({"instances": records}),
                                                                 "application/json"), served), "text/csv")
    lines = body.splitlines()
    if len(lines) != len(records):
        raise RuntimeError(f"{len(lines)} predictions for {len(records)} rows")
    return f"loaded and scored {len(records)} rows (first: {lines[0]})"


def main(argv=None) -> int:
    work = tempfile.mkdtemp(prefix="mlspec-package-")
    try:
        return package(argv, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def package(argv, work: str) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True, help="packaging spec (format, task, prediction, serve, data)")
    ap.add_argument("--index-url", default="", help="pip mirror for the serve requirements")
    a = ap.parse_args(argv)
    with open(a.spec, encoding="utf-8") as f:
        spec = json.load(f)
    archives = sorted(glob.glob(os.path.join(IN_MODEL, "**", "model.tar.gz"), recursive=True))
    if len(archives) != 1:
        return fail(f"expected one model.tar.gz under {IN_MODEL}, found {len(archives)}")
    model_dir = os.path.join(work, "model")
    os.makedirs(model_dir)
    try:
        extract(archives[0], model_dir)
    except (ValueError, tarfile.TarError) as exc:
        return fail(str(exc))
    files = sorted(os.listdir(model_dir))
    if "code" in files:
        return fail("the model directory already has a `code` folder, where the serving container "
                    "looks for its handler: rename it in the training script")
    handler = spec.get("handler")
    fmt = spec.get("format")
    if not handler and FORMAT_FILES.get(fmt) not in files:
        return fail(f"format `{fmt}` needs `{FORMAT_FILES.get(fmt)}` in the model directory; the training "
                    f"script wrote: {', '.join(files) or 'nothing'}")
    rows = read_rows(IN_DATA, spec.get("data_format") or "", spec.get("label") or "", spec.get("drop") or [])
    code = os.path.join(model_dir, "code")
    os.makedirs(code)
    shutil.copyfile(os.path.join(IN_CODE, ADAPTER), os.path.join(code, "mlspec_serve.py"))
    cfg = {k: spec.get(k) for k in ("format", "task", "prediction", "threshold", "positive_label")}
    cfg["columns"] = [str(c) for c in rows.columns] if rows is not None else []
    if handler:
        shutil.copytree(os.path.join(IN_CODE, spec["handler_dir"]), os.path.join(code, "handler"),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        cfg["handler"] = handler
    with open(os.path.join(code, "mlspec_serve.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    if spec.get("requirements"):
        if not a.index_url:
            return fail("the serve requirements need a pip mirror (--index-url)")
        vendor_requirements(os.path.join(IN_CODE, spec["requirements"]), code, a.index_url)
    try:
        how = smoke(code, model_dir, rows)
    except Exception as exc:  # the container would fail the same way: fail the step with the reason
        return fail(f"the packaged model does not load or predict through the serving handler: "
                    f"{type(exc).__name__}: {exc}")
    for p in glob.glob(os.path.join(code, "**", "__pycache__"), recursive=True):
        shutil.rmtree(p, ignore_errors=True)
    os.makedirs(OUT, exist_ok=True)
    with tarfile.open(os.path.join(OUT, "model.tar.gz"), "w:gz") as tar:
        add_tree(tar, model_dir)
    print(f"package model: {how}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
