"""`mlspec plan` reports what Azure would refuse at deploy time as blocking program checks
(targets/azureml/checks.py): the defects of issue 14, re-introduced one at a time."""
from __future__ import annotations

from mlspec.compiler.plan.plan import PlanResult, _target_checks
from mlspec.targets.azureml import checks

ML = "azure-native:machinelearningservices:"
RG = "/subscriptions/s/resourceGroups/rg"


def _res(t, name, **inputs):
    return {"type": t, "name": name, "inputs": inputs, "depends_on": []}


def test_resource_scoped_custom_role_is_blocking():
    bad = _res("azure-native:authorization:RoleDefinition", "role-x",
               assignableScopes=[RG + "/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e"])
    good = _res("azure-native:authorization:RoleDefinition", "role-y", assignableScopes=[RG])
    got = checks.program_checks([bad, good])
    assert [c["check"] for c in got] == ["azure-custom-role-scope"] and got[0]["blocking"]


def test_traffic_and_monitors_must_name_existing_deployments():
    ep = _res(ML + "OnlineEndpoint", "endpoint-a", endpointName="a", properties={"traffic": {"blue": 90, "green": 10}})
    dep = _res(ML + "OnlineDeployment", "deployment-a-blue", endpointName="a", deploymentName="blue")
    mon = _res(ML + "Schedule", "monitor-m", properties={"action": {"monitorDefinition": {"monitoringTarget": {
        "deploymentId": "/subscriptions/s/.../onlineEndpoints/a/deployments/green"}}}})
    got = {c["check"]: c["where"] for c in checks.program_checks([ep, dep, mon])}
    assert got == {"azure-traffic-to-missing-deployment": "endpoint-a: green",
                   "azure-monitor-without-deployment": "monitor-m: a/green"}


def test_invalid_pip_pin_is_blocking(tmp_path):
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "e.conda.yml").write_text(
        "dependencies:\n- python=3.10\n- pip:\n  - scikit-learn==1.2-1.*\n  - pandas==2.*\n")
    got = checks.program_checks([], tmp_path)
    assert [c["check"] for c in got] == ["azure-invalid-pip-requirement"] and "scikit-learn" in got[0]["where"]


def test_plan_counts_them_as_blocking(tmp_path):
    got = _target_checks("azureml", [_res("azure-native:authorization:RoleDefinition", "role-x",
                                          assignableScopes=[RG + "/providers/x/y"])], tmp_path)
    result = PlanResult("azureml", "prod", [], [], got, {}, [], 0.0)
    assert result.blocking_checks == got and result.exit_code == 1
