"""Code folders and requirements files: what of the project is shipped with each script.

Input: the system's `code` / `requirements` attributes and each script step's path.
Output: per script step its `code_dir` (the folder shipped whole, the script's working
directory and import root) and `requirements` (a pip requirements file or None); every
file of every code folder is hashed into ``ctx.scripts`` so the writer copies it into
the build. Reports paths that leave the project, are missing or are too large (E404).
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import re
import stat
from typing import TYPE_CHECKING

from mlspec.compiler import ast
from mlspec.compiler.check.policy import check_script_path
from mlspec.compiler.check.values import Body

if TYPE_CHECKING:
    from mlspec.compiler.check.ctx import Ctx

#: a code folder is shipped whole; these limits keep a mistaken `code = "."` from shipping a disk
MAX_CODE_FILES = 2000
MAX_CODE_BYTES = 100 * 1024 * 1024
#: never shipped: caches, VCS and editor state, virtual environments
_SKIP_DIRS = {"__pycache__", ".git", ".hg", ".svn", ".venv", "venv", ".mypy_cache", ".pytest_cache", ".ruff_cache",
              "node_modules", ".ipynb_checkpoints"}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".mlspec")


def read_system(ctx: "Ctx", body: Body) -> None:
    """`code = "<folder>"` and `requirements = "<file>"` of the system."""
    ctx.code_root = None
    ctx.code_root_span = None
    a = body.attr("code")
    if a is not None:
        if not isinstance(a.value, ast.Str):
            body._wrong("code", a.value, "string")
        else:
            ctx.code_root = _folder(ctx, a.value, "`code` of the system")
            ctx.code_root_span = a.value.span
    ctx.requirements = requirements(ctx, body, "the system")


def requirements(ctx: "Ctx", body: Body, where: str) -> str | None:
    a = body.attr("requirements")
    if a is None:
        return None
    if not isinstance(a.value, ast.Str):
        body._wrong("requirements", a.value, "string")
        return None
    got = check_script_path(ctx.sink, a.value, "requirements", where, ctx.root)
    if got is None:
        return None
    ctx.scripts[got[0]] = got[1]
    return got[0]


def _folder(ctx: "Ctx", v: ast.Str, where: str) -> str | None:
    raw = v.value
    problem = None
    if not raw.strip():
        problem = "is empty"
    elif re.match(r"^[a-z][a-z0-9+.-]*://", raw, re.IGNORECASE) or raw.startswith(("/", "~", "\\")) \
            or re.match(r"^[A-Za-z]:", raw):
        problem = "is not a path relative to the spec's folder"
    elif "\\" in raw:
        problem = "uses backslashes; write `/`"
    elif any(p == ".." for p in raw.split("/")):
        problem = "uses `..`; code must live inside the project (the spec's folder)"
    if problem:
        ctx.sink.error("E404", f"{where}: `{raw}` {problem}", v.span,
                       hint='write a folder relative to the spec, such as `code = "src"`')
        return None
    norm = "/".join(p for p in raw.split("/") if p not in ("", ".")) or "."
    if ctx.root is None:
        return norm
    root_real = os.path.realpath(ctx.root)
    real = os.path.realpath(os.path.join(root_real, *norm.split("/")))
    if os.path.commonpath([root_real, real]) != root_real:
        ctx.sink.error("E404", f"{where}: `{raw}` leads outside the project", v.span,
                       hint="copy the code into the spec's folder instead of linking to it")
        return None
    if not os.path.isdir(real):
        ctx.sink.error("E404", f"{where}: `{raw}` is not a folder", v.span,
                       detail="paths are relative to the spec's folder", hint=f"create `{norm}/` or fix the path")
        return None
    return norm


def code_dir(ctx: "Ctx", script: str | None, span) -> str | None:
    """The folder shipped with `script`: the system's `code` root when it holds the script,
    else the script's own folder. Every file in it is added to the build."""
    if script is None:
        return None
    root = getattr(ctx, "code_root", None)
    if root is not None:
        if root != "." and not script.startswith(root + "/"):
            ctx.sink.error("E404", f"`{script}` is outside the system's code folder `{root}`", span,
                           detail="the code folder is shipped whole and is every script's working directory "
                                  "and import root, so every script must live inside it",
                           hint=f"move the script under `{root}/`, or widen `code`")
            return None
        folder = root
    else:
        folder = posixpath.dirname(script) or "."
    _ship(ctx, folder, span)
    return folder


def _ship(ctx: "Ctx", folder: str, span) -> None:
    shipped: set[str] = ctx.__dict__.setdefault("_shipped", set())
    if folder in shipped or ctx.root is None:
        return
    shipped.add(folder)
    root_real = os.path.realpath(ctx.root)
    base = root_real if folder == "." else os.path.join(root_real, *folder.split("/"))
    count = size = 0
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".")
                             and not os.path.islink(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            if name.startswith(".") or name.endswith(_SKIP_SUFFIXES):
                continue
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            if not stat.S_ISREG(st.st_mode):
                continue  # symbolic links and special files are not shipped
            count += 1
            size += st.st_size
            if count > MAX_CODE_FILES or size > MAX_CODE_BYTES:
                ctx.sink.error("E404", f"the code folder `{folder}` holds more than {MAX_CODE_FILES:,} files or "
                                       f"{MAX_CODE_BYTES // (1024 * 1024)} MiB", span,
                               detail="a script's whole folder is shipped to the cloud with it",
                               hint='keep scripts in their own folder (e.g. `src/`), or set `code = "<folder>"` '
                                    "on the system to a smaller folder")
                return
            rel = os.path.relpath(full, root_real).replace(os.sep, "/")
            if rel not in ctx.scripts:
                with open(full, "rb") as f:
                    ctx.scripts[rel] = hashlib.sha256(f.read()).hexdigest()
