"""mlspec MLflow tracking (AWS Lambda, called by a pipeline Lambda step). Build support file; do not edit.

Logs one MLflow run per pipeline execution and trained model to a SageMaker managed MLflow
tracking server: parameters (hyperparameters), lineage tags (spec hash, code version, data
versions) and the evaluate step's metrics (`<metrics_uri>/evaluation.json`:
{"metrics": {name: {"value": x}}}). Talks to the MLflow REST API with SigV4-signed requests
(service `sagemaker-mlflow`) through the VPC's interface endpoint; needs only boto3/botocore,
which the Lambda runtime provides. https://docs.aws.amazon.com/sagemaker/latest/dg/mlflow.html
"""
import json
import os
import time
import urllib.parse
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest


class Client:
    def __init__(self, server, session=None):
        self.session = session or boto3.Session()
        self.creds = self.session.get_credentials()
        self.region = self.session.region_name or os.environ.get("AWS_REGION", "us-east-1")
        if server.startswith("arn:"):
            name = server.rsplit("/", 1)[-1]
            server = self.session.client("sagemaker").describe_mlflow_tracking_server(
                TrackingServerName=name)["TrackingServerUrl"]
        self.base = server.rstrip("/") + "/api/2.0/mlflow/"

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        url = self.base + path
        req = AWSRequest(method=method, url=url, data=data, headers={"Content-Type": "application/json"})
        SigV4Auth(self.creds, "sagemaker-mlflow", self.region).add_auth(req)
        r = urllib.request.Request(url, data=data, method=method, headers=dict(req.headers.items()))
        with urllib.request.urlopen(r, timeout=60) as resp:
            return json.loads(resp.read() or b"{}")


def read_metrics(session, uri):
    if not uri:
        return {}
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    key = prefix.rstrip("/") + "/evaluation.json"
    body = session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body).get("metrics") or {}


def handler(event, context=None, client=None, session=None):
    session = session or boto3.Session()
    c = client or Client(event["tracking_server"], session)
    try:
        exp = c.call("GET", "experiments/get-by-name?experiment_name=" +
                     urllib.parse.quote(event["experiment"]))["experiment"]["experiment_id"]
    except Exception:
        exp = c.call("POST", "experiments/create", {"name": event["experiment"]})["experiment_id"]
    now = int(time.time() * 1000)
    run = c.call("POST", "runs/create", {"experiment_id": exp, "start_time": now,
                                         "run_name": f"{event['run_name']}-{event['step']}"})["run"]["info"]["run_id"]
    metrics = [{"key": k, "value": float(v["value"] if isinstance(v, dict) else v), "timestamp": now, "step": 0}
               for k, v in sorted(read_metrics(session, event.get("metrics_uri")).items())]
    params = json.loads(event.get("params") or "{}")
    tags = json.loads(event.get("tags") or "{}")
    c.call("POST", "runs/log-batch", {
        "run_id": run, "metrics": metrics,
        "params": [{"key": k, "value": str(v)} for k, v in sorted(params.items())],
        "tags": [{"key": k, "value": str(v)} for k, v in sorted(tags.items())]})
    c.call("POST", "runs/update", {"run_id": run, "status": "FINISHED", "end_time": int(time.time() * 1000)})
    return {"run_id": run}
