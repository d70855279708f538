"""Mock-runtime harness: hand-written programs for the three clouds, a dynamic resource, errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlspec.compiler.plan import harness as h

PROGRAMS = Path(__file__).parent / "programs"


def by_name(result: dict, name: str) -> dict:
    (r,) = [r for r in result["resources"] if r["name"] == name]
    return r


@pytest.fixture(scope="module")
def aws() -> dict:
    return h.run_program(PROGRAMS / "aws", "dev")


@pytest.fixture(scope="module")
def gcp() -> dict:
    return h.run_program(PROGRAMS / "gcp", "test")


@pytest.fixture(scope="module")
def azure() -> dict:
    return h.run_program(PROGRAMS / "azure", "prod")


def test_aws_graph_config_secrets_and_data_files(aws):
    assert json.loads(json.dumps(aws)) == aws  # plain JSON-able data
    assert [(r["type"], r["name"]) for r in aws["resources"]] == sorted((r["type"], r["name"]) for r in aws["resources"])
    sse = by_name(aws, "artifacts-sse")
    rule = sse["inputs"]["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"].startswith("arn:aws:kms:")
    assert sse["inputs"]["bucket"] == "artifacts-dev"  # fabricated bucket id, not None
    assert sse["depends_on"] == ["artifacts", "env-key"]
    assert sse["property_dependencies"] == {"bucket": ["artifacts"], "rules": ["env-key"]}
    pipe = by_name(aws, "train")
    definition = json.loads(pipe["inputs"]["pipelineDefinition"])  # pipeline.json read relative to the program
    assert definition["Steps"][0]["Arguments"]["RoleArn"] == "arn:aws:iam::123456789012:role/pipeline-role"
    assert definition["Steps"][1]["Arguments"]["ModelPackageGroupName"] == "fraud-dev"
    assert pipe["inputs"]["tags"] == {"replicas": "2", "retention": "30"}  # int + structured config
    assert by_name(aws, "db-password")["inputs"]["value"] == h.SECRET  # secure config stays secret
    assert aws["outputs"] == {"account": "123456789012", "bucket": "artifacts-dev",
                              "password": h.SECRET, "role_arn": "arn:aws:iam::123456789012:role/pipeline-role"}
    assert aws["invokes"] == [{"token": "aws:index/getCallerIdentity:getCallerIdentity", "args": {}}]
    assert aws["seconds"] > 0 and aws["program_seconds"] > 0
    assert h.snake_case_leaks(aws["resources"]) == []
    assert h.duplicate_urns(aws["resources"]) == []
    assert h.none_strings(aws["resources"]) == []


def test_gcp_graph_and_project_config_defaults(gcp):
    ep = by_name(gcp, "scoring")
    assert ep["inputs"]["region"] == "europe-west4"  # Pulumi.yaml default of a bare key
    assert ep["inputs"]["encryptionSpec"]["kmsKeyName"].startswith("projects/")
    assert ep["inputs"]["network"] == "projects/123456789012/global/networks/ml"
    iam = by_name(gcp, "pipeline-sa-aiplatform")
    assert iam["inputs"]["member"] == "serviceAccount:fraud-pipeline@my-proj.iam.gserviceaccount.com"
    assert gcp["outputs"]["root"] == "gs://fraud-pipeline-root/pipeline-root"
    assert h.snake_case_leaks(gcp["resources"]) == [] and h.none_strings(gcp["resources"]) == []


def test_azure_graph_arm_ids_and_identities(azure):
    ws = by_name(azure, "ws")
    assert ws["inputs"]["storageAccount"].endswith("/providers/Microsoft.Storage/storageAccounts/mlsa")
    ra = by_name(azure, "ep-reader")
    assert ra["inputs"]["scope"].endswith("/Microsoft.MachineLearningServices/workspaces/fraud-ws")
    assert len(ra["inputs"]["principalId"]) == 36  # fabricated system-assigned principal
    assert len(by_name(azure, "ws-blob")["inputs"]["principalId"]) == 36  # UAMI principal
    dep = by_name(azure, "scoring-blue")
    assert dep["depends_on"] == ["scoring", "ws"]
    assert azure["outputs"]["workspace_id"].startswith("/subscriptions/")
    assert h.snake_case_leaks(azure["resources"]) == [] and h.none_strings(azure["resources"]) == []


def test_missing_required_uses_sdk_args_signatures(aws, gcp, azure):
    assert h.missing_required(aws["resources"] + gcp["resources"] + azure["resources"]) == []
    broken = [dict(by_name(aws, "pipeline-role"), inputs={})]
    assert h.missing_required(broken) == ["aws:iam/role:Role:pipeline-role.assumeRolePolicy"]


def test_graph_checks_on_synthetic_resources():
    r = {"urn": "u1", "type": "azure-native:machinelearningservices:OnlineDeployment", "name": "d",
         "inputs": {"properties": {"instance_type": "x", "environmentVariables": {"MY_VAR": "1", "my_var": "2"}},
                    "tags": {"cost_center": "a"}}}
    assert h.snake_case_leaks([r]) == ["azure-native:machinelearningservices:OnlineDeployment:d.properties.instance_type"]
    assert h.duplicate_urns([r, dict(r)]) == ["u1"]
    assert h.none_strings([dict(r, inputs={"uri": "gs://None/x"})]) == ["azure-native:machinelearningservices:OnlineDeployment:d.uri"]


def test_dynamic_resource_runs_under_mocks():
    res = h.run_program(PROGRAMS / "dynamic", "dev")
    sched = by_name(res, "nightly")
    assert sched["type"] == "pulumi-python:dynamic/vertex:PipelineSchedule"
    assert sched["inputs"]["__provider"] == "[dynamic provider]"
    assert sched["inputs"]["serviceAccount"] == "runner@mlspec-mock-project.iam.gserviceaccount.com"
    assert sched["depends_on"] == ["runner"]
    assert h.snake_case_leaks(res["resources"]) == []


def test_program_error_carries_stderr_and_program_traceback():
    with pytest.raises(h.ProgramError) as ei:
        h.run_program(PROGRAMS / "broken", "dev")
    msg = str(ei.value)
    assert "ValueError: boom from the program" in msg
    assert "about to fail" in ei.value.stderr
    assert "broken/__main__.py" in ei.value.traceback and "_mockrun" not in ei.value.traceback


def test_missing_program_dir_and_timeout(tmp_path):
    with pytest.raises(h.ProgramError, match="no Pulumi.yaml"):
        h.run_program(tmp_path, "dev")
    (tmp_path / "Pulumi.yaml").write_text("name: slow\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("import time\ntime.sleep(30)\n")
    with pytest.raises(h.ProgramError, match="timed out"):
        h.run_program(tmp_path, "dev", timeout=3)


def test_overrides_extend_fabrication_per_run(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: ov\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(
        "import pulumi, pulumi_aws as aws\n"
        "t = aws.sns.Topic('alerts')\n"
        "pulumi.export('arn', t.arn)\n"
        "pulumi.export('region', aws.get_region().name)\n")
    res = h.run_program(tmp_path, "dev", overrides={
        "resources": {"aws:sns/topic:Topic": {"arn": "arn:custom:{name}"}},
        "calls": {"aws:index/getRegion:getRegion": {"name": "eu-west-1"}}})
    assert res["outputs"] == {"arn": "arn:custom:alerts", "region": "eu-west-1"}


def test_importing_harness_imports_no_pulumi():
    import subprocess
    import sys

    code = ("import sys, mlspec.compiler.plan.harness, mlspec.compiler.plan.mocks, mlspec.targets.sagemaker.mock_outputs; "
            "print(any(m.split('.')[0] in ('pulumi', 'pulumi_aws', 'boto3') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_cli_parser_with_plan_commands_imports_no_cloud_sdk():
    """`mlspec compile` builds the same parser: plan/apply/approve must stay lazy."""
    import subprocess
    import sys

    code = ("import sys; from mlspec.compiler import cli; cli.build_parser(); "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pulumi', 'pulumi_aws', 'pulumi_gcp', 'pulumi_azure_native', 'boto3', 'botocore', 'azure', 'moto') "
            "or m.startswith('google.cloud.')); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_aws_native_resources_get_arns_and_list_tags(tmp_path):
    res = h.run_program(PROGRAMS / "awsnative", "dev")
    job = by_name(res, "quality")
    assert job["type"] == "aws-native:sagemaker:ModelQualityJobDefinition"
    assert job["inputs"]["roleArn"] == "arn:aws:iam::123456789012:role/monitoring"
    assert job["tag_property"] == "tags" and job["inputs"]["tags"] == [{"key": "owner", "value": "risk"}]
    assert res["outputs"]["job_arn"].startswith("arn:aws:sagemaker:")
    assert h.missing_required(res["resources"]) == [] and h.snake_case_leaks(res["resources"]) == []


def test_image_digest_lookups_are_fabricated_so_programs_can_pin_images():
    from mlspec.compiler.plan.rules_common import image_problem

    res = h.run_program(PROGRAMS / "digests", "dev")
    assert "@sha256:" in res["outputs"]["aws"] and image_problem(res["outputs"]["aws"], "aws") is None
    assert "@sha256:" in res["outputs"]["gcp"] and image_problem(res["outputs"]["gcp"], "gcp") is None
    assert [i["token"] for i in res["invokes"]] == ["aws:ecr/getImage:getImage",
                                                   "gcp:artifactregistry/getDockerImage:getDockerImage"]
