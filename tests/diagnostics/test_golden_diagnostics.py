"""Golden diagnostics: one spec per diagnostic code, its rendered `mlspec check` output
compared byte for byte (STYLE.md section 7).

Each `tests/diagnostics/<CODE>-<slug>.mlspec` runs through the public CLI entry point
(`mlspec.compiler.cli.main`) from the repository root, so paths in the output read
`tests/diagnostics/E204-unknown-step.mlspec:7:32`. The text written to stderr must equal
`<CODE>-<slug>.expected`; `pytest --update-golden` rewrites the expected files.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from testkit import assert_golden
from mlspec.compiler import cli

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CASES = sorted(HERE.glob("*.mlspec"))


def run_check(monkeypatch, capsys, rel: str, *extra: str) -> tuple[int, str, str]:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("MLSPEC_TODAY", "2026-11-26")
    code = cli.main(["check", rel, *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_golden_text(case: Path, monkeypatch, capsys, update_golden):
    rel = case.relative_to(ROOT).as_posix()
    code, out, err = run_check(monkeypatch, capsys, rel)
    want = case.name.split("-")[0]
    assert f"[{want}]: " in err, f"{case.name} does not produce {want}:\n{err}"
    assert "Traceback" not in err
    assert code == (0 if want.startswith("W") else 1)
    assert_golden(case.with_suffix(".expected"), err, update_golden)


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_json_matches_text(case: Path, monkeypatch, capsys):
    """`--format json` carries the same records (code, location, summary) as the text."""
    rel = case.relative_to(ROOT).as_posix()
    _, _, text = run_check(monkeypatch, capsys, rel)
    _, _, raw = run_check(monkeypatch, capsys, rel, "--format", "json")
    doc = json.loads(raw)
    for d in doc["diagnostics"]:
        sp = d["span"]
        locs = [f"{sp['file']}:{sp['line']}:{sp['col']}: ", f"{sp['file']}: "] if sp else [""]
        assert any(f"{loc}{d['severity']}[{d['code']}]: {d['summary']}\n" in text for loc in locs)
        assert d["docs"] == f"docs/errors.md#{d['code'].lower()}"
