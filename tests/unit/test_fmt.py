"""`mlspec fmt`: idempotent, keeps comments, never changes meaning (same IR before and after)."""
import json
import random
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from testkit import SPECS
from mlspec.compiler import api, fmt
from mlspec.compiler.cli import main


def _format(path):
    module, src, diags, _ = api.load(str(path))
    assert not [d for d in diags if d.is_error]
    return fmt.format_module(module, src)


def _irs(path):
    res = api.build_irs(str(path))
    assert res.ok, res.diagnostics
    out = {}
    for env, ir in res.irs.items():
        ir = json.loads(json.dumps(ir))
        ir["source"]["sha256"] = "-"
        out[env] = ir
    return out


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_examples_are_canonical(spec):
    assert _format(spec) == spec.read_text()


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_fmt_is_idempotent_and_preserves_meaning_on_messy_input(spec, seed):
    """Re-indent, re-space `=` and sprinkle comments at random: fmt is idempotent, keeps
    every comment, and the IR (the meaning) is unchanged."""
    rng = random.Random(seed)
    lines = spec.read_text().splitlines()
    messy = []
    for line in lines:
        stripped = line.strip()
        indent = " " * rng.choice([0, 1, 3, 8])
        messy.append(indent + stripped.replace(" = ", rng.choice(["=", " =  ", "   = "])))
        if rng.random() < 0.1:
            messy.append("   # an extra comment")
    work = Path(tempfile.mkdtemp(prefix="mlspec-fmt-"))
    shutil.copytree(spec.parent, work / "specs")  # scripts resolve relative to the spec
    target = work / "specs" / f"messy-{spec.stem}.mlspec"
    try:
        target.write_text("\n".join(messy) + "\n")
        once = _format(target)
        target.write_text(once)
        twice = _format(target)
        assert once == twice
        assert once.count("# an extra comment") == sum(1 for m in messy if "# an extra comment" in m)
        assert _irs(target) == _irs(spec) or _strip_source(_irs(target)) == _strip_source(_irs(spec))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _strip_source(irs):
    for ir in irs.values():
        ir["source"] = {}
    return irs


def test_fmt_check_reports_and_exits_1(tmp_path, capsys):
    p = tmp_path / "s.mlspec"
    p.write_text('system s {\nowner="a@b.c"\n  x   =  1 # keep me\n}\n')
    assert main(["fmt", "--check", str(p)]) == 1
    assert "would reformat" in capsys.readouterr().out
    assert main(["fmt", str(p)]) == 0
    assert p.read_text() == 'system s {\n  owner = "a@b.c"\n  x     = 1  # keep me\n}\n'
    assert main(["fmt", "--check", str(p)]) == 0


def test_fmt_refuses_invalid_spec_and_leaves_file(tmp_path):
    p = tmp_path / "s.mlspec"
    p.write_text("system s {\n  x = \n")
    before = p.read_bytes()
    assert main(["fmt", str(p)]) == 1
    assert p.read_bytes() == before
