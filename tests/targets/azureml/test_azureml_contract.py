"""Contract of the Azure ML target: capabilities, settings, naming, refusals as diagnostics,
compile-time imports, determinism, the fixed program, and the generated docs."""
from __future__ import annotations

import ast
import copy
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import az_fixtures
import az_helpers
from mlspec.compiler.features import FEATURES, features_used
from mlspec.targets import base
from mlspec.targets.azureml import AzureML, docgen, naming
from mlspec.targets.azureml.capabilities import CAPABILITIES

ROOT = Path(__file__).resolve().parents[3]


def test_registered_and_named():
    t = base.get_target("azureml")
    assert isinstance(t, AzureML) and t.display_name == "Azure Machine Learning"
    assert {k for k, s in t.settings.items() if s.required} == {"subscription", "resource_group", "workspace",
                                                                 "region"}


def test_a_verdict_with_vendor_doc_for_every_feature():
    assert set(CAPABILITIES) == set(FEATURES)
    for feature, v in CAPABILITIES.items():
        assert v.doc.startswith("https://learn.microsoft.com/"), feature
        assert v.note or v.alternatives, feature
        if v.level == base.UNSUPPORTED:
            assert v.alternatives, feature


def test_the_fixture_uses_nearly_every_feature():
    used = {f for ir in az_fixtures.maximal_irs() for f, _ in features_used(ir)}
    assert set(FEATURES) - used <= {"data.format.delta", "data.format.jsonl", "data.format.tfrecord",
                                    "endpoint.auth.key", "framework.custom", "framework.huggingface",
                                    "framework.pytorch", "framework.tensorflow", "gate.threshold",
                                    "security.existing_key", "tracking.native"}


@pytest.mark.parametrize("kind,name", [
    ("storage", naming.storage_account("a_very_long_system_name_for_storage", "production", "sub")),
    ("keyvault", naming.key_vault("a_very_long_system_name", "production", "sub")),
    ("registry", naming.container_registry("fraud_detection", "prod", "sub")),
    ("workspace", naming.workspace("ml", "prod")),
    ("endpoint", naming.endpoint("fraud_detection", "a_really_long_endpoint_name_here", "production", "sub")),
    ("compute", naming.compute("memory.large")),
])
def test_generated_names_follow_azure_rules(kind, name):
    assert naming.check(kind, name) is None


def test_naming_rejects_and_is_stable():
    assert "3-24" in naming.check("storage", "Bad_Name")
    assert naming.storage_account("x", "dev", "s") == naming.storage_account("x", "dev", "s")
    assert naming.storage_account("x", "dev", "s") != naming.storage_account("x", "prod", "s")


def _lower(mutate) -> list:
    irs = az_fixtures.maximal_irs()
    for ir in irs:
        mutate(ir)
    return az_helpers.lower(irs).diagnostics


def test_refusals_are_diagnostics():
    def key_auth(ir):
        ir["endpoints"][0]["auth"] = "key"

    def fractional(ir):
        ir["endpoints"][0]["rollout"]["initial_percent"] = 2.5

    def bad_metric(ir):
        ir["monitors"][0]["metric"] = "entropy"

    def no_settings(ir):
        ir["targets"]["azureml"] = {"subscription": "x"}

    def existing_key(ir):
        ir["security"]["kms_key"] = "alias/aws-key"

    def external_mlflow(ir):
        ir["tracking"]["uri"] = "https://mlflow.example.com"

    def bad_secret(ir):
        ir["channels"][1]["secret"] = "https://kv.vault.azure.net/secrets/x"

    def foreign_uri(ir):
        ir["datasets"][0]["uri"] = "s3://bucket/transactions/"

    cases = {key_auth: "E501", fractional: "E505", bad_metric: "E505", no_settings: "E502", existing_key: "E505",
             foreign_uri: "E504", external_mlflow: "E505", bad_secret: "E505"}
    for mutate, code in cases.items():
        diags = _lower(mutate)
        assert code in {d.code for d in diags}, (mutate.__name__, diags)
        d = next(d for d in diags if d.code == code)
        assert not d.summary[0].isupper() and not d.summary.endswith(".") and d.hint
    # the only remark on the maximal IR: Azure ML's workspace-wide network isolation (W505)
    assert [d for d in az_helpers.lower(az_fixtures.maximal_irs()).diagnostics
            if "no per-job network isolation" not in d.summary] == []


