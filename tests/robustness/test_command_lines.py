"""Generated command lines: every argument a user script gets arrives intact (issue 15, item 1).

For every target, every example spec and a hostile-but-legal spec (argument values with
spaces, `#`, quotes, globs, `~`, `%`, `=`, backslashes, a value that looks like a flag, an
empty value; a script path using every allowed punctuation character), each generated
command line is parsed the way the cloud runs it:

- Azure ML: the component's `command:` string has its `${{inputs.x}}` / `${{outputs.x}}`
  placeholders replaced by their values as text (what Azure ML does) and is then split
  with `shlex.split` (the POSIX shell that runs it);
- Vertex AI (KFP) and SageMaker processing: argument vectors (lists) already; the job
  payload Vertex passes to the launcher is decoded from JSON first;
- SageMaker training: `HyperParameters`, JSON-encoded values that the training toolkit
  turns into `--key value`.

Each parameter must reach the script as `--<key>` followed by exactly one argument equal
to :func:`mlspec.compiler.contract.param_text` of its value, as the portable contract's
:func:`script_argv` says; for Azure ML the whole command must split into the intended
tokens (`python _mlspec/track.py --config <cfg> <script>` and `--name value` pairs, one per
component input and output), so no value can add, drop or comment out an argument.
"""
from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from mlspec.compiler import api, contract
from testkit import ROOT, SPECS

TARGETS = ("sagemaker", "vertex", "azureml")

HOSTILE_VALUES = {
    "mode": "full run", "glob": "*.csv", "hash": "#x y", "quote": 'say "hi"', "tilde": "~/x",
    "pct": "50%", "eq": "a=b", "dash": "--not-a-flag", "back": "a\\b", "bang": "!x", "empty": "",
    "brace": "{x}", "dollar": "cost$", "star": "a * b", "paren": "(x)", "unicode": "é ü",
}


def _hostile_spec(tmp: Path) -> Path:
    """The churn example with hostile-but-legal argument values and script name."""
    shutil.copytree(ROOT / "specs" / "churn", tmp / "churn")
    src = tmp / "churn" / "src"
    shutil.copy(src / "features.py", src / "feat-v2+x@1.py")
    text = (ROOT / "specs" / "churn_scoring.mlspec").read_text()
    args = ", ".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in HOSTILE_VALUES.items())
    text = text.replace('script  = "churn/src/features.py"', 'script  = "churn/src/feat-v2+x@1.py"')
    text = text.replace("args    = { window_days = 90 }", f"args    = {{ window_days = 90, {args} }}")
    text = text.replace("hyperparameters = { n_estimators = 300, learning_rate = 0.05 }",
                        'hyperparameters = { n_estimators = 300, learning_rate = 0.05, loss = "log loss #1", '
                        'warm = true, note = "it is \\"quoted\\"" }')
    text = text.replace("alpha = choice(0.0001, 0.001)", 'alpha = choice(0.0001, 0.001), act = choice("re lu", "#tanh")')
    assert text.count("#1") == 1 and "feat-v2" in text and "re lu" in text
    path = tmp / "hostile.mlspec"
    path.write_text(text)
    return path


CASES = [pytest.param(p, id=p.stem) for p in SPECS] + [pytest.param(None, id="hostile")]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    return _hostile_spec(tmp_path_factory.mktemp("hostile"))


def _builds(spec: Path) -> api.Result:
    res = api.compile_spec(str(spec), list(TARGETS))
    errors = [f"{d.code} {d.summary}" for d in res.diagnostics if d.is_error]
    assert not errors, errors
    assert set(res.builds) == set(TARGETS)
    return res


def _docs(files: list[tuple[str, str, bytes]]) -> Iterator[tuple[str, Any]]:
    for path, _kind, data in files:
        if path.endswith(".json"):
            yield path, json.loads(data)
        elif path.endswith((".yml", ".yaml")):
            try:
                yield path, yaml.safe_load(data)
            except yaml.YAMLError:
                continue


def _walk(node: Any) -> Iterator[Any]:
    """Every list and dict, decoding JSON objects held in strings (Vertex job payloads)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            yield n
            stack.extend(n.values())
        elif isinstance(n, list):
            yield n
            stack.extend(n)
        elif isinstance(n, str) and n[:1] in "{[" and len(n) > 1:
            try:
                stack.append(json.loads(n))
            except ValueError:
                pass


def _script_steps(irs: dict[str, dict]) -> Iterator[tuple[str, dict, dict]]:
    for env, ir in irs.items():
        for p in ir["pipelines"]:
            for s in p["steps"]:
                if s["kind"] in contract.SCRIPT_KINDS and (s.get("script") or s.get("entry_point")):
                    yield env, p, s


def _params(step: dict) -> dict[str, str]:
    return {f.name: f.value or "" for f in contract.script_flags(step) if f.role == "param"}


def _pairs(argv: list[str]) -> list[tuple[str, str]]:
    return [(argv[i], argv[i + 1]) for i in range(len(argv) - 1)]


# ------------------------------------------------------------------ Azure ML
_PLACEHOLDER = re.compile(r"\$\{\{(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\}\}")


def _azure_argv(component: dict, trial: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The argv the command runs with, and the value each placeholder stood for."""
    values: dict[str, str] = {}
    for name, spec in (component.get("inputs") or {}).items():
        if spec.get("type") == "uri_folder":
            values[f"inputs.{name}"] = f"/mnt/azureml/inputs/{name}"
        elif "default" in spec:
            values[f"inputs.{name}"] = contract.param_text(spec["default"])
        else:
            values[f"inputs.{name}"] = contract.param_text(trial[name])
    for name in component.get("outputs") or {}:
        values[f"outputs.{name}"] = f"/mnt/azureml/outputs/{name}"
    text = _PLACEHOLDER.sub(lambda m: values[f"{m.group(1)}.{m.group(2)}"], component["command"])
    return shlex.split(text), values


