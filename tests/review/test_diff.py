"""`mlspec diff`: what a spec change means, with its risks named (through the CLI)."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from mlspec.compiler.cli import main
from .helpers import copy_example, edited


@pytest.fixture
def base(tmp_path):
    return copy_example(tmp_path / "old")


def run(capsys, *argv):
    code = main(["diff", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def risks(capsys, old, new, *extra):
    code, out, err = run(capsys, old, new, "--format", "json", *extra)
    doc = json.loads(out)
    return code, doc, [(c["risk"], c["subject"], c["text"]) for c in doc["changes"] if c["risk"]]


def test_no_change_exits_0(capsys, base, tmp_path):
    same = copy_example(tmp_path / "same")
    code, out, _ = run(capsys, base, same)
    assert code == 0
    assert "no change in meaning (dev, prod)" in out


def test_formatting_only_change_is_no_change(capsys, base, tmp_path):
    new = edited(base, tmp_path / "new", ("  owner       = ", "  owner = "), ("# Real-time", "# A comment. Real-time"))
    assert run(capsys, base, new)[0] == 0


def test_gate_threshold_lowered_is_a_risk_in_words(capsys, base, tmp_path):
    new = edited(base, tmp_path / "new", ("metrics.f1 >= 0.95", "metrics.f1 >= 0.90"))
    code, out, _ = run(capsys, base, new)
    assert code == 1
    assert ("RISK (gate removed or loosened) pipeline `training`, gate `quality`: requirement "
            "`step.evaluate.metrics.f1 >= 0.95` loosened to `step.evaluate.metrics.f1 >= 0.90`") in out
    assert "every environment (`dev`, `prod`)" in out  # shown once for both environments


def test_gate_threshold_raised_is_tightened_not_a_risk(capsys, base, tmp_path):
    new = edited(base, tmp_path / "new", ("metrics.f1 >= 0.95", "metrics.f1 >= 0.97"),
                 ("champion.f1 + 0.01", "champion.f1 + 0.02"))
    code, doc, rs = risks(capsys, base, new)
    assert code == 0 and rs == []
    texts = [c["text"] for c in doc["changes"]]
    assert "requirement `step.evaluate.metrics.f1 >= 0.95` tightened to `step.evaluate.metrics.f1 >= 0.97`" in texts
    assert ("requirement `step.evaluate.metrics.f1 >= champion.f1 + 0.01` tightened to "
            "`step.evaluate.metrics.f1 >= champion.f1 + 0.02`") in texts


def test_upper_bound_raised_is_loosening_and_lowered_is_tightening(capsys, tmp_path):
    base = edited(copy_example(tmp_path / "src"), tmp_path / "old",
                  ("require step.evaluate.metrics.f1 >= 0.95", "require step.evaluate.metrics.f1 >= 0.95\n"
                   "      require step.evaluate.metrics.auc <= 0.999"))
    up = edited(base, tmp_path / "up", ("auc <= 0.999", "auc <= 1.0"))
    code, _, rs = risks(capsys, base, up)
    assert code == 1
    assert rs[0][0] == "gate" and "loosened" in rs[0][2]
    down = edited(base, tmp_path / "down", ("auc <= 0.999", "auc <= 0.99"))
    code, doc, rs = risks(capsys, base, down)
    assert code == 0 and rs == [] and "tightened" in doc["changes"][0]["text"]
    strict = edited(base, tmp_path / "strict", ("auc <= 0.999", "auc < 0.999"))
    assert risks(capsys, base, strict)[0] == 0  # `<=` -> `<` admits less
    loose = edited(base, tmp_path / "loose", ("f1 >= 0.95", "f1 > 0.95"))
    assert risks(capsys, base, loose)[0] == 0
    assert risks(capsys, loose, base)[0] == 1  # `>` -> `>=` admits the bound itself


def test_gate_and_requirement_removed(capsys, base, tmp_path):
    new = edited(base, tmp_path / "new", ("      require step.evaluate.metrics.f1 >= champion.f1 + 0.01\n", ""))
    code, _, rs = risks(capsys, base, new)
    assert code == 1
    assert ("gate", "pipeline `training`, gate `quality`",
            "requirement `step.evaluate.metrics.f1 >= champion.f1 + 0.01` removed") in rs


def test_fairness_check_loosened(capsys, base, tmp_path):
    new = edited(base, tmp_path / "new", ("max_disparity = 0.1", "max_disparity = 0.3"))
    code, _, rs = risks(capsys, base, new)
    assert code == 1 and rs[0][:2] == ("gate", "pipeline `training`, step `fairness`")


def test_approval_weakened(capsys, base, tmp_path):
    two = edited(base, tmp_path / "two", ('approvers = ["risk-leads"]  required = 1',
                                          'approvers = ["risk-leads", "cro"]  required = 2'))
    fewer = edited(base, tmp_path / "fewer", ('approvers = ["risk-leads"]  required = 1',
                                              'approvers = ["risk-leads"]  required = 1'))
    code, _, rs = risks(capsys, two, fewer)
    assert code == 1
    kinds = {(r[0], r[2].split(":")[0]) for r in rs}
    assert ("approval", "approval.approvers") in kinds and ("approval", "approval.count") in kinds
    assert risks(capsys, fewer, two)[0] == 0  # more approvers is not a risk


def test_approval_turned_off_in_production(capsys, base, tmp_path):
    new = edited(base, tmp_path / "new", ("  environment prod {}", '  environment prod { approval = none }\n'
                                          '  waive "MLS-G-07" { reason = "migration"  owner = "risk-ml@example.com"'
                                          '  until = "2027-06-01" }'))
    code, doc, rs = risks(capsys, base, new)
    assert code == 1
    assert ("approval", "environment `prod`", "approval: required -> none") in rs
    assert any(r[0] == "waiver" and "MLS-G-07" in r[1] for r in rs)
    prod_only = [c for c in doc["changes"] if c["subject"] == "environment `prod`"]
    assert prod_only[0]["environments"] == ["prod"]
    # dev already had no approval: only prod carries the risk
    code, _, rs = risks(capsys, base, new, "--env", "dev")
    assert all(r[0] != "approval" for r in rs)


def test_monitor_and_alert_relaxed_or_removed(capsys, base, tmp_path):
    new = edited(base, tmp_path / "new", ("threshold = 0.2", "threshold = 0.3"), ("min          = 0.93", "min          = 0.90"),
                 ("above = 200ms  for = 5m", "above = 500ms  for = 15m"))
    code, _, rs = risks(capsys, base, new)
    assert code == 1
    assert ("monitoring", "monitor `input_drift`", "breach.above: 0.2 -> 0.3") in rs
    assert ("monitoring", "monitor `quality`", "breach.below: 0.93 -> 0.9") in rs
    assert ("monitoring", "alert `latency`", "value: 200 -> 500") in rs
    assert ("monitoring", "alert `latency`", "for: 5m -> 15m") in rs
    gone = edited(base, tmp_path / "gone", ("  monitor quality {", "  monitor quality_gone_marker {"))
    text = gone.read_text()
    start = text.index("  monitor quality_gone_marker {")
    gone.write_text(text[:start] + text[text.index("  }\n", start) + 4:])
    code, _, rs = risks(capsys, base, gone)
    assert ("monitoring", "monitor `quality`", "removed") in rs


def test_canary_replaced_by_all_at_once(capsys, base, tmp_path):
    new = edited(base, tmp_path / "new", (
        "rollout = canary { initial = 5%  step = 20%  interval = 10m  rollback_on = [alert.latency, alert.errors] }",
        "rollout = all_at_once {}"))
    code, out, _ = run(capsys, base, new)
    assert code == 1
    assert "RISK (safer rollout replaced) endpoint `scoring`: rollout.strategy: canary -> all_at_once" in out
    assert "initial" not in out  # the canary's own settings go with it


def test_waiver_extended(capsys, base, tmp_path):
    new = edited(base, tmp_path / "new", ('until  = "2027-11-30"', 'until  = "2028-11-30"'))
    code, _, rs = risks(capsys, base, new)
    assert code == 1
    assert rs == [("waiver", "waiver `MLS-G-06`", "until: 2027-11-30 -> 2028-11-30")]
    assert risks(capsys, new, base)[0] == 0  # shortening a waiver is fine


def test_security_opt_outs_api():
    """The checker refuses public networks and provider-managed keys outright (MLS-G-01/02 cannot be
    waived), so a spec pair cannot carry them today; the diff still names them, tested on the IR."""
    import copy

    from mlspec.compiler import api, diff

    old = api.build_irs("specs/fraud_detection.mlspec").irs
    new = copy.deepcopy(old)
    for ir in new.values():
        ir["security"].update(network="public", encryption="provider_managed", allowed_egress=["pypi.org"])
        ir["endpoints"][0]["auth"] = "key"
        ir["pipelines"][0]["steps"][1]["network_isolation"] = False
    r = diff.compare(old, new, "prod")
    got = {(c.risk, c.subject, c.text) for c in r.risky}
    assert got == {("security", "`security`", "network: private -> public"),
                   ("security", "`security`", "encryption: customer_managed -> provider_managed"),
                   ("security", "`security`", "allowed_egress: added pypi.org"),
                   ("security", "endpoint `scoring`", "auth: iam -> key"),
                   ("security", "pipeline `training`, step `prepare`", "network_isolation: true -> false")}
    assert r.exit_code == 1


def test_data_checks_dropped_or_relaxed(capsys, base, tmp_path):
    new = edited(base, tmp_path / "new", ("min_rows = 10000", "min_rows = 10"),
                 ('allowed = ["US", "GB", "DE"]', 'allowed = ["US", "GB", "DE", "FR"]'))
    code, _, rs = risks(capsys, base, new)
    assert code == 1
    assert ("data", "dataset `transactions`", "checks.min_rows: 10000 -> 10") in rs
    assert any(r[1] == "dataset `transactions`, column `country`" for r in rs)


def test_harmless_change_is_described_and_exits_0(capsys, base, tmp_path):
    new = edited(base, tmp_path / "new", ("instances = 2", "instances = 3"), ("eta = 0.2", "eta = 0.3"))
    code, out, _ = run(capsys, base, new)
    assert code == 0
    assert "- endpoint `scoring`: compute.instance_count" in out
    assert "- pipeline `training`, step `train`: hyperparameters.eta: 0.2 -> 0.3" in out
    assert out.rstrip().endswith("no risky change")


def test_markdown_is_fit_for_a_pull_request_and_escapes_spec_text(capsys, base, tmp_path):
    new = edited(base, tmp_path / "new", ("metrics.f1 >= 0.95", "metrics.f1 >= 0.9"),
                 ('description = "Card-transaction fraud scoring"',
                  'description = "<img src=x onerror=alert(1)> | `x` # Heading"'))
    code, out, _ = run(capsys, base, new, "--format", "markdown")
    assert code == 1
    assert out.startswith("### mlspec diff\n")
    assert "**1 risky change: a second reviewer should approve this change.**" in out
    assert "| gate removed or loosened |" in out
    import re

    assert not re.search(r"(?<!\\)<img", out)  # HTML in spec text is escaped
    for line in out.splitlines():
        if line.startswith("| ") and "description" in line:
            pytest.fail("the description change is not a risk")
    desc = [line for line in out.splitlines() if "description" in line]
    assert desc == ["- `system`: description: Card-transaction fraud scoring -> \\<img src=x onerror=alert(1)> "
                    "\\| `x` \\# Heading"]


def test_rev_path_reads_the_spec_and_its_scripts_from_git(capsys, base, tmp_path, monkeypatch):
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    repo = base.parent
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-qm", "base"]):
        subprocess.run(["git", *cmd], cwd=repo, check=True, env={**env, "PATH": "/usr/bin:/bin"})
    base.write_text(base.read_text().replace("metrics.f1 >= 0.95", "metrics.f1 >= 0.9"))
    (repo / "fraud_detection" / "src" / "train.py").write_text("print('changed')\n")
    monkeypatch.chdir(repo)
    code, out, err = run(capsys, "HEAD:fraud_detection.mlspec", "fraud_detection.mlspec")
    assert code == 1, err
    assert "loosened" in out
    assert "script `fraud_detection/src/train.py`: changed" in out
    code, _, err = run(capsys, "nosuchrev:fraud_detection.mlspec", "fraud_detection.mlspec")
    assert code == 2 and "mlspec: error: git" in err
    code, _, err = run(capsys, "HEAD:missing.mlspec", "fraud_detection.mlspec")
    assert code == 2 and "missing.mlspec" in err


def test_usage_and_spec_errors(capsys, base, tmp_path):
    code, _, err = run(capsys, base, base, "--env", "staging")
    assert code == 2 and "neither spec declares an environment `staging`" in err
    bad = edited(base, tmp_path / "bad", ("instances = 2", "instancez = 2"))
    code, out, err = run(capsys, base, bad)
    assert code == 1 and out == "" and "error[E201]" in err
    assert main(["diff", str(base)]) == 2
