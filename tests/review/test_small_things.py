"""Small things a user hit (issue 16, item 6), through the CLI."""
from __future__ import annotations

import json
import logging
import re

import pytest

from mlspec.compiler.cli import build_parser, main
from testkit import ROOT
from .helpers import copy_example

FRAUD = str(ROOT / "specs" / "fraud_detection.mlspec")


def test_every_command_help_shows_an_example(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"check", "fmt", "compile", "ir", "targets", "plan", "apply", "destroy", "approve", "reject", "status",
            "diff", "graph", "init", "lsp"} <= set(sub.choices)
    for name in sub.choices:
        assert main([name, "--help"]) == 0
        out = capsys.readouterr().out
        assert re.search(r"^examples?:\n  mlspec " + re.escape(name), out, re.M), (name, out[-400:])


def test_fmt_check_prints_a_unified_diff(tmp_path, capsys):
    spec = copy_example(tmp_path)
    text = spec.read_text()
    spec.write_text(text.replace("  owner       = ", "  owner =   ", 1))
    assert main(["fmt", "--check", str(spec)]) == 1
    out = capsys.readouterr().out
    assert f"--- {spec}\n+++ {spec} (formatted)\n" in out
    assert '\n-  owner =   "risk-ml@example.com"\n+  owner       = "risk-ml@example.com"\n' in out
    assert out.rstrip().endswith(f"would reformat {spec}")
    assert spec.read_text() != text  # --check changes nothing
    assert main(["fmt", str(spec)]) == 0 and spec.read_text() == text
    capsys.readouterr()
    assert main(["fmt", "--check", str(spec)]) == 0
    assert capsys.readouterr().out == ""


def test_plan_json_lists_the_secrets_to_set_before_apply(capsys):
    pytest.importorskip("pulumi")
    assert main(["plan", FRAUD, "--target", "sagemaker", "--env", "prod", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["secrets"] == [{"config": "mlspec:fraud-pagerduty-key", "env": "MLSPEC_SECRET_FRAUD_PAGERDUTY_KEY"}]


def test_status_without_credentials_says_so_once_with_the_fix(monkeypatch, tmp_path, capsys):
    pytest.importorskip("boto3")
    for k in list(__import__("os").environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask a metadata server
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    assert main(["status", "--target", "sagemaker", "--region", "us-east-1"]) == 5
    err = capsys.readouterr().err
    assert err.count("Unable to locate credentials") == 1
    assert "mlspec status: no usable AWS credentials (NoCredentialsError" in err
    assert "   = fix: run `aws configure`" in err


def test_sdk_credential_chatter_is_silenced_and_the_error_said_once(monkeypatch, capsys):
    azure_exc = pytest.importorskip("azure.core.exceptions")
    from mlspec.compiler.plan import approve

    from mlspec.targets.base import get_target

    class Backend(type(get_target("azureml").approval_backend())):
        def pending(self, w):  # what DefaultAzureCredential does without a login: log, then raise
            logging.getLogger("azure.identity._credentials.chained").warning("DefaultAzureCredential failed ...")
            raise azure_exc.ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token\nAttempted: ...")

    monkeypatch.setitem(approve.BACKENDS, "azureml", Backend())
    code = main(["status", "--target", "azureml", "--subscription", "s", "--resource-group", "g", "--workspace", "w"])
    err = capsys.readouterr().err
    assert code == 5
    assert err.count("DefaultAzureCredential failed") == 1
    assert err.splitlines()[-1].startswith("   = fix: run `az login`")


def test_readme_what_you_get_matches_a_real_build(tmp_path, capsys):
    text = (ROOT / "README.md").read_text()
    block = text.split("## What you get", 1)[1].split("```", 2)[1]
    listed = {}
    for line in block.strip().splitlines()[1:]:
        target, *entries = line.split()
        listed[target.rstrip("/")] = {e.rstrip("/") for e in entries if e != "..."}
    assert main(["compile", FRAUD, "--target", "all", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert set(listed) == {p.name for p in tmp_path.iterdir()}
    envs = {"dev", "prod"}
    for target, names in listed.items():
        actual = {p.name for p in (tmp_path / target).iterdir()}
        if "<env>" in names:
            names = (names - {"<env>"}) | (envs & actual)
        assert names == actual, f"README's `What you get` for {target}: update it to {sorted(actual)}"
