"""A small interpreter of the Cloud Workflows subset the generated workflows use (assign, call
http.*, switch with condition/next/assign/steps/return, for-in loops, `next: break`), so a rollout
workflow can be run against a simulated endpoint. Expressions are translated to Python over
attribute-accessible dicts: `default`, `map.get`, `len`, `and`/`or`/`not`, comparisons, arithmetic."""
from __future__ import annotations

import re
from typing import Any, Callable


class Obj(dict):
    def __getattr__(self, k):
        return self[k]


def wrap(v: Any) -> Any:
    if isinstance(v, dict):
        return Obj({k: wrap(x) for k, x in v.items()})
    if isinstance(v, list):
        return [wrap(x) for x in v]
    return v


class _Break(Exception):
    pass


class _Return(Exception):
    def __init__(self, value):
        self.value = value


def _eval(expr: Any, env: dict) -> Any:
    if isinstance(expr, dict):
        return {_eval(k, env) if isinstance(k, str) else k: _eval(v, env) for k, v in expr.items()}
    if isinstance(expr, list):
        return [_eval(v, env) for v in expr]
    if not (isinstance(expr, str) and expr.startswith("${") and expr.endswith("}")):
        return expr
    py = expr[2:-1].replace("map.get(", "_mapget(")
    scope = {"default": lambda v, d: d if v is None else v, "_mapget": lambda m, k: (m or {}).get(k),
             "len": len, **env}
    return eval(py, {"__builtins__": {}}, scope)  # noqa: S307 - the project's own generated workflow


def _assign(target: str, value: Any, env: dict) -> None:
    m = re.fullmatch(r"([A-Za-z_]\w*)((?:\.\w+)*)\[(.+)\]", target)
    if m:  # body.trafficSplit[cand.id]
        obj = env[m.group(1)]
        for part in filter(None, m.group(2).split(".")):
            obj = obj[part]
        obj[_eval("${" + m.group(3) + "}", env)] = value
    else:
        env[target] = wrap(value)


def _run_steps(steps: list[dict], env: dict, http: Callable) -> None:
    names = [next(iter(s)) for s in steps]
    i = 0
    while i < len(steps):
        name = names[i]
        body = steps[i][name]
        nxt = None
        if "assign" in body:
            for a in body["assign"]:
                [(k, v)] = a.items()
                _assign(k, _eval(v, env), env)
        if "call" in body:
            res = http(body["call"], _eval(body.get("args") or {}, env))
            if "result" in body:
                env[body["result"]] = wrap(res)
        if "for" in body:
            loop = body["for"]
            try:
                for item in _eval(loop["in"], env):
                    env[loop["value"]] = item
                    _run_steps(loop["steps"], env, http)
            except _Break:
                pass
        if "switch" in body:
            for case in body["switch"]:
                if _eval(case["condition"], env):
                    for a in case.get("assign") or []:
                        [(k, v)] = a.items()
                        _assign(k, _eval(v, env), env)
                    if "steps" in case:
                        _run_steps(case["steps"], env, http)
                    if "return" in case:
                        raise _Return(_eval(case["return"], env))
                    nxt = case.get("next")
                    break
        if "return" in body:
            raise _Return(_eval(body["return"], env))
        nxt = nxt or body.get("next")
        if nxt == "break":
            raise _Break()
        if nxt == "end":
            return
        i = names.index(nxt) if nxt else i + 1


def run(doc: dict, args: dict, http: Callable) -> Any:
    main = doc["main"]
    env: dict = {main["params"][0]: wrap(args)} if main.get("params") else {}
    try:
        _run_steps(main["steps"], env, http)
    except _Return as r:
        return r.value
    return None
