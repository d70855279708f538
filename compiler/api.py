"""The compiler's public Python API: load, check, build IR, lower and write.

    from mlspec.compiler import api
    result = api.compile_spec("specs/fraud_detection.mlspec", ["sagemaker"], env=None, out=Path("build"))

Input: a spec path. Output: a Result holding diagnostics, the IR per environment and,
per target, the serialised artifacts (and where they were written). User problems are
diagnostics; only bugs raise. Imports no cloud SDK or Pulumi provider.
"""
from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
from pathlib import Path

from mlspec.compiler import __version__, emit, ir as irmod
from mlspec.compiler.check import build as buildmod, capabilities
from mlspec.compiler.check.values import did_you_mean
from mlspec.compiler.diagnostics import Diagnostic, Sink
from mlspec.compiler.parse import parse_bytes
from mlspec.compiler.source import SourceFile, Span
from mlspec.compiler import ast


#: environments in one spec (E414): see build_irs
MAX_ENVIRONMENTS = 50


class UsageError(Exception):
    """A problem with how mlspec was invoked (exit code 2), not with the spec."""


@dataclasses.dataclass
class TargetBuild:
    target: str
    files: list[tuple[str, str, bytes]]  # (path, kind, bytes)
    manifest: bytes
    notes: list[str]
    written_to: Path | None = None


@dataclasses.dataclass
class Result:
    path: str
    diagnostics: list[Diagnostic]
    sources: dict[str, SourceFile]
    irs: dict[str, dict] = dataclasses.field(default_factory=dict)
    builds: dict[str, TargetBuild] = dataclasses.field(default_factory=dict)
    spec_sha256: str = ""
    debug_traceback: str = ""

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def exit_code(self) -> int:
        if any(d.code.startswith("E9") for d in self.diagnostics):
            return 3
        return 0 if self.ok else 1


def _file_span(path: str) -> Span:
    return Span(path, 1, 1, 1, 1, 0, 0)


def read_spec(path: str) -> tuple[bytes | None, list[Diagnostic]]:
    p = Path(path)
    try:
        if p.is_dir():
            return None, [Diagnostic("E101", f"`{path}` is a directory, not a spec file", _file_span(path),
                                     hint=f"name a file, e.g. `{path.rstrip('/')}/<system>.mlspec`")]
        if p.exists() and not p.is_file():
            return None, [Diagnostic("E101", f"`{path}` is not a regular file", _file_span(path))]
        size = p.stat().st_size
        if size > 1024 * 1024:
            return None, [Diagnostic("E104", f"the spec is {size:,} bytes; the limit is {1024 * 1024:,} bytes",
                                     _file_span(path), hint="split the system into several specs")]
        return p.read_bytes(), []
    except FileNotFoundError:
        return None, [Diagnostic("E101", f"`{path}` does not exist", _file_span(path), hint="check the path")]
    except PermissionError:
        return None, [Diagnostic("E101", f"`{path}` cannot be read (permission denied)", _file_span(path))]
    except OSError as e:
        if e.errno == errno.ELOOP:
            return None, [Diagnostic("E101", f"`{path}` is a symbolic link loop", _file_span(path),
                                     hint="point the link at the real spec file")]
        return None, [Diagnostic("E101", f"`{path}` cannot be read ({e.strerror or e})", _file_span(path))]


