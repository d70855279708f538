"""Compile contract across targets: determinism and no cloud SDK imported by compile."""
import hashlib
import json
import os
import subprocess
import sys

from testkit import ROOT, SPECS

FRAUD = "specs/fraud_detection.mlspec"


def _tree_hash(d):
    h = hashlib.sha256()
    for p in sorted(d.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(d)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def test_byte_identical_across_hash_seeds_and_working_directories(tmp_path):
    outs = []
    for seed, cwd, spec in (("0", ROOT, FRAUD), ("12345", ROOT / "specs", "fraud_detection.mlspec"),
                            ("random", tmp_path, str(ROOT / FRAUD))):
        out = tmp_path / f"out-{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        r = subprocess.run([sys.executable, "-m", "mlspec", "compile", spec, "--target", "all", "--out", str(out)],
                           cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        outs.append(out)
    hashes = {_tree_hash(o) for o in outs}
    assert len(hashes) == 1


def test_manifest_lists_every_file_with_its_hash(tmp_path):
    from mlspec.compiler import api

    res = api.compile_spec(str(ROOT / FRAUD), ["all"], out=tmp_path)
    assert res.ok, res.diagnostics
    for target in res.builds:
        root = tmp_path / target
        man = json.loads((root / "manifest.json").read_text())
        assert set(man) == {"schema_version", "spec_sha256", "compiler_version", "target", "environment",
                            "artifacts"}
        assert man["target"] == target and man["environment"] == "all"
        files = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} - {"manifest.json"}
        assert {a["path"] for a in man["artifacts"]} == files
        for a in man["artifacts"]:
            assert hashlib.sha256((root / a["path"]).read_bytes()).hexdigest() == a["sha256"]
        kinds = {a["kind"] for a in man["artifacts"]}
        assert {"pulumi-program", "pulumi-project", "pulumi-stack-config", "compile-report",
                "source-script"} <= kinds
        text = b"".join((root / a["path"]).read_bytes() for a in man["artifacts"])
        assert str(ROOT).encode() not in text and b"/tmp/" not in text


def test_compile_imports_no_cloud_sdk(tmp_path):
    code = (
        "import sys\n"
        "from mlspec.compiler.cli import main\n"
        f"rc = main(['compile', {FRAUD!r}, '--target', 'all', '--out', {str(tmp_path)!r}])\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_aws', 'pulumi_gcp',"
        " 'pulumi_azure_native', 'boto3', 'botocore', 'kfp', 'azure', 'sagemaker', 'google', 'grpc')"
        # locating a vendor package's data files may import the empty PEP 420 namespace packages
        " and m not in ('google', 'google.cloud'))\n"
        "print(rc, bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout


def test_a_200_step_spec_compiles_byte_identical_with_and_without_the_fast_paths(tmp_path, monkeypatch):
    """The compile-speed work (issue 9) changes no byte: a generated 200-step spec (the
    benchmark's generator, bench/bench.py) compiled by the CLI in a subprocess (fast YAML
    writer, collector paused, another hash seed) equals the build written in-process through
    PyYAML with the collector running; the manifest is what the standard library's json
    writes. Timing lives in bench/, never here."""
    import gc

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import bench
    finally:
        sys.path.remove(str(ROOT / "bench"))
    from mlspec.compiler import api, yamlfast

    spec = bench.generate(200, tmp_path / "spec")
    fast = tmp_path / "fast"
    r = subprocess.run([sys.executable, "-m", "mlspec", "compile", str(spec), "--target", "all", "--out", str(fast)],
                       env={**os.environ, "PYTHONHASHSEED": "7"}, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr

    def decline(data):
        raise yamlfast.Unsupported("test: PyYAML writes every document")

    monkeypatch.setattr(yamlfast, "dump", decline)
    assert gc.isenabled()
    slow = tmp_path / "slow"
    res = api.compile_spec(str(spec), ["all"], out=slow)
    assert res.ok, res.diagnostics
    targets = sorted(p.name for p in fast.iterdir())
    assert targets == ["azureml", "sagemaker", "vertex"] == sorted(p.name for p in slow.iterdir())
    for t in targets:
        assert _tree_hash(fast / t) == _tree_hash(slow / t), t
        man = (fast / t / "manifest.json").read_bytes()
        assert man == (json.dumps(json.loads(man), indent=2) + "\n").encode()
    assert sum(1 for p in (fast / "azureml").rglob("*.yml")) > 400  # the YAML-heavy target really ran


def test_the_cli_resumes_the_collector_for_callers_in_the_same_process(tmp_path, capsys):
    import gc

    from mlspec.compiler.cli import main

    assert gc.isenabled()
    assert main(["compile", str(ROOT / FRAUD), "--target", "sagemaker", "--out", str(tmp_path)]) == 0
    assert gc.isenabled()
    assert main(["compile", str(ROOT / "nope.mlspec"), "--target", "all", "--out", str(tmp_path)]) != 0
    assert gc.isenabled()
