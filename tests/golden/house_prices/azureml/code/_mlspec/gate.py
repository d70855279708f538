"""mlspec gate step: evaluate `require` expressions over step metrics and the approved champion.

usage: python _mlspec/gate.py --config <json> --<step>_metrics <dir>... [--threshold_<n> <number>...] --decision <dir>

The config holds the requirements' shape; their number literals arrive as `--threshold_<n>`
(inputs the pipeline definition binds), `{"input": "threshold_<n>"}` in the expressions and
`{threshold_<n>}` in their text."""
import json
import os
import sys

from _common import fail, load_config, ml_client, write_json

argv = sys.argv[1:]
paths = {argv[i][2:]: argv[i + 1] for i in range(0, len(argv) - 1, 2) if argv[i].startswith("--")}
cfg = load_config(paths.pop("config"), paths.pop("step", None))
decision_dir = paths.pop("decision")
thresholds = {name: float(paths.pop(name)) for name in cfg.get("thresholds") or []}
metrics = {}
for name in cfg["metric_inputs"]:
    with open(os.path.join(paths[name], "evaluation.json"), encoding="utf-8") as f:  # script contract
        metrics["step." + name[: -len("_metrics")]] = {k: v["value"] for k, v in json.load(f)["metrics"].items()}
champion = {}
if cfg["uses_champion"] and cfg["champion_model"]:
    client = ml_client()
    approved = [m for m in client.models.list(name=cfg["champion_model"])
                if (m.tags or {}).get("mlspec.stage") == "approved"]
    if approved:
        best = max(approved, key=lambda m: int(m.version))
        champion = {k[len("mlspec.metric."):]: float(v) for k, v in (best.tags or {}).items()
                    if k.startswith("mlspec.metric.")}


def value(node):
    if "number" in node:
        return float(node["number"])
    if "input" in node:
        return thresholds[node["input"]]
    if "negate" in node:
        inner = value(node["negate"])
        return None if inner is None else -inner
    if "metric" in node:
        return float(metrics[node["metric"]["step"]][node["metric"]["name"]])
    if "champion" in node:
        if node["champion"] not in champion:
            return None  # no champion yet: the comparison passes
        return champion[node["champion"]]
    b = node["binary"]
    left, right = value(b["left"]), value(b["right"])
    if left is None or right is None:
        return None
    return {"+": left + right, "-": left - right, "*": left * right, "/": left / right}[b["op"]]


OPS = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
       "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}
results = []
for req in cfg["requires"]:
    left, right = value(req["left"]), value(req["right"])
    ok = left is None or right is None or OPS[req["op"]](left, right)
    text = req["text"]
    for name, v in thresholds.items():
        text = text.replace("{" + name + "}", "%g" % v)
    results.append({"require": text, "left": left, "right": right, "passed": ok})
write_json(decision_dir, "decision.json", {"gate": cfg["gate"], "results": results,
                                           "passed": all(r["passed"] for r in results)})
failed = [r["require"] for r in results if not r["passed"]]
if failed:
    fail("gate %s failed: %s" % (cfg["gate"], "; ".join(failed)))
