"""Readers for the native SageMaker artifacts that IaC scanners cannot see (MLS-G-09), and the
SageMaker target's :class:`~mlspec.compiler.plan.graph.CloudProfile` for the cross-cloud rules.

Input: a :class:`~mlspec.compiler.plan.graph.Graph` (captured resources + parsed build
artifacts). Output: normalised views the rules iterate over: SageMaker Pipelines definitions
(``aws.sagemaker.Pipeline.pipelineDefinition`` inline JSON, or a definition JSON file in the
build), their job steps, with ``{"Get": "Parameters.X"}`` resolved to the parameter's
DefaultValue; the SageMaker calls of the Step Functions deploy paths; every container image.

Pure Python, no SDK imports.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterator

from mlspec.compiler.plan.graph import CloudProfile, Graph, dig, is_set, parse_json
from mlspec.compiler.plan.mocks import guid


def _json(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return v
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return None
    return None




SAGEMAKER_JOB_STEPS = ("Training", "Processing", "Transform", "Tuning")


def _is_sagemaker_definition(d: Any) -> bool:
    return isinstance(d, dict) and isinstance(d.get("Steps"), list) and "Version" in d


def resolve_parameters(definition: dict) -> dict:
    """Replace {"Get": "Parameters.X"} by X's DefaultValue (left as is when it has none)."""
    defaults = {p.get("Name"): p.get("DefaultValue") for p in definition.get("Parameters") or []
                if isinstance(p, dict) and "DefaultValue" in p}

    def sub(v: Any) -> Any:
        if isinstance(v, dict):
            g = v.get("Get")
            if len(v) == 1 and isinstance(g, str) and g.startswith("Parameters."):
                name = g.split(".", 1)[1]
                return defaults.get(name, v)
            return {k: sub(x) for k, x in v.items()}
        if isinstance(v, list):
            return [sub(x) for x in v]
        return v

    return sub(definition)


def sagemaker_steps(definition: Any) -> list[dict]:
    """All steps of a definition (condition-step branches included), parameters resolved."""
    d = _json(definition)
    if not _is_sagemaker_definition(d):
        return []
    d = resolve_parameters(d)
    out: list[dict] = []

    def collect(steps: list) -> None:
        for s in steps:
            if not isinstance(s, dict):
                continue
            out.append(s)
            args = s.get("Arguments") or {}
            for branch in ("IfSteps", "ElseSteps"):
                collect(args.get(branch) or [])

    collect(d["Steps"])
    return out


def sagemaker_step_role(step: dict) -> Any:
    a = step.get("Arguments") or {}
    return a.get("RoleArn") or (a.get("TrainingJobDefinition") or {}).get("RoleArn")


def sagemaker_definition_artifacts(g: Graph) -> list[tuple[str, dict]]:
    return [(p, d) for p, d in sorted(g.artifacts.items()) if _is_sagemaker_definition(d)]


def sagemaker_definitions(g: Graph) -> list[tuple[Any, dict]]:
    """(resource or artifact path, definition) -- inline Pipeline definitions first; build files
    whose steps are already inline are skipped (the Pulumi program uploads that same file)."""
    out: list[tuple[Any, dict]] = []
    seen: set[str] = set()
    for p in g.of("aws:sagemaker/pipeline:Pipeline"):
        d = _json(p["inputs"].get("pipelineDefinition"))
        if _is_sagemaker_definition(d):
            out.append((p, d))
            seen.add(json.dumps([s.get("Name") for s in d["Steps"] if isinstance(s, dict)]))
    for path, d in sagemaker_definition_artifacts(g):
        key = json.dumps([s.get("Name") for s in d["Steps"] if isinstance(s, dict)])
        if key not in seen:
            out.append((path, d))
    return out



SAGEMAKER_DEPLOY_APIS = ("createModel", "createEndpointConfig", "createEndpoint", "updateEndpoint")


