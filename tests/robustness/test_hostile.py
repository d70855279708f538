"""Hostile input and faults (issue 15): one test per class of hole the adversarial run found.

Offline and fast: specs are small, faults are injected (monkeypatching, a subprocess that
dies with ``os._exit`` where a kill would land), and every command runs through the public
CLI or API. Command-line injection has its own module (test_command_lines.py).
"""
from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import unicodedata
from pathlib import Path

import pytest

from mlspec.compiler import api, cli, emit, parse
from mlspec.compiler.check import policy
from testkit import ROOT

TIMEOUT = 120
FRAUD = ROOT / "specs" / "fraud_detection.mlspec"


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, MLSPEC_TODAY="2026-11-26", PYTHONDONTWRITEBYTECODE="1", **extra)


def _mlspec(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlspec.compiler.cli", *args], cwd=cwd, env=_env(**env),
                          capture_output=True, timeout=TIMEOUT)


def _project(tmp: Path) -> Path:
    """A copy of the fraud example (spec and scripts) to compile and break."""
    shutil.copytree(ROOT / "specs" / "fraud_detection", tmp / "fraud_detection")
    shutil.copy(FRAUD, tmp / "fraud_detection.mlspec")
    return tmp / "fraud_detection.mlspec"


def _spec(tmp: Path, body: str, name: str = "s.mlspec") -> Path:
    path = tmp / name
    path.write_text('system demo {\n  owner = "ml@example.com"\n' + textwrap.dedent(body) + "}\n", encoding="utf-8")
    return path


def _codes(path: Path) -> dict[str, list[str]]:
    res = api.build_irs(str(path))
    out: dict[str, list[str]] = {}
    for d in res.diagnostics:
        if d.is_error:
            out.setdefault(d.code, []).append(d.summary)
    return out


def _manifest(target: str, files=()) -> bytes:
    return emit.manifest(list(files), spec_sha256="0" * 64, compiler_version="0", target=target, environment="all")