def _trial_values(step: dict) -> dict[str, Any]:
    out = {}
    for k, r in (step.get("ranges") or {}).items():
        out[k] = r["values"][-1] if r["type"] == "categorical" else r["min"]
    return out


def _check_azure(res: api.Result) -> int:
    files = {p: d for p, d in _docs(res.builds["azureml"].files)}
    checked = 0
    for env, p, s in _script_steps(res.irs):
        folder = f"{env}/pipelines/{p['name']}/components/"
        comp = files.get(f"{folder}{s['name']}_trial.yml") or files[f"{folder}{s['name']}.yml"]
        trial = _trial_values(s)
        argv, values = _azure_argv(comp, trial)
        script = s.get("script") or s.get("entry_point")
        assert argv[:7] == ["python", "_mlspec/track.py", "--config",
                            f"_mlspec/config/{env}/{p['name']}.json", "--step", s["name"], script], argv
        rest = argv[7:]
        # the intended tokens: one `--name value` pair per placeholder, in the order written
        intended = [t for m in _PLACEHOLDER.finditer(comp["command"])
                    for t in (f"--{m.group(2)}", values[f"{m.group(1)}.{m.group(2)}"])]
        assert rest == intended, f"{s['id']}: the shell splits the command into {rest}, not {intended}"
        got = dict(zip(rest[::2], rest[1::2]))
        want = {f"--{k}": v for k, v in _params(s).items()}
        want.update({f"--{k}": contract.param_text(v) for k, v in trial.items()})
        assert {k: got.get(k) for k in want} == want, s["id"]
        checked += 1
    # mlspec's own helper commands split into the same tokens too
    for path, comp in files.items():
        if isinstance(comp, dict) and comp.get("type") == "command" and "track.py" not in comp["command"]:
            # typed inputs the pipeline binds (a gate's thresholds, the spec hash): sample values
            literals = {n: 0.5 if spec.get("type") == "number" else "a b" for n, spec in (comp.get("inputs") or {}).items()
                        if spec.get("type") != "uri_folder" and "default" not in spec}
            argv, values = _azure_argv(comp, literals)
            assert argv[0] == "python" and argv[2] == "--config", argv
            assert all(f"--{n}" in argv and argv[argv.index(f"--{n}") + 1] == contract.param_text(v)
                       for n, v in literals.items()), path  # each value stays one argument
            assert all(not t.startswith("${{") for t in argv), path
    return checked


# ------------------------------------------------------------------ argv-list targets
def _argv_lists(res: api.Result, target: str) -> list[list[str]]:
    out = []
    for _path, doc in _docs(res.builds[target].files):
        for n in _walk(doc):
            if isinstance(n, list) and n and all(isinstance(x, str) for x in n):
                out.append(n)
    return out


def _hyperparameter_dicts(res: api.Result) -> list[dict[str, str]]:
    out = []
    for _path, doc in _docs(res.builds["sagemaker"].files):
        for n in _walk(doc):
            if isinstance(n, dict) and isinstance(n.get("HyperParameters"), dict):
                out.append(n["HyperParameters"])
            elif isinstance(n, dict) and isinstance(n.get("StaticHyperParameters"), dict):
                out.append(n["StaticHyperParameters"])
    return out


def _wrapper_params(res: api.Result, target: str) -> set[tuple[str, str]]:
    """Parameter flags handed to mlspec's runtime wrapper as contract flag records
    (``{"name", "role": "param", "value"}``, e.g. Vertex's ``runtime.py script --spec``): the
    wrapper renders them with compiler/contract.py, so the record's value is what the script gets."""
    out = set()
    for _path, doc in _docs(res.builds[target].files):
        for n in _walk(doc):
            if isinstance(n, dict) and n.get("role") == "param" and isinstance(n.get("name"), str):
                out.add((f"--{n['name']}", str(n.get("value"))))
    return out


def _hp_text(raw: str) -> str:
    try:
        return contract.param_text(json.loads(raw))
    except ValueError:
        return raw


