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

from mlspec.compiler.plan.exits import (EXIT_DECLINED, EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK,  # noqa: F401
                                        EXIT_OPERATION, EXIT_PREFLIGHT, EXIT_USAGE, TARGET_HELP, TARGETS, run_guarded)
from mlspec.compiler.plan.exits import internal as _internal  # noqa: F401
from mlspec.compiler.plan.exits import print_plan_error as _print_plan_error


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
    p.add_argument("--target", required=True, choices=TARGETS, metavar="TARGET", help=TARGET_HELP)
    p.add_argument("--env", default=None, help="environment (default: the first the spec declares)")
    p.add_argument("--timeout", type=float, default=300, help=argparse.SUPPRESS)
    _add_common(p)
    p.set_defaults(func=cmd_plan)

    from mlspec.compiler.plan import approve, deploy

    deploy.add_parsers(sub, _add_common)
    approve.add_parsers(sub, _add_common)
