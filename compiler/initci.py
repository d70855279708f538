"""`mlspec init ci --provider github|gitlab`: write a CI workflow for a repository of specs.

The workflow runs, on every change request: `mlspec check`, `mlspec fmt --check`, `mlspec compile`,
`mlspec plan --format json` per target and environment (kept as artifacts), and posts
`mlspec diff <base>:SPEC SPEC --format markdown` as a review comment (a risky change labels the
request `mlspec-risk` so a second reviewer is asked). On the default branch it applies each
environment in order, each job bound to the provider's environment of the same name, so the
provider's protection rules (required reviewers, protected branches) guard production.

Input: the specs (default: every `*.mlspec` under the current folder, outside build/ and hidden
folders), read with the compiler's front end for their targets, environments and secrets.
Output: the rendered workflow (templates/ci/*.j2, jinja2), written only where nothing exists
unless `--force`.
"""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_OUT = {"github": ".github/workflows/mlspec.yml", "gitlab": ".gitlab-ci.yml"}



class InitError(Exception):
    """A usage problem (exit 2)."""


def find_specs(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in ("build", "node_modules"))
        found += [os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/")
                  for f in sorted(filenames) if f.endswith(".mlspec")]
    return found


def describe(spec: str) -> dict:
    """What the workflow needs to know about one spec: targets, environments (production or not),
    secrets its programs read at apply time."""
    from mlspec.compiler import api
    from mlspec.compiler.diagnostics import render_text

    res = api.build_irs(spec)
    if not res.ok:
        raise InitError(f"`{spec}` does not check; fix it first:\n" + render_text(res.diagnostics, res.sources))
    first = next(iter(res.irs.values()))
    secrets = sorted({c["secret"] for ir in res.irs.values() for c in ir["channels"] if c["secret"]})
    return {
        "path": spec,
        "name": first["system"]["name"],
        "targets": sorted(first["targets"]),
        "environments": [{"name": e, "production": ir["environment"]["production"]} for e, ir in res.irs.items()],
        "secrets": [{"name": s, "env": _secret_env(s)} for s in secrets],
    }


def _secret_env(name: str) -> str:
    import re

    return "MLSPEC_SECRET_" + re.sub(r"[^A-Z0-9]", "_", name.upper())  # as `mlspec apply` reads it


def render(provider: str, specs: list[dict], branch: str = "main") -> str:
    import jinja2

    if provider not in DEFAULT_OUT:
        raise InitError(f"unknown provider `{provider}`; use github or gitlab")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates" / "ci")),
                             autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["yaml"] = _yaml_scalar
    env.filters["sh"] = _sh
    targets = sorted({t for s in specs for t in s["targets"]})
    envs: list[dict] = []
    for s in specs:
        for e in s["environments"]:
            if all(x["name"] != e["name"] for x in envs):
                envs.append(dict(e))
            elif e["production"]:
                next(x for x in envs if x["name"] == e["name"])["production"] = True
    envs.sort(key=lambda e: e["production"])  # production last: it applies after the others
    secrets = sorted({(x["name"], x["env"]) for s in specs for x in s["secrets"]})
    from mlspec.compiler import __version__
    from mlspec.targets.base import available_targets, get_target

    # each target's CI sign-in (Target.ci_auth), in the order of `targets` (by name)
    registered = available_targets()
    signins = {t: get_target(t).ci_auth() for t in targets if t in registered}
    signins = {t: a for t, a in signins.items() if a is not None}
    return env.get_template(f"{provider}.yml.j2").render(
        specs=specs, targets=targets, environments=envs, secrets=[{"name": n, "env": v} for n, v in secrets],
        credentials=signins, auth=list(signins.values()), branch=branch, version=__version__)


def _yaml_scalar(value: str) -> str:
    """A value as a double-quoted YAML scalar (names and paths come from the repository)."""
    import json

    return json.dumps(str(value))


def _sh(value: str) -> str:
    """A path or name as one shell word (it comes from the repository, not from this template)."""
    import shlex

    return shlex.quote(str(value))


def init_ci(provider: str, specs: list[str] | None = None, out: str | None = None, force: bool = False,
            branch: str = "main") -> list[str]:
    paths = specs or find_specs(Path("."))
    if not paths:
        raise InitError("no *.mlspec file under the current folder; name one with --spec")
    text = render(provider, [describe(p) for p in paths], branch)
    dest = Path(out or DEFAULT_OUT[provider])
    if dest.exists() and not force:
        raise InitError(f"`{dest}` exists; rerun with --force to overwrite it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_text(text, encoding="utf-8", newline="\n")
    os.replace(tmp, dest)
    return [str(dest)]
