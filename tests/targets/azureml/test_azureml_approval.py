"""Approval integrity on Azure ML (docs/security.md, threat model), against the role assignments
and role definitions `mlspec plan` captures from the generated program under the mock runtime:
no identity that runs the pipeline or user code can deploy a model, only the compute identity (which
registers versions) can write model versions, and only the approvers are humans with AzureML Data
Scientist. The deploy-time check (approver list, count, human writer) is exercised in
test_azureml_program.py (test_*_refused)."""
from __future__ import annotations

import pytest

import az_helpers
from mlspec.targets.azureml.lower import CUSTOM_ROLES, DEPLOY_ACTIONS, ROLES

ML = "Microsoft.MachineLearningServices/workspaces/"
#: built-in roles the stack may hand to a workload identity: data-plane / pull / publish only
DATA_PLANE = {ROLES[n] for n in ("AcrPull", "AcrPush", "Storage Blob Data Reader", "Storage Blob Data Contributor",
                                 "Storage File Data Privileged Contributor", "Key Vault Crypto Service Encryption User",
                                 "Key Vault Secrets Officer", "Monitoring Metrics Publisher",
                                 "Azure AI Enterprise Network Connection Approver", "Managed Identity Operator")}


@pytest.fixture(scope="module")
def planned():
    from mlspec.compiler.plan.plan import run_plan

    with az_helpers.chdir(az_helpers_root()):
        result = run_plan("specs/fraud_detection.mlspec", "azureml", "prod")
    return result


def az_helpers_root():
    from pathlib import Path
    return Path(__file__).resolve().parents[3]


def _grants(resources: list[dict]) -> dict[str, list[tuple[str, list[str] | None]]]:
    """identity resource name -> [(role id, actions of a custom role | None for a built-in)]."""
    custom = {r["name"]: r["inputs"]["permissions"][0]["actions"] for r in resources
              if r["type"] == "azure-native:authorization:RoleDefinition"}
    out: dict[str, list] = {}
    for ra in resources:
        if ra["type"] != "azure-native:authorization:RoleAssignment" or ra["inputs"]["principalType"] != "ServicePrincipal":
            continue
        ident = next(d for d in ra["depends_on"] if d.startswith("id-"))
        role = ra["inputs"]["roleDefinitionId"].rsplit("/", 1)[1]
        out.setdefault(ident, []).append((role, custom.get(role)))
    return out


def test_no_workload_identity_can_deploy_or_approve(planned):
    grants = _grants(planned.resources)
    assert {"id-compute", "id-monitoring", "id-retrain", "id-endpoint-scoring", "id-workspace"} <= set(grants)
    for ident, roles in grants.items():
        for role, actions in roles:
            if actions is None:  # a built-in: only data-plane roles, never AzureML Data Scientist / Contributor
                assert role in DATA_PLANE, (ident, role)
                continue
            assert "*" not in "".join(actions), (ident, actions)
            assert not set(actions) & set(DEPLOY_ACTIONS), (ident, actions)   # cannot deploy
            if ML + "onlineEndpoints/write" in actions:  # traffic only, on the rollout workflow's endpoint
                assert ident.startswith("id-rollout-"), (ident, actions)
            writes_models = {ML + "models/write", ML + "models/versions/write"} & set(actions)
            assert not writes_models or ident == "id-compute", (ident, actions)  # registration only


def test_only_the_approvers_are_humans_with_model_write(planned):
    humans = [r for r in planned.resources if r["type"] == "azure-native:authorization:RoleAssignment"
              and r["inputs"]["principalType"] != "ServicePrincipal"]
    for h in humans:  # (fraud_detection sets no approver_object_ids: then no human role at all)
        assert h["name"].startswith("ra-approver-")
        assert h["inputs"]["roleDefinitionId"].endswith("/" + ROLES["AzureML Data Scientist"])


def test_custom_roles_are_assignable_where_azure_allows(planned):
    """Azure RBAC: a custom role's assignableScopes are management groups, subscriptions or
    resource groups, never a resource (the endpoint)."""
    defs = [r for r in planned.resources if r["type"] == "azure-native:authorization:RoleDefinition"]
    assert {d["name"] for d in defs} == {f"role-{k}" for k in CUSTOM_ROLES}
    for d in defs:
        for scope in d["inputs"]["assignableScopes"]:
            assert "/providers/" not in scope, (d["name"], scope)


def test_the_deploy_check_runs_before_every_deployment_of_a_model_needing_approval(planned):
    program = (az_helpers_root() / "targets/azureml/templates/pulumi/__main__.py").read_text()
    assert "check_approval(" in program and "last_modified_by_type" in program
    assert not planned.blocking_checks


def test_the_threat_model_is_the_packages_and_cites_tests_that_exist():
    """targets/azureml/threat_model.md (rendered into docs/security.md by Target.security_sections):
    every `file.py::test_name` it cites exists, including the `..::` continuations of a row."""
    import re
    from importlib import resources
    from pathlib import Path

    from mlspec.targets.base import get_target

    doc = resources.files("mlspec.targets.azureml").joinpath("threat_model.md").read_text()
    assert doc in get_target("azureml").security_sections()
    tests = Path(__file__).resolve().parents[2]
    cited = 0
    for row in (ln for ln in doc.splitlines() if ln.startswith("| ") and "::" in ln):
        last = None
        for path, name in re.findall(r"`((?:[\w/]+\.py)|\.\.)::(test_\w+)", row):
            path = last if path == ".." else path
            last = path
            f = tests.parent / path if path.startswith("tests/") else tests / "targets" / "azureml" / path
            assert f.is_file(), path
            assert f"def {name}(" in f.read_text(), (path, name)
            cited += 1
    assert cited >= 10