# ------------------------------------------------------------------ 2. parser cache
def test_a_planted_parser_cache_in_the_temp_directory_is_never_loaded(tmp_path: Path):
    """Lark's default cache name in the temp directory is predictable and unpickled before
    its checksum is compared; mlspec must never read it (nor anything else there)."""
    planted = tmp_path / "tmp"
    planted.mkdir()
    marker = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    # plant the payload under the name Lark's default cache uses: let Lark itself create its
    # cache in a probe folder to learn the name, then plant the payload under that name
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    probe = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import lark
        from mlspec.compiler import parse
        lark.Lark(parse.grammar_text(), parser="lalr", lexer="contextual", transformer=parse._Builder(),
                  maybe_placeholders=False, cache=True)
    """)], env=_env(TMPDIR=str(probe_dir)), capture_output=True, timeout=TIMEOUT, cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr
    names = [p.name for p in probe_dir.iterdir()]
    assert names and all(n.startswith(".lark_cache_") for n in names), names
    payload = b"x\n" + pickle.dumps(Evil())
    for name in names:
        (planted / name).write_bytes(payload)
    spec = _spec(tmp_path, "")
    r = _mlspec("check", str(spec), cwd=tmp_path, TMPDIR=str(planted), XDG_CACHE_HOME=str(tmp_path / "cache"))
    assert r.returncode == 0, r.stderr
    assert not marker.exists()
    # the tables were cached privately instead
    folder = tmp_path / "cache" / "mlspec"
    assert folder.is_dir() and (folder.stat().st_mode & 0o777) == 0o700
    assert [p.name.startswith("parser-") for p in folder.iterdir()] == [True]


def test_a_cache_folder_others_can_write_is_not_used(tmp_path: Path):
    cache = tmp_path / "cache"
    (cache / "mlspec").mkdir(parents=True)
    os.chmod(cache / "mlspec", 0o777)
    marker = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    import hashlib
    import lark

    key = hashlib.sha256(f"{parse.grammar_text()}\0{lark.__version__}\0{sys.version_info[:2]}".encode()
                         ).hexdigest()[:32]
    (cache / "mlspec" / f"parser-{key}.lark").write_bytes(b"x\n" + pickle.dumps(Evil()))
    r = _mlspec("check", str(_spec(tmp_path, "")), cwd=tmp_path, XDG_CACHE_HOME=str(cache))
    assert r.returncode == 0, r.stderr
    assert not marker.exists()
    # same file in a private folder but writable by others: refused as well
    os.chmod(cache / "mlspec", 0o700)
    os.chmod(cache / "mlspec" / f"parser-{key}.lark", 0o666)
    r = _mlspec("check", str(_spec(tmp_path, "")), cwd=tmp_path, XDG_CACHE_HOME=str(cache))
    assert r.returncode == 0 and not marker.exists()


# ------------------------------------------------------------------ 3. the spec's file name
def test_a_file_name_with_a_line_break_is_refused_and_never_printed_raw(tmp_path: Path):
    spec = _project(tmp_path)
    evil = tmp_path / "evil\nname\x1b[31m.mlspec"
    shutil.copy(spec, evil)
    r = _mlspec("compile", evil.name, "--target", "all", "--out", "out", cwd=tmp_path)
    err = r.stderr.decode()
    assert r.returncode == 1 and "error[E101]" in err and "evil\\nname\\x1b[31m.mlspec" in err
    assert "\x1b" not in err and "evil\nname" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["${{inputs.x}}.mlspec", "{{$}}.mlspec", "a{%b.mlspec"])
def test_a_file_name_with_template_syntax_is_refused(tmp_path: Path, name: str):
    spec = _project(tmp_path)
    shutil.copy(spec, tmp_path / name)
    r = _mlspec("compile", name, "--target", "all", "--out", "out", cwd=tmp_path)
    assert r.returncode == 1 and b"error[E101]" in r.stderr and b"expression" in r.stderr
    assert not (tmp_path / "out").exists()


def test_status_lines_escape_control_characters_in_folder_names(tmp_path: Path):
    folder = tmp_path / "d\x1b[2J"
    folder.mkdir()
    _project(folder)
    r = _mlspec("check", "d\x1b[2J/fraud_detection.mlspec", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert b"\x1b" not in r.stdout and b"d\\x1b[2J/fraud_detection.mlspec: ok" in r.stdout


# ------------------------------------------------------------------ 4. string checks
INVISIBLE = ["\u3164", "\u115f", "\u1160", "\uffa0", "\u034f", "\ufe0f", "\ufe00", "\U000e0100", "\u2800",
             "\u200b", "\u2060", "\u00ad", "\u180e", "\u180b", "\u17b4", "\U000e0041", "\u2028"]


@pytest.mark.parametrize("ch", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_invisible_characters_are_refused_in_strings_names_and_comments(tmp_path: Path, ch: str):
    for body in (f'  description = "a{ch}b"\n', f"  # note{ch}\n", f'  labels = {{ a{ch} = "x" }}\n'):
        codes = _codes(_spec(tmp_path, body))
        assert "E309" in codes, (body, codes)


def test_every_format_character_is_in_the_invisible_class():
    """The class is Unicode category Cf plus the blank letters and marks; the literal in
    parse.py is checked against this Python's Unicode database."""
    missing = [f"U+{cp:04X}" for cp in range(sys.maxunicode + 1)
               if unicodedata.category(chr(cp)) == "Cf" and not parse._INVISIBLE.match(chr(cp))]
    if unicodedata.unidata_version == "14.0.0":
        assert not missing
    else:  # a newer Unicode may add format characters: the named ones must still be there
        assert all(parse._INVISIBLE.match(c) for c in INVISIBLE)
    for ch in "aé中 \t😀—":
        assert not parse._INVISIBLE.match(ch)


def test_column_allowed_values_get_the_string_checks(tmp_path: Path):
    codes = _codes(_spec(tmp_path, """\
          dataset tx {
            uri = "data://fraud/tx/"  format = parquet  version = "2026-11-01"
            schema {
              country : string { allowed = ["US", "{{$.inputs.parameters['x']}}", "${{inputs.y}}"] }
              code : string { allowed = ["a\\nb"] }
            }
          }
        """))
    assert len(codes.get("E310", [])) == 2 and "E309" in codes, codes


# ------------------------------------------------------------------ 5-7. the build swap
def _previous(out: Path, target: str = "t") -> Path:
    files = [("old.txt", "x", b"old\n")]
    emit.write_build(out, target, files, _manifest(target, files))
    return out / target


