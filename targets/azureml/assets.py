"""`mlspec apply` for Azure ML: register what the Pulumi program's schedules, deployments and
monitors refer to, then let the program use it (config `pipelinesRegistered`).

Registered from the build (DIR/azureml/), with azure-ai-ml's own loaders and operations:
environments (`environments/*.yml`), every pipeline component of the environment (with its step
components), the serving code (`code/`, the code asset named in the stack data) and the monitors'
reference tables (MLTable folders). Imported only by apply (never by compile); the client is a
seam (tests pass a fake MLClient; the entities are real azure-ai-ml objects).
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Callable


@contextlib.contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def client_for(data: dict, resource_group: str):
    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential

    return MLClient(DefaultAzureCredential(), data["subscription"], resource_group, data["workspace"]["name"])


def register(build: Path, env: str, client: Any) -> list[str]:
    """Register every asset of `env`; returns what was registered ("kind name:version")."""
    from azure.ai.ml import load_component, load_environment
    from azure.ai.ml.entities import Data
    from azure.ai.ml.entities._assets._artifacts.code import Code  # no public export; MLClient._code registers it

    data = json.loads((build / "pulumi" / "stacks" / f"{env}.json").read_text(encoding="utf-8"))
    done: list[str] = []
    for path in sorted((build / "environments").glob("*.yml")):
        if path.name.endswith(".conda.yml"):
            continue
        with _cwd(path.parent):
            e = load_environment(path.name)
        client.environments.create_or_update(e)
        done.append(f"environment {e.name}:{e.version}")
    for path in sorted((build / env / "pipelines").glob("*/pipeline_component.yml")):
        with _cwd(path.parent):
            c = load_component(path.name)
            client.components.create_or_update(c)
        done.append(f"component {c.name}:{c.version}")
    code = data["serving_code"]
    client._code.create_or_update(Code(name=code["name"], version=code["version"], path=str(build / "code")))
    done.append(f"code {code['name']}:{code['version']}")
    seen = set()
    for mo in data.get("monitors") or []:
        for s in mo["signals"]:
            ref = s.get("reference")
            if not ref or ref["asset"] in seen:
                continue
            seen.add(ref["asset"])
            folder = build / env / "monitors" / "reference" / ref["asset"].rsplit("_reference_", 1)[-1]
            client.data.create_or_update(Data(name=ref["asset"], version=ref["version"], type="mltable",
                                              path=str(folder)))
            done.append(f"data {ref['asset']}:{ref['version']}")
    return done


#: tests replace this (build, env, resource group) -> client
CLIENT: Callable[[dict, str], Any] = client_for


def before_up(build: Path, env: str, stack: Any, project: str, say: Callable[[str], Any]) -> bool:
    """When the workspace already exists (every apply after the first), register first and set
    `pipelinesRegistered` before the update: compile rewrote the stack config without it, and an
    update without it would remove the schedules and custom-model deployments it gates."""
    try:
        _register_and_enable(build, env, stack, project, say)
    except Exception as e:  # noqa: BLE001 - the workspace does not exist yet (first apply)
        if not type(e).__module__.startswith(("azure", "msrest", "requests", "urllib3")):
            raise
        say(f"mlspec apply: Azure ML assets not registered yet ({type(e).__name__}); registering after the update")
        return False
    return True


def _register_and_enable(build: Path, env: str, stack: Any, project: str, say: Callable[[str], Any]) -> None:
    import yaml

    cfg = yaml.safe_load((build / "pulumi" / f"Pulumi.{env}.yaml").read_text(encoding="utf-8")) or {}
    rg = (cfg.get("config") or {}).get(f"{project}:resourceGroup")
    data = json.loads((build / "pulumi" / "stacks" / f"{env}.json").read_text(encoding="utf-8"))
    done = register(build, env, CLIENT(data, rg))
    say(f"mlspec apply: registered {len(done)} Azure ML asset(s): " + ", ".join(done))
    stack.set_config(f"{project}:pipelinesRegistered", "true")


def after_up(build: Path, env: str, stack: Any, project: str, say: Callable[[str], Any]) -> dict | None:
    """First apply: the workspace exists now; register, set `pipelinesRegistered`, update again."""
    _register_and_enable(build, env, stack, project, say)
    return stack.up(say)
