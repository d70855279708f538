"""Property-based tests of the front end (SECURITY.md section 7, items 4 and 5).

1. Generated valid specs check clean and produce schema-valid IR.
2. Mutated specs (tokens deleted, duplicated, swapped or replaced; names misspelt;
   control, bidi and zero-width characters injected; strings replaced by traversal
   paths, secrets and template syntax; numbers made huge) only ever produce
   diagnostics: exit code 0 or 1, never an internal error (E9xx) or an exception.
3. Emission safety: any string accepted into a free-text field (system description,
   model card intended use) comes out of `mlspec ir` unchanged (JSON round trip).

Everything goes through the public entry point `mlspec.compiler.cli.main`, in process
(a subprocess per example would be too slow), with `--debug` so that a failure shows
the traceback. Example counts are modest to keep the suite fast.
"""
from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, example, given, settings, strategies as st

from mlspec.compiler import cli

ROOT = Path(__file__).resolve().parent.parent.parent
SPECS = sorted((ROOT / "specs").glob("*.mlspec"))
SOURCES = {p.name: p.read_text(encoding="utf-8") for p in SPECS}
FAST = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_WORK: list[Path] = []


def workdir() -> Path:
    """A private copy of specs/ (scripts included), made once per test session."""
    if not _WORK:
        d = Path(tempfile.mkdtemp(prefix="mlspec-prop-"))
        atexit.register(shutil.rmtree, d, True)
        shutil.copytree(ROOT / "specs", d / "specs")
        (d / "specs" / "src").mkdir(exist_ok=True)
        (d / "specs" / "src" / "train.py").write_text("print('train')\n")
        _WORK.append(d)
    return _WORK[0] / "specs"


def run(command: str, text: str | bytes, name: str = "t.mlspec") -> tuple[int, str, str]:
    d = workdir()
    path = d / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.environ["MLSPEC_TODAY"] = "2026-11-26"
    try:
        os.chdir(d)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["--debug", command, name])
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


def assert_only_diagnostics(code: int, err: str) -> None:
    assert "Traceback" not in err, err
    assert code in (0, 1), f"exit code {code}:\n{err[-3000:]}"
    assert "error[E9" not in err, err[-3000:]
    if code == 1:
        assert re.search(r"error\[E[1-5][0-9]{2}\]", err), err[-3000:]


# ------------------------------------------------------------------ 1. valid specs
# lower_snake names without a trailing or doubled `_` (E206)
IDENT = st.from_regex(r"[a-z]([a-z0-9]|_(?!_)){0,11}", fullmatch=True).filter(
    lambda s: not s.endswith("_")).filter(
    lambda s: s not in {"and", "as", "if", "in", "is", "or", "not", "for", "def", "del", "try", "case", "type",
                        "match", "true", "false", "none", "null", "step", "gate", "system", "champion", "require",
                        "from", "with", "else", "elif", "pass", "class", "while", "break", "raise", "yield",
                        "async", "await", "assert", "global", "import", "lambda", "return", "finally",
                        "continue", "nonlocal", "except", "_"})
CRONS = ["0 3 * * MON", "*/15 * * * *", "30 1 1 * *", "0 0 * JAN-MAR SUN", "5 4 * * 1-5"]
ROLLOUTS = [
    "all_at_once",
    "canary { initial = {p}%  step = 20%  interval = 10m }",
    "linear { step = {p}%  interval = 5m }",
    "blue_green { bake = 15m }",
    "shadow { sample = {p}%  duration = 2h  promote = blue_green }",
]


ALERTS = [("latency_p50", "40ms"), ("latency_p99", "2s"), ("error_rate", "1%"), ("cpu", "85%"),
          ("memory", "90.5%"), ("throughput", "100")]


