"""The IR JSON Schema, written as Python (the single source of compiler/ir.schema.json).

`python -m mlspec.compiler.irschema` rewrites compiler/ir.schema.json; a test fails when
the committed file is stale. Objects are closed (`additionalProperties: false`); step
and rollout variants are a closed union discriminated by `kind` / `strategy`, because
jsonschema evaluates `if/then` and `oneOf` unions several times slower.
"""
from __future__ import annotations

import json
from pathlib import Path

# ruff: noqa: E731
S = lambda: {"type": "string"}
NS = lambda: {"type": ["string", "null"]}
N = lambda: {"type": "number"}
NN = lambda: {"type": ["number", "null"]}
I = lambda: {"type": "integer"}
NI = lambda: {"type": ["integer", "null"]}
B = lambda: {"type": "boolean"}
def ID(prefix): return {"type": "string", "pattern": f"^{prefix}\\.[a-z][a-z0-9_]*$"}
def NID(prefix): return {"type": ["string", "null"], "pattern": f"^{prefix}\\.[a-z][a-z0-9_]*$"}
def L(x): return {"type": "array", "items": x}
def O(props, required=None):
    return {"type": "object", "additionalProperties": False, "properties": props,
            "required": sorted(required if required is not None else props)}
def NO(props): d = O(props); d["type"] = ["object", "null"]; return d
def E(*vals): return {"enum": list(vals)}
def NE(*vals): return {"enum": list(vals) + [None]}
REF = {"type": "string", "pattern": "^(dataset\\.[a-z][a-z0-9_]*|step\\.[a-z][a-z0-9_]*\\.outputs\\.[a-z][a-z0-9_]*)$"}
MODELREF = {"type": ["string", "null"], "pattern": "^(model\\.[a-z][a-z0-9_]*|step\\.[a-z][a-z0-9_]*\\.outputs\\.model)$"}
scalar = {"type": ["string", "number", "boolean"]}
compute = O({"class": E("cpu.small", "cpu.medium", "cpu.large", "cpu.xlarge", "gpu.small", "gpu.medium", "gpu.large", "memory.large"),
             "instance_count": {"type": "integer", "minimum": 1}, "accelerators": {"type": "integer", "minimum": 0}})
schedule = {"oneOf": [{"type": "null"}, O({"cron": S(), "timezone": S()})]}
checks = O({"max_null_fraction_percent": NN(), "min_rows": NI(), "max_duplicate_percent": NN(), "max_staleness_s": NI()})
common = {"id": ID("step"), "name": S(), "kind": None, "depends_on": L({"type": "string", "pattern": "^(step|gate)\\.[a-z][a-z0-9_]*$"}),
          "compute": {"oneOf": [{"type": "null"}, compute]}, "outputs": L(S()), "network_isolation": B(), "max_runtime_s": NI(),
          "output_formats": {"type": "object", "additionalProperties": NE("parquet", "csv", "jsonl", "tfrecord", "delta")},
          "retries": {"type": "integer", "minimum": 0, "maximum": 10}}
NAMES = L({"type": "string", "pattern": "^[a-z][a-z0-9_]*$"})
code = {"input_names": NAMES, "code_dir": NS(), "requirements": NS()}
framework = {"oneOf": [{"type": "null"}, O({"name": E("sklearn", "xgboost", "pytorch", "tensorflow", "huggingface", "custom"), "version": NS()})]}
def step(kind, extra):
    p = dict(common); p["kind"] = {"const": kind}; p.update(extra); return O(p)
train_extra = {"framework": framework, "entry_point": NS(), "inputs": L(REF),
               "hyperparameters": {"type": "object", "additionalProperties": scalar}, "image": NS(), **code,
               "spot": B(), "distribution": NE("data_parallel")}
