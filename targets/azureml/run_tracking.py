"""The workspace's MLflow tracking server, answered locally for `mlspec run --target azureml`.

On Azure ML every job is an MLflow run on the workspace's tracking server: the service
creates the run, sets ``MLFLOW_TRACKING_URI`` and ``MLFLOW_RUN_ID`` in the job's process, and a
sweep ranks its trials by the primary metric logged to each trial's run. A local run does the
same: this module serves the MLflow REST API (the protocol the client in the job speaks to
Azure ML) on 127.0.0.1 from the runner's process, keeps runs in memory, and lets the executor
create each job's run and read its metrics. Endpoints it does not serve answer 404
``ENDPOINT_NOT_FOUND``, which the MLflow client raises in the step (as for an API the
workspace's server does not support); the step fails with that reason instead of passing.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

PREFIX = "/api/2.0/mlflow/"


class TrackingStore:
    def __init__(self, artifact_root: Path) -> None:
        self.lock = threading.Lock()
        self.artifact_root = artifact_root
        self.experiments: dict[str, dict] = {}
        self.runs: dict[str, dict] = {}

    # ------------------------------------------------------------------ entities
    def experiment(self, name: str) -> str:
        with self.lock:
            for e in self.experiments.values():
                if e["name"] == name:
                    return e["experiment_id"]
            eid = str(len(self.experiments) + 1)
            self.experiments[eid] = {"experiment_id": eid, "name": name, "lifecycle_stage": "active",
                                     "artifact_location": (self.artifact_root / eid).as_uri(), "tags": [],
                                     "creation_time": _now(), "last_update_time": _now()}
            return eid

    def create_run(self, experiment_id: str, name: str = "", tags: dict[str, str] | None = None,
                   user: str = "") -> str:
        rid = uuid.uuid4().hex
        with self.lock:
            self.runs[rid] = {
                "info": {"run_id": rid, "run_uuid": rid, "experiment_id": str(experiment_id), "run_name": name or rid,
                         "user_id": user, "status": "RUNNING", "start_time": _now(),
                         "artifact_uri": (self.artifact_root / str(experiment_id) / rid / "artifacts").as_uri(),
                         "lifecycle_stage": "active"},
                "metrics": {}, "history": {}, "params": {}, "tags": dict(tags or {})}
            if name:
                self.runs[rid]["tags"]["mlflow.runName"] = name
        return rid

    def metric(self, run_id: str, key: str) -> float | None:
        with self.lock:
            m = self.runs.get(run_id, {}).get("metrics", {}).get(key)
        return None if m is None else float(m["value"])

    def tags(self, run_id: str) -> dict[str, str]:
        with self.lock:
            return dict(self.runs.get(run_id, {}).get("tags", {}))

    def run_json(self, rid: str) -> dict:
        r = self.runs[rid]
        return {"info": dict(r["info"]),
                "data": {"metrics": list(r["metrics"].values()),
                         "params": [{"key": k, "value": v} for k, v in sorted(r["params"].items())],
                         "tags": [{"key": k, "value": v} for k, v in sorted(r["tags"].items())]},
                "inputs": {}}

    # ------------------------------------------------------------------ REST
    def handle(self, method: str, path: str, body: dict) -> tuple[int, dict]:
        op = path[len(PREFIX):] if path.startswith(PREFIX) else None
        fn = _OPS.get((method, op or ""))
        if fn is None:
            return 404, {"error_code": "ENDPOINT_NOT_FOUND",
                         "message": f"{method} {path} is not served by the local Azure ML tracking server"}
        try:
            return 200, fn(self, body)
        except _NotFound as exc:
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": str(exc)}
        except (KeyError, ValueError, TypeError) as exc:
            return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": f"{op}: {exc}"}

    def _run(self, body: dict) -> dict:
        rid = body.get("run_id") or body.get("run_uuid")
        if rid not in self.runs:
            raise _NotFound(f"run {rid!r} not found")
        return self.runs[rid]

    def _log_metric(self, run: dict, m: dict) -> None:
        entry = {"key": m["key"], "value": float(m["value"]), "timestamp": int(m.get("timestamp") or _now()),
                 "step": int(m.get("step") or 0)}
        run["history"].setdefault(m["key"], []).append(entry)
        run["metrics"][m["key"]] = entry

    def _log_param(self, run: dict, key: str, value: str) -> None:
        if key in run["params"] and run["params"][key] != value:
            raise ValueError(f"param {key!r} already logged with a different value (MLflow params are immutable)")
        run["params"][key] = value


class _NotFound(Exception):
    pass


def _now() -> int:
    return int(time.time() * 1000)


def _get_by_name(st: TrackingStore, b: dict) -> dict:
    for e in st.experiments.values():
        if e["name"] == b.get("experiment_name"):
            return {"experiment": e}
    raise _NotFound(f"experiment {b.get('experiment_name')!r} does not exist")


def _get_experiment(st: TrackingStore, b: dict) -> dict:
    e = st.experiments.get(str(b.get("experiment_id")))
    if e is None:
        raise _NotFound(f"experiment {b.get('experiment_id')!r} does not exist")
    return {"experiment": e}


def _create_experiment(st: TrackingStore, b: dict) -> dict:
    return {"experiment_id": st.experiment(b["name"])}


def _create_run(st: TrackingStore, b: dict) -> dict:
    tags = {t["key"]: t.get("value", "") for t in b.get("tags") or []}
    rid = st.create_run(b.get("experiment_id") or st.experiment("Default"), b.get("run_name", ""), tags,
                        b.get("user_id", ""))
    return {"run": st.run_json(rid)}


def _get_run(st: TrackingStore, b: dict) -> dict:
    return {"run": st.run_json(st._run(b)["info"]["run_id"])}


def _update_run(st: TrackingStore, b: dict) -> dict:
    r = st._run(b)
    for k in ("status", "end_time", "run_name"):
        if b.get(k) is not None:
            r["info"][k] = b[k]
    return {"run_info": dict(r["info"])}


def _set_tag(st: TrackingStore, b: dict) -> dict:
    st._run(b)["tags"][b["key"]] = str(b.get("value", ""))
    return {}


def _delete_tag(st: TrackingStore, b: dict) -> dict:
    st._run(b)["tags"].pop(b["key"], None)
    return {}


def _log_param(st: TrackingStore, b: dict) -> dict:
    st._log_param(st._run(b), b["key"], str(b.get("value", "")))
    return {}


def _log_metric(st: TrackingStore, b: dict) -> dict:
    st._log_metric(st._run(b), b)
    return {}


def _log_batch(st: TrackingStore, b: dict) -> dict:
    r = st._run(b)
    for m in b.get("metrics") or []:
        st._log_metric(r, m)
    for p in b.get("params") or []:
        st._log_param(r, p["key"], str(p.get("value", "")))
    for t in b.get("tags") or []:
        r["tags"][t["key"]] = str(t.get("value", ""))
    return {}


def _accept(st: TrackingStore, b: dict) -> dict:
    st._run(b)  # the run must exist; dataset/model lineage is not kept locally
    return {}


def _search_runs(st: TrackingStore, b: dict) -> dict:
    ids = {str(i) for i in b.get("experiment_ids") or []}
    return {"runs": [st.run_json(rid) for rid, r in st.runs.items() if not ids or r["info"]["experiment_id"] in ids]}


def _history(st: TrackingStore, b: dict) -> dict:
    return {"metrics": list(st._run(b)["history"].get(b.get("metric_key"), []))}


_OPS = {("GET", "experiments/get-by-name"): _get_by_name, ("GET", "experiments/get"): _get_experiment,
        ("POST", "experiments/create"): _create_experiment, ("POST", "runs/create"): _create_run,
        ("GET", "runs/get"): _get_run, ("POST", "runs/update"): _update_run, ("POST", "runs/set-tag"): _set_tag,
        ("POST", "runs/delete-tag"): _delete_tag, ("POST", "runs/log-parameter"): _log_param,
        ("POST", "runs/log-metric"): _log_metric, ("POST", "runs/log-batch"): _log_batch,
        ("POST", "runs/log-inputs"): _accept, ("POST", "runs/outputs"): _accept,
        ("POST", "runs/search"): _search_runs, ("GET", "metrics/get-history"): _history}


class TrackingServer:
    """``with TrackingServer(root) as srv:`` serves ``srv.uri`` until the block ends."""

    def __init__(self, artifact_root: Path) -> None:
        self.store = TrackingStore(artifact_root)
        store = self.store

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, method: str) -> None:
                url = urlparse(self.path)
                if method == "GET":
                    body: Any = {k: v[-1] for k, v in parse_qs(url.query).items()}
                else:
                    n = int(self.headers.get("Content-Length") or 0)
                    try:
                        body = json.loads(self.rfile.read(n) or b"{}")
                    except ValueError:
                        body = None
                if not isinstance(body, dict):
                    code, doc = 400, {"error_code": "MALFORMED_REQUEST", "message": "body is not a JSON object"}
                else:
                    code, doc = store.handle(method, url.path, body)
                data = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (http.server's names)
                self._reply("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._reply("POST")

            def do_PATCH(self) -> None:  # noqa: N802
                self._reply("PATCH")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.uri = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="mlspec-azureml-tracking", daemon=True)

    def __enter__(self) -> "TrackingServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
