"""docs/language.md is executable: every example is checked, and nothing the checker
accepts is missing from it.

Fences (see the top of docs/language.md):
- ```mlspec            a complete spec (starts with `system`): `mlspec check` reports nothing;
                       otherwise a fragment that must parse inside a minimal system;
- ```mlspec in-scaffold  a fragment merged into the page's scaffold: checks without errors;
- ```mlspec scaffold   the scaffold itself (a complete spec);
- ```mlspec-error CODE... [in-scaffold]  fails with exactly these error codes.
Scripts named by `script = "..."` / `entry_point = "..."` are created in a temporary
project folder. Nothing here reads outside the repository.
"""
from __future__ import annotations

import ast as pyast
import dataclasses
import re
from pathlib import Path

import pytest

from mlspec.compiler import api
from mlspec.compiler import ast as mlast
from mlspec.compiler.parse import parse_bytes

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "language.md"
CHECK_DIR = ROOT / "compiler" / "check"
MINIMAL = 'system doc_example {\n  owner = "docs@example.com"\n%s\n}\n'


@dataclasses.dataclass
class Example:
    line: int
    info: list[str]
    text: str

    @property
    def id(self) -> str:
        return f"line{self.line}-{'-'.join(self.info)}"

    @property
    def complete(self) -> bool:
        code = re.sub(r"^\s*(#|//)[^\n]*\n", "", self.text, flags=re.M)
        return code.lstrip().startswith("system ")

    @property
    def expected(self) -> list[str]:
        return sorted(w for w in self.info[1:] if re.fullmatch(r"[EW]\d{3}", w))


def examples() -> list[Example]:
    text = DOC.read_text(encoding="utf-8")
    out = []
    for m in re.finditer(r"^```(mlspec[^\n]*)\n(.*?)^```[ \t]*$", text, re.M | re.S):
        line = text.count("\n", 0, m.start()) + 1
        out.append(Example(line, m.group(1).split(), m.group(2)))
    return out


EXAMPLES = examples()
SCAFFOLD = next((e for e in EXAMPLES if "scaffold" in e.info), None)


