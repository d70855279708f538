"""`mlspec apply --target azureml` registers the pipeline components, environments, serving code
and monitor reference tables with azure-ai-ml (real loaders and entities, fake workspace client),
then sets `pipelinesRegistered` and updates again -- no manual step (issue 14 item 14)."""
from __future__ import annotations

from pathlib import Path

import pytest

from mlspec.compiler.plan import deploy
from mlspec.targets.azureml import assets

ROOT = Path(__file__).resolve().parents[3]


class Ops:
    def __init__(self, log, kind):
        self.log, self.kind = log, kind

    def create_or_update(self, entity):
        self.log.append((self.kind, type(entity).__name__, entity.name, str(entity.version)))
        return entity


class FakeClient:
    def __init__(self, log):
        self.environments, self.components = Ops(log, "environment"), Ops(log, "component")
        self._code, self.data = Ops(log, "code"), Ops(log, "data")


class FakeStack:
    def __init__(self, log):
        self.log = log

    def set_secret(self, key, value):
        self.log.append(("set_secret", key))

    def set_config(self, key, value):
        self.log.append(("set_config", key, value))

    def preview(self, on_output):
        self.log.append(("preview",))
        return {"create": 3}

    def up(self, on_output):
        self.log.append(("up",))
        return {"result": "succeeded", "changes": {"create": 3}, "outputs": {}}


class FakeAutomation:
    def __init__(self):
        self.log = []

    def open_stack(self, pulumi_dir, stack, env_vars):
        return FakeStack(self.log)


@pytest.mark.parametrize("workspace_exists", [False, True])
def test_apply_registers_assets_and_enables_them(tmp_path, monkeypatch, workspace_exists):
    monkeypatch.setattr(deploy, "check_cli", lambda: [])
    monkeypatch.setattr(deploy, "check_credentials", lambda target: [])
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test")
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    registered = []
    seen_rg = []
    from azure.core.exceptions import ResourceNotFoundError

    def client(data, rg):
        seen_rg.append(rg)
        if not workspace_exists and len(seen_rg) == 1:  # first apply: no workspace before the update
            raise ResourceNotFoundError("workspace not found")
        return FakeClient(registered)
    monkeypatch.setattr(assets, "CLIENT", client)
    fake = FakeAutomation()
    monkeypatch.chdir(ROOT)
    opts = deploy.Options(spec="specs/churn_scoring.mlspec", target="azureml", env="prod", yes=True,
                          out=tmp_path / "build", state=(tmp_path / "state").as_uri(), allow_findings=True)
    assert deploy.run(opts, automation=fake) == deploy.EXIT_OK
    steps = [e[0] for e in fake.log]
    # later applies register first, so the update never drops what pipelinesRegistered gates
    assert steps == (["set_config", "preview", "up"] if workspace_exists else ["preview", "up", "set_config", "up"])
    assert ("set_config", "churn-scoring-azureml:pipelinesRegistered", "true") in fake.log
    assert set(seen_rg) == {"rg-churn"}  # the resource group of the stack config
    kinds = {(k, t) for k, t, _n, _v in registered}
    assert ("component", "PipelineComponent") in kinds and ("environment", "Environment") in kinds
    assert ("code", "Code") in kinds and ("data", "Data") in kinds
    names = {n for _k, _t, n, _v in registered}
    assert "churn_scoring_weekly_pipeline" in names and "churn_scoring_serving" in names
