"""`mlspec diff OLD NEW`: what a spec change means, per environment, with its risks named.

Input: two specs, each a file or `REV:path` (read from git, with the scripts of its folder at
that revision). Both are built to IR (one per environment) with the compiler's own front end;
the IRs are compared entity by entity (ids are stable: `gate.quality`, `endpoint.scoring`).
Output: a list of :class:`Change` (what changed, in words) of which some carry a risk:

| risk | when |
| --- | --- |
| `gate` | a gate, a gate requirement, an evaluate or bias check removed; a threshold loosened (`>=`/`>` lowered, `<=`/`<` raised, fairness `max_disparity` raised); a model no longer behind a gate |
| `approval` | approval removed, fewer approvers, required count lowered, approval turned off in a production environment |
| `monitoring` | a monitor or alert removed, its threshold relaxed, it checks less often, fires later or notifies fewer channels |
| `rollout` | canary / linear / blue-green / shadow replaced by all-at-once; fewer rollback alerts |
| `security` | public network, provider-managed keys, egress opened, network isolation off, key auth |
| `waiver` | a new waiver, or one extended |
| `data` | a validate step or data check dropped, a check relaxed, a column constraint removed or widened |

Exit codes (docs/cli.md): 0 nothing changed or nothing risky, 1 a risk (or a spec that does not
check), 2 usage errors.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Iterator

from mlspec.compiler.check.values import duration_text

RISKS = {
    "gate": "gate removed or loosened",
    "approval": "approval weakened",
    "monitoring": "monitor or alert removed or relaxed",
    "rollout": "safer rollout replaced",
    "security": "security opt-out",
    "waiver": "new or extended waiver",
    "data": "data check dropped or relaxed",
}

#: IR list sections compared entity by entity (keyed by `id`, waivers by `rule`)
SECTIONS = ("kpis", "datasets", "pipelines", "models", "endpoints", "batch", "monitors", "alerts", "channels",
            "waivers")
#: IR object sections compared field by field
OBJECTS = ("system", "environment", "tracking", "security", "targets")
_SAFE_ROLLOUTS = ("canary", "linear", "blue_green", "shadow")


class DiffError(Exception):
    """A usage problem (exit 2): an unreadable revision, an unknown environment."""


@dataclasses.dataclass
class Change:
    env: str
    subject: str  # "pipeline `training`, gate `quality`"
    text: str  # "`f1 >= 0.95` loosened to `f1 >= 0.9`"
    risk: str | None = None  # a key of RISKS

    def __post_init__(self) -> None:  # spec text may hold newlines; a change is one line
        self.subject, self.text = (" ".join(x.split()) for x in (self.subject, self.text))

    def key(self) -> tuple:
        return (self.subject, self.text, self.risk)


@dataclasses.dataclass
class DiffResult:
    old: str
    new: str
    environments: list[str]
    changes: list[Change]

    @property
    def risky(self) -> list[Change]:
        return [c for c in self.changes if c.risk]

    @property
    def exit_code(self) -> int:
        return 1 if self.risky else 0

    def grouped(self) -> list[tuple[list[str], list[Change]]]:
        """Changes shown once for the environments that share them (every one first)."""
        order: list[tuple] = []
        where: dict[tuple, list[str]] = {}
        first: dict[tuple, Change] = {}
        for c in self.changes:
            k = c.key()
            if k not in where:
                order.append(k)
                where[k], first[k] = [], c
            if c.env not in where[k]:
                where[k].append(c.env)
        groups: dict[tuple[str, ...], list[Change]] = {}
        for k in order:
            groups.setdefault(tuple(where[k]), []).append(first[k])
        return sorted(((list(envs), cs) for envs, cs in groups.items()),
                      key=lambda g: (-len(g[0]), [self.environments.index(e) for e in g[0]]))


# --------------------------------------------------------------------------- loading


def _git(args: list[str], cwd: str) -> bytes:
    try:
        p = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=60)
    except FileNotFoundError:
        raise DiffError("`git` is not installed; name the old spec as a file instead of REV:path") from None
    if p.returncode != 0:
        msg = p.stderr.decode(errors="replace").strip().splitlines()
        raise DiffError(f"git {' '.join(args[:2])}: {msg[-1] if msg else 'failed'}")
    return p.stdout


def materialise(arg: str, tmp: Path) -> str:
    """A path to read `arg` from: the file itself, or for `REV:path` the spec's folder at REV
    extracted (with `git archive`) into `tmp`, so the scripts it names are that revision's too."""
    if os.path.exists(arg) or ":" not in arg or re.match(r"^[A-Za-z]:[\\/]", arg):
        return arg
    rev, _, rel = arg.partition(":")
    if not rev or not rel:
        raise DiffError(f"`{arg}`: expected a file or REV:path (e.g. `origin/main:specs/fraud.mlspec`)")
    top = _git(["rev-parse", "--show-toplevel"], ".").decode().strip()
    prefix = _git(["rev-parse", "--show-prefix"], ".").decode().strip()
    rel = os.path.normpath(os.path.join(prefix, rel)).replace(os.sep, "/") if not rel.startswith("/") else rel[1:]
    kind = _git(["cat-file", "-t", f"{rev}:{rel}"], top).decode().strip() if rel else ""
    if kind != "blob":
        raise DiffError(f"`{arg}`: not a file at revision `{rev}`")
    folder = os.path.dirname(rel)
    data = _git(["archive", "--format=tar", rev, "--", folder or "."], top)
    dest = tmp / re.sub(r"[^A-Za-z0-9_.-]", "_", rev)
    dest.mkdir(parents=True, exist_ok=True)
    tar_path = tmp / "rev.tar"
    tar_path.write_bytes(data)
    with tarfile.open(tar_path) as tf:
        try:
            tf.extractall(dest, filter="data")
        except TypeError:  # Python < 3.10.12 has no extraction filters
            tf.extractall(dest)  # noqa: S202 - git archive of our own repository
    return str(dest / rel)


