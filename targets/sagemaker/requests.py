"""The SageMaker API requests a build will make, judged by botocore's service model.

Input: a SageMaker Pipelines definition (or one step's Arguments and the API operation it
becomes). Output: a list of problems ``(where, message)``, empty when AWS's request shapes
accept every request. Used by the tests and by ``mlspec plan`` (a blocking program check);
never by ``compile`` (botocore is imported lazily, inside the functions).

botocore's own ParamValidator checks types, required members and ranges but skips the
``pattern`` constraint and only checks ``min`` lengths; this walker checks every constraint the
model states: structure members (unknown and required), enums, string ``min``/``max`` and
``pattern`` (the model's Java-style regexes through the ``regex`` package, which knows
``\\p{L}`` classes), list and map sizes, number ranges. Values only known at run time (pipeline
expressions such as ``{"Get": ...}``, ``${token}`` placeholders) are skipped; a ``Std:Join`` of
literals is checked as the string it produces.
"""
from __future__ import annotations

import functools
import json
import re
from typing import Any, Iterator

#: pipeline step type -> (API operation, members SageMaker fills in itself)
STEP_OPERATIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Training": ("CreateTrainingJob", ("TrainingJobName",)),
    "Processing": ("CreateProcessingJob", ("ProcessingJobName",)),
    "ClarifyCheck": ("CreateProcessingJob", ("ProcessingJobName",)),
    "QualityCheck": ("CreateProcessingJob", ("ProcessingJobName",)),
    "Transform": ("CreateTransformJob", ("TransformJobName",)),
    "Tuning": ("CreateHyperParameterTuningJob", ("HyperParameterTuningJobName",)),
    "RegisterModel": ("CreateModelPackage", ()),
    "Model": ("CreateModel", ("ModelName",)),
}

_TOKEN = re.compile(r"\$\{[^}]+\}")
_SURROGATES = "\\uD800\\uDC00-\\uDBFF\\uDFFF"


@functools.lru_cache(maxsize=None)
def service_model(service: str = "sagemaker"):
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@functools.lru_cache(maxsize=None)
def _pattern(p: str):
    import regex

    # the model writes supplementary characters as a surrogate-pair range (Java UTF-16)
    return regex.compile(p.replace(_SURROGATES, "\\U00010000-\\U0010FFFF"))


def _expression(v: Any) -> bool:
    """A value SageMaker Pipelines computes at run time."""
    return isinstance(v, dict) and len(v) == 1 and next(iter(v)) in ("Get", "Std:JsonGet", "Std:Join")


def _literal_join(v: Any) -> str | None:
    """The string a Std:Join of literals produces (None when a part is computed)."""
    if isinstance(v, dict) and "Std:Join" in v:
        j = v["Std:Join"]
        parts = [_literal_join(x) if isinstance(x, dict) else x for x in j.get("Values") or []]
        if all(isinstance(x, (str, int, float)) for x in parts):
            return str(j.get("On", "")).join(str(x) for x in parts)
    return None


def check_value(value: Any, shape: Any, where: str, skip_required: tuple[str, ...] = ()) -> Iterator[str]:
    """Every way ``value`` breaks ``shape``'s constraints (messages name the member path)."""
    if _expression(value):
        text = _literal_join(value)
        if text is None:
            return
        value = text
    meta = shape.metadata
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            yield f"{where}: expected an object ({shape.name}), got {type(value).__name__}"
            return
        for k in value:
            if k not in shape.members:
                yield f"{where}: unknown member `{k}` of {shape.name}"
        for k in shape.required_members:
            if k not in value and k not in skip_required:
                yield f"{where}: missing required member `{k}` of {shape.name}"
        for k, v in value.items():
            if k in shape.members:
                yield from check_value(v, shape.members[k], f"{where}.{k}")
    elif t == "list":
        if not isinstance(value, list):
            yield f"{where}: expected a list ({shape.name})"
            return
        yield from _size(len(value), meta, where, "entries")
        for i, v in enumerate(value):
            yield from check_value(v, shape.member, f"{where}[{i}]")
    elif t == "map":
        if not isinstance(value, dict):
            yield f"{where}: expected a map ({shape.name})"
            return
        yield from _size(len(value), meta, where, "entries")
        for k, v in value.items():
            yield from check_value(k, shape.key, f"{where} key {k!r}")
            yield from check_value(v, shape.value, f"{where}[{k!r}]")
    elif t == "string":
        if not isinstance(value, str):
            yield f"{where}: expected a string ({shape.name}), got {type(value).__name__}"
            return
        if _TOKEN.search(value):
            return  # resolved at deploy time
        if shape.enum and value not in shape.enum:
            yield f"{where}: `{value}` is not one of {', '.join(shape.enum)}"
        yield from _size(len(value), meta, where, "characters")
        if "pattern" in meta and not _pattern(meta["pattern"]).fullmatch(value):
            yield f"{where}: `{value[:80]}` does not match the pattern {meta['pattern']}"
    elif t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            yield f"{where}: expected an integer ({shape.name}), got {value!r}"
            return
        yield from _range(value, meta, where)
    elif t in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            yield f"{where}: expected a number ({shape.name}), got {value!r}"
            return
        yield from _range(value, meta, where)
    elif t == "boolean":
        if not isinstance(value, bool):
            yield f"{where}: expected a boolean ({shape.name}), got {value!r}"


def _size(n: int, meta: dict, where: str, unit: str) -> Iterator[str]:
    if "min" in meta and n < meta["min"]:
        yield f"{where}: {n} {unit}, at least {meta['min']} allowed"
    if "max" in meta and n > meta["max"]:
        yield f"{where}: {n} {unit}, at most {meta['max']} allowed"


def _range(v: float, meta: dict, where: str) -> Iterator[str]:
    if "min" in meta and v < meta["min"]:
        yield f"{where}: {v} is below the minimum {meta['min']}"
    if "max" in meta and v > meta["max"]:
        yield f"{where}: {v} is above the maximum {meta['max']}"


def check_request(operation: str, params: dict, where: str = "", skip_required: tuple[str, ...] = (),
                  service: str = "sagemaker") -> list[str]:
    shape = service_model(service).operation_model(operation).input_shape
    return list(check_value(params, shape, where or operation, skip_required))


def steps(definition: dict) -> Iterator[dict]:
    """Every step of a definition, condition branches included."""
    def walk(items: list) -> Iterator[dict]:
        for s in items:
            yield s
            for branch in ("IfSteps", "ElseSteps"):
                yield from walk((s.get("Arguments") or {}).get(branch) or [])
    yield from walk(definition.get("Steps") or [])


def resolve_defaults(definition: dict) -> dict:
    """{"Get": "Parameters.X"} replaced by X's default (what a run without overrides sends)."""
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition.get("Parameters") or []}
    text = json.dumps(definition)
    for name, val in defaults.items():
        text = text.replace(json.dumps({"Get": f"Parameters.{name}"}), json.dumps(val))
    return json.loads(text)


def check_definition(definition: dict, label: str = "") -> list[str]:
    """Problems of every API request the pipeline's steps make (parameter defaults in place)."""
    d = resolve_defaults(definition)
    out: list[str] = []
    for s in steps(d):
        op = STEP_OPERATIONS.get(s.get("Type"))
        if op is None:
            continue
        where = f"{label}{':' if label else ''}{s.get('Name')} ({op[0]})"
        out += check_request(op[0], s.get("Arguments") or {}, where, op[1])
    return out
