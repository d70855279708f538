"""A script step's `requirements` on Vertex: custom jobs run in a private subnet, so the packages
come from the `target vertex { pip_index_url }` mirror, or from PyPI when `allowed_egress` lets
the Cloud NAT reach it; otherwise the spec is refused (E505), never left to fail at run time."""
from __future__ import annotations

import importlib.util
import json
import shutil
from importlib import resources
from pathlib import Path

import pytest

from mlspec.compiler.api import compile_spec

ROOT = Path(__file__).resolve().parents[3]
from testkit import wheel_index  # a PEP 503 index with one wheel, offline

@pytest.fixture(scope="module")
def rt():
    src = resources.files("mlspec.targets.vertex").joinpath("templates", "runtime", "mlspec_runtime.py")
    spec = importlib.util.spec_from_file_location("rt_step_requirements", str(src))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


MIRROR = "https://europe-west4-python.pkg.dev/acme-pricing/pypi/simple/"


def _spec(tmp_path: Path, target: str = "", security: str = "") -> Path:
    shutil.copytree(ROOT / "specs" / "house_prices", tmp_path / "house_prices")
    (tmp_path / "house_prices" / "src" / "requirements.txt").write_text("scikit-learn==1.3.2\n")
    src = (ROOT / "specs" / "house_prices.mlspec").read_text(encoding="utf-8")
    src = src.replace('      max_runtime     = 1h\n',
                      '      max_runtime     = 1h\n      requirements    = "house_prices/src/requirements.txt"\n', 1)
    src = src.replace('target vertex { project = "acme-pricing"  region = "europe-west4" }',
                      f'target vertex {{ project = "acme-pricing"  region = "europe-west4"  {target} }}')
    if security:
        src = src.replace("security { encryption = customer_managed  network = private }",
                          f"security {{ encryption = customer_managed  network = private  {security} }}")
    spec = tmp_path / "house_prices.mlspec"
    spec.write_text(src, encoding="utf-8")
    return spec


def _train_spec(build: Path) -> dict:
    doc = json.loads((build / "vertex" / "pipelines" / "prod" / "training.json").read_text())
    for ex in doc["deploymentSpec"]["executors"].values():
        args = ex.get("container", {}).get("args", [])
        for i, a in enumerate(args):
            if a == "--payload":
                payload = json.loads(args[i + 1])
                for pool in payload["job_spec"]["worker_pool_specs"]:
                    cargs = pool["container_spec"].get("args", [])
                    if "--spec" in cargs:
                        spec = json.loads(cargs[cargs.index("--spec") + 1])
                        if spec["entry"].endswith("train.py"):
                            return spec
    raise AssertionError("no train job spec")


def test_requirements_without_a_route_to_an_index_are_refused(tmp_path):
    res = compile_spec(str(_spec(tmp_path)), ["vertex"])
    errors = [d for d in res.diagnostics if d.is_error]
    assert [d.code for d in errors] == ["E505"], [d.summary for d in errors]
    assert "private subnet" in errors[0].summary and "pip_index_url" in errors[0].hint


def test_the_mirror_reaches_the_job(tmp_path):
    out = tmp_path / "build"
    res = compile_spec(str(_spec(tmp_path / "s", target=f'pip_index_url = "{MIRROR}"')), ["vertex"], out=out)
    assert res.ok, [d.summary for d in res.diagnostics if d.is_error]
    spec = _train_spec(out)
    assert spec["pip_index_url"] == MIRROR and spec["requirements"].endswith("house_prices/src/requirements.txt")


def test_pypi_through_allowed_egress_is_accepted(tmp_path):
    spec = _spec(tmp_path, security='allowed_egress = ["pypi.org", "files.pythonhosted.org"]')
    res = compile_spec(str(spec), ["vertex"])
    assert not [d for d in res.diagnostics if d.is_error], [d.summary for d in res.diagnostics]


def test_the_runtime_installs_from_the_mirror_before_the_script(rt, tmp_path, monkeypatch):
    wheel_index(tmp_path)
    (tmp_path / "requirements.txt").write_text("mlspec-probe==1.0\n")
    (tmp_path / "s.py").write_text("print('ran')\n")
    target = tmp_path / "site"
    monkeypatch.setenv("PIP_TARGET", str(target))
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    spec = {"entry": str(tmp_path / "s.py"), "flags": [], "code_dir": None, "objective": None,
            "requirements": str(tmp_path / "requirements.txt"), "pip_index_url": (tmp_path / "simple").as_uri()}
    rt.main(["script", "--spec", json.dumps(spec)])
    assert (target / "mlspec_probe.py").read_text() == "VALUE = 42\n"
