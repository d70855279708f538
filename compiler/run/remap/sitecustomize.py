"""mlspec run: the cloud's absolute paths (/opt/ml, /gcs, ...) remapped under the work dir.

Loaded only in the processes `mlspec run` starts (it puts this folder on PYTHONPATH and
sets MLSPEC_RUN_REMAP to {"<cloud prefix>": "<local dir>"}). Code that hard-codes a cloud
path (e.g. mlspec's helper steps reading /opt/ml/processing/input/...) then reads and writes
the step's local copy. Nothing is remapped when the variable is absent.

Processes a step starts (subprocess.Popen) get their program, arguments, working directory
and path-list environment values mapped the same way.

MLSPEC_RUN_READONLY lists folders mounted read-only (Azure ML `ro_mount` inputs): writing
there raises EROFS even for root, for which chmod alone does not stop a write.
MLSPEC_RUN_SHIMS names modules imported at start-up (a target's local stand-ins for its
cloud SDK's service endpoints, e.g. the Azure ML workspace registry).
"""
import builtins
import errno
import io
import json
import os

_MAP = json.loads(os.environ.get("MLSPEC_RUN_REMAP") or "{}")
_PREFIXES = sorted(((p.rstrip("/"), d) for p, d in _MAP.items()), key=lambda kv: -len(kv[0]))
_READONLY = [os.path.realpath(p) for p in json.loads(os.environ.get("MLSPEC_RUN_READONLY") or "[]")]


def _guard(path):
    """EROFS when `path` (already mapped) lies in a read-only mount."""
    if not _READONLY or isinstance(path, int):
        return
    try:
        p = os.path.realpath(os.fsdecode(os.fspath(path)))
    except TypeError:
        return
    for ro in _READONLY:
        if p == ro or p.startswith(ro + os.sep):
            raise OSError(errno.EROFS, "Read-only file system (mounted ro_mount)", os.fsdecode(os.fspath(path)))


def _map(path):
    if isinstance(path, int) or not _PREFIXES:
        return path
    try:
        p = os.fspath(path)
    except TypeError:
        return path
    as_bytes = isinstance(p, bytes)
    s = os.fsdecode(p) if as_bytes else p
    for prefix, local in _PREFIXES:
        if s == prefix or s.startswith(prefix + "/"):
            s = local + s[len(prefix):]
            return os.fsencode(s) if as_bytes else s
    return path


#: the local folder a cloud path stands for (identity when nothing maps it): for code that hands a
#: path to something these wrappers do not cover, e.g. Python's import system (sys.path, open_code)
local_path = _map


def _wrap1(fn, writes=False):
    def wrapper(path, *a, **kw):
        mapped = _map(path)
        if writes:
            _guard(mapped)
        return fn(mapped, *a, **kw)
    wrapper.__wrapped__ = fn
    return wrapper


def _wrap2(fn):
    def wrapper(src, dst, *a, **kw):
        s, d = _map(src), _map(dst)
        _guard(s)
        _guard(d)
        return fn(s, d, *a, **kw)
    wrapper.__wrapped__ = fn
    return wrapper


def _writes(mode):
    return any(c in str(mode) for c in "wax+")


def _open_builtin(fn):
    def wrapper(file, mode="r", *a, **kw):
        mapped = _map(file)
        if _writes(mode):
            _guard(mapped)
        return fn(mapped, mode, *a, **kw)
    wrapper.__wrapped__ = fn
    return wrapper


def _open_os(fn):
    def wrapper(path, flags, *a, **kw):
        mapped = _map(path)
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND):
            _guard(mapped)
        return fn(mapped, flags, *a, **kw)
    wrapper.__wrapped__ = fn
    return wrapper


if _PREFIXES or _READONLY:
    builtins.open = _open_builtin(builtins.open)
    io.open = builtins.open
    os.open = _open_os(os.open)
    for _name in ("stat", "lstat", "listdir", "scandir", "access", "readlink", "listxattr", "getxattr"):
        if hasattr(os, _name):
            setattr(os, _name, _wrap1(getattr(os, _name)))
    for _name in ("mkdir", "rmdir", "remove", "unlink", "chmod", "utime", "truncate", "chown", "lchown",
                  "setxattr", "removexattr"):
        if hasattr(os, _name):
            setattr(os, _name, _wrap1(getattr(os, _name), writes=True))
    for _name in ("rename", "replace", "link", "symlink"):
        setattr(os, _name, _wrap2(getattr(os, _name)))
    _orig_listdir = os.listdir.__wrapped__

    def _listdir(path="."):
        return _orig_listdir(_map(path))
    os.listdir = _listdir
    _orig_scandir = os.scandir.__wrapped__

    def _scandir(path="."):
        return _orig_scandir(_map(path))
    os.scandir = _scandir


