"""The compiled IR validator (mlspec.compiler.ir.compiled, used on every compile) and jsonschema
(the reference implementation of ir.schema.json) agree: on every golden IR and on a few thousand
deterministic mutations of them (a key removed, an unknown key added, a value of another type,
a string that breaks a pattern or an enum)."""
from __future__ import annotations

import copy
import json
import random

import jsonschema
import pytest

from testkit import ROOT, SPECS
from mlspec.compiler import ir as irmod

IRS = sorted((ROOT / "tests" / "golden").glob("*/ir.*.json"))
REFERENCE = jsonschema.validators.validator_for(irmod.schema())(irmod.schema())
ODD_VALUES = [None, True, 0, -1, 1.5, "", "x", "NOT_A_REF", [], {}, ["x"], {"k": 1}]


def paths(v, at=()):
    yield at
    if isinstance(v, dict):
        for k, x in v.items():
            yield from paths(x, at + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from paths(x, at + (i,))


def mutants(ir: dict, rng: random.Random, n: int):
    every = list(paths(ir))[1:]
    for _ in range(n):
        at = rng.choice(every)
        doc = copy.deepcopy(ir)
        parent = doc
        for p in at[:-1]:
            parent = parent[p]
        key = at[-1]
        what = rng.randrange(3)
        if what == 0 and isinstance(parent, dict):
            del parent[key]
        elif what == 1 and isinstance(parent[key], dict):
            parent[key]["surprise_key"] = 1
        else:
            parent[key] = copy.deepcopy(rng.choice(ODD_VALUES))
        yield at, doc


def test_the_golden_irs_exist():
    assert len(IRS) >= len(SPECS)


@pytest.mark.parametrize("path", IRS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_compiled_validator_agrees_with_jsonschema(path):
    ir = json.loads(path.read_text())
    assert irmod.is_valid(ir) and REFERENCE.is_valid(ir)
    rng = random.Random(path.name + path.parent.name)
    disagree = []
    invalid = 0
    for at, doc in mutants(ir, rng, 600):
        want = REFERENCE.is_valid(doc)
        invalid += not want
        if irmod.is_valid(doc) != want:
            disagree.append((at, want))
    assert disagree == []
    assert invalid > 300  # the mutations do reach the schema's constraints


def test_an_invalid_ir_still_gets_jsonschemas_message():
    ir = json.loads(IRS[0].read_text())
    ir["system"]["name"] = 7
    assert irmod.validation_error(ir) == "at $.system.name: 7 is not of type 'string'"


def test_the_compiler_refuses_keywords_it_does_not_implement():
    with pytest.raises(ValueError, match="does not know"):
        irmod._compile({"type": "string", "maxLength": 3}, {})