rng = O({"type": E("continuous", "integer", "categorical"), "min": NN(), "max": NN(), "values": {"type": ["array", "null"], "items": {"type": ["string", "number"]}}})
steps = [
    step("validate", {"data": NID("dataset"), "checks": {"oneOf": [{"type": "null"}, checks]}}),
    step("process", {"script": NS(), "inputs": L(REF), "args": {"type": "object", "additionalProperties": scalar}, "image": NS(), **code}),
    step("train", train_extra),
    step("tune", {**train_extra, "objective": O({"metric": NS(), "direction": NE("maximize", "minimize")}),
                  "ranges": {"type": "object", "additionalProperties": rng}, "max_trials": NI(), "parallel_trials": NI(),
                  "max_total_runtime_s": NI()}),
    step("evaluate", {"model": MODELREF, "data": {"oneOf": [{"type": "null"}, REF]}, "metrics": L(S()), "script": NS(), **code}),
    step("bias_check", {"model": MODELREF, "data": {"oneOf": [{"type": "null"}, REF]}, "facets": L(S()), "label": NS(), "metric": NS(), "max_disparity": NN(), "input_names": NAMES}),
    step("explain", {"model": MODELREF, "data": {"oneOf": [{"type": "null"}, REF]}, "method": NS(), "input_names": NAMES}),
    step("register", {"model": NID("model"), "source": MODELREF, "metrics_from": NID("step")}),
    step("batch_transform", {"model": MODELREF, "data": {"oneOf": [{"type": "null"}, REF]}, "output": NS(), "input_names": NAMES}),
]
expr = {"$ref": "#/definitions/expr"}
def disc(key, variants):
    """A closed union of the variants' fields, discriminated by `key` (jsonschema evaluates
    if/then and oneOf slowly: ~0.3 s per 1,000 steps). Per-variant types are kept."""
    alts = {}
    for v in variants:
        for k, sch in v["properties"].items():
            if k != key and sch not in alts.setdefault(k, []):
                alts[k].append(sch)
    props = {k: (a[0] if len(a) == 1 else {"anyOf": a}) for k, a in alts.items()}
    common = set.intersection(*(set(v["required"]) for v in variants))
    return {"type": "object", "additionalProperties": False, "required": sorted(common),
            "properties": {key: {"enum": [v["properties"][key]["const"] for v in variants]}, **props}}


def disc_strict(key, variants):
    """A discriminated union: validate only the variant named by `key` (fast, clear errors)."""
    return {"type": "object", "required": [key],
            "properties": {key: {"enum": [v["properties"][key]["const"] for v in variants]}},
            "allOf": [{"if": {"properties": {key: {"const": v["properties"][key]["const"]}}}, "then": v}
                      for v in variants]}
