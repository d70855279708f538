"""mlspec MLflow tracking step (SageMaker Processing). Generated build support file; do not edit.

Logs one MLflow run per pipeline execution and trained model to a SageMaker managed MLflow
tracking server: parameters (hyperparameters), lineage tags (spec hash, code version, data
versions) and the evaluate step's metrics (evaluation.json: {"metrics": {name: {"value": x}}}).
Talks to the MLflow REST API with SigV4-signed requests (service `sagemaker-mlflow`) through the
VPC's interface endpoint, using botocore from the processing image; needs no MLflow package.
https://docs.aws.amazon.com/sagemaker/latest/dg/mlflow.html
"""
import argparse
import json
import os
import time
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

METRICS = "/opt/ml/processing/input/metrics/evaluation.json"
OUT = "/opt/ml/processing/output/run"


class Client:
    def __init__(self, server):
        session = boto3.Session()
        self.creds = session.get_credentials()
        self.region = session.region_name or os.environ.get("AWS_REGION", "us-east-1")
        if server.startswith("arn:"):
            name = server.rsplit("/", 1)[-1]
            url = session.client("sagemaker").describe_mlflow_tracking_server(TrackingServerName=name)
            server = url["TrackingServerUrl"]
        self.base = server.rstrip("/") + "/api/2.0/mlflow/"
        self.arn = server

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        url = self.base + path
        req = AWSRequest(method=method, url=url, data=data, headers={"Content-Type": "application/json"})
        SigV4Auth(self.creds, "sagemaker-mlflow", self.region).add_auth(req)
        r = urllib.request.Request(url, data=data, method=method, headers=dict(req.headers.items()))
        with urllib.request.urlopen(r, timeout=60) as resp:
            return json.loads(resp.read() or b"{}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec-file", required=True)
    ap.add_argument("--tracking-server", required=True)
    ap.add_argument("--run-name", required=True)
    a = ap.parse_args()
    with open(a.spec_file) as f:
        spec = json.load(f)
    c = Client(a.tracking_server)
    try:
        exp = c.call("GET", "experiments/get-by-name?experiment_name=" +
                     urllib.request.quote(spec["experiment"]))["experiment"]["experiment_id"]
    except Exception:
        exp = c.call("POST", "experiments/create", {"name": spec["experiment"]})["experiment_id"]
    now = int(time.time() * 1000)
    run = c.call("POST", "runs/create", {"experiment_id": exp, "run_name": f"{a.run_name}-{spec['step']}",
                                         "start_time": now})["run"]["info"]["run_id"]
    metrics = []
    if os.path.exists(METRICS):
        with open(METRICS) as f:
            for k, v in (json.load(f).get("metrics") or {}).items():
                metrics.append({"key": k, "value": float(v["value"] if isinstance(v, dict) else v),
                                "timestamp": now, "step": 0})
    c.call("POST", "runs/log-batch", {
        "run_id": run, "metrics": metrics,
        "params": [{"key": k, "value": str(v)} for k, v in sorted(spec["params"].items())],
        "tags": [{"key": k, "value": str(v)} for k, v in sorted(spec["tags"].items())]})
    c.call("POST", "runs/update", {"run_id": run, "status": "FINISHED", "end_time": int(time.time() * 1000)})
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "run.json"), "w") as f:
        json.dump({"experiment_id": exp, "run_id": run}, f)


if __name__ == "__main__":
    main()
