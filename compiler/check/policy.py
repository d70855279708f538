"""Policy checks on spec values: strings, secrets, script paths and waivers.

Input: AST values (plus, for paths, the project root). Output: diagnostics in the sink.
Secret values are never echoed: a literal secret is reported by its kind and location
only. Path checks resolve symlinks but report paths relative to the project root, never
the machine's absolute paths.
"""
from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import math
import os
import re
import stat
from pathlib import Path

from mlspec.compiler import ast, baseline
from mlspec.compiler.diagnostics import Sink

MAX_SCRIPT_BYTES = 5 * 1024 * 1024

_SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{8}")),
    ("a Slack webhook URL", re.compile(r"hooks\.slack\.com/(services|workflows)/")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10}")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("a connection string with a key or password",
     re.compile(r"(AccountKey|SharedAccessKey|Password|pwd)\s{0,8}=\s{0,8}[^;\s]{6}", re.IGNORECASE)),
    ("a SAS token", re.compile(r"[?&]sig=[A-Za-z0-9%/+=]{20}")),
    ("a URL with an embedded password", re.compile(r"[a-z][a-z0-9+.-]{0,30}://[^/\s:@]{1,256}:[^/\s@]{1,256}@")),
)
_TEMPLATE = re.compile(r"\$\{\{|\{\{|\$\{|\{%|\{\s*\"(?:Get|Std:Join|Std:JsonGet)\"\s*:")
#: words of a map key (labels, tags) that announce a credential; matched on whole words
#: (`db_password`, `apiKey`), never inside one (`passenger_segment`, `tokenizer`)
_SECRET_WORDS = {"password", "passwd", "pwd", "pass", "passphrase", "secret", "secrets", "token", "tokens",
                 "apikey", "accesskey", "privatekey", "credential", "credentials", "sas", "connectionstring"}
_SECRET_PAIRS = {("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key"), ("client", "secret"),
                 ("connection", "string"), ("account", "key")}


def announces_secret(key: str) -> bool:
    """True when a map key names a credential, judged word by word."""
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", key)]
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in zip(words, words[1:]))
#: characters a shell would interpret; step arguments are passed as an argv list, never through a shell
_SHELL = re.compile(r"[;|&`<>']|\$\(|\$[A-Za-z_{]")  # `'`: Azure ML single-quotes each argument


def check_argv_value(sink: Sink, v: ast.Str, name: str, where: str) -> bool:
    """A value passed to a script as a command-line argument: refuse shell syntax."""
    m = _SHELL.search(v.value)
    if m is None:
        return True
    sink.error("E309", f"`{name}` in {where} contains the shell metacharacter `{m.group()}`", v.span,
               detail="step arguments reach the script as one argv entry each and are never run through a "
                      "shell; a command line here would either break the step or, in a shell, run",
               hint="pass plain values only (`mode = \"full\"`) and put logic in the script")
    return False


#: keys of maps whose keys reach a command line, a parameter name or a template
#: (hyperparameters, args, ranges, and any other map): plain names only
PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _plain(key: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]+", "_", key).strip("_")[:64]
    return s if s[:1].isalpha() or s[:1] == "_" else f"x_{s}" if s else "name"


def check_map_key(sink: Sink, e: ast.MapEntry, name: str, where: str) -> bool:
    """A map key must be a plain name: `[A-Za-z_][A-Za-z0-9_]*`, at most 64 characters."""
    if PLAIN_KEY.fullmatch(e.key):
        return True
    shown = e.key if len(e.key) <= 40 and e.key.isprintable() else repr(e.key[:40])[1:-1] + ("…" if len(e.key) > 40 else "")
    sink.error("E206", f"`{shown}` is not a valid key of `{name}` in {where}", e.key_span,
               detail="map keys become command-line flags (`--<key>`), parameter and input names on every cloud; "
                      "only ASCII letters, digits and `_` are safe there (no spaces, quotes, `$`, `;` or braces)",
               hint=f"write `{_plain(e.key)}`, without quotes")
    return False


