"""Diagnostics that no spec in tests/diagnostics/*.mlspec can produce on its own.

- reading problems (E101 missing file / directory, E104 oversized file) and limits
  (E414), built in a temporary directory;
- symlink escape (E404), which needs a link on disk;
- target capability and lowering (E501-E505, E903), through a tiny fake Target
  registered in place of the real ones, so these cases do not move when a real
  target changes; their specs live in tests/diagnostics/targets/;
- internal errors (E901, E902), provoked by patching the compiler.

Every case still goes through `mlspec.compiler.cli.main` and compares the rendered
stderr byte for byte with a `.expected` file (`pytest --update-golden` rewrites them).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from testkit import assert_golden
from mlspec.compiler import cli
from mlspec.compiler.features import FEATURES
from mlspec.targets import base

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TARGET_CASES = sorted((HERE / "targets").glob("*.mlspec"))
HEADER = 'system demo {\n  owner = "ml@example.com"\n'


def _run(monkeypatch, capsys, cwd: Path, *argv: str) -> tuple[int, str]:
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("MLSPEC_TODAY", "2026-11-26")
    code = cli.main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


# ------------------------------------------------------------------ reading and limits
def test_e101_missing_file(monkeypatch, capsys, update_golden):
    code, err = _run(monkeypatch, capsys, ROOT, "check", "tests/diagnostics/no-such-spec.mlspec")
    assert code == 1
    assert_golden(HERE / "E101-missing-file.expected", err, update_golden)


def test_e101_directory(monkeypatch, capsys, update_golden):
    code, err = _run(monkeypatch, capsys, ROOT, "check", "tests/diagnostics")
    assert code == 1
    assert_golden(HERE / "E101-directory.expected", err, update_golden)


def test_e104_too_large(tmp_path, monkeypatch, capsys, update_golden):
    (tmp_path / "big.mlspec").write_text(HEADER + "#" * (1024 * 1024) + "\n}\n")
    code, err = _run(monkeypatch, capsys, tmp_path, "check", "big.mlspec")
    assert code == 1
    assert_golden(HERE / "E104-too-large.expected", err, update_golden)


def test_e414_too_many_steps(tmp_path, monkeypatch, capsys, update_golden):
    steps = "".join(f"    step s{i:04d} = validate {{ data = dataset.transactions }}\n" for i in range(5001))
    (tmp_path / "huge.mlspec").write_text(
        HEADER + '  dataset transactions { uri = "data://fraud/t/"  format = parquet  version = "1" }\n'
        "  pipeline training {\n" + steps + "  }\n}\n")
    code, err = _run(monkeypatch, capsys, tmp_path, "check", "huge.mlspec")
    assert code == 1
    assert_golden(HERE / "E414-too-many-steps.expected", err, update_golden)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_e404_symlink_escape(tmp_path, monkeypatch, capsys, update_golden):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "train.py").write_text("print('outside')\n")
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    os.symlink(outside / "train.py", project / "src" / "train.py")
    (project / "spec.mlspec").write_text(
        HEADER + '  dataset transactions { uri = "data://fraud/t/"  format = parquet  version = "1" }\n'
        "  pipeline training {\n"
        '    step train = train { framework = xgboost("1.7")  entry_point = "src/train.py"  '
        "inputs = [dataset.transactions] }\n  }\n}\n")
    code, err = _run(monkeypatch, capsys, project, "check", "spec.mlspec")
    assert code == 1
    assert str(tmp_path) not in err  # never the machine's absolute paths
    assert_golden(HERE / "E404-symlink-escape.expected", err, update_golden)


# ------------------------------------------------------------------ internal errors
def test_e901_internal_error(monkeypatch, capsys, update_golden):
    from mlspec.compiler import api

    def boom(*_a, **_k):
        raise RuntimeError("boom")

    monkeypatch.setattr(api, "build_irs", boom)
    code, err = _run(monkeypatch, capsys, ROOT, "check", "specs/fraud_detection.mlspec")
    assert code == 3
    assert_golden(HERE / "E901-internal-error.expected", err, update_golden)


def test_e902_invalid_ir(monkeypatch, capsys, update_golden):
    from mlspec.compiler import ir

    monkeypatch.setattr(ir, "validation_error", lambda _ir: "at $.system: 'name' is a required property")
    code, err = _run(monkeypatch, capsys, ROOT, "ir", "tests/diagnostics/W201-unused-dataset.mlspec")
    assert code == 3
    assert_golden(HERE / "E902-invalid-ir.expected", err, update_golden)


# ------------------------------------------------------------------ targets (fake)
class FakeCloud(base.Target):
    """A target that refuses on purpose: scheduled pipelines are unsupported, long
    pipeline names are refused (E503), delta data cannot be lowered (E505) and a spec
    described as "crash" makes lowering raise (E903)."""

    name = "fake"
    display_name = "Fake Cloud"
    capabilities = {f: base.native() for f in FEATURES}
    capabilities["pipeline.schedule"] = base.unsupported(
        "trigger the pipeline from your CI scheduler", "use `retrain_on` with a monitor",
        note="Fake Cloud pipelines have no scheduler")
    settings = {"region": base.Setting("string", required=True, description="the Fake Cloud region",
                                       pattern=r"[a-z]+-[0-9]", example="north-1")}

    def lower(self, irs, ctx):
        out = base.Lowering()
        for ir in irs:
            if ir["system"]["description"] == "crash":
                raise ValueError("fake lowering bug")
            for p in ir["pipelines"]:
                if len(p["name"]) > 32:
                    out.diagnostics.append(base.Diagnostic(
                        "E503", f"Fake Cloud pipeline names are at most 32 characters; `{p['name']}` has "
                                f"{len(p['name'])}", p["id"], hint="shorten the pipeline name"))
            for m in ir["models"]:
                fw = m.get("framework") or {}
                if fw.get("version") == "0.9":
                    out.diagnostics.append(base.Diagnostic(
                        "W505", f"Fake Cloud has no container for `{fw['name']}` 0.9; using `{fw['name']}` 1.0",
                        m["id"], hint="set `image` on the training step, or use a version Fake Cloud lists",
                        severity="warning"))
            for d in ir["datasets"]:
                if d["format"] == "delta":
                    out.diagnostics.append(base.Diagnostic(
                        "E505", f"Fake Cloud cannot read dataset `{d['name']}` in `delta` format", d["id"],
                        hint="export the table as `parquet`"))
        out.add("pipeline.json", "fake-pipeline", {"ok": True}, "json")
        return out


@pytest.fixture
def fake_target(monkeypatch):
    real = base.available_targets()
    monkeypatch.setattr(base, "available_targets", lambda: {**real, "fake": "tests:FakeCloud"})
    real_get = base.get_target
    monkeypatch.setattr(base, "get_target", lambda n: FakeCloud() if n == "fake" else real_get(n))


@pytest.mark.parametrize("case", TARGET_CASES, ids=[c.stem for c in TARGET_CASES])
def test_target_refusals(case: Path, fake_target, tmp_path, monkeypatch, capsys, update_golden):
    rel = case.relative_to(ROOT).as_posix()
    code, err = _run(monkeypatch, capsys, ROOT, "compile", rel, "--target", "fake", "--out", str(tmp_path / "out"))
    want = case.name.split("-")[0]
    assert f"[{want}]: " in err, err
    assert code == (3 if want.startswith("E9") else 0 if want.startswith("W") else 1)
    # a refused compile writes nothing; a warning still writes the build
    assert (tmp_path / "out" / "fake").exists() == want.startswith("W")
    assert_golden(case.with_suffix(".expected"), err, update_golden)


@pytest.mark.parametrize("case", TARGET_CASES, ids=[c.stem for c in TARGET_CASES])
def test_check_reports_target_refusals_early(case: Path, fake_target, monkeypatch, capsys):
    """Each case declares `target fake`: `mlspec check` runs that target's settings, verdicts
    and lowering (writing nothing), so the refusal or substitution appears before a compile."""
    rel = case.relative_to(ROOT).as_posix()
    code, err = _run(monkeypatch, capsys, ROOT, "check", rel)
    want = case.name.split("-")[0]
    assert f"[{want}]: " in err, err
    assert code == (3 if want.startswith("E9") else 0 if want.startswith("W") else 1)
    code2, err2 = _run(monkeypatch, capsys, ROOT, "check", rel, "--target", "fake")
    assert (code2, err2) == (code, err)


def test_compile_all_means_the_declared_targets(fake_target, tmp_path, monkeypatch, capsys):
    """`--target all` compiles the clouds the spec declares (only `fake` here), not every target."""
    spec = tmp_path / "ok.mlspec"
    spec.write_text(HEADER + '  target fake { region = "north-1" }\n}\n')
    code, err = _run(monkeypatch, capsys, tmp_path, "compile", "ok.mlspec", "--target", "all", "--out", "out")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["fake"]
    code, _ = _run(monkeypatch, capsys, tmp_path, "check", "ok.mlspec")
    assert code == 0


def test_check_without_declared_targets_checks_the_language_only(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "ok.mlspec"
    spec.write_text(HEADER + "}\n")
    code, err = _run(monkeypatch, capsys, tmp_path, "check", "ok.mlspec")
    assert code == 0 and err == ""


def test_fake_target_compiles_a_clean_spec(fake_target, tmp_path, monkeypatch, capsys):
    """The fake refuses only what it is told to: the refusals above are real refusals."""
    spec = tmp_path / "ok.mlspec"
    spec.write_text(HEADER + '  target fake { region = "north-1" }\n}\n')
    code, err = _run(monkeypatch, capsys, tmp_path, "compile", "ok.mlspec", "--target", "fake", "--out", "out")
    assert code == 0, err
    assert (tmp_path / "out" / "fake" / "manifest.json").exists()


# ------------------------------------------------------------------ redaction
@pytest.mark.parametrize("case", sorted(HERE.glob("E402-*.mlspec")), ids=lambda c: c.stem)
def test_secrets_never_echoed(case: Path, monkeypatch, capsys):
    import re

    secret = max(re.findall(r'"([^"]*)"', case.read_text()), key=len)
    for fmt in ("text", "json"):
        _, err = _run(monkeypatch, capsys, ROOT, "check", case.relative_to(ROOT).as_posix(), "--format", fmt)
        assert "E402" in err
        assert secret not in err