def load(path: str, data: bytes | None = None) -> tuple[ast.Module | None, SourceFile | None, list[Diagnostic], str]:
    """Read and parse; returns (module, source, diagnostics, sha256 of the bytes). `data`: the
    spec's bytes when they are not (yet) on disk (an editor's unsaved buffer).

    The spec's file name is written into generated files (headers, requirements.txt,
    Pulumi project files): a name with a line break or another non-printable character is
    refused (E101), and every path in a message shows such characters escaped."""
    shown = emit.shown(path)
    name = os.path.basename(path)
    if not name.isprintable():
        bad = next(ch for ch in name if not ch.isprintable())
        return None, None, [Diagnostic(
            "E101", f"the spec's file name contains the non-printable character U+{ord(bad):04X}",
            _file_span(shown), detail="the name is written into generated files and status lines, where a line "
                                      "break or control character would add lines or rewrite the terminal",
            hint="rename the file to letters, digits, `_`, `-` and `.`")], ""
    from mlspec.compiler.check.policy import _TEMPLATE

    m = _TEMPLATE.search(name)
    if m:
        return None, None, [Diagnostic(
            "E101", f"the spec's file name contains `{m.group()}`, which the clouds' pipeline formats read as an "
                    "expression", _file_span(shown),
            detail="the name is written into generated pipeline definitions (Azure ML `${{...}}`, KFP `{{$...}}`)",
            hint="rename the file to letters, digits, `_`, `-` and `.`")], ""
    data, diags = (data, []) if data is not None else read_spec(path)
    if shown != path:
        diags = [dataclasses.replace(d, span=_file_span(shown)) if d.span else d for d in diags]
    if data is None:
        return None, None, diags, ""
    module, src, more = parse_bytes(data, shown)
    return module, src, diags + more, hashlib.sha256(data).hexdigest()


def build_irs(path: str, env: str | None = None, validate: bool = True, data: bytes | None = None) -> Result:
    """Parse, check and build the IR of every environment (or just `env`).

    `validate` checks each IR against ir.schema.json (compile and `ir` always do; `check`
    skips it, since the IR is not its output). `data`: the spec's bytes instead of reading `path`."""
    module, src, diags, digest = load(path, data)
    sources = {src.path: src} if src else {}
    res = Result(path, [], sources, spec_sha256=digest)
    sink = Sink()
    sink.extend(diags)
    if module is None or src is None:
        res.diagnostics = sink.sorted()
        return res
    envs = buildmod.environments(module)
    if len(envs) > MAX_ENVIRONMENTS:
        blocks = [it for it in module.system.items if isinstance(it, ast.Block) and it.kind == "environment"]
        sink.error("E414", f"the spec declares {len(envs):,} environments; the limit is {MAX_ENVIRONMENTS}",
                   blocks[MAX_ENVIRONMENTS].kind_span,
                   detail="every environment deploys a full copy of the system (on SageMaker five buckets, roles, "
                          "pipelines, endpoints and monitors each) and is checked and compiled in full, so thousands "
                          "would take minutes and gigabytes to build what no account's quotas would hold",
                   hint="keep the environments you deploy (typically dev, staging, prod); use separate specs "
                        "for separate systems")
        res.diagnostics = sink.sorted()
        return res
    if env is not None and env not in envs:
        hint = did_you_mean(env, envs)
        raise UsageError(f"the spec declares no environment `{env}`"
                         + (f"; {hint}" if hint else f"; it declares {', '.join(envs)}"))
    root = Path(path).resolve().parent
    display = os.path.basename(path)
    spans_all: dict[str, Span] = {}
    for e in envs:
        ir, spans = buildmod.build(module, src, root, e, sink, spec_path=display, spec_sha256=digest)
        spans_all.update(spans)
        if ir is not None and (env is None or e == env):
            err = irmod.validation_error(ir) if validate else None
            if err:
                sink.error("E902", f"the IR for environment `{e}` violates ir.schema.json {err}", None,
                           detail="this is a bug in mlspec; please report it with the spec")
                continue
            res.irs[e] = ir
    res._spans = spans_all  # type: ignore[attr-defined]
    if res.irs and not sink.has_errors:
        # the settings of every `target` block the spec declares, so `check` catches a typo in
        # one before a compile for that cloud does (settings are data; no lowering code runs)
        from mlspec.targets.base import get_target

        first = next(iter(res.irs.values()))
        for name in first["targets"]:
            _check_settings(get_target(name), first, spans_all, sink)
    res.diagnostics = sink.sorted()
    if not res.ok:
        res.irs = {}
    return res


def declared_targets(ir: dict) -> list[str]:
    """The clouds a spec is for: the `target` blocks it declares, else every available target."""
    from mlspec.targets.base import available_targets

    known = list(available_targets())
    declared = [t for t in known if t in ir["targets"]]  # in the registry's order, like `all` always was
    return declared or known


