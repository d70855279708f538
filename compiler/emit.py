"""Emit: artifact models -> bytes -> an atomically swapped build directory.

The only stage that touches the filesystem for output. Serialisation is deterministic
(JSON with 2-space indent in insertion order, YAML block style in insertion order, LF,
UTF-8, final newline). ``write_build`` renders everything in memory, writes a temporary
sibling of DIR/<target>, writes the manifest last, then swaps it in atomically (see
``write_build``), so a failed or killed compile leaves the previous DIR/<target> whole.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

MANIFEST_SCHEMA_VERSION = "1"


class EmitError(Exception):
    """A bug: a target produced an artifact that cannot be written as asked."""


def serialise(content: Any, fmt: str) -> bytes:
    if isinstance(content, bytes):
        return content
    if fmt == "json":
        return dump_json(content)
    elif fmt == "yaml":
        text = dump_yaml(content)
    elif fmt == "text":
        if not isinstance(content, str):
            raise EmitError(f"text artifact holds {type(content).__name__}, not str")
        text = content if content.endswith("\n") else content + "\n"
    else:
        raise EmitError(f"unknown artifact format {fmt!r}")
    return text.replace("\r\n", "\n").encode("utf-8")


def dump_json(content: Any) -> bytes:
    """JSON with 2-space indent, keys in insertion order, UTF-8, final newline.

    orjson writes it about 20x faster than the standard library's pure-Python indenting
    encoder (a 1,000-step build is ~20 MB of JSON); it is a core dependency, so every
    machine writes the same bytes."""
    import orjson

    return orjson.dumps(content, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n"


def _yaml_dumper():
    """libyaml's C emitter when PyYAML has it (3-4x faster), else the pure-Python one.

    Both produce the same bytes for what mlspec emits; tests/unit/test_emit.py checks
    that on every golden YAML file, so builds do not depend on which one is present."""
    import yaml

    base = getattr(yaml, "CSafeDumper", None) or yaml.SafeDumper
    return _make_dumper(base)


def _make_dumper(base):
    class _Dumper(base):  # type: ignore[misc, valid-type]
        pass

    def _str(dumper, value: str):
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    return _Dumper


_DUMPER = None


def dump_yaml(data: Any, dumper: Any = None) -> str:
    """YAML as PyYAML writes it with `_yaml_dumper()` (or `dumper`). Without `dumper`,
    ``yamlfast`` writes the same bytes about 10x faster for the documents mlspec emits and
    PyYAML is not imported; documents outside its envelope go to PyYAML."""
    global _DUMPER
    if dumper is None:
        from mlspec.compiler import yamlfast

        try:
            return yamlfast.dump(data)
        except yamlfast.Unsupported:
            pass
    import yaml

    if dumper is None:
        if _DUMPER is None:
            _DUMPER = _yaml_dumper()
        dumper = _DUMPER
    return yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=4096, indent=2)


def check_relpath(path: str) -> str:
    if (path and path[0] != "/" and path[-1] != "/" and "\\" not in path and "//" not in path
            and not any(part in (".", "..") for part in path.split("/"))):
        return path  # already clean: what the checks below would return, without building a PurePosixPath
    p = PurePosixPath(path)
    if p.is_absolute() or not path or ".." in p.parts or "\\" in path or path.startswith("./"):
        raise EmitError(f"artifact path {path!r} is not a clean relative path")
    return str(p)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest(files: Iterable[tuple[str, str, bytes]], *, spec_sha256: str, compiler_version: str, target: str,
             environment: str) -> bytes:
    arts = [{"path": p, "kind": k, "sha256": sha256(b)} for p, k, b in sorted(files)]
    doc = {"schema_version": MANIFEST_SCHEMA_VERSION, "spec_sha256": spec_sha256,
           "compiler_version": compiler_version, "target": target, "environment": environment,
           "artifacts": arts}
    fast = dump_json(doc)  # orjson: the standard library's bytes when they are ASCII (a 1,000-step build lists ~4,600 files)
    return fast if fast.isascii() else (json.dumps(doc, indent=2) + "\n").encode()


class OutputError(Exception):
    """The build cannot be written where asked (a user problem: exit 2, a clear message)."""


def shown(path: Path | str) -> str:
    """A path for messages: control and other non-printable characters escaped."""
    text = str(path)
    return text if text.isprintable() else "".join(
        ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def is_mlspec_build(folder: Path) -> bool:
    """True when `folder` is a real directory holding an mlspec manifest.json (mlspec owns
    it and may replace it)."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    man = folder / "manifest.json"
    if man.is_symlink() or not man.is_file():
        return False
    try:
        with open(man, "rb") as f:
            doc = json.loads(f.read())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("artifacts"), list) and "target" in doc


def check_out_dir(out_dir: Path) -> None:
    """`--out` must name a directory (or nothing yet), not a file or a path through one."""
    if str(out_dir) == "":  # (a Path is never empty; callers holding the raw text check it)
        raise OutputError("the output directory is empty (`--out \"\"`); name a directory, e.g. `--out build`")
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"`{shown(out_dir)}` is a file, not a directory; choose another `--out`")
    for parent in out_dir.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"`{shown(parent)}` is a file, so `{shown(out_dir)}` cannot be a directory; "
                              "choose another `--out`")


