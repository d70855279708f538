"""Serialisation: deterministic, and the YAML writers (mlspec's fast one, PyYAML with libyaml's
emitter, PyYAML's pure-Python emitter) agree byte for byte."""
import string

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from mlspec.compiler import emit, yamlfast
from testkit import ROOT


def _pyyaml(data, base=None) -> str:
    """What emit.dump_yaml wrote before yamlfast: PyYAML, libyaml's emitter when present."""
    dumper = emit._make_dumper(base) if base else emit._yaml_dumper()
    return emit.dump_yaml(data, dumper)


def _fast_or_none(data):
    try:
        return yamlfast.dump(data)
    except yamlfast.Unsupported:
        return None


def test_yaml_emitters_agree_on_every_golden_yaml_file():
    files = sorted((ROOT / "tests" / "golden").rglob("*.y*ml"))
    pure = emit._make_dumper(yaml.SafeDumper)
    checked = 0
    for f in files:
        data = yaml.safe_load(f.read_text())
        if data is None:
            continue
        assert emit.dump_yaml(data) == emit.dump_yaml(data, pure) == _pyyaml(data), f
        assert _fast_or_none(data) == _pyyaml(data), f  # every golden file is inside the fast writer's envelope
        checked += 1
    assert checked > 50
    tricky = {"a": "line1\nline2\n", "b": "yes", "c": "012", "d": "", "e": "ünïcode", "f": [1.0, None, True],
              "g": "x: y", "h": "- z", "i": "#not a comment", "j": "trailing space "}
    assert emit.dump_yaml(tricky) == emit.dump_yaml(tricky, pure) == _pyyaml(tricky)
    assert yaml.safe_load(emit.dump_yaml(tricky)) == tricky


#: strings built from the characters that steer YAML's choice of scalar style
_TRICKY_CHARS = string.ascii_letters[:6] + string.digits[:3] + " \n\t:#-?.,[]{}&*!|>'\"%@`~=<_+eExXbo\u00e9\x85"
_WORDS = ["yes", "No", "true", "FALSE", "on", "null", "~", "0x1F", "0o7", "017", "1_000", "1.5", "-.inf", ".NaN",
          "1e3", "1.0e+3", "12:30", "190:20:30", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "<<", "=", "---",
          "...", "- ", ": ", " #", "#", "a: b", "a:b", "key:", "'q'", '"d"', "", " ", "x ", " x", "a\n", "\n",
          "a\n\n", "a \nb", "a\n b", "\ta", "a" * 130]
_text = st.one_of(st.sampled_from(_WORDS), st.text(alphabet=_TRICKY_CHARS, max_size=12),
                  st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3).map("".join))
_scalar = st.one_of(_text, st.none(), st.booleans(), st.integers(-10**20, 10**20),
                    st.floats(allow_nan=True, allow_infinity=True))
_doc = st.recursive(_scalar, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                    st.dictionaries(_text, kids, max_size=4)), max_leaves=25)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(_doc)
def test_fast_yaml_writer_is_pyyaml_byte_for_byte_or_declines(doc):
    """Inside its envelope yamlfast writes exactly PyYAML's bytes (libyaml emitter and the
    pure-Python one); outside it declines and dump_yaml falls back to PyYAML."""
    fast = _fast_or_none(doc)
    if fast is not None:
        assert fast == _pyyaml(doc) == _pyyaml(doc, yaml.SafeDumper)
    assert emit.dump_yaml(doc) == _pyyaml(doc)


def test_fast_yaml_writer_covers_typical_documents_and_declines_aliases():
    doc = {"name": "train", "inputs": {"data": {"type": "uri_folder", "path": "azureml:x:1"}},
           "command": "python a.py \\\n  --x ${{inputs.data}}\n", "tags": [], "env": {}, "n": 3, "on": True,
           "list": [{"a": 1, "b": [1, "2"]}, ["x", "y: z"], "- q", None, 0.5, 1e-05], "version": "1"}
    assert _fast_or_none(doc) == _pyyaml(doc)
    shared = {"k": "v"}
    assert _fast_or_none({"a": shared, "b": shared}) is None  # PyYAML writes &id001 / *id001
    assert emit.dump_yaml({"a": shared, "b": shared}) == _pyyaml({"a": shared, "b": shared})


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
