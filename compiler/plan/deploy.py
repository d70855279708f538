"""`mlspec apply` and `mlspec destroy`: drive the generated Pulumi program with the Automation API.

Flow (apply): preflight what needs no build (Pulumi CLI present and new enough, cloud credentials,
state passphrase) -> compile into a staging build ``<out>/.staging/<target>/`` (atomic writer)
-> plan it under the mock runtime (unwaived findings and missing secrets fail the preflight)
-> open the stack (``pulumi.automation``, LocalWorkspace on the build's ``pulumi/`` dir, local file
backend ``file://<state>/<target>`` by default, stack = environment, project = the program's)
-> preview -> confirm (production: ``--yes`` or a typed ``yes``) -> up -> promote the staging build
to ``<out>/<target>/``. A failure leaves the previous ``<out>/<target>/`` intact and Pulumi's
state as the engine left it (the engine checkpoints every step). ``destroy`` runs the same
preflight (without the findings gate), previews the deletion, confirms, destroys.

Nothing here is imported by ``mlspec compile``; ``pulumi.automation`` is imported only when a
stack is opened. The :class:`Automation` seam is where tests substitute a fake (no CLI here).
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Protocol

from mlspec.compiler.plan.exits import (EXIT_DECLINED, EXIT_FINDINGS, EXIT_OK, EXIT_OPERATION, EXIT_PREFLIGHT,
                                        TARGET_HELP, TARGETS, run_guarded)
from mlspec.compiler.plan.exits import print_plan_error as _print_plan_error
from mlspec.compiler.plan.plan import secret_env_var  # noqa: F401 (re-exported: where apply reads secrets)

#: oldest Pulumi CLI accepted (the Python SDK mlspec pins is pulumi>=3.200)
MIN_CLI_VERSION = (3, 200, 0)
PULUMI_INSTALL = "https://www.pulumi.com/docs/iac/download-install/"
DEFAULT_STATE = ".mlspec/state"


# --------------------------------------------------------------------------- preflight


@dataclasses.dataclass(frozen=True)
class Problem:
    check: str
    message: str
    fix: str

    def render(self) -> str:
        return f"  x {self.check}: {self.message}\n      fix: {self.fix}"


def _version(text: str) -> tuple[int, int, int] | None:
    m = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text or "")
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def check_cli(which: Callable[[str], str | None] = shutil.which,
              run: Callable[..., Any] = subprocess.run) -> list[Problem]:
    """The Pulumi CLI is on PATH and at least MIN_CLI_VERSION."""
    want = ".".join(map(str, MIN_CLI_VERSION))
    path = which("pulumi")
    if not path:
        return [Problem("pulumi-cli", "the Pulumi CLI (`pulumi`) is not on PATH; apply/destroy drive it through "
                                      "Pulumi's Automation API",
                        f"install Pulumi >= {want} ({PULUMI_INSTALL}), e.g. `curl -fsSL https://get.pulumi.com | sh`, "
                        "then open a new shell; `mlspec plan` works without it")]
    try:
        out = run([path, "version"], capture_output=True, text=True, timeout=30)
        got = _version(out.stdout)
    except (OSError, subprocess.SubprocessError) as e:
        return [Problem("pulumi-cli", f"`pulumi version` failed: {e}", f"reinstall Pulumi >= {want}")]
    if got is None:
        return [Problem("pulumi-cli", f"cannot read the version from `pulumi version` ({out.stdout.strip()!r})",
                        f"reinstall Pulumi >= {want}")]
    if got < MIN_CLI_VERSION:
        return [Problem("pulumi-cli", f"Pulumi CLI {'.'.join(map(str, got))} is too old",
                        f"upgrade to >= {want}: `pulumi self-upgrade` or {PULUMI_INSTALL}")]
    return []


def check_credentials(target: str, env: dict | None = None) -> list[Problem]:
    """Looks only at environment variables and credential files: never calls a metadata server."""
    from mlspec.targets.base import get_target

    env = dict(os.environ if env is None else env)
    creds = get_target(target).credentials()
    if creds is None:
        return []
    fn, what, fix = creds
    return [] if fn(env) else [Problem("credentials", f"no {what} found", fix)]


def check_state(state_url: str, env: dict | None = None) -> list[Problem]:
    env = dict(os.environ if env is None else env)
    if state_url.startswith("file://") and not (env.get("PULUMI_CONFIG_PASSPHRASE") is not None
                                                or env.get("PULUMI_CONFIG_PASSPHRASE_FILE")):
        return [Problem("state-passphrase", "the local state backend encrypts stack secrets with a passphrase, "
                                            "and none is set",
                        "export PULUMI_CONFIG_PASSPHRASE=<passphrase> (or PULUMI_CONFIG_PASSPHRASE_FILE=<file>); "
                        "keep it: the stack's secrets need it on every apply")]
    return []


def check_secrets(missing: list[str], env: dict | None = None) -> tuple[dict[str, str], list[Problem]]:
    """(secret config to set on the stack, problems for those not provided)."""
    env = dict(os.environ if env is None else env)
    found, problems = {}, []
    for key in missing:
        var = secret_env_var(key)
        if env.get(var):
            found[key] = env[var]
        else:
            problems.append(Problem("secret", f"the program needs the secret config `{key}`",
                                    f"export {var}=<value> (apply sets it on the stack as a Pulumi secret)"))
    return found, problems


# --------------------------------------------------------------------------- the Automation API seam


class StackHandle(Protocol):
    def set_secret(self, key: str, value: str) -> None: ...
    def set_config(self, key: str, value: str) -> None: ...
    def preview(self, on_output: Callable[[str], Any]) -> dict: ...
    def up(self, on_output: Callable[[str], Any]) -> dict: ...
    def preview_destroy(self, on_output: Callable[[str], Any]) -> dict: ...
    def destroy(self, on_output: Callable[[str], Any]) -> dict: ...


class Automation(Protocol):
    def open_stack(self, pulumi_dir: Path, stack: str, env_vars: dict[str, str]) -> StackHandle: ...


class PulumiAutomation:
    """The real seam: pulumi.automation (needs the Pulumi CLI)."""

    def open_stack(self, pulumi_dir: Path, stack: str, env_vars: dict[str, str]) -> "_PulumiStack":
        from pulumi import automation as auto

        opts = auto.LocalWorkspaceOptions(work_dir=str(pulumi_dir), env_vars=env_vars)
        return _PulumiStack(auto.create_or_select_stack(stack_name=stack, work_dir=str(pulumi_dir), opts=opts))


def _summary(changes: Any) -> dict:
    out = {}
    for k, v in (changes or {}).items():
        out[getattr(k, "value", str(k))] = int(v)
    return dict(sorted(out.items()))


class _PulumiStack:
    def __init__(self, stack: Any):
        self.stack = stack

    def set_secret(self, key: str, value: str) -> None:
        from pulumi import automation as auto

        self.stack.set_config(key, auto.ConfigValue(value=value, secret=True))

    def set_config(self, key: str, value: str) -> None:
        from pulumi import automation as auto

        self.stack.set_config(key, auto.ConfigValue(value=value))

    def preview(self, on_output):
        r = self.stack.preview(color="never", on_output=on_output, diff=False)
        return _summary(r.change_summary)

    def up(self, on_output):
        r = self.stack.up(color="never", on_output=on_output, show_secrets=False)
        return {"result": r.summary.result, "changes": _summary(r.summary.resource_changes),
                "outputs": {k: ("[secret]" if v.secret else v.value) for k, v in (r.outputs or {}).items()}}

    def preview_destroy(self, on_output):
        r = self.stack.destroy(color="never", on_output=on_output, preview_only=True, show_secrets=False)
        return {"result": r.summary.result, "changes": _summary(r.summary.resource_changes)}

    def destroy(self, on_output):
        r = self.stack.destroy(color="never", on_output=on_output, show_secrets=False)
        return {"result": r.summary.result, "changes": _summary(r.summary.resource_changes)}


#: tests replace this with a fake Automation (the CLI cannot run here)
AUTOMATION: Automation = PulumiAutomation()


# --------------------------------------------------------------------------- apply / destroy


@dataclasses.dataclass
class Options:
    spec: str
    target: str
    env: str | None
    yes: bool
    out: Path
    state: str | None
    destroy: bool = False
    allow_findings: bool = False
    timeout: float = 300


def state_url(opts: Options, root: Path) -> str:
    """``--state`` / PULUMI_BACKEND_URL, else file://<project>/.mlspec/state/<target> (per target:
    program projects of different targets never share a state directory)."""
    if opts.state:
        return opts.state
    if os.environ.get("PULUMI_BACKEND_URL"):
        return os.environ["PULUMI_BACKEND_URL"]
    return (root / DEFAULT_STATE / opts.target).resolve().as_uri()


def confirm(question: str, production: bool, yes: bool, stdin=None, stdout=None) -> bool:
    """--yes, or an interactive answer: production needs the word `yes`, others y/yes."""
    if yes:
        return True
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stderr
    if not stdin.isatty():
        stdout.write("mlspec: not a terminal and --yes not given: nothing changed\n")
        return False
    stdout.write(question + (" Type `yes` to continue: " if production else " [y/N] "))
    stdout.flush()
    answer = (stdin.readline() or "").strip().lower()
    return answer == "yes" if production else answer in ("y", "yes")


def _err(msg: str) -> None:
    sys.stderr.write(msg.rstrip("\n") + "\n")


def _salt_file(state: str, project: str, stack: str) -> Path | None:
    if not state.startswith("file://"):
        return None
    from urllib.parse import unquote, urlparse

    return Path(unquote(urlparse(state).path)) / ".mlspec" / f"{project}.{stack}.encryptionsalt"


def _restore_salt(pulumi_dir: Path, state: str, stack: str) -> None:
    """The passphrase secrets provider keeps its salt in Pulumi.<stack>.yaml, which every compile
    regenerates: put the saved one back (and save a new one after the run, see _save_salt)."""
    import yaml

    project = str((yaml.safe_load((pulumi_dir / "Pulumi.yaml").read_text()) or {}).get("name", ""))
    f = _salt_file(state, project, stack)
    cfg = pulumi_dir / f"Pulumi.{stack}.yaml"
    if f is None or not f.is_file() or not cfg.is_file():
        return
    text = cfg.read_text()
    if "encryptionsalt:" not in text:
        cfg.write_text(f"encryptionsalt: {f.read_text().strip()}\n" + text)


def _save_salt(pulumi_dir: Path, state: str, stack: str) -> None:
    import yaml

    cfg = pulumi_dir / f"Pulumi.{stack}.yaml"
    project = str((yaml.safe_load((pulumi_dir / "Pulumi.yaml").read_text()) or {}).get("name", ""))
    f = _salt_file(state, project, stack)
    if f is None or not cfg.is_file():
        return
    salt = (yaml.safe_load(cfg.read_text()) or {}).get("encryptionsalt")
    if salt:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(str(salt) + "\n")


def _promote(staging: Path, final: Path) -> None:
    """Swap the staging build in as <out>/<target> (the previous build removed only afterwards)."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.previous")
        if old.exists():
            shutil.rmtree(old)
        os.rename(final, old)
    os.rename(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run(opts: Options, automation: Automation | None = None) -> int:
    from mlspec.compiler.plan import plan

    automation = automation or AUTOMATION
    root = Path(opts.spec).resolve().parent
    state = state_url(opts, root)
    verb = "destroy" if opts.destroy else "apply"

    # 1. preflight that needs no build: nothing is written if it fails
    problems = check_cli() + check_credentials(opts.target) + check_state(state)
    if problems:
        _err(f"mlspec {verb}: preflight failed; nothing was changed")
        for p in problems:
            _err(p.render())
        return EXIT_PREFLIGHT

    # 2. compile into staging, 3. plan the staged build
    env, envs = plan.choose_environment(opts.spec, opts.env)
    staging_root = opts.out / ".staging"
    ir, staged, _ = plan.compile_to(opts.spec, opts.target, env, staging_root)
    production = bool(ir["environment"]["production"])
    problems: list[Problem] = []
    secrets: dict[str, str] = {}
    if not opts.destroy:  # destroy works from the state: no plan, no findings gate, no secrets
        result = plan.run_plan(opts.spec, opts.target, env, timeout=opts.timeout, build_dir=staged)
        problems, secrets = _apply_gates(opts, env, result)
    if problems:
        _err(f"mlspec {verb}: preflight failed; nothing was changed (staged build kept in {staged})")
        for p in problems:
            _err(p.render())
        return EXIT_PREFLIGHT
    return _drive(opts, automation, staged, env, state, production, secrets, verb)


def _apply_gates(opts: Options, env: str, result) -> tuple[list[Problem], dict[str, str]]:
    problems = []
    if result.unwaived and not opts.allow_findings:
        problems.append(Problem("findings", f"the plan has {len(result.unwaived)} unwaived security finding(s) "
                                            f"({', '.join(sorted({f['rule'] for f in result.unwaived}))})",
                                f"run `mlspec plan {opts.spec} --target {opts.target} --env {env}`, fix the spec "
                                "or add waivers (rule, reason, owner, until)"))
    if result.blocking_checks:
        problems.append(Problem("program", f"the generated program would be refused by the engine: "
                                           f"{result.blocking_checks[0]['check']} {result.blocking_checks[0]['where']}",
                                "this is a bug in the target; please report it"))
    secrets, secret_problems = check_secrets(result.missing_secrets)
    return problems + secret_problems, secrets


def _drive(opts: Options, automation: Automation, staged: Path, env: str, state: str, production: bool,
           secrets: dict[str, str], verb: str) -> int:
    """4. the stack: preview, confirm, up / destroy."""
    pulumi_dir = staged / "pulumi"
    _restore_salt(pulumi_dir, state, env)
    env_vars = {"PULUMI_BACKEND_URL": state, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    if state.startswith("file://"):
        from urllib.parse import unquote, urlparse

        Path(unquote(urlparse(state).path)).mkdir(parents=True, exist_ok=True)
    out = lambda line: sys.stderr.write(line if line.endswith("\n") else line + "\n")  # noqa: E731
    try:
        stack = automation.open_stack(pulumi_dir, env, env_vars)
        for k, v in sorted(secrets.items()):
            stack.set_secret(k, v)
        _save_salt(pulumi_dir, state, env)
        registered = True
        if not opts.destroy and opts.target == "azureml":
            # register components / environments / serving code / monitor tables and set
            # pipelinesRegistered: before the preview when the workspace exists, else after it
            # (then update again) -- targets/azureml/assets.py
            import yaml

            from mlspec.targets.azureml import assets

            project = yaml.safe_load((pulumi_dir / "Pulumi.yaml").read_text())["name"]
            registered = assets.before_up(staged, env, stack, project, out)
        if opts.destroy:
            preview = stack.preview_destroy(out)
            changes = preview.get("changes", preview)
        else:
            changes = stack.preview(out)
        _err(f"mlspec {verb}: {opts.target} stack `{env}` ({state}): "
             + (", ".join(f"{n} {op}" for op, n in changes.items() if op != "same") or "no changes"))
        if not any(n for op, n in changes.items() if op != "same"):
            if not opts.destroy:
                _promote(staged, opts.out / opts.target)
            return EXIT_OK
        question = (f"{'Destroy' if opts.destroy else 'Apply'} these changes to `{env}`"
                    f"{' (production)' if production else ''}?")
        if not confirm(question, production, opts.yes):
            _err(f"mlspec {verb}: declined; nothing was changed")
            return EXIT_DECLINED
        summary = stack.destroy(out) if opts.destroy else stack.up(out)
        if not registered and summary.get("result") in (None, "succeeded"):
            summary = assets.after_up(staged, env, stack, project, out) or summary
    except Exception as e:  # noqa: BLE001 - CLI / engine / cloud errors are operation failures
        _err(f"mlspec {verb}: the Pulumi operation failed: {type(e).__name__}: {str(e).strip()[:2000]}")
        _err("   = Pulumi's state is as the engine left it (every completed step is checkpointed); "
             f"fix the cause and rerun `mlspec {verb}`. The previous build is untouched.")
        return EXIT_OPERATION
    if summary.get("result") not in (None, "succeeded"):
        _err(f"mlspec {verb}: the update finished with result `{summary.get('result')}`")
        return EXIT_OPERATION
    if not opts.destroy:
        _promote(staged, opts.out / opts.target)
    else:
        shutil.rmtree(staged, ignore_errors=True)  # nothing to keep: the stack is gone
    _err(f"mlspec {verb}: done ({json.dumps(summary.get('changes', {}), sort_keys=True)})")
    if not opts.destroy and summary.get("outputs"):
        sys.stdout.write(json.dumps(summary["outputs"], indent=2, sort_keys=True) + "\n")
    return EXIT_OK


# --------------------------------------------------------------------------- CLI


def _handler(destroy: bool):
    def handle(args) -> int:
        from mlspec.compiler.plan import plan

        opts = Options(args.spec, args.target, args.env, args.yes, Path(args.out), args.state, destroy,
                       getattr(args, "allow_findings", False))
        try:
            return run(opts)
        except plan.PlanError as e:
            return _print_plan_error(args, e)

    return lambda args: run_guarded(args, handle)


def add_parsers(sub, add_common) -> None:
    for name, destroy, text in (("apply", False, "create or update the system in the cloud (Pulumi Automation API)"),
                                ("destroy", True, "delete the system's cloud resources (Pulumi Automation API)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("spec", metavar="SPEC")
        p.add_argument("--target", required=True, choices=TARGETS, metavar="TARGET", help=TARGET_HELP)
        p.add_argument("--env", required=True, help="environment (one stack per system, environment and target)")
        p.add_argument("--yes", action="store_true", help="do not ask (needed for production when not interactive)")
        p.add_argument("--out", default="build", help="build directory (default: build)")
        p.add_argument("--state", default=None,
                       help="Pulumi backend URL (default: PULUMI_BACKEND_URL or file://<spec dir>/.mlspec/state/<target>)")
        add_common(p, fmt=False)
        p.set_defaults(func=_handler(destroy))


__all__ = ["run", "Options", "Problem", "check_cli", "check_credentials", "check_state", "check_secrets",
           "confirm", "AUTOMATION", "PulumiAutomation", "EXIT_FINDINGS"]