def load_irs(arg: str, tmp: Path):
    """(IRs per environment, diagnostics, sources) of one side."""
    from mlspec.compiler import api

    res = api.build_irs(materialise(arg, tmp))
    return res


# --------------------------------------------------------------------------- comparison


def _name(ident: str) -> str:
    kind, _, name = ident.partition(".")
    return f"{kind} `{name}`" if name else f"`{ident}`"


def _v(x: Any) -> str:
    if x is None:
        return "none"
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    if isinstance(x, (dict, list)):
        return json.dumps(x, sort_keys=True, ensure_ascii=False)
    return str(x)


def _leaves(old: Any, new: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any, Any]]:
    """(path, old, new) of every differing leaf; lists of scalars compare as whole values."""
    if isinstance(old, dict) and isinstance(new, dict):
        for k in list(old) + [k for k in new if k not in old]:
            if old.get(k) != new.get(k):
                yield from _leaves(old.get(k), new.get(k), path + (k,))
    elif old != new:
        yield path, old, new


def _relaxed_upper(old: Any, new: Any) -> bool:
    """A ceiling (`max_*`, `above`) relaxed: raised, or dropped."""
    return old is not None and (new is None or (isinstance(new, (int, float)) and new > old))


def _relaxed_lower(old: Any, new: Any) -> bool:
    """A floor (`min_*`, `below`) relaxed: lowered, or dropped."""
    return old is not None and (new is None or (isinstance(new, (int, float)) and new < old))


