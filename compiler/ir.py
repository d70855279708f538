"""The IR contract: schema validation and (de)serialisation.

The IR is plain JSON-compatible data (see docs/ir.md); ``compiler/ir.schema.json`` is
its published, versioned contract. Every compile validates the IR it produced: a
violation is a compiler bug (E902), reported with the best-matching error and its JSON
path, never as the user's first message.
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


def validation_error(ir: dict) -> str | None:
    """None when `ir` satisfies the schema, else 'at $.path: message' of the best error."""
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
