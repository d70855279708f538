"""Target contract: what a cloud target declares and returns.

Input: the checked, environment-specialised IR (plain dicts, see docs/ir.md).
Output: a :class:`Lowering` -- artifact models (paths, kinds, in-memory content) plus
report notes. A target never opens files and never imports a cloud SDK or Pulumi
provider at module import time (``mlspec compile`` must stay fast); the writer in
``mlspec.compiler.emit`` serialises and writes what targets return.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
from typing import Any, Callable, Mapping, Sequence

NATIVE = "native"
EMULATED = "emulated"
UNSUPPORTED = "unsupported"


@dataclasses.dataclass(frozen=True)
class Verdict:
    """How a target realises one IR feature.

    level: native | emulated | unsupported.
    note: for emulated, how (shown in the compile report); for native, the vendor mechanism.
    alternatives: for unsupported, what the user can write instead (shown in the diagnostic).
    doc: the vendor documentation URL the verdict relies on.
    """

    level: str
    note: str = ""
    alternatives: tuple[str, ...] = ()
    doc: str = ""

    def __post_init__(self) -> None:
        if self.level not in (NATIVE, EMULATED, UNSUPPORTED):
            raise ValueError(f"bad verdict level {self.level!r}")


def native(note: str = "", doc: str = "") -> Verdict:
    return Verdict(NATIVE, note, (), doc)


def emulated(note: str, doc: str = "") -> Verdict:
    return Verdict(EMULATED, note, (), doc)


def unsupported(*alternatives: str, note: str = "", doc: str = "") -> Verdict:
    return Verdict(UNSUPPORTED, note, tuple(alternatives), doc)


@dataclasses.dataclass(frozen=True)
class Setting:
    """One key a `target <name> { ... }` block accepts."""

    kind: str  # "string" | "number" | "bool" | "list"
    required: bool = False
    description: str = ""
    pattern: str | None = None  # regex a string value must match (full match)
    example: str = ""


@dataclasses.dataclass(frozen=True)
class Artifact:
    """One output file, relative to DIR/<target>/.

    content: str (written as UTF-8 text, LF), bytes, or JSON-compatible data.
    fmt: how to serialise non-text content: "json" (indent 2, keys in insertion order,
    final newline) or "yaml" (block style, insertion order, final newline).
    """

    path: str
    kind: str
    content: Any
    fmt: str = "text"


@dataclasses.dataclass(frozen=True)
class Diagnostic:
    """A lowering-time problem, pointing at an IR id (the front end maps it to a span)."""

    code: str
    summary: str
    ir_id: str
    hint: str = ""
    severity: str = "error"


@dataclasses.dataclass
class Lowering:
    artifacts: list[Artifact] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    diagnostics: list[Diagnostic] = dataclasses.field(default_factory=list)

    def add(self, path: str, kind: str, content: Any, fmt: str = "text") -> None:
        self.artifacts.append(Artifact(path, kind, content, fmt))


class Target:
    """Base class of a cloud target: everything mlspec knows about one cloud is reached from here.

    Subclasses set ``name`` (lower-case, the CLI value), ``display_name``,
    ``capabilities`` (a Verdict for every feature in mlspec.compiler.features.FEATURES),
    ``settings`` (the keys of its `target` block) and implement :meth:`lower` (compile).

    `mlspec plan | apply | approve | reject | status` reach the cloud only through the hooks
    below (docs/architecture.md, "Target hooks"). Each returns data or objects defined by the
    cloud-neutral engine in ``mlspec.compiler.plan``; each imports its module lazily, when
    called, so listing or compiling targets stays light. The defaults mean "nothing to add".
    """

    name: str = ""
    display_name: str = ""
    capabilities: Mapping[str, Verdict] = {}
    settings: Mapping[str, Setting] = {}
    #: the cloud key of the security baseline (rules' ``cloud``, docs/security.md sections); default: name
    cloud: str = ""
    #: the docs/security.md section title of this cloud's rules
    cloud_title: str = ""
    #: cloud-bound locations only this target reads: URI prefix -> what it is (E504 refuses
    #: them when compiling for another target)
    uri_schemes: Mapping[str, str] = {}
    #: customer-managed key references of this cloud's key service: (regex matched at the
    #: start, what it is) (E504 refuses them as `kms_key` of another target)
    key_forms: Sequence[tuple[str, str]] = ()
    #: prefixes of the MLflow tracking servers this cloud manages (``tracking { uri = ... }``
    #: accepts them besides an https URL)
    tracking_uri_forms: Sequence[str] = ()
    #: values that reference this cloud's secret store (or a registered asset) instead of holding
    #: a literal: regexes matched at the start (the secret-literal rules skip them)
    reference_forms: Sequence[str] = ()

    def lower(self, irs: Sequence[dict], ctx: "LowerContext") -> Lowering:  # pragma: no cover - abstract
        """Lower one IR per environment (declaration order) into artifacts."""
        raise NotImplementedError

    def rules(self) -> Sequence[Any]:
        """The baseline rules of this cloud: ``mlspec.compiler.plan.graph.Rule`` objects, registered
        with ``mlspec.compiler.plan.graph.rule`` (importing the module registers them)."""
        return ()

    def baseline_rules(self) -> Mapping[str, tuple[bool, str]]:
        """Rule ids this target adds to the catalogue of ``mlspec.compiler.baseline``:
        ``{id: (waivable, title)}`` (ids already there need not be repeated)."""
        return {}

    def cloud_profile(self) -> Any:
        """``mlspec.compiler.plan.graph.CloudProfile``: what the cross-cloud rules must know about
        this cloud (data-at-rest and key types, identities, images, log types ...), or None."""
        return None

    def mock_outputs(self) -> Any:
        """``mlspec.compiler.plan.mocks.MockOutputs``: fabricated outputs of this cloud's Pulumi
        providers under the mock runtime (`mlspec plan`), or None."""
        return None

    def resource_concerns(self) -> Sequence[tuple[str, Any]]:
        """(type-token prefix, concern or ``(resource) -> concern``) grouping `mlspec plan`'s table."""
        return ()

    def approval_backend(self) -> Any:
        """The backend of `mlspec approve | reject | status` (protocol in
        ``mlspec.compiler.plan.decision``), or None when the target has no approval mechanism."""
        return None

    #: program-check names of :meth:`program_checks` that fail `mlspec plan`
    blocking_checks: tuple[str, ...] = ()

    def program_checks(self, resources: Sequence[dict], build: Any = None) -> tuple[list[dict], list[str]]:
        """What the cloud would reject at deploy or run time, found in the resources `mlspec plan`
        captured and in the build (``build``: the ``DIR/<target>`` path): (checks
        ``{"check", "where"}``, notes about checks that could not run)."""
        return [], []

    def security_sections(self) -> Sequence[str]:
        """Markdown sections appended to docs/security.md (threat models the target states and tests):
        by default the ``threat_model.md`` shipped in the target's package, if it has one."""
        import sys
        from importlib import resources

        module = sys.modules.get(type(self).__module__)
        package = getattr(module, "__package__", None)
        if not package:
            return ()
        doc = resources.files(package).joinpath("threat_model.md")
        return (doc.read_text(encoding="utf-8"),) if doc.is_file() else ()

    def deploy_hooks(self) -> Any:
        """Steps `mlspec apply` runs around the Pulumi update, or None: an object with
        ``before_up(build, env, stack, project, say) -> bool`` (False: run ``after_up`` once the
        update succeeded) and ``after_up(build, env, stack, project, say) -> dict | None``."""
        return None

    def credentials(self) -> tuple[Callable[[dict], bool], str, str] | None:
        """(``check(environ) -> bool``, what, how to fix) for `mlspec apply`'s preflight, or None."""
        return None

    def ci_auth(self) -> "CiAuth | None":
        """How a CI job signs in to this cloud before `mlspec apply` (`mlspec init ci`), or None."""
        return None

    # --- `mlspec run` hook (issue 11) -------------------------------------------------
    def runner(self) -> "Callable[[Any], Any] | None":
        """The local executor of this target's generated pipelines, or None.

        Returns a callable taking a ``mlspec.compiler.run.engine.RunContext`` and returning
        a ``RunReport``; it interprets the artifact this target wrote (never the IR).
        Imported lazily: `mlspec compile` never loads an executor.
        """
        return None