def _check_argv_target(res: api.Result, target: str) -> int:
    lists = _argv_lists(res, target)
    pairs = {pair for argv in lists for pair in _pairs(argv)} | _wrapper_params(res, target)
    hps = _hyperparameter_dicts(res) if target == "sagemaker" else []
    checked = 0
    for _env, _p, s in _script_steps(res.irs):
        for k, v in _params(s).items():
            if (f"--{k}", v) in pairs:
                checked += 1
                continue
            # SageMaker training: the toolkit JSON-decodes each hyperparameter and passes `--k v`
            # (mlspec's launcher passes plain text through unchanged)
            decoded = [_hp_text(hp[k]) for hp in hps if k in hp]
            assert v in decoded, f"{target} {s['id']}: `--{k}` does not reach the script as {v!r}"
            checked += 1
    return checked


@pytest.mark.parametrize("spec", CASES)
def test_every_argument_reaches_the_script_intact(spec: Path | None, hostile: Path):
    res = _builds(spec or hostile)
    checked = _check_azure(res)
    assert checked > 0
    for target in ("vertex", "sagemaker"):
        _check_argv_target(res, target)
    if spec is None:  # the hostile values are all there, on every target
        for target in ("vertex", "sagemaker"):
            assert _check_argv_target(res, target) >= len(HOSTILE_VALUES)


def test_hostile_values_survive_the_azure_shell(hostile: Path):
    res = _builds(hostile)
    comps = [d for p, d in _docs(res.builds["azureml"].files) if p.endswith("/components/features.yml")]
    assert comps
    for comp in comps:
        argv, _ = _azure_argv(comp, {})
        got = dict(zip(argv[7::2], argv[8::2]))
        for k, v in HOSTILE_VALUES.items():
            assert got[f"--{k}"] == v
        assert argv[6] == "churn/src/feat-v2+x@1.py"


INJECTIONS = [
    ('hyperparameters = { "x; touch PWNED #" = 6 }', "E206"),
    ('hyperparameters = { "${{inputs.x}}" = 6 }', "E206"),
    ('hyperparameters = { "a b" = 6 }', "E206"),
    ('hyperparameters = { "--x" = 6 }', "E206"),
    ('hyperparameters = { "{{$.inputs.parameters[\'x\']}}" = 6 }', "E206"),
    ('hyperparameters = { x = "$(touch PWNED)" }', "E309"),
    ('hyperparameters = { x = "`touch PWNED`" }', "E309"),
    ('hyperparameters = { x = "it\'s" }', "E309"),
    ('hyperparameters = { x = "${{inputs.y}}" }', "E310"),
    ('entry_point = "src/$(touch PWNED).py"', "E404"),
    ('entry_point = "src/`touch PWNED`.py"', "E404"),
    ('entry_point = "train model.py"', "E404"),
    ('entry_point = "src/-c.py"', "E404"),
    ('entry_point = "src/t\\u0000.py"', "E404"),
    ('entry_point = "src/${{x}}.py"', "E404"),
    ('entry_point = "src/a;b.py"', "E404"),
]


@pytest.mark.parametrize("line,code", INJECTIONS, ids=[i[0] for i in INJECTIONS])
def test_injection_attempts_are_refused(tmp_path: Path, line: str, code: str):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('hi')\n")
    attr = line.split(" = ", 1)[0]
    body = {"entry_point": 'entry_point = "src/train.py"', "hyperparameters": ""}
    body[attr] = line
    spec = tmp_path / "s.mlspec"
    spec.write_text(
        'system demo {\n  owner = "ml@example.com"\n'
        '  dataset tx { uri = "data://fraud/tx/"  format = parquet  version = "2026-11-01" }\n'
        '  pipeline training {\n    step train = train {\n'
        f'      {body["entry_point"]}\n      framework = xgboost("1.7")\n      inputs = [dataset.tx]\n'
        f'      {body["hyperparameters"]}\n    }}\n  }}\n}}\n')
    res = api.build_irs(str(spec))
    codes = {d.code for d in res.diagnostics if d.is_error}
    assert code in codes, [f"{d.code} {d.summary}" for d in res.diagnostics]


def test_every_map_key_is_a_plain_name(tmp_path: Path):
    """Ranges and any other map: the key screen covers every map in the spec."""
    (tmp_path / "t.py").write_text("")
    spec = tmp_path / "s.mlspec"
    spec.write_text(
        'system demo {\n  owner = "ml@example.com"\n'
        '  dataset tx { uri = "data://fraud/tx/"  format = parquet  version = "2026-11-01" }\n'
        '  pipeline training {\n    step tune = tune {\n      entry_point = "t.py"\n'
        '      framework = xgboost("1.7")\n      inputs = [dataset.tx]\n      objective = auc\n'
        '      max_trials = 4\n      ranges = { "lr; rm -rf /" = range(0.1, 0.2), ok = choice("a", "$(x)") }\n'
        '    }\n  }\n}\n')
    res = api.build_irs(str(spec))
    summaries = [f"{d.code} {d.summary}" for d in res.diagnostics if d.is_error]
    assert any(s.startswith("E206") and "lr; rm -rf /" in s and "`ranges`" in s for s in summaries), summaries
    assert any(s.startswith("E309") and "ranges.ok" in s for s in summaries), summaries
