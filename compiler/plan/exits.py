"""Exit codes and error reporting shared by `mlspec plan | apply | destroy | approve | reject | status`.

Exit codes (docs/cli-plan.md): 0 ok; 1 spec errors or unwaived findings / rejected plan;
2 usage errors; 3 internal errors; 4 apply/destroy preflight failed (nothing was touched);
5 the cloud or Pulumi operation failed; 6 the user declined the confirmation.
No Python traceback unless ``--debug``. A leaf module: the command modules import it, it
imports none of them.
"""
from __future__ import annotations

import sys
import traceback

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_PREFLIGHT, EXIT_OPERATION, EXIT_DECLINED = 4, 5, 6


class TargetNames:
    """The registered target names as argparse ``choices``, read only when a choice is checked
    or an error lists them (building the parser for `mlspec compile` stays cheap: arguments
    using it set ``metavar``, else argparse would iterate the choices to format it)."""

    def _names(self) -> list[str]:
        from mlspec.targets.base import available_targets

        return list(available_targets())

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self):
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


TARGETS = TargetNames()
TARGET_HELP = "a registered target (`mlspec targets` lists them)"


def _debug(args) -> bool:
    return bool(getattr(args, "debug", False))


def internal(args, message: str, detail: str = "") -> int:
    if _debug(args) and detail:
        sys.stderr.write(detail.rstrip() + "\n")
    sys.stderr.write(f"mlspec: error[E901]: {message}\n"
                     "   = this is a bug in mlspec; rerun with --debug and report it\n")
    return EXIT_INTERNAL


def print_plan_error(args, e) -> int:
    from mlspec.compiler.diagnostics import render_json, render_text

    if e.diagnostics:
        if getattr(args, "format", "table") == "json":
            sys.stderr.write(render_json(e.diagnostics))
        else:
            sys.stderr.write(render_text(e.diagnostics, e.sources))
    if e.exit_code == EXIT_INTERNAL:
        return internal(args, str(e), e.detail)
    if not e.diagnostics:
        sys.stderr.write(f"mlspec: error: {e}\n")
    return e.exit_code


def run_guarded(args, fn) -> int:
    """Run a handler; unexpected exceptions become E901 (traceback only with --debug)."""
    try:
        return fn(args)
    except Exception as e:  # noqa: BLE001
        return internal(args, f"{type(e).__name__}: {e}", traceback.format_exc())