@dataclasses.dataclass(frozen=True)
class CiAuth:
    """A cloud's sign-in for the CI workflows `mlspec init ci` writes (OIDC, no stored keys).

    Text fields are inserted verbatim into the provider's workflow, already indented for
    their place (GitHub: 6 spaces for job env entries and steps; GitLab: script items at 4)."""

    name: str  #: the cloud as people call it ("AWS")
    #: GitHub: repository or environment secrets -> what each holds (listed in the header)
    github_secrets: Mapping[str, str]
    github_env: str = ""  #: lines of the apply job's `env:`
    github_steps: str = ""  #: steps that sign in, before `mlspec apply`
    gitlab_variables: str = ""  #: header comment lines naming the CI/CD variables it reads
    gitlab_id_tokens: Mapping[str, str] = dataclasses.field(default_factory=dict)  #: variable -> audience
    gitlab_script: str = ""  #: script lines before `mlspec apply`


@dataclasses.dataclass(frozen=True)
class LowerContext:
    """What a target may know besides the IR: nothing machine-specific.

    spec_path: the spec path relative to the project root (for generated headers).
    project_root_rel: how to reach the project root (where scripts live) from DIR/<target>/,
      used by targets whose artifacts must reference source scripts (e.g. Azure ML `code:`).
    compiler_version: for the manifest only; never write it into artifacts.
    code_files: the bytes of the spec's code files (IR `code.files` paths), as the front end read
      them; e.g. a `requirements` file a target must turn into an image's package list.
    """

    spec_path: str
    spec_sha256: str
    project_root_rel: str
    compiler_version: str
    code_files: Mapping[str, bytes] = dataclasses.field(default_factory=dict)


