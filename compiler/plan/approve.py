"""`mlspec approve | reject | status`: record a model-version decision natively, with who and why.

The mechanism is the target's: ``Target.approval_backend()`` (``targets/<cloud>/approvals.py``)
returns a backend (protocol in :mod:`mlspec.compiler.plan.decision`) that knows how to find the
model registry from the compiled stack data and how to record a decision (SageMaker model
package status, Vertex aliases and labels, Azure ML version tags ...). Cloud SDKs are imported
only inside the backend that needs them; tests replace :data:`BACKENDS` entries (or the SDK
factories of a backend) with fakes, or point boto3 at a moto server on 127.0.0.1.

MODEL is the spec's model name when ``--spec`` (and ``--env``) are given -- the compiled stack
data maps it to the cloud name and supplies region / project / workspace -- else the cloud name.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from mlspec.compiler.plan.decision import APPROVED, REJECTED, DecisionError, SettingsError, Where
from mlspec.compiler.plan.exits import (EXIT_FINDINGS, EXIT_OK, EXIT_OPERATION, EXIT_USAGE, TARGET_HELP, TARGETS,
                                        run_guarded)

#: target -> backend overriding the target's own (tests substitute fakes here)
BACKENDS: dict[str, Any] = {}


def backend_for(target: str) -> Any:
    """The approval backend of ``target`` (an override in :data:`BACKENDS` first)."""
    if target in BACKENDS:
        return BACKENDS[target]
    from mlspec.targets.base import get_target

    backend = get_target(target).approval_backend()
    if backend is None:
        raise SettingsError(f"target `{target}` has no approval mechanism")
    return backend


def _stack_data(spec: str, target: str, env: str) -> tuple[dict, dict]:
    """(stack data JSON, stack config) from compiling the spec for target/env into a temp dir."""
    import yaml

    from mlspec.compiler.plan import plan

    env, _ = plan.choose_environment(spec, env)
    with tempfile.TemporaryDirectory(prefix="mlspec-approve-") as tmp:
        _, tdir, _ = plan.compile_to(spec, target, env, Path(tmp))
        data = json.loads((tdir / "pulumi" / "stacks" / f"{env}.json").read_text())
        cfg = yaml.safe_load((tdir / "pulumi" / f"Pulumi.{env}.yaml").read_text()) or {}
    return data, cfg.get("config") or {}




def _own_backend(target: str) -> Any:
    """The target's own backend (not a test override): the source of ``needs``, ``locate``,
    ``complete``, ``cloud_error_modules`` and ``quiet_loggers`` an override does not define."""
    from mlspec.targets.base import get_target

    try:
        return get_target(target).approval_backend()
    except Exception:  # noqa: BLE001 - unknown target: argparse refused it already
        return None


def _part(target: str, name: str, default: Any) -> Any:
    for b in (BACKENDS.get(target), _own_backend(target)):
        if b is not None and hasattr(b, name):
            return getattr(b, name)
    return default


def resolve(args) -> Where:
    """Map MODEL (+ --spec/--env) and the connection flags to a :class:`Where`."""
    t = args.target
    backend_for(t)  # a target without an approval mechanism is a usage error
    w = Where(t, args.model or "", region=args.region, project=args.project, subscription=args.subscription,
              resource_group=args.resource_group, workspace=args.workspace)
    if getattr(args, "spec", None):
        if not args.env:
            raise SettingsError("--spec needs --env (the approval registry is per environment)")
        data, cfg = _stack_data(args.spec, t, args.env)
        _part(t, "locate", lambda *a: None)(w, data, cfg, args.model)
    _part(t, "complete", lambda w: None)(w)
    missing = [n for n in _part(t, "needs", ()) if not getattr(w, n)]
    if missing:
        raise SettingsError("missing " + ", ".join(f"--{n.replace('_', '-')}" for n in missing)
                            + " (or give --spec SPEC --env ENV to read them from the spec)")
    return w


# --------------------------------------------------------------------------- CLI


def _cloud_error(e: Exception, target: str) -> bool:
    mod = type(e).__module__
    return mod.startswith(("urllib3", "requests") + tuple(_part(target, "cloud_error_modules", ())))


_CREDENTIAL_ERRORS = ("NoCredentialsError", "PartialCredentialsError", "NoRegionError", "ClientAuthenticationError",
                      "CredentialUnavailableError", "DefaultCredentialsError", "RefreshError")


def _cloud_failure(command: str, target: str, e: Exception) -> int:
    """One message per failure; a missing or unusable login says how to fix it (once)."""
    if type(e).__name__ in _CREDENTIAL_ERRORS:
        from mlspec.targets.base import get_target

        _, what, fix = get_target(target).credentials() or (None, "credentials", "log in to the cloud")
        first = (str(e).strip().splitlines() or [""])[0][:200]
        sys.stderr.write(f"mlspec {command}: no usable {what} ({type(e).__name__}: {first})\n"
                         f"   = fix: {fix}\n")
    else:
        sys.stderr.write(f"mlspec {command}: the cloud call failed: {type(e).__name__}: {e}\n")
    return EXIT_OPERATION


class _QuietSDKs:
    """The vendor SDKs log each credential they tried as warnings before raising; the error we
    print says it once. The loggers are the backend's ``quiet_loggers``."""

    def __init__(self, target: str):
        self.names = tuple(_part(target, "quiet_loggers", ()))

    def __enter__(self):
        import logging

        self.saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in self.names]
        for lg, _ in self.saved:
            lg.setLevel(logging.CRITICAL)

    def __exit__(self, *exc):
        for lg, level in self.saved:
            lg.setLevel(level)