def screen_map_keys(sink: Sink, system: ast.System) -> None:
    """Every map key in the spec, wherever the map is (the readers of known maps report
    their own keys first; a key already reported is not reported twice)."""
    reported = {d.span for d in sink.sorted() if d.code == "E206"}
    stack: list = [(system, "")]
    while stack:
        n, attr = stack.pop()
        if isinstance(n, (ast.System, ast.Block, ast.StepDecl, ast.GateDecl, ast.FieldDecl, ast.Object)):
            stack.extend((it, attr) for it in n.items)
        elif isinstance(n, ast.Attribute):
            stack.append((n.value, n.name))
        elif isinstance(n, ast.List):
            stack.extend((it, attr) for it in n.items)
        elif isinstance(n, ast.Call):
            stack.extend((it, attr) for it in n.args)
        elif isinstance(n, ast.Map):
            for e in n.entries:
                if e.key_span not in reported:
                    check_map_key(sink, e, attr or "a map", "the spec")
                stack.append((e.value, attr))


#: tags per resource: AWS and Azure allow 50, GCP 64 labels; mlspec adds up to this many
#: of its own to a resource (system, environment, pipeline, step, model, approvers, spec
#: digest, compiler version, name, ...; tests/robustness counts them in real builds)
MAX_CLOUD_TAGS = {"AWS": 50, "Azure": 50, "GCP": 64}
MLSPEC_TAGS = 10
MAX_LABELS = min(MAX_CLOUD_TAGS.values()) - MLSPEC_TAGS


def check_label_count(sink: Sink, attr: ast.Attribute | None) -> None:
    """More labels than every cloud accepts on a resource, once mlspec's own are added."""
    if attr is None or not isinstance(attr.value, ast.Map) or len(attr.value.entries) <= MAX_LABELS:
        return
    n = len(attr.value.entries)
    sink.error("E414", f"the system has {n} labels; the limit is {MAX_LABELS}", attr.name_span,
               detail=f"labels become tags on every cloud resource; AWS and Azure allow 50 tags per resource and "
                      f"GCP 64 labels, and mlspec adds up to {MLSPEC_TAGS} of its own (system, environment, "
                      "pipeline, step, model, spec digest, compiler version, ...)",
               hint=f"keep the {MAX_LABELS} labels that matter for cost and ownership")


def _entropy(s: str) -> float:
    counts: dict[str, int] = {}
    for ch in s:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def secret_kind(value: str) -> str | None:
    """What kind of credential a literal looks like, or None. Every pattern is linear
    (bounded repetitions), so a multi-megabyte string cannot stall the check."""
    value = value[:8192]
    for kind, pat in _SECRET_PATTERNS:
        if pat.search(value):
            return kind
    token = value.strip()
    if (len(token) >= 32 and " " not in token and "/" not in token.strip("/")
            and re.fullmatch(r"[A-Za-z0-9+/=_-]+", token)
            and re.search(r"[a-z]", token) and re.search(r"[A-Z]", token) and re.search(r"[0-9]", token)
            and _entropy(token) > 4.3):
        return "a high-entropy string that looks like a credential"
    return None


def check_string(sink: Sink, v: ast.Str, name: str, where: str, *, free_text: bool = False,
                 max_len: int = 1024) -> bool:
    """Screen one spec string. Returns False when it must not be used."""
    s = v.value
    kind = secret_kind(s[:8192])
    if kind:
        sink.error("E402", f"`{name}` in {where} holds what looks like {kind} (value redacted)", v.span,
                   detail="secrets in a spec end up in version control, build artifacts and logs",
                   hint='store it in the cloud secret store and write `secret("<name>")` where a secret is '
                        "accepted (channels)")
        return False
    if len(s) > max_len:
        sink.error("E302", f"`{name}` in {where} is {len(s):,} characters long; the limit is {max_len:,}", v.span,
                   hint="shorten it" + ("; long documentation belongs in the model card" if not free_text else ""))
        return False
    bad = re.search(r"[\x00-\x08\x0b-\x1f\x7f]" if free_text else r"[\x00-\x1f\x7f]", s)
    if bad:
        what = "a line break" if bad.group() in "\n\r" else f"control character U+{ord(bad.group()):04X}"
        sink.error("E309", f"`{name}` in {where} contains {what}", v.span,
                   hint="keep it on one line" if bad.group() in "\n\r" else "remove the character")
        return False
    m = _TEMPLATE.search(s)
    if m:
        sink.error("E310", f"`{name}` in {where} contains `{m.group()}`, which the clouds' pipeline formats "
                           "read as an expression", v.span,
                   detail="Azure ML (`${{...}}`), KFP (`{{$...}}`) and shells would evaluate it",
                   hint="remove the braces; mlspec wires inputs and outputs itself")
        return False
    return True