def resolve_targets(names: list[str], declared: list[str] | None = None) -> list:
    """Target objects for `names`; `all` means `declared` (the spec's own `target` blocks)
    when given, else every available target."""
    from mlspec.targets.base import available_targets, get_target

    if names == ["all"] or "all" in names:
        names = list(declared) if declared else list(available_targets())
    out = []
    for n in names:
        try:
            out.append(get_target(n))
        except KeyError as e:
            raise UsageError(str(e.args[0])) from None
    return out


def _check_settings(target, ir: dict, spans: dict[str, Span], sink: Sink) -> None:
    import re

    settings = ir["targets"].get(target.name)
    span = spans.get(f"target.{target.name}", spans.get("system"))
    if settings is None:
        req = [k for k, s in target.settings.items() if s.required]
        if req:
            example = "  ".join(f'{k} = "{target.settings[k].example or "..."}"' for k in req)
            sink.error("E502", f"compiling for {target.display_name} needs a `target {target.name}` block", span,
                       hint=f"add `target {target.name} {{ {example} }}`")
        return
    for k, s in target.settings.items():
        if s.required and k not in settings:
            sink.error("E502", f"`target {target.name}` needs `{k}`", span,
                       hint=f'add `{k} = "{s.example or "..."}"`' + (f" ({s.description})" if s.description else ""))
    for k, v in settings.items():
        s = target.settings.get(k)
        kspan = spans.get(f"target.{target.name}.{k}", span)
        if s is None:
            sink.error("E502", f"`{k}` is not a setting of target `{target.name}`", kspan,
                       hint=did_you_mean(k, target.settings) or
                       "settings: " + ", ".join(f"`{x}`" for x in target.settings))
            continue
        if s.pattern and isinstance(v, str) and not re.fullmatch(s.pattern, v):
            sink.error("E502", f"`{k} = \"{v}\"` is not valid for target `{target.name}`", kspan,
                       hint=f"must match `{s.pattern}`" + (f", e.g. `{s.example}`" if s.example else ""))
        kinds = {"string": str, "number": (int, float), "bool": bool, "list": list}
        want = kinds.get(s.kind)
        if want and not isinstance(v, want):
            sink.error("E502", f"`{k}` of target `{target.name}` expects a {s.kind}", kspan)


def _report(target, irs: dict[str, dict], notes: list[str], spec_name: str, picture: list[str] | None = None) -> str:
    lines = [f"# mlspec compile report: {spec_name} -> {target.display_name}", "",
             "Generated by mlspec; do not edit.", ""]
    for env, ir in irs.items():
        lines.append(f"## Environment `{env}`")
        lines.append("")
        lines.append(f"- approval: {ir['environment']['approval']}; scale: {ir['environment']['scale']:g}; "
                     f"production: {'yes' if ir['environment']['production'] else 'no'}")
        if ir["waivers"]:
            lines.append("- waived security rules:")
            for w in ir["waivers"]:
                lines.append(f"  - {w['rule']}: {w['reason']} (owner {w['owner']}, until {w['until']})")
        else:
            lines.append("- waived security rules: none")
        lines.append("")
    lines.append("## How features were realised")
    lines.append("")
    for n in notes or ["Every feature is native to this target."]:
        lines.append(f"- {n}")
    lines += picture if picture is not None else _picture(irs)
    return "\n".join(lines) + "\n"


def _picture(irs: dict[str, dict]) -> list[str]:
    """The report's picture of the system (the same for every target of one compile)."""
    from mlspec.compiler import graph  # the same picture as `mlspec graph` (Mermaid renders on code hosts)

    env = graph.choose_env(irs)
    return ["", f"## The system (environment `{env}`)", "", "```mermaid",
            graph.mermaid(graph.from_ir(irs[env])).rstrip("\n"), "```"]


def _already_written(res: Result) -> str:
    done = [tb.written_to for tb in res.builds.values() if tb.written_to is not None]
    if not done:
        return ""
    return "; already replaced with the new build: " + ", ".join(f"`{emit.shown(p)}`" for p in done)


