"""Session fixtures for the Azure ML target tests: builds written once, shared by the modules."""
from __future__ import annotations

from pathlib import Path

import pytest

import az_fixtures
import az_helpers

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def max_irs():
    return az_fixtures.maximal_irs()


@pytest.fixture(scope="session")
def max_lowering(max_irs):
    return az_helpers.lower(max_irs)


@pytest.fixture(scope="session")
def max_build(max_irs, max_lowering, tmp_path_factory) -> Path:
    return az_helpers.write(max_lowering, max_irs, tmp_path_factory.mktemp("azureml-max"))


@pytest.fixture(scope="session")
def spec_builds(tmp_path_factory) -> dict[str, Path]:
    """Every example spec compiled for azureml through the real front end (skipped if it cannot)."""
    from mlspec.compiler import api

    out: dict[str, Path] = {}
    for spec in sorted((ROOT / "specs").glob("*.mlspec")):
        dest = tmp_path_factory.mktemp(spec.stem)
        with az_helpers.chdir(ROOT):
            res = api.compile_spec(f"specs/{spec.name}", ["azureml"], out=dest)
        assert res.ok, [f"{d.code} {d.summary}" for d in res.diagnostics]
        out[spec.stem] = dest / "azureml"
    return out
