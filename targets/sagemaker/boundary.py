"""What AWS would reject at deploy or run time, found in the resources `mlspec plan` captured.

Input: the resources the SageMaker program registered under Pulumi's mock runtime (wire
inputs, `${token}`s resolved). Output: program checks ``{"check", "where"}`` that `mlspec plan`
reports as blocking (docs/cli.md):

- ``aws-request-rejected``: a pipeline step's API request (CreateTrainingJob,
  CreateProcessingJob, CreateModelPackage, ...) breaks botocore's SageMaker model (patterns,
  enums, lengths, sizes: see requests.py);
- ``invalid-state-machine``: a Step Functions definition moto's ASL parser (the
  LocalStack-derived interpreter) refuses, or an aws-sdk SageMaker task whose literal
  parameters break the model;
- ``s3-unreachable``: the program's SageMaker security group allows no egress to the S3
  gateway endpoint's prefix list (every job would fail to read or write S3).

Vendor code (botocore, regex, moto) is imported lazily; without it a check reports itself
skipped in the plan notes rather than passing silently. Never used by `compile`.
"""
from __future__ import annotations

import json
import re
from typing import Any

PIPELINE = "aws:sagemaker/pipeline:Pipeline"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
SDK_TASK = re.compile(r"arn:aws[a-z-]*:states:::aws-sdk:sagemaker:(\w+)$")


def _json(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return None
    return v


def _states(states: dict):
    for name, st in (states or {}).items():
        yield name, st
        if st.get("Type") == "Map":
            yield from _states((st.get("ItemProcessor") or st.get("Iterator") or {}).get("States") or {})


def _literal(params: dict) -> dict:
    """Task Parameters without the members computed at run time (`Key.$` JSONPaths)."""
    out = {}
    for k, v in params.items():
        if k.endswith(".$"):
            continue
        out[k] = _literal(v) if isinstance(v, dict) else (
            [(_literal(x) if isinstance(x, dict) else x) for x in v] if isinstance(v, list) else v)
    return out


def pipeline_problems(resources: list[dict]) -> list[dict]:
    from mlspec.targets.sagemaker import requests

    out = []
    for r in resources:
        if r["type"] != PIPELINE:
            continue
        d = _json(r["inputs"].get("pipelineDefinition"))
        if isinstance(d, dict):
            out += [{"check": "aws-request-rejected", "where": p}
                    for p in requests.check_definition(d, f"{PIPELINE}::{r['name']}")]
    return out


def state_machine_problems(resources: list[dict]) -> list[dict]:
    from mlspec.targets.sagemaker import requests

    try:
        from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    except ImportError:  # pragma: no cover - moto is part of the test extra
        AmazonStateLanguageParser = None
    out = []
    for r in resources:
        if r["type"] != STATE_MACHINE:
            continue
        where = f"{STATE_MACHINE}::{r['name']}"
        text = r["inputs"].get("definition")
        d = _json(text)
        if not isinstance(d, dict):
            continue
        if AmazonStateLanguageParser is not None:
            try:
                AmazonStateLanguageParser.parse(text if isinstance(text, str) else json.dumps(d))
            except Exception as e:  # the parser's own verdict, whatever its exception type
                out.append({"check": "invalid-state-machine", "where": f"{where}: {str(e).splitlines()[0][:300]}"})
        for name, st in _states(d.get("States") or {}):
            m = SDK_TASK.match(str(st.get("Resource") or ""))
            if st.get("Type") != "Task" or not m:
                continue
            op = m.group(1)[0].upper() + m.group(1)[1:]
            shape = requests.service_model().operation_model(op).input_shape
            required = tuple(k for k in shape.required_members if k + ".$" in (st.get("Parameters") or {}))
            for p in requests.check_request(op, _literal(st.get("Parameters") or {}), f"{where}:{name}", required):
                out.append({"check": "invalid-state-machine", "where": p})
    return out


def _https(e: dict) -> bool:
    if str(e.get("protocol")) in ("-1", "all"):
        return True
    return str(e.get("protocol")) in ("tcp", "6") and int(e.get("fromPort") or 0) <= 443 <= int(e.get("toPort") or 0)


def s3_egress_problems(resources: list[dict]) -> list[dict]:
    """Every security group with explicit egress must reach S3: HTTPS to a prefix list taken
    from the S3 gateway endpoint (its `prefix_list_id` output) or to anywhere."""
    gateways = {r["name"] for r in resources if r["type"] == "aws:ec2/vpcEndpoint:VpcEndpoint"
                and r["inputs"].get("vpcEndpointType") == "Gateway"
                and str(r["inputs"].get("serviceName") or "").endswith(".s3")}
    if not gateways:
        return []
    out = []
    for sg in (r for r in resources if r["type"] == "aws:ec2/securityGroup:SecurityGroup"):
        egress = [e for e in sg["inputs"].get("egress") or [] if isinstance(e, dict)]
        if not egress:
            continue  # AWS's default egress (all traffic) applies
        deps = set(sg.get("depends_on") or []) | {u for v in (sg.get("property_dependencies") or {}).values()
                                                   for u in v}
        from_gateway = bool(deps & gateways)
        reaches = any(_https(e) and ((e.get("prefixListIds") and from_gateway)
                                     or "0.0.0.0/0" in (e.get("cidrBlocks") or [])) for e in egress)
        if not reaches:
            out.append({"check": "s3-unreachable", "where": f"aws:ec2/securityGroup:SecurityGroup::{sg['name']}: "
                        "no HTTPS egress to the S3 gateway endpoint's prefix list"})
    return out


def program_checks(resources: list[dict]) -> tuple[list[dict], list[str]]:
    """(blocking checks, notes about checks that could not run)."""
    checks: list[dict] = []
    notes: list[str] = []
    checks += s3_egress_problems(resources)
    try:
        checks += pipeline_problems(resources)
        checks += state_machine_problems(resources)
    except ImportError as e:
        notes.append(f"SageMaker request checks skipped: {e.name} is not installed (pip install 'mlspec[vendors]')")
    return checks, notes

