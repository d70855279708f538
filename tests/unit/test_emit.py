"""Serialisation: deterministic, and the C and pure-Python YAML emitters agree byte for byte."""
import yaml

from mlspec.compiler import emit
from testkit import ROOT


def test_yaml_emitters_agree_on_every_golden_yaml_file():
    files = sorted((ROOT / "tests" / "golden").rglob("*.y*ml"))
    pure = emit._make_dumper(yaml.SafeDumper)
    checked = 0
    for f in files:
        data = yaml.safe_load(f.read_text())
        if data is None:
            continue
        assert emit.dump_yaml(data) == emit.dump_yaml(data, pure), f
        checked += 1
    tricky = {"a": "line1\nline2\n", "b": "yes", "c": "012", "d": "", "e": "ünïcode", "f": [1.0, None, True],
              "g": "x: y", "h": "- z", "i": "#not a comment", "j": "trailing space "}
    assert emit.dump_yaml(tricky) == emit.dump_yaml(tricky, pure)
    assert yaml.safe_load(emit.dump_yaml(tricky)) == tricky


def test_json_matches_the_standard_library_on_every_golden_json_file():
    import json

    checked = 0
    for f in sorted((ROOT / "tests" / "golden").rglob("*.json")):
        data = json.loads(f.read_text())
        ours = emit.serialise(data, "json")
        assert json.loads(ours) == data, f
        std = (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
        if b"e-" not in std:  # only the spelling of small floats may differ (1e-05 vs 0.00001)
            assert ours == std, f
        checked += 1
    assert checked


def test_serialise_formats():
    assert emit.serialise({"b": 1, "a": [1, 2]}, "json") == b'{\n  "b": 1,\n  "a": [\n    1,\n    2\n  ]\n}\n'
    assert emit.serialise("x", "text") == b"x\n"
    assert emit.serialise("x\r\ny\n", "text") == b"x\ny\n"
    assert emit.serialise(b"\x00raw", "text") == b"\x00raw"
