"""Subprocess entry point: run one Pulumi program directory under Pulumi's mock runtime.

    python -m mlspec.compiler.plan._mockrun PULUMI_DIR STACK RESULT_JSON [OVERRIDES_JSON]

Reads ``Pulumi.yaml`` (project name, ``main``, project config defaults) and
``Pulumi.<STACK>.yaml`` (``config:``), runs ``__main__.py`` with the program directory as
cwd and first on ``sys.path``, captures every RegisterResource / Invoke through a
recording MockMonitor, and writes plain JSON to RESULT_JSON. On failure it writes
``{"error": ..., "traceback": ...}`` and exits 1. Only :mod:`mlspec.compiler.plan.harness`
should start it. Pulumi is imported inside :func:`run` only.
"""
from __future__ import annotations

import json
import os
import runpy
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import yaml

SECRET = "[secret]"
UNKNOWN = "[unknown]"
MOCK_SECRET_VALUE = "mlspec-mock-secret"
DYNAMIC_PROVIDER = "[dynamic provider]"


def read_config(pulumi_dir: Path, stack: str) -> tuple[str, str, dict[str, str], list[str]]:
    """(project, main file, config {ns:key: str}, secret keys) from Pulumi.yaml + Pulumi.<stack>.yaml."""
    proj = yaml.safe_load((pulumi_dir / "Pulumi.yaml").read_text(encoding="utf-8")) or {}
    project = str(proj.get("name") or "mlspec")
    main = str(proj.get("main") or "")
    config: dict[str, str] = {}
    secrets: list[str] = []

    def key_of(k: str) -> str:
        return k if ":" in k else f"{project}:{k}"

    def put(k: str, v: Any) -> None:
        k = key_of(k)
        if isinstance(v, dict) and set(v) == {"secure"}:
            config[k] = MOCK_SECRET_VALUE
            secrets.append(k)
        elif isinstance(v, str):
            config[k] = v
        elif isinstance(v, bool):
            config[k] = "true" if v else "false"
        elif isinstance(v, (int, float)):
            config[k] = str(v)
        elif v is None:
            return
        else:  # structured config travels as JSON
            config[k] = json.dumps(v)

    for k, spec in (proj.get("config") or {}).items():  # project-level defaults
        if isinstance(spec, dict) and ("default" in spec or "type" in spec or "value" in spec):
            if "value" in spec:
                put(k, spec["value"])
            elif "default" in spec:
                put(k, spec["default"])
            if spec.get("secret") and key_of(k) in config:
                secrets.append(key_of(k))
        else:
            put(k, spec)
    stack_file = pulumi_dir / f"Pulumi.{stack}.yaml"
    if stack_file.exists():
        st = yaml.safe_load(stack_file.read_text(encoding="utf-8")) or {}
        for k, v in (st.get("config") or {}).items():
            put(str(k), v)
    return project, main, config, sorted(set(secrets))


def _norm_number(v: float) -> int | float:
    return int(v) if float(v).is_integer() and abs(v) < 2**53 else v


def plain(v: Any) -> Any:
    """JSON-able copy: secrets -> "[secret]", unknowns -> "[unknown]", resource refs -> URN,
    whole floats -> int (the wire carries every number as a double)."""
    import pulumi
    from pulumi.runtime import rpc

    if isinstance(v, dict):
        if v.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return SECRET
        return {str(k): plain(v[k]) for k in sorted(v, key=str)}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, bool) or v is None or isinstance(v, (str, int)):
        return UNKNOWN if v == rpc.UNKNOWN else v
    if isinstance(v, float):
        return _norm_number(v)
    if isinstance(v, pulumi.Resource):
        return {"ref": type(v).__name__}
    if isinstance(v, (pulumi.Asset, pulumi.Archive)):
        return plain_asset(v)
    return repr(v)


