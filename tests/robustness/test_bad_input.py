"""Bad input never crashes (issue 2, item 7; SECURITY.md section 5, MLS-E001/E002).

Each hostile or mistaken input runs through the real `mlspec` command in a subprocess
and must end within seconds with exit code 1, a clear diagnostic on stderr, and no
Python traceback. The time bound is the subprocess timeout (no pytest-timeout needed).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TIMEOUT = 60  # seconds per command: each finishes in about a second; the margin absorbs loaded CI machines
GOOD = b'system demo {\n  owner = "ml@example.com"\n}\n'

#: name -> (bytes written to the file, or None for "no file"; codes accepted)
INPUTS: dict[str, tuple[bytes | None, tuple[str, ...]]] = {
    "empty": (b"", ("E116",)),
    "only-whitespace": (b"  \n\t\n\n", ("E116",)),
    "only-comments": (b"# nothing here\n// nor here\n", ("E116",)),
    "binary": (bytes(range(256)) * 64, ("E102", "E103")),
    "png-header": (b"\x89PNG\r\n\x1a\n" + os.urandom(512).replace(b"\x00", b"\x01"), ("E102", "E103")),
    "invalid-utf8": (GOOD.replace(b"ml@", b"m\xffl@"), ("E102",)),
    "truncated-utf8": (GOOD.replace(b'"\n}', b'\xc3"\n}'), ("E102",)),
    "lone-surrogate": (GOOD.replace(b"ml@", b"\xed\xa0\x80@"), ("E102",)),
    "utf16-le": ("system demo {\n}\n".encode("utf-16-le"), ("E103", "E102")),
    "utf16-bom": ("system demo {\n}\n".encode("utf-16"), ("E102",)),
    "utf32": ("system demo {\n}\n".encode("utf-32"), ("E102", "E103")),
    "nul-bytes": (GOOD.replace(b"{\n", b"{\x00\n"), ("E103",)),
    "bom-in-the-middle": (GOOD.replace(b"  owner", b"\xef\xbb\xbf  owner"), ("E309",)),
    "bidi-override": (GOOD.replace(b"ml@", "\u202eml@".encode()), ("E309",)),
    "deep-lists": (b"system demo {\n  owner = " + b"[" * 5000 + b"]" * 5000 + b"\n}\n", ("E105",)),
    "deep-blocks": (b"system demo {\n" + b"a {" * 5000 + b"}" * 5000 + b"\n}\n", ("E105",)),
    "deep-unclosed": (b"system demo {\n" + b"(" * 5000, ("E105",)),
    "3mb-single-line": (b"system demo { owner = \"" + b"x" * (3 * 1024 * 1024) + b"\" }", ("E104",)),
    "1mb-long-string": (b'system demo {\n  description = "' + b"y" * (1024 * 1024 - 100) + b'"\n}\n',
                        ("E302", "E303")),
    "many-errors": (b"system demo {\n" + b"".join(b"  x%d = 1\n" % i for i in range(5000)) + b"}\n",
                    ("E201", "E303")),
    "yaml": (b"system: demo\nowner: ml@example.com\nsteps:\n  - train\n", ("E115",)),
    "yaml-document": (b"---\napiVersion: v1\nkind: Pipeline\n", ("E115",)),
    "json": (b'{"system": "demo", "owner": "ml@example.com"}\n', ("E115",)),
    "json-array": (b"[1, 2, 3]\n", ("E115",)),
    "python": (b"import os\nprint(os.environ)\n", ("E110",)),
    "missing-file": (None, ("E101",)),
}


def _mlspec(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, MLSPEC_TODAY="2026-11-26", PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-m", "mlspec.compiler.cli", *args], cwd=cwd, env=env,
                          capture_output=True, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    for name, (data, _) in INPUTS.items():
        if data is not None:
            (d / f"{name}.mlspec").write_bytes(data)
    (d / "a-directory.mlspec").mkdir()
    return d


CASES = [(n, "check") for n in sorted(INPUTS) + ["a-directory"]] + [
    (n, "ir") for n in ("binary", "utf16-bom", "deep-lists", "3mb-single-line", "yaml", "json", "missing-file",
                        "a-directory")]


@pytest.mark.parametrize("name,command", CASES, ids=[f"{c}-{n}" for n, c in CASES])
def test_bad_input_gives_a_diagnostic(inputs: Path, name: str, command: str):
    r = _mlspec(command, f"{name}.mlspec", cwd=inputs)
    err = r.stderr.decode("utf-8")  # stderr is always valid UTF-8, whatever the input
    assert "Traceback" not in err
    assert r.returncode == 1, err[-2000:]
    codes = INPUTS.get(name, (None, ("E101",)))[1]
    assert any(f"error[{c}]" in err for c in codes), err[-2000:]
    assert len(err) < 100_000  # capped: a huge input never floods the terminal
    assert str(inputs) not in err  # relative paths only
    assert r.stdout == b""


@pytest.mark.parametrize("name", ["binary", "3mb-single-line", "deep-lists", "many-errors", "missing-file"])
def test_bad_input_json_diagnostics(inputs: Path, name: str):
    r = _mlspec("check", f"{name}.mlspec", "--format", "json", cwd=inputs)
    assert r.returncode == 1
    doc = json.loads(r.stderr)
    assert doc["diagnostics"] and all(d["code"].startswith("E") for d in doc["diagnostics"])


def test_many_errors_are_capped(inputs: Path):
    err = _mlspec("check", "many-errors.mlspec", cwd=inputs).stderr.decode()
    assert err.count("error[E") == 50  # sorted: the missing `owner` (line 1) comes first
    assert err.index("error[E303]") < err.index("error[E201]")
    assert err.endswith("… and 4951 more\n\n5001 errors\n")


def test_windows_line_endings_are_fine(tmp_path: Path):
    (tmp_path / "crlf.mlspec").write_bytes(GOOD.replace(b"\n", b"\r\n"))
    (tmp_path / "bom.mlspec").write_bytes(b"\xef\xbb\xbf" + GOOD)  # a leading BOM is tolerated
    for name in ("crlf", "bom"):
        r = _mlspec("check", f"{name}.mlspec", cwd=tmp_path)
        assert r.returncode == 0, r.stderr.decode()


def test_diagnostics_are_deterministic(tmp_path: Path):
    """Same bytes out whatever the hash seed: diagnostics are sorted, suggestions chosen
    from sorted candidates, and no set order leaks into a message."""
    spec = (b'system demo {\n  owner = "ml@example.com"\n  lables = { a = "b" }\n'
            b"  dataset d { uri = \"x\"  format = parqet }\n  pipeline p { step s = validat { } }\n"
            b"  endpoint e { model = model.m  autoscale { min = 3  max = 1 } }\n}\n")
    (tmp_path / "s.mlspec").write_bytes(spec)
    outs = set()
    for seed in ("0", "1", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        r = subprocess.run([sys.executable, "-m", "mlspec.compiler.cli", "check", "s.mlspec"], cwd=tmp_path,
                           env=env, capture_output=True, timeout=TIMEOUT)
        assert r.returncode == 1
        outs.add(r.stderr)
    assert len(outs) == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_and_devices_are_refused_without_blocking(tmp_path: Path):
    os.mkfifo(tmp_path / "pipe.mlspec")  # opening it for reading would block forever
    for path in ("pipe.mlspec", "/dev/zero"):
        r = _mlspec("check", path, cwd=tmp_path)
        err = r.stderr.decode()
        assert r.returncode == 1 and "error[E101]" in err and "Traceback" not in err, err
