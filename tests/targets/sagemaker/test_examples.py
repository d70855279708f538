"""Every example spec in specs/: compiled through the front end, its program run under the
mock runtime for every environment, with the endpoints created (approved packages in config)."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from mlspec.compiler import api
from mlspec.compiler.plan.harness import duplicate_urns, missing_required, run_program, snake_case_leaks

ROOT = Path(__file__).resolve().parents[3]
SPECS = sorted(p for p in (ROOT / "specs").glob("*.mlspec") if not p.name.startswith("."))


def compiled(spec: Path, out: Path) -> Path:
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        res = api.compile_spec(str(spec.relative_to(ROOT)), ["sagemaker"], out=out)
    finally:
        os.chdir(cwd)
    assert res.ok, [f"{d.code} {d.summary}" for d in res.diagnostics]
    return out / "sagemaker"


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_example_program_under_mocks(spec, tmp_path):
    build = compiled(spec, tmp_path)
    pulumi_dir = build / "pulumi"
    for cfg in sorted(pulumi_dir.glob("Pulumi.*.yaml")):
        stack = cfg.name.split(".")[1]
        data = json.loads((pulumi_dir / "stacks" / f"{stack}.json").read_text())
        text = cfg.read_text()
        extra = "".join(f"  {k}:\n    secure: AAAmock\n" for k in re.findall(r"#   (mlspec:\S+)", text))
        models = sorted({m for e in data["endpoints"] for m in e["models"]})
        extra += "".join(f'  mlspec:approved_package.{m}: "arn:aws:sagemaker:us-east-1:123456789012:'
                         f'model-package/{m}/1"\n' for m in models)
        cfg.write_text(text + extra)
        run = run_program(pulumi_dir, stack)
        res = run["resources"]
        assert snake_case_leaks(res) == [] and missing_required(res) == [] and duplicate_urns(res) == []
        assert not [r["name"] for r in res if "${" in json.dumps(r["inputs"])]
        types = {r["type"] for r in res}
        assert {"aws:kms/key:Key", "aws:sagemaker/pipeline:Pipeline", "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
                "aws:sfn/stateMachine:StateMachine", "aws:sagemaker/modelCard:ModelCard"} <= types
        eps = [r for r in res if r["type"] == "aws:sagemaker/endpoint:Endpoint"]
        assert len(eps) == len(data["endpoints"])
        schedules = [r for r in res if r["type"] == "aws:sagemaker/monitoringSchedule:MonitoringSchedule"]
        assert len(schedules) == len(data["monitors"])
        if data["mlflow"]:  # tracking.mlflow: managed server + tracker Lambda in the VPC, KMS
            fn = [r for r in res if r["type"] == "aws:lambda/function:Function"][0]["inputs"]
            assert fn["vpcConfig"]["subnetIds"] and fn["kmsKeyArn"].startswith("arn:aws:kms:")
            assert [r for r in res if r["type"] == "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer"]
        for p in (r for r in res if r["type"] == "aws:sagemaker/pipeline:Pipeline"):
            d = json.loads(p["inputs"]["pipelineDefinition"])
            assert all(not str(x["DefaultValue"]).startswith("${") for x in d["Parameters"])


def test_managed_policies_stay_far_under_iam_limits(tmp_path):
    """Issue 12 (smaller): every role's permissions are customer-managed policies (not one inline
    policy near IAM's 10,240-character role budget), each far under IAM's 6,144-character managed
    policy limit with every deploy-time value at its longest, at most IAM's 10 per role, for
    every example spec."""
    from mlspec.targets.sagemaker import iam

    sizes = {}
    for spec in SPECS:
        build = compiled(spec, tmp_path / spec.stem)
        for stack in sorted((build / "pulumi" / "stacks").glob("*.json")):
            for r in json.loads(stack.read_text())["roles"]:
                assert 1 <= len(r["policies"]) <= iam.MANAGED_POLICIES_PER_ROLE
                for p in r["policies"]:
                    doc = json.loads((build / "pulumi" / p).read_text())
                    sizes[f"{spec.stem}/{stack.stem}/{Path(p).name}"] = iam.policy_size(doc)
    worst = max(sizes, key=sizes.get)
    assert sizes[worst] <= iam.MANAGED_POLICY_BUDGET < 0.75 * iam.MANAGED_POLICY_MAX, (worst, sizes[worst])
    # the split really happens where one document would not fit (fraud's pipeline role)
    assert any(k.endswith("pipeline-2.json") for k in sizes)
