"""Shared test helpers (a uniquely named module: several test folders have a conftest.py).

`ROOT`, `SPECS` and `assert_golden` (byte-exact comparison; `pytest --update-golden`
rewrites the expected file instead)."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(p for p in (ROOT / "specs").glob("*.mlspec") if not p.name.startswith("."))

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
