"""mlspec gate values (SageMaker Processing). Generated build support file; do not edit.

Computes both sides of gate requirements that a Condition step cannot compute itself
(arithmetic, champion metrics). Metrics come from evaluate steps' evaluation.json files
({"metrics": {name: {"value": x}}}) mounted under /opt/ml/processing/input/eval/<step>/,
champion metrics from the champion record (same format) under .../input/champion/, written
by the deploy path when a model package is approved. With no champion yet, a requirement
that reads the champion passes (the first model has nothing to beat).
Writes values.json: {"clauses": {"c<i>": {"left": x, "right": y}}}.
"""
import argparse
import glob
import json
import os

EVAL = "/opt/ml/processing/input/eval"
CHAMPION = "/opt/ml/processing/input/champion"
OUT = "/opt/ml/processing/output/values"
OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
       "/": lambda a, b: a / b}


def load(path):
    with open(path) as f:
        return json.load(f).get("metrics", {})


def champion():
    rec = os.path.join(CHAMPION, "evaluation.json")
    return load(rec) if os.path.exists(rec) else None


class NoChampion(Exception):
    pass


def value(e, champ):
    if "number" in e:
        return float(e["number"])
    if "metric" in e:
        step = e["metric"]["step"].split(".", 1)[1]
        return float(load(os.path.join(EVAL, step, "evaluation.json"))[e["metric"]["name"]]["value"])
    if "champion" in e:
        if champ is None or e["champion"] not in champ:
            raise NoChampion()
        return float(champ[e["champion"]]["value"])
    b = e["binary"]
    return OPS[b["op"]](value(b["left"], champ), value(b["right"], champ))


def passing(op):
    return {">=": (0.0, 0.0), "<=": (0.0, 0.0), "==": (0.0, 0.0), ">": (1.0, 0.0), "<": (0.0, 1.0),
            "!=": (1.0, 0.0)}[op]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec-file", required=True)
    with open(ap.parse_args().spec_file) as f:
        spec = json.load(f)
    champ = champion()
    out = {}
    for c in spec["clauses"]:
        try:
            left, right = value(c["left"], champ), value(c["right"], champ)
        except NoChampion:
            left, right = passing(c["op"])
        out[f"c{c['index']}"] = {"left": left, "right": right}
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "values.json"), "w") as f:
        json.dump({"clauses": out, "champion": champ is not None}, f, indent=2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
