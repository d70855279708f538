"""mlspec run: the cloud's absolute paths (/opt/ml, /gcs, ...) remapped under the work dir.

Loaded only in the processes `mlspec run` starts (it puts this folder on PYTHONPATH and
sets MLSPEC_RUN_REMAP to {"<cloud prefix>": "<local dir>"}). Code that hard-codes a cloud
path (e.g. mlspec's helper steps reading /opt/ml/processing/input/...) then reads and writes
the step's local copy. Nothing is remapped when the variable is absent.
"""
import builtins
import io
import json
import os

_MAP = json.loads(os.environ.get("MLSPEC_RUN_REMAP") or "{}")
_PREFIXES = sorted(((p.rstrip("/"), d) for p, d in _MAP.items()), key=lambda kv: -len(kv[0]))


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


def _wrap1(fn):
    def wrapper(path, *a, **kw):
        return fn(_map(path), *a, **kw)
    wrapper.__wrapped__ = fn
    return wrapper


def _wrap2(fn):
    def wrapper(src, dst, *a, **kw):
        return fn(_map(src), _map(dst), *a, **kw)
    wrapper.__wrapped__ = fn
    return wrapper


if _PREFIXES:
    builtins.open = _wrap1(builtins.open)
    io.open = builtins.open
    for _name in ("open", "stat", "lstat", "listdir", "scandir", "mkdir", "rmdir", "remove", "unlink",
                  "chmod", "access", "utime", "truncate"):
        if hasattr(os, _name):
            setattr(os, _name, _wrap1(getattr(os, _name)))
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
                return __fn(table, _map(where), *a, **kw)
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

        def method(self, fname, *a, __fn=fn, **kw):
            return __fn(self, _map(fname) if isinstance(fname, (str, os.PathLike)) else fname, *a, **kw)
        method.__mlspec_mapped__ = True
        setattr(booster, name, method)


_PATCHES = {"pyarrow": _patch_pyarrow, "pyarrow.parquet": _patch_parquet, "xgboost.core": _patch_xgboost}


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


if _PREFIXES:
    import sys as _sys

    _sys.meta_path.insert(0, _AfterImport())
