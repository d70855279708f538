"""A one-line change touches only what carries it (issue 16, item 3): editing a gate threshold
rewrites the pipeline definition (and the model card and report that show the gate), not every
file; the spec hash is lineage (manifest, pipeline runs, model versions), not a tag on every
resource. bench/blast_radius.py also counts the planned resources that change."""
from __future__ import annotations

import json

import pytest

from mlspec.compiler import api
from .helpers import copy_example, edited

EXPECTED = {
    "sagemaker": {"pipelines/prod/training.json", "model-cards/prod/fraud_scorer.json", "report.md"},
    "vertex": {"pipelines/prod/training.json", "pipelines/prod/monitor-quality.json", "report.md"},
    "azureml": {"prod/pipelines/training/components/quality.yml", "prod/pipelines/training/pipeline.yml",
                "prod/pipelines/training/pipeline_component.yml", "code/_mlspec/config/prod/training/register.json",
                "code/_mlspec/config/prod/training/quality.json", "code/_mlspec/config/prod/training/_lineage.json",
                "pulumi/stacks/prod.json", "report.md"},
}


def _hashes(spec, target, out):
    res = api.compile_spec(str(spec), [target], env="prod", out=out)
    assert res.ok, res.diagnostics
    return {a["path"]: a["sha256"] for a in json.loads((out / target / "manifest.json").read_text())["artifacts"]}


@pytest.mark.parametrize("target", sorted(EXPECTED))
def test_gate_threshold_change_touches_few_files(target, tmp_path):
    old = copy_example(tmp_path / "old")
    new = edited(old, tmp_path / "new", ("metrics.f1 >= 0.95", "metrics.f1 >= 0.90"))
    a, b = _hashes(old, target, tmp_path / "a"), _hashes(new, target, tmp_path / "b")
    changed = {p for p in set(a) | set(b) if a.get(p) != b.get(p)}
    assert changed == EXPECTED[target]


def test_spec_hash_is_lineage_not_a_tag_on_every_resource(tmp_path):
    spec = copy_example(tmp_path / "s")
    res = api.compile_spec(str(spec), ["sagemaker", "vertex", "azureml"], env="prod", out=tmp_path / "b")
    sha = res.spec_sha256
    stacks = {t: (tmp_path / "b" / t / "pulumi" / "stacks" / "prod.json").read_text() for t in res.builds}
    for t, text in stacks.items():
        assert sha not in text or t == "azureml", t  # Azure: only inside the retraining runnable's lineage tags
    assert sha in (tmp_path / "b" / "sagemaker" / "pipelines" / "prod" / "training.json").read_text()
    assert sha[:32] in (tmp_path / "b" / "vertex" / "pipelines" / "prod" / "training.json").read_text()
    assert sha in (tmp_path / "b" / "azureml" / "code" / "_mlspec" / "config" / "prod" / "training" /
                   "_lineage.json").read_text()
    for t in res.builds:
        assert json.loads((tmp_path / "b" / t / "manifest.json").read_text())["spec_sha256"] == sha
