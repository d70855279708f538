"""The diagnostic code registry: codes are unique and well formed, every code has a
docs/errors.md entry and at least one golden test case, and docs/errors.md is current.

Named to run after the golden-case modules: under `pytest --update-golden` (run it
without `-n`), docs/errors.md is regenerated from the freshly rewritten `.expected` files."""
from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import errors_doc
from testkit import assert_golden
from mlspec.compiler import diagnostics
from mlspec.compiler.diagnostics import CODES

HERE = Path(__file__).resolve().parent


def test_codes_are_unique_and_well_formed():
    tree = ast.parse(inspect.getsource(diagnostics))
    keys = []
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "CODES":
            keys = [k.value for k in node.value.keys]
    assert keys, "CODES literal not found"
    assert len(keys) == len(set(keys)), [k for k in keys if keys.count(k) > 1]
    for code, title in CODES.items():
        assert re.fullmatch(r"[EW][1-9][0-9]{2}", code), code
        assert title and title[0].islower() and not title.endswith("."), title


def test_every_code_has_a_test_case():
    cases = {p.name.split("-")[0] for p in list(HERE.glob("*.expected")) + list((HERE / "targets").glob("*.expected"))}
    missing = sorted(set(CODES) - cases)
    assert not missing, f"codes without a golden case: {missing}"
    unknown = sorted(cases - set(CODES))
    assert not unknown, f"golden cases for unregistered codes: {unknown}"


def test_every_code_is_explained():
    assert sorted(errors_doc.EXPLAIN) == sorted(CODES)


def test_errors_doc_is_current(update_golden):
    assert_golden(errors_doc.DOC, errors_doc.render(), update_golden)


def test_errors_doc_has_an_anchor_per_code():
    text = errors_doc.DOC.read_text(encoding="utf-8")
    for code, title in CODES.items():
        assert f'<a id="{code.lower()}"></a>' in text
        assert f"## {code}: {title}\n" in text


def _codes_used_in(folder: Path) -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for py in sorted(folder.rglob("*.py")):
        for code in re.findall(r"""Diagnostic\(\s*["']([EW][0-9]{3})["']""", py.read_text(encoding="utf-8")):
            used.setdefault(code, []).append(py.relative_to(folder.parent).as_posix())
    return used


def test_front_end_codes_are_registered():
    root = HERE.parent.parent
    used = _codes_used_in(root / "compiler")
    assert not {c: f for c, f in used.items() if c not in CODES}


def test_target_codes_are_registered():
    """A target reporting an unregistered code turns a refusal into an internal error
    (E903 "unregistered diagnostic code"): targets use the shared E5xx codes."""
    root = HERE.parent.parent
    unknown = {c: f for c, f in _codes_used_in(root / "targets").items() if c not in CODES}
    assert not unknown, f"targets report unregistered codes: {unknown}"