def plain_asset(v: Any) -> dict:
    """Assets/archives as stable data: kind + a path relative to the program dir (or uri / sha256)."""
    import hashlib

    import pulumi

    def rel(path: str) -> str:
        try:
            return os.path.relpath(os.path.abspath(path), os.getcwd()).replace(os.sep, "/")
        except ValueError:
            return path

    if isinstance(v, pulumi.FileAsset):
        return {"asset": "file", "path": rel(v.path)}
    if isinstance(v, pulumi.StringAsset):
        return {"asset": "string", "sha256": hashlib.sha256(v.text.encode()).hexdigest()}
    if isinstance(v, pulumi.RemoteAsset):
        return {"asset": "remote", "uri": v.uri}
    if isinstance(v, pulumi.FileArchive):
        return {"archive": "file", "path": rel(v.path)}
    if isinstance(v, pulumi.RemoteArchive):
        return {"archive": "remote", "uri": v.uri}
    if isinstance(v, pulumi.AssetArchive):
        return {"archive": "assets", "assets": {k: plain(x) for k, x in sorted(v.assets.items())}}
    return {"asset": type(v).__name__}


def _name_of(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def run(pulumi_dir: Path, stack: str, overrides: dict) -> dict:
    import pulumi
    from pulumi.runtime import mocks as _mocks
    from pulumi.runtime import rpc
    from pulumi.runtime import settings as _settings
    from pulumi.runtime.sync_await import _sync_await

    from mlspec.compiler.plan import mocks as tables

    project, main, config, secret_keys = read_config(pulumi_dir, stack)
    table = tables.load()
    table.configure(config)
    captured: list[dict] = []
    invokes: list[dict] = []
    res_overrides = overrides.get("resources") or {}
    call_overrides = overrides.get("calls") or {}

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs):
            # raw inputs (secrets stay wrapped so echoed outputs stay secret)
            return tables.fabricate_resource(table, args.typ, args.name, dict(args.inputs), res_overrides)

        def call(self, args: pulumi.runtime.MockCallArgs):
            a = plain(dict(args.args))
            invokes.append({"token": args.token, "args": a})
            return tables.fabricate_call(table, args.token, a, call_overrides)

    class Monitor(_mocks.MockMonitor):
        def RegisterResource(self, request):
            resp = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
                captured.append({
                    "urn": resp.urn, "type": request.type, "name": request.name, "custom": request.custom,
                    "inputs": _strip_dynamic(plain(dict(inputs))),
                    "parent": request.parent,
                    "dependencies": list(request.dependencies),
                    "property_dependencies": {k: list(v.urns) for k, v in request.propertyDependencies.items()},
                    "provider": request.provider, "protect": request.protect,
                    "import_id": request.importId, "retain_on_delete": request.retainOnDelete,
                    "ignore_changes": list(request.ignoreChanges),
                    "additional_secret_outputs": list(request.additionalSecretOutputs),
                })
            return resp

    # Secrets are the user's to set (`pulumi config set --secret`); a plan runs without them, so a
    # missing secret gets a placeholder and is reported in `missing_secrets` (apply's preflight uses it).
    missing_secrets: list[str] = []
    original_require_secret = pulumi.Config.require_secret

    def require_secret(self, key):
        try:
            return original_require_secret(self, key)
        except pulumi.ConfigMissingError:
            missing_secrets.append(self.full_key(key))
            return pulumi.Output.secret(MOCK_SECRET_VALUE)

    pulumi.Config.require_secret = require_secret  # type: ignore[method-assign]

    pulumi.runtime.reset_options()
    pulumi.runtime.set_all_config(config, secret_keys)
    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=Monitor(mocks))
    root = _settings.get_root_resource()

    entry = pulumi_dir / (main or "__main__.py")
    if entry.is_dir():
        entry = entry / "__main__.py"
    os.chdir(pulumi_dir)
    sys.path.insert(0, str(entry.parent))

    @pulumi.runtime.test
    def _program():
        runpy.run_path(str(entry), run_name="__main__")

    t0 = time.perf_counter()
    _program()
    seconds = time.perf_counter() - t0

    outputs: dict[str, Any] = {}
    for k, v in (getattr(root, "outputs", None) or {}).items():
        if isinstance(v, pulumi.Output):
            secret = _sync_await(v.is_secret())
            val = _sync_await(v.future())
            outputs[k] = SECRET if secret else plain(val)
        else:
            outputs[k] = plain(v)

    meta = {t: type_meta(t, table) for t in sorted({c["type"] for c in captured})}
    urns = {c["urn"] for c in captured}
    resources = []
    for c in captured:
        parent = c["parent"]
        resources.append({
            "urn": c["urn"], "type": c["type"], "name": c["name"], "custom": c["custom"],
            "inputs": c["inputs"],
            "depends_on": sorted({_name_of(d) for d in c["dependencies"]}),
            "property_dependencies": {k: sorted({_name_of(u) for u in v})
                                      for k, v in sorted(c["property_dependencies"].items()) if v},
            "parent": _name_of(parent) if parent in urns else None,
            "protect": c["protect"], "ignore_changes": c["ignore_changes"],
            # adopted resources only (`import` / retain on destroy), so other graphs keep their shape
            **({"import_id": c["import_id"]} if c["import_id"] else {}),
            **({"retain_on_delete": True} if c["retain_on_delete"] else {}),
            "required_inputs": meta[c["type"]][0], "tag_property": meta[c["type"]][1],
        })
    resources.sort(key=lambda r: (r["type"], r["name"], r["urn"]))
    shown_config = {k: (SECRET if k in secret_keys else v) for k, v in sorted(config.items())}
    return {"project": project, "stack": stack, "resources": resources, "outputs": outputs,
            "invokes": invokes, "config": shown_config, "missing_secrets": sorted(set(missing_secrets)),
            "program_seconds": round(seconds, 4)}