def _strip_paths(v: Any) -> Any:
    """Step Functions parameters: `Key.$` (a JSONPath, decided at run time) -> `Key`."""
    if isinstance(v, dict):
        return {(k[:-2] if k.endswith(".$") else k): _strip_paths(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_strip_paths(x) for x in v]
    return v


def _states(states: Any) -> Iterator[tuple[str, dict]]:
    for name, s in (states or {}).items() if isinstance(states, dict) else []:
        if not isinstance(s, dict):
            continue
        yield name, s
        for b in s.get("Branches") or []:
            yield from _states((b or {}).get("States"))
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(s.get(key), dict):
                yield from _states(s[key].get("States"))


def sagemaker_deploy_calls(g: Graph) -> list[tuple[str, str, dict]]:
    """(label, api, parameters) of the SageMaker calls Step Functions deploy paths make
    (state machine resources, else state machine definitions in the build)."""
    defs: list[tuple[str, Any]] = []
    for r in g.of("aws:sfn/stateMachine:StateMachine"):
        defs.append((f"{r['type']}::{r['name']}", _json(r["inputs"].get("definition"))))
    if not defs:
        defs = [(p, d) for p, d in sorted(g.artifacts.items())
                if isinstance(d, dict) and "States" in d and "StartAt" in d]
    out = []
    for label, d in defs:
        if not isinstance(d, dict):
            continue
        for name, s in _states(d.get("States")):
            res = str(s.get("Resource", ""))
            api = res.rsplit(":", 1)[-1].split(".")[0]
            if ":sagemaker:" in res and api in SAGEMAKER_DEPLOY_APIS:
                out.append((f"{label}#{name}", api, _strip_paths(s.get("Parameters") or s.get("Arguments") or {})))
    return out



# ----------------------------------------------------------------------------- images


def images(g: Graph) -> list[tuple[Any, str]]:
    """(where, image) for every container image the SageMaker models, pipeline steps and
    model packages of the stack name."""
    out: list[tuple[Any, str]] = []
    for m in g.of("aws:sagemaker/model:Model"):
        pc = m["inputs"].get("primaryContainer") or {}
        if pc.get("image"):
            out.append((m, pc["image"]))
        for c in m["inputs"].get("containers") or []:
            if isinstance(c, dict) and c.get("image"):
                out.append((m, c["image"]))
    for where, d in sagemaker_definitions(g):
        for s in sagemaker_steps(d):
            a = s.get("Arguments") or {}
            name = f"{where['name'] if isinstance(where, dict) else where}#{s.get('Name')}"
            for img in (
                (a.get("AlgorithmSpecification") or {}).get("TrainingImage"),
                (a.get("AppSpecification") or {}).get("ImageUri"),
                ((a.get("TrainingJobDefinition") or {}).get("AlgorithmSpecification") or {}).get("TrainingImage"),
                (a.get("PrimaryContainer") or {}).get("Image"),
            ):
                if isinstance(img, str):
                    out.append((name, img))
            for c in (a.get("InferenceSpecification") or {}).get("Containers") or []:
                if isinstance(c, dict) and isinstance(c.get("Image"), str):
                    out.append((name, c["Image"]))
    return out


# ----------------------------------------------------------------------------- profile


def identities(g: Graph) -> list[tuple[Any, str]]:
    """(identity, component kind) of the pipeline, its steps, models and monitors (MLS-G-03)."""
    out: list[tuple[Any, str]] = []
    for p in g.of("aws:sagemaker/pipeline:Pipeline"):
        out.append((p["inputs"].get("roleArn"), "orchestrator"))
        for step in sagemaker_steps(p["inputs"].get("pipelineDefinition")):
            out.append((sagemaker_step_role(step), "workload"))
    for m in g.of("aws:sagemaker/model:Model"):
        out.append((m["inputs"].get("executionRoleArn"), "serving"))
    for _, api, p in sagemaker_deploy_calls(g):
        if api == "createModel":
            out.append((p.get("ExecutionRoleArn"), "serving"))
    for m in g.of("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"):
        out.append((m["inputs"].get("roleArn"), "monitoring"))
    for s in g.of("aws:sagemaker/monitoringSchedule:MonitoringSchedule"):
        out.append((dig(s["inputs"], "monitoringScheduleConfig", "monitoringJobDefinition", "roleArn"), "monitoring"))
    return out


KEY_TYPES = ("aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey")


def stack_keys(g: Graph) -> set[str]:
    """Ids of the KMS keys the stack creates, as the mock outputs fabricate them (compared by key
    id: the region comes from the stack config)."""
    return {guid("kms", k["name"]) for k in g.of(*KEY_TYPES)}


def default_tags(g: Graph) -> dict:
    """Provider-level default tags (stack config `aws:defaultTags` or explicit provider resources)."""
    out: dict = {}
    v = parse_json(g.config.get("aws:defaultTags"))
    if isinstance(v, dict):
        out.update(v.get("tags", v))
    for p in g.of("pulumi:providers:aws"):
        v = dig(p["inputs"], "defaultTags", "tags") or parse_json(p["inputs"].get("defaultTags")) or {}
        if isinstance(v, dict):
            out.update(v.get("tags", v) if "tags" in v else v)
        v = parse_json(p["inputs"].get("defaultLabels")) or {}
        if isinstance(v, dict):
            out.update(v)
    return out


def hidden_pipelines(g: Graph) -> list[tuple[Any, str]]:
    """Pipelines whose definition the checks cannot see (only in S3, or not JSON) (MLS-G-09)."""
    out: list[tuple[Any, str]] = []
    for p in g.of("aws:sagemaker/pipeline:Pipeline"):
        d = p["inputs"].get("pipelineDefinition")
        if d is None and is_set(p["inputs"].get("pipelineDefinitionS3Location")):
            if not sagemaker_definition_artifacts(g):
                out.append((p, "pipeline definition only in S3 and not in the build: step settings cannot be checked"))
        elif isinstance(d, str) and d not in ("[unknown]", "[secret]") and parse_json(d) is None:
            out.append((p, "pipeline definition is not valid JSON: step settings cannot be checked"))
    return out


PROFILE = CloudProfile(
    providers=("aws", "aws-native"),
    data_at_rest=("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:ecr/repository:Repository",
                  "aws:cloudwatch/logGroup:LogGroup", "aws:sns/topic:Topic",
                  "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
                  "aws:sagemaker/featureGroup:FeatureGroup", "aws:sagemaker/domain:Domain",
                  "aws:sagemaker/notebookInstance:NotebookInstance",
                  "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"),
    key_types=KEY_TYPES,
    key_ref=re.compile(r"arn:aws:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+"),
    managed_key=(re.compile(r"alias/aws/"), "AWS-managed"),
    key_id=lambda ref: ref.rsplit("/", 1)[-1],
    stack_keys=stack_keys,
    identities=identities,
    log_types={"aws:cloudwatch/logGroup:LogGroup": ("retentionInDays", "kmsKeyId")},
    private_registry=re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"),
    images=images,
    default_tags=default_tags,
    hidden_pipelines=hidden_pipelines,
)


#: (type-token prefix, concern or ``(resource) -> concern``) for the `mlspec plan` table, first
#: match wins (``Target.resource_concerns()``); keys and registries sit with storage
RESOURCE_CONCERNS = [
    ("aws:sagemaker/modelPackageGroup", "registry and approval"),
    ("aws:sagemaker/modelCard", "registry and approval"), ("aws:sagemaker/model:", "serving"),
    ("aws:sagemaker/endpoint", "serving"), ("aws:appautoscaling", "serving"), ("aws:sfn", "serving"),
    ("aws:sagemaker/dataQualityJobDefinition", "monitoring"),
    ("aws-native:sagemaker:DataQualityJobDefinition", "monitoring"),
    ("aws-native:sagemaker:ModelQualityJobDefinition", "monitoring"),
    ("aws-native:sagemaker:ModelBiasJobDefinition", "monitoring"),
    ("aws-native:sagemaker:ModelExplainabilityJobDefinition", "monitoring"),
    ("aws:sagemaker/monitoringSchedule", "monitoring"), ("aws:cloudwatch/logGroup", "monitoring"),
    ("aws:sagemaker/mlflow", "monitoring"), ("aws:cloudwatch/dashboard", "monitoring"),
    ("aws:cloudwatch/metricAlarm", "alerting"), ("aws:cloudwatch/compositeAlarm", "alerting"),
    ("aws:sns", "alerting"), ("aws:chatbot", "alerting"), ("aws:sagemaker/pipeline", "pipeline"),
    ("aws:cloudwatch/eventRule", "pipeline"), ("aws:cloudwatch/eventTarget", "pipeline"),
    ("aws:scheduler", "pipeline"), ("aws:lambda", "pipeline"), ("aws:s3/bucketObject", "pipeline"),
    ("aws:iam", "identity"), ("aws:ec2", "network"), ("aws:vpc", "network"), ("aws:s3", "storage"),
    ("aws:kms", "storage"), ("aws:ecr", "storage"), ("aws:sagemaker/featureGroup", "storage"),
]
