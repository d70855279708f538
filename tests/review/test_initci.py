"""`mlspec init ci`: generated GitHub / GitLab workflows (parsed, structure checked, and validated
against the providers' workflow schemas bundled with check-jsonschema, offline) and the shipped
pre-commit hooks."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from mlspec.compiler.cli import main
from testkit import ROOT


@pytest.fixture
def repo(tmp_path, monkeypatch):
    import shutil

    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    (tmp_path / "specs" / "recommendations.mlspec").unlink()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _validate(path, schema):
    try:
        import check_jsonschema  # noqa: F401
    except ImportError:
        pytest.skip("check-jsonschema not installed")
    p = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


def _runs(steps) -> str:
    return "\n".join(s.get("run", "") for s in steps)


def test_github_workflow(repo, capsys):
    assert main(["init", "ci", "--provider", "github"]) == 0
    dest = repo / ".github" / "workflows" / "mlspec.yml"
    assert capsys.readouterr().out == f"wrote {dest.relative_to(repo)}\n"
    doc = yaml.safe_load(dest.read_text())
    triggers = doc[True] if True in doc else doc["on"]  # PyYAML reads the key `on` as a boolean
    assert set(triggers) == {"pull_request", "push"} and triggers["push"]["branches"] == ["main"]
    jobs = doc["jobs"]
    assert list(jobs) == ["check", "review", "apply-staging", "apply-dev", "apply-prod"]
    check = _runs(jobs["check"]["steps"])
    for spec in ("specs/churn_scoring.mlspec", "specs/fraud_detection.mlspec"):
        assert f"mlspec check specs/churn_scoring.mlspec specs/fraud_detection.mlspec" in check
        assert f"mlspec fmt --check specs/churn_scoring.mlspec specs/fraud_detection.mlspec" in check
        assert f"mlspec compile {spec} --target all" in check
    assert "mlspec plan specs/fraud_detection.mlspec --target sagemaker --env prod --format json" in check
    assert "--env staging" not in re.sub(r".*churn.*", "", check)  # fraud has no staging
    review = jobs["review"]
    assert review["if"] == "github.event_name == 'pull_request'"
    assert review["permissions"]["pull-requests"] == "write"
    assert review["steps"][0]["with"]["fetch-depth"] == 0
    body = _runs(review["steps"])
    assert 'mlspec diff "$BASE:"specs/fraud_detection.mlspec specs/fraud_detection.mlspec --format markdown' in body
    assert "gh pr review \"$PR\" --comment --body-file diff.md" in body
    assert "--add-label mlspec-risk" in body
    # untrusted event data reaches scripts only through env, never spliced into `run:`
    for job in jobs.values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step
    prod = jobs["apply-prod"]
    assert prod["environment"] == "prod" and prod["needs"] == ["apply-dev"]  # production last
    assert jobs["apply-staging"]["needs"] == ["check"] and jobs["apply-dev"]["needs"] == ["apply-staging"]
    assert prod["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert prod["permissions"]["id-token"] == "write"
    applies = _runs(prod["steps"])
    for t in ("sagemaker", "vertex", "azureml"):
        assert f"mlspec apply specs/fraud_detection.mlspec --target {t} --env prod --yes" in applies
    assert "--env staging" in _runs(jobs["apply-staging"]["steps"])
    assert "fraud_detection" not in _runs(jobs["apply-staging"]["steps"])
    uses = [s.get("uses", "") for s in prod["steps"]]
    assert any(u.startswith("aws-actions/configure-aws-credentials") for u in uses)
    assert any(u.startswith("google-github-actions/auth") for u in uses)
    assert any(u.startswith("azure/login") for u in uses)
    assert prod["env"]["MLSPEC_SECRET_FRAUD_PAGERDUTY_KEY"] == "${{ secrets.MLSPEC_SECRET_FRAUD_PAGERDUTY_KEY }}"
    assert "Required reviewers" in dest.read_text()
    _validate(dest, "vendor.github-workflows")


def test_gitlab_pipeline(repo, capsys):
    assert main(["init", "ci", "--provider", "gitlab", "--spec", "specs/fraud_detection.mlspec"]) == 0
    doc = yaml.safe_load((repo / ".gitlab-ci.yml").read_text())
    assert doc["stages"] == ["check", "review", "apply"]
    script = "\n".join(doc["check"]["script"])
    assert "mlspec fmt --check specs/fraud_detection.mlspec" in script
    assert "mlspec plan specs/fraud_detection.mlspec --target vertex --env dev --format json" in script
    review = "\n".join(doc["review"]["script"])
    assert "mlspec diff" in review and "/notes" in review and "add_labels=mlspec-risk" in review
    assert doc["review"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    prod = doc["apply-prod"]
    assert prod["environment"] == {"name": "prod", "deployment_tier": "production"}
    assert prod["needs"] == ["apply-dev"] and prod["rules"] == [{"if": '$CI_COMMIT_BRANCH == "main"'}]
    assert "mlspec apply specs/fraud_detection.mlspec --target azureml --env prod --yes" in "\n".join(prod["script"])
    assert set(prod["id_tokens"]) == {"AWS_OIDC_TOKEN", "AZURE_OIDC_TOKEN"}
    _validate(repo / ".gitlab-ci.yml", "vendor.gitlab-ci")


def test_refuses_to_overwrite_and_usage_errors(repo, capsys):
    assert main(["init", "ci", "--provider", "gitlab"]) == 0
    capsys.readouterr()
    assert main(["init", "ci", "--provider", "gitlab"]) == 2
    assert "exists; rerun with --force" in capsys.readouterr().err
    assert main(["init", "ci", "--provider", "gitlab", "--force", "--out", "ci.yml"]) == 0
    assert main(["init", "ci", "--provider", "bitbucket"]) == 2
    assert main(["init"]) == 2
    (repo / "specs" / "bad.mlspec").write_text("system s {\n  owner = 1\n}\n")
    assert main(["init", "ci", "--provider", "github", "--spec", "specs/bad.mlspec"]) == 2
    assert "does not check" in capsys.readouterr().err


def test_no_specs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["init", "ci", "--provider", "github"]) == 2
    assert "no *.mlspec file" in capsys.readouterr().err


def test_pre_commit_hooks_file():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    by_id = {h["id"]: h for h in hooks}
    assert set(by_id) == {"mlspec-check", "mlspec-fmt"}
    for h in hooks:
        assert h["language"] == "python" and re.search(h["files"], "specs/fraud.mlspec")
        assert not re.search(h["files"], "specs/fraud.py")
        assert set(h) <= {"id", "name", "description", "entry", "language", "files", "require_serial"}
    assert by_id["mlspec-check"]["entry"] == "mlspec check"
    assert by_id["mlspec-fmt"]["entry"] == "mlspec fmt"
    # the entries are real commands that take file names
    assert main(by_id["mlspec-check"]["entry"].split()[1:] + [str(ROOT / "specs" / "fraud_detection.mlspec")]) == 0
