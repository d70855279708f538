"""The hand-written parser (mlspec.compiler.fastparse) builds exactly what the Lark parser
builds, or gives up and leaves the spec to Lark: on every spec of the repository, every
diagnostic case, a generated spec, and thousands of mutated specs (random edits that make
most of them invalid, some of them differently valid). A mismatch in any node or span, or
the fast parser accepting what Lark refuses, fails."""
from __future__ import annotations

import dataclasses
import random
import re
import sys
from pathlib import Path

import pytest

from mlspec.compiler import fastparse, parse
from mlspec.compiler.source import Span

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted(p for p in ROOT.glob("**/*.mlspec")
                if not any(part in (".venv", "build", "node_modules") for part in p.relative_to(ROOT).parts))

#: every construct of the grammar, small enough to mutate thousands of times
SAMPLE = '''# a comment
system s {  // another
  owner = "ml@example.com"
  labels = { cost_center = "risk", "data class" = "pii", step = 1  x = 2 }
  step = 3
  true_ish = true
  f = false
  n = [1, -2, 3.5, 1e3, -4.5E-2, 10m, 250ms, 5%, 2.5%, 10MB, 1.5GiB, "x\\"y", a.b.c, call(1, "a",), []]
  dataset "events raw" { uri = "data://x/"  schema { amount : float { min = 0 }  id : string  } }
  pipeline p {
    schedule = cron("0 3 * * *")
    step train = train { framework = xgboost("1.7")  rollout = canary { initial = 10%  interval = 10m } }
    gate quality {
      require step.evaluate.metrics.auc >= 0.8
      require -x - -2 * (y + 3) / 4 < 5m
      require a != - - b * 2%
      require 5% == c.d
    }
  }
  system = "not a keyword here"
  endpoint e { model = model.m  compute = cpu.small  gates = { require = 1, gate = 2 } }
}
'''

TOKENS = ["-", "step", "gate", "require", "true", "false", "system", "==", "=", ">=", "<", "{", "}", "(", ")",
          "[", "]", ",", ".", ":", "5m", "-5", "-5m", "10MB", "5%", "%", "1.5", "1e", '"x"', '"', "\\", "# c\n",
          "//", "/", "*", "+", "\n", " ", "x", "_y", "0", "3.", "ms", "KiB"]


def deep(node):
    """Every field of every node (compare=False fields too), spans as tuples."""
    if isinstance(node, Span):
        return tuple(node)
    if dataclasses.is_dataclass(node):
        return (type(node).__name__,) + tuple((f.name, deep(getattr(node, f.name))) for f in dataclasses.fields(node))
    if isinstance(node, tuple):
        return tuple(deep(x) for x in node)
    return node


def lark_parse(text: str):
    """Lark's system, or the exception it raised."""
    parser, builder = parse._parser()
    builder.file = "t.mlspec"
    builder.ops = {}
    try:
        return parser.parse(text)
    except Exception as e:  # syntax errors, too many operators
        return e


def agree(text: str) -> str:
    """'both' (same nodes), 'lark' (only Lark parses: the fast parser gave up), 'neither'."""
    fast = fastparse.parse(text, "t.mlspec")
    slow = lark_parse(text)
    if isinstance(slow, Exception):
        assert fast is None, f"the fast parser accepted what Lark refuses ({type(slow).__name__}):\n{text}"
        return "neither"
    if fast is None:
        return "lark"
    assert deep(fast) == deep(slow), text
    return "both"


def test_the_terminals_are_the_grammars():
    grammar = parse.grammar_text()
    for name, pattern in fastparse.TERMINALS.items():
        m = re.search(rf"^{name}(?:\.\d+)?:\s*/(.*)/\s*$", grammar, re.MULTILINE)
        assert m, name
        assert m.group(1) == pattern, name


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_spec_of_the_repository(path: Path):
    text = path.read_bytes().decode("utf-8", errors="replace")
    src, diags = parse.decode(path.read_bytes(), "t.mlspec")
    if src is None or any(d.is_error for d in diags) or parse._scan_nesting(src)[0]:
        return  # refused before parsing (encoding, control characters, nesting)
    outcome = agree(src.text)
    if path.parts[-2] in ("specs", "spec") or "golden" in path.parts:
        assert outcome == "both", text[:200]


def test_a_generated_spec():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import bench
    finally:
        sys.path.remove(str(ROOT / "bench"))
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        text = bench.generate(60, Path(d)).read_text()
    assert agree(text) == "both"


def test_the_sample_covers_the_grammar_and_parses_fast():
    assert agree(SAMPLE) == "both"


def test_mutated_specs():
    rng = random.Random(9)
    outcomes = {"both": 0, "lark": 0, "neither": 0}
    for _ in range(2500):
        text = SAMPLE
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(text))
            op = rng.random()
            if op < 0.35:
                text = text[:i] + rng.choice(TOKENS) + text[i:]
            elif op < 0.7:
                text = text[:i] + text[i + rng.randint(1, 4):]
            else:
                j = rng.randrange(len(text))
                text = text[:i] + text[j:j + rng.randint(1, 8)] + text[i:]
        outcomes[agree(text)] += 1
    # most edits break the spec; enough of them leave it (differently) valid to mean something
    assert outcomes["both"] > 200 and outcomes["neither"] > 1000, outcomes
    assert outcomes["lark"] < outcomes["both"] / 10, outcomes


def test_too_many_operators_are_left_to_lark():
    limit = parse.MAX_OPERATORS
    over = "system s { gate g { require x >= 0.95" + " + 0" * (limit + 1) + " } }"
    assert fastparse.parse(over, "t") is None and agree(over) == "neither"
    at = "system s { gate g { require x >= 0.95" + " + 0" * limit + " } }"
    assert agree(at) == "both"
    negated = "system s { gate g { require x >= " + "- " * (limit + 1) + "y } }"
    assert agree(negated) == "neither"


def test_compile_does_not_import_lark_for_a_valid_spec():
    import subprocess

    code = ("import sys; from mlspec.compiler import api; "
            "r = api.build_irs('specs/fraud_detection.mlspec'); assert r.ok; "
            "print('lark' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    bad = ("import sys; from mlspec.compiler import parse; "
           "m, s, d = parse.parse_bytes(b'system s { x = }', 't.mlspec'); print(d[0].code, 'lark' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", bad], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["E110", "True"]
