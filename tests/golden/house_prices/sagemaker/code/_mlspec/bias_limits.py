"""mlspec bias limits (SageMaker Processing). Generated build support file; do not edit.

Reads SageMaker Clarify's analysis.json and writes limits.json with the largest disparity of the
requested bias metric over every facet value, for the pipeline's Condition step: |value|, and for
disparate impact (DI, a ratio whose parity is 1) |1 - value|.
"""
import argparse
import json
import os
import sys

IN = "/opt/ml/processing/input/analysis/analysis.json"
OUT = "/opt/ml/processing/output/limits"


def values(node, metric):
    if isinstance(node, dict):
        if node.get("name") == metric and isinstance(node.get("value"), (int, float)):
            yield float(node["value"])
        for v in node.values():
            yield from values(v, metric)
    elif isinstance(node, list):
        for v in node:
            yield from values(v, metric)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--metric", required=True)
    metric = ap.parse_args().metric
    with open(IN) as f:
        found = [abs(1.0 - v) if metric == "DI" else abs(v) for v in values(json.load(f), metric)]
    if not found:  # never pass a limit on a metric Clarify did not compute
        sys.exit(f"bias limits: Clarify's analysis.json has no value of {metric}")
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "limits.json"), "w") as f:
        json.dump({"metric": metric, "max_abs": max(found), "count": len(found)}, f)


if __name__ == "__main__":
    main()