def check_destination(out_dir: Path, target: str) -> None:
    """Refuse, before anything is written, an output that would clobber what mlspec does
    not own: `--out` naming a file, or DIR/<target> that exists and is not an mlspec build
    (an empty folder is fine)."""
    check_out_dir(out_dir)
    final = out_dir / target
    if final.is_symlink():
        raise OutputError(f"`{shown(final)}` is a symbolic link; mlspec replaces only folders holding its own "
                          "manifest.json, so it leaves it alone; remove it or choose another `--out`")
    if final.exists():
        if not final.is_dir():
            raise OutputError(f"`{shown(final)}` is a file, not an mlspec build; mlspec leaves it alone; remove it "
                              "or choose another `--out`")
        if not is_mlspec_build(final) and any(final.iterdir()):
            raise OutputError(f"`{shown(final)}` exists and is not an mlspec build (it holds no mlspec "
                              "manifest.json); mlspec replaces only its own builds, so it leaves the folder alone; "
                              "choose another `--out` or move the folder")


# ------------------------------------------------------------------ the atomic swap
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2():
    """libc's renameat2 (Linux, glibc 2.28+), or None."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_EXCHANGE: Any = None


def exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directory entries (renameat2 RENAME_EXCHANGE): either both
    names move or neither does. False when the platform or file system cannot."""
    global _EXCHANGE
    if _EXCHANGE is None:
        _EXCHANGE = _renameat2() or False
    if not _EXCHANGE:
        return False
    import ctypes

    if _EXCHANGE(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):  # e.g. a file system without it
        return False
    raise OSError(err, os.strerror(err), str(b))


class _Lock:
    """An exclusive lock on the output directory itself (flock on its descriptor, so no
    lock file is left behind): concurrent compiles into one `--out` take turns."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.fd: int | None = None

    def __enter__(self) -> "_Lock":
        try:
            import fcntl
        except ImportError:  # Windows: no flock; compiles there are not serialised
            return self
        self.fd = os.open(self.folder, os.O_RDONLY)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the lock
            self.fd = None


_STALE = re.compile(r"\.[a-z0-9_]+\.(tmp|old)-[a-z0-9_]{8}")  # tempfile.mkdtemp's names
_MARK = ".mlspec-temporary"  # inside every temporary folder mlspec makes: only those are deleted


def _mkdtemp(out_dir: Path, prefix: str) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir))
    (tmp / _MARK).touch()
    return tmp


def _recover_and_clean(out_dir: Path) -> None:
    """Called with the lock held, so every temporary present belongs to a writer that was
    killed: put back a previous build a killed fallback swap had moved aside (when its
    target is missing), then delete the other leftovers."""
    for entry in sorted(out_dir.iterdir()):
        if not _STALE.fullmatch(entry.name) or entry.is_symlink() or not entry.is_dir():
            continue
        ours = ((entry / _MARK).is_file() or not any(entry.iterdir()) or is_mlspec_build(entry)
                or is_mlspec_build(entry / "prev"))
        if not ours:
            continue  # not recognisably made by mlspec: left alone
        target = entry.name[1:].rsplit(".", 1)[0]
        prev = entry / "prev"
        if ".old-" in entry.name and not (out_dir / target).exists() and is_mlspec_build(prev):
            os.rename(prev, out_dir / target)
        shutil.rmtree(entry, ignore_errors=True)


def _write_file(path: str, data: bytes) -> None:
    """One file with plain os calls (no buffered file object: a build holds thousands)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _write_tree(tmp: Path, files: list[tuple[str, str, bytes]], manifest_bytes: bytes) -> None:
    root = str(tmp)
    made: set[str] = {""}
    for rel, _, data in sorted(files):
        folder = rel.rpartition("/")[0]
        if folder not in made:  # each folder once, not one failing mkdir per file
            os.makedirs(os.path.join(root, folder), exist_ok=True)
            parts = folder.split("/")
            made.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        _write_file(os.path.join(root, rel), data)
    _write_file(os.path.join(root, "manifest.json"), manifest_bytes)  # last: a build with a manifest is complete


def write_build(out_dir: Path, target: str, files: list[tuple[str, str, bytes]], manifest_bytes: bytes) -> Path:
    """Write DIR/<target>/ atomically; returns its path.

    The new build is written into a temporary sibling (`.<target>.tmp-*`), manifest last,
    then swapped with the old one in a single atomic `renameat2(RENAME_EXCHANGE)` (Linux),
    so every reader sees either the whole old build or the whole new one, and a kill at any
    moment leaves a complete DIR/<target>/. Where the exchange is unavailable the old build
    is moved aside and the new one renamed in; a kill between the two is repaired by the
    next compile, which puts the old build back. Writers into one DIR take turns (a lock on
    DIR); leftovers of killed writers are deleted. Only a folder holding an mlspec manifest
    (or an empty one) is ever replaced (``OutputError`` otherwise). A failure while writing
    (a full disk) leaves DIR/<target>/ as it was and raises the OSError."""
    seen: set[str] = set()
    for p, _, _ in files:
        if p in seen or p == "manifest.json":
            raise EmitError(f"two artifacts want the path {p!r}")
        seen.add(p)
    check_destination(out_dir, target)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / target
    with _Lock(out_dir):
        _recover_and_clean(out_dir)
        check_destination(out_dir, target)  # again, now that no other writer can change it
        tmp = _mkdtemp(out_dir, f".{target}.tmp-")
        try:
            _write_tree(tmp, files, manifest_bytes)
            (tmp / _MARK).unlink()  # complete (it has its manifest); the build itself carries no marker
            if final.exists():
                if exchange(tmp, final):
                    shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old build
                else:
                    old = _mkdtemp(out_dir, f".{target}.old-")
                    os.rename(final, old / "prev")
                    try:
                        os.rename(tmp, final)
                    except BaseException:
                        if not final.exists():  # put the previous build back
                            os.rename(old / "prev", final)
                        raise
                    shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, final)
            tmp = None  # type: ignore[assignment]
        finally:
            if tmp is not None and tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return final
