"""CLI wiring for `mlspec plan | apply | destroy | approve | reject | status`.

``add_parsers(subparsers)`` adds the subcommands; each parser sets ``func=<handler(args) -> int>``.
Exit codes (docs/cli-plan.md): 0 ok; 1 spec errors or unwaived findings / rejected plan;
2 usage errors; 3 internal errors; 4 apply/destroy preflight failed (nothing was touched);
5 the cloud or Pulumi operation failed; 6 the user declined the confirmation.
No Python traceback unless ``--debug``. Imports nothing heavy at module import time.
"""
from __future__ import annotations

import argparse
import sys
import traceback

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_PREFLIGHT, EXIT_OPERATION, EXIT_DECLINED = 4, 5, 6

TARGETS = ("sagemaker", "vertex", "azureml")


def _debug(args) -> bool:
    return bool(getattr(args, "debug", False))


def _internal(args, message: str, detail: str = "") -> int:
    if _debug(args) and detail:
        sys.stderr.write(detail.rstrip() + "\n")
    sys.stderr.write(f"mlspec: error[E901]: {message}\n"
                     "   = this is a bug in mlspec; rerun with --debug and report it\n")
    return EXIT_INTERNAL


def _print_plan_error(args, e) -> int:
    from mlspec.compiler.diagnostics import render_json, render_text

    if e.diagnostics:
        if getattr(args, "format", "table") == "json":
            sys.stderr.write(render_json(e.diagnostics))
        else:
            sys.stderr.write(render_text(e.diagnostics, e.sources))
    if e.exit_code == EXIT_INTERNAL:
        return _internal(args, str(e), e.detail)
    if not e.diagnostics:
        sys.stderr.write(f"mlspec: error: {e}\n")
    return e.exit_code


# --------------------------------------------------------------------------- plan


def cmd_plan(args) -> int:
    from mlspec.compiler.plan import plan

    try:
        result = plan.run_plan(args.spec, args.target, args.env, timeout=args.timeout)
    except plan.PlanError as e:
        return _print_plan_error(args, e)
    out = plan.render_json(result) if args.format == "json" else plan.render_table(result)
    sys.stdout.write(out)
    return result.exit_code


def _add_common(p, *, fmt: bool = True) -> None:
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    if fmt:
        p.add_argument("--format", choices=("table", "json"), default="table", help="output format")


def add_parsers(sub) -> None:
    """Add plan/apply/destroy/approve/reject/status to the `mlspec` subparsers."""
    p = sub.add_parser("plan", help="show what would be created and check the security baseline (offline)")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--target", required=True, choices=TARGETS)
    p.add_argument("--env", default=None, help="environment (default: the first the spec declares)")
    p.add_argument("--timeout", type=float, default=300, help=argparse.SUPPRESS)
    _add_common(p)
    p.set_defaults(func=cmd_plan)

    try:
        from mlspec.compiler.plan import deploy
    except ImportError:  # pragma: no cover - during development
        deploy = None
    if deploy is not None:
        deploy.add_parsers(sub, _add_common)
    try:
        from mlspec.compiler.plan import approve
    except ImportError:  # pragma: no cover
        approve = None
    if approve is not None:
        approve.add_parsers(sub, _add_common)


def run_guarded(args, fn) -> int:
    """Run a handler; unexpected exceptions become E901 (traceback only with --debug)."""
    try:
        return fn(args)
    except Exception as e:  # noqa: BLE001
        return _internal(args, f"{type(e).__name__}: {e}", traceback.format_exc())