class _Differ:
    def __init__(self, env: str, old: dict, new: dict) -> None:
        self.env, self.old, self.new = env, old, new
        self.out: list[Change] = []

    def add(self, subject: str, text: str, risk: str | None = None) -> None:
        self.out.append(Change(self.env, subject, text, risk))

    def run(self) -> list[Change]:
        self.environment()
        for sec in OBJECTS:
            if sec != "environment":
                self.fields(sec, f"`{sec}`", self.old.get(sec) or {}, self.new.get(sec) or {})
        for sec in SECTIONS:
            key = "rule" if sec == "waivers" else "id"
            olds = {e[key]: e for e in self.old.get(sec) or []}
            news = {e[key]: e for e in self.new.get(sec) or []}
            for ident in list(olds) + [i for i in news if i not in olds]:
                o, n = olds.get(ident), news.get(ident)
                subject = f"waiver `{ident}`" if sec == "waivers" else _name(ident)
                if o == n:
                    continue
                if o is None:
                    self.added(sec, subject, n)
                elif n is None:
                    self.removed(sec, subject, o)
                else:
                    getattr(self, f"s_{sec}", self.s_generic)(sec, subject, o, n)
        self.code()
        return self.out

    # ---------------------------------------------------------------- whole entities
    def added(self, sec: str, subject: str, n: dict) -> None:
        if sec == "waivers":
            self.add(subject, f"added (reason: \"{n['reason']}\", owner {n['owner']}, until {n['until']})", "waiver")
        elif sec == "pipelines":
            steps = ", ".join(s["name"] for s in n["steps"])
            self.add(subject, f"added (steps: {steps})")
        else:
            self.add(subject, "added")

    def removed(self, sec: str, subject: str, o: dict) -> None:
        risk = {"monitors": "monitoring", "alerts": "monitoring"}.get(sec)
        if sec == "pipelines":
            if any(s["kind"] == "validate" for s in o["steps"]):
                self.add(subject, "removed, with its validate steps", "data")
            if o["gates"]:
                self.add(subject, "removed, with its gates " + ", ".join(f"`{g['name']}`" for g in o["gates"]),
                         "gate")
                return
        if sec == "models" and o["approval"]["required"]:
            self.add(subject, "removed (it required approval)")
            return
        if sec == "waivers":
            self.add(subject, "removed (the rule applies again)")
            return
        self.add(subject, "removed", risk)

    # ---------------------------------------------------------------- generic fields
    def fields(self, sec: str, subject: str, o: dict, n: dict, skip: tuple = ()) -> None:
        rollout_swapped = sec == "endpoints" and (o.get("rollout") or {}).get("strategy") != \
            (n.get("rollout") or {}).get("strategy")
        for path, a, b in _leaves(o, n):
            if path[:1] in [(s,) for s in skip]:
                continue
            if rollout_swapped and path[:1] == ("rollout",) and path[-1] not in ("strategy", "rollback_on"):
                continue  # the strategy's own settings go with it
            risk = self.classify(sec, path, a, b, o, n)
            field = ".".join(str(p) for p in path)
            unit = ""
            for suffix, u in (("_percent", "%"), ("_s", "s")):
                if field.endswith(suffix):
                    field, unit = field[: -len(suffix)], u
            if unit == "%":
                a, b = (f"{_v(x)}%" if isinstance(x, (int, float)) else x for x in (a, b))
            elif unit == "s":
                a, b = (duration_text(x) if isinstance(x, (int, float)) else x for x in (a, b))
            if isinstance(a, list) and isinstance(b, list) and all(not isinstance(x, (dict, list)) for x in a + b):
                gone = [x for x in a if x not in b]
                came = [x for x in b if x not in a]
                parts = ([f"added {', '.join(_v(x) for x in came)}"] if came else []) + \
                        ([f"removed {', '.join(_v(x) for x in gone)}"] if gone else [])
                text = f"{field}: " + ("; ".join(parts) if parts else f"reordered to {_v(b)}")
            else:
                text = f"{field}: {_v(a)} -> {_v(b)}"
            self.add(subject, text, risk)

    def classify(self, sec: str, path: tuple, a: Any, b: Any, o: dict, n: dict) -> str | None:
        leaf = path[-1] if path else ""
        if sec == "security":
            if leaf == "network" and b == "public":
                return "security"
            if leaf == "encryption" and b == "provider_managed":
                return "security"
            if leaf == "allowed_egress" and set(b or []) - set(a or []):
                return "security"
        if sec == "endpoints":
            if path == ("rollout", "strategy") and a in _SAFE_ROLLOUTS and b == "all_at_once":
                return "rollout"
            if leaf == "rollback_on" and set(a or []) - set(b or []):
                return "rollout"
            if leaf == "auth" and b == "key":
                return "security"
        if sec == "models":
            if path == ("approval", "required") and a and not b:
                return "approval"
            if path == ("approval", "approvers") and set(a or []) - set(b or []):
                return "approval"
            if path == ("approval", "count") and isinstance(a, int) and isinstance(b, int) and b < a:
                return "approval"
            if leaf == "gates" and set(a or []) - set(b or []):
                return "gate"
        if sec == "monitors":
            if path == ("breach", "above") and _relaxed_upper(a, b):
                return "monitoring"
            if path == ("breach", "below") and _relaxed_lower(a, b):
                return "monitoring"
            if leaf == "every_s" and isinstance(a, (int, float)) and (b is None or b > a):
                return "monitoring"
            if leaf == "notify" and set(a or []) - set(b or []):
                return "monitoring"
        if sec == "alerts":
            if leaf == "value" and o.get("comparison") == n.get("comparison"):
                if (n["comparison"] == "above" and _relaxed_upper(a, b)) or \
                        (n["comparison"] == "below" and _relaxed_lower(a, b)):
                    return "monitoring"
            if leaf in ("comparison", "metric", "unit"):
                return "monitoring"
            if leaf == "for_s" and isinstance(a, (int, float)) and (b is None or b > a):
                return "monitoring"
            if leaf == "notify" and set(a or []) - set(b or []):
                return "monitoring"
        if sec in ("datasets", "steps") and "checks" in path:
            if leaf.startswith("max_") and _relaxed_upper(a, b):
                return "data"
            if leaf.startswith("min_") and _relaxed_lower(a, b):
                return "data"
            if leaf == "checks" and a and not b:
                return "data"
        if sec == "waivers" and leaf == "until" and isinstance(a, str) and isinstance(b, str) and b > a:
            return "waiver"
        if sec == "steps":
            if leaf == "network_isolation" and a and not b:
                return "security"
            if leaf == "max_disparity" and _relaxed_upper(a, b):
                return "gate"
            if leaf == "depends_on" and any(x.startswith("gate.") for x in set(a or []) - set(b or [])):
                return "gate"
        return None

    def s_generic(self, sec: str, subject: str, o: dict, n: dict) -> None:
        self.fields(sec, subject, o, n)

    # ---------------------------------------------------------------- specific sections
    def environment(self) -> None:
        o, n = self.old["environment"], self.new["environment"]
        for path, a, b in _leaves(o, n):
            field = ".".join(path)
            risk = None
            if field == "approval" and a == "required" and b == "none" and n["production"]:
                risk = "approval"
            self.add(f"environment `{self.env}`", f"{field}: {_v(a)} -> {_v(b)}", risk)
        if n["production"] and n["approval"] == "none" and o["approval"] == "none" and not o["production"]:
            self.add(f"environment `{self.env}`", "is now production and its approval is off", "approval")

    def s_datasets(self, sec: str, subject: str, o: dict, n: dict) -> None:
        self.fields(sec, subject, o, n, skip=("schema",))
        cols_o = {c["name"]: c for c in o["schema"]}
        cols_n = {c["name"]: c for c in n["schema"]}
        for name in list(cols_o) + [c for c in cols_n if c not in cols_o]:
            a, b = cols_o.get(name), cols_n.get(name)
            if a == b:
                continue
            where = f"{subject}, column `{name}`"
            if a is None:
                self.add(where, "added")
            elif b is None:
                self.add(where, "removed")
            else:
                for path, x, y in _leaves(a, b):
                    leaf = path[-1]
                    risk = None
                    if (leaf == "min" and _relaxed_lower(x, y)) or (leaf == "max" and _relaxed_upper(x, y)):
                        risk = "data"
                    if leaf == "allowed" and x is not None and (y is None or set(map(str, y)) - set(map(str, x))):
                        risk = "data"
                    if leaf == "nullable" and y and not x:
                        risk = "data"
                    self.add(where, f"{leaf}: {_v(x)} -> {_v(y)}", risk)

    def s_pipelines(self, sec: str, subject: str, o: dict, n: dict) -> None:
        self.fields(sec, subject, o, n, skip=("steps", "gates"))
        so = {s["id"]: s for s in o["steps"]}
        sn = {s["id"]: s for s in n["steps"]}
        for sid in list(so) + [s for s in sn if s not in so]:
            a, b = so.get(sid), sn.get(sid)
            where = f"{subject}, {_name(sid)}"
            if a == b:
                continue
            if a is None:
                self.add(where, f"added ({b['kind']})")
            elif b is None:
                risk = {"validate": "data", "evaluate": "gate", "bias_check": "gate"}.get(a["kind"])
                self.add(where, f"removed ({a['kind']})", risk)
            else:
                self.fields("steps", where, a, b)
        go = {g["id"]: g for g in o["gates"]}
        gn = {g["id"]: g for g in n["gates"]}
        for gid in list(go) + [g for g in gn if g not in go]:
            a, b = go.get(gid), gn.get(gid)
            where = f"{subject}, {_name(gid)}"
            if a == b:
                continue
            if a is None:
                self.add(where, "added: " + "; ".join(f"`{r['text']}`" for r in b["requires"]))
            elif b is None:
                self.add(where, "removed: " + "; ".join(f"`{r['text']}`" for r in a["requires"]), "gate")
            else:
                self.gate(where, a, b)

    def gate(self, where: str, a: dict, b: dict) -> None:
        left = [r for r in b["requires"]]
        for r in a["requires"]:
            if r in left:
                left.remove(r)
                continue
            match = next((x for x in left if _same_shape(r, x)), None)
            if match is None:
                self.add(where, f"requirement `{r['text']}` removed", "gate")
                continue
            left.remove(match)
            looser = _looser(r, match)
            verb = "loosened" if looser else "tightened" if looser is False else "changed"
            self.add(where, f"requirement `{r['text']}` {verb} to `{match['text']}`", "gate" if looser else None)
        for r in left:
            self.add(where, f"requirement `{r['text']}` added")

    def code(self) -> None:
        fo = {f["path"]: f["sha256"] for f in self.old["code"]["files"]}
        fn = {f["path"]: f["sha256"] for f in self.new["code"]["files"]}
        for p in sorted(set(fo) | set(fn)):
            if fo.get(p) != fn.get(p):
                what = "added" if p not in fo else "no longer used" if p not in fn else "changed"
                self.add(f"script `{p}`", what)