exprdef = {"oneOf": [
    O({"number": N()}), O({"champion": S()}),
    O({"metric": O({"step": ID("step"), "name": S()})}),
    O({"negate": expr}),
    O({"binary": O({"op": E("+", "-", "*", "/"), "left": expr, "right": expr})}),
]}
rollback = L(ID("alert"))
rollouts = [
    O({"strategy": {"const": "all_at_once"}, "rollback_on": rollback}),
    O({"strategy": {"const": "canary"}, "initial_percent": NN(), "step_percent": NN(), "interval_s": NI(), "rollback_on": rollback}),
    O({"strategy": {"const": "linear"}, "step_percent": NN(), "interval_s": NI(), "rollback_on": rollback}),
    O({"strategy": {"const": "blue_green"}, "bake_s": NI(), "rollback_on": rollback}),
    O({"strategy": {"const": "shadow"}, "sample_percent": NN(), "duration_s": NI(), "promote": NE("all_at_once", "blue_green"), "rollback_on": rollback}),
    O({"strategy": {"const": "ab_test"}, "variants": L(O({"name": S(), "model": NID("model"), "percent": NN()})), "rollback_on": rollback}),
]
def build() -> dict:
    """The IR JSON Schema as a dict (the single source of compiler/ir.schema.json)."""
    return {
      "$schema": "http://json-schema.org/draft-07/schema#",
      "$id": "https://mlspec.dev/schemas/ir/2.json",
      "title": "mlspec IR, schema_version 2",
      "description": "The target-neutral, environment-specialised intermediate representation of one mlspec system. See docs/ir.md.",
      "definitions": {"expr": exprdef, "compute": compute},
      **O({
        "schema_version": {"const": "2"},
        "source": O({"path": S(), "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}),
        "system": O({"name": S(), "owner": S(), "description": S(), "labels": {"type": "object", "additionalProperties": S()}}),
        "environment": O({"name": S(), "production": B(), "approval": E("required", "none"), "scale": N()}),
        "kpis": L(O({"id": ID("kpi"), "name": S(), "description": NS(), "goal": NS()})),
        "datasets": L(O({"id": ID("dataset"), "name": S(), "uri": NS(), "format": NE("parquet", "csv", "jsonl", "tfrecord", "delta"), "version": NS(),
                         "schema": L(O({"name": S(), "type": S(), "nullable": {"type": ["boolean", "null"]}, "role": NS(), "min": NN(), "max": NN(),
                                        "allowed": {"type": ["array", "null"], "items": {"type": ["string", "number"]}}})),
                         "checks": checks})),
        "pipelines": L(O({"id": ID("pipeline"), "name": S(), "schedule": schedule, "retrain_on": L(ID("monitor")),
                          "on_failure": L(ID("channel")),
                          "steps": L(disc("kind", steps)),
                          "gates": L(O({"id": ID("gate"), "name": S(), "depends_on": L(ID("step")),
                                        "requires": L(O({"text": S(), "op": E(">=", "<=", ">", "<", "==", "!="), "left": expr, "right": expr})),
                                        "uses_champion": B()}))})),
        "models": L(O({"id": ID("model"), "name": S(), "description": S(), "pipeline": NID("pipeline"), "registered_by": NID("step"),
                       "source": MODELREF, "framework": framework,
                       "approval": O({"required": B(), "approvers": L(S()), "count": I()}),
                       "explain": NE("shap"), "card": O({"intended_use": NS(), "limitations": NS(), "ethical_considerations": NS()}),
                       "metrics_from": NID("step"), "gates": L(ID("gate")),
                       "task": NE("binary_classification", "multiclass_classification", "regression"),
                       "label": NS(), "positive_label": {"type": ["string", "number", "boolean", "null"]},
                       "prediction": O({"output": E("label", "probability"), "threshold": NN()}),
                       "format": NE("xgboost", "sklearn", "mlflow", "torchscript", "onnx"),
                       "serve": {"oneOf": [{"type": "null"}, O({"entry_point": S(), "requirements": NS(), "code_dir": S()})]}})),
        "endpoints": L(O({"id": ID("endpoint"), "name": S(), "model": NID("model"), "compute": compute,
                          "autoscale": {"oneOf": [{"type": "null"}, O({"min": I(), "max": I(), "target_rps": NN(), "target_cpu_percent": NN()})]},
                          "capture": {"oneOf": [{"type": "null"}, O({"percent": N()})]},
                          "auth": E("iam", "key"), "rollout": disc("strategy", rollouts)})),
        "batch": L(O({"id": ID("batch"), "name": S(), "model": NID("model"), "data": NID("dataset"), "output": NS(), "schedule": schedule, "compute": compute})),
        "monitors": L(O({"id": ID("monitor"), "name": S(), "endpoint": NID("endpoint"),
                         "kind": NE("data_drift", "prediction_drift", "model_quality", "bias_drift", "feature_attribution_drift"),
                         "baseline": NID("dataset"), "ground_truth": NS(), "join_on": NS(), "metric": NS(), "facets": L(S()),
                         "breach": O({"above": NN(), "below": NN()}), "every_s": NI(), "notify": L(ID("channel")), "retrains": L(ID("pipeline"))})),
        "alerts": L(O({"id": ID("alert"), "name": S(), "endpoint": NID("endpoint"),
                       "metric": NE("latency_p50", "latency_p99", "error_rate", "throughput", "cpu", "memory"),
                       "comparison": E("above", "below"), "value": NN(), "unit": E("ms", "percent", "rps"), "for_s": NI(),
                       "notify": L(ID("channel")), "rollback_for": L(ID("endpoint"))})),
        "channels": L(O({"id": ID("channel"), "name": S(), "type": E("email", "slack", "webhook", "pagerduty"), "address": NS(), "secret": NS(), "slack_channel": NS()})),
        "tracking": O({"backend": E("native", "mlflow"), "experiment": S(), "uri": NS()}),
        "security": O({"encryption": E("customer_managed"), "network": E("private"), "kms_key": NS(), "allowed_egress": L(S()),
                       "data_classification": E("public", "internal", "confidential", "pii", "phi")}),
        "waivers": L(O({"rule": {"type": "string", "pattern": "^MLS-[A-Z][A-Z0-9]*-[0-9]+$"}, "reason": S(), "owner": S(),
                        "until": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}})),
        "targets": {"type": "object", "additionalProperties": {"type": "object", "additionalProperties":
                    {"type": ["string", "number", "boolean", "array"], "items": {"type": "string"}}}},
        "code": O({"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "root": NS(), "requirements": NS(),
                   "files": L(O({"path": S(), "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}))}),
      }),
    }

def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


if __name__ == "__main__":
    (Path(__file__).parent / "ir.schema.json").write_text(render())
