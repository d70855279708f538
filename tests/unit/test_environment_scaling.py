"""Checking N environments does linear work (issue 15 item 9): each environment block is
read a bounded number of times and the whole-spec screens run once, however many
environments are built. Counts, not timings (bench/environments.py measures time)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlspec.compiler import api
from mlspec.compiler.check import build as buildmod, overlay, policy
from testkit import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import environments as envbench  # noqa: E402


@pytest.mark.parametrize("n", [10, 50])
def test_work_per_environment_is_constant(n, tmp_path: Path, monkeypatch):
    calls = {"read_env": 0, "literals": 0, "map_keys": 0}

    def counting(name, fn):
        def wrapper(*a, **kw):
            calls[name] += 1
            return fn(*a, **kw)
        return wrapper

    monkeypatch.setattr(overlay, "_read_env", counting("read_env", overlay._read_env))
    monkeypatch.setattr(buildmod, "_literals", counting("literals", buildmod._literals))
    monkeypatch.setattr(policy, "screen_map_keys", counting("map_keys", policy.screen_map_keys))
    res = api.build_irs(str(envbench.generate(n, tmp_path)), validate=False)
    assert res.ok and len(res.irs) == n
    # each environment: read once for the all-environments check, once when it is built
    assert calls == {"read_env": 2 * n - 1, "literals": 1, "map_keys": 1}


def test_an_error_in_an_environment_not_being_built_is_still_reported(tmp_path: Path):
    spec = envbench.generate(3, tmp_path)
    text = spec.read_text().replace("  environment env2 {\n    scale = 3", "  environment env2 {\n    scale = 30")
    spec.write_text(text)
    for env in (None, "env0"):
        res = api.build_irs(str(spec), env=env, validate=False)
        assert [d.code for d in res.diagnostics if d.is_error] == ["E302"], env
