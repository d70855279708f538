"""Golden builds: every example compiled for every target, byte-exact, whole tree.

tests/golden/<spec>/<target>/... is exactly what `mlspec compile` writes under
DIR/<target>/ (manifest included, with the compiler version). A target that must refuse
a spec has tests/golden/<spec>/<target>.diagnostics instead. `pytest --update-golden`
rewrites them; review the diff like code.
"""
import shutil

import pytest

from testkit import ROOT, SPECS, assert_golden
from mlspec.compiler import api
from mlspec.compiler.diagnostics import render_text
from mlspec.targets.base import available_targets

CASES = [(spec, t) for spec in SPECS for t in available_targets()]


@pytest.mark.parametrize("spec,target", CASES, ids=lambda x: getattr(x, "stem", x))
def test_golden_build(spec, target, tmp_path, update_golden, monkeypatch):
    monkeypatch.chdir(ROOT)
    rel = str(spec.relative_to(ROOT))
    res = api.compile_spec(rel, [target], out=tmp_path)
    golden = ROOT / "tests" / "golden" / spec.stem
    diag_file = golden / f"{target}.diagnostics"
    tree = golden / target
    if not res.ok:
        text = render_text(res.diagnostics, res.sources)
        if update_golden:
            shutil.rmtree(tree, ignore_errors=True)
        assert_golden(diag_file, text, update_golden)
        return
    built = tmp_path / target
    produced = sorted(str(p.relative_to(built)) for p in built.rglob("*") if p.is_file())
    if update_golden:
        shutil.rmtree(tree, ignore_errors=True)
        diag_file.unlink(missing_ok=True)
    expected = sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file()) if tree.exists() else []
    if not update_golden:
        assert not diag_file.exists(), f"{target} now compiles {spec.name}; run pytest --update-golden"
        assert produced == expected, "file set differs; run pytest --update-golden"
    for rel_path in produced:
        assert_golden(tree / rel_path, (built / rel_path).read_bytes(), update_golden)