def test_existing_key_is_used_instead_of_creating_one():
    irs = az_fixtures.maximal_irs()
    for ir in irs:
        ir["security"]["kms_key"] = "https://kv-corp.vault.azure.net/keys/ml-cmk"
        ir["targets"]["azureml"]["key_vault_id"] = ("/subscriptions/s/resourceGroups/r/providers/"
                                                   "Microsoft.KeyVault/vaults/kv-corp")
    low = az_helpers.lower(irs)
    assert [d for d in low.diagnostics if "no per-job network isolation" not in d.summary] == []
    key = az_helpers.stack_data(low, "prod")["key"]
    assert key["existing"] == {"key_uri": "https://kv-corp.vault.azure.net/keys/ml-cmk", "key_name": "ml-cmk",
                               "vault_id": irs[1]["targets"]["azureml"]["key_vault_id"],
                               "vault_uri": "https://kv-corp.vault.azure.net/"}


def test_notes_explain_emulations_and_waivers():
    irs = az_fixtures.maximal_irs()
    irs[1]["waivers"] = [{"rule": "MLS-G-06", "reason": "vendor image", "owner": "ml-platform", "until": "2027-03-01"},
                         {"rule": "MLS-AWS-065", "reason": "x", "owner": "o", "until": "2027-03-01"}]
    notes = "\n".join(az_helpers.lower(irs).notes)
    for text in ("pending_approval", "canary stepping emulated", "automatic rollback emulated",
                 "mirror traffic", "bias_drift", "retraining on breach", "error-rate alerts are log alerts",
                 "azureml/prod: waived MLS-G-06 until 2027-03-01 (owner ml-platform): vendor image -- the secure "
                 "default is still generated", "azureml/prod: waiver of MLS-AWS-065 does not apply to Azure"):
        assert text in notes, text


def test_hbi_follows_data_classification_and_waiver():
    irs = az_fixtures.maximal_irs()
    irs[0]["security"]["data_classification"] = "public"
    low = az_helpers.lower(irs)
    assert az_helpers.stack_data(low, "dev")["workspace"]["hbi"] is False
    assert az_helpers.stack_data(low, "prod")["workspace"]["hbi"] is True
    irs[1]["waivers"] = [{"rule": "MLS-AZ-054", "reason": "r", "owner": "o", "until": "2027-01-01"}]
    assert az_helpers.stack_data(az_helpers.lower(irs), "prod")["workspace"]["hbi"] is False


def test_program_is_fixed_and_parses(max_lowering):
    """The program contains no spec value (it reads stacks/<env>.json); it parses."""
    prog = next(a.content for a in max_lowering.artifacts if a.kind == "pulumi-program")
    ast.parse(prog)
    other = az_fixtures.minimal_ir()
    other["system"]["name"] = "another_system"
    prog2 = next(a.content for a in az_helpers.lower([other]).artifacts if a.kind == "pulumi-program")
    assert prog == prog2
    for spec_text in ("fraud", "risk-ml", "oncall@example.com", "eastus", "\"scoring\"", "scoring-"):
        assert spec_text not in prog


def test_helper_scripts_parse(max_lowering):
    scripts = [a for a in max_lowering.artifacts if a.kind == "helper-script"]
    assert len(scripts) >= 9
    for a in scripts:
        ast.parse(a.content, filename=a.path)