@st.composite
def valid_specs(draw) -> str:
    names = draw(st.lists(IDENT, min_size=4, max_size=8, unique=True))
    system, model, endpoint, *datasets = names
    lines = [f"system {system} {{", '  owner = "ml@example.com"']
    if draw(st.booleans()):
        lines.append(f'  description = "{draw(st.text(alphabet="abc xyz-.,", max_size=40))}"')
    for ds in datasets:
        fmt = draw(st.sampled_from(["parquet", "csv", "jsonl", "delta"]))
        lines.append(f'  dataset {ds} {{ uri = "data://team/{ds}/"  format = {fmt}  version = "v1" }}')
    lines.append("  pipeline training {")
    if draw(st.booleans()):
        lines.append(f'    schedule = cron("{draw(st.sampled_from(CRONS))}")')
    for i, ds in enumerate(datasets):
        lines.append(f"    step check_{i} = validate {{ data = dataset.{ds} }}")
    inputs = "{ " + ", ".join(f"d{i} = step.check_{i}.data" for i in range(len(datasets))) + " }"
    hp = draw(st.integers(1, 10**6))
    lines.append(f'    step train = train {{ framework = xgboost("1.7")  entry_point = "src/train.py"  '
                 f"inputs = {inputs}  hyperparameters = {{ rounds = {hp} }} }}")
    lines.append(f"    step register = register {{ model = model.{model} }}")
    lines.append("  }")
    lines.append(f'  model {model} {{ approval {{ approvers = ["leads"]  required = 1 }} }}')
    lo = draw(st.integers(1, 5))
    hi = draw(st.integers(lo, 20))
    rollout = draw(st.sampled_from(ROLLOUTS)).replace("{p}", str(draw(st.integers(1, 50))))
    lines.append(f"  endpoint {endpoint} {{ model = model.{model}  autoscale {{ min = {lo}  max = {hi}  "
                 f"target_rps = {draw(st.integers(1, 1000))} }}  rollout = {rollout} }}")
    lines.append('  channel oncall { email = "oncall@example.com" }')
    for i, (metric, value) in enumerate(draw(st.lists(st.sampled_from(ALERTS), min_size=1, max_size=4))):
        lines.append(f"  alert a{i} {{ endpoint = endpoint.{endpoint}  metric = {metric}  above = {value}  "
                     f"for = {draw(st.sampled_from(['1m', '5m', '1h']))}  notify = [channel.oncall] }}")
    if draw(st.booleans()):
        lines.append(f"  monitor drift {{ endpoint = endpoint.{endpoint}  kind = data_drift  "
                     f"baseline = dataset.{datasets[0]}  threshold = {draw(st.floats(0, 10)):.3f}  "
                     f"every = {draw(st.sampled_from(['1h', '6h', '1d']))}  notify = [channel.oncall] }}")
    lines.append("}")
    return "\n".join(lines) + "\n"


@FAST
@given(valid_specs())
def test_generated_valid_specs_check_clean(text: str):
    code, out, err = run("ir", text)
    assert code == 0, f"{text}\n{err}"
    ir = json.loads(out)
    assert ir["schema_version"] == "2"


# ------------------------------------------------------------------ 2. mutations
TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*|[0-9][0-9.]*[A-Za-z%]*|\s+|.', re.DOTALL)
NASTY_CHARS = ["\x00", "\x01", "\x1b", "\x7f", "\r", "\t", "\u202e", "\u2066", "\u200b", "\ufeff", "\u0430",
               "\U0001f600", "\u4e2d", "\\", '"', "{", "}", "[", "]", "(", ")", "=", "#", ":", ",", ".",
               "\udcff" if False else "\u00e9"]
NASTY_STRINGS = ["../../etc/passwd", "/etc/passwd", "C:\\Windows\\x.py", "\\\\\\\\host\\\\share\\\\x.py",
                 "file:///etc/passwd", "https://example.com/x.py", "src/../../x.py", "~/.ssh/id_rsa",
                 "AKIAIOSFODNN7EXAMPLE", "-----BEGIN RSA PRIVATE KEY-----", "${{inputs.x}}", "{{$.x}}",
                 "$(rm -rf /)", "a; rm -rf /", "", " ", "x" * 5000, "s3://bucket/key", "gs://b/k",
                 "azureml://datastores/x", "data://../x", "2026-02-30", "0 99 * * *", "\\u202e", "\\n"]
NASTY_NUMBERS = ["0", "-1", "1e308", "1e309", "-1e309", "99999999999999999999999999", "0.0000000001",
                 "1" * 400, "1.10", "-0", "3.4028236692e+38", "10%", "150%", "0%", "10m", "0s", "1w",
                 "999999999d", "50GiB", "true", "null"]


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


@st.composite
def mutated_specs(draw) -> str:
    base = draw(st.sampled_from(sorted(SOURCES)))
    toks = tokens(SOURCES[base])
    solid = [i for i, t in enumerate(toks) if not t.isspace()]
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.sampled_from(solid))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "typo", "inject", "string",
                                   "number", "type_swap"]))
        t = toks[i]
        if op == "delete":
            toks[i] = ""
        elif op == "duplicate":
            toks[i] = t + " " + t
        elif op == "swap":
            j = draw(st.sampled_from(solid))
            toks[i], toks[j] = toks[j], toks[i]
        elif op == "replace":
            toks[i] = toks[draw(st.sampled_from(solid))]
        elif op == "typo" and t[:1].isalpha() and len(t) > 1:
            k = draw(st.integers(0, len(t) - 1))
            c = draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz_"))
            toks[i] = draw(st.sampled_from([t[:k] + t[k + 1:], t[:k] + c + t[k:], t[:k] + c + t[k + 1:]]))
        elif op == "inject":
            k = draw(st.integers(0, len(t)))
            toks[i] = t[:k] + draw(st.sampled_from(NASTY_CHARS)) + t[k:]
        elif op == "string" and t.startswith('"'):
            toks[i] = '"' + draw(st.sampled_from(NASTY_STRINGS)) + '"'
        elif op == "number" and t[:1].isdigit():
            toks[i] = draw(st.sampled_from(NASTY_NUMBERS))
        elif op == "type_swap":
            toks[i] = draw(st.sampled_from(['"text"', "10", "10m", "5%", "50GiB", "true", "[a, b]",
                                            "{ k = 1 }", 'secret("x")', "step.train.model", "cron(\"bad\")"]))
    return "".join(toks)


