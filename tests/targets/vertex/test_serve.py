"""`models[].serve` on Vertex (issue 10): one handler contract (`load(model_dir)` once,
`predict(model, rows)`) served by mlspec's own server inside the framework's prebuilt prediction
image, with Vertex's custom-container contract (AIP_HTTP_PORT, AIP_HEALTH_ROUTE, AIP_PREDICT_ROUTE,
AIP_STORAGE_URI; {"instances": [...]} -> {"predictions": [...]}).

The fraud example with its `serve` handler declared runs through `mlspec run --target vertex`: the
bias check scores rows with the handler, and `register` uploads a version whose artifacts carry the
serving bundle and whose ModelContainerSpec (built as google-cloud-aiplatform's Model.upload builds
it, parsed by the aiplatform_v1 UploadModelRequest) runs the server. That container command then
runs here, on 127.0.0.1, fetching the artifacts through a local Cloud Storage JSON API; a batch of
rows POSTed to it comes back with the handler's own predictions. No network beyond loopback.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlspec.compiler import api
from mlspec.compiler.run import run_spec
from testkit import ROOT

RUNTIME = ROOT / "targets/vertex/templates/runtime/mlspec_runtime.py"
SERVE = 'serve { entry_point = "fraud_detection/src/serve.py"%s }\n    approval { approvers'


def _spec(tmp: Path, requirements: str | None = None, pip_index_url: str | None = None) -> Path:
    """The fraud example with its serve handler declared and a bias check (dppl, on the model's
    predictions) that reads request-shaped rows (the validated transactions)."""
    shutil.copytree(ROOT / "specs" / "fraud_detection", tmp / "fraud_detection")
    text = (ROOT / "specs" / "fraud_detection.mlspec").read_text()
    req = ""
    if requirements is not None:
        (tmp / "fraud_detection/src/serve-requirements.txt").write_text(requirements)
        req = '  requirements = "fraud_detection/src/serve-requirements.txt"'
    text = text.replace("approval { approvers", SERVE % req, 1)
    fairness = text.index("step fairness")
    head, tail = text[:fairness], text[fairness:]
    tail = tail.replace("data          = step.prepare.outputs.test", "data          = step.validate.data", 1)
    tail = tail.replace("max_disparity = 0.1", "max_disparity = 0.1\n      metric        = dppl", 1)
    text = head + tail
    if pip_index_url:
        text = text.replace('target vertex { project = "acme-ml"',
                            f'target vertex {{ pip_index_url = "{pip_index_url}"  project = "acme-ml"', 1)
    (tmp / "fraud_detection.mlspec").write_text(text)
    return tmp / "fraud_detection.mlspec"


def _runtime():
    import importlib.util

    spec = importlib.util.spec_from_file_location("mlspec_vertex_runtime_serve", RUNTIME)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def served_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    spec = _spec(tmp)
    out = run_spec(str(spec), "vertex", env="dev", workdir=str(tmp / "w"))
    assert out.report is not None and out.report.status == "succeeded", out
    registry = next((tmp / "w").rglob("vertex-registry"))
    doc = json.loads(next((registry / "models").glob("*.json")).read_text())
    gcs = registry.parent / "gcs"
    return {"tmp": tmp, "report": out.report, "version": doc["versions"][-1], "gcs": gcs, "spec": spec}


def test_compile_no_longer_refuses_serve_and_register_ships_the_handler(tmp_path):
    res = api.compile_spec(str(_spec(tmp_path)), ["vertex"], env="prod", out=tmp_path / "b")
    assert res.ok, [(d.code, d.summary) for d in res.diagnostics if d.is_error]
    training = json.loads((tmp_path / "b/vertex/pipelines/prod/training.json").read_text())
    ex = training["deploymentSpec"]["executors"]
    args = ex["exec-register"]["container"]["args"]
    config = json.loads(args[args.index("--config") + 1])
    assert config["serve"] == {"entry_point": "fraud_detection/src/serve.py", "code_dir": "fraud_detection/src",
                               "requirements": None, "pip_index_url": None}
    # the prebuilt prediction image of the framework, at the version that trained the model
    assert config["serving_image"] == "us-docker.pkg.dev/vertex-ai/prediction/xgboost-cpu.1-7:latest"
    # the bias check scores with the same handler (code read from the code bucket)
    payload = json.loads(ex["exec-fairness"]["container"]["args"][ex["exec-fairness"]["container"]["args"]
                                                                   .index("--payload") + 1])
    bias_args = payload["job_spec"]["worker_pool_specs"][0]["container_spec"]["args"]
    bias = json.loads(bias_args[bias_args.index("--config") + 1])
    assert bias["serve"]["entry"].endswith("/code/fraud_detection/src/serve.py") and bias["serve"]["drop"] == ["is_fraud"]


def test_serve_requirements_need_the_mirror(tmp_path):
    res = api.compile_spec(str(_spec(tmp_path, "pandas>=2\n")), ["vertex"], env="prod", out=tmp_path / "b")
    errors = [d for d in res.diagnostics if d.is_error]
    assert not res.ok and [d.code for d in errors] == ["E505"]
    assert "serve-requirements.txt" in errors[0].summary and "pip_index_url" in errors[0].hint
    mirror = "https://us-central1-python.pkg.dev/acme-ml/pypi/simple/"
    res = api.compile_spec(str(_spec(tmp_path / "m", "pandas>=2\n", mirror)), ["vertex"], env="prod",
                           out=tmp_path / "b2")
    assert res.ok, [(d.code, d.summary) for d in res.diagnostics if d.is_error]
    args = json.loads((tmp_path / "b2/vertex/pipelines/prod/training.json").read_text())[
        "deploymentSpec"]["executors"]["exec-register"]["container"]["args"]
    serve = json.loads(args[args.index("--config") + 1])["serve"]
    assert serve["requirements"] == "fraud_detection/src/serve-requirements.txt" and serve["pip_index_url"] == mirror


def test_the_server_installs_requirements_from_the_mirror(tmp_path, monkeypatch):
    rt = _runtime()
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: calls.append(cmd))
    rt.pip_install("/m/_mlspec_serve/code/req.txt", "https://mirror.example/simple/")
    assert calls == [[sys.executable, "-m", "pip", "install", "--no-input", "--disable-pip-version-check",
                      "--index-url", "https://mirror.example/simple/", "-r", "/m/_mlspec_serve/code/req.txt"]]


def test_run_scores_with_the_handler_and_registers_the_serving_container(served_run):
    steps = {s.name: s for s in served_run["report"].steps}
    assert steps["fairness"].status == "succeeded" and steps["register"].status == "succeeded"
    version = served_run["version"]
    assert version["image"] == "us-docker.pkg.dev/vertex-ai/prediction/xgboost-cpu.1-7:latest"
    cs = version["container_spec"]
    assert cs["command"][:2] == ["/bin/sh", "-c"] and len(cs["args"]) == 1
    # the handler receives request rows: explanations attribute the request's columns
    assert set(version["explanation_inputs"]) == {"amount", "merchant_mcc", "country", "card_present"}
    assert (cs["ports"], cs["predict_route"], cs["health_route"]) == ([8080], "/predict", "/health")
    # the ModelContainerSpec as google-cloud-aiplatform's Model.upload builds it from these arguments
    from google.cloud.aiplatform_v1 import types as t

    rt = _runtime()
    kwargs = rt.serving_container({"serving_image": version["image"]})
    spec = t.ModelContainerSpec(
        image_uri=kwargs["serving_container_image_uri"], command=kwargs["serving_container_command"],
        args=kwargs["serving_container_args"], ports=[t.Port(container_port=p) for p in kwargs["serving_container_ports"]],
        env=[t.EnvVar(name=k, value=v) for k, v in kwargs["serving_container_environment_variables"].items()],
        predict_route=kwargs["serving_container_predict_route"], health_route=kwargs["serving_container_health_route"])
    assert list(spec.command) == cs["command"] and list(spec.args) == cs["args"]
    # Vertex expands $(VAR) in command and args: mlspec's never contain one
    assert all("$(" not in a for a in list(spec.command) + list(spec.args))
    # the version's artifacts carry the bundle: the server, serve.json and the handler's folder
    uri = version["artifact_uri"]
    local = served_run["gcs"] / uri[len("gs://"):]
    bundle = local / "_mlspec_serve"
    assert (bundle / "runtime.py").read_bytes() == RUNTIME.read_bytes()
    assert json.loads((bundle / "serve.json").read_text())["entry_point"] == "fraud_detection/src/serve.py"
    assert (bundle / "code/fraud_detection/src/prepare.py").exists()  # the handler imports its siblings
    report = json.loads(next(served_run["gcs"].rglob("bias.json")).read_text())
    assert report["metric"] == "dppl" and set(report["facets"]["country"]["values"]) == {"DE", "GB", "US"}


class _FakeGcs(BaseHTTPRequestHandler):
    """The Cloud Storage JSON API calls mlspec's server makes (objects.list, objects.get alt=media),
    over a local folder of buckets."""
    root: Path = Path()

    def do_GET(self):  # noqa: N802
        url = urllib.parse.urlparse(self.path)
        parts = url.path.split("/")  # ['', 'storage', 'v1', 'b', bucket, 'o', (object)]
        q = urllib.parse.parse_qs(url.query)
        bucket = urllib.parse.unquote(parts[4])
        base = self.root / bucket
        if len(parts) == 6:
            prefix = q.get("prefix", [""])[0]
            names = sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file())
            body = json.dumps({"items": [{"name": n} for n in names if n.startswith(prefix)]}).encode()
        else:
            f = base / urllib.parse.unquote(parts[6])
            if q.get("alt") != ["media"] or not f.is_file():
                self.send_response(404)
                self.end_headers()
                return
            body = f.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(url: str, body: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_the_registered_container_serves_a_batch_on_loopback(served_run, tmp_path):
    """The registered container command, run as Vertex runs it (AIP_* environment), on 127.0.0.1."""
    version = served_run["version"]
    cs = version["container_spec"]
    _FakeGcs.root = served_run["gcs"]
    gcs = ThreadingHTTPServer(("127.0.0.1", 0), _FakeGcs)
    threading.Thread(target=gcs.serve_forever, daemon=True).start()
    port = _free_port()
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
           "AIP_HTTP_PORT": str(port), "AIP_HEALTH_ROUTE": cs["health_route"], "AIP_PREDICT_ROUTE": cs["predict_route"],
           "AIP_STORAGE_URI": version["artifact_uri"], "MLSPEC_SERVE_HOST": "127.0.0.1",
           "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{gcs.server_address[1]}", **cs["env"]}
    env.pop("MLSPEC_RUN_REMAP", None)
    proc = subprocess.Popen(cs["command"] + cs["args"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        status = None
        for _ in range(600):  # the server answers 503 until load() returned
            try:
                status, _ = _call(base + cs["health_route"])
            except (urllib.error.URLError, ConnectionError):
                status = None
            if status == 200 or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert status == 200, proc.stdout.read() if proc.poll() is not None else status
        import pandas as pd

        raw = pd.read_parquet(ROOT / "specs/fraud_detection/sample/transactions.parquet").head(64)
        rows = json.loads(raw.drop(columns=["is_fraud"]).to_json(orient="records"))
        code, doc = _call(base + cs["predict_route"], {"instances": rows})
        assert code == 200, doc
        # the handler's own answers, loaded here from the same registered artifacts
        rt = _runtime()
        model_dir = served_run["gcs"] / version["artifact_uri"][len("gs://"):]
        expected = rt.load_serving_bundle(str(model_dir)).predict_rows(rows)
        assert len(doc["predictions"]) == 64 and doc["predictions"] == pytest.approx(expected)
        assert all(0.0 <= p <= 1.0 for p in doc["predictions"])  # prediction = probability
        bad, err = _call(base + cs["predict_route"], {"rows": rows})
        assert bad == 400 and "instances" in err["error"]
        missing, _ = _call(base + "/nope", {"instances": rows})
        assert missing == 404
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        gcs.shutdown()
        gcs.server_close()