# ------------------------------------------------------------------ script paths
#: script paths reach command lines on every cloud: a character set no shell, YAML or
#: cloud expression language reads specially; no part starts with `-` (an option)
_SAFE_PATH_CHAR = re.compile(r"[A-Za-z0-9_.+@/-]")
_SAFE_PATH = re.compile(r"(\./)*[A-Za-z0-9_.+@][A-Za-z0-9_.+@-]*(/+[A-Za-z0-9_.+@][A-Za-z0-9_.+@-]*)*/*")


def check_script_path(sink: Sink, v: ast.Str, name: str, where: str, root: Path | None
                      ) -> tuple[str, str] | None:
    """Validate a script path relative to the project root; return (posix path, sha256).

    A path that checked out once is not checked (resolved, listed, read and hashed) again
    during the same run: the result is remembered on `sink`, which lives for one run (a
    1,000-step pipeline names the same script 1,000 times)."""
    raw = v.value
    memo = sink.__dict__.setdefault("_script_paths", {})
    hit = memo.get((root, raw))
    if hit is not None:
        return hit
    got = _check_script_path(sink, v, name, where, root)
    if got is not None:
        memo[(root, raw)] = got
    return got


def _check_script_path(sink: Sink, v: ast.Str, name: str, where: str, root: Path | None
                       ) -> tuple[str, str] | None:
    raw = v.value
    problem = None
    if not raw:
        problem = "is empty"
    elif "\x00" in raw:
        problem = "contains a NUL character"
    elif re.match(r"^[a-z][a-z0-9+.-]*://", raw, re.IGNORECASE):
        problem = "is a URL; a local path relative to the spec is expected"
    elif raw.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", raw) or raw.startswith("\\\\"):
        problem = "is absolute; write it relative to the spec's folder"
    elif "\\" in raw:
        problem = "uses backslashes; write `/`"
    elif any(part == ".." for part in raw.split("/")):
        problem = "uses `..`; scripts must live inside the project (the spec's folder)"
    elif not _SAFE_PATH.fullmatch(raw):
        bad = next((ch for ch in raw if not _SAFE_PATH_CHAR.fullmatch(ch)), "-")
        shown = {" ": "a space", "\t": "a tab", "\n": "a line break"}.get(bad) or (
            f"`{bad}`" if bad.isprintable() else f"U+{ord(bad):04X}")
        problem = (f"contains {shown}; script paths may use ASCII letters, digits, `_`, `-`, `.`, `+`, `@` "
                   "and `/`, and no part may start with `-`")
    if problem and problem.startswith("contains"):
        sink.error("E404", f"`{name}` in {where}: `{raw}` {problem}", v.span,
                   detail="the path reaches command lines on every cloud (a shell runs Azure ML's), where such a "
                          "character would split the path, run a command or read as an option",
                   hint="rename the file, e.g. `src/train_model.py`")
        return None
    if problem:
        sink.error("E404", f"`{name}` in {where}: `{raw}` {problem}", v.span,
                   detail="scripts are copied into the build from the project root, the spec's folder",
                   hint="move or copy the script under the spec's folder and write a path relative to it, "
                        "such as `src/train.py`")
        return None
    norm = "/".join(p for p in raw.split("/") if p not in ("", "."))
    if root is None:
        return norm, ""
    root_real = os.path.realpath(root)
    full = os.path.join(root_real, *norm.split("/"))
    real = os.path.realpath(full)
    if os.path.commonpath([root_real, real]) != root_real:
        shown = os.path.relpath(real, root_real).replace(os.sep, "/")
        sink.error("E404", f"`{name}` in {where}: `{raw}` is a link to `{shown}`, outside the project",
                   v.span, detail="the project root is the spec's folder; paths are shown relative to it",
                   hint="copy the script into the project instead of linking to it")
        return None
    try:
        st = os.stat(real)
    except OSError as exc:
        wrong_case = _case_mismatch(root_real, norm)
        if wrong_case:
            sink.error("E404", f"`{name}` in {where}: `{raw}` does not exist; did you mean `{wrong_case}`? "
                               "names are case-sensitive", v.span,
                       detail="mlspec, Linux and every cloud compare file names exactly",
                       hint=f"write `{wrong_case}`")
        elif exc.errno == errno.ELOOP or _is_link_loop(full):
            sink.error("E404", f"`{name}` in {where}: `{raw}` is a symbolic link loop", v.span,
                       detail="following the link leads back to itself, so there is no file to copy",
                       hint=f"replace `{norm}` (or the folder link on its path) with the real script")
        elif exc.errno == errno.EACCES:
            sink.error("E404", f"`{name}` in {where}: `{raw}` cannot be read (permission denied)", v.span)
        else:
            sink.error("E404", f"`{name}` in {where}: `{raw}` does not exist", v.span,
                       detail="paths are relative to the spec's folder",
                       hint=f"create `{norm}` next to the spec, or fix the path")
        return None
    wrong_case = _case_mismatch(root_real, norm)
    if wrong_case:
        sink.error("E404", f"`{name}` in {where}: `{raw}` matches `{wrong_case}` only when case is ignored", v.span,
                   detail="the build would work on macOS and Windows and fail on Linux (and in every cloud)",
                   hint=f"write `{wrong_case}`")
        return None
    if not stat.S_ISREG(st.st_mode):
        sink.error("E404", f"`{name}` in {where}: `{raw}` is not a regular file", v.span)
        return None
    if st.st_size > MAX_SCRIPT_BYTES:
        sink.error("E404", f"`{name}` in {where}: `{raw}` is {st.st_size:,} bytes; the limit is "
                           f"{MAX_SCRIPT_BYTES:,}", v.span)
        return None
    with open(real, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return norm, digest


def _is_link_loop(path: str) -> bool:
    """True when `path` (or a folder on it) is a symbolic link that never resolves."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return True
    try:
        Path(path).resolve(strict=True)
    except RuntimeError:  # Python < 3.13 reports a loop this way
        return True
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def _case_mismatch(root: str, norm: str) -> str | None:
    """The on-disk spelling of `norm` when it differs from `norm` only by case, else None."""
    here = root
    actual = []
    for part in norm.split("/"):
        try:
            names = os.listdir(here)
        except OSError:
            return None
        if part in names:
            actual.append(part)
        else:
            match = [n for n in names if n.lower() == part.lower()]
            if not match:
                return None
            actual.append(match[0])
        here = os.path.join(here, actual[-1])
    got = "/".join(actual)
    return got if got != norm else None


# ------------------------------------------------------------------ waivers
def today() -> _dt.date:
    """Today's date; MLSPEC_TODAY=YYYY-MM-DD pins it (tests, reproducible CI)."""
    pinned = os.environ.get("MLSPEC_TODAY")
    if pinned:
        try:
            return _dt.date.fromisoformat(pinned)
        except ValueError:
            pass
    return _dt.date.today()


def parse_date(s: str) -> _dt.date | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        return None
    try:
        return _dt.date.fromisoformat(s)
    except ValueError:
        return None


def known_rules() -> list[str]:
    return list(baseline.catalogue())