def write_project(tmp: Path, spec: str) -> Path:
    for m in re.finditer(r'\b(?:script|entry_point|requirements)\s*=\s*"([^"]+)"', spec):
        path = tmp / m.group(1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("print('example')\n", encoding="utf-8")
    spec_path = tmp / "example.mlspec"
    spec_path.write_text(spec, encoding="utf-8")
    return spec_path


def check(tmp: Path, spec: str) -> api.Result:
    return api.build_irs(str(write_project(tmp, spec)))


def shown(res: api.Result) -> str:
    return "\n".join(f"  {d.code} line {d.span.line if d.span else '?'}: {d.summary}" for d in res.diagnostics)


def _top_blocks(text: str) -> list[mlast.Block]:
    module, _, diags = parse_bytes(text.encode("utf-8"), "example.mlspec")
    assert module is not None, [d.summary for d in diags]
    return [it for it in module.system.items if isinstance(it, mlast.Block)]


def in_scaffold(fragment: str) -> str:
    """The scaffold with the fragment's declarations replacing its own of the same kind and name."""
    assert SCAFFOLD is not None, "docs/language.md has no ```mlspec scaffold block"
    base = SCAFFOLD.text
    replaced = {(b.kind, b.label) for b in _top_blocks(MINIMAL % fragment)}
    drop = sorted(((b.span.start, b.span.end) for b in _top_blocks(base) if (b.kind, b.label) in replaced),
                  reverse=True)
    for start, end in drop:
        base = base[:start] + base[end:]
    close = base.rstrip().rfind("}")
    return base[:close] + fragment + "\n" + base[close:]


def test_the_page_has_examples_of_every_kind():
    assert SCAFFOLD is not None and SCAFFOLD.complete
    assert sum(e.complete for e in EXAMPLES) >= 6
    assert sum("in-scaffold" in e.info for e in EXAMPLES) >= 15
    assert sum(e.info[0] == "mlspec-error" for e in EXAMPLES) >= 15
    for e in EXAMPLES:
        assert e.info[0] in ("mlspec", "mlspec-error"), f"line {e.line}: unknown fence `{e.info[0]}`"
        if e.info[0] == "mlspec-error":
            assert e.expected, f"line {e.line}: an error example names the codes it expects"


@pytest.mark.parametrize("ex", EXAMPLES, ids=lambda e: e.id)
def test_example(ex: Example, tmp_path: Path):
    scaffolded = "in-scaffold" in ex.info
    if ex.info[0] == "mlspec-error":
        spec = ex.text if ex.complete else in_scaffold(ex.text) if scaffolded else MINIMAL % ex.text
        res = check(tmp_path, spec)
        got = sorted({d.code for d in res.diagnostics if d.is_error})
        assert got == ex.expected, f"docs/language.md:{ex.line}: expected {ex.expected}, got:\n{shown(res)}"
        return
    if ex.complete:
        res = check(tmp_path, ex.text)
        assert not res.diagnostics, f"docs/language.md:{ex.line}: a complete example must check cleanly:\n{shown(res)}"
        return
    if scaffolded:
        res = check(tmp_path, in_scaffold(ex.text))
        errors = [d for d in res.diagnostics if d.is_error]
        assert not errors, f"docs/language.md:{ex.line}: fragment fails in the scaffold:\n{shown(res)}"
        return
    module, _, diags = parse_bytes((MINIMAL % ex.text).encode("utf-8"), "example.mlspec")
    assert module is not None and not any(d.is_error for d in diags), \
        f"docs/language.md:{ex.line}: fragment does not parse: {[d.summary for d in diags]}"


# ---------------------------------------------------------------- coverage of the vocabulary
#: Body methods whose first string argument is an attribute or block name
READERS = {"string", "number", "duration", "duration_ms", "percent", "boolean", "enum", "ident", "names",
           "strings", "refs", "ref", "scalar_map", "string_map", "call", "block", "named_blocks", "has", "attr",
           "value"}
#: helpers called as helper(ctx, body, "<attribute>", ...)
HELPERS = {"read_uri", "_script", "read_schedule", "_data_inputs", "_one_data"}


def _str(node) -> str | None:
    return node.value if isinstance(node, pyast.Constant) and isinstance(node.value, str) else None


def accepted_words() -> dict[str, set[str]]:
    """Attribute, block and keyword-value names the checker reads, by source file.

    Read from the code (not from a list kept by hand), so a new attribute makes this
    test fail until docs/language.md mentions it."""
    found: dict[str, set[str]] = {}
    for path in sorted(CHECK_DIR.glob("*.py")):
        words: set[str] = set()
        tree = pyast.parse(path.read_text(encoding="utf-8"))
        for node in pyast.walk(tree):
            if isinstance(node, pyast.Call):
                f = node.func
                name = f.attr if isinstance(f, pyast.Attribute) else f.id if isinstance(f, pyast.Name) else ""
                if isinstance(f, pyast.Attribute) and name in READERS:
                    first = next((s for s in map(_str, node.args) if s), None)
                    if first:
                        words.add(first)
                    if name == "enum" and len(node.args) > 1 and isinstance(node.args[1], pyast.Tuple):
                        words.update(s for s in map(_str, node.args[1].elts) if s)
                if name in HELPERS:
                    first = next((s for s in map(_str, node.args) if s), None)
                    if first:
                        words.add(first)
                if name == "update" and isinstance(f, pyast.Attribute) and isinstance(f.value, pyast.Attribute) \
                        and f.value.attr == "asked" and node.args and isinstance(node.args[0], pyast.Set):
                    words.update(s for s in map(_str, node.args[0].elts) if s)
            elif isinstance(node, pyast.Compare) and isinstance(node.left, pyast.Attribute) \
                    and node.left.attr in ("name", "text", "kind"):
                for c in node.comparators:
                    elts = c.elts if isinstance(c, (pyast.Tuple, pyast.List, pyast.Set)) else [c]
                    words.update(s for s in map(_str, elts) if s)
            elif isinstance(node, pyast.Assign) and isinstance(node.value, pyast.Dict) \
                    and any(isinstance(t, pyast.Name) and t.id == "card" for t in node.targets):
                words.update(s for s in map(_str, node.value.keys) if s)
        found[path.name] = words
    return found


def vocabularies() -> dict[str, set[str]]:
    """The closed vocabularies, from the checker's own constants."""
    from mlspec.compiler.check import build, names, overlay, pipeline, serving

    out = {
        "formats": set(build.FORMATS), "column types": set(build.FIELD_TYPES), "roles": set(build.ROLES),
        "classifications": set(build.CLASSIFICATIONS), "uri schemes": set(build.uri_schemes()),
        "system blocks": set(build.SYSTEM_BLOCKS), "production names": set(build.PRODUCTION_NAMES),
        "step kinds": set(pipeline.STEP_KINDS), "compute classes": set(pipeline.COMPUTE_CLASSES),
        "frameworks": set(pipeline.FRAMEWORKS), "bias metrics": set(pipeline.BIAS_METRICS),
        "directions": set(pipeline.DIRECTIONS),
        "step outputs": {o for outs in names.STEP_OUTPUTS.values() for o in outs},
        "rollouts": set(serving.ROLLOUTS), "monitor kinds": set(serving.MONITOR_KINDS),
        "monitor metrics": {m for ms in serving.MONITOR_METRICS.values() for m in ms},
        "alert metrics": set(serving.ALERT_METRICS), "channels": set(serving.CHANNEL_KINDS),
        "overridable": set(overlay.OVERRIDABLE), "reserved words": set(names._RESERVED),
        "grammar keywords": {"system", "step", "gate", "require", "true", "false"},
    }
    return out


def code_text() -> str:
    """Everything on the page written as code: inline spans and fenced blocks."""
    text = DOC.read_text(encoding="utf-8")
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.M | re.S))
    return "\n".join(fenced + inline)