def _template(expr: dict) -> Any:
    """The expression with its numbers blanked, to pair an old requirement with its edit."""
    if "number" in expr:
        return "#"
    if "binary" in expr:
        b = expr["binary"]
        return ("bin", b["op"], _template(b["left"]), _template(b["right"]))
    if "negate" in expr:
        return ("neg", _template(expr["negate"]))
    return json.dumps(expr, sort_keys=True)


def _same_shape(a: dict, b: dict) -> bool:
    return json.dumps(a["left"], sort_keys=True) == json.dumps(b["left"], sort_keys=True) and \
        _template(a["right"]) == _template(b["right"]) and _direction(a["op"]) == _direction(b["op"])


def _direction(op: str) -> str:
    return {">=": "up", ">": "up", "<=": "down", "<": "down"}.get(op, op)


def _bound(expr: dict) -> float | None:
    """The numeric part of a right-hand side: `0.95`, or the offset in `champion.f1 + 0.01`."""
    if "number" in expr:
        return float(expr["number"])
    if "binary" in expr:
        b = expr["binary"]
        r = b["right"]
        if "number" in r and b["op"] in "+-":
            return float(r["number"]) * (1 if b["op"] == "+" else -1)
        if "number" in r and b["op"] in "*/" and r["number"]:
            return float(r["number"]) if b["op"] == "*" else 1 / float(r["number"])
    if "negate" in expr:
        inner = _bound(expr["negate"])
        return -inner if inner is not None else None
    return None


