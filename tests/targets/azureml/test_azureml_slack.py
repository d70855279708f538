"""`channels[].slack_channel` on Azure ML (issue 10): a Slack channel is an action group webhook
receiver posting to the Slack workflow (or incoming webhook) whose URL is the channel's secret;
that workflow decides the Slack channel, so a set `slack_channel` has no effect on Azure ML and
`check` and `compile` say so (W505) instead of dropping it silently."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from mlspec.compiler.cli import main

ROOT = Path(__file__).resolve().parents[3]
SPECS = ROOT / "specs"
CHANNEL = 'channel team { slack = secret("churn-slack-webhook") }'


def _churn(tmp_path: Path, channel: str) -> Path:
    src = (SPECS / "churn_scoring.mlspec").read_text(encoding="utf-8")
    assert CHANNEL in src
    spec = tmp_path / "churn_scoring.mlspec"
    spec.write_text(src.replace(CHANNEL, channel, 1), encoding="utf-8")
    shutil.copytree(SPECS / "churn", tmp_path / "churn")
    return spec


def _warnings(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if "warning[W505]" in ln and "`slack_channel` of channel" in ln]


def test_a_set_slack_channel_is_a_warning_in_check_and_compile(tmp_path, capsys):
    spec = _churn(tmp_path, 'channel team { slack = secret("churn-slack-webhook")  slack_channel = "#churn-alerts" }')
    assert main(["check", str(spec), "--target", "azureml"]) == 0
    err = capsys.readouterr().err
    [line] = _warnings(err)
    assert "`slack_channel` of channel `team` is not used on Azure ML" in line
    assert "churn_scoring.mlspec:" in line   # points at the spec
    assert "#churn-alerts" in err            # the hint names the channel the workflow must post to
    out = tmp_path / "build"
    assert main(["compile", str(spec), "--target", "azureml", "--out", str(out)]) == 0
    assert len(_warnings(capsys.readouterr().err)) == 1
    # the channel is still the action group's webhook receiver reading the secret
    stack = json.loads((out / "azureml/pulumi/stacks/prod.json").read_text())
    [team] = [c for c in stack["channels"] if c["key"] == "team"]
    assert team["type"] == "slack" and team["secret"] == "churn-slack-webhook"
    assert "slack_channel" not in team


def test_no_warning_without_slack_channel_and_none_on_vertex(tmp_path, capsys):
    assert main(["check", str(SPECS / "churn_scoring.mlspec"), "--target", "azureml"]) == 0
    assert _warnings(capsys.readouterr().err) == []
    spec = _churn(tmp_path, 'channel team { slack = secret("churn-slack-webhook")  slack_channel = "#churn-alerts" }')
    assert main(["check", str(spec), "--target", "vertex"]) == 0   # Vertex posts with a token: it uses it
    assert _warnings(capsys.readouterr().err) == []