@st.composite
def near_valid_specs(draw) -> str:
    """Syntax-preserving mutations, so that the semantic checks (not the parser) are hit:
    names misspelt or exchanged, strings and numbers replaced by hostile or wrong values."""
    base = draw(st.sampled_from(sorted(SOURCES)))
    toks = tokens(SOURCES[base])
    names = [i for i, t in enumerate(toks) if t[:1].isalpha() or t[:1] == "_"]
    strings = [i for i, t in enumerate(toks) if t.startswith('"')]
    numbers = [i for i, t in enumerate(toks) if t[:1].isdigit()]
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["typo", "name", "string", "swap_strings", "number", "swap_numbers"]))
        if op in ("typo", "name"):
            i = draw(st.sampled_from(names))
            t = toks[i]
            if op == "name":
                toks[i] = toks[draw(st.sampled_from(names))]
            else:
                k = draw(st.integers(0, len(t) - 1))
                c = draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz_0"))
                new = draw(st.sampled_from([t[:k] + t[k + 1:], t[:k] + c + t[k:], t[:k] + c + t[k + 1:]]))
                toks[i] = new if new[:1].isalpha() else t
        elif op == "string":
            toks[draw(st.sampled_from(strings))] = literal(draw(st.sampled_from(NASTY_STRINGS)))
        elif op == "swap_strings":
            i, j = draw(st.sampled_from(strings)), draw(st.sampled_from(strings))
            toks[i], toks[j] = toks[j], toks[i]
        elif op == "number":
            toks[draw(st.sampled_from(numbers))] = draw(st.sampled_from(NASTY_NUMBERS))
        else:
            i, j = draw(st.sampled_from(numbers)), draw(st.sampled_from(numbers))
            toks[i], toks[j] = toks[j], toks[i]
    return "".join(toks)


@FAST
@given(near_valid_specs())
def test_near_valid_specs_only_produce_diagnostics(text: str):
    code, _, err = run("check", text)
    assert_only_diagnostics(code, err)


@FAST
@given(mutated_specs())
@example(SOURCES["fraud_detection.mlspec"].replace("step.trian", "step.train").replace("step.train.model",
                                                                                         "step.trian.model", 1))
@example(SOURCES["fraud_detection.mlspec"].replace("}", "", 1))
@example(SOURCES["churn_scoring.mlspec"].replace("50%", "150%"))
def test_mutated_specs_only_produce_diagnostics(text: str):
    code, _, err = run("check", text)
    assert_only_diagnostics(code, err)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.sampled_from(sorted(SOURCES)), st.floats(0, 1))
def test_random_bytes_spliced_into_specs(junk: bytes, base: str, at: float):
    data = SOURCES[base].encode("utf-8")
    k = int(len(data) * at)
    code, _, err = run("check", data[:k] + junk + data[k:])
    assert_only_diagnostics(code, err)


# ------------------------------------------------------------------ 3. emission safety
def literal(s: str) -> str:
    """An mlspec string literal for `s` (the escapes the grammar knows)."""
    return '"' + (s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
                  .replace("\t", "\\t")) + '"'


CARD_SPEC = '''system demo {{
  owner = "ml@example.com"
  description = {desc}
  dataset events {{ uri = "data://team/events/"  format = parquet  version = "v1" }}
  pipeline training {{
    step train = train {{ framework = xgboost("1.7")  entry_point = "src/train.py"  inputs = [dataset.events] }}
    step register = register {{ model = model.scorer }}
  }}
  model scorer {{
    approval {{ approvers = ["leads"]  required = 1 }}
    card {{ intended_use = {use} }}
  }}
}}
'''
REFUSALS = {"E103", "E302", "E309", "E310", "E402"}  # documented reasons to refuse a string


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80), st.text(max_size=200))
@example("Fraud scoring — für Karten 💳", "Rank items\nfor 中文 users\t(ok) \"quoted\" \\ back")
@example("", "")
def test_free_text_survives_ir_unchanged(desc: str, use: str):
    assume("\ud800" not in desc)
    code, out, err = run("ir", CARD_SPEC.format(desc=literal(desc), use=literal(use)))
    assert_only_diagnostics(code, err)
    if code == 0:
        ir = json.loads(out)
        assert ir["system"]["description"] == desc
        assert ir["models"][0]["card"]["intended_use"] == (use or None) or ir["models"][0]["card"][
            "intended_use"] == use
    else:
        found = set(re.findall(r"error\[(E[0-9]{3})\]", err))
        assert found <= REFUSALS, err
