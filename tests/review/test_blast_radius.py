"""A one-line change touches only what carries it (issue 16, item 3): editing a gate threshold
rewrites the pipeline definition (and the model card and report that show the gate), not every
file; the spec hash is lineage (manifest, pipeline runs, model versions), not a tag on every
resource. bench/blast_radius.py also counts the planned resources that change."""
from __future__ import annotations

import json

import pytest
import yaml

from mlspec.compiler import api
from mlspec.compiler.plan import plan
from .helpers import copy_example, edited

EXPECTED = {
    "sagemaker": {"pipelines/prod/training.json", "model-cards/prod/fraud_scorer.json", "report.md"},
    "vertex": {"pipelines/prod/training.json", "pipelines/prod/monitor-quality.json", "report.md"},
    # the gate's thresholds are values the pipeline binds to the gate component's number inputs;
    # the component, its config, the model card config and the stack data do not hold them
    "azureml": {"prod/pipelines/training/pipeline.yml", "prod/pipelines/training/pipeline_component.yml",
                "report.md"},
}
#: issue 16, item 3: what one gate-threshold edit may change per target (manifest aside)
BUDGET = {"files": 3, "resources": 2}


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
    assert len(changed) <= BUDGET["files"]


def _planned(spec, target, build):
    res = plan.run_plan(str(spec), target, "prod", build_dir=build).as_json()
    return {(r["type"], r["name"]): json.dumps(r["inputs"], sort_keys=True) for r in res["resources"]}


@pytest.mark.parametrize("target", sorted(EXPECTED))
def test_gate_threshold_change_changes_few_planned_resources(target, tmp_path):
    """`mlspec plan` (mock runtime) of the example before and after the edit: at most two
    resources' inputs differ (bench/blast_radius.py prints which)."""
    old = copy_example(tmp_path / "old")
    new = edited(old, tmp_path / "new", ("metrics.f1 >= 0.95", "metrics.f1 >= 0.90"))
    _hashes(old, target, tmp_path / "a")
    _hashes(new, target, tmp_path / "b")
    a, b = _planned(old, target, tmp_path / "a" / target), _planned(new, target, tmp_path / "b" / target)
    assert len(a) > 20  # the whole stack was planned
    changed = sorted(f"{t} {n}" for t, n in set(a) | set(b) if a.get((t, n)) != b.get((t, n)))
    assert len(changed) <= BUDGET["resources"], changed


def test_spec_hash_is_lineage_not_a_tag_on_every_resource(tmp_path):
    spec = copy_example(tmp_path / "s")
    res = api.compile_spec(str(spec), ["sagemaker", "vertex", "azureml"], env="prod", out=tmp_path / "b")
    sha = res.spec_sha256
    stacks = {t: (tmp_path / "b" / t / "pulumi" / "stacks" / "prod.json").read_text() for t in res.builds}
    for t, text in stacks.items():
        assert sha not in text, t
    assert sha in (tmp_path / "b" / "sagemaker" / "pipelines" / "prod" / "training.json").read_text()
    assert sha[:32] in (tmp_path / "b" / "vertex" / "pipelines" / "prod" / "training.json").read_text()
    # Azure ML: the pipeline job's tags and its `mlspec_spec_sha256` input (the register step records
    # it on the model version); nothing else in the build holds it
    az = tmp_path / "b" / "azureml"
    job = yaml.safe_load((az / "prod" / "pipelines" / "training" / "pipeline.yml").read_text())
    assert job["tags"]["mlspec-spec-sha256"] == sha and job["inputs"]["mlspec_spec_sha256"] == sha
    holders = {p.relative_to(az).as_posix() for p in az.rglob("*")
               if p.is_file() and sha in p.read_text(errors="replace")}
    assert holders == {"manifest.json", "prod/pipelines/training/pipeline.yml"}, holders
    for t in res.builds:
        assert json.loads((tmp_path / "b" / t / "manifest.json").read_text())["spec_sha256"] == sha