def _decide(decision: str):
    def handle(args) -> int:
        try:
            w = resolve(args)
            with _QuietSDKs(args.target):
                result = backend_for(args.target).decide(w, args.version, decision, args.reason or "", args.by)
        except SettingsError as e:
            sys.stderr.write(f"mlspec {args.command}: error: {e}\n")
            return EXIT_USAGE
        except DecisionError as e:
            sys.stderr.write(f"mlspec {args.command}: refused: {e}\n")
            return EXIT_FINDINGS
        except Exception as e:  # noqa: BLE001
            if not _cloud_error(e, args.target):
                raise
            return _cloud_failure(args.command, args.target, e)
        if args.format == "json":
            sys.stdout.write(json.dumps(result, indent=2, sort_keys=True) + "\n")
        else:
            sys.stdout.write(f"{result['model']} version {result['version']}: {result['status']} "
                             f"(by {result['by']})\n")
            for key, rel in sorted((result.get("release") or {}).items()):  # the release to deploy (Azure)
                sys.stdout.write(f"release of {key}: slot {rel['slot']}, previous {rel['previous'] or 'none'}; "
                                 "set it with:\n")
                for field, value in sorted(rel.items()):
                    if value is not None:
                        sys.stdout.write(f"  pulumi config set --path 'releases.{key}.{field}' '{value}'\n")
        return EXIT_OK

    return lambda args: run_guarded(args, handle)


def _status(args) -> int:
    try:
        w = resolve(args)
        with _QuietSDKs(args.target):
            rows = backend_for(args.target).pending(w)
    except SettingsError as e:
        sys.stderr.write(f"mlspec status: error: {e}\n")
        return EXIT_USAGE
    except Exception as e:  # noqa: BLE001
        if not _cloud_error(e, args.target):
            raise
        return _cloud_failure("status", args.target, e)
    if args.format == "json":
        sys.stdout.write(json.dumps({"target": args.target, "pending": rows}, indent=2, sort_keys=True) + "\n")
    elif not rows:
        sys.stdout.write("no model versions are pending approval\n")
    else:
        sys.stdout.write(f"{len(rows)} model version(s) pending approval ({args.target})\n")
        for r in rows:
            sys.stdout.write(f"  {r['model']}  version {r['version']}  {r['status']}  {r['created']}\n")
    return EXIT_OK


def _connection_flags(p) -> None:
    p.add_argument("--spec", default=None, help="read names and settings from this spec (with --env)")
    p.add_argument("--env", default=None, help="environment of --spec")
    p.add_argument("--region", default=None, help="AWS region / Vertex location")
    p.add_argument("--project", default=None, help="GCP project")
    p.add_argument("--subscription", default=None, help="Azure subscription id")
    p.add_argument("--resource-group", dest="resource_group", default=None, help="Azure resource group")
    p.add_argument("--workspace", default=None, help="Azure ML workspace")


def add_parsers(sub, add_common) -> None:
    for name, decision, text in (("approve", APPROVED, "approve a registered model version (who and why recorded)"),
                                 ("reject", REJECTED, "reject a registered model version (who and why recorded)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("model", metavar="MODEL", help="the spec's model name (with --spec) or the cloud name")
        p.add_argument("version", metavar="VERSION")
        p.add_argument("--target", required=True, choices=TARGETS, metavar="TARGET", help=TARGET_HELP)
        p.add_argument("--reason", required=(decision == REJECTED), default=None, help="why (recorded)")
        p.add_argument("--by", default=None, help="approver name to record next to the cloud identity")
        _connection_flags(p)
        add_common(p)
        p.set_defaults(func=_decide(decision))
    s = sub.add_parser("status", help="list model versions pending approval")
    s.add_argument("model", metavar="MODEL", nargs="?", default=None)
    s.add_argument("--target", required=True, choices=TARGETS, metavar="TARGET", help=TARGET_HELP)
    _connection_flags(s)
    add_common(s)
    s.set_defaults(func=lambda args: run_guarded(args, _status))

