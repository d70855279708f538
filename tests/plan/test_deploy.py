"""apply / destroy: preflight without the Pulumi CLI (real), and the Automation API calls at the
boundary with FAKES (no Pulumi CLI can run here: nothing below talks to a real engine or cloud)."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from testkit import ROOT
from mlspec.compiler.plan import deploy

SPEC = str(ROOT / "specs" / "fraud_detection.mlspec")


def fake_cli(tmp_path: Path, version: str) -> Path:
    d = tmp_path / "fakebin"
    d.mkdir(parents=True, exist_ok=True)
    p = d / "pulumi"
    p.write_text(f"#!/bin/sh\necho v{version}\n")
    p.chmod(0o755)
    return d


def test_preflight_without_cli_exits_4_and_touches_nothing(tmp_path):
    """Real CLI entry point, PATH without `pulumi`, no credentials, no passphrase."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GOOGLE_", "ARM_", "PULUMI_", "CLOUDSDK"))}
    env["PATH"] = str(Path(sys.executable).parent)  # the venv's bin: no pulumi there
    env["HOME"] = str(tmp_path / "home")
    out = tmp_path / "build"
    state = tmp_path / "state"
    for target in ("sagemaker", "vertex", "azureml"):
        proc = subprocess.run([sys.executable, "-m", "mlspec", "apply", SPEC, "--target", target, "--env", "prod",
                               "--out", str(out), "--state", state.as_uri()],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert proc.returncode == deploy.EXIT_PREFLIGHT, proc.stderr
        assert "preflight failed; nothing was changed" in proc.stderr
        assert "the Pulumi CLI (`pulumi`) is not on PATH" in proc.stderr and "fix: install Pulumi" in proc.stderr
        assert "credentials" in proc.stderr and "Traceback" not in proc.stderr
    destroy = subprocess.run([sys.executable, "-m", "mlspec", "destroy", SPEC, "--target", "vertex", "--env", "dev",
                              "--out", str(out)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert destroy.returncode == deploy.EXIT_PREFLIGHT
    assert not out.exists() and not state.exists() and not (ROOT / "specs" / ".mlspec").exists()


def test_cli_version_checks_with_fake_cli_script(tmp_path):
    old = fake_cli(tmp_path / "a", "3.100.0")
    problems = deploy.check_cli(which=lambda n: str(old / n))
    assert problems and "too old" in problems[0].message and "3.200.0" in problems[0].fix
    new = fake_cli(tmp_path / "b", "3.272.0")
    assert deploy.check_cli(which=lambda n: str(new / n)) == []


@pytest.mark.parametrize("target, env, ok", [
    ("sagemaker", {"AWS_PROFILE": "ml"}, True),
    ("sagemaker", {}, False),
    ("vertex", {"GOOGLE_OAUTH_ACCESS_TOKEN": "t"}, True),
    ("vertex", {"GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent.json"}, False),
    ("azureml", {"ARM_CLIENT_ID": "c", "ARM_USE_OIDC": "true"}, True),
    ("azureml", {"ARM_CLIENT_ID": "c"}, False),
])
def test_credentials_checks_read_only_env_and_files(tmp_path, target, env, ok):
    env = dict(env, HOME=str(tmp_path))
    assert (deploy.check_credentials(target, env) == []) is ok


def test_secret_env_var_and_state_passphrase():
    assert deploy.secret_env_var("mlspec:fraud-pagerduty-key") == "MLSPEC_SECRET_FRAUD_PAGERDUTY_KEY"
    found, problems = deploy.check_secrets(["mlspec:a-key", "mlspec:b"], {"MLSPEC_SECRET_A_KEY": "s3cr3t"})
    assert found == {"mlspec:a-key": "s3cr3t"} and [p.check for p in problems] == ["secret"]
    assert deploy.check_state("file:///x", {}) and deploy.check_state("file:///x", {"PULUMI_CONFIG_PASSPHRASE": ""}) == []
    assert deploy.check_state("s3://bucket/state", {}) == []


class _TTY(io.StringIO):
    def isatty(self):
        return True


def test_confirm_production_needs_the_word_yes():
    assert deploy.confirm("q?", production=True, yes=True)
    assert not deploy.confirm("q?", production=True, yes=False, stdin=_TTY("y\n"), stdout=io.StringIO())
    assert deploy.confirm("q?", production=True, yes=False, stdin=_TTY("yes\n"), stdout=io.StringIO())
    assert deploy.confirm("q?", production=False, yes=False, stdin=_TTY("y\n"), stdout=io.StringIO())
    assert not deploy.confirm("q?", production=False, yes=False, stdin=io.StringIO("y\n"), stdout=io.StringIO())


# --------------------------------------------------------------------------- fake Automation API


class FakeStack:
    def __init__(self, log, fail_up=False, changes=None):
        self.log, self.fail_up = log, fail_up
        self.changes = changes if changes is not None else {"create": 12}

    def set_secret(self, key, value):
        self.log.append(("set_secret", key, value))

    def preview(self, on_output):
        self.log.append(("preview",))
        return dict(self.changes)

    def up(self, on_output):
        self.log.append(("up",))
        if self.fail_up:
            raise RuntimeError("error: creating bucket: AccessDenied")
        return {"result": "succeeded", "changes": dict(self.changes), "outputs": {"endpoint": "x", "key": "[secret]"}}

    def preview_destroy(self, on_output):
        self.log.append(("preview_destroy",))
        return {"result": "succeeded", "changes": {"delete": 12}}

    def destroy(self, on_output):
        self.log.append(("destroy",))
        return {"result": "succeeded", "changes": {"delete": 12}}


class FakeAutomation:
    def __init__(self, **kw):
        self.log, self.kw = [], kw

    def open_stack(self, pulumi_dir, stack, env_vars):
        self.log.append(("open_stack", Path(pulumi_dir), stack, dict(env_vars)))
        assert (Path(pulumi_dir) / "Pulumi.yaml").is_file() and (Path(pulumi_dir) / f"Pulumi.{stack}.yaml").is_file()
        return FakeStack(self.log, **self.kw)


@pytest.fixture
def preflight_ok(monkeypatch):
    monkeypatch.setattr(deploy, "check_cli", lambda: [])
    monkeypatch.setattr(deploy, "check_credentials", lambda target: [])
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test")
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)


def _opts(tmp_path, **kw):
    base = dict(spec=SPEC, target="vertex", env="dev", yes=True, out=tmp_path / "build",
                state=(tmp_path / "state").as_uri(), allow_findings=True)
    base.update(kw)
    return deploy.Options(**base)


def test_apply_drives_automation_api_with_fakes(tmp_path, preflight_ok):
    fake = FakeAutomation()
    assert deploy.run(_opts(tmp_path), automation=fake) == deploy.EXIT_OK
    kinds = [e[0] for e in fake.log]
    assert kinds == ["open_stack", "preview", "up"]
    _, pulumi_dir, stack, env_vars = fake.log[0]
    assert stack == "dev" and pulumi_dir.name == "pulumi"
    assert env_vars["PULUMI_BACKEND_URL"] == (tmp_path / "state").as_uri()
    assert (tmp_path / "build" / "vertex" / "pulumi" / "__main__.py").is_file()  # staging promoted
    assert not (tmp_path / "build" / ".staging" / "vertex").exists()


def unwaived_copy(tmp_path) -> str:
    """The fraud example without its MLS-G-06 waiver: its plan has unwaived findings."""
    import re
    import shutil

    shutil.copytree(ROOT / "specs" / "fraud_detection", tmp_path / "specs" / "fraud_detection")
    text = (ROOT / "specs" / "fraud_detection.mlspec").read_text()
    text, n = re.subn(r'\n\s*waive "MLS-G-06" \{[^}]*\}\n', "\n", text)
    assert n == 1
    spec = tmp_path / "specs" / "fraud_detection.mlspec"
    spec.write_text(text)
    return str(spec)


def test_apply_findings_gate_fails_preflight_without_touching_the_stack_with_fakes(tmp_path, preflight_ok, capsys):
    fake = FakeAutomation()
    spec = unwaived_copy(tmp_path)
    assert deploy.run(_opts(tmp_path, spec=spec, allow_findings=False), automation=fake) == deploy.EXIT_PREFLIGHT
    assert fake.log == [] and not (tmp_path / "build" / "vertex").exists()
    assert "unwaived security finding(s) (MLS-G-06)" in capsys.readouterr().err


def test_apply_declined_and_failed_keep_the_previous_build_with_fakes(tmp_path, preflight_ok, monkeypatch):
    prev = tmp_path / "build" / "vertex"
    prev.mkdir(parents=True)
    (prev / "marker").write_text("previous build")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal, no --yes
    fake = FakeAutomation()
    assert deploy.run(_opts(tmp_path, yes=False), automation=fake) == deploy.EXIT_DECLINED
    assert [e[0] for e in fake.log] == ["open_stack", "preview"]
    failing = FakeAutomation(fail_up=True)
    assert deploy.run(_opts(tmp_path), automation=failing) == deploy.EXIT_OPERATION
    assert (prev / "marker").read_text() == "previous build"


def test_apply_sets_missing_secrets_from_env_with_fakes(tmp_path, preflight_ok, monkeypatch):
    monkeypatch.setenv("MLSPEC_SECRET_FRAUD_PAGERDUTY_KEY", "pd-key")
    fake = FakeAutomation()
    assert deploy.run(_opts(tmp_path, target="sagemaker"), automation=fake) == deploy.EXIT_OK
    assert ("set_secret", "mlspec:fraud-pagerduty-key", "pd-key") in fake.log


def test_destroy_previews_then_destroys_with_fakes(tmp_path, preflight_ok):
    fake = FakeAutomation()
    assert deploy.run(_opts(tmp_path, destroy=True, allow_findings=False), automation=fake) == deploy.EXIT_OK
    assert [e[0] for e in fake.log] == ["open_stack", "preview_destroy", "destroy"]


def test_pulumi_automation_boundary_calls_with_fake_module(tmp_path, monkeypatch):
    """PulumiAutomation -> pulumi.automation: create_or_select_stack(stack_name, work_dir, opts) and the
    Stack methods, with the module's functions replaced by fakes (the real ones need the CLI)."""
    from pulumi import automation as auto

    calls = []

    class Summary:
        result = "succeeded"
        resource_changes = {"create": 2}

    class Result:
        summary = Summary()
        change_summary = {auto.OpType.CREATE: 2}
        outputs = {"ep": auto.OutputValue(value="e", secret=False), "k": auto.OutputValue(value="s", secret=True)}

    class Stack:
        def set_config(self, key, value):
            calls.append(("set_config", key, value.value, value.secret))

        def preview(self, **kw):
            calls.append(("preview", kw))
            return Result()

        def up(self, **kw):
            calls.append(("up", kw))
            return Result()

        def destroy(self, **kw):
            calls.append(("destroy", kw))
            return Result()

    def create_or_select_stack(**kw):
        calls.append(("create_or_select_stack", kw))
        return Stack()

    monkeypatch.setattr(auto, "create_or_select_stack", create_or_select_stack)
    st = deploy.PulumiAutomation().open_stack(tmp_path, "prod", {"PULUMI_BACKEND_URL": "file:///s"})
    name, kw = calls[0]
    assert kw["stack_name"] == "prod" and kw["work_dir"] == str(tmp_path)
    assert kw["opts"].work_dir == str(tmp_path) and kw["opts"].env_vars == {"PULUMI_BACKEND_URL": "file:///s"}
    st.set_secret("mlspec:k", "v")
    assert calls[-1] == ("set_config", "mlspec:k", "v", True)
    assert st.preview(print) == {"create": 2}
    up = st.up(print)
    assert up["outputs"] == {"ep": "e", "k": "[secret]"} and calls[-1][1]["show_secrets"] is False
    st.preview_destroy(print)
    assert calls[-1][1]["preview_only"] is True
    st.destroy(print)
    assert calls[-1][0] == "destroy" and "preview_only" not in calls[-1][1]
