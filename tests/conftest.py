"""Shared pytest options and fixtures.

`pytest --update-golden` rewrites expected files (golden IR, golden builds, golden
diagnostics) instead of comparing against them. Never used in CI.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.mlspec"))

# Waiver expiry depends on the date; pin it so the suite is reproducible.
os.environ.setdefault("MLSPEC_TODAY", "2026-11-26")


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden files instead of comparing")


@pytest.fixture
def update_golden(request) -> bool:
    return bool(request.config.getoption("--update-golden"))


def assert_golden(path: Path, actual: str | bytes, update: bool) -> None:
    """Byte-exact comparison with a unified diff on failure; rewrite with --update-golden."""
    import difflib

    data = actual.encode("utf-8") if isinstance(actual, str) else actual
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return
    if not path.exists():
        pytest.fail(f"missing golden file {path.relative_to(ROOT)}; run pytest --update-golden")
    expected = path.read_bytes()
    if expected != data:
        diff = "".join(difflib.unified_diff(expected.decode("utf-8", "replace").splitlines(True),
                                            data.decode("utf-8", "replace").splitlines(True),
                                            str(path.relative_to(ROOT)), "actual"))
        pytest.fail(f"golden mismatch for {path.relative_to(ROOT)} (run pytest --update-golden to accept):\n"
                    + diff[:20000])
