"""A fourth cloud lives in its own package, registered through the `mlspec.targets` entry points
of its own distribution metadata (tests/fourth_target: toycloud-0.1.dist-info + toycloud/), with
one baseline rule, one approval backend and one mock-output table. `mlspec targets`, `compile`,
`plan`, `approve` and `status` work for it with no change to mlspec.compiler: every command runs
in a fresh interpreter whose sys.path holds the toy distribution, exactly as an installed one."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TOY = HERE.parent / "fourth_target"
SPEC = """system tiny {
  owner = "ml@example.com"
  dataset transactions { uri = "data://fraud/transactions/"  format = parquet  version = "2026-11-01" }
  environment dev { }
}
"""


def mlspec(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    e = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TOY)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "mlspec", *args], cwd=cwd, env=e, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "tiny.mlspec").write_text(SPEC)
    return tmp_path


def test_targets_lists_the_fourth_target(project):
    r = mlspec("targets", "--json", cwd=project)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert {"name": "toycloud", "display_name": "Toy Cloud"} in doc["targets"]
    assert {t["name"] for t in doc["targets"]} >= {"sagemaker", "vertex", "azureml", "toycloud"}
    assert doc["features"]["step.train"]["toycloud"]["level"] == "native"


TOY_URIS = """system tiny {
  owner = "ml@example.com"
  dataset transactions { uri = "toy://lake/transactions/"  format = parquet  version = "2026-11-01" }
  tracking { backend = mlflow  uri = "toy-mlflow:moon-1/server" }
  environment dev { }
}
"""


def test_the_fourth_targets_uri_schemes_are_read_from_the_registry(project):
    """The core names no cloud's storage: a scheme and a tracking-server form the toy target
    declares are data URIs and tracking URIs once it is installed, refused before."""
    (project / "uris.mlspec").write_text(TOY_URIS)
    bare = subprocess.run([sys.executable, "-m", "mlspec", "check", "uris.mlspec"], cwd=project, capture_output=True,
                          text=True, timeout=600)
    assert bare.returncode == 1
    assert "error[E311]: `uri` in dataset `transactions` must be a data URI" in bare.stderr
    assert "`data://` is portable; `s3://`, `gs://` and `azureml://` bind the spec to one cloud" in bare.stderr
    assert "the MLflow tracking `uri` must be an https URL or a managed tracking server id" in bare.stderr
    ok = mlspec("check", "uris.mlspec", cwd=project)
    assert ok.returncode == 0, ok.stderr
    (project / "aws.mlspec").write_text(TOY_URIS.replace('  tracking { backend = mlflow  uri = "toy-mlflow:moon-1/server" }\n',
                                                         '  target sagemaker { region = "us-east-1" }\n'))
    other = mlspec("compile", "aws.mlspec", "--target", "sagemaker", cwd=project)
    assert other.returncode == 1
    assert "error[E504]: `toy://lake/transactions/` in dataset `transactions` is a Toy Cloud bucket, " \
           "which AWS SageMaker cannot read" in other.stderr
    assert "only the `toycloud` target reads `toy://` locations" in other.stderr


def test_the_fourth_target_is_not_there_without_its_distribution(project):
    r = subprocess.run([sys.executable, "-m", "mlspec", "targets", "--json"], cwd=project, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0 and "toycloud" not in r.stdout


def test_plan_runs_the_rule_and_the_mock_outputs_of_the_fourth_target(project):
    r = mlspec("plan", "tiny.mlspec", "--target", "toycloud", "--format", "json", cwd=project)
    assert r.returncode == 1, r.stderr  # the toy rule finds the unencrypted bucket
    doc = json.loads(r.stdout)
    assert doc["target"] == "toycloud"
    [bucket] = doc["resources"]
    assert bucket["type"] == "toy:storage:Bucket" and bucket["inputs"]["encrypted"] is False
    assert [(f["rule"], f["resource"], f["message"]) for f in doc["findings"] if f["rule"].startswith("MLS-TOY")] == [
        ("MLS-TOY-001", "toy:storage:Bucket::data", "bucket is not encrypted")]
    table = mlspec("plan", "tiny.mlspec", "--target", "toycloud", cwd=project)
    assert "MLS-TOY-001" in table.stdout and "storage:Bucket  data" in table.stdout


def test_the_mock_output_table_of_the_fourth_target_fabricates_outputs(project):
    code = ("import json, sys; from mlspec.compiler.plan.harness import run_program; "
            "from mlspec.targets.base import get_target; from mlspec.compiler.plan import plan; "
            "ir, tdir, _ = plan.compile_to('tiny.mlspec', 'toycloud', 'dev', __import__('pathlib').Path('out')); "
            "print(json.dumps(run_program(tdir / 'pulumi', 'dev')['outputs']))")
    e = dict(os.environ, PYTHONPATH=str(TOY))
    r = subprocess.run([sys.executable, "-c", code], cwd=project, env=e, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1]) == {"url": "toy://moon-1/toy-data"}  # configured from the stack


def test_approve_reject_and_status_use_the_fourth_targets_backend(project):
    registry = project / "registry.json"
    registry.write_text(json.dumps({"scorer": {"1": "pending", "2": "pending", "3": "approved"}}))
    env = {"TOY_REGISTRY": str(registry)}
    r = mlspec("status", "--target", "toycloud", "--format", "json", cwd=project, env=env)
    assert r.returncode == 0, r.stderr
    assert [p["version"] for p in json.loads(r.stdout)["pending"]] == ["1", "2"]
    r = mlspec("approve", "scorer", "1", "--target", "toycloud", "--by", "lead", cwd=project, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "scorer version 1: approved (by lead)\n"
    r = mlspec("reject", "scorer", "2", "--target", "toycloud", "--reason", "worse", cwd=project, env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(registry.read_text()) == {"scorer": {"1": "approved", "2": "rejected", "3": "approved"}}
    r = mlspec("approve", "scorer", "3", "--target", "toycloud", cwd=project, env=env)
    assert r.returncode == 1 and "is approved, not pending" in r.stderr


def test_a_waiver_of_the_fourth_targets_rule_is_honoured_by_plan(project):
    (project / "tiny.mlspec").write_text(SPEC.replace(
        '  environment dev { }',
        '  environment dev { }\n'
        '  waive "MLS-TOY-001" { reason = "toy data only"  owner = "ml-platform"  until = "2099-01-01" }'))
    r = mlspec("plan", "tiny.mlspec", "--target", "toycloud", "--format", "json", cwd=project)
    doc = json.loads(r.stdout) if r.stdout else {}
    toy = [f for f in doc.get("findings", []) if f["rule"] == "MLS-TOY-001"]
    assert r.returncode == 0 and toy and toy[0]["waived_by"]["owner"] == "ml-platform", r.stderr


def test_the_entry_point_scan_agrees_with_importlib_metadata():
    """targets.base reads the entry points without importing importlib.metadata (compile speed);
    on this interpreter's sys.path, with and without the toy distribution, both see the same."""
    code = ("import json, sys; from importlib import metadata; from mlspec.targets.base import scan_entry_points; "
            "a = sorted((e.name, e.value) for e in metadata.entry_points(group=sys.argv[1])); "
            "b = sorted(scan_entry_points(sys.argv[1])); print(json.dumps([a, b]))")
    for extra in ({}, {"PYTHONPATH": str(TOY)}):
        for group in ("mlspec.targets", "console_scripts", "pytest11"):
            r = subprocess.run([sys.executable, "-c", code, group], env=dict(os.environ, **extra), capture_output=True,
                               text=True, timeout=120)
            assert r.returncode == 0, r.stderr
            a, b = json.loads(r.stdout)
            assert a == b and (group != "mlspec.targets" or len(a) >= 3 + bool(extra)), (group, extra)
