"""Toy Cloud: a fourth mlspec target that lives out of tree (tests/unit/test_fourth_target.py).

Registered like any third-party target, through the ``mlspec.targets`` entry-point group of its
own distribution metadata (``toycloud-0.1.dist-info/entry_points.txt`` next to this package);
it brings one baseline rule (``rules.py``), one approval backend (a JSON file registry) and one
mock-output table, and `mlspec targets | compile | plan | approve | status` work for it without
any change to ``mlspec.compiler``. Like every target it imports only ``mlspec.targets.base`` of
the targets and the engine's public vocabulary (``mlspec.compiler.plan.*``) lazily.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from mlspec.targets.base import Lowering, Setting, Target, native

#: the Pulumi program: one bucket of the toy provider (no provider SDK: a raw CustomResource)
PROGRAM = '''import pulumi


class Bucket(pulumi.CustomResource):
    def __init__(self, name, props, opts=None):
        super().__init__("toy:storage:Bucket", name, dict(props, url=None), opts)


cfg = pulumi.Config("toy")
bucket = Bucket("data", {"encrypted": cfg.get_bool("encrypted") or False,
                         "tags": {"owner": "ml@example.com"}})
pulumi.export("url", bucket.url)
'''


def _features() -> dict:
    from mlspec.compiler.features import FEATURES

    return {f: native("the toy cloud does everything") for f in FEATURES}


class ToyCloud(Target):
    name = "toycloud"
    display_name = "Toy Cloud"
    cloud = "toy"
    cloud_title = "Toy (Toy Cloud target)"
    settings = {"region": Setting("string", description="toy region", example="moon-1")}
    uri_schemes = {"toy://": "a Toy Cloud bucket"}
    tracking_uri_forms = ("toy-mlflow:",)

    @property
    def capabilities(self):  # type: ignore[override]
        return _features()

    def lower(self, irs, ctx) -> Lowering:
        low = Lowering()
        low.add("pulumi/Pulumi.yaml", "pulumi-project", "name: toy\nruntime: python\n")
        low.add("pulumi/__main__.py", "pulumi-program", PROGRAM)
        for ir in irs:
            env = ir["environment"]["name"]
            low.add(f"pulumi/Pulumi.{env}.yaml", "pulumi-stack-config", "config:\n  toy:region: moon-1\n")
            low.add(f"pulumi/stacks/{env}.json", "stack-data",
                    {"models": {m["name"]: f"toy-{m['name']}" for m in ir.get("models") or []}}, fmt="json")
        return low

    # ---- the hooks

    def baseline_rules(self):
        return {"MLS-TOY-001": (True, "Toy buckets are encrypted")}

    def rules(self):
        from mlspec.compiler.plan.graph import rules_in

        from toycloud import rules

        return rules_in(rules)

    def mock_outputs(self):
        from mlspec.compiler.plan.mocks import MockOutputs

        return MockOutputs(
            providers={"toy": (lambda ctx: f"toy-{ctx.name}", lambda ctx: {"region": REGION[0]})},
            resources={"toy:storage:Bucket": lambda ctx: {"url": f"toy://{REGION[0]}/{ctx.id}"}},
            configure=lambda config: REGION.__setitem__(0, config.get("toy:region") or REGION[0]))

    def approval_backend(self):
        return ToyBackend()


REGION = ["nowhere-0"]


class ToyBackend:
    """Decisions are a JSON file (``$TOY_REGISTRY``): {model: {version: status}}."""

    needs = ()
    cloud_error_modules = ()

    def _path(self) -> Path:
        return Path(os.environ["TOY_REGISTRY"])

    def _load(self) -> dict:
        return json.loads(self._path().read_text())

    def locate(self, w, data, config, model):
        w.model = (data.get("models") or {}).get(model, w.model)

    def complete(self, w):
        pass

    def decide(self, w, version, decision, reason, by):
        from mlspec.compiler.plan.decision import DecisionError

        reg = self._load()
        status = (reg.get(w.model) or {}).get(version)
        if status != "pending":
            raise DecisionError(f"version {version} of `{w.model}` is {status or 'unknown'}, not pending")
        reg[w.model][version] = decision
        self._path().write_text(json.dumps(reg))
        return {"model": w.model, "version": version, "status": decision, "by": by or "toy-user"}

    def pending(self, w):
        return [{"model": m, "version": v, "status": s, "created": "", "id": f"{m}/{v}"}
                for m, versions in sorted(self._load().items()) for v, s in sorted(versions.items())
                if s == "pending" and (not w.model or m == w.model)]
