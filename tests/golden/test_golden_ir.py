"""Golden IR per example and environment: byte-exact, schema-valid, round-trips through JSON."""
import json

import pytest

from testkit import ROOT, SPECS, assert_golden
from mlspec.compiler import api, ir as irmod

CASES = [(spec, env) for spec in SPECS for env in api.build_irs(str(spec)).irs]


@pytest.mark.parametrize("spec,env", CASES, ids=lambda x: getattr(x, "stem", x))
def test_golden_ir(spec, env, update_golden):
    res = api.build_irs(str(spec.relative_to(ROOT)), env)
    assert res.ok, res.diagnostics
    text = irmod.dumps(res.irs[env])
    assert_golden(ROOT / "tests" / "golden" / spec.stem / f"ir.{env}.json", text, update_golden)


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_ir_round_trip_and_schema(spec):
    for env, ir in api.build_irs(str(spec)).irs.items():
        again = irmod.loads(irmod.dumps(ir))
        assert again == ir
        assert irmod.validation_error(again) is None


def test_schema_rejects_unknown_fields():
    ir = api.build_irs(str(SPECS[0])).irs
    one = json.loads(json.dumps(next(iter(ir.values()))))
    one["endpoints"][0]["surprise"] = 1
    assert "surprise" in irmod.validation_error(one)
    one = json.loads(json.dumps(next(iter(ir.values()))))
    one["schema_version"] = "1"  # an IR of the previous schema is refused
    assert irmod.validation_error(one) is not None


def test_committed_schema_is_current():
    from mlspec.compiler import irschema

    assert (ROOT / "compiler" / "ir.schema.json").read_text() == irschema.render(), \
        "run: python -m mlspec.compiler.irschema"