def test_stack_config_and_requirements(max_lowering):
    by_path = {a.path: a for a in max_lowering.artifacts}
    import yaml as _yaml
    text = by_path["pulumi/Pulumi.prod.yaml"].content
    assert "#   pulumi config set --secret secret-slack-ml-url <value> --stack prod" in text
    cfg = _yaml.safe_load(text)["config"]
    assert cfg == {"azure-native:location": "eastus",
                   "azure-native:subscriptionId": az_fixtures.SUB,
                   "fraud-detection-azureml:resourceGroup": "ml-prod",
                   "fraud-detection-azureml:stackData": "stacks/prod.json"}
    reqs = by_path["pulumi/requirements.txt"].content.splitlines()
    assert all("==" in r for r in reqs) and any(r.startswith("pulumi-azure-native==") for r in reqs)


_IMPORT_CHECK = """
import sys, json
sys.path.insert(0, {here!r})
import az_fixtures, az_helpers
low = az_helpers.lower(az_fixtures.maximal_irs())
bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_azure_native', 'azure'))
print(json.dumps(bad))
"""


def test_lowering_imports_no_pulumi_or_azure_sdk():
    code = _IMPORT_CHECK.format(here=str(Path(__file__).parent))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


_DIGEST = """
import sys, hashlib
sys.path.insert(0, {here!r})
import az_fixtures, az_helpers
from mlspec.compiler import emit
low = az_helpers.lower(az_fixtures.maximal_irs())
h = hashlib.sha256()
for a in low.artifacts:
    h.update(a.path.encode() + b"\\0" + emit.serialise(a.content, a.fmt))
h.update("\\n".join(low.notes).encode())
print(h.hexdigest())
"""


def test_output_is_deterministic_across_hash_seeds():
    code = _DIGEST.format(here=str(Path(__file__).parent))
    digests = set()
    for seed in ("0", "1", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             cwd=ROOT, env=env)
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_no_absolute_paths_or_versions_in_artifacts(max_lowering):
    from mlspec.compiler import emit
    for a in max_lowering.artifacts:
        text = emit.serialise(a.content, a.fmt).decode()
        assert str(ROOT) not in text and "/tmp/" not in text, a.path
        assert "0.0.0-test" not in text, a.path


def test_docs_are_current():
    assert (ROOT / "docs/targets/azureml.md").read_text(encoding="utf-8") == docgen.render(), \
        "run: python -m mlspec.targets.azureml.docgen"


def test_all_at_once_with_rollback_keeps_the_previous_deployment():
    irs = az_fixtures.maximal_irs()
    for ir in irs:
        ir["endpoints"][5]["rollout"]["rollback_on"] = ["alert.p50"]
    eps = {e["key"]: e for e in az_helpers.stack_data(az_helpers.lower(irs), "prod")["endpoints"]}
    assert eps["simple"]["plan"]["kind"] == "two_slot" and eps["simple"]["plan"]["initial_percent"] == 100
    assert eps["simple"]["controller"] is None and eps["simple"]["rollback"]
    plain = {e["key"]: e for e in az_helpers.stack_data(az_helpers.lower(az_fixtures.maximal_irs()), "prod")["endpoints"]}
    assert plain["simple"]["plan"]["kind"] == "single" and plain["simple"]["rollback"] is None


from hypothesis import given, settings, strategies as st  # noqa: E402

_IDENT = st.from_regex(r"[a-z][a-z0-9_]{0,62}", fullmatch=True)
_ENV = st.sampled_from(["dev", "staging", "prod", "production", "default", "qa_eu_west"])


@settings(max_examples=200, deadline=None)
@given(system=_IDENT, env=_ENV, endpoint=_IDENT)
def test_names_are_always_valid_for_azure(system, env, endpoint):
    assert naming.check("storage", naming.storage_account(system, env, az_fixtures.SUB)) is None
    assert naming.check("keyvault", naming.key_vault(system, env, az_fixtures.SUB)) is None
    assert naming.check("registry", naming.container_registry(system, env, az_fixtures.SUB)) is None
    assert naming.check("endpoint", naming.endpoint(system, endpoint, env, az_fixtures.SUB)) is None


