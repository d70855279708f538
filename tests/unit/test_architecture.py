"""The house rules of the code base (docs/architecture.md), read from the source with `ast`:

- every piece of cloud knowledge lives in its target package: no module under compiler/ is
  named after a cloud, and nothing under compiler/ imports a cloud SDK, a Pulumi provider or a
  target package other than `mlspec.targets.base`;
- no target package imports another target package;
- imports run one way: no two modules of compiler/ and targets/ import each other, directly or
  through a chain (imports inside functions count too).

Templates (`targets/*/templates/`) are data the targets emit, not modules of mlspec.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"compiler": "mlspec.compiler", "targets": "mlspec.targets"}
CLOUD_WORDS = ("aws", "gcp", "google", "azure", "sagemaker", "vertex", "azureml", "kfp")
CLOUD_SDKS = ("boto3", "botocore", "google", "azure", "kfp", "sagemaker", "moto", "aiobotocore", "s3fs")
PULUMI_PROVIDERS = "pulumi_"  # pulumi_aws, pulumi_gcp, pulumi_azure_native ... (the `pulumi` core is fine)


def modules() -> dict[str, Path]:
    """mlspec module name -> file, for every module of compiler/ and targets/ (templates excluded)."""
    out = {}
    for top, pkg in PACKAGES.items():
        for f in sorted((ROOT / top).rglob("*.py")):
            rel = f.relative_to(ROOT / top)
            if "templates" in rel.parts or "__pycache__" in rel.parts:
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([pkg] + parts)] = f
    return out


MODULES = modules()


def imports(name: str, path: Path) -> list[str]:
    """Absolute names every import statement of the module names (anywhere in the file); for
    `from P import x`, `P.x` when that is a module of ours, else `P`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append(sub if sub in MODULES else base)
    return out


def test_the_module_map_is_read():
    assert "mlspec.compiler.plan.security" in MODULES and "mlspec.targets.sagemaker.rules" in MODULES
    assert "mlspec.compiler.plan.commands" in imports("mlspec.compiler.cli", MODULES["mlspec.compiler.cli"])


def test_no_module_under_compiler_is_named_after_a_cloud():
    bad = [m for m in MODULES if m.startswith("mlspec.compiler.")
           and any(w in part for part in m.split(".")[2:] for w in CLOUD_WORDS)]
    assert bad == []


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """(line, value) of every string literal of a module that is not a docstring (messages,
    help texts and data tables; docstrings may name clouds as examples)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def test_compiler_names_no_target():
    """A string that is exactly a target's name (a table keyed by cloud, `if target == "..."`,
    a hard-coded list of `--target` choices) means cloud knowledge outside targets/: compiler/
    reaches targets through the registry and their hooks. Names inside longer texts (help
    examples such as `--target sagemaker`) are allowed; so are docstrings."""
    names = {"sagemaker", "vertex", "azureml"}
    bad = [f"{path.relative_to(ROOT)}:{line}: {value!r}" for m, path in MODULES.items()
           if m.startswith("mlspec.compiler") for line, value in _code_strings(path) if value.lower() in names]
    assert bad == []


#: prefixes of cloud-bound locations and references; targets declare theirs (``Target.uri_schemes``,
#: ``key_forms``, ``tracking_uri_forms``, ``reference_forms``) and the core reads them from the registry
CLOUD_URI_PREFIXES = ("s3://", "gs://", "azureml://", "azureml:", "arn:aws", "vault.azure.net")


def _names_a_cloud_uri(value: str) -> bool:
    """A string holding a cloud's URI prefix (a scheme table, a hint listing schemes, a regex of
    reference forms), or its regex-escaped spelling. Command-line examples (``mlspec ...``, the
    help's usage lines) may show one."""
    if value.startswith("mlspec "):
        return False
    plain = value.replace("\\", "")
    return any(p in plain for p in CLOUD_URI_PREFIXES)


def test_compiler_names_no_cloud_uri_prefix():
    """`s3://`, `gs://`, `azureml://`, `arn:aws:` (and the Key Vault and registered-asset forms) are
    cloud knowledge: compiler/ reads them from the targets' registry entries."""
    bad = [f"{path.relative_to(ROOT)}:{line}: {value!r}" for m, path in MODULES.items()
           if m.startswith("mlspec.compiler") for line, value in _code_strings(path) if _names_a_cloud_uri(value)]
    assert bad == []


def test_the_uri_prefix_scan_sees_tables_hints_and_regexes(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('"""Reads s3:// URIs."""\nSCHEMES = ("data://", "gs://")\nHINT = "`azureml://` binds"\n'
                     'RX = r"^(arn:aws:(ssm):|https://[^/]+\\.vault\\.azure\\.net/)"\n'
                     'HELP = "mlspec apply x.mlspec --state s3://acme-state"\nOK = "data://fraud/"\n')
    assert sorted(v for _, v in _code_strings(probe) if _names_a_cloud_uri(v)) == sorted([
        "gs://", "`azureml://` binds", r"^(arn:aws:(ssm):|https://[^/]+\.vault\.azure\.net/)"])


def test_the_target_name_scan_sees_tables_and_skips_docstrings(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('"""Compiles for sagemaker."""\nTABLE = {"vertex": 1}\nHELP = "e.g. --target azureml"\n')
    assert [v for _, v in _code_strings(probe) if v in ("sagemaker", "vertex", "azureml")] == ["vertex"]


def test_compiler_imports_no_cloud_sdk_provider_or_target_package():
    bad = []
    for m, path in MODULES.items():
        if not m.startswith("mlspec.compiler"):
            continue
        for imp in imports(m, path):
            top = imp.split(".")[0]
            if top in CLOUD_SDKS or top.startswith(PULUMI_PROVIDERS) or (
                    imp.startswith("mlspec.targets") and imp not in ("mlspec.targets.base",)):
                bad.append(f"{m} imports {imp}")
    assert bad == []


def test_no_target_imports_another_target():
    bad = []
    for m, path in MODULES.items():
        if not m.startswith("mlspec.targets.") or m == "mlspec.targets.base":
            continue
        own = ".".join(m.split(".")[:3])
        for imp in imports(m, path):
            if imp.startswith("mlspec.targets.") and imp != "mlspec.targets.base" and \
                    not (imp == own or imp.startswith(own + ".")):
                bad.append(f"{m} imports {imp}")
    assert bad == []


def graph() -> dict[str, set[str]]:
    g: dict[str, set[str]] = {}
    for m, path in MODULES.items():
        g[m] = {i for i in imports(m, path) if i in MODULES and i != m}
    return g


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_in_compiler_and_targets():
    assert cycles(graph()) == []
