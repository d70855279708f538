"""Issue 10 language additions, through the public API (`api.build_irs`) on small specs.

Named inputs and flag collisions, data formats, model task/label/format/serve, code
folders and requirements, compute (accelerators, spot, distribution, retries, limits),
pipeline failure notifications, monitor joins and Slack channels: each is read into the
IR (schema 2) or refused with the diagnostic docs/language.md documents.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from mlspec.compiler import api, ir as irmod
from mlspec.compiler.contract import script_argv, script_flags

HEAD = '''system demo {
  owner = "ml@example.com"
  dataset tx {
    uri = "data://d/tx/"  format = parquet  version = "1"
    schema { id : string { role = id }  amount : float  country : string  is_fraud : int { allowed = [0, 1]  role = label } }
  }
  dataset refunds { uri = "data://d/refunds/"  format = jsonl  version = "1" }
'''


def build(tmp: Path, body: str, files: tuple[str, ...] = ("src/prep.py", "src/train.py", "src/eval.py")):
    for f in files:
        p = tmp / f
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("print('x')\n")
    (tmp / "s.mlspec").write_text(HEAD + body + "\n}\n")
    return api.build_irs(str(tmp / "s.mlspec"))


def codes(res) -> list[str]:
    return sorted(d.code for d in res.diagnostics)


def one(res) -> dict:
    assert res.ok, [(d.code, d.summary) for d in res.diagnostics]
    ir = next(iter(res.irs.values()))
    assert ir["schema_version"] == "2" and irmod.validation_error(ir) is None
    return ir


def step(ir: dict, name: str) -> dict:
    return next(s for p in ir["pipelines"] for s in p["steps"] if s["name"] == name)


PIPE = '''
  pipeline p {
    on_failure = [channel.ops]
    step v = validate { data = dataset.tx }
    step r = validate { data = dataset.refunds }
    step prep = process {
      script  = "src/prep.py"
      inputs  = { sales = step.v.data, refunds = step.r.data }
      outputs = { train = parquet, test = csv }
      args    = { seed = 3 }
      retries = 2
    }
    step train = train {
      framework    = xgboost("1.7")
      entry_point  = "src/train.py"
      inputs       = [step.prep.train]
      compute      = gpu.medium
      accelerators = 4
      instances    = 2
      distribution = data_parallel
      spot         = true
    }
    step ev = evaluate { script = "src/eval.py"  model = step.train.model  data = step.prep.test  metrics = [auc] }
    step fair = bias_check { model = step.train.model  data = step.prep.test  facets = [country]  max_disparity = 0.1 }
    step reg = register { model = model.m }
  }
  model m {
    task       = binary_classification
    prediction = probability
    approval { approvers = ["leads"] }
  }
  endpoint e { model = model.m }
  channel ops { email = "ops@example.com" }
'''


def test_the_new_fields_reach_the_ir(tmp_path: Path):
    ir = one(build(tmp_path, PIPE))
    p = ir["pipelines"][0]
    assert p["on_failure"] == ["channel.ops"]
    prep = step(ir, "prep")
    assert prep["inputs"] == ["step.v.outputs.data", "step.r.outputs.data"]
    assert prep["input_names"] == ["sales", "refunds"]
    assert prep["output_formats"] == {"train": "parquet", "test": "csv"}
    assert prep["retries"] == 2 and prep["code_dir"] == "src" and prep["requirements"] is None
    assert step(ir, "v")["output_formats"] == {"data": "parquet"}
    assert irmod.data_format(ir, "step.prep.outputs.test") == "csv"
    assert irmod.data_format(ir, "step.r.outputs.data") == "jsonl"
    train = step(ir, "train")
    assert train["compute"] == {"class": "gpu.medium", "instance_count": 2, "accelerators": 4}
    assert train["spot"] is True and train["distribution"] == "data_parallel"
    assert step(ir, "ev")["input_names"] == ["test"]
    m = ir["models"][0]
    assert (m["task"], m["label"], m["positive_label"], m["format"]) == ("binary_classification", "is_fraud", 1,
                                                                         "xgboost")
    assert m["prediction"] == {"output": "probability", "threshold": 0.5}
    # the whole code folder is shipped
    assert {f["path"] for f in ir["code"]["files"]} == {"src/prep.py", "src/train.py", "src/eval.py"}


def test_the_contract_argv_of_named_inputs_and_spot(tmp_path: Path):
    ir = one(build(tmp_path, PIPE))
    prep = step(ir, "prep")
    paths = {f.name: f"/d/{f.name}" for f in script_flags(prep) if f.is_path}
    assert script_argv(prep, paths) == ["--sales", "/d/sales", "--refunds", "/d/refunds", "--train", "/d/train",
                                        "--test", "/d/test", "--seed", "3"]
    train = step(ir, "train")
    assert [f.name for f in script_flags(train)] == ["train", "model", "metrics", "checkpoints"]


@pytest.mark.parametrize("change,code", [
    # two inputs with one flag name, and an input named like a contract flag
    (("inputs  = { sales = step.v.data, refunds = step.r.data }", "inputs  = [step.v.data, step.r.data]"), "E211"),
    (("inputs  = { sales = step.v.data, refunds = step.r.data }", "inputs  = { model = step.v.data }"), "E211"),
    (("args    = { seed = 3 }", "args    = { test = 3 }"), "E211"),
    (("outputs = { train = parquet, test = csv }", "outputs = { train = parquet, test = xml }"), "E304"),
    (("outputs = { train = parquet, test = csv }", "outputs = [train, test]"), "E303"),  # bias check needs a format
    (("accelerators = 4", "accelerators = 3"), "E302"),
    (("compute      = gpu.medium", "compute      = cpu.large"), "E313"),
    (("distribution = data_parallel", ""), "E303"),
    (("    task       = binary_classification\n", ""), "E303"),  # the bias check needs the task
    (("prediction = probability", "prediction = label  threshold = 0.7"), "E313"),
    (("framework    = xgboost(\"1.7\")", "framework    = pytorch(\"2.1\")"), "E303"),  # served: needs `format`
    (("retries = 2", "retries = 11"), "E302"),
    (("on_failure = [channel.ops]", "on_failure = [channel.nope]"), "E204"),
])
def test_refusals(tmp_path: Path, change: tuple[str, str], code: str):
    old, new = change
    assert old in PIPE
    res = build(tmp_path, PIPE.replace(old, new))
    assert code in codes(res), [(d.code, d.summary) for d in res.diagnostics]
    assert all(d.span is not None for d in res.diagnostics if d.is_error)


def test_a_regression_model_takes_no_positive_label(tmp_path: Path):
    spec = PIPE.replace("task       = binary_classification", "task       = regression  positive_label = 1") \
        .replace("prediction = probability", "prediction = label")
    assert "E313" in codes(build(tmp_path, spec))


def test_format_and_serve_let_any_framework_be_served(tmp_path: Path):
    spec = PIPE.replace('framework    = xgboost("1.7")', 'framework    = pytorch("2.1")')
    ir = one(build(tmp_path, spec.replace("prediction = probability", "prediction = probability  format = torchscript")))
    assert ir["models"][0]["format"] == "torchscript"
    served = spec.replace("approval { approvers", 'serve { entry_point = "srv/serve.py"  requirements = "srv/req.txt" }\n'
                                                   "    approval { approvers")
    ir = one(build(tmp_path, served, files=("src/prep.py", "src/train.py", "src/eval.py", "srv/serve.py",
                                            "srv/req.txt")))
    assert ir["models"][0]["serve"] == {"entry_point": "srv/serve.py", "requirements": "srv/req.txt",
                                        "code_dir": "srv"}
    assert ir["models"][0]["format"] is None


def test_system_code_folder_and_requirements(tmp_path: Path):
    spec = PIPE.replace("  pipeline p {", '  code = "src"\n  requirements = "src/requirements.txt"\n  pipeline p {', 1)
    ir = one(build(tmp_path, spec, files=("src/prep.py", "src/train.py", "src/eval.py", "src/requirements.txt",
                                          "src/lib/features.py", "src/__pycache__/x.pyc", "src/.hidden")))
    assert ir["code"]["root"] == "src" and ir["code"]["requirements"] == "src/requirements.txt"
    assert step(ir, "train")["requirements"] == "src/requirements.txt"
    assert {f["path"] for f in ir["code"]["files"]} == {"src/prep.py", "src/train.py", "src/eval.py",
                                                        "src/requirements.txt", "src/lib/features.py"}
    # a script outside the system's code folder
    res = build(tmp_path, spec.replace('script  = "src/prep.py"', 'script  = "other/prep.py"'),
                files=("src/prep.py", "src/train.py", "src/eval.py", "src/requirements.txt", "other/prep.py"))
    assert "E404" in codes(res)
    # a requirements file that does not exist
    res = build(tmp_path, PIPE.replace("retries = 2", 'retries = 2  requirements = "src/nope.txt"'))
    assert "E404" in codes(res)


def test_tune_limits(tmp_path: Path):
    tune = PIPE.replace('''    step train = train {
      framework    = xgboost("1.7")''', '''    step train = tune {
      objective         = auc
      ranges            = { eta = range(0.01, 0.3) }
      max_trials        = 4
      max_runtime       = 1h
      max_total_runtime = 3h
      framework    = xgboost("1.7")''')
    ir = one(build(tmp_path, tune))
    t = step(ir, "train")
    assert (t["max_runtime_s"], t["max_total_runtime_s"]) == (3600, 10800)
    assert "E302" in codes(build(tmp_path, tune.replace("max_total_runtime = 3h", "max_total_runtime = 30m")))
    # a tuning range named like an input is a flag collision
    assert "E211" in codes(build(tmp_path, tune.replace("ranges            = { eta", "ranges            = { train")))


def test_monitor_join_and_slack_channel(tmp_path: Path):
    spec = PIPE.replace('channel ops { email = "ops@example.com" }', '''channel ops { email = "ops@example.com" }
  channel team { slack = secret("team-slack")  slack_channel = "#ml-alerts" }
  monitor q {
    endpoint     = endpoint.e
    kind         = model_quality
    ground_truth = "data://d/labels/"
    metric       = f1
    min          = 0.9
    every        = 1d
    notify       = [channel.team]
  }''')
    ir = one(build(tmp_path, spec))
    assert ir["monitors"][0]["join_on"] == "id"
    assert ir["channels"][1]["slack_channel"] == "#ml-alerts"
    assert "E311" in codes(build(tmp_path, spec.replace('"#ml-alerts"', '"ml alerts"')))
    assert "E313" in codes(build(tmp_path, spec.replace('email = "ops@example.com"',
                                                        'email = "ops@example.com"  slack_channel = "#x"')))
    ir = one(build(tmp_path, spec.replace("metric       = f1", "metric       = f1\n    join_on      = country")))
    assert ir["monitors"][0]["join_on"] == "country"


def test_the_flag_collision_hint_is_a_fix_that_passes(tmp_path: Path):
    """E211's hint is a complete `inputs = { ... }` that checks clean when pasted in."""
    import re
    import shutil

    here = Path(__file__).resolve().parents[1] / "diagnostics"
    shutil.copytree(here / "src", tmp_path / "src")
    text = (here / "E211-flag-collision.mlspec").read_text()
    (tmp_path / "a.mlspec").write_text(text)
    res = api.build_irs(str(tmp_path / "a.mlspec"))
    [d] = [d for d in res.diagnostics if d.code == "E211"]
    fix = re.search(r"`(inputs = \{.*\})`", d.hint).group(1)
    fixed = re.sub(r"inputs\s*=\s*\[[^\]]*\]", fix, text)
    (tmp_path / "b.mlspec").write_text(fixed)
    res = api.build_irs(str(tmp_path / "b.mlspec"))
    assert res.ok, [(x.code, x.summary) for x in res.diagnostics]
