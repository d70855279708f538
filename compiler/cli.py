"""`mlspec` command line: check, fmt, compile, ir, targets (plus plan/apply/... from
mlspec.compiler.plan.commands when present).

Contract (docs/cli.md; tools and CI depend on it): diagnostics go to stderr as
`path:line:col: error[CODE]: summary` + source line + caret + hint, or as JSON with
`--format json`; exit codes 0 ok (warnings allowed), 1 spec errors, 2 usage errors,
3 internal errors. No Python traceback unless `--debug`.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from pathlib import Path

from mlspec.compiler import __version__

EXIT_OK, EXIT_SPEC, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors exit 2 with a short message
        self.print_usage(sys.stderr)
        sys.stderr.write(f"mlspec: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _print_diags(result_diags, sources, fmt: str) -> None:
    from mlspec.compiler.diagnostics import render_json, render_text

    if fmt == "json":
        sys.stderr.write(render_json(result_diags))
    elif result_diags:
        sys.stderr.write(render_text(result_diags, sources))


def cmd_check(args) -> int:
    from mlspec.compiler import api

    worst = EXIT_OK
    all_diags, sources = [], {}
    for path in args.specs:
        res = api.build_irs(path, validate=False)
        if res.ok:
            # every declared target's (or --target's) settings, verdicts and lowering, so a
            # refusal or substitution (E501-E505, W505) shows here, not at the first compile
            first = next(iter(res.irs.values()))
            names = [args.target] if args.target else list(first["targets"])
            if names:
                res = api.compile_spec(path, names, env=None, out=None)
        all_diags.extend(res.diagnostics)
        sources.update(res.sources)
        worst = max(worst, res.exit_code)
        if res.ok and args.format == "text":
            envs = ", ".join(res.irs)
            from mlspec.compiler.emit import shown

            sys.stdout.write(f"{shown(path)}: ok (environments: {envs})\n")
    _print_diags(all_diags, sources, args.format)
    return worst


def _check_out(out: str, specs: list[str]) -> None:
    """Refuse an output directory or spec names that would write where the user did not
    mean (usage errors, exit 2): an empty `--out`, `--out` naming a file, and, with several
    specs (each written to DIR/<stem>/), two specs with one stem or a stem that is not a
    plain folder name (`..` would write outside DIR)."""
    from mlspec.compiler import emit
    from mlspec.compiler.api import UsageError

    if out == "":
        raise UsageError("`--out` is empty; name a directory, e.g. `--out build`")
    try:
        emit.check_out_dir(Path(out))
    except emit.OutputError as exc:
        raise UsageError(str(exc)) from None
    stems: dict[str, str] = {}
    for path in specs:
        stem = Path(path).stem
        if stem in ("", ".", "..") or stem.startswith(".") or not stem.isprintable() or "\\" in stem:
            raise UsageError(f"`{emit.shown(path)}` cannot be compiled together with other specs: its name "
                             f"`{emit.shown(stem)}` is not a folder name (each spec is written to "
                             f"`{emit.shown(out)}/<name>/`); rename the file")
        if stem in stems:
            raise UsageError(f"`{emit.shown(stems[stem])}` and `{emit.shown(path)}` would both be written to "
                             f"`{emit.shown(Path(out) / stem)}/`; rename one of them or compile them separately")
        stems[stem] = path


def cmd_compile(args) -> int:
    from mlspec.compiler import api, emit, ir as irmod

    worst = EXIT_OK
    many = len(args.specs) > 1
    if not args.emit_ir:
        _check_out(args.out, args.specs if many else [])
    out = Path(args.out)
    all_diags, sources = [], {}
    for path in args.specs:
        dest = out / Path(path).stem if many else out
        res = api.compile_spec(path, [args.target], env=args.env, out=None if args.emit_ir else dest,
                               debug=args.debug)
        all_diags.extend(res.diagnostics)
        sources.update(res.sources)
        if args.debug and res.debug_traceback:
            sys.stderr.write(res.debug_traceback)
        worst = max(worst, res.exit_code)
        if args.emit_ir and res.ok:
            doc = res.irs if args.env is None and len(res.irs) > 1 else next(iter(res.irs.values()))
            sys.stdout.write(irmod.dumps(doc))
        elif res.ok or res.builds:
            for name, tb in res.builds.items():
                shown = emit.shown(dest / name) if tb.written_to else name
                sys.stdout.write(f"{emit.shown(path)}: wrote {shown}/ ({len(tb.files) + 1} files)\n")
    _print_diags(all_diags, sources, args.format)
    return worst


def cmd_ir(args) -> int:
    from mlspec.compiler import api, ir as irmod

    res = api.build_irs(args.spec, args.env)
    _print_diags(res.diagnostics, res.sources, args.format)
    if res.ok:
        doc = res.irs if args.env is None and len(res.irs) > 1 else next(iter(res.irs.values()))
        sys.stdout.write(irmod.dumps(doc))
    return res.exit_code


def cmd_targets(args) -> int:
    from mlspec.compiler.check.capabilities import matrix
    from mlspec.compiler.features import FEATURES
    from mlspec.targets.base import available_targets, get_target

    targets = [get_target(n) for n in available_targets()]
    m = matrix(targets)
    if args.json:
        doc = {"targets": [{"name": t.name, "display_name": t.display_name} for t in targets], "features": m}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return EXIT_OK
    names = [t.name for t in targets]
    width = max(len(f) for f in FEATURES) + 2
    sys.stdout.write("feature".ljust(width) + "".join(n.ljust(12) for n in names) + "\n")
    for feature, row in m.items():
        sys.stdout.write(feature.ljust(width) + "".join(row[n]["level"].ljust(12) for n in names) + "\n")
    sys.stdout.write("\nnative: the cloud does it; emulated: mlspec builds it from other parts (see the notes in "
                     "`mlspec targets --json`); unsupported: compile refuses with alternatives.\n")
    return EXIT_OK


def cmd_fmt(args) -> int:
    from mlspec.compiler import api, emit, fmt
    from mlspec.compiler.diagnostics import Sink

    worst = EXIT_OK
    changed = []
    for path in args.specs:
        module, src, diags, _ = api.load(path)
        sink = Sink()
        sink.extend(diags)
        if module is None or src is None or sink.has_errors:
            _print_diags(sink.sorted(), {src.path: src} if src else {}, args.format)
            worst = max(worst, EXIT_SPEC)
            continue
        text = fmt.format_module(module, src)
        if text != src.text:
            if args.check:  # show what would change
                import difflib

                sys.stdout.writelines(difflib.unified_diff(src.text.splitlines(True), text.splitlines(True),
                                                           emit.shown(path), f"{emit.shown(path)} (formatted)"))
            if not args.check:
                try:
                    fmt.write_back(path, text)
                except fmt.WriteError as exc:
                    sys.stderr.write(f"mlspec: error: {exc}\n")
                    worst = max(worst, EXIT_USAGE)
                    continue
            changed.append(path)
    for p in changed:
        sys.stdout.write(f"{'would reformat' if args.check else 'reformatted'} {emit.shown(p)}\n")
    if args.check and changed:
        worst = max(worst, EXIT_SPEC)
    return worst


def cmd_run(args) -> int:
    """`mlspec run`: execute the target's generated pipeline locally (compiler/run, docs/run.md)."""
    from mlspec.compiler.api import UsageError
    from mlspec.compiler.run import engine, run_spec

    data = {}
    for item in args.data or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"--data {item}: expected NAME=PATH")
        data[name] = path
    text = args.format == "text"

    def progress(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    if text:
        progress(f"mlspec run {args.spec} --target {args.target}")
    try:
        out = run_spec(args.spec, args.target, env=args.env, pipeline=args.pipeline, data=data,
                       workdir=args.workdir, python=args.python, progress=progress if text else None)
    except engine.RunError as exc:
        raise UsageError(str(exc)) from None
    _print_diags(out.result.diagnostics, out.result.sources, args.format)
    if out.report is None:
        return out.result.exit_code or EXIT_SPEC
    if text:
        sys.stdout.write(engine.render_summary(out.report))
    else:
        sys.stdout.write(engine.dumps(out.report))
    return out.report.exit_code




#: the compiler's own commands: parsing one of them needs no plan / review parsers (their modules
#: cost ~50 ms to import and build, a fifth of a typical compile)
CORE_COMMANDS = ("check", "fmt", "compile", "ir", "targets")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `mlspec` parser; with ``command`` one of :data:`CORE_COMMANDS`, only the core commands
    (what `main` builds to run that command; help and errors of other commands build them all)."""
    p = _Parser(prog="mlspec", description="Compile one declarative ML system spec to SageMaker, Vertex AI or "
                                           "Azure ML, with Pulumi infrastructure.")
    p.add_argument("--version", action="version", version=f"mlspec {__version__}")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks for internal errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def common(sp):
        sp.add_argument("--format", choices=("text", "json"), default="text", help="diagnostics format")
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    c = sub.add_parser("check", help="check specs; exit 0 valid, 1 spec errors")
    c.add_argument("specs", nargs="+", metavar="SPEC")
    c.add_argument("--target", default=None,
                   help="check one target (sagemaker, vertex, azureml) or all; default: the targets the spec declares")
    common(c)
    c.set_defaults(func=cmd_check)

    f = sub.add_parser("fmt", help="format specs canonically (comments kept)")
    f.add_argument("specs", nargs="+", metavar="SPEC")
    f.add_argument("--check", action="store_true", help="only report files that would change (exit 1)")
    common(f)
    f.set_defaults(func=cmd_fmt)

    k = sub.add_parser("compile", help="compile specs into DIR/<target>/ with a manifest")
    k.add_argument("specs", nargs="+", metavar="SPEC")
    k.add_argument("--target", required=True,
                   help="sagemaker, vertex, azureml, or all (the targets the spec declares; every target if none)")
    k.add_argument("--env", default=None, help="one environment (default: every environment)")
    k.add_argument("--out", default="build", help="output directory (default: build)")
    k.add_argument("--emit-ir", action="store_true", help="print the IR as JSON instead of writing a build")
    common(k)
    k.set_defaults(func=cmd_compile)

    i = sub.add_parser("ir", help="print the checked IR as JSON")
    i.add_argument("spec", metavar="SPEC")
    i.add_argument("--env", default=None)
    common(i)
    i.set_defaults(func=cmd_ir)

    r = sub.add_parser("run", help="run a target's generated pipeline locally (exit 0 when it succeeded)")
    r.add_argument("spec", metavar="SPEC")
    r.add_argument("--target", required=True, help="sagemaker, vertex or azureml")
    r.add_argument("--env", default=None, help="environment (default: the first declared)")
    r.add_argument("--pipeline", default=None, help="pipeline (required when the spec declares several)")
    r.add_argument("--data", action="append", metavar="NAME=PATH", help="local data for a dataset (repeatable); "
                   "default: the dataset's `sample`")
    r.add_argument("--workdir", default=None, help="keep the build and every step's files here "
                   "(default: a temporary directory, removed)")
    r.add_argument("--python", default=None, help="interpreter that runs the steps (default: this one)")
    r.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    r.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    r.set_defaults(func=cmd_run)

    t = sub.add_parser("targets", help="print the capability matrix of every target")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_targets)

    if command not in CORE_COMMANDS:
        from mlspec.compiler.plan import commands as plan_commands
        from mlspec.compiler import reviewcli  # diff, graph, init ci, lsp

        plan_commands.add_parsers(sub)
        reviewcli.add_parsers(sub)
    for name, sp in sub.choices.items():  # every command's --help ends with an example
        if name in EXAMPLES and not sp.epilog:
            sp.epilog = "examples:\n" + "\n".join(f"  {x}" for x in EXAMPLES[name])
            sp.formatter_class = argparse.RawDescriptionHelpFormatter
    return p


EXAMPLES = {
    "check": ["mlspec check specs/fraud_detection.mlspec", "mlspec check specs/*.mlspec --format json"],
    "fmt": ["mlspec fmt specs/fraud_detection.mlspec", "mlspec fmt --check specs/*.mlspec   # CI: show the diff, exit 1"],
    "compile": ["mlspec compile specs/fraud_detection.mlspec --target all --out build",
                "mlspec compile specs/fraud_detection.mlspec --target vertex --env prod --out build"],
    "ir": ["mlspec ir specs/fraud_detection.mlspec --env prod"],
    "targets": ["mlspec targets", "mlspec targets --json"],
    "run": ["mlspec run specs/fraud_detection.mlspec --target sagemaker --env prod",
            "mlspec run specs/fraud_detection.mlspec --target vertex --data transactions=my.parquet --format json"],
    "plan": ["mlspec plan specs/fraud_detection.mlspec --target sagemaker --env prod",
             "mlspec plan specs/fraud_detection.mlspec --target vertex --env prod --format json > plan.json"],
    "apply": ["mlspec apply specs/fraud_detection.mlspec --target sagemaker --env dev",
              "mlspec apply specs/fraud_detection.mlspec --target sagemaker --env prod --yes --state s3://acme-state"],
    "destroy": ["mlspec destroy specs/fraud_detection.mlspec --target sagemaker --env dev"],
    "approve": ["mlspec approve fraud_scorer 3 --target sagemaker --spec specs/fraud_detection.mlspec --env prod "
                "--reason \"f1 0.96 on the holdout\""],
    "reject": ["mlspec reject fraud_scorer 3 --target vertex --spec specs/fraud_detection.mlspec --env prod "
               "--reason \"bias report\""],
    "status": ["mlspec status --target sagemaker --spec specs/fraud_detection.mlspec --env prod"],
}


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    first = next((w for w in words if not w.startswith("-")), None)
    # `mlspec --debug compile ...`: the first word that is not an option names the command
    parser = build_parser(first if first in CORE_COMMANDS and "-h" not in words[:1] and "--help" not in words[:1]
                          else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    debug = getattr(args, "debug", False)
    from mlspec.compiler.api import UsageError

    # The front end and the targets allocate millions of small objects and free them by
    # reference counting; the cyclic collector finds almost nothing but walks the growing heap
    # again and again (about 40 % of compiling a 1,000-step spec). These commands end when
    # they are done, so it pauses while they run (and resumes for callers in the same process).
    pause_gc = args.command in CORE_COMMANDS and gc.isenabled()
    if pause_gc:
        gc.disable()
    try:
        return int(args.func(args))
    except UsageError as e:
        sys.stderr.write(f"mlspec: error: {e}\n")
        return EXIT_USAGE
    except RecursionError:  # input no limit anticipated: a refusal (E105), never a traceback
        if debug:
            import traceback

            traceback.print_exc()
        from mlspec.compiler.diagnostics import Diagnostic

        specs = getattr(args, "specs", None) or [getattr(args, "spec", None)]
        where = ", ".join(str(p) for p in specs if p)
        _print_diags([Diagnostic("E105", "the spec is nested or chained too deeply to process"
                                 + (f" ({where})" if where else ""),
                                 hint="simplify the deepest expression or structure")], {},
                     getattr(args, "format", "text"))
        return EXIT_SPEC
    except KeyboardInterrupt:
        sys.stderr.write("mlspec: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as e:  # never a traceback unless --debug
        if debug:
            import traceback

            traceback.print_exc()
        from mlspec.compiler.diagnostics import Diagnostic, render_text

        specs = getattr(args, "specs", None) or [getattr(args, "spec", None)]
        where = ", ".join(str(p) for p in specs if p)
        diag = Diagnostic("E901", f"internal compiler error: {type(e).__name__}: {e}",
                          detail=f"`mlspec {args.command}` failed" + (f" on {where}" if where else "")
                          + "; this is a bug in mlspec, not a problem with the spec",
                          hint="rerun with --debug for the traceback and report it")
        if getattr(args, "format", "text") == "json":
            from mlspec.compiler.diagnostics import render_json

            sys.stderr.write(render_json([diag]))
        else:
            sys.stderr.write(render_text([diag], {}))
        return EXIT_INTERNAL
    finally:
        if pause_gc:
            gc.enable()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