def type_meta(token: str, table) -> tuple[list[str] | None, str | None]:
    """(required top-level wire inputs, "tags"/"labels"/None) from the SDK's Args class; the
    provider submodule is already loaded by the program, so this is cheap here. ``table``: the
    merged :class:`~mlspec.compiler.plan.mocks.MockOutputs` (provider -> Python module, tag property)."""
    import importlib
    import inspect

    from pulumi import _types as ptypes

    try:
        pkg, mod, cls = token.split(":")
        py = table.python_modules[pkg]
        m = importlib.import_module(py if mod.split("/")[0] == "index" else f"{py}.{mod.split('/')[0]}")
    except (KeyError, ValueError, ImportError):
        return None, None
    for n in (f"{cls}InitArgs", f"{cls}Args"):  # InitArgs exists when <cls>Args names a nested type
        a = getattr(m, n, None)
        if a is None or getattr(getattr(m, cls, None), "pulumi_type", None) != token:
            continue
        names = ptypes.input_type_py_to_pulumi_names(a)
        params = [p for p in inspect.signature(a.__init__).parameters.values()
                  if p.name not in ("self", "__self__") and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        required = [names.get(p.name, p.name) for p in params if p.default is p.empty]
        wire = {names.get(p.name, p.name) for p in params}
        # the user tag map: `tags` unless the provider's mock outputs say otherwise (azure `labels`,
        # e.g. on Event Grid subscriptions, are plain lists)
        pick = table.tag_property.get(pkg)
        tag = pick(wire) if pick else ("tags" if "tags" in wire else None)
        return required, tag
    return None, None


def _strip_dynamic(inputs: dict) -> dict:
    if "__provider" in inputs:
        inputs = dict(inputs)
        inputs["__provider"] = DYNAMIC_PROVIDER
    return inputs


def program_traceback(e: BaseException) -> str:
    """The traceback without the runner's and the Pulumi runtime's own frames."""
    try:
        import pulumi
    except ImportError:
        return traceback.format_exc()
    skip = (str(Path(pulumi.__file__).parent), __file__, "<frozen ", os.path.dirname(runpy.__file__) + os.sep + "runpy",
            os.path.dirname(os.__file__) + os.sep + "asyncio")
    frames = [f for f in traceback.extract_tb(e.__traceback__) if not f.filename.startswith(skip)]
    lines = ["Traceback (most recent call last):\n"] + traceback.format_list(frames)
    return "".join(lines + traceback.format_exception_only(type(e), e))


def main(argv: list[str]) -> int:
    pulumi_dir, stack, result = Path(argv[0]).resolve(), argv[1], Path(argv[2])
    overrides = json.loads(Path(argv[3]).read_text()) if len(argv) > 3 else {}
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        data = run(pulumi_dir, stack, overrides)
    except BaseException as e:  # noqa: BLE001 - reported to the parent as data
        result.write_text(json.dumps({"error": f"{type(e).__name__}: {e}",
                                      "traceback": program_traceback(e)}), encoding="utf-8")
        return 1
    result.write_text(json.dumps(data, sort_keys=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