def _looser(a: dict, b: dict) -> bool | None:
    """True when `b` admits more than `a`: a lower bound (`>=`, `>`) lowered or a strict bound
    made inclusive; an upper bound (`<=`, `<`) raised. None when it cannot tell."""
    x, y = _bound(a["right"]), _bound(b["right"])
    if x is None or y is None:
        return None
    d = _direction(a["op"])
    if x == y:
        if a["op"] == b["op"]:
            return None
        return len(b["op"]) > len(a["op"])  # `>` -> `>=` admits the bound itself
    return y < x if d == "up" else y > x if d == "down" else None


# --------------------------------------------------------------------------- entry point


def diff(old_arg: str, new_arg: str, env: str | None = None):
    """Returns (DiffResult or None, diagnostics, sources); DiffError for usage problems."""
    from mlspec.compiler import api

    with tempfile.TemporaryDirectory(prefix="mlspec-diff-") as tmp:
        t = Path(tmp)
        (t / "old").mkdir()
        (t / "new").mkdir()
        try:
            old = load_irs(old_arg, t / "old")
            new = load_irs(new_arg, t / "new")
        except api.UsageError as e:
            raise DiffError(str(e)) from None
    diags = old.diagnostics + new.diagnostics
    sources = {**old.sources, **new.sources}
    if not old.ok or not new.ok:
        return None, diags, sources
    return compare(old.irs, new.irs, env, old_arg, new_arg), diags, sources


