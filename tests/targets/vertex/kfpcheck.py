"""Own graph checks of a KFP v2 PipelineSpec (what protobuf's strict parse cannot express)."""
from __future__ import annotations

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2 as ps

_TYPES = {"NUMBER_INTEGER": (int, float), "NUMBER_DOUBLE": (int, float), "STRING": str, "BOOLEAN": bool,
          "LIST": list, "STRUCT": dict}


def graph_errors(spec: dict) -> list[str]:
    """Own re-implementation of the checks protobuf cannot express."""
    errors = []
    msg = json_format.ParseDict(spec, ps.PipelineSpec())
    json_format.ParseDict(spec["deploymentSpec"], ps.PipelineDeploymentConfig())
    executors = set(spec["deploymentSpec"]["executors"])
    for name, comp in msg.components.items():
        if comp.executor_label and comp.executor_label not in executors:
            errors.append(f"{name}: missing executor")
    root_params = set(msg.root.input_definitions.parameters)
    for key, p in msg.root.input_definitions.parameters.items():
        if p.HasField("default_value"):
            value = json_format.MessageToDict(p.default_value)
            want = _TYPES[ps.ParameterType.ParameterTypeEnum.Name(p.parameter_type)]
            if not isinstance(value, want):
                errors.append(f"default of {key}")
    tasks = msg.root.dag.tasks
    edges = {}
    for tname, task in tasks.items():
        comp = msg.components[task.component_ref.name]
        deps = set(task.dependent_tasks)
        for d in deps:
            if d not in tasks:
                errors.append(f"{tname}: unknown dependency {d}")
        for key, spec_in in task.inputs.parameters.items():
            if key not in comp.input_definitions.parameters:
                errors.append(f"{tname}: undeclared parameter {key}")
            kind = spec_in.WhichOneof("kind")
            if kind == "component_input_parameter" and spec_in.component_input_parameter not in root_params:
                errors.append(f"{tname}: {key} not a root parameter")
            if kind == "task_output_parameter":
                prod = spec_in.task_output_parameter.producer_task
                deps.add(prod)
                pc = msg.components[tasks[prod].component_ref.name]
                if spec_in.task_output_parameter.output_parameter_key not in pc.output_definitions.parameters:
                    errors.append(f"{tname}: {prod} has no output {key}")
        for key, spec_in in task.inputs.artifacts.items():
            if key not in comp.input_definitions.artifacts:
                errors.append(f"{tname}: undeclared artifact {key}")
            prod = spec_in.task_output_artifact.producer_task
            deps.add(prod)
            pc = msg.components[tasks[prod].component_ref.name]
            if spec_in.task_output_artifact.output_artifact_key not in pc.output_definitions.artifacts:
                errors.append(f"{tname}: {prod} has no artifact {spec_in.task_output_artifact.output_artifact_key}")
        for key, p in comp.input_definitions.parameters.items():
            if not p.is_optional and key not in task.inputs.parameters:
                errors.append(f"{tname}: required {key} not supplied")
        edges[tname] = deps
    seen, stack = set(), set()

    def visit(n):
        if n in stack:
            errors.append(f"cycle at {n}")
            return
        if n in seen:
            return
        stack.add(n)
        for m in edges.get(n, ()):
            visit(m)
        stack.discard(n)
        seen.add(n)

    for n in edges:
        visit(n)
    return errors
