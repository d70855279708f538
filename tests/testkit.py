"""Shared test helpers (a uniquely named module: several test folders have a conftest.py).

`ROOT`, `SPECS`, `assert_golden` (byte-exact comparison; `pytest --update-golden`
rewrites the expected file instead) and `wheel_index` (an offline PEP 503 package index)."""
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


def wheel_index(folder: Path) -> None:
    """A minimal pure-Python wheel `mlspec_probe 1.0` and a PEP 503 index page for it."""
    import base64
    import hashlib
    import zipfile

    files = {"mlspec_probe.py": "VALUE = 42\n",
             "mlspec_probe-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: mlspec-probe\nVersion: 1.0\n",
             "mlspec_probe-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                                "Tag: py3-none-any\n"}
    record = [f"{n},sha256={base64.urlsafe_b64encode(hashlib.sha256(c.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(c)}" for n, c in files.items()] + ["mlspec_probe-1.0.dist-info/RECORD,,"]
    files["mlspec_probe-1.0.dist-info/RECORD"] = "\n".join(record) + "\n"
    whl = folder / "mlspec_probe-1.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        for n, c in files.items():
            z.writestr(n, c)
    page = folder / "simple" / "mlspec-probe"
    page.mkdir(parents=True)
    (page / "index.html").write_text(f'<a href="{whl.as_uri()}">{whl.name}</a>\n')
