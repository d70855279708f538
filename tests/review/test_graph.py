"""`mlspec graph`: the system as Mermaid, DOT and SVG (through the CLI), escaped in every format."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from mlspec.compiler.cli import main
from testkit import ROOT, SPECS, assert_golden
from .helpers import copy_example, edited

FRAUD = str(ROOT / "specs" / "fraud_detection.mlspec")


def run(capsys, *argv):
    code = main(["graph", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def _mermaid_nodes(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"^\s+(n\d+)\W+\"(.*?)\"\W*$", text, re.M)}


def test_mermaid_shows_pipeline_gate_approval_rollout_monitors(capsys):
    code, out, err = run(capsys, FRAUD, "--env", "prod", "--format", "mermaid")
    assert code == 0 and err == ""
    assert out.startswith("flowchart LR\n")
    nodes = _mermaid_nodes(out)
    label = {v.split("<br/>")[0]: k for k, v in nodes.items()}
    assert 'subgraph g0["pipeline training"]' in out
    assert "gate quality<br/>step.evaluate.metrics.f1 #62;= 0.95" in nodes[label["gate quality"]]
    assert nodes[label["approval"]] == "approval<br/>1 of risk-leads"
    assert "rollout: canary 5%, then +20% every 10m" in nodes[label["endpoint scoring"]]
    edges = set(re.findall(r"^\s+(n\d+) (?:-->|-\.->)(?:\|\"([^\"]*)\"\|)? (n\d+)$", out, re.M))
    assert (label["register"], "registers", label["model fraud_scorer"]) in edges
    assert (label["gate quality"], "", label["register"]) in edges
    assert (label["approval"], "approved: deploy", label["endpoint scoring"]) in edges
    assert (label["alert latency"], "rolls back", label["endpoint scoring"]) in edges
    assert (label["monitor input_drift"], "retrains", label["run training"]) in edges
    assert (label["alert errors"], "notifies", label["channel pager"]) in edges


def test_dev_without_approval_deploys_directly(capsys):
    code, out, _ = run(capsys, FRAUD, "--env", "dev")
    assert code == 0
    assert "approval" not in out.replace("no approval", "")
    assert '-->|"deploy (no approval)"|' in out


def test_pipeline_filter(capsys):
    code, out, _ = run(capsys, FRAUD, "--pipeline", "training", "--format", "dot")
    assert code == 0
    assert "endpoint" not in out and "monitor" not in out
    assert 'label="pipeline training"' in out and "model fraud_scorer" in out


def test_dot_is_well_formed(capsys):
    code, out, _ = run(capsys, FRAUD, "--format", "dot")
    assert code == 0
    assert out.startswith("digraph mlspec {") and out.rstrip().endswith("}")
    declared = set(re.findall(r"^\s+(n\d+) \[label=", out, re.M))
    used = set(re.findall(r"(n\d+) -> (n\d+)", out))
    assert used and all(a in declared and b in declared for a, b in used)
    assert out.count("{") == out.count("}")


def test_svg_renders_without_binaries_and_boxes_do_not_overlap(capsys, tmp_path):
    dest = tmp_path / "fraud.svg"
    code, out, _ = run(capsys, FRAUD, "--env", "prod", "--format", "svg", "--out", dest)
    assert code == 0 and out == f"wrote {dest}\n"
    root = ET.parse(dest).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    nodes = root.findall(f".//{ns}g[@class]")
    boxes = [tuple(float(r.get(k)) for k in ("x", "y", "width", "height"))
             for g in nodes if g.get("class").startswith("node") for r in g.findall(f"{ns}rect")]
    assert len(boxes) == 18
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1]
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "gate quality" in texts and "step.evaluate.metrics.f1 >= 0.95" in texts
    assert len(root.findall(f".//{ns}path")) >= 20  # edges (plus the arrow head)


EVIL = 'x"] --> n0\n click n0 call alert(1) %% <script>&amp;</script> \\l `]]'


def test_spec_text_cannot_inject_into_any_format(capsys, tmp_path):
    base = copy_example(tmp_path / "src")
    spec = edited(base, tmp_path / "evil", ('version = "2026-11-01"', 'version = "%s"' % EVIL.replace("\\", "\\\\")
                                            .replace('"', '\\"').replace("\n", " ")),
                  ('approvers = ["risk-leads"]', 'approvers = ["risk-leads\\"]; <b>x</b>"]'))
    from mlspec.compiler import api

    res = api.build_irs(str(spec))
    assert res.ok, res.diagnostics
    version = res.irs["prod"]["datasets"][0]["version"]
    code, out, _ = run(capsys, spec, "--format", "mermaid")
    assert code == 0
    for line in out.splitlines():
        if "parquet" in line:  # the dataset node: one quoted label, nothing outside it
            assert re.fullmatch(r'\s+n\d+\[\("[^"<>\[\]`|]*"\)\]', line.replace("<br/>", " ")), line
    assert not re.search(r"^\s*click ", out, re.M)
    code, out, _ = run(capsys, spec, "--format", "dot")
    labels = re.findall(r'label="((?:[^"\\]|\\.)*)"', out)
    assert any(version.replace("\\", "\\\\").replace('"', '\\"') in x for x in labels)
    assert "<script>" not in out.replace(version.replace("\\", "\\\\").replace('"', '\\"'), "")
    code, out, _ = run(capsys, spec, "--format", "svg")
    root = ET.fromstring(out)  # well-formed despite the markup in the spec
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert f"parquet {version}" in texts
    assert not root.findall(".//{http://www.w3.org/2000/svg}script") and "<script>" not in out


def test_target_draws_the_plan_resources_and_dependencies(capsys):
    pytest.importorskip("pulumi")
    code, out, err = run(capsys, FRAUD, "--env", "prod", "--target", "vertex", "--format", "mermaid")
    assert code == 0, err
    from mlspec.compiler.plan import plan

    doc = plan.run_plan(FRAUD, "vertex", "prod").as_json()
    nodes = _mermaid_nodes(out)
    assert len(nodes) == len(doc["resources"])
    names = {v.split("<br/>")[0].replace("#95;", "_") for v in nodes.values()}
    assert {r["name"] for r in doc["resources"]} <= names | {n for n in names}
    n_edges = len(re.findall(r" --> ", out))
    assert n_edges == sum(len(r["depends_on"]) for r in doc["resources"])
    assert re.search(r'subgraph g\d+\["alerting"\]', out)


def test_usage_errors(capsys):
    assert run(capsys, FRAUD, "--pipeline", "nope")[0] == 2
    code, _, err = run(capsys, FRAUD, "--env", "qa")
    assert code == 2 and "no environment `qa`" in err
    assert run(capsys, FRAUD, "--target", "vertex", "--pipeline", "training")[0] == 2
    assert run(capsys, FRAUD, "--format", "png")[0] == 2


def test_report_md_carries_the_picture(tmp_path, capsys):
    assert main(["compile", FRAUD, "--target", "sagemaker", "--out", str(tmp_path)]) == 0
    report = (tmp_path / "sagemaker" / "report.md").read_text()
    block = report.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert "## The system (environment `prod`)" in report
    capsys.readouterr()
    assert block == run(capsys, FRAUD, "--env", "prod")[1]


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_example_docs_show_the_picture(spec, update_golden, capsys):
    from mlspec.compiler import api, graph

    res = api.build_irs(str(spec))
    env = graph.choose_env(res.irs)
    ir = res.irs[env]
    text = (f"# Example: `{spec.stem}`\n\n"
            f"{ir['system']['description'] or ''}\n\n"
            f"Spec: [`specs/{spec.name}`](../../specs/{spec.name}). Environments: "
            + ", ".join(f"`{e}`" for e in res.irs) + ".\n\n"
            f"## The system (environment `{env}`)\n\n"
            "Pipelines with their gates and registration, the approval, the deployment path (rollout, the "
            "alerts that roll back), monitors and what they trigger. Regenerate with\n"
            f"`mlspec graph specs/{spec.name} --env {env} --format mermaid`.\n\n"
            "```mermaid\n" + graph.mermaid(graph.from_ir(ir)) + "```\n")
    assert_golden(ROOT / "docs" / "examples" / f"{spec.stem}.md", text, update_golden)
