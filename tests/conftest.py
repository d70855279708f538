"""Shared pytest options and fixtures.

`pytest --update-golden` rewrites expected files (golden IR, golden builds, golden
diagnostics) instead of comparing against them. Never used in CI.
"""
from __future__ import annotations

import os

import pytest

from testkit import ROOT, SPECS, assert_golden  # noqa: F401  (re-exported for older imports)

# Waiver expiry depends on the date; pin it so the suite is reproducible.
os.environ.setdefault("MLSPEC_TODAY", "2026-11-26")


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden files instead of comparing")


@pytest.fixture
def update_golden(request) -> bool:
    return bool(request.config.getoption("--update-golden"))