def _mentioned(word: str, code: str) -> bool:
    return re.search(r"(?<![\w])" + re.escape(word) + r"(?![\w])", code) is not None


def test_every_attribute_and_block_the_checker_reads_is_documented():
    code = code_text()
    words = accepted_words()
    assert sum(len(w) for w in words.values()) > 100, "the scan of compiler/check found too little"
    missing = {f: sorted(w for w in ws if not _mentioned(w, code)) for f, ws in words.items()}
    missing = {f: ws for f, ws in missing.items() if ws}
    assert not missing, f"docs/language.md never mentions (as code) these names read in compiler/check: {missing}"


def test_every_vocabulary_word_is_documented():
    code = code_text()
    missing = {k: sorted(w for w in ws if not _mentioned(w, code)) for k, ws in vocabularies().items()}
    missing = {k: ws for k, ws in missing.items() if ws}
    assert not missing, f"docs/language.md never mentions (as code): {missing}"


def test_every_target_setting_is_documented():
    from mlspec.targets.base import available_targets, get_target

    code = code_text()
    names = available_targets()
    assert {"sagemaker", "vertex", "azureml"} <= set(names)
    missing = {}
    for name in names:
        try:
            target = get_target(name)
        except Exception as exc:  # a target under construction must not hide the others
            pytest.skip(f"target {name} does not load: {exc}")
        gaps = [k for k in target.settings if not _mentioned(k, code)]
        if gaps or not _mentioned(name, code):
            missing[name] = gaps
    assert not missing, f"docs/language.md is missing target settings: {missing}"


def test_the_scan_sees_known_attributes():
    """Guard the scanner itself: names we know the checker reads must be found."""
    words = set().union(*accepted_words().values())
    for w in ("owner", "labels", "uri", "format", "schema", "checks", "schedule", "retrain_on", "script",
              "entry_point", "outputs", "hyperparameters", "ranges", "metrics", "facets", "max_disparity",
              "approval", "approvers", "card", "intended_use", "autoscale", "target_rps", "capture", "rollout",
              "initial", "interval", "bake", "sample", "promote", "variant", "traffic", "rollback_on",
              "ground_truth", "threshold", "every", "notify", "above", "below", "for", "backend",
              "allowed_egress", "reason", "until", "scale", "production", "after", "max_runtime", "compute",
              "instances", "cron", "secret", "custom"):
        assert w in words, w
