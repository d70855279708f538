"""Column `allowed` values: template syntax is refused (E310, golden case
tests/diagnostics/E310-column-allowed), while characters a shell would read (`&`, `'`,
`;`, `$`, `<`, `|`, backticks, quotes, spaces) are legitimate category values: they reach
each target's data-check config as JSON data, never a shell command line, and arrive intact.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from mlspec.compiler import api
from mlspec.compiler.cli import main

VALUES = ["R&D", "men's", "<18", "a;b", "$HOME", "$(id)", "`x`", "50%", "x|y", '"q"', "a b", "-rf"]

SPEC = """system demo {
  owner = "ml@example.com"

  dataset tx {
    uri     = "data://fraud/tx/"
    format  = parquet
    version = "2026-11-01"
    schema {
      segment : string { allowed = [%s] }
    }
  }

  pipeline checks {
    step validate = validate { data = dataset.tx }
  }

  target sagemaker { region = "us-east-1" }
  target vertex { project = "acme-ml"  region = "us-central1" }
  target azureml { subscription = "00000000-0000-0000-0000-000000000000"  resource_group = "ml-prod"  workspace = "ml"  region = "eastus" }
}
"""


def _allowed_lists(doc, found: list) -> None:
    """Every `allowed` list of a column named `segment`, also inside JSON-encoded strings."""
    if isinstance(doc, dict):
        if doc.get("name") == "segment" and "allowed" in doc:
            found.append(doc["allowed"])
        for v in doc.values():
            _allowed_lists(v, found)
    elif isinstance(doc, list):
        for v in doc:
            _allowed_lists(v, found)
    elif isinstance(doc, str) and doc[:1] in "{[" and "segment" in doc:
        try:
            _allowed_lists(json.loads(doc), found)
        except ValueError:
            pass


def _commands(doc, out: list) -> None:
    """Azure ML `command:` strings (run by a shell) anywhere in a YAML document."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == "command" and isinstance(v, str):
                out.append(v)
            _commands(v, out)
    elif isinstance(doc, list):
        for v in doc:
            _commands(v, out)


def test_shell_characters_in_allowed_values_reach_every_target_intact(tmp_path: Path):
    spec = tmp_path / "s.mlspec"
    spec.write_text(SPEC % ", ".join(json.dumps(v) for v in VALUES), encoding="utf-8")
    res = api.build_irs(str(spec))
    assert not [d for d in res.diagnostics if d.is_error], [d.summary for d in res.diagnostics]
    out = tmp_path / "out"
    assert main(["compile", str(spec), "--target", "all", "--out", str(out)]) == 0
    for target in ("sagemaker", "vertex", "azureml"):
        found: list = []
        commands: list = []
        for f in sorted((out / target).rglob("*")):
            if f.suffix == ".json":
                _allowed_lists(json.loads(f.read_text(encoding="utf-8")), found)
            elif f.suffix in (".yml", ".yaml"):
                for doc in yaml.safe_load_all(f.read_text(encoding="utf-8")):
                    _allowed_lists(doc, found)
                    _commands(doc, commands)
        assert found and all(a == VALUES for a in found), (target, found)
        assert not [c for c in commands if any(v in c for v in ("R&D", "men's", "$(id)"))], commands