NEW = [("new.txt", "x", b"new\n")]


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("where", ["while-writing", "after-the-swap"])
def test_a_killed_compile_leaves_a_whole_build_and_the_next_one_cleans_up(tmp_path: Path, where: str):
    out = tmp_path / "out"
    _previous(out)
    kill = {"while-writing": "emit._write_tree = lambda tmp, files, man: (open(tmp / 'half', 'w'), os._exit(9))",
            "after-the-swap": "real = emit.exchange\n"
                              "emit.exchange = lambda a, b: (real(a, b), os._exit(9))"}[where]
    script = textwrap.dedent("""
        import os, sys
        from pathlib import Path
        from mlspec.compiler import emit
        {kill}
        emit.write_build(Path(sys.argv[1]), "t", [("new.txt", "x", b"new\\n")], sys.argv[2].encode())
    """).format(kill=kill)
    r = subprocess.run([sys.executable, "-c", script, str(out), _manifest("t", NEW).decode()],
                       capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 9, r.stderr
    final = out / "t"
    assert emit.is_mlspec_build(final)  # whole: the old build or the new one, never none
    expect = "old.txt" if where == "while-writing" else "new.txt"
    assert (final / expect).exists()
    assert _leftovers(out), "the kill should have left a temporary behind"
    emit.write_build(out, "t", NEW, _manifest("t", NEW))
    assert _leftovers(out) == [] and (final / "new.txt").exists()


def test_without_an_atomic_exchange_a_kill_between_renames_is_repaired(tmp_path: Path, monkeypatch):
    out = tmp_path / "out"
    _previous(out)
    script = textwrap.dedent("""
        import os, sys
        from pathlib import Path
        from mlspec.compiler import emit
        emit.exchange = lambda a, b: False
        real = os.rename
        def rename(a, b):
            real(a, b)
            if str(b).endswith("prev"):
                os._exit(9)  # killed with the old build moved aside and the new one not yet in place
        emit.os.rename = rename
        emit.write_build(Path(sys.argv[1]), "t", [("new.txt", "x", b"new\\n")], sys.argv[2].encode())
    """)
    r = subprocess.run([sys.executable, "-c", script, str(out), _manifest("t", NEW).decode()],
                       capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 9, r.stderr
    assert not (out / "t").exists()
    other = [("o.txt", "x", b"o\n")]
    emit.write_build(out, "other", other, _manifest("other", other))  # any later write repairs it
    assert (out / "t" / "old.txt").exists() and _leftovers(out) == []
    # and in-process failures between the two renames put the old build back at once
    monkeypatch.setattr(emit, "exchange", lambda a, b: False)
    real = os.rename

    def failing(a, b):
        if Path(a).name.startswith(".t.tmp-"):
            raise KeyboardInterrupt
        real(a, b)

    monkeypatch.setattr(emit.os, "rename", failing)
    with pytest.raises(KeyboardInterrupt):
        emit.write_build(out, "t", NEW, _manifest("t", NEW))
    assert (out / "t" / "old.txt").exists()


def test_concurrent_compiles_into_one_folder_take_turns(tmp_path: Path):
    spec = _project(tmp_path)
    args = [sys.executable, "-m", "mlspec.compiler.cli", "compile", spec.name, "--target", "sagemaker", "--out", "o"]
    procs = [subprocess.Popen(args, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(3)]
    results = [(p.wait(timeout=TIMEOUT), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert all(code == 0 for code, _ in results), results
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["sagemaker"]
    assert emit.is_mlspec_build(tmp_path / "o" / "sagemaker")


def test_stale_temporaries_are_cleaned_but_look_alikes_are_not(tmp_path: Path):
    out = tmp_path / "out"
    _previous(out)
    (out / ".t.tmp-abcd1234").mkdir()  # empty: what a kill right after mkdtemp leaves
    marked = out / ".vertex.tmp-zz_99xyz"
    marked.mkdir()
    (marked / ".mlspec-temporary").touch()
    (marked / "half.json").write_text("{")
    mine = out / ".notes.tmp-mine1234"  # a user's folder that happens to look like one
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    emit.write_build(out, "t", NEW, _manifest("t", NEW))
    assert _leftovers(out) == [".notes.tmp-mine1234"] and (mine / "keep.txt").exists()


def test_compile_replaces_only_what_it_owns(tmp_path: Path):
    spec = _project(tmp_path)
    (tmp_path / "vertex").mkdir()
    (tmp_path / "vertex" / "notes.txt").write_text("mine")
    r = _mlspec("compile", spec.name, "--target", "all", "--out", ".", cwd=tmp_path)
    err = r.stderr.decode()
    assert r.returncode == 2 and "is not an mlspec build" in err and "Traceback" not in err, err
    assert (tmp_path / "vertex" / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "sagemaker").exists()  # refused before anything was written
    (tmp_path / "azureml").symlink_to(tmp_path / "vertex")
    r = _mlspec("compile", spec.name, "--target", "azureml", "--out", ".", cwd=tmp_path)
    assert r.returncode == 2 and "symbolic link" in r.stderr.decode()
    (tmp_path / "azureml").unlink()
    (tmp_path / "azureml").mkdir()  # an empty folder may be used
    r = _mlspec("compile", spec.name, "--target", "azureml", "--out", ".", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert emit.is_mlspec_build(tmp_path / "azureml")


@pytest.mark.parametrize("case", ["empty-out", "out-is-a-file", "out-below-a-file", "same-stem", "dotdot-stem"])
def test_output_folders_that_would_write_the_wrong_place_are_refused(tmp_path: Path, case: str):
    spec = _project(tmp_path)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "sub").mkdir()
    shutil.copy(spec, tmp_path / "sub" / spec.name)
    shutil.copy(spec, tmp_path / "...mlspec")
    args = {"empty-out": [spec.name, "--out", ""],
            "out-is-a-file": [spec.name, "--out", "afile"],
            "out-below-a-file": [spec.name, "--out", "afile/x"],
            "same-stem": [spec.name, f"sub/{spec.name}", "--out", "o"],
            "dotdot-stem": [spec.name, "...mlspec", "--out", "o"]}[case]
    want = {"empty-out": "`--out` is empty", "out-is-a-file": "`afile` is a file, not a directory",
            "out-below-a-file": "`afile` is a file", "same-stem": "would both be written to",
            "dotdot-stem": "is not a folder name"}[case]
    before = sorted(p.name for p in tmp_path.iterdir())
    r = _mlspec("compile", *args, "--target", "vertex", cwd=tmp_path)
    err = r.stderr.decode()
    assert r.returncode == 2 and want in err and "File exists" not in err and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "afile").read_text() == "x"


def test_a_full_disk_keeps_the_previous_build_and_says_so(tmp_path: Path, monkeypatch, capsys):
    spec = _project(tmp_path)
    out = tmp_path / "o"
    assert cli.main(["compile", str(spec), "--target", "all", "--out", str(out)]) == 0
    before = {t: (out / t / "manifest.json").read_bytes() for t in ("sagemaker", "vertex", "azureml")}
    calls = []
    real = emit._write_tree

    def full(tmp, files, man):
        calls.append(tmp)
        if len(calls) == 2:  # the second target: the disk fills up half way
            (tmp / "half.json").write_bytes(b"{")
            raise OSError(errno.ENOSPC, "No space left on device")
        real(tmp, files, man)

    monkeypatch.setattr(emit, "_write_tree", full)
    capsys.readouterr()
    # rewrite the spec so the build differs and "replaced" is observable
    spec.write_text(spec.read_text().replace("Card-transaction fraud scoring", "Card fraud scoring"))
    code = cli.main(["compile", str(spec), "--target", "all", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "No space left on device" in err and "still holds the previous build, unchanged" in err
    assert "already replaced with the new build: " in err and "azureml" in err.split("already replaced")[1]
    # targets are written azureml, sagemaker, vertex: the first was replaced, the second
    # (the disk filled up) and the third (never started) keep their previous builds
    assert (out / "azureml" / "manifest.json").read_bytes() != before["azureml"]
    assert (out / "sagemaker" / "manifest.json").read_bytes() == before["sagemaker"]
    assert (out / "vertex" / "manifest.json").read_bytes() == before["vertex"]
    assert not (out / "sagemaker" / "half.json").exists()
    assert _leftovers(out) == []


# ------------------------------------------------------------------ 8. no internal errors
@pytest.mark.parametrize("body", [
    "  environment dev { scale = " + "9" * 5000 + " }\n",
    "  environment dev { scale = -" + "9" * 5000 + ".5 }\n",
    "  environment dev { scale = " + "9" * 5000 + "e3 }\n",
    "  dataset d { uri = \"data://x/d/\"  format = parquet  version = \"1\"  checks { min_rows = " + "9" * 5000 + " } }\n",
])
def test_huge_numbers_are_refused(tmp_path: Path, body: str):
    spec = _spec(tmp_path, body)
    for cmd in (["check"], ["compile", "--target", "vertex", "--out", str(tmp_path / "o")]):
        r = _mlspec(cmd[0], str(spec), *cmd[1:], cwd=tmp_path)
        err = r.stderr.decode()
        assert r.returncode == 1 and "Traceback" not in err and "error[E" in err, err[-2000:]
        # one diagnostic that says what is wrong (too large), not "expects a whole number"
        assert "error[E302]" in err and "too large" in err and "error[E301]" not in err, err[-2000:]


@pytest.mark.parametrize("expr", ["0.5" + " + 0" * 2000, "- " * 2000 + "0.5", "0.5" + " * 1" * 150,
                                  "(" * 30 + "0.5" + " + 0)" * 30])
def test_long_gate_expressions_are_refused_not_crashed(tmp_path: Path, expr: str):
    spec = _project(tmp_path)
    text = spec.read_text().replace("require step.evaluate.metrics.f1 >= 0.95", f"require step.evaluate.metrics.f1 >= {expr}")
    spec.write_text(text)
    for cmd in (["check"], ["compile", "--target", "all", "--out", "o"], ["fmt", "--check"]):
        r = _mlspec(cmd[0], spec.name, *cmd[1:], cwd=tmp_path)
        err = r.stderr.decode()
        assert r.returncode == 1 and "error[E105]" in err and "Traceback" not in err, err[-2000:]


def test_gate_expressions_at_the_limit_compile_on_every_target(tmp_path: Path):
    spec = _project(tmp_path)
    expr = "0.95" + " + 0" * (parse.MAX_OPERATORS - 1)
    spec.write_text(spec.read_text().replace("require step.evaluate.metrics.f1 >= 0.95",
                                             f"require step.evaluate.metrics.f1 >= {expr}"))
    res = api.compile_spec(str(spec), ["all"])
    assert not [d for d in res.diagnostics if d.is_error], res.diagnostics
    assert set(res.builds) == {"sagemaker", "vertex", "azureml"}


def _read_only(monkeypatch, folder: Path) -> None:
    """A read-only folder; as root (who may write anyway) the refusal is simulated."""
    os.chmod(folder, 0o555)
    if os.geteuid() == 0:
        import tempfile

        real = tempfile.mkstemp

        def mkstemp(*a, dir=None, **k):
            if dir is not None and Path(dir) == folder:
                raise PermissionError(errno.EACCES, "Permission denied")
            return real(*a, dir=dir, **k)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


def test_fmt_in_a_read_only_folder_says_so(tmp_path: Path, monkeypatch, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    spec = folder / "s.mlspec"
    ugly = 'system demo {\n owner="ml@example.com"\n}\n'
    spec.write_text(ugly)
    _read_only(monkeypatch, folder)
    try:
        code = cli.main(["fmt", str(spec)])
    finally:
        os.chmod(folder, 0o755)
    err = capsys.readouterr().err
    assert code == 2 and "cannot write" in err and "read-only" in err and "Traceback" not in err, err
    assert spec.read_text() == ugly


def test_fmt_writes_through_a_symlink_and_keeps_it(tmp_path: Path, capsys):
    real = tmp_path / "real.mlspec"
    real.write_text('system demo {\n owner="ml@example.com"\n}\n')
    os.chmod(real, 0o640)
    link = tmp_path / "link.mlspec"
    link.symlink_to(real)
    assert cli.main(["fmt", str(link)]) == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == 'system demo {\n  owner = "ml@example.com"\n}\n'
    assert (real.stat().st_mode & 0o777) == 0o640
    loop = tmp_path / "loop.mlspec"
    loop.symlink_to(loop)
    code = cli.main(["fmt", str(loop)])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and ("loop" in err or "E101" in err), err


def test_internal_errors_honour_format_json(monkeypatch, capsys):
    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(api, "build_irs", boom)
    assert cli.main(["check", str(FRAUD), "--format", "json"]) == 3
    doc = json.loads(capsys.readouterr().err)
    assert doc["diagnostics"][0]["code"] == "E901" and "kaboom" in doc["diagnostics"][0]["summary"]


def test_recursion_anywhere_is_a_diagnostic(monkeypatch, capsys):
    def deep(*a, **k):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(api, "build_irs", deep)
    assert cli.main(["check", str(FRAUD), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().err)
    assert doc["diagnostics"][0]["code"] == "E105"


# ------------------------------------------------------------------ 9. environment count
def test_environment_count_is_capped(tmp_path: Path):
    envs = "".join(f"  environment e{i} {{ scale = 0.5  approval = none }}\n" for i in range(3000))
    codes = _codes(_spec(tmp_path, envs))
    assert any("3,000 environments" in s for s in codes.get("E414", [])), codes
    ok = "".join(f"  environment e{i} {{ scale = 0.5  approval = none }}\n" for i in range(api.MAX_ENVIRONMENTS))
    assert "E414" not in _codes(_spec(tmp_path, ok))


# ------------------------------------------------------------------ 10. specs that cannot work
@pytest.mark.parametrize("cron,ok", [
    ('"0 3 31 2 *"', False), ('"0 3 30 FEB *"', False), ('"0 3 31 4,6,9,11 *"', False),
    ('"0 3 31 APR-JUN/2 *"', False), ('"0 3 29 2 *"', True), ('"0 3 31 2 MON"', True),
    ('"0 3 31 * *"', True), ('"0 3 30-31 2-4 *"', True),
    ('"0 3 * * *", "Europe/Berlin"', True), ('"0 3 * * *", "Europe/Berlinn"', False),
    ('"0 3 * * *", "Mars/Olympus_Mons"', False), ('"0 3 * * *", "America/Argentina/Buenos_Aires"', True),
])
def test_schedules_that_never_fire_or_name_no_zone_are_refused(tmp_path: Path, cron: str, ok: bool):
    codes = _codes(_spec(tmp_path, f"""\
          dataset tx {{ uri = "data://fraud/tx/"  format = parquet  version = "2026-11-01" }}
          pipeline p {{
            schedule = cron({cron})
            step check = validate {{ data = dataset.tx }}
          }}
        """))
    assert ("E305" not in codes) == ok, codes


def test_required_approval_with_nobody_to_approve_is_refused(tmp_path: Path):
    body = """\
          model m {
            description = "d"
            approval { approvers = []  required = 1 }
          }
          environment dev { approval = none }
          environment prod {}
        """
    assert any("nobody could approve" in s for s in _codes(_spec(tmp_path, body)).get("E303", []))
    only_dev = body.replace("          environment prod {}\n", "")
    assert "nobody could approve" not in str(_codes(_spec(tmp_path, only_dev)))


def test_more_labels_than_clouds_allow_are_refused_counting_mlspecs_own(tmp_path: Path):
    spec = _project(tmp_path)
    text = spec.read_text()
    import re

    def with_labels(n: int) -> str:
        labels = ", ".join(f'l{i} = "v"' for i in range(n))
        return re.sub(r"labels\s*=\s*\{[^}]*\}", "labels = { " + labels + " }", text, count=1)

    spec.write_text(with_labels(policy.MAX_LABELS + 1))
    assert "E414" in _codes(spec)
    spec.write_text(with_labels(policy.MAX_LABELS))
    res = api.compile_spec(str(spec), ["all"])
    assert not [d for d in res.diagnostics if d.is_error]
    # at the limit, no resource in any build carries more tags than its cloud allows, even
    # with the two mlspec adds at deploy time (compiler version, Name)
    limits = {"sagemaker": 50, "azureml": 50, "vertex": 64}
    import yaml

    for target, tb in res.builds.items():
        for path, _kind, data in tb.files:
            if not path.endswith((".json", ".yml", ".yaml")):
                continue
            doc = json.loads(data) if path.endswith(".json") else yaml.safe_load(data)
            stack = [doc]
            while stack:
                n = stack.pop()
                if isinstance(n, dict):
                    for key in ("tags", "Tags", "labels", "Labels"):
                        v = n.get(key)
                        if isinstance(v, (dict, list)) and len(v) >= policy.MAX_LABELS:
                            assert len(v) + 2 <= limits[target], (target, path, key, len(v))
                    stack.extend(n.values())
                elif isinstance(n, list):
                    stack.extend(n)


# ------------------------------------------------------------------ 11. clearer messages
def test_clearer_messages(tmp_path: Path):
    (tmp_path / "u16.mlspec").write_bytes('system demo {\n  owner = "a@b.c"\n}\n'.encode("utf-16-le"))
    r = _mlspec("check", "u16.mlspec", cwd=tmp_path)
    assert r.returncode == 1 and b"looks like UTF-16" in r.stderr
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "Train.py").write_text("")
    (tmp_path / "src" / "loop.py").symlink_to(tmp_path / "src" / "loop.py")
    body = """\
          dataset tx {{ uri = "data://fraud/tx/"  format = parquet  version = "2026-11-01" }}
          pipeline p {{
            step t = train {{ entry_point = "{}"  framework = xgboost("1.7")  inputs = [dataset.tx] }}
          }}
        """
    codes = _codes(_spec(tmp_path, body.format("src/train.py")))
    assert any("did you mean `src/Train.py`? names are case-sensitive" in s for s in codes["E404"]), codes
    codes = _codes(_spec(tmp_path, body.format("src/loop.py")))
    assert any("symbolic link loop" in s for s in codes["E404"]), codes
