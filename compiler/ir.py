"""The IR contract: schema validation and (de)serialisation.

The IR is plain JSON-compatible data (see docs/ir.md); ``compiler/ir.schema.json`` is
its published, versioned contract. Every compile validates the IR it produced: a
violation is a compiler bug (E902), reported with the best-matching error and its JSON
path, never as the user's first message.

How, fast: the schema is compiled once per process into plain Python predicates
(:func:`compiled`: the draft-7 keywords the schema uses -- type, properties, required,
additionalProperties, items, enum, const, pattern, minimum, oneOf, anyOf, $ref; any other
keyword is refused, so the schema cannot outgrow it unnoticed). A valid IR -- every IR of a
working compiler -- is accepted without importing jsonschema; only an invalid one is handed to
jsonschema for the best-matching message. tests/golden/test_ir_validator.py checks that the
compiled predicate and jsonschema agree on the golden IRs and on mutated ones.
"""
from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

SCHEMA_VERSION = "2"


@functools.lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(resources.files("mlspec.compiler").joinpath("ir.schema.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def _validator():
    import jsonschema

    cls = jsonschema.validators.validator_for(schema())
    return cls(schema())


_IGNORED = frozenset({"$schema", "$id", "title", "description", "definitions", "$comment", "default", "examples",
                      "format"})  # format: jsonschema asserts none without a format checker (none is used)
_TYPES = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "number": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
    "integer": lambda x: (isinstance(x, int) and not isinstance(x, bool)) or (isinstance(x, float) and x.is_integer()),
}


def _equal(a: Any, b: Any) -> bool:
    """jsonschema's equality: booleans are not numbers; containers compared item by item."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return a == b


def _compile(node: Any, defs: dict[str, Any]) -> Any:
    """One schema node -> predicate(instance) -> bool."""
    import re

    if node is True or node == {}:
        return lambda x: True
    if node is False:
        return lambda x: False
    if "$ref" in node:  # draft 7: siblings of $ref are ignored
        ref = node["$ref"]
        if not ref.startswith("#/definitions/"):
            raise ValueError(f"unsupported $ref {ref}")
        name = ref.rsplit("/", 1)[-1]
        return lambda x: defs[name](x)  # (defs are filled after this node is compiled)
    unknown = set(node) - _IGNORED - {"type", "properties", "required", "additionalProperties", "items", "enum",
                                      "const", "pattern", "minimum", "maximum", "exclusiveMinimum",
                                      "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems",
                                      "uniqueItems", "oneOf", "anyOf"}
    if unknown:
        raise ValueError(f"the compiled IR validator does not know {sorted(unknown)}")
    checks = []
    if "type" in node:
        kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
        preds = [_TYPES[k] for k in kinds]
        checks.append(preds[0] if len(preds) == 1 else (lambda x, ps=tuple(preds): any(p(x) for p in ps)))
    if "enum" in node:
        options = list(node["enum"])
        if all(isinstance(o, str) for o in options):  # the usual case: a set lookup (same verdict as _equal)
            names = frozenset(options)
            checks.append(lambda x: isinstance(x, str) and x in names)
        else:
            checks.append(lambda x: any(_equal(x, o) for o in options))
    if "const" in node:
        want = node["const"]
        checks.append(lambda x: _equal(x, want))
    if "pattern" in node:
        rx = re.compile(node["pattern"])
        checks.append(lambda x: not isinstance(x, str) or rx.search(x) is not None)
    if "minimum" in node:
        low = node["minimum"]
        checks.append(lambda x: not _TYPES["number"](x) or x >= low)
    if "maximum" in node:
        high = node["maximum"]
        checks.append(lambda x: not _TYPES["number"](x) or x <= high)
    if "exclusiveMinimum" in node:
        xlow = node["exclusiveMinimum"]
        checks.append(lambda x: not _TYPES["number"](x) or x > xlow)
    if "exclusiveMaximum" in node:
        xhigh = node["exclusiveMaximum"]
        checks.append(lambda x: not _TYPES["number"](x) or x < xhigh)
    if "minLength" in node:
        minlen = node["minLength"]
        checks.append(lambda x: not isinstance(x, str) or len(x) >= minlen)
    if "maxLength" in node:
        maxlen = node["maxLength"]
        checks.append(lambda x: not isinstance(x, str) or len(x) <= maxlen)
    if "minItems" in node:
        minitems = node["minItems"]
        checks.append(lambda x: not isinstance(x, list) or len(x) >= minitems)
    if "maxItems" in node:
        maxitems = node["maxItems"]
        checks.append(lambda x: not isinstance(x, list) or len(x) <= maxitems)
    if node.get("uniqueItems"):
        checks.append(lambda x: not isinstance(x, list) or
                      all(not _equal(a, b) for i, a in enumerate(x) for b in x[i + 1:]))
    if any(k in node for k in ("properties", "required", "additionalProperties")):
        props = {k: _compile(v, defs) for k, v in (node.get("properties") or {}).items()}
        required = tuple(node.get("required") or ())
        extra = node.get("additionalProperties", True)
        extra_check = None if extra is True else _compile(extra, defs)

        def obj(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for k in required:
                if k not in x:
                    return False
            for k, v in x.items():
                p = props.get(k)
                if p is not None:
                    if not p(v):
                        return False
                elif extra_check is not None and not extra_check(v):
                    return False
            return True
        checks.append(obj)
    if "items" in node:
        if isinstance(node["items"], list):
            raise ValueError("tuple `items` is not supported by the compiled IR validator")
        item = _compile(node["items"], defs)

        def items(x: Any) -> bool:
            if isinstance(x, list):
                for i in x:
                    if not item(i):
                        return False
            return True
        checks.append(items)
    if "oneOf" in node:
        alts = [_compile(a, defs) for a in node["oneOf"]]
        checks.append(lambda x: sum(1 for a in alts if a(x)) == 1)
    if "anyOf" in node:
        alts_any = [_compile(a, defs) for a in node["anyOf"]]
        checks.append(lambda x: any(a(x) for a in alts_any))
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda x: first(x) and second(x)

    def every(x: Any) -> bool:
        for c in checks:
            if not c(x):
                return False
        return True
    return every


@functools.lru_cache(maxsize=1)
def compiled():
    """The schema as one predicate ``(ir) -> bool``, built once per process."""
    sch = schema()
    defs: dict[str, Any] = {}
    for name, node in (sch.get("definitions") or {}).items():
        defs[name] = _compile(node, defs)
    return _compile(sch, defs)


def is_valid(ir: dict) -> bool:
    """True when `ir` satisfies ir.schema.json (the compiled predicate; no jsonschema import)."""
    return compiled()(ir)


def validation_error(ir: dict) -> str | None:
    """None when `ir` satisfies the schema, else 'at $.path: message' of the best error."""
    if is_valid(ir):
        return None
    import jsonschema

    err = jsonschema.exceptions.best_match(_validator().iter_errors(ir))
    if err is None:
        return None
    path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
    return f"at {path}: {err.message}"


def dumps(ir: dict) -> str:
    """Canonical JSON text of an IR (stable key order as built, 2-space indent, final newline)."""
    return json.dumps(ir, indent=2, ensure_ascii=False) + "\n"


def loads(text: str) -> dict[str, Any]:
    return json.loads(text)


def data_format(ir: dict, ref: str | None) -> str | None:
    """The data format of a data reference: a dataset's `format`, or the declared format of
    a step output (`output_formats`; a validate step passes its dataset's format on).

    ``data_format(ir, "step.prepare.outputs.test")`` -> ``"csv"``; None when undeclared or
    unknown. csv always has a header row."""
    if not ref:
        return None
    parts = ref.split(".")
    if parts[0] == "dataset":
        return next((d["format"] for d in ir.get("datasets", []) if d["id"] == ref), None)
    if parts[0] == "step" and len(parts) == 4:
        for p in ir.get("pipelines", []):
            for s in p["steps"]:
                if s["id"] == f"step.{parts[1]}":
                    return (s.get("output_formats") or {}).get(parts[3])
    return None