ENTRY_POINT_GROUP = "mlspec.targets"
_BUILTIN = {
    "sagemaker": "mlspec.targets.sagemaker:SageMaker",
    "vertex": "mlspec.targets.vertex:Vertex",
    "azureml": "mlspec.targets.azureml:AzureML",
}


def _load(spec: str) -> type[Target]:
    import importlib

    mod, _, attr = spec.partition(":")
    return getattr(importlib.import_module(mod), attr)


def scan_entry_points(group: str, path: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(name, value) of every entry point of ``group``, read from the ``entry_points.txt`` of
    the distributions (``*.dist-info``, ``*.egg-info``) in the folders of ``sys.path``, in
    ``importlib.metadata``'s order (path order; the first distribution of a name wins).

    The same metadata ``importlib.metadata.entry_points(group=...)`` reads, without importing it
    (with its zipfile, email and csv imports it costs more than the rest of listing the targets);
    tests/unit/test_fourth_target.py checks both agree."""
    import os
    import sys

    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for entry in (sys.path if path is None else path):
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for n in names:
            if not n.endswith((".dist-info", ".egg-info")):
                continue
            dist = n.rpartition(".")[0].split("-")[0].lower().replace(".", "_").replace("-", "_")
            if dist in seen:
                continue
            seen.add(dist)
            try:
                with open(os.path.join(entry or ".", n, "entry_points.txt"), encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                continue
            section = None
            for line in text.splitlines():
                line = line.strip()
                if not line or line[0] in "#;":
                    continue
                if line.startswith("[") and line.endswith("]"):
                    section = line[1:-1].strip()
                elif section == group and "=" in line:
                    name, _, value = line.partition("=")
                    out.append((name.strip(), value.strip()))
    return out


@functools.lru_cache(maxsize=1)
def _registered() -> tuple[tuple[str, str], ...]:
    found = dict(_BUILTIN)
    try:
        for name, value in scan_entry_points(ENTRY_POINT_GROUP):
            found[name] = value
    except Exception:  # pragma: no cover - broken metadata must not break compile
        pass
    return tuple(sorted(found.items()))


def available_targets() -> dict[str, str]:
    """name -> "module:Class" for every registered target (entry points, then built-ins)."""
    return dict(_registered())


def get_target(name: str) -> Target:
    """Instantiate a registered target; raises KeyError with a suggestion for a typo."""
    targets = available_targets()
    if name not in targets:
        close = difflib.get_close_matches(name, list(targets), n=1, cutoff=0.6)
        raise KeyError(f"unknown target `{name}`" + (f"; did you mean `{close[0]}`?" if close else ""))
    return _load(targets[name])()


@functools.lru_cache(maxsize=1)
def registered_targets() -> tuple[Target, ...]:
    """An instance of every registered target: the built-in ones first, in their fixed order,
    then the others by name. The core reads cloud-bound forms (``uri_schemes``,
    ``tracking_uri_forms``, ``reference_forms``) from here, in this order, instead of naming
    clouds itself; only the targets' ``__init__`` modules are imported (no SDK, no lowering code)."""
    targets = available_targets()
    order = [n for n in _BUILTIN if n in targets] + sorted(n for n in targets if n not in _BUILTIN)
    return tuple(get_target(n) for n in order)


def pct(value: float) -> int | float:
    """Render a percentage without a spurious .0 (5.0 -> 5, 2.5 -> 2.5)."""
    return int(value) if float(value).is_integer() else value


def refs(ir: dict, kind: str) -> dict[str, dict]:
    """Index an IR collection by id: refs(ir, "endpoints")["endpoint.scoring"]."""
    return {item["id"]: item for item in ir.get(kind) or []}


def waived(ir: dict, rule: str) -> bool:
    """True when the (validated, unexpired) IR waives `rule`."""
    return any(w["rule"] == rule for w in ir.get("waivers") or [])


def local_name(ref: str) -> str:
    """`step.train.outputs.model` -> `train`; `model.fraud_scorer` -> `fraud_scorer`."""
    return ref.split(".")[1]


Callback = Callable[[dict], Any]
