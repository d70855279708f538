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
    for key, p in msg.root.input_definitions.parameters.items():
        if p.HasField("default_value"):
            value = json_format.MessageToDict(p.default_value)
            want = _TYPES[ps.ParameterType.ParameterTypeEnum.Name(p.parameter_type)]
            if not isinstance(value, want):
                errors.append(f"default of {key}")
    edges: dict = {}
    dags = [("root", msg.root.dag, msg.root.input_definitions)]
    dags += [(n, c.dag, c.input_definitions) for n, c in msg.components.items() if c.HasField("dag")]
    for dag_name, dag, in_defs in dags:
        errors += _dag_errors(msg, dag_name, dag, in_defs, edges)
    seen: set = set()
    stack: set = set()

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


def _dag_errors(msg, dag_name: str, dag, in_defs, edges: dict) -> list[str]:
    """One DAG (the root or a sub-DAG such as a condition branch): inputs come from its own input
    definitions or from sibling tasks; every referenced component, key and task exists."""
    errors = []
    tasks = dag.tasks
    dag_params, dag_arts = set(in_defs.parameters), set(in_defs.artifacts)
    for tname, task in tasks.items():
        where = f"{dag_name}/{tname}"
        if task.component_ref.name not in msg.components:
            errors.append(f"{where}: unknown component {task.component_ref.name}")
            continue
        comp = msg.components[task.component_ref.name]
        deps = set(task.dependent_tasks)
        for d in deps:
            if d not in tasks:
                errors.append(f"{where}: unknown dependency {d}")
        for key, spec_in in task.inputs.parameters.items():
            if key not in comp.input_definitions.parameters:
                errors.append(f"{where}: undeclared parameter {key}")
            kind = spec_in.WhichOneof("kind")
            if kind == "component_input_parameter" and spec_in.component_input_parameter not in dag_params:
                errors.append(f"{where}: {key} reads {spec_in.component_input_parameter}, not an input of {dag_name}")
            if kind == "task_output_parameter":
                prod = spec_in.task_output_parameter.producer_task
                if prod not in tasks:
                    errors.append(f"{where}: producer {prod} is not in {dag_name}")
                    continue
                deps.add(prod)
                pc = msg.components[tasks[prod].component_ref.name]
                if spec_in.task_output_parameter.output_parameter_key not in pc.output_definitions.parameters:
                    errors.append(f"{where}: {prod} has no output {key}")
        for key, spec_in in task.inputs.artifacts.items():
            if key not in comp.input_definitions.artifacts:
                errors.append(f"{where}: undeclared artifact {key}")
            kind = spec_in.WhichOneof("kind")
            if kind == "component_input_artifact":
                if spec_in.component_input_artifact not in dag_arts:
                    errors.append(f"{where}: {key} reads {spec_in.component_input_artifact}, not an input of {dag_name}")
                continue
            prod = spec_in.task_output_artifact.producer_task
            if prod not in tasks:
                errors.append(f"{where}: producer {prod} is not in {dag_name}")
                continue
            deps.add(prod)
            pc = msg.components[tasks[prod].component_ref.name]
            if spec_in.task_output_artifact.output_artifact_key not in pc.output_definitions.artifacts:
                errors.append(f"{where}: {prod} has no artifact {spec_in.task_output_artifact.output_artifact_key}")
        for key, p in comp.input_definitions.parameters.items():
            if not p.is_optional and key not in task.inputs.parameters:
                errors.append(f"{where}: required {key} not supplied")
        for key in comp.input_definitions.artifacts:
            if key not in task.inputs.artifacts:
                errors.append(f"{where}: artifact {key} not supplied")
        edges[where] = {f"{dag_name}/{d}" for d in deps}
    return errors