def compile_spec(path: str, target_names: list[str], env: str | None = None, out: Path | None = None,
                 debug: bool = False) -> Result:
    """Compile for each target; writes DIR/<target>/ when `out` is given and the target succeeded.

    `all` compiles the targets the spec declares (`target` blocks), or every target when it
    declares none. With `out=None` nothing is written (what `mlspec check` runs)."""
    resolve_targets([n for n in target_names if n != "all"])  # an unknown name is a usage error first
    res = build_irs(path, env)
    if not res.ok:
        return res
    targets = resolve_targets(target_names, declared_targets(next(iter(res.irs.values()))))
    if out is not None:  # refuse to clobber what mlspec does not own before writing anything
        for target in targets:
            try:
                emit.check_destination(out, target.name)
            except emit.OutputError as exc:
                raise UsageError(str(exc)) from None
    spans: dict[str, Span] = getattr(res, "_spans", {})
    sink = Sink()
    sink.extend(res.diagnostics)
    first = next(iter(res.irs.values()))
    root = Path(path).resolve().parent
    code_files: list[tuple[str, str, bytes]] = []
    for f in first["code"]["files"]:
        data = (root / f["path"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != f["sha256"]:
            sink.error("E404", f"`{f['path']}` changed while mlspec was reading it", None)
        code_files.append((f"code/{f['path']}", "source-script", data))
    from mlspec.targets.base import LowerContext

    picture: list[str] | None = None
    for target in targets:
        tsink = Sink()
        notes: list[str] = []
        for e, ir in res.irs.items():
            _check_settings(target, ir, spans, tsink)
            diags, cap_notes = capabilities.check(ir, target, spans)
            tsink.extend(diags)
            notes.extend(n for n in cap_notes if n not in notes)
        if tsink.has_errors:
            sink.extend(tsink.sorted())
            continue
        ctx = LowerContext(spec_path=os.path.basename(path), spec_sha256=res.spec_sha256, project_root_rel="code",
                           compiler_version=__version__,
                           code_files={p[len("code/"):]: data for p, _kind, data in code_files})
        try:
            lowering = target.lower(list(res.irs.values()), ctx)
            for d in lowering.diagnostics:
                sink.error(d.code, d.summary, spans.get(d.ir_id), hint=d.hint) if d.severity == "error" else \
                    sink.add(Diagnostic(d.code, d.summary, spans.get(d.ir_id), d.hint, severity=d.severity))
            if any(d.severity == "error" for d in lowering.diagnostics):
                continue
            files = [(emit.check_relpath(a.path), a.kind, emit.serialise(a.content, a.fmt))
                     for a in lowering.artifacts]
        except Exception as exc:  # a target bug must not crash the CLI
            import traceback

            res.debug_traceback += traceback.format_exc()
            sink.error("E903", f"target `{target.name}` failed while lowering: {type(exc).__name__}: {exc}", None,
                       detail="this is a bug in mlspec; rerun with --debug for the traceback and report it")
            continue
        notes.extend(n for n in lowering.notes if n not in notes)
        if picture is None:  # drawn once for all targets (a 1,000-step system is a large picture)
            picture = _picture(res.irs)
        report = _report(target, res.irs, notes, os.path.basename(path), picture).encode()
        files = files + list(code_files) + [("report.md", "compile-report", report)]
        env_label = env if env is not None else (next(iter(res.irs)) if len(res.irs) == 1 else "all")
        man = emit.manifest(files, spec_sha256=res.spec_sha256, compiler_version=__version__, target=target.name,
                            environment=env_label)
        tb = TargetBuild(target.name, files, man, notes)
        if out is not None:
            try:
                tb.written_to = emit.write_build(out, target.name, files, man)
            except emit.EmitError as exc:
                sink.error("E903", f"target `{target.name}` produced an unwritable build: {exc}", None)
                continue
            except emit.OutputError as exc:
                raise UsageError(str(exc) + _already_written(res)) from None
            except OSError as exc:
                final = out / target.name
                kept = (f"`{emit.shown(final)}` still holds the previous build, unchanged" if final.exists()
                        else f"no `{emit.shown(final)}` was written")
                raise UsageError(f"cannot write the {target.display_name} build into `{emit.shown(out)}`: "
                                 f"{exc.strerror or exc}; {kept}" + _already_written(res)) from None
        res.builds[target.name] = tb
    res.diagnostics = sink.sorted()
    return res
