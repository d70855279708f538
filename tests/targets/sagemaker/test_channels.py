"""`channels[].slack_channel` on SageMaker: AWS Chatbot posts to the channel id held in the
channel's secret, never to a `#name`, so a set slack_channel is a W505 that `mlspec check` and
`mlspec compile` print (and the build still posts through the secret's channel id)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

SPEC = """system demo {
  owner = "ml@example.com"

  dataset transactions { uri = "data://fraud/transactions/"  format = parquet  version = "2026-11-01" }

  pipeline training {
    on_failure = [channel.team]
    step train = train { framework = xgboost("1.7")  entry_point = "src/train.py"  inputs = [dataset.transactions] }
    step register = register { model = model.scorer }
  }

  model scorer { approval { approvers = ["leads@example.com"] } }

  channel team { slack = secret("team-slack")%s }

  environment dev { approval = none }
  environment prod {}

  target sagemaker { region = "us-east-1" }
}
"""


def mlspec(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "mlspec", *args], cwd=tmp_path, capture_output=True, text=True)


@pytest.mark.parametrize("command", [["check"], ["compile", "--target", "sagemaker", "--out", "build"]])
def test_slack_channel_is_a_w505_from_check_and_compile(tmp_path, command):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('train')\n")
    (tmp_path / "s.mlspec").write_text(SPEC % '  slack_channel = "#ml-alerts"')
    p = mlspec(tmp_path, *command, "s.mlspec")
    assert p.returncode == 0, p.stderr
    assert p.stderr.count("warning[W505]") == 1  # once, not once per environment
    assert '`slack_channel = "#ml-alerts"` of channel `team` is not used on SageMaker' in p.stderr
    assert "s.mlspec:14:11" in p.stderr and "Channel ID" in p.stderr
    (tmp_path / "s.mlspec").write_text(SPEC % "")
    quiet = mlspec(tmp_path, "check", "s.mlspec")
    assert quiet.returncode == 0 and "W505" not in quiet.stderr


def test_the_chatbot_channel_still_comes_from_the_secret(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('train')\n")
    (tmp_path / "s.mlspec").write_text(SPEC % '  slack_channel = "#ml-alerts"')
    p = mlspec(tmp_path, "compile", "s.mlspec", "--target", "sagemaker", "--out", "build", "--format", "json")
    assert p.returncode == 0, p.stderr
    stack = json.loads((tmp_path / "build" / "sagemaker" / "pulumi" / "stacks" / "prod.json").read_text())
    topic = next(t for t in stack["topics"] if t["key"] == "team")
    assert topic["chatbot_secret"] == "team-slack" and "ml-alerts" not in json.dumps(stack)
