"""The CLI contract: exit codes, streams, manifest layout, atomic writes, IR emission."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from testkit import ROOT
from mlspec.compiler.cli import main

FRAUD = "specs/fraud_detection.mlspec"


@pytest.fixture(autouse=True)
def _cwd(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_check_ok(capsys):
    assert main(["check", FRAUD]) == 0
    out = capsys.readouterr()
    assert "ok (environments: dev, prod)" in out.out
    # check runs every declared target's lowering: the only output is four substitutions (W505):
    # Vertex has no GPU XGBoost training container, so the `gpu.small` train step runs on CPU there,
    # and no requests-per-second autoscaling, so `target_rps` becomes a CPU-utilisation target;
    # Azure ML has no per-job network isolation (the workspace's managed network decides);
    # SageMaker joins the model-quality ground truth on the inference id, not on a column
    assert "error[" not in out.err
    warnings = [ln for ln in out.err.splitlines() if "warning[" in ln]
    assert len(warnings) == 4
    assert any("SageMaker joins ground truth to captured requests on each request's inference id" in ln
               for ln in warnings)
    assert any("warning[W505]: Azure ML has no per-job network isolation" in ln for ln in warnings)
    assert any("warning[W505]: Vertex has no GPU training container for `xgboost`" in ln for ln in warnings)
    assert any("warning[W505]: Vertex endpoints cannot autoscale on requests per second" in ln for ln in warnings)


def test_check_errors_go_to_stderr_with_location_and_caret(tmp_path, capsys):
    p = tmp_path / "bad.mlspec"
    p.write_text('system s {\n  owner = "a@b.c"\n  kpi k { description = "d"  goal = "g"  colour = 1 }\n}\n')
    assert main(["check", str(p)]) == 1
    err = capsys.readouterr().err
    assert f"{p}:3:42: error[E201]: unknown attribute `colour` in KPI `k`" in err
    assert "^^^^^^" in err
    assert "= see: docs/errors.md#e201" in err


def test_check_json_format(tmp_path, capsys):
    p = tmp_path / "bad.mlspec"
    p.write_text("system s {\n  owner = 1\n}\n")
    assert main(["check", "--format", "json", str(p)]) == 1
    doc = json.loads(capsys.readouterr().err)
    d = doc["diagnostics"][0]
    assert (d["code"], d["severity"], d["span"]["line"], d["span"]["col"]) == ("E301", "error", 2, 11)
    assert d["docs"] == "docs/errors.md#e301"


def test_usage_errors_exit_2(capsys):
    assert main(["compile", FRAUD]) == 2  # --target missing
    assert main(["compile", FRAUD, "--target", "vertx", "--emit-ir"]) == 2
    assert "did you mean `vertex`" in capsys.readouterr().err
    assert main(["ir", FRAUD, "--env", "prdo"]) == 2
    assert "did you mean `prod`" in capsys.readouterr().err
    assert main([]) == 2


def test_missing_file_and_directory(capsys):
    assert main(["check", "specs/nope.mlspec"]) == 1
    assert "error[E101]: `specs/nope.mlspec` does not exist" in capsys.readouterr().err
    assert main(["check", "specs"]) == 1
    assert "is a directory" in capsys.readouterr().err


def test_emit_ir(capsys):
    assert main(["ir", FRAUD, "--env", "dev"]) == 0
    ir = json.loads(capsys.readouterr().out)
    assert ir["environment"] == {"name": "dev", "production": False, "approval": "none", "scale": 0.5}
    assert ir["endpoints"][0]["autoscale"]["max"] == 1  # overlay max 2, scaled by 0.5


def test_internal_errors_exit_3_without_traceback(monkeypatch, capsys):
    from mlspec.compiler import api

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(api, "build_irs", boom)
    assert main(["check", FRAUD]) == 3
    err = capsys.readouterr().err
    assert "error[E901]: internal compiler error: RuntimeError: kaboom" in err
    assert "Traceback" not in err
    assert main(["--debug", "check", FRAUD]) == 3
    assert "Traceback" in capsys.readouterr().err


def _manifest(files, target):
    from mlspec.compiler import emit

    return emit.manifest(files, spec_sha256="0" * 64, compiler_version="0", target=target, environment="all")


def test_failed_compile_leaves_previous_build_untouched(tmp_path, capsys):
    from mlspec.compiler import emit

    out = tmp_path / "out"
    files = [("a.txt", "x", b"old\n")]
    emit.write_build(out, "sagemaker", files, _manifest(files, "sagemaker"))
    bad = tmp_path / "bad.mlspec"
    bad.write_text("system s {\n  owner = \n}\n")
    assert main(["compile", str(bad), "--target", "sagemaker", "--out", str(out)]) == 1
    assert (out / "sagemaker" / "a.txt").read_bytes() == b"old\n"
    assert sorted(p.name for p in out.iterdir()) == ["sagemaker"]


def test_write_build_is_atomic_and_replaces(tmp_path):
    from mlspec.compiler import emit

    out = tmp_path / "o"
    first, second = [("x/a.json", "k", b"1\n")], [("b.json", "k", b"2\n")]
    emit.write_build(out, "t", first, _manifest(first, "t"))
    emit.write_build(out, "t", second, _manifest(second, "t"))
    assert not (out / "t" / "x").exists()
    assert (out / "t" / "manifest.json").read_bytes() == _manifest(second, "t")
    with pytest.raises(emit.EmitError):
        emit.write_build(out, "t", [("../evil", "k", b"")], b"m3\n") if emit.check_relpath("../evil") else None
    assert (out / "t" / "b.json").exists()
    assert [p.name for p in out.iterdir()] == ["t"]




def test_targets_matrix_covers_every_feature(capsys):
    from mlspec.compiler.features import FEATURES

    assert main(["targets", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    names = [t["name"] for t in doc["targets"]]
    assert names == ["azureml", "sagemaker", "vertex"]
    assert set(doc["features"]) == set(FEATURES)
    for feature, row in doc["features"].items():
        for name in names:
            v = row[name]
            assert v["level"] in ("native", "emulated", "unsupported"), (feature, name)
            if v["level"] == "emulated":
                assert v["note"], (feature, name)
            if v["level"] == "unsupported":
                assert v["alternatives"], (feature, name)
    assert main(["targets"]) == 0
    assert "rollout.canary" in capsys.readouterr().out


def test_key_auth_is_a_baseline_violation(tmp_path, capsys):
    spec = re.sub(r"auth\s+= iam", "auth = key", (ROOT / FRAUD).read_text())
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    p = tmp_path / "specs" / "keyauth.mlspec"
    p.write_text(spec)
    assert main(["compile", str(p), "--target", "sagemaker", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "error[E405]" in err and "MLS-AZ-070" in err and "cannot be waived" in err
    assert not (tmp_path / "out").exists()


def test_unsupported_feature_is_refused_before_lowering(tmp_path, capsys, monkeypatch):
    from mlspec.targets import base

    class Fake(base.Target):
        name, display_name = "fake", "Fake Cloud"
        capabilities = {f: base.native() for f in __import__("mlspec.compiler.features", fromlist=["x"]).FEATURES}
        capabilities["rollout.canary"] = base.unsupported("rollout = blue_green", "rollout = linear { ... }")
        lowered = False

        def lower(self, irs, ctx):
            Fake.lowered = True
            return base.Lowering()

    real = base.get_target
    monkeypatch.setattr(base, "get_target", lambda n: Fake() if n == "fake" else real(n))
    assert main(["compile", FRAUD, "--target", "fake", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "specs/fraud_detection.mlspec:88:5: error[E501]: Fake Cloud cannot express `canary` rollout" in err
    assert "alternatives: rollout = blue_green; rollout = linear { ... }" in err
    assert not Fake.lowered and not (tmp_path / "fake").exists()


def test_check_validates_declared_target_settings(tmp_path, capsys):
    p = tmp_path / "t.mlspec"
    p.write_text('system s {\n  owner = "a@b.co"\n  target vertex { projet = "x"  region = "us-central1" }\n}\n')
    assert main(["check", str(p)]) == 1
    err = capsys.readouterr().err
    assert f"{p}:3:19: error[E502]: `projet` is not a setting of target `vertex`" in err
    assert "did you mean `project`?" in err