@settings(max_examples=30, deadline=None)
@given(text=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=80))
def test_free_text_survives_emission(text):
    """Spec free text lands in YAML/JSON as data, never changing the document's structure."""
    import yaml as _yaml
    from mlspec.compiler import emit

    ir = az_fixtures.minimal_ir()
    ir["system"]["description"] = text
    ir["models"][0]["card"]["intended_use"] = text
    low = az_helpers.lower([ir])
    for a in low.artifacts:
        if a.fmt in ("yaml", "json") and a.kind != "pulumi-stack-data":
            loaded = _yaml.safe_load(emit.serialise(a.content, a.fmt))
            assert loaded == json.loads(json.dumps(a.content)), a.path
    reg = next(a.content["register"] for a in low.artifacts
               if a.kind == "step-config" and "register" in a.content)
    assert reg["card"]["intended_use"] == text


def test_monitored_endpoint_collects_data_even_without_capture():
    irs = az_fixtures.maximal_irs()
    for ir in irs:
        ir["endpoints"][0]["capture"] = None
    low = az_helpers.lower(irs)
    ep = next(e for e in az_helpers.stack_data(low, "prod")["endpoints"] if e["key"] == "scoring")
    assert ep["capture_rate"] == 1.0
    assert any("has monitors but no `capture`" in n for n in low.notes)


def _actions(scope: dict):
    """(sibling actions, action) for every action, recursing into If/Foreach branches."""
    for name, action in scope.items():
        yield scope, name, action
        for sub in (action.get("actions") or {}, (action.get("else") or {}).get("actions") or {}):
            yield from _actions(sub)


@pytest.mark.parametrize("name", ["ROLLOUT", "ROLLBACK", "BREACH"])
def test_workflow_definitions_are_consistent(name):
    """Logic Apps definitions: runAfter names sibling actions; every parameters('x') is declared;
    every action type is a known Logic Apps action type."""
    import re

    from mlspec.targets.azureml import workflows

    d = getattr(workflows, name)
    declared = set(d["parameters"])
    used = set(re.findall(r"parameters\('(\w+)'\)", json.dumps(d)))
    assert used <= declared, used - declared
    for siblings, aname, action in _actions(d["actions"]):
        assert action["type"] in {"Http", "Compose", "If", "Foreach", "Response", "Wait"}, aname
        for dep in action.get("runAfter") or {}:
            assert dep in siblings, (aname, dep)
    text = json.dumps(d)
    assert text.count("(") == text.count(")") and text.count("[") == text.count("]")


def _concat_result(expr: str, values: dict) -> str:
    """Evaluate the `json(concat(...))` traffic expression of a workflow for sample values."""
    import re

    inner = re.search(r"json\(concat\((.*?)\)\)\), 'mirrorTraffic'", expr).group(1)
    parts, depth, cur = [], 0, ""
    for ch in inner:  # split on top-level commas (outside quotes and parentheses)
        if ch == "," and depth == 0 and cur.count("'") % 2 == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        depth += {"(": 1, ")": -1}.get(ch, 0) if cur.count("'") % 2 == 0 else 0
        cur += ch
    parts.append(cur.strip())
    out = ""
    for p in parts:
        if p.startswith("'"):
            out += p[1:-1]
        else:
            out += str(values[p])
    return out


def test_workflow_traffic_expressions_build_valid_json():
    from mlspec.targets.azureml import workflows

    step = workflows.ROLLOUT["actions"]["Step_or_stop"]["else"]["actions"]["Put_endpoint"]["inputs"]["body"]
    values = {"parameters('oldSlot')": "blue", "parameters('newSlot')": "green",
              "string(sub(100, outputs('Next')))": 75, "string(outputs('Next'))": 25,
              "string(sub(100, 0))": 100, "string(0)": 0}
    assert json.loads(_concat_result(step, values)) == {"blue": 75, "green": 25}
    back = workflows.ROLLBACK["actions"]["Has_previous"]["actions"]["Put_endpoint"]["inputs"]["body"]
    assert json.loads(_concat_result(back, values)) == {"blue": 100, "green": 0}