# pyarrow opens files in C++ (pandas.read_parquet / to_parquet go through it): map the path
# arguments of pyarrow.parquet's entry points once that module is imported.
_PARQUET_FUNCS = ("read_table", "write_table", "ParquetFile", "ParquetDataset", "read_schema", "read_metadata")


def _patch_parquet(mod):
    for name in _PARQUET_FUNCS:
        fn = getattr(mod, name, None)
        if fn is None or getattr(fn, "__mlspec_mapped__", False):
            continue
        if name == "write_table":
            def wrapper(table, where, *a, __fn=fn, **kw):
                where = _map(where)
                _guard(where)
                return __fn(table, where, *a, **kw)
        else:
            def wrapper(source, *a, __fn=fn, **kw):
                return __fn(_map(source), *a, **kw)
        wrapper.__mlspec_mapped__ = True
        setattr(mod, name, wrapper)


def _patch_pyarrow(mod):
    for name in ("OSFile", "memory_map", "input_stream", "output_stream", "create_memory_map"):
        fn = getattr(mod, name, None)
        if fn is None or getattr(fn, "__mlspec_mapped__", False):
            continue

        def wrapper(path, *a, __fn=fn, **kw):
            return __fn(_map(path), *a, **kw)
        wrapper.__mlspec_mapped__ = True
        setattr(mod, name, wrapper)


def _patch_xgboost(mod):
    booster = getattr(mod, "Booster", None)
    for name in ("load_model", "save_model"):
        fn = getattr(booster, name, None)
        if fn is None or getattr(fn, "__mlspec_mapped__", False):
            continue

        def method(self, fname, *a, __fn=fn, __name=name, **kw):
            if isinstance(fname, (str, os.PathLike)):
                fname = _map(fname)
                if __name == "save_model":
                    _guard(fname)
            return __fn(self, fname, *a, **kw)
        method.__mlspec_mapped__ = True
        setattr(booster, name, method)


def _map_arg(value):
    if isinstance(value, (str, bytes, os.PathLike)):
        mapped = _map(value)
        return mapped
    return value


def _patch_subprocess(mod):
    """A process a step starts sees the same mounts: its program, arguments, working directory
    and environment values that name a cloud path are mapped (the cloud's FUSE mount exists for
    every process in the container, not only for Python file calls)."""
    popen = mod.Popen
    init = popen.__init__
    if getattr(init, "__mlspec_mapped__", False):
        return

    def __init__(self, args, *a, **kw):
        if isinstance(args, (list, tuple)):
            args = [_map_arg(x) for x in args]
        elif isinstance(args, (str, bytes, os.PathLike)):
            args = _map_arg(args)
        for key in ("cwd", "executable"):
            if kw.get(key) is not None:
                kw[key] = _map_arg(kw[key])
        if kw.get("env") is not None:
            kw["env"] = {k: os.pathsep.join(_map(p) for p in v.split(os.pathsep)) if isinstance(v, str) else v
                         for k, v in kw["env"].items()}
        init(self, args, *a, **kw)
    __init__.__mlspec_mapped__ = True
    popen.__init__ = __init__


_PATCHES = {"pyarrow": _patch_pyarrow, "pyarrow.parquet": _patch_parquet, "xgboost.core": _patch_xgboost}
if _PREFIXES:
    _PATCHES["subprocess"] = _patch_subprocess


class _AfterImport:
    """A meta path finder that patches pyarrow's file entry points right after import."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _PATCHES:
            return None
        import importlib.util
        import sys

        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module):
            original(module)
            _PATCHES[fullname](module)
        loader.exec_module = exec_module
        return spec


def after_import(module_name, fn):
    """Run fn(module) right after `module_name` is imported (used by the shims)."""
    _PATCHES[module_name] = fn


if _PREFIXES or _READONLY or os.environ.get("MLSPEC_RUN_SHIMS"):
    import sys as _sys

    _sys.meta_path.insert(0, _AfterImport())
    for _mod in [m for m in _PATCHES if m in _sys.modules]:  # imported before this file ran
        _PATCHES[_mod](_sys.modules[_mod])

for _shim in filter(None, (os.environ.get("MLSPEC_RUN_SHIMS") or "").split(",")):
    __import__(_shim)