def compare(old_irs: dict[str, dict], new_irs: dict[str, dict], env: str | None = None, old_name: str = "old",
            new_name: str = "new") -> DiffResult:
    """Compare two specs' IRs (environment -> IR, as `api.build_irs(...).irs`)."""
    envs = list(new_irs) + [e for e in old_irs if e not in new_irs]
    if env is not None:
        if env not in envs:
            raise DiffError(f"neither spec declares an environment `{env}`; they declare {', '.join(envs)}")
        envs = [env]
    changes: list[Change] = []
    for e in envs:
        o, n = old_irs.get(e), new_irs.get(e)
        if o is None:
            risky = n["environment"]["production"] and n["environment"]["approval"] == "none"
            changes.append(Change(e, f"environment `{e}`", "added" + (" (production, approval off)" if risky else ""),
                                  "approval" if risky else None))
        elif n is None:
            changes.append(Change(e, f"environment `{e}`", "removed"))
        else:
            changes.extend(_Differ(e, o, n).run())
    return DiffResult(old_name, new_name, envs, changes)


# --------------------------------------------------------------------------- rendering


def render_text(r: DiffResult) -> str:
    lines = [f"mlspec diff: {r.old} -> {r.new}"]
    if not r.changes:
        lines.append("no change in meaning (" + ", ".join(r.environments) + ")")
        return "\n".join(lines) + "\n"
    for envs, cs in r.grouped():
        lines.append("")
        lines.append(_env_title(envs, r.environments) + ":")
        for c in cs:
            mark = f"RISK ({RISKS[c.risk]})" if c.risk else "-"
            lines.append(f"  {mark} {c.subject}: {c.text}")
    n = len({c.key() for c in r.risky})
    lines.append("")
    lines.append(f"{n} risk(s): a second reviewer should look" if n else "no risky change")
    return "\n".join(lines) + "\n"


def _env_title(envs: list[str], all_envs: list[str]) -> str:
    names = ", ".join(f"`{e}`" for e in envs)
    if len(envs) == len(all_envs) and len(envs) > 1:
        return f"every environment ({names})"
    return f"environment {names}" if len(envs) == 1 else f"environments {names}"


def as_json(r: DiffResult) -> dict:
    return {"old": r.old, "new": r.new, "environments": r.environments, "risk": bool(r.risky),
            "changes": [{"environments": envs, "subject": c.subject, "text": c.text, "risk": c.risk,
                         "risk_text": RISKS.get(c.risk) if c.risk else None}
                        for envs, cs in r.grouped() for c in cs]}


def render_json(r: DiffResult) -> str:
    return json.dumps(as_json(r), indent=2, ensure_ascii=False) + "\n"


def md_code(text: str) -> str:
    """`text` as a Markdown code span that nothing in it can break out of (backticks, pipes,
    HTML, newlines)."""
    text = " ".join(str(text).split())
    run = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (run + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def _md_inline(text: str) -> str:
    """Our own sentence, with spec text inside backticks re-quoted safely."""
    out, pos = [], 0
    for m in re.finditer(r"`([^`]*)`", text):
        out.append(_md_escape(text[pos:m.start()]))
        out.append(md_code(m.group(1)))
        pos = m.end()
    out.append(_md_escape(text[pos:]))
    return "".join(out)


def _md_escape(text: str) -> str:
    return re.sub(r"([\\*_\[\]<|#!~&`])", r"\\\1", text)


def render_markdown(r: DiffResult) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")), autoescape=False,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["md"] = _md_inline
    env.filters["code"] = md_code
    risky = []
    seen = set()
    for envs, cs in r.grouped():
        for c in cs:
            if c.risk and c.key() not in seen:
                seen.add(c.key())
                risky.append((envs, c))
    return env.get_template("diff.md.j2").render(
        r=r, groups=[(_env_title(e, r.environments), cs) for e, cs in r.grouped()], risky=risky, risks=RISKS)
