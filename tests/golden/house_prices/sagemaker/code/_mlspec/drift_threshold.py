"""mlspec drift threshold (SageMaker Processing). Generated build support file; do not edit.

Model Monitor's suggested constraints carry a default distribution-drift comparison threshold;
this step rewrites constraints.json with the spec's breach threshold so the data-quality
monitor reports a violation exactly when a feature's baseline drift exceeds it.
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-constraints.html
"""
import argparse
import json
import os

IN = "/opt/ml/processing/input/baseline/constraints.json"
OUT = "/opt/ml/processing/output/baseline"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threshold", type=float, required=True)
    threshold = ap.parse_args().threshold
    with open(IN) as f:
        cons = json.load(f)
    cfg = cons.setdefault("monitoring_config", {})
    dist = cfg.setdefault("distribution_constraints", {})
    dist["perform_comparison"] = "Enabled"
    dist["comparison_threshold"] = threshold
    cfg["evaluate_constraints"] = "Enabled"
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "constraints.json"), "w") as f:
        json.dump(cons, f, indent=2)


if __name__ == "__main__":
    main()
