"""The README opens with the two newcomer commands, and .ci/run runs the same test command."""
import re

from testkit import ROOT


def _commands():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", text, re.S)


def test_readme_starts_with_setup_compile_and_setup_test_commands():
    first, second = _commands()[:2]
    assert "-m pip install -q --upgrade pip" in first and "mlspec compile specs/" in first
    assert '-e ".[all]"' in second and second.rstrip().endswith(".venv/bin/pytest")
    assert (ROOT / "specs" / re.search(r"specs/(\S+\.mlspec)", first).group(1)).is_file()


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    second = _commands()[1]
    for part in ("python3 -m venv .venv", "-m pip install --quiet --upgrade pip", '-m pip install --quiet -e ".[all]"'):
        assert part in ci
    assert second.split("&&")[-1].strip() in ci.splitlines()
